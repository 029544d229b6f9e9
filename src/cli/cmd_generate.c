/* `cryptogen generate`: the client of secure generation
 *   --connect HOST:PORT --prompt TEXT|--prompt-file F -n N [--baseline] [--json]
 * or, without a server, --local-plaintext (the float model) and --local-fixed
 * (the fixed-point emulator the secure run equals exactly). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/model_dir.h"
#include "cli/commands.h"
#include "cli/gen_client.h"
#include "cli/json_out.h"
#include "cli/opts.h"
#include "cli/tls_opts.h"
#include "cli/values.h"

/* The request carries the preset's name in 16 bytes, its terminator included. */
static bool check_preset(const char *value, char *why, size_t why_size)
{
    if (strlen(value) < sizeof ((cg_gen_request *)0)->he_preset) return true;
    snprintf(why, why_size, "is longer than %zu characters", sizeof ((cg_gen_request *)0)->he_preset - 1);
    return false;
}

int cg_cmd_generate(int argc, char **argv)
{
    char model_buf[4096];
    const char *dir = cli_default_model_dir(model_buf, sizeof model_buf), *prompt = NULL, *prompt_file = NULL, *connect = NULL;
    const char *preset = "paper", *shape = NULL, *prompt_ids = NULL;
    uint64_t seed = 1;
    int n = 32;
    int threads = 1;
    bool plain = false, fixed = false, json = false, baseline = false, greedy = false, quiet = false;
    static const char *const progress_modes[] = {"auto", "line", "json", "none", NULL};
    const char *progress = "auto", *operand = NULL, *stop = NULL;
    bool ignore_eos = false, hide_stop = false;
    uint64_t timeout_s = 300;
    uint64_t block = 0, refresh = 0;
    double temperature = 0; /* 0: greedy */
    const char *otn = cli_otn_names[CG_OTN_KK13];
    cli_tls tls = {0};
    /* Ferret by default: a networked client's link is where its bytes
     * (about 0.45 bits per random-choice COT against IKNP's 128) win; IKNP
     * stays the faster choice on a local link (docs/OT.md). */
    const char *ot = cli_ot_names[CG_OT_FERRET];
    const char *attention = cli_attention_names[0];
    static const char *const on_off[] = {"off", "on", NULL};
    const char *pack = on_off[1];
    static const char *const dense_modes[] = {"off", "on", "max", NULL};
    const char *dense = dense_modes[1];
    const cli_opt opts[] = {
        CLI_OPT_STRING("connect", 0, connect, "HOST:PORT", "generate securely with the server there"),
        CLI_TLS_CLIENT_OPTS(tls),
        CLI_OPT_FLAG("local-plaintext", 0, plain, "no server: the float model's greedy tokens"),
        CLI_OPT_FLAG("local-fixed", 0, fixed,
                     "no server: the fixed-point emulator's greedy tokens (what the secure run computes)"),
        CLI_OPT_STRING("prompt", 0, prompt, "TEXT", "the prompt"),
        CLI_OPT_STRING("prompt-file", 0, prompt_file, "FILE",
                       "the prompt from a file, - for standard input (1 MiB at most)"),
        CLI_OPT_CHECKED("prompt-ids", 0, prompt_ids, "IDS", cli_check_ids,
                        "the prompt as comma-separated token ids"),
        CLI_OPT_INT(NULL, 'n', n, "N", 1, 65536, "tokens to generate"),
        CLI_OPT_FLAG("greedy", 0, greedy, "take the most likely token each step (the default)"),
        {.name = "temperature", .kind = CLI_DOUBLE, .target = CLI_TARGET(double, temperature), .metavar = "T",
         .dmin = 0.1, .dmax = 100, .default_text = "greedy",
         .help = "sample at temperature T by Gumbel-max, with --connect only"},
        CLI_OPT_FLAG("baseline", 0, baseline, "no cache: the server re-runs the whole sequence each token"),
        CLI_OPT_CHECKED("preset", 0, preset, "NAME", check_preset, "BFV parameter set asked of the server"),
        CLI_OPT_STRING("model", 0, dir, "DIR",
                       "model directory: its tokenizer, and the model in local modes"),
        CLI_OPT_CHECKED("random", 0, shape, "SHAPE", cli_check_shape,
                        "local modes: random weights of this shape instead of the model's, "
                        "gpt2-base or layers,heads,width,vocab,positions"),
        CLI_OPT_U64("seed", 0, seed, "S", 0, UINT64_MAX,
                    "seed of --random's weights (sampling is not seeded by the client: the server draws "
                    "the noise so that the client learns only the token, PROTOCOL.md)"),
        CLI_OPT_INT("threads", 0, threads, "T", 1, INT_MAX, "threads for HE and the two-party protocols"),
        CLI_OPT_FLAG("json", 0, json, "print one JSON record instead of the text and a summary"),
        CLI_OPT_STRING("stop", 0, stop, "TEXT", "end the generation when the text contains TEXT (not printed)"),
        CLI_OPT_FLAG("ignore-eos", 0, ignore_eos,
                     "go on after GPT-2's end-of-text token (by default it ends the generation)"),
        CLI_OPT_FLAG("hide-stop", 0, hide_stop,
                     "after a stop, generate the remaining -n tokens silently, so that the server does "
                     "not learn where the text ended"),
        CLI_OPT_U64("timeout", 0, timeout_s, "S", 1, 86400,
                    "give up when the server sends nothing for S seconds (a busy server queues a new "
                    "session until a slot frees; the TLS handshake itself must end within 10 s)"),
        CLI_OPT_FLAG("quiet", 'q', quiet, "only the text: no status line, no summary"),
        CLI_OPT_CHOICE("progress", 0, progress, NULL, progress_modes,
                       "auto: JSON lines on stderr with --json, else a status line when stderr is a "
                       "terminal (kept off a terminal that also shows the text once the text starts)"),
        CLI_OPT_U64("block-positions", 0, block, "B", 0, UINT32_MAX,
                    "positions per cache ciphertext, 0 for the most that fit"),
        CLI_OPT_U64("refresh-every", 0, refresh, "K", 0, UINT32_MAX,
                    "test knob: refresh a cache ciphertext after K appends to it, "
                    "0 for when its noise estimate asks"),
        CLI_OPT_CHOICE("otn", 0, otn, NULL, cli_otn_names,
                       "1-of-N OT construction, agreed with the server in the handshake"),
        CLI_OPT_CHOICE("ot", 0, ot, NULL, cli_ot_names,
                       "COT source of the non-linear layers, agreed with the server in the handshake"),
        CLI_OPT_CHOICE("attention", 0, attention, NULL, cli_attention_names,
                       "attention over the cache: ct x ct products or the share split (PROTOCOL.md); "
                       "default: the server's choice, refused when the server does not run the one asked"),
        CLI_OPT_CHOICE("pack-inputs", 0, pack, NULL, on_off,
                       "decode linear layers: send each input packed in one ciphertext for the server "
                       "to expand (Galois keys sent once; a server may refuse, then off; docs/PERFORMANCE.md)"),
        CLI_OPT_CHOICE("dense-replies", 0, dense, NULL, dense_modes,
                       "with packed inputs: fewer, fuller replies from the decode linear layers and the "
                       "LM head (more key switches on the server; a server may refuse, then off); max: "
                       "fewest bytes, for slow links (a server may answer on instead)"),
        {0},
    };
    const cli_command cmd = {
        .name = "generate",
        .synopsis = "(--connect HOST:PORT (--tls-pin HEX | --tls-ca FILE | --insecure-plaintext)\n"
                    "          | --local-plaintext | --local-fixed)\n"
                    "         (PROMPT | --prompt TEXT | --prompt-file FILE | --prompt-ids IDS) [options]",
        .about = "The client of secure generation: the server never sees the prompt or the tokens.\n"
                 "Without a server, --local-plaintext and --local-fixed compute the references\n"
                 "(the secure run's tokens equal --local-fixed's).",
        .opts = opts,
        .operand = &operand};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (operand && prompt)
        return cli_usage_error(&cmd, "the prompt is given twice (an operand and --prompt)");
    if (operand) prompt = operand;
    if (plain + fixed + (connect != NULL) != 1)
        return cli_usage_error(&cmd, "give exactly one of --connect, --local-plaintext and --local-fixed");
    if ((prompt != NULL) + (prompt_file != NULL) + (prompt_ids != NULL) != 1)
        return cli_usage_error(&cmd, "give the prompt once: as an operand, --prompt, --prompt-file or --prompt-ids");
    if (temperature != 0 && !connect)
        return cli_usage_error(&cmd, "--temperature needs --connect (the local references are greedy)");
    if (temperature != 0 && greedy)
        return cli_usage_error(&cmd, "--greedy and --temperature exclude each other");
    if (shape && connect)
        return cli_usage_error(&cmd, "--random is for the local modes (the server has the model)");
    if (!connect && (tls.pin || tls.ca || tls.insecure))
        return cli_usage_error(&cmd, "--tls-pin, --tls-ca and --insecure-plaintext go with --connect");
    cg_tls_config *tls_cfg = NULL;
    if (connect && (parsed = cli_tls_client(&cmd, &tls, &tls_cfg)) != CLI_PARSED) return parsed;
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_tokenizer *tok = NULL;
    cg_channel *ch = NULL;
    uint32_t *ids = NULL, *out = NULL;
    char *ptext = NULL;
    size_t nids = 0, plen = 0;
    cli_gen_summary sum = {0};
    int rc = 1;
    if (cg_tokenizer_load_dir(&tok, dir, &err) != CG_OK) goto done;
    if (prompt_ids) {
        if (!cli_parse_ids(prompt_ids, &ids, &nids)) {
            cg_error_set(&err, CG_ERR_ARG, "--prompt-ids wants comma-separated token ids");
            goto done;
        }
        if (cg_tokenizer_decode(tok, ids, nids, &ptext, &plen, &err) != CG_OK) goto done;
        prompt = ptext;
    } else {
        if (prompt_file && strcmp(prompt_file, "-") == 0) {
            if (cli_read_stdin(1u << 20, &ptext, &plen, &err) != CG_OK) goto done;
            prompt = ptext;
        } else if (prompt_file) {
            if (cg_read_file(prompt_file, 1u << 20, &ptext, &plen, &err) != CG_OK) goto done;
            prompt = ptext;
        } else {
            plen = strlen(prompt);
        }
        if (cg_tokenizer_encode(tok, prompt, plen, &ids, &nids, &err) != CG_OK) goto done;
    }
    if (nids == 0) {
        cg_error_set(&err, CG_ERR_ARG, "empty prompt");
        goto done;
    }
    out = calloc((size_t)n, sizeof *out);
    if (!out) goto done;
    cli_output o = {.print_text = !json, .prompt = prompt, .prompt_len = plen, .stop_at_eos = !ignore_eos,
                    .stop_string = stop, .hide_stop = hide_stop,
                    .attention = (cg_gen_attention)cli_attention_kind(attention)};
    if (quiet || strcmp(progress, "none") == 0) o.progress = CLI_PROGRESS_NONE;
    else if (strcmp(progress, "json") == 0 || (strcmp(progress, "auto") == 0 && json)) o.progress = CLI_PROGRESS_JSON;
    else o.progress = CLI_PROGRESS_LINE;
    if (plain || fixed) {
        cg_gpt2_config rc_cfg;
        if (shape && !cli_parse_shape(shape, &rc_cfg)) {
            cg_error_set(&err, CG_ERR_ARG, "--random wants gpt2-base or layers,heads,width,vocab,positions");
            goto done;
        }
        if (shape ? cg_gpt2_random(&m, &rc_cfg, seed, &err) != CG_OK
                  : cg_gpt2_load(&m, dir, &err) != CG_OK)
            goto done;
        if (nids + (size_t)n > m->cfg.n_positions) {
            cg_error_set(&err, CG_ERR_ARG, "%zu prompt + %d new tokens exceed %u positions", nids, n,
                         m->cfg.n_positions);
            goto done;
        }
        if (fixed && cg_fixed_model_new(&fm, m, cg_fixed_default(), &err) != CG_OK) goto done;
        if (cli_local_generate(m, fm, ids, nids, (size_t)n, threads, out, &err) != CG_OK) goto done;
        if (cli_apply_stops(tok, &o, out, (size_t)n, &sum, &err) != CG_OK) goto done;
        if (json) {
            printf("{\"mode\": \"%s\", \"tokens\": [", fixed ? "fixed" : "float");
            for (size_t i = 0; i < sum.tokens; i++) printf("%s%u", i ? ", " : "", out[i]);
            printf("], \"text\": ");
            cli_json_string(stdout, sum.text);
            printf(", \"stop_reason\": ");
            cli_json_string(stdout, sum.stop_reason);
            printf("}\n");
        } else {
            fwrite(prompt, 1, plen, stdout);
            fwrite(sum.text, 1, sum.text_len, stdout);
            printf("\n");
        }
        rc = 0;
        goto done;
    }
    cg_gen_request req = {.use_cache = !baseline, .prompt_len = (uint32_t)nids,
                          .new_tokens = (uint32_t)n, .block_positions = (uint32_t)block,
                          .refresh_every = (uint32_t)refresh,
                          .temperature_milli = (uint32_t)(temperature * 1000.0 + 0.5),
                          .otn = cli_otn_kind(otn), .ot = cli_ot_kind(ot),
                          .pack_inputs = strcmp(pack, "on") == 0,
                          .dense_replies = strcmp(dense, "off") != 0,
                          .dense_max = strcmp(dense, "max") == 0};
    memcpy(req.he_preset, preset, strlen(preset));
    cg_chan_options copt = {.timeout_ms = (uint32_t)(timeout_s * 1000), .tls = tls_cfg};
    if (cg_connect(&ch, connect, &copt, &err) != CG_OK) goto done;
    if (cli_secure_generate(ch, tok, ids, &req, threads, &o, out, &sum, &err) != CG_OK) goto done;
    if (json) {
        cli_print_summary_json(stdout, &sum, &req, out, sum.text);
    } else {
        printf("\n");
        if (!quiet) cli_print_summary_text(stderr, &sum);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "cryptogen generate: %s\n", err.msg[0] ? err.msg : "out of memory");
    cg_chan_free(ch);
    cli_gen_summary_free(&sum);
    cg_tls_config_free(tls_cfg);
    cg_free(ptext);
    cg_free(ids);
    free(out);
    cg_tokenizer_free(tok);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
    return rc;
}
