/* Private state of a cg_channel, shared by the net layer's modules. */
#ifndef CG_NET_CHAN_INTERNAL_H
#define CG_NET_CHAN_INTERNAL_H

#include <sys/types.h>
#include <sys/uio.h>

#include "cryptogen/net.h"

struct ssl_st; /* OpenSSL's SSL and BIO_METHOD, kept out of the public header */
struct bio_method_st;

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
    bool got_frame;    /* a frame header has been read (the TLS-mismatch check looks at the first) */
    int phase; /* index into stats.phase, -1 = none */
    cg_chan_stats stats;
    /* TLS (tls.c): NULL while plaintext */
    struct ssl_st *ssl;
    struct bio_method_st *bio_method; /* the socket BIO's, see tls.c */
    cg_buf tls_out;                   /* records not yet sent, from tls_out_pos on */
    size_t tls_out_pos;
    bool pin_mismatch; /* set by the pin check during the handshake */
    uint64_t handshake_ns;
    uint64_t wire_sent, wire_received; /* plaintext: counted here; TLS: the socket BIO's */
};

/* The TLS byte pipe under the frames (tls.c). Each returns the bytes moved
 * (> 0), 0 when it would block (wait for *want, POLLIN or POLLOUT), or a
 * negative cg_status with err set. */
ssize_t cg_net_tls_read(cg_channel *ch, void *p, size_t n, short *want, cg_error *err);
ssize_t cg_net_tls_writev(cg_channel *ch, const struct iovec *iov, int iovcnt, short *want,
                          cg_error *err);
void cg_net_tls_close(cg_channel *ch); /* sends close_notify if it can, frees the SSL */
/* Sends records waiting in tls_out: 1 when none is left, 0 when the socket
 * is full (wait for *want), or a negative cg_status. */
int cg_net_tls_push(cg_channel *ch, short *want, cg_error *err);
/* The handshake of cg_chan_handshake, with the host name a CA-verified
 * certificate must carry (NULL: none). */
cg_status cg_net_tls_handshake(cg_channel *ch, const cg_tls_config *cfg, const char *host,
                               uint32_t timeout_ms, cg_error *err);

#endif
