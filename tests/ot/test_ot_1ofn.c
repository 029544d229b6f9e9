/* The 1-of-N OTs, KK13 and the log2 N-row construction: results for N from
 * 2 to 256 and several widths, messages from a table or a callback, and a
 * transcript check that no unchosen message reaches the receiver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ot_fixture.h"

static void test_otn(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    unsigned Ns[] = {2, 3, 16, 17, 256};
    unsigned widths[] = {1, 2, 8, 64};
    for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            run_case(&o, 3, 1, widths[w], Ns[a], &prg);
            run_case(&o, 3, 300, widths[w], Ns[a], &prg);
        }
    run_case(&o, 3, 0, 8, 16, &prg);
    /* More than one batch. */
    run_case(&o, 3, 9000, 2, 16, &prg);
    /* Messages from a callback, batch by batch, on both constructions. */
    run_case(&o, 4, 9000, 6, 16, &prg);
    run_case(&o, 4, 300, 8, 4, &prg);
    run_case(&o, 4, 0, 8, 16, &prg);
    teardown_ot(&o);
}

/* The 1-of-N OT, both constructions (KK13 for N >= 8 by default, the
 * log2 N-row one on CG_OTN_SPLIT instances): N in {2, 4, 8, 16, 100, 256},
 * widths 1, 8, 37, 64, random choices, n = 1 and 1000 (results against the
 * messages), then over a logging link: no message the receiver did not
 * choose appears in the clear in what the receiver gets. */
/* cg_otn_send_fn_w / cg_otn_recv_w_*: a message width per instance, both
 * constructions (KK13 and the log2 N-row one), N from 2 to 256, against
 * the messages table; and the bytes: N w_i bits per instance, summed. */
typedef struct {
    cg_ot *s, *r;
    size_t n;
    unsigned N;
    uint8_t *w, *choice;
    uint64_t *msgs, *out;
} wotn;

static void wotn_fill(void *ctx, size_t first, size_t count, uint64_t *out)
{
    const wotn *c = ctx;
    memcpy(out, c->msgs + first * c->N, count * c->N * sizeof *out);
}

static cg_status wotn_sender(cg_channel *ch, void *v)
{
    (void)ch;
    wotn *c = v;
    return cg_otn_send_fn_w(c->s, c->n, c->N, c->w, wotn_fill, c, NULL);
}

static cg_status wotn_receiver(cg_channel *ch, void *v)
{
    (void)ch;
    wotn *c = v;
    CG_TRY(cg_otn_recv_w_begin(c->r, c->n, c->N, c->w, c->choice, c->out, NULL));
    return cg_otn_recv_w_end(c->r, c->n, c->N, c->w, c->choice, c->out, NULL);
}

static void test_otn_widths_per_instance(void **state)
{
    (void)state;
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int split = 0; split < 2; split++) {
        ot_setup o;
        setup_ot_kind(&o, NULL, split ? CG_OTN_SPLIT : CG_OTN_KK13);
        static const unsigned Ns[] = {2, 4, 16, 64, 256};
        static const size_t sizes[] = {1, 7, 300, 5000};
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 4; b++) {
                wotn c = {o.s, o.r, sizes[b], Ns[a], cg_calloc(sizes[b], 1), cg_calloc(sizes[b], 1),
                          cg_calloc(sizes[b] * Ns[a], 8), cg_calloc(sizes[b], 8)};
                size_t bits = 0;
                for (size_t i = 0; i < c.n; i++) {
                    c.w[i] = (uint8_t)(1 + cg_prg_uniform(&prg, 64));
                    c.choice[i] = (uint8_t)cg_prg_uniform(&prg, c.N);
                    bits += (size_t)c.N * c.w[i];
                }
                cg_prg_bytes(&prg, c.msgs, c.n * c.N * 8);
                cg_chan_reset_stats(o.cr);
                cg_status sa, sb;
                run_two(o.cs, o.cr, wotn_sender, &c, wotn_receiver, &c, &sa, &sb);
                assert_int_equal(sa, CG_OK);
                assert_int_equal(sb, CG_OK);
                for (size_t i = 0; i < c.n; i++) {
                    uint64_t mask = c.w[i] >= 64 ? ~0ull : (1ull << c.w[i]) - 1;
                    assert_int_equal(c.out[i], c.msgs[i * c.N + c.choice[i]] & mask);
                }
                cg_chan_stats st;
                cg_chan_get_stats(o.cr, &st);
                /* one batch (4,096 instances): its bits to the byte; the
                 * first call of a kind may also receive set-up traffic */
                if (c.n <= 4096 && b) assert_int_equal(st.total.bytes_received, (bits + 7) / 8);
                cg_free(c.w), cg_free(c.choice), cg_free(c.msgs), cg_free(c.out);
            }
        teardown_ot(&o);
    }
}

static void test_otn_grid_and_transcript(void **state)
{
    (void)state;
    static const unsigned Ns[] = {2, 4, 8, 16, 100, 256}, widths[] = {1, 8, 37, 64};
    static const size_t ns[] = {1, 1000};
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int split = 0; split < 2; split++) {
        ot_setup o;
        setup_ot_kind(&o, NULL, split ? CG_OTN_SPLIT : CG_OTN_KK13);
        for (size_t a = 0; a < 6; a++)
            for (size_t w = 0; w < 4; w++)
                for (size_t k = 0; k < 2; k++) run_case(&o, 3, ns[k], widths[w], Ns[a], &prg);
        teardown_ot(&o);
    }

    linked l;
    ot_setup t;
    logged_pair_start(&l, &t);
    /* Small n for N = 256 keeps the transcript search quick. */
    batch bt[4] = {{.kind = 3, .n = 300, .bits = 64, .N = 2},
                   {.kind = 3, .n = 300, .bits = 64, .N = 4},
                   {.kind = 3, .n = 300, .bits = 64, .N = 16},
                   {.kind = 3, .n = 20, .bits = 64, .N = 256}};
    for (int k = 0; k < 4; k++) {
        batch_alloc(&bt[k], &prg);
        batch_run(&t, &bt[k]);
        batch_check(&bt[k]);
    }
    const proxy *px = logged_pair_stop(&l, &t, 0);
    size_t checked = 0;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < bt[k].n; i++)
            for (unsigned x = 0; x < bt[k].N; x++) {
                if (x == bt[k].choice[i]) continue;
                assert_false(log_contains_u64(px, bt[k].a[i * bt[k].N + x], 8));
                checked++;
            }
    assert_int_equal(checked, 300 * 1 + 300 * 3 + 300 * 15 + 20 * 255);
    cg_free(l.px.log);
    for (int k = 0; k < 4; k++) batch_free(&bt[k]);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_otn),
        cmocka_unit_test(test_otn_widths_per_instance),
        cmocka_unit_test(test_otn_grid_and_transcript),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
