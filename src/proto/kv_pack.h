/* Split decode's packed client inputs (PROTOCOL.md "Packed attention
 * inputs"): with pack_inputs agreed the session's KV layout is the strided
 * one (kv_cache.h), and one row's K and V appends (chunk c = 2 head + kind)
 * and its queries (chunk = head) go G chunks per ciphertext, chunk a at
 * a + T k, scaled for the expansion (gen_encrypt_packed). The server expands
 * them (cg_bfv_expand, the session's Galois keys) into one leaf per chunk,
 * value k at x^(T k): a query leaf is its layout already, an append leaf is
 * moved to its position in the block by the monomial kv_leaf_shift. */
#ifndef CG_PROTO_KV_PACK_H
#define CG_PROTO_KV_PACK_H

#include "proto/attn_mat.h"

typedef enum kv_pack_kind { KV_PACK_APPEND = 0, KV_PACK_QUERY = 1, KV_PACK_PROBS = 2 } kv_pack_kind;

typedef struct kv_pack {
    kv_pack_kind kind;
    const uint64_t *qkv; /* the row's shares (3 d: q, k, v) */
    size_t pos;          /* the row's position */
    size_t chunks, G, n_pk;
    size_t queries;      /* appends: the last `queries` chunks are the row's queries
                            (chunk = 2 H + head; gen_kv_pack_plan merges them) */
    bool merged;         /* queries: sent with the appends (n_pk 0) */
    cg_bfv_ct *pk;       /* n_pk packed ciphertexts (the caller's room) */
    cg_bfv_ct *leaves;   /* chunks ciphertexts, one per chunk (the caller's) */
    const mat_io *io;    /* probabilities: the row's (chunk = head groups + group) */
    size_t groups;
} kv_pack;

/* Chunks per packed ciphertext: at most the stride T (chunk a at a + T k
 * needs 2^e <= T) and what the session's expansion keys cover
 * (gen_pack_levels: the linear layers' need, 6 levels for GPT-2 base). */
size_t gen_kv_pack_chunks(const gen_sess *s);
/* The plan of one attention pass's appends (p[0]) and queries (p[1]): n_pk
 * = 0 (not packed) unless the session packs and this is a one-row split
 * pass. When the 3 H chunks fit one ciphertext the queries ride with the
 * appends (one fresh ciphertext per layer instead of two; p[1].merged).
 * Returns the packed ciphertexts of both. */
size_t gen_kv_pack_plan(const gen_sess *s, size_t pos0, size_t rows, const uint64_t *qkv,
                        kv_pack p[2]);
/* Split decode in the strided layout with one block whose row fits half of
 * T (len <= T / 2): every score and cross term of a head's product sits at
 * a coefficient = j mod T, j < len, so a second head's product moved by
 * x^(T/2) lands on residues [T/2, T) and the two share one reply (2; else
 * 1). Public: the same at both parties (flood.c counts with it). */
static inline size_t gen_kv_score_pair(const gen_sess *s, size_t pos0, size_t rows)
{
    const bool one_block = kv_block_of(&s->kv, pos0) == 0;
    return s->attn == CG_ATTN_SPLIT && rows == 1 && s->kv.stride && one_block && 2 * (pos0 + 1) <= s->kv.stride
               ? 2
               : 1;
}
/* Server: the n score products (one per head) into ceil(n / 2) replies,
 * reply k = product 2k + product 2k + 1 times x^(T/2), in sct[0..). */
cg_status gen_kv_pair_scores(gen_sess *s, cg_bfv_ct *sct, size_t n, cg_error *err);
/* Their room: packed ciphertexts from pk on (appends' then queries'), the
 * leaves in app and qct (attention.c's arrays; merged: qct = app + 2 H). */
void gen_kv_pack_room(kv_pack p[2], cg_bfv_ct *pk, cg_bfv_ct *app, cg_bfv_ct *qct);
/* Client: the packed encryptions of its shares, sent. */
cg_status gen_kv_pack_send(gen_sess *s, kv_pack *p, cg_error *err);
/* Server: received and expanded into p->leaves (NTT form; append leaves
 * shifted into their block's layout). The leaves' noise starts from the
 * fresh bound gen_recv_cts sets, never the sender's. */
cg_status gen_kv_pack_recv(gen_sess *s, kv_pack *p, cg_error *err);
/* Both parties, a one-row split pass with appends packed: the cross terms of
 * p.V (kv_split.h, "expanded probabilities") into io->o, the client's
 * probabilities packed as leaves of T positions (chunks of d_head stride,
 * so at most d_head per ciphertext), two outputs per head returned (per two
 * heads while gen_kv_score_pair says so: the second head's moved onto the
 * coefficients the first's leave free). */
cg_status gen_kv_pack_values(gen_sess *s, const mat_io *io, cg_error *err);

#endif
