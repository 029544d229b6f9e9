/* exp and GELU (both options) on shares against their fixed-point
 * references, approximate and exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mpc_ops.h"

/* exp at format fx against its reference: bit for bit in exact mode, and
 * (at l = 37, s = 12) within CG_MPC_EXP_ULP in approximate mode. */
static void check_exp(fixture *f, cg_fxp fx)
{
    io s, c;
    uint64_t mask = maskb(fx.ring_bits);
    int64_t ln2 = cg_fxp_encode(fx, M_LN2);
    for (size_t i = 0; i < N; i++) {
        int64_t v = -(int64_t)(cg_prg_u64(&f->prg) % (16 * 4096 + 1));
        if (i < 200) v = -(int64_t)(i / 10) * ln2 - 5 + (int64_t)(i % 10); /* segment edges */
        if (v > 0) v = -v; /* the protocol's precondition x <= 0 */
        B.v[i] = (uint64_t)v & mask;
    }
    B.v[0] = 0;
    /* the precondition's edge: -x * round(2^s / ln2) just below 2^(l-2) */
    int64_t xmin = -(int64_t)(((1ull << (fx.ring_bits - 2)) - 1) / (uint64_t)cg_fxp_encode(fx, 1.0 / M_LN2));
    int64_t far = cg_fxp_encode(fx, -1000.0);
    B.v[1] = (uint64_t)(far > xmin ? far : xmin / 2) & mask;
    B.v[2] = (uint64_t)xmin & mask;
    B.v[3] = (uint64_t)(xmin + 1) & mask;
    split(&f->prg, fx.ring_bits, N, B.v, B.x0, B.x1);
    for (int exact = fx.frac_bits == 12 ? 0 : 1; exact < 2; exact++) {
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
        fprintf(stderr, "  exp on shares (l=%u, s=%u, %s): max %lld ulp from cg_fxp_ref_exp_neg\n",
                fx.ring_bits, fx.frac_bits, exact ? "exact" : "approximate", (long long)maxdiff);
    }
    cg_mpc_set_exact(f->m[0], false);
    cg_mpc_set_exact(f->m[1], false);
}

static void test_exp(void **state)
{
    static const cg_fxp fmts[] = {{37, 12}, {31, 10}, {44, 16}};
    for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) check_exp(*state, fmts[k]);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_gelu_sweep),
        cmocka_unit_test(test_gelu_accurate),
        cmocka_unit_test(test_exp),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
