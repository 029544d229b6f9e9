/* The prompt's embedding by the cuckoo-hashed batch lookup (src/proto/
 * embed.c): prompts of GEN_EMBED_BATCH_MIN rows or more take it. The tokens
 * must equal the fixed-point emulator's (prompts over two prefill chunks,
 * with repeated tokens, which share a bucket), and the server's view must
 * not depend on the tokens (all different against all the same). */
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
#include "proto/view_fixture.h"

#define NEW 2

static void equals_emulator(const uint32_t *prompt, size_t len)
{
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, len, NEW, want);
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)len,
                          .new_tokens = NEW, .block_positions = 4};
    server_job sj;
    client_log cl = {0};
    run_secure(fm, NULL, 2, &req, prompt, got, &sj, &cl);
    assert_memory_equal(got, want, sizeof want);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* 40 tokens: a chunk of 32 rows and one of 8, both embedded as a batch;
 * every fifth token repeats, and the vocabulary's ends are in it. */
static void test_two_chunks_with_repeats(void **state)
{
    (void)state;
    uint32_t prompt[40];
    for (size_t i = 0; i < 40; i++) prompt[i] = i % 5 == 4 ? 42 : (uint32_t)((i * 53 + 7) % 300);
    prompt[0] = 0;
    prompt[1] = 299;
    equals_emulator(prompt, 40);
}

/* The fewest rows the batch takes: all the same token. */
static void test_one_token_repeated(void **state)
{
    (void)state;
    uint32_t prompt[8];
    for (size_t i = 0; i < 8; i++) prompt[i] = 123;
    equals_emulator(prompt, 8);
}

static void test_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    uint32_t pa[12], pb[12];
    for (size_t i = 0; i < 12; i++) pa[i] = (uint32_t)(i * 25 + 3), pb[i] = 299;
    view a = {0}, b = {0};
    server_view_of(fm, NULL, NULL, CG_ATTN_DEFAULT, pa, 12, 1, &a);
    server_view_of(fm, NULL, NULL, CG_ATTN_DEFAULT, pb, 12, 1, &b);
    assert_views_alike(&a, &b, "server view (batch embedding)");
    free(a.bytes);
    free(b.bytes);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_chunks_with_repeats),
        cmocka_unit_test(test_one_token_repeated),
        cmocka_unit_test(test_server_view_independent_of_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
