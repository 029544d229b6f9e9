/* `cryptogen logits --model DIR --ids 1,2,3 [--all]`: float-model logits as
 * JSON, for checking the C forward pass against an independent reference
 * (scripts/check_float_ref.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/model_dir.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/values.h"
#include "cryptogen/model.h"

int cg_cmd_logits(int argc, char **argv)
{
    char model_buf[4096];
    const char *dir = cli_default_model_dir(model_buf, sizeof model_buf), *idstr = NULL;
    bool all = false;
    const cli_opt opts[] = {
        CLI_OPT_CHECKED("ids", 0, idstr, "IDS", cli_check_ids,
                        "the input as comma-separated token ids (required)"),
        CLI_OPT_STRING("model", 0, dir, "DIR", "model directory"),
        CLI_OPT_FLAG("all", 0, all, "logits of every position, not only the last"),
        {0},
    };
    const cli_command cmd = {
        .name = "logits",
        .synopsis = "--ids IDS [options]",
        .about = "The float model's logits as JSON, for checking the C forward pass against an\n"
                 "independent reference (scripts/check_float_ref.py).",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (!idstr) return cli_usage_error(&cmd, "--ids is required");
    uint32_t *ids = NULL;
    size_t n = 0;
    if (!cli_parse_ids(idstr, &ids, &n)) {
        fprintf(stderr, "cryptogen logits: out of memory\n");
        return 1;
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
    cg_free(ids);
    cg_gpt2_state_free(&st);
    cg_gpt2_free(m);
    return rc;
}
