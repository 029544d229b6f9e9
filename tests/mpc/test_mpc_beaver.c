/* Product material made ahead (mpc_beaver.c): products, squares, selects
 * and select-with-square on stocked material are one exchange and equal
 * to plaintext; stocking is "at least n" (nothing sent when in stock);
 * without pool_on the COT forms run; cg_mpc_prepare leaves LayerNorm's and
 * GELU's and softmax's outputs unchanged and takes rounds off them. Two parties in two
 * threads over the in-process channel. */
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

enum { N = 300, L = 37, SQB = 29, SM_ROWS = 5 };

typedef struct {
    cg_mpc *m;
    int op; /* 0 stock + products, 1 stock only, 2 products without pool_on, 3 LN, 4 GELU,
             * 5 softmax of SM_ROWS x N / SM_ROWS */
    bool prepare;
    const uint64_t *x, *y;
    const uint8_t *b;
    uint64_t *mul, *sq, *sel, *ssel, *ssq, *ln;
    uint64_t rounds, sent; /* this party's, for the products / LN / GELU only */
    cg_status st;
} io;

static void stats(cg_mpc *m, uint64_t *rounds, uint64_t *sent)
{
    cg_chan_stats s;
    cg_chan_get_stats(cg_mpc_channel(m), &s);
    *rounds = s.total.rounds;
    *sent = s.total.bytes_sent;
}

static cg_status run(io *p)
{
    cg_status st = CG_OK;
    const cg_fxp f = {L, 12};
    uint64_t r0, s0, r1, s1;
    if (p->op == 0 || p->op == 1) {
        const mpc_stock_req req[4] = {{MPC_POOL_MUL, L, N},
                                      {MPC_POOL_SQ, 64, N},
                                      {MPC_POOL_SEL, L, 2 * N},
                                      {MPC_POOL_SQ, SQB, N}};
        st = mpc_stock(p->m, 4, req, NULL);
    }
    if (st != CG_OK || p->op == 1) return st;
    if (p->op >= 3) {
        if (p->prepare && p->op == 5)
            st = cg_mpc_prepare(p->m, f, 0, 0, 0, 0, SM_ROWS, N / SM_ROWS, NULL);
        else if (p->prepare)
            st = cg_mpc_prepare(p->m, f, 1, 1, N, p->op == 4 ? N : 0, 0, 0, NULL);
        stats(p->m, &r0, &s0);
        if (st == CG_OK && p->op == 3) st = cg_mpc_layernorm(p->m, f, 1, N, p->x, p->ln, NULL);
        if (st == CG_OK && p->op == 4) st = cg_mpc_gelu(p->m, f, N, p->x, p->ln, NULL);
        if (st == CG_OK && p->op == 5)
            st = cg_mpc_softmax(p->m, f, SM_ROWS, N / SM_ROWS, NULL, p->x, p->ln, NULL);
        stats(p->m, &r1, &s1);
        p->rounds = r1 - r0;
        return st;
    }
    p->m->pool_on = p->op == 0;
    stats(p->m, &r0, &s0);
    if (st == CG_OK) st = cg_mpc_mul(p->m, L, N, p->x, p->y, p->mul, NULL);
    if (st == CG_OK) st = cg_mpc_square(p->m, 64, N, p->x, p->sq, NULL);
    if (st == CG_OK) st = cg_mpc_select(p->m, L, N, p->b, p->x, p->sel, NULL);
    if (st == CG_OK) st = mpc_select_square(p->m, L, N, p->b, p->y, p->ssel, SQB, p->x, p->ssq, NULL);
    stats(p->m, &r1, &s1);
    p->m->pool_on = false;
    p->rounds = r1 - r0;
    return st;
}

static void *client_thread(void *arg)
{
    io *p = arg;
    p->st = run(p);
    return NULL;
}

/* Runs op on both parties; sh/ch the server's and client's io. */
static void both(fixture *f, io *sh, io *ch)
{
    sh->m = f->m[0];
    ch->m = f->m[1];
    ch->op = sh->op;
    ch->prepare = sh->prepare;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, ch), 0);
    sh->st = run(sh);
    pthread_join(t, NULL);
    assert_int_equal(sh->st, CG_OK);
    assert_int_equal(ch->st, CG_OK);
}

typedef struct {
    uint64_t x[2][N], y[2][N], out[6][2][N];
    uint8_t b[2][N];
    uint64_t xv[N], yv[N];
    uint8_t bv[N];
} data;

static void make_data(fixture *f, data *d, unsigned xbits)
{
    for (size_t i = 0; i < N; i++) {
        d->xv[i] = cg_prg_u64(&f->prg) & maskb(xbits);
        d->yv[i] = cg_prg_u64(&f->prg) & maskb(L);
        d->bv[i] = (uint8_t)(cg_prg_u64(&f->prg) & 1);
        d->x[0][i] = cg_prg_u64(&f->prg);
        d->x[1][i] = d->xv[i] - d->x[0][i];
        d->y[0][i] = cg_prg_u64(&f->prg) & maskb(L);
        d->y[1][i] = (d->yv[i] - d->y[0][i]) & maskb(L);
        d->b[0][i] = (uint8_t)(cg_prg_u64(&f->prg) & 1);
        d->b[1][i] = d->b[0][i] ^ d->bv[i];
    }
}

static void products(fixture *f, int op, uint64_t *rounds)
{
    static data d;
    make_data(f, &d, 64);
    io p[2];
    memset(p, 0, sizeof p);
    for (int s = 0; s < 2; s++) {
        p[s].x = d.x[s];
        p[s].y = d.y[s];
        p[s].b = d.b[s];
        p[s].mul = d.out[0][s];
        p[s].sq = d.out[1][s];
        p[s].sel = d.out[2][s];
        p[s].ssel = d.out[3][s];
        p[s].ssq = d.out[4][s];
    }
    p[0].op = op;
    both(f, &p[0], &p[1]);
    for (size_t i = 0; i < N; i++) {
        uint64_t x = d.xv[i], y = d.yv[i];
        assert_int_equal((d.out[0][0][i] + d.out[0][1][i]) & maskb(L), (x * y) & maskb(L));
        assert_int_equal(d.out[1][0][i] + d.out[1][1][i], x * x);
        assert_int_equal((d.out[2][0][i] + d.out[2][1][i]) & maskb(L), d.bv[i] ? x & maskb(L) : 0);
        assert_int_equal((d.out[3][0][i] + d.out[3][1][i]) & maskb(L), d.bv[i] ? y : 0);
        assert_int_equal((d.out[4][0][i] + d.out[4][1][i]) & maskb(SQB), (x * x) & maskb(SQB));
    }
    rounds[0] = p[0].rounds;
    rounds[1] = p[1].rounds;
}

static void test_stocked_products(void **state)
{
    fixture *f = *state;
    uint64_t r[2];
    products(f, 0, r);
    /* four calls, one exchange each */
    assert_int_equal(r[0], 4);
    assert_int_equal(r[1], 4);
    /* everything stocked was used */
    assert_int_equal(f->m[0]->pool[MPC_POOL_MUL][L].have, f->m[0]->pool[MPC_POOL_MUL][L].next);
    assert_int_equal(f->m[1]->pool[MPC_POOL_SEL][L].have, f->m[1]->pool[MPC_POOL_SEL][L].next);
}

static void test_cot_forms(void **state)
{
    fixture *f = *state;
    uint64_t r[2];
    products(f, 2, r); /* pool_on off: one COT round trip each */
    assert_int_equal(r[0], 8);
}

static void test_stock_at_least(void **state)
{
    fixture *f = *state;
    io p[2];
    memset(p, 0, sizeof p);
    p[0].op = 1;
    uint64_t r0, s0, r1, s1;
    both(f, &p[0], &p[1]);
    stats(f->m[1], &r0, &s0);
    both(f, &p[0], &p[1]); /* all in stock now: nothing sent */
    stats(f->m[1], &r1, &s1);
    assert_int_equal(s1, s0);
    assert_int_equal(f->m[0]->pool[MPC_POOL_SQ][64].have - f->m[0]->pool[MPC_POOL_SQ][64].next, N);
    uint64_t r[2];
    products(f, 0, r); /* takes what was stocked; the stock call adds none */
    assert_int_equal(r[0], 4);
}

/* LayerNorm (op 3), GELU (op 4) or softmax (op 5) with and without cg_mpc_prepare: the
 * same values, fewer rounds in the call itself. */
static void prepared(fixture *f, int op)
{
    static data d;
    make_data(f, &d, 20);
    for (size_t i = 0; i < N; i++) { /* small signed values, |x| < 2^19 */
        d.xv[i] = (d.xv[i] - (1ull << 19)) & maskb(L);
        d.x[0][i] &= maskb(L);
        d.x[1][i] = (d.xv[i] - d.x[0][i]) & maskb(L);
    }
    cg_mpc_set_exact(f->m[0], true);
    cg_mpc_set_exact(f->m[1], true);
    uint64_t rounds[2];
    for (int k = 0; k < 2; k++) {
        io p[2];
        memset(p, 0, sizeof p);
        for (int s = 0; s < 2; s++) {
            p[s].x = d.x[s];
            p[s].ln = d.out[k][s];
        }
        p[0].op = op;
        p[0].prepare = k == 1;
        both(f, &p[0], &p[1]);
        rounds[k] = p[1].rounds;
    }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
    for (size_t i = 0; i < N; i++)
        assert_int_equal((d.out[0][0][i] + d.out[0][1][i]) & maskb(L),
                         (d.out[1][0][i] + d.out[1][1][i]) & maskb(L));
    /* the call's own stock round trip is gone */
    assert_true(rounds[1] + 2 <= rounds[0]);
}

static void test_prepare_layernorm(void **state) { prepared(*state, 3); }
static void test_prepare_gelu(void **state) { prepared(*state, 4); }
static void test_prepare_softmax(void **state) { prepared(*state, 5); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stocked_products), cmocka_unit_test(test_cot_forms),
        cmocka_unit_test(test_stock_at_least), cmocka_unit_test(test_prepare_layernorm),
        cmocka_unit_test(test_prepare_gelu), cmocka_unit_test(test_prepare_softmax),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
