/* The share-split KV cache (kv_split.h) at the HE level, t = 2^37 as the
 * protocol uses: the cross terms plus both local terms give q.K and p.V
 * exactly; the server's mask covers every coefficient the new ct x pt
 * products return and the flooding sits the session's bits above what it
 * hides; at GPT-2 base, L = 1024 (the worst case: eight V blocks of 128
 * appends, uniform shares as plaintexts) the flooded product still decrypts
 * and leaves at the same two primes as the ct x ct one, so replies keep
 * their size. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/kv_split.h"
#include "proto/he_fixture.h"
#include "proto/proto_internal.h"

enum { L = 37, DH = 64 };
static const uint64_t MASK = (1ull << L) - 1;

/* A fixed xorshift stream: uniform shares mod 2^l, reproducible. */
static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x & MASK;
}

/* Enc(co) in NTT form, as the client's appends arrive at the server. */
static void encrypt_layout(const he_fixture *f, const uint64_t *co, cg_bfv_ct *ct)
{
    cg_error err = {0};
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->c, (const int64_t *)co, f->n, &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_pk(f->c, &f->pk, &pt, ct, &err), CG_OK);
    assert_int_equal(cg_bfv_to_ntt(f->c, ct, &err), CG_OK);
    cg_bfv_plain_free(&pt);
}

/* The operands of a split product from a query (block SIZE_MAX) or from
 * block `block` of probabilities over len positions: the client's share
 * laid out and encrypted into *ct, the server's laid out and encoded into
 * *pt; co is scratch. */
static void split_operands(const he_fixture *f, const kv_layout *g, size_t block, size_t len,
                           const uint64_t *client, const uint64_t *server, uint64_t *co, kv_scratch *ksc,
                           cg_bfv_ct *ct, cg_bfv_plain_ntt *pt)
{
    cg_error err = {0};
    if (block == SIZE_MAX) kv_layout_query(g, client, co);
    else kv_layout_probs(g, block, client, len, co);
    encrypt_layout(f, co, ct);
    if (block == SIZE_MAX) kv_layout_query(g, server, co);
    else kv_layout_probs(g, block, server, len, co);
    assert_int_equal(kv_split_encode(f->c, L, co, &ksc->pt, pt, &err), CG_OK);
}

/* Three coefficient buffers of the ring: a layout, and the client's and
 * the server's shares of a returned product. */
static void ring_buffers(size_t n, uint64_t **co, uint64_t **dec, uint64_t **srv)
{
    *co = calloc(n, sizeof **co), *dec = calloc(n, sizeof **dec), *srv = calloc(n, sizeof **srv);
    assert_non_null(*co);
    assert_non_null(*dec);
    assert_non_null(*srv);
}

static void ring_buffers_free(uint64_t *co, uint64_t *dec, uint64_t *srv)
{
    free(co);
    free(dec);
    free(srv);
}

/* The server's HE -> share on one returned product: the client's decryption
 * plus the server's share r equals the unflooded product at every
 * coefficient; the mask changes (nearly) every coefficient; the noise sits
 * `bits` above the product's estimate. dec gets the client's share. */
static void flood_check(const he_fixture *f, cg_bfv_ct *ct, unsigned bits, uint64_t *dec, uint64_t *server)
{
    cg_error err = {0};
    cg_bfv_plain want = {0}, got = {0}, r = {0};
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &want, &err), CG_OK);
    const double est = ct->noise_log2;
    assert_int_equal(cg_bfv_mask_and_flood(f->c, &f->pk, ct, bits, &r, &err), CG_OK);
    double noise, budget;
    assert_int_equal(cg_bfv_noise_measure(f->c, &f->sk, ct, &noise, &budget, &err), CG_OK);
    const double floor = est + bits - cg_bfv_log2_q(f->c, cg_bfv_nq(f->c)) + cg_bfv_log2_q(f->c, ct->level);
    fprintf(stderr, "  flooded: noise 2^%.1f (estimate before 2^%.1f, %u bits), budget %.1f, %zu primes\n",
            noise, est, bits, budget, ct->level);
    assert_true(noise >= floor - 1.0);
    assert_true(budget > 0);
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &got, &err), CG_OK);
    size_t unmasked = 0, top = 0;
    for (size_t i = 0; i < f->n; i++) {
        const uint64_t g = got.coeffs[i] & MASK;
        assert_int_equal((g + r.coeffs[i]) & MASK, want.coeffs[i] & MASK);
        unmasked += g == (want.coeffs[i] & MASK);
        top += (g >> (L - 1)) & 1;
        dec[i] = g;
        server[i] = r.coeffs[i] & MASK;
    }
    assert_true(unmasked <= 1); /* probability 2^-37 per coefficient */
    assert_true(top > f->n * 45 / 100 && top < f->n * 55 / 100);
    cg_bfv_plain_free(&want);
    cg_bfv_plain_free(&got);
    cg_bfv_plain_free(&r);
}

/* Three blocks of 16 positions (the last one partial), one head: scores of
 * a query over every position and the output over those probabilities, as
 * attention.c combines them, equal the plaintext dot products mod 2^37. */
static void test_split_products_exact_and_masked(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    enum { B = 16, LEN = 40, NB = 3 };
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, f.n, DH, B, &err), CG_OK);
    kv_cache cache;
    kv_shares kc, ks; /* the client's and the server's */
    assert_int_equal(kv_cache_init(&cache, &g, 1, 1, NB, &err), CG_OK);
    assert_int_equal(kv_shares_init(&kc, &g, 1, 1, NB, &err), CG_OK);
    assert_int_equal(kv_shares_init(&ks, &g, 1, 1, NB, &err), CG_OK);
    uint64_t x = 88172645463325252ull;
    uint64_t K[LEN][DH], V[LEN][DH], q[DH], qc[DH], qs[DH], p[LEN], pc[LEN], ps[LEN];
    uint64_t *co, *dec, *srv;
    ring_buffers(f.n, &co, &dec, &srv);
    for (size_t pos = 0; pos < LEN; pos++)
        for (int kind = 0; kind < 2; kind++) {
            uint64_t c[DH], s[DH];
            for (size_t i = 0; i < DH; i++) {
                const uint64_t v = next(&x) & 0xffff; /* small true values, uniform shares */
                c[i] = next(&x), s[i] = (v - c[i]) & MASK;
                (kind ? V : K)[pos][i] = v;
            }
            assert_int_equal(kv_shares_put(&kc, (kv_kind)kind, 0, 0, pos, c, &err), CG_OK);
            assert_int_equal(kv_shares_put(&ks, (kv_kind)kind, 0, 0, pos, s, &err), CG_OK);
            memset(co, 0, f.n * sizeof *co);
            if (kind == KV_KEY) kv_place_key(&g, pos, c, co);
            else kv_place_value(&g, pos, c, co);
            cg_bfv_ct ct = {0};
            encrypt_layout(&f, co, &ct);
            assert_int_equal(kv_cache_append(&cache, f.c, (kv_kind)kind, 0, 0, pos, &ct, &err), CG_OK);
            cg_bfv_ct_free(&ct);
        }
    assert_int_equal(kc.bytes, 2ull * NB * B * DH * 8);
    for (size_t i = 0; i < DH; i++) q[i] = next(&x) & 0xff, qc[i] = next(&x), qs[i] = (q[i] - qc[i]) & MASK;
    /* scores: Enc(q_c) x K_s + Enc(K_c) x q_s per block, then local terms */
    uint64_t sc_c[LEN] = {0}, sc_s[LEN] = {0};
    cg_bfv_ct qct = {0};
    cg_bfv_plain_ntt qs_pt = {0};
    kv_scratch ksc;
    assert_int_equal(kv_scratch_init(&ksc, f.c, NB, &err), CG_OK);
    split_operands(&f, &g, SIZE_MAX, DH, qc, qs, co, &ksc, &qct, &qs_pt);
    for (size_t b = 0; b < NB; b++) {
        const cg_bfv_plain_ntt *ks_pt = NULL;
        cg_bfv_ct out = {0};
        assert_int_equal(kv_split_block_plain(&ks, f.c, L, KV_KEY, 0, 0, b, &ksc, &ks_pt, &err), CG_OK);
        assert_int_equal(kv_split_scores(&cache, f.c, 0, 0, b, &qct, &qs_pt, ks_pt, &out, &err), CG_OK);
        flood_check(&f, &out, 48, dec, srv);
        kv_take_scores(&g, b, LEN, dec, sc_c);
        kv_take_scores(&g, b, LEN, srv, sc_s);
        cg_bfv_ct_free(&out);
    }
    kv_split_local_scores(&kc, 0, 0, qc, LEN, MASK, sc_c);
    kv_split_local_scores(&ks, 0, 0, qs, LEN, MASK, sc_s);
    for (size_t pos = 0; pos < LEN; pos++) {
        uint64_t want = 0;
        for (size_t i = 0; i < DH; i++) want += q[i] * K[pos][i];
        assert_int_equal((sc_c[pos] + sc_s[pos]) & MASK, want & MASK);
    }
    /* outputs: sum over blocks of Enc(p_c) x V_s + Enc(V_c) x p_s */
    for (size_t j = 0; j < LEN; j++) p[j] = next(&x) & 0xfff, pc[j] = next(&x), ps[j] = (p[j] - pc[j]) & MASK;
    cg_bfv_ct pct[NB] = {0};
    cg_bfv_plain_ntt ps_pt[NB] = {0};
    const cg_bfv_plain_ntt *vs_pt[NB] = {0};
    for (size_t b = 0; b < NB; b++) {
        split_operands(&f, &g, b, LEN, pc, ps, co, &ksc, &pct[b], &ps_pt[b]);
        assert_int_equal(kv_split_block_plain(&ks, f.c, L, KV_VALUE, 0, 0, b, &ksc, &vs_pt[b], &err), CG_OK);
    }
    cg_bfv_ct out = {0};
    assert_int_equal(kv_split_apply_probs(&cache, f.c, 0, 0, NB, pct, ps_pt, vs_pt, &ksc, &out, &err), CG_OK);
    flood_check(&f, &out, 48, dec, srv);
    uint64_t o_c[DH] = {0}, o_s[DH] = {0};
    kv_take_output(&g, dec, o_c);
    kv_take_output(&g, srv, o_s);
    kv_split_local_output(&kc, 0, 0, pc, LEN, MASK, o_c);
    kv_split_local_output(&ks, 0, 0, ps, LEN, MASK, o_s);
    for (size_t i = 0; i < DH; i++) {
        uint64_t want = 0;
        for (size_t j = 0; j < LEN; j++) want += p[j] * V[j][i];
        assert_int_equal((o_c[i] + o_s[i]) & MASK, want & MASK);
    }
    /* a kept block plaintext is reused while its block is unchanged and
     * encoded again after an append into it: it always equals a fresh
     * encoding of the block's current shares */
    const cg_bfv_plain_ntt *again = NULL;
    assert_int_equal(kv_split_block_plain(&ks, f.c, L, KV_VALUE, 0, 0, 1, &ksc, &again, &err), CG_OK);
    assert_ptr_equal(again, vs_pt[1]);
    const uint64_t kept_bytes = ks.bytes;
    uint64_t nv[DH];
    for (size_t i = 0; i < DH; i++) nv[i] = next(&x) & MASK;
    assert_int_equal(kv_shares_put(&ks, KV_VALUE, 0, 0, B + 3, nv, &err), CG_OK);
    assert_int_equal(kv_split_block_plain(&ks, f.c, L, KV_VALUE, 0, 0, 1, &ksc, &again, &err), CG_OK);
    assert_int_equal(ks.bytes, kept_bytes);
    memset(co, 0, f.n * sizeof *co);
    for (size_t j = 0; j < B; j++) kv_place_value(&g, B + j, kv_shares_block(&ks, KV_VALUE, 0, 0, 1) + j * DH, co);
    cg_bfv_plain_ntt fresh = {0};
    assert_int_equal(kv_split_encode(f.c, L, co, &ksc.pt, &fresh, &err), CG_OK);
    assert_int_equal(fresh.level, again->level);
    assert_memory_equal(fresh.data, again->data, fresh.level * f.n * sizeof *fresh.data);
    cg_bfv_plain_ntt_free(&fresh);
    for (size_t b = 0; b < NB; b++) {
        cg_bfv_ct_free(&pct[b]);
        cg_bfv_plain_ntt_free(&ps_pt[b]);
    }
    cg_bfv_ct_free(&out);
    cg_bfv_ct_free(&qct);
    cg_bfv_plain_ntt_free(&qs_pt);
    kv_scratch_free(&ksc);
    kv_shares_free(&kc);
    kv_shares_free(&ks);
    assert_int_equal(kc.bytes, 0);
    assert_null(kc.blk[0]);
    kv_cache_free(&cache);
    ring_buffers_free(co, dec, srv);
    he_teardown(&f);
}

/* GPT-2 base at L = 1024, split: the session's flood bits count exactly the
 * score and output ciphertexts (no refreshes), and the widest split product
 * (eight V blocks, each the sum of 128 appends, times uniform shares) still
 * decrypts after that flooding, at two primes. */
static void test_split_flood_fits_at_1024(void **state)
{
    (void)state;
    gen_sess s = {.party = CG_SERVER, .attn = CG_ATTN_SPLIT};
    s.cfg = (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                             .vocab_size = 50257, .ln_eps = 1e-5f};
    s.req = (cg_gen_request){.he_preset = "paper", .use_cache = true, .prompt_len = 1, .new_tokens = 1023};
    s.N = 8192, s.d = 768, s.H = 12, s.dh = 64, s.V = 50257;
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&s.kv, s.N, s.dh, 0, &err), CG_OK);
    const uint64_t split_cts = gen_returned_cts(&s);
    gen_sess c = s;
    c.attn = CG_ATTN_CTCT;
    const uint64_t ctct_cts = gen_returned_cts(&c);
    /* the refreshes' bound: 2 H blocks per layer and pass (passes end at
     * positions 1 .. 1023: the last token is chosen, never fed back) */
    uint64_t refresh = 0;
    /* and split decode returns kv_split_pack outputs per head, not one
     * (packed probabilities; every pass here is one row) */
    uint64_t packed = 0;
    for (size_t len = 1; len <= 1023; len++) {
        refresh += 2ull * s.cfg.n_layer * s.H * kv_blocks_for(&s.kv, len);
        packed += (uint64_t)s.cfg.n_layer * s.H * (kv_split_pack(&s.kv, kv_blocks_for(&s.kv, len)) - 1);
    }
    assert_int_equal(ctct_cts - split_cts, refresh - packed);
    const unsigned bits = gen_flood_bits(&s);
    fprintf(stderr, "split at L = 1024: %llu returned ciphertexts, %u flood bits (ctct: %llu, %u)\n",
            (unsigned long long)split_cts, bits, (unsigned long long)ctct_cts, gen_flood_bits(&c));
    he_fixture f;
    he_setup(&f);
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, f.n, DH, 0, &err), CG_OK);
    enum { NB = 8 };
    kv_cache cache;
    assert_int_equal(kv_cache_init(&cache, &g, 1, 1, NB, &err), CG_OK);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint64_t *co, *dec, *srv;
    ring_buffers(f.n, &co, &dec, &srv);
    cg_bfv_ct pct[NB] = {0};
    cg_bfv_plain_ntt ps_pt[NB] = {0}, vs_pt[NB] = {0};
    const cg_bfv_plain_ntt *vs_ptr[NB];
    kv_scratch ksc;
    assert_int_equal(kv_scratch_init(&ksc, f.c, NB, &err), CG_OK);
    for (size_t b = 0; b < NB; b++) {
        vs_ptr[b] = &vs_pt[b];
        for (size_t i = 0; i < f.n; i++) co[i] = next(&x);
        cg_bfv_ct v = {0};
        encrypt_layout(&f, co, &v);
        v.noise_log2 += log2((double)g.block); /* the estimate of a block's appends */
        kv_cache_replace(&cache, (kv_ref){.kind = KV_VALUE, .block = b}, &v);
        encrypt_layout(&f, co, &pct[b]);
        for (size_t i = 0; i < f.n; i++) co[i] = next(&x);
        assert_int_equal(kv_split_encode(f.c, L, co, &ksc.pt, &ps_pt[b], &err), CG_OK);
        assert_int_equal(kv_split_encode(f.c, L, co, &ksc.pt, &vs_pt[b], &err), CG_OK);
    }
    cg_bfv_ct out = {0};
    assert_int_equal(kv_split_apply_probs(&cache, f.c, 0, 0, NB, pct, ps_pt, vs_ptr, &ksc, &out, &err), CG_OK);
    flood_check(&f, &out, bits, dec, srv);
    assert_int_equal(out.level, 2);
    for (size_t b = 0; b < NB; b++) {
        cg_bfv_ct_free(&pct[b]);
        cg_bfv_plain_ntt_free(&ps_pt[b]);
        cg_bfv_plain_ntt_free(&vs_pt[b]);
    }
    kv_scratch_free(&ksc);
    cg_bfv_ct_free(&out);
    kv_cache_free(&cache);
    ring_buffers_free(co, dec, srv);
    he_teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_products_exact_and_masked),
        cmocka_unit_test(test_split_flood_fits_at_1024),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
