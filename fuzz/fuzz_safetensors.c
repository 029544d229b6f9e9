// layer: model
/* libFuzzer harness: arbitrary bytes as model.safetensors for a tiny GPT-2
 * configuration (header parsing, dtype/shape/offset validation, conversion). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cryptogen/model.h"

static char cfg_path[64], st_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg_path[0]) {
        int cfd = memfd_create("cfg", 0);
        const char *cfg = "{\"n_layer\":1,\"n_head\":1,\"n_embd\":2,\"n_positions\":2,\"vocab_size\":3}";
        if (cfd < 0 || write(cfd, cfg, strlen(cfg)) < 0) return 0;
        snprintf(cfg_path, sizeof cfg_path, "/proc/self/fd/%d", cfd);
        int sfd = memfd_create("st", 0);
        if (sfd < 0) return 0;
        snprintf(st_path, sizeof st_path, "/proc/self/fd/%d", sfd);
    }
    int sfd;
    if (sscanf(st_path, "/proc/self/fd/%d", &sfd) != 1) return 0;
    if (ftruncate(sfd, 0) != 0 || pwrite(sfd, data, size, 0) != (ssize_t)size) return 0;
    cg_gpt2 *m = NULL;
    cg_error err;
    if (cg_gpt2_load_files(&m, cfg_path, st_path, &err) == CG_OK) cg_gpt2_free(m);
    return 0;
}
