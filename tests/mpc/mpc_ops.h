/* Shared by the mpc protocol tests: each protocol as one call on both
 * parties (the client in a second thread), shares of random values and ring
 * edges, and the buffers both parties' shares live in. Include after
 * <cmocka.h>. */
#ifndef CG_TEST_MPC_OPS_H
#define CG_TEST_MPC_OPS_H

#include <pthread.h>
#include <string.h>

#include "cryptogen/mpc.h"
#include "mpc_fixture.h"

enum op { OP_B2A, OP_MUL, OP_SQUARE, OP_MULPRIV, OP_SELECT, OP_MUX, OP_AND, OP_LT, OP_MSB, OP_DRELU, OP_RELU,
          OP_TRUNC, OP_ROWMAX, OP_GELU, OP_GELU_ACC, OP_ARGMAX, OP_EXP, OP_P2R, OP_TRUNCX, OP_RECIP,
          OP_RSQRT, OP_SOFTMAX, OP_LAYERNORM, OP_TRUNC_ADD_LIFT, OP_LAYERNORM_LIFTED };

typedef struct {
    cg_mpc *m;
    enum op op;
    unsigned bits, shift;
    uint64_t prime;
    cg_fxp fx;
    size_t n, rows, cols;
    const size_t *row_len;
    const uint64_t *x, *y;
    const uint8_t *b, *c;
    uint64_t *out;
    uint8_t *bout;
    cg_status st;
} io;

static inline cg_status run_op(io *p)
{
    switch (p->op) {
    case OP_B2A: return cg_mpc_b2a(p->m, p->bits, p->n, p->b, p->out, NULL);
    case OP_MUL: return cg_mpc_mul(p->m, p->bits, p->n, p->x, p->y, p->out, NULL);
    case OP_SQUARE: return cg_mpc_square(p->m, p->bits, p->n, p->x, p->out, NULL);
    case OP_MULPRIV: /* the server's y holds its private constants; the client gives none */
        return cg_mpc_mul_private(p->m, p->bits, p->n, p->x, cg_mpc_party(p->m) == CG_SERVER ? p->y : NULL,
                                  p->out, NULL);
    case OP_SELECT: return cg_mpc_select(p->m, p->bits, p->n, p->b, p->x, p->out, NULL);
    case OP_MUX: return cg_mpc_mux(p->m, p->bits, p->n, p->b, p->x, p->y, p->out, NULL);
    case OP_AND: return cg_mpc_and(p->m, p->n, p->b, p->c, p->bout, NULL);
    case OP_LT: return cg_mpc_less_than(p->m, p->bits, p->n, p->x, p->bout, NULL);
    case OP_MSB: return cg_mpc_msb(p->m, p->bits, p->n, p->x, p->bout, NULL);
    case OP_DRELU: return cg_mpc_drelu(p->m, p->bits, p->n, p->x, p->bout, NULL);
    case OP_RELU: return cg_mpc_relu(p->m, p->bits, p->n, p->x, p->out, NULL);
    case OP_TRUNC: return cg_mpc_trunc(p->m, p->bits, p->shift, p->n, p->x, p->out, NULL);
    case OP_ARGMAX: return cg_mpc_argmax_reveal(p->m, p->bits, p->n, p->x, p->out, NULL);
    case OP_P2R: return cg_mpc_prime_to_ring(p->m, p->prime, p->bits, p->n, p->x, p->out, NULL);
    case OP_EXP: return cg_mpc_exp_neg(p->m, p->fx, p->n, p->x, p->out, NULL);
    case OP_GELU: return cg_mpc_gelu(p->m, p->fx, p->n, p->x, p->out, NULL);
    case OP_GELU_ACC: return cg_mpc_gelu_accurate(p->m, p->fx, p->n, p->x, p->out, NULL);
    case OP_TRUNCX: return cg_mpc_trunc_exact(p->m, p->bits, p->shift, p->n, p->x, p->out, NULL);
    case OP_RECIP: return cg_mpc_recip(p->m, p->fx, p->n, p->x, p->out, NULL);
    case OP_RSQRT: return cg_mpc_rsqrt(p->m, p->fx, p->n, p->x, p->out, NULL);
    case OP_SOFTMAX:
        return cg_mpc_softmax(p->m, p->fx, p->rows, p->cols, p->row_len, p->x, p->out, NULL);
    case OP_LAYERNORM:
        return cg_mpc_layernorm(p->m, p->fx, p->rows, p->cols, p->x, p->out, NULL);
    case OP_TRUNC_ADD_LIFT: /* x truncated, plus the residual y, out in 64 bits */
        return cg_mpc_trunc_add_lift(p->m, p->bits, p->shift, p->n, p->x, p->y, p->out, NULL);
    case OP_LAYERNORM_LIFTED: /* x: shares mod 2^64 */
        return cg_mpc_layernorm_lifted(p->m, p->fx, p->rows, p->cols, p->x, p->out, NULL);
    case OP_ROWMAX: return cg_mpc_row_max(p->m, p->bits, p->rows, p->cols, p->x, p->out, NULL);
    }
    return CG_ERR_ARG;
}

static inline void *client_thread(void *arg)
{
    io *p = arg;
    p->st = run_op(p);
    return NULL;
}

static inline void run_both(io *server, io *client)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, client), 0);
    server->st = run_op(server);
    pthread_join(t, NULL);
    assert_int_equal(server->st, CG_OK);
    assert_int_equal(client->st, CG_OK);
}

/* Secret values: random, plus the ring edges 0, 1, -1, max, min. */
static inline void fill_values(cg_prg *prg, unsigned bits, size_t n, uint64_t *v)
{
    uint64_t mask = maskb(bits), half = 1ull << (bits - 1);
    for (size_t i = 0; i < n; i++) v[i] = cg_prg_u64(prg) & mask;
    uint64_t edges[] = {0, 1, mask, half - 1, half, half + 1};
    for (size_t i = 0; i < 6 && i < n; i++) v[i] = edges[i];
}

static inline void split(cg_prg *prg, unsigned bits, size_t n, const uint64_t *v, uint64_t *s0,
                         uint64_t *s1)
{
    uint64_t mask = maskb(bits);
    for (size_t i = 0; i < n; i++) {
        s0[i] = cg_prg_u64(prg) & mask;
        s1[i] = (v[i] - s0[i]) & mask;
    }
}

static inline void split_bits(cg_prg *prg, size_t n, const uint8_t *v, uint8_t *s0, uint8_t *s1)
{
    for (size_t i = 0; i < n; i++) {
        s0[i] = (uint8_t)(cg_prg_u64(prg) & 1);
        s1[i] = s0[i] ^ v[i];
    }
}

static inline int64_t as_signed(unsigned bits, uint64_t v)
{
    if (bits == 64) return (int64_t)v;
    uint64_t half = 1ull << (bits - 1);
    return (v & half) ? (int64_t)(v | ~maskb(bits)) : (int64_t)v;
}

enum { N = 1000 };
static const unsigned RINGS[] = {2, 5, 17, 37, 63, 64};
#define NRINGS (sizeof RINGS / sizeof RINGS[0])

typedef struct {
    uint64_t v[N], w[N], x0[N], x1[N], y0[N], y1[N], o0[N], o1[N];
    uint8_t b[N], c[N], b0[N], b1[N], c0[N], c1[N], bo0[N], bo1[N];
} bufs;

static bufs B;

static inline void setup_io(fixture *f, io *s, io *c, enum op op, unsigned bits, size_t n)
{
    *s = (io){.m = f->m[0], .op = op, .bits = bits, .n = n, .x = B.x0, .y = B.y0, .b = B.b0,
              .c = B.c0, .out = B.o0, .bout = B.bo0};
    *c = (io){.m = f->m[1], .op = op, .bits = bits, .n = n, .x = B.x1, .y = B.y1, .b = B.b1,
              .c = B.c1, .out = B.o1, .bout = B.bo1};
}

static inline void set_exact(fixture *f, bool on)
{
    cg_mpc_set_exact(f->m[0], on);
    cg_mpc_set_exact(f->m[1], on);
}

#endif
