/* Where the commands find the default model when --model is not given. */
#ifndef CG_CLI_MODEL_DIR_H
#define CG_CLI_MODEL_DIR_H
#include <stddef.h>

/* The first directory holding a config.json of: the installed copy next to
 * the executable (BIN/../share/cryptogen/models/default), the source tree's
 * models/default this binary was built from, ./models/default. Writes it to
 * buf and returns buf (the last candidate when none exists, so that the
 * error names a path). */
const char *cli_default_model_dir(char *buf, size_t size);

#endif
