/* Server-side expansion of a packed ciphertext (PIR "query expansion"):
 * the key owner packs B chunks into one ciphertext, chunk a's value k at
 * coefficient a + 2^e k (any stride that is a multiple of 2^e), scaled by
 * round(Q / (t 2^e)) instead of Delta, e = ceil(log2 B); the evaluator splits
 * it into B ciphertexts, chunk a's value k at 2^e k (shifted down by a) at
 * the ordinary scale.
 *
 * Level j (all indices = 0 mod 2^j after the shifts): sigma_g with
 * g = n / 2^j + 1 maps X^(2^j m) to (-1)^m X^(2^j m), so c + sigma(c) keeps
 * the even m (twice), (c - sigma(c)) X^(-2^j) the odd m (twice, shifted to
 * even). A node with no chunk in its odd child is only doubled, so every
 * leaf carries the factor 2^e that the packed scale divides out. The odd
 * child of a node is never present without the even one, and its terms all
 * have index >= 2^j, so the shift never wraps a message term. */
#include <pthread.h>
#include <string.h>

#include "bfv/bfv_internal.h"

unsigned cg_bfv_expand_levels(size_t count)
{
    unsigned e = 0;
    while (((size_t)1 << e) < count) e++;
    return e;
}

size_t cg_bfv_expand_elts(const cg_bfv_ctx *c, unsigned levels, uint32_t *elts)
{
    size_t k = 0;
    for (unsigned j = 0; j < levels && j < c->logn; j++) elts[k++] = (uint32_t)((c->n >> j) + 1);
    return k;
}

/* One level's nodes r < min(step, count), split over the context's threads
 * (each node writes only itself and its odd child). */
typedef struct level_job {
    const cg_bfv_ctx *c;
    const cg_bfv_ksk *key;
    uint32_t g;
    size_t step, count;
    const uint64_t *mono; /* X^(-step), NTT form */
    cg_bfv_ct *outs;
    cg_status st;
    cg_error err;
    pthread_mutex_t lock;
} level_job;

/* The bound after a split: ||v + sigma(v) + ks|| <= 2 ||v|| + ks. */
static cg_status split_node(level_job *j, size_t r, cg_bfv_ct *auto_ct, cg_error *err)
{
    const cg_bfv_ctx *c = j->c;
    const size_t L = c->nq, w = L * c->n;
    cg_bfv_ct *node = &j->outs[r];
    const double before = node->noise_log2;
    if (r + j->step >= j->count) {
        /* no chunk in the odd child: double (the uniform factor) */
        const cg_status st = cg_bfv_add_inplace(c, node, node, err);
        node->noise_log2 = before + 1.0;
        return st;
    }
    CG_TRY(bfv_apply_galois(c, j->key, j->g, node, auto_ct, err));
    cg_bfv_ct *odd = &j->outs[r + j->step];
    CG_TRY(cg_bfv_sub(c, node, auto_ct, odd, err));
    CG_TRY(cg_bfv_add_inplace(c, node, auto_ct, err));
    for (size_t i = 0; i < 2; i++) bfv_poly_mul(c, c->mods, L, odd->data + i * w, j->mono, odd->data + i * w);
    node->noise_log2 = odd->noise_log2 = bfv_log2_add(before, auto_ct->noise_log2);
    return CG_OK;
}

static void level_range(void *ctx, size_t begin, size_t end)
{
    level_job *j = ctx;
    const size_t w = j->c->nq * j->c->n;
    bfv_ws ws;
    uint64_t *buf = bfv_ws_get(j->c, 2 * w, &ws);
    cg_bfv_ct auto_ct = {.size = 2, .level = j->c->nq, .ntt = true, .data = buf, .cap = 2 * w};
    cg_error err = {0};
    cg_status st = buf ? CG_OK : cg_error_set(&err, CG_ERR_NOMEM, "expansion");
    for (size_t r = begin; r < end && st == CG_OK; r++) st = split_node(j, r, &auto_ct, &err);
    if (buf) bfv_ws_put(j->c, &ws, false);
    if (st != CG_OK) bfv_job_fail(&j->lock, &j->st, &j->err, st, &err);
}

cg_status cg_bfv_expand(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk, const cg_bfv_ct *ct,
                        size_t count, cg_bfv_ct *outs, cg_error *err)
{
    const size_t n = c->n, L = c->nq, w = L * n;
    if (!ct || !ct->data || ct->size != 2 || ct->level != L)
        return cg_error_set(err, CG_ERR_STATE, "expansion needs a top-level size-2 ciphertext");
    if (count == 0 || count > n) return cg_error_set(err, CG_ERR_ARG, "expansion into %zu", count);
    const unsigned e = cg_bfv_expand_levels(count);
    for (unsigned j = 0; j < e; j++)
        if (!bfv_find_key(gk, (uint32_t)((n >> j) + 1)))
            return cg_error_set(err, CG_ERR_STATE, "no Galois key for expansion level %u", j);
    CG_TRY(cg_bfv_ct_copy(c, &outs[0], ct, err));
    outs[0].seeded = false;
    CG_TRY(cg_bfv_to_ntt(c, &outs[0], err));
    bfv_ws ws;
    uint64_t *mono = bfv_ws_get(c, w, &ws);
    if (!mono) return cg_error_set(err, CG_ERR_NOMEM, "expansion");
    cg_status st = CG_OK;
    for (unsigned j = 0; j < e && st == CG_OK; j++) {
        const size_t step = (size_t)1 << j;
        /* X^(-step) = -X^(n - step), in NTT form */
        memset(mono, 0, w * sizeof(uint64_t));
        for (size_t i = 0; i < L; i++) mono[i * n + n - step] = c->mods[i].value - 1;
        cg_poly_ntt(c->ntt, L, mono, c->nthreads);
        level_job job = {.c = c, .g = (uint32_t)((n >> j) + 1), .step = step, .count = count,
                         .mono = mono, .outs = outs, .st = CG_OK};
        job.key = bfv_find_key(gk, job.g);
        pthread_mutex_init(&job.lock, NULL);
        const size_t nodes = step < count ? step : count;
        (void)cg_parallel_for(nodes > 1 ? c->nthreads : 1, nodes, level_range, &job);
        pthread_mutex_destroy(&job.lock);
        if (job.st != CG_OK) st = cg_error_set(err, job.st, "%s", job.err.msg);
    }
    bfv_ws_put(c, &ws, false);
    return st;
}

/* An expansion leaf holds its values at S k; a caller that wants them at
 * S k + m (a cache position) multiplies by X^m: a signed permutation of the
 * coefficients, so the noise bound is unchanged. */
cg_status cg_bfv_mul_monomial(const cg_bfv_ctx *c, cg_bfv_ct *ct, size_t m, cg_error *err)
{
    const size_t n = c->n;
    if (!ct || !ct->data || ct->level == 0 || ct->level > c->nq || m >= 2 * n)
        return cg_error_set(err, CG_ERR_ARG, "monomial X^%zu of an empty or bad ciphertext", m);
    if (m == 0) return CG_OK;
    const size_t L = ct->level, w = L * n;
    /* X^(n + r) = -X^r */
    const bool neg = m >= n;
    const size_t r = neg ? m - n : m;
    if (ct->ntt) {
        bfv_ws ws;
        uint64_t *mono = bfv_ws_get(c, w, &ws);
        if (!mono) return cg_error_set(err, CG_ERR_NOMEM, "monomial");
        memset(mono, 0, w * sizeof(uint64_t));
        for (size_t i = 0; i < L; i++) mono[i * n + r] = neg ? c->mods[i].value - 1 : 1;
        cg_poly_ntt(c->ntt, L, mono, c->nthreads);
        for (size_t k = 0; k < ct->size; k++) bfv_poly_mul(c, c->mods, L, ct->data + k * w, mono, ct->data + k * w);
        bfv_ws_put(c, &ws, false);
        ct->seeded = false;
        return CG_OK;
    }
    bfv_ws ws;
    uint64_t *tmp = bfv_ws_get(c, n, &ws);
    if (!tmp) return cg_error_set(err, CG_ERR_NOMEM, "monomial");
    for (size_t k = 0; k < ct->size; k++)
        for (size_t i = 0; i < L; i++) {
            uint64_t *p = ct->data + k * w + i * n;
            const uint64_t q = c->mods[i].value;
            /* coefficient j goes to j + r, negated when it passes n (and
             * once more when m >= n) */
            for (size_t j = 0; j < n; j++) {
                const size_t to = j + r;
                const bool flip = (to >= n) != neg;
                const uint64_t v = p[j];
                tmp[to >= n ? to - n : to] = flip && v ? q - v : v;
            }
            memcpy(p, tmp, n * sizeof *tmp);
        }
    bfv_ws_put(c, &ws, false);
    ct->seeded = false;
    return CG_OK;
}
