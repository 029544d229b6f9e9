/* BFV serialisation: every object round-trips, seeded ciphertexts are
 * about half the size, and malformed or mismatched bytes are refused. */
#include "bfv_fixture.h"

static void test_serialization_roundtrip_and_rejection(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    int64_t *a = random_slots(f);
    /* seeded fresh sk ciphertext is about half the size of a pk one */
    cg_bfv_ct cs = {0}, cp = {0}, back = {0};
    encrypt_vals(f, a, &cs, true);
    encrypt_vals(f, a, &cp, false);
    cg_buf bs, bp;
    cg_buf_init(&bs);
    cg_buf_init(&bp);
    assert_int_equal(cg_bfv_ct_serialize(f->ctx, &cs, &bs, &err), CG_OK);
    assert_int_equal(cg_bfv_ct_serialize(f->ctx, &cp, &bp, &err), CG_OK);
    printf("# ciphertext bytes: seeded %zu, pk %zu\n", bs.len, bp.len);
    assert_true(bs.len * 10 < bp.len * 6);
    assert_int_equal(cg_bfv_ct_deserialize(f->ctx, bs.data, bs.len, &back, &err), CG_OK);
    check_decrypts_to(f, &back, a);
    assert_memory_equal(back.data, cs.data, 2 * cs.level * f->n * 8);
    assert_int_equal(cg_bfv_ct_deserialize(f->ctx, bp.data, bp.len, &back, &err), CG_OK);
    check_decrypts_to(f, &back, a);
    /* every truncation, one extra byte, and a flipped header byte are refused */
    for (size_t cut = 0; cut < bs.len; cut += (cut < 64 ? 1 : 97))
        assert_int_not_equal(cg_bfv_ct_deserialize(f->ctx, bs.data, cut, &back, &err), CG_OK);
    cg_buf_put_u8(&bs, 0);
    assert_int_equal(cg_bfv_ct_deserialize(f->ctx, bs.data, bs.len, &back, &err), CG_ERR_FORMAT);
    bs.len--;
    for (size_t pos = 0; pos < 43; pos++) { /* header, size, level, flags */
        bs.data[pos] ^= 0x40;
        assert_int_not_equal(cg_bfv_ct_deserialize(f->ctx, bs.data, bs.len, &back, &err), CG_OK);
        bs.data[pos] ^= 0x40;
    }
    /* an unreduced coefficient is refused */
    memset(bp.data + 47, 0xff, 16);
    assert_int_equal(cg_bfv_ct_deserialize(f->ctx, bp.data, bp.len, &back, &err), CG_ERR_FORMAT);
    /* public key, relinearisation and Galois keys round trip */
    cg_buf b;
    cg_buf_init(&b);
    cg_bfv_pk pk2 = {0};
    assert_int_equal(cg_bfv_pk_serialize(f->ctx, &f->pk, &b, &err), CG_OK);
    assert_int_equal(cg_bfv_pk_deserialize(f->ctx, b.data, b.len, &pk2, &err), CG_OK);
    assert_memory_equal(pk2.data, f->pk.data, 2 * cg_bfv_nq(f->ctx) * f->n * 8);
    assert_int_not_equal(cg_bfv_pk_deserialize(f->ctx, b.data, b.len - 1, &pk2, &err), CG_OK);
    assert_int_equal(cg_bfv_ct_deserialize(f->ctx, b.data, b.len, &back, &err), CG_ERR_FORMAT);
    cg_bfv_pk_free(&pk2);
    cg_buf_reset(&b);
    int steps[] = {1, 3};
    cg_bfv_galois_keys gk = {0}, gk2 = {0};
    assert_int_equal(cg_bfv_keygen_galois(f->ctx, &f->sk, steps, 2, true, &gk, &err), CG_OK);
    assert_int_equal(cg_bfv_galois_serialize(f->ctx, &gk, &b, &err), CG_OK);
    assert_int_equal(cg_bfv_galois_deserialize(f->ctx, b.data, b.len, &gk2, &err), CG_OK);
    cg_bfv_ct rot = {0};
    assert_int_equal(cg_bfv_rotate_rows(f->ctx, &gk2, &cp, 3, &rot, &err), CG_OK);
    int64_t *w = malloc(f->n * 8);
    for (size_t row = 0; row < 2; row++)
        for (size_t i = 0; i < f->n / 2; i++) w[row * f->n / 2 + i] = a[row * f->n / 2 + (i + 3) % (f->n / 2)];
    check_decrypts_to(f, &rot, w);
    assert_int_not_equal(cg_bfv_galois_deserialize(f->ctx, b.data, b.len - 5, &gk2, &err), CG_OK);
    /* count field claiming far more keys than the bytes hold */
    b.data[40] = 0xff;
    assert_int_equal(cg_bfv_galois_deserialize(f->ctx, b.data, b.len, &gk2, &err), CG_ERR_FORMAT);
    cg_buf_reset(&b);
    cg_bfv_ksk rk = {0}, rk2 = {0};
    assert_int_equal(cg_bfv_keygen_relin(f->ctx, &f->sk, &rk, &err), CG_OK);
    assert_int_equal(cg_bfv_ksk_serialize(f->ctx, &rk, &b, &err), CG_OK);
    printf("# relinearisation key bytes %zu (seeded)\n", b.len);
    assert_int_equal(cg_bfv_ksk_deserialize(f->ctx, b.data, b.len, &rk2, &err), CG_OK);
    assert_memory_equal(rk.data, rk2.data, 2 * rk.dnum * (cg_bfv_nq(f->ctx) + 1) * f->n * 8);
    /* plaintext and secret key round trip */
    cg_bfv_plain pa = {0}, pa2 = {0};
    cg_bfv_encode_batch(f->ctx, a, f->n, &pa, &err);
    cg_buf_reset(&b);
    assert_int_equal(cg_bfv_plain_serialize(f->ctx, &pa, &b, &err), CG_OK);
    assert_int_equal(cg_bfv_plain_deserialize(f->ctx, b.data, b.len, &pa2, &err), CG_OK);
    assert_memory_equal(pa.coeffs, pa2.coeffs, f->n * 8);
    assert_int_not_equal(cg_bfv_plain_deserialize(f->ctx, b.data, b.len - 1, &pa2, &err), CG_OK);
    cg_buf_reset(&b);
    cg_bfv_sk sk2 = {0};
    assert_int_equal(cg_bfv_sk_serialize(f->ctx, &f->sk, &b, &err), CG_OK);
    assert_int_equal(b.len, 40 + f->n / 4);
    assert_int_equal(cg_bfv_sk_deserialize(f->ctx, b.data, b.len, &sk2, &err), CG_OK);
    assert_memory_equal(sk2.s_ntt, f->sk.s_ntt, (cg_bfv_nq(f->ctx) + 1) * f->n * 8);
    b.data[40] = 0xff; /* coefficient code 3 is invalid */
    assert_int_equal(cg_bfv_sk_deserialize(f->ctx, b.data, b.len, &sk2, &err), CG_ERR_FORMAT);
    cg_bfv_sk_free(&sk2);
    cg_bfv_plain_free(&pa);
    cg_bfv_plain_free(&pa2);
    /* objects from other parameters are refused */
    cg_bfv_spec s;
    cg_bfv_ctx *other = NULL;
    cg_bfv_preset("n4096", &s, &err);
    assert_int_equal(cg_bfv_ctx_new(&other, &s, &err), CG_OK);
    assert_int_equal(cg_bfv_ct_deserialize(other, bp.data, bp.len, &back, &err), CG_ERR_PARAM);
    cg_bfv_ctx_free(other);
    cg_bfv_ksk_free(&rk);
    cg_bfv_ksk_free(&rk2);
    cg_bfv_galois_free(&gk);
    cg_bfv_galois_free(&gk2);
    cg_bfv_ct_free(&rot);
    cg_buf_free(&b);
    cg_buf_free(&bs);
    cg_buf_free(&bp);
    cg_bfv_ct_free(&cs);
    cg_bfv_ct_free(&cp);
    cg_bfv_ct_free(&back);
    free(a);
    free(w);
}

/* Hybrid key switching with 2 digits of 2 primes each (not one per prime). */

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_serialization_roundtrip_and_rejection),
    };
    return cmocka_run_group_tests_name("bfv_serialize_test2048", small, setup_small, teardown);
}
