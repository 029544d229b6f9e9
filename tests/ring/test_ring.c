/* Ring layer tests against independent references: __int128 remainders,
 * trial division, naive negacyclic convolution, multi-precision CRT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/ring.h"

static cg_prg prg;

static uint64_t rnd(void) { return cg_prg_u64(&prg); }

static void test_modular_arithmetic_matches_int128(void **state)
{
    (void)state;
    const uint64_t qs[] = {2, 3, 65537, 1152921504606584833ull /* 60-bit */, (1ull << 61) - 1,
                           1125899906826241ull /* 50-bit */};
    for (size_t t = 0; t < sizeof qs / sizeof qs[0]; t++) {
        cg_modulus m;
        assert_int_equal(cg_modulus_init(&m, qs[t], NULL), CG_OK);
        const uint64_t q = qs[t];
        for (int i = 0; i < 20000; i++) {
            cg_u128 x = ((cg_u128)rnd() << 64) | rnd();
            if (i == 0) x = ~(cg_u128)0;
            if (i == 1) x = 0;
            assert_true(cg_mod_reduce128(x, &m) == (uint64_t)(x % q));
            uint64_t a = rnd() % q, b = rnd() % q;
            if (i == 2) a = b = q - 1;
            assert_true(cg_mod_mul(a, b, &m) == (uint64_t)((cg_u128)a * b % q));
            const uint64_t c = i == 2 ? q - 1 : rnd() % q;
            assert_true(cg_mod_reduce_sq((cg_u128)a * b + c, &m) == (uint64_t)(((cg_u128)a * b + c) % q));
            assert_true(cg_mod_add(a, b, q) == (uint64_t)(((cg_u128)a + b) % q));
            assert_true(cg_mod_sub(a, b, q) == (uint64_t)(((cg_u128)a + q - b) % q));
            assert_true(cg_mod_neg(a, q) == (q - a) % q);
            uint64_t wp = cg_shoup(b, q);
            uint64_t x64 = rnd();
            uint64_t lazy = cg_mul_shoup_lazy(x64, b, wp, q);
            assert_true(lazy < 2 * q);
            assert_true(lazy % q == (uint64_t)((cg_u128)x64 * b % q));
            assert_true(cg_mul_shoup(x64, b, wp, q) == (uint64_t)((cg_u128)x64 * b % q));
        }
        if (q > 2) {
            uint64_t a = 12345 % q;
            if (a) assert_true(cg_mod_mul(a, cg_mod_inv(a, &m), &m) == 1);
        }
    }
    cg_modulus m;
    assert_int_equal(cg_modulus_init(&m, 1ull << 61, NULL), CG_ERR_PARAM);
    assert_int_equal(cg_modulus_init(&m, 1, NULL), CG_ERR_PARAM);
}

static bool trial_prime(uint64_t x)
{
    if (x < 2) return false;
    for (uint64_t d = 2; d * d <= x; d++)
        if (x % d == 0) return false;
    return true;
}

static void test_primes(void **state)
{
    (void)state;
    for (uint64_t x = 0; x < 20000; x++) assert_int_equal(cg_is_prime(x), trial_prime(x));
    assert_false(cg_is_prime(3215031751ull)); /* strong pseudoprime to 2,3,5,7 */
    assert_true(cg_is_prime((1ull << 61) - 1));
    const unsigned sizes[] = {20, 30, 50, 60};
    for (size_t s = 0; s < 4; s++) {
        uint64_t p[4];
        assert_int_equal(cg_primes_ntt(sizes[s], 8192, 4, NULL, 0, p, NULL), CG_OK);
        for (int i = 0; i < 4; i++) {
            assert_true(cg_is_prime(p[i]));
            assert_int_equal(p[i] % 16384, 1);
            assert_int_equal(64 - __builtin_clzll(p[i]), sizes[s]);
            if (i) assert_true(p[i] < p[i - 1]);
        }
        uint64_t again;
        assert_int_equal(cg_primes_ntt(sizes[s], 8192, 1, p, 1, &again, NULL), CG_OK);
        assert_true(again == p[1]);
        uint64_t root;
        assert_int_equal(cg_primitive_root_2n(p[0], 8192, &root, NULL), CG_OK);
        cg_modulus m;
        cg_modulus_init(&m, p[0], NULL);
        assert_true(cg_mod_pow(root, 8192, &m) == p[0] - 1);
    }
    uint64_t none;
    assert_int_equal(cg_primes_ntt(10, 8192, 1, NULL, 0, &none, NULL), CG_ERR_PARAM);
}

static void naive_negacyclic(const uint64_t *a, const uint64_t *b, uint64_t *c, size_t n,
                             uint64_t q)
{
    for (size_t i = 0; i < n; i++) c[i] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            uint64_t p = (uint64_t)((cg_u128)a[i] * b[j] % q);
            size_t k = i + j;
            if (k < n)
                c[k] = (c[k] + p) % q;
            else
                c[k - n] = (c[k - n] + q - p) % q;
        }
}

static void check_ntt_product(size_t n, unsigned bits, cg_ntt_backend be)
{
    uint64_t q;
    assert_int_equal(cg_primes_ntt(bits, n, 1, NULL, 0, &q, NULL), CG_OK);
    cg_ntt_table t;
    cg_error err = {0};
    assert_int_equal(cg_ntt_table_init(&t, n, q, be, &err), CG_OK);
    uint64_t *a = cg_alloc(n * 8), *b = cg_alloc(n * 8), *c = cg_alloc(n * 8),
             *a0 = cg_alloc(n * 8);
    for (size_t i = 0; i < n; i++) {
        a[i] = rnd() % q;
        b[i] = rnd() % q;
    }
    a[0] = q - 1;
    memcpy(a0, a, n * 8);
    naive_negacyclic(a, b, c, n, q);
    cg_ntt_forward(&t, a);
    for (size_t i = 0; i < n; i++) assert_true(a[i] < q);
    cg_ntt_forward(&t, b);
    for (size_t i = 0; i < n; i++) a[i] = (uint64_t)((cg_u128)a[i] * b[i] % q);
    cg_ntt_inverse(&t, a);
    assert_memory_equal(a, c, n * 8);
    /* inverse(forward(x)) == x */
    memcpy(a, a0, n * 8);
    cg_ntt_forward(&t, a);
    cg_ntt_inverse(&t, a);
    assert_memory_equal(a, a0, n * 8);
    cg_free(a);
    cg_free(b);
    cg_free(c);
    cg_free(a0);
    cg_ntt_table_free(&t);
}

static void test_ntt_portable_matches_naive_convolution(void **state)
{
    (void)state;
    for (size_t n = 2; n <= 512; n *= 2) {
        check_ntt_product(n, 30, CG_NTT_PORTABLE);
        check_ntt_product(n, 50, CG_NTT_PORTABLE);
        check_ntt_product(n, 60, CG_NTT_PORTABLE);
    }
}

static void check_simd_backend(cg_ntt_backend be, unsigned maxbits)
{
    for (size_t n = 2; n <= 512; n *= 2) {
        check_ntt_product(n, 30, be);
        check_ntt_product(n, maxbits, be);
    }
    /* Bit-for-bit against portable, large n, lazy-range edges (q-1). */
    for (size_t n = 16; n <= 32768; n *= 2) {
        uint64_t q;
        assert_int_equal(cg_primes_ntt(maxbits - 1, n, 1, NULL, 0, &q, NULL), CG_OK);
        cg_ntt_table tp, ti;
        assert_int_equal(cg_ntt_table_init(&tp, n, q, CG_NTT_PORTABLE, NULL), CG_OK);
        assert_int_equal(cg_ntt_table_init(&ti, n, q, be, NULL), CG_OK);
        uint64_t *a = cg_alloc(n * 8), *b = cg_alloc(n * 8);
        for (size_t i = 0; i < n; i++) a[i] = (i % 3 == 0) ? q - 1 : rnd() % q;
        memcpy(b, a, n * 8);
        cg_ntt_forward(&tp, a);
        cg_ntt_forward(&ti, b);
        assert_memory_equal(a, b, n * 8);
        cg_ntt_inverse(&tp, a);
        cg_ntt_inverse(&ti, b);
        assert_memory_equal(a, b, n * 8);
        cg_free(a);
        cg_free(b);
        cg_ntt_table_free(&tp);
        cg_ntt_table_free(&ti);
    }
}

static void test_ntt_avx2_matches_naive_and_portable(void **state)
{
    (void)state;
    if (!cg_ntt_backend_available(CG_NTT_AVX2, 1ull << 40)) {
        printf("# AVX2 not available on this CPU: AVX2 NTT not tested\n");
        skip();
    }
    check_simd_backend(CG_NTT_AVX2, 60);
}

static void test_ntt_ifma_matches_naive_and_portable(void **state)
{
    (void)state;
    if (!cg_ntt_backend_available(CG_NTT_AVX512IFMA, 1ull << 40)) {
        printf("# AVX-512 IFMA not available on this CPU: IFMA NTT not tested\n");
        skip();
    }
    check_simd_backend(CG_NTT_AVX512IFMA, 50);
    uint64_t q60;
    cg_primes_ntt(60, 1024, 1, NULL, 0, &q60, NULL);
    cg_ntt_table t;
    assert_int_equal(cg_ntt_table_init(&t, 1024, q60, CG_NTT_AVX512IFMA, NULL), CG_ERR_UNSUPPORTED);
}

/* Reference: x mod p from limbs via repeated 128-bit remainders. */
static uint64_t limbs_mod(const uint64_t *l, size_t k, uint64_t p)
{
    cg_u128 r = 0;
    for (size_t i = k; i-- > 0;) r = ((r << 64) | l[i]) % p;
    return (uint64_t)r;
}

static void test_rns_compose_and_base_conversion(void **state)
{
    (void)state;
    uint64_t qa[3], qb[2];
    assert_int_equal(cg_primes_ntt(60, 4096, 3, NULL, 0, qa, NULL), CG_OK);
    assert_int_equal(cg_primes_ntt(50, 4096, 2, NULL, 0, qb, NULL), CG_OK);
    cg_rns_base A, B;
    assert_int_equal(cg_rns_base_init(&A, qa, 3, NULL), CG_OK);
    assert_int_equal(cg_rns_base_init(&B, qb, 2, NULL), CG_OK);
    for (int it = 0; it < 2000; it++) {
        uint64_t x[3] = {rnd(), rnd(), rnd() >> 8}, res[3], back[3];
        /* x < Q needs x[2] < about 2^52; 2^56 > Q/2^128 only sometimes: reduce */
        uint64_t xr[3];
        cg_rns_decompose(&A, x, 3, res);
        for (int i = 0; i < 3; i++) assert_true(res[i] == limbs_mod(x, 3, qa[i]));
        cg_rns_compose(&A, res, back);
        cg_rns_decompose(&A, back, 3, xr);
        assert_memory_equal(res, xr, sizeof res);
        /* back < Q */
        assert_true(back[2] < A.prod[2] || (back[2] == A.prod[2] && back[1] <= A.prod[1]));
    }
    /* Fast base conversion: out = x + u*Q mod p, 0 <= u < 3. */
    const size_t n = 64;
    uint64_t in[3 * 64], out[2 * 64];
    uint64_t xs[64][3];
    for (size_t j = 0; j < n; j++) {
        uint64_t x[3] = {rnd(), rnd(), rnd() >> 10}, r[3];
        cg_rns_decompose(&A, x, 3, r);
        cg_rns_compose(&A, r, xs[j]);
        for (int i = 0; i < 3; i++) in[i * n + j] = r[i];
    }
    cg_base_conv bc;
    assert_int_equal(cg_base_conv_init(&bc, &A, &B, NULL), CG_OK);
    cg_base_conv_apply(&bc, in, out, n);
    for (size_t j = 0; j < n; j++)
        for (int i = 0; i < 2; i++) {
            uint64_t xm = limbs_mod(xs[j], 3, qb[i]), qm = limbs_mod(A.prod, 3, qb[i]);
            bool ok = false;
            for (uint64_t u = 0; u < 3 && !ok; u++)
                ok = out[i * n + j] == (uint64_t)((xm + (cg_u128)u * qm) % qb[i]);
            assert_true(ok);
        }
    cg_base_conv_free(&bc);
    cg_rns_base_free(&A);
    cg_rns_base_free(&B);
    uint64_t dup[2] = {qa[0], qa[0]};
    assert_int_equal(cg_rns_base_init(&A, dup, 2, NULL), CG_ERR_PARAM);
}

static void test_poly_ops_and_automorphisms(void **state)
{
    (void)state;
    const size_t n = 256, k = 2;
    uint64_t qs[2];
    assert_int_equal(cg_primes_ntt(50, n, 2, NULL, 0, qs, NULL), CG_OK);
    cg_modulus mods[2];
    cg_ntt_table tabs[2];
    for (int i = 0; i < 2; i++) {
        cg_modulus_init(&mods[i], qs[i], NULL);
        assert_int_equal(cg_ntt_table_init(&tabs[i], n, qs[i], CG_NTT_AUTO, NULL), CG_OK);
    }
    uint64_t *a = cg_alloc(k * n * 8), *b = cg_alloc(k * n * 8), *c = cg_alloc(k * n * 8),
             *d = cg_alloc(k * n * 8), *e = cg_alloc(k * n * 8);
    cg_sample_uniform(&prg, mods, k, n, a);
    cg_sample_uniform(&prg, mods, k, n, b);
    cg_poly_add(mods, k, n, a, b, c);
    cg_poly_sub(mods, k, n, c, b, d);
    assert_memory_equal(a, d, k * n * 8);
    cg_poly_neg(mods, k, n, a, d);
    cg_poly_add(mods, k, n, a, d, e);
    for (size_t i = 0; i < k * n; i++) assert_true(e[i] == 0);
    /* MAC128 of 300 products == repeated mul_add. */
    cg_u128 *acc = cg_calloc(k * n, sizeof(cg_u128));
    memset(d, 0, k * n * 8);
    for (int r = 0; r < 300; r++) {
        cg_poly_mac128(k * n, a, b, acc);
        cg_poly_mul_add(mods, k, n, a, b, d);
    }
    cg_poly_reduce128(mods, k, n, acc, e);
    assert_memory_equal(d, e, k * n * 8);
    cg_free(acc);
    /* Automorphism in NTT form == NTT of the coefficient automorphism. */
    const unsigned gs[] = {3, 5, 9, 2 * 256 - 1, 81};
    uint32_t *perm = cg_alloc(n * sizeof(uint32_t));
    for (size_t g = 0; g < 5; g++) {
        cg_poly_automorphism(mods, k, n, gs[g], a, c);
        cg_poly_ntt(tabs, k, c, 1);
        memcpy(d, a, k * n * 8);
        cg_poly_ntt(tabs, k, d, 2);
        cg_automorphism_ntt_perm(n, gs[g], perm);
        cg_poly_permute(k, n, perm, d, e);
        assert_memory_equal(c, e, k * n * 8);
    }
    /* Composition: X -> X^3 then X -> X^5 equals X -> X^15. */
    cg_poly_automorphism(mods, k, n, 3, a, c);
    cg_poly_automorphism(mods, k, n, 5, c, d);
    cg_poly_automorphism(mods, k, n, 15, a, e);
    assert_memory_equal(d, e, k * n * 8);
    cg_free(perm);
    cg_free(a);
    cg_free(b);
    cg_free(c);
    cg_free(d);
    cg_free(e);
    for (int i = 0; i < 2; i++) cg_ntt_table_free(&tabs[i]);
}

/* The AVX2 row add/sub equal the portable ones, edges (0, q-1) and a
 * tail that is not a multiple of four included. */
static void test_poly_add_sub_avx2_match_portable(void **state)
{
    (void)state;
    if (!cg_poly_avx2_available()) skip();
    cg_modulus m[2];
    uint64_t q[2];
    cg_primes_ntt(44, 1024, 1, NULL, 0, &q[0], NULL);
    cg_primes_ntt(60, 1024, 1, NULL, 0, &q[1], NULL);
    cg_modulus_init(&m[0], q[0], NULL);
    cg_modulus_init(&m[1], q[1], NULL);
    enum { N = 1027 };
    static uint64_t a[2 * N], b[2 * N], r1[2 * N], r2[2 * N];
    for (size_t i = 0; i < 2 * N; i++) {
        const uint64_t qi = q[i / N];
        a[i] = rnd() % qi;
        b[i] = rnd() % qi;
        if (i % 7 == 0) a[i] = qi - 1;
        if (i % 11 == 0) b[i] = qi - 1;
        if (i % 13 == 0) a[i] = 0;
    }
    cg_poly_add(m, 2, N, a, b, r1);
    cg_poly_add_avx2(m, 2, N, a, b, r2);
    assert_memory_equal(r1, r2, sizeof r1);
    cg_poly_sub(m, 2, N, a, b, r1);
    cg_poly_sub_avx2(m, 2, N, a, b, r2);
    assert_memory_equal(r1, r2, sizeof r1);
    cg_poly_add(m, 2, N, a, b, r1);
    cg_poly_add_avx2(m, 2, N, a, b, a); /* in place */
    assert_memory_equal(a, r1, sizeof a);
}

/* Modulus switching's row rounding: the exact round-to-centred division
 * for x = CRT(src mod q_i, last mod q_l), and the AVX2 form bit-identical to
 * the portable one (q_l above and below q_i, the Barrett fallback, in
 * place, a tail that is not a multiple of four). */
static void test_rescale_row(void **state)
{
    (void)state;
    static const unsigned widths[][2] = {{44, 43}, {43, 44}, {49, 46}, {36, 37}, {30, 60}, {60, 50}};
    enum { N = 1031 };
    static uint64_t src[N], last[N], r1[N], r2[N];
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        uint64_t qs[2];
        cg_modulus qi, ql;
        assert_int_equal(cg_primes_ntt(widths[w][0], 1024, 1, NULL, 0, &qs[0], NULL), CG_OK);
        assert_int_equal(cg_primes_ntt(widths[w][1], 1024, 1, qs, 1, &qs[1], NULL), CG_OK);
        cg_modulus_init(&qi, qs[0], NULL);
        cg_modulus_init(&ql, qs[1], NULL);
        cg_u128 xs[N];
        for (size_t j = 0; j < N; j++) {
            cg_u128 x = (((cg_u128)rnd() << 64) | rnd()) % ((cg_u128)qs[0] * qs[1]);
            if (j < 4) x = j; /* edges: 0, 1, ... */
            if (j == 4) x = (cg_u128)qs[0] * qs[1] - 1;
            xs[j] = x;
            src[j] = (uint64_t)(x % qs[0]);
            last[j] = (uint64_t)(x % qs[1]);
        }
        cg_poly_rescale_row(&qi, &ql, N, src, last, r1);
        for (size_t j = 0; j < N; j++) {
            const uint64_t half = qs[1] / 2, r = last[j];
            /* centred remainder in [-half, q_l - half) */
            const __int128 rc = (__int128)((r + half) % qs[1]) - (__int128)half;
            const __int128 quo = ((__int128)xs[j] - rc) / (__int128)qs[1];
            assert_int_equal(r1[j], (uint64_t)(quo % (__int128)qs[0]));
        }
        if (!cg_poly_avx2_available()) continue;
        cg_poly_rescale_row_avx2(&qi, &ql, N, src, last, r2);
        assert_memory_equal(r1, r2, sizeof r1);
        cg_poly_rescale_row_avx2(&qi, &ql, N, src, last, src); /* in place */
        assert_memory_equal(r1, src, sizeof r1);
    }
}

static void test_samplers(void **state)
{
    (void)state;
    const size_t n = 1 << 16;
    int8_t *v = cg_alloc(n);
    cg_sample_ternary(&prg, n, v);
    size_t cnt[3] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i] >= -1 && v[i] <= 1);
        cnt[v[i] + 1]++;
    }
    for (int i = 0; i < 3; i++) assert_in_range(cnt[i], n / 3 - 1200, n / 3 + 1200);
    cg_sample_cbd(&prg, n, v);
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i] >= -21 && v[i] <= 21);
        mean += v[i];
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) var += (v[i] - mean) * (v[i] - mean);
    var /= (double)n;
    assert_true(mean > -0.1 && mean < 0.1);
    assert_true(var > 10.0 && var < 11.0); /* 10.5 expected */
    cg_free(v);
    /* Wide noise: |x| <= 2^bits, and about half of the draws above 2^(bits-1). */
    uint64_t q;
    cg_primes_ntt(60, 1024, 1, NULL, 0, &q, NULL);
    cg_modulus m;
    cg_modulus_init(&m, q, NULL);
    uint64_t *w = cg_alloc(4096 * 8);
    cg_sample_wide_noise(&prg, &m, 1, 4096, 40, w);
    size_t big = 0;
    for (size_t i = 0; i < 4096; i++) {
        uint64_t mag = w[i] > q / 2 ? q - w[i] : w[i];
        assert_true(mag <= (1ull << 40));
        big += mag > (1ull << 39);
    }
    assert_in_range(big, 1800, 2300);
    /* Uniform rows stay below their modulus. */
    cg_sample_uniform(&prg, &m, 1, 4096, w);
    for (size_t i = 0; i < 4096; i++) assert_true(w[i] < q);
    /* Seeded expansion is reproducible. */
    uint8_t seed[CG_SEED_BYTES] = {1, 2, 3};
    uint64_t *w2 = cg_alloc(4096 * 8);
    cg_prg p1, p2;
    cg_prg_init(&p1, seed, 9);
    cg_prg_init(&p2, seed, 9);
    cg_sample_uniform(&p1, &m, 1, 4096, w);
    cg_sample_uniform(&p2, &m, 1, 4096, w2);
    assert_memory_equal(w, w2, 4096 * 8);
    /* The batched draws expand a seed exactly as one word per attempt did
     * (rejections included: a 2^59 + small prime rejects about half), and
     * leave the stream at the same place. */
    const uint64_t q59 = (1ull << 59) + 1; /* any odd value: rejection only needs the bound */
    cg_modulus mh;
    mh.value = q59;
    const cg_modulus two[2] = {m, mh};
    uint64_t *w3 = cg_alloc(2 * 1000 * 8);
    cg_prg_init(&p1, seed, 4);
    cg_prg_init(&p2, seed, 4);
    cg_sample_uniform(&p1, two, 2, 1000, w3);
    const uint64_t masks[2] = {~0ull >> __builtin_clzll(q), ~0ull >> __builtin_clzll(q59)};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 1000; j++) {
            uint64_t d;
            do d = cg_prg_u64(&p2) & masks[i];
            while (d >= two[i].value);
            assert_int_equal(w3[i * 1000 + j], d);
        }
    assert_int_equal(cg_prg_u64(&p1), cg_prg_u64(&p2));
    int8_t e1[300];
    cg_sample_cbd(&p1, 300, e1);
    for (size_t j = 0; j < 300; j++) {
        uint64_t r = cg_prg_u64(&p2);
        assert_int_equal(e1[j], __builtin_popcountll(r & 0x1fffff) -
                                    __builtin_popcountll((r >> 21) & 0x1fffff));
    }
    assert_int_equal(cg_prg_u64(&p1), cg_prg_u64(&p2));
    cg_free(w3);
    cg_free(w);
    cg_free(w2);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    cg_prg_init_random(&prg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modular_arithmetic_matches_int128),
        cmocka_unit_test(test_primes),
        cmocka_unit_test(test_ntt_portable_matches_naive_convolution),
        cmocka_unit_test(test_ntt_avx2_matches_naive_and_portable),
        cmocka_unit_test(test_ntt_ifma_matches_naive_and_portable),
        cmocka_unit_test(test_rns_compose_and_base_conversion),
        cmocka_unit_test(test_poly_ops_and_automorphisms),
        cmocka_unit_test(test_samplers),
        cmocka_unit_test(test_poly_add_sub_avx2_match_portable),
        cmocka_unit_test(test_rescale_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
