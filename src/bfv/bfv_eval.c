/* Evaluator: additions, plaintext products, fused multiply-accumulate,
 * scalar products, modulus switching. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

static size_t poly_words(const cg_bfv_ctx *c, const cg_bfv_ct *ct) { return ct->level * c->n; }

/* The shape the transforms walk: without it they would run off the data or
 * the context's tables. */
static cg_status check_form(const cg_bfv_ctx *c, const cg_bfv_ct *ct, const char *what,
                            cg_error *err)
{
    if (!ct || !ct->data || ct->size < 2 || ct->size > 3 || ct->level < 1 || ct->level > c->nq)
        return cg_error_set(err, CG_ERR_ARG, "%s: malformed ciphertext", what);
    return CG_OK;
}

cg_status cg_bfv_to_ntt(const cg_bfv_ctx *c, cg_bfv_ct *ct, cg_error *err)
{
    CG_TRY(check_form(c, ct, "to_ntt", err));
    if (ct->ntt) return CG_OK;
    for (size_t k = 0; k < ct->size; k++)
        cg_poly_ntt(c->ntt, ct->level, ct->data + k * poly_words(c, ct), c->nthreads);
    ct->ntt = true;
    ct->seeded = false;
    return CG_OK;
}

cg_status cg_bfv_from_ntt(const cg_bfv_ctx *c, cg_bfv_ct *ct, cg_error *err)
{
    CG_TRY(check_form(c, ct, "from_ntt", err));
    if (!ct->ntt) return CG_OK;
    for (size_t k = 0; k < ct->size; k++)
        cg_poly_intt(c->ntt, ct->level, ct->data + k * poly_words(c, ct), c->nthreads);
    ct->ntt = false;
    return CG_OK;
}

static cg_status same_shape(const cg_bfv_ct *a, const cg_bfv_ct *b, cg_error *err)
{
    if (!a->data || !b->data || a->level != b->level || a->ntt != b->ntt)
        return cg_error_set(err, CG_ERR_STATE,
                            "ciphertexts differ in level or form (levels %zu/%zu, ntt %d/%d)",
                            a->level, b->level, a->ntt, b->ntt);
    return CG_OK;
}

/* The result's buffer: out itself when it can hold size x level (an input
 * it aliases is read element by element before being written, so that is
 * safe), otherwise a fresh ciphertext *fresh that the caller moves into out
 * at the end (out may alias an input that would be lost by growing it). */
static cg_status result_target(const cg_bfv_ctx *c, cg_bfv_ct *out, bool aliased, size_t size,
                               size_t level, cg_bfv_ct *fresh, cg_bfv_ct **dst, cg_error *err)
{
    const size_t need = size * level * c->n;
    if (!aliased || (out->data && out->cap >= need)) {
        CG_TRY(bfv_ct_reserve(c, out, size, level, err));
        *dst = out;
        return CG_OK;
    }
    *fresh = (cg_bfv_ct){0};
    CG_TRY(bfv_ct_reserve(c, fresh, size, level, err));
    *dst = fresh;
    return CG_OK;
}

static void result_commit(cg_bfv_ct *out, cg_bfv_ct *dst)
{
    if (dst == out) return;
    cg_bfv_ct_free(out);
    *out = *dst;
}

static cg_status addsub(const cg_bfv_ctx *c, const cg_bfv_ct *a, const cg_bfv_ct *b,
                        cg_bfv_ct *out, bool sub, cg_error *err)
{
    CG_TRY(same_shape(a, b, err));
    const cg_bfv_ct *big = a->size >= b->size ? a : b;
    const size_t w = poly_words(c, a), L = a->level, n = c->n, asz = a->size, bsz = b->size;
    const bool ntt = a->ntt;
    const double noise = bfv_log2_add(a->noise_log2, b->noise_log2);
    cg_bfv_ct fresh, *r;
    CG_TRY(result_target(c, out, out == a || out == b, big->size, L, &fresh, &r, err));
    for (size_t k = 0; k < r->size; k++) {
        uint64_t *o = r->data + k * w;
        const uint64_t *x = k < asz ? a->data + k * w : NULL;
        const uint64_t *y = k < bsz ? b->data + k * w : NULL;
        if (x && y) {
            if (sub)
                bfv_poly_sub(c, L, x, y, o);
            else
                bfv_poly_add(c, L, x, y, o);
        } else if (x) {
            if (o != x) memcpy(o, x, w * sizeof(uint64_t));
        } else if (sub) {
            cg_poly_neg(c->mods, L, n, y, o);
        } else if (o != y) {
            memcpy(o, y, w * sizeof(uint64_t));
        }
    }
    r->ntt = ntt;
    r->noise_log2 = noise;
    result_commit(out, r);
    return CG_OK;
}

cg_status cg_bfv_add_inplace(const cg_bfv_ctx *c, cg_bfv_ct *acc, const cg_bfv_ct *b,
                             cg_error *err)
{
    return addsub(c, acc, b, acc, false, err);
}

cg_status cg_bfv_sub_inplace(const cg_bfv_ctx *c, cg_bfv_ct *acc, const cg_bfv_ct *b,
                             cg_error *err)
{
    return addsub(c, acc, b, acc, true, err);
}

cg_status cg_bfv_add(const cg_bfv_ctx *c, const cg_bfv_ct *a, const cg_bfv_ct *b, cg_bfv_ct *out,
                     cg_error *err)
{
    return addsub(c, a, b, out, false, err);
}

cg_status cg_bfv_sub(const cg_bfv_ctx *c, const cg_bfv_ct *a, const cg_bfv_ct *b, cg_bfv_ct *out,
                     cg_error *err)
{
    return addsub(c, a, b, out, true, err);
}

cg_status cg_bfv_negate(const cg_bfv_ctx *c, cg_bfv_ct *ct, cg_error *err)
{
    (void)err;
    for (size_t p = 0; p < ct->size; p++) {
        uint64_t *d = ct->data + p * ct->level * c->n;
        cg_poly_neg(c->mods, ct->level, c->n, d, d);
    }
    ct->seeded = false;
    return CG_OK;
}

static cg_status plain_addsub(const cg_bfv_ctx *c, cg_bfv_ct *ct, const cg_bfv_plain *pt,
                              bool sub, cg_error *err)
{
    if (!pt->coeffs || pt->n != c->n) return cg_error_set(err, CG_ERR_ARG, "bad plaintext");
    const size_t n = c->n, L = ct->level;
    bfv_ws ws;
    uint64_t *tmp = bfv_ws_get(c, L * n, &ws);
    if (!tmp) return cg_error_set(err, CG_ERR_NOMEM, "add_plain");
    memset(tmp, 0, L * n * sizeof(uint64_t));
    bfv_add_scaled_plain(c, pt->coeffs, L, tmp, false);
    if (ct->ntt) cg_poly_ntt(c->ntt, L, tmp, c->nthreads);
    if (sub)
        bfv_poly_sub(c, L, ct->data, tmp, ct->data);
    else
        bfv_poly_add(c, L, ct->data, tmp, ct->data);
    bfv_ws_put(c, &ws, false);
    ct->seeded = false;
    /* round(Q m / t) differs from Q m / t by <= 1/2: t/2 more noise at most */
    ct->noise_log2 = bfv_log2_add(ct->noise_log2, log2((double)c->t));
    return CG_OK;
}

cg_status cg_bfv_add_plain(const cg_bfv_ctx *c, cg_bfv_ct *ct, const cg_bfv_plain *pt, cg_error *err)
{
    return plain_addsub(c, ct, pt, false, err);
}

cg_status cg_bfv_sub_plain(const cg_bfv_ctx *c, cg_bfv_ct *ct, const cg_bfv_plain *pt, cg_error *err)
{
    return plain_addsub(c, ct, pt, true, err);
}

void bfv_plain_ntt_finish(const cg_bfv_ctx *c, cg_bfv_plain_ntt *out, uint64_t *d, size_t need,
                          size_t level, uint64_t maxabs)
{
    cg_poly_ntt(c->ntt, level, d, c->nthreads);
    if (d != out->data) {
        cg_bfv_plain_ntt_free(out);
        out->data = d;
        out->cap = need;
    }
    out->level = level;
    out->norm_log2 = maxabs ? log2((double)maxabs) : -INFINITY;
}

cg_status cg_bfv_plain_to_ntt(const cg_bfv_ctx *c, const cg_bfv_plain *pt, size_t level,
                              cg_bfv_plain_ntt *out, cg_error *err)
{
    if (!pt->coeffs || pt->n != c->n) return cg_error_set(err, CG_ERR_ARG, "bad plaintext");
    if (level < 1 || level > c->nq) return cg_error_set(err, CG_ERR_ARG, "level %zu", level);
    /* out keeps its buffer when it holds level rows (no allocation per
     * encoding for a reused plaintext) */
    const size_t need = level * c->n;
    uint64_t *d = out->data && out->cap >= need ? out->data : cg_alloc(need * sizeof(uint64_t));
    if (!d) return cg_error_set(err, CG_ERR_NOMEM, "plaintext");
    bfv_lift_plain(c, pt->coeffs, level, d);
    uint64_t maxabs = 0;
    for (size_t j = 0; j < c->n; j++) {
        uint64_t v = pt->coeffs[j] % c->t;
        uint64_t a = v > c->t / 2 ? c->t - v : v;
        if (a > maxabs) maxabs = a;
    }
    bfv_plain_ntt_finish(c, out, d, need, level, maxabs);
    return CG_OK;
}

/* Noise after multiplying by a plaintext with max |coefficient| 2^norm:
 * v' = v * p; heuristic bound 2 sqrt(n) ||v|| ||p|| (random-sign sums). */
static double mul_plain_noise(const cg_bfv_ctx *c, double noise, double norm)
{
    if (norm == -INFINITY) return 0;
    return noise + norm + 0.5 * log2((double)c->n) + 1.0;
}

cg_status cg_bfv_mul_plain(const cg_bfv_ctx *c, const cg_bfv_ct *ct, const cg_bfv_plain_ntt *pt,
                           cg_bfv_ct *out, cg_error *err)
{
    const cg_bfv_ct *cts[1] = {ct};
    const cg_bfv_plain_ntt *pts[1] = {pt};
    return cg_bfv_mac_plain(c, cts, pts, 1, out, err);
}

cg_status cg_bfv_mul_plain_inplace(const cg_bfv_ctx *c, cg_bfv_ct *ct, const cg_bfv_plain_ntt *pt,
                                   cg_error *err)
{
    return cg_bfv_mul_plain(c, ct, pt, ct, err);
}

typedef struct mac_job {
    const cg_bfv_ctx *c;
    const cg_bfv_ct *const *cts;
    const cg_bfv_plain_ntt *const *pts;
    size_t k, size, level;
    uint64_t *out;
} mac_job;

/* Rows [begin, end) of every polynomial: each thread owns whole primes.
 * Each row is walked in chunks whose accumulators stay in L1: 128-bit ones,
 * or, with AVX2, primes below 2^52 and 8 terms or more, three 64-bit rows
 * of 26-bit limb products (cg_poly_mac26_avx2; the same residues, tested). */
#define MAC_CHUNK 256
/* Inputs per call of the IFMA / AVX2 kernel: their row pointers live on the stack
 * (an allocation per call would break the allocation-free warm state). */
#define MAC_BLOCK 256

/* One prime row of size-2 inputs with the IFMA or the AVX2 kernel (false:
 * neither applies, the caller takes the general loop). Beyond MAC_BLOCK
 * inputs the blocks' sums go through a workspace, so an output aliasing an
 * input is written only after every block has read it. */
static bool mac_row_simd(const mac_job *j, size_t row)
{
    const cg_modulus *m = &j->c->mods[row];
    const size_t n = j->c->n, w = j->level * n;
    /* IFMA: primes below 2^50, any k here (blocks of MAC_BLOCK < 2^16) */
    const bool ifma = j->c->ifma && m->value < (1ull << 50);
    if (!ifma && (!j->c->avx2 || j->k > cg_poly_mac2_max_terms(m))) return false;
    void (*mac2)(const cg_modulus *, size_t, size_t, const uint64_t *const *, const uint64_t *const *,
                 const uint64_t *const *, uint64_t *, uint64_t *) = ifma ? cg_poly_mac2_ifma : cg_poly_mac2_avx2;
    const uint64_t *p0[MAC_BLOCK], *p1[MAC_BLOCK], *pb[MAC_BLOCK];
    bfv_ws ws = {0};
    uint64_t *sum = j->k > MAC_BLOCK ? bfv_ws_get(j->c, 4 * n, &ws) : NULL;
    if (j->k > MAC_BLOCK && !sum) return false;
    for (size_t i0 = 0; i0 < j->k; i0 += MAC_BLOCK) {
        const size_t kb = j->k - i0 < MAC_BLOCK ? j->k - i0 : MAC_BLOCK;
        for (size_t i = 0; i < kb; i++) {
            p0[i] = j->cts[i0 + i]->data + row * n;
            p1[i] = p0[i] + w;
            pb[i] = j->pts[i0 + i]->data + row * n;
        }
        if (!sum) {
            mac2(m, n, kb, p0, p1, pb, j->out + row * n, j->out + w + row * n);
            return true;
        }
        uint64_t *part = i0 ? sum + 2 * n : sum;
        mac2(m, n, kb, p0, p1, pb, part, part + n);
        for (size_t x = 0; i0 && x < 2 * n; x++) sum[x] = cg_mod_add(sum[x], part[x], m->value);
    }
    memcpy(j->out + row * n, sum, n * sizeof *sum);
    memcpy(j->out + w + row * n, sum + n, n * sizeof *sum);
    bfv_ws_put(j->c, &ws, false);
    return true;
}

static void mac_rows(void *ctx, size_t begin, size_t end)
{
    mac_job *j = ctx;
    const size_t n = j->c->n, w = j->level * n;
    union {
        cg_u128 wide[3][MAC_CHUNK];
        uint64_t limb[3 * 3 * MAC_CHUNK]; /* 3 polys x (lo, mid, hi) */
    } u;
    cg_u128(*acc)[MAC_CHUNK] = u.wide;
    uint64_t *acc26 = u.limb;
    /* Size-2 inputs on AVX2 or IFMA, two terms or more: the two-polynomial
     * kernels read each plaintext once for both polynomials (bench he
     * mac_plain_16 at the paper set: 0.82x the time of the limb rows below,
     * which stay for size-3 inputs and primes of 50-52 bits) */
    bool fast = (j->c->avx2 || j->c->ifma) && j->size == 2 && j->k >= 2;
    for (size_t i = 0; fast && i < j->k; i++) fast = j->cts[i]->size == 2;
    for (size_t row = begin; row < end; row++) {
        const cg_modulus *m = &j->c->mods[row];
        if (fast && mac_row_simd(j, row)) continue;
        if (j->k == 1) {
            /* one product: a * b < q^2 takes the two-multiplication Barrett
             * directly (elementwise, so out may be the input) */
            for (size_t p = 0; p < j->size; p++)
                bfv_poly_mul(j->c, m, 1, j->cts[0]->data + p * w + row * n,
                             j->pts[0]->data + row * n, j->out + p * w + row * n);
            continue;
        }
        /* the limb rows cost more to reduce: they pay from about 8 terms on */
        const bool limbs = j->c->avx2 && m->bits <= 52 && j->k >= 8;
        for (size_t x0 = 0; x0 < n; x0 += MAC_CHUNK) {
            const size_t len = n - x0 < MAC_CHUNK ? n - x0 : MAC_CHUNK;
            const size_t off = row * n + x0;
            if (limbs)
                memset(acc26, 0, j->size * 3 * len * sizeof(uint64_t));
            else
                for (size_t p = 0; p < j->size; p++)
                    for (size_t x = 0; x < len; x++) acc[p][x] = 0;
            size_t pending = 0;
            for (size_t i = 0; i < j->k; i++) {
                const uint64_t *pt = j->pts[i]->data + off;
                for (size_t p = 0; p < j->cts[i]->size; p++) {
                    const uint64_t *a = j->cts[i]->data + p * w + off;
                    if (limbs)
                        cg_poly_mac26_avx2(len, a, pt, acc26 + p * 3 * len);
                    else
                        cg_poly_mac128(len, a, pt, acc[p]);
                }
                /* primes < 2^60: 64 products of < 2^120 fit 128 bits; limb
                 * rows take 1024 */
                if (++pending == (limbs ? 1024u : 64u) && i + 1 < j->k) {
                    for (size_t p = 0; p < j->size; p++) {
                        if (limbs) {
                            uint64_t *r = acc26 + p * 3 * len;
                            cg_poly_reduce26(m, len, r, r);
                            memset(r + len, 0, 2 * len * sizeof(uint64_t));
                        } else {
                            for (size_t x = 0; x < len; x++) acc[p][x] = cg_mod_reduce128(acc[p][x], m);
                        }
                    }
                    pending = 0;
                }
            }
            for (size_t p = 0; p < j->size; p++) {
                if (limbs)
                    cg_poly_reduce26(m, len, acc26 + p * 3 * len, j->out + p * w + off);
                else
                    cg_poly_reduce128(m, 1, len, acc[p], j->out + p * w + off);
            }
        }
    }
}

cg_status cg_bfv_mac_plain(const cg_bfv_ctx *c, const cg_bfv_ct *const *cts,
                           const cg_bfv_plain_ntt *const *pts, size_t k, cg_bfv_ct *out,
                           cg_error *err)
{
    if (k == 0) return cg_error_set(err, CG_ERR_ARG, "empty multiply-accumulate");
    const size_t L = cts[0]->level;
    size_t size = 2;
    bool aliased = false;
    for (size_t i = 0; i < k; i++) {
        aliased |= cts[i] == out;
        if (!cts[i]->data || cts[i]->level != L || !cts[i]->ntt)
            return cg_error_set(err, CG_ERR_STATE,
                                "multiply-accumulate needs NTT-form ciphertexts of one level");
        if (!pts[i]->data || pts[i]->level < L)
            return cg_error_set(err, CG_ERR_STATE, "plaintext %zu not prepared at level %zu", i, L);
        if (cts[i]->size > size) size = cts[i]->size;
    }
    double noise2 = 0;
    for (size_t i = 0; i < k; i++) {
        double v = mul_plain_noise(c, cts[i]->noise_log2, pts[i]->norm_log2);
        noise2 += exp2(2 * (v - 64));
    }
    /* An aliased output is written chunk by chunk after that chunk of every
     * input has been read (mac_rows), so out may be one of the inputs as
     * long as its sizes stay what the job reads. */
    size_t insz[1] = {0};
    if (aliased) insz[0] = out->size;
    cg_bfv_ct fresh, *r;
    CG_TRY(result_target(c, out, aliased, size, L, &fresh, &r, err));
    if (r == out && aliased) out->size = insz[0]; /* the job reads cts[i]->size */
    mac_job job = {c, cts, pts, k, size, L, r->data};
    cg_parallel_for(c->nthreads, L, mac_rows, &job);
    r->size = size;
    r->ntt = true;
    /* independent terms: the bound grows like the root of the sum of squares */
    r->noise_log2 = noise2 > 0 ? 0.5 * log2(noise2) + 64 + 0.5 : 0;
    result_commit(out, r);
    return CG_OK;
}

cg_status cg_bfv_mul_scalar(const cg_bfv_ctx *c, cg_bfv_ct *ct, int64_t s, cg_error *err)
{
    (void)err;
    uint64_t mag = s < 0 ? (uint64_t)(-(s + 1)) + 1 : (uint64_t)s;
    uint64_t r = cg_mod_reduce(mag, &c->tmod);
    /* use the centred representative: smaller noise growth */
    int64_t sc = r > c->t / 2 ? (int64_t)r - (int64_t)c->t : (int64_t)r;
    if (s < 0) sc = -sc;
    uint64_t scal[CG_BFV_MAX_Q];
    for (size_t i = 0; i < ct->level; i++) {
        uint64_t a = (uint64_t)(sc < 0 ? -sc : sc) % c->mods[i].value;
        scal[i] = sc < 0 ? cg_mod_neg(a, c->mods[i].value) : a;
    }
    for (size_t p = 0; p < ct->size; p++) {
        uint64_t *d = ct->data + p * ct->level * c->n;
        cg_poly_mul_scalar(c->mods, ct->level, c->n, d, scal, d);
    }
    ct->seeded = false;
    if (sc == 0)
        ct->noise_log2 = 0;
    else
        ct->noise_log2 += log2(fabs((double)sc));
    return CG_OK;
}

/* In place: polynomial p's rows move down to p * (L-1) rows; each row is
 * written only over rows already consumed (rows in order, polynomials in
 * order), so no second buffer is needed. */
cg_status cg_bfv_mod_switch_down(const cg_bfv_ctx *c, cg_bfv_ct *ct, cg_error *err)
{
    if (ct->level <= 1) return cg_error_set(err, CG_ERR_STATE, "ciphertext already at the last prime");
    CG_TRY(cg_bfv_from_ntt(c, ct, err));
    const size_t n = c->n, L = ct->level, Ln = L - 1;
    const cg_modulus *ql = &c->mods[L - 1];
    for (size_t p = 0; p < ct->size; p++) {
        const uint64_t *src = ct->data + p * L * n, *last = src + (L - 1) * n;
        uint64_t *dst = ct->data + p * Ln * n;
        for (size_t i = 0; i < Ln; i++)
            if (c->avx2)
                cg_poly_rescale_row_avx2(&c->mods[i], ql, n, src + i * n, last, dst + i * n);
            else
                cg_poly_rescale_row(&c->mods[i], ql, n, src + i * n, last, dst + i * n);
    }
    /* v' = v q'/q + t (1 + ||eps_0 + eps_1 s||), rounding errors |eps| <= 1/2 */
    const double lq = log2((double)ql->value);
    const double rnd = log2((double)c->t * (1.0 + 8.0 * sqrt((double)n * (ct->size - 1) / 18.0)));
    ct->noise_log2 = bfv_log2_add(ct->noise_log2 - lq, rnd);
    ct->level = Ln;
    ct->seeded = false;
    return CG_OK;
}

cg_status cg_bfv_mod_switch_to(const cg_bfv_ctx *c, cg_bfv_ct *ct, size_t level, cg_error *err)
{
    if (level < 1 || level > ct->level)
        return cg_error_set(err, CG_ERR_ARG, "cannot switch from level %zu to %zu", ct->level, level);
    while (ct->level > level) CG_TRY(cg_bfv_mod_switch_down(c, ct, err));
    return CG_OK;
}
