/* Secure generation end to end in one process (client and server threads
 * over the in-process channel): the tokens must equal the fixed-point
 * emulator's, with the encrypted cache (across block boundaries and forced
 * refreshes) and in the baseline mode. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/proto.h"

typedef struct server_job {
    cg_channel *ch;
    const cg_fixed_model *fm;
    cg_status st;
    cg_error err;
    unsigned refreshes;
    uint64_t last_cache_bytes;
    size_t steps;
} server_job;

static void server_step(void *ctx, const cg_gen_step_report *r)
{
    server_job *j = ctx;
    j->refreshes += r->refreshes;
    j->last_cache_bytes = r->cache_bytes;
    j->steps++;
}

static void *server_main(void *arg)
{
    server_job *j = arg;
    cg_gen_options o = {.threads = 1, .on_step = server_step, .on_step_ctx = j};
    j->st = cg_gen_server(j->ch, j->fm, &o, &j->err);
    return NULL;
}

typedef struct client_log {
    size_t steps;
    double part_seconds;
    uint64_t sent, received;
} client_log;

static void client_step(void *ctx, const cg_gen_step_report *r)
{
    client_log *l = ctx;
    l->steps++;
    for (int p = 0; p < CG_PART_COUNT; p++) l->part_seconds += r->seconds[p];
    l->sent += r->total_sent;
    l->received += r->total_received;
}

static cg_gpt2 *tiny_model(void)
{
    cg_gpt2_config cfg = {.n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 7, &err), CG_OK);
    return m;
}

/* Greedy tokens of the emulator: prefill the prompt, then feed each token. */
static void emulate(const cg_fixed_model *fm, const uint32_t *prompt, size_t m, size_t n,
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

static void run_secure(const cg_fixed_model *fm, const cg_gen_request *req, const uint32_t *prompt,
                       uint32_t *out, server_job *sj, client_log *cl)
{
    cg_channel *a = NULL, *b = NULL;
    cg_error err = {0};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    *sj = (server_job){.ch = b, .fm = fm};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, sj), 0);
    cg_gen_options o = {.threads = 1, .on_step = client_step, .on_step_ctx = cl};
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

static void test_cache_mode_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[4] = {17, 250, 3, 99};
    enum { NEW = 33 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 4, NEW, want);
    /* 8 positions per cache ciphertext: 37 positions cross four block
     * boundaries; a refresh after every 5 appends forces several. */
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 4,
                          .new_tokens = NEW, .block_positions = 8, .refresh_every = 5};
    server_job sj;
    client_log cl = {0};
    run_secure(fm, &req, prompt, got, &sj, &cl);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(cl.steps, NEW);
    assert_int_equal(sj.steps, NEW);
    assert_true(sj.refreshes > 0);
    assert_true(sj.last_cache_bytes > 0);
    assert_true(cl.part_seconds > 0);
    assert_true(cl.sent > 0 && cl.received > 0);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

static void test_baseline_equals_cache(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[3] = {5, 6, 7};
    enum { NEW = 4 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    cg_gen_request req = {.he_preset = "paper", .use_cache = false, .prompt_len = 3,
                          .new_tokens = NEW, .block_positions = 4};
    server_job sj;
    client_log cl = {0};
    run_secure(fm, &req, prompt, got, &sj, &cl);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(sj.refreshes, 0);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

static void test_request_checked(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[2] = {1, 2};
    uint32_t out[80];
    /* more positions than the model has: refused by the server, clearly */
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = 70};
    cg_channel *a = NULL, *b = NULL;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    server_job sj = {.ch = b, .fm = fm};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
    cg_gen_options o = {.threads = 1};
    assert_int_not_equal(cg_gen_client(a, &req, prompt, out, &o, &err), CG_OK);
    if (!strstr(err.msg, "positions")) fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "positions"));
    pthread_join(t, NULL);
    assert_int_not_equal(sj.st, CG_OK);
    cg_chan_free(a);
    cg_chan_free(b);
    /* an unknown parameter set */
    cg_gen_request bad = {.he_preset = "nope", .use_cache = true, .prompt_len = 2, .new_tokens = 1};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    sj = (server_job){.ch = b, .fm = fm};
    assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
    assert_int_not_equal(cg_gen_client(a, &bad, prompt, out, &o, &err), CG_OK);
    pthread_join(t, NULL);
    assert_int_not_equal(sj.st, CG_OK);
    cg_chan_free(a);
    cg_chan_free(b);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_checked),
        cmocka_unit_test(test_baseline_equals_cache),
        cmocka_unit_test(test_cache_mode_equals_emulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
