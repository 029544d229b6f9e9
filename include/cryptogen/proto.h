/* cryptogen proto layer: secure generation (CryptoGen-style hybrid HE + 2PC
 * with an encrypted KV cache reused across decoding steps).
 *
 * The client holds the prompt and the BFV secret key; the server holds the
 * quantised model (cg_fixed_model) and, per layer and head, the encrypted
 * K and V cache. Both run the same lockstep schedule over one cg_channel;
 * docs/PROTOCOL.md gives the message flow and who learns what. Every
 * intermediate value is either an additive share over Z_{2^l} or a BFV
 * ciphertext with plaintext modulus t = 2^l under the client's key, so the
 * secure run equals the fixed-point emulator (cg_fixed_forward) exactly. */
#ifndef CRYPTOGEN_PROTO_H
#define CRYPTOGEN_PROTO_H

#include "cryptogen/bfv.h"
#include "cryptogen/model.h"
#include "cryptogen/mpc.h"
#include "cryptogen/net.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

/* 10: packed attention inputs; 11: dense replies; 12: product material in
 * COTs as wide as each term needs; 13: the decode embedding packed (stop 27:
 * kvpack, rdense, nlb, embpack); 14: random-choice COTs for triples, daBits
 * and bundles (stop 29: rcot);
 * 15: dense replies "max" (packed byte 3), queries packed with the K/V
 * appends, two heads per score and p.V reply (stop 29: hereply);
 * 16: the argmax's first level compares with 3-bit digits (stop 29: argmax2);
 * 17: DReLUs against offsets that agree on low bits send those digits once
 * (the exponential's thresholds; stop 30: cmp2);
 * 18: row maxima: per-candidate four-way OTs, softmax fan plans, one-bit
 *     winner OTs with one-flight selects (stop 30: smax2);
 * 19: GELU's DReLUs and the exact truncations' carries with 3-bit digits,
 * server-sent OTs, tree levels riding half round trips (stop 30: gelu3);
 * 20: prompt rows per prefill pass in the request and the reply (stop 32) */
#define CG_GEN_VERSION 20

/* Prompt rows per prefill pass when a request leaves it at 0, and the most
 * a request may ask for. */
#define CG_GEN_PREFILL_CHUNK_DEFAULT 64
#define CG_GEN_PREFILL_CHUNK_MAX 1024

/* The rows of the paper's per-component tables, plus cache appends. */
typedef enum cg_gen_part {
    CG_PART_EMBEDDING,
    CG_PART_LAYERNORM,
    CG_PART_QKV,
    CG_PART_KV_APPEND,
    CG_PART_QK,
    CG_PART_SOFTMAX,
    CG_PART_SV,
    CG_PART_ATTN_OUT,
    CG_PART_MLP_UP,
    CG_PART_GELU,
    CG_PART_MLP_DOWN,
    CG_PART_LM_HEAD,
    CG_PART_TOKEN,
    CG_PART_REFRESH,
    CG_PART_FINAL_NORM, /* the LayerNorm before the head, once per pass (not per block) */
    CG_PART_COUNT
} cg_gen_part;

const char *cg_gen_part_name(cg_gen_part p);

/* What one step (the prefill, or one decoded token) cost, as seen by the
 * party that reports it. */
typedef struct cg_gen_step_report {
    size_t step;        /* 0 = prefill */
    size_t length;      /* tokens in the context after this step */
    uint32_t token;     /* the token chosen (client side; server: 0) */
    double seconds[CG_PART_COUNT];
    /* CPU seconds of the whole process (all its threads) over each part:
     * in a process that runs both parties (bench gen) it is the work of
     * both, which shows where a CPU-bound run spends its cores */
    double cpu_seconds[CG_PART_COUNT];
    uint64_t bytes_sent[CG_PART_COUNT], bytes_received[CG_PART_COUNT], rounds[CG_PART_COUNT];
    double total_seconds;
    double total_cpu_seconds; /* the process's, as cpu_seconds */
    uint64_t total_sent, total_received, total_rounds;
    uint64_t cache_bytes;   /* server's encrypted KV cache after the step */
    uint64_t cache_cts;     /* ciphertexts in it */
    unsigned refreshes;     /* cache ciphertexts refreshed in this step */
    uint64_t share_bytes;   /* split attention: this party's plaintext K/V shares held */
    int attention;          /* the cg_gen_attention agreed (declared below) */
    /* Step 0 only: handshake, evaluation keys and base OTs before it. */
    double setup_seconds;
    uint64_t setup_sent, setup_received;
} cg_gen_step_report;

typedef void (*cg_gen_step_fn)(void *ctx, const cg_gen_step_report *r);

/* Progress before the first token (key set-up and prefill take most of a
 * short generation's time): reported after the handshake, after the
 * evaluation keys, after the base OTs, and after each layer of each prefill
 * chunk. */
typedef enum cg_gen_phase {
    CG_PHASE_QUEUED, /* client: the server is busy; done = sessions running, total = its slots */
    CG_PHASE_HANDSHAKE,
    CG_PHASE_KEYS,
    CG_PHASE_BASE_OT,
    CG_PHASE_PREFILL,
} cg_gen_phase;
typedef struct cg_gen_progress {
    cg_gen_phase phase;
    size_t done, total;     /* prefill: layer passes done of all (layers x chunks); else 1 of 1 */
    size_t positions_done;  /* prefill: prompt positions through every layer */
    size_t positions_total; /* prefill: the prompt's length */
    double seconds;         /* since the session began */
    uint64_t sent, received; /* bytes since the session began */
} cg_gen_progress;
typedef void (*cg_gen_progress_fn)(void *ctx, const cg_gen_progress *p);

/* Client: asked after each token (tokens[0..n) so far) whether to end the
 * session now. Ending early tells the server how many tokens were made
 * (PROTOCOL.md); out's entries after the last token are CG_GEN_STOPPED. */
typedef bool (*cg_gen_stop_fn)(void *ctx, const uint32_t *tokens, size_t n);
#define CG_GEN_STOPPED UINT32_MAX

/* How the attention multiplies by the cache (PROTOCOL.md, "Attention
 * kinds"): CTCT keeps the whole cache encrypted and multiplies ciphertexts
 * (relinearised, with lazy refreshes); SPLIT keeps every cached vector as
 * two additive shares, the server holding its own in the clear and the
 * client's encrypted, so the products are ciphertext x plaintext only. */
typedef enum cg_gen_attention {
    CG_ATTN_DEFAULT = 0, /* client: the server's choice; server: both, SPLIT when asked for DEFAULT */
    CG_ATTN_CTCT = 1,
    CG_ATTN_SPLIT = 2,
} cg_gen_attention;
/* "ctct", "split" (and "default" for 0); NULL for an unknown value. */
const char *cg_gen_attention_name(cg_gen_attention a);

/* What the client asks for; sent to the server in the handshake and checked
 * there (lengths are public). */
typedef struct cg_gen_request {
    char he_preset[16];      /* BFV set by name ("paper"); t is replaced by 2^l */
    bool use_cache;          /* false: the baseline re-runs the whole sequence each step */
    uint32_t prompt_len;     /* >= 1 */
    uint32_t new_tokens;     /* >= 1; prompt_len + new_tokens <= n_positions */
    uint32_t block_positions; /* positions per cache ciphertext (0: the most, n / head size) */
    uint32_t bench_fill;     /* benchmarks only: positions [0, bench_fill) of the cache hold
                                encryptions of random values instead of a prefill, and the
                                prompt starts after them (timing depends on shapes only;
                                the tokens are meaningless). Cache mode only. */
    uint32_t temperature_milli; /* 0: greedy (argmax); else Gumbel-max sampling at
                                   temperature T = value / 1000, T in [0.1, 100] */
    uint32_t refresh_every;  /* test knob: refresh a cache ciphertext after this many
                                appends to it (0: only when its noise estimate asks) */
    cg_otn_kind otn;         /* the 1-of-N OT construction both parties use (KK13 by
                                default; the server refuses a kind it does not know) */
    cg_ot_kind ot;           /* the COT source of the non-linear layers (IKNP when zeroed;
                                one handshake byte after otn; refused if unknown) */
    uint32_t prefill_rows;   /* prompt rows per ciphertext in the prefill's linear layers
                                (a packed matrix product): 0 the cost model's choice,
                                1 one row per ciphertext as in decode; at most 4096 */
    uint32_t prefill_chunk;  /* prompt rows per prefill pass (0: the default, 64; at most
                                1024): more rows mean fewer round trips and fuller
                                ciphertexts, and more working memory. The server may
                                lower it to fit its memory limit and says so in its
                                reply. */
    bool pack_inputs;        /* one-row linear layers: the client packs an input's chunks
                                into one ciphertext and the server expands it with Galois
                                keys sent once (docs/PROTOCOL.md); the server may refuse,
                                and then the chunks go one per ciphertext */
    bool dense_replies;      /* with pack_inputs: the one-row layers' plans take fewer
                                values per expanded leaf and return up to n / n_i outputs
                                per reply (fewer, fuller replies for more key switches;
                                a fixed cost model picks n_i per matrix); the server may
                                refuse. Sent in the packed-inputs byte (2 = dense). */
    bool dense_max;          /* with dense_replies: plans for the fewest bytes (the cost
                                model at a 10 Mbit/s reference link: fewer, fuller
                                replies for many more key switches); the server may
                                refuse and answer plain dense. Packed-inputs byte 3. */
} cg_gen_request;

/* Server: the model's weight matrices pre-encoded as NTT-form plaintexts for
 * one parameter set, built once and shared read-only by every session with
 * that set (the on-the-fly encoding is most of a linear layer's cost).
 * Matrices are taken largest first until max_bytes is used up; the others
 * are encoded per use. */
typedef struct cg_gen_weights cg_gen_weights;
cg_status cg_gen_weights_new(cg_gen_weights **out, const cg_fixed_model *fm, const char *preset,
                             uint64_t max_bytes, int threads, cg_error *err);
/* The same with the one-row linear layers' blocks in the strided layout of
 * packed client inputs (cg_gen_request.pack_inputs); a session in the other
 * layout encodes its blocks per use. */
cg_status cg_gen_weights_new_packed(cg_gen_weights **out, const cg_fixed_model *fm,
                                    const char *preset, uint64_t max_bytes, int threads,
                                    cg_error *err);
/* The same for packed inputs with dense replies (cg_gen_request.dense_replies):
 * the strided blocks of the dense plans. */
cg_status cg_gen_weights_new_dense(cg_gen_weights **out, const cg_fixed_model *fm,
                                   const char *preset, uint64_t max_bytes, int threads,
                                   cg_error *err);
/* The same for dense_max sessions (cg_gen_request.dense_max). */
cg_status cg_gen_weights_new_dense_max(cg_gen_weights **out, const cg_fixed_model *fm,
                                       const char *preset, uint64_t max_bytes, int threads,
                                       cg_error *err);
void cg_gen_weights_free(cg_gen_weights *w);
uint64_t cg_gen_weights_bytes(const cg_gen_weights *w);
/* The bytes cg_gen_weights_new needs to pre-encode every matrix of a model of
 * this shape (no budget), without encoding anything. */
cg_status cg_gen_weights_size(const cg_gpt2_config *cfg, const char *preset, uint64_t *bytes,
                              cg_error *err);

/* Server: the Gumbel noise of a sampling step (n values at scale 2^s), for
 * tests that replay the choice with cg_fixed_sample. The server draws it
 * and adds it to its own share; the client never sees it (PROTOCOL.md). */
typedef void (*cg_gen_noise_fn)(void *ctx, size_t step, const int64_t *noise, size_t n);

typedef struct cg_gen_options {
    cg_gen_noise_fn on_noise; /* server only; ignored on the client */
    void *on_noise_ctx;
    /* Server: the BFV sets it accepts, comma-separated (NULL: "paper" only).
     * A set flagged insecure is refused unless allow_insecure (tests only). */
    const char *allow_presets;
    bool allow_insecure;
    /* Server, tests only: the 32-byte seed of the sampling noise instead of
     * a fresh one per session (so a test can replay the choice). */
    const uint8_t *test_noise_seed;
    const cg_gen_weights *weights; /* server: optional pre-encoded weights */
    int threads;          /* HE and MPC threads (>= 1) */
    uint64_t max_cache_bytes; /* server: refuse sessions whose cache could exceed this (0: no limit) */
    cg_gen_step_fn on_step;
    void *on_step_ctx;
    cg_gen_progress_fn on_progress; /* optional, either party */
    void *on_progress_ctx;
    cg_gen_stop_fn stop; /* client, optional */
    void *stop_ctx;
    /* Client: the attention kind asked for (one handshake byte; DEFAULT lets
     * the server choose). Server: the only kind it accepts (DEFAULT: both,
     * SPLIT for a client that leaves it to the server); another is refused. */
    cg_gen_attention attention;
    bool refuse_pack_inputs; /* server: answer a request for packed inputs with "off" */
    bool refuse_dense_replies; /* server: answer packed inputs without dense replies */
    bool refuse_dense_max;     /* server: answer a dense_max request with plain dense */
} cg_gen_options;

/* Client side: runs the whole generation over ch; out gets req->new_tokens
 * tokens (CG_GEN_STOPPED after an early stop, see cg_gen_stop_fn). on_step
 * is called after each step (with the token). */
cg_status cg_gen_client(cg_channel *ch, const cg_gen_request *req, const uint32_t *prompt,
                        uint32_t *out, const cg_gen_options *opt, cg_error *err);

/* Server, before cg_gen_server: tells a waiting client that all `slots`
 * sessions are busy (`busy` running) and its session is queued. The client
 * reports it as CG_PHASE_QUEUED progress and keeps waiting. */
cg_status cg_gen_server_notify_queued(cg_channel *ch, uint32_t busy, uint32_t slots, cg_error *err);

/* Server side: one session on ch with the quantised model; returns after the
 * client's last token (or on the first error, leaving nothing behind). */
cg_status cg_gen_server(cg_channel *ch, const cg_fixed_model *fm, const cg_gen_options *opt,
                        cg_error *err);

/* Whether a server with this allow-list (NULL: "paper") accepts the BFV set
 * `name`: CG_OK, or CG_ERR_PARAM with a message naming the allowed sets. */
cg_status cg_gen_preset_allowed(const char *allow_presets, bool allow_insecure, const char *name,
                                cg_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
