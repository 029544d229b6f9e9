/* The strided KV layout of packed attention inputs (kv_cache.h, PROTOCOL.md
 * "Packed attention inputs"): the layouts' negacyclic products, computed
 * naively mod 2^l, give exactly the dot products at the coefficients read;
 * X^m moves a ciphertext's coefficients in either form, noise unchanged; and
 * at the HE level, K and V appends packed two per ciphertext, expanded and
 * shifted into blocks of 4 positions, with a packed query, give the split
 * cross terms q.K and p.V exactly, under their tracked noise bounds; and
 * p.V from probabilities packed as expansion leaves over several groups
 * (kv_split_leaf_row) is exact too; at GPT-2 base to L = 1024 the noisier
 * expanded appends still leave flooded replies at two primes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/he_fixture.h"
#include "proto/kv_pack.h"
#include "proto/kv_split.h"
#include "proto/proto_internal.h"

enum { L = 37, DH = 64 };
static const uint64_t MASK = (1ull << L) - 1;

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x & MASK;
}

/* out = a b in Z_2^l[x] / (x^n + 1), schoolbook. */
static void negacyclic(size_t n, const uint64_t *a, const uint64_t *b, uint64_t *out)
{
    memset(out, 0, n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (!a[i]) continue;
        for (size_t j = 0; j < n; j++) {
            const uint64_t t = a[i] * b[j];
            if (i + j < n) out[i + j] += t;
            else out[i + j - n] -= t;
        }
    }
    for (size_t i = 0; i < n; i++) out[i] &= MASK;
}

/* A whole block of B positions and a query / probabilities, all values
 * uniform mod 2^l: every score and output read is exactly its dot product,
 * for B = T (full) and a smaller B. */
static void layout_products(size_t n, size_t B)
{
    cg_error err = {0};
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, n, DH, B, &err), CG_OK);
    kv_layout_strided(&g, L);
    assert_int_equal(g.stride, n / DH);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint64_t *K = calloc(B * DH, 8), *V = calloc(B * DH, 8), q[DH], *p = calloc(B, 8);
    uint64_t *kc = calloc(n, 8), *vc = calloc(n, 8), *qc = calloc(n, 8), *pc = calloc(n, 8),
             *prod = calloc(n, 8);
    assert_non_null(prod);
    for (size_t i = 0; i < B * DH; i++) K[i] = next(&x), V[i] = next(&x);
    for (size_t i = 0; i < DH; i++) q[i] = next(&x);
    for (size_t j = 0; j < B; j++) p[j] = next(&x);
    for (size_t j = 0; j < B; j++) {
        kv_place_key(&g, j, K + j * DH, kc);
        kv_place_value(&g, j, V + j * DH, vc);
    }
    kv_layout_query(&g, q, qc);
    kv_layout_probs(&g, 0, p, B, pc);
    negacyclic(n, kc, qc, prod);
    for (size_t j = 0; j < B; j++) {
        uint64_t want = 0;
        for (size_t i = 0; i < DH; i++) want += q[i] * K[j * DH + i];
        assert_int_equal(prod[kv_score_coeff(&g, j)], want & MASK);
    }
    negacyclic(n, vc, pc, prod);
    for (size_t i = 0; i < DH; i++) {
        uint64_t want = 0;
        for (size_t j = 0; j < B; j++) want += p[j] * V[j * DH + i];
        assert_int_equal(prod[kv_output_coeff(&g, i)], want & MASK);
    }
    /* a leaf (value i at T i) shifted by kv_leaf_shift is the block layout */
    memset(kc, 0, n * 8);
    kv_pack_leaf(&g, 0, K + (B - 1) * DH, kc);
    for (size_t i = 0; i < DH; i++) {
        const size_t at = kv_leaf_coeff(&g, i) + kv_leaf_shift(&g, KV_KEY, B - 1);
        assert_true(at < n);
        assert_int_equal(at, kv_key_coeff(&g, B - 1, i));
        assert_int_equal(kv_leaf_coeff(&g, i) + kv_leaf_shift(&g, KV_VALUE, B - 1), kv_value_coeff(&g, B - 1, i));
    }
    free(K), free(V), free(p), free(kc), free(vc), free(qc), free(pc), free(prod);
}

static void test_strided_layout_products(void **state)
{
    (void)state;
    layout_products(1024, 16); /* T = 16: full blocks */
    layout_products(1024, 5);  /* B < T */
    layout_products(8192, 128);
}

/* X^m on a ciphertext, coefficient and NTT form, m below and above n. */
static void test_mul_monomial(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    cg_bfv_plain pt = {0}, out = {0};
    assert_int_equal(cg_bfv_plain_alloc(f.c, &pt, &err), CG_OK);
    uint64_t x = 12345;
    for (size_t i = 0; i < f.n; i++) pt.coeffs[i] = next(&x);
    const size_t ms[] = {0, 1, 77, f.n - 1, f.n, f.n + 3, 2 * f.n - 1};
    for (int ntt = 0; ntt < 2; ntt++)
        for (size_t k = 0; k < sizeof ms / sizeof *ms; k++) {
            cg_bfv_ct ct = {0};
            assert_int_equal(cg_bfv_encrypt_sk(f.c, &f.sk, &pt, &ct, &err), CG_OK);
            if (ntt) assert_int_equal(cg_bfv_to_ntt(f.c, &ct, &err), CG_OK);
            const double before = ct.noise_log2;
            assert_int_equal(cg_bfv_mul_monomial(f.c, &ct, ms[k], &err), CG_OK);
            assert_true(ct.noise_log2 == before);
            assert_int_equal(cg_bfv_decrypt(f.c, &f.sk, &ct, &out, &err), CG_OK);
            for (size_t i = 0; i < f.n; i++) {
                /* coefficient i came from i - m, negated once per wrap */
                const size_t m = ms[k] % f.n;
                const bool neg = (i < m) != (ms[k] >= f.n);
                const uint64_t from = pt.coeffs[(i + f.n - m) % f.n];
                assert_int_equal(out.coeffs[i] & MASK, (neg ? 0 - from : from) & MASK);
            }
            cg_bfv_ct_free(&ct);
        }
    assert_int_equal(cg_bfv_mul_monomial(f.c, &(cg_bfv_ct){0}, 1, &err), CG_ERR_ARG);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&out);
    he_teardown(&f);
}

/* Client: a packed encryption of chunks (kv_pack_leaf or kv_pack_query). */
static void encrypt_packed(const he_fixture *f, const uint64_t *co, size_t count, cg_bfv_ct *ct)
{
    cg_error err = {0};
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->c, (const int64_t *)co, f->n, &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_sk_packed(f->c, &f->sk, &pt, cg_bfv_expand_levels(count), ct, &err), CG_OK);
    cg_bfv_plain_free(&pt);
}

/* Decrypts ct and checks its measured noise is under the tracked bound. */
static void decrypt_checked(const he_fixture *f, const cg_bfv_ct *ct, uint64_t *co)
{
    cg_error err = {0};
    double noise, budget;
    assert_int_equal(cg_bfv_noise_measure(f->c, &f->sk, ct, &noise, &budget, &err), CG_OK);
    assert_true(noise <= ct->noise_log2);
    assert_true(budget > 0);
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &pt, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++) co[i] = pt.coeffs[i] & MASK;
    cg_bfv_plain_free(&pt);
}

/* 10 positions in blocks of 4 (three blocks, the last partial), one head:
 * each position's K and V client shares go in one packed ciphertext (2
 * chunks), expanded, shifted and appended as attention.c does; a packed
 * query (two heads' worth: the same head twice with different queries).
 * Cross terms + local terms = the dot products of the sums mod 2^l. */
static void test_packed_appends_split_products(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    enum { B = 4, LEN = 10, NB = 3 };
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, f.n, DH, B, &err), CG_OK);
    kv_layout_strided(&g, L);
    uint32_t elts[4];
    const size_t ne = cg_bfv_expand_elts(f.c, 1, elts);
    cg_bfv_galois_keys gk;
    assert_int_equal(cg_bfv_keygen_galois_elts(f.c, &f.sk, elts, ne, &gk, &err), CG_OK);
    kv_cache cache;
    kv_shares kc, ks;
    assert_int_equal(kv_cache_init(&cache, &g, 1, 1, NB, &err), CG_OK);
    assert_int_equal(kv_shares_init(&kc, &g, 1, 1, NB, &err), CG_OK);
    assert_int_equal(kv_shares_init(&ks, &g, 1, 1, NB, &err), CG_OK);
    uint64_t x = 88172645463325252ull;
    static uint64_t K[LEN][DH], V[LEN][DH];
    uint64_t *co = calloc(f.n, 8), *dec = calloc(f.n, 8);
    assert_non_null(dec);
    cg_bfv_ct pk = {0}, leaves[2] = {{0}};
    for (size_t pos = 0; pos < LEN; pos++) {
        uint64_t c[2][DH];
        for (int kind = 0; kind < 2; kind++) {
            uint64_t s[DH];
            for (size_t i = 0; i < DH; i++) {
                c[kind][i] = next(&x), s[i] = next(&x);
                (kind ? V : K)[pos][i] = (c[kind][i] + s[i]) & MASK;
            }
            assert_int_equal(kv_shares_put(&kc, (kv_kind)kind, 0, 0, pos, c[kind], &err), CG_OK);
            assert_int_equal(kv_shares_put(&ks, (kv_kind)kind, 0, 0, pos, s, &err), CG_OK);
        }
        memset(co, 0, f.n * 8);
        kv_pack_leaf(&g, 0, c[KV_KEY], co);
        kv_pack_leaf(&g, 1, c[KV_VALUE], co);
        encrypt_packed(&f, co, 2, &pk);
        pk.noise_log2 = cg_bfv_fresh_noise_estimate(f.c, false); /* the server's own bound */
        assert_int_equal(cg_bfv_expand(f.c, &gk, &pk, 2, leaves, &err), CG_OK);
        for (int kind = 0; kind < 2; kind++) {
            assert_int_equal(cg_bfv_mul_monomial(f.c, &leaves[kind], kv_leaf_shift(&g, kind, pos), &err), CG_OK);
            assert_int_equal(kv_cache_append(&cache, f.c, (kv_kind)kind, 0, 0, pos, &leaves[kind], &err), CG_OK);
        }
    }
    /* each block holds the client's shares in the strided layout */
    for (size_t b = 0; b < NB; b++)
        for (int kind = 0; kind < 2; kind++) {
            decrypt_checked(&f, kv_cache_at(&cache, (kv_ref){.kind = (kv_kind)kind, .block = b}), dec);
            const uint64_t *sh = kv_shares_block(&kc, (kv_kind)kind, 0, 0, b);
            memset(co, 0, f.n * 8);
            for (size_t j = 0; j < B && b * B + j < LEN; j++) {
                if (kind == KV_KEY) kv_place_key(&g, b * B + j, sh + j * DH, co);
                else kv_place_value(&g, b * B + j, sh + j * DH, co);
            }
            assert_memory_equal(dec, co, f.n * 8);
        }
    /* two queries packed in one ciphertext, expanded */
    uint64_t qc[2][DH], qs[2][DH];
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < DH; i++) qc[t][i] = next(&x), qs[t][i] = next(&x);
    memset(co, 0, f.n * 8);
    kv_pack_query(&g, 0, qc[0], co);
    kv_pack_query(&g, 1, qc[1], co);
    encrypt_packed(&f, co, 2, &pk);
    cg_bfv_ct qct[2] = {{0}};
    assert_int_equal(cg_bfv_expand(f.c, &gk, &pk, 2, qct, &err), CG_OK);
    kv_scratch sc;
    assert_int_equal(kv_scratch_init(&sc, f.c, NB + 1, &err), CG_OK);
    cg_bfv_plain_ntt qpt = {0};
    for (int t = 0; t < 2; t++) {
        kv_layout_query(&g, qs[t], co);
        assert_int_equal(kv_split_encode(f.c, L, co, &sc.pt, &qpt, &err), CG_OK);
        uint64_t sc_share[LEN] = {0}, sc_srv[LEN] = {0};
        for (size_t b = 0; b < NB; b++) {
            const cg_bfv_plain_ntt *kpt;
            assert_int_equal(kv_split_block_plain(&ks, f.c, L, KV_KEY, 0, 0, b, &sc, &kpt, &err), CG_OK);
            cg_bfv_ct prod = {0};
            assert_int_equal(kv_split_scores(&cache, f.c, 0, 0, b, &qct[t], &qpt, kpt, &prod, &err), CG_OK);
            decrypt_checked(&f, &prod, dec);
            kv_take_scores(&g, b, LEN, dec, sc_share);
            cg_bfv_ct_free(&prod);
        }
        kv_split_local_scores(&kc, 0, 0, qc[t], LEN, MASK, sc_share);
        kv_split_local_scores(&ks, 0, 0, qs[t], LEN, MASK, sc_srv);
        for (size_t pos = 0; pos < LEN; pos++) {
            uint64_t want = 0;
            for (size_t i = 0; i < DH; i++) want += (qc[t][i] + qs[t][i]) * K[pos][i];
            assert_int_equal((sc_share[pos] + sc_srv[pos]) & MASK, want & MASK);
        }
    }
    /* p.V over the three blocks: client probabilities per block (not packed) */
    uint64_t pcl[LEN], psv[LEN], o_c[DH] = {0}, o_s[DH] = {0};
    for (size_t pos = 0; pos < LEN; pos++) pcl[pos] = next(&x), psv[pos] = next(&x);
    cg_bfv_ct pct[NB] = {{0}};
    cg_bfv_plain_ntt ppt[NB] = {{0}};
    const cg_bfv_plain_ntt *vpt[NB];
    for (size_t b = 0; b < NB; b++) {
        cg_bfv_plain pt = {0};
        kv_layout_probs(&g, b, pcl, LEN, co);
        assert_int_equal(cg_bfv_encode_coeff(f.c, (const int64_t *)co, f.n, &pt, &err), CG_OK);
        assert_int_equal(cg_bfv_encrypt_sk(f.c, &f.sk, &pt, &pct[b], &err), CG_OK);
        assert_int_equal(cg_bfv_to_ntt(f.c, &pct[b], &err), CG_OK);
        cg_bfv_plain_free(&pt);
        kv_layout_probs(&g, b, psv, LEN, co);
        assert_int_equal(kv_split_encode(f.c, L, co, &sc.pt, &ppt[b], &err), CG_OK);
        assert_int_equal(kv_split_block_plain(&ks, f.c, L, KV_VALUE, 0, 0, b, &sc, &vpt[b], &err), CG_OK);
    }
    cg_bfv_ct out = {0};
    assert_int_equal(kv_split_apply_probs(&cache, f.c, 0, 0, NB, pct, ppt, vpt, &sc, &out, &err), CG_OK);
    decrypt_checked(&f, &out, dec);
    kv_take_output(&g, dec, o_c);
    kv_split_local_output(&kc, 0, 0, pcl, LEN, MASK, o_c);
    kv_split_local_output(&ks, 0, 0, psv, LEN, MASK, o_s);
    for (size_t i = 0; i < DH; i++) {
        uint64_t want = 0;
        for (size_t pos = 0; pos < LEN; pos++) want += (pcl[pos] + psv[pos]) * V[pos][i];
        assert_int_equal((o_c[i] + o_s[i]) & MASK, want & MASK);
    }
    cg_bfv_ct_free(&out);
    for (size_t b = 0; b < NB; b++) cg_bfv_ct_free(&pct[b]), cg_bfv_plain_ntt_free(&ppt[b]);
    cg_bfv_plain_ntt_free(&qpt);
    for (int t = 0; t < 2; t++) cg_bfv_ct_free(&qct[t]), cg_bfv_ct_free(&leaves[t]);
    cg_bfv_ct_free(&pk);
    kv_scratch_free(&sc);
    kv_shares_free(&kc);
    kv_shares_free(&ks);
    kv_cache_free(&cache);
    cg_bfv_galois_free(&gk);
    free(co);
    free(dec);
    he_teardown(&f);
}

/* p.V with expanded probabilities (kv_split_leaf_row) over 300 positions:
 * three V blocks of 128 (the client's shares encrypted densely), three
 * leaves of T = 128 probabilities packed in one ciphertext and expanded;
 * the leaves' term (o[i] at x^i) + the cache's (at kv_output_coeff) + both
 * local terms = p.V mod 2^l, each output under its tracked noise bound. */
static void test_leaf_row_products(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    enum { B = 128, LEN = 300, NB = 3, NG = 3 };
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, f.n, DH, B, &err), CG_OK);
    kv_layout_strided(&g, L);
    assert_int_equal(kv_split_leaf_groups(&g, LEN), NG);
    uint32_t elts[4];
    const size_t ne = cg_bfv_expand_elts(f.c, cg_bfv_expand_levels(NG), elts);
    cg_bfv_galois_keys gk;
    assert_int_equal(cg_bfv_keygen_galois_elts(f.c, &f.sk, elts, ne, &gk, &err), CG_OK);
    kv_cache cache;
    kv_shares kc, ks;
    assert_int_equal(kv_cache_init(&cache, &g, 1, 1, NB, &err), CG_OK);
    assert_int_equal(kv_shares_init(&kc, &g, 1, 1, NB, &err), CG_OK);
    assert_int_equal(kv_shares_init(&ks, &g, 1, 1, NB, &err), CG_OK);
    uint64_t x = 0x1234567887654321ull;
    static uint64_t V[LEN][DH];
    uint64_t *co = calloc(f.n, 8), *dec = calloc(f.n, 8);
    assert_non_null(dec);
    for (size_t pos = 0; pos < LEN; pos++) {
        uint64_t c[DH], sv[DH];
        for (size_t i = 0; i < DH; i++) c[i] = next(&x), sv[i] = next(&x), V[pos][i] = (c[i] + sv[i]) & MASK;
        assert_int_equal(kv_shares_put(&kc, KV_VALUE, 0, 0, pos, c, &err), CG_OK);
        assert_int_equal(kv_shares_put(&ks, KV_VALUE, 0, 0, pos, sv, &err), CG_OK);
    }
    for (size_t b = 0; b < NB; b++) {
        const uint64_t *sh = kv_shares_block(&kc, KV_VALUE, 0, 0, b);
        memset(co, 0, f.n * 8);
        for (size_t j = 0; j < B && b * B + j < LEN; j++) kv_place_value(&g, b * B + j, sh + j * DH, co);
        cg_bfv_plain pt = {0};
        cg_bfv_ct ct = {0};
        assert_int_equal(cg_bfv_encode_coeff(f.c, (const int64_t *)co, f.n, &pt, &err), CG_OK);
        assert_int_equal(cg_bfv_encrypt_sk(f.c, &f.sk, &pt, &ct, &err), CG_OK);
        assert_int_equal(cg_bfv_to_ntt(f.c, &ct, &err), CG_OK);
        assert_int_equal(kv_cache_append(&cache, f.c, KV_VALUE, 0, 0, b * B, &ct, &err), CG_OK);
        cg_bfv_ct_free(&ct);
        cg_bfv_plain_free(&pt);
    }
    uint64_t pcl[LEN], psv[LEN], o_c[DH] = {0}, o_s[DH] = {0};
    for (size_t pos = 0; pos < LEN; pos++) pcl[pos] = next(&x), psv[pos] = next(&x);
    memset(co, 0, f.n * 8);
    for (size_t grp = 0; grp < NG; grp++) kv_pack_probs(&g, grp, grp, pcl, LEN, co);
    cg_bfv_ct pk = {0}, leaves[NG] = {{0}}, out[2] = {{0}};
    encrypt_packed(&f, co, NG, &pk);
    pk.noise_log2 = cg_bfv_fresh_noise_estimate(f.c, false);
    assert_int_equal(cg_bfv_expand(f.c, &gk, &pk, NG, leaves, &err), CG_OK);
    kv_scratch sc;
    assert_int_equal(kv_scratch_init(&sc, f.c, NB + NG, &err), CG_OK);
    assert_int_equal(kv_split_leaf_row(&cache, &ks, f.c, L, 0, 0, LEN, psv, leaves, &sc, out, &err), CG_OK);
    decrypt_checked(&f, &out[0], dec);
    for (size_t i = 0; i < DH; i++) o_c[i] = dec[i];
    decrypt_checked(&f, &out[1], dec);
    for (size_t i = 0; i < DH; i++) o_c[i] += dec[kv_output_coeff(&g, i)];
    kv_split_local_output(&kc, 0, 0, pcl, LEN, MASK, o_c);
    kv_split_local_output(&ks, 0, 0, psv, LEN, MASK, o_s);
    for (size_t i = 0; i < DH; i++) {
        uint64_t want = 0;
        for (size_t pos = 0; pos < LEN; pos++) want += (pcl[pos] + psv[pos]) * V[pos][i];
        assert_int_equal((o_c[i] + o_s[i]) & MASK, want & MASK);
    }
    for (int t = 0; t < 2; t++) cg_bfv_ct_free(&out[t]);
    for (size_t i = 0; i < NG; i++) cg_bfv_ct_free(&leaves[i]);
    cg_bfv_ct_free(&pk);
    kv_scratch_free(&sc);
    kv_shares_free(&kc);
    kv_shares_free(&ks);
    kv_cache_free(&cache);
    cg_bfv_galois_free(&gk);
    free(co);
    free(dec);
    he_teardown(&f);
}

/* GPT-2 base, packed inputs, decode to position len - 1: the V cache as a
 * session with every position appended by expansion would hold it (each
 * block at B leaves' tracked bound: 24 appends and 12 queries in one
 * expansion, e = 6), the probabilities as
 * leaves of 64-chunk expansions (e = 6, the session's keys), the session's
 * flood bits (gen_flood_bits, two outputs per head): both outputs flooded
 * still decrypt and leave at two primes, as unpacked ones do. */
static void flood_at(size_t len, size_t *levels)
{
    gen_sess s = {.party = CG_SERVER, .attn = CG_ATTN_SPLIT};
    s.cfg = (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                             .vocab_size = 50257, .ln_eps = 1e-5f};
    s.req = (cg_gen_request){.he_preset = "paper", .use_cache = true, .prompt_len = 1,
                             .new_tokens = (uint32_t)(len - 1), .pack_inputs = true};
    s.N = 8192, s.d = 768, s.H = 12, s.dh = 64, s.V = 50257;
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&s.kv, s.N, s.dh, 0, &err), CG_OK);
    kv_layout_strided(&s.kv, L);
    const unsigned bits = gen_flood_bits(&s);
    he_fixture f;
    he_setup(&f);
    const kv_layout g = s.kv;
    uint32_t elts[8];
    const size_t ne = cg_bfv_expand_elts(f.c, 6, elts);
    cg_bfv_galois_keys gk;
    assert_int_equal(cg_bfv_keygen_galois_elts(f.c, &f.sk, elts, ne, &gk, &err), CG_OK);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint64_t *co = calloc(f.n, 8), *dec = calloc(f.n, 8);
    assert_non_null(dec);
    /* the leaves' tracked bounds: an append (36 chunks with the queries) and a probabilities
     * expansion (64 chunks), both from a fresh packed ciphertext */
    static cg_bfv_ct leaves[64];
    double leaf_noise[2];
    const size_t counts[2] = {36, 64};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < f.n; i++) co[i] = next(&x);
        cg_bfv_ct pk = {0};
        encrypt_packed(&f, co, counts[k], &pk);
        pk.noise_log2 = cg_bfv_fresh_noise_estimate(f.c, false);
        assert_int_equal(cg_bfv_expand(f.c, &gk, &pk, counts[k], leaves, &err), CG_OK);
        leaf_noise[k] = 0;
        for (size_t i = 0; i < counts[k]; i++)
            if (leaves[i].noise_log2 > leaf_noise[k]) leaf_noise[k] = leaves[i].noise_log2;
        cg_bfv_ct_free(&pk);
    }
    const size_t nb = kv_blocks_for(&g, len), ng = kv_split_leaf_groups(&g, len);
    kv_cache cache;
    kv_shares ks;
    assert_int_equal(kv_cache_init(&cache, &g, 1, 1, nb, &err), CG_OK);
    assert_int_equal(kv_shares_init(&ks, &g, 1, 1, nb, &err), CG_OK);
    for (size_t b = 0; b < nb; b++) {
        for (size_t i = 0; i < f.n; i++) co[i] = next(&x);
        cg_bfv_plain pt = {0};
        cg_bfv_ct v = {0};
        assert_int_equal(cg_bfv_encode_coeff(f.c, (const int64_t *)co, f.n, &pt, &err), CG_OK);
        assert_int_equal(cg_bfv_encrypt_sk(f.c, &f.sk, &pt, &v, &err), CG_OK);
        assert_int_equal(cg_bfv_to_ntt(f.c, &v, &err), CG_OK);
        v.noise_log2 = leaf_noise[0] + log2((double)g.block); /* B appended leaves */
        kv_cache_replace(&cache, (kv_ref){.kind = KV_VALUE, .block = b}, &v);
        cg_bfv_plain_free(&pt);
    }
    uint64_t vs[64], *ps = calloc(len, 8);
    assert_non_null(ps);
    for (size_t pos = 0; pos < len; pos++) {
        for (size_t i = 0; i < DH; i++) vs[i] = next(&x);
        assert_int_equal(kv_shares_put(&ks, KV_VALUE, 0, 0, pos, vs, &err), CG_OK);
        ps[pos] = next(&x);
    }
    kv_scratch sc;
    assert_int_equal(kv_scratch_init(&sc, f.c, nb + ng, &err), CG_OK);
    cg_bfv_ct out[2] = {{0}};
    assert_int_equal(kv_split_leaf_row(&cache, &ks, f.c, L, 0, 0, len, ps, leaves, &sc, out, &err), CG_OK);
    for (int t = 0; t < 2; t++) {
        cg_bfv_plain r = {0};
        const double est = out[t].noise_log2;
        assert_int_equal(cg_bfv_mask_and_flood(f.c, &f.pk, &out[t], bits, &r, &err), CG_OK);
        double noise, budget;
        assert_int_equal(cg_bfv_noise_measure(f.c, &f.sk, &out[t], &noise, &budget, &err), CG_OK);
        fprintf(stderr, "  L = %zu, %s term: estimate 2^%.1f (leaf 2^%.1f / 2^%.1f), %u flood bits: noise 2^%.1f, "
                "budget %.1f, %zu primes\n", len, t ? "cache" : "leaves", est, leaf_noise[0], leaf_noise[1], bits,
                noise, budget, out[t].level);
        assert_true(budget > 0);
        assert_int_equal(out[t].level, 2); /* replies keep their size */
        levels[t] = out[t].level;
        cg_bfv_plain_free(&r);
        cg_bfv_ct_free(&out[t]);
    }
    for (size_t i = 0; i < 64; i++) cg_bfv_ct_free(&leaves[i]);
    kv_scratch_free(&sc);
    kv_shares_free(&ks);
    kv_cache_free(&cache);
    cg_bfv_galois_free(&gk);
    free(ps);
    free(co);
    free(dec);
    he_teardown(&f);
}

/* A one-row packed split pass of GPT-2 base puts its 24 appends and 12
 * queries in one fresh ciphertext (36 chunks <= the 64 the six keys cover),
 * the queries last; two rows pack nothing; a model whose keys cover fewer
 * chunks than 3 H keeps two ciphertexts. */
static void test_appends_and_queries_merged(void **state)
{
    (void)state;
    gen_sess s = {.party = CG_SERVER, .attn = CG_ATTN_SPLIT, .N = 8192, .d = 768, .H = 12, .dh = 64};
    s.cfg = (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                             .vocab_size = 50257, .ln_eps = 1e-5f};
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&s.kv, s.N, s.dh, 0, &err), CG_OK);
    kv_layout_strided(&s.kv, L);
    static uint64_t qkv[2 * 3 * 768];
    kv_pack p[2];
    for (size_t pos = 0; pos < 1024; pos += 511) {
        assert_int_equal(gen_kv_pack_plan(&s, pos, 1, qkv, p), 1);
        assert_int_equal(p[0].n_pk, 1);
        assert_int_equal(p[0].chunks, 36);
        assert_int_equal(p[0].queries, 12);
        assert_int_equal(p[1].n_pk, 0);
        assert_true(p[1].merged);
    }
    assert_int_equal(gen_kv_pack_plan(&s, 5, 2, qkv, p), 0);
    assert_false(p[1].merged);
    /* d = 128, two heads: the keys cover 4 chunks, 6 do not fit */
    s.cfg = (cg_gpt2_config){.n_layer = 1, .n_head = 2, .n_embd = 128, .n_positions = 64, .vocab_size = 300,
                             .ln_eps = 1e-5f};
    s.d = 128, s.H = 2;
    assert_int_equal(gen_kv_pack_plan(&s, 7, 1, qkv, p), 2);
    assert_false(p[1].merged);
    assert_int_equal(p[0].queries, 0);
}

static void test_kvpack_flood_fits(void **state)
{
    (void)state;
    size_t lv[2];
    flood_at(512, lv);
    flood_at(1024, lv);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strided_layout_products),
        cmocka_unit_test(test_mul_monomial),
        cmocka_unit_test(test_packed_appends_split_products),
        cmocka_unit_test(test_leaf_row_products),
        cmocka_unit_test(test_appends_and_queries_merged),
        cmocka_unit_test(test_kvpack_flood_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
