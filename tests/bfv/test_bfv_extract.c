/* Extracted ciphertexts (c1 and c0 at some positions, low bits dropped):
 * at generation's parameters (paper set, t = 2^37, coefficient encoding) a
 * product that was masked and flooded decrypts at every kept position after
 * the round trip, the reply is a fraction of the full one, and malformed
 * bytes are refused. */
#include "bfv_fixture.h"

static int setup_gen(void **state)
{
    cg_bfv_spec spec;
    if (cg_bfv_preset("paper", &spec, NULL) != CG_OK) return -1;
    spec.t = 1ull << 37;
    return setup_with_spec(state, &spec);
}

/* Enc(x) times a plaintext of norm 2^36 (a share), masked and flooded with
 * stat bits as a session's reply; x, the product and the mask out. */
static void flooded_product(fixture *f, unsigned stat, cg_bfv_ct *ct, int64_t *want,
                            cg_bfv_plain *mask)
{
    cg_error err = {0};
    const size_t n = f->n;
    int64_t *x = malloc(n * 8), *w = calloc(n, 8);
    for (size_t j = 0; j < n; j++) x[j] = (int64_t)cg_prg_uniform(&f->prg, f->t);
    for (size_t j = 0; j < 64; j++) w[j] = (int64_t)cg_prg_uniform(&f->prg, f->t) - (int64_t)(f->t / 2);
    cg_bfv_plain pt = {0}, pw = {0};
    cg_bfv_plain_ntt wn = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, x, n, &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, w, n, &pw, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_sk(f->ctx, &f->sk, &pt, ct, &err), CG_OK);
    assert_int_equal(cg_bfv_plain_to_ntt(f->ctx, &pw, cg_bfv_nq(f->ctx), &wn, &err), CG_OK);
    assert_int_equal(cg_bfv_to_ntt(f->ctx, ct, &err), CG_OK);
    assert_int_equal(cg_bfv_mul_plain_inplace(f->ctx, ct, &wn, &err), CG_OK);
    /* the product, negacyclic, mod t */
    const uint64_t m = f->t - 1;
    for (size_t k = 0; k < n; k++) {
        uint64_t acc = 0;
        for (size_t j = 0; j < 64; j++) {
            const size_t i = (k + n - j) % n;
            const uint64_t p = (uint64_t)x[i] * (uint64_t)w[j];
            acc += k >= j ? p : 0 - p;
        }
        want[k] = (int64_t)(acc & m);
    }
    assert_int_equal(cg_bfv_mask_and_flood(f->ctx, &f->pk, ct, stat, mask, &err), CG_OK);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&pw);
    cg_bfv_plain_ntt_free(&wn);
    free(x);
    free(w);
}

static void test_extract_decrypts_at_positions(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    const size_t n = f->n;
    int64_t *want = malloc(n * 8);
    uint32_t *pos = malloc(n * sizeof *pos);
    cg_bfv_ct ct = {0}, back = {0};
    cg_bfv_plain mask = {0}, dec = {0};
    cg_buf full, ex;
    cg_buf_init(&full);
    cg_buf_init(&ex);
    for (unsigned stat = 40; stat <= 58; stat += 18) {
        flooded_product(f, stat, &ct, want, &mask);
        assert_int_equal(ct.level, 2);
        const unsigned fail = 2 * stat - 40;
        const unsigned drop = cg_bfv_extract_drop_bits(f->ctx, &ct, fail);
        const double after = cg_bfv_extract_noise_log2(f->ctx, &ct, drop, fail);
        printf("# stat %u: noise 2^%.1f, drop %u bits -> 2^%.1f of 2^%.1f\n", stat, ct.noise_log2,
               drop, after, cg_bfv_log2_q(f->ctx, 2));
        assert_true(drop >= 30);
        assert_true(cg_bfv_log2_q(f->ctx, 2) - 1 - after >= CG_BFV_EXTRACT_MARGIN_BITS);
        assert_true(cg_bfv_log2_q(f->ctx, 2) - 1 - cg_bfv_extract_noise_log2(f->ctx, &ct, drop + 1, fail) <
                    CG_BFV_EXTRACT_MARGIN_BITS);
        /* a sparse set (every 61st), a dense one (all), none */
        const size_t steps[3] = {61, 1, 0};
        for (int v = 0; v < 3; v++) {
            size_t np = 0;
            for (size_t j = 0; steps[v] && j < n; j += steps[v]) pos[np++] = (uint32_t)j;
            for (unsigned d = 0; d <= drop; d += drop) {
                cg_buf_reset(&full);
                cg_buf_reset(&ex);
                assert_int_equal(cg_bfv_ct_serialize(f->ctx, &ct, &full, &err), CG_OK);
                assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, pos, np, d, &ex, &err), CG_OK);
                if (v == 0) printf("#   %zu positions, drop %u: %zu bytes (full %zu)\n", np, d, ex.len, full.len);
                if (v == 0 && d) assert_true(ex.len * 3 < full.len);
                assert_int_equal(cg_bfv_ct_deserialize_any(f->ctx, ex.data, ex.len, &back, &err), CG_OK);
                assert_int_equal(back.level, 2);
                assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &back, &dec, &err), CG_OK);
                if (v == 1) { /* every position kept: the measured noise is all of it */
                    double measured, budget;
                    assert_int_equal(cg_bfv_noise_measure(f->ctx, &f->sk, &back, &measured, &budget, &err), CG_OK);
                    printf("#   drop %u: measured noise 2^%.1f, bound 2^%.1f\n", d, measured,
                           cg_bfv_extract_noise_log2(f->ctx, &ct, d, fail));
                    assert_true(measured <= cg_bfv_extract_noise_log2(f->ctx, &ct, d, fail));
                }
                check_unmasks_to(f, &dec, &mask, want, pos, np);
            }
        }
    }
    /* the full form still reads through deserialize_any */
    assert_int_equal(cg_bfv_ct_deserialize_any(f->ctx, full.data, full.len, &back, &err), CG_OK);
    assert_memory_equal(back.data, ct.data, 2 * ct.level * n * 8);
    cg_buf_free(&full);
    cg_buf_free(&ex);
    cg_bfv_ct_free(&ct);
    cg_bfv_ct_free(&back);
    cg_bfv_plain_free(&mask);
    cg_bfv_plain_free(&dec);
    free(want);
    free(pos);
}

static void test_extract_rejects_malformed(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    const size_t n = f->n;
    int64_t *want = malloc(n * 8);
    cg_bfv_ct ct = {0}, back = {0};
    cg_bfv_plain mask = {0};
    flooded_product(f, 40, &ct, want, &mask);
    const unsigned drop = cg_bfv_extract_drop_bits(f->ctx, &ct, 40);
    uint32_t pos[3] = {5, 9, 700}, bad[3] = {5, 5, 700}, big[1] = {(uint32_t)n};
    cg_buf b;
    cg_buf_init(&b);
    /* the writer refuses what the reader would */
    assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, bad, 3, drop, &b, &err), CG_ERR_ARG);
    assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, big, 1, drop, &b, &err), CG_ERR_ARG);
    assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, pos, 3, 88, &b, &err), CG_ERR_ARG);
    assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, pos, 3, 20, &b, &err), CG_ERR_ARG); /* 68 bits */
    cg_buf_reset(&b);
    assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, pos, 3, drop, &b, &err), CG_OK);
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_OK);
    /* every truncation and one extra byte */
    for (size_t cut = 0; cut < b.len; cut += (cut < 64 ? 1 : 97))
        assert_int_not_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, cut, &back, &err), CG_OK);
    assert_null(back.data);
    cg_buf_put_u8(&b, 0);
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_ERR_FORMAT);
    b.len--;
    /* header fields: level 0 and 3 (drop needs <= 2), drop 0 (then the
     * length is wrong), drop 64, a count above n, a full ciphertext's type */
    const size_t at_level = 40, at_drop = 41, at_count = 42;
    const uint8_t levels[2] = {0, 3}, drops[2] = {0, 64};
    for (int k = 0; k < 2; k++) {
        const uint8_t keep = b.data[at_level];
        b.data[at_level] = levels[k];
        assert_int_not_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_OK);
        b.data[at_level] = keep;
        const uint8_t kd = b.data[at_drop];
        b.data[at_drop] = drops[k];
        assert_int_not_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_OK);
        b.data[at_drop] = kd;
    }
    b.data[at_count + 3] = 0x7f;
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_ERR_FORMAT);
    b.data[at_count + 3] = 0;
    assert_int_equal(cg_bfv_ct_deserialize(f->ctx, b.data, b.len, &back, &err), CG_ERR_FORMAT);
    /* positions not increasing: swap the packed 5 and 9 (13 bits each) */
    cg_buf w;
    cg_buf_init(&w);
    const uint64_t swapped[3] = {9, 5, 700};
    cg_buf_put(&w, b.data, at_count + 4);
    cg_buf_put_packed(&w, swapped, 3, 13);
    const size_t body = w.len; /* where the first c1 value starts */
    cg_buf_put(&w, b.data + body, b.len - body);
    assert_int_equal(w.len, b.len);
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, w.data, w.len, &back, &err), CG_ERR_FORMAT);
    /* a coefficient above the writer's largest: all ones in the last value */
    memset(b.data + b.len - 6, 0xff, 6);
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_ERR_FORMAT);
    /* without dropped bits: an unreduced RNS coefficient */
    cg_buf_reset(&b);
    assert_int_equal(cg_bfv_ct_serialize_extract(f->ctx, &ct, pos, 3, 0, &b, &err), CG_OK);
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_OK);
    memset(b.data + 60, 0xff, 11);
    assert_int_equal(cg_bfv_ct_deserialize_extract(f->ctx, b.data, b.len, &back, &err), CG_ERR_FORMAT);
    cg_buf_free(&w);
    cg_buf_free(&b);
    cg_bfv_ct_free(&ct);
    cg_bfv_plain_free(&mask);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extract_decrypts_at_positions, setup_gen, teardown),
        cmocka_unit_test_setup_teardown(test_extract_rejects_malformed, setup_gen, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
