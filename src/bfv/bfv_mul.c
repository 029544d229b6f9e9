/* Ciphertext x ciphertext multiplication, HPS style: exact base extension of
 * each input from Q to Q u R (floating-point correction of the fast
 * conversion), tensoring in NTT form, scaling by t/Q directly into R
 * (integer parts precomputed mod R, fractional parts summed in double),
 * and an exact conversion R -> Q. Chosen over BEHZ for simplicity and speed
 * (no Montgomery reduction or extra base); rounding slips of +-1 only add
 * noise. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

/* Row-wise passes over a temporary (each loop runs over the n coefficients,
 * so the compiler pipelines or vectorises it): tmp holds ka rows of y, a row
 * of v and a row of doubles. */
#define CONV_TMP_ROWS(k) ((k) + 2)

/* One target row of exact_conv: o = sum_i y_i row_i - v (Q mod q_j), with
 * v <= ka looked up in vq. `sq`: the sum is below 2^(2 bits(q_j)), so the
 * two-multiplication Barrett applies. */
static inline __attribute__((always_inline)) void
conv_row(const uint64_t *y, const uint64_t *v, const uint64_t *row, size_t ka,
         const cg_modulus *to, const uint64_t *vq, bool sq, uint64_t *o, size_t n)
{
    const uint64_t qj = to->value;
    for (size_t x = 0; x < n; x++) {
        cg_u128 s = 0;
        for (size_t i = 0; i < ka; i++) s += (cg_u128)y[i * n + x] * row[i];
        const uint64_t r = sq ? cg_mod_reduce_sq(s, to) : cg_mod_reduce128(s, to);
        o[x] = cg_mod_sub(r, vq[v[x]], qj);
    }
}

/* Exact (centred) conversion of n coefficients from base `from` to the
 * moduli `to` (k_to rows): sum y_i q_i* - v Q with v = round(sum y_i / q_i).
 * v in double: each y_i / q_i is within 2^-52 of its value, so v can only
 * differ from the exact rounding where sum y_i / q_i is within ~2^-50 of a
 * half, i.e. x within Q 2^-50 of +-Q/2, where both lifts are as short. */
static void exact_conv(const cg_rns_base *from, const cg_base_conv *conv,
                       const uint64_t *prod_mod_to, const cg_modulus *to, size_t kto,
                       const uint64_t *in, uint64_t *out, size_t n, uint64_t *tmp)
{
    const size_t ka = from->k;
    uint64_t *y = tmp, *v = tmp + ka * n;
    double *f = (double *)(v + n);
    for (size_t x = 0; x < n; x++) f[x] = 0.5; /* rounding by truncation below */
    for (size_t i = 0; i < ka; i++) {
        const uint64_t w = from->punct_inv[i], wp = from->punct_inv_sh[i], q = from->mods[i].value;
        const double inv = 1.0 / (double)q;
        const uint64_t *src = in + i * n;
        uint64_t *yi = y + i * n;
        for (size_t x = 0; x < n; x++) {
            yi[x] = cg_mul_shoup(src[x], w, wp, q);
            f[x] += (double)(int64_t)yi[x] * inv;
        }
    }
    unsigned ybits = 0;
    for (size_t i = 0; i < ka; i++)
        if (from->mods[i].bits > ybits) ybits = from->mods[i].bits;
    unsigned kbits = 0;
    while (((size_t)1 << kbits) < ka) kbits++;
    for (size_t x = 0; x < n; x++) v[x] = (uint64_t)f[x];
    for (size_t j = 0; j < kto; j++) {
        const uint64_t *row = conv->qstar_mod_p + j * ka;
        uint64_t *o = out + j * n;
        /* v <= ka: its multiples of Q mod q_j from a table */
        uint64_t vq[CG_BFV_MAX_ALL + 2];
        vq[0] = 0;
        for (size_t k = 1; k <= ka; k++) vq[k] = cg_mod_add(vq[k - 1], prod_mod_to[j], to[j].value);
        const bool sq = ybits + to[j].bits + kbits <= 2 * to[j].bits;
        /* the common base sizes with a constant count, so the sum unrolls */
        if (ka == 4 && sq)
            conv_row(y, v, row, 4, &to[j], vq, true, o, n);
        else if (ka == 4)
            conv_row(y, v, row, 4, &to[j], vq, false, o, n);
        else if (ka == 5 && sq)
            conv_row(y, v, row, 5, &to[j], vq, true, o, n);
        else if (ka == 5)
            conv_row(y, v, row, 5, &to[j], vq, false, o, n);
        else
            conv_row(y, v, row, ka, &to[j], vq, sq, o, n);
    }
}

/* One R row of scale_to_r: the R residue's term by Shoup (below r_j), so
 * the sum of the L products stays below 2^(2 bits(r_j)) when `sq`. */
static inline __attribute__((always_inline)) void
scale_row(const uint64_t *e, const uint64_t *rf, const uint64_t *coef, size_t L, uint64_t cr,
          const uint64_t *er, const cg_modulus *rj, bool sq, uint64_t *o, size_t n)
{
    const uint64_t r = rj->value, cr_sh = cg_shoup(cr, r);
    for (size_t x = 0; x < n; x++) {
        cg_u128 s = cg_mul_shoup(er[x], cr, cr_sh, r);
        for (size_t i = 0; i < L; i++) s += (cg_u128)e[i * n + x] * coef[i];
        /* rf < L 2^bits(q) is below r_j unless Q's primes are as wide as R's */
        const uint64_t f = rf[x] < r ? rf[x] : cg_mod_reduce(rf[x], rj);
        o[x] = cg_mod_add(sq ? cg_mod_reduce_sq(s, rj) : cg_mod_reduce128(s, rj), f, r);
    }
}

/* round(t x / Q) mod r_j for the n coefficients x given by their residues e
 * over Q u R: the integer parts of x_i t R c_i / q_i exactly (mul_coef_q),
 * the fractional parts summed in double. That sum is below L * 2^bits(q);
 * its rounding error (under 2^-4 for 44-bit primes, a few units for 61-bit
 * ones) only adds as many units to the product's noise, which is above
 * t n >= 2^30. */
static void scale_to_r(const cg_bfv_ctx *c, const uint64_t *e, uint64_t *scaled, uint64_t *tmp)
{
    const size_t n = c->n, L = c->nq, R = c->nr, w = L * n;
    uint64_t *rf = tmp;
    double *f = (double *)(tmp + n);
    for (size_t x = 0; x < n; x++) f[x] = 0.5;
    for (size_t i = 0; i < L; i++) {
        const double m = (double)c->mul_frac[i];
        const uint64_t *ei = e + i * n;
        for (size_t x = 0; x < n; x++) f[x] += (double)(int64_t)ei[x] * m;
    }
    for (size_t x = 0; x < n; x++) rf[x] = (uint64_t)f[x];
    unsigned qbits = 0;
    for (size_t i = 0; i < L; i++)
        if (c->mods[i].bits > qbits) qbits = c->mods[i].bits;
    unsigned lbits = 1; /* L products and one reduced term */
    while (((size_t)1 << lbits) < L + 1) lbits++;
    for (size_t j = 0; j < R; j++) {
        const cg_modulus *rj = &c->rmods[j];
        const bool sq = qbits + rj->bits + lbits <= 2 * rj->bits;
        if (L == 4 && sq)
            scale_row(e, rf, c->mul_coef_q[j], 4, c->mul_coef_r[j], e + w + j * n, rj, true,
                      scaled + j * n, n);
        else
            scale_row(e, rf, c->mul_coef_q[j], L, c->mul_coef_r[j], e + w + j * n, rj, sq,
                      scaled + j * n, n);
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
    const size_t tmp_rows = CONV_TMP_ROWS(L > R ? L : R);
    uint64_t *ext = bfv_ws_get(c, 7 * K * n + 4 * w + (R + tmp_rows) * n, &ws);
    if (!ext) return cg_error_set(err, CG_ERR_NOMEM, "multiply");
    uint64_t *ten = ext + 4 * K * n, *scaled = ten + 3 * K * n + 4 * w, *tmp = scaled + R * n;
    /* NTT-form inputs are transformed in copies; coefficient-form ones are
     * read in place (out, which may alias them, is written after the last read) */
    cg_bfv_ct ca = *a, cb = *b;
    if (a->ntt) {
        ca.data = ten + 3 * K * n;
        memcpy(ca.data, a->data, 2 * w * sizeof(uint64_t));
    }
    if (b->ntt) {
        cb.data = ten + 3 * K * n + 2 * w;
        memcpy(cb.data, b->data, 2 * w * sizeof(uint64_t));
    }
    const double noise = log2((double)c->t) + log2((double)n) +
                         bfv_log2_add(a->noise_log2, b->noise_log2) + 1.0;
    cg_status st = a->ntt ? cg_bfv_from_ntt(c, &ca, err) : CG_OK;
    if (st == CG_OK && b->ntt) st = cg_bfv_from_ntt(c, &cb, err);
    if (st != CG_OK) goto done;
    for (int p = 0; p < 4; p++) {
        const cg_bfv_ct *in = p < 2 ? a : b;
        const uint64_t *src = (p < 2 ? ca.data : cb.data) + (p & 1) * w;
        uint64_t *dst = ext + p * K * n;
        /* Q rows in NTT form: an NTT-form input's own rows, no round trip */
        memcpy(dst, in->ntt ? in->data + (p & 1) * w : src, w * sizeof(uint64_t));
        exact_conv(&c->level[L].base, &c->q_to_r, c->q_mod_r, c->rmods, R, src, dst + w, n, tmp);
        if (!in->ntt) cg_poly_ntt(c->ntt, L, dst, c->nthreads);
        cg_poly_ntt(c->rntt, R, dst + w, c->nthreads);
    }
    {
        cg_modulus all[CG_BFV_MAX_Q + CG_BFV_MAX_R];
        for (size_t i = 0; i < L; i++) all[i] = c->mods[i];
        for (size_t j = 0; j < R; j++) all[L + j] = c->rmods[j];
        uint64_t *a0 = ext, *a1 = ext + K * n, *b0 = ext + 2 * K * n, *b1 = ext + 3 * K * n;
        uint64_t *e0 = ten, *e1 = ten + K * n, *e2 = ten + 2 * K * n;
        /* Karatsuba: e1 = (a0 + a1)(b0 + b1) - e0 - e2, three products */
        bfv_poly_mul(c, all, K, a0, b0, e0);
        bfv_poly_mul(c, all, K, a1, b1, e2);
        bfv_rows_add(c, all, K, a0, a1, a0);
        bfv_rows_add(c, all, K, b0, b1, b0);
        bfv_poly_mul(c, all, K, a0, b0, e1);
        bfv_rows_sub(c, all, K, e1, e0, e1);
        bfv_rows_sub(c, all, K, e1, e2, e1);
    }
    st = bfv_ct_reserve(c, out, 3, L, err);
    if (st != CG_OK) goto done;
    for (int p = 0; p < 3; p++) {
        uint64_t *e = ten + p * K * n;
        cg_poly_intt(c->ntt, L, e, c->nthreads);
        cg_poly_intt(c->rntt, R, e + w, c->nthreads);
        scale_to_r(c, e, scaled, tmp);
        exact_conv(&c->rbase, &c->r_to_q, c->r_mod_q, c->mods, L, scaled, out->data + p * w, n, tmp);
    }
    /* v_mult ~ t n (v_a + v_b) / sqrt(18) * small constant (see NOISE notes in
     * docs/PERFORMANCE.md); plus the t/2 rounding and t ||m|| terms. */
    out->noise_log2 = noise;
done:
    bfv_ws_put(c, &ws, false);
    return st;
}
