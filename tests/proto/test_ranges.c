/* The load-time range check (cg_fixed_check_ranges): a model with GPT-2's
 * +-3,000 massive activations passes, one beyond the format's ranges is
 * refused with a message naming the layer and the quantity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto/stress_fixture.h"

static const uint32_t toks[] = {5, 17, 250, 3, 99, 4, 42, 7, 8, 123, 10, 11, 12, 13, 14, 15};
#define NT (sizeof toks / sizeof toks[0])

static double observed(const cg_range_report *r, unsigned layer, const char *q)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].layer == layer && strstr(r->items[i].quantity, q)) return r->items[i].observed;
    return -1;
}

static void test_massive_passes(void **state)
{
    (void)state;
    cg_gpt2 *m = stress_model(3000.0);
    assert_non_null(m);
    cg_range_report rep;
    cg_error err = {0};
    assert_int_equal(cg_fixed_check_ranges(m, cg_fixed_default(), toks, NT, 0, CG_RANGE_MARGIN,
                                           &rep, &err),
                     CG_OK);
    /* the outliers are there: |x - mean| ~ 3,000 from layer 2 on */
    assert_true(observed(&rep, 2, "LayerNorm 1 input |x - mean|") > 2900);
    assert_true(observed(&rep, 3, "final LayerNorm input |x - mean|") > 2900);
    assert_true(observed(&rep, 0, "LayerNorm 1 input |x - mean|") < 1100);
    cg_range_report_free(&rep);
    cg_gpt2_free(m);
}

static void refused(cg_gpt2 *m, const char *layer, const char *quantity)
{
    cg_range_report rep;
    cg_error err = {0};
    assert_int_equal(cg_fixed_check_ranges(m, cg_fixed_default(), toks, NT, 0, CG_RANGE_MARGIN,
                                           &rep, &err),
                     CG_ERR_RANGE);
    fprintf(stderr, "  refused: %s\n", err.msg);
    assert_non_null(strstr(err.msg, layer));
    assert_non_null(strstr(err.msg, quantity));
    cg_range_report_free(&rep);
    cg_gpt2_free(m);
}

static void test_beyond_refused(void **state)
{
    (void)state;
    /* 12,000: each injecting MLP writes 4,000, beyond a linear output's 2,048 */
    refused(stress_model(12000.0), "layer ", "MLP output");
    /* an outlier of 20,000 in the position embedding: LayerNorm's |x - mean|
     * beyond 16,384 from layer 0 on; the worst is named (the final row's) */
    cg_gpt2 *m = stress_model(3000.0);
    ((float *)m->wpe)[STRESS_C1] = 20000.0f;
    refused(m, "layer", "LayerNorm");
    /* only the last layer's MLP beyond: the message names layer 2 */
    m = stress_model(3000.0);
    float *fc_b = (float *)m->layers[2].fc_b, *fc2_w = (float *)m->layers[2].fc2_w;
    fc_b[7] = 30.0f;                     /* a neuron always on, about 30 */
    fc2_w[7 * m->cfg.n_embd + 5] = 90.0f; /* 2,700 into one channel */
    refused(m, "layer 2", "MLP output");
    /* margins: the same model passes without one only if it is inside */
    cg_range_report rep;
    cg_error err = {0};
    m = stress_model(3000.0);
    assert_int_equal(cg_fixed_check_ranges(m, cg_fixed_default(), toks, NT, 0, 0.5, &rep, &err),
                     CG_ERR_ARG);
    cg_gpt2_free(m);
}

/* One MLP writing +-2,990 at once: beyond 2,048 at w = 12, inside 4,096 at
 * w = 11 (what serve then picks, tests/cli/test_range_check.sh). */
static void test_one_step_needs_w11(void **state)
{
    (void)state;
    cg_gpt2 *m = stress_model_steps(3000.0, 1);
    cg_range_report rep;
    cg_error err = {0};
    cg_fixed_config fx = cg_fixed_default();
    assert_int_equal(cg_fixed_check_ranges(m, fx, toks, NT, 0, CG_RANGE_MARGIN, &rep, &err),
                     CG_ERR_RANGE);
    assert_non_null(strstr(err.msg, "layer 1: MLP output"));
    assert_true(rep.items[rep.worst].weight_bound);
    cg_range_report_free(&rep);
    fx.weight_frac = 11;
    assert_int_equal(cg_fixed_check_ranges(m, fx, toks, NT, 0, CG_RANGE_MARGIN, &rep, &err), CG_OK);
    assert_true(observed(&rep, 2, "LayerNorm 1 input |x - mean|") > 2900);
    cg_range_report_free(&rep);
    cg_gpt2_free(m);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_massive_passes),
        cmocka_unit_test(test_beyond_refused),
        cmocka_unit_test(test_one_step_needs_w11),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
