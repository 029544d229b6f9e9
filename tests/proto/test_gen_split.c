/* The attention kinds (CG_ATTN_CTCT, CG_ATTN_SPLIT): secure tokens equal the
 * fixed-point emulator's in both, across many cache blocks, in the prefill
 * (several chunks) and in decode; the handshake agrees on the kind or
 * refuses clearly; in split mode the server's view does not depend on the
 * prompt, and every coefficient the new ct x pt products return is masked
 * and flooded. */
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
#include "proto/kv_split.h"
#include "proto/session_fixture.h"
#include "proto/view_fixture.h"

typedef struct kind_log {
    size_t steps;
    int attention;
    uint64_t share_bytes, cache_bytes, received;
    uint64_t part_received[CG_PART_COUNT], part_rounds[CG_PART_COUNT];
} kind_log;

static void kind_step(void *ctx, const cg_gen_step_report *r)
{
    kind_log *l = ctx;
    l->steps++;
    l->attention = r->attention;
    l->share_bytes = r->share_bytes;
    l->cache_bytes = r->cache_bytes;
    l->received += r->total_received;
    for (int p = 0; p < CG_PART_COUNT; p++) {
        l->part_received[p] += r->bytes_received[p];
        l->part_rounds[p] += r->rounds[p];
    }
}

/* One session over an in-process channel: the client asks for `ask`, the
 * server accepts `allow`; sl and cl get the server's and the client's
 * steps (sl from zero). */
static outcome run_kind(const cg_fixed_model *fm, cg_gen_attention ask, cg_gen_attention allow,
                        const cg_gen_request *req, const uint32_t *prompt, uint32_t *out, kind_log *sl,
                        kind_log *cl)
{
    *sl = (kind_log){0};
    const cg_gen_options so = {.threads = 2, .attention = allow, .on_step = kind_step, .on_step_ctx = sl};
    const cg_gen_options co = {.threads = 2, .attention = ask, .on_step = kind_step, .on_step_ctx = cl};
    return run_session(fm, &so, req, &co, prompt, out);
}

static cg_fixed_model *tiny_fixed(cg_gpt2 **m)
{
    *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(*m, cg_fixed_default());
    return fm;
}

/* prompt_len tokens then `fresh` decoded ones, 4 positions per cache
 * ciphertext, in the given kind: the emulator's tokens. */
static void equals_emulator(cg_gen_attention kind, size_t prompt_len, size_t fresh, bool cache, size_t chunk)
{
    cg_gpt2 *m;
    cg_fixed_model *fm = tiny_fixed(&m);
    uint32_t prompt[64], want[64], got[64];
    for (size_t i = 0; i < prompt_len; i++) prompt[i] = (uint32_t)((i * 37 + 11) % 300);
    emulate(fm, prompt, prompt_len, fresh, want);
    const cg_gen_request req = {.he_preset = "paper", .use_cache = cache, .prompt_len = (uint32_t)prompt_len,
                                .new_tokens = (uint32_t)fresh, .block_positions = 4,
                                .prefill_chunk = (uint32_t)chunk};
    kind_log sl, cl = {0};
    const outcome r = run_kind(fm, kind, CG_ATTN_DEFAULT, &req, prompt, got, &sl, &cl);
    if (r.client != CG_OK) fprintf(stderr, "client: %s\n", r.cerr.msg);
    if (r.server != CG_OK) fprintf(stderr, "server: %s\n", r.serr.msg);
    assert_int_equal(r.client, CG_OK);
    assert_int_equal(r.server, CG_OK);
    assert_memory_equal(got, want, fresh * sizeof *want);
    assert_int_equal(cl.attention, kind);
    assert_int_equal(sl.attention, kind);
    assert_int_equal(cl.steps, fresh);
    if (kind == CG_ATTN_SPLIT) {
        /* both hold their shares: 2 kinds x layers x heads x blocks x B x d_head words */
        const size_t blocks = (prompt_len + fresh + 3) / 4;
        const uint64_t want_bytes = 2ull * fm->cfg.n_layer * fm->cfg.n_head * blocks * 4 *
                                    (fm->cfg.n_embd / fm->cfg.n_head) * 8;
        assert_int_equal(cl.share_bytes, want_bytes);
        /* the server also keeps each used block of its shares as a top-level
         * NTT plaintext (4 primes of n = 8192 words) */
        const uint64_t pt = 4ull * 8192 * 8;
        assert_true(sl.share_bytes >= want_bytes);
        assert_int_equal((sl.share_bytes - want_bytes) % pt, 0);
        assert_true(sl.share_bytes - want_bytes <= 2ull * fm->cfg.n_layer * fm->cfg.n_head * blocks * pt);
    } else {
        assert_int_equal(cl.share_bytes, 0);
    }
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* 18 + 14 positions at 4 per block: 8 blocks, prefill and decode crossing
 * block boundaries. */
static void test_split_equals_emulator(void **state)
{
    (void)state;
    equals_emulator(CG_ATTN_SPLIT, 18, 14, true, 0);
}

static void test_ctct_equals_emulator(void **state)
{
    (void)state;
    equals_emulator(CG_ATTN_CTCT, 18, 14, true, 0);
}

/* A prompt in three prefill passes (16, 16, 9 rows) and in one (the default
 * 64 rows), and the baseline's re-runs in passes of 2. */
static void test_split_long_prefill_and_baseline(void **state)
{
    (void)state;
    equals_emulator(CG_ATTN_SPLIT, 41, 3, true, 16);
    equals_emulator(CG_ATTN_SPLIT, 41, 3, true, 0);
    equals_emulator(CG_ATTN_SPLIT, 5, 3, false, 2);
}

/* The server decides: a kind it does not run is refused with a message
 * naming both; a client that leaves it to the server gets the server's. */
static void test_kind_negotiated(void **state)
{
    (void)state;
    cg_gpt2 *m;
    cg_fixed_model *fm = tiny_fixed(&m);
    const uint32_t prompt[2] = {1, 2};
    uint32_t out[2];
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = 1};
    kind_log sl, cl = {0};
    outcome r = run_kind(fm, CG_ATTN_SPLIT, CG_ATTN_CTCT, &req, prompt, out, &sl, &cl);
    assert_int_not_equal(r.client, CG_OK);
    fprintf(stderr, "refused: %s\n", r.cerr.msg);
    assert_non_null(strstr(r.cerr.msg, "split attention is not allowed"));
    assert_non_null(strstr(r.cerr.msg, "ctct"));
    assert_int_not_equal(r.server, CG_OK);
    r = run_kind(fm, CG_ATTN_CTCT, CG_ATTN_SPLIT, &req, prompt, out, &sl, &cl);
    assert_int_not_equal(r.client, CG_OK);
    assert_non_null(strstr(r.cerr.msg, "ctct attention is not allowed"));
    const cg_gen_attention allow[3] = {CG_ATTN_DEFAULT, CG_ATTN_CTCT, CG_ATTN_SPLIT};
    const cg_gen_attention chosen[3] = {CG_ATTN_SPLIT, CG_ATTN_CTCT, CG_ATTN_SPLIT};
    for (int k = 0; k < 3; k++) {
        cl = (kind_log){0};
        r = run_kind(fm, CG_ATTN_DEFAULT, allow[k], &req, prompt, out, &sl, &cl);
        assert_int_equal(r.client, CG_OK);
        assert_int_equal(r.server, CG_OK);
        assert_int_equal(cl.attention, chosen[k]);
    }
    assert_string_equal(cg_gen_attention_name(CG_ATTN_SPLIT), "split");
    assert_string_equal(cg_gen_attention_name(CG_ATTN_CTCT), "ctct");
    assert_null(cg_gen_attention_name((cg_gen_attention)7));
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* ---- The server's view in split mode --------------------------------------------- */

/* Two prompts of the same length (5 positions, 2 blocks, then 2 more
 * decoded): the same bytes and rounds per component at the server, and byte
 * streams a chi-square test cannot tell apart. */
static void test_split_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m;
    cg_fixed_model *fm = tiny_fixed(&m);
    const uint32_t pa[5] = {1, 2, 3, 4, 5}, pb[5] = {299, 150, 0, 77, 3};
    assert_prompt_hidden(fm, CG_ATTN_SPLIT, pa, pb, 5, 3, (view){0},
                         "split server view");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_equals_emulator),
        cmocka_unit_test(test_ctct_equals_emulator),
        cmocka_unit_test(test_split_long_prefill_and_baseline),
        cmocka_unit_test(test_kind_negotiated),
        cmocka_unit_test(test_split_server_view_independent_of_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
