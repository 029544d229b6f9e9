/* Internal to the proto layer: the session both parties run in lockstep. */
#ifndef CG_PROTO_INTERNAL_H
#define CG_PROTO_INTERNAL_H

#include "cryptogen/proto.h"

/* Statistical security of the noise flooding on every returned ciphertext. */
#define CG_GEN_FLOOD_BITS 40
/* A cache ciphertext whose estimated budget falls below this is refreshed:
 * one ct x ct product (~50 bits) plus flooding (40 + margin) must still fit. */
#define CG_GEN_REFRESH_BUDGET 100.0
/* Prompt rows processed per pass (bounds a session's working memory). */
#define CG_GEN_PREFILL_CHUNK 16

typedef struct gen_sess {
    cg_party party;
    cg_channel *ch;
    cg_mpc *mpc;
    cg_bfv_ctx *he;
    cg_bfv_sk sk; /* client only */
    cg_bfv_pk pk;
    cg_bfv_ksk rk;
    const cg_fixed_model *fm; /* server only */
    cg_gen_request req;
    cg_gpt2_config cfg;
    cg_fixed_config fx;
    unsigned score_shift;
    int64_t score_mul;
    size_t N, d, H, dh, V, B; /* B: positions per cache ciphertext */
    unsigned l;
    uint64_t mask;
    int threads;
    /* Server: encrypted cache, [layer][head][block]. */
    size_t max_blocks;
    cg_bfv_ct *kc, *vc;
    uint32_t *k_appends, *v_appends; /* appends since the last refresh */
    /* Reporting. */
    cg_gen_step_report rep;
    cg_gen_part part;
    uint64_t part_t0;
    const cg_gen_options *opt;
    uint64_t setup_t0;
    uint8_t sample_seed[32]; /* client: H(client's seed, server's seed) */
    uint8_t server_seed[32];
    cg_chan_counters setup;
} gen_sess;

/* Timing/traffic attribution: everything between begin and end is charged
 * to part (the channel's phase carries the same name). */
void gen_part_begin(gen_sess *s, cg_gen_part p);
void gen_part_end(gen_sess *s);

/* Runs fn(s, ctx, i) for i in [0, n) on the session's threads (the items
 * must touch disjoint outputs); the first failing item's error is returned. */
typedef cg_status (*gen_item_fn)(gen_sess *s, void *ctx, size_t i, cg_error *err);
cg_status gen_parallel(gen_sess *s, size_t n, gen_item_fn fn, void *ctx, cg_error *err);

/* Ciphertext lists as one framed message: u32 count, then (u32 len, bytes). */
cg_status gen_send_cts(gen_sess *s, cg_buf *b, const cg_bfv_ct *cts, size_t n, cg_error *err);
cg_status gen_get_cts(gen_sess *s, cg_reader *r, cg_bfv_ct *cts, size_t n, cg_error *err);
cg_status gen_recv_msg(gen_sess *s, cg_buf *b, size_t max_cts, cg_error *err);
/* The party `from` sends cts[0..n); the other receives exactly n into cts
 * (a different count or trailing bytes are errors). */
cg_status gen_move_cts(gen_sess *s, cg_party from, cg_bfv_ct *cts, size_t n, cg_buf *msg,
                       cg_error *err);
void gen_free_cts(cg_bfv_ct *cts, size_t n);

/* Coefficient vector (centred) -> plaintext, and share values mod 2^l. */
cg_status gen_encode(gen_sess *s, const int64_t *coeffs, cg_bfv_plain *pt, cg_error *err);
static inline int64_t gen_centre(const gen_sess *s, uint64_t v)
{
    v &= s->mask;
    return v >= (1ull << (s->l - 1)) ? (int64_t)v - (int64_t)(1ull << s->l) : (int64_t)v;
}
/* Client: decrypt a returned ciphertext into coefficients mod 2^l. */
cg_status gen_decrypt(gen_sess *s, const cg_bfv_ct *ct, uint64_t *coeffs, cg_error *err);
/* Server: mask-and-flood ct in place; mask (n coefficients mod 2^l) is its share. */
cg_status gen_mask(gen_sess *s, cg_bfv_ct *ct, uint64_t *mask, cg_error *err);

/* Input chunk n_i and output rows n_o per plaintext for an out x in matrix. */
void gen_plan(size_t N, size_t in, size_t out, size_t *ni, size_t *no);
/* The NTT-form plaintext of block (chunk a, row block c) of a matrix. */
cg_status gen_encode_block(const cg_bfv_ctx *he, const int32_t *w, size_t so, size_t si,
                           size_t in, size_t out, size_t ni, size_t no, size_t a, size_t c,
                           int64_t *scratch, cg_bfv_plain *pt, cg_bfv_plain_ntt *dst,
                           cg_error *err);
/* Pre-encoded blocks of matrix w (cin * cout, chunk-major per row block),
 * or NULL when w was not pre-encoded for this context. */
const cg_bfv_plain_ntt *gen_weights_find(const cg_gen_weights *ws, const cg_bfv_ctx *he,
                                         const int32_t *w);

/* y = W x + b on shares (W[o][i] = w[o * so + i * si], server only; the
 * client passes w = b = NULL). x: rows x in shares (server may pass NULL
 * for an all-zero share), y: rows x out shares, at the product's scale. */
cg_status gen_linear(gen_sess *s, const int32_t *w, size_t so, size_t si, const int64_t *b,
                     size_t in, size_t out, size_t rows, const uint64_t *x, uint64_t *y,
                     cg_error *err);

#endif
