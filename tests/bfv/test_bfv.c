/* BFV tests: every operation against the same arithmetic on plaintext slots,
 * and the analytic noise estimate against the measured noise. */

#include "bfv_fixture.h"

static void test_parameters_and_security(void **state)
{
    (void)state;
    cg_bfv_spec s;
    cg_error err = {0};
    cg_bfv_ctx *ctx = NULL;
    assert_int_equal(cg_bfv_preset("paper", &s, &err), CG_OK);
    assert_int_equal(cg_bfv_ctx_new(&ctx, &s, &err), CG_OK);
    assert_true(cg_bfv_log2_qp(ctx) <= 218.0);
    assert_true(cg_bfv_log2_qp(ctx) > 210.0);
    assert_true(cg_bfv_batching(ctx));
    assert_int_equal(cg_bfv_t(ctx) % 16384, 1);
    assert_int_equal(64 - __builtin_clzll(cg_bfv_t(ctx)), 29);
    cg_bfv_ctx_free(ctx);
    /* Too large for 128-bit security without the flag. */
    assert_int_equal(cg_bfv_preset("test2048", &s, &err), CG_OK);
    s.insecure_for_tests = false;
    assert_int_equal(cg_bfv_ctx_new(&ctx, &s, &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "128-bit"));
    assert_null(ctx);
    s = (cg_bfv_spec){.n = 3000, .nq = 1, .q_bits = {40}, .t_bits = 20};
    assert_int_equal(cg_bfv_ctx_new(&ctx, &s, &err), CG_ERR_PARAM);
    assert_int_equal(cg_bfv_preset("nope", &s, &err), CG_ERR_PARAM);
    /* t = 2^k: valid, no batching */
    s = (cg_bfv_spec){.n = 4096, .nq = 2, .q_bits = {50, 50}, .t = 1ull << 20};
    assert_int_equal(cg_bfv_ctx_new(&ctx, &s, &err), CG_OK);
    assert_false(cg_bfv_batching(ctx));
    cg_bfv_plain pt = {0};
    int64_t v[3] = {1, 2, 3};
    assert_int_equal(cg_bfv_encode_batch(ctx, v, 3, &pt, &err), CG_ERR_PARAM);
    cg_bfv_ctx_free(ctx);
    const char *names[] = {"n4096", "n16384"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cg_bfv_preset(names[i], &s, &err), CG_OK);
        assert_int_equal(cg_bfv_ctx_new(&ctx, &s, &err), CG_OK);
        assert_true(cg_bfv_log2_qp(ctx) <= cg_bfv_max_logqp(s.n));
        cg_bfv_ctx_free(ctx);
    }
}

static void test_encrypt_decrypt_and_encoders(void **state)
{
    fixture *f = *state;
    int64_t *v = random_slots(f);
    for (int sk = 0; sk < 2; sk++) {
        cg_bfv_ct ct = {0};
        encrypt_vals(f, v, &ct, sk);
        assert_int_equal(ct.seeded, sk);
        check_decrypts_to(f, &ct, v);
        check_noise(f, &ct, 6, sk ? "fresh sk" : "fresh pk");
        cg_bfv_ct_free(&ct);
    }
    /* coefficient encoder: value i at x^i */
    cg_bfv_plain pt = {0}, back = {0};
    cg_error err = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, v, f->n, &pt, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) assert_int_equal(centred(f->t, (int64_t)pt.coeffs[i]), centred(f->t, v[i]));
    cg_bfv_ct ct = {0};
    assert_int_equal(cg_bfv_encrypt_pk(f->ctx, &f->pk, &pt, &ct, &err), CG_OK);
    assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &ct, &back, &err), CG_OK);
    int64_t *got = malloc(f->n * sizeof *got);
    assert_int_equal(cg_bfv_decode_coeff(f->ctx, &back, got, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) assert_int_equal(got[i], centred(f->t, v[i]));
    /* coefficient encoding multiplies as polynomials: (x^1) * (sum v_i x^i) */
    int64_t xpow[2] = {0, 1};
    cg_bfv_plain px = {0};
    cg_bfv_plain_ntt pxn = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, xpow, 2, &px, &err), CG_OK);
    assert_int_equal(cg_bfv_plain_to_ntt(f->ctx, &px, cg_bfv_nq(f->ctx), &pxn, &err), CG_OK);
    assert_int_equal(cg_bfv_to_ntt(f->ctx, &ct, NULL), CG_OK);
    /* no data, or a level the context lacks: refused with a message */
    cg_bfv_ct none = {0}, deep = ct;
    cg_error ferr = {0};
    assert_int_equal(cg_bfv_to_ntt(f->ctx, &none, &ferr), CG_ERR_ARG);
    assert_true(ferr.msg[0] != '\0');
    assert_int_equal(cg_bfv_from_ntt(f->ctx, &none, NULL), CG_ERR_ARG);
    deep.level = cg_bfv_nq(f->ctx) + 1;
    assert_int_equal(cg_bfv_from_ntt(f->ctx, &deep, NULL), CG_ERR_ARG);
    cg_bfv_ct prod = {0};
    assert_int_equal(cg_bfv_mul_plain(f->ctx, &ct, &pxn, &prod, &err), CG_OK);
    assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &prod, &back, &err), CG_OK);
    cg_bfv_decode_coeff(f->ctx, &back, got, &err);
    assert_int_equal(got[0], centred(f->t, -v[f->n - 1])); /* x^n = -1 */
    for (size_t i = 1; i < f->n; i++) assert_int_equal(got[i], centred(f->t, v[i - 1]));
    free(got);
    cg_bfv_plain_ntt_free(&pxn);
    cg_bfv_plain_free(&px);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&back);
    cg_bfv_ct_free(&ct);
    cg_bfv_ct_free(&prod);
    free(v);
}

static void test_add_sub_negate_plain_scalar(void **state)
{
    fixture *f = *state;
    int64_t *a = random_slots(f), *b = random_slots(f), *w = malloc(f->n * 8);
    cg_bfv_ct ca = {0}, cb = {0}, r = {0};
    cg_error err = {0};
    encrypt_vals(f, a, &ca, false);
    encrypt_vals(f, b, &cb, true);
    assert_int_equal(cg_bfv_add(f->ctx, &ca, &cb, &r, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = a[i] + b[i];
    check_decrypts_to(f, &r, w);
    check_noise(f, &r, 6, "add");
    assert_int_equal(cg_bfv_sub(f->ctx, &ca, &cb, &r, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = a[i] - b[i];
    check_decrypts_to(f, &r, w);
    assert_int_equal(cg_bfv_negate(f->ctx, &r, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = b[i] - a[i];
    check_decrypts_to(f, &r, w);
    cg_bfv_plain pb = {0};
    cg_bfv_encode_batch(f->ctx, b, f->n, &pb, &err);
    cg_bfv_ct_copy(f->ctx, &r, &ca, &err);
    assert_int_equal(cg_bfv_add_plain(f->ctx, &r, &pb, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = a[i] + b[i];
    check_decrypts_to(f, &r, w);
    assert_int_equal(cg_bfv_to_ntt(f->ctx, &r, NULL), CG_OK); /* also in NTT form */
    assert_int_equal(cg_bfv_sub_plain(f->ctx, &r, &pb, &err), CG_OK);
    assert_int_equal(cg_bfv_sub_plain(f->ctx, &r, &pb, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = a[i] - b[i];
    check_decrypts_to(f, &r, w);
    cg_bfv_ct_copy(f->ctx, &r, &ca, &err);
    assert_int_equal(cg_bfv_mul_scalar(f->ctx, &r, -12345, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = a[i] * -12345;
    check_decrypts_to(f, &r, w);
    check_noise(f, &r, 8, "scalar");
    /* mismatched forms are refused */
    assert_int_equal(cg_bfv_to_ntt(f->ctx, &cb, NULL), CG_OK);
    assert_int_equal(cg_bfv_add(f->ctx, &ca, &cb, &r, &err), CG_ERR_STATE);
    cg_bfv_plain_free(&pb);
    cg_bfv_ct_free(&ca);
    cg_bfv_ct_free(&cb);
    cg_bfv_ct_free(&r);
    free(a);
    free(b);
    free(w);
}

/* One product's operands: Enc(a) in NTT form (secret-key encryption when
 * sk, as encrypt_vals) and pt(b) in NTT form, for random slots a and b; adds times * a b to
 * want (centred mod t). */
static void product_pair(fixture *f, bool sk, int64_t times, cg_bfv_ct *ct, cg_bfv_plain_ntt *pt,
                         int64_t *want)
{
    cg_error err = {0};
    int64_t *a = random_slots(f), *b = random_slots(f);
    *ct = (cg_bfv_ct){0};
    *pt = (cg_bfv_plain_ntt){0};
    encrypt_vals(f, a, ct, sk);
    assert_int_equal(cg_bfv_to_ntt(f->ctx, ct, NULL), CG_OK);
    cg_bfv_plain pb = {0};
    cg_bfv_encode_batch(f->ctx, b, f->n, &pb, &err);
    assert_int_equal(cg_bfv_plain_to_ntt(f->ctx, &pb, cg_bfv_nq(f->ctx), pt, &err), CG_OK);
    cg_bfv_plain_free(&pb);
    for (size_t i = 0; i < f->n; i++)
        want[i] = centred(f->t, want[i] + (int64_t)((__int128)a[i] * b[i] * times % (int64_t)f->t));
    free(a);
    free(b);
}

static void test_mul_plain_and_mac(void **state)
{
    fixture *f = *state;
    enum { K = 24 };
    cg_bfv_ct cts[K];
    cg_bfv_plain_ntt pts[K];
    const cg_bfv_ct *cp[K];
    const cg_bfv_plain_ntt *pp[K];
    int64_t *want = calloc(f->n, sizeof *want);
    cg_error err = {0};
    for (int k = 0; k < K; k++) {
        product_pair(f, k & 1, 1, &cts[k], &pts[k], want);
        if (k == 0) {
            cg_bfv_ct one = {0};
            assert_int_equal(cg_bfv_mul_plain(f->ctx, &cts[0], &pts[0], &one, &err), CG_OK);
            check_decrypts_to(f, &one, want);
            check_noise(f, &one, 8, "mul_plain");
            cg_bfv_ct_free(&one);
        }
        cp[k] = &cts[k];
        pp[k] = &pts[k];
    }
    cg_bfv_ct acc = {0};
    assert_int_equal(cg_bfv_mac_plain(f->ctx, cp, pp, K, &acc, &err), CG_OK);
    check_decrypts_to(f, &acc, want);
    check_noise(f, &acc, 8, "mac x24");
    assert_int_equal(cg_bfv_from_ntt(f->ctx, &cts[0], NULL), CG_OK);
    assert_int_equal(cg_bfv_mac_plain(f->ctx, cp, pp, K, &acc, &err), CG_ERR_STATE);
    for (int k = 0; k < K; k++) {
        cg_bfv_ct_free(&cts[k]);
        cg_bfv_plain_ntt_free(&pts[k]);
    }
    cg_bfv_ct_free(&acc);
    free(want);
}

/* More inputs than one block of the AVX2 kernel (blocks summed through a
 * workspace), the result written over the first input: 300 products cycling
 * over three pairs decrypt to 100 times their sum. */
static void test_mac_many_inputs_aliased(void **state)
{
    fixture *f = *state;
    enum { D = 3, K = 300 };
    cg_bfv_ct cts[D], out = {0};
    cg_bfv_plain_ntt pts[D];
    const cg_bfv_ct *cp[K];
    const cg_bfv_plain_ntt *pp[K];
    int64_t *want = calloc(f->n, sizeof *want);
    cg_error err = {0};
    for (int k = 0; k < D; k++) product_pair(f, true, K / D, &cts[k], &pts[k], want);
    for (int k = 0; k < K; k++) cp[k] = &cts[k % D], pp[k] = &pts[k % D];
    assert_int_equal(cg_bfv_ct_copy(f->ctx, &out, &cts[0], &err), CG_OK);
    assert_int_equal(cg_bfv_mac_plain(f->ctx, cp, pp, K, &out, &err), CG_OK);
    check_decrypts_to(f, &out, want);
    assert_int_equal(cg_bfv_mac_plain(f->ctx, cp, pp, K, &cts[0], &err), CG_OK);
    assert_memory_equal(cts[0].data, out.data, 2 * cg_bfv_nq(f->ctx) * f->n * sizeof(uint64_t));
    for (int k = 0; k < D; k++) {
        cg_bfv_ct_free(&cts[k]);
        cg_bfv_plain_ntt_free(&pts[k]);
    }
    cg_bfv_ct_free(&out);
    free(want);
}

/* The context's product kernels (IFMA, AVX2 or portable, as this CPU and
 * CG_SIMD / CG_POLY_IFMA pick) give the portable kernels' words: a fused
 * product of 48 inputs (cg_poly_mac2 per prime row) and one product
 * (cg_poly_mul). */
static void test_mac_words_match_portable(void **state)
{
    fixture *f = *state;
    enum { K = 48 };
    cg_bfv_ct cts[K], out = {0}, one = {0};
    cg_bfv_plain_ntt pts[K];
    const cg_bfv_ct *cp[K];
    const cg_bfv_plain_ntt *pp[K];
    int64_t *want = calloc(f->n, sizeof *want);
    cg_error err = {0};
    for (int k = 0; k < K; k++) {
        product_pair(f, k & 1, 1, &cts[k], &pts[k], want);
        cp[k] = &cts[k], pp[k] = &pts[k];
    }
    assert_int_equal(cg_bfv_mac_plain(f->ctx, cp, pp, K, &out, &err), CG_OK);
    assert_int_equal(cg_bfv_mul_plain(f->ctx, &cts[0], &pts[0], &one, &err), CG_OK);
    const size_t n = f->n, L = cts[0].level, w = L * n;
    uint64_t *r0 = malloc(n * 8), *r1 = malloc(n * 8);
    const uint64_t *p0[K], *p1[K], *pb[K];
    for (size_t row = 0; row < L; row++) {
        const cg_modulus *m = &cg_bfv_q_ntt(f->ctx, row)->mod;
        for (int k = 0; k < K; k++)
            p0[k] = cts[k].data + row * n, p1[k] = p0[k] + w, pb[k] = pts[k].data + row * n;
        cg_poly_mac2(m, n, K, p0, p1, pb, r0, r1);
        assert_memory_equal(out.data + row * n, r0, n * 8);
        assert_memory_equal(out.data + w + row * n, r1, n * 8);
        for (size_t p = 0; p < 2; p++) {
            cg_poly_mul(m, 1, n, cts[0].data + p * w + row * n, pts[0].data + row * n, r0);
            assert_memory_equal(one.data + p * w + row * n, r0, n * 8);
        }
    }
    check_decrypts_to(f, &out, want);
    for (int k = 0; k < K; k++) {
        cg_bfv_ct_free(&cts[k]);
        cg_bfv_plain_ntt_free(&pts[k]);
    }
    cg_bfv_ct_free(&out);
    cg_bfv_ct_free(&one);
    free(r0);
    free(r1);
    free(want);
}

static void test_rotations(void **state)
{
    fixture *f = *state;
    const size_t half = f->n / 2;
    int steps[] = {1, 2, 4, 8, 16, 5, -3};
    cg_bfv_galois_keys gk;
    cg_error err = {0};
    assert_int_equal(cg_bfv_keygen_galois(f->ctx, &f->sk, steps, 7, true, &gk, &err), CG_OK);
    int64_t *a = random_slots(f), *w = malloc(f->n * 8);
    cg_bfv_ct ca = {0}, r = {0};
    encrypt_vals(f, a, &ca, false);
    const int tests[] = {1, 5, -3, 7 /* composed 1+2+4 */, 0};
    for (size_t k = 0; k < 5; k++) {
        int s = tests[k];
        assert_int_equal(cg_bfv_rotate_rows(f->ctx, &gk, &ca, s, &r, &err), CG_OK);
        for (size_t row = 0; row < 2; row++)
            for (size_t i = 0; i < half; i++)
                w[row * half + i] = a[row * half + ((i + (size_t)((s % (int)half) + (int)half)) % half)];
        check_decrypts_to(f, &r, w);
        if (s == 1) check_noise(f, &r, 8, "rotate");
    }
    assert_int_equal(cg_bfv_rotate_columns(f->ctx, &gk, &ca, &r, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = a[(i + half) % f->n];
    check_decrypts_to(f, &r, w);
    /* hoisted == one by one */
    int hs[] = {1, 2, 16, 5, 0};
    cg_bfv_ct outs[5] = {{0}};
    assert_int_equal(cg_bfv_rotate_hoisted(f->ctx, &gk, &ca, hs, 5, outs, &err), CG_OK);
    for (int k = 0; k < 5; k++) {
        for (size_t row = 0; row < 2; row++)
            for (size_t i = 0; i < half; i++) w[row * half + i] = a[row * half + (i + (size_t)hs[k]) % half];
        check_decrypts_to(f, &outs[k], w);
        cg_bfv_ct_free(&outs[k]);
    }
    int nokey[] = {3};
    assert_int_equal(cg_bfv_rotate_hoisted(f->ctx, &gk, &ca, nokey, 1, outs, &err), CG_ERR_STATE);
    /* mask-and-rotate: keep slots < 10 of row 0, rotate left by 1 */
    int64_t *mv = calloc(f->n, sizeof *mv);
    for (int i = 0; i < 10; i++) mv[i] = 1;
    cg_bfv_plain mp = {0};
    cg_bfv_plain_ntt mn = {0};
    cg_bfv_encode_batch(f->ctx, mv, f->n, &mp, &err);
    cg_bfv_plain_to_ntt(f->ctx, &mp, cg_bfv_nq(f->ctx), &mn, &err);
    assert_int_equal(cg_bfv_mask_rotate(f->ctx, &gk, &ca, &mn, 1, &r, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) w[i] = 0;
    for (size_t i = 0; i < 9; i++) w[i] = a[i + 1];
    w[half - 1] = a[0]; /* the row rotates cyclically */
    check_decrypts_to(f, &r, w);
    cg_bfv_plain_free(&mp);
    cg_bfv_plain_ntt_free(&mn);
    free(mv);
    cg_bfv_galois_free(&gk);
    cg_bfv_ct_free(&ca);
    cg_bfv_ct_free(&r);
    free(a);
    free(w);
}

static void test_multiply_relinearize(void **state)
{
    fixture *f = *state;
    cg_bfv_ksk rk = {0};
    cg_error err = {0};
    assert_int_equal(cg_bfv_keygen_relin(f->ctx, &f->sk, &rk, &err), CG_OK);
    int64_t *a = random_slots(f), *b = random_slots(f), *w = malloc(f->n * 8);
    cg_bfv_ct ca = {0}, cb = {0}, r = {0};
    encrypt_vals(f, a, &ca, false);
    encrypt_vals(f, b, &cb, true);
    assert_int_equal(cg_bfv_to_ntt(f->ctx, &cb, NULL), CG_OK); /* either form is accepted */
    assert_int_equal(cg_bfv_multiply(f->ctx, &ca, &cb, &r, &err), CG_OK);
    assert_int_equal(r.size, 3);
    for (size_t i = 0; i < f->n; i++) w[i] = (int64_t)((__int128)a[i] * b[i] % (int64_t)f->t);
    check_decrypts_to(f, &r, w);
    check_noise(f, &r, 10, "multiply");
    assert_int_equal(cg_bfv_relinearize(f->ctx, &rk, &r, &err), CG_OK);
    assert_int_equal(r.size, 2);
    check_decrypts_to(f, &r, w);
    check_noise(f, &r, 10, "relinearize");
    cg_bfv_ksk_free(&rk);
    cg_bfv_ct_free(&ca);
    cg_bfv_ct_free(&cb);
    cg_bfv_ct_free(&r);
    free(a);
    free(b);
    free(w);
}

static void test_mod_switch_and_flooding(void **state)
{
    fixture *f = *state;
    int64_t *a = random_slots(f), *w = malloc(f->n * 8);
    cg_bfv_ct ca = {0};
    cg_error err = {0};
    encrypt_vals(f, a, &ca, false);
    assert_int_equal(cg_bfv_mod_switch_to(f->ctx, &ca, 1, &err), CG_OK);
    assert_int_equal(ca.level, 1);
    check_decrypts_to(f, &ca, a);
    check_noise(f, &ca, 8, "mod switch");
    assert_int_equal(cg_bfv_mod_switch_down(f->ctx, &ca, &err), CG_ERR_STATE);
    cg_bfv_ct_free(&ca);
    /* HE -> shares: decrypt(masked) + mask == a, at one prime */
    encrypt_vals(f, a, &ca, false);
    cg_bfv_plain mask = {0}, dec = {0};
    assert_int_equal(cg_bfv_mask_and_flood(f->ctx, &f->pk, &ca, 30, &mask, &err), CG_ERR_PARAM);
    assert_int_equal(cg_bfv_mask_and_flood(f->ctx, &f->pk, &ca, 40, &mask, &err), CG_OK);
    assert_int_equal(ca.level, 1);
    assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &ca, &dec, &err), CG_OK);
    for (size_t j = 0; j < f->n; j++) dec.coeffs[j] = (dec.coeffs[j] + mask.coeffs[j]) % f->t;
    int64_t *got = malloc(f->n * 8);
    cg_bfv_decode_batch(f->ctx, &dec, got, &err);
    for (size_t i = 0; i < f->n; i++) assert_int_equal(got[i], centred(f->t, a[i]));
    /* the mask is spread over all coefficients (so over all slots) */
    size_t zero = 0;
    for (size_t j = 0; j < f->n; j++) zero += mask.coeffs[j] == 0;
    assert_true(zero < 8);
    cg_bfv_plain_free(&mask);
    cg_bfv_plain_free(&dec);
    cg_bfv_ct_free(&ca);
    free(a);
    free(w);
    free(got);
}

static void test_hybrid_key_switching_digits(void **state)
{
    (void)state;
    cg_bfv_spec s = {.n = 2048, .nq = 4, .q_bits = {40, 40, 40, 40}, .np = 2, .p_bits = {41, 41},
                     .t_bits = 20, .dnum = 2, .insecure_for_tests = true};
    fixture f = {0};
    cg_error err = {0};
    assert_int_equal(cg_bfv_ctx_new(&f.ctx, &s, &err), CG_OK);
    assert_int_equal(cg_bfv_keygen(f.ctx, &f.sk, &f.pk, &err), CG_OK);
    f.n = cg_bfv_n(f.ctx);
    f.t = cg_bfv_t(f.ctx);
    cg_prg_init_random(&f.prg);
    cg_bfv_ksk rk = {0};
    int step = 3;
    cg_bfv_galois_keys gk = {0};
    assert_int_equal(cg_bfv_keygen_relin(f.ctx, &f.sk, &rk, &err), CG_OK);
    assert_int_equal(rk.dnum, 2);
    assert_int_equal(cg_bfv_keygen_galois(f.ctx, &f.sk, &step, 1, false, &gk, &err), CG_OK);
    int64_t *a = random_slots(&f), *w = malloc(f.n * 8);
    cg_bfv_ct ca = {0}, r = {0};
    encrypt_vals(&f, a, &ca, false);
    assert_int_equal(cg_bfv_multiply(f.ctx, &ca, &ca, &r, &err), CG_OK);
    assert_int_equal(cg_bfv_relinearize(f.ctx, &rk, &r, &err), CG_OK);
    for (size_t i = 0; i < f.n; i++) w[i] = (int64_t)((__int128)a[i] * a[i] % (int64_t)f.t);
    check_decrypts_to(&f, &r, w);
    check_noise(&f, &r, 10, "relin dnum=2");
    assert_int_equal(cg_bfv_rotate_rows(f.ctx, &gk, &ca, 3, &r, &err), CG_OK);
    for (size_t row = 0; row < 2; row++)
        for (size_t i = 0; i < f.n / 2; i++) w[row * f.n / 2 + i] = a[row * f.n / 2 + (i + 3) % (f.n / 2)];
    check_decrypts_to(&f, &r, w);
    check_noise(&f, &r, 10, "rotate dnum=2");
    cg_bfv_ksk_free(&rk);
    cg_bfv_galois_free(&gk);
    cg_bfv_ct_free(&ca);
    cg_bfv_ct_free(&r);
    cg_bfv_sk_free(&f.sk);
    cg_bfv_pk_free(&f.pk);
    cg_bfv_ctx_free(f.ctx);
    free(a);
    free(w);
}

static int setup_paper_r50(void **state) { return setup_spec_r(state, "paper", 50); }
static int setup_paper_r60(void **state) { return setup_spec_r(state, "paper", 60); }

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_parameters_and_security),
        cmocka_unit_test(test_encrypt_decrypt_and_encoders),
        cmocka_unit_test(test_add_sub_negate_plain_scalar),
        cmocka_unit_test(test_mul_plain_and_mac), cmocka_unit_test(test_mac_many_inputs_aliased),
        cmocka_unit_test(test_mac_words_match_portable),
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_multiply_relinearize),
        cmocka_unit_test(test_mod_switch_and_flooding),
        cmocka_unit_test(test_hybrid_key_switching_digits),
    };
    const struct CMUnitTest paper[] = {
        cmocka_unit_test(test_encrypt_decrypt_and_encoders),
        cmocka_unit_test(test_mul_plain_and_mac),
        cmocka_unit_test(test_mac_words_match_portable),
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_multiply_relinearize),
        cmocka_unit_test(test_mod_switch_and_flooding),
    };
    /* both widths of ct x ct's auxiliary primes, whatever this CPU picks */
    const struct CMUnitTest mul[] = {cmocka_unit_test(test_multiply_relinearize)};
    int fails = cmocka_run_group_tests_name("bfv_test2048", small, setup_small, teardown);
    fails += cmocka_run_group_tests_name("bfv_paper_r50", mul, setup_paper_r50, teardown);
    fails += cmocka_run_group_tests_name("bfv_paper_r60", mul, setup_paper_r60, teardown);
    fails += cmocka_run_group_tests_name("bfv_paper_n8192", paper, setup_paper, teardown);
    return fails;
}
