/* The load-time range check of serve and `stats --check` (cg_fixed_check_ranges
 * on calibration text). */
#ifndef CG_CLI_RANGE_CHECK_H
#define CG_CLI_RANGE_CHECK_H
#include <stdio.h>

#include "cryptogen/model.h"

/* The smallest weight fraction the check falls back to. */
#define CLI_MIN_WEIGHT_FRAC 10

/* Tokenises calib (NULL: the default model's calibration.txt) with the
 * tokenizer of tok_dir (NULL or one without vocab.json: the default model's),
 * keeps at most max_tokens tokens (0 for all; ids beyond the model's vocabulary
 * are dropped) and checks m at *fx. When a linear layer's output is what
 * exceeds its bound, tries one weight fraction bit less at a time (down to
 * CLI_MIN_WEIGHT_FRAC) and on success leaves that format in *fx. CG_ERR_RANGE
 * as cg_fixed_check_ranges (the first try's message); the report (of the
 * last try) is filled on CG_OK and CG_ERR_RANGE. */
cg_status cli_range_check(const cg_gpt2 *m, const char *tok_dir, const char *calib,
                          double margin, size_t max_tokens, cg_fixed_config *fx,
                          cg_range_report *rep, size_t *ntok, cg_error *err);
/* The report as JSON (one object). */
void cli_range_report_json(FILE *f, const cg_range_report *rep, const char *calib, size_t ntok,
                           unsigned n_layer, cg_fixed_config fx);

#endif
