/* Option values with structure, shared by the commands: a model shape and
 * a list of integers. Each has a parser and a check with the signature of
 * cli_check_fn, so the option table rejects a bad value as it reads it. */
#ifndef CG_CLI_VALUES_H
#define CG_CLI_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cryptogen/model.h"

/* "gpt2-base" or "layers,heads,width,vocab,positions" (random weights). */
bool cli_parse_shape(const char *s, cg_gpt2_config *cfg);
bool cli_check_shape(const char *s, char *why, size_t why_size);

/* "1,2,3" -> integers below 2^32 (malloc'ed; at least one). */
bool cli_parse_ids(const char *s, uint32_t **ids, size_t *n);
bool cli_check_ids(const char *s, char *why, size_t why_size);

#endif
