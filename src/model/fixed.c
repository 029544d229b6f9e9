/* Fixed-point emulator: GPT-2 in the exact integer arithmetic of the secure
 * protocol (see model.h for the step list). Its non-linear steps are the
 * cg_fxp_ref_* references, which the mpc protocols equal bit for bit in the
 * exact mode the secure run uses, and the protocol takes its public
 * constants from here (cg_fixed_score_scaling, cg_fixed_inv_temperature), so
 * a secure run that differs from it points to a protocol bug. */
#include <math.h>
#include <string.h>

#include "cryptogen/model.h"

cg_fixed_config cg_fixed_default(void)
{
    return (cg_fixed_config){.act = {.ring_bits = 37, .frac_bits = 12}, .weight_frac = 12};
}

static cg_status quant32(double v, unsigned frac, const char *what, int32_t *out, cg_error *err)
{
    double q = nearbyint(ldexp(v, (int)frac));
    if (!(fabs(q) < 2147483647.0))
        return cg_error_set(err, CG_ERR_RANGE, "%s: weight %g does not fit 31 bits at %u fraction bits",
                            what, v, frac);
    *out = (int32_t)q;
    return CG_OK;
}

static cg_status quant64(cg_fxp f, double v, unsigned frac, const char *what, int64_t *out,
                         cg_error *err)
{
    double q = nearbyint(ldexp(v, (int)frac));
    if (!(fabs(q) < ldexp(1.0, f.ring_bits - 2)))
        return cg_error_set(err, CG_ERR_RANGE, "%s: value %g outside the ring at %u fraction bits",
                            what, v, frac);
    *out = (int64_t)q;
    return CG_OK;
}

/* Conv1D weight w [in][out] with LayerNorm gamma/beta (or NULL) folded in:
 * W'[o][i] = gamma[i] w[i][o], b'[o] = b[o] + sum_i beta[i] w[i][o]. */
static cg_status fold_linear(const cg_fixed_config *fx, const float *w, const float *b,
                             const float *gamma, const float *beta, size_t in, size_t out,
                             const char *what, int32_t *qw, int64_t *qb, cg_error *err)
{
    for (size_t o = 0; o < out; o++) {
        double bias = b ? b[o] : 0.0;
        for (size_t i = 0; i < in; i++) {
            double wv = w[i * out + o];
            if (beta) bias += (double)beta[i] * wv;
            CG_TRY(quant32(gamma ? gamma[i] * wv : wv, fx->weight_frac, what, &qw[o * in + i], err));
        }
        CG_TRY(quant64(fx->act, bias, fx->act.frac_bits + fx->weight_frac, what, &qb[o], err));
    }
    return CG_OK;
}

void cg_fixed_model_free(cg_fixed_model *fm)
{
    if (!fm) return;
    if (fm->layers) {
        for (uint32_t l = 0; l < fm->cfg.n_layer; l++) {
            cg_fixed_layer *L = &fm->layers[l];
            cg_free(L->qkv_w);
            cg_free(L->qkv_b);
            cg_free(L->proj_w);
            cg_free(L->proj_b);
            cg_free(L->fc_w);
            cg_free(L->fc_b);
            cg_free(L->fc2_w);
            cg_free(L->fc2_b);
        }
    }
    cg_free(fm->layers);
    cg_free(fm->emb);
    cg_free(fm->pos);
    cg_free(fm->head_w);
    cg_free(fm->head_b);
    cg_free(fm);
}

cg_status cg_fixed_model_new(cg_fixed_model **out, const cg_gpt2 *m, cg_fixed_config fx,
                             cg_error *err)
{
    *out = NULL;
    const unsigned l = fx.act.ring_bits, s = fx.act.frac_bits, w = fx.weight_frac;
    if (l < 16 || l > 62 || s < 4 || s > 28 || w < 4 || w > 24 || s + w + 2 >= l)
        return cg_error_set(err, CG_ERR_PARAM, "fixed point: ring %u, fraction %u, weight fraction %u",
                            l, s, w);
    const size_t d = m->cfg.n_embd, V = m->cfg.vocab_size, P = m->cfg.n_positions;
    const size_t dh = d / m->cfg.n_head;
    cg_fixed_model *fm = cg_calloc(1, sizeof *fm);
    if (!fm) return cg_error_set(err, CG_ERR_NOMEM, "fixed model");
    fm->cfg = m->cfg;
    fm->fx = fx;
    unsigned lg = 0;
    while ((1ull << lg) < dh) lg++;
    if ((1ull << lg) == dh && lg % 2 == 0) {
        fm->score_shift = lg / 2;
    } else {
        fm->score_mul = (int64_t)llround(ldexp(1.0 / sqrt((double)dh), (int)s));
    }
    fm->layers = cg_calloc(m->cfg.n_layer, sizeof *fm->layers);
    fm->emb = cg_alloc(V * d * sizeof(int32_t));
    fm->pos = cg_alloc(P * d * sizeof(int64_t));
    fm->head_w = cg_alloc(V * d * sizeof(int32_t));
    fm->head_b = cg_alloc(V * sizeof(int64_t));
    cg_status st = CG_OK;
    if (!fm->layers || !fm->emb || !fm->pos || !fm->head_w || !fm->head_b)
        st = cg_error_set(err, CG_ERR_NOMEM, "fixed model");
    for (size_t i = 0; st == CG_OK && i < V * d; i++)
        st = quant32(m->wte[i], s, "wte", &fm->emb[i], err);
    for (size_t i = 0; st == CG_OK && i < P * d; i++)
        st = quant64(fx.act, m->wpe[i], s, "wpe", &fm->pos[i], err);
    /* LM head: logits[v] = sum_i wte[v][i] (gamma_f[i] y[i] + beta_f[i]) */
    for (size_t v = 0; st == CG_OK && v < V; v++) {
        double bias = 0;
        for (size_t i = 0; st == CG_OK && i < d; i++) {
            double wv = m->wte[v * d + i];
            bias += wv * m->lnf_b[i];
            st = quant32(wv * m->lnf_w[i], w, "lm head", &fm->head_w[v * d + i], err);
        }
        if (st == CG_OK) st = quant64(fx.act, bias, s + w, "lm head bias", &fm->head_b[v], err);
    }
    for (uint32_t li = 0; st == CG_OK && li < m->cfg.n_layer; li++) {
        const cg_gpt2_layer *src = &m->layers[li];
        cg_fixed_layer *L = &fm->layers[li];
        L->qkv_w = cg_alloc(3 * d * d * sizeof(int32_t));
        L->qkv_b = cg_alloc(3 * d * sizeof(int64_t));
        L->proj_w = cg_alloc(d * d * sizeof(int32_t));
        L->proj_b = cg_alloc(d * sizeof(int64_t));
        L->fc_w = cg_alloc(4 * d * d * sizeof(int32_t));
        L->fc_b = cg_alloc(4 * d * sizeof(int64_t));
        L->fc2_w = cg_alloc(4 * d * d * sizeof(int32_t));
        L->fc2_b = cg_alloc(d * sizeof(int64_t));
        if (!L->qkv_w || !L->qkv_b || !L->proj_w || !L->proj_b || !L->fc_w || !L->fc_b ||
            !L->fc2_w || !L->fc2_b) {
            st = cg_error_set(err, CG_ERR_NOMEM, "fixed model layer %u", li);
            break;
        }
        st = fold_linear(&fx, src->attn_w, src->attn_b, src->ln1_w, src->ln1_b, d, 3 * d,
                         "attn.c_attn", L->qkv_w, L->qkv_b, err);
        if (st == CG_OK)
            st = fold_linear(&fx, src->proj_w, src->proj_b, NULL, NULL, d, d, "attn.c_proj",
                             L->proj_w, L->proj_b, err);
        if (st == CG_OK)
            st = fold_linear(&fx, src->fc_w, src->fc_b, src->ln2_w, src->ln2_b, d, 4 * d,
                             "mlp.c_fc", L->fc_w, L->fc_b, err);
        if (st == CG_OK)
            st = fold_linear(&fx, src->fc2_w, src->fc2_b, NULL, NULL, 4 * d, d, "mlp.c_proj",
                             L->fc2_w, L->fc2_b, err);
    }
    if (st != CG_OK) {
        cg_fixed_model_free(fm);
        return st;
    }
    *out = fm;
    return CG_OK;
}

cg_status cg_fixed_state_new(const cg_fixed_model *m, size_t cap, cg_fixed_state *st,
                             cg_error *err)
{
    if (cap == 0 || cap > m->cfg.n_positions)
        return cg_error_set(err, CG_ERR_ARG, "cache of %zu positions (model has %u)", cap,
                            m->cfg.n_positions);
    size_t n = (size_t)m->cfg.n_layer * cap * m->cfg.n_embd;
    st->k = cg_calloc(n, sizeof(int64_t));
    st->v = cg_calloc(n, sizeof(int64_t));
    st->len = 0;
    st->cap = cap;
    if (!st->k || !st->v) {
        cg_fixed_state_free(st);
        return cg_error_set(err, CG_ERR_NOMEM, "fixed KV cache");
    }
    return CG_OK;
}

void cg_fixed_state_free(cg_fixed_state *st)
{
    cg_free(st->k);
    cg_free(st->v);
    st->k = st->v = NULL;
    st->len = st->cap = 0;
}

void cg_fixed_matvec(cg_fxp f, const int32_t *w, const int64_t *b, size_t out, size_t in,
                     const int64_t *x, int64_t *y)
{
    /* Sums wrap mod 2^64 and then mod 2^l: the same as the ring's result. */
    for (size_t o = 0; o < out; o++) {
        const int32_t *row = w + o * in;
        uint64_t acc = b ? (uint64_t)b[o] : 0;
        for (size_t i = 0; i < in; i++) acc += (uint64_t)(int64_t)row[i] * (uint64_t)x[i];
        y[o] = cg_fxp_wrap(f, (int64_t)acc);
    }
}

typedef struct mv_job {
    cg_fxp f;
    const int32_t *w;
    const int64_t *b;
    size_t in;
    const int64_t *x;
    int64_t *y;
} mv_job;

static void mv_range(void *ctx, size_t begin, size_t end)
{
    mv_job *j = ctx;
    cg_fixed_matvec(j->f, j->w + begin * j->in, j->b ? j->b + begin : NULL, end - begin, j->in,
                    j->x, j->y + begin);
}

static void matvec_par(cg_fxp f, const int32_t *w, const int64_t *b, size_t out, size_t in,
                       const int64_t *x, int64_t *y, int nthreads)
{
    mv_job j = {f, w, b, in, x, y};
    if (nthreads <= 1 || out < 256 || cg_parallel_for(nthreads, out, mv_range, &j) != CG_OK)
        mv_range(&j, 0, out);
}

static void trunc_vec(cg_fxp f, int64_t *x, size_t n, unsigned shift)
{
    for (size_t i = 0; i < n; i++) x[i] = cg_fxp_wrap(f, cg_fxp_ref_trunc(x[i], shift));
}

uint32_t cg_fixed_argmax(const int64_t *logits, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return (uint32_t)best;
}

/* One position through every layer; x (d) in, final LN output hf (d) out. */
static cg_status forward_one(const cg_fixed_model *m, cg_fixed_state *st, uint32_t token,
                             int64_t *ws, int64_t *hf, int nthreads, cg_error *err)
{
    const cg_fxp f = m->fx.act;
    const unsigned s = f.frac_bits, w = m->fx.weight_frac;
    const size_t d = m->cfg.n_embd, H = m->cfg.n_head, dh = d / H, pos = st->len;
    int64_t *x = ws, *h = x + d, *qkv = h + d, *o = qkv + 3 * d, *u = o + d, *sc = u + 4 * d,
            *p = sc + st->cap;
    for (size_t i = 0; i < d; i++)
        x[i] = cg_fxp_wrap(f, (int64_t)m->emb[(size_t)token * d + i] + m->pos[pos * d + i]);
    for (uint32_t li = 0; li < m->cfg.n_layer; li++) {
        const cg_fixed_layer *L = &m->layers[li];
        int64_t *kc = st->k + ((size_t)li * st->cap) * d, *vc = st->v + ((size_t)li * st->cap) * d;
        CG_TRY(cg_fxp_ref_layernorm(f, x, d, h, err));
        matvec_par(f, L->qkv_w, L->qkv_b, 3 * d, d, h, qkv, nthreads);
        trunc_vec(f, qkv, 3 * d, w);
        memcpy(kc + pos * d, qkv + d, d * sizeof(int64_t));
        memcpy(vc + pos * d, qkv + 2 * d, d * sizeof(int64_t));
        for (size_t hd = 0; hd < H; hd++) {
            const int64_t *q = qkv + hd * dh;
            for (size_t j = 0; j <= pos; j++) {
                const int64_t *k = kc + j * d + hd * dh;
                uint64_t acc = 0;
                for (size_t i = 0; i < dh; i++) acc += (uint64_t)q[i] * (uint64_t)k[i];
                sc[j] = cg_fxp_wrap(f, (int64_t)acc);
            }
            cg_fixed_scale_scores(m, sc, pos + 1);
            CG_TRY(cg_fxp_ref_softmax(f, sc, pos + 1, p, err));
            for (size_t i = 0; i < dh; i++) {
                uint64_t acc = 0;
                for (size_t j = 0; j <= pos; j++) acc += (uint64_t)p[j] * (uint64_t)vc[j * d + hd * dh + i];
                o[hd * dh + i] = cg_fxp_wrap(f, (int64_t)acc);
            }
        }
        trunc_vec(f, o, d, s);
        matvec_par(f, L->proj_w, L->proj_b, d, d, o, u, nthreads);
        trunc_vec(f, u, d, w);
        for (size_t i = 0; i < d; i++) x[i] = cg_fxp_wrap(f, (int64_t)((uint64_t)x[i] + (uint64_t)u[i]));
        CG_TRY(cg_fxp_ref_layernorm(f, x, d, h, err));
        matvec_par(f, L->fc_w, L->fc_b, 4 * d, d, h, u, nthreads);
        trunc_vec(f, u, 4 * d, w);
        for (size_t i = 0; i < 4 * d; i++) u[i] = cg_fxp_ref_gelu(f, u[i]);
        matvec_par(f, L->fc2_w, L->fc2_b, d, 4 * d, u, o, nthreads);
        trunc_vec(f, o, d, w);
        for (size_t i = 0; i < d; i++) x[i] = cg_fxp_wrap(f, (int64_t)((uint64_t)x[i] + (uint64_t)o[i]));
    }
    CG_TRY(cg_fxp_ref_layernorm(f, x, d, hf, err));
    st->len++;
    return CG_OK;
}

cg_fixed_score_scale cg_fixed_score_scaling(cg_fixed_config fx, unsigned score_shift,
                                            int64_t score_mul)
{
    const unsigned s = fx.act.frac_bits;
    /* dh a power of 4: 1/sqrt(dh) is a shift, folded into the truncation */
    if (score_mul == 0) return (cg_fixed_score_scale){.first_shift = s + score_shift};
    return (cg_fixed_score_scale){.first_shift = s, .mul = score_mul, .second_shift = s};
}

void cg_fixed_scale_scores(const cg_fixed_model *m, int64_t *sc, size_t n)
{
    const cg_fxp f = m->fx.act;
    const cg_fixed_score_scale k = cg_fixed_score_scaling(m->fx, m->score_shift, m->score_mul);
    trunc_vec(f, sc, n, k.first_shift);
    if (k.mul == 0) return;
    for (size_t j = 0; j < n; j++) sc[j] = cg_fxp_wrap(f, (int64_t)((uint64_t)sc[j] * (uint64_t)k.mul));
    trunc_vec(f, sc, n, k.second_shift);
}

cg_status cg_fixed_forward(const cg_fixed_model *m, cg_fixed_state *st, const uint32_t *tokens,
                           size_t n, int64_t *logits, bool all_positions, int nthreads,
                           cg_error *err)
{
    const size_t d = m->cfg.n_embd, V = m->cfg.vocab_size;
    if (n == 0) return cg_error_set(err, CG_ERR_ARG, "no tokens");
    if (st->len + n > st->cap)
        return cg_error_set(err, CG_ERR_ARG, "%zu tokens after %zu exceed the cache (%zu)", n,
                            st->len, st->cap);
    for (size_t i = 0; i < n; i++)
        if (tokens[i] >= V) return cg_error_set(err, CG_ERR_ARG, "token %u >= vocab %zu", tokens[i], V);
    int64_t *ws = cg_alloc((11 * d + 2 * st->cap) * sizeof(int64_t));
    if (!ws) return cg_error_set(err, CG_ERR_NOMEM, "fixed forward");
    int64_t *hf = ws + 10 * d + 2 * st->cap;
    cg_status rc = CG_OK;
    for (size_t t = 0; rc == CG_OK && t < n; t++) {
        rc = forward_one(m, st, tokens[t], ws, hf, nthreads, err);
        if (rc == CG_OK && (all_positions || t + 1 == n))
            matvec_par(m->fx.act, m->head_w, m->head_b, V, d, hf,
                       logits + (all_positions ? t * V : 0), nthreads);
    }
    cg_free(ws);
    return rc;
}

int64_t cg_fixed_inv_temperature(cg_fixed_config fx, uint32_t temperature_milli)
{
    return (int64_t)llround(ldexp(1000.0 / (double)temperature_milli, fx.act.frac_bits));
}

uint32_t cg_fixed_sample(const cg_fixed_model *m, const int64_t *logits, size_t n,
                         uint32_t temperature_milli, const int64_t *noise, int64_t *z)
{
    const cg_fxp f = m->fx.act;
    const int64_t c = cg_fixed_inv_temperature(m->fx, temperature_milli);
    for (size_t i = 0; i < n; i++) {
        int64_t v = cg_fxp_wrap(f, cg_fxp_ref_trunc(logits[i], m->fx.weight_frac));
        v = cg_fxp_wrap(f, (int64_t)((uint64_t)v * (uint64_t)c));
        v = cg_fxp_wrap(f, cg_fxp_ref_trunc(v, f.frac_bits));
        z[i] = cg_fxp_wrap(f, (int64_t)((uint64_t)v + (uint64_t)noise[i]));
    }
    return cg_fixed_argmax(z, n);
}
