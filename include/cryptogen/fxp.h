/* cryptogen fxp layer: the fixed-point format and the plaintext fixed-point
 * references that both the two-party protocols (mpc) and the model's
 * emulator follow. It knows no protocol, so the model can use the
 * references without linking one. */
#ifndef CRYPTOGEN_FXP_H
#define CRYPTOGEN_FXP_H

#include "cryptogen/common.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

/* Fixed-point format: a real r is the integer round(r * 2^frac) in a ring of
 * ring_bits bits (see docs/NUMERICS.md for the per-operation choices). */
typedef struct cg_fxp {
    uint8_t ring_bits;
    uint8_t frac_bits;
} cg_fxp;

/* ---- Plaintext fixed-point references (fxp_ref.c) --------------------------
 * Integer-only models of what the two-party protocols compute, on the signed
 * integer a ring element encodes (value = v / 2^frac_bits). Each follows the
 * same steps as its protocol, so a protocol's output can be checked against
 * them exactly or within a documented ulp bound; docs/NUMERICS.md lists their
 * errors against real arithmetic. Results are wrapped to ring_bits like the
 * ring would. */
int64_t cg_fxp_encode(cg_fxp f, double r);   /* round(r * 2^frac), wrapped */
double cg_fxp_decode(cg_fxp f, int64_t v);   /* v / 2^frac */
int64_t cg_fxp_wrap(cg_fxp f, int64_t v);    /* v mod 2^ring_bits, centred */
/* floor(x / 2^shift) (arithmetic shift), shift <= 63. */
int64_t cg_fxp_ref_trunc(int64_t x, unsigned shift);
/* floor(a * b / 2^frac), wrapped. */
int64_t cg_fxp_ref_mul(cg_fxp f, int64_t a, int64_t b);
/* exp(x) for x <= 0 (BOLT): l = floor(x / -ln2), p = x + l*ln2,
 * exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344, then >> l; 0 once l > frac_bits.
 * x > 0 is clipped to 0. */
int64_t cg_fxp_ref_exp_neg(cg_fxp f, int64_t x);
/* GELU (BOLT): 0.5x + P(|x|) for |x| <= 2.7, ReLU outside; the sign tests
 * on x wrapped to ring_bits - frac_bits bits, as the protocol makes them
 * (the same as on x for |x| < 2^(ring_bits - frac_bits - 2)). */
int64_t cg_fxp_ref_gelu(cg_fxp f, int64_t x);
/* BOLT's quartic in factored form: with y = |x|, z = A y^2 - B y + C,
 * w = z + A y - D, P = w z + E (coefficients from BOLT; the protocol uses
 * the same constants). */
#define CG_FXP_GELU_A 0.14439048359960427
#define CG_FXP_GELU_B 0.7077117131613893
#define CG_FXP_GELU_C 4.5702822654246535
#define CG_FXP_GELU_D 8.15444702051307
#define CG_FXP_GELU_E 16.382265425072532
#define CG_FXP_GELU_T 2.7
/* The more accurate GELU option: 0.5x + Q(|x|/4) with Q of degree 6 for
 * |x| <= 3.5, ReLU outside (max error about 1e-3 at l = 37, s = 12, against
 * BOLT's 9.4e-3; docs/NUMERICS.md). Needs 2 * frac_bits + 13 <= ring_bits. */
int64_t cg_fxp_ref_gelu_accurate(cg_fxp f, int64_t x);
/* Its constants, which the protocol (cg_mpc_gelu_accurate) uses too:
 * GELU(x) = x/2 + Q(|x|/4) for |x| <= CG_FXP_GELU_ACC_T; Q's coefficients
 * d0..d6 (an initialiser for double[7]) from scripts/fit_gelu_accurate.py
 * (least squares on Chebyshev nodes; fit error 6.95e-4, tail at 3.5:
 * 8.1e-4). t = |x|/4 is held with s + 5 fraction bits, the coefficients
 * with s + 2. */
#define CG_FXP_GELU_ACC_T 3.5
#define CG_FXP_GELU_ACC_COEFFS                                                                \
    {0.00054546107539303352, -0.055566332396901182, 7.240218927535822,                     \
     -4.1100878928957902,    -13.233607694795722,   20.729993378056555,                    \
     -8.6197863875104659}
/* 1/x and 1/sqrt(x) for x > 0 (CG_ERR_RANGE otherwise): normalise by the most
 * significant bit (u = x 2^-k in [1, 2), or [1, 4) with k even for the
 * square root), then a piecewise-linear table over u's leading fraction
 * bits (cg_fxp_inv), a Newton step only for frac_bits >= 16, and one
 * rounding shift that also undoes the normalisation. See docs/NUMERICS.md. */
cg_status cg_fxp_ref_recip(cg_fxp f, int64_t x, int64_t *out, cg_error *err);
cg_status cg_fxp_ref_rsqrt(cg_fxp f, int64_t x, int64_t *out, cg_error *err);
/* The table and constants of 1/x (sqrt_mode false) or 1/sqrt(x), shared by
 * the references and the protocols (cg_mpc_recip, cg_mpc_rsqrt). u (s =
 * frac_bits fraction bits) falls in bin idx = u >> (s - ib) (ib fraction
 * bits of the bin; ib = min(7, s), or min(6, s) for the square root); the
 * table is indexed by idx mod 2^in_bits (in_bits = ib + 1, or ib + 2),
 * entry i being the chord of f over [i, i + 1] 2^-ib: f(u) ~ (a[i]
 * 2^(s - ib) + d[i] r) / 2^(g + s - ib) with r = u - idx 2^(s - ib), a[i]
 * = round(f(i 2^-ib) 2^(s+g)) and d[i] = a[i+1] - a[i] (the bins below
 * u = 1/2 repeat that one's; only a truncation's 1-ulp error reaches the
 * bin below 1). newton: Newton steps after the table (1 when frac_bits >=
 * 16, else 0). The final shift (rounding to nearest) of the last value y
 * is clamped to cap, beyond which it gives 0 for every y the steps make. */
#define CG_FXP_INV_MAX_ENTRIES 256
typedef struct cg_fxp_inv {
    unsigned ib, in_bits, g, newton, cap;
    int64_t a[CG_FXP_INV_MAX_ENTRIES], d[CG_FXP_INV_MAX_ENTRIES];
} cg_fxp_inv;
/* CG_ERR_PARAM unless frac_bits is in [4, 28]. */
cg_status cg_fxp_inv_init(cg_fxp f, bool sqrt_mode, cg_fxp_inv *t, cg_error *err);
/* softmax over a row of n >= 1: exp_neg(x - max), sum, recip, products. */
cg_status cg_fxp_ref_softmax(cg_fxp f, const int64_t *x, size_t n, int64_t *out, cg_error *err);
/* LayerNorm without gamma/beta over a row of n >= 1:
 * (x - mean) * rsqrt(var + eps), eps = 2^-frac (one ulp) at least 1e-5. The
 * row statistics are computed in the 64-bit ring (the protocol lifts x's
 * shares into it once): with 2^a <= n < 2^(a+1) and c_b = round(2^(a+b) /
 * n), mean = floor(sum(x) c_m / 2^(a+m)), m = CG_LN_MEAN_BITS, and
 * var = floor(floor(sum((x - mean)^2) / 2^(frac+a)) c_v / 2^v),
 * v = CG_LN_VAR_BITS (the squares unshifted, at 2 frac fraction bits, so
 * that GPT-2's massive activations (|x - mean| ~ 3,000) keep them), with
 * CG_LN_VAR_EXTRA (even) more fraction bits than x: eps is one of its ulps
 * (2^-14 at frac 12, at least 1e-5), not 2^-frac, and the inverse square
 * root of var * 2^e at frac bits is 2^(e/2) / sqrt(var), which e/2 more
 * extra bits take back. The variance comes back to ring_bits by a local
 * reduction. The inverse
 * square root carries CG_LN_RS_EXTRA more fraction bits (the small 1/std
 * of an outlier row keeps its significant bits); the final product is
 * truncated by frac + CG_LN_RS_EXTRA. Ranges: cg_mpc_layernorm (mpc.h),
 * docs/NUMERICS.md. */
#define CG_LN_MEAN_BITS 16
#define CG_LN_VAR_BITS 10
#define CG_LN_VAR_EXTRA 2
#define CG_LN_RS_EXTRA 5
cg_status cg_fxp_ref_layernorm(cg_fxp f, const int64_t *x, size_t n, int64_t *out,
                               cg_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
