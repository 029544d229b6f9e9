/* Secure generation's variants agreed in the handshake (packed prefill
 * rows, the 1-of-N OT construction, the COT source) and the client's early
 * stop: each gives the emulator's tokens bit for bit. */
#include <string.h>

#include "proto/gen_fixture.h"

/* A 37-token prompt: two prefill chunks (32 + 5 rows) whose linear layers
 * pack rows per ciphertext, over five cache blocks; the cost model's
 * choice, 5 rows (groups of 5 and a short last one) with some pre-encoded
 * weights, and one row per ciphertext all give the emulator's tokens. */
static void test_packed_prefill_equals_emulator(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_gen_weights *ws = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    assert_int_equal(cg_gen_weights_new(&ws, fm, "paper", 8u << 20, 1, &err), CG_OK);
    enum { M = 37, NEW = 2 };
    uint32_t prompt[M], want[NEW];
    for (size_t i = 0; i < M; i++) prompt[i] = (uint32_t)((i * 97 + 5) % 300);
    emulate(fm, prompt, M, NEW, want);
    const uint32_t rows[3] = {0, 5, 1};
    for (size_t k = 0; k < 3; k++) {
        cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = M,
                              .new_tokens = NEW, .block_positions = 8, .prefill_rows = rows[k]};
        uint32_t got[NEW];
        server_job sj;
        client_log cl = {0};
        run_secure(fm, k ? ws : NULL, 2, &req, prompt, got, &sj, &cl);
        assert_memory_equal(got, want, sizeof want);
    }
    cg_gen_weights_free(ws);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* A kind agreed in the handshake (req) gives the emulator's tokens; the
 * same request with an unknown kind (bad) is the caller's mistake, refused
 * before anything is sent. */
static void kind_equals_emulator(const cg_gen_request *req, const cg_gen_request *bad)
{
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[2] = {40, 41};
    enum { NEW = 2 };
    assert_int_equal(req->prompt_len, 2);
    assert_int_equal(req->new_tokens, NEW);
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 2, NEW, want);
    server_job sj;
    client_log cl = {0};
    run_secure(fm, NULL, 1, req, prompt, got, &sj, &cl);
    assert_memory_equal(got, want, sizeof want);
    cg_channel *a = NULL, *b = NULL;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    cg_gen_options o = {.threads = 1};
    assert_int_equal(cg_gen_client(a, bad, prompt, got, &o, &err), CG_ERR_ARG);
    cg_chan_stats cs;
    cg_chan_get_stats(a, &cs);
    assert_int_equal(cs.total.bytes_sent, 0);
    cg_chan_free(a);
    cg_chan_free(b);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* The other 1-of-N construction. */
static void test_split_otn_equals_emulator(void **state)
{
    (void)state;
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = 2,
                                .otn = CG_OTN_SPLIT};
    cg_gen_request bad = req;
    bad.otn = (cg_otn_kind)7;
    kind_equals_emulator(&req, &bad);
}

/* Ferret COTs under every non-linear protocol. */
static void test_ferret_ot_equals_emulator(void **state)
{
    (void)state;
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = 2,
                                .ot = CG_OT_FERRET};
    cg_gen_request bad = req;
    bad.ot = (cg_ot_kind)5;
    kind_equals_emulator(&req, &bad);
}

static bool stop_after_two(void *ctx, const uint32_t *tokens, size_t n)
{
    (void)tokens;
    *(size_t *)ctx = n;
    return n == 2;
}

/* A client that stops after two of five tokens: both parties end the
 * session cleanly after two steps, the two tokens are the emulator's and the
 * rest are marked stopped. */
static void test_early_stop_ends_both(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[3] = {9, 8, 7};
    enum { NEW = 5 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 3, NEW, want);
    cg_channel *a = NULL, *b = NULL;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    server_job sj = {.ch = b, .fm = fm, .threads = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, server_main, &sj), 0);
    size_t seen = 0;
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 3, .new_tokens = NEW};
    cg_gen_options o = {.threads = 1, .stop = stop_after_two, .stop_ctx = &seen};
    assert_int_equal(cg_gen_client(a, &req, prompt, got, &o, &err), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(sj.st, CG_OK);
    assert_int_equal(sj.steps, 2);
    assert_int_equal(seen, 2);
    assert_memory_equal(got, want, 2 * sizeof *got);
    for (size_t i = 2; i < NEW; i++) assert_int_equal(got[i], CG_GEN_STOPPED);
    cg_chan_free(a);
    cg_chan_free(b);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

static void *queued_server_main(void *arg)
{
    server_job *j = arg;
    j->st = cg_gen_server_notify_queued(j->ch, 3, 3, &j->err);
    if (j->st == CG_OK) j->st = cg_gen_server_notify_queued(j->ch, 2, 3, &j->err);
    if (j->st == CG_OK) return server_main(arg);
    return NULL;
}

typedef struct queue_log {
    int queued;
    size_t last_busy, slots;
    bool order_ok; /* every queue notice came before the handshake */
    bool handshake_seen;
} queue_log;

static void log_progress(void *ctx, const cg_gen_progress *p)
{
    queue_log *q = ctx;
    if (p->phase == CG_PHASE_QUEUED) {
        q->queued++;
        q->last_busy = p->done;
        q->slots = p->total;
        if (q->handshake_seen) q->order_ok = false;
    } else if (p->phase == CG_PHASE_HANDSHAKE) {
        q->handshake_seen = true;
    }
}

/* A busy server's queue notices reach the client's progress before the
 * handshake, and the session then runs as usual. */
static void test_queued_notice(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    const uint32_t prompt[2] = {3, 4};
    enum { NEW = 1 };
    uint32_t want[NEW], got[NEW];
    emulate(fm, prompt, 2, NEW, want);
    cg_channel *a = NULL, *b = NULL;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    server_job sj = {.ch = b, .fm = fm, .threads = 1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, queued_server_main, &sj), 0);
    queue_log q = {.order_ok = true};
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = NEW};
    cg_gen_options o = {.threads = 1, .on_progress = log_progress, .on_progress_ctx = &q};
    assert_int_equal(cg_gen_client(a, &req, prompt, got, &o, &err), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(sj.st, CG_OK);
    assert_int_equal(q.queued, 2);
    assert_int_equal(q.last_busy, 2);
    assert_int_equal(q.slots, 3);
    assert_true(q.order_ok && q.handshake_seen);
    assert_memory_equal(got, want, sizeof want);
    cg_chan_free(a);
    cg_chan_free(b);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_stop_ends_both),
        cmocka_unit_test(test_queued_notice),
        cmocka_unit_test(test_split_otn_equals_emulator),
        cmocka_unit_test(test_ferret_ot_equals_emulator),
        cmocka_unit_test(test_packed_prefill_equals_emulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
