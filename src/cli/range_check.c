/* serve's and `stats --check`'s range check on calibration text. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/json_out.h"
#include "cli/model_dir.h"
#include "cli/range_check.h"

static bool has_vocab(const char *dir)
{
    char p[4200];
    int k = snprintf(p, sizeof p, "%s/vocab.json", dir);
    /* a path too long for the buffer is treated as absent, never truncated */
    return k > 0 && (size_t)k < sizeof p && access(p, R_OK) == 0;
}

cg_status cli_range_check(const cg_gpt2 *m, const char *tok_dir, const char *calib,
                          double margin, size_t max_tokens, cg_fixed_config *fx,
                          cg_range_report *rep, size_t *ntok, cg_error *err)
{
    char def[4096], calib_buf[4200];
    memset(rep, 0, sizeof *rep);
    const char *ddir = cli_default_model_dir(def, sizeof def);
    if (!tok_dir || !has_vocab(tok_dir)) tok_dir = ddir;
    if (!calib) {
        int k = snprintf(calib_buf, sizeof calib_buf, "%s/calibration.txt", ddir);
        if (k < 0 || (size_t)k >= sizeof calib_buf)
            return cg_error_set(err, CG_ERR_ARG, "range check: model directory path too long");
        calib = calib_buf;
    }
    cg_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    uint32_t *ids = NULL;
    cg_status st = cg_read_file(calib, (size_t)1 << 28, &text, &len, err);
    if (st == CG_OK) st = cg_tokenizer_load_dir(&tok, tok_dir, err);
    if (st == CG_OK) st = cg_tokenizer_encode(tok, text, len, &ids, &n, err);
    if (st == CG_OK) {
        size_t k = 0; /* a smaller random vocabulary: drop the ids it lacks */
        for (size_t i = 0; i < n; i++)
            if (ids[i] < m->cfg.vocab_size) ids[k++] = ids[i];
        n = max_tokens && k > max_tokens ? max_tokens : k;
        *ntok = n;
        if (n == 0) st = cg_error_set(err, CG_ERR_ARG, "range check: %s gives no tokens", calib);
    }
    if (st == CG_OK) st = cg_fixed_check_ranges(m, *fx, ids, n, 256, margin, rep, err);
    /* A linear output beyond 2^(l-2-s-w): one weight fraction bit less
     * doubles that bound (at 2x the weights' rounding error); down to
     * CLI_MIN_WEIGHT_FRAC, then the refusal of the first try stands. */
    cg_error first = *err;
    cg_fixed_config f = *fx;
    while (st == CG_ERR_RANGE && rep->items[rep->worst].weight_bound &&
           f.weight_frac > CLI_MIN_WEIGHT_FRAC) {
        f.weight_frac--;
        cg_range_report_free(rep);
        st = cg_fixed_check_ranges(m, f, ids, n, 256, margin, rep, err);
        if (st == CG_OK) *fx = f;
    }
    if (st == CG_ERR_RANGE) *err = first;
    cg_free(ids);
    cg_free(text);
    cg_tokenizer_free(tok);
    return st;
}

void cli_range_report_json(FILE *f, const cg_range_report *rep, const char *calib, size_t ntok,
                           unsigned n_layer, cg_fixed_config fx)
{
    const cg_range_item *w = rep->n ? &rep->items[rep->worst] : NULL;
    bool ok = !w || w->needed < w->limit;
    fprintf(f, "{\"check\": \"%s\", \"calibration\": ", ok ? "ok" : "refused");
    cli_json_string(f, calib ? calib : "(default calibration.txt)");
    fprintf(f, ", \"tokens\": %zu, \"margin\": %g, \"ring_bits\": %u, \"frac_bits\": %u, "
               "\"weight_frac\": %u, \"items\": [\n",
            ntok, rep->margin, fx.act.ring_bits, fx.act.frac_bits, fx.weight_frac);
    for (size_t i = 0; i < rep->n; i++) {
        const cg_range_item *it = &rep->items[i];
        if (it->layer == n_layer) fprintf(f, "  {\"layer\": \"final\", \"quantity\": ");
        else fprintf(f, "  {\"layer\": %u, \"quantity\": ", it->layer);
        cli_json_string(f, it->quantity);
        fprintf(f, ", \"observed\": %.6g, \"with_margin\": %.6g, \"limit\": %.6g, \"use\": %.4f}%s\n",
                it->observed, it->needed, it->limit, it->needed / it->limit,
                i + 1 < rep->n ? "," : "");
    }
    fprintf(f, "]}\n");
}
