/* The decode step's embedding lookup with packed client inputs (issue 12):
 * the one-hot row over the vocabulary goes packed (gen_plan_packed's
 * strided plan, dense when agreed) like the other one-row layers. With a
 * model whose vocabulary spans several chunks and two packed ciphertexts
 * (V = 10,000, d = 64: ten leaves packed 8 + 2, twenty dense 16 + 4), the
 * secure tokens equal the fixed-point emulator's with packing on, dense on,
 * pre-encoded weights or not, a batch-embedded prompt, and when the server
 * refuses (then byte for byte the unpacked session); the decode steps'
 * embedding sends fewer bytes packed and receives fewer dense; the flood
 * count is the plan's replies exactly; and the server's view does not
 * depend on the prompt. */
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

enum { VOCAB = 10000 };

static cg_gpt2 *vocab_model(void)
{
    cg_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 64, .n_positions = 64,
                          .vocab_size = VOCAB, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 23, &err), CG_OK);
    return m;
}

/* The GPT-2 base table's plan (the one PERFORMANCE.md reports): 508
 * values per leaf, stride 16, 99 leaves in 7 packed ciphertexts (4
 * expansion levels, within the keys the other layers already need), 48
 * replies; dense replies keep it (halving n_i does not pay by the model). */
static void test_gpt2_base_embedding_plan(void **state)
{
    (void)state;
    const cg_gpt2_config base = {.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                                 .vocab_size = 50257, .ln_eps = 1e-5f};
    const gen_matrix m = gen_matrix_of(&base, NULL, GEN_MAT_EMBED, 0);
    assert_true(gen_packable(GEN_MAT_EMBED));
    assert_false(gen_packable(GEN_MAT_SESSION));
    for (int dense = 0; dense < 2; dense++) {
        const gen_plan p = gen_plan_packed(8192, m.in, m.out, dense);
        assert_int_equal(p.ni, 508);
        assert_int_equal(p.stride, 16);
        assert_int_equal(p.no, 16);
        assert_int_equal(p.cin, 99);
        assert_int_equal(p.cout, 48);
        assert_int_equal(gen_pack_cts(&p), 7);
        assert_true(cg_bfv_expand_levels(gen_pack_chunks(&p)) <= 4);
        /* the same ct x pt products as the block plan's, within 1% */
        const gen_plan o = gen_plan_of(8192, m.in, m.out);
        assert_true(p.cin * p.cout <= o.cin * o.cout + o.cin * o.cout / 100);
    }
    assert_int_equal(gen_pack_levels(&base, 8192, false), 6);
}

/* The flood count of a decode step's embedding is the plan's replies
 * (the server refuses to return more than counted), and the batch lookup's
 * count (rows >= GEN_EMBED_BATCH_MIN) does not depend on packing. */
static void test_embedding_returned_count(void **state)
{
    (void)state;
    gen_sess s = {.N = 8192, .d = 64, .V = VOCAB};
    s.cfg = (cg_gpt2_config){.n_layer = 1, .n_head = 2, .n_embd = 64, .n_positions = 64, .vocab_size = VOCAB};
    const gen_matrix m = gen_matrix_of(&s.cfg, NULL, GEN_MAT_EMBED, 0);
    const uint64_t batch = gen_embed_returned_cts(&s, 20);
    assert_int_equal(gen_embed_returned_cts(&s, 1), gen_plan_of(8192, m.in, m.out).cout);
    s.pack = true;
    assert_int_equal(gen_embed_returned_cts(&s, 1), gen_plan_packed(8192, m.in, m.out, false).cout);
    assert_int_equal(gen_embed_returned_cts(&s, 1), 8);
    assert_int_equal(gen_embed_returned_cts(&s, 20), batch);
    s.dense = true;
    assert_int_equal(gen_embed_returned_cts(&s, 1), gen_plan_packed(8192, m.in, m.out, true).cout);
    assert_int_equal(gen_embed_returned_cts(&s, 1), 4);
    assert_int_equal(gen_embed_returned_cts(&s, 20), batch);
    /* the model needs 3 levels packed, 4 dense: the embedding's */
    assert_int_equal(gen_pack_levels(&s.cfg, 8192, false), 3);
    assert_int_equal(gen_pack_levels(&s.cfg, 8192, true), 4);
}

typedef struct emb_log {
    client_log all;
    uint64_t emb_sent, emb_received; /* the decode steps' embedding */
} emb_log;

static void emb_step(void *ctx, const cg_gen_step_report *r)
{
    emb_log *l = ctx;
    client_step(&l->all, r);
    if (r->step == 0) return;
    l->emb_sent += r->bytes_sent[CG_PART_EMBEDDING];
    l->emb_received += r->bytes_received[CG_PART_EMBEDDING];
}

typedef struct emb_server {
    cg_channel *ch;
    const cg_fixed_model *fm;
    const cg_gen_weights *ws;
    bool refuse;
    cg_status st;
    cg_error err;
} emb_server;

static void *emb_server_main(void *arg)
{
    emb_server *j = arg;
    cg_gen_options o = {.threads = 2, .weights = j->ws, .refuse_pack_inputs = j->refuse};
    j->st = cg_gen_server(j->ch, j->fm, &o, &j->err);
    return NULL;
}

static emb_log run(const cg_fixed_model *fm, const cg_gen_weights *ws, bool pack, bool dense, bool refuse,
                   const uint32_t *prompt, size_t m, uint32_t *out, size_t n)
{
    cg_channel *a = NULL, *b = NULL;
    cg_error err = {0};
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    emb_server sj = {.ch = b, .fm = fm, .ws = ws, .refuse = refuse};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, emb_server_main, &sj), 0);
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)m,
                                .new_tokens = (uint32_t)n, .pack_inputs = pack, .dense_replies = dense};
    emb_log l = {0};
    cg_gen_options o = {.threads = 2, .on_step = emb_step, .on_step_ctx = &l};
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
    return l;
}

static void test_packed_embedding_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = vocab_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    cg_error err = {0};
    cg_gen_weights *pw = NULL, *dw = NULL;
    assert_int_equal(cg_gen_weights_new_packed(&pw, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    assert_int_equal(cg_gen_weights_new_dense(&dw, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    /* the table's strided blocks are pre-encoded and found for its plan */
    cg_bfv_spec spec;
    cg_bfv_ctx *he = NULL;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << fm->fx.act.ring_bits;
    assert_int_equal(cg_bfv_ctx_new(&he, &spec, &err), CG_OK);
    const gen_matrix emb = gen_matrix_of(&fm->cfg, fm, GEN_MAT_EMBED, 0);
    const gen_plan pp = gen_plan_packed(8192, emb.in, emb.out, false), dp = gen_plan_packed(8192, emb.in, emb.out, true);
    assert_int_equal(gen_pack_cts(&pp), 2);
    assert_int_equal(gen_pack_cts(&dp), 2);
    assert_non_null(gen_weights_find(pw, he, fm, &emb, &pp));
    assert_non_null(gen_weights_find(dw, he, fm, &emb, &dp));
    assert_null(gen_weights_find(pw, he, fm, &emb, &dp));
    cg_bfv_ctx_free(he);

    /* tokens in the first, middle and last chunks (the last packed
     * ciphertext holds the short tail) */
    const uint32_t prompt[3] = {9999, 4321, 17};
    enum { NEW = 4 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    const emb_log plain = run(fm, NULL, false, false, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const emb_log packed = run(fm, NULL, true, false, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const emb_log packed_ws = run(fm, pw, true, false, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    const emb_log dense = run(fm, dw, true, true, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    run(fm, NULL, true, true, false, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    memset(got, 0, sizeof got);
    /* refused: the unpacked session, byte for byte */
    const emb_log refused = run(fm, pw, true, true, true, prompt, 3, got, NEW);
    assert_memory_equal(got, want, sizeof want);
    fprintf(stderr,
            "decode embedding sent/received: plain %llu/%llu, packed %llu/%llu, dense %llu/%llu, "
            "refused %llu/%llu bytes\n",
            (unsigned long long)plain.emb_sent, (unsigned long long)plain.emb_received,
            (unsigned long long)packed.emb_sent, (unsigned long long)packed.emb_received,
            (unsigned long long)dense.emb_sent, (unsigned long long)dense.emb_received,
            (unsigned long long)refused.emb_sent, (unsigned long long)refused.emb_received);
    assert_int_equal(refused.all.sent, plain.all.sent);
    assert_int_equal(refused.all.received, plain.all.received);
    assert_int_equal(refused.emb_sent, plain.emb_sent);
    /* two packed ciphertexts a step instead of ten */
    assert_true(4 * packed.emb_sent < plain.emb_sent);
    assert_int_equal(packed_ws.emb_sent, packed.emb_sent);
    assert_int_equal(packed_ws.emb_received, packed.emb_received);
    assert_true(dense.emb_received < packed.emb_received);

    /* a prompt of GEN_EMBED_BATCH_MIN rows or more takes the batch lookup,
     * packing on or not, then the decode steps' packed one-hot rows */
    const uint32_t longp[9] = {1, 9998, 500, 8191, 8192, 42, 7777, 3, 6000};
    emulate(fm, longp, 9, 2, want);
    memset(got, 0, sizeof got);
    run(fm, dw, true, true, false, longp, 9, got, 2);
    assert_memory_equal(got, want, 2 * sizeof *want);
    cg_gen_weights_free(pw);
    cg_gen_weights_free(dw);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* The server's view with the packed (and dense) embedding does not depend
 * on the prompt's tokens, wherever in the table they sit. */
static void test_embedding_server_view_independent_of_prompt(void **state)
{
    (void)state;
    cg_gpt2 *m = vocab_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t pa[3] = {1, 2, 3}, pb[3] = {9999, 8200, 4096};
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 3, 2, (view){.pack_inputs = true},
                         "packed embedding server view");
    assert_prompt_hidden(fm, CG_ATTN_DEFAULT, pa, pb, 3, 2, (view){.pack_inputs = true, .dense_replies = true},
                         "dense embedding server view");
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_base_embedding_plan),
        cmocka_unit_test(test_embedding_returned_count),
        cmocka_unit_test(test_packed_embedding_equals_emulator),
        cmocka_unit_test(test_embedding_server_view_independent_of_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
