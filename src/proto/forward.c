/* One pass of new positions through GPT-2 on shares, read top-down as the
 * model is: embedding, the blocks, the final LayerNorm, the head, the token.
 * Each step is the same integer arithmetic as the fixed-point emulator
 * (cg_fixed_forward; model.h lists it), so the two agree bit for bit. */
#include <math.h>
#include <string.h>

#include "proto/proto_internal.h"

/* The pass's activations, rows at a time. */
typedef struct activations {
    uint64_t *x;      /* rows x d: the residual stream */
    uint64_t *x64;    /* rows x d: x extended exactly to 64 bits, when lifted */
    bool lifted;      /* x64 holds x (after a projection into the stream) */
    uint64_t *h;      /* rows x 4d: LayerNorm, attention and GELU outputs */
    uint64_t *qkv;    /* rows x 3d */
    uint64_t *u;      /* rows x 4d: linear layers' outputs */
    uint64_t *onehot; /* client: rows x V */
    uint64_t *logits; /* V */
} activations;

static void activations_free(activations *a)
{
    cg_free(a->x), cg_free(a->x64), cg_free(a->h), cg_free(a->qkv), cg_free(a->u), cg_free(a->onehot);
    cg_free(a->logits);
}

static cg_status activations_new(const gen_sess *s, size_t rows, activations *a, cg_error *err)
{
    const size_t d = s->d;
    *a = (activations){.x = cg_calloc(rows * d, sizeof(uint64_t)),
                       .x64 = cg_calloc(rows * d, sizeof(uint64_t)),
                       .h = cg_calloc(rows * 4 * d, sizeof(uint64_t)),
                       .qkv = cg_calloc(rows * 3 * d, sizeof(uint64_t)),
                       .u = cg_calloc(rows * 4 * d, sizeof(uint64_t)),
                       .onehot = s->party == CG_CLIENT ? cg_calloc(rows * s->V, sizeof(uint64_t)) : NULL,
                       .logits = cg_calloc(s->V, sizeof(uint64_t))};
    if (a->x && a->x64 && a->h && a->qkv && a->u && a->logits && (a->onehot || s->party == CG_SERVER))
        return CG_OK;
    activations_free(a);
    return cg_error_set(err, CG_ERR_NOMEM, "forward pass");
}

/* x = emb[token] + pos[position]: the client's one-hot rows times the token
 * table (the server's share of the one-hot rows is zero), then the server
 * adds the public positions' embeddings to its share. */
static cg_status embed(gen_sess *s, const uint32_t *tokens, size_t pos0, size_t rows,
                       activations *a, cg_error *err)
{
    gen_part_begin(s, CG_PART_EMBEDDING);
    cg_status st = CG_OK;
    /* a prompt's rows came from the batch lookup (gen_embed_pass) */
    const bool batch = s->emb_x && pos0 >= s->emb_pos0 && pos0 + rows <= s->emb_pos0 + s->emb_rows;
    if (batch) memcpy(a->x, s->emb_x + (pos0 - s->emb_pos0) * s->d, rows * s->d * sizeof *a->x);
    for (size_t r = 0; !batch && st == CG_OK && s->party == CG_CLIENT && r < rows; r++) {
        if (tokens[r] >= s->V) st = cg_error_set(err, CG_ERR_ARG, "token %u >= vocab %zu", tokens[r], s->V);
        else a->onehot[r * s->V + tokens[r]] = 1;
    }
    if (st == CG_OK && !batch) st = gen_linear(s, GEN_MAT_EMBED, 0, rows, a->onehot, a->x, err);
    for (size_t r = 0; st == CG_OK && s->party == CG_SERVER && r < rows; r++)
        for (size_t i = 0; i < s->d; i++)
            a->x[r * s->d + i] = (a->x[r * s->d + i] + (uint64_t)s->fm->pos[(pos0 + r) * s->d + i]) & s->mask;
    gen_part_end(s);
    return st;
}

cg_status gen_embed_pass(gen_sess *s, const uint32_t *tokens, size_t pos0, size_t rows, cg_error *err)
{
    gen_embed_pass_end(s);
    if (rows < GEN_EMBED_BATCH_MIN) return CG_OK;
    s->emb_x = cg_calloc(rows * s->d, sizeof *s->emb_x);
    if (!s->emb_x) return cg_error_set(err, CG_ERR_NOMEM, "embedding rows");
    gen_part_begin(s, CG_PART_EMBEDDING);
    cg_status st = gen_embed_batch(s, tokens, rows, s->emb_x, err);
    gen_part_end(s);
    if (st != CG_OK) gen_embed_pass_end(s);
    s->emb_pos0 = pos0;
    s->emb_rows = st == CG_OK ? rows : 0;
    return st;
}

void gen_embed_pass_end(gen_sess *s)
{
    cg_free(s->emb_x); /* shares: wiped */
    s->emb_x = NULL;
    s->emb_rows = 0;
}

/* LayerNorm without gamma and beta (they are folded into the next layer);
 * on x64, x's exact 64-bit extension, when the projection before gave it. */
static cg_status layernorm(gen_sess *s, cg_gen_part part, size_t rows, const uint64_t *x,
                           const uint64_t *x64, uint64_t *h, cg_error *err)
{
    gen_part_begin(s, part);
    cg_status st = x64 ? cg_mpc_layernorm_lifted(s->mpc, s->fx.act, rows, s->d, x64, h, err)
                       : cg_mpc_layernorm(s->mpc, s->fx.act, rows, s->d, x, h, err);
    gen_part_end(s);
    return st;
}

/* y = trunc(W x + b, w): back to scale s; with a residual stream a, also
 * a->x += y, the truncation and the next LayerNorm's extension of the sum
 * in one protocol (a->x64; the same values as truncating, adding mod 2^l
 * and extending). */
static cg_status projection(gen_sess *s, cg_gen_part part, gen_matrix_role role, size_t layer,
                            size_t rows, const uint64_t *x, uint64_t *y, activations *a,
                            cg_error *err)
{
    const size_t n = rows * gen_matrix_of(&s->cfg, NULL, role, layer).out;
    gen_part_begin(s, part);
    cg_status st = gen_linear(s, role, layer, rows, x, y, err);
    if (st == CG_OK && !a) st = gen_trunc(s, n, y, s->fx.weight_frac, err);
    if (st == CG_OK && a) st = cg_mpc_trunc_add_lift(s->mpc, s->l, s->fx.weight_frac, n, y, a->x, a->x64, err);
    for (size_t i = 0; st == CG_OK && a && i < n; i++) a->x[i] = a->x64[i] & s->mask;
    if (a) a->lifted = st == CG_OK;
    gen_part_end(s);
    return st;
}

static cg_status gelu(gen_sess *s, size_t n, const uint64_t *x, uint64_t *y, cg_error *err)
{
    gen_part_begin(s, CG_PART_GELU);
    cg_status st = cg_mpc_gelu(s->mpc, s->fx.act, n, x, y, err);
    gen_part_end(s);
    return st;
}

static cg_status block(gen_sess *s, size_t layer, size_t pos0, size_t rows, activations *a,
                       cg_error *err)
{
    /* the block's LayerNorm, softmax and GELU product material in one
     * round trip (softmax: rows x heads rows of up to pos0 + rows) */
    gen_part_begin(s, CG_PART_LAYERNORM);
    cg_status sp = cg_mpc_prepare(s->mpc, s->fx.act, 2, rows, s->d, rows * 4 * s->d, rows * s->H,
                                  pos0 + rows, err);
    gen_part_end(s);
    CG_TRY(sp);
    CG_TRY(layernorm(s, CG_PART_LAYERNORM, rows, a->x, a->lifted ? a->x64 : NULL, a->h, err));
    CG_TRY(projection(s, CG_PART_QKV, GEN_MAT_QKV, layer, rows, a->h, a->qkv, NULL, err));
    CG_TRY(gen_attention(s, layer, pos0, rows, a->qkv, a->h, err));
    CG_TRY(projection(s, CG_PART_ATTN_OUT, GEN_MAT_ATTN_OUT, layer, rows, a->h, a->u, a, err));
    CG_TRY(layernorm(s, CG_PART_LAYERNORM, rows, a->x, a->x64, a->h, err));
    CG_TRY(projection(s, CG_PART_MLP_UP, GEN_MAT_MLP_UP, layer, rows, a->h, a->u, NULL, err));
    CG_TRY(gelu(s, rows * 4 * s->d, a->u, a->h, err));
    return projection(s, CG_PART_MLP_DOWN, GEN_MAT_MLP_DOWN, layer, rows, a->h, a->u, a, err);
}

/* Gumbel-max: logits / T + G on shares, G = -log(-log u) from the server's
 * per-session seed, added to the server's share only, so the client's view
 * is the token alone (cg_fixed_sample is the same in the clear). */
static cg_status gumbel_scores(gen_sess *s, uint64_t *z, cg_error *err)
{
    const size_t V = s->V;
    const unsigned sf = s->fx.act.frac_bits;
    const int64_t c = cg_fixed_inv_temperature(s->fx, s->req.temperature_milli);
    CG_TRY(gen_trunc(s, V, z, s->fx.weight_frac, err));
    cg_mpc_mul_public(s->mpc, s->l, V, z, (uint64_t)c, z);
    CG_TRY(gen_trunc(s, V, z, sf, err));
    if (s->party != CG_SERVER) return CG_OK;
    int64_t *g = cg_alloc(V * sizeof *g);
    if (!g) return cg_error_set(err, CG_ERR_NOMEM, "sampling noise");
    cg_prg prg;
    cg_prg_init(&prg, s->sample_seed, s->rep.step);
    for (size_t i = 0; i < V; i++) {
        /* u in (0, 1) with 53 random bits, never 0 */
        double u = ((double)(cg_prg_u64(&prg) >> 11) + 0.5) * 0x1p-53;
        g[i] = (int64_t)llround(ldexp(-log(-log(u)), (int)sf));
        z[i] = (z[i] + (uint64_t)g[i]) & s->mask;
    }
    cg_prg_clear(&prg);
    if (s->opt && s->opt->on_noise) s->opt->on_noise(s->opt->on_noise_ctx, s->rep.step, g, V);
    cg_free(g);
    return CG_OK;
}

/* The token after the last position: its logits (at scale s + w, not
 * truncated), then argmax or Gumbel-max, revealed to the client only. */
static cg_status next_token(gen_sess *s, size_t last, activations *a, uint32_t *token,
                            cg_error *err)
{
    CG_TRY(layernorm(s, CG_PART_FINAL_NORM, 1, a->x + last * s->d,
                     a->lifted ? a->x64 + last * s->d : NULL, a->h, err));
    gen_part_begin(s, CG_PART_LM_HEAD);
    cg_status st = gen_linear(s, GEN_MAT_LM_HEAD, 0, 1, a->h, a->logits, err);
    gen_part_end(s);
    CG_TRY(st);
    gen_part_begin(s, CG_PART_TOKEN);
    uint64_t idx = 0;
    if (s->req.temperature_milli) st = gumbel_scores(s, a->logits, err);
    if (st == CG_OK) st = cg_mpc_argmax_reveal(s->mpc, s->l, s->V, a->logits, &idx, err);
    if (st == CG_OK && s->party == CG_CLIENT) {
        if (idx >= s->V) st = cg_error_set(err, CG_ERR_FORMAT, "argmax gave %llu", (unsigned long long)idx);
        else *token = (uint32_t)idx;
    }
    gen_part_end(s);
    return st;
}

cg_status gen_forward(gen_sess *s, const uint32_t *tokens, size_t pos0, size_t rows, bool pick,
                      uint32_t *token, cg_error *err)
{
    activations a;
    CG_TRY(activations_new(s, rows, &a, err));
    cg_status st = embed(s, tokens, pos0, rows, &a, err);
    for (size_t layer = 0; st == CG_OK && layer < s->cfg.n_layer; layer++) {
        st = block(s, layer, pos0, rows, &a, err);
        if (st == CG_OK && s->prefill_total) gen_progress(s, CG_PHASE_PREFILL, ++s->prefill_done, s->prefill_total);
    }
    /* only the last position's logits are needed */
    if (st == CG_OK && pick) st = next_token(s, rows - 1, &a, token, err);
    activations_free(&a);
    return st;
}
