/* Batch (SIMD slot) and coefficient encoders. */
#include <string.h>

#include "bfv/bfv_internal.h"

static uint64_t reduce_signed(const cg_bfv_ctx *c, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    uint64_t r = cg_mod_reduce(mag, &c->tmod);
    return v < 0 ? cg_mod_neg(r, c->t) : r;
}

static int64_t centred(const cg_bfv_ctx *c, uint64_t v)
{
    return v > c->t / 2 ? (int64_t)v - (int64_t)c->t : (int64_t)v;
}

static cg_status prep(const cg_bfv_ctx *c, size_t count, cg_bfv_plain *pt, cg_error *err)
{
    if (count > c->n) return cg_error_set(err, CG_ERR_ARG, "%zu values for %zu slots", count, c->n);
    if (!pt->coeffs) CG_TRY(cg_bfv_plain_alloc(c, pt, err));
    if (pt->n != c->n) return cg_error_set(err, CG_ERR_ARG, "plaintext of the wrong degree");
    return CG_OK;
}

cg_status cg_bfv_encode_batch(const cg_bfv_ctx *c, const int64_t *vals, size_t count,
                              cg_bfv_plain *pt, cg_error *err)
{
    if (!c->batching)
        return cg_error_set(err, CG_ERR_PARAM, "plaintext modulus %llu does not allow batching",
                            (unsigned long long)c->t);
    CG_TRY(prep(c, count, pt, err));
    for (size_t i = 0; i < c->n; i++) pt->coeffs[i] = 0;
    for (size_t i = 0; i < count; i++) pt->coeffs[c->slot_map[i]] = reduce_signed(c, vals[i]);
    cg_ntt_inverse(&c->t_ntt, pt->coeffs);
    return CG_OK;
}

cg_status cg_bfv_decode_batch(const cg_bfv_ctx *c, const cg_bfv_plain *pt, int64_t *vals,
                              cg_error *err)
{
    if (!c->batching)
        return cg_error_set(err, CG_ERR_PARAM, "plaintext modulus does not allow batching");
    if (!pt->coeffs || pt->n != c->n) return cg_error_set(err, CG_ERR_ARG, "bad plaintext");
    bfv_ws ws;
    uint64_t *tmp = bfv_ws_get(c, c->n, &ws);
    if (!tmp) return cg_error_set(err, CG_ERR_NOMEM, "decode");
    for (size_t i = 0; i < c->n; i++) tmp[i] = pt->coeffs[i] % c->t;
    cg_ntt_forward(&c->t_ntt, tmp);
    for (size_t i = 0; i < c->n; i++) vals[i] = centred(c, tmp[c->slot_map[i]]);
    bfv_ws_put(c, &ws, true); /* the decoded plaintext */
    return CG_OK;
}

cg_status cg_bfv_encode_coeff(const cg_bfv_ctx *c, const int64_t *vals, size_t count,
                              cg_bfv_plain *pt, cg_error *err)
{
    CG_TRY(prep(c, count, pt, err));
    for (size_t i = 0; i < c->n; i++) pt->coeffs[i] = i < count ? reduce_signed(c, vals[i]) : 0;
    return CG_OK;
}

cg_status cg_bfv_decode_coeff(const cg_bfv_ctx *c, const cg_bfv_plain *pt, int64_t *vals,
                              cg_error *err)
{
    if (!pt->coeffs || pt->n != c->n) return cg_error_set(err, CG_ERR_ARG, "bad plaintext");
    for (size_t i = 0; i < c->n; i++) vals[i] = centred(c, pt->coeffs[i] % c->t);
    return CG_OK;
}

cg_status cg_bfv_encode_coeff_ntt(const cg_bfv_ctx *c, const int64_t *vals, size_t count,
                                  size_t level, cg_bfv_plain_ntt *out, cg_error *err)
{
    if (count > c->n) return cg_error_set(err, CG_ERR_ARG, "%zu values for %zu slots", count, c->n);
    if (level < 1 || level > c->nq) return cg_error_set(err, CG_ERR_ARG, "level %zu", level);
    const size_t n = c->n, need = level * n;
    uint64_t *d = out->data && out->cap >= need ? out->data : cg_alloc(need * sizeof(uint64_t));
    if (!d) return cg_error_set(err, CG_ERR_NOMEM, "plaintext");
    const uint64_t t = c->t, half = t / 2;
    const bool pow2 = (t & (t - 1)) == 0; /* reduction by a mask, no division */
    uint64_t maxabs = 0;
    /* row 0 holds the values mod t (centred: r > t/2 stands for r - t) */
    for (size_t j = 0; j < count; j++) {
        const uint64_t r = pow2 ? (uint64_t)vals[j] & (t - 1) : reduce_signed(c, vals[j]);
        const uint64_t a = r > half ? t - r : r;
        if (a > maxabs) maxabs = a;
        d[j] = r;
    }
    for (size_t i = level; i-- > 0;) {
        const uint64_t q = c->mods[i].value;
        uint64_t *row = d + i * n;
        for (size_t j = 0; j < count; j++) row[j] = d[j] > half ? q - (t - d[j]) : d[j];
        memset(row + count, 0, (n - count) * sizeof *row);
    }
    bfv_plain_ntt_finish(c, out, d, need, level, maxabs);
    return CG_OK;
}
