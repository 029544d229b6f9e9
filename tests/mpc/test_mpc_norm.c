/* Reciprocal, inverse square root, softmax and LayerNorm on shares, in
 * exact mode equal to their fixed-point references. */
#include <math.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpc_ops.h"

/* 1/x and 1/sqrt(x) in exact mode equal the references on the whole range
 * 0 < x < 2^(l-2): log-uniform random values, every power of two and its
 * neighbours, 1 ulp and the maximum. In approximate mode (exact false)
 * within a few ulp of them, scaled by the normalisation's left shift. */
static void check_recip_rsqrt(fixture *f, cg_fxp fx, size_t nrand, bool exact)
{
    io s, c;
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
    for (size_t r = 0; r < nrand; r++) {
        unsigned j = (unsigned)(cg_prg_u64(&f->prg) % (l - 2));
        B.v[n++] = (1ull << j) + cg_prg_u64(&f->prg) % (1ull << j);
    }
    split(&f->prg, l, n, B.v, B.x0, B.x1);
    set_exact(f, exact);
    for (int sq = 0; sq < 2; sq++) {
        setup_io(f, &s, &c, sq ? OP_RSQRT : OP_RECIP, l, n);
        s.fx = c.fx = fx;
        run_both(&s, &c);
        int64_t worst = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t want;
            if (sq) assert_int_equal(cg_fxp_ref_rsqrt(fx, (int64_t)B.v[i], &want, NULL), CG_OK);
            else assert_int_equal(cg_fxp_ref_recip(fx, (int64_t)B.v[i], &want, NULL), CG_OK);
            int64_t got = as_signed(l, (B.o0[i] + B.o1[i]) & mask);
            if (exact) {
                assert_int_equal(got, want);
                continue;
            }
            /* a truncation's ulp, times the left shift of a small x */
            int k = (63 - __builtin_clzll(B.v[i])) - (int)fx.frac_bits;
            int up = k < 0 ? (sq ? (-k + 1) / 2 : -k) : 0;
            int64_t d = llabs(got - want), bound = (int64_t)4 << up;
            if (d > worst) worst = d;
            assert_true(d <= bound);
        }
        if (!exact)
            fprintf(stderr, "  %s (%u, %u), approximate: max %lld ulp from the reference\n",
                    sq ? "rsqrt" : "recip", l, fx.frac_bits, (long long)worst);
    }
    set_exact(f, false);
}

static void test_recip_rsqrt(void **state)
{
    fixture *f = *state;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    check_recip_rsqrt(f, fx, 300, true);
    check_recip_rsqrt(f, fx, 300, false);
    /* tiny s (a table of every u), a Newton step (s >= 16), the largest s */
    const cg_fxp other[3] = {{16, 4}, {44, 16}, {64, 28}};
    for (int i = 0; i < 3; i++) check_recip_rsqrt(f, other[i], 60, true);
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
    /* rows, columns, lengths: 0 short prefixes (r * 5 + 1), 1 whole rows
     * (no row_len), 2 long odd ones (cols - 2r); rows up to 64 entries and
     * longer ones take different exp and maximum paths (64 and 65 the
     * edges), 512 the decode shape the bench measures */
    const size_t shapes[][3] = {{1, 1, 0}, {3, 7, 0}, {12, 64, 0}, {1, 768, 1}, {1, 512, 1},
                                {1, 65, 1}, {2, 64, 2}, {3, 333, 2}, {2, 66, 2}};
    size_t lens[12];
    set_exact(f, true);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols, mode = shapes[k][2];
        for (size_t r = 0; r < rows; r++) {
            fill_acts(&f->prg, fx, cols, 4.0 + 4.0 * (double)r, r == 1, B.v + r * cols);
            lens[r] = mode == 1   ? cols
                      : mode == 2 ? cols - 2 * r
                                  : (r * 5 + 1 > cols ? cols : r * 5 + 1);
        }
        if (k == 1) B.v[2 * 7 + 0] = B.v[2 * 7 + 1]; /* a tied maximum */
        split(&f->prg, l, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_SOFTMAX, l, n);
        s.fx = c.fx = fx;
        s.rows = c.rows = rows;
        s.cols = c.cols = cols;
        s.row_len = c.row_len = mode == 1 ? NULL : lens;
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

/* LayerNorm on GPT-2-like rows with massive activations (one or two
 * channels at +-3,000 and one at 8,000: squares beyond the 37-bit ring,
 * held by the wider ring of the variance) equals the reference bit for bit,
 * and the reference's error against double math on them stays below
 * 4e-3 (|y| + 1). */
static void test_layernorm_massive(void **state)
{
    fixture *f = *state;
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    const unsigned l = fx.ring_bits;
    uint64_t mask = maskb(l);
    const size_t rows = 4, cols = 192, n = rows * cols;
    const double big[4][2] = {{3000.0, 0}, {3000.0, -3000.0}, {-2500.0, 2900.0}, {8000.0, 0}};
    for (size_t r = 0; r < rows; r++) {
        fill_acts(&f->prg, fx, cols, 3.0, false, B.v + r * cols);
        B.v[r * cols + 17] = (uint64_t)cg_fxp_encode(fx, big[r][0]) & mask;
        if (big[r][1] != 0) B.v[r * cols + 101] = (uint64_t)cg_fxp_encode(fx, big[r][1]) & mask;
    }
    set_exact(f, true);
    split(&f->prg, l, n, B.v, B.x0, B.x1);
    setup_io(f, &s, &c, OP_LAYERNORM, l, n);
    s.fx = c.fx = fx;
    s.rows = c.rows = rows;
    s.cols = c.cols = cols;
    run_both(&s, &c);
    double max_err = 0;
    for (size_t r = 0; r < rows; r++) {
        int64_t xr[192], want[192];
        double mean = 0, var = 0;
        for (size_t j = 0; j < cols; j++) {
            xr[j] = as_signed(l, B.v[r * cols + j]);
            mean += cg_fxp_decode(fx, xr[j]) / (double)cols;
        }
        for (size_t j = 0; j < cols; j++)
            var += pow(cg_fxp_decode(fx, xr[j]) - mean, 2) / (double)cols;
        assert_int_equal(cg_fxp_ref_layernorm(fx, xr, cols, want, NULL), CG_OK);
        for (size_t j = 0; j < cols; j++) {
            int64_t got = as_signed(l, (B.o0[r * cols + j] + B.o1[r * cols + j]) & mask);
            assert_int_equal(got, want[j]);
            /* relative: 1/std ~ 1/300 keeps ~2^-9 of relative precision */
            double y = (cg_fxp_decode(fx, xr[j]) - mean) / sqrt(var + 1e-5);
            double e = fabs(cg_fxp_decode(fx, want[j]) - y) / (fabs(y) + 1.0);
            if (e > max_err) max_err = e;
        }
    }
    fprintf(stderr, "  massive-activation rows: layernorm max error %.3e of (|y| + 1)\n", max_err);
    assert_true(max_err < 4e-3);
    set_exact(f, false);
}

/* A projection's truncation with the residual add and the extension to 64
 * bits (cg_mpc_trunc_add_lift) gives x + floor(y / 2^sh) over the integers,
 * on both of a truncation's paths' sizes here; LayerNorm on that extension
 * (cg_mpc_layernorm_lifted) equals the reference on x + trunc(y) mod 2^l. */
static void test_trunc_add_lift(void **state)
{
    fixture *f = *state;
    io s, c;
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    const unsigned l = fx.ring_bits, sh = 12;
    uint64_t mask = maskb(l);
    const size_t shapes[][2] = {{1, 5}, {2, 192}, {1, 768}};
    set_exact(f, true); /* LayerNorm's inner truncations; this one is always exact */
    for (size_t k = 0; k < 3; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        /* y: a product at scale 2s, including the extremes of |y| < 2^(l-2) */
        for (size_t i = 0; i < n; i++) {
            int64_t y = (int64_t)(cg_prg_u64(&f->prg) % (1ull << (l - 2))) - (int64_t)(1ull << (l - 3));
            if (i == 0) y = -(int64_t)(1ull << (l - 2)) + 1;
            if (i == 1) y = (int64_t)(1ull << (l - 2)) - 1;
            if (k > 0) y /= 1024; /* |y| / 2^2s < 2: LayerNorm's preconditions */
            B.w[i] = (uint64_t)y & mask;
        }
        for (size_t r = 0; r < rows; r++) fill_acts(&f->prg, fx, cols, 5.0, r == 0, B.v + r * cols);
        split(&f->prg, l, n, B.w, B.x0, B.x1);
        split(&f->prg, l, n, B.v, B.y0, B.y1);
        setup_io(f, &s, &c, OP_TRUNC_ADD_LIFT, l, n);
        s.shift = c.shift = sh;
        run_both(&s, &c);
        int64_t sum[768];
        for (size_t i = 0; i < n; i++) {
            int64_t yv = as_signed(l, B.w[i]), t = yv >= 0 ? yv >> sh : -((-yv + (1 << sh) - 1) >> sh);
            sum[i] = as_signed(l, B.v[i]) + t;
            assert_int_equal((int64_t)(B.o0[i] + B.o1[i]), sum[i]);
        }
        if (k == 0) continue;
        for (size_t i = 0; i < n; i++) B.x0[i] = B.o0[i], B.x1[i] = B.o1[i];
        setup_io(f, &s, &c, OP_LAYERNORM_LIFTED, l, n);
        s.fx = c.fx = fx;
        s.rows = c.rows = rows;
        s.cols = c.cols = cols;
        run_both(&s, &c);
        for (size_t r = 0; r < rows; r++) {
            int64_t want[768];
            assert_int_equal(cg_fxp_ref_layernorm(fx, sum + r * cols, cols, want, NULL), CG_OK);
            for (size_t j = 0; j < cols; j++)
                assert_int_equal(as_signed(l, (B.o0[r * cols + j] + B.o1[r * cols + j]) & mask), want[j]);
        }
    }
    set_exact(f, false);
    cg_error e;
    uint64_t x[1] = {0};
    assert_int_equal(cg_mpc_trunc_add_lift(f->m[0], l, 0, 1, x, x, x, &e), CG_ERR_PARAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recip_rsqrt),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_layernorm_massive),
        cmocka_unit_test(test_trunc_add_lift),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
