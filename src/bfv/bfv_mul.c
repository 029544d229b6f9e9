/* Ciphertext x ciphertext multiplication, HPS style: exact base extension of
 * each input from Q to Q u R (floating-point correction of the fast
 * conversion), tensoring in NTT form, scaling by t/Q directly into R
 * (integer parts precomputed mod R, fractional parts summed in long double),
 * and an exact conversion R -> Q. Chosen over BEHZ for simplicity and speed
 * (no Montgomery reduction or extra base); rounding slips of +-1 only add
 * noise. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

/* Nearest integer to a non-negative long double below 2^63. On x86-64 one
 * x87 fistp in the current rounding mode (nearest, ties to even) instead of
 * a libm llroundl call per coefficient; a tie rounded the other way is the
 * same +-1 slip the floating-point sums already allow. */
static inline uint64_t round_ld(long double x)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && LDBL_MANT_DIG == 64
    long long r;
    __asm__("fistpll %0" : "=m"(r) : "t"(x) : "st");
    return (uint64_t)r;
#else
    return (uint64_t)llroundl(x);
#endif
}

/* Exact (centred) conversion of n coefficients from base `from` to the
 * moduli `to` (k_to rows): sum y_i q_i* - v Q with v = round(sum y_i / q_i). */
static void exact_conv(const cg_rns_base *from, const cg_base_conv *conv,
                       const uint64_t *prod_mod_to, const cg_modulus *to, size_t kto,
                       const uint64_t *in, uint64_t *out, size_t n)
{
    const size_t ka = from->k;
    uint64_t y[CG_BFV_MAX_ALL], pq_sh[CG_BFV_MAX_ALL];
    /* Reciprocals once per call: a multiplication per term instead of an
     * x87 division (relative error 2^-63 against 2^-64). */
    long double inv[CG_BFV_MAX_ALL];
    for (size_t i = 0; i < ka; i++) inv[i] = 1.0L / (long double)from->mods[i].value;
    for (size_t j = 0; j < kto; j++) pq_sh[j] = cg_shoup(prod_mod_to[j], to[j].value);
    for (size_t x = 0; x < n; x++) {
        long double frac = 0;
        for (size_t i = 0; i < ka; i++) {
            y[i] = cg_mul_shoup(in[i * n + x], from->punct_inv[i], from->punct_inv_sh[i],
                                from->mods[i].value);
            frac += (long double)y[i] * inv[i];
        }
        const uint64_t v = round_ld(frac);
        for (size_t j = 0; j < kto; j++) {
            cg_u128 s = 0;
            const uint64_t *row = conv->qstar_mod_p + j * ka;
            for (size_t i = 0; i < ka; i++) s += (cg_u128)y[i] * row[i];
            uint64_t r = cg_mod_reduce128(s, &to[j]);
            uint64_t vq = cg_mul_shoup(v, prod_mod_to[j], pq_sh[j], to[j].value);
            out[j * n + x] = cg_mod_sub(r, vq, to[j].value);
        }
    }
}

cg_status cg_bfv_multiply(const cg_bfv_ctx *c, const cg_bfv_ct *a, const cg_bfv_ct *b,
                          cg_bfv_ct *out, cg_error *err)
{
    if (!a->data || !b->data || a->level != c->nq || b->level != c->nq || a->size != 2 ||
        b->size != 2)
        return cg_error_set(err, CG_ERR_STATE, "multiply needs two top-level size-2 ciphertexts");
    const size_t n = c->n, L = c->nq, R = c->nr, K = L + R, w = L * n;
    /* One workspace: the inputs over Q u R (4 polys a0, a1, b0, b1 of K
     * rows, NTT form), the tensor (3 polys), coefficient-form copies of the
     * inputs (so out may alias one), the scaled R rows. */
    bfv_ws ws;
    uint64_t *ext = bfv_ws_get(c, 7 * K * n + 4 * w + R * n, &ws);
    if (!ext) return cg_error_set(err, CG_ERR_NOMEM, "multiply");
    uint64_t *ten = ext + 4 * K * n, *scaled = ten + 3 * K * n + 4 * w;
    cg_bfv_ct ca = {.size = 2, .level = L, .ntt = a->ntt, .data = ten + 3 * K * n};
    cg_bfv_ct cb = {.size = 2, .level = L, .ntt = b->ntt, .data = ca.data + 2 * w};
    memcpy(ca.data, a->data, 2 * w * sizeof(uint64_t));
    memcpy(cb.data, b->data, 2 * w * sizeof(uint64_t));
    const double noise = log2((double)c->t) + log2((double)n) +
                         bfv_log2_add(a->noise_log2, b->noise_log2) + 1.0;
    cg_status st = cg_bfv_from_ntt(c, &ca, err);
    if (st == CG_OK) st = cg_bfv_from_ntt(c, &cb, err);
    if (st != CG_OK) goto done;
    for (int p = 0; p < 4; p++) {
        const uint64_t *src = (p < 2 ? ca.data : cb.data) + (p & 1) * w;
        uint64_t *dst = ext + p * K * n;
        memcpy(dst, src, w * sizeof(uint64_t));
        exact_conv(&c->level[L].base, &c->q_to_r, c->q_mod_r, c->rmods, R, src, dst + w, n);
        cg_poly_ntt(c->ntt, L, dst, c->nthreads);
        cg_poly_ntt(c->rntt, R, dst + w, c->nthreads);
    }
    {
        cg_modulus all[CG_BFV_MAX_Q + CG_BFV_MAX_R];
        for (size_t i = 0; i < L; i++) all[i] = c->mods[i];
        for (size_t j = 0; j < R; j++) all[L + j] = c->rmods[j];
        const uint64_t *a0 = ext, *a1 = ext + K * n, *b0 = ext + 2 * K * n, *b1 = ext + 3 * K * n;
        uint64_t *e0 = ten, *e1 = ten + K * n, *e2 = ten + 2 * K * n;
        cg_poly_mul(all, K, n, a0, b0, e0);
        cg_poly_mul(all, K, n, a0, b1, e1);
        cg_poly_mul_add(all, K, n, a1, b0, e1);
        cg_poly_mul(all, K, n, a1, b1, e2);
    }
    st = bfv_ct_reserve(c, out, 3, L, err);
    if (st != CG_OK) goto done;
    for (int p = 0; p < 3; p++) {
        uint64_t *e = ten + p * K * n;
        cg_poly_intt(c->ntt, L, e, c->nthreads);
        cg_poly_intt(c->rntt, R, e + w, c->nthreads);
        /* round(t x / Q) mod r_j from x's residues over Q u R */
        for (size_t x = 0; x < n; x++) {
            long double frac = 0;
            for (size_t i = 0; i < L; i++) frac += (long double)e[i * n + x] * c->mul_frac[i];
            uint64_t rf = round_ld(frac);
            for (size_t j = 0; j < R; j++) {
                cg_u128 s = (cg_u128)e[w + j * n + x] * c->mul_coef_r[j];
                for (size_t i = 0; i < L; i++) s += (cg_u128)e[i * n + x] * c->mul_coef_q[j][i];
                uint64_t v = cg_mod_reduce128(s, &c->rmods[j]);
                scaled[j * n + x] = cg_mod_add(v, cg_mod_reduce(rf, &c->rmods[j]), c->rmods[j].value);
            }
        }
        exact_conv(&c->rbase, &c->r_to_q, c->r_mod_q, c->mods, L, scaled, out->data + p * w, n);
    }
    /* v_mult ~ t n (v_a + v_b) / sqrt(18) * small constant (see NOISE notes in
     * docs/PERFORMANCE.md); plus the t/2 rounding and t ||m|| terms. */
    out->noise_log2 = noise;
done:
    bfv_ws_put(c, &ws, false);
    return st;
}
