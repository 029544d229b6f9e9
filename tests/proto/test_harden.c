/* Security hardening (issue 15): the server decides the parameter set, the
 * sampling noise never reaches the client, the flooding is sized for the
 * whole session from public facts only, and the session's limits. */
#include <math.h>
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
    cg_gen_options o;
    cg_status st;
    cg_error err;
} server_job;

static void *server_main(void *arg)
{
    server_job *j = arg;
    j->st = cg_gen_server(j->ch, j->fm, &j->o, &j->err);
    return NULL;
}

static cg_gpt2 *tiny_model(void)
{
    cg_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 32, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 7, &err), CG_OK);
    return m;
}

/* One session over the in-process channel: the client's status and message,
 * the server's status, and the bytes the client sent. */
typedef struct outcome {
    cg_status client, server;
    cg_error cerr, serr;
    uint64_t client_sent;
} outcome;

static outcome run_session(const cg_fixed_model *fm, const cg_gen_options *so,
                           const cg_gen_request *req, const cg_gen_options *co,
                           const uint32_t *prompt, uint32_t *out)
{
    cg_channel *a = NULL, *b = NULL;
    outcome r = {0};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &r.cerr), CG_OK);
    server_job sj = {.ch = b, .fm = fm, .o = *so};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
    r.client = cg_gen_client(a, req, prompt, out, co, &r.cerr);
    cg_chan_stats cs;
    cg_chan_get_stats(a, &cs);
    r.client_sent = cs.total.bytes_sent;
    if (r.client != CG_OK) {
        cg_chan_free(a); /* unblocks the server */
        a = NULL;
    }
    pthread_join(t, NULL);
    r.server = sj.st;
    r.serr = sj.err;
    cg_chan_free(a);
    cg_chan_free(b);
    return r;
}

/* ---- Finding 2: the server decides the parameter set ------------------------------ */

static void test_allow_list(void **state)
{
    (void)state;
    cg_error err = {0};
    assert_int_equal(cg_gen_preset_allowed(NULL, false, "paper", &err), CG_OK);
    assert_int_equal(cg_gen_preset_allowed(NULL, false, "n4096", &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "allowed: paper"));
    assert_int_equal(cg_gen_preset_allowed("paper,n16384", false, "n16384", &err), CG_OK);
    assert_int_equal(cg_gen_preset_allowed("paper,n16384", false, "n1638", &err), CG_ERR_PARAM);
    assert_int_equal(cg_gen_preset_allowed("paper,n16384", false, "", &err), CG_ERR_PARAM);
    /* listed but insecure: refused unless the test-only switch is on */
    assert_int_equal(cg_gen_preset_allowed("paper,test2048", false, "test2048", &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "insecure"));
    assert_int_equal(cg_gen_preset_allowed("paper,test2048", true, "test2048", &err), CG_OK);
    /* a listed name that is no set at all */
    assert_int_equal(cg_gen_preset_allowed("paper,nope", false, "nope", &err), CG_ERR_PARAM);
}

/* A client asking for test2048 is refused in the handshake, with a message
 * naming the allowed sets, before it sends any key. */
static void test_insecure_preset_refused(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[2] = {1, 2};
    uint32_t out[1];
    cg_gen_request req = {.he_preset = "test2048", .use_cache = true, .prompt_len = 2, .new_tokens = 1};
    const cg_gen_options co = {.threads = 1};
    cg_gen_options so = {.threads = 1};
    outcome r = run_session(fm, &so, &req, &co, prompt, out);
    fprintf(stderr, "refusal: %s\n", r.cerr.msg);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_int_not_equal(r.server, CG_OK);
    assert_non_null(strstr(r.cerr.msg, "test2048"));
    assert_non_null(strstr(r.cerr.msg, "allowed: paper"));
    assert_true(r.client_sent < 200); /* the request only: no keys */
    /* listed by the operator, still refused as insecure */
    so.allow_presets = "paper,test2048";
    r = run_session(fm, &so, &req, &co, prompt, out);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_non_null(strstr(r.cerr.msg, "insecure"));
    /* a secure set the server does not list */
    memcpy(req.he_preset, "n4096", 6);
    so.allow_presets = NULL;
    r = run_session(fm, &so, &req, &co, prompt, out);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_non_null(strstr(r.cerr.msg, "not allowed"));
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* ---- Finding 1: only the token reaches the client --------------------------------- */

typedef struct noise_log {
    size_t V, calls;
    int64_t *noise; /* calls x V */
} noise_log;

static void keep_noise(void *ctx, size_t step, const int64_t *g, size_t n)
{
    noise_log *l = ctx;
    (void)step;
    assert_int_equal(n, l->V);
    memcpy(l->noise + l->calls * n, g, n * sizeof *g);
    l->calls++;
}

/* Sampling at T = 0.8, twice with the same prompt: the client's hook is
 * never called (it has no noise to give), the server's noise differs from
 * session to session, and with the test-only fixed seed the token is the
 * emulator's replay with the server's noise. */
static void test_client_never_sees_noise(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const size_t V = fm->cfg.vocab_size;
    const uint32_t prompt[2] = {11, 12};
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2,
                          .new_tokens = 1, .temperature_milli = 800};
    noise_log client = {.V = V, .noise = calloc(4 * V, sizeof(int64_t))};
    noise_log server = {.V = V, .noise = calloc(4 * V, sizeof(int64_t))};
    assert_non_null(client.noise);
    assert_non_null(server.noise);
    const cg_gen_options co = {.threads = 1, .on_noise = keep_noise, .on_noise_ctx = &client};
    cg_gen_options so = {.threads = 1, .on_noise = keep_noise, .on_noise_ctx = &server};
    uint32_t tok[3];
    for (int i = 0; i < 2; i++) {
        outcome r = run_session(fm, &so, &req, &co, prompt, &tok[i]);
        assert_int_equal(r.client, CG_OK);
        assert_int_equal(r.server, CG_OK);
    }
    assert_int_equal(client.calls, 0);
    assert_int_equal(server.calls, 2);
    assert_memory_not_equal(server.noise, server.noise + V, V * sizeof(int64_t));
    /* the fixed seed (tests only): the choice replays in the clear */
    static const uint8_t seed[32] = {42};
    so.test_noise_seed = seed;
    outcome r = run_session(fm, &so, &req, &co, prompt, &tok[2]);
    assert_int_equal(r.client, CG_OK);
    assert_int_equal(server.calls, 3);
    cg_fixed_state st;
    assert_int_equal(cg_fixed_state_new(fm, 3, &st, &err), CG_OK);
    int64_t *lg = malloc(V * sizeof *lg), *z = malloc(V * sizeof *z);
    assert_int_equal(cg_fixed_forward(fm, &st, prompt, 2, lg, false, 1, &err), CG_OK);
    assert_int_equal(tok[2], cg_fixed_sample(fm, lg, V, 800, server.noise + 2 * V, z));
    cg_fixed_state_free(&st);
    free(lg);
    free(z);
    free(client.noise);
    free(server.noise);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_insecure_preset_refused),
        cmocka_unit_test(test_client_never_sees_noise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
