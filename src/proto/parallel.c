/* Per-ciphertext work on the session's threads: the client's encryptions
 * and decryptions, the server's products and masks. */
#include "proto/proto_internal.h"

typedef struct range_job {
    gen_range_fn range;
    void *ctx;
    cg_error *errs; /* one per item */
} range_job;

static void range_tramp(void *arg, size_t begin, size_t end)
{
    range_job *j = arg;
    j->range(j->ctx, j->errs, begin, end);
}

cg_status gen_parallel_ranges(gen_sess *s, size_t n, gen_range_fn range, void *ctx, cg_error *err)
{
    if (n == 0) return CG_OK;
    cg_error *errs = cg_calloc(n, sizeof *errs);
    if (!errs) return cg_error_set(err, CG_ERR_NOMEM, "parallel items");
    range_job j = {range, ctx, errs};
    /* A thread that cannot start has its chunk run inline, so the items are
     * done either way (running them again would add a share twice). */
    (void)cg_parallel_for(s->threads, n, range_tramp, &j);
    cg_status st = CG_OK;
    for (size_t i = 0; i < n && st == CG_OK; i++)
        if (errs[i].code != CG_OK) {
            st = errs[i].code;
            if (err) *err = errs[i];
        }
    cg_free(errs);
    return st;
}

typedef struct par_job {
    gen_sess *s;
    gen_item_fn fn;
    void *ctx;
} par_job;

static void par_range(void *arg, cg_error *errs, size_t begin, size_t end)
{
    par_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        errs[i].code = j->fn(j->s, j->ctx, i, &errs[i]);
        if (errs[i].code != CG_OK) return;
    }
}

cg_status gen_parallel(gen_sess *s, size_t n, gen_item_fn fn, void *ctx, cg_error *err)
{
    par_job j = {s, fn, ctx};
    return gen_parallel_ranges(s, n, par_range, &j, err);
}

typedef struct kv_job {
    gen_sess *s;
    size_t scratch_max;
    gen_kv_item_fn fn;
    void *ctx;
} kv_job;

static void kv_range(void *arg, cg_error *errs, size_t begin, size_t end)
{
    kv_job *j = arg;
    kv_scratch sc;
    cg_status st = kv_scratch_init(&sc, j->s->he, j->scratch_max, &errs[begin]);
    if (st != CG_OK) errs[begin].code = st;
    for (size_t i = begin; st == CG_OK && i < end; i++) {
        errs[i].code = j->fn(j->s, j->ctx, i, &sc, &errs[i]);
        st = errs[i].code;
    }
    kv_scratch_free(&sc);
}

cg_status gen_parallel_kv(gen_sess *s, size_t n, size_t scratch_max, gen_kv_item_fn fn, void *ctx,
                          cg_error *err)
{
    kv_job j = {s, scratch_max, fn, ctx};
    return gen_parallel_ranges(s, n, kv_range, &j, err);
}
