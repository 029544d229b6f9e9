/* The counting allocator wrappers behind cli_alloc_count (see the header).
 * A relaxed atomic increment per call: noise beside the allocation itself. */
#include "cli/alloc_count.h"

#include <stddef.h>

static uint64_t g_count;

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void *__real_aligned_alloc(size_t, size_t);
void *__wrap_malloc(size_t s);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t s);
void *__wrap_aligned_alloc(size_t a, size_t s);

void *__wrap_malloc(size_t s)
{
    __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED);
    return __real_malloc(s);
}

void *__wrap_calloc(size_t a, size_t b)
{
    __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED);
    return __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t s)
{
    __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED);
    return __real_realloc(p, s);
}

void *__wrap_aligned_alloc(size_t a, size_t s)
{
    __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED);
    return __real_aligned_alloc(a, s);
}

uint64_t cli_alloc_count(void) { return __atomic_load_n(&g_count, __ATOMIC_RELAXED); }
