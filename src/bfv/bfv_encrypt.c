/* Encryption (public and secret key), decryption, measured noise, objects. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

cg_status cg_bfv_plain_alloc(const cg_bfv_ctx *c, cg_bfv_plain *pt, cg_error *err)
{
    pt->n = c->n;
    pt->coeffs = cg_calloc(c->n, sizeof(uint64_t));
    return pt->coeffs ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "plaintext");
}

void cg_bfv_plain_free(cg_bfv_plain *pt)
{
    cg_free(pt->coeffs);
    pt->coeffs = NULL;
}

void cg_bfv_plain_ntt_free(cg_bfv_plain_ntt *p)
{
    cg_free(p->data);
    p->data = NULL;
    p->cap = 0;
}

cg_status cg_bfv_ct_alloc(const cg_bfv_ctx *c, cg_bfv_ct *ct, size_t size, size_t level,
                          cg_error *err)
{
    *ct = (cg_bfv_ct){0};
    if (size < 2 || size > 3 || level < 1 || level > c->nq)
        return cg_error_set(err, CG_ERR_ARG, "ciphertext of size %zu at level %zu", size, level);
    ct->size = size;
    ct->level = level;
    ct->data = cg_calloc(size * level * c->n, sizeof(uint64_t));
    ct->cap = ct->data ? size * level * c->n : 0;
    return ct->data ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "ciphertext");
}

void cg_bfv_ct_free(cg_bfv_ct *ct)
{
    cg_free(ct->data);
    *ct = (cg_bfv_ct){0};
}

cg_status cg_bfv_ct_copy(const cg_bfv_ctx *c, cg_bfv_ct *dst, const cg_bfv_ct *src, cg_error *err)
{
    if (dst == src) return CG_OK;
    if (!src->data) return cg_error_set(err, CG_ERR_ARG, "copy of an empty ciphertext");
    CG_TRY(bfv_ct_reserve(c, dst, src->size, src->level, err));
    memcpy(dst->data, src->data, src->size * src->level * c->n * sizeof(uint64_t));
    dst->ntt = src->ntt;
    dst->noise_log2 = src->noise_log2;
    dst->seeded = src->seeded;
    memcpy(dst->seed, src->seed, CG_SEED_BYTES);
    return CG_OK;
}

void bfv_lift_plain(const cg_bfv_ctx *c, const uint64_t *m, size_t level, uint64_t *out)
{
    const size_t n = c->n;
    const uint64_t t = c->t, half = t / 2;
    for (size_t i = 0; i < level; i++) {
        const uint64_t q = c->mods[i].value;
        for (size_t j = 0; j < n; j++) {
            uint64_t v = m[j];
            /* centred: v > t/2 stands for v - t */
            out[i * n + j] = v > half ? q - (t - v) : v;
        }
    }
}

/* rows += round(Q m / T) at the level, per prime delta[i] = floor(Q/T) mod
 * q_i and rem = Q mod T: round(Q m / T) = floor(Q/T) m + round(rem m / T).
 * m < t <= T < q_i is already reduced; the rounding term's division runs in
 * 64 bits when rem * m + T/2 fits them. */
static void add_scaled(const cg_bfv_ctx *c, const uint64_t *m, size_t level, uint64_t *rows,
                       const uint64_t *delta, uint64_t rem, uint64_t T, bool subtract)
{
    const size_t n = c->n;
    uint64_t dsh[CG_BFV_MAX_Q];
    for (size_t i = 0; i < level; i++) dsh[i] = cg_shoup(delta[i], c->mods[i].value);
    const bool narrow = T <= (1ull << 31);
    for (size_t j = 0; j < n; j++) {
        const uint64_t mj = m[j];
        const uint64_t extra = narrow && mj <= 0xffffffffu ? (rem * mj + T / 2) / T
                                      : (uint64_t)(((cg_u128)rem * mj + T / 2) / T);
        for (size_t i = 0; i < level; i++) {
            const uint64_t q = c->mods[i].value;
            uint64_t v = cg_mul_shoup(mj, delta[i], dsh[i], q);
            v = cg_mod_add(v, extra, q); /* extra <= m < q */
            uint64_t *r = &rows[i * n + j];
            *r = subtract ? cg_mod_sub(*r, v, q) : cg_mod_add(*r, v, q);
        }
    }
}

void bfv_add_scaled_plain(const cg_bfv_ctx *c, const uint64_t *m, size_t level, uint64_t *rows,
                          bool subtract)
{
    const bfv_level *L = &c->level[level];
    add_scaled(c, m, level, rows, L->delta, L->q_mod_t, c->t, subtract);
}

void bfv_add_scaled_plain_e(const cg_bfv_ctx *c, const uint64_t *m, size_t level, uint64_t *rows,
                            unsigned e)
{
    const uint64_t T = c->t << e;
    /* floor(Q/T) and Q mod T by long division of Q's words */
    uint64_t q[CG_BFV_MAX_Q + 1] = {0};
    memcpy(q, c->level[level].base.prod, level * sizeof(uint64_t));
    cg_u128 r = 0;
    for (size_t i = level; i-- > 0;) {
        const cg_u128 cur = (r << 64) | q[i];
        q[i] = (uint64_t)(cur / T);
        r = cur % T;
    }
    uint64_t d[CG_BFV_MAX_Q];
    for (size_t i = 0; i < level; i++) {
        uint64_t v = 0;
        for (size_t k = level; k-- > 0;) v = cg_mod_reduce128(((cg_u128)v << 64) | q[k], &c->mods[i]);
        d[i] = v;
    }
    add_scaled(c, m, level, rows, d, (uint64_t)r, T, false);
}

double bfv_fresh_noise_log2(const cg_bfv_ctx *c, bool public_key)
{
    /* ||e|| for e*u + e0 + e1*s (pk) or e (sk), 8-sigma high-probability bound
     * (CBD is also hard-bounded by 21); tracked as t * (||e|| + 1/2). */
    const double s2 = c->sigma * c->sigma, n = (double)c->n;
    double e = public_key ? 8.0 * sqrt(s2 * (1.0 + 2.0 * n * 2.0 / 3.0)) : 21.0;
    return log2((double)c->t * (e + 0.5));
}

double cg_bfv_fresh_noise_estimate(const cg_bfv_ctx *c, bool public_key)
{
    return bfv_fresh_noise_log2(c, public_key);
}

static cg_status check_plain(const cg_bfv_ctx *c, const cg_bfv_plain *pt, cg_error *err)
{
    if (!pt || !pt->coeffs || pt->n != c->n)
        return cg_error_set(err, CG_ERR_ARG, "plaintext does not match the parameters");
    for (size_t j = 0; j < c->n; j++)
        if (pt->coeffs[j] >= c->t)
            return cg_error_set(err, CG_ERR_RANGE, "plaintext coefficient %zu not below t", j);
    return CG_OK;
}

/* c0 += e, e a fresh centred-binomial sample, straight into the rows: no
 * RNS copy of e. */
static void add_cbd(const cg_bfv_ctx *c, cg_prg *prg, size_t L, int8_t *small, uint64_t *rows)
{
    const size_t n = c->n;
    cg_sample_cbd(prg, n, small);
    for (size_t i = 0; i < L; i++) {
        const uint64_t q = c->mods[i].value;
        uint64_t *r = rows + i * n;
        for (size_t j = 0; j < n; j++) {
            const int64_t v = small[j];
            uint64_t x = r[j] + (v < 0 ? q - (uint64_t)(-v) : (uint64_t)v);
            r[j] = x >= q ? x - q : x;
        }
    }
}

/* Enc_pk(0) into rows (2 x top level): with onto_ntt the rows are an NTT-form
 * ciphertext that the products with u are added to before the one inverse
 * transform they need anyway (two fewer per row than encrypting zero apart),
 * otherwise the products are the rows. The errors go in after the inverse
 * transform. Temporaries from the context's pool, wiped after use. */
static cg_status encrypt_zero_pk_rows(const cg_bfv_ctx *c, const cg_bfv_pk *pk, uint64_t *rows,
                                      bool onto_ntt, cg_error *err)
{
    const size_t n = c->n, L = c->nq;
    bfv_ws ws;
    uint64_t *u = bfv_ws_get(c, 2 * L * n + n / 8 + 1, &ws);
    if (!u) return cg_error_set(err, CG_ERR_NOMEM, "encryption");
    uint64_t *tmp = u + L * n;
    int8_t *small = (int8_t *)(u + 2 * L * n);
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_sample_ternary(&prg, n, small);
    cg_small_to_rns(c->mods, L, n, small, u);
    cg_poly_ntt(c->ntt, L, u, c->nthreads);
    const uint64_t *key[2] = {pk->data, pk->data + L * n};
    for (int k = 0; k < 2; k++) {
        uint64_t *row = rows + k * L * n;
        if (onto_ntt) {
            bfv_poly_mul(c, c->mods, L, key[k], u, tmp);
            bfv_poly_add(c, L, row, tmp, row);
        } else {
            bfv_poly_mul(c, c->mods, L, key[k], u, row);
        }
        cg_poly_intt(c->ntt, L, row, c->nthreads);
    }
    add_cbd(c, &prg, L, small, rows);
    add_cbd(c, &prg, L, small, rows + L * n);
    cg_prg_clear(&prg);
    bfv_ws_put(c, &ws, true);
    return CG_OK;
}

/* rows (2 x top level, coefficient form) = Enc_pk(0); the plaintext is
 * added by the caller. */
cg_status bfv_encrypt_zero_pk(const cg_bfv_ctx *c, const cg_bfv_pk *pk, uint64_t *rows,
                              cg_error *err)
{
    return encrypt_zero_pk_rows(c, pk, rows, false, err);
}

/* rows (2 x top level, NTT form) become, in coefficient form, themselves
 * plus Enc_pk(0): the same values as from_ntt then bfv_encrypt_zero_pk and
 * an addition. */
cg_status bfv_add_encrypt_zero_pk_ntt(const cg_bfv_ctx *c, const cg_bfv_pk *pk, uint64_t *rows,
                                      cg_error *err)
{
    return encrypt_zero_pk_rows(c, pk, rows, true, err);
}

cg_status cg_bfv_encrypt_pk(const cg_bfv_ctx *c, const cg_bfv_pk *pk, const cg_bfv_plain *pt,
                            cg_bfv_ct *ct, cg_error *err)
{
    CG_TRY(check_plain(c, pt, err));
    CG_TRY(bfv_ct_reserve(c, ct, 2, c->nq, err));
    CG_TRY(bfv_encrypt_zero_pk(c, pk, ct->data, err));
    bfv_add_scaled_plain(c, pt->coeffs, c->nq, ct->data, false);
    ct->noise_log2 = bfv_fresh_noise_log2(c, true);
    return CG_OK;
}

/* scale_bits e: Delta = round(Q / (t 2^e)) (cg_bfv_encrypt_sk_packed). */
static cg_status encrypt_sk(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const cg_bfv_plain *pt,
                            unsigned scale_bits, cg_bfv_ct *ct, cg_error *err)
{
    CG_TRY(check_plain(c, pt, err));
    const size_t n = c->n, L = c->nq;
    CG_TRY(bfv_ct_reserve(c, ct, 2, L, err));
    bfv_ws ws;
    int8_t *small = (int8_t *)bfv_ws_get(c, n / 8 + 1, &ws);
    if (!small) return cg_error_set(err, CG_ERR_NOMEM, "encryption");
    uint64_t *c0 = ct->data, *c1 = ct->data + L * n;
    /* a = uniform(seed) in NTT form; c0 = -a s + e + Delta m */
    cg_random_bytes(ct->seed, CG_SEED_BYTES);
    cg_prg ap;
    cg_prg_init(&ap, ct->seed, 0);
    cg_sample_uniform(&ap, c->mods, L, n, c1);
    bfv_poly_mul(c, c->mods, L, c1, sk->s_ntt, c0);
    cg_poly_neg(c->mods, L, n, c0, c0);
    cg_poly_intt(c->ntt, L, c0, c->nthreads);
    cg_poly_intt(c->ntt, L, c1, c->nthreads);
    cg_prg prg;
    cg_prg_init_random(&prg);
    add_cbd(c, &prg, L, small, c0);
    cg_prg_clear(&prg);
    bfv_ws_put(c, &ws, true);
    if (scale_bits)
        bfv_add_scaled_plain_e(c, pt->coeffs, L, c0, scale_bits);
    else
        bfv_add_scaled_plain(c, pt->coeffs, L, c0, false);
    ct->seeded = true;
    /* t round(Q m / (t 2^e)) = Q m / 2^e + t r, |r| <= 1/2: the same
     * rounding term as Delta m, so the same fresh bound */
    ct->noise_log2 = bfv_fresh_noise_log2(c, false);
    return CG_OK;
}

cg_status cg_bfv_encrypt_sk(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const cg_bfv_plain *pt,
                            cg_bfv_ct *ct, cg_error *err)
{
    return encrypt_sk(c, sk, pt, 0, ct, err);
}

cg_status cg_bfv_encrypt_sk_packed(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const cg_bfv_plain *pt,
                                   unsigned scale_bits, cg_bfv_ct *ct, cg_error *err)
{
    if (scale_bits > c->logn || (c->t >> (63 - scale_bits)) != 0)
        return cg_error_set(err, CG_ERR_ARG, "packed encryption: 2^%u too large", scale_bits);
    return encrypt_sk(c, sk, pt, scale_bits, ct, err);
}

/* x = c0 + c1 s (+ c2 s^2) in coefficient form over the ct's level. A
 * coefficient-form c0 is added after the inverse transform of the key
 * products, which saves its forward transform (a third of the NTTs). */
static cg_status dot_with_key(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const cg_bfv_ct *ct,
                              uint64_t *x, cg_error *err)
{
    const size_t n = c->n, L = ct->level, w = L * n;
    bfv_ws ws;
    uint64_t *tmp = bfv_ws_get(c, (ct->size > 2 ? 2 : 1) * w, &ws);
    if (!tmp) return cg_error_set(err, CG_ERR_NOMEM, "decryption");
    uint64_t *sp = tmp + w;
    if (ct->ntt) {
        memcpy(x, ct->data, w * sizeof(uint64_t));
        cg_poly_mul_add(c->mods, L, n, ct->data + w, sk->s_ntt, x);
        if (ct->size > 2) {
            bfv_poly_mul(c, c->mods, L, sk->s_ntt, sk->s_ntt, sp);
            cg_poly_mul_add(c->mods, L, n, ct->data + 2 * w, sp, x);
        }
        cg_poly_intt(c->ntt, L, x, c->nthreads);
    } else {
        memcpy(tmp, ct->data + w, w * sizeof(uint64_t));
        cg_poly_ntt(c->ntt, L, tmp, c->nthreads);
        bfv_poly_mul(c, c->mods, L, tmp, sk->s_ntt, x);
        if (ct->size > 2) {
            bfv_poly_mul(c, c->mods, L, sk->s_ntt, sk->s_ntt, sp);
            memcpy(tmp, ct->data + 2 * w, w * sizeof(uint64_t));
            cg_poly_ntt(c->ntt, L, tmp, c->nthreads);
            cg_poly_mul_add(c->mods, L, n, tmp, sp, x);
        }
        cg_poly_intt(c->ntt, L, x, c->nthreads);
        bfv_poly_add(c, L, x, ct->data, x);
    }
    bfv_ws_put(c, &ws, true);
    return CG_OK;
}

static cg_status check_ct(const cg_bfv_ctx *c, const cg_bfv_ct *ct, cg_error *err)
{
    if (!ct || !ct->data || ct->size < 2 || ct->size > 3 || ct->level < 1 || ct->level > c->nq)
        return cg_error_set(err, CG_ERR_ARG, "malformed ciphertext");
    return CG_OK;
}

cg_status cg_bfv_decrypt(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const cg_bfv_ct *ct,
                         cg_bfv_plain *pt, cg_error *err)
{
    CG_TRY(check_ct(c, ct, err));
    const size_t n = c->n, L = ct->level;
    const bfv_level *lv = &c->level[L];
    bfv_ws ws;
    uint64_t *x = bfv_ws_get(c, L * n, &ws);
    if (!x) return cg_error_set(err, CG_ERR_NOMEM, "decryption");
    cg_status st = dot_with_key(c, sk, ct, x, err);
    if (st == CG_OK && !pt->coeffs) st = cg_bfv_plain_alloc(c, pt, err);
    if (st != CG_OK) {
        bfv_ws_put(c, &ws, true);
        return st;
    }
    const uint64_t t = c->t;
    /* m = round(t x / Q) mod t with x = sum y_i Q/q_i - v Q, y_i = [x_i (Q/q_i)^-1]_{q_i}:
     * t x / Q = sum y_i t / q_i - v t, so only the y_i t / q_i matter mod t.
     * Each t / q_i (< 1) is a 128-bit fraction w_i = floor(t 2^128 / q_i);
     * sum y_i w_i in 64.128 fixed point is within L 2^-64 of the exact sum,
     * far inside the distance to a rounding boundary that the noise leaves. */
    uint64_t whi[CG_BFV_MAX_Q], wlo[CG_BFV_MAX_Q];
    for (size_t i = 0; i < L; i++) {
        const uint64_t q = c->mods[i].value;
        /* t 2^128 / q by long division in base 2^64: t < q */
        cg_u128 r = (cg_u128)t << 64;
        whi[i] = (uint64_t)(r / q);
        r = ((r % q) << 64);
        wlo[i] = (uint64_t)(r / q);
    }
    for (size_t j = 0; j < n; j++) {
        uint64_t ip = 0, f1 = 0, f0 = 0; /* integer, fraction high, fraction low */
        for (size_t i = 0; i < L; i++) {
            const uint64_t q = c->mods[i].value;
            uint64_t y = cg_mul_shoup(x[i * n + j], lv->base.punct_inv[i], lv->base.punct_inv_sh[i], q);
            cg_u128 lo = (cg_u128)y * wlo[i], hi = (cg_u128)y * whi[i];
            /* y * (whi 2^-64 + wlo 2^-128): integer part and two fraction words */
            cg_u128 s0 = (cg_u128)f0 + (uint64_t)lo;
            f0 = (uint64_t)s0;
            cg_u128 s1 = (cg_u128)f1 + (uint64_t)hi + (uint64_t)(lo >> 64) + (uint64_t)(s0 >> 64);
            f1 = (uint64_t)s1;
            ip += (uint64_t)(hi >> 64) + (uint64_t)(s1 >> 64);
        }
        ip += f1 >> 63; /* round half up */
        pt->coeffs[j] = ip % t;
    }
    pt->n = n;
    bfv_ws_put(c, &ws, true);
    return CG_OK;
}

cg_status cg_bfv_noise_measure(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const cg_bfv_ct *ct,
                               double *noise_log2, double *budget_bits, cg_error *err)
{
    CG_TRY(check_ct(c, ct, err));
    const size_t n = c->n, L = ct->level;
    const bfv_level *lv = &c->level[L];
    bfv_ws ws;
    uint64_t *x = bfv_ws_get(c, L * n, &ws);
    if (!x) return cg_error_set(err, CG_ERR_NOMEM, "noise measurement");
    cg_status st = dot_with_key(c, sk, ct, x, err);
    if (st != CG_OK) {
        bfv_ws_put(c, &ws, true);
        return st;
    }
    double worst = 0;
    uint64_t res[CG_BFV_MAX_Q], limbs[CG_BFV_MAX_Q], neg[CG_BFV_MAX_Q];
    for (size_t j = 0; j < n; j++) {
        for (size_t i = 0; i < L; i++)
            res[i] = cg_mod_mul(x[i * n + j], c->t % c->mods[i].value, &c->mods[i]);
        cg_rns_compose(&lv->base, res, limbs);
        /* centred magnitude: min(v, Q - v) */
        uint64_t borrow = 0;
        for (size_t i = 0; i < L; i++) {
            uint64_t b = limbs[i] + borrow;
            uint64_t nb = (b < borrow) || (lv->base.prod[i] < b);
            neg[i] = lv->base.prod[i] - b;
            borrow = nb;
        }
        const uint64_t *mag = limbs;
        for (size_t i = L; i-- > 0;)
            if (neg[i] != limbs[i]) {
                mag = neg[i] < limbs[i] ? neg : limbs;
                break;
            }
        double l2 = 0;
        for (size_t i = L; i-- > 0;)
            if (mag[i]) {
                l2 = 64.0 * (double)i + log2((double)mag[i] + (i ? (double)mag[i - 1] / 18446744073709551616.0 : 0));
                break;
            }
        if (l2 > worst) worst = l2;
    }
    bfv_ws_put(c, &ws, true);
    if (noise_log2) *noise_log2 = worst;
    if (budget_bits) {
        double b = lv->log2q - 1 - worst;
        *budget_bits = b > 0 ? b : 0;
    }
    return CG_OK;
}

double cg_bfv_noise_budget_estimate(const cg_bfv_ctx *c, const cg_bfv_ct *ct)
{
    double b = c->level[ct->level].log2q - 1 - ct->noise_log2;
    return b > 0 ? b : 0;
}
