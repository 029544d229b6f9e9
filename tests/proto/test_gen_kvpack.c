/* Packed attention inputs end to end (split attention, pack_inputs on: the
 * strided KV layout, PROTOCOL.md "Packed attention inputs"): with a model
 * whose expansion keys cover four chunks (d = 128, two heads of 64), the
 * client's K and V appends go in one packed ciphertext per decode step and
 * layer, its queries in one, its probabilities in one; over blocks of 4 positions (a prefill in the
 * strided layout, then decode across several blocks, the probabilities
 * packed too, two outputs per head) the secure
 * tokens equal the fixed-point emulator's; the server receives fewer append
 * and query bytes than unpacked; and its view does not depend on the
 * prompt. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cryptogen/proto.h"
#include "proto/fixed_fixture.h"
#include "proto/gen_fixture.h"
#include "proto/proto_internal.h"
#include "proto/session_fixture.h"
#include "proto/view_fixture.h"

static cg_gpt2 *model_of(uint32_t heads)
{
    cg_gpt2_config cfg = {.n_layer = 1, .n_head = heads, .n_embd = 128, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 11, &err), CG_OK);
    return m;
}

static cg_gpt2 *wide_model(void)
{
    return model_of(2);
}

typedef struct part_log {
    size_t steps;
    uint64_t received[CG_PART_COUNT];
    uint64_t last[CG_PART_COUNT]; /* the last step's */
} part_log;

static void part_step(void *ctx, const cg_gen_step_report *r)
{
    part_log *l = ctx;
    l->steps++;
    for (int p = 0; p < CG_PART_COUNT; p++) l->received[p] += r->bytes_received[p], l->last[p] = r->bytes_received[p];
}

/* One split session, blocks of 4 positions; sl gets the server's parts. */
static void run_split(const cg_fixed_model *fm, bool pack, const uint32_t *prompt, size_t m, size_t n,
                      uint32_t *out, part_log *sl)
{
    *sl = (part_log){0};
    const cg_gen_options so = {.threads = 2, .attention = CG_ATTN_SPLIT, .on_step = part_step, .on_step_ctx = sl};
    const cg_gen_options co = {.threads = 2, .attention = CG_ATTN_SPLIT};
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)m,
                                .new_tokens = (uint32_t)n, .block_positions = 4, .pack_inputs = pack};
    const outcome r = run_session(fm, &so, &req, &co, prompt, out);
    if (r.client != CG_OK) fprintf(stderr, "client: %s\n", r.cerr.msg);
    if (r.server != CG_OK) fprintf(stderr, "server: %s\n", r.serr.msg);
    assert_int_equal(r.client, CG_OK);
    assert_int_equal(r.server, CG_OK);
    assert_int_equal(sl->steps, n);
}

/* 6 prompt positions, then 10 decoded: positions 0..15, four blocks. */
static void test_kvpack_decode_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    assert_int_equal(gen_pack_levels(&fm->cfg, 8192, false), 2); /* keys for 4 chunks = 2 heads x K, V */
    enum { M = 6, NEW = 10 };
    const uint32_t prompt[M] = {5, 280, 17, 99, 3, 42};
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, M, NEW, want);
    part_log packed, plain;
    run_split(fm, true, prompt, M, NEW, got, &packed);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    run_split(fm, false, prompt, M, NEW, got, &plain);
    assert_memory_equal(got, want, sizeof want);
    fprintf(stderr, "server received: kv_append %llu packed vs %llu plain, qk %llu vs %llu, sv %llu vs %llu\n",
            (unsigned long long)packed.received[CG_PART_KV_APPEND],
            (unsigned long long)plain.received[CG_PART_KV_APPEND],
            (unsigned long long)packed.received[CG_PART_QK], (unsigned long long)plain.received[CG_PART_QK],
            (unsigned long long)packed.received[CG_PART_SV], (unsigned long long)plain.received[CG_PART_SV]);
    /* decode steps: one append ciphertext instead of four (2 heads x K, V),
     * one query instead of two, one probabilities ciphertext instead of one
     * or two per head; the prefill's appends are the same dense ones (one
     * per head, kind and block), its products the matrix path's */
    assert_true(packed.received[CG_PART_KV_APPEND] < plain.received[CG_PART_KV_APPEND]);
    assert_true(packed.received[CG_PART_QK] < plain.received[CG_PART_QK]);
    assert_true(packed.received[CG_PART_SV] < plain.received[CG_PART_SV]);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* One head of 128 (three chunks, the keys cover four): a decode step's
 * queries ride in the appends' ciphertext, so the server receives nothing
 * in the scores part; the tokens still equal the emulator's across blocks
 * (blocks of 4, positions 0..9). */
static void test_kvpack_queries_with_appends(void **state)
{
    (void)state;
    cg_gpt2 *m = model_of(1);
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    enum { M = 3, NEW = 7 };
    const uint32_t prompt[M] = {7, 250, 31};
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, M, NEW, want);
    part_log packed, plain;
    run_split(fm, true, prompt, M, NEW, got, &packed);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    run_split(fm, false, prompt, M, NEW, got, &plain);
    assert_memory_equal(got, want, sizeof want);
    assert_int_equal(packed.last[CG_PART_QK], 0);
    assert_true(plain.last[CG_PART_QK] > 0);
    assert_true(packed.last[CG_PART_KV_APPEND] > 0);
    assert_true(packed.last[CG_PART_KV_APPEND] < plain.last[CG_PART_KV_APPEND]);
    /* and the server's view of the merged ciphertexts hides the prompt */
    const uint32_t pa[3] = {1, 2, 3}, pb[3] = {299, 150, 0};
    assert_prompt_hidden(fm, CG_ATTN_SPLIT, pa, pb, 3, 3, (view){.pack_inputs = true}, "merged queries server view");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* A prompt of two prefill chunks (32 + 9 rows) in the strided layout, then
 * decode over its blocks. */
static void test_kvpack_long_prefill(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    enum { M = 41, NEW = 3 };
    uint32_t prompt[M], want[NEW], got[NEW];
    for (size_t i = 0; i < M; i++) prompt[i] = (uint32_t)((i * 37 + 11) % 300);
    emulate(fm, prompt, M, NEW, want);
    part_log sl;
    run_split(fm, true, prompt, M, NEW, got, &sl);
    assert_memory_equal(got, want, sizeof want);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* Packed and split: two prompts of 5 positions, 4 decoded (blocks 0..2). */
static void test_kvpack_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t pa[5] = {1, 2, 3, 4, 5}, pb[5] = {299, 150, 0, 77, 3};
    assert_prompt_hidden(fm, CG_ATTN_SPLIT, pa, pb, 5, 4, (view){.pack_inputs = true},
                         "packed attention server view");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kvpack_decode_equals_emulator),
        cmocka_unit_test(test_kvpack_queries_with_appends),
        cmocka_unit_test(test_kvpack_long_prefill),
        cmocka_unit_test(test_kvpack_server_view_independent_of_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
