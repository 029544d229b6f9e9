/* Private state of a cg_channel, shared by the net layer's modules. */
#ifndef CG_NET_CHAN_INTERNAL_H
#define CG_NET_CHAN_INTERNAL_H

#include "cryptogen/net.h"

struct cg_channel {
    int fd;
    uint32_t timeout_ms;
    size_t max_frame;
    cg_link_shape shape;
    uint64_t link_free_ns; /* when the simulated link finishes the last frame */
    /* send side: room for one frame header, then sbuf_cap payload bytes */
    uint8_t *sbuf;
    size_t sbuf_len;
    size_t sbuf_cap;
    /* receive side: bytes read from the socket, unread from rpos on */
    cg_buf rbuf;
    size_t rpos;
    size_t frame_left; /* payload bytes of the current frame not yet handed out */
    cg_status failed;  /* first fatal error, CG_OK while usable */
    bool sent_since_recv;
    int phase; /* index into stats.phase, -1 = none */
    cg_chan_stats stats;
};

#endif
