/* Internal to the proto layer: the session both parties run in lockstep, and
 * what its rooms offer each other:
 *   session.c    handshake, keys, the step loop, the entry points
 *   forward.c    one pass of new positions through the model, token choice
 *   attention.c  attention over the encrypted KV cache
 *   kv_cache.c   the cache's type, coefficient layout and HE products
 *   kv_split.c   the share-split cache: plaintext shares, ct x pt products
 *   linear.c     y = W x + b on shares with coefficient-encoded weights
 *   weights.c    the weights table: every matrix by role, pre-encoded
 *   bridge.c     ciphertexts on the wire, share <-> HE
 *   report.c     parts, timers and per-step reports
 *   parallel.c   per-ciphertext work on the session's threads */
#ifndef CG_PROTO_INTERNAL_H
#define CG_PROTO_INTERNAL_H

#include "cryptogen/proto.h"
#include "proto/kv_cache.h"
#include "proto/kv_split.h"

/* Statistical security of the noise flooding over a whole session: each
 * returned ciphertext is flooded with GEN_FLOOD_BITS + ceil(log2(m) / 2)
 * bits for m returned coefficients (gen_flood_bits; PROTOCOL.md). */
#define GEN_FLOOD_BITS 40
/* A cache ciphertext whose estimated budget falls below this plus the
 * session's extra flooding bits (flood_bits - GEN_FLOOD_BITS) is refreshed:
 * one ct x ct product (~50 bits) plus flooding (40 + margin) must still fit. */
#define GEN_REFRESH_BUDGET 100.0
/* The fewest positions per cache ciphertext a client may ask for: fewer
 * multiply the server's ciphertexts and working memory. */
#define GEN_MIN_BLOCK 4
/* The handshake reply's first byte: 0 refused, 1 accepted; 2 is a notice
 * from a busy server that the session is queued (the reply follows later). */
#define GEN_REPLY_QUEUED 2
/* A public bound on every weight's magnitude (the format: weights fit 31
 * bits). The server's noise estimates use it instead of the actual
 * weights, so nothing it sends or decides depends on their size. */
#define GEN_WEIGHT_BOUND_LOG2 31.0
/* Prompt rows processed per pass unless the request says otherwise: a
 * pass's rows bound a session's working memory; more rows let the linear
 * layers pack more rows per ciphertext, reuse each weight block for more of
 * them, and run every non-linear protocol's rounds once for all of them
 * (a 64-token prompt: 4,911 rounds at 32, 2,999 at 64). */
#define GEN_PREFILL_CHUNK CG_GEN_PREFILL_CHUNK_DEFAULT
#define GEN_PREFILL_CHUNK_MAX CG_GEN_PREFILL_CHUNK_MAX

typedef struct gen_sess {
    cg_party party;
    cg_channel *ch;
    cg_buf msg; /* every message of the session; only its own thread talks */
    const cg_gen_options *opt;
    int threads;

    /* Agreed in the handshake (public). */
    cg_gen_request req;
    cg_gpt2_config cfg;
    cg_fixed_config fx;
    unsigned score_shift; /* the attention's 1/sqrt(d_head), as the model has it */
    int64_t score_mul;
    /* Derived from it: ring degree, model width, heads, head size, vocabulary. */
    size_t N, d, H, dh, V;
    unsigned l;    /* share ring bits; t = 2^l */
    uint64_t mask; /* 2^l - 1 */
    kv_layout kv;  /* the cache's coefficient layout (both parties) */
    unsigned flood_bits; /* statistical bits of each flooding (gen_flood_bits) */
    cg_gen_attention attn; /* CTCT or SPLIT, agreed in the handshake */
    size_t chunk;          /* prompt rows per prefill pass: asked, maybe lowered by the server */

    /* Keys and the two-party context. */
    cg_bfv_ctx *he;
    cg_bfv_sk sk; /* client only */
    cg_bfv_pk pk;
    cg_bfv_ksk rk;
    bool pack;                 /* packed client inputs agreed (req.pack_inputs and the server) */
    uint8_t dense;             /* with pack: dense replies agreed, a gen_dense level */
    uint64_t returned, returned_max; /* server: ciphertexts returned so far, and gen_returned_cts */
    cg_bfv_galois_keys pack_gk; /* their expansion keys (client makes, server holds) */
    cg_mpc *mpc;

    /* Server only: the model and the encrypted cache. */
    const cg_fixed_model *fm;
    kv_cache cache;
    /* Split attention, both parties: this party's plaintext shares of K, V. */
    kv_shares shares;

    /* Server only: the seed of the sampling noise (never sent). */
    uint8_t sample_seed[32];
    /* Public, drawn by the server per session: the batch embedding's hashes. */
    uint8_t embed_key[CG_SEED_BYTES];

    /* Reporting (report.c). */
    cg_gen_step_report rep;
    cg_gen_part part;
    uint64_t part_t0, part_cpu0; /* wall and process CPU clocks at the part's start */
    uint64_t step_cpu0;
    cg_chan_counters part_c0;
    uint64_t setup_t0;
    cg_chan_counters setup;
    /* Prefill progress: layer passes done of all, positions done. */
    size_t prefill_done, prefill_total, prefill_positions_done;

    /* A prefill's embedding rows, all chunks at once (gen_embed_pass). */
    uint64_t *emb_x;
    size_t emb_pos0, emb_rows;

    /* Ciphertexts whose buffers outlive a layer (gen_take_cts): reused by
     * the next layer instead of allocated and page-faulted again. */
    cg_bfv_ct *ct_stock;
    size_t ct_stock_n, ct_stock_cap;
} gen_sess;

/* Prompt rows per prefill pass: the agreed s->chunk (GEN_PREFILL_CHUNK before
 * the handshake sets it). */
static inline size_t gen_pass_rows(const gen_sess *s) { return s->chunk ? s->chunk : GEN_PREFILL_CHUNK; }
/* The rows per pass a request asks for (0: the default). */
static inline uint32_t gen_asked_chunk(const cg_gen_request *q)
{
    return q->prefill_chunk ? q->prefill_chunk : GEN_PREFILL_CHUNK;
}

/* ---- report.c ------------------------------------------------------------ */
/* Everything between begin and end (time, bytes, rounds) is charged to p. */
void gen_part_begin(gen_sess *s, cg_gen_part p);
void gen_part_end(gen_sess *s);
void gen_step_begin(gen_sess *s, size_t step);
/* Fills the step's totals and calls the options' on_step. */
void gen_step_end(gen_sess *s, size_t length, uint64_t t0);
/* The options' on_progress, if any, with the channel's byte counts. */
void gen_progress(gen_sess *s, cg_gen_phase phase, size_t done, size_t total);
/* Counters of the channel so far (the set-up's cost before step 0). */
cg_chan_counters gen_channel_totals(const gen_sess *s);

/* ---- flood.c ---------------------------------------------------------------
 * From the public request and shapes (both parties get the same numbers). */
/* Ciphertexts the server returns over the session (every refresh that could
 * be due counted). */
uint64_t gen_returned_cts(const gen_sess *s);
/* Both parties after the handshake: s->returned_max (gen_returned_cts, the
 * server's limit on what it returns) and s->flood_bits. */
void gen_flood_init(gen_sess *s);
/* GEN_FLOOD_BITS + ceil(log2(returned coefficients) / 2). */
unsigned gen_flood_bits(const gen_sess *s);
/* The largest working memory of one pass, in bytes (counted in the
 * server's session budget beside the cache). */
uint64_t gen_working_bytes(const gen_sess *s);
/* Server, in the handshake: s->chunk from the request (0: GEN_PREFILL_CHUNK),
 * halved while the cache and the largest pass's working memory exceed the
 * options' max_cache_bytes; an error if even one row per pass does not fit. */
cg_status gen_fit_memory(gen_sess *s, cg_error *err);

/* ---- parallel.c ------------------------------------------------------------ */
/* Runs fn(s, ctx, i) for i in [0, n) on the session's threads (items write
 * disjoint outputs and only read the keys, the cache and the weights); the
 * first failing item's error is returned. */
typedef cg_status (*gen_item_fn)(gen_sess *s, void *ctx, size_t i, cg_error *err);
cg_status gen_parallel(gen_sess *s, size_t n, gen_item_fn fn, void *ctx, cg_error *err);
/* Items [begin, end) of one thread's chunk; item i's outcome goes to errs[i].
 * For callers that set up per-thread scratch before their first item. */
typedef void (*gen_range_fn)(void *ctx, cg_error *errs, size_t begin, size_t end);
/* n items on the session's threads; the first failed item's error. */
cg_status gen_parallel_ranges(gen_sess *s, size_t n, gen_range_fn range, void *ctx, cg_error *err);
/* gen_parallel with one kv_scratch per thread (kv_scratch_init's max). */
typedef cg_status (*gen_kv_item_fn)(gen_sess *s, void *ctx, size_t i, kv_scratch *sc,
                                    cg_error *err);
cg_status gen_parallel_kv(gen_sess *s, size_t n, size_t scratch_max, gen_kv_item_fn fn, void *ctx,
                          cg_error *err);

/* ---- bridge.c ---------------------------------------------------------------
 * Ciphertext lists on the wire (one framed message: u32 count, then u32
 * length and bytes per ciphertext), and the two directions between shares
 * (n coefficients mod 2^l) and ciphertexts. */
cg_status gen_send_cts(gen_sess *s, const cg_bfv_ct *cts, size_t n, cg_error *err);
/* Which coefficients of item i's result this party's take reads: sets
 * used[j] (n bytes, zeroed by the caller) for each. */
typedef void (*gen_keep_fn)(const gen_sess *s, const void *ctx, size_t i, uint8_t *used);
/* Server: the masked, flooded results in the extracted form (c1, and c0 at
 * keep's positions only; bfv.h), which the client's gen_recv_cts reads. */
cg_status gen_send_cts_at(gen_sess *s, const cg_bfv_ct *cts, size_t n, gen_keep_fn keep,
                          const void *ctx, cg_error *err);
/* Exactly n ciphertexts; another count or trailing bytes are errors. */
cg_status gen_recv_cts(gen_sess *s, cg_bfv_ct *cts, size_t n, cg_error *err);
/* A list of at most max ciphertexts; *n gets its length. */
cg_status gen_recv_cts_upto(gen_sess *s, cg_bfv_ct *cts, size_t max, size_t *n, cg_error *err);
void gen_free_cts(cg_bfv_ct *cts, size_t n);
/* An allocated array of n empty ciphertexts (freed with gen_free_cts + cg_free). */
cg_bfv_ct *gen_alloc_cts(size_t n);
/* The same, but filled with ciphertexts from the session's stock (their
 * buffers kept, contents stale: every use overwrites them); gen_give_cts
 * puts them back (up to GEN_CT_STOCK_MAX) and frees the array. */
#define GEN_CT_STOCK_MAX 256
cg_bfv_ct *gen_take_cts(gen_sess *s, size_t n);
void gen_give_cts(gen_sess *s, cg_bfv_ct *cts, size_t n);
void gen_stock_free(gen_sess *s);

/* Item i's coefficients: a layout of this party's share (n values mod 2^l). */
typedef void (*gen_layout_fn)(const gen_sess *s, const void *ctx, size_t i, uint64_t *co);
/* What becomes of this party's share of item i's result. */
typedef void (*gen_take_fn)(const gen_sess *s, void *ctx, size_t i, const uint64_t *share);

/* Share -> HE for n items on the session's threads. Client: cts[i] =
 * Enc(its layout). Server: cts[i] += its layout, in the clear. */
cg_status gen_shares_to_he(gen_sess *s, size_t n, gen_layout_fn layout, const void *ctx,
                           cg_bfv_ct *cts, cg_error *err);
/* Client: cts[i] = a packed encryption of its layout at scale bits
 * scale(ctx, i) (cg_bfv_encrypt_sk_packed), for the server's expansion. */
typedef unsigned (*gen_scale_fn)(const void *ctx, size_t i);
cg_status gen_encrypt_packed(gen_sess *s, size_t n, gen_layout_fn layout, gen_scale_fn scale,
                             const void *ctx, cg_bfv_ct *cts, cg_error *err);
/* HE -> share for n items. Server: masks and floods cts[i] in place (its
 * share is the mask). Client: decrypts cts[i]. Then take(i, share). */
cg_status gen_he_to_shares(gen_sess *s, size_t n, cg_bfv_ct *cts, gen_take_fn take, void *ctx,
                           cg_error *err);
/* The same for results that go out by gen_send_cts_at with this keep: the
 * server floods only the coefficients sent (keep gets ctx too). */
cg_status gen_he_to_shares_at(gen_sess *s, size_t n, cg_bfv_ct *cts, gen_keep_fn keep,
                              gen_take_fn take, void *ctx, cg_error *err);

/* Packed inputs' expansion keys (linear.c). Client: made from its secret
 * key and serialized to out, not kept. Server: read into s->pack_gk,
 * refused unless they cover gen_pack_levels. */
cg_status gen_pack_keys_make(gen_sess *s, cg_buf *out, cg_error *err);
/* Server: packed inputs and dense replies from the request and its options. */
void gen_pack_decide(gen_sess *s);
/* Client: the packed-inputs byte it asks for (0 off, 1 packed, 2 dense
 * replies, 3 dense max); the server answers at most that. */
static inline uint8_t gen_asked_pack(const cg_gen_request *q)
{
    if (!q->pack_inputs) return 0;
    return (uint8_t)(1 + (q->dense_replies ? 1 + q->dense_max : 0));
}
cg_status gen_pack_keys_read(gen_sess *s, const uint8_t *p, size_t len, cg_error *err);

/* ---- weights.c ------------------------------------------------------------- */
typedef enum gen_matrix_role {
    GEN_MAT_EMBED,     /* token embedding, read transposed */
    GEN_MAT_QKV,       /* attention's c_attn, LayerNorm 1 folded in */
    GEN_MAT_ATTN_OUT,  /* attention's c_proj */
    GEN_MAT_MLP_UP,    /* c_fc, LayerNorm 2 folded in */
    GEN_MAT_MLP_DOWN,  /* mlp's c_proj */
    GEN_MAT_LM_HEAD,   /* tied embedding, final LayerNorm folded in */
    GEN_MAT_SESSION    /* made in a session (embed.c), never pre-encoded */
} gen_matrix_role;

/* One linear layer y = W x + b: W[o][i] = w[o * stride_out + i * stride_in]
 * for o < out, i < in. Shapes come from the public configuration; w and b
 * only on the server. */
typedef struct gen_matrix {
    gen_matrix_role role;
    size_t layer; /* 0 for the embedding and the head */
    size_t in, out;
    size_t stride_out, stride_in;
    const int32_t *w;
    const int64_t *b;
    /* GEN_MAT_SESSION only: weights mod 2^l read from w64 instead of w,
     * and/or input i read as table row idx[i] (none, i.e. 0, past idx_n). */
    const int64_t *w64;
    const uint32_t *idx;
    size_t idx_n;
} gen_matrix;

/* The table: the matrix of (role, layer); fm NULL gives shapes only. */
gen_matrix gen_matrix_of(const cg_gpt2_config *cfg, const cg_fixed_model *fm,
                         gen_matrix_role role, size_t layer);
size_t gen_matrix_count(const cg_gpt2_config *cfg);
/* The i-th entry of the table (i < gen_matrix_count). */
gen_matrix gen_matrix_at(const cg_gpt2_config *cfg, const cg_fixed_model *fm, size_t i);

/* How a matrix is cut for a ring of degree n: input chunks of ni values,
 * ni * no <= n output rows per plaintext; cin chunks and cout row blocks;
 * mi rows of the input per ciphertext, mi * ni * no <= n (the blocks do
 * not depend on mi). */
typedef struct gen_plan {
    size_t ni, no, cin, cout, mi;
    /* 0: the block layout below. Else the strided layout of packed client
     * inputs (one row, gen_plan_packed): input value k at x^(stride k),
     * the block holds W[o][k] at x^(o - stride k) (negacyclic: -x^(n + o -
     * stride k) for k > 0), output o at x^o; no <= stride and
     * ni stride <= n keep every other term x_k W[o'][k'] (at o' +
     * stride (k - k')) off [0, stride), across the wrap too. */
    size_t stride;
} gen_plan;
/* One row per ciphertext (decode; the pre-encoded weights' plan). */
gen_plan gen_plan_of(size_t n, size_t in, size_t out);
/* For `rows` rows at once: mi rows per ciphertext (want, at most rows; 0:
 * the cost model's choice, which may be the one-row plan). */
gen_plan gen_plan_rows(size_t n, size_t in, size_t out, size_t rows, size_t want);
/* The packed layout: value k of row t's input chunk, and output row o of a
 * block for row t (sum over the chunk of W[o][k] x[k], gen_encode_block's
 * blocks; mi * ni * no <= n keeps every other term off it). */
static inline size_t gen_in_coeff(const gen_plan *p, size_t t, size_t k)
{
    return p->stride ? p->stride * k : t * p->ni * p->no + k;
}
static inline size_t gen_out_coeff(const gen_plan *p, size_t t, size_t o)
{
    return p->stride ? o : t * p->ni * p->no + o * p->ni + p->ni - 1;
}
/* gen_plan_of in the strided layout for packed client inputs: the stride
 * is n_o rounded up to a power of two (so the client can pack up to
 * stride chunks in one ciphertext, chunk a at a + stride k, and the
 * server's expansion leaves each chunk at stride k); stride 0 when that
 * does not fit the ring (the caller then sends chunks one by one). */
/* With dense (dense replies): from that plan, n_i halved while a fixed cost
 * model (reply bytes at a reference link and the reply's CPU against the
 * expansion's key switches and the products) says it pays, each candidate
 * as gen_plan_strided. */
/* GEN_DENSE_MAX: the same model at a 10x slower reference link (fewest
 * bytes for far more key switches). */
enum { GEN_DENSE_OFF = 0, GEN_DENSE_ON = 1, GEN_DENSE_MAX = 2 };
gen_plan gen_plan_packed(size_t n, size_t in, size_t out, unsigned dense);
/* The strided plan with n_i = min(ni, in) values per leaf: the stride is
 * the largest power of two S with S n_i <= n, n_o = min(S, out) (so each
 * reply holds up to S outputs); all zero when ni is 0 or above n. */
gen_plan gen_plan_strided(size_t n, size_t in, size_t out, size_t ni);
/* The plan of a one-row product of m in session s (the strided plan when
 * inputs are packed, else gen_plan_of). */
gen_plan gen_plan_decode(const gen_sess *s, const gen_matrix *m);
/* The plan gen_linear_m uses for `rows` rows of m (gen_plan_rows with the
 * request's prefill_rows, or gen_plan_decode for one), and the ciphertexts
 * it returns (the flood count, flood.c). */
gen_plan gen_plan_for_rows(const gen_sess *s, const gen_matrix *m, size_t rows);
uint64_t gen_linear_returned(const gen_sess *s, const gen_matrix *m, size_t rows);
/* The one-row layers whose inputs the client may pack: all the model's,
 * the embedding's one-hot row too (a decode step's lookup, rows below
 * GEN_EMBED_BATCH_MIN: its V inputs are most of the step's upload), but not
 * a session's matrices (the prompt's batch lookup keeps its block plans). */
static inline bool gen_packable(gen_matrix_role role)
{
    return role != GEN_MAT_SESSION;
}
/* The expansion levels (Galois keys) the model's packable matrices need. */
unsigned gen_pack_levels(const cg_gpt2_config *cfg, size_t n, unsigned dense);
/* Chunks per packed ciphertext (at most the stride) and the number of
 * packed ciphertexts for the plan's cin chunks. */
static inline size_t gen_pack_chunks(const gen_plan *p)
{
    return p->cin < p->stride ? p->cin : p->stride;
}
static inline size_t gen_pack_cts(const gen_plan *p)
{
    return (p->cin + gen_pack_chunks(p) - 1) / gen_pack_chunks(p);
}
/* The NTT-form plaintext of block (chunk a, row block c) of m. */
cg_status gen_encode_block(const cg_bfv_ctx *he, const gen_matrix *m, const gen_plan *p, size_t a,
                           size_t c, int64_t *scratch, cg_bfv_plain_ntt *dst,
                           cg_error *err);
/* The pre-encoded blocks of m (cin * cout, chunk-major per row block), or
 * NULL when ws holds none for m in this model and parameter set. */
const cg_bfv_plain_ntt *gen_weights_find(const cg_gen_weights *ws, const cg_bfv_ctx *he,
                                         const cg_fixed_model *fm, const gen_matrix *m,
                                         const gen_plan *p);

/* ---- linear.c ---------------------------------------------------------------- */
/* y = W x + b on shares for `rows` rows: x rows x in, y rows x out, at the
 * product's scale (no truncation). The server may pass x NULL for an
 * all-zero share. */
cg_status gen_linear(gen_sess *s, gen_matrix_role role, size_t layer, size_t rows,
                     const uint64_t *x, uint64_t *y, cg_error *err);
/* The same for a matrix the caller made (shapes public, weights server's). */
cg_status gen_linear_m(gen_sess *s, const gen_matrix *m, size_t rows, const uint64_t *x,
                       uint64_t *y, cg_error *err);

/* ---- embed.c ----------------------------------------------------------------- */
/* Prompts of at least this many rows are embedded by the batch lookup. */
#define GEN_EMBED_BATCH_MIN 8
/* x = shares of emb[tokens[r]] for `rows` rows (tokens: the client's, NULL
 * at the server), by cuckoo-hashed buckets of the table (embed.c). */
cg_status gen_embed_batch(gen_sess *s, const uint32_t *tokens, size_t rows, uint64_t *x,
                          cg_error *err);
/* Ciphertexts the server returns for the embedding of a pass of `rows`
 * rows (either way of embedding), for the flooding's count (flood.c). */
uint64_t gen_embed_returned_cts(const gen_sess *s, size_t rows);
/* Ciphertexts the batch embedding of a pass of `rows` rows holds at once
 * (0 below GEN_EMBED_BATCH_MIN), for the working memory (flood.c). */
uint64_t gen_embed_working_cts(const gen_sess *s, size_t rows);

/* ---- attention.c ------------------------------------------------------------- */
/* rows new positions pos0.. with qkv shares (rows x 3d, scale s): appends k
 * and v to the cache and gives o = softmax(q K^T / sqrt(d_head)) V shares
 * (rows x d, scale s). */
cg_status gen_attention(gen_sess *s, size_t layer, size_t pos0, size_t rows, const uint64_t *qkv,
                        uint64_t *o, cg_error *err);

/* ---- forward.c --------------------------------------------------------------- */
/* Runs positions pos0 .. pos0 + rows - 1 through the model (tokens: the
 * client's, NULL at the server), appending to the cache; when pick, chooses
 * the next token (the client gets it in *token). */
cg_status gen_forward(gen_sess *s, const uint32_t *tokens, size_t pos0, size_t rows, bool pick,
                      uint32_t *token, cg_error *err);
/* Before the chunks of a pass of `rows` positions from pos0: their
 * embedding rows in one batch lookup when rows >= GEN_EMBED_BATCH_MIN
 * (gen_forward then takes them from s); gen_embed_pass_end after. */
cg_status gen_embed_pass(gen_sess *s, const uint32_t *tokens, size_t pos0, size_t rows, cg_error *err);
void gen_embed_pass_end(gen_sess *s);

/* Shares: x += y mod 2^l, and exact truncation in place. */
static inline void gen_add_shares(const gen_sess *s, size_t n, uint64_t *x, const uint64_t *y)
{
    for (size_t i = 0; i < n; i++) x[i] = (x[i] + y[i]) & s->mask;
}
static inline cg_status gen_trunc(gen_sess *s, size_t n, uint64_t *x, unsigned shift, cg_error *err)
{
    return cg_mpc_trunc_exact(s->mpc, s->l, shift, n, x, x, err);
}

#endif
