// layer: proto
/* Arbitrary client messages to a secure-generation server: the input is a
 * list of messages (u16 length, bytes), sent framed to cg_gen_server, then
 * a disconnect. The server must end with data or a clean error: the
 * handshake fields, the keys and everything after are checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cg_fixed_model *fm;
    if (!fm) {
        cg_init(NULL);
        cg_gpt2_config cfg = {.n_layer = 1, .n_head = 1, .n_embd = 8, .n_positions = 16,
                              .vocab_size = 20, .ln_eps = 1e-5f};
        cg_gpt2 *m = NULL;
        if (cg_gpt2_random(&m, &cfg, 1, NULL) != CG_OK) abort();
        if (cg_fixed_model_new(&fm, m, cg_fixed_default(), NULL) != CG_OK) abort();
        cg_gpt2_free(m);
    }
    if (size > (1u << 20)) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return 0;
    int sz = 8 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    cg_chan_options opt = {.timeout_ms = 100, .max_frame = 4 << 20};
    cg_channel *peer = NULL, *ch = NULL;
    if (cg_chan_wrap_fd(&peer, sv[1], &opt, NULL) != CG_OK ||
        cg_chan_wrap_fd(&ch, sv[0], &opt, NULL) != CG_OK) {
        cg_chan_free(peer);
        close(sv[0]);
        return 0;
    }
    for (size_t off = 0; off + 2 <= size;) {
        size_t len = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (len > size - off) len = size - off;
        if (cg_chan_send_msg(peer, data + off, len, NULL) != CG_OK) break;
        off += len;
    }
    cg_chan_flush(peer, NULL);
    shutdown(sv[1], SHUT_WR); /* end of input reads as a disconnect */
    cg_gen_options o = {.threads = 1};
    cg_gen_server(ch, fm, &o, NULL);
    cg_chan_free(ch);
    cg_chan_free(peer);
    return 0;
}
