/* `cryptogen generate --local-plaintext --model DIR --prompt TEXT -n N`:
 * the float model's greedy continuation, i.e. what the secure run should
 * produce. (The secure client mode comes with the protocol.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cryptogen/model.h"

static void usage(void)
{
    fprintf(stderr, "usage: cryptogen generate --local-plaintext [--model DIR] --prompt TEXT [-n N] [--threads T]\n");
}

int cg_cmd_generate(int argc, char **argv)
{
    const char *dir = "models/default", *prompt = NULL;
    long n = 32;
    int threads = 1;
    bool local = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--local-plaintext") == 0)
            local = true;
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--prompt") == 0 && i + 1 < argc)
            prompt = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            usage();
            return 2;
        }
    }
    if (!local) {
        fprintf(stderr, "cryptogen generate: only --local-plaintext exists so far (secure generation is not built yet)\n");
        return 2;
    }
    if (!prompt || n < 1 || n > 100000) {
        usage();
        return 2;
    }
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_tokenizer *tok = NULL;
    uint32_t *ids = NULL;
    size_t nids = 0;
    float *logits = NULL;
    cg_gpt2_state st = {0};
    int rc = 1;
    if (cg_gpt2_load(&m, dir, &err) != CG_OK || cg_tokenizer_load_dir(&tok, dir, &err) != CG_OK ||
        cg_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &nids, &err) != CG_OK)
        goto out;
    if (nids == 0) {
        fprintf(stderr, "cryptogen generate: empty prompt\n");
        goto out;
    }
    size_t total = nids + (size_t)n;
    if (total > m->cfg.n_positions) total = m->cfg.n_positions;
    if (nids >= total) {
        fprintf(stderr, "cryptogen generate: prompt of %zu tokens fills the model's %u positions\n", nids,
                m->cfg.n_positions);
        goto out;
    }
    logits = malloc(m->cfg.vocab_size * sizeof(float));
    if (!logits || cg_gpt2_state_new(m, total, &st, &err) != CG_OK) goto out;
    fwrite(prompt, 1, strlen(prompt), stdout);
    fflush(stdout);
    if (cg_gpt2_forward(m, &st, ids, nids, logits, false, threads, &err) != CG_OK) goto out;
    /* greedy: print each token as it comes; the last one need not be fed */
    for (size_t g = 0, n_gen = total - nids; g < n_gen; g++) {
        uint32_t next = 0;
        for (uint32_t v = 1; v < m->cfg.vocab_size; v++)
            if (logits[v] > logits[next]) next = v;
        char *txt;
        size_t tl;
        if (cg_tokenizer_decode(tok, &next, 1, &txt, &tl, &err) != CG_OK) goto out;
        fwrite(txt, 1, tl, stdout);
        fflush(stdout);
        free(txt);
        if (g + 1 < n_gen && cg_gpt2_forward(m, &st, &next, 1, logits, false, threads, &err) != CG_OK) goto out;
    }
    printf("\n");
    rc = 0;
out:
    if (rc) fprintf(stderr, "cryptogen generate: %s\n", err.msg[0] ? err.msg : "failed");
    free(logits);
    free(ids);
    cg_gpt2_state_free(&st);
    cg_tokenizer_free(tok);
    cg_gpt2_free(m);
    return rc;
}
