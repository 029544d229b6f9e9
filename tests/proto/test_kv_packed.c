/* Decode's p.V with packed probabilities (kv_split.h, PROTOCOL.md "Packed
 * probabilities"), at the HE level with t = 2^37: for several cache
 * geometries and odd lengths (partial last blocks, pack capped by d_head so
 * that a row takes two input ciphertexts, pack 1 when P B does not divide n)
 * the pack outputs plus both local terms give p.V exactly, and the server's
 * mask and flood cover every coefficient of every output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/he_fixture.h"
#include "proto/kv_split.h"

enum { L = 37 };
static const uint64_t MASK = (1ull << L) - 1;

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x & MASK;
}

/* Enc(co); to_ntt: in NTT form, as the cache's appends are kept. */
static void encrypt_layout(const he_fixture *f, const uint64_t *co, bool to_ntt, cg_bfv_ct *ct)
{
    cg_error err = {0};
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->c, (const int64_t *)co, f->n, &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_pk(f->c, &f->pk, &pt, ct, &err), CG_OK);
    if (to_ntt) assert_int_equal(cg_bfv_to_ntt(f->c, ct, &err), CG_OK);
    cg_bfv_plain_free(&pt);
}

/* Masks and floods ct as the server does; dec and srv get the client's and
 * the server's shares, which add up to the product at every coefficient;
 * the mask changes (nearly) every coefficient. */
static void mask_check(const he_fixture *f, cg_bfv_ct *ct, uint64_t *dec, uint64_t *srv)
{
    cg_error err = {0};
    cg_bfv_plain want = {0}, got = {0}, r = {0};
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &want, &err), CG_OK);
    assert_int_equal(cg_bfv_mask_and_flood(f->c, &f->pk, ct, 57, &r, &err), CG_OK);
    double noise, budget;
    assert_int_equal(cg_bfv_noise_measure(f->c, &f->sk, ct, &noise, &budget, &err), CG_OK);
    assert_true(budget > 0);
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &got, &err), CG_OK);
    size_t unmasked = 0;
    for (size_t i = 0; i < f->n; i++) {
        const uint64_t g = got.coeffs[i] & MASK;
        assert_int_equal((g + r.coeffs[i]) & MASK, want.coeffs[i] & MASK);
        unmasked += g == (want.coeffs[i] & MASK);
        dec[i] = g, srv[i] = r.coeffs[i] & MASK;
    }
    assert_true(unmasked <= 1);
    cg_bfv_plain_free(&want);
    cg_bfv_plain_free(&got);
    cg_bfv_plain_free(&r);
}

/* One head of block B and d_head dh over len positions: the row's outputs
 * as attention.c takes them; want_pack and want_ni: the layout's choice. */
static void packed_case(size_t dh, size_t B, size_t len, size_t want_pack, size_t want_ni)
{
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, f.n, dh, B, &err), CG_OK);
    const size_t nb = kv_blocks_for(&g, len), pack = kv_split_pack(&g, nb), ni = kv_split_prob_cts(&g, nb);
    fprintf(stderr, "  d_head %zu, B %zu, len %zu: %zu blocks, pack %zu, %zu inputs\n", dh, B, len, nb, pack, ni);
    assert_int_equal(pack, want_pack);
    assert_int_equal(ni, want_ni);
    kv_cache cache;
    kv_shares kc, ks;
    assert_int_equal(kv_cache_init(&cache, &g, 1, 1, nb, &err), CG_OK);
    assert_int_equal(kv_shares_init(&kc, &g, 1, 1, nb, &err), CG_OK);
    assert_int_equal(kv_shares_init(&ks, &g, 1, 1, nb, &err), CG_OK);
    uint64_t x = 0x2545f4914f6cdd1dull ^ len;
    uint64_t *V = calloc(len * dh, sizeof *V), *p = calloc(len, sizeof *p), *pc = calloc(len, sizeof *pc),
             *ps = calloc(len, sizeof *ps), *c = calloc(dh, sizeof *c), *s = calloc(dh, sizeof *s);
    uint64_t *co = calloc(f.n, sizeof *co), *dec = calloc(f.n, sizeof *dec), *srv = calloc(f.n, sizeof *srv);
    assert_true(V && p && pc && ps && c && s && co && dec && srv);
    /* the client's V shares into the cache one block at a time */
    for (size_t b = 0; b < nb; b++) {
        memset(co, 0, f.n * sizeof *co);
        for (size_t pos = b * B; pos < len && pos < (b + 1) * B; pos++) {
            for (size_t i = 0; i < dh; i++) {
                V[pos * dh + i] = next(&x) & 0xffff;
                c[i] = next(&x), s[i] = (V[pos * dh + i] - c[i]) & MASK;
            }
            assert_int_equal(kv_shares_put(&kc, KV_VALUE, 0, 0, pos, c, &err), CG_OK);
            assert_int_equal(kv_shares_put(&ks, KV_VALUE, 0, 0, pos, s, &err), CG_OK);
            kv_place_value(&g, pos, c, co);
        }
        cg_bfv_ct ct = {0};
        encrypt_layout(&f, co, true, &ct);
        assert_int_equal(kv_cache_append(&cache, f.c, KV_VALUE, 0, 0, b * B, &ct, &err), CG_OK);
        cg_bfv_ct_free(&ct);
    }
    for (size_t j = 0; j < len; j++) p[j] = next(&x) & 0xfff, pc[j] = next(&x), ps[j] = (p[j] - pc[j]) & MASK;
    cg_bfv_ct *in = calloc(ni, sizeof *in), *out = calloc(pack, sizeof *out);
    assert_true(in && out);
    for (size_t k = 0; k < ni; k++) {
        kv_split_layout_packed(&g, pack, k, pc, len, co);
        encrypt_layout(&f, co, false, &in[k]);
    }
    kv_scratch sc;
    assert_int_equal(kv_scratch_init(&sc, f.c, nb + ni, &err), CG_OK);
    assert_int_equal(kv_split_packed_row(&cache, &ks, f.c, L, 0, 0, len, ps, in, &sc, out, &err), CG_OK);
    uint64_t *o_c = calloc(dh, sizeof *o_c), *o_s = calloc(dh, sizeof *o_s);
    uint8_t *used = calloc(f.n, 1);
    assert_true(o_c && o_s && used);
    for (size_t m = 0; m < pack; m++) {
        mask_check(&f, &out[m], dec, srv);
        kv_split_take_packed(&g, pack, m, dec, o_c);
        kv_split_take_packed(&g, pack, m, srv, o_s);
        kv_split_keep_packed(&g, pack, m, used);
    }
    size_t kept = 0; /* every output dimension read exactly once over the outputs */
    for (size_t i = 0; i < f.n; i++) kept += used[i];
    assert_int_equal(kept, dh);
    kv_split_local_output(&kc, 0, 0, pc, len, MASK, o_c);
    kv_split_local_output(&ks, 0, 0, ps, len, MASK, o_s);
    for (size_t i = 0; i < dh; i++) {
        uint64_t want = 0;
        for (size_t j = 0; j < len; j++) want += p[j] * V[j * dh + i];
        assert_int_equal((o_c[i] + o_s[i]) & MASK, want & MASK);
    }
    for (size_t k = 0; k < ni; k++) cg_bfv_ct_free(&in[k]);
    for (size_t m = 0; m < pack; m++) cg_bfv_ct_free(&out[m]);
    free(in), free(out), free(o_c), free(o_s), free(used);
    free(V), free(p), free(pc), free(ps), free(c), free(s), free(co), free(dec), free(srv);
    kv_scratch_free(&sc);
    kv_shares_free(&kc);
    kv_shares_free(&ks);
    kv_cache_free(&cache);
    he_teardown(&f);
}

/* GPT-2 base geometry (n 8192, d_head 64, B 128): pack 1 up to three
 * blocks, then 2 (time: an output costs more than an input), never more
 * bytes than the per-block layout. */
static void test_pack_choice(void **state)
{
    (void)state;
    cg_error err = {0};
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, 8192, 64, 128, &err), CG_OK);
    const size_t want[9] = {0, 1, 1, 1, 2, 2, 2, 2, 2}, want_in[9] = {0, 1, 2, 3, 2, 3, 3, 4, 4};
    for (size_t nb = 1; nb <= 8; nb++) {
        const size_t p = kv_split_pack(&g, nb), in = kv_split_prob_cts(&g, nb);
        assert_int_equal(p, want[nb]);
        assert_int_equal(in, want_in[nb]);
        assert_true(KV_PACK_IN_BYTES * in + KV_PACK_OUT_BYTES * p <= KV_PACK_IN_BYTES * nb + KV_PACK_OUT_BYTES);
    }
    assert_int_equal(kv_layout_init(&g, 8192, 64, 96, &err), CG_OK); /* 2 x 96 does not divide n */
    assert_int_equal(kv_split_pack(&g, 5), 1);
    assert_int_equal(kv_split_prob_cts(&g, 5), 5);
}

/* Odd length, five blocks of 128 at d_head 64: pack 2, three inputs, the
 * last with one of its blocks empty and one partial. */
static void test_packed_gpt2_geometry(void **state)
{
    (void)state;
    packed_case(64, 128, 557, 2, 3);
}

/* Four blocks of 128, the last partial: pack 2, two inputs. */
static void test_packed_gpt2_four_blocks(void **state)
{
    (void)state;
    packed_case(64, 128, 451, 2, 2);
}

/* Sixteen blocks of 16: pack 4 (four inputs), the last block partial. */
static void test_packed_small_blocks(void **state)
{
    (void)state;
    packed_case(64, 16, 250, 4, 4);
}

/* d_head 2 caps pack at 2: twenty-one blocks go in eleven inputs. */
static void test_packed_two_inputs(void **state)
{
    (void)state;
    packed_case(2, 64, 1301, 2, 11);
}

/* B = 96: no pack above 1, one input per block (the per-block layout). */
static void test_packed_unpackable_block(void **state)
{
    (void)state;
    packed_case(64, 96, 450, 1, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_choice),
        cmocka_unit_test(test_packed_gpt2_geometry),
        cmocka_unit_test(test_packed_gpt2_four_blocks),
        cmocka_unit_test(test_packed_small_blocks),
        cmocka_unit_test(test_packed_two_inputs),
        cmocka_unit_test(test_packed_unpackable_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
