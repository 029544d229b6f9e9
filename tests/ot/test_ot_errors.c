/* Error paths: refused arguments leave an instance usable, begun receiver
 * halves block other calls, mismatched calls fail cleanly and poison both
 * ends, and a link cut or corrupted in set-up or an extension gives errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ot_fixture.h"

static void test_setup_and_argument_errors(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    uint64_t v[4] = {0};
    uint8_t c[4] = {0, 1, 2, 0};
    cg_error err;
    assert_int_equal(cg_cot_recv(o.s, 1, 8, c, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_send(o.r, 1, 8, v, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_send(o.s, 1, 0, v, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_cot_send(o.s, 1, 65, v, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_cot_recv(o.r, 3, 8, c, v, &err), CG_ERR_RANGE);
    assert_int_equal(cg_otn_recv(o.r, 4, 2, 8, c, v, &err), CG_ERR_RANGE);
    assert_int_equal(cg_otn_send(o.s, 1, 1, 8, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_otn_send(o.s, 1, 257, 8, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_otn_send_fn(o.s, 1, 16, 8, NULL, NULL, &err), CG_ERR_ARG);
    assert_int_equal(cg_ot_send(o.s, 1, 8, NULL, v, &err), CG_ERR_ARG);
    /* None of those touched the channel: the instance still works. */
    cg_prg prg;
    cg_prg_init_random(&prg);
    run_case(&o, 0, 10, 8, 0, &prg);
    /* A begun split COT blocks every other call on its instance, and its
     * end must name the same batch. */
    uint8_t c1[1] = {1};
    assert_int_equal(cg_cot_recv_end(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_begin(o.r, 1, 8, c1, v, &err), CG_OK);
    assert_int_equal(cg_cot_recv(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv(o.r, 1, 16, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_end(o.r, 2, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_end(o.r, 1, 9, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv_end(o.r, 1, 8, 8, c1, v, &err), CG_ERR_STATE);
    teardown_ot(&o);
    /* The same for a begun 1-of-N OT (the split construction: no base OTs
     * to wait for). */
    setup_ot_kind(&o, NULL, CG_OTN_SPLIT);
    assert_int_equal(cg_otn_recv_begin(o.r, 1, 16, 8, c1, v, &err), CG_OK);
    assert_int_equal(cg_cot_recv(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_end(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv_end(o.r, 1, 8, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv_end(o.r, 2, 16, 8, c1, v, &err), CG_ERR_STATE);
    teardown_ot(&o);
    assert_int_equal(cg_ot_new(NULL, NULL, CG_OT_SENDER, CG_OTN_KK13, &err), CG_ERR_ARG);
    /* An unknown 1-of-N kind is refused before the base OTs. */
    cg_channel *ca, *cb;
    assert_int_equal(cg_chan_pair_new(&ca, &cb, NULL, NULL), CG_OK);
    cg_ot *bad = NULL;
    assert_int_equal(cg_ot_new(&bad, ca, CG_OT_SENDER, (cg_otn_kind)2, &err), CG_ERR_ARG);
    cg_ot_pair p;
    assert_int_equal(cg_ot_pair_new(&p, ca, 0, (cg_otn_kind)-1, &err), CG_ERR_ARG);
    assert_null(bad);
    assert_null(p.send);
    assert_null(p.recv);
    cg_chan_stats st;
    cg_chan_get_stats(cb, &st);
    assert_int_equal(st.total.bytes_received, 0);
    cg_chan_free(ca);
    cg_chan_free(cb);
}

/* Mismatched calls: the sender sees a header that does not match. */
static void test_mismatched_calls(void **state)
{
    (void)state;
    ot_setup o;
    cg_chan_options opt = {.timeout_ms = 3000};
    setup_ot(&o, &opt);
    cg_prg prg;
    cg_prg_init_random(&prg);
    batch b = {.kind = 0, .n = 100, .bits = 32};
    batch_alloc(&b, &prg);
    b.s = o.s;
    b.r = o.r;
    /* Receiver asks for 16-bit COTs, sender offers 32-bit. */
    b.bits = 32;
    cg_status ss = CG_OK, sr = CG_OK;
    batch rb = b;
    rb.bits = 16;
    batch_run_hang_up(&o, &b, &rb, &ss, &sr);
    assert_int_equal(ss, CG_ERR_FORMAT);
    assert_int_equal(sr, CG_ERR_PEER);
    /* Both instances refuse further use. */
    assert_int_equal(cg_cot_send(o.s, 1, 8, b.a, b.b, NULL), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv(o.r, 1, 8, b.choice, b.out, NULL), CG_ERR_STATE);
    batch_free(&b);
    teardown_ot(&o);
}

/* Ends of different 1-of-N kinds: the first 1-of-N call with N >= 8 fails
 * on the sender (the call headers differ), which hangs up, whichever end
 * has which kind. */
static void test_otn_kind_mismatch(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        ot_setup o;
        cg_chan_options opt = {.timeout_ms = 3000};
        assert_int_equal(cg_chan_pair_new(&o.cs, &o.cr, &opt, NULL), CG_OK);
        new_pair_by(&o, do_new, k ? CG_OTN_SPLIT : CG_OTN_KK13, k ? CG_OTN_KK13 : CG_OTN_SPLIT);
        cg_prg prg;
        cg_prg_init_random(&prg);
        batch bt = {.kind = 3, .n = 50, .bits = 8, .N = 16, .s = o.s, .r = o.r};
        batch_alloc(&bt, &prg);
        cg_status ss, sr;
        batch_run_hang_up(&o, &bt, &bt, &ss, &sr);
        assert_int_equal(ss, CG_ERR_FORMAT);
        assert_int_equal(sr, CG_ERR_PEER);
        batch_free(&bt);
        teardown_ot(&o);
    }
}

/* Faults on the link during set-up and during an extension. */
static void run_faulty(size_t cut_after, size_t flip_at, cg_status *set_s, cg_status *set_r,
                       cg_status *ext_s, cg_status *ext_r)
{
    linked l;
    link_start(&l, cut_after, flip_at, 1000);
    new_ctx a = {NULL, CG_OT_SENDER, CG_OTN_KK13}, b = {NULL, CG_OT_RECEIVER, CG_OTN_KK13};
    run_two(l.cs, l.cr, do_new, &a, do_new, &b, set_s, set_r);
    *ext_s = *ext_r = CG_OK;
    if (*set_s == CG_OK && *set_r == CG_OK) {
        ot_setup o = {l.cs, l.cr, a.ot, b.ot};
        cg_prg prg;
        cg_prg_init_random(&prg);
        batch bt = {.kind = 1, .n = 50000, .bits = 64, .s = a.ot, .r = b.ot};
        batch_alloc(&bt, &prg);
        /* Whoever fails first hangs up so that the other one is not left waiting. */
        party_job jr = {batch_receiver, o.cr, &bt, CG_OK};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, party_thread, &jr), 0);
        *ext_s = batch_sender(o.cs, &bt);
        pthread_join(t, NULL);
        *ext_r = jr.st;
        batch_free(&bt);
    }
    cg_ot_free(a.ot);
    cg_ot_free(b.ot);
    link_stop(&l);
    cg_free(l.px.log);
}

static void test_disconnect_and_corruption(void **state)
{
    (void)state;
    cg_status s1, r1, s2, r2;
    /* Towards the receiver go the base-OT points (one 12+4096-byte frame),
     * then the extension's ciphertext frames. Cut inside the points: */
    run_faulty(20, SIZE_MAX, &s1, &r1, &s2, &r2);
    assert_int_equal(r1, CG_ERR_PEER);
    /* Cut in the middle of the ciphertexts: */
    run_faulty(12 + 4096 + 200000, SIZE_MAX, &s1, &r1, &s2, &r2);
    assert_int_equal(s1, CG_OK);
    assert_int_equal(r1, CG_OK);
    assert_int_equal(r2, CG_ERR_PEER);
    /* The top byte of the first ciphertext frame's length flipped: oversized frame. */
    run_faulty(SIZE_MAX, 12 + 4096 + 3, &s1, &r1, &s2, &r2);
    assert_int_equal(s1, CG_OK);
    assert_int_equal(r1, CG_OK);
    assert_int_equal(r2, CG_ERR_FORMAT);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup_and_argument_errors),
        cmocka_unit_test(test_mismatched_calls),
        cmocka_unit_test(test_otn_kind_mismatch),
        cmocka_unit_test(test_disconnect_and_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
