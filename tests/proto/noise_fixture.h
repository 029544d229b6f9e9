/* A log of the sampling noise a party's on_noise hook is given (steps x V),
 * for the sampling tests. */
#ifndef CG_TESTS_NOISE_FIXTURE_H
#define CG_TESTS_NOISE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct noise_log {
    size_t V, calls;
    bool one_session; /* every call is the next step of one session */
    int64_t *noise;   /* calls x V */
} noise_log;

static inline void keep_noise(void *ctx, size_t step, const int64_t *g, size_t n)
{
    noise_log *l = ctx;
    assert_int_equal(n, l->V);
    if (l->one_session) assert_int_equal(step, l->calls);
    memcpy(l->noise + l->calls * n, g, n * sizeof *g);
    l->calls++;
}

#endif
