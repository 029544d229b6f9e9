/* The share-split KV cache (attention kind CG_ATTN_SPLIT, PROTOCOL.md):
 * every cached k and v is a pair of additive shares mod 2^l. Each party
 * keeps its own share in the clear here (kv_shares); the server also keeps
 * Enc(client's share) in the kv_cache blocks (NTT form, additions only).
 * With x = x_c + x_s for the query (or probabilities) and K = K_c + K_s:
 *   x.K = x_c.K_c            client, local
 *       + x_s.K_s            server, local
 *       + Enc(x_c) * pt(K_s) + Enc(K_c) * pt(x_s)   server, ct x pt only,
 *                            masked and flooded, decrypted by the client.
 * The products use kv_cache.h's coefficient layout, so one ct x pt gives a
 * whole block's positions (scores) or dimensions (outputs). */
#ifndef CG_PROTO_KV_SPLIT_H
#define CG_PROTO_KV_SPLIT_H

#include "proto/kv_cache.h"

/* One party's plaintext shares: per (kind, layer, head, block), B x d_head
 * words (position-major), allocated on the block's first write, wiped and
 * freed with the session. */
typedef struct kv_shares {
    kv_layout g;
    size_t layers, heads, max_blocks;
    uint64_t **blk[2]; /* [kind][(layer * heads + head) * max_blocks + block] */
    uint64_t bytes;    /* allocated so far */
} kv_shares;

cg_status kv_shares_init(kv_shares *sh, const kv_layout *g, size_t layers, size_t heads,
                         size_t max_blocks, cg_error *err);
void kv_shares_free(kv_shares *sh);
/* Stores x[0..d_head) as the share of position pos. */
cg_status kv_shares_put(kv_shares *sh, kv_kind kind, size_t layer, size_t head, size_t pos,
                        const uint64_t *x, cg_error *err);
/* The block's words (B x d_head, position-major), or NULL if never written
 * (all zero). */
const uint64_t *kv_shares_block(const kv_shares *sh, kv_kind kind, size_t layer, size_t head,
                                size_t block);

/* Adds this party's local term to its share of the scores of one (row,
 * head): sc[pos] += sum_i q[i] K[pos][i] for pos < len (mask: 2^l - 1). */
void kv_split_local_scores(const kv_shares *sh, size_t layer, size_t head, const uint64_t *q,
                           size_t len, uint64_t mask, uint64_t *sc);
/* o[i] += sum_{pos < len} p[pos] V[pos][i]. */
void kv_split_local_output(const kv_shares *sh, size_t layer, size_t head, const uint64_t *p,
                           size_t len, uint64_t mask, uint64_t *o);

/* ---- Server: plaintexts and products --------------------------------------- */

/* A share layout co (n values mod 2^l) as an NTT-form plaintext at the top
 * level; its norm is the public bound 2^(l-1), so no noise estimate, and
 * nothing the server sends, depends on the share's values. */
cg_status kv_split_encode(const cg_bfv_ctx *he, unsigned l, const uint64_t *co,
                          cg_bfv_plain_ntt *out, cg_error *err);
/* The server's share of block `block` of (kind, layer, head) in its cache
 * layout (kv_place_key / kv_place_value), encoded as above; co is n words
 * of scratch. */
cg_status kv_split_encode_block(const kv_shares *sh, const cg_bfv_ctx *he, unsigned l,
                                kv_kind kind, size_t layer, size_t head, size_t block,
                                uint64_t *co, cg_bfv_plain_ntt *out, cg_error *err);
/* out = Enc(q_c) * K_s-block + Enc(K_c-block) * q_s: the cross terms of the
 * block's scores at kv_score_coeff. q_c in NTT form. */
cg_status kv_split_scores(const kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t head,
                          size_t block, const cg_bfv_ct *q_c, const cg_bfv_plain_ntt *q_s,
                          const cg_bfv_plain_ntt *k_s, cg_bfv_ct *out, cg_error *err);
/* out = sum over blocks b < nblocks of Enc(p_c[b]) * V_s[b] + Enc(V_c[b]) *
 * p_s[b]: the cross terms of the head's output at kv_output_coeff; p_c in
 * NTT form. */
cg_status kv_split_apply_probs(const kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t head,
                               size_t nblocks, const cg_bfv_ct *p_c, const cg_bfv_plain_ntt *p_s,
                               const cg_bfv_plain_ntt *v_s, cg_bfv_ct *out, cg_error *err);

#endif
