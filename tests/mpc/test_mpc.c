/* Two-party protocols run by two threads over the in-process channel pair,
 * checked against plaintext arithmetic on random inputs and range edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptogen/mpc.h"

enum op { OP_B2A, OP_MUL, OP_SQUARE, OP_MULPRIV, OP_SELECT, OP_MUX, OP_AND, OP_LT, OP_MSB, OP_DRELU, OP_RELU,
          OP_TRUNC, OP_ROWMAX, OP_GELU, OP_GELU_ACC, OP_ARGMAX, OP_EXP, OP_P2R, OP_TRUNCX, OP_RECIP,
          OP_RSQRT, OP_SOFTMAX, OP_LAYERNORM };

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

static cg_status run_op(io *p)
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
    case OP_ROWMAX: return cg_mpc_row_max(p->m, p->bits, p->rows, p->cols, p->x, p->out, NULL);
    }
    return CG_ERR_ARG;
}

static void *client_thread(void *arg)
{
    io *p = arg;
    p->st = run_op(p);
    return NULL;
}

static void run_both(io *server, io *client)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, client), 0);
    server->st = run_op(server);
    pthread_join(t, NULL);
    assert_int_equal(server->st, CG_OK);
    assert_int_equal(client->st, CG_OK);
}

#include "mpc_fixture.h"

/* Secret values: random, plus the ring edges 0, 1, -1, max, min. */
static void fill_values(cg_prg *prg, unsigned bits, size_t n, uint64_t *v)
{
    uint64_t mask = maskb(bits), half = 1ull << (bits - 1);
    for (size_t i = 0; i < n; i++) v[i] = cg_prg_u64(prg) & mask;
    uint64_t edges[] = {0, 1, mask, half - 1, half, half + 1};
    for (size_t i = 0; i < 6 && i < n; i++) v[i] = edges[i];
}

static void split(cg_prg *prg, unsigned bits, size_t n, const uint64_t *v, uint64_t *s0,
                  uint64_t *s1)
{
    uint64_t mask = maskb(bits);
    for (size_t i = 0; i < n; i++) {
        s0[i] = cg_prg_u64(prg) & mask;
        s1[i] = (v[i] - s0[i]) & mask;
    }
}

static void split_bits(cg_prg *prg, size_t n, const uint8_t *v, uint8_t *s0, uint8_t *s1)
{
    for (size_t i = 0; i < n; i++) {
        s0[i] = (uint8_t)(cg_prg_u64(prg) & 1);
        s1[i] = s0[i] ^ v[i];
    }
}

static int64_t as_signed(unsigned bits, uint64_t v)
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

static void setup_io(fixture *f, io *s, io *c, enum op op, unsigned bits, size_t n)
{
    *s = (io){.m = f->m[0], .op = op, .bits = bits, .n = n, .x = B.x0, .y = B.y0, .b = B.b0,
              .c = B.c0, .out = B.o0, .bout = B.bo0};
    *c = (io){.m = f->m[1], .op = op, .bits = bits, .n = n, .x = B.x1, .y = B.y1, .b = B.b1,
              .c = B.c1, .out = B.o1, .bout = B.bo1};
}

static void test_arith(void **state)
{
    fixture *f = *state;
    io s, c;
    for (size_t r = 0; r < NRINGS; r++) {
        unsigned bits = RINGS[r];
        uint64_t mask = maskb(bits);
        fill_values(&f->prg, bits, N, B.v);
        fill_values(&f->prg, bits, N, B.w);
        for (size_t i = 0; i < N; i++) B.b[i] = (uint8_t)(cg_prg_u64(&f->prg) & 1);
        split(&f->prg, bits, N, B.v, B.x0, B.x1);
        split(&f->prg, bits, N, B.w, B.y0, B.y1);
        split_bits(&f->prg, N, B.b, B.b0, B.b1);

        setup_io(f, &s, &c, OP_B2A, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++) assert_int_equal((B.o0[i] + B.o1[i]) & mask, B.b[i]);

        setup_io(f, &s, &c, OP_MUL, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * B.w[i]) & mask);

        setup_io(f, &s, &c, OP_SQUARE, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * B.v[i]) & mask);

        /* Server-private constants: the server's y0 (any value, incl. 0 and
         * all ones), the client's y1 unused. */
        fill_values(&f->prg, bits, N, B.y0);
        B.y0[0] = 0;
        B.y0[1] = mask;
        setup_io(f, &s, &c, OP_MULPRIV, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * B.y0[i]) & mask);
        split(&f->prg, bits, N, B.w, B.y0, B.y1);

        setup_io(f, &s, &c, OP_SELECT, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, B.b[i] ? B.v[i] : 0);

        setup_io(f, &s, &c, OP_MUX, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, B.b[i] ? B.v[i] : B.w[i]);

        /* Public-constant product and addition (local). */
        uint64_t k = cg_prg_u64(&f->prg);
        cg_mpc_mul_public(f->m[0], bits, N, B.x0, k, B.o0);
        cg_mpc_mul_public(f->m[1], bits, N, B.x1, k, B.o1);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * k) & mask);
        cg_mpc_add_public(f->m[0], bits, N, B.x0, k, B.o0);
        cg_mpc_add_public(f->m[1], bits, N, B.x1, k, B.o1);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] + k) & mask);
    }
    /* n == 0 is a no-op on both sides. */
    setup_io(f, &s, &c, OP_MUL, 37, 0);
    run_both(&s, &c);
}

static void test_and(void **state)
{
    fixture *f = *state;
    io s, c;
    for (size_t i = 0; i < N; i++) {
        B.b[i] = (uint8_t)(i & 1);
        B.c[i] = (uint8_t)((i >> 1) & 1);
    }
    split_bits(&f->prg, N, B.b, B.b0, B.b1);
    split_bits(&f->prg, N, B.c, B.c0, B.c1);
    setup_io(f, &s, &c, OP_AND, 1, N);
    run_both(&s, &c);
    for (size_t i = 0; i < N; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.b[i] & B.c[i]);
}

static void test_less_than(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned widths[] = {1, 3, 4, 5, 8, 13, 36, 63, 64};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        unsigned w = widths[wi];
        uint64_t mask = maskb(w);
        for (size_t i = 0; i < N; i++) {
            B.x0[i] = cg_prg_u64(&f->prg) & mask;
            /* A third of the pairs equal or one apart, to exercise the eq chain. */
            B.x1[i] = i % 3 == 0 ? B.x0[i] : (i % 3 == 1 ? (B.x0[i] + 1) & mask : cg_prg_u64(&f->prg) & mask);
        }
        B.x0[0] = 0, B.x1[0] = mask;
        B.x0[1] = mask, B.x1[1] = 0;
        B.x0[2] = mask, B.x1[2] = mask;
        setup_io(f, &s, &c, OP_LT, w, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.x0[i] < B.x1[i]);
    }
}

static void test_sign_relu_trunc(void **state)
{
    fixture *f = *state;
    io s, c;
    for (size_t r = 0; r < NRINGS; r++) {
        unsigned bits = RINGS[r];
        uint64_t mask = maskb(bits);
        fill_values(&f->prg, bits, N, B.v);
        split(&f->prg, bits, N, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_MSB, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], (B.v[i] >> (bits - 1)) & 1);
        setup_io(f, &s, &c, OP_DRELU, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], as_signed(bits, B.v[i]) >= 0);
        setup_io(f, &s, &c, OP_RELU, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, as_signed(bits, B.v[i]) >= 0 ? B.v[i] : 0);
        if (bits < 8) continue;
        /* Truncation needs |x| < 2^(l-2): values drawn there, edges included. */
        uint64_t lim = 1ull << (bits - 2);
        for (size_t i = 0; i < N; i++) B.v[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & mask;
        B.v[0] = 0, B.v[1] = (lim - 1) & mask, B.v[2] = (0 - (lim - 1)) & mask, B.v[3] = mask;
        split(&f->prg, bits, N, B.v, B.x0, B.x1);
        unsigned shifts[] = {1, 12, bits - 3};
        for (int k = 0; k < 3; k++) {
            setup_io(f, &s, &c, OP_TRUNC, bits, N);
            s.shift = c.shift = shifts[k];
            run_both(&s, &c);
            for (size_t i = 0; i < N; i++) {
                int64_t want = as_signed(bits, B.v[i]) >> shifts[k];
                int64_t got = as_signed(bits, (B.o0[i] + B.o1[i]) & mask);
                assert_true(got == want || got == want - 1);
            }
        }
    }
}

/* Exact truncation equals the floor shift for every shift 1..l-3, on random
 * values in |x| < 2^(l-2) and both edges; the exact switch routes the
 * approximate entry point through it too. */
static void test_trunc_exact(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned rings[] = {8, 17, 37, 63, 64};
    for (size_t r = 0; r < 5; r++) {
        unsigned bits = rings[r];
        uint64_t mask = maskb(bits), lim = 1ull << (bits - 2);
        for (unsigned sh = 1; sh <= bits - 3; sh++) {
            size_t n = 64;
            for (size_t i = 0; i < n; i++)
                B.v[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & mask;
            /* both edges, 0, +-1, and values straddling multiples of 2^sh */
            uint64_t edges[] = {0, 1, mask, (lim - 1) & mask, (0 - (lim - 1)) & mask,
                                (1ull << sh) & mask, ((1ull << sh) - 1) & mask,
                                (0 - (1ull << sh)) & mask, (0 - ((1ull << sh) - 1)) & mask,
                                (0 - ((1ull << sh) + 1)) & mask};
            for (size_t i = 0; i < 10; i++) B.v[i] = edges[i];
            split(&f->prg, bits, n, B.v, B.x0, B.x1);
            B.x0[10] = mask, B.x1[10] = (B.v[10] - mask) & mask; /* shares with all low bits set */
            B.x0[11] = 0, B.x1[11] = B.v[11];
            setup_io(f, &s, &c, (sh & 1) ? OP_TRUNCX : OP_TRUNC, bits, n);
            s.shift = c.shift = sh;
            if (!(sh & 1)) {
                cg_mpc_set_exact(f->m[0], true);
                cg_mpc_set_exact(f->m[1], true);
            }
            run_both(&s, &c);
            cg_mpc_set_exact(f->m[0], false);
            cg_mpc_set_exact(f->m[1], false);
            for (size_t i = 0; i < n; i++) {
                int64_t want = cg_fxp_ref_trunc(as_signed(bits, B.v[i]), sh);
                assert_int_equal(as_signed(bits, (B.o0[i] + B.o1[i]) & mask), want);
            }
        }
    }
    cg_error e;
    uint64_t x[1] = {0};
    assert_int_equal(cg_mpc_trunc_exact(f->m[0], 37, 35, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_trunc_exact(f->m[0], 37, 0, 1, x, x, &e), CG_ERR_PARAM);
}

static void test_row_max(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned bits = 37;
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {5, 16}, {2, 100}};
    for (size_t k = 0; k < 4; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        /* Values in (-2^35, 2^35) so differences stay inside the ring. */
        for (size_t i = 0; i < n; i++)
            B.v[i] = (uint64_t)((int64_t)(cg_prg_u64(&f->prg) >> 29) - ((int64_t)1 << 34)) & maskb(bits);
        if (n > 2) B.v[n - 1] = (1ull << 35) - 1; /* the max in the last, unpaired slot */
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_ROWMAX, bits, n);
        s.rows = c.rows = rows;
        s.cols = c.cols = cols;
        run_both(&s, &c);
        for (size_t r = 0; r < rows; r++) {
            int64_t want = as_signed(bits, B.v[r * cols]);
            for (size_t j = 1; j < cols; j++)
                if (as_signed(bits, B.v[r * cols + j]) > want) want = as_signed(bits, B.v[r * cols + j]);
            assert_int_equal(as_signed(bits, (B.o0[r] + B.o1[r]) & maskb(bits)), want);
        }
    }
}

static void test_argmax(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned bits = 37;
    const size_t sizes[] = {1, 2, 7, 64, N};
    for (size_t k = 0; k < 5; k++) {
        size_t n = sizes[k];
        /* Few distinct values so ties are common; the lowest index must win. */
        for (size_t i = 0; i < n; i++)
            B.v[i] = (uint64_t)((int64_t)(cg_prg_u64(&f->prg) % 9) - 4) & maskb(bits);
        if (k == 4) B.v[n - 1] = 100; /* unique max in the last slot */
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_ARGMAX, bits, n);
        B.o0[0] = B.o1[0] = 0xdeadbeef;
        run_both(&s, &c);
        size_t want = 0;
        for (size_t i = 1; i < n; i++)
            if (as_signed(bits, B.v[i]) > as_signed(bits, B.v[want])) want = i;
        assert_int_equal(B.o1[0], want);
        assert_int_equal(B.o0[0], 0xdeadbeef); /* the server gets nothing */
    }
}

/* Comparisons of 32 elements or more split between the two OT directions
 * (half with the server as the 1-of-16 sender, half with the client): sizes
 * around that bound and odd ones, for single comparisons (less_than, DReLU)
 * and for several thresholds on one value (exp's 13, in exact mode). */
static void test_cmp_split_sizes(void **state)
{
    fixture *f = *state;
    io s, c;
    const size_t sizes[] = {31, 32, 33, 257, 999};
    const unsigned bits = 37;
    const uint64_t mask = maskb(bits);
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        fill_values(&f->prg, bits, n, B.v);
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_DRELU, bits, n);
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], as_signed(bits, B.v[i]) >= 0);
        /* less_than on 20-bit values: the server's a, the client's b */
        for (size_t i = 0; i < n; i++) {
            B.x0[i] = cg_prg_u64(&f->prg) & maskb(20);
            B.x1[i] = i % 5 == 0 ? B.x0[i] : cg_prg_u64(&f->prg) & maskb(20);
        }
        setup_io(f, &s, &c, OP_LT, 20, n);
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.x0[i] < B.x1[i]);
        for (size_t i = 0; i < n; i++)
            B.v[i] = (uint64_t)(-(int64_t)(cg_prg_u64(&f->prg) % (16 * 4096 + 1))) & mask;
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        cg_mpc_set_exact(f->m[0], true);
        cg_mpc_set_exact(f->m[1], true);
        setup_io(f, &s, &c, OP_EXP, bits, n);
        s.fx = c.fx = fx;
        run_both(&s, &c);
        cg_mpc_set_exact(f->m[0], false);
        cg_mpc_set_exact(f->m[1], false);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(as_signed(bits, (B.o0[i] + B.o1[i]) & mask),
                             cg_fxp_ref_exp_neg(fx, as_signed(bits, B.v[i])));
    }
}

static void test_exp(void **state)
{
    fixture *f = *state;
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    uint64_t mask = maskb(fx.ring_bits);
    int64_t ln2 = cg_fxp_encode(fx, M_LN2);
    for (size_t i = 0; i < N; i++) {
        int64_t v = -(int64_t)(cg_prg_u64(&f->prg) % (16 * 4096 + 1));
        if (i < 200) v = -(int64_t)(i / 10) * ln2 - 5 + (int64_t)(i % 10); /* segment edges */
        if (v > 0) v = -v; /* the protocol's precondition x <= 0 */
        B.v[i] = (uint64_t)v & mask;
    }
    B.v[0] = 0;
    B.v[1] = (uint64_t)cg_fxp_encode(fx, -1000.0) & mask;
    /* the precondition's edge: -x * round(2^s / ln2) just below 2^(l-2) */
    int64_t xmin = -(int64_t)(((1ull << (fx.ring_bits - 2)) - 1) / (uint64_t)cg_fxp_encode(fx, 1.0 / M_LN2));
    B.v[2] = (uint64_t)xmin & mask;
    B.v[3] = (uint64_t)(xmin + 1) & mask;
    split(&f->prg, fx.ring_bits, N, B.v, B.x0, B.x1);
    for (int exact = 0; exact < 2; exact++) {
        cg_mpc_set_exact(f->m[0], exact);
        cg_mpc_set_exact(f->m[1], exact);
        setup_io(f, &s, &c, OP_EXP, fx.ring_bits, N);
        s.fx = c.fx = fx;
        run_both(&s, &c);
        int64_t maxdiff = 0;
        for (size_t i = 0; i < N; i++) {
            int64_t xv = as_signed(fx.ring_bits, B.v[i]);
            int64_t want = cg_fxp_ref_exp_neg(fx, xv);
            int64_t got = as_signed(fx.ring_bits, (B.o0[i] + B.o1[i]) & mask);
            int64_t d = got > want ? got - want : want - got;
            if (d > maxdiff) maxdiff = d;
            if (exact) assert_int_equal(got, want);
            assert_true(d <= CG_MPC_EXP_ULP);
            assert_true(got >= -1); /* the last truncation may go 1 ulp below 0 */
        }
        fprintf(stderr, "  exp on shares (l=37, s=12, %s): max %lld ulp from cg_fxp_ref_exp_neg\n",
                exact ? "exact" : "approximate", (long long)maxdiff);
    }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
}

/* GELU (BOLT or the accurate option) on shares against its reference:
 * dense over [-4, 4], both thresholds ulp by ulp, 0 and far values. */
static void check_gelu(fixture *f, int op, double thr, int64_t (*ref)(cg_fxp, int64_t),
                       int64_t bound, const char *name)
{
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    uint64_t mask = maskb(fx.ring_bits);
    for (size_t i = 0; i < N; i++) {
        int64_t v = (int64_t)(cg_prg_u64(&f->prg) % (8 * 4096 + 1)) - 4 * 4096;
        if (i < 40) v = cg_fxp_encode(fx, thr) - 20 + (int64_t)i;
        else if (i < 80) v = -cg_fxp_encode(fx, thr) - 60 + (int64_t)i;
        B.v[i] = (uint64_t)v & mask;
    }
    B.v[80] = 0;
    /* the ends of the documented input range |x| < 2^(l-s-2) */
    B.v[81] = (1ull << 23) - 1;
    B.v[82] = (0 - ((1ull << 23) - 1)) & mask;
    split(&f->prg, fx.ring_bits, N, B.v, B.x0, B.x1);
    for (int exact = 0; exact < 2; exact++) {
        cg_mpc_set_exact(f->m[0], exact);
        cg_mpc_set_exact(f->m[1], exact);
        setup_io(f, &s, &c, op, fx.ring_bits, N);
        s.fx = c.fx = fx;
        run_both(&s, &c);
        int64_t maxdiff = 0;
        for (size_t i = 0; i < N; i++) {
            int64_t xv = as_signed(fx.ring_bits, B.v[i]);
            int64_t want = ref(fx, xv);
            int64_t got = as_signed(fx.ring_bits, (B.o0[i] + B.o1[i]) & mask);
            int64_t d = got > want ? got - want : want - got;
            if (d > maxdiff) maxdiff = d;
            if (exact) assert_int_equal(got, want);
            assert_true(d <= bound);
            /* Outside the threshold the result is exactly ReLU. */
            if (xv > cg_fxp_encode(fx, thr) || xv < -cg_fxp_encode(fx, thr))
                assert_int_equal(got, xv > 0 ? xv : 0);
        }
        fprintf(stderr, "  %s on shares (l=37, s=12, %s): max %lld ulp from its reference\n", name,
                exact ? "exact" : "approximate", (long long)maxdiff);
    }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
}

static void test_gelu(void **state)
{
    check_gelu(*state, OP_GELU, 2.7, cg_fxp_ref_gelu, CG_MPC_GELU_ULP, "gelu");
}

/* Every input where the polynomial is used (|x| <= 2.7, plus a margin of
 * ulps either side), in exact mode against the reference: the narrow rings
 * of the products must hold each of them, whatever the shares. Three
 * formats, the default one and the two ends of the allowed frac_bits. */
static void test_gelu_sweep(void **state)
{
    fixture *f = *state;
    static const cg_fxp fmts[] = {{37, 12}, {31, 10}, {44, 16}};
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
        cg_fxp fx = fmts[k];
        uint64_t mask = maskb(fx.ring_bits);
        int64_t t = cg_fxp_encode(fx, 2.7) + 8, stride = fx.frac_bits > 12 ? 7 : 1;
        size_t n = (size_t)(2 * t / stride + 1);
        uint64_t *v = malloc(n * sizeof *v), *x[2], *o[2];
        for (int p = 0; p < 2; p++) {
            x[p] = malloc(n * sizeof *x[p]);
            o[p] = malloc(n * sizeof *o[p]);
            assert_non_null(x[p]);
            assert_non_null(o[p]);
        }
        assert_non_null(v);
        for (size_t i = 0; i < n; i++) v[i] = (uint64_t)(-t + (int64_t)i * stride) & mask;
        split(&f->prg, fx.ring_bits, n, v, x[0], x[1]);
        cg_mpc_set_exact(f->m[0], true);
        cg_mpc_set_exact(f->m[1], true);
        io s = {.m = f->m[0], .op = OP_GELU, .fx = fx, .n = n, .x = x[0], .out = o[0]};
        io c = {.m = f->m[1], .op = OP_GELU, .fx = fx, .n = n, .x = x[1], .out = o[1]};
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++) {
            int64_t want = cg_fxp_ref_gelu(fx, as_signed(fx.ring_bits, v[i]));
            assert_int_equal(as_signed(fx.ring_bits, (o[0][i] + o[1][i]) & mask), want);
        }
        for (int p = 0; p < 2; p++) {
            free(x[p]);
            free(o[p]);
        }
        free(v);
    }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
}

static void test_gelu_accurate(void **state)
{
    check_gelu(*state, OP_GELU_ACC, 3.5, cg_fxp_ref_gelu_accurate, CG_MPC_GELU_ACC_ULP,
               "gelu_accurate");
}

static void set_exact(fixture *f, bool on)
{
    cg_mpc_set_exact(f->m[0], on);
    cg_mpc_set_exact(f->m[1], on);
}

/* 1/x and 1/sqrt(x) in exact mode equal the references on the whole range
 * 0 < x < 2^(l-2): log-uniform random values, every power of two and its
 * neighbours, 1 ulp and the maximum. */
static void test_recip_rsqrt(void **state)
{
    fixture *f = *state;
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    const unsigned l = fx.ring_bits;
    uint64_t mask = maskb(l), top = 1ull << (l - 2);
    size_t n = 0;
    for (unsigned j = 0; j < l - 2; j++) {
        B.v[n++] = 1ull << j;
        B.v[n++] = (1ull << j) + 1;
        if (j > 1) B.v[n++] = (1ull << j) - 1;
    }
    B.v[n++] = top - 1;
    B.v[n++] = top - 2;
    while (n < 400) {
        unsigned j = (unsigned)(cg_prg_u64(&f->prg) % (l - 2));
        B.v[n++] = (1ull << j) + cg_prg_u64(&f->prg) % (1ull << j);
    }
    split(&f->prg, l, n, B.v, B.x0, B.x1);
    set_exact(f, true);
    for (int sq = 0; sq < 2; sq++) {
        setup_io(f, &s, &c, sq ? OP_RSQRT : OP_RECIP, l, n);
        s.fx = c.fx = fx;
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++) {
            int64_t want;
            if (sq) assert_int_equal(cg_fxp_ref_rsqrt(fx, (int64_t)B.v[i], &want, NULL), CG_OK);
            else assert_int_equal(cg_fxp_ref_recip(fx, (int64_t)B.v[i], &want, NULL), CG_OK);
            assert_int_equal(as_signed(l, (B.o0[i] + B.o1[i]) & mask), want);
        }
    }
    set_exact(f, false);
    cg_error e;
    uint64_t x[1] = {1};
    cg_fxp bad = {.ring_bits = 30, .frac_bits = 12};
    assert_int_equal(cg_mpc_recip(f->m[0], bad, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_rsqrt(f->m[0], bad, 1, x, x, &e), CG_ERR_PARAM);
}

/* Realistic activations: uniform in +-spread, with one outlier of about 100
 * (as in GPT-2's residual stream) when asked. */
static void fill_acts(cg_prg *prg, cg_fxp fx, size_t n, double spread, bool outlier, uint64_t *v)
{
    for (size_t i = 0; i < n; i++) {
        double r = ((double)cg_prg_uniform(prg, 200001) / 100000.0 - 1.0) * spread;
        v[i] = (uint64_t)cg_fxp_encode(fx, r) & maskb(fx.ring_bits);
    }
    if (outlier) {
        size_t at = (size_t)cg_prg_uniform(prg, (uint64_t)n);
        double big = (cg_prg_u64(prg) & 1) ? 100.0 : -97.5;
        v[at] = (uint64_t)cg_fxp_encode(fx, big) & maskb(fx.ring_bits);
    }
}

/* Softmax in exact mode equals cg_fxp_ref_softmax on each row's unmasked
 * prefix; masked entries come out as 0. */
static void test_softmax(void **state)
{
    fixture *f = *state;
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    const unsigned l = fx.ring_bits;
    uint64_t mask = maskb(l);
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {12, 64}, {1, 768}};
    size_t lens[12];
    set_exact(f, true);
    for (size_t k = 0; k < 4; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        for (size_t r = 0; r < rows; r++) {
            fill_acts(&f->prg, fx, cols, 4.0 + 4.0 * (double)r, r == 1, B.v + r * cols);
            lens[r] = k == 3 ? cols : (r * 5 + 1 > cols ? cols : r * 5 + 1);
        }
        if (k == 1) B.v[2 * 7 + 0] = B.v[2 * 7 + 1]; /* a tied maximum */
        split(&f->prg, l, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_SOFTMAX, l, n);
        s.fx = c.fx = fx;
        s.rows = c.rows = rows;
        s.cols = c.cols = cols;
        s.row_len = c.row_len = k == 3 ? NULL : lens;
        run_both(&s, &c);
        for (size_t r = 0; r < rows; r++) {
            int64_t xr[768], want[768];
            for (size_t j = 0; j < lens[r]; j++) xr[j] = as_signed(l, B.v[r * cols + j]);
            assert_int_equal(cg_fxp_ref_softmax(fx, xr, lens[r], want, NULL), CG_OK);
            for (size_t j = 0; j < cols; j++) {
                int64_t got = as_signed(l, (B.o0[r * cols + j] + B.o1[r * cols + j]) & mask);
                assert_int_equal(got, j < lens[r] ? want[j] : 0);
            }
        }
    }
    set_exact(f, false);
    cg_error e;
    uint64_t x[2] = {0, 0};
    size_t bad_len[1] = {0};
    assert_int_equal(cg_mpc_softmax(f->m[0], fx, 1, 2, bad_len, x, x, &e), CG_ERR_ARG);
    bad_len[0] = 3;
    assert_int_equal(cg_mpc_softmax(f->m[0], fx, 1, 2, bad_len, x, x, &e), CG_ERR_ARG);
}

/* LayerNorm in exact mode equals cg_fxp_ref_layernorm on rows of 1, 3, 64,
 * 192 and 768 realistic values, some with an outlier. */
static void test_layernorm(void **state)
{
    fixture *f = *state;
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    const unsigned l = fx.ring_bits;
    uint64_t mask = maskb(l);
    const size_t shapes[][2] = {{3, 1}, {4, 3}, {4, 64}, {2, 192}, {1, 768}};
    set_exact(f, true);
    for (size_t k = 0; k < 5; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        for (size_t r = 0; r < rows; r++)
            fill_acts(&f->prg, fx, cols, r == 0 ? 1.0 : 20.0, r == 1 || k == 4, B.v + r * cols);
        if (k == 1) /* a constant row: variance 0, rsqrt of eps */
            for (size_t j = 0; j < cols; j++) B.v[2 * cols + j] = B.v[2 * cols];
        split(&f->prg, l, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_LAYERNORM, l, n);
        s.fx = c.fx = fx;
        s.rows = c.rows = rows;
        s.cols = c.cols = cols;
        run_both(&s, &c);
        for (size_t r = 0; r < rows; r++) {
            int64_t xr[768], want[768];
            for (size_t j = 0; j < cols; j++) xr[j] = as_signed(l, B.v[r * cols + j]);
            assert_int_equal(cg_fxp_ref_layernorm(fx, xr, cols, want, NULL), CG_OK);
            for (size_t j = 0; j < cols; j++) {
                int64_t got = as_signed(l, (B.o0[r * cols + j] + B.o1[r * cols + j]) & mask);
                assert_int_equal(got, want[j]);
            }
        }
    }
    set_exact(f, false);
    cg_error e;
    uint64_t x[1] = {0};
    assert_int_equal(cg_mpc_layernorm(f->m[0], fx, 1, 0, x, x, &e), CG_ERR_ARG);
}

static void test_bad_params(void **state)
{
    fixture *f = *state;
    cg_error e;
    uint64_t x[1] = {0};
    uint8_t b[1];
    /* Rejected before anything is sent, so the contexts stay usable. */
    assert_int_equal(cg_mpc_mul(f->m[0], 65, 1, x, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_msb(f->m[0], 1, 1, x, b, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_trunc(f->m[0], 37, 35, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_row_max(f->m[0], 37, 1, 0, x, x, &e), CG_ERR_ARG);
    assert_int_equal(cg_mpc_argmax_reveal(f->m[0], 4, 9, x, x, &e), CG_ERR_ARG);
    assert_int_equal(cg_mpc_new(NULL, NULL, CG_SERVER, NULL, &e), CG_ERR_ARG);
}

static void test_prime_to_ring(void **state)
{
    fixture *f = *state;
    io s, c;
    /* A 29-bit NTT-friendly prime like the paper's plaintext modulus, a small
     * one, and one just below 2^62. */
    const uint64_t primes[] = {536903681ull, 97ull, 4611686018427387847ull};
    const unsigned rings[] = {37, 8, 64};
    for (int k = 0; k < 3; k++) {
        uint64_t p = primes[k], h = (p - 1) / 2;
        unsigned bits = rings[k];
        for (size_t i = 0; i < N; i++) {
            int64_t v = (int64_t)(cg_prg_u64(&f->prg) % p) - (int64_t)h; /* centred secret */
            if (i == 0) v = 0;
            if (i == 1) v = (int64_t)h;
            if (i == 2) v = -(int64_t)h;
            if (i == 3) v = -1;
            B.w[i] = (uint64_t)v; /* the expected ring value, sign-extended */
            uint64_t xm = v < 0 ? p - (uint64_t)(-v) : (uint64_t)v;
            B.x0[i] = cg_prg_u64(&f->prg) % p;
            if (i == 4) B.x0[i] = p - 1;
            if (i == 5) B.x0[i] = 0;
            B.x1[i] = xm >= B.x0[i] ? xm - B.x0[i] : xm + p - B.x0[i];
        }
        setup_io(f, &s, &c, OP_P2R, bits, N);
        s.prime = c.prime = p;
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & maskb(bits), B.w[i] & maskb(bits));
    }
    cg_error e;
    uint64_t bad[1] = {97};
    assert_int_equal(cg_mpc_prime_to_ring(f->m[0], 97, 8, 1, bad, bad, &e), CG_ERR_RANGE);
    assert_int_equal(cg_mpc_prime_to_ring(f->m[0], 536903681ull, 30, 1, bad, bad, &e), CG_ERR_PARAM);
}

/* A peer that vanishes gives an error, and the context then refuses calls. */
static void test_peer_gone(void **state)
{
    (void)state;
    cg_channel *a, *b;
    cg_chan_options opt = {.timeout_ms = 2000};
    assert_int_equal(cg_chan_pair_new(&a, &b, &opt, NULL), CG_OK);
    setup_job j = {b, NULL, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, setup_client, &j), 0);
    cg_mpc *srv = NULL;
    assert_int_equal(cg_mpc_new(&srv, a, CG_SERVER, NULL, NULL), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(j.st, CG_OK);
    cg_mpc_free(j.m);
    cg_chan_free(b);
    uint64_t x[4] = {1, 2, 3, 4}, o[4];
    cg_error e;
    cg_status st = cg_mpc_mul(srv, 37, 4, x, x, o, &e);
    assert_true(st == CG_ERR_PEER || st == CG_ERR_TIMEOUT || st == CG_ERR_IO);
    assert_int_equal(cg_mpc_mul(srv, 37, 4, x, x, o, &e), CG_ERR_STATE);
    cg_mpc_free(srv);
    cg_chan_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith),    cmocka_unit_test(test_and),
        cmocka_unit_test(test_less_than), cmocka_unit_test(test_sign_relu_trunc),
        cmocka_unit_test(test_row_max),  cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_cmp_split_sizes), cmocka_unit_test(test_gelu_sweep),   cmocka_unit_test(test_gelu_accurate),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_exp),      cmocka_unit_test(test_peer_gone),
        cmocka_unit_test(test_prime_to_ring),  cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_trunc_exact), cmocka_unit_test(test_recip_rsqrt),
        cmocka_unit_test(test_softmax),     cmocka_unit_test(test_layernorm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
