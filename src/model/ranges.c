/* Range check: runs calibration text through the float model and compares
 * every quantity a secure protocol step has a precondition on (NUMERICS.md;
 * outside them shares come out wrong, silently) with the bound the format
 * gives, times a safety margin. The bounds follow the protocols' formulas
 * at the given l, s, w. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cryptogen/model.h"

/* Quantities per layer; LN_* come three times (ln_1, ln_2, ln_f). */
enum { LN_SUM, LN_MEAN, LN_DEV, LN_SQ, LN_VAR, LN_RATIO, LN_N };
enum { Q_LN1 = 0, Q_LN2 = LN_N, Q_QKV = 2 * LN_N, Q_SCORE, Q_SPREAD, Q_PROJ, Q_GELU, Q_MLP,
       Q_LOGITS, Q_N };

static const char *const LN_NAMES[LN_N] = {"|row sum|", "|mean|", "|x - mean|",
                                           "sum of (x - mean)^2", "variance",
                                           "|x - mean| / std"};
static const char *const Q_NAMES[] = {"qkv output |y|", "attention score |q.k / sqrt(dh)|",
                                      "attention score spread (max - x)", "attention projection |y|",
                                      "GELU input |x| (c_fc output)", "MLP output |y| (c_proj)",
                                      "logit |z|"};
static const char *const LN_WHERE[3] = {"LayerNorm 1", "LayerNorm 2", "final LayerNorm"};

typedef struct ctx {
    const cg_gpt2 *m;
    double *obs; /* (n_layer + 1) x Q_N */
    float *res;  /* this block's residual rows, for ln_2's input */
    size_t res_cap, res_n;
} ctx;

static void put(ctx *c, unsigned layer, int q, double v)
{
    double *o = &c->obs[(size_t)layer * Q_N + q];
    if (!(v <= *o)) *o = v; /* NaN also lands */
}

static void ln_rows(ctx *c, unsigned layer, int base, const float *x, size_t n)
{
    const size_t d = c->m->cfg.n_embd;
    for (size_t r = 0; r + d <= n; r += d) {
        double sum = 0, sq = 0, dev = 0;
        for (size_t i = 0; i < d; i++) sum += x[r + i];
        const double mean = sum / (double)d;
        for (size_t i = 0; i < d; i++) {
            double e = x[r + i] - mean;
            sq += e * e;
            if (fabs(e) > dev) dev = fabs(e);
        }
        const double var = sq / (double)d;
        put(c, layer, base + LN_SUM, fabs(sum));
        put(c, layer, base + LN_MEAN, fabs(mean));
        put(c, layer, base + LN_DEV, dev);
        put(c, layer, base + LN_SQ, sq);
        put(c, layer, base + LN_VAR, var);
        put(c, layer, base + LN_RATIO, dev / sqrt(var + c->m->cfg.ln_eps));
    }
}

static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(x[i]) <= m)) m = fabs(x[i]);
    return m;
}

static void observe(void *p, unsigned layer, const char *t, const float *x, size_t n)
{
    ctx *c = p;
    const unsigned L = c->m->cfg.n_layer;
    if (!strcmp(t, "residual")) {
        ln_rows(c, layer, Q_LN1, x, n); /* ln_f's input at layer L */
        if (layer < L && n <= c->res_cap) {
            memcpy(c->res, x, n * sizeof *x);
            c->res_n = n;
        }
    } else if (!strcmp(t, "attn_proj")) {
        put(c, layer, Q_PROJ, max_abs(x, n));
        if (n == c->res_n) {
            for (size_t i = 0; i < n; i++) c->res[i] += x[i];
            ln_rows(c, layer, Q_LN2, c->res, n);
        }
    } else if (!strcmp(t, "qkv")) {
        put(c, layer, Q_QKV, max_abs(x, n));
    } else if (!strcmp(t, "attn_scores")) {
        double mx = -INFINITY, mn = INFINITY;
        for (size_t i = 0; i < n; i++) {
            mx = fmax(mx, x[i]);
            mn = fmin(mn, x[i]);
        }
        put(c, layer, Q_SCORE, max_abs(x, n));
        put(c, layer, Q_SPREAD, mx - mn);
    } else if (!strcmp(t, "gelu_in")) {
        put(c, layer, Q_GELU, max_abs(x, n));
    } else if (!strcmp(t, "mlp_out")) {
        put(c, layer, Q_MLP, max_abs(x, n));
    } else if (!strcmp(t, "logits")) {
        put(c, layer, Q_LOGITS, max_abs(x, n));
    }
}

/* The bound of quantity q at format fx (real units), and whether it is a
 * squared quantity (the margin applies squared). */
static double limit(const cg_gpt2_config *cfg, cg_fixed_config fx, int q, bool *squared)
{
    const int l = fx.act.ring_bits, s = fx.act.frac_bits, w = fx.weight_frac;
    const double lin = ldexp(1.0, l - 2 - s - w);
    *squared = false;
    if (q < Q_QKV) {
        switch (q % LN_N) {
        case LN_SUM: return ldexp(1.0, l - 2 - s);
        /* x's exact extension to 64 bits needs |x| < 2^(l-2-s): mean and
         * deviation within half of it each */
        case LN_MEAN: return ldexp(1.0, l - 3 - s);
        case LN_DEV: return ldexp(1.0, l - 3 - s);
        case LN_SQ: *squared = true; return ldexp(1.0, 62 - 2 * s); /* sum of squares, 2s bits */
        case LN_VAR: *squared = true; return ldexp(1.0, l - 2 - s - CG_LN_VAR_EXTRA);
        default: return ldexp(1.0, l - 2 - 2 * s - CG_LN_RS_EXTRA);
        }
    }
    switch (q) {
    case Q_SCORE: /* q.k at scale 2s before its truncation */
        return ldexp(1.0, l - 2 - 2 * s) / sqrt((double)(cfg->n_embd / cfg->n_head));
    case Q_SPREAD: /* exp's range reduction: -x round(2^s / ln2) < 2^(l-2) */
        return ldexp(1.0, l - 2) / nearbyint(ldexp(1.0 / M_LN2, s)) / ldexp(1.0, s);
    case Q_GELU: return fmin(lin, ldexp(1.0, l - 2 - 2 * s));
    case Q_LOGITS: return ldexp(1.0, l - 1 - s - w); /* not truncated: the signed ring */
    default: return lin;
    }
}

static unsigned s_of(cg_fixed_config fx) { return fx.act.frac_bits; }

static const char *quantity_name(int q, char *buf, size_t size)
{
    if (q < Q_QKV) {
        snprintf(buf, size, "%s input %s", LN_WHERE[q / LN_N], LN_NAMES[q % LN_N]);
        return buf;
    }
    return Q_NAMES[q - Q_QKV];
}

void cg_range_report_free(cg_range_report *r)
{
    if (!r) return;
    cg_free(r->items);
    r->items = NULL;
    r->n = 0;
}

cg_status cg_fixed_check_ranges(const cg_gpt2 *m, cg_fixed_config fx, const uint32_t *tokens,
                                size_t n, size_t ctx_len, double margin, cg_range_report *rep,
                                cg_error *err)
{
    memset(rep, 0, sizeof *rep);
    if (n == 0) return cg_error_set(err, CG_ERR_ARG, "range check: no calibration tokens");
    if (!(margin >= 1.0 && margin <= 1e6))
        return cg_error_set(err, CG_ERR_ARG, "range check: margin %g outside [1, 1e6]", margin);
    const unsigned L = m->cfg.n_layer;
    const size_t d = m->cfg.n_embd;
    if (ctx_len == 0 || ctx_len > m->cfg.n_positions) ctx_len = m->cfg.n_positions;
    ctx c = {.m = m, .res_cap = ctx_len * d};
    c.obs = cg_calloc((size_t)(L + 1) * Q_N, sizeof *c.obs);
    c.res = cg_alloc(c.res_cap * sizeof *c.res);
    rep->items = cg_calloc((size_t)(L + 1) * Q_N, sizeof *rep->items);
    cg_status st = CG_OK;
    if (!c.obs || !c.res || !rep->items) st = cg_error_set(err, CG_ERR_NOMEM, "range check");
    for (size_t start = 0; st == CG_OK && start < n; start += ctx_len) {
        size_t k = n - start < ctx_len ? n - start : ctx_len;
        cg_gpt2_state gs;
        st = cg_gpt2_state_new(m, k, &gs, err);
        if (st != CG_OK) break;
        /* all positions: the final LayerNorm sees every row, as generation does */
        float *logits = cg_alloc(k * m->cfg.vocab_size * sizeof *logits);
        if (!logits) st = cg_error_set(err, CG_ERR_NOMEM, "range check");
        if (st == CG_OK)
            st = cg_gpt2_forward_observed(m, &gs, tokens + start, k, logits, true, 2, observe, &c,
                                          err);
        cg_free(logits);
        cg_gpt2_state_free(&gs);
    }
    double worst = 0;
    size_t wi = 0;
    char name[64];
    for (unsigned layer = 0; st == CG_OK && layer <= L; layer++)
        for (int q = 0; q < Q_N; q++) {
            bool final = layer == L, ln1 = q < Q_LN2;
            /* the final row: ln_f (as ln_1's slots) and the logits only */
            if (final ? !(ln1 || q == Q_LOGITS) : q == Q_LOGITS) continue;
            bool sq;
            cg_range_item *it = &rep->items[rep->n];
            it->layer = layer;
            it->limit = limit(&m->cfg, fx, q, &sq);
            it->observed = c.obs[(size_t)layer * Q_N + q];
            it->needed = it->observed * (sq ? margin * margin : margin);
            /* bounds that a smaller weight fraction w widens (linear outputs) */
            it->weight_bound = q == Q_QKV || q == Q_PROJ || q == Q_MLP || q == Q_LOGITS ||
                               (q == Q_GELU && fx.weight_frac > s_of(fx));
            if (final && ln1)
                snprintf(it->quantity, sizeof it->quantity, "%s input %s", LN_WHERE[2],
                         LN_NAMES[q % LN_N]);
            else
                snprintf(it->quantity, sizeof it->quantity, "%s", quantity_name(q, name, sizeof name));
            /* a squared quantity is ranked by the root of its ratio: how far
             * the activation under it is beyond, as a linear one's */
            double ratio = it->needed / it->limit;
            if (sq) ratio = sqrt(ratio);
            if (!(ratio <= worst)) {
                worst = ratio;
                wi = rep->n;
            }
            rep->n++;
        }
    rep->worst = wi;
    rep->margin = margin;
    if (st == CG_OK && !(worst < 1.0)) {
        const cg_range_item *it = &rep->items[wi];
        char where[24];
        if (it->layer == L) snprintf(where, sizeof where, "final layer");
        else snprintf(where, sizeof where, "layer %u", it->layer);
        st = cg_error_set(err, CG_ERR_RANGE,
                          "%s: %s reaches %.6g on the calibration text (%.6g with the margin of "
                          "%g), beyond the bound %.6g of the fixed-point format (l = %u, s = %u, "
                          "w = %u): the secure run would be silently wrong",
                          where, it->quantity, it->observed, it->needed, margin, it->limit,
                          fx.act.ring_bits, fx.act.frac_bits, fx.weight_frac);
    }
    cg_free(c.obs);
    cg_free(c.res);
    if (st != CG_OK && st != CG_ERR_RANGE) cg_range_report_free(rep);
    return st;
}
