/* The weights table: each role's shape and strides give the product the
 * fixed-point emulator computes (the embedding as a transposed view), the
 * client's shapes equal the server's, plans cut every matrix within the
 * ring, and pre-encoded blocks are found by role and layer for their own
 * model only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/proto_internal.h"

static cg_fixed_model *tiny_fixed(uint64_t seed)
{
    cg_gpt2_config cfg = {.n_layer = 2, .n_head = 2, .n_embd = 16, .n_positions = 8,
                          .vocab_size = 40, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, seed, &err), CG_OK);
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    cg_gpt2_free(m);
    return fm;
}

/* y = W x + b through the table's strides, wrapped like the ring. */
static void table_product(const cg_fixed_model *fm, const gen_matrix *m, const int64_t *x, int64_t *y)
{
    for (size_t o = 0; o < m->out; o++) {
        uint64_t acc = m->b ? (uint64_t)m->b[o] : 0;
        for (size_t i = 0; i < m->in; i++)
            acc += (uint64_t)(int64_t)m->w[o * m->stride_out + i * m->stride_in] * (uint64_t)x[i];
        y[o] = cg_fxp_wrap(fm->fx.act, (int64_t)acc);
    }
}

static void test_table_matches_emulator(void **state)
{
    (void)state;
    cg_fixed_model *fm = tiny_fixed(5);
    const size_t d = fm->cfg.n_embd, V = fm->cfg.vocab_size;
    assert_int_equal(gen_matrix_count(&fm->cfg), 2 + 4 * fm->cfg.n_layer);
    int64_t *x = calloc(V + 4 * d, sizeof *x), *y = calloc(V + 4 * d, sizeof *y), *want = calloc(V + 4 * d, sizeof *want);
    assert_true(x && y && want);
    for (size_t i = 0; i < gen_matrix_count(&fm->cfg); i++) {
        const gen_matrix m = gen_matrix_at(&fm->cfg, fm, i);
        const gen_matrix shape = gen_matrix_at(&fm->cfg, NULL, i);
        /* the client knows the same shapes, and no weights */
        assert_int_equal(shape.role, m.role);
        assert_int_equal(shape.layer, m.layer);
        assert_int_equal(shape.in, m.in);
        assert_int_equal(shape.out, m.out);
        assert_null(shape.w);
        assert_null(shape.b);
        const gen_matrix again = gen_matrix_of(&fm->cfg, fm, m.role, m.layer);
        assert_ptr_equal(again.w, m.w);
        if (m.role == GEN_MAT_EMBED) {
            /* a one-hot row picks the token's embedding */
            const size_t tok = 17;
            memset(x, 0, V * sizeof *x);
            x[tok] = 1;
            table_product(fm, &m, x, y);
            for (size_t o = 0; o < d; o++) assert_int_equal(y[o], fm->emb[tok * d + o]);
            continue;
        }
        for (size_t k = 0; k < m.in; k++) x[k] = (int64_t)((k * 7919 + i * 31) % 8191) - 4095;
        table_product(fm, &m, x, y);
        const cg_fixed_layer *L = &fm->layers[m.layer];
        switch (m.role) {
        case GEN_MAT_QKV: cg_fixed_matvec(fm->fx.act, L->qkv_w, L->qkv_b, 3 * d, d, x, want); break;
        case GEN_MAT_ATTN_OUT: cg_fixed_matvec(fm->fx.act, L->proj_w, L->proj_b, d, d, x, want); break;
        case GEN_MAT_MLP_UP: cg_fixed_matvec(fm->fx.act, L->fc_w, L->fc_b, 4 * d, d, x, want); break;
        case GEN_MAT_MLP_DOWN: cg_fixed_matvec(fm->fx.act, L->fc2_w, L->fc2_b, d, 4 * d, x, want); break;
        case GEN_MAT_LM_HEAD: cg_fixed_matvec(fm->fx.act, fm->head_w, fm->head_b, V, d, x, want); break;
        default: fail();
        }
        assert_memory_equal(y, want, m.out * sizeof *y);
    }
    free(x), free(y), free(want);
    cg_fixed_model_free(fm);
}

static void test_plans_fit_the_ring(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{768, 2304}, {768, 768}, {3072, 768}, {50257, 768}, {768, 50257},
                                {1, 1}, {8192, 1}, {1, 8192}, {10000, 3}};
    for (size_t n = 2048; n <= 16384; n *= 2)
        for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
            const size_t in = shapes[k][0], out = shapes[k][1];
            gen_plan p = gen_plan_of(n, in, out);
            assert_true(p.ni >= 1 && p.no >= 1);
            assert_true(p.ni * p.no <= n);
            assert_true(p.cin * p.ni >= in && (p.cin - 1) * p.ni < in);
            assert_true(p.cout * p.no >= out && (p.cout - 1) * p.no < out);
        }
}

static void test_pre_encoded_found_by_role(void **state)
{
    (void)state;
    cg_fixed_model *fm = tiny_fixed(5), *other = tiny_fixed(6);
    cg_error err = {0};
    cg_gen_weights *ws = NULL, *none = NULL;
    assert_int_equal(cg_gen_weights_new(&ws, fm, "paper", UINT64_MAX, 2, &err), CG_OK);
    assert_int_equal(cg_gen_weights_new(&none, fm, "paper", 0, 1, &err), CG_OK);
    assert_int_equal(cg_gen_weights_bytes(none), 0);
    cg_bfv_spec spec;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << fm->fx.act.ring_bits;
    cg_bfv_ctx *he = NULL, *other_he = NULL;
    assert_int_equal(cg_bfv_ctx_new(&he, &spec, &err), CG_OK);
    assert_int_equal(cg_bfv_preset("n16384", &spec, &err), CG_OK);
    spec.t = 1ull << fm->fx.act.ring_bits;
    assert_int_equal(cg_bfv_ctx_new(&other_he, &spec, &err), CG_OK);
    uint64_t bytes = 0;
    for (size_t i = 0; i < gen_matrix_count(&fm->cfg); i++) {
        const gen_matrix m = gen_matrix_at(&fm->cfg, fm, i);
        const gen_plan p = gen_plan_of(cg_bfv_n(he), m.in, m.out);
        assert_non_null(gen_weights_find(ws, he, fm, &m, &p));
        bytes += (uint64_t)p.cin * p.cout * cg_bfv_nq(he) * cg_bfv_n(he) * 8;
        /* never for another model, another parameter set, or a budget of 0 */
        assert_null(gen_weights_find(ws, he, other, &m, &p));
        assert_null(gen_weights_find(ws, other_he, fm, &m, &p));
        assert_null(gen_weights_find(none, he, fm, &m, &p));
        assert_null(gen_weights_find(NULL, he, fm, &m, &p));
    }
    assert_int_equal(cg_gen_weights_bytes(ws), bytes);
    cg_gen_weights_free(ws);
    cg_gen_weights_free(none);
    cg_bfv_ctx_free(he);
    cg_bfv_ctx_free(other_he);
    cg_fixed_model_free(fm);
    cg_fixed_model_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_matches_emulator),
        cmocka_unit_test(test_plans_fit_the_ring),
        cmocka_unit_test(test_pre_encoded_found_by_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
