/* `cryptogen generate`: the client of secure generation
 *   --connect HOST:PORT --prompt TEXT|--prompt-file F -n N [--baseline] [--json]
 * or, without a server, --local-plaintext (the float model) and --local-fixed
 * (the fixed-point emulator the secure run equals exactly). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/gen_client.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: cryptogen generate (--connect HOST:PORT | --local-plaintext | --local-fixed)\n"
            "         (--prompt TEXT | --prompt-file F | --prompt-ids 1,2,3) [-n N]\n"
            "         [--greedy | --temperature T (0.1..100, Gumbel-max, secure mode)]\n"
            "         [--baseline] [--random SHAPE --seed S (local modes: random weights)]\n"
            "         [--preset NAME] [--model DIR (tokenizer; the model too when local)]\n"
            "         [--threads T] [--json] [--block-positions B] [--refresh-every K]\n");
}

int cg_cmd_generate(int argc, char **argv)
{
    const char *dir = "models/default", *prompt = NULL, *prompt_file = NULL, *connect = NULL;
    const char *preset = "paper", *shape = NULL, *prompt_ids = NULL;
    unsigned long seed = 1;
    long n = 32;
    int threads = 1;
    bool plain = false, fixed = false, json = false, baseline = false;
    unsigned long block = 0, refresh = 0;
    double temperature = 0; /* 0: greedy */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--local-plaintext") == 0) plain = true;
        else if (strcmp(argv[i], "--local-fixed") == 0) fixed = true;
        else if (strcmp(argv[i], "--connect") == 0 && i + 1 < argc) connect = argv[++i];
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--prompt") == 0 && i + 1 < argc) prompt = argv[++i];
        else if (strcmp(argv[i], "--prompt-file") == 0 && i + 1 < argc) prompt_file = argv[++i];
        else if (strcmp(argv[i], "--prompt-ids") == 0 && i + 1 < argc) prompt_ids = argv[++i];
        else if (strcmp(argv[i], "--random") == 0 && i + 1 < argc) shape = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc) preset = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) n = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--block-positions") == 0 && i + 1 < argc) block = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--refresh-every") == 0 && i + 1 < argc) refresh = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--greedy") == 0) ;
        else if (strcmp(argv[i], "--baseline") == 0) baseline = true;
        else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--temperature") == 0 && i + 1 < argc) temperature = atof(argv[++i]);
        else {
            usage();
            return 2;
        }
    }
    if ((plain + fixed + (connect != NULL)) != 1 ||
        (prompt != NULL) + (prompt_file != NULL) + (prompt_ids != NULL) != 1 || n < 1 ||
        n > 65536 || threads < 1 || strlen(preset) >= 16 ||
        (temperature != 0 && (temperature < 0.1 || temperature > 100 || !connect))) {
        usage();
        return 2;
    }
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_tokenizer *tok = NULL;
    cg_channel *ch = NULL;
    uint32_t *ids = NULL, *out = NULL;
    char *text = NULL, *ptext = NULL;
    size_t nids = 0, tl = 0, plen = 0;
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
        if (prompt_file) {
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
            cg_error_set(&err, CG_ERR_ARG, "%zu prompt + %ld new tokens exceed %u positions", nids, n,
                         m->cfg.n_positions);
            goto done;
        }
        if (fixed && cg_fixed_model_new(&fm, m, cg_fixed_default(), &err) != CG_OK) goto done;
        if (cli_local_generate(m, fm, ids, nids, (size_t)n, threads, out, &err) != CG_OK) goto done;
        if (cg_tokenizer_decode(tok, out, (size_t)n, &text, &tl, &err) != CG_OK) goto done;
        if (json) {
            printf("{\"mode\": \"%s\", \"tokens\": [", fixed ? "fixed" : "float");
            for (long i = 0; i < n; i++) printf("%s%u", i ? ", " : "", out[i]);
            printf("]}\n");
        } else {
            fwrite(prompt, 1, plen, stdout);
            fwrite(text, 1, tl, stdout);
            printf("\n");
        }
        rc = 0;
        goto done;
    }
    cg_gen_request req = {.use_cache = !baseline, .prompt_len = (uint32_t)nids,
                          .new_tokens = (uint32_t)n, .block_positions = (uint32_t)block,
                          .refresh_every = (uint32_t)refresh,
                          .temperature_milli = (uint32_t)(temperature * 1000.0 + 0.5)};
    memcpy(req.he_preset, preset, strlen(preset));
    cg_chan_options copt = {.timeout_ms = 600000};
    if (cg_connect(&ch, connect, &copt, &err) != CG_OK) goto done;
    if (!json) {
        fwrite(prompt, 1, plen, stdout);
        fflush(stdout);
    }
    cli_gen_summary sum;
    bool status = !json;
    if (cli_secure_generate(ch, tok, ids, &req, threads, !json, status, out, &sum, &err) != CG_OK)
        goto done;
    if (cg_tokenizer_decode(tok, out, (size_t)n, &text, &tl, &err) != CG_OK) goto done;
    if (json) {
        cli_print_summary_json(stdout, &sum, &req, out, text);
    } else {
        printf("\n");
        cli_print_summary_text(stderr, &sum);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "cryptogen generate: %s\n", err.msg[0] ? err.msg : "out of memory");
    cg_chan_free(ch);
    cg_free(text);
    cg_free(ptext);
    cg_free(ids);
    free(out);
    cg_tokenizer_free(tok);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
    return rc;
}
