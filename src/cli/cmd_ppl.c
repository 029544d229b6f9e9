/* `cryptogen ppl --model DIR --data FILE [--format text|lambada] [--mode float|fixed]
 *  [--ctx N --stride S] [--limit K] [--threads T] [--json]`:
 * sliding-window perplexity (each token scored once with up to ctx-1 tokens
 * of context), or LAMBADA last-word accuracy and perplexity. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/json_out.h"
#include "cli/model_dir.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cryptogen/model.h"

/* Sum of -log p(target) for positions [from, n-1) of the window's logits. */
static double window_nll(const float *lg, const uint32_t *ids, size_t n, size_t from, size_t V, size_t *count,
                         bool *all_argmax)
{
    double nll = 0;
    for (size_t i = from; i + 1 < n; i++) {
        const float *row = lg + i * V;
        float mx = row[0];
        size_t am = 0;
        for (size_t v = 1; v < V; v++)
            if (row[v] > mx) mx = row[v], am = v;
        double s = 0;
        for (size_t v = 0; v < V; v++) s += exp((double)row[v] - mx);
        nll += log(s) + mx - row[ids[i + 1]];
        (*count)++;
        if (all_argmax && am != ids[i + 1]) *all_argmax = false;
    }
    return nll;
}

/* Logits of every position of ids[0..n) from a fresh cache, as floats: the
 * float model, or the fixed-point emulator (values / 2^(s+w)) when fm. */
static cg_status window_logits(const cg_gpt2 *m, const cg_fixed_model *fm, const uint32_t *ids,
                               size_t n, float *lg, int threads, cg_error *err)
{
    const size_t V = m->cfg.vocab_size;
    if (!fm) {
        cg_gpt2_state st;
        CG_TRY(cg_gpt2_state_new(m, n, &st, err));
        cg_status rc = cg_gpt2_forward(m, &st, ids, n, lg, true, threads, err);
        cg_gpt2_state_free(&st);
        return rc;
    }
    cg_fixed_state st;
    CG_TRY(cg_fixed_state_new(fm, n, &st, err));
    int64_t *q = malloc(n * V * sizeof *q);
    cg_status rc = q ? cg_fixed_forward(fm, &st, ids, n, q, true, threads, err)
                     : cg_error_set(err, CG_ERR_NOMEM, "logits");
    const int scale = fm->fx.act.frac_bits + fm->fx.weight_frac;
    for (size_t i = 0; rc == CG_OK && i < n * V; i++) lg[i] = (float)ldexp((double)q[i], -scale);
    free(q);
    cg_fixed_state_free(&st);
    return rc;
}

int cg_cmd_ppl(int argc, char **argv)
{
    static const char *const formats[] = {"text", "lambada", NULL};
    static const char *const modes[] = {"float", "fixed", NULL};
    char model_buf[4096];
    const char *dir = cli_default_model_dir(model_buf, sizeof model_buf), *data = NULL, *format = "text", *mode = "float";
    uint64_t ctx_opt = 256, stride_opt = 128, limit_opt = 0;
    int threads = 1;
    bool json = false;
    const bool tty = isatty(STDERR_FILENO); /* progress only where it can be overwritten */
    const cli_opt opts[] = {
        CLI_OPT_STRING("data", 0, data, "FILE", "the text to score (required)"),
        CLI_OPT_CHOICE("format", 0, format, NULL, formats,
                       "text: perplexity of the whole file; lambada: JSON lines with a \"text\" each, "
                       "last-word accuracy and perplexity"),
        CLI_OPT_CHOICE("mode", 0, mode, NULL, modes, "the float model or the fixed-point emulator"),
        CLI_OPT_STRING("model", 0, dir, "DIR", "model directory"),
        CLI_OPT_U64("ctx", 0, ctx_opt, "N", 2, UINT64_MAX,
                    "window length in tokens, cut to the model's positions"),
        CLI_OPT_U64("stride", 0, stride_opt, "S", 1, UINT64_MAX, "text: window step, below --ctx"),
        CLI_OPT_U64("limit", 0, limit_opt, "K", 0, UINT64_MAX,
                    "lambada: score the first K passages, 0 for all"),
        CLI_OPT_INT("threads", 0, threads, "T", 1, INT_MAX, "threads"),
        CLI_OPT_FLAG("json", 0, json, "print one JSON record"),
        {0},
    };
    const cli_command cmd = {
        .name = "ppl",
        .synopsis = "--data FILE [options]",
        .about = "Sliding-window perplexity (each token scored once, with up to ctx-1 tokens of\n"
                 "context), or LAMBADA last-word accuracy and perplexity.",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (!data) return cli_usage_error(&cmd, "--data FILE is required");
    if (stride_opt >= ctx_opt)
        return cli_usage_error(&cmd, "--stride %llu is not below --ctx %llu", (unsigned long long)stride_opt,
                               (unsigned long long)ctx_opt);
    size_t ctx = (size_t)ctx_opt, stride = (size_t)stride_opt, limit = (size_t)limit_opt;
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_tokenizer *tok = NULL;
    size_t len = 0;
    char *text = NULL;
    if (cg_read_file(data, (size_t)1 << 31, &text, &len, &err) != CG_OK) {
        fprintf(stderr, "cryptogen ppl: %s\n", err.msg);
        return 1;
    }
    if (cg_gpt2_load(&m, dir, &err) != CG_OK || cg_tokenizer_load_dir(&tok, dir, &err) != CG_OK) {
        fprintf(stderr, "cryptogen ppl: %s\n", err.msg);
        cg_free(text);
        return 1;
    }
    cg_fixed_model *fm = NULL;
    if (strcmp(mode, "fixed") == 0 && cg_fixed_model_new(&fm, m, cg_fixed_default(), &err) != CG_OK) {
        fprintf(stderr, "cryptogen ppl: %s\n", err.msg);
        cg_tokenizer_free(tok);
        cg_gpt2_free(m);
        cg_free(text);
        return 1;
    }
    if (ctx > m->cfg.n_positions) ctx = m->cfg.n_positions;
    const size_t V = m->cfg.vocab_size;
    float *lg = malloc(ctx * V * sizeof(float));
    int rc = 1;
    double nll = 0;
    size_t count = 0, passages = 0, correct = 0;
    if (!lg) goto out;
    if (strcmp(format, "lambada") == 0) {
        for (char *line = text; line && *line; ) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            cg_json_doc doc;
            if (*line && cg_json_parse(line, strlen(line), &doc, "lambada line", &err) == CG_OK) {
                const cg_json *t = cg_json_get(&doc.root, "text");
                char *sp = t && t->type == CG_JSON_STR ? strrchr(t->str, ' ') : NULL;
                if (sp) {
                    uint32_t *cids = NULL, *tids = NULL, *all = NULL;
                    size_t nc = 0, nt = 0;
                    *sp = '\0';
                    cg_status es = cg_tokenizer_encode(tok, t->str, strlen(t->str), &cids, &nc, &err);
                    *sp = ' ';
                    if (es == CG_OK) es = cg_tokenizer_encode(tok, sp, strlen(sp), &tids, &nt, &err);
                    const size_t total = nc + nt, skip = total > ctx ? total - ctx : 0;
                    if (es == CG_OK && nt && (all = cg_alloc(total * sizeof *all))) {
                        memcpy(all, cids, nc * sizeof *all);
                        memcpy(all + nc, tids, nt * sizeof *all);
                        if (window_logits(m, fm, all + skip, total - skip, lg, threads, &err) == CG_OK) {
                            bool hit = true;
                            nll += window_nll(lg, all + skip, total - skip, total - skip - nt - 1, V, &count,
                                              &hit);
                            correct += hit;
                            passages++;
                        }
                    }
                    cg_free(all), cg_free(cids), cg_free(tids);
                }
                cg_json_free(&doc);
            }
            if (tty && passages % 100 == 0) fprintf(stderr, "\r%zu passages", passages);
            line = nl ? nl + 1 : NULL;
            if (limit && passages >= limit) break;
        }
        if (tty) fprintf(stderr, "\n");
        if (passages == 0) {
            cg_error_set(&err, CG_ERR_FORMAT,
                         "%s holds no LAMBADA passage (one JSON object per line, with a \"text\" of two words "
                         "or more)", data);
            goto out;
        }
        if (json)
            printf("{\"set\": \"lambada\", \"mode\": \"%s\", \"passages\": %zu, \"last_word_accuracy\": %.4f, "
                   "\"last_word_perplexity\": %.3f}\n", mode, passages, (double)correct / (double)passages,
                   exp(nll / (double)count));
        else
            printf("LAMBADA: %zu passages, last-word accuracy %.2f%%, last-word perplexity %.3f\n", passages,
                   100.0 * (double)correct / (double)passages, exp(nll / (double)count));
        rc = 0;
        goto out;
    }
    uint32_t *ids;
    size_t n;
    if (cg_tokenizer_encode(tok, text, len, &ids, &n, &err) != CG_OK) goto out;
    size_t prev = 0;
    for (size_t start = 0; start + 1 < n; start += stride) {
        size_t end = start + ctx < n ? start + ctx : n;
        if (window_logits(m, fm, ids + start, end - start, lg, threads, &err) != CG_OK) break;
        size_t first = prev > start ? prev - start : 0; /* targets already scored */
        nll += window_nll(lg, ids + start, end - start, first ? first - 1 : 0, V, &count, NULL);
        prev = end;
        if (tty) fprintf(stderr, "\r%zu/%zu tokens", end, n);
        if (end == n) break;
    }
    if (tty) fprintf(stderr, "\n");
    cg_free(ids);
    if (count == 0) {
        cg_error_set(&err, CG_ERR_FORMAT, "%s has %zu token%s: nothing to score (2 or more needed)", data, n,
                     n == 1 ? "" : "s");
        goto out;
    }
    if (json) {
        printf("{\"data\": ");
        cli_json_string(stdout, data);
        printf(", \"mode\": \"%s\", \"tokens\": %zu, \"ctx\": %zu, \"stride\": %zu, \"perplexity\": %.3f}\n",
               mode, count, ctx, stride, exp(nll / (double)count));
    }
    else
        printf("%s: %zu tokens scored, perplexity %.3f (ctx %zu, stride %zu, %s)\n", data, count,
               exp(nll / (double)count), ctx, stride, mode);
    rc = 0;
out:
    if (rc) fprintf(stderr, "cryptogen ppl: %s\n", err.msg);
    free(lg);
    cg_free(text);
    cg_tokenizer_free(tok);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
    return rc;
}
