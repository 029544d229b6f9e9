/* Writing JSON from the commands: strings (paths, generated text) escaped. */
#ifndef CG_CLI_JSON_OUT_H
#define CG_CLI_JSON_OUT_H
#include <stdio.h>

/* s as a quoted JSON string: '"', '\\' and control bytes escaped; other
 * bytes (UTF-8) as they are. NULL is written as null. */
void cli_json_string(FILE *f, const char *s);

#endif
