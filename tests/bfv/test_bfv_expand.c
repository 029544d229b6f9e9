/* Packed encryption and server-side expansion (cg_bfv_expand): a random
 * packed plaintext of B chunks (B = 1, powers of two and not, up to the
 * protocol's 48) expands into B ciphertexts that decrypt to the chunks in
 * the strided layout and nothing else, with the analytic noise bound above
 * the measured noise; Galois keys by element (and their refusal of bad
 * elements), their serialization round trip, and refused peer bytes. */
#include "bfv_fixture.h"

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
    cg_bfv_set_threads(f->ctx, 2);
    cg_prg_init_random(&f->prg);
    *state = f;
    return 0;
}

static void expansion_keys(fixture *f, unsigned e, cg_bfv_galois_keys *gk)
{
    uint32_t elts[16];
    cg_error err = {0};
    const size_t k = cg_bfv_expand_elts(f->ctx, e, elts);
    assert_int_equal(k, e);
    assert_int_equal(cg_bfv_keygen_galois_elts(f->ctx, &f->sk, elts, k, gk, &err), CG_OK);
    assert_int_equal(gk->count, e);
}

/* B chunks of ni values at a + S k; expand; check every output. */
static void check_expand(fixture *f, const cg_bfv_galois_keys *gk, size_t B, size_t S, size_t ni)
{
    cg_error err = {0};
    const unsigned e = cg_bfv_expand_levels(B);
    assert_true(S % ((size_t)1 << e) == 0 && S * (ni - 1) + B <= f->n);
    uint64_t *vals = calloc(B * ni, sizeof *vals);
    cg_bfv_plain pt = {0}, dec = {0};
    assert_int_equal(cg_bfv_plain_alloc(f->ctx, &pt, &err), CG_OK);
    memset(pt.coeffs, 0, f->n * sizeof *pt.coeffs);
    for (size_t a = 0; a < B; a++)
        for (size_t k = 0; k < ni; k++) {
            uint64_t v = cg_prg_uniform(&f->prg, f->t);
            if (a == 0 && k == 0) v = f->t - 1; /* edges */
            if (a == B - 1 && k == ni - 1) v = f->t / 2;
            vals[a * ni + k] = v;
            pt.coeffs[a + S * k] = v;
        }
    cg_bfv_ct ct = {0};
    assert_int_equal(cg_bfv_encrypt_sk_packed(f->ctx, &f->sk, &pt, e, &ct, &err), CG_OK);
    cg_bfv_ct *outs = calloc(B, sizeof *outs);
    assert_int_equal(cg_bfv_expand(f->ctx, gk, &ct, B, outs, &err), CG_OK);
    for (size_t a = 0; a < B; a++) {
        assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &outs[a], &dec, &err), CG_OK);
        for (size_t j = 0; j < f->n; j++) {
            const uint64_t want = j % S == 0 && j / S < ni ? vals[a * ni + j / S] : 0;
            if (dec.coeffs[j] != want) {
                fprintf(stderr, "B %zu chunk %zu coeff %zu: want %llu got %llu\n", B, a, j,
                        (unsigned long long)want, (unsigned long long)dec.coeffs[j]);
                fail();
            }
        }
        double measured, budget;
        assert_int_equal(cg_bfv_noise_measure(f->ctx, &f->sk, &outs[a], &measured, &budget, &err), CG_OK);
        if (a == 0 || a == B - 1)
            printf("# B %zu chunk %zu: noise measured 2^%.1f estimate 2^%.1f (fresh 2^%.1f)\n", B, a,
                   measured, outs[a].noise_log2, ct.noise_log2);
        assert_true(outs[a].noise_log2 >= measured);
        /* within 2^e times fresh plus the switches */
        assert_true(outs[a].noise_log2 <= ct.noise_log2 + e + 12.0 + (e ? 20.0 : 0.0));
        cg_bfv_ct_free(&outs[a]);
    }
    free(outs);
    free(vals);
    cg_bfv_ct_free(&ct);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&dec);
}

static void test_expand_paper(void **state)
{
    fixture *f = *state;
    cg_bfv_galois_keys gk = {0};
    expansion_keys(f, 7, &gk);
    /* the protocol's shapes: stride n_o = 128, 64 values per chunk */
    const size_t Bs[] = {1, 2, 3, 5, 12, 48};
    for (size_t i = 0; i < sizeof Bs / sizeof *Bs; i++) check_expand(f, &gk, Bs[i], 128, 64);
    /* stride exactly 2^e, a full ring */
    check_expand(f, &gk, 8, 8, f->n / 8);
    /* dense replies' GPT-2 base plans: QKV 24 chunks of 32 at stride 256,
     * the LM head 96 chunks of 8 at stride 1024 (seven levels) */
    check_expand(f, &gk, 24, 256, 32);
    check_expand(f, &gk, 96, 1024, 8);
    cg_bfv_galois_free(&gk);
}

static void test_expand_small(void **state)
{
    fixture *f = *state;
    cg_bfv_galois_keys gk = {0};
    expansion_keys(f, 11, &gk); /* every level of n = 2048 */
    const size_t Bs[] = {1, 7, 16, 100};
    for (size_t i = 0; i < sizeof Bs / sizeof *Bs; i++) {
        const size_t S = (size_t)1 << cg_bfv_expand_levels(Bs[i]);
        check_expand(f, &gk, Bs[i], S, f->n / S);
    }
    check_expand(f, &gk, 2048, 2048, 1); /* one value per chunk, all levels */
    cg_bfv_galois_free(&gk);
}

static void test_expand_refusals(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    cg_bfv_galois_keys gk = {0};
    const uint32_t even[] = {5, 4};
    assert_int_equal(cg_bfv_keygen_galois_elts(f->ctx, &f->sk, even, 2, &gk, &err), CG_ERR_ARG);
    const uint32_t big[] = {(uint32_t)(2 * f->n + 1)};
    assert_int_equal(cg_bfv_keygen_galois_elts(f->ctx, &f->sk, big, 1, &gk, &err), CG_ERR_ARG);
    /* keys for two levels cannot expand into five chunks (three levels) */
    expansion_keys(f, 2, &gk);
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_plain_alloc(f->ctx, &pt, &err), CG_OK);
    memset(pt.coeffs, 0, f->n * sizeof *pt.coeffs);
    cg_bfv_ct ct = {0}, outs[5] = {{0}};
    assert_int_equal(cg_bfv_encrypt_sk_packed(f->ctx, &f->sk, &pt, 3, &ct, &err), CG_OK);
    assert_int_equal(cg_bfv_expand(f->ctx, &gk, &ct, 5, outs, &err), CG_ERR_STATE);
    assert_int_equal(cg_bfv_expand(f->ctx, &gk, &ct, 0, outs, &err), CG_ERR_ARG);
    assert_int_equal(cg_bfv_encrypt_sk_packed(f->ctx, &f->sk, &pt, 60, &ct, &err), CG_ERR_ARG);
    /* a switched-down ciphertext is refused */
    assert_int_equal(cg_bfv_mod_switch_down(f->ctx, &ct, &err), CG_OK);
    assert_int_equal(cg_bfv_expand(f->ctx, &gk, &ct, 4, outs, &err), CG_ERR_STATE);
    for (size_t i = 0; i < 5; i++) cg_bfv_ct_free(&outs[i]);
    cg_bfv_ct_free(&ct);
    cg_bfv_plain_free(&pt);
    cg_bfv_galois_free(&gk);
}

/* The keys round-trip through serialization and still expand; truncated,
 * extended and forged (even element, huge count) bytes are refused. */
static void test_expand_keys_serialize(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    cg_bfv_galois_keys gk = {0}, back = {0};
    expansion_keys(f, 3, &gk);
    cg_buf b = {0};
    assert_int_equal(cg_bfv_galois_serialize(f->ctx, &gk, &b, &err), CG_OK);
    printf("# 3 expansion keys: %zu bytes\n", b.len);
    assert_int_equal(cg_bfv_galois_deserialize(f->ctx, b.data, b.len, &back, &err), CG_OK);
    assert_int_equal(back.count, 3);
    for (size_t i = 0; i < 3; i++) assert_int_equal(back.elts[i], gk.elts[i]);
    check_expand(f, &back, 5, 8, f->n / 8);
    assert_int_not_equal(cg_bfv_galois_deserialize(f->ctx, b.data, b.len - 1, &back, &err), CG_OK);
    uint8_t *longer = calloc(b.len + 1, 1);
    memcpy(longer, b.data, b.len);
    assert_int_not_equal(cg_bfv_galois_deserialize(f->ctx, longer, b.len + 1, &back, &err), CG_OK);
    free(longer);
    /* header: magic 4, version 2, type 2, fingerprint 32; count u32, element u32 */
    const size_t at_count = 4 + 2 + 2 + 32, at_elt = at_count + 4;
    uint8_t *forged = malloc(b.len);
    memcpy(forged, b.data, b.len);
    forged[at_elt] ^= 1; /* element made even */
    assert_int_equal(cg_bfv_galois_deserialize(f->ctx, forged, b.len, &back, &err), CG_ERR_FORMAT);
    memcpy(forged, b.data, b.len);
    forged[at_count + 3] = 0x7f; /* count far above what follows */
    assert_int_equal(cg_bfv_galois_deserialize(f->ctx, forged, b.len, &back, &err), CG_ERR_FORMAT);
    free(forged);
    assert_int_equal(back.count, 3); /* the refusals left the good keys alone */
    cg_buf_free(&b);
    cg_bfv_galois_free(&gk);
    cg_bfv_galois_free(&back);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expand_paper, setup_paper37, teardown),
        cmocka_unit_test_setup_teardown(test_expand_small, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_expand_refusals, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_expand_keys_serialize, setup_small, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
