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

#define CG_GEN_VERSION 2

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
    uint64_t bytes_sent[CG_PART_COUNT], bytes_received[CG_PART_COUNT], rounds[CG_PART_COUNT];
    double total_seconds;
    uint64_t total_sent, total_received, total_rounds;
    uint64_t cache_bytes;   /* server's encrypted KV cache after the step */
    uint64_t cache_cts;     /* ciphertexts in it */
    unsigned refreshes;     /* cache ciphertexts refreshed in this step */
    /* Step 0 only: handshake, evaluation keys and base OTs before it. */
    double setup_seconds;
    uint64_t setup_sent, setup_received;
} cg_gen_step_report;

typedef void (*cg_gen_step_fn)(void *ctx, const cg_gen_step_report *r);

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
    uint32_t prefill_rows;   /* prompt rows per ciphertext in the prefill's linear layers
                                (a packed matrix product): 0 the cost model's choice,
                                1 one row per ciphertext as in decode; at most 4096 */
} cg_gen_request;

/* Server: the model's weight matrices pre-encoded as NTT-form plaintexts for
 * one parameter set, built once and shared read-only by every session with
 * that set (the on-the-fly encoding is most of a linear layer's cost).
 * Matrices are taken largest first until max_bytes is used up; the others
 * are encoded per use. */
typedef struct cg_gen_weights cg_gen_weights;
cg_status cg_gen_weights_new(cg_gen_weights **out, const cg_fixed_model *fm, const char *preset,
                             uint64_t max_bytes, int threads, cg_error *err);
void cg_gen_weights_free(cg_gen_weights *w);
uint64_t cg_gen_weights_bytes(const cg_gen_weights *w);

/* Client: the Gumbel noise of a sampling step (n values at scale 2^s), for
 * tests that replay the choice with cg_fixed_sample. */
typedef void (*cg_gen_noise_fn)(void *ctx, size_t step, const int64_t *noise, size_t n);

typedef struct cg_gen_options {
    cg_gen_noise_fn on_noise;
    void *on_noise_ctx;
    const cg_gen_weights *weights; /* server: optional pre-encoded weights */
    int threads;          /* HE and MPC threads (>= 1) */
    uint64_t max_cache_bytes; /* server: refuse sessions whose cache could exceed this (0: no limit) */
    cg_gen_step_fn on_step;
    void *on_step_ctx;
} cg_gen_options;

/* Client side: runs the whole generation over ch; out gets req->new_tokens
 * tokens. on_step is called after each step (with the token). */
cg_status cg_gen_client(cg_channel *ch, const cg_gen_request *req, const uint32_t *prompt,
                        uint32_t *out, const cg_gen_options *opt, cg_error *err);

/* Server side: one session on ch with the quantised model; returns after the
 * client's last token (or on the first error, leaving nothing behind). */
cg_status cg_gen_server(cg_channel *ch, const cg_fixed_model *fm, const cg_gen_options *opt,
                        cg_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
