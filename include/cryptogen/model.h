/* cryptogen model layer: GPT-2 checkpoints (config.json + model.safetensors),
 * random-weight models of any shape, the float reference forward pass with a
 * KV cache, and the GPT-2 byte-level BPE tokenizer. */
#ifndef CRYPTOGEN_MODEL_H
#define CRYPTOGEN_MODEL_H

#include "cryptogen/mpc.h"

#ifdef __cplusplus
extern "C" {
#endif

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
void cg_gpt2_free(cg_gpt2 *model);

/* Float forward with a KV cache. */
typedef struct cg_gpt2_state {
    size_t len, cap;
    float *k, *v; /* [n_layer][cap][d] */
} cg_gpt2_state;

cg_status cg_gpt2_state_new(const cg_gpt2 *m, size_t cap, cg_gpt2_state *st, cg_error *err);
void cg_gpt2_state_free(cg_gpt2_state *st);
/* Feeds n tokens after the st->len already cached. logits: n x vocab floats
 * when all_positions, else the last position's vocab floats. */
cg_status cg_gpt2_forward(const cg_gpt2 *m, cg_gpt2_state *st, const uint32_t *tokens, size_t n,
                          float *logits, bool all_positions, int nthreads, cg_error *err);

/* The same with an observer that sees every intermediate tensor the secure
 * protocol will handle (for activation statistics): called with the layer
 * (n_layer for the final LayerNorm and logits), a tensor name and its values. */
typedef void (*cg_gpt2_observer)(void *ctx, unsigned layer, const char *tensor, const float *x, size_t n);
cg_status cg_gpt2_forward_observed(const cg_gpt2 *m, cg_gpt2_state *st, const uint32_t *tokens, size_t n,
                                   float *logits, bool all_positions, int nthreads, cg_gpt2_observer obs,
                                   void *obs_ctx, cg_error *err);

/* ---- Tokenizer (GPT-2 byte-level BPE) ----------------------------------- */
typedef struct cg_tokenizer cg_tokenizer;

cg_status cg_tokenizer_load(cg_tokenizer **tok, const char *vocab_json, const char *merges_txt,
                            cg_error *err);
cg_status cg_tokenizer_load_dir(cg_tokenizer **tok, const char *dir, cg_error *err);
void cg_tokenizer_free(cg_tokenizer *tok);
size_t cg_tokenizer_vocab_size(const cg_tokenizer *tok);
/* Encodes len bytes (any bytes, UTF-8 or not); *ids is malloc'ed. */
cg_status cg_tokenizer_encode(const cg_tokenizer *tok, const char *text, size_t len, uint32_t **ids,
                              size_t *n, cg_error *err);
/* Decodes to bytes; *out is malloc'ed and NUL-terminated (len excludes it). */
cg_status cg_tokenizer_decode(const cg_tokenizer *tok, const uint32_t *ids, size_t n, char **out,
                              size_t *len, cg_error *err);

#ifdef __cplusplus
}
#endif
#endif
