/* cg_mpc_trunc_add_lift beyond the bundle path: above 4,096 elements in
 * the inner exact truncation (n > 2,048 here, as at prefill) the wrap and
 * carry come from one COT batch after the comparison. The shares' sum mod
 * 2^64 must be x + floor(y / 2^shift) over the integers, bit for bit, at
 * either side of the switch, at rings of 6 to 63 bits (64: see
 * test_lift_full_ring), at the extreme shifts, on |x|, |y| < 2^(bits-2)
 * with their edges, with exact mode off and on (the function is exact in
 * both). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "mpc_fixture.h"

typedef struct {
    cg_mpc *m;
    unsigned bits, shift;
    size_t n;
    const uint64_t *y, *x;
    uint64_t *out;
    cg_status st;
} lift_job;

static void *client_lift(void *arg)
{
    lift_job *j = arg;
    j->st = cg_mpc_trunc_add_lift(j->m, j->bits, j->shift, j->n, j->y, j->x, j->out, NULL);
    return NULL;
}

/* floor(y / 2^sh) without relying on >> of a negative value. */
static int64_t floor_shift(int64_t y, unsigned sh)
{
    if (y >= 0) return y >> sh;
    return -(int64_t)((((uint64_t)-y) + (1ull << sh) - 1) >> sh);
}

/* Signed values with |v| < 2^(bits-2): random, the edges, and the values
 * either side of multiples of 2^sh (where floor and a truncation differ). */
static void fill_signed(cg_prg *prg, unsigned bits, unsigned sh, size_t n, int64_t *v)
{
    const uint64_t lim = 1ull << (bits - 2); /* |v| <= lim - 1 */
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(cg_prg_u64(prg) % (2 * lim - 1)) - (int64_t)(lim - 1);
    const int64_t top = (int64_t)(lim - 1), step = (int64_t)1 << sh;
    const int64_t edges[] = {0, 1, -1, top, -top, step, -step, step - 1, 1 - step, step + 1, -step - 1};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0] && i < n; i++)
        if (edges[i] <= top && edges[i] >= -top) v[i] = edges[i];
    /* the last elements too, so that the COT batch's tail holds edges */
    if (n > 2) v[n - 1] = -top, v[n - 2] = top;
}

static void split(cg_prg *prg, unsigned bits, size_t n, const int64_t *v, uint64_t *s0, uint64_t *s1)
{
    const uint64_t mask = maskb(bits);
    for (size_t i = 0; i < n; i++) {
        s0[i] = cg_prg_u64(prg) & mask;
        s1[i] = ((uint64_t)v[i] - s0[i]) & mask;
    }
}

static void check_lift(fixture *f, unsigned bits, unsigned sh, size_t n)
{
    int64_t *xv = malloc(n * sizeof *xv), *yv = malloc(n * sizeof *yv);
    uint64_t *x0 = malloc(n * 8), *x1 = malloc(n * 8), *y0 = malloc(n * 8), *y1 = malloc(n * 8);
    uint64_t *o0 = malloc(n * 8), *o1 = malloc(n * 8);
    assert_true(xv && yv && x0 && x1 && y0 && y1 && o0 && o1);
    fill_signed(&f->prg, bits, sh, n, xv);
    fill_signed(&f->prg, bits, sh, n, yv);
    /* some pairs the other way round: the largest sums of either sign */
    for (size_t i = 2; i < 8 && i < n; i++) xv[i] = yv[n - 1 - (i & 1)];
    split(&f->prg, bits, n, xv, x0, x1);
    split(&f->prg, bits, n, yv, y0, y1);
    lift_job c = {f->m[1], bits, sh, n, y1, x1, o1, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_lift, &c), 0);
    cg_error err = {0};
    const cg_status st = cg_mpc_trunc_add_lift(f->m[0], bits, sh, n, y0, x0, o0, &err);
    pthread_join(t, NULL);
    if (st != CG_OK) fprintf(stderr, "server: %s\n", err.msg);
    assert_int_equal(st, CG_OK);
    assert_int_equal(c.st, CG_OK);
    for (size_t i = 0; i < n; i++) {
        const int64_t want = xv[i] + floor_shift(yv[i], sh);
        if ((int64_t)(o0[i] + o1[i]) != want) {
            fprintf(stderr, "bits %u shift %u n %zu [%zu]: x %lld y %lld want %lld got %lld\n", bits,
                    sh, n, i, (long long)xv[i], (long long)yv[i], (long long)want,
                    (long long)(o0[i] + o1[i]));
            fail();
        }
    }
    /* the reference itself, on known values */
    assert_int_equal(floor_shift(-1, 3), -1);
    assert_int_equal(floor_shift(-8, 3), -1);
    assert_int_equal(floor_shift(-9, 3), -2);
    free(xv);
    free(yv);
    free(x0);
    free(x1);
    free(y0);
    free(y1);
    free(o0);
    free(o1);
}

static void set_exact(fixture *f, bool on)
{
    cg_mpc_set_exact(f->m[0], on);
    cg_mpc_set_exact(f->m[1], on);
}

/* The project's ring (37 bits, weight_frac 12) either side of the switch
 * (2,048 elements: 4,096 in the inner truncation, its bundle path; 2,049:
 * the COT path) and at prefill's 8 x 768. */
static void test_lift_project_ring(void **state)
{
    fixture *f = *state;
    const size_t ns[] = {2048, 2049, 8 * 768};
    for (int exact = 0; exact < 2; exact++) {
        set_exact(f, exact);
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) check_lift(f, 37, 12, ns[k]);
    }
    set_exact(f, false);
}

/* The extreme shifts (1 and bits - 3) at small and large rings, on the COT
 * path only. */
static void test_lift_rings_and_shifts(void **state)
{
    fixture *f = *state;
    const unsigned rings[] = {6, 8, 37, 63};
    for (size_t r = 0; r < sizeof rings / sizeof rings[0]; r++) {
        const unsigned bits = rings[r];
        check_lift(f, bits, 1, 4097);
        check_lift(f, bits, bits - 3, 4097);
    }
}

/* bits = 64: the x half has shift 0, so its wrap term is shifted by the
 * whole ring (2^64 = 0), which C does not define for a 64-bit shift. */
static void test_lift_full_ring(void **state)
{
    fixture *f = *state;
    check_lift(f, 64, 1, 2048);
    check_lift(f, 64, 61, 4097);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lift_project_ring),
        cmocka_unit_test(test_lift_rings_and_shifts),
        cmocka_unit_test(test_lift_full_ring),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
