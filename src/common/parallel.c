/* cg_parallel_for: contiguous chunks on short-lived threads. Batches here are
 * heavy (NTTs, key switches, OT batches), so thread start-up (~20 us) is noise
 * and a pool with global state is not worth it. */
#include "cryptogen/common.h"

#include <pthread.h>

typedef struct chunk {
    cg_range_fn fn;
    void *ctx;
    size_t begin, end;
} chunk;

static void *run_chunk(void *arg)
{
    chunk *c = arg;
    c->fn(c->ctx, c->begin, c->end);
    return NULL;
}

#define CG_MAX_THREADS 256

cg_status cg_parallel_for(int nthreads, size_t n, cg_range_fn fn, void *ctx)
{
    if (n == 0) return CG_OK;
    if (nthreads > CG_MAX_THREADS) nthreads = CG_MAX_THREADS;
    if (nthreads <= 1 || n == 1) {
        fn(ctx, 0, n);
        return CG_OK;
    }
    size_t t = (size_t)nthreads < n ? (size_t)nthreads : n;
    chunk chunks[CG_MAX_THREADS];
    pthread_t tids[CG_MAX_THREADS];
    bool started[CG_MAX_THREADS] = {false};
    cg_status st = CG_OK;
    for (size_t i = 0; i < t; i++) {
        chunks[i].fn = fn;
        chunks[i].ctx = ctx;
        chunks[i].begin = n * i / t;
        chunks[i].end = n * (i + 1) / t;
    }
    for (size_t i = 1; i < t; i++) {
        if (pthread_create(&tids[i], NULL, run_chunk, &chunks[i]) == 0)
            started[i] = true;
        else
            st = CG_ERR_INTERNAL;
    }
    run_chunk(&chunks[0]);
    for (size_t i = 1; i < t; i++) {
        if (started[i])
            pthread_join(tids[i], NULL);
        else
            run_chunk(&chunks[i]);
    }
    return st;
}
