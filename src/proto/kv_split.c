/* The share-split KV cache (kv_split.h). */
#include <string.h>

#include "proto/kv_split.h"

static size_t shares_count(const kv_shares *sh) { return sh->layers * sh->heads * sh->max_blocks; }

static size_t block_words(const kv_shares *sh) { return sh->g.block * sh->g.head_dim; }

cg_status kv_shares_init(kv_shares *sh, const kv_layout *g, size_t layers, size_t heads,
                         size_t max_blocks, cg_error *err)
{
    memset(sh, 0, sizeof *sh);
    size_t lh, n;
    if (!cg_mul_size(layers, heads, &lh) || !cg_mul_size(lh, max_blocks, &n))
        return cg_error_set(err, CG_ERR_ARG, "KV shares of %zu x %zu x %zu blocks", layers, heads,
                            max_blocks);
    *sh = (kv_shares){.g = *g, .layers = layers, .heads = heads, .max_blocks = max_blocks};
    for (int k = 0; k < 2; k++) {
        sh->blk[k] = cg_calloc(n ? n : 1, sizeof *sh->blk[k]);
        sh->pt[k] = cg_calloc(n ? n : 1, sizeof *sh->pt[k]);
        sh->stale[k] = cg_calloc(n ? n : 1, sizeof *sh->stale[k]);
        if (!sh->blk[k] || !sh->pt[k] || !sh->stale[k]) {
            kv_shares_free(sh);
            return cg_error_set(err, CG_ERR_NOMEM, "KV shares");
        }
    }
    return CG_OK;
}

void kv_shares_free(kv_shares *sh)
{
    const size_t n = shares_count(sh);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; sh->blk[k] && i < n; i++) cg_free(sh->blk[k][i]); /* wipes */
        for (size_t i = 0; sh->pt[k] && i < n; i++) cg_bfv_plain_ntt_free(&sh->pt[k][i]);
        cg_free(sh->blk[k]);
        cg_free(sh->pt[k]);
        cg_free(sh->stale[k]);
    }
    memset(sh, 0, sizeof *sh);
}

static size_t shares_index(const kv_shares *sh, size_t layer, size_t head, size_t block)
{
    return (layer * sh->heads + head) * sh->max_blocks + block;
}

cg_status kv_shares_put(kv_shares *sh, kv_kind kind, size_t layer, size_t head, size_t pos,
                        const uint64_t *x, cg_error *err)
{
    const size_t block = kv_block_of(&sh->g, pos);
    if (layer >= sh->layers || head >= sh->heads || block >= sh->max_blocks)
        return cg_error_set(err, CG_ERR_INTERNAL, "share store outside the cache (position %zu)", pos);
    uint64_t **slot = &sh->blk[kind][shares_index(sh, layer, head, block)];
    if (!*slot) {
        *slot = cg_calloc(block_words(sh), sizeof **slot);
        if (!*slot) return cg_error_set(err, CG_ERR_NOMEM, "KV shares");
        sh->bytes += block_words(sh) * sizeof **slot;
    }
    memcpy(*slot + (pos % sh->g.block) * sh->g.head_dim, x, sh->g.head_dim * sizeof *x);
    sh->stale[kind][shares_index(sh, layer, head, block)] = 1;
    return CG_OK;
}

cg_status kv_shares_put_rows(kv_shares *sh, size_t layer, size_t pos0, size_t rows,
                             const uint64_t *qkv, cg_error *err)
{
    const size_t H = sh->heads, dh = sh->g.head_dim, d = H * dh;
    for (size_t i = 0; i < 2 * rows * H; i++) {
        const size_t r = i / (2 * H), h = (i / 2) % H, kind = i % 2;
        CG_TRY(kv_shares_put(sh, (kv_kind)kind, layer, h, pos0 + r, qkv + r * 3 * d + (kind + 1) * d + h * dh, err));
    }
    return CG_OK;
}

const uint64_t *kv_shares_block(const kv_shares *sh, kv_kind kind, size_t layer, size_t head,
                                size_t block)
{
    if (layer >= sh->layers || head >= sh->heads || block >= sh->max_blocks) return NULL;
    return sh->blk[kind][shares_index(sh, layer, head, block)];
}

void kv_split_local_scores(const kv_shares *sh, size_t layer, size_t head, const uint64_t *q,
                           size_t len, uint64_t mask, uint64_t *sc)
{
    const size_t B = sh->g.block, dh = sh->g.head_dim;
    for (size_t b = 0; b * B < len; b++) {
        const uint64_t *k = kv_shares_block(sh, KV_KEY, layer, head, b);
        for (size_t j = 0; k && j < B && b * B + j < len; j++) {
            uint64_t acc = 0; /* wraps mod 2^64, then mod 2^l: the same sum */
            for (size_t i = 0; i < dh; i++) acc += q[i] * k[j * dh + i];
            sc[b * B + j] = (sc[b * B + j] + acc) & mask;
        }
    }
}

void kv_split_local_output(const kv_shares *sh, size_t layer, size_t head, const uint64_t *p,
                           size_t len, uint64_t mask, uint64_t *o)
{
    const size_t B = sh->g.block, dh = sh->g.head_dim;
    for (size_t b = 0; b * B < len; b++) {
        const uint64_t *v = kv_shares_block(sh, KV_VALUE, layer, head, b);
        for (size_t j = 0; v && j < B && b * B + j < len; j++)
            for (size_t i = 0; i < dh; i++) o[i] += p[b * B + j] * v[j * dh + i];
    }
    for (size_t i = 0; i < dh; i++) o[i] &= mask;
}

/* ---- Server: plaintexts and products --------------------------------------- */

cg_status kv_scratch_init(kv_scratch *sc, const cg_bfv_ctx *he, size_t max, cg_error *err)
{
    *sc = (kv_scratch){.max = max};
    const size_t m = max ? max : 1;
    sc->co = cg_alloc(cg_bfv_n(he) * sizeof *sc->co);
    sc->ntt = cg_calloc(m, sizeof *sc->ntt);
    sc->cts = cg_calloc(2 * m, sizeof *sc->cts);
    sc->pts = cg_calloc(2 * m, sizeof *sc->pts);
    cg_status st = sc->co && sc->ntt && sc->cts && sc->pts ? cg_bfv_plain_alloc(he, &sc->pt, err)
                                                          : cg_error_set(err, CG_ERR_NOMEM, "split scratch");
    if (st != CG_OK) kv_scratch_free(sc);
    return st;
}

void kv_scratch_free(kv_scratch *sc)
{
    for (size_t i = 0; sc->ntt && i < sc->max; i++) cg_bfv_plain_ntt_free(&sc->ntt[i]);
    cg_free(sc->ntt);
    cg_free(sc->co);
    cg_free(sc->cts);
    cg_free(sc->pts);
    cg_bfv_plain_free(&sc->pt);
    cg_bfv_ct_free(&sc->t);
    memset(sc, 0, sizeof *sc);
}

cg_status kv_split_encode(const cg_bfv_ctx *he, unsigned l, const uint64_t *co, cg_bfv_plain *pt,
                          cg_bfv_plain_ntt *out, cg_error *err)
{
    /* shares are below 2^l <= 2^48: they read as non-negative int64 and the
     * encoder reduces them mod t = 2^l */
    CG_TRY(cg_bfv_encode_coeff(he, (const int64_t *)co, cg_bfv_n(he), pt, err));
    CG_TRY(cg_bfv_plain_to_ntt(he, pt, cg_bfv_nq(he), out, err));
    out->norm_log2 = (double)l - 1.0;
    return CG_OK;
}

cg_status kv_split_block_plain(kv_shares *sh, const cg_bfv_ctx *he, unsigned l, kv_kind kind,
                               size_t layer, size_t head, size_t block, kv_scratch *sc,
                               const cg_bfv_plain_ntt **out, cg_error *err)
{
    *out = NULL;
    if (layer >= sh->layers || head >= sh->heads || block >= sh->max_blocks)
        return cg_error_set(err, CG_ERR_INTERNAL, "share block outside the cache");
    const kv_layout *g = &sh->g;
    const size_t at = shares_index(sh, layer, head, block);
    cg_bfv_plain_ntt *p = &sh->pt[kind][at];
    if (p->data && !sh->stale[kind][at]) {
        *out = p;
        return CG_OK;
    }
    const uint64_t *x = sh->blk[kind][at];
    memset(sc->co, 0, g->n * sizeof *sc->co);
    for (size_t j = 0; x && j < g->block; j++) {
        const size_t pos = block * g->block + j;
        if (kind == KV_KEY) kv_place_key(g, pos, x + j * g->head_dim, sc->co);
        else kv_place_value(g, pos, x + j * g->head_dim, sc->co);
    }
    const bool fresh = p->data == NULL;
    CG_TRY(kv_split_encode(he, l, sc->co, &sc->pt, p, err));
    sh->stale[kind][at] = 0;
    /* threads encode distinct blocks; the byte count is the only shared
     * field, and a kept plaintext is counted once, when first made */
    if (fresh) __atomic_fetch_add(&sh->pt_bytes, (uint64_t)cg_bfv_nq(he) * g->n * 8, __ATOMIC_RELAXED);
    *out = p;
    return CG_OK;
}

cg_status kv_split_warm(kv_shares *sh, const cg_bfv_ctx *he, unsigned l, kv_kind kind,
                        size_t nblocks, cg_error *err)
{
    kv_scratch sc;
    CG_TRY(kv_scratch_init(&sc, he, 1, err));
    cg_status st = CG_OK;
    const size_t nb = nblocks < sh->max_blocks ? nblocks : sh->max_blocks;
    for (size_t i = 0; st == CG_OK && i < sh->layers * sh->heads * nb; i++) {
        const size_t lh = i / nb, b = i % nb;
        const cg_bfv_plain_ntt *p;
        if (kv_shares_block(sh, kind, lh / sh->heads, lh % sh->heads, b))
            st = kv_split_block_plain(sh, he, l, kind, lh / sh->heads, lh % sh->heads, b, &sc, &p, err);
    }
    kv_scratch_free(&sc);
    return st;
}

static const cg_bfv_ct *cache_ct(const kv_cache *c, kv_kind kind, size_t layer, size_t head,
                                 size_t block)
{
    if (layer >= c->layers || head >= c->heads || block >= c->max_blocks) return NULL;
    const cg_bfv_ct *ct = &c->ct[kind][kv_cache_index(c, layer, head, block)];
    return ct->data ? ct : NULL;
}

cg_status kv_split_scores(const kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t head,
                          size_t block, const cg_bfv_ct *q_c, const cg_bfv_plain_ntt *q_s,
                          const cg_bfv_plain_ntt *k_s, cg_bfv_ct *out, cg_error *err)
{
    const cg_bfv_ct *k_c = cache_ct(c, KV_KEY, layer, head, block);
    if (!k_c) return cg_error_set(err, CG_ERR_INTERNAL, "split scores outside the cache");
    const cg_bfv_ct *cts[2] = {q_c, k_c};
    const cg_bfv_plain_ntt *pts[2] = {k_s, q_s};
    return cg_bfv_mac_plain(he, cts, pts, 2, out, err);
}

cg_status kv_split_apply_probs(const kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t head,
                               size_t nblocks, const cg_bfv_ct *p_c, const cg_bfv_plain_ntt *p_s,
                               const cg_bfv_plain_ntt *const *v_s, kv_scratch *sc, cg_bfv_ct *out,
                               cg_error *err)
{
    if (nblocks == 0 || nblocks > sc->max)
        return cg_error_set(err, CG_ERR_INTERNAL, "split probabilities over %zu blocks", nblocks);
    for (size_t b = 0; b < nblocks; b++) {
        const cg_bfv_ct *v_c = cache_ct(c, KV_VALUE, layer, head, b);
        if (!v_c) return cg_error_set(err, CG_ERR_INTERNAL, "split probabilities outside the cache");
        sc->cts[2 * b] = &p_c[b];
        sc->pts[2 * b] = v_s[b];
        sc->cts[2 * b + 1] = v_c;
        sc->pts[2 * b + 1] = &p_s[b];
    }
    /* one fused sum: a single reduction per coefficient */
    return cg_bfv_mac_plain(he, sc->cts, sc->pts, 2 * nblocks, out, err);
}

/* ---- Decode's p.V with packed probabilities ---------------------------------- */

static size_t pack_cost(size_t nblocks, size_t p, size_t in, size_t out)
{
    return in * ((nblocks + p - 1) / p) + out * p;
}

size_t kv_split_pack(const kv_layout *g, size_t nblocks)
{
    const size_t bytes1 = pack_cost(nblocks, 1, KV_PACK_IN_BYTES, KV_PACK_OUT_BYTES);
    size_t best = 1, best_time = pack_cost(nblocks, 1, KV_PACK_IN_TIME, KV_PACK_OUT_TIME);
    for (size_t p = 2; p / 2 < nblocks; p *= 2) {
        /* p S | n for the V stride S (B, or T in the strided layout) */
        const size_t S = kv_value_stride(g);
        if (p > g->head_dim || p * S > g->n || g->n % (p * S)) break;
        const size_t t = pack_cost(nblocks, p, KV_PACK_IN_TIME, KV_PACK_OUT_TIME);
        /* ties: fewer outputs; never more bytes than the per-block layout */
        if (t < best_time && pack_cost(nblocks, p, KV_PACK_IN_BYTES, KV_PACK_OUT_BYTES) <= bytes1)
            best = p, best_time = t;
    }
    return best;
}

void kv_split_layout_packed(const kv_layout *g, size_t pack, size_t grp, const uint64_t *p,
                            size_t len, uint64_t *co)
{
    const size_t span = pack * g->block, pos0 = grp * span;
    memset(co, 0, g->n * sizeof *co);
    for (size_t j = 0; j < span && pos0 + j < len; j++) co[j] = p[pos0 + j];
}

void kv_split_take_packed(const kv_layout *g, size_t pack, size_t m, const uint64_t *prod,
                          uint64_t *o)
{
    for (size_t i = m; i < g->head_dim; i += pack) o[i] = prod[kv_output_coeff(g, i)];
}

void kv_split_keep_packed(const kv_layout *g, size_t pack, size_t m, uint8_t *used)
{
    for (size_t i = m; i < g->head_dim; i += pack) used[kv_output_coeff(g, i)] = 1;
}

cg_status kv_split_cache_output(const kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t head,
                                size_t nblocks, const cg_bfv_plain_ntt *p_s, kv_scratch *sc,
                                cg_bfv_ct *t, cg_error *err)
{
    if (nblocks == 0 || nblocks > sc->max)
        return cg_error_set(err, CG_ERR_INTERNAL, "split probabilities over %zu blocks", nblocks);
    for (size_t b = 0; b < nblocks; b++) {
        sc->cts[b] = cache_ct(c, KV_VALUE, layer, head, b);
        if (!sc->cts[b]) return cg_error_set(err, CG_ERR_INTERNAL, "split probabilities outside the cache");
        sc->pts[b] = &p_s[b];
    }
    return cg_bfv_mac_plain(he, sc->cts, sc->pts, nblocks, t, err);
}

/* W(grp, m) of kv_split.h into co (n values mod 2^l). */
static void packed_values(const kv_shares *sh, unsigned l, size_t layer, size_t head, size_t len,
                          size_t pack, size_t grp, size_t m, uint64_t *co)
{
    const kv_layout *g = &sh->g;
    const size_t span = pack * g->block, pos0 = grp * span, B = g->block;
    const uint64_t mask = l >= 64 ? ~0ull : (1ull << l) - 1;
    memset(co, 0, g->n * sizeof *co);
    for (size_t j = 0; j < span && pos0 + j < len; j++) {
        const uint64_t *v = kv_shares_block(sh, KV_VALUE, layer, head, (pos0 + j) / B);
        if (!v) continue; /* never written: zero */
        v += ((pos0 + j) % B) * g->head_dim;
        for (size_t i = m; i < g->head_dim; i += pack) {
            const size_t at = kv_output_coeff(g, i);
            if (at >= j) co[at - j] = v[i];
            else co[g->n + at - j] = (0 - v[i]) & mask; /* x^-k = -x^(n-k) */
        }
    }
}

cg_status kv_split_packed_output(const kv_shares *sh, const cg_bfv_ctx *he, unsigned l,
                                 size_t layer, size_t head, size_t len, size_t m,
                                 const cg_bfv_ct *p_c, const cg_bfv_ct *t, kv_scratch *sc,
                                 size_t first_pt, cg_bfv_ct *out, cg_error *err)
{
    const kv_layout *g = &sh->g;
    const size_t nb = kv_blocks_for(g, len), pack = kv_split_pack(g, nb);
    const size_t ni = kv_split_prob_cts(g, nb);
    if (nb == 0 || m >= pack || first_pt + ni > sc->max)
        return cg_error_set(err, CG_ERR_INTERNAL, "packed probabilities over %zu blocks", nb);
    for (size_t grp = 0; grp < ni; grp++) {
        packed_values(sh, l, layer, head, len, pack, grp, m, sc->co);
        CG_TRY(kv_split_encode(he, l, sc->co, &sc->pt, &sc->ntt[first_pt + grp], err));
        sc->cts[grp] = &p_c[grp];
        sc->pts[grp] = &sc->ntt[first_pt + grp];
    }
    CG_TRY(cg_bfv_mac_plain(he, sc->cts, sc->pts, ni, out, err));
    return cg_bfv_add_inplace(he, out, t, err);
}

cg_status kv_split_packed_row(const kv_cache *c, const kv_shares *sh, const cg_bfv_ctx *he,
                              unsigned l, size_t layer, size_t head, size_t len,
                              const uint64_t *p_s, cg_bfv_ct *p_c, kv_scratch *sc, cg_bfv_ct *out,
                              cg_error *err)
{
    const kv_layout *g = &sh->g;
    const size_t nb = kv_blocks_for(g, len), pack = kv_split_pack(g, nb);
    const size_t ni = kv_split_prob_cts(g, nb);
    if (nb == 0 || nb + ni > sc->max)
        return cg_error_set(err, CG_ERR_INTERNAL, "packed probabilities over %zu blocks", nb);
    for (size_t i = 0; i < ni; i++) CG_TRY(cg_bfv_to_ntt(he, &p_c[i], err));
    for (size_t b = 0; b < nb; b++) {
        kv_layout_probs(g, b, p_s, len, sc->co);
        CG_TRY(kv_split_encode(he, l, sc->co, &sc->pt, &sc->ntt[b], err));
    }
    CG_TRY(kv_split_cache_output(c, he, layer, head, nb, sc->ntt, sc, &sc->t, err));
    for (size_t m = 0; m < pack; m++)
        CG_TRY(kv_split_packed_output(sh, he, l, layer, head, len, m, p_c, &sc->t, sc, nb, &out[m], err));
    return CG_OK;
}

/* ---- Decode's p.V with expanded probabilities -------------------------------- */

void kv_pack_probs(const kv_layout *g, size_t a, size_t grp, const uint64_t *p, size_t len,
                   uint64_t *co)
{
    for (size_t j = 0; j < g->stride && grp * g->stride + j < len; j++)
        co[a + g->head_dim * j] = p[grp * g->stride + j];
}

/* The server's V share of group grp in the leaves' layout (kv_split.h). */
static void leaf_values(const kv_shares *sh, size_t layer, size_t head, size_t len, size_t grp,
                        uint64_t *co)
{
    const kv_layout *g = &sh->g;
    const size_t T = g->stride, dh = g->head_dim, B = g->block;
    memset(co, 0, g->n * sizeof *co);
    for (size_t j = 0; j < T && grp * T + j < len; j++) {
        const size_t pos = grp * T + j;
        const uint64_t *v = kv_shares_block(sh, KV_VALUE, layer, head, pos / B);
        if (!v) continue; /* never written: zero */
        v += (pos % B) * dh;
        for (size_t i = 0; i < dh; i++) {
            if (j == 0) co[i] = v[i];
            else co[g->n + i - dh * j] = (0 - v[i]) & g->mask; /* x^-k = -x^(n-k) */
        }
    }
}

cg_status kv_split_leaf_row(const kv_cache *c, const kv_shares *sh, const cg_bfv_ctx *he, unsigned l,
                            size_t layer, size_t head, size_t len, const uint64_t *p_s,
                            const cg_bfv_ct *p_c, kv_scratch *sc, cg_bfv_ct *out, cg_error *err)
{
    const kv_layout *g = &sh->g;
    const size_t nb = kv_blocks_for(g, len), ng = g->stride ? kv_split_leaf_groups(g, len) : 0;
    if (nb == 0 || ng == 0 || nb + ng > sc->max)
        return cg_error_set(err, CG_ERR_INTERNAL, "expanded probabilities over %zu blocks", nb);
    for (size_t b = 0; b < nb; b++) {
        kv_layout_probs(g, b, p_s, len, sc->co);
        CG_TRY(kv_split_encode(he, l, sc->co, &sc->pt, &sc->ntt[b], err));
    }
    CG_TRY(kv_split_cache_output(c, he, layer, head, nb, sc->ntt, sc, &out[1], err));
    for (size_t grp = 0; grp < ng; grp++) {
        leaf_values(sh, layer, head, len, grp, sc->co);
        CG_TRY(kv_split_encode(he, l, sc->co, &sc->pt, &sc->ntt[nb + grp], err));
        sc->cts[grp] = &p_c[grp];
        sc->pts[grp] = &sc->ntt[nb + grp];
    }
    return cg_bfv_mac_plain(he, sc->cts, sc->pts, ng, &out[0], err);
}
