/* cg_bfv_mask_and_flood_at: the flood only at the coefficients that will be
 * revealed. From NTT and coefficient form, every coefficient still decrypts
 * to value - mask (the mask and Enc(0) cover all of them), the measured
 * noise shows the flood at the marked coefficients (the session's bits
 * above the estimate), and an empty or missing set is handled. */
#include "bfv_fixture.h"
#include "bfv/bfv_internal.h"

/* The protocol's parameters: the paper set with t = 2^37. */
static int setup_paper37(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cg_bfv_spec spec;
    cg_error err = {0};
    if (!f || cg_bfv_preset("paper", &spec, &err) != CG_OK) return -1;
    spec.t = 1ull << 37;
    if (cg_bfv_ctx_new(&f->ctx, &spec, &err) != CG_OK) return -1;
    if (cg_bfv_keygen(f->ctx, &f->sk, &f->pk, &err) != CG_OK) return -1;
    f->n = cg_bfv_n(f->ctx);
    f->t = cg_bfv_t(f->ctx);
    cg_prg_init_random(&f->prg);
    *state = f;
    return 0;
}

static void check_at(fixture *f, size_t stride, int form)
{
    cg_error err = {0};
    int64_t *v = malloc(f->n * sizeof *v);
    uint8_t *used = calloc(f->n, 1);
    assert_non_null(v);
    assert_non_null(used);
    for (size_t j = 0; j < f->n; j++) v[j] = (int64_t)cg_prg_uniform(&f->prg, f->t) - (int64_t)(f->t / 2);
    for (size_t j = stride - 1; stride && j < f->n; j += stride) used[j] = 1;
    cg_bfv_plain pt = {0}, mask = {0}, dec = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, v, f->n, &pt, &err), CG_OK);
    /* a ct x pt product of uniform values: noise well above the rounding of
     * the switch to two primes, so the flood shows */
    cg_bfv_ct fresh = {0}, ct = {0};
    cg_bfv_plain_ntt pn = {0};
    assert_int_equal(cg_bfv_encrypt_pk(f->ctx, &f->pk, &pt, &fresh, &err), CG_OK);
    assert_int_equal(cg_bfv_to_ntt(f->ctx, &fresh, &err), CG_OK);
    assert_int_equal(cg_bfv_plain_to_ntt(f->ctx, &pt, cg_bfv_nq(f->ctx), &pn, &err), CG_OK);
    assert_int_equal(cg_bfv_mul_plain(f->ctx, &fresh, &pn, &ct, &err), CG_OK);
    if (!form) assert_int_equal(cg_bfv_from_ntt(f->ctx, &ct, &err), CG_OK);
    cg_bfv_plain want = {0};
    assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &ct, &want, &err), CG_OK);
    const double est = ct.noise_log2;
    assert_int_equal(cg_bfv_mask_and_flood_at(f->ctx, &f->pk, &ct, 52, used, &mask, &err), CG_OK);
    assert_false(ct.ntt);
    double noise = 0, budget = 0;
    assert_int_equal(cg_bfv_noise_measure(f->ctx, &f->sk, &ct, &noise, &budget, &err), CG_OK);
    assert_true(noise <= ct.noise_log2);
    assert_true(budget > 0);
    const double floor = est + 52 - cg_bfv_log2_q(f->ctx, cg_bfv_nq(f->ctx)) + cg_bfv_log2_q(f->ctx, ct.level);
    fprintf(stderr, "  stride %zu, form %d: noise 2^%.1f, flood floor 2^%.1f, %zu primes\n", stride, form,
            noise, floor, ct.level);
    if (stride) assert_true(noise >= floor - 2.0);
    else assert_true(noise < floor - 8.0); /* nothing flooded */
    assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &ct, &dec, &err), CG_OK);
    for (size_t j = 0; j < f->n; j++)
        assert_int_equal((dec.coeffs[j] + mask.coeffs[j]) % f->t, want.coeffs[j] % f->t);
    cg_bfv_ct_free(&ct);
    cg_bfv_ct_free(&fresh);
    cg_bfv_plain_ntt_free(&pn);
    cg_bfv_plain_free(&want);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&mask);
    cg_bfv_plain_free(&dec);
    free(used);
    free(v);
}

static void test_flood_at_both_forms(void **state)
{
    for (int form = 0; form < 2; form++) {
        check_at(*state, 64, form);
        check_at(*state, 1, form);
        check_at(*state, 0, form);
    }
}

static void test_flood_at_needs_a_set(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    cg_bfv_plain pt = {0}, mask = {0};
    int64_t z[1] = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, z, 1, &pt, &err), CG_OK);
    cg_bfv_ct ct = {0};
    assert_int_equal(cg_bfv_encrypt_pk(f->ctx, &f->pk, &pt, &ct, &err), CG_OK);
    assert_int_equal(cg_bfv_mask_and_flood_at(f->ctx, &f->pk, &ct, 52, NULL, &mask, &err), CG_ERR_ARG);
    cg_bfv_ct_free(&ct);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&mask);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flood_at_both_forms, setup_paper37, teardown),
        cmocka_unit_test_setup_teardown(test_flood_at_needs_a_set, setup_small, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
