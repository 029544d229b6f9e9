/* The encrypted KV cache and its coefficient layout (kv_cache.h). */
#include <string.h>

#include "proto/kv_cache.h"

cg_status kv_layout_init(kv_layout *g, size_t n, size_t head_dim, size_t block, cg_error *err)
{
    if (head_dim == 0 || head_dim > n || n % head_dim != 0)
        return cg_error_set(err, CG_ERR_PARAM, "head size %zu does not divide n = %zu", head_dim, n);
    const size_t most = n / head_dim;
    if (block > most)
        return cg_error_set(err, CG_ERR_PARAM, "%zu positions per cache ciphertext, at most %zu fit",
                            block, most);
    *g = (kv_layout){.n = n, .head_dim = head_dim, .block = block ? block : most};
    return CG_OK;
}

void kv_layout_strided(kv_layout *g, unsigned l)
{
    g->stride = g->n / g->head_dim;
    g->mask = l >= 64 ? ~0ull : (1ull << l) - 1;
}

void kv_place_key(const kv_layout *g, size_t pos, const uint64_t *k, uint64_t *co)
{
    const size_t j = pos % g->block;
    for (size_t i = 0; i < g->head_dim; i++) co[kv_key_coeff(g, j, i)] = k[i];
}

void kv_place_value(const kv_layout *g, size_t pos, const uint64_t *v, uint64_t *co)
{
    const size_t j = pos % g->block;
    for (size_t i = 0; i < g->head_dim; i++) co[kv_value_coeff(g, j, i)] = v[i];
}

void kv_pack_leaf(const kv_layout *g, size_t a, const uint64_t *x, uint64_t *co)
{
    for (size_t i = 0; i < g->head_dim; i++) co[a + kv_leaf_coeff(g, i)] = x[i];
}

void kv_pack_query(const kv_layout *g, size_t a, const uint64_t *q, uint64_t *co)
{
    /* x^(-T i) = -x^(n - T i) */
    co[a] = q[0];
    for (size_t i = 1; i < g->head_dim; i++) co[a + g->n - g->stride * i] = (0 - q[i]) & g->mask;
}

void kv_layout_query(const kv_layout *g, const uint64_t *q, uint64_t *co)
{
    memset(co, 0, g->n * sizeof *co);
    if (g->stride) {
        kv_pack_query(g, 0, q, co);
        return;
    }
    for (size_t i = 0; i < g->head_dim; i++) co[kv_query_coeff(g, i)] = q[i];
}

void kv_layout_probs(const kv_layout *g, size_t block, const uint64_t *p, size_t len, uint64_t *co)
{
    memset(co, 0, g->n * sizeof *co);
    for (size_t j = 0; j < g->block && block * g->block + j < len; j++)
        co[kv_prob_coeff(g, j)] = p[block * g->block + j];
}

void kv_take_scores(const kv_layout *g, size_t block, size_t len, const uint64_t *prod,
                    uint64_t *scores)
{
    for (size_t j = 0; j < g->block && block * g->block + j < len; j++)
        scores[block * g->block + j] = prod[kv_score_coeff(g, j)];
}

void kv_take_output(const kv_layout *g, const uint64_t *prod, uint64_t *o)
{
    for (size_t i = 0; i < g->head_dim; i++) o[i] = prod[kv_output_coeff(g, i)];
}

/* ---- The server's ciphertexts ------------------------------------------- */

static size_t cache_count(const kv_cache *c) { return c->layers * c->heads * c->max_blocks; }

cg_status kv_cache_init(kv_cache *c, const kv_layout *g, size_t layers, size_t heads,
                        size_t max_blocks, cg_error *err)
{
    memset(c, 0, sizeof *c);
    size_t lh, n;
    if (!cg_mul_size(layers, heads, &lh) || !cg_mul_size(lh, max_blocks, &n))
        return cg_error_set(err, CG_ERR_ARG, "KV cache of %zu x %zu x %zu blocks", layers, heads,
                            max_blocks);
    *c = (kv_cache){.g = *g, .layers = layers, .heads = heads, .max_blocks = max_blocks};
    for (int k = 0; k < 2; k++) {
        c->ct[k] = cg_calloc(n, sizeof *c->ct[k]);
        c->appends[k] = cg_calloc(n, sizeof *c->appends[k]);
        if (!c->ct[k] || !c->appends[k]) {
            kv_cache_free(c);
            return cg_error_set(err, CG_ERR_NOMEM, "KV cache");
        }
    }
    return CG_OK;
}

void kv_cache_clear(kv_cache *c)
{
    const size_t n = cache_count(c);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; c->ct[k] && i < n; i++) cg_bfv_ct_free(&c->ct[k][i]);
        if (c->appends[k]) memset(c->appends[k], 0, n * sizeof *c->appends[k]);
    }
}

void kv_cache_free(kv_cache *c)
{
    kv_cache_clear(c);
    for (int k = 0; k < 2; k++) {
        cg_free(c->ct[k]);
        cg_free(c->appends[k]);
    }
    memset(c, 0, sizeof *c);
}

size_t kv_cache_index(const kv_cache *c, size_t layer, size_t head, size_t block)
{
    return (layer * c->heads + head) * c->max_blocks + block;
}

cg_bfv_ct *kv_cache_at(kv_cache *c, kv_ref r)
{
    return &c->ct[r.kind][kv_cache_index(c, r.layer, r.head, r.block)];
}

static bool in_range(const kv_cache *c, size_t layer, size_t head, size_t block)
{
    return layer < c->layers && head < c->heads && block < c->max_blocks;
}

cg_status kv_cache_append(kv_cache *c, const cg_bfv_ctx *he, kv_kind kind, size_t layer,
                          size_t head, size_t pos, cg_bfv_ct *ct, cg_error *err)
{
    const size_t block = kv_block_of(&c->g, pos);
    if (!in_range(c, layer, head, block))
        return cg_error_set(err, CG_ERR_INTERNAL, "cache append outside the cache (position %zu)", pos);
    const size_t i = kv_cache_index(c, layer, head, block);
    cg_bfv_ct *slot = &c->ct[kind][i];
    if (slot->data) {
        CG_TRY(cg_bfv_add(he, slot, ct, slot, err));
    } else {
        *slot = *ct;
        memset(ct, 0, sizeof *ct);
    }
    c->appends[kind][i]++;
    return CG_OK;
}

cg_status kv_cache_scores(const kv_cache *c, const cg_bfv_ctx *he, const cg_bfv_ksk *rk,
                          size_t layer, size_t head, size_t block, const cg_bfv_ct *query,
                          cg_bfv_ct *out, cg_error *err)
{
    if (!in_range(c, layer, head, block))
        return cg_error_set(err, CG_ERR_INTERNAL, "scores outside the cache");
    CG_TRY(cg_bfv_multiply(he, &c->ct[KV_KEY][kv_cache_index(c, layer, head, block)], query, out, err));
    return cg_bfv_relinearize(he, rk, out, err);
}

cg_status kv_cache_apply_probs(const kv_cache *c, const cg_bfv_ctx *he, const cg_bfv_ksk *rk,
                               size_t layer, size_t head, size_t nblocks,
                               const cg_bfv_ct *probs, cg_bfv_ct *out, cg_error *err)
{
    if (nblocks == 0 || !in_range(c, layer, head, nblocks - 1))
        return cg_error_set(err, CG_ERR_INTERNAL, "probabilities outside the cache");
    const cg_bfv_ct *v = &c->ct[KV_VALUE][kv_cache_index(c, layer, head, 0)];
    cg_bfv_ct prod = {0};
    cg_status st = cg_bfv_multiply(he, &v[0], &probs[0], out, err);
    for (size_t b = 1; st == CG_OK && b < nblocks; b++) {
        st = cg_bfv_multiply(he, &v[b], &probs[b], &prod, err);
        if (st == CG_OK) st = cg_bfv_add(he, out, &prod, out, err);
    }
    cg_bfv_ct_free(&prod);
    /* the products are summed before the one relinearisation */
    return st == CG_OK ? cg_bfv_relinearize(he, rk, out, err) : st;
}

size_t kv_cache_due(kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t nblocks,
                    uint32_t refresh_every, double min_budget, kv_ref *due, size_t cap)
{
    size_t n = 0;
    if (layer >= c->layers) return 0;
    if (nblocks > c->max_blocks) nblocks = c->max_blocks;
    for (size_t h = 0; h < c->heads; h++)
        for (size_t b = 0; b < nblocks; b++)
            for (int k = 0; k < 2 && n < cap; k++) {
                const size_t i = kv_cache_index(c, layer, h, b);
                const cg_bfv_ct *ct = &c->ct[k][i];
                if (!ct->data) continue;
                bool is_due = refresh_every ? c->appends[k][i] >= refresh_every
                                            : cg_bfv_noise_budget_estimate(he, ct) < min_budget;
                if (is_due) due[n++] = (kv_ref){.kind = (kv_kind)k, .layer = layer, .head = h, .block = b};
            }
    return n;
}

void kv_cache_replace(kv_cache *c, kv_ref r, cg_bfv_ct *fresh)
{
    const size_t i = kv_cache_index(c, r.layer, r.head, r.block);
    cg_bfv_ct_free(&c->ct[r.kind][i]);
    c->ct[r.kind][i] = *fresh;
    memset(fresh, 0, sizeof *fresh);
    c->appends[r.kind][i] = 0;
}

void kv_cache_usage(const kv_cache *c, uint64_t *cts, uint64_t *bytes)
{
    *cts = *bytes = 0;
    const size_t n = cache_count(c);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; c->ct[k] && i < n; i++) {
            const cg_bfv_ct *ct = &c->ct[k][i];
            if (!ct->data) continue;
            (*cts)++;
            *bytes += (uint64_t)ct->size * ct->level * c->g.n * sizeof(uint64_t);
        }
}
