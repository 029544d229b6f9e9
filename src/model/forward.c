/* Float reference forward pass with a KV cache (prefill and decode are the
 * same code: n new tokens after st->len cached ones). Matrix-vector products
 * are split over output columns on the caller's threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cryptogen/model.h"

cg_status cg_gpt2_state_new(const cg_gpt2 *m, size_t cap, cg_gpt2_state *st, cg_error *err)
{
    if (cap == 0 || cap > m->cfg.n_positions)
        return cg_error_set(err, CG_ERR_ARG, "cache of %zu positions (model has %u)", cap, m->cfg.n_positions);
    size_t n = (size_t)m->cfg.n_layer * cap * m->cfg.n_embd;
    st->k = calloc(n, sizeof(float));
    st->v = calloc(n, sizeof(float));
    st->len = 0;
    st->cap = cap;
    if (!st->k || !st->v) {
        cg_gpt2_state_free(st);
        return cg_error_set(err, CG_ERR_NOMEM, "KV cache");
    }
    return CG_OK;
}

void cg_gpt2_state_free(cg_gpt2_state *st)
{
    free(st->k);
    free(st->v);
    st->k = st->v = NULL;
    st->len = st->cap = 0;
}

typedef struct matvec_job {
    const float *x;   /* rows x in */
    const float *w;   /* in x out */
    const float *b;   /* out or NULL */
    float *y;         /* rows x out */
    size_t rows, in, out;
    bool transposed;  /* w is out x in (the tied LM head) */
} matvec_job;

/* Cloned per instruction set (chosen at load time by the CPU) so the float
 * loops vectorise with AVX2/AVX-512 where present and stay portable. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void matvec_cols(void *ctx, size_t begin, size_t end)
{
    matvec_job *j = ctx;
    for (size_t r = 0; r < j->rows; r++) {
        const float *x = j->x + r * j->in;
        float *y = j->y + r * j->out;
        if (j->transposed) {
            for (size_t o = begin; o < end; o++) {
                const float *wr = j->w + o * j->in;
                /* 8 partial sums: lets the compiler vectorise without -ffast-math */
                float acc[8] = {0};
                size_t i = 0;
                for (; i + 8 <= j->in; i += 8)
                    for (size_t u = 0; u < 8; u++) acc[u] += x[i + u] * wr[i + u];
                float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                for (; i < j->in; i++) s += x[i] * wr[i];
                y[o] = s + (j->b ? j->b[o] : 0);
            }
        } else {
            for (size_t o = begin; o < end; o++) y[o] = j->b ? j->b[o] : 0;
            for (size_t i = 0; i < j->in; i++) {
                const float xi = x[i], *wr = j->w + i * j->out;
                for (size_t o = begin; o < end; o++) y[o] += xi * wr[o];
            }
        }
    }
}

static void matmul(const float *x, size_t rows, const float *w, const float *b, size_t in, size_t out,
                   float *y, bool transposed, int nthreads)
{
    matvec_job j = {x, w, b, y, rows, in, out, transposed};
    cg_parallel_for(out >= 256 ? nthreads : 1, out, matvec_cols, &j);
}

static void layernorm(const float *x, const float *g, const float *b, size_t d, float eps, float *y)
{
    double mean = 0, var = 0;
    for (size_t i = 0; i < d; i++) mean += x[i];
    mean /= (double)d;
    for (size_t i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (double)d;
    const float inv = (float)(1.0 / sqrt(var + eps));
    for (size_t i = 0; i < d; i++) y[i] = (float)(x[i] - mean) * inv * g[i] + b[i];
}

static float gelu(float x)
{
    /* GPT-2's tanh approximation ("gelu_new") */
    return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

cg_status cg_gpt2_forward(const cg_gpt2 *m, cg_gpt2_state *st, const uint32_t *tokens, size_t n,
                          float *logits, bool all_positions, int nthreads, cg_error *err)
{
    return cg_gpt2_forward_observed(m, st, tokens, n, logits, all_positions, nthreads, NULL, NULL, err);
}

#define OBSERVE(layer, name, ptr, count) \
    do {                                   \
        if (obs) obs(obs_ctx, (unsigned)(layer), name, ptr, count); \
    } while (0)

cg_status cg_gpt2_forward_observed(const cg_gpt2 *m, cg_gpt2_state *st, const uint32_t *tokens, size_t n,
                                   float *logits, bool all_positions, int nthreads, cg_gpt2_observer obs,
                                   void *obs_ctx, cg_error *err)
{
    const cg_gpt2_config *c = &m->cfg;
    const size_t d = c->n_embd, H = c->n_head, hd = d / H, V = c->vocab_size;
    if (n == 0) return cg_error_set(err, CG_ERR_ARG, "no tokens");
    if (st->len + n > st->cap)
        return cg_error_set(err, CG_ERR_ARG, "sequence of %zu tokens exceeds the cache of %zu", st->len + n, st->cap);
    for (size_t i = 0; i < n; i++)
        if (tokens[i] >= V) return cg_error_set(err, CG_ERR_ARG, "token %u outside the vocabulary", tokens[i]);
    float *x = malloc(n * d * sizeof(float)), *h = malloc(n * d * sizeof(float));
    float *qkv = malloc(n * 3 * d * sizeof(float)), *att = malloc(n * d * sizeof(float));
    float *ff = malloc(n * 4 * d * sizeof(float)), *tmp = malloc(n * d * sizeof(float));
    float *scores = malloc(st->cap * sizeof(float));
    if (!x || !h || !qkv || !att || !ff || !tmp || !scores) {
        free(x), free(h), free(qkv), free(att), free(ff), free(tmp), free(scores);
        return cg_error_set(err, CG_ERR_NOMEM, "forward pass");
    }
    const size_t p0 = st->len;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) x[i * d + k] = m->wte[(size_t)tokens[i] * d + k] + m->wpe[(p0 + i) * d + k];
    const float scale = 1.0f / sqrtf((float)hd);
    for (size_t l = 0; l < c->n_layer; l++) {
        const cg_gpt2_layer *L = &m->layers[l];
        float *K = st->k + l * st->cap * d, *Vc = st->v + l * st->cap * d;
        OBSERVE(l, "residual", x, n * d);
        for (size_t i = 0; i < n; i++) layernorm(x + i * d, L->ln1_w, L->ln1_b, d, c->ln_eps, h + i * d);
        OBSERVE(l, "ln1_out", h, n * d);
        matmul(h, n, L->attn_w, L->attn_b, d, 3 * d, qkv, false, nthreads);
        OBSERVE(l, "qkv", qkv, n * 3 * d);
        for (size_t i = 0; i < n; i++) {
            memcpy(K + (p0 + i) * d, qkv + i * 3 * d + d, d * sizeof(float));
            memcpy(Vc + (p0 + i) * d, qkv + i * 3 * d + 2 * d, d * sizeof(float));
        }
        for (size_t i = 0; i < n; i++) {
            const size_t T = p0 + i + 1; /* causal: positions 0..p0+i */
            for (size_t hh = 0; hh < H; hh++) {
                const float *q = qkv + i * 3 * d + hh * hd;
                float mx = -INFINITY;
                for (size_t t = 0; t < T; t++) {
                    const float *kt = K + t * d + hh * hd;
                    float s = 0;
                    for (size_t e = 0; e < hd; e++) s += q[e] * kt[e];
                    scores[t] = s * scale;
                    if (scores[t] > mx) mx = scores[t];
                }
                OBSERVE(l, "attn_scores", scores, T);
                float sum = 0;
                for (size_t t = 0; t < T; t++) sum += scores[t] = expf(scores[t] - mx);
                if (obs) {
                    for (size_t t = 0; t < T; t++) scores[t] /= sum;
                    OBSERVE(l, "softmax", scores, T);
                    sum = 1;
                }
                float *o = att + i * d + hh * hd;
                for (size_t e = 0; e < hd; e++) o[e] = 0;
                for (size_t t = 0; t < T; t++) {
                    const float p = scores[t] / sum, *vt = Vc + t * d + hh * hd;
                    for (size_t e = 0; e < hd; e++) o[e] += p * vt[e];
                }
            }
        }
        OBSERVE(l, "attn_values", att, n * d);
        matmul(att, n, L->proj_w, L->proj_b, d, d, tmp, false, nthreads);
        OBSERVE(l, "attn_proj", tmp, n * d);
        for (size_t i = 0; i < n * d; i++) x[i] += tmp[i];
        for (size_t i = 0; i < n; i++) layernorm(x + i * d, L->ln2_w, L->ln2_b, d, c->ln_eps, h + i * d);
        OBSERVE(l, "ln2_out", h, n * d);
        matmul(h, n, L->fc_w, L->fc_b, d, 4 * d, ff, false, nthreads);
        OBSERVE(l, "gelu_in", ff, n * 4 * d);
        for (size_t i = 0; i < n * 4 * d; i++) ff[i] = gelu(ff[i]);
        OBSERVE(l, "gelu_out", ff, n * 4 * d);
        matmul(ff, n, L->fc2_w, L->fc2_b, 4 * d, d, tmp, false, nthreads);
        OBSERVE(l, "mlp_out", tmp, n * d);
        for (size_t i = 0; i < n * d; i++) x[i] += tmp[i];
    }
    st->len += n;
    const size_t first = all_positions ? 0 : n - 1, rows = n - first;
    OBSERVE(c->n_layer, "residual", x + first * d, rows * d);
    for (size_t i = first; i < n; i++) layernorm(x + i * d, m->lnf_w, m->lnf_b, d, c->ln_eps, h + i * d);
    OBSERVE(c->n_layer, "lnf_out", h + first * d, rows * d);
    if (logits) {
        matmul(h + first * d, rows, m->wte, NULL, d, V, logits, true, nthreads);
        OBSERVE(c->n_layer, "logits", logits, rows * V);
    }
    free(x), free(h), free(qkv), free(att), free(ff), free(tmp), free(scores);
    return CG_OK;
}
