/* Secure generation end to end in one process (client and server threads
 * over the in-process channel): the tokens must equal the fixed-point
 * emulator's, with the encrypted cache (across block boundaries and forced
 * refreshes) and in the baseline mode. */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/proto.h"
#include "proto/fixed_fixture.h"
#include "proto/gen_fixture.h"
#include "proto/he_fixture.h"
#include "proto/noise_fixture.h"
#include "proto/view_fixture.h"

static void test_cache_mode_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    /* 18 prompt tokens (one prefill chunk) */
    const uint32_t prompt[18] = {17, 250, 3, 99, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 1};
    enum { NEW = 33 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 18, NEW, want);
    /* 8 positions per cache ciphertext: 51 positions cross six block
     * boundaries; a refresh after every 5 appends forces several. */
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 18,
                          .new_tokens = NEW, .block_positions = 8, .refresh_every = 5};
    server_job sj;
    client_log cl = {0};
    /* two threads per party: the per-ciphertext loops run in parallel; the
     * ct x ct attention, the one that refreshes (test_gen_split: the split) */
    run_secure_kind(fm, NULL, 2, &req, prompt, got, &sj, &cl, CG_ATTN_CTCT);
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
    cg_error err = {0};
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t prompt[3] = {5, 6, 7};
    enum { NEW = 4 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    cg_gen_request req = {.he_preset = "paper", .use_cache = false, .prompt_len = 3,
                          .new_tokens = NEW, .block_positions = 4};
    /* this one with pre-encoded weights (a budget that takes only some
     * matrices), so both encodings are checked */
    cg_gen_weights *ws = NULL;
    assert_int_equal(cg_gen_weights_new(&ws, fm, "paper", 8u << 20, 1, &err), CG_OK);
    assert_true(cg_gen_weights_bytes(ws) > 0 && cg_gen_weights_bytes(ws) <= (8u << 20));
    server_job sj;
    client_log cl = {0};
    run_secure(fm, ws, 2, &req, prompt, got, &sj, &cl);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(sj.refreshes, 0);
    cg_gen_weights_free(ws);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

static void test_request_checked(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_error err = {0};
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
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
    /* an unknown parameter set; more prefill rows per ciphertext than allowed */
    const cg_gen_request bad[2] = {
        {.he_preset = "nope", .use_cache = true, .prompt_len = 2, .new_tokens = 1},
        {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = 1, .prefill_rows = 4097}};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
        sj = (server_job){.ch = b, .fm = fm};
        assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
        assert_int_not_equal(cg_gen_client(a, &bad[k], prompt, out, &o, &err), CG_OK);
        pthread_join(t, NULL);
        assert_int_not_equal(sj.st, CG_OK);
        cg_chan_free(a);
        cg_chan_free(b);
    }
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* ---- Security checks ------------------------------------------------------------ */

/* Two prompts of the same length: the server sees the same number of bytes
 * and rounds in every component, and its byte stream cannot be told apart by
 * a two-sample chi-square test on byte frequencies. */
static void test_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t pa[3] = {1, 2, 3}, pb[3] = {299, 150, 0};
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 3, 2, (view){0},
                         "server view");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* HE -> share as the protocol does it (t = 2^37): the mask covers every
 * coefficient, shares add up, and the returned ciphertext carries noise at
 * least 2^40 times the noise it had. */
static void test_mask_covers_all_and_floods(void **state)
{
    (void)state;
    cg_error err = {0};
    he_fixture f;
    he_setup(&f);
    cg_bfv_ctx *c = f.c;
    const size_t n = f.n;
    const uint64_t mask37 = (1ull << 37) - 1;
    int64_t *v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < 64; i++) v[i] = (int64_t)i * 1000 - 20000; /* the rest stays 0 */
    cg_bfv_plain pt = {0}, out = {0}, r = {0};
    assert_int_equal(cg_bfv_plain_alloc(c, &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_plain_alloc(c, &out, &err), CG_OK);
    assert_int_equal(cg_bfv_encode_coeff(c, v, n, &pt, &err), CG_OK);
    cg_bfv_ct a = {0}, b = {0}, prod = {0};
    assert_int_equal(cg_bfv_encrypt_sk(c, &f.sk, &pt, &a, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_sk(c, &f.sk, &pt, &b, &err), CG_OK);
    /* a product, as the attention returns */
    assert_int_equal(cg_bfv_multiply(c, &a, &b, &prod, &err), CG_OK);
    assert_int_equal(cg_bfv_relinearize(c, &f.rk, &prod, &err), CG_OK);
    assert_int_equal(cg_bfv_decrypt(c, &f.sk, &prod, &pt, &err), CG_OK);
    uint64_t *want = malloc(n * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < n; i++) want[i] = pt.coeffs[i] & mask37;
    double before, budget;
    assert_int_equal(cg_bfv_noise_measure(c, &f.sk, &prod, &before, &budget, &err), CG_OK);
    const double rel_before = before - cg_bfv_log2_q(c, prod.level);
    assert_int_equal(cg_bfv_mask_and_flood(c, &f.pk, &prod, 40, &r, &err), CG_OK);
    double after;
    assert_int_equal(cg_bfv_noise_measure(c, &f.sk, &prod, &after, &budget, &err), CG_OK);
    const double rel_after = after - cg_bfv_log2_q(c, prod.level);
    fprintf(stderr, "flooding: relative noise 2^%.1f -> 2^%.1f, %zu primes sent, budget left %.1f bits\n",
            rel_before, rel_after, prod.level, budget);
    assert_true(rel_after - rel_before >= 40.0);
    assert_true(budget > 0);
    assert_true(prod.level < cg_bfv_nq(c));
    assert_int_equal(cg_bfv_decrypt(c, &f.sk, &prod, &out, &err), CG_OK);
    size_t unmasked = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t got = out.coeffs[i] & mask37;
        assert_int_equal((got + r.coeffs[i]) & mask37, want[i]); /* shares add up */
        unmasked += got == want[i];
        top += (got >> 36) & 1;
    }
    /* a uniform mask leaves a coefficient unchanged with probability 2^-37 */
    assert_true(unmasked <= 1);
    assert_true(top > n * 45 / 100 && top < n * 55 / 100);
    free(v);
    free(want);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&out);
    cg_bfv_plain_free(&r);
    cg_bfv_ct_free(&a);
    cg_bfv_ct_free(&b);
    cg_bfv_ct_free(&prod);
    he_teardown(&f);
}

/* ---- Sampling ------------------------------------------------------------------- */

/* Gumbel-max at T = 0.8: the secure choice equals the emulator's replay with
 * the same noise, and the noise is not all zero. */
static void test_sampling_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_error err = {0};
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const size_t V = fm->cfg.vocab_size;
    enum { NEW = 6 };
    const uint32_t prompt[2] = {11, 12};
    noise_log nl = {.V = V, .one_session = true, .noise = calloc(NEW * V, sizeof(int64_t))};
    assert_non_null(nl.noise);
    cg_channel *a = NULL, *b = NULL;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    server_job sj = {.ch = b, .fm = fm, .on_noise = keep_noise, .on_noise_ctx = &nl};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2,
                          .new_tokens = NEW, .temperature_milli = 800};
    cg_gen_options o = {.threads = 1};
    uint32_t got[NEW];
    assert_int_equal(cg_gen_client(a, &req, prompt, got, &o, &err), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(sj.st, CG_OK);
    cg_chan_free(a);
    cg_chan_free(b);
    assert_int_equal(nl.calls, NEW);
    /* replay */
    cg_fixed_state st;
    assert_int_equal(cg_fixed_state_new(fm, 2 + NEW, &st, &err), CG_OK);
    int64_t *lg = malloc(V * sizeof *lg), *z = malloc(V * sizeof *z);
    assert_int_equal(cg_fixed_forward(fm, &st, prompt, 2, lg, false, 1, &err), CG_OK);
    size_t nonzero = 0, differs_from_greedy = 0;
    for (size_t i = 0; i < NEW; i++) {
        uint32_t want = cg_fixed_sample(fm, lg, V, 800, nl.noise + i * V, z);
        assert_int_equal(got[i], want);
        differs_from_greedy += want != cg_fixed_argmax(lg, V);
        for (size_t v = 0; v < V; v++) nonzero += nl.noise[i * V + v] != 0;
        if (i + 1 < NEW) assert_int_equal(cg_fixed_forward(fm, &st, &got[i], 1, lg, false, 1, &err), CG_OK);
    }
    assert_true(nonzero > NEW * V / 2);
    fprintf(stderr, "sampling: %zu of %d tokens differ from the greedy choice\n", differs_from_greedy, NEW);
    /* a temperature outside [0.1, 100] is refused */
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    sj = (server_job){.ch = b, .fm = fm};
    assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
    req.temperature_milli = 50;
    assert_int_not_equal(cg_gen_client(a, &req, prompt, got, &o, &err), CG_OK);
    assert_non_null(strstr(err.msg, "temperature"));
    pthread_join(t, NULL);
    cg_chan_free(a);
    cg_chan_free(b);
    cg_fixed_state_free(&st);
    free(lg);
    free(z);
    free(nl.noise);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_checked),
        cmocka_unit_test(test_mask_covers_all_and_floods),
        cmocka_unit_test(test_sampling_equals_emulator),
        cmocka_unit_test(test_server_view_independent_of_prompt),
        cmocka_unit_test(test_baseline_equals_cache),
        cmocka_unit_test(test_cache_mode_equals_emulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
