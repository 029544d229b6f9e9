/* Hybrid key switching (digits of alpha primes, special modulus P),
 * relinearisation, rotations, hoisted rotations, mask-and-rotate. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "bfv/bfv_internal.h"

static size_t nqp(const cg_bfv_ctx *c) { return c->nq + c->np; }

double bfv_keyswitch_noise_log2(const cg_bfv_ctx *c)
{
    /* sum_j d_j e_j / P plus ModDown rounding. One-prime digits are centred
     * (|d_j| <= q_j / 2, variance q_j^2 / 12); a digit of alpha > 1 primes
     * comes from the fast base conversion in [0, alpha Q_j), second moment
     * up to (alpha Q_j)^2 / 3: 2 alpha times the spread. */
    const double n = (double)c->n;
    double logqj = 0;
    for (size_t i = 0; i < c->alpha && i < c->nq; i++) logqj += log2((double)c->mods[i].value);
    double logp = 0;
    for (size_t i = 0; i < c->np; i++) logp += log2((double)c->mods[c->nq + i].value);
    const double spread = c->alpha > 1 ? 2.0 * (double)c->alpha : 1.0;
    double ks = log2(8.0 * spread * sqrt((double)c->dnum * n / 12.0) * c->sigma) + logqj - logp;
    double rnd = log2(1.0 + 8.0 * sqrt(n / 18.0) * (double)(c->np ? c->np : 0));
    return log2((double)c->t) + bfv_log2_add(ks, rnd);
}

cg_status bfv_ks_decompose(const cg_bfv_ctx *c, const uint64_t *cpoly, uint64_t *digits,
                           cg_error *err)
{
    (void)err;
    const size_t n = c->n, K = nqp(c);
    bfv_ws ws;
    uint64_t *tmp = bfv_ws_get(c, K * n, &ws);
    if (!tmp) return cg_error_set(err, CG_ERR_NOMEM, "key switching");
    for (size_t j = 0; j < c->dnum; j++) {
        uint64_t *d = digits + j * K * n;
        const size_t lo = j * c->alpha, hi = lo + c->digit_base[j].k;
        for (size_t i = lo; i < hi; i++) memcpy(d + i * n, cpoly + i * n, n * sizeof(uint64_t));
        const size_t nc = K - c->digit_base[j].k;
        if (nc) {
            /* ModUp: the digit's residues extended to every other prime. */
            if (c->digit_base[j].k == 1) {
                /* A one-prime digit is taken centred, x - q_j for x >= q_j / 2:
                 * a digit in [0, q_j) has mean q_j / 2, and that mean times the
                 * key's error adds a random-walk term twice the centred part's
                 * spread (measured: up to 2^0.3 above the noise estimate). The
                 * residue mod q_j is unchanged, so only the other primes move;
                 * written straight to the digit (no second pass). */
                const uint64_t q = c->mods[lo].value, half = q >> 1;
                const uint64_t *x = cpoly + lo * n;
                for (size_t r = 0; r < nc; r++) {
                    const cg_modulus *m = &c->mods[c->comp_idx[j][r]];
                    const uint64_t p = m->value, qm = cg_mod_reduce(q, m);
                    uint64_t *o = d + c->comp_idx[j][r] * n;
                    if (q <= 2 * p) {
                        /* y = x - q [x >= q/2] lies in [-p, p): one conditional add */
                        for (size_t k = 0; k < n; k++) {
                            const int64_t y = (int64_t)x[k] - (int64_t)(q & (0 - (uint64_t)(x[k] >= half)));
                            o[k] = (uint64_t)y + (p & (uint64_t)(y >> 63));
                        }
                    } else {
                        for (size_t k = 0; k < n; k++) {
                            const uint64_t v = cg_mod_reduce(x[k], m);
                            const uint64_t sub = qm & (0 - (uint64_t)(x[k] >= half));
                            o[k] = v - sub + (p & (0 - (uint64_t)(v < sub)));
                        }
                    }
                }
            } else {
                cg_base_conv_apply(&c->modup[j], cpoly + lo * n, tmp, n);
                for (size_t r = 0; r < nc; r++)
                    memcpy(d + c->comp_idx[j][r] * n, tmp + r * n, n * sizeof(uint64_t));
            }
        }
        cg_poly_ntt(c->ntt, K, d, c->nthreads);
    }
    bfv_ws_put(c, &ws, false); /* ciphertext data: public */
    return CG_OK;
}

/* The inner product with the key through cg_poly_mac2_ifma: every QP prime
 * below 2^50 (the presets' are) and an IFMA CPU. */
static bool ks_ifma(const cg_bfv_ctx *c)
{
    if (!c->ifma) return false;
    for (size_t i = 0; i < nqp(c); i++)
        if (c->mods[i].value >= (1ull << 50)) return false;
    return true;
}

/* ntt_out false: out0, out1 in coefficient form, ModDown done there (the P
 * and Q rows inverse-transformed, no forward transform of the extension):
 * 2 (nq + np) transforms instead of 2 (np + nq) plus the caller's 2 nq. */
static cg_status ks_apply(const cg_bfv_ctx *c, const uint64_t *digits, const uint32_t *perm,
                          const cg_bfv_ksk *ksk, bool ntt_out, uint64_t *out0, uint64_t *out1,
                          cg_error *err)
{
    const size_t n = c->n, K = nqp(c), L = c->nq;
    if (ksk->dnum != c->dnum || !ksk->data)
        return cg_error_set(err, CG_ERR_PARAM, "key-switching key does not match the parameters");
    /* one workspace: 128-bit accumulators, beta, the permuted digit, ModDown's
     * extension */
    bfv_ws ws;
    const bool ifma = ks_ifma(c);
    /* the IFMA path keeps every permuted digit (in the accumulators' place) */
    const size_t accw = ifma && perm && c->dnum > 4 ? c->dnum * K * n : 4 * K * n;
    uint64_t *base = bfv_ws_get(c, accw + 2 * K * n + K * n + L * n, &ws);
    if (!base) return cg_error_set(err, CG_ERR_NOMEM, "key switching");
    cg_u128 *acc = (cg_u128 *)base; /* 64-byte aligned: the pool's blocks are */
    uint64_t *beta = base + accw, *pd = beta + 2 * K * n, *ext = pd + K * n;
    if (ifma) {
        /* per prime row: sum_j d_j b_j and sum_j d_j a_j in one pass over the
         * digit (the same residues as the 128-bit sums below) */
        const uint64_t *p0[CG_BFV_MAX_Q], *p1[CG_BFV_MAX_Q], *pb[CG_BFV_MAX_Q];
        for (size_t j = 0; j < c->dnum; j++) {
            const uint64_t *d = digits + j * K * n;
            if (perm) {
                cg_poly_permute(K, n, perm, d, base + j * K * n);
                d = base + j * K * n;
            }
            pb[j] = d;
            p0[j] = ksk->data + 2 * j * K * n;
            p1[j] = p0[j] + K * n;
        }
        for (size_t i = 0; i < K; i++) {
            const uint64_t *r0[CG_BFV_MAX_Q], *r1[CG_BFV_MAX_Q], *rb[CG_BFV_MAX_Q];
            for (size_t j = 0; j < c->dnum; j++) r0[j] = p0[j] + i * n, r1[j] = p1[j] + i * n, rb[j] = pb[j] + i * n;
            cg_poly_mac2_ifma(&c->mods[i], n, c->dnum, r0, r1, rb, beta + i * n, beta + K * n + i * n);
        }
    }
    if (!ifma) memset(acc, 0, 2 * K * n * sizeof(cg_u128));
    for (size_t j = 0; !ifma && j < c->dnum; j++) {
        const uint64_t *d = digits + j * K * n;
        if (perm) {
            /* the automorphism commutes with the decomposition: permute digits */
            cg_poly_permute(K, n, perm, d, pd);
            d = pd;
        }
        const uint64_t *b = ksk->data + 2 * j * K * n, *a = b + K * n;
        cg_poly_mac128(K * n, d, b, acc);
        cg_poly_mac128(K * n, d, a, acc + K * n);
    }
    if (!ifma) {
        cg_poly_reduce128(c->mods, K, n, acc, beta);
        cg_poly_reduce128(c->mods, K, n, acc + K * n, beta + K * n);
    }
    /* ModDown: (beta - ext([beta]_P)) * P^-1 over Q */
    for (int s = 0; s < 2; s++) {
        uint64_t *bq = beta + s * K * n, *out = s ? out1 : out0;
        if (c->np) {
            uint64_t *bp = bq + L * n;
            cg_poly_intt(c->ntt + L, c->np, bp, c->nthreads);
            cg_base_conv_apply(&c->moddown, bp, ext, n);
            if (ntt_out)
                cg_poly_ntt(c->ntt, L, ext, c->nthreads);
            else
                cg_poly_intt(c->ntt, L, bq, c->nthreads);
            bfv_poly_sub(c, L, bq, ext, out);
            cg_poly_mul_scalar(c->mods, L, n, out, c->p_inv_mod_q, out);
        } else {
            memcpy(out, bq, L * n * sizeof(uint64_t));
            if (!ntt_out) cg_poly_intt(c->ntt, L, out, c->nthreads);
        }
    }
    bfv_ws_put(c, &ws, false);
    return CG_OK;
}

cg_status bfv_ks_apply(const cg_bfv_ctx *c, const uint64_t *digits, const uint32_t *perm,
                       const cg_bfv_ksk *ksk, uint64_t *out0, uint64_t *out1, cg_error *err)
{
    return ks_apply(c, digits, perm, ksk, true, out0, out1, err);
}

static cg_status keyswitch(const cg_bfv_ctx *c, const uint64_t *cpoly, const cg_bfv_ksk *ksk,
                           bool ntt_out, uint64_t *out0, uint64_t *out1, cg_error *err)
{
    bfv_ws ws;
    uint64_t *digits = bfv_ws_get(c, c->dnum * nqp(c) * c->n, &ws);
    if (!digits) return cg_error_set(err, CG_ERR_NOMEM, "key switching");
    cg_status st = bfv_ks_decompose(c, cpoly, digits, err);
    if (st == CG_OK) st = ks_apply(c, digits, NULL, ksk, ntt_out, out0, out1, err);
    bfv_ws_put(c, &ws, false);
    return st;
}

cg_status bfv_keyswitch(const cg_bfv_ctx *c, const uint64_t *cpoly, const cg_bfv_ksk *ksk,
                        uint64_t *out0, uint64_t *out1, cg_error *err)
{
    return keyswitch(c, cpoly, ksk, true, out0, out1, err);
}

static cg_status need_top(const cg_bfv_ctx *c, const cg_bfv_ct *ct, cg_error *err)
{
    if (!ct->data || ct->level != c->nq)
        return cg_error_set(err, CG_ERR_STATE, "key switching needs a top-level ciphertext");
    return CG_OK;
}

cg_status cg_bfv_relinearize(const cg_bfv_ctx *c, const cg_bfv_ksk *rk, cg_bfv_ct *ct, cg_error *err)
{
    CG_TRY(need_top(c, ct, err));
    if (ct->size == 2) return CG_OK;
    const size_t n = c->n, L = c->nq, w = L * n;
    CG_TRY(cg_bfv_from_ntt(c, ct, err));
    bfv_ws ws;
    uint64_t *o = bfv_ws_get(c, 2 * w, &ws);
    if (!o) return cg_error_set(err, CG_ERR_NOMEM, "relinearisation");
    cg_status st = keyswitch(c, ct->data + 2 * w, rk, false, o, o + w, err);
    if (st == CG_OK) {
        bfv_poly_add(c, L, ct->data, o, ct->data);
        bfv_poly_add(c, L, ct->data + w, o + w, ct->data + w);
        ct->size = 2;
        ct->noise_log2 = bfv_log2_add(ct->noise_log2, bfv_keyswitch_noise_log2(c));
    }
    bfv_ws_put(c, &ws, false);
    return st;
}

const cg_bfv_ksk *bfv_find_key(const cg_bfv_galois_keys *gk, uint32_t g)
{
    for (size_t i = 0; i < gk->count; i++)
        if (gk->elts[i] == g) return &gk->keys[i];
    return NULL;
}

/* One automorphism with its key: out = ks(sigma_g(ct)), NTT form. The
 * input is copied to a workspace first, so out may be ct itself; out's
 * buffer is reused. */
cg_status bfv_apply_galois(const cg_bfv_ctx *c, const cg_bfv_ksk *key, uint32_t g,
                           const cg_bfv_ct *ct, cg_bfv_ct *out, cg_error *err)
{
    const size_t n = c->n, L = c->nq, w = L * n;
    bfv_ws ws;
    uint64_t *buf = bfv_ws_get(c, 3 * w, &ws);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "rotation");
    cg_bfv_ct src = {.size = 2, .level = L, .ntt = ct->ntt, .data = buf};
    uint64_t *c1g = buf + 2 * w;
    memcpy(src.data, ct->data, 2 * w * sizeof(uint64_t));
    const double noise = ct->noise_log2;
    cg_status st = cg_bfv_from_ntt(c, &src, err);
    if (st == CG_OK) st = bfv_ct_reserve(c, out, 2, L, err);
    if (st == CG_OK) {
        cg_poly_automorphism(c->mods, L, n, g, src.data, out->data);
        cg_poly_automorphism(c->mods, L, n, g, src.data + w, c1g);
        uint64_t *o0 = out->data + w; /* temporarily: ks output 0 */
        st = bfv_keyswitch(c, c1g, key, c1g, o0, err);
        if (st == CG_OK) {
            /* out c0 (c0 of sigma_g) to NTT, add ks output 0 (now in c1g) */
            cg_poly_ntt(c->ntt, L, out->data, c->nthreads);
            cg_poly_add(c->mods, L, n, out->data, c1g, out->data);
            out->ntt = true;
            out->noise_log2 = bfv_log2_add(noise, bfv_keyswitch_noise_log2(c));
        }
    }
    bfv_ws_put(c, &ws, false);
    return st;
}

cg_status cg_bfv_rotate_rows(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk, const cg_bfv_ct *ct,
                             int step, cg_bfv_ct *out, cg_error *err)
{
    CG_TRY(need_top(c, ct, err));
    if (ct->size != 2) return cg_error_set(err, CG_ERR_STATE, "relinearise before rotating");
    const int half = (int)(c->n / 2);
    int s = step % half;
    if (s < 0) s += half;
    if (s == 0) return cg_bfv_ct_copy(c, out, ct, err);
    const cg_bfv_ksk *key = bfv_find_key(gk, cg_bfv_galois_elt(c, s));
    if (key) return bfv_apply_galois(c, key, cg_bfv_galois_elt(c, s), ct, out, err);
    /* No key for this step: compose steps that have keys (NAF-free greedy on
     * powers of two, left or right, whichever keys exist). */
    cg_bfv_ct cur = {0};
    CG_TRY(cg_bfv_ct_copy(c, &cur, ct, err));
    int left = s;
    for (int bit = 1; left && bit < half; bit <<= 1) {
        if (!(left & bit)) continue;
        const cg_bfv_ksk *k = bfv_find_key(gk, cg_bfv_galois_elt(c, bit));
        if (!k) {
            cg_bfv_ct_free(&cur);
            return cg_error_set(err, CG_ERR_STATE,
                                "no Galois key for rotation by %d (needs the key for step %d)", step,
                                bit);
        }
        cg_status st = bfv_apply_galois(c, k, cg_bfv_galois_elt(c, bit), &cur, &cur, err);
        if (st != CG_OK) {
            cg_bfv_ct_free(&cur);
            return st;
        }
        left &= ~bit;
    }
    cg_bfv_ct_free(out);
    *out = cur;
    return CG_OK;
}

cg_status cg_bfv_rotate_columns(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk,
                                const cg_bfv_ct *ct, cg_bfv_ct *out, cg_error *err)
{
    CG_TRY(need_top(c, ct, err));
    const uint32_t g = (uint32_t)(2 * c->n - 1);
    const cg_bfv_ksk *key = bfv_find_key(gk, g);
    if (!key) return cg_error_set(err, CG_ERR_STATE, "no Galois key for the column swap");
    return bfv_apply_galois(c, key, g, ct, out, err);
}

typedef struct hoist_job {
    const cg_bfv_ctx *c;
    const cg_bfv_galois_keys *gk;
    const cg_bfv_ct *ct;
    const int *steps;
    cg_bfv_ct *outs;
    const uint64_t *digits, *c0n;
    double noise; /* the input's, read before any output is written */
    cg_status st;
    cg_error err;
    pthread_mutex_t lock;
} hoist_job;

/* Rotations [begin, end) from the shared decomposition; each writes its own
 * output (keeping its buffer), so threads only share read-only data (and
 * the first error). Temporaries from the context's pool. */
static void hoist_range(void *ctx, size_t begin, size_t end)
{
    hoist_job *j = ctx;
    const cg_bfv_ctx *c = j->c;
    const size_t n = c->n, L = c->nq, w = L * n;
    bfv_ws ws;
    uint64_t *tmp = bfv_ws_get(c, w + (n + 1) / 2, &ws);
    uint32_t *perm = (uint32_t *)(tmp + w);
    cg_error err = {0};
    cg_status st = tmp ? CG_OK : cg_error_set(&err, CG_ERR_NOMEM, "rotation");
    for (size_t i = begin; i < end && st == CG_OK; i++) {
        int s = j->steps[i] % (int)(n / 2);
        if (s < 0) s += (int)(n / 2);
        if (s == 0) {
            st = cg_bfv_ct_copy(c, &j->outs[i], j->ct, &err);
            continue;
        }
        uint32_t g = cg_bfv_galois_elt(c, s);
        cg_bfv_ct *r = &j->outs[i];
        st = bfv_ct_reserve(c, r, 2, L, &err);
        if (st != CG_OK) break;
        cg_automorphism_ntt_perm(n, g, perm);
        st = bfv_ks_apply(c, j->digits, perm, bfv_find_key(j->gk, g), r->data, r->data + w, &err);
        if (st == CG_OK) {
            cg_poly_permute(L, n, perm, j->c0n, tmp);
            bfv_poly_add(c, L, r->data, tmp, r->data);
            r->ntt = true;
            r->noise_log2 = bfv_log2_add(j->noise, bfv_keyswitch_noise_log2(c));
        }
    }
    if (tmp) bfv_ws_put(c, &ws, false);
    if (st != CG_OK) bfv_job_fail(&j->lock, &j->st, &j->err, st, &err);
}

cg_status cg_bfv_rotate_hoisted(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk,
                                const cg_bfv_ct *ct, const int *steps, size_t nsteps,
                                cg_bfv_ct *outs, cg_error *err)
{
    CG_TRY(need_top(c, ct, err));
    if (ct->size != 2) return cg_error_set(err, CG_ERR_STATE, "relinearise before rotating");
    const size_t n = c->n, L = c->nq, w = L * n, K = nqp(c);
    for (size_t i = 0; i < nsteps; i++) {
        int s = steps[i] % (int)(n / 2);
        if (s && !bfv_find_key(gk, cg_bfv_galois_elt(c, s)))
            return cg_error_set(err, CG_ERR_STATE, "hoisted rotation by %d has no key", steps[i]);
    }
    /* one workspace: the input in coefficient form (2 w), c0 in NTT form
     * (w), the digits (dnum K n) */
    bfv_ws ws;
    uint64_t *buf = bfv_ws_get(c, 3 * w + c->dnum * K * n, &ws);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "rotation");
    cg_bfv_ct src = {.size = 2, .level = L, .ntt = ct->ntt, .data = buf, .cap = 2 * w};
    uint64_t *c0n = buf + 2 * w, *digits = c0n + w;
    memcpy(src.data, ct->data, 2 * w * sizeof(uint64_t));
    cg_status st = cg_bfv_from_ntt(c, &src, err);
    if (st == CG_OK) st = bfv_ks_decompose(c, src.data + w, digits, err);
    if (st == CG_OK) {
        memcpy(c0n, src.data, w * sizeof(uint64_t));
        cg_poly_ntt(c->ntt, L, c0n, c->nthreads);
    }
    if (st == CG_OK) {
        hoist_job job = {.c = c, .gk = gk, .ct = ct, .steps = steps, .outs = outs, .digits = digits,
                         .c0n = c0n, .noise = ct->noise_log2, .st = CG_OK};
        pthread_mutex_init(&job.lock, NULL);
        cg_parallel_for(c->nthreads, nsteps, hoist_range, &job);
        pthread_mutex_destroy(&job.lock);
        if (job.st != CG_OK) st = cg_error_set(err, job.st, "%s", job.err.msg);
    }
    bfv_ws_put(c, &ws, false);
    return st;
}

cg_status cg_bfv_mask_rotate(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk, const cg_bfv_ct *ct,
                             const cg_bfv_plain_ntt *mask, int step, cg_bfv_ct *out, cg_error *err)
{
    CG_TRY(need_top(c, ct, err));
    if (ct->size != 2) return cg_error_set(err, CG_ERR_STATE, "relinearise before rotating");
    /* the masked product in a workspace-backed ciphertext (its capacity
     * covers the product, so nothing reallocates it) */
    const size_t w = c->nq * c->n;
    bfv_ws ws;
    uint64_t *buf = bfv_ws_get(c, 2 * w, &ws);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "rotation");
    cg_bfv_ct tmp = *ct;
    tmp.data = buf;
    tmp.cap = 2 * w;
    tmp.seeded = false;
    memcpy(buf, ct->data, 2 * w * sizeof(uint64_t));
    cg_status st = cg_bfv_to_ntt(c, &tmp, err);
    if (st == CG_OK) st = cg_bfv_mul_plain_inplace(c, &tmp, mask, err);
    if (st == CG_OK) st = cg_bfv_rotate_rows(c, gk, &tmp, step, out, err);
    bfv_ws_put(c, &ws, false);
    return st;
}
