/* mpc_drelu_trunc (mpc_trunc.c): DReLUs with offsets and exact truncations
 * by per-element shifts in one comparison batch equal plaintext, take
 * fewer rounds than the two calls they replace, and fall back to those
 * calls over a bundle batch or when inexact. Two parties in two threads
 * over the in-process channel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "cryptogen/mpc.h"
#include "mpc/mpc_internal.h"
#include "mpc_fixture.h"

enum { L = 37, K = 34, NMAX = 200, TMAX = 400 };

typedef struct {
    cg_mpc *m;
    bool joint;
    size_t n, nt;
    const uint64_t *x, *c, *t;
    const uint8_t *sh;
    uint8_t *d;
    uint64_t *to, rounds;
    cg_status st;
} io;

static uint64_t rounds_of(cg_mpc *m)
{
    cg_chan_stats s;
    cg_chan_get_stats(cg_mpc_channel(m), &s);
    return s.total.rounds;
}

static void *run(void *arg)
{
    io *p = arg;
    uint64_t r0 = rounds_of(p->m);
    if (p->joint) {
        p->st = mpc_drelu_trunc(p->m, L, p->n, p->x, K, p->c, p->d, p->nt, p->sh, p->t, p->to,
                                NULL);
    } else {
        p->st = mpc_drelu_offsets(p->m, L, p->n, p->x, K, p->c, p->d, NULL);
        if (p->st == CG_OK) p->st = mpc_trunc_var(p->m, L, 0, p->sh, p->nt, p->t, p->to, NULL);
    }
    p->rounds = rounds_of(p->m) - r0;
    return NULL;
}

static int64_t sgn(uint64_t v) { return (int64_t)(v << (64 - L)) >> (64 - L); }

typedef struct {
    uint64_t xv[NMAX], x[2][NMAX], c[K], tv[TMAX], t[2][TMAX], to[2][TMAX];
    uint8_t sh[TMAX], d[2][NMAX * K];
} data;

/* Runs one form on fresh inputs (x in (0, 2^(L-2)) as the reciprocal's,
 * t with |t| < 2^(L-2)), checks the values (truncations exact or within
 * one) and returns the client's rounds. */
static uint64_t check(fixture *f, size_t n, size_t nt, bool joint, bool exact)
{
    static data g;
    uint64_t mask = maskb(L), lim = 1ull << (L - 2);
    for (size_t k = 0; k < K; k++) g.c[k] = (0 - (1ull << (k + 1))) & mask;
    for (size_t i = 0; i < n; i++) {
        g.xv[i] = 1 + cg_prg_u64(&f->prg) % (lim - 1);
        if (i < K) g.xv[i] = (1ull << (i + 1)) - (i & 1); /* at and below a threshold */
        g.x[0][i] = cg_prg_u64(&f->prg) & mask;
        g.x[1][i] = (g.xv[i] - g.x[0][i]) & mask;
    }
    for (size_t i = 0; i < nt; i++) {
        g.tv[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & mask;
        g.sh[i] = (uint8_t)(1 + i % (L - 3));
        g.t[0][i] = i % 7 == 0 ? mask : cg_prg_u64(&f->prg) & mask; /* low bits all set */
        g.t[1][i] = (g.tv[i] - g.t[0][i]) & mask;
    }
    cg_mpc_set_exact(f->m[0], exact);
    cg_mpc_set_exact(f->m[1], exact);
    io p[2];
    for (int s = 0; s < 2; s++)
        p[s] = (io){f->m[s], joint, n, nt, g.x[s], g.c, g.t[s], g.sh, g.d[s], g.to[s], 0, CG_OK};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run, &p[1]), 0);
    run(&p[0]);
    pthread_join(th, NULL);
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
    assert_int_equal(p[0].st, CG_OK);
    assert_int_equal(p[1].st, CG_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++)
            assert_int_equal(g.d[0][i * K + k] ^ g.d[1][i * K + k],
                             sgn(g.xv[i]) + sgn(g.c[k]) >= 0);
    for (size_t i = 0; i < nt; i++) {
        int64_t want = cg_fxp_ref_trunc(sgn(g.tv[i]), g.sh[i]);
        int64_t got = sgn((g.to[0][i] + g.to[1][i]) & mask);
        if (exact) assert_int_equal(got, want);
        else assert_true(got == want || got == want - 1);
    }
    return p[1].rounds;
}

/* A reciprocal's shape (12 rows, 34 thresholds, about 60 truncations
 * per row): the same values, a comparison's rounds fewer (10 -> 5 here). */
static void test_joint_rounds(void **state)
{
    fixture *f = *state;
    check(f, 1, 1, true, true); /* fills the stocks both forms draw on */
    uint64_t sep = check(f, 12, 12 * 30, false, true);
    uint64_t joint = check(f, 12, 12 * 30, true, true);
    assert_true(joint + 3 <= sep);
    check(f, 1, 0, true, true); /* DReLUs only */
}

/* Over a bundle batch (200 x 34 DReLUs) and inexact: the two calls. */
static void test_joint_fallback(void **state)
{
    fixture *f = *state;
    check(f, NMAX, TMAX, true, true);
    check(f, 12, 100, true, false);
}

/* Offsets that agree on their low bits (the exponential's thresholds,
 * multiples of 2^24, or any c_k = c_0 + multiple of 2^sb) share those
 * digits' OTs and tree levels (mpc_cmp.c's cmp_layout): the DReLUs still
 * equal plaintext, at edges too, with one or two groups of thresholds, split
 * between the OT directions or not, and when all offsets are equal. */
typedef struct {
    cg_mpc *m;
    size_t n, K;
    const uint64_t *x, *c;
    uint8_t *d;
    cg_status st;
} dio;

static void *run_offsets(void *arg)
{
    dio *p = arg;
    p->st = mpc_drelu_offsets(p->m, L, p->n, p->x, p->K, p->c, p->d, NULL);
    return NULL;
}

static void shared_case(fixture *f, size_t n, size_t nk, unsigned sb, bool same)
{
    static uint64_t xv[NMAX], x[2][NMAX], c[40];
    static uint8_t d[2][NMAX * 40];
    uint64_t mask = maskb(L), low = cg_prg_u64(&f->prg) & maskb(sb);
    for (size_t k = 0; k < nk; k++)
        c[k] = (low - (same ? 5ull << sb : (uint64_t)(k + 1 + k * k) << sb)) & mask;
    for (size_t i = 0; i < n; i++) {
        xv[i] = cg_prg_u64(&f->prg) & mask;
        if (i % 4 == 1) xv[i] = (0 - c[i % nk]) & mask; /* x + c_k = 0 */
        if (i % 4 == 2) xv[i] = (0 - c[i % nk] - 1) & mask; /* x + c_k = -1 */
        if (i % 8 == 3) xv[i] = (xv[i] >> sb) << sb;
        x[0][i] = cg_prg_u64(&f->prg) & mask;
        x[1][i] = (xv[i] - x[0][i]) & mask;
    }
    dio p[2];
    for (int s = 0; s < 2; s++) p[s] = (dio){f->m[s], n, nk, x[s], c, d[s], CG_OK};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_offsets, &p[1]), 0);
    run_offsets(&p[0]);
    pthread_join(th, NULL);
    assert_int_equal(p[0].st, CG_OK);
    assert_int_equal(p[1].st, CG_OK);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nk; k++)
            assert_int_equal(d[0][i * nk + k] ^ d[1][i * nk + k],
                             sgn((xv[i] + c[k]) & mask) >= 0);
}

static void test_shared_low_bits(void **state)
{
    fixture *f = *state;
    shared_case(f, 1, 13, 24, false);
    shared_case(f, 64, 13, 24, false); /* split between the directions */
    shared_case(f, 40, 20, 20, false); /* two groups of 10 */
    shared_case(f, 33, 3, 5, false);
    shared_case(f, 32, 4, 30, true);
    shared_case(f, 48, 2, 35, false);
}

/* GELU's pipelined DReLUs (mpc_drelu_multi_pipe: the server sends every
 * digit OT, 3-bit digits, the tree's levels riding half round trips)
 * equal plaintext at every tree depth (0 to 5 levels: widths 3 to 37 bits,
 * and with 2-bit digits), for one element and for batches, and take no
 * more rounds than mpc_drelu_multi. */
typedef struct {
    cg_mpc *m;
    bool pipe;
    unsigned bits, K;
    size_t n;
    const uint64_t *x, *c;
    uint8_t *d;
    cg_status st;
} pio;

static void *run_pipe(void *arg)
{
    pio *p = arg;
    p->st = p->pipe ? mpc_drelu_multi_pipe(p->m, p->bits, p->n, p->x, p->K, p->c, p->d, NULL)
                    : mpc_drelu_multi(p->m, p->bits, p->n, p->x, p->K, p->c, p->d, NULL);
    return NULL;
}

static uint64_t pipe_case(fixture *f, unsigned bits, size_t n, unsigned nk, bool pipe)
{
    static uint64_t xv[NMAX], x[2][NMAX], c[3];
    static uint8_t d[2][NMAX * 3];
    uint64_t mask = maskb(bits), top = 1ull << (bits - 1);
    for (unsigned k = 0; k < nk; k++) c[k] = (cg_prg_u64(&f->prg) & maskb(bits - 2)) - (top >> 2);
    for (size_t i = 0; i < n; i++) {
        /* |x + c_k| < 2^(bits-1): x within a quarter of the range */
        xv[i] = ((cg_prg_u64(&f->prg) & maskb(bits - 2)) - (top >> 2)) & mask;
        if (i % 4 == 1) xv[i] = (0 - c[i % nk]) & mask; /* x + c_k = 0 */
        if (i % 4 == 2) xv[i] = (0 - c[i % nk] - 1) & mask;
        x[0][i] = cg_prg_u64(&f->prg) & mask;
        x[1][i] = (xv[i] - x[0][i]) & mask;
    }
    pio p[2];
    uint64_t r0 = rounds_of(f->m[0]);
    for (int s = 0; s < 2; s++) p[s] = (pio){f->m[s], pipe, bits, nk, n, x[s], c, d[s], CG_OK};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_pipe, &p[1]), 0);
    run_pipe(&p[0]);
    pthread_join(th, NULL);
    assert_int_equal(p[0].st, CG_OK);
    assert_int_equal(p[1].st, CG_OK);
    for (size_t i = 0; i < n; i++)
        for (unsigned k = 0; k < nk; k++) {
            uint64_t v = (xv[i] + c[k]) & mask;
            assert_int_equal(d[0][k * n + i] ^ d[1][k * n + i], (v & top) == 0);
        }
    return rounds_of(f->m[0]) - r0;
}

static void test_pipe(void **state)
{
    fixture *f = *state;
    static const unsigned widths[] = {3, 5, 8, 13, 25, 37};
    for (size_t w = 0; w < sizeof widths / sizeof *widths; w++) {
        pipe_case(f, widths[w], 1, 1, true);
        pipe_case(f, widths[w], 7, 3, true);
        pipe_case(f, widths[w], 64, 3, true);
    }
    for (int s = 0; s < 2; s++) f->m[s]->cmp_digits = 2; /* 18 digits: 5 levels */
    pipe_case(f, 37, 40, 2, true);
    for (int s = 0; s < 2; s++) f->m[s]->cmp_digits = 0;
    /* GELU's: 25-bit DReLUs, three offsets */
    assert_true(pipe_case(f, 25, 64, 3, true) <= pipe_case(f, 25, 64, 3, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joint_rounds),
        cmocka_unit_test(test_joint_fallback),
        cmocka_unit_test(test_shared_low_bits),
        cmocka_unit_test(test_pipe),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
