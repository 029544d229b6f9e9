// layer: model
/* libFuzzer harness for the tokenizer: the first byte chooses between
 * (a) encoding the input with the real GPT-2 vocabulary and checking the
 * round trip, and (b) loading the input as vocab.json + merges.txt (split at
 * the first NUL byte). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cryptogen/model.h"

static cg_tokenizer *real;

static int memfile(const uint8_t *p, size_t n, char *path, size_t cap)
{
    int fd = memfd_create("f", 0);
    if (fd < 0) return -1;
    if (n && write(fd, p, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!real) {
        const char *dir = getenv("CG_MODEL_DIR") ? getenv("CG_MODEL_DIR") : "models/default";
        if (cg_tokenizer_load_dir(&real, dir, NULL) != CG_OK) abort(); /* harness set-up */
    }
    if (data[0] & 1) {
        uint32_t *ids;
        size_t n, bl;
        char *back;
        if (cg_tokenizer_encode(real, (const char *)data + 1, size - 1, &ids, &n, NULL) != CG_OK) abort();
        if (cg_tokenizer_decode(real, ids, n, &back, &bl, NULL) != CG_OK) abort();
        if (bl != size - 1 || memcmp(back, data + 1, bl) != 0) abort(); /* round trip must hold */
        cg_free(ids);
        cg_free(back);
        return 0;
    }
    const uint8_t *nul = memchr(data + 1, 0, size - 1);
    size_t vlen = nul ? (size_t)(nul - data - 1) : size - 1;
    char vp[64], mp[64];
    int vfd = memfile(data + 1, vlen, vp, sizeof vp);
    int mfd = nul ? memfile(nul + 1, size - 1 - vlen - 1, mp, sizeof mp) : memfile(NULL, 0, mp, sizeof mp);
    cg_tokenizer *t = NULL;
    if (vfd >= 0 && mfd >= 0 && cg_tokenizer_load(&t, vp, mp, NULL) == CG_OK) {
        uint32_t *ids;
        size_t n;
        if (cg_tokenizer_encode(t, "hello world", 11, &ids, &n, NULL) == CG_OK) cg_free(ids);
        cg_tokenizer_free(t);
    }
    if (vfd >= 0) close(vfd);
    if (mfd >= 0) close(mfd);
    return 0;
}
