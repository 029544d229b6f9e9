// layer: net
/* Arbitrary bytes as the incoming frame stream of a channel: every read must
 * end in data or a clean error, never a crash, a hang or a leak. The first
 * input byte picks the read sizes so that reads span frames in varied ways. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    static int inited;
    if (!inited) {
        cg_init(NULL);
        inited = 1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
    int sz = 1 << 18;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    size_t step = (size_t)(data[0] % 37) + 1;
    data++;
    size--;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(sv[1]);
    /* Short timeout: a stamp in the future must give an error, not a long sleep. */
    cg_chan_options opt = {.timeout_ms = 50, .max_frame = 4096};
    cg_channel *ch;
    if (cg_chan_wrap_fd(&ch, sv[0], &opt, NULL) != CG_OK) {
        close(sv[0]);
        return 0;
    }
    uint8_t buf[64];
    cg_buf msg;
    cg_buf_init(&msg);
    for (int i = 0; i < 10000; i++) {
        cg_status st = (i % 5 == 4) ? cg_chan_recv_msg_buf(ch, &msg, 1000, NULL)
                                    : cg_chan_recv(ch, buf, step, NULL);
        if (st != CG_OK) break;
    }
    cg_buf_free(&msg);
    cg_chan_free(ch);
    return 0;
}
