#include "cli/model_dir.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static bool has_config(const char *dir)
{
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/config.json", dir);
    return access(p, R_OK) == 0;
}

const char *cli_default_model_dir(char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, size, "%s/../share/cryptogen/models/default", exe);
            if (has_config(buf)) return buf;
        }
    }
#ifdef CG_SOURCE_MODEL_DIR
    snprintf(buf, size, "%s", CG_SOURCE_MODEL_DIR);
    if (has_config(buf)) return buf;
#endif
    snprintf(buf, size, "models/default");
    return buf;
}
