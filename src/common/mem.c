/* Aligned allocation that wipes on free. The size is stored in a 64-byte
 * header in front of the block so that cg_free knows how much to wipe. */
#include "cryptogen/common.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CG_ALIGN 64

void *cg_alloc(size_t size)
{
    if (size > SIZE_MAX - CG_ALIGN) return NULL;
    uint8_t *base = aligned_alloc(CG_ALIGN, ((size + CG_ALIGN - 1) / CG_ALIGN + 1) * CG_ALIGN);
    if (!base) return NULL;
    memcpy(base, &size, sizeof size);
    return base + CG_ALIGN;
}

void *cg_calloc(size_t count, size_t size)
{
    size_t total;
    if (!cg_mul_size(count, size, &total)) return NULL;
    void *p = cg_alloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void cg_free(void *p)
{
    if (!p) return;
    uint8_t *base = (uint8_t *)p - CG_ALIGN;
    size_t size;
    memcpy(&size, base, sizeof size);
    sodium_memzero(p, size);
    free(base);
}

void cg_secure_zero(void *p, size_t n)
{
    if (p && n) sodium_memzero(p, n);
}

int cg_ct_memcmp(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n);
}

bool cg_mul_size(size_t a, size_t b, size_t *out)
{
    size_t r;
    if (__builtin_mul_overflow(a, b, &r)) return false;
    *out = r;
    return true;
}
