/* The load-time range check of serve and `stats --check` (cg_fixed_check_ranges
 * on calibration text). */
#ifndef CG_CLI_RANGE_CHECK_H
#define CG_CLI_RANGE_CHECK_H
#include <stdio.h>

#include "cryptogen/model.h"

/* Tokenises calib (NULL: the default model's calibration.txt) with the
 * tokenizer of tok_dir (NULL or one without vocab.json: the default model's),
 * keeps at most max_tokens tokens (0 for all; ids beyond the model's vocabulary
 * are dropped) and checks m at the default format. CG_ERR_RANGE as
 * cg_fixed_check_ranges; the report is filled on CG_OK and CG_ERR_RANGE. */
cg_status cli_range_check(const cg_gpt2 *m, const char *tok_dir, const char *calib,
                          double margin, size_t max_tokens, cg_range_report *rep, size_t *ntok,
                          cg_error *err);
/* The report as JSON (one object). */
void cli_range_report_json(FILE *f, const cg_range_report *rep, const char *calib, size_t ntok,
                           unsigned n_layer);

#endif
