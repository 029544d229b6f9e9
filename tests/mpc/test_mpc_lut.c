/* Lookup tables, ring extension/reduction and the lifting truncation on
 * shares: two parties in two threads over the in-process channel, checked
 * against plaintext. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "cryptogen/mpc.h"
#include "mpc/mpc_internal.h"

typedef struct {
    cg_mpc *m;
    int op; /* 0 lut, 1 extend, 2 lifting truncation */
    unsigned a, b;
    const uint64_t *table;
    size_t n;
    const uint64_t *x;
    uint64_t *out;
    cg_status st;
    const uint8_t *shifts; /* op 2 */
} io;

static cg_status run_op(io *p)
{
    if (p->op == 0) return cg_mpc_lut(p->m, p->a, p->b, p->table, p->n, p->x, p->out, NULL);
    if (p->op == 2) return mpc_trunc_lift(p->m, p->a, p->b, p->shifts, p->n, p->x, p->out, NULL);
    return cg_mpc_extend(p->m, p->a, p->b, p->n, p->x, p->out, NULL);
}

static void *client_thread(void *arg)
{
    io *p = arg;
    p->st = run_op(p);
    return NULL;
}

static void run_both(io *s, io *c)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, c), 0);
    s->st = run_op(s);
    pthread_join(t, NULL);
    assert_int_equal(s->st, CG_OK);
    assert_int_equal(c->st, CG_OK);
}

#include "mpc_fixture.h"

static int64_t as_signed(unsigned bits, uint64_t v)
{
    if (bits == 64) return (int64_t)v;
    uint64_t half = 1ull << (bits - 1);
    return (v & half) ? (int64_t)(v | ~maskb(bits)) : (int64_t)v;
}

enum { N = 1200 };
static uint64_t V[N], X0[N], X1[N], O0[N], O1[N], TABLE[256];

/* Every index at least twice (so all rotations and edge indices 0, N-1 are
 * hit), the rest random; shares with the server's share at 0 and N-1 too. */
static void test_lut(void **state)
{
    fixture *f = *state;
    const unsigned ins[] = {1, 4, 8}, outs[] = {8, 37, 64};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            unsigned ib = ins[a], ob = outs[b], tn = 1u << ib;
            uint64_t im = maskb(ib), om = maskb(ob);
            for (unsigned j = 0; j < tn; j++) TABLE[j] = cg_prg_u64(&f->prg);
            TABLE[0] = 0;
            TABLE[tn - 1] = ~0ull; /* wider than out_bits: taken mod 2^out_bits */
            size_t n = N;
            for (size_t i = 0; i < n; i++) {
                V[i] = i < 2 * tn ? i % tn : cg_prg_u64(&f->prg) & im;
                X0[i] = cg_prg_u64(&f->prg) & im;
                if (i % 7 == 0) X0[i] = 0;
                if (i % 7 == 1) X0[i] = im;
                X1[i] = (V[i] - X0[i]) & im;
            }
            io s = {f->m[0], 0, ib, ob, TABLE, n, X0, O0, CG_OK, NULL};
            io c = {f->m[1], 0, ib, ob, NULL, n, X1, O1, CG_OK, NULL};
            run_both(&s, &c);
            for (size_t i = 0; i < n; i++)
                assert_int_equal((O0[i] + O1[i]) & om, TABLE[V[i]] & om);
        }
    /* out aliasing x, and n == 0. */
    for (unsigned j = 0; j < 16; j++) TABLE[j] = j * 3 + 1;
    for (size_t i = 0; i < 16; i++) {
        X0[i] = cg_prg_u64(&f->prg) & 15;
        X1[i] = (i - X0[i]) & 15;
    }
    io s = {f->m[0], 0, 4, 37, TABLE, 16, X0, X0, CG_OK, NULL};
    io c = {f->m[1], 0, 4, 37, NULL, 16, X1, X1, CG_OK, NULL};
    run_both(&s, &c);
    for (size_t i = 0; i < 16; i++) assert_int_equal((X0[i] + X1[i]) & maskb(37), i * 3 + 1);
    s.n = c.n = 0;
    run_both(&s, &c);

    cg_error e;
    uint64_t x[1] = {0};
    assert_int_equal(cg_mpc_lut(f->m[0], 0, 8, TABLE, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_lut(f->m[0], 9, 8, TABLE, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_lut(f->m[0], 4, 65, TABLE, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_lut(f->m[0], 4, 8, NULL, 1, x, x, &e), CG_ERR_ARG);
}

/* Extension keeps the signed value at both edges of |x| < 2^(from-2), with
 * shares whose top bits take every combination. */
static void test_extend(void **state)
{
    fixture *f = *state;
    const unsigned pairs[][2] = {{16, 37}, {37, 64}, {12, 20}, {3, 8}, {63, 64}, {20, 20}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        unsigned fb = pairs[k][0], tb = pairs[k][1];
        uint64_t fm = maskb(fb), tm = maskb(tb), lim = 1ull << (fb - 2);
        size_t n = N;
        for (size_t i = 0; i < n; i++)
            V[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & fm;
        uint64_t edges[] = {0, 1, fm, (lim - 1) & fm, (0 - (lim - 1)) & fm,
                            (lim - 2) & fm, (0 - (lim - 2)) & fm};
        for (size_t i = 0; i < 7; i++)
            for (size_t r = 0; r < 8; r++) V[i * 8 + r] = edges[i];
        for (size_t i = 0; i < n; i++) {
            X0[i] = cg_prg_u64(&f->prg) & fm;
            /* Server share 0, all ones, just below / at the half. */
            switch (i % 8) {
            case 0: X0[i] = 0; break;
            case 1: X0[i] = fm; break;
            case 2: X0[i] = (fm >> 1); break;
            case 3: X0[i] = (fm >> 1) + 1; break;
            default: break;
            }
            X1[i] = (V[i] - X0[i]) & fm;
        }
        io s = {f->m[0], 1, fb, tb, NULL, n, X0, O0, CG_OK, NULL};
        io c = {f->m[1], 1, fb, tb, NULL, n, X1, O1, CG_OK, NULL};
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(as_signed(tb, (O0[i] + O1[i]) & tm), as_signed(fb, V[i]));
        /* ...and reducing back gives the original secret. */
        assert_int_equal(cg_mpc_reduce(f->m[0], tb, fb, n, O0, O0, NULL), CG_OK);
        assert_int_equal(cg_mpc_reduce(NULL, tb, fb, n, O1, O1, NULL), CG_OK);
        for (size_t i = 0; i < n; i++) assert_int_equal((O0[i] + O1[i]) & fm, V[i]);
    }
    cg_error e;
    uint64_t x[1] = {0};
    assert_int_equal(cg_mpc_extend(f->m[0], 37, 16, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_extend(f->m[0], 1, 16, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_extend(f->m[0], 16, 65, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_reduce(f->m[0], 16, 37, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_reduce(f->m[0], 16, 0, 1, x, x, &e), CG_ERR_PARAM);
}

/* The truncation that also widens the ring (mpc_trunc_lift, used after
 * GELU's narrow-ring products): shares mod 2^from of |v| < 2^(from-2) in,
 * shares mod 2^to of floor(v / 2^sh) out, each element with its own shift;
 * exact mode equals the floor, approximate mode is at most 1 below. */
static void test_trunc_lift(void **state)
{
    fixture *f = *state;
    const unsigned pairs[][2] = {{25, 37}, {28, 37}, {20, 64}, {12, 20}, {16, 16}};
    static uint8_t SH[N];
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
        for (int exact = 0; exact < 2; exact++) {
            unsigned fb = pairs[k][0], tb = pairs[k][1];
            uint64_t fm = maskb(fb), tm = maskb(tb), lim = 1ull << (fb - 2);
            size_t n = N;
            for (size_t i = 0; i < n; i++) {
                V[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & fm;
                SH[i] = (uint8_t)(1 + i % (fb - 3));
            }
            uint64_t edges[] = {0, 1, fm, (lim - 1) & fm, (0 - (lim - 1)) & fm};
            for (size_t i = 0; i < 5; i++)
                for (size_t r = 0; r < 8; r++) V[i * 8 + r] = edges[i];
            for (size_t i = 0; i < n; i++) {
                X0[i] = i % 8 == 0 ? 0 : i % 8 == 1 ? fm : cg_prg_u64(&f->prg) & fm;
                X1[i] = (V[i] - X0[i]) & fm;
            }
            cg_mpc_set_exact(f->m[0], exact);
            cg_mpc_set_exact(f->m[1], exact);
            io s = {f->m[0], 2, fb, tb, NULL, n, X0, O0, CG_OK, SH};
            io c = {f->m[1], 2, fb, tb, NULL, n, X1, O1, CG_OK, SH};
            run_both(&s, &c);
            for (size_t i = 0; i < n; i++) {
                int64_t want = cg_fxp_ref_trunc(as_signed(fb, V[i]), SH[i]);
                int64_t got = as_signed(tb, (O0[i] + O1[i]) & tm);
                if (exact) assert_int_equal(got, want);
                else assert_true(got == want || got == want - 1);
            }
        }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lut),
        cmocka_unit_test(test_extend),
        cmocka_unit_test(test_trunc_lift),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
