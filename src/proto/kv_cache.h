/* The encrypted KV cache: the server's per-layer, per-head K and V blocks,
 * each one BFV ciphertext (t = 2^l, coefficient encoding) under the
 * client's key, and the coefficient layout both parties use to put shares
 * into it and take results out of its products.
 *
 * Layout of one head, B positions per block (B <= n / d_head), j = the
 * position's index inside its block, i < d_head:
 *   K block       k_j[i]  at x^(j d_head + i)
 *   query         q[i]    at x^(d_head - 1 - i)
 *   K x query     score_j at x^(j d_head + d_head - 1)
 *   V block       v_j[i]  at x^(i B + B - 1 - j)
 *   probabilities p_j     at x^j
 *   V x probs     o[i]    at x^(i B + B - 1)
 * A read coefficient collects exactly the terms of its dot product: another
 * pair of indices would need |(j - j') d_head| = |i - i'| < d_head (so
 * j = j', i = i'), and the negacyclic wrap only reaches coefficients below
 * d_head - 1 (K) or B - 1 (V), under every coefficient that is read.
 *
 * The strided layout (split attention with packed client inputs, PROTOCOL.md
 * "Packed attention inputs"): T = n / d_head, a power of two >= B, and
 *   K block       k_j[i]  at x^(j + T i)
 *   query         q[i]    at x^(-T i)        (-x^(n - T i) for i > 0)
 *   K x query     score_j at x^j
 *   V block       v_j[i]  at x^(i T + T - 1 - j)
 *   probabilities p_j     at x^j
 *   V x probs     o[i]    at x^(i T + T - 1)
 * Every client vector then sits at multiples of T, which is what the
 * server's expansion of a packed ciphertext leaves (a "leaf": value i at
 * x^(T i)); a K or V leaf becomes the block's layout by a monomial shift,
 * x^j or x^(T - 1 - j), and the query leaf is the layout itself. K x query:
 * another pair gives j + T (i - i'), i != i', which is >= T >= B, or below
 * zero and wraps to n + j - T |i - i'| >= T (T d_head = n); V x probs is
 * the layout above with B replaced by T (|j - j'| < B <= T). */
#ifndef CG_PROTO_KV_CACHE_H
#define CG_PROTO_KV_CACHE_H

#include "cryptogen/bfv.h"

/* The geometry of one head's blocks. */
typedef struct kv_layout {
    size_t n;        /* ring degree */
    size_t head_dim; /* d_head */
    size_t block;    /* positions per ciphertext, B */
    size_t stride;   /* 0: the first layout above; else T of the strided one */
    uint64_t mask;   /* strided: 2^l - 1, for the query's negated values */
} kv_layout;

/* Whether (n, head_dim, block) is a layout; 0 for block means the most
 * that fit (n / head_dim). The message says what is wrong. */
cg_status kv_layout_init(kv_layout *g, size_t n, size_t head_dim, size_t block, cg_error *err);
/* Switches g to the strided layout (T = n / head_dim) for shares mod 2^l. */
void kv_layout_strided(kv_layout *g, unsigned l);
/* The V blocks' stride: T, or B in the first layout. */
static inline size_t kv_value_stride(const kv_layout *g) { return g->stride ? g->stride : g->block; }

/* Index maps (the table above). */
static inline size_t kv_block_of(const kv_layout *g, size_t pos) { return pos / g->block; }
static inline size_t kv_blocks_for(const kv_layout *g, size_t len)
{
    return (len + g->block - 1) / g->block;
}
static inline size_t kv_key_coeff(const kv_layout *g, size_t j, size_t i)
{
    return g->stride ? j + g->stride * i : j * g->head_dim + i;
}
static inline size_t kv_value_coeff(const kv_layout *g, size_t j, size_t i)
{
    const size_t S = kv_value_stride(g);
    return i * S + S - 1 - j;
}
/* The first layout only (the strided query is negated past x^0). */
static inline size_t kv_query_coeff(const kv_layout *g, size_t i) { return g->head_dim - 1 - i; }
static inline size_t kv_score_coeff(const kv_layout *g, size_t j)
{
    return g->stride ? j : j * g->head_dim + g->head_dim - 1;
}
static inline size_t kv_prob_coeff(const kv_layout *g, size_t j) { (void)g; return j; }
static inline size_t kv_output_coeff(const kv_layout *g, size_t i)
{
    const size_t S = kv_value_stride(g);
    return i * S + S - 1;
}
/* Strided layout: where an expansion leaf holds value i (x^(T i)), and the
 * shift X^m that makes a K or V leaf of position pos its block's layout. */
static inline size_t kv_leaf_coeff(const kv_layout *g, size_t i) { return g->stride * i; }
static inline size_t kv_leaf_shift(const kv_layout *g, int kind, size_t pos)
{
    return kind == 0 ? pos % g->block : g->stride - 1 - pos % g->block;
}

/* Writers into a coefficient vector co of n values (mod 2^l, as shares
 * are). place_* write only their own coefficients, so several positions
 * can share one vector (the caller zeroes it first); the others zero co. */
void kv_place_key(const kv_layout *g, size_t pos, const uint64_t *k, uint64_t *co);
void kv_place_value(const kv_layout *g, size_t pos, const uint64_t *v, uint64_t *co);
void kv_layout_query(const kv_layout *g, const uint64_t *q, uint64_t *co);
/* Strided layout, a client's packed ciphertext (chunk a at a + T k): adds
 * chunk a's leaf to co, x[i] at a + T i (K or V of one position and head),
 * or the query's layout shifted by a. */
void kv_pack_leaf(const kv_layout *g, size_t a, const uint64_t *x, uint64_t *co);
void kv_pack_query(const kv_layout *g, size_t a, const uint64_t *q, uint64_t *co);
/* p[pos] for the positions of `block` below len (the causal row length). */
void kv_layout_probs(const kv_layout *g, size_t block, const uint64_t *p, size_t len, uint64_t *co);
/* Readers of a decrypted or masked product: scores[pos] for the positions
 * of `block` below len, and o[i] for i < head_dim. */
void kv_take_scores(const kv_layout *g, size_t block, size_t len, const uint64_t *prod,
                    uint64_t *scores);
void kv_take_output(const kv_layout *g, const uint64_t *prod, uint64_t *o);

/* ---- The server's ciphertexts ------------------------------------------- */

typedef enum kv_kind { KV_KEY = 0, KV_VALUE = 1 } kv_kind;

/* One ciphertext of the cache. */
typedef struct kv_ref {
    kv_kind kind;
    size_t layer, head, block;
} kv_ref;

typedef struct kv_cache {
    kv_layout g;
    size_t layers, heads, max_blocks;
    cg_bfv_ct *ct[2];        /* [kind][(layer * heads + head) * max_blocks + block] */
    uint32_t *appends[2];    /* additions since the block was written fresh */
} kv_cache;

/* Room for positions [0, max_blocks * B) of every layer and head; empty. */
cg_status kv_cache_init(kv_cache *c, const kv_layout *g, size_t layers, size_t heads,
                        size_t max_blocks, cg_error *err);
void kv_cache_free(kv_cache *c);
/* Empties every block (the baseline's fresh start of each step). */
void kv_cache_clear(kv_cache *c);
/* Position of a block in the [layer][head][block] arrays. */
size_t kv_cache_index(const kv_cache *c, size_t layer, size_t head, size_t block);
cg_bfv_ct *kv_cache_at(kv_cache *c, kv_ref r);

/* Adds ct, an encryption of a layout holding only position pos of (layer,
 * head), into its block; a block's first position moves ct in (ct is left
 * empty). */
cg_status kv_cache_append(kv_cache *c, const cg_bfv_ctx *he, kv_kind kind, size_t layer,
                          size_t head, size_t pos, cg_bfv_ct *ct, cg_error *err);
/* out = K block x query, relinearised: the scores of the block's positions
 * at kv_score_coeff. */
cg_status kv_cache_scores(const kv_cache *c, const cg_bfv_ctx *he, const cg_bfv_ksk *rk,
                          size_t layer, size_t head, size_t block, const cg_bfv_ct *query,
                          cg_bfv_ct *out, cg_error *err);
/* out = sum over blocks b < nblocks of V block b x probs[b], relinearised
 * once: the head's output at kv_output_coeff. */
cg_status kv_cache_apply_probs(const kv_cache *c, const cg_bfv_ctx *he, const cg_bfv_ksk *rk,
                               size_t layer, size_t head, size_t nblocks,
                               const cg_bfv_ct *probs, cg_bfv_ct *out, cg_error *err);
/* The blocks of `layer` below nblocks that need a refresh, in (head, block,
 * kind) order, at most cap of them: after refresh_every appends when that
 * is non-zero, else when the noise estimate leaves less than min_budget
 * bits. Returns the count. */
size_t kv_cache_due(kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t nblocks,
                    uint32_t refresh_every, double min_budget, kv_ref *due, size_t cap);
/* Puts a fresh ciphertext in place of r's (moved in, fresh left empty). */
void kv_cache_replace(kv_cache *c, kv_ref r, cg_bfv_ct *fresh);
/* Ciphertexts held and their size in bytes (as stored, all primes). */
void kv_cache_usage(const kv_cache *c, uint64_t *cts, uint64_t *bytes);

#endif
