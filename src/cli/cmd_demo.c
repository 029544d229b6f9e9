/* `cryptogen demo [--model DIR] [--prompt TEXT] [-n N] [--threads T]`: the
 * README's main job. A server thread and a client talk over loopback TCP,
 * inside TLS 1.3 with an ephemeral self-signed certificate the client pins,
 * with the embedded default model; the demo prints the privately generated
 * text, the same continuation from the plaintext float model and from the
 * fixed-point emulator, and the cost per token. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/model_dir.h"
#include "cli/commands.h"
#include "cli/gen_client.h"
#include "cli/opts.h"
#include "cli/tls_opts.h"

static void print_text(const cg_tokenizer *tok, const char *label, const char *prompt,
                       const uint32_t *t, size_t n)
{
    char *txt = NULL;
    size_t tl = 0;
    cg_error err = {0};
    if (cg_tokenizer_decode(tok, t, n, &txt, &tl, &err) != CG_OK) return;
    /* the continuation in bold, on a terminal only */
    const bool bold = isatty(STDOUT_FILENO);
    printf("%-22s %s%s%.*s%s\n", label, prompt, bold ? "\033[1m" : "", (int)tl, txt, bold ? "\033[0m" : "");
    cg_free(txt);
}

int cg_cmd_demo(int argc, char **argv)
{
    char model_buf[4096];
    const char *dir = cli_default_model_dir(model_buf, sizeof model_buf), *prompt = "Once upon a time, there was a little girl named Lily.";
    int n = 16;
    int threads = 2;
    const cli_opt opts[] = {
        CLI_OPT_STRING("model", 0, dir, "DIR", "model directory"),
        CLI_OPT_STRING("prompt", 0, prompt, "TEXT", "the prompt"),
        CLI_OPT_INT(NULL, 'n', n, "N", 1, 1024, "tokens to generate"),
        CLI_OPT_INT("threads", 0, threads, "T", 1, INT_MAX, "threads of each party"),
        {0},
    };
    const cli_command cmd = {
        .name = "demo",
        .about = "The README's main job: a server thread and a client generate text privately\n"
                 "over loopback TCP with the embedded default model; the demo prints that text\n"
                 "beside the plaintext float model's and the fixed-point emulator's, and the\n"
                 "cost per token.",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_tokenizer *tok = NULL;
    cg_channel *ch = NULL;
    cg_gen_weights *ws = NULL;
    cg_tls_config *tls_srv = NULL, *tls_cli = NULL;
    uint32_t *ids = NULL, *sec = NULL, *flt = NULL, *fix = NULL;
    size_t nids = 0;
    int rc = 1;
    cli_loopback lb = {0};
    if (cg_gpt2_load(&m, dir, &err) != CG_OK || cg_tokenizer_load_dir(&tok, dir, &err) != CG_OK ||
        cg_fixed_model_new(&fm, m, cg_fixed_default(), &err) != CG_OK ||
        cg_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &nids, &err) != CG_OK)
        goto done;
    if (nids == 0 || nids + (size_t)n > m->cfg.n_positions) {
        cg_error_set(&err, CG_ERR_ARG, "prompt of %zu tokens + %d does not fit", nids, n);
        goto done;
    }
    sec = calloc((size_t)n, sizeof *sec);
    flt = calloc((size_t)n, sizeof *flt);
    fix = calloc((size_t)n, sizeof *fix);
    if (!sec || !flt || !fix) goto done;
    printf("cryptogen demo: %s (%u layers, width %u, %u heads, vocab %u), BFV set 'paper' with t = 2^%u\n",
           dir, m->cfg.n_layer, m->cfg.n_embd, m->cfg.n_head, m->cfg.vocab_size,
           fm->fx.act.ring_bits);
    printf("prompt (%zu tokens): \"%s\"; generating %d tokens privately over loopback TCP "
           "(TLS 1.3, an ephemeral certificate pinned by the client)...\n\n",
           nids, prompt, n);
    /* The server encodes its weights for the HE parameters once, before any client. */
    if (cg_gen_weights_new(&ws, fm, "paper", (uint64_t)2 << 30, threads, &err) != CG_OK) goto done;
    if (cli_tls_loopback(false, &tls_srv, &tls_cli, &err) != CG_OK) goto done;
    cg_chan_options copt = {.timeout_ms = 600000, .tls = tls_srv};
    if (cli_loopback_start(&lb, fm, ws, threads, &copt, &err) != CG_OK) goto done;
    copt.tls = tls_cli;
    if (cg_connect(&ch, lb.addr, &copt, &err) != CG_OK) goto done;
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)nids,
                          .new_tokens = (uint32_t)n};
    cli_gen_summary sum;
    const cli_output out = {.progress = CLI_PROGRESS_LINE};
    cg_status st = cli_secure_generate(ch, tok, ids, &req, threads, &out, sec, &sum, &err);
    cg_chan_free(ch);
    ch = NULL;
    cg_error serr = {0};
    if (cli_loopback_join(&lb, &serr) != CG_OK && st == CG_OK) {
        err = serr;
        goto done;
    }
    if (st != CG_OK) goto done;
    printf("\n");
    if (cli_local_generate(m, fm, ids, nids, (size_t)n, threads, fix, &err) != CG_OK ||
        cli_local_generate(m, NULL, ids, nids, (size_t)n, threads, flt, &err) != CG_OK)
        goto done;
    print_text(tok, "secure (2PC + HE):", prompt, sec, (size_t)n);
    print_text(tok, "fixed-point emulator:", prompt, fix, (size_t)n);
    print_text(tok, "plaintext float model:", prompt, flt, (size_t)n);
    bool same_fixed = memcmp(sec, fix, (size_t)n * sizeof *sec) == 0;
    size_t agree = 0;
    for (int i = 0; i < n && sec[i] == flt[i]; i++) agree++;
    printf("\nsecure == emulator: %s; secure agrees with the float model on the first %zu of %d tokens\n",
           same_fixed ? "yes (bit-exact)" : "NO", agree, n);
    cli_print_summary_text(stdout, &sum);
    rc = same_fixed ? 0 : 1;
done:
    if (ch) cg_chan_free(ch);
    cli_loopback_join(&lb, NULL);
    if (rc && err.msg[0]) fprintf(stderr, "cryptogen demo: %s\n", err.msg);
    cg_gen_weights_free(ws);
    cg_tls_config_free(tls_srv);
    cg_tls_config_free(tls_cli);
    cg_free(ids);
    free(sec);
    free(flt);
    free(fix);
    cg_tokenizer_free(tok);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
    return rc;
}
