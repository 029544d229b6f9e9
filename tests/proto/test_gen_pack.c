/* Packed client inputs (cg_gen_request.pack_inputs) end to end: with a
 * model wide enough that its linear layers cut inputs into several chunks
 * (d = 128: two chunks for QKV, projection and MLP up, four for MLP down),
 * the secure tokens equal the fixed-point emulator's with packing on, with
 * pre-encoded strided weights, and when the server refuses it; the client
 * sends fewer bytes packed; and the server's view does not depend on the
 * prompt. */
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

static cg_gpt2 *wide_model(void)
{
    cg_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 128, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 11, &err), CG_OK);
    return m;
}

typedef struct pack_server {
    cg_channel *ch;
    const cg_fixed_model *fm;
    const cg_gen_weights *ws;
    bool refuse;
    unsigned refuse_dense; /* 1: dense replies, 2: dense max only */
    cg_status st;
    cg_error err;
} pack_server;

static void *pack_server_main(void *arg)
{
    pack_server *j = arg;
    cg_gen_options o = {.threads = 2, .weights = j->ws, .refuse_pack_inputs = j->refuse,
                        .refuse_dense_replies = j->refuse_dense == 1,
                        .refuse_dense_max = j->refuse_dense == 2};
    j->st = cg_gen_server(j->ch, j->fm, &o, &j->err);
    return NULL;
}

/* One session; returns the bytes the client sent (and, with got_back, the
 * bytes it received). */
static uint64_t run_dense(const cg_fixed_model *fm, const cg_gen_weights *ws, bool pack, bool refuse,
                          unsigned dense, unsigned refuse_dense, const uint32_t *prompt, size_t m, uint32_t *out,
                          size_t n, uint64_t *got_back)
{
    cg_channel *a = NULL, *b = NULL;
    cg_error err = {0};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    pack_server sj = {.ch = b, .fm = fm, .ws = ws, .refuse = refuse, .refuse_dense = refuse_dense};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pack_server_main, &sj), 0);
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)m,
                                .new_tokens = (uint32_t)n, .pack_inputs = pack, .dense_replies = dense != 0,
                                .dense_max = dense == GEN_DENSE_MAX};
    client_log cl = {0};
    cg_gen_options o = {.threads = 2, .on_step = client_step, .on_step_ctx = &cl};
    cg_status st = cg_gen_client(a, &req, prompt, out, &o, &err);
    if (st != CG_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        cg_chan_free(a);
        a = NULL;
    }
    pthread_join(t, NULL);
    if (sj.st != CG_OK) fprintf(stderr, "server: %s\n", sj.err.msg);
    assert_int_equal(st, CG_OK);
    assert_int_equal(sj.st, CG_OK);
    cg_chan_free(a);
    cg_chan_free(b);
    if (got_back) *got_back = cl.received;
    return cl.sent;
}

static uint64_t run(const cg_fixed_model *fm, const cg_gen_weights *ws, bool pack, bool refuse,
                    const uint32_t *prompt, size_t m, uint32_t *out, size_t n)
{
    return run_dense(fm, ws, pack, refuse, false, false, prompt, m, out, n, NULL);
}

static void test_packed_decode_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    /* the model's decode layers really split their inputs */
    assert_int_equal(gen_pack_levels(&fm->cfg, 8192, false), 2);
    const uint32_t prompt[3] = {5, 280, 17};
    enum { NEW = 4 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    const uint64_t packed = run(fm, NULL, true, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const uint64_t plain = run(fm, NULL, false, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    /* refused: the chunks go one by one, the same tokens */
    const uint64_t refused = run(fm, NULL, true, true, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    fprintf(stderr, "client sent: packed %llu, plain %llu, refused %llu bytes\n",
            (unsigned long long)packed, (unsigned long long)plain, (unsigned long long)refused);
    /* the expansion keys (two) cost less than the ciphertexts saved: per
     * step (prefill included) QKV, projection and MLP up send one
     * ciphertext instead of two, MLP down one instead of four; refused,
     * the session is the plain one byte for byte */
    assert_true(packed < plain);
    assert_int_equal(refused, plain);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* Pre-encoded weights in the strided layout are found and give the same
 * tokens; the block-layout ones are not used by a packed session. */
static void test_packed_with_strided_weights(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    cg_error err = {0};
    cg_gen_weights *ws = NULL, *plain = NULL;
    assert_int_equal(cg_gen_weights_new_packed(&ws, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    assert_int_equal(cg_gen_weights_new(&plain, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    assert_int_equal(cg_gen_weights_bytes(ws), cg_gen_weights_bytes(plain));
    /* found for the strided plan in the packed set only */
    cg_bfv_spec spec;
    cg_bfv_ctx *he = NULL;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << fm->fx.act.ring_bits;
    assert_int_equal(cg_bfv_ctx_new(&he, &spec, &err), CG_OK);
    const gen_matrix_role roles[] = {GEN_MAT_QKV, GEN_MAT_ATTN_OUT, GEN_MAT_MLP_UP, GEN_MAT_MLP_DOWN};
    for (size_t r = 0; r < 4; r++) {
        const gen_matrix mat = gen_matrix_of(&fm->cfg, fm, roles[r], 0);
        const gen_plan pp = gen_plan_packed(8192, mat.in, mat.out, false), po = gen_plan_of(8192, mat.in, mat.out);
        assert_int_not_equal(pp.stride, 0);
        assert_non_null(gen_weights_find(ws, he, fm, &mat, &pp));
        assert_null(gen_weights_find(ws, he, fm, &mat, &po));
        assert_null(gen_weights_find(plain, he, fm, &mat, &pp));
        assert_non_null(gen_weights_find(plain, he, fm, &mat, &po));
    }
    cg_bfv_ctx_free(he);
    const uint32_t prompt[2] = {42, 7};
    enum { NEW = 3 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 2, NEW, want);
    run(fm, ws, true, false, prompt, 2, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    run(fm, plain, true, false, prompt, 2, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    cg_gen_weights_free(ws);
    cg_gen_weights_free(plain);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* Dense replies: the wide model's QKV and LM head take fewer, fuller
 * replies (3 -> 2 each); the secure tokens equal the emulator's with and
 * without pre-encoded dense weights and when the server refuses dense
 * replies (then packed as before, byte for byte); the client receives
 * fewer bytes. */
static void test_dense_replies_equal_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const gen_matrix qkv = gen_matrix_of(&fm->cfg, fm, GEN_MAT_QKV, 0);
    const gen_matrix head = gen_matrix_of(&fm->cfg, fm, GEN_MAT_LM_HEAD, 0);
    assert_true(gen_plan_packed(8192, qkv.in, qkv.out, true).cout < gen_plan_packed(8192, qkv.in, qkv.out, false).cout);
    assert_true(gen_plan_packed(8192, head.in, head.out, true).cout <
                gen_plan_packed(8192, head.in, head.out, false).cout);
    /* the embedding's dense plan (five leaves of 64) needs the third level */
    assert_int_equal(gen_pack_levels(&fm->cfg, 8192, true), 3);
    cg_error err = {0};
    cg_gen_weights *ws = NULL, *packed_ws = NULL;
    assert_int_equal(cg_gen_weights_new_dense(&ws, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    assert_int_equal(cg_gen_weights_new_packed(&packed_ws, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    cg_bfv_spec spec;
    cg_bfv_ctx *he = NULL;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << fm->fx.act.ring_bits;
    assert_int_equal(cg_bfv_ctx_new(&he, &spec, &err), CG_OK);
    const gen_plan dq = gen_plan_packed(8192, qkv.in, qkv.out, true), pq = gen_plan_packed(8192, qkv.in, qkv.out, false);
    assert_non_null(gen_weights_find(ws, he, fm, &qkv, &dq));
    assert_null(gen_weights_find(ws, he, fm, &qkv, &pq));
    assert_null(gen_weights_find(packed_ws, he, fm, &qkv, &dq));
    cg_bfv_ctx_free(he);
    const uint32_t prompt[3] = {5, 280, 17};
    enum { NEW = 4 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    uint64_t back_dense = 0, back_packed = 0, back_refused = 0;
    const uint64_t sent_dense = run_dense(fm, ws, true, false, true, false, prompt, 3, got, NEW, &back_dense);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    run_dense(fm, NULL, true, false, true, false, prompt, 3, got, NEW, NULL);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const uint64_t sent_packed = run_dense(fm, packed_ws, true, false, false, false, prompt, 3, got, NEW, &back_packed);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const uint64_t sent_refused = run_dense(fm, packed_ws, true, false, true, true, prompt, 3, got, NEW, &back_refused);
    assert_memory_equal(got, want, sizeof want);
    fprintf(stderr, "client received: dense %llu, packed %llu, refused %llu bytes; sent %llu / %llu\n",
            (unsigned long long)back_dense, (unsigned long long)back_packed, (unsigned long long)back_refused,
            (unsigned long long)sent_dense, (unsigned long long)sent_packed);
    assert_true(back_dense < back_packed);
    assert_int_equal(back_refused, back_packed);
    assert_int_equal(sent_refused, sent_packed);
    cg_gen_weights_free(ws);
    cg_gen_weights_free(packed_ws);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* Dense max: the wide model's QKV, MLP up, MLP down and LM head take half
 * the replies of the dense plans (2 -> 1 each) with the same three levels;
 * the secure tokens equal the emulator's with the max weights pre-encoded;
 * the client receives fewer bytes than dense; a server that refuses max
 * answers dense, byte for byte the dense session. */
static void test_dense_max_equal_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const gen_matrix_role roles[] = {GEN_MAT_QKV, GEN_MAT_MLP_UP, GEN_MAT_MLP_DOWN, GEN_MAT_LM_HEAD};
    for (size_t r = 0; r < 4; r++) {
        const gen_matrix mat = gen_matrix_of(&fm->cfg, fm, roles[r], 0);
        const gen_plan dp = gen_plan_packed(8192, mat.in, mat.out, GEN_DENSE_ON);
        const gen_plan mp = gen_plan_packed(8192, mat.in, mat.out, GEN_DENSE_MAX);
        assert_int_equal(mp.cout * 2, dp.cout);
        assert_int_equal(mp.ni * 2, dp.ni);
    }
    assert_int_equal(gen_pack_levels(&fm->cfg, 8192, GEN_DENSE_MAX), 3);
    cg_error err = {0};
    cg_gen_weights *ws = NULL, *dense_ws = NULL;
    assert_int_equal(cg_gen_weights_new_dense_max(&ws, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    assert_int_equal(cg_gen_weights_new_dense(&dense_ws, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    cg_bfv_spec spec;
    cg_bfv_ctx *he = NULL;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << fm->fx.act.ring_bits;
    assert_int_equal(cg_bfv_ctx_new(&he, &spec, &err), CG_OK);
    const gen_matrix up = gen_matrix_of(&fm->cfg, fm, GEN_MAT_MLP_UP, 0);
    const gen_plan mu = gen_plan_packed(8192, up.in, up.out, GEN_DENSE_MAX);
    const gen_plan du = gen_plan_packed(8192, up.in, up.out, GEN_DENSE_ON);
    assert_non_null(gen_weights_find(ws, he, fm, &up, &mu));
    assert_null(gen_weights_find(ws, he, fm, &up, &du));
    assert_null(gen_weights_find(dense_ws, he, fm, &up, &mu));
    cg_bfv_ctx_free(he);
    const uint32_t prompt[3] = {5, 280, 17};
    enum { NEW = 4 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    uint64_t back_max = 0, back_dense = 0, back_refused = 0;
    const uint64_t sent_max = run_dense(fm, ws, true, false, GEN_DENSE_MAX, 0, prompt, 3, got, NEW, &back_max);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const uint64_t sent_dense = run_dense(fm, dense_ws, true, false, GEN_DENSE_ON, 0, prompt, 3, got, NEW, &back_dense);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const uint64_t sent_refused = run_dense(fm, dense_ws, true, false, GEN_DENSE_MAX, 2, prompt, 3, got, NEW, &back_refused);
    assert_memory_equal(got, want, sizeof want);
    fprintf(stderr, "client received: max %llu, dense %llu, refused max %llu bytes; sent %llu / %llu\n",
            (unsigned long long)back_max, (unsigned long long)back_dense, (unsigned long long)back_refused,
            (unsigned long long)sent_max, (unsigned long long)sent_dense);
    assert_true(back_max < back_dense);
    assert_int_equal(back_refused, back_dense);
    assert_int_equal(sent_refused, sent_dense);
    cg_gen_weights_free(ws);
    cg_gen_weights_free(dense_ws);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* The server's view with packing on (its expansion keys included) does not
 * depend on the prompt. */
static void test_packed_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m = wide_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t pa[3] = {1, 2, 3}, pb[3] = {299, 150, 0};
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 3, 2, (view){.pack_inputs = true},
                         "packed server view");
    /* and with dense replies */
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 3, 2, (view){.pack_inputs = true, .dense_replies = true},
                         "dense server view");
    /* and with dense max */
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 3, 2,
                         (view){.pack_inputs = true, .dense_replies = true, .dense_max = true},
                         "dense max server view");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_decode_equals_emulator),
        cmocka_unit_test(test_packed_with_strided_weights),
        cmocka_unit_test(test_dense_replies_equal_emulator),
        cmocka_unit_test(test_dense_max_equal_emulator),
        cmocka_unit_test(test_packed_server_view_independent_of_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
