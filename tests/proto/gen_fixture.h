/* Shared by the proto tests that run both parties in one process: a
 * server thread, per-step logs, a tiny random model, the emulator's greedy
 * tokens and one secure session over an in-process channel. */
#ifndef CG_TESTS_GEN_FIXTURE_H
#define CG_TESTS_GEN_FIXTURE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cryptogen/proto.h"

typedef struct server_job {
    int threads;
    cg_channel *ch;
    const cg_fixed_model *fm;
    const cg_gen_weights *ws;
    cg_status st;
    cg_error err;
    unsigned refreshes;
    uint64_t last_cache_bytes;
    size_t steps;
    cg_gen_noise_fn on_noise; /* the sampling noise is the server's */
    void *on_noise_ctx;
} server_job;

static inline void server_step(void *ctx, const cg_gen_step_report *r)
{
    server_job *j = ctx;
    j->refreshes += r->refreshes;
    j->last_cache_bytes = r->cache_bytes;
    j->steps++;
}

static inline void *server_main(void *arg)
{
    server_job *j = arg;
    cg_gen_options o = {.threads = j->threads > 0 ? j->threads : 1, .on_step = server_step,
                        .on_step_ctx = j, .weights = j->ws, .on_noise = j->on_noise,
                        .on_noise_ctx = j->on_noise_ctx};
    j->st = cg_gen_server(j->ch, j->fm, &o, &j->err);
    return NULL;
}

typedef struct client_log {
    size_t steps;
    double part_seconds;
    uint64_t sent, received;
} client_log;

static inline void client_step(void *ctx, const cg_gen_step_report *r)
{
    client_log *l = ctx;
    l->steps++;
    for (int p = 0; p < CG_PART_COUNT; p++) l->part_seconds += r->seconds[p];
    l->sent += r->total_sent;
    l->received += r->total_received;
}

static inline cg_gpt2 *tiny_model(void)
{
    cg_gpt2_config cfg = {.n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 7, &err), CG_OK);
    return m;
}

/* Greedy tokens of the emulator: prefill the prompt, then feed each token. */
static inline void emulate(const cg_fixed_model *fm, const uint32_t *prompt, size_t m, size_t n,
                    uint32_t *out)
{
    cg_error err = {0};
    cg_fixed_state st;
    assert_int_equal(cg_fixed_state_new(fm, m + n, &st, &err), CG_OK);
    int64_t *lg = malloc(fm->cfg.vocab_size * sizeof *lg);
    assert_non_null(lg);
    assert_int_equal(cg_fixed_forward(fm, &st, prompt, m, lg, false, 1, &err), CG_OK);
    for (size_t i = 0; i < n; i++) {
        out[i] = cg_fixed_argmax(lg, fm->cfg.vocab_size);
        if (i + 1 < n) assert_int_equal(cg_fixed_forward(fm, &st, &out[i], 1, lg, false, 1, &err), CG_OK);
    }
    free(lg);
    cg_fixed_state_free(&st);
}

/* As run_secure, the client asking for the attention kind `attention`. */
static inline void run_secure_kind(const cg_fixed_model *fm, const cg_gen_weights *ws, int threads,
                                   const cg_gen_request *req, const uint32_t *prompt, uint32_t *out,
                                   server_job *sj, client_log *cl, cg_gen_attention attention)
{
    cg_channel *a = NULL, *b = NULL;
    cg_error err = {0};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    *sj = (server_job){.ch = b, .fm = fm, .ws = ws, .threads = threads};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, sj), 0);
    cg_gen_options o = {.threads = threads, .on_step = client_step, .on_step_ctx = cl,
                        .attention = attention};
    cg_status st = cg_gen_client(a, req, prompt, out, &o, &err);
    if (st != CG_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        cg_chan_free(a); /* unblocks the server */
        a = NULL;
    }
    pthread_join(t, NULL);
    if (sj->st != CG_OK) fprintf(stderr, "server: %s\n", sj->err.msg);
    assert_int_equal(st, CG_OK);
    assert_int_equal(sj->st, CG_OK);
    cg_chan_free(a);
    cg_chan_free(b);
}

/* One secure session in the kind the server chooses (split by default). */
static inline void run_secure(const cg_fixed_model *fm, const cg_gen_weights *ws, int threads,
                              const cg_gen_request *req, const uint32_t *prompt, uint32_t *out,
                              server_job *sj, client_log *cl)
{
    run_secure_kind(fm, ws, threads, req, prompt, out, sj, cl, CG_ATTN_DEFAULT);
}

#endif
