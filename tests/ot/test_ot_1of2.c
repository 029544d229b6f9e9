/* The two-message OTs (COT, chosen-message, random) on random inputs, edge
 * sizes and widths, their exact traffic, both AES back-ends, pairs of
 * instances in both directions (in process and over TCP), and a transcript
 * check that the receiver never sees a correlation or an unchosen message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "ot_fixture.h"

static void test_cot_rot_ot_sizes_and_widths(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    size_t sizes[] = {0, 1, 2, 127, 128, 129, 1000};
    unsigned widths[] = {1, 2, 7, 8, 31, 37, 63, 64};
    for (int kind = 0; kind < 3; kind++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
                run_case(&o, kind, sizes[s], widths[w], 0, &prg);
    /* Several chunks, including a partial last one. */
    run_case(&o, 0, 100003, 64, 0, &prg);
    run_case(&o, 0, 70001, 37, 0, &prg);
    run_case(&o, 1, 70001, 64, 0, &prg);
    run_case(&o, 2, 65536, 64, 0, &prg);
    teardown_ot(&o);
}

/* cg_cot_send_w: random widths at sizes around the chunk, the traffic
 * (each chunk's widths summed, to the byte), a uniform width costs what
 * cg_cot_send does. */
static void test_cot_widths_per_instance(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    size_t sizes[] = {0, 1, 2, 127, 129, 1000, 70001};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) run_wcase(&o, sizes[s], 0, &prg);
    /* 40000 at 13 bits: the bytes of cg_cot_send's test below */
    assert_int_equal(run_wcase(&o, 40000, 13, &prg), cg_packed_size(32768, 13) + cg_packed_size(7232, 13));
    assert_int_equal(run_wcase(&o, 3, 64, &prg), 24);
    assert_int_equal(run_wcase(&o, 5, 1, &prg), 1);
    teardown_ot(&o);
}

typedef struct {
    cg_ot *s, *r;
    uint64_t r0[300], r1[300], out[300];
    uint8_t choice[300];
} rrand_ctx;

static cg_status rrand_sender(cg_channel *ch, void *v)
{
    (void)ch;
    rrand_ctx *c = v;
    return cg_rot_send(c->s, 300, 20, c->r0, c->r1, NULL);
}

static cg_status rrand_receiver(cg_channel *ch, void *v)
{
    (void)ch;
    rrand_ctx *c = v;
    return cg_rot_recv_random(c->r, 300, 20, c->choice, c->out, NULL);
}

static cg_status setup_otn_job(cg_channel *ch, void *v)
{
    (void)ch;
    return cg_ot_setup_otn(v, NULL);
}

/* Exact traffic of a COT batch, and the random-choice ROT. */
static void test_cot_traffic_and_random_choice_rot(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_chan_reset_stats(o.cr);
    size_t n = 40000; /* two chunks: 32768 + 7232 (padded to 7296) */
    run_case(&o, 0, n, 13, 0, &prg);
    cg_chan_stats st;
    cg_chan_get_stats(o.cr, &st);
    assert_int_equal(st.total.bytes_sent, 16 + 16 * (32768 + 7296));
    assert_int_equal(st.total.bytes_received, cg_packed_size(32768, 13) + cg_packed_size(7232, 13));
    assert_int_equal(st.total.rounds, 1);

    /* 1-of-N over three batches is still one round trip once KK13's 256
     * base OTs have run (cg_ot_setup_otn; a second call is a no-op). */
    for (int rep = 0; rep < 2; rep++) {
        cg_status s1, s2;
        cg_chan_reset_stats(o.cr);
        run_two(o.cs, o.cr, setup_otn_job, o.s, setup_otn_job, o.r, &s1, &s2);
        assert_int_equal(s1, CG_OK);
        assert_int_equal(s2, CG_OK);
        cg_chan_get_stats(o.cr, &st);
        if (rep == 1) assert_int_equal(st.total.bytes_sent + st.total.bytes_received, 0);
        else assert_true(st.total.bytes_sent > 0);
    }
    cg_chan_reset_stats(o.cr);
    run_case(&o, 3, 9000, 3, 16, &prg);
    cg_chan_get_stats(o.cr, &st);
    assert_int_equal(st.total.rounds, 1);
    assert_int_equal(st.total.bytes_received, 2 * cg_packed_size(4096 * 16, 3) + cg_packed_size(808 * 16, 3));
    /* KK13: a 16-byte header and one 256-bit row per instance, per batch
     * padded to a multiple of 128 instances. */
    assert_int_equal(st.total.bytes_sent, 16 + 32 * (4096 + 4096 + 896));

    rrand_ctx *c = cg_calloc(1, sizeof *c);
    c->s = o.s;
    c->r = o.r;
    cg_status sa, sb;
    run_two(o.cs, o.cr, rrand_sender, c, rrand_receiver, c, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    size_t ones = 0;
    for (int i = 0; i < 300; i++) {
        assert_true(c->choice[i] <= 1);
        ones += c->choice[i];
        assert_int_equal(c->out[i], c->choice[i] ? c->r1[i] : c->r0[i]);
    }
    assert_true(ones > 0 && ones < 300);
    cg_free(c);
    teardown_ot(&o);
}

/* The AES-NI back-end end to end (this machine may default to VAES). */
static void test_aesni_backend_end_to_end(void **state)
{
    (void)state;
    const char *old = getenv("CG_SIMD");
    char *saved = old ? strdup(old) : NULL;
    setenv("CG_SIMD", "avx2", 1);
    assert_string_not_equal(cg_ot_backend(), "vaes");
    ot_setup o;
    setup_ot(&o, NULL);
    if (saved) {
        setenv("CG_SIMD", saved, 1);
        free(saved);
    } else {
        unsetenv("CG_SIMD");
    }
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int kind = 0; kind < 4; kind++) run_case(&o, kind, 5000, 29, 16, &prg);
    teardown_ot(&o);
}

/* Party 0 and party 1 each hold a pair; COTs both ways on one channel. */
static cg_status pair_party(cg_channel *ch, void *vctx)
{
    pair_ctx *c = vctx;
    CG_TRY(cg_ot_pair_new(&c->p, ch, c->party, CG_OTN_KK13, NULL));
    /* Party 0 sends first; party 1 receives first. */
    for (int step = 0; step < 2; step++) {
        bool sending = (step == 0) == (c->party == 0);
        if (sending) CG_TRY(cg_cot_send(c->p.send, c->n, 40, c->delta, c->x0, NULL));
        else CG_TRY(cg_cot_recv(c->p.recv, c->n, 40, c->choice, c->out, NULL));
    }
    return CG_OK;
}

static void test_pair_both_directions(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    pair_ctx c[2];
    cg_prg prg;
    cg_prg_init_random(&prg);
    pair_ctx_init(c, 5000, &prg);
    cg_status sa, sb;
    run_two(a, b, pair_party, &c[0], pair_party, &c[1], &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    pair_ctx_check(c, 40);
    pair_ctx_free(c);
    cg_chan_free(a);
    cg_chan_free(b);
}

/* A random sequence of calls in both directions over loopback TCP, each
 * party holding a cg_ot_pair: state (counters, tweaks) carries across calls. */
typedef struct {
    int party;
    cg_ot_pair p;
} tcp_pair_ctx;

static cg_status tcp_pair_setup(cg_channel *ch, void *v)
{
    tcp_pair_ctx *c = v;
    return cg_ot_pair_new(&c->p, ch, c->party, CG_OTN_KK13, NULL);
}

typedef struct {
    cg_listener *l;
    cg_channel *ch;
    cg_status st;
} acc_job;

static void *acc_thread(void *v)
{
    acc_job *j = v;
    j->st = cg_accept(j->l, &j->ch, NULL, NULL);
    return NULL;
}

static void test_random_mixed_calls_over_tcp(void **state)
{
    (void)state;
    cg_listener *l;
    assert_int_equal(cg_listen(&l, "127.0.0.1:0", NULL), CG_OK);
    acc_job j = {l, NULL, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acc_thread, &j), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)cg_listener_port(l));
    cg_channel *ch[2];
    assert_int_equal(cg_connect(&ch[1], addr, NULL, NULL), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(j.st, CG_OK);
    ch[0] = j.ch;
    cg_listener_close(l);

    tcp_pair_ctx pc[2] = {{0, {0}}, {1, {0}}};
    cg_status s0, s1;
    run_two(ch[0], ch[1], tcp_pair_setup, &pc[0], tcp_pair_setup, &pc[1], &s0, &s1);
    assert_int_equal(s0, CG_OK);
    assert_int_equal(s1, CG_OK);

    cg_prg prg;
    cg_prg_init_random(&prg);
    static const unsigned Ns[] = {2, 4, 16, 100, 256};
    for (int op = 0; op < 24; op++) {
        int dir = (int)(cg_prg_u64(&prg) & 1); /* which party sends */
        batch b = {.kind = (int)cg_prg_uniform(&prg, 4),
                   .n = (size_t)cg_prg_uniform(&prg, 3000),
                   .bits = 1 + (unsigned)cg_prg_uniform(&prg, 64),
                   .N = Ns[cg_prg_uniform(&prg, 5)]};
        if (b.kind == 3 && b.N == 256) b.n /= 8;
        batch_alloc(&b, &prg);
        b.s = pc[dir].p.send;
        b.r = pc[1 - dir].p.recv;
        run_two(ch[dir], ch[1 - dir], batch_sender, &b, batch_receiver, &b, &s0, &s1);
        assert_int_equal(s0, CG_OK);
        assert_int_equal(s1, CG_OK);
        batch_check(&b);
        batch_free(&b);
    }
    for (int k = 0; k < 2; k++) {
        cg_ot_pair_free(&pc[k].p);
        cg_chan_free(ch[k]);
    }
}

static void test_transcript_hides_unchosen(void **state)
{
    (void)state;
    linked l;
    ot_setup o;
    logged_pair_start(&l, &o);
    cg_prg prg;
    cg_prg_init_random(&prg);
    batch bt[3] = {{.kind = 0, .n = 3000, .bits = 64},
                   {.kind = 1, .n = 3000, .bits = 64},
                   {.kind = 3, .n = 500, .bits = 64, .N = 16}};
    for (int k = 0; k < 3; k++) {
        batch_alloc(&bt[k], &prg);
        batch_run(&o, &bt[k]);
        batch_check(&bt[k]);
    }
    const proxy *px = logged_pair_stop(&l, &o, 3000 * 16);
    size_t checked = 0;
    for (size_t i = 0; i < bt[0].n; i++, checked++) /* COT correlations */
        assert_false(log_contains_u64(px, bt[0].a[i], 8));
    for (size_t i = 0; i < bt[1].n; i++, checked += 2) { /* neither message in clear */
        assert_false(log_contains_u64(px, bt[1].a[i], 8));
        assert_false(log_contains_u64(px, bt[1].b[i], 8));
    }
    for (size_t i = 0; i < bt[2].n; i++)
        for (unsigned x = 0; x < bt[2].N; x++, checked++)
            assert_false(log_contains_u64(px, bt[2].a[i * bt[2].N + x], 8));
    assert_int_equal(checked, 3000 + 6000 + 500 * 16);
    cg_free(l.px.log);
    for (int k = 0; k < 3; k++) batch_free(&bt[k]);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cot_rot_ot_sizes_and_widths),
        cmocka_unit_test(test_cot_widths_per_instance),
        cmocka_unit_test(test_cot_traffic_and_random_choice_rot),
        cmocka_unit_test(test_aesni_backend_end_to_end),
        cmocka_unit_test(test_pair_both_directions),
        cmocka_unit_test(test_random_mixed_calls_over_tcp),
        cmocka_unit_test(test_transcript_hides_unchosen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
