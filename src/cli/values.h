/* Option values with structure, shared by the commands: a model shape, a
 * list of integers and the 1-of-N OT kind. The first two have a parser and a
 * check with the signature of cli_check_fn, so the option table rejects a
 * bad value as it reads it; the kind is a CLI_CHOICE of cli_otn_names. */
#ifndef CG_CLI_VALUES_H
#define CG_CLI_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cryptogen/model.h"
#include "cryptogen/ot.h"

/* "gpt2-base" or "layers,heads,width,vocab,positions" (random weights). */
bool cli_parse_shape(const char *s, cg_gpt2_config *cfg);
bool cli_check_shape(const char *s, char *why, size_t why_size);

/* "1,2,3" -> integers below 2^32, at least one (cg_alloc'ed like the
 * tokenizer's ids, so one cg_free serves both). */
bool cli_parse_ids(const char *s, uint32_t **ids, size_t *n);
bool cli_check_ids(const char *s, char *why, size_t why_size);

/* The 1-of-N OT kinds by name, indexed by cg_otn_kind and NULL-terminated
 * (a CLI_CHOICE list), and the kind of a name from that list. */
extern const char *const cli_otn_names[];
cg_otn_kind cli_otn_kind(const char *name);
/* The COT sources (--ot) likewise, indexed by cg_ot_kind. */
extern const char *const cli_ot_names[];
cg_ot_kind cli_ot_kind(const char *name);
/* The attention kinds (--attention), indexed by cg_gen_attention: "default"
 * (the server's choice; for serve, both allowed), "ctct", "split". */
extern const char *const cli_attention_names[];
int cli_attention_kind(const char *name); /* a cg_gen_attention */

/* All of standard input, at most max bytes (cg_alloc'ed, NUL-terminated;
 * CG_ERR_ARG when longer): for `--prompt-file -`. */
cg_status cli_read_stdin(size_t max, char **out, size_t *len, cg_error *err);

#endif
