/* Fixed-point references against double-precision math on dense grids. The
 * bounds are the measured maxima (docs/NUMERICS.md) with a small margin; the
 * printed figures are what the doc records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <stdio.h>

#include "cryptogen/fxp.h"

static const cg_fxp F = {.ring_bits = 37, .frac_bits = 12};

static double gelu_exact(double x) { return 0.5 * x * (1.0 + erf(x / M_SQRT2)); }

static void test_encode_trunc_mul(void **state)
{
    (void)state;
    assert_int_equal(cg_fxp_encode(F, 1.0), 4096);
    assert_int_equal(cg_fxp_encode(F, -0.5), -2048);
    assert_true(cg_fxp_decode(F, 6144) == 1.5);
    /* Floor, not round-to-zero, for negatives. */
    assert_int_equal(cg_fxp_ref_trunc(-1, 3), -1);
    assert_int_equal(cg_fxp_ref_trunc(-8, 3), -1);
    assert_int_equal(cg_fxp_ref_trunc(-9, 3), -2);
    assert_int_equal(cg_fxp_ref_trunc(15, 3), 1);
    /* Wrapping to 37 bits: 2^36 is the most negative value. */
    assert_int_equal(cg_fxp_wrap(F, (int64_t)1 << 36), -((int64_t)1 << 36));
    assert_int_equal(cg_fxp_wrap(F, ((int64_t)1 << 36) - 1), ((int64_t)1 << 36) - 1);
    cg_fxp f64 = {.ring_bits = 64, .frac_bits = 16};
    assert_int_equal(cg_fxp_wrap(f64, INT64_MIN), INT64_MIN);
    /* Products against floor(a*b/2^12) computed in double (exact here). */
    for (int64_t a = -3000; a <= 3000; a += 37)
        for (int64_t b = -5000; b <= 5000; b += 91)
            assert_int_equal(cg_fxp_ref_mul(F, a, b), (int64_t)floor((double)(a * b) / 4096.0));
}

static void test_exp_neg(void **state)
{
    (void)state;
    double maxerr = 0;
    for (int64_t x = 0; x >= -cg_fxp_encode(F, 16.0); x--) {
        double got = cg_fxp_decode(F, cg_fxp_ref_exp_neg(F, x));
        double err = fabs(got - exp(cg_fxp_decode(F, x)));
        if (err > maxerr) maxerr = err;
        assert_true(got >= 0);
    }
    fprintf(stderr, "  exp_neg (l=37, s=12) on [-16, 0]: max abs error %.3e\n", maxerr);
    assert_true(maxerr < 3.0e-3);
    assert_int_equal(cg_fxp_ref_exp_neg(F, cg_fxp_encode(F, -100.0)), 0);
    assert_int_equal(cg_fxp_ref_exp_neg(F, 5), cg_fxp_ref_exp_neg(F, 0)); /* x > 0 clipped */
}

static void test_gelu(void **state)
{
    (void)state;
    double maxerr = 0, sumerr = 0;
    size_t cnt = 0;
    for (int64_t x = -cg_fxp_encode(F, 8.0); x <= cg_fxp_encode(F, 8.0); x++) {
        double err = fabs(cg_fxp_decode(F, cg_fxp_ref_gelu(F, x)) - gelu_exact(cg_fxp_decode(F, x)));
        if (err > maxerr) maxerr = err;
        sumerr += err;
        cnt++;
    }
    fprintf(stderr, "  gelu (l=37, s=12) on [-8, 8]: max abs error %.3e, mean %.3e\n", maxerr,
            sumerr / (double)cnt);
    assert_true(maxerr < 1.1e-2);
    /* Outside the threshold it is exactly ReLU. */
    assert_int_equal(cg_fxp_ref_gelu(F, cg_fxp_encode(F, 3.0)), cg_fxp_encode(F, 3.0));
    assert_int_equal(cg_fxp_ref_gelu(F, cg_fxp_encode(F, -3.0)), 0);
}

/* The accurate option: every ulp of [-8, 8] against the exact GELU, and
 * several times more accurate than BOLT's quartic. */
static void test_gelu_accurate(void **state)
{
    (void)state;
    double maxerr = 0, sumerr = 0, bolt = 0;
    size_t cnt = 0;
    for (int64_t x = -cg_fxp_encode(F, 8.0); x <= cg_fxp_encode(F, 8.0); x++) {
        double want = gelu_exact(cg_fxp_decode(F, x));
        double err = fabs(cg_fxp_decode(F, cg_fxp_ref_gelu_accurate(F, x)) - want);
        double eb = fabs(cg_fxp_decode(F, cg_fxp_ref_gelu(F, x)) - want);
        if (err > maxerr) maxerr = err;
        if (eb > bolt) bolt = eb;
        sumerr += err;
        cnt++;
    }
    fprintf(stderr, "  gelu_accurate (l=37, s=12) on [-8, 8]: max abs error %.3e, mean %.3e (BOLT %.3e)\n",
            maxerr, sumerr / (double)cnt, bolt);
    assert_true(maxerr < 1.5e-3);
    assert_true(maxerr * 5 < bolt);
    assert_int_equal(cg_fxp_ref_gelu_accurate(F, cg_fxp_encode(F, 3.6)), cg_fxp_encode(F, 3.6));
    assert_int_equal(cg_fxp_ref_gelu_accurate(F, cg_fxp_encode(F, -3.6)), 0);
    assert_true(llabs(cg_fxp_ref_gelu_accurate(F, 0)) <= 3); /* Q(0) = d0, about 2 ulp */
}

static void test_recip_rsqrt(void **state)
{
    (void)state;
    double rel_r = 0, rel_s = 0, rel_s2 = 0;
    /* Every value from 1 ulp to 4, a geometric walk beyond, up to 1024. */
    for (int64_t x = 1; x <= ((int64_t)1 << 22); x += (x < 16384 ? 1 : x / 4096)) {
        int64_t r, q;
        assert_int_equal(cg_fxp_ref_recip(F, x, &r, NULL), CG_OK);
        assert_int_equal(cg_fxp_ref_rsqrt(F, x, &q, NULL), CG_OK);
        double X = cg_fxp_decode(F, x);
        /* Relative error, ignoring the output's own 1-ulp quantisation. */
        double er = fabs(cg_fxp_decode(F, r) - 1.0 / X);
        er = X >= 1.0 ? ldexp(er, F.frac_bits) : er * X; /* ulps for X >= 1, else relative */
        double want_s = 1.0 / sqrt(X);
        double es = fabs(cg_fxp_decode(F, q) - want_s);
        if (X >= 1.0 && er > rel_r) rel_r = er;
        if (X < 1.0 && X >= 1.0 / 64 && er > rel_s2) rel_s2 = er;
        if (es / want_s > rel_s && want_s > 0.05) rel_s = es / want_s;
        /* Absolute error at most a few ulp scaled by the output's magnitude. */
        assert_true(fabs(cg_fxp_decode(F, r) - 1.0 / X) <= 1e-3 * (1.0 / X) + 4 * ldexp(1, -12));
        assert_true(es <= 2e-3 * want_s + 4 * ldexp(1, -12));
    }
    fprintf(stderr,
            "  recip: abs error %.2f ulp for x in [1, 1024], rel error %.3e for x in [1/64, 1);"
            " rsqrt rel error (out > 0.05) %.3e\n", rel_r, rel_s2, rel_s);
    int64_t o;
    cg_error e;
    assert_int_equal(cg_fxp_ref_recip(F, 0, &o, &e), CG_ERR_RANGE);
    assert_int_equal(cg_fxp_ref_rsqrt(F, -5, &o, &e), CG_ERR_RANGE);
    cg_fxp bad = {.ring_bits = 16, .frac_bits = 2};
    assert_int_equal(cg_fxp_ref_recip(bad, 5, &o, &e), CG_ERR_PARAM);
    /* Other formats (the table alone up to s = 15, a Newton step from 16):
     * within 2 ulp of the output plus 2^-15 relative (the chord's error)
     * for x in [1/16, 2^(l-2-s)). */
    const cg_fxp fm[3] = {{16, 4}, {44, 16}, {64, 28}};
    for (int i = 0; i < 3; i++) {
        double worst = 0;
        int64_t lo = (int64_t)1 << (fm[i].frac_bits - 4), hi = (int64_t)1 << (fm[i].ring_bits - 2);
        for (int64_t x = lo; x < hi && x > 0; x += x / 64 + 1)
            for (int sq = 0; sq < 2; sq++) {
                int64_t r;
                if (sq) assert_int_equal(cg_fxp_ref_rsqrt(fm[i], x, &r, NULL), CG_OK);
                else assert_int_equal(cg_fxp_ref_recip(fm[i], x, &r, NULL), CG_OK);
                double X = cg_fxp_decode(fm[i], x), want = sq ? 1.0 / sqrt(X) : 1.0 / X;
                double ex = fabs(cg_fxp_decode(fm[i], r) - want) - 2 * ldexp(1, -fm[i].frac_bits);
                if (ex / want > worst) worst = ex / want;
            }
        fprintf(stderr, "  recip/rsqrt (%u, %u): rel error beyond 2 ulp %.3e\n", fm[i].ring_bits,
                fm[i].frac_bits, worst);
        assert_true(worst <= ldexp(1, -15));
    }
}

static void test_softmax_layernorm(void **state)
{
    (void)state;
    enum { N = 768 };
    int64_t x[N], out[N];
    double xd[N];
    cg_prg prg;
    cg_prg_init_random(&prg);
    double max_sm = 0, max_ln = 0;
    int low_var_rows = 0;
    for (int trial = 0; trial < 20; trial++) {
        double spread = 1.0 + trial; /* logits up to +-21 */
        size_t n = trial == 0 ? 1 : (trial < 5 ? (size_t)trial * 3 : N);
        for (size_t i = 0; i < n; i++) {
            x[i] = cg_fxp_encode(F, ((double)cg_prg_uniform(&prg, 20001) / 10000.0 - 1.0) * spread);
            xd[i] = cg_fxp_decode(F, x[i]);
        }
        assert_int_equal(cg_fxp_ref_softmax(F, x, n, out, NULL), CG_OK);
        double m = xd[0], z = 0;
        for (size_t i = 1; i < n; i++) m = fmax(m, xd[i]);
        for (size_t i = 0; i < n; i++) z += exp(xd[i] - m);
        for (size_t i = 0; i < n; i++) {
            double err = fabs(cg_fxp_decode(F, out[i]) - exp(xd[i] - m) / z);
            if (err > max_sm) max_sm = err;
        }
        assert_int_equal(cg_fxp_ref_layernorm(F, x, n, out, NULL), CG_OK);
        double mean = 0, var = 0;
        for (size_t i = 0; i < n; i++) mean += xd[i];
        mean /= (double)n;
        for (size_t i = 0; i < n; i++) var += (xd[i] - mean) * (xd[i] - mean);
        var /= (double)n;
        /* Below a variance of 2^-6 the variance itself has fewer than 6
         * significant bits at s = 12 (NUMERICS.md: LayerNorm's input range),
         * so rows of nearly equal values (a rare draw at small n) are not
         * held to the bound. */
        if (var < 1.0 / 64) {
            low_var_rows++;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            double err = fabs(cg_fxp_decode(F, out[i]) - (xd[i] - mean) / sqrt(var + 1e-5));
            if (n > 1 && err > max_ln) max_ln = err;
        }
    }
    fprintf(stderr, "  softmax max abs error %.3e; layernorm max abs error %.3e (%d rows of variance < 2^-6 not held to it)\n",
            max_sm, max_ln, low_var_rows);
    assert_true(max_sm < 3e-3);
    assert_true(max_ln < 1.5e-2);
    assert_int_equal(cg_fxp_ref_softmax(F, x, 0, out, NULL), CG_ERR_ARG);
    assert_int_equal(cg_fxp_ref_layernorm(F, x, 0, out, NULL), CG_ERR_ARG);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_trunc_mul), cmocka_unit_test(test_exp_neg),
        cmocka_unit_test(test_gelu), cmocka_unit_test(test_gelu_accurate),
        cmocka_unit_test(test_recip_rsqrt),
        cmocka_unit_test(test_softmax_layernorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
