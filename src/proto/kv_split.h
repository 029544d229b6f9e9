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
    /* Server: each block's share as a top-level NTT plaintext, kept across
     * steps and encoded again only when an append has changed the block
     * (stale): a step re-encodes its last block, not all of them. */
    cg_bfv_plain_ntt *pt[2];
    uint8_t *stale[2];
    uint64_t bytes;    /* share words allocated so far */
    uint64_t pt_bytes; /* kept plaintexts (server) */
} kv_shares;

cg_status kv_shares_init(kv_shares *sh, const kv_layout *g, size_t layers, size_t heads,
                         size_t max_blocks, cg_error *err);
void kv_shares_free(kv_shares *sh);
/* Stores x[0..d_head) as the share of position pos. */
cg_status kv_shares_put(kv_shares *sh, kv_kind kind, size_t layer, size_t head, size_t pos,
                        const uint64_t *x, cg_error *err);
/* The k and v of `rows` rows from pos0, every head: row r's shares at
 * qkv + r 3 d (q, k, v; d = heads x d_head). */
cg_status kv_shares_put_rows(kv_shares *sh, size_t layer, size_t pos0, size_t rows,
                             const uint64_t *qkv, cg_error *err);
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

/* One thread's scratch for the server's encodings, reused over its items
 * and steps' worth of products without allocating: a coefficient vector, a
 * plaintext, up to `max` NTT plaintexts (buffers kept) and the pointer
 * arrays of a multiply-accumulate over 2 max terms. */
typedef struct kv_scratch {
    uint64_t *co;
    cg_bfv_plain pt;
    cg_bfv_plain_ntt *ntt;
    const cg_bfv_ct **cts;
    const cg_bfv_plain_ntt **pts;
    size_t max;
    cg_bfv_ct t; /* packed p.V: the cache's cross term, added to every output */
} kv_scratch;

cg_status kv_scratch_init(kv_scratch *sc, const cg_bfv_ctx *he, size_t max, cg_error *err);
void kv_scratch_free(kv_scratch *sc); /* wipes: the server's shares */

/* A share layout co (n values mod 2^l) as an NTT-form plaintext at the top
 * level, into out's buffer when it has one; its norm is the public bound
 * 2^(l-1), so no noise estimate, and nothing the server sends, depends on
 * the share's values. pt is scratch. */
cg_status kv_split_encode(const cg_bfv_ctx *he, unsigned l, const uint64_t *co, cg_bfv_plain *pt,
                          cg_bfv_plain_ntt *out, cg_error *err);
/* The server's share of block `block` of (kind, layer, head) in its cache
 * layout (kv_place_key / kv_place_value), encoded as above and kept in sh
 * until an append changes the block. Distinct blocks may be asked for from
 * different threads at once. */
cg_status kv_split_block_plain(kv_shares *sh, const cg_bfv_ctx *he, unsigned l, kv_kind kind,
                               size_t layer, size_t head, size_t block, kv_scratch *sc,
                               const cg_bfv_plain_ntt **out, cg_error *err);
/* Every started block below nblocks of `kind`, all layers and heads, as
 * kv_split_block_plain keeps it (the benchmark's fill: the state the steps
 * before would have left, where a step encodes only its changed block). */
cg_status kv_split_warm(kv_shares *sh, const cg_bfv_ctx *he, unsigned l, kv_kind kind,
                        size_t nblocks, cg_error *err);
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
                               const cg_bfv_plain_ntt *const *v_s, kv_scratch *sc, cg_bfv_ct *out,
                               cg_error *err);

/* ---- Decode's p.V with packed probabilities (PROTOCOL.md, "Packed
 * probabilities") ------------------------------------------------------------
 * One row over nb blocks: the client's probabilities for P = pack blocks go
 * in one ciphertext, p[pos] at x^(pos - g P B) for group g = pos / (P B),
 * instead of one ciphertext per block (1.6 % dense at B = 128). The server
 * lays its V share out per group g and output m < P as W(g, m):
 *   v_pos[i] at x^(i B + B - 1 - (pos - g P B))   for i = m (mod P),
 * negated where the index wraps below zero (x^-k = -x^(n-k)), so that
 * Enc(P_g) x W(g, m) holds o[i] for i = m (mod P) at kv_output_coeff: two
 * entries with i = i' (mod P) meet only if (i - i') B = (pos - pos') mod n
 * with |pos - pos'| < P B, and P B divides n, so only i = i', pos = pos'.
 * Output m = sum_g Enc(P_g) x W(g, m) + T, T = sum_b Enc(V_c b) x p_s b the
 * cache's cross term in its own layout (correct at every output coefficient),
 * computed once and added to each of the P outputs (P = 1: the per-block
 * layout above). In the strided layout (kv_cache.h) the V stride is T, not
 * B: read i T + T - 1 for i B + B - 1 above, and P T for P B where it
 * divides n (|pos - pos'| < P B <= P T keeps the argument). P outputs are returned instead of one, ceil(nb / P) inputs
 * are received instead of nb. */
size_t kv_split_pack(const kv_layout *g, size_t nblocks);
/* The pack chosen is the power of two P (P S dividing n, S the V stride,
 * P <= d_head, P < 2 nb) with the least time: ceil(nb / P) fresh inputs at IN_TIME plus P
 * outputs at OUT_TIME (measured per ciphertext, both parties: an input is
 * the client's encryption and the server's parse and transform, ~1.5 ms; an
 * output is its W layouts and product, the server's mask and flood and the
 * client's decryption, ~2.3 ms), among those whose bytes (a fresh input
 * ~180 KB, an extracted output ~52 KB) do not exceed P = 1's, so bytes per
 * token never grow. GPT-2 base: P = 1, 1, 1, 2, 2.. for nb = 1, 2, 3, 4, 5... */
#define KV_PACK_IN_TIME 2u
#define KV_PACK_OUT_TIME 3u
#define KV_PACK_IN_BYTES 7u
#define KV_PACK_OUT_BYTES 2u
/* Input ciphertexts of one row's probabilities: ceil(nb / pack). */
static inline size_t kv_split_prob_cts(const kv_layout *g, size_t nblocks)
{
    const size_t p = kv_split_pack(g, nblocks);
    return (nblocks + p - 1) / p;
}
/* Client: group grp of the row's probabilities p[pos], pos < len. */
void kv_split_layout_packed(const kv_layout *g, size_t pack, size_t grp, const uint64_t *p,
                            size_t len, uint64_t *co);
/* Output m's dimensions (i = m mod pack) from a decrypted or masked product
 * into o, and the coefficients they are read at. */
void kv_split_take_packed(const kv_layout *g, size_t pack, size_t m, const uint64_t *prod,
                          uint64_t *o);
void kv_split_keep_packed(const kv_layout *g, size_t pack, size_t m, uint8_t *used);
/* Server: t = sum over blocks b < nblocks of Enc(V_c b) x p_s[b] (NTT form). */
cg_status kv_split_cache_output(const kv_cache *c, const cg_bfv_ctx *he, size_t layer, size_t head,
                                size_t nblocks, const cg_bfv_plain_ntt *p_s, kv_scratch *sc,
                                cg_bfv_ct *t, cg_error *err);
/* Server: output m of one row of (layer, head) over positions < len:
 * out = sum_g Enc(p_c[g]) x W(g, m) + t (all NTT form; p_c: the row's
 * kv_split_prob_cts inputs). W(g, m) is encoded from the server's V share
 * into sc->ntt[first_pt + g], at the public norm bound. */
cg_status kv_split_packed_output(const kv_shares *sh, const cg_bfv_ctx *he, unsigned l,
                                 size_t layer, size_t head, size_t len, size_t m,
                                 const cg_bfv_ct *p_c, const cg_bfv_ct *t, kv_scratch *sc,
                                 size_t first_pt, cg_bfv_ct *out, cg_error *err);
/* Server: one row's outputs out[0 .. pack): T = kv_split_cache_output over
 * its server probabilities p_s (the row's shares, positions < len) once,
 * then each kv_split_packed_output; p_c in coefficient form (moved to NTT
 * here). sc: kv_scratch_init(nb + kv_split_prob_cts). */
cg_status kv_split_packed_row(const kv_cache *c, const kv_shares *sh, const cg_bfv_ctx *he,
                              unsigned l, size_t layer, size_t head, size_t len,
                              const uint64_t *p_s, cg_bfv_ct *p_c, kv_scratch *sc, cg_bfv_ct *out,
                              cg_error *err);

/* ---- Decode's p.V with expanded probabilities (the strided layout,
 * kv_pack.h) -------------------------------------------------------------------
 * An expansion leaf holds values at a stride, so the client's probabilities
 * come to the server as leaves of T = n / d_head positions each, group grp's
 * p[grp T + j] at x^(d_head j). The server lays its V share out per group as
 *   v_pos[i] at x^(i - d_head j)   (j = pos - grp T; -x^(n + i - d_head j))
 * so that Enc(leaf) x that holds o[i] at x^i: another pair gives
 * i + d_head (j' - j), j' != j, which is >= d_head or wraps to at least
 * n - (T - 1) d_head = d_head. The cache's cross term Enc(V_c) x p_s keeps
 * its own layout (o[i] at kv_output_coeff), which no leaf layout can share
 * (both strides would be even: n / 2 coefficients for n products), so a head
 * returns two outputs: out[0] the leaves' term at x^i, out[1] the cache's. */
static inline size_t kv_split_leaf_groups(const kv_layout *g, size_t len)
{
    return (len + g->stride - 1) / g->stride;
}
/* Client: group grp of p[pos], pos < len, as chunk a of a packed ciphertext
 * (chunk a at a + d_head k: the leaf's stride is d_head, d_head >= 2^e). */
void kv_pack_probs(const kv_layout *g, size_t a, size_t grp, const uint64_t *p, size_t len,
                   uint64_t *co);
/* Server: out[0 .. 2) of (layer, head) over positions < len from the row's
 * leaves p_c (kv_split_leaf_groups, NTT form) and its share p_s.
 * sc: kv_scratch_init(blocks + groups). */
cg_status kv_split_leaf_row(const kv_cache *c, const kv_shares *sh, const cg_bfv_ctx *he, unsigned l,
                            size_t layer, size_t head, size_t len, const uint64_t *p_s,
                            const cg_bfv_ct *p_c, kv_scratch *sc, cg_bfv_ct *out, cg_error *err);

#endif
