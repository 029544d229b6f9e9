// layer: ot
/* Arbitrary bytes as everything an OT endpoint receives from its peer: the
 * base-OT points (validated), then one batch call. The first byte picks the
 * role and the call. Every outcome must be data or a clean error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/ot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) return 0;
    static int inited;
    if (!inited) {
        cg_init(NULL);
        inited = 1;
    }
    unsigned sel = data[0];
    data++;
    size--;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
    int sz = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    /* End of input reads as a disconnect; our own sends still have room. */
    shutdown(sv[1], SHUT_WR);
    cg_chan_options opt = {.timeout_ms = 50, .max_frame = 1 << 20};
    cg_channel *ch;
    if (cg_chan_wrap_fd(&ch, sv[0], &opt, NULL) != CG_OK) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    cg_ot_role role = (sel & 1) ? CG_OT_RECEIVER : CG_OT_SENDER;
    cg_ot *ot = NULL;
    if (cg_ot_new(&ot, ch, role, CG_OTN_KK13, NULL) == CG_OK) {
        enum { N = 200 };
        uint64_t a[N * 4] = {0}, b[N] = {0};
        uint8_t c[N];
        for (size_t i = 0; i < N; i++) c[i] = (uint8_t)(i & 1);
        unsigned bits = 1 + ((sel >> 3) & 63);
        size_t n = 1 + ((sel >> 1) & 3) * 60;
        if (role == CG_OT_SENDER) {
            switch ((sel >> 1) & 3) {
            case 0: cg_cot_send(ot, n, bits, a, b, NULL); break;
            case 1: cg_ot_send(ot, n, bits, a, b, NULL); break;
            case 2: cg_rot_send(ot, n, bits, a, b, NULL); break;
            default: cg_otn_send(ot, n, 4, bits, a, NULL); break;
            }
        } else {
            switch ((sel >> 1) & 3) {
            case 0: cg_cot_recv(ot, n, bits, c, a, NULL); break;
            case 1: cg_ot_recv(ot, n, bits, c, a, NULL); break;
            case 2: cg_rot_recv(ot, n, bits, c, a, NULL); break;
            default: cg_otn_recv(ot, n, 4, bits, c, a, NULL); break;
            }
        }
    }
    cg_ot_free(ot);
    cg_chan_free(ch);
    close(sv[1]);
    return 0;
}
