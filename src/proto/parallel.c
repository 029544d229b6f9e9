/* Per-ciphertext work on the session's threads: the client's encryptions
 * and decryptions, the server's products and masks. */
#include "proto/proto_internal.h"

typedef struct par_job {
    gen_sess *s;
    gen_item_fn fn;
    void *ctx;
    cg_error *errs; /* one per item */
} par_job;

static void par_range(void *arg, size_t begin, size_t end)
{
    par_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        j->errs[i].code = j->fn(j->s, j->ctx, i, &j->errs[i]);
        if (j->errs[i].code != CG_OK) return;
    }
}

cg_status gen_parallel(gen_sess *s, size_t n, gen_item_fn fn, void *ctx, cg_error *err)
{
    if (n == 0) return CG_OK;
    cg_error *errs = cg_calloc(n, sizeof *errs);
    if (!errs) return cg_error_set(err, CG_ERR_NOMEM, "parallel items");
    par_job j = {s, fn, ctx, errs};
    /* A thread that cannot start has its chunk run inline, so the items are
     * done either way (running them again would add a share twice). */
    (void)cg_parallel_for(s->threads, n, par_range, &j);
    cg_status st = CG_OK;
    for (size_t i = 0; i < n && st == CG_OK; i++)
        if (errs[i].code != CG_OK) {
            st = errs[i].code;
            if (err) *err = errs[i];
        }
    cg_free(errs);
    return st;
}
