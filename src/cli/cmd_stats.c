/* `cryptogen stats [--model DIR] --data FILE [--tokens N] [--ctx C]`:
 * activation statistics of every tensor the secure protocol will handle,
 * per layer, as JSON: min, max, mean, std, max |x| and |x| percentiles from
 * a log2 histogram (to choose ring widths and fraction bits).
 * `cryptogen stats --check [--calibration FILE] [--margin M]`: serve's
 * load-time range check (range_check.c): every protocol precondition per
 * layer against the format's bound, exit 1 naming the first layer and
 * quantity beyond it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/json_out.h"
#include "cli/model_dir.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/range_check.h"
#include "cryptogen/model.h"

#define MAX_TENSORS 16
#define NBINS 64 /* bin k: |x| in [2^(k-32), 2^(k-31)) */

typedef struct acc {
    char name[24];
    double min, max, sum, sumsq;
    uint64_t count, zero, bins[NBINS];
} acc;

typedef struct stats {
    unsigned layers;
    acc *a; /* (layers + 1) x MAX_TENSORS */
} stats;

static void observe(void *ctx, unsigned layer, const char *tensor, const float *x, size_t n)
{
    stats *s = ctx;
    acc *row = s->a + (size_t)layer * MAX_TENSORS, *t = NULL;
    for (int i = 0; i < MAX_TENSORS && !t; i++) {
        if (row[i].name[0] == '\0') {
            snprintf(row[i].name, sizeof row[i].name, "%s", tensor);
            row[i].min = INFINITY;
            row[i].max = -INFINITY;
        }
        if (strcmp(row[i].name, tensor) == 0) t = &row[i];
    }
    if (!t) return;
    for (size_t i = 0; i < n; i++) {
        double v = x[i], a = fabs(v);
        if (v < t->min) t->min = v;
        if (v > t->max) t->max = v;
        t->sum += v;
        t->sumsq += v * v;
        t->count++;
        if (a == 0) {
            t->zero++;
            continue;
        }
        int e = ilogb(a) + 32;
        t->bins[e < 0 ? 0 : e >= NBINS ? NBINS - 1 : e]++;
    }
}

/* Smallest power of two bounding the fraction q of |x| (from the histogram). */
static double quantile_bound(const acc *t, double q)
{
    uint64_t need = (uint64_t)ceil(q * (double)t->count), seen = t->zero;
    if (seen >= need) return 0;
    for (int k = 0; k < NBINS; k++) {
        seen += t->bins[k];
        if (seen >= need) return ldexp(1.0, k - 31);
    }
    return INFINITY;
}

static int run_check(const char *dir, const char *calib, double margin, size_t max_tokens)
{
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_range_report rep = {0};
    size_t ntok = 0;
    cg_fixed_config fx = cg_fixed_default();
    cg_status st = cg_gpt2_load(&m, dir, &err);
    if (st == CG_OK) st = cli_range_check(m, dir, calib, margin, max_tokens, &fx, &rep, &ntok, &err);
    if (st == CG_OK || st == CG_ERR_RANGE)
        cli_range_report_json(stdout, &rep, calib, ntok, m->cfg.n_layer, fx);
    if (st == CG_OK && fx.weight_frac != cg_fixed_default().weight_frac)
        fprintf(stderr, "cryptogen stats: a linear layer's output needs a wider bound: serve would use "
                        "weight fraction %u instead of %u\n",
                fx.weight_frac, cg_fixed_default().weight_frac);
    if (st != CG_OK) fprintf(stderr, "cryptogen stats: %s\n", err.msg);
    cg_range_report_free(&rep);
    cg_gpt2_free(m);
    return st == CG_OK ? 0 : 1;
}

int cg_cmd_stats(int argc, char **argv)
{
    char model_buf[4096];
    const char *dir = cli_default_model_dir(model_buf, sizeof model_buf), *data = NULL;
    uint64_t tokens_opt = 4096, ctx_opt = 256;
    bool check = false;
    const char *calib = NULL;
    double margin = CG_RANGE_MARGIN;
    const cli_opt opts[] = {
        CLI_OPT_FLAG("check", 0, check,
                     "check the model against the fixed-point format's ranges (as serve does)"),
        CLI_OPT_STRING("calibration", 0, calib, "FILE",
                       "--check: calibration text (default: the default model's calibration.txt)"),
        CLI_OPT_DOUBLE("margin", 0, margin, "M", 1.0, 1e6, "--check: safety margin on every range"),
        CLI_OPT_STRING("data", 0, data, "FILE", "the text to run through the model (required)"),
        CLI_OPT_STRING("model", 0, dir, "DIR", "model directory"),
        CLI_OPT_U64("tokens", 0, tokens_opt, "N", 1, UINT64_MAX, "use the first N tokens of the text"),
        CLI_OPT_U64("ctx", 0, ctx_opt, "C", 1, UINT64_MAX,
                    "tokens per forward pass, cut to the model's positions"),
        {0},
    };
    const cli_command cmd = {
        .name = "stats",
        .synopsis = "--data FILE [options] | --check [--calibration FILE] [options]",
        .about = "Activation statistics of every tensor the secure protocol handles, per layer,\n"
                 "as JSON: min, max, mean, std, max |x| and |x| percentiles (to choose ring\n"
                 "widths and fraction bits).",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (check) return run_check(dir, calib ? calib : data, margin, (size_t)tokens_opt);
    if (!data) return cli_usage_error(&cmd, "--data FILE is required");
    size_t max_tokens = (size_t)tokens_opt, ctx = (size_t)ctx_opt;
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0, nids = 0;
    uint32_t *ids = NULL;
    stats s = {0};
    int rc = 1;
    if (cg_read_file(data, (size_t)1 << 31, &text, &len, &err) != CG_OK || cg_gpt2_load(&m, dir, &err) != CG_OK ||
        cg_tokenizer_load_dir(&tok, dir, &err) != CG_OK ||
        cg_tokenizer_encode(tok, text, len, &ids, &nids, &err) != CG_OK)
        goto out;
    if (ctx > m->cfg.n_positions) ctx = m->cfg.n_positions;
    if (nids > max_tokens) nids = max_tokens;
    s.layers = m->cfg.n_layer;
    s.a = calloc((size_t)(s.layers + 1) * MAX_TENSORS, sizeof *s.a);
    if (!s.a) goto out;
    for (size_t start = 0; start < nids; start += ctx) {
        size_t n = nids - start < ctx ? nids - start : ctx;
        cg_gpt2_state st;
        if (cg_gpt2_state_new(m, n, &st, &err) != CG_OK) goto out;
        cg_status r = cg_gpt2_forward_observed(m, &st, ids + start, n, NULL, false, 2, observe, &s, &err);
        cg_gpt2_state_free(&st);
        if (r != CG_OK) goto out;
        if (isatty(STDERR_FILENO)) fprintf(stderr, "\r%zu/%zu tokens", start + n, nids);
    }
    if (isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    printf("{\"model\": ");
    cli_json_string(stdout, dir);
    printf(", \"data\": ");
    cli_json_string(stdout, data);
    printf(", \"tokens\": %zu, \"ctx\": %zu, \"layers\": [\n", nids, ctx);
    for (unsigned l = 0; l <= s.layers; l++) {
        if (l == s.layers)
            printf("  {\"layer\": \"final\", \"tensors\": {");
        else
            printf("  {\"layer\": %u, \"tensors\": {", l);
        bool first = true;
        for (int i = 0; i < MAX_TENSORS; i++) {
            const acc *t = &s.a[(size_t)l * MAX_TENSORS + i];
            if (!t->name[0] || !t->count) continue;
            double mean = t->sum / (double)t->count, var = t->sumsq / (double)t->count - mean * mean;
            printf("%s\n    \"%s\": {\"count\": %llu, \"min\": %.6g, \"max\": %.6g, \"mean\": %.6g, \"std\": %.6g, "
                   "\"max_abs\": %.6g, \"abs_p99\": %.6g, \"abs_p99_99\": %.6g}",
                   first ? "" : ",", t->name, (unsigned long long)t->count, t->min, t->max, mean,
                   sqrt(var > 0 ? var : 0), fmax(fabs(t->min), fabs(t->max)), quantile_bound(t, 0.99),
                   quantile_bound(t, 0.9999));
            first = false;
        }
        printf("}}%s\n", l == s.layers ? "" : ",");
    }
    printf("]}\n");
    rc = 0;
out:
    if (rc) fprintf(stderr, "cryptogen stats: %s\n", err.msg[0] ? err.msg : "out of memory");
    free(s.a);
    cg_free(ids);
    cg_free(text);
    cg_tokenizer_free(tok);
    cg_gpt2_free(m);
    return rc;
}
