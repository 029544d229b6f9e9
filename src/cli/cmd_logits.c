/* `cryptogen logits --model DIR --ids 1,2,3 [--all]`: float-model logits as
 * JSON, for checking the C forward pass against an independent reference
 * (scripts/check_float_ref.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cryptogen/model.h"

int cg_cmd_logits(int argc, char **argv)
{
    const char *dir = "models/default", *idstr = NULL;
    bool all = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--ids") == 0 && i + 1 < argc)
            idstr = argv[++i];
        else if (strcmp(argv[i], "--all") == 0)
            all = true;
        else {
            fprintf(stderr, "usage: cryptogen logits [--model DIR] --ids 1,2,3 [--all]\n");
            return 2;
        }
    }
    if (!idstr) {
        fprintf(stderr, "cryptogen logits: --ids is required\n");
        return 2;
    }
    uint32_t ids[4096];
    size_t n = 0;
    for (const char *p = idstr; *p && n < 4096;) {
        char *e;
        unsigned long v = strtoul(p, &e, 10);
        if (e == p || v > UINT32_MAX) {
            fprintf(stderr, "cryptogen logits: bad --ids\n");
            return 2;
        }
        ids[n++] = (uint32_t)v;
        p = *e == ',' ? e + 1 : e;
        if (*e && *e != ',') {
            fprintf(stderr, "cryptogen logits: bad --ids\n");
            return 2;
        }
    }
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_gpt2_state st = {0};
    float *lg = NULL;
    int rc = 1;
    if (cg_gpt2_load(&m, dir, &err) != CG_OK || cg_gpt2_state_new(m, n, &st, &err) != CG_OK) goto out;
    const size_t rows = all ? n : 1, V = m->cfg.vocab_size;
    lg = malloc(rows * V * sizeof(float));
    if (!lg || cg_gpt2_forward(m, &st, ids, n, lg, all, 1, &err) != CG_OK) goto out;
    printf("[");
    for (size_t r = 0; r < rows; r++) {
        printf("%s[", r ? "," : "");
        for (size_t v = 0; v < V; v++) printf("%s%.9g", v ? "," : "", lg[r * V + v]);
        printf("]");
    }
    printf("]\n");
    rc = 0;
out:
    if (rc) fprintf(stderr, "cryptogen logits: %s\n", err.msg);
    free(lg);
    cg_gpt2_state_free(&st);
    cg_gpt2_free(m);
    return rc;
}
