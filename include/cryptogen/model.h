/* cryptogen model layer: GPT-2 checkpoints (config.json + model.safetensors),
 * random-weight models of any shape, the float reference forward pass with a
 * KV cache, and the GPT-2 byte-level BPE tokenizer. */
#ifndef CRYPTOGEN_MODEL_H
#define CRYPTOGEN_MODEL_H

#include "cryptogen/fxp.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

typedef struct cg_gpt2_config {
    uint32_t n_layer, n_head, n_embd, n_positions, vocab_size;
    float ln_eps;
} cg_gpt2_config;

/* Weights in float32, Conv1D layout ([in, out], row-major) as in GPT-2. */
typedef struct cg_gpt2_layer {
    const float *ln1_w, *ln1_b;
    const float *attn_w, *attn_b; /* [d, 3d] */
    const float *proj_w, *proj_b; /* [d, d] */
    const float *ln2_w, *ln2_b;
    const float *fc_w, *fc_b;     /* [d, 4d] */
    const float *fc2_w, *fc2_b;   /* [4d, d] */
} cg_gpt2_layer;

typedef struct cg_gpt2 {
    cg_gpt2_config cfg;
    const float *wte; /* [vocab, d]; also the LM head (tied) */
    const float *wpe; /* [positions, d] */
    const float *lnf_w, *lnf_b;
    cg_gpt2_layer *layers;
    float *storage; /* owns every tensor */
} cg_gpt2;

/* Validates a configuration (ranges, n_embd % n_head == 0). */
cg_status cg_gpt2_config_check(const cg_gpt2_config *c, cg_error *err);
/* Loads DIR/config.json and DIR/model.safetensors (F32/F16/BF16). */
cg_status cg_gpt2_load(cg_gpt2 **model, const char *dir, cg_error *err);
/* The same from explicit paths. */
cg_status cg_gpt2_load_files(cg_gpt2 **model, const char *config_path, const char *weights_path,
                             cg_error *err);
/* Random weights (GPT-2-like init, deterministic in seed), no file needed. */
cg_status cg_gpt2_random(cg_gpt2 **model, const cg_gpt2_config *cfg, uint64_t seed, cg_error *err);
/* GPT-2 base shape: 12 layers, 768 wide, 12 heads, 1024 positions, 50257 tokens. */
cg_gpt2_config cg_gpt2_base_config(void);
/* The GPT-2 family by name: gpt2-base (or gpt2), gpt2-medium (24 layers,
 * 1,024 wide, 16 heads), gpt2-large (36, 1,280, 20), gpt2-xl (48, 1,600,
 * 25), distilgpt2 (6, 768, 12); 1,024 positions, 50,257 tokens. CG_ERR_ARG
 * for another name. */
cg_status cg_gpt2_named_config(const char *name, cg_gpt2_config *cfg, cg_error *err);
void cg_gpt2_free(cg_gpt2 *model);

/* Float forward with a KV cache. */
typedef struct cg_gpt2_state {
    size_t len, cap;
    float *k, *v; /* [n_layer][cap][d] */
} cg_gpt2_state;

cg_status cg_gpt2_state_new(const cg_gpt2 *m, size_t cap, cg_gpt2_state *st, cg_error *err);
void cg_gpt2_state_free(cg_gpt2_state *st);
/* Feeds n tokens after the st->len already cached. logits: n x vocab floats
 * when all_positions, else the last position's vocab floats. A token >=
 * vocab_size, or more tokens than the cache has room for, is CG_ERR_ARG. */
cg_status cg_gpt2_forward(const cg_gpt2 *m, cg_gpt2_state *st, const uint32_t *tokens, size_t n,
                          float *logits, bool all_positions, int nthreads, cg_error *err);

/* The same with an observer that sees every intermediate tensor the secure
 * protocol will handle (for activation statistics): called with the layer
 * (n_layer for the final LayerNorm and logits), a tensor name and its values. */
typedef void (*cg_gpt2_observer)(void *ctx, unsigned layer, const char *tensor, const float *x, size_t n);
cg_status cg_gpt2_forward_observed(const cg_gpt2 *m, cg_gpt2_state *st, const uint32_t *tokens, size_t n,
                                   float *logits, bool all_positions, int nthreads, cg_gpt2_observer obs,
                                   void *obs_ctx, cg_error *err);

/* ---- Fixed-point emulator (fixed.c) -----------------------------------------
 * GPT-2 in the integer arithmetic of the secure protocol, step for step, so a
 * secure run can be checked for exact equality with it (docs/NUMERICS.md).
 * Activations are fixed point in Z_{2^l} with `act.frac_bits` = s fraction
 * bits; weights are rounded to `weight_frac` = w fraction bits. LayerNorm's
 * gamma and beta are folded into the next linear layer (weights and bias),
 * so the non-linear layers see plain LayerNorm. One position, one layer:
 *   h = LN(x); qkv = trunc(W_qkv h + b, w); per head: scores = trunc(q.k_j,
 *   s + log2 sqrt(dh)) (dh a power of 4; else trunc by s, times
 *   round(2^s / sqrt(dh)), trunc by s); p = softmax(scores over j <= pos);
 *   o = trunc(sum_j p_j v_j, s); x += trunc(W_o o + b, w);
 *   h = LN(x); x += trunc(W_2 GELU(trunc(W_1 h + b, w)) + b, w)
 * then logits = W_head LN(x) + b_head at scale s + w (no truncation), and
 * x0 = emb[token] + pos[position] at scale s. Every sum wraps mod 2^l as the
 * ring does; truncations are exact floors; non-linear steps are the
 * cg_fxp_ref_* references. Matrices are stored out x in, row-major. */
typedef struct cg_fixed_config {
    cg_fxp act;          /* ring bits l and activation fraction bits s */
    uint8_t weight_frac; /* w */
} cg_fixed_config;

/* l = 37, s = 12, w = 12 (chosen in docs/ACCURACY.md). */
cg_fixed_config cg_fixed_default(void);

typedef struct cg_fixed_layer {
    int32_t *qkv_w; int64_t *qkv_b;   /* [3d][d], gamma_1/beta_1 folded */
    int32_t *proj_w; int64_t *proj_b; /* [d][d] */
    int32_t *fc_w; int64_t *fc_b;     /* [4d][d], gamma_2/beta_2 folded */
    int32_t *fc2_w; int64_t *fc2_b;   /* [d][4d] */
} cg_fixed_layer;

typedef struct cg_fixed_model {
    cg_gpt2_config cfg;
    cg_fixed_config fx;
    int32_t *emb;    /* [vocab][d] token embedding at scale s */
    int64_t *pos;    /* [positions][d] position embedding at scale s */
    int32_t *head_w; /* [vocab][d]: wte with gamma_f folded, scale w */
    int64_t *head_b; /* [vocab]: wte . beta_f at scale s + w */
    cg_fixed_layer *layers;
    unsigned score_shift;   /* extra shift for 1/sqrt(dh), or 0 with score_mul */
    int64_t score_mul;      /* round(2^s / sqrt(dh)) when dh is not a power of 4 */
} cg_fixed_model;

/* Quantise a float model (rejects weights that do not fit 31 bits). */
cg_status cg_fixed_model_new(cg_fixed_model **out, const cg_gpt2 *m, cg_fixed_config fx,
                             cg_error *err);
void cg_fixed_model_free(cg_fixed_model *fm);

/* Fixed-point KV cache: k, v per layer, position, model dimension. */
typedef struct cg_fixed_state {
    size_t len, cap;
    int64_t *k, *v; /* [n_layer][cap][d] */
} cg_fixed_state;
cg_status cg_fixed_state_new(const cg_fixed_model *m, size_t cap, cg_fixed_state *st,
                             cg_error *err);
void cg_fixed_state_free(cg_fixed_state *st);

/* n new tokens after st->len cached ones; logits (vocab values at scale
 * s + w, centred) for the last position, or for every new position when
 * all_positions (n x vocab). Bad tokens and a full cache as cg_gpt2_forward. */
cg_status cg_fixed_forward(const cg_fixed_model *m, cg_fixed_state *st, const uint32_t *tokens,
                           size_t n, int64_t *logits, bool all_positions, int nthreads,
                           cg_error *err);
/* Index of the largest logit, the lowest on ties (what secure argmax gives). */
uint32_t cg_fixed_argmax(const int64_t *logits, size_t n);

/* Gumbel-max sampling as the protocol does it: logits (scale s + w) truncated
 * to s, times round(2^s * 1000 / temperature_milli) truncated by s, plus the
 * noise (scale s), argmax. scratch holds n values. */
uint32_t cg_fixed_sample(const cg_fixed_model *m, const int64_t *logits, size_t n,
                         uint32_t temperature_milli, const int64_t *noise, int64_t *scratch);
/* The public constant of that product. */
int64_t cg_fixed_inv_temperature(cg_fixed_config fx, uint32_t temperature_milli);

/* The attention scores' scaling, from scale 2s to scale s times
 * 1/sqrt(dh): a truncation by first_shift, then, when mul != 0, a product
 * with mul and a truncation by second_shift. The one definition the
 * emulator and the protocol both use; it takes score_shift and score_mul
 * (as in cg_fixed_model; score_shift is ignored when score_mul != 0)
 * rather than the model, since the client knows only those from the
 * handshake. */
typedef struct cg_fixed_score_scale {
    unsigned first_shift;
    int64_t mul; /* 0: the first truncation is all */
    unsigned second_shift;
} cg_fixed_score_scale;
cg_fixed_score_scale cg_fixed_score_scaling(cg_fixed_config fx, unsigned score_shift,
                                            int64_t score_mul);

/* Steps of the emulator's forward pass, in the clear. The protocol computes
 * the same values its own way (HE products for the matrices, shares for the
 * rest). */
/* y[o] = wrap(sum_i w[o][i] x[i] + b[o]) (b may be NULL). */
void cg_fixed_matvec(cg_fxp f, const int32_t *w, const int64_t *b, size_t out, size_t in,
                     const int64_t *x, int64_t *y);
/* Attention scores (n values at scale 2s) to scale s times 1/sqrt(dh), by
 * cg_fixed_score_scaling with the model's score_shift and score_mul. */
void cg_fixed_scale_scores(const cg_fixed_model *m, int64_t *sc, size_t n);

/* ---- Range check (ranges.c) -----------------------------------------------
 * Runs calibration tokens (windows of ctx_len, 0 = the model's positions)
 * through the float model and compares every quantity a protocol step has a
 * precondition on (LayerNorm inputs' row sum, mean, |x - mean|, sum of
 * squares, variance, |x - mean| / std; every linear layer's output; the
 * attention scores and their spread within a row; GELU's input; the logits)
 * with the bound the format gives (docs/NUMERICS.md), the observed maximum
 * times margin (squared for squared quantities) against the bound. Returns
 * CG_ERR_RANGE with a message naming the layer and the quantity when one
 * exceeds it (the report is filled either way; free it). */
typedef struct cg_range_item {
    unsigned layer; /* n_layer: the final LayerNorm and the logits */
    char quantity[96];
    double observed, needed, limit; /* needed = observed with the margin */
    bool weight_bound; /* the limit is 2^(l-2-s-w) or 2^(l-1-s-w): a smaller w widens it */
} cg_range_item;
typedef struct cg_range_report {
    cg_range_item *items;
    size_t n, worst; /* worst: the item with the largest needed / limit */
    double margin;
} cg_range_report;
cg_status cg_fixed_check_ranges(const cg_gpt2 *m, cg_fixed_config fx, const uint32_t *tokens,
                                size_t n, size_t ctx_len, double margin, cg_range_report *rep,
                                cg_error *err);
void cg_range_report_free(cg_range_report *rep);
/* The margin serve and `stats --check` use unless told otherwise. */
#define CG_RANGE_MARGIN 1.25

/* ---- Tokenizer (GPT-2 byte-level BPE) ----------------------------------- */
typedef struct cg_tokenizer cg_tokenizer;

cg_status cg_tokenizer_load(cg_tokenizer **tok, const char *vocab_json, const char *merges_txt,
                            cg_error *err);
cg_status cg_tokenizer_load_dir(cg_tokenizer **tok, const char *dir, cg_error *err);
void cg_tokenizer_free(cg_tokenizer *tok);
size_t cg_tokenizer_vocab_size(const cg_tokenizer *tok);
/* Encodes len bytes (any bytes, UTF-8 or not); *ids is cg_alloc'ed (cg_free
 * it; NULL when n is 0). */
cg_status cg_tokenizer_encode(const cg_tokenizer *tok, const char *text, size_t len, uint32_t **ids,
                              size_t *n, cg_error *err);
/* Decodes to bytes; *out is cg_alloc'ed (cg_free it) and NUL-terminated
 * (len excludes it). An id >= the vocabulary size is CG_ERR_ARG. */
cg_status cg_tokenizer_decode(const cg_tokenizer *tok, const uint32_t *ids, size_t n, char **out,
                              size_t *len, cg_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
