/* The prompt's embedding by the cuckoo-hashed batch lookup (src/proto/
 * embed.c): prompts of GEN_EMBED_BATCH_MIN rows or more take it. The tokens
 * must equal the fixed-point emulator's (prompts over two prefill chunks,
 * with repeated tokens, which share a bucket), and the server's view must
 * not depend on the tokens (all different against all the same). The
 * buckets go in batches of bounded size: 40 rows of the tiny model make
 * 144 buckets, two batches (the second short); GPT-2 base's 512-token
 * prompt holds a bounded number of ciphertexts, with the same count on
 * the wire. */
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
#include "proto/proto_internal.h"
#include "proto/view_fixture.h"

#define NEW 2

static void equals_emulator(const uint32_t *prompt, size_t len, size_t chunk)
{
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, len, NEW, want);
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)len,
                          .new_tokens = NEW, .block_positions = 4, .prefill_chunk = (uint32_t)chunk};
    server_job sj;
    client_log cl = {0};
    run_secure(fm, NULL, 2, &req, prompt, got, &sj, &cl);
    assert_memory_equal(got, want, sizeof want);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* 40 tokens: a pass of 32 rows and one of 8, both embedded as a batch;
 * every fifth token repeats, and the vocabulary's ends are in it. */
static void test_two_chunks_with_repeats(void **state)
{
    (void)state;
    uint32_t prompt[40];
    for (size_t i = 0; i < 40; i++) prompt[i] = i % 5 == 4 ? 42 : (uint32_t)((i * 53 + 7) % 300);
    prompt[0] = 0;
    prompt[1] = 299;
    equals_emulator(prompt, 40, 32);
}

/* The fewest rows the batch takes: all the same token. */
static void test_one_token_repeated(void **state)
{
    (void)state;
    uint32_t prompt[8];
    for (size_t i = 0; i < 8; i++) prompt[i] = 123;
    equals_emulator(prompt, 8, 0);
}

static void test_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    uint32_t pa[40], pb[40]; /* two batches of buckets */
    for (size_t i = 0; i < 40; i++) pa[i] = (uint32_t)(i * 7 + 3), pb[i] = 299;
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 40, 1, (view){0},
                         "server view (batch embedding)");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* GPT-2 base shape (no keys needed: counts from public shapes only). */
static gen_sess base_session(size_t prompt)
{
    gen_sess s = {.party = CG_SERVER};
    s.cfg = (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                             .vocab_size = 50257, .ln_eps = 1e-5f};
    s.req = (cg_gen_request){.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)prompt,
                             .new_tokens = 1};
    s.N = 8192, s.d = 768, s.H = 12, s.dh = 64, s.V = 50257;
    return s;
}

/* A 512-token prompt's lookup held ~9,800 ciphertexts at once (~4.9 GB of
 * size-2 ones); now one batch, while the ciphertexts returned (and so the
 * flooding) are those of all 2 x 512 + 64 buckets. */
static void test_batches_bound_memory(void **state)
{
    (void)state;
    for (size_t rows = 8; rows <= 1024; rows *= 4) {
        gen_sess s = base_session(rows);
        const uint64_t held = gen_embed_working_cts(&s, rows), sent = gen_embed_returned_cts(&s, rows);
        fprintf(stderr, "GPT-2 base, %zu-token prompt: embedding holds %llu ciphertexts, returns %llu\n", rows,
                (unsigned long long)held, (unsigned long long)sent);
        const size_t B = 2 * rows + 64;
        const gen_plan p = gen_plan_of(s.N, 5 * ((s.V + B - 1) / B), s.d); /* a bucket's */
        const gen_plan q = gen_plan_rows(s.N, B, s.d, rows, 0);             /* to the positions */
        const uint64_t per = p.cin + p.cout, place = (uint64_t)((rows + q.mi - 1) / q.mi) * (q.cin + q.cout);
        /* every bucket's reply still goes, and the product to the positions */
        assert_int_equal(sent, (uint64_t)B * p.cout + (uint64_t)((rows + q.mi - 1) / q.mi) * q.cout);
        /* held: one batch of at most 256 ciphertexts (or one bucket), or the
         * product to the positions, not all B buckets' queries and replies */
        const uint64_t batch = per > 256 ? per : 256;
        assert_true(held <= (batch > place ? batch : place));
        if (B * per > 2 * place) assert_true(held < B * per / 2);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_chunks_with_repeats),
        cmocka_unit_test(test_one_token_repeated),
        cmocka_unit_test(test_server_view_independent_of_prompt),
        cmocka_unit_test(test_batches_bound_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
