/* Plaintext fixed-point references: integer-only mirrors of the two-party
 * protocols' steps (so protocol outputs can be compared bit for bit or within
 * a stated ulp bound). Products use 128-bit intermediates before wrapping. */
#include <math.h>

#include "cryptogen/fxp.h"

int64_t cg_fxp_wrap(cg_fxp f, int64_t v)
{
    if (f.ring_bits >= 64 || f.ring_bits == 0) return v;
    unsigned sh = 64u - f.ring_bits;
    /* Sign-extend the low ring_bits bits (unsigned shift avoids UB). */
    uint64_t u = (uint64_t)v << sh;
    return (int64_t)u >> sh;
}

int64_t cg_fxp_encode(cg_fxp f, double r)
{
    return cg_fxp_wrap(f, (int64_t)llround(ldexp(r, f.frac_bits)));
}

double cg_fxp_decode(cg_fxp f, int64_t v) { return ldexp((double)v, -(int)f.frac_bits); }

int64_t cg_fxp_ref_trunc(int64_t x, unsigned shift) { return x >> shift; }

static int64_t mul_shift(int64_t a, int64_t b, unsigned shift)
{
    __int128 p = (__int128)a * b;
    return (int64_t)(p >> shift);
}

int64_t cg_fxp_ref_mul(cg_fxp f, int64_t a, int64_t b)
{
    return cg_fxp_wrap(f, mul_shift(a, b, f.frac_bits));
}

/* x * 2^k for k >= 0 without signed-shift UB. */
static int64_t shl(int64_t x, unsigned k) { return (int64_t)((uint64_t)x << k); }

int64_t cg_fxp_ref_exp_neg(cg_fxp f, int64_t x)
{
    unsigned s = f.frac_bits;
    if (x > 0) x = 0;
    int64_t inv_ln2 = cg_fxp_encode(f, 1.0 / M_LN2), ln2 = cg_fxp_encode(f, M_LN2);
    /* l = floor(-x / ln2) via a product with the public 1/ln2. */
    int64_t l = mul_shift(-x, inv_ln2, s) >> s;
    if (l > (int64_t)s) return 0; /* exp(p) < 2 so the shift leaves nothing */
    int64_t p = x + l * ln2;
    int64_t q = p + cg_fxp_encode(f, 1.353);
    int64_t e = cg_fxp_ref_mul(f, cg_fxp_encode(f, 0.3585), cg_fxp_ref_mul(f, q, q)) +
                cg_fxp_encode(f, 0.344);
    return e >> l;
}

/* GELU's sign tests as the protocol makes them, on x wrapped to l - s bits
 * (exact for |x| < 2^(l-s-2)): *pos = [x >= 0]; returns [|x| <= thr]. */
static bool gelu_tests(cg_fxp f, int64_t x, double thr, bool *pos)
{
    const cg_fxp narrow = {f.ring_bits - f.frac_bits, f.frac_bits};
    int64_t xr = cg_fxp_wrap(narrow, x), t = cg_fxp_encode(f, thr);
    *pos = xr >= 0;
    return xr >= -t && xr <= t;
}

int64_t cg_fxp_ref_gelu(cg_fxp f, int64_t x)
{
    bool pos;
    if (!gelu_tests(f, x, CG_FXP_GELU_T, &pos)) return pos ? x : 0;
    int64_t y = pos ? x : -x;
    int64_t a = cg_fxp_encode(f, CG_FXP_GELU_A);
    int64_t z = cg_fxp_ref_mul(f, a, cg_fxp_ref_mul(f, y, y)) -
                cg_fxp_ref_mul(f, cg_fxp_encode(f, CG_FXP_GELU_B), y) +
                cg_fxp_encode(f, CG_FXP_GELU_C);
    int64_t w = z + cg_fxp_ref_mul(f, a, y) - cg_fxp_encode(f, CG_FXP_GELU_D);
    int64_t poly = cg_fxp_ref_mul(f, w, z) + cg_fxp_encode(f, CG_FXP_GELU_E);
    return cg_fxp_wrap(f, cg_fxp_ref_trunc(x, 1) + poly);
}

int64_t cg_fxp_ref_gelu_accurate(cg_fxp f, int64_t x)
{
    static const double d[7] = CG_FXP_GELU_ACC_COEFFS;
    bool pos;
    if (!gelu_tests(f, x, CG_FXP_GELU_ACC_T, &pos)) return pos ? x : 0;
    int64_t y = pos ? x : -x;
    unsigned s = f.frac_bits, st = s + 5, sd = s + 2;
    const cg_fxp fd = {f.ring_bits, sd}, fa = {f.ring_bits, sd + st};
    int64_t t = shl(y, 3); /* |x| / 4 with st fraction bits */
    int64_t t2 = (t * t) >> st, t3 = (t * t2) >> st;
    int64_t a = cg_fxp_encode(fa, d[0]) + cg_fxp_encode(fd, d[1]) * t + cg_fxp_encode(fd, d[2]) * t2 +
                cg_fxp_encode(fd, d[3]) * t3;
    int64_t b = (cg_fxp_encode(fd, d[4]) * t + cg_fxp_encode(fd, d[5]) * t2 +
                 cg_fxp_encode(fd, d[6]) * t3) >> st;
    int64_t q = (a + t3 * b) >> (sd + st - s);
    return cg_fxp_wrap(f, cg_fxp_ref_trunc(x, 1) + q);
}

static cg_status check_positive(cg_fxp f, int64_t x, const char *what, cg_error *err)
{
    if (f.frac_bits < 4 || f.frac_bits > 28)
        return cg_error_set(err, CG_ERR_PARAM, "%s: frac_bits %u outside [4, 28]", what,
                            f.frac_bits);
    if (x <= 0) return cg_error_set(err, CG_ERR_RANGE, "%s of a non-positive value", what);
    return CG_OK;
}

/* x shifted so that the value is multiplied by 2^-k (k may be negative). */
static int64_t scale_pow2(int64_t x, int k)
{
    return k >= 0 ? x >> k : shl(x, (unsigned)-k);
}

cg_status cg_fxp_inv_init(cg_fxp f, bool sqrt_mode, cg_fxp_inv *t, cg_error *err)
{
    unsigned s = f.frac_bits;
    if (s < 4 || s > 28)
        return cg_error_set(err, CG_ERR_PARAM, "1/x table: frac_bits %u outside [4, 28]", s);
    unsigned ib = sqrt_mode ? 6 : 7;
    if (ib > s) ib = s;
    t->ib = ib;
    t->in_bits = ib + (sqrt_mode ? 2 : 1);
    /* 8 guard bits (fewer for tiny s, so that the shifts stay in range) */
    t->g = ib + 2 < 8 ? ib + 2 : 8;
    /* the chord's error is below 2^-15 relative: enough up to s = 15 */
    t->newton = s >= 16 ? 1 : 0;
    /* the last y is below 2^(cap - 1): 2s + 2 bits after a Newton step,
     * the table's a 2^(s - ib) (< 2^(2s + g - ib + 1)) with a chord below */
    t->cap = t->newton ? 2 * s + 3 : 2 * s + t->g - ib + 3;
    size_t N = (size_t)1 << t->in_bits, h = (size_t)1 << (ib - 1);
    for (size_t i = 0; i < N; i++) {
        /* below u = 1/2 (unreachable) the chord of [1/2, 1/2 + 2^-ib] */
        size_t j = i < h ? h : i;
        int64_t e[2];
        for (int q = 0; q < 2; q++) {
            double u = ldexp((double)(j + (size_t)q), -(int)ib);
            e[q] = llround(ldexp(sqrt_mode ? 1.0 / sqrt(u) : 1.0 / u, (int)(s + t->g)));
        }
        t->a[i] = e[0];
        t->d[i] = e[1] - e[0];
    }
    return CG_OK;
}

/* y / 2^sh rounded to nearest (ties up) for sh > 0, y 2^-sh for sh <= 0. */
static int64_t round_shift(int64_t y, int sh)
{
    if (sh <= 0) return shl(y, (unsigned)-sh);
    return (y + ((int64_t)1 << (sh - 1))) >> sh;
}

/* 1/x or 1/sqrt(x) with `extra` more fraction bits in the result than x
 * has (the final shift is extra less), so a large variance's small inverse
 * square root keeps its significant bits; the protocol's steps exactly. */
static cg_status inv_ext(cg_fxp f, int64_t x, bool sq, unsigned extra, int64_t *out,
                         cg_error *err)
{
    CG_TRY(check_positive(f, x, sq ? "inverse square root" : "reciprocal", err));
    cg_fxp_inv t;
    CG_TRY(cg_fxp_inv_init(f, sq, &t, err));
    int s = f.frac_bits, ib = (int)t.ib;
    int k = (63 - __builtin_clzll((uint64_t)x)) - s; /* X = U * 2^k, U in [1, 2) */
    if (sq && (k & 1)) k -= 1; /* even exponent: U in [1, 4) */
    int64_t u = scale_pow2(x, k);
    int64_t idx = scale_pow2(x, k + s - ib); /* = u >> (s - ib), as the protocol's copy */
    int64_t r = u - shl(idx, (unsigned)(s - ib));
    size_t ti = (size_t)idx & (((size_t)1 << t.in_bits) - 1);
    int64_t y = shl(t.a[ti], (unsigned)(s - ib)) + t.d[ti] * r;
    int sh = (int)t.g + s - ib;
    for (unsigned it = 0; it < t.newton; it++) {
        int64_t w = round_shift(y, sh);
        if (sq) {
            int64_t q = mul_shift(w, w, (unsigned)s);
            y = w * (cg_fxp_encode(f, 3.0) - mul_shift(u, q, (unsigned)s));
            sh = s + 1;
        } else {
            y = w * (cg_fxp_encode(f, 2.0) - mul_shift(u, w, (unsigned)s));
            sh = s;
        }
    }
    sh += sq ? k / 2 - (int)extra : k;
    if (sh > (int)t.cap) sh = (int)t.cap;
    *out = cg_fxp_wrap(f, round_shift(y, sh));
    return CG_OK;
}

cg_status cg_fxp_ref_recip(cg_fxp f, int64_t x, int64_t *out, cg_error *err)
{
    return inv_ext(f, x, false, 0, out, err);
}

static cg_status rsqrt_ext(cg_fxp f, int64_t x, unsigned extra, int64_t *out, cg_error *err)
{
    return inv_ext(f, x, true, extra, out, err);
}

cg_status cg_fxp_ref_rsqrt(cg_fxp f, int64_t x, int64_t *out, cg_error *err)
{
    return rsqrt_ext(f, x, 0, out, err);
}

cg_status cg_fxp_ref_softmax(cg_fxp f, const int64_t *x, size_t n, int64_t *out, cg_error *err)
{
    if (n == 0) return cg_error_set(err, CG_ERR_ARG, "softmax of an empty row");
    int64_t max = x[0];
    for (size_t i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = cg_fxp_ref_exp_neg(f, x[i] - max);
        sum += out[i];
    }
    int64_t r;
    CG_TRY(cg_fxp_ref_recip(f, sum, &r, err)); /* sum >= exp(0) ~ 1 */
    for (size_t i = 0; i < n; i++) out[i] = cg_fxp_ref_mul(f, out[i], r);
    return CG_OK;
}

/* The product v c wrapped to 64 bits, floored by 2^shift: the protocol's
 * public product and truncation in the 64-bit ring. */
static int64_t mul_shift64(int64_t v, uint64_t c, unsigned shift)
{
    return (int64_t)((uint64_t)v * c) >> shift;
}

/* c = round(2^(a+b) / n) with 2^a <= n < 2^(a+1); *a gets a. */
static uint64_t div_const(size_t n, unsigned b, unsigned *a)
{
    *a = (unsigned)(63 - __builtin_clzll((uint64_t)n));
    return (((uint64_t)1 << (*a + b)) + n / 2) / n;
}

cg_status cg_fxp_ref_layernorm(cg_fxp f, const int64_t *x, size_t n, int64_t *out,
                               cg_error *err)
{
    if (n == 0) return cg_error_set(err, CG_ERR_ARG, "layernorm of an empty row");
    const unsigned s = f.frac_bits;
    unsigned a;
    /* The row statistics in the 64-bit ring, as the protocol (which lifts
     * x into it first): the mean is one floor of the sum times c by a + b,
     * the variance two floors of the sum of the unshifted squares. */
    uint64_t cm = div_const(n, CG_LN_MEAN_BITS, &a), sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) sum += (uint64_t)x[i];
    int64_t mean = mul_shift64((int64_t)sum, cm, a + CG_LN_MEAN_BITS);
    for (size_t i = 0; i < n; i++) {
        uint64_t d = (uint64_t)x[i] - (uint64_t)mean;
        sq += d * d;
    }
    uint64_t cv = div_const(n, CG_LN_VAR_BITS, &a);
    const unsigned ve = CG_LN_VAR_EXTRA;
    int64_t var = mul_shift64((int64_t)sq >> (s - ve + a), cv, CG_LN_VAR_BITS);
    var = cg_fxp_wrap(f, var);
    const cg_fxp fv = {f.ring_bits, s + ve};
    int64_t eps = cg_fxp_encode(fv, 1e-5);
    if (eps < 1) eps = 1;
    int64_t rs;
    CG_TRY(rsqrt_ext(f, var + eps, CG_LN_RS_EXTRA + ve / 2, &rs, err));
    for (size_t i = 0; i < n; i++)
        out[i] = cg_fxp_wrap(f, mul_shift(x[i] - mean, rs, s + CG_LN_RS_EXTRA));
    return CG_OK;
}
