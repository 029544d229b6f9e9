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
        cmocka_unit_test(test_otn_grid_and_transcript),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
