/* The ring layer's AVX2 / FMA product kernels against the portable 128-bit
 * paths and __int128 sums: the limb multiply-accumulate, the two-polynomial
 * multiply-accumulate, the FMA pointwise product and the FMA-double NTT;
 * the AVX-512 IFMA pointwise product and multiply-accumulate. */
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

/* The AVX2 limb multiply-accumulate gives the 128-bit path's residues, for
 * one product and for many (with a reduction in between, as mac_rows does),
 * 44- and 52-bit primes, entries up to q - 1, a tail. */
static void test_mac26_matches_mac128(void **state)
{
    (void)state;
    if (!cg_poly_avx2_available()) skip();
    enum { N = 259, K = 300 };
    static uint64_t a[K][N], b[K][N], acc26[3 * N], r1[N], r2[N];
    static cg_u128 acc[N];
    const unsigned bits[] = {44, 52};
    for (size_t w = 0; w < 2; w++) {
        uint64_t q;
        cg_modulus m;
        assert_int_equal(cg_primes_ntt(bits[w], 1024, 1, NULL, 0, &q, NULL), CG_OK);
        cg_modulus_init(&m, q, NULL);
        for (size_t i = 0; i < K; i++)
            for (size_t x = 0; x < N; x++) {
                a[i][x] = (i + x) % 5 == 0 ? q - 1 : rnd() % q;
                b[i][x] = (i * x) % 7 == 0 ? q - 1 : rnd() % q;
            }
        for (size_t k = 1; k <= K; k += K - 1) {
            memset(acc, 0, sizeof acc);
            memset(acc26, 0, sizeof acc26);
            for (size_t i = 0; i < k; i++) {
                cg_poly_mac128(N, a[i], b[i], acc);
                cg_poly_mac26_avx2(N, a[i], b[i], acc26);
                if (i == 150) { /* a mid-way reduction of the limb rows */
                    cg_poly_reduce26(&m, N, acc26, acc26);
                    memset(acc26 + N, 0, 2 * N * sizeof(uint64_t));
                }
            }
            cg_poly_reduce128(&m, 1, N, acc, r1);
            cg_poly_reduce26(&m, N, acc26, r2);
            assert_memory_equal(r1, r2, sizeof r1);
        }
    }
}

/* The AVX2 + FMA pointwise product equals the portable one: 30- to 50-bit
 * primes, the 60-bit fallback, edges 0, 1, q - 1, a tail. */
static void test_poly_mul_fma(void **state)
{
    (void)state;
    if (!cg_poly_fma_available()) skip();
    enum { N = 4099 };
    static uint64_t a[N], b[N], r1[N], r2[N];
    const unsigned bits[] = {30, 36, 44, 49, 50, 60};
    for (size_t w = 0; w < sizeof bits / sizeof bits[0]; w++) {
        uint64_t q;
        cg_modulus m;
        assert_int_equal(cg_primes_ntt(bits[w], 1024, 1, NULL, 0, &q, NULL), CG_OK);
        cg_modulus_init(&m, q, NULL);
        for (size_t x = 0; x < N; x++) {
            a[x] = x % 3 == 0 ? q - 1 - x % 5 : rnd() % q;
            b[x] = x % 4 == 0 ? q - 1 : x % 17 == 0 ? x % 2 : rnd() % q;
        }
        cg_poly_mul(&m, 1, N, a, b, r1);
        cg_poly_mul_avx2(&m, 1, N, a, b, r2);
        assert_memory_equal(r1, r2, sizeof r1);
    }
}

/* The AVX2 two-polynomial multiply-accumulate equals the portable one
 * (and a 128-bit sum) for 44- and 49-bit primes, residues up to q - 1, a
 * length that is no multiple of four or of the pass, and outputs written
 * over the first input. */
static void test_poly_mac2_avx2_matches_portable(void **state)
{
    (void)state;
    if (!cg_poly_avx2_available()) skip();
    enum { N = 1030, K = 70 };
    static uint64_t a[2 * K][N], b[K][N], r0[N], r1[N], s0[N], s1[N];
    const unsigned bits[2] = {44, 49};
    for (int t = 0; t < 2; t++) {
        uint64_t q;
        cg_modulus m;
        assert_int_equal(cg_primes_ntt(bits[t], 1024, 1, NULL, 0, &q, NULL), CG_OK);
        cg_modulus_init(&m, q, NULL);
        assert_true(cg_poly_mac2_max_terms(&m) >= K);
        const uint64_t *p0[K], *p1[K], *pb[K];
        for (size_t i = 0; i < K; i++) {
            for (size_t x = 0; x < N; x++) {
                a[i][x] = x % 5 == 0 ? q - 1 : rnd() % q;
                a[K + i][x] = rnd() % q;
                b[i][x] = x % 3 == 0 ? q - 1 : rnd() % q;
            }
            p0[i] = a[i], p1[i] = a[K + i], pb[i] = b[i];
        }
        for (size_t k = 1; k <= K; k += K - 1) {
            cg_poly_mac2(&m, N, k, p0, p1, pb, r0, r1);
            cg_poly_mac2_avx2(&m, N, k, p0, p1, pb, s0, s1);
            assert_memory_equal(r0, s0, sizeof r0);
            assert_memory_equal(r1, s1, sizeof r1);
            for (size_t x = 0; x < N; x += 97) {
                cg_u128 e = 0;
                for (size_t i = 0; i < k; i++) e = (e + (cg_u128)a[i][x] * b[i][x]) % q;
                assert_true(r0[x] == (uint64_t)e);
            }
        }
        cg_poly_mac2_avx2(&m, N, K, p0, p1, pb, a[0], a[K]); /* over the first input */
        assert_memory_equal(a[0], r0, sizeof r0);
        assert_memory_equal(a[K], r1, sizeof r1);
    }
}

/* The prime sizes of the presets' q, p and auxiliary primes (36-50 bits),
 * a few primes of each, and small and 60-bit ones (portable fallback). */
static const unsigned ifma_bits[] = {20, 30, 36, 37, 43, 44, 45, 46, 49, 50, 60};

/* The IFMA pointwise product equals the portable one and a 128-bit
 * remainder: edges 0, 1, q - 1, a tail of 3. */
static void test_poly_mul_ifma(void **state)
{
    (void)state;
    if (!cg_poly_ifma_available()) skip();
    enum { N = 4099 };
    static uint64_t a[N], b[N], r1[N], r2[N];
    for (size_t w = 0; w < sizeof ifma_bits / sizeof ifma_bits[0]; w++) {
        uint64_t qs[3];
        assert_int_equal(cg_primes_ntt(ifma_bits[w], 2048, 3, NULL, 0, qs, NULL), CG_OK);
        for (size_t t = 0; t < 3; t++) {
            const uint64_t q = qs[t];
            cg_modulus m;
            cg_modulus_init(&m, q, NULL);
            for (size_t x = 0; x < N; x++) {
                a[x] = x % 3 == 0 ? q - 1 - x % 5 : x % 11 == 0 ? 0 : rnd() % q;
                b[x] = x % 4 == 0 ? q - 1 : x % 17 == 0 ? x % 2 : rnd() % q;
            }
            cg_poly_mul(&m, 1, N, a, b, r1);
            cg_poly_mul_ifma(&m, 1, N, a, b, r2);
            assert_memory_equal(r1, r2, sizeof r1);
            for (size_t x = 0; x < N; x++) assert_true(r2[x] == (uint64_t)((cg_u128)a[x] * b[x] % q));
            cg_poly_mul_ifma(&m, 1, N, a, b, a); /* in place */
            assert_memory_equal(a, r1, sizeof r1);
        }
    }
}

/* Naive sum_i a[i][x] b[i][x] mod q. */
static uint64_t naive_mac(const uint64_t *const *a, const uint64_t *const *b, size_t k, size_t x, uint64_t q)
{
    cg_u128 e = 0;
    for (size_t i = 0; i < k; i++) e = (e + (cg_u128)a[i][x] * b[i][x]) % q;
    return (uint64_t)e;
}

/* The IFMA two-polynomial multiply-accumulate equals the portable one and
 * the naive sum: 20- to 50-bit primes, k = 1, 2, 70, 4100 and 2^16 - 1
 * (folds of the low halves, entries q - 1: the largest sums), lengths
 * with and without a tail, outputs written over the first input. */
static void test_poly_mac2_ifma(void **state)
{
    (void)state;
    if (!cg_poly_ifma_available()) skip();
    enum { N = 1030, K = 70, KB = 4100, NB = 37, KMAX = 65535 };
    static uint64_t a[2 * K][N], b[K][N], r0[N], r1[N], s0[N], s1[N];
    static uint64_t big[3][KB][NB];
    for (size_t w = 0; w + 1 < sizeof ifma_bits / sizeof ifma_bits[0]; w++) {
        uint64_t qs[2];
        assert_int_equal(cg_primes_ntt(ifma_bits[w], 2048, 2, NULL, 0, qs, NULL), CG_OK);
        for (size_t t = 0; t < 2; t++) {
            const uint64_t q = qs[t];
            cg_modulus m;
            cg_modulus_init(&m, q, NULL);
            const uint64_t *p0[K], *p1[K], *pb[K];
            for (size_t i = 0; i < K; i++) {
                for (size_t x = 0; x < N; x++) {
                    a[i][x] = x % 5 == 0 ? q - 1 : x % 13 == 0 ? 0 : rnd() % q;
                    a[K + i][x] = x % 7 == 0 ? q - 1 : rnd() % q;
                    b[i][x] = x % 3 == 0 ? q - 1 : rnd() % q;
                }
                p0[i] = a[i], p1[i] = a[K + i], pb[i] = b[i];
            }
            const size_t ks[] = {1, 2, K};
            for (size_t c = 0; c < 3; c++) {
                const size_t k = ks[c];
                cg_poly_mac2(&m, N, k, p0, p1, pb, r0, r1);
                cg_poly_mac2_ifma(&m, N, k, p0, p1, pb, s0, s1);
                assert_memory_equal(r0, s0, sizeof r0);
                assert_memory_equal(r1, s1, sizeof r1);
                cg_poly_mac2_ifma(&m, 32, k, p0, p1, pb, s0, s1); /* no tail */
                assert_memory_equal(r0, s0, 32 * sizeof r0[0]);
                for (size_t x = 0; x < N; x += 37) {
                    assert_true(r0[x] == naive_mac(p0, pb, k, x, q));
                    assert_true(r1[x] == naive_mac(p1, pb, k, x, q));
                }
            }
            cg_poly_mac2_ifma(&m, N, K, p0, p1, pb, a[0], a[K]); /* over the first input */
            assert_memory_equal(a[0], r0, sizeof r0);
            assert_memory_equal(a[K], r1, sizeof r1);
            if (t == 1 || ifma_bits[w] < 44) continue;
            static const uint64_t *q0[KMAX], *q1[KMAX], *qb[KMAX];
            for (size_t i = 0; i < KB; i++) {
                for (size_t x = 0; x < NB; x++) {
                    big[0][i][x] = x < 33 ? q - 1 : rnd() % q;
                    big[1][i][x] = rnd() % q;
                    big[2][i][x] = x < 33 ? q - 1 : rnd() % q;
                }
                q0[i] = big[0][i], q1[i] = big[1][i], qb[i] = big[2][i];
            }
            for (size_t i = KB; i < KMAX; i++) q0[i] = q0[i % KB], q1[i] = q1[i % KB], qb[i] = qb[i % KB];
            const size_t kk[] = {KB, KMAX}; /* KMAX: the kernel's largest k */
            for (size_t c = 0; c < 2; c++) {
                cg_poly_mac2(&m, NB, kk[c], q0, q1, qb, r0, r1);
                cg_poly_mac2_ifma(&m, NB, kk[c], q0, q1, qb, s0, s1);
                assert_memory_equal(r0, s0, NB * sizeof r0[0]);
                assert_memory_equal(r1, s1, NB * sizeof r1[0]);
                assert_true(r0[0] == naive_mac(q0, qb, kk[c], 0, q));
            }
        }
    }
}

/* Negacyclic a b mod (x^n + 1, q), schoolbook. */
static void naive_negacyclic(const uint64_t *a, const uint64_t *b, uint64_t *c, size_t n, uint64_t q)
{
    memset(c, 0, n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            const uint64_t p = (uint64_t)((cg_u128)a[i] * b[j] % q);
            const size_t k = (i + j) % n;
            c[k] = i + j < n ? (c[k] + p) % q : (c[k] + q - p) % q;
        }
}

/* The AVX2 back-end's FMA-double NTT (primes below 2^50) gives the portable
 * kernels' words, forward and inverse, for 30- to 50-bit primes and n from 8
 * to 16384, on reduced inputs and on the lazy ranges the portable kernels
 * accept ([0, 4q) forward, [0, 2q) inverse, with their top values); and a
 * product through it equals the schoolbook one (n = 8, 64, 1024). */
static void test_ntt_fma_matches_portable_and_naive(void **state)
{
    (void)state;
    if (!cg_poly_fma_available()) skip();
    const unsigned bits[] = {30, 36, 43, 44, 49, 50};
    const size_t sizes[] = {8, 16, 64, 1024, 4096, 8192, 16384};
    for (size_t w = 0; w < sizeof bits / sizeof bits[0]; w++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const size_t n = sizes[s];
            uint64_t q;
            assert_int_equal(cg_primes_ntt(bits[w], n, 1, NULL, 0, &q, NULL), CG_OK);
            cg_ntt_table tp, tf;
            assert_int_equal(cg_ntt_table_init(&tp, n, q, CG_NTT_PORTABLE, NULL), CG_OK);
            assert_int_equal(cg_ntt_table_init(&tf, n, q, CG_NTT_AVX2, NULL), CG_OK);
            assert_true(tf.fma && q < (1ull << 50));
            uint64_t *a = cg_alloc(n * 8), *b = cg_alloc(n * 8), *c = cg_alloc(n * 8);
            for (int lazy = 0; lazy < 3; lazy++) {
                /* 0: [0, q); 1: forward [0, 4q); 2: inverse [0, 2q) */
                const uint64_t top = lazy == 1 ? 4 * q : lazy == 2 ? 2 * q : q;
                for (size_t i = 0; i < n; i++) a[i] = i % 3 == 0 ? top - 1 - i % 2 : i % 7 == 0 ? 0 : rnd() % top;
                memcpy(b, a, n * 8);
                if (lazy != 2) {
                    cg_ntt_forward(&tp, a);
                    cg_ntt_forward(&tf, b);
                    assert_memory_equal(a, b, n * 8);
                    for (size_t i = 0; i < n; i++) assert_true(b[i] < q);
                }
                if (lazy != 1) {
                    cg_ntt_inverse(&tp, a);
                    cg_ntt_inverse(&tf, b);
                    assert_memory_equal(a, b, n * 8);
                    for (size_t i = 0; i < n; i++) assert_true(b[i] < q);
                }
            }
            if (n <= 1024) {
                for (size_t i = 0; i < n; i++) a[i] = i % 5 == 0 ? q - 1 : rnd() % q, b[i] = rnd() % q;
                naive_negacyclic(a, b, c, n, q);
                cg_ntt_forward(&tf, a);
                cg_ntt_forward(&tf, b);
                for (size_t i = 0; i < n; i++) a[i] = (uint64_t)((cg_u128)a[i] * b[i] % q);
                cg_ntt_inverse(&tf, a);
                assert_memory_equal(a, c, n * 8);
            }
            cg_free(a);
            cg_free(b);
            cg_free(c);
            cg_ntt_table_free(&tp);
            cg_ntt_table_free(&tf);
        }
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    cg_prg_init_random(&prg);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac26_matches_mac128),
        cmocka_unit_test(test_poly_mul_fma),
        cmocka_unit_test(test_poly_mac2_avx2_matches_portable),
        cmocka_unit_test(test_ntt_fma_matches_portable_and_naive),
        cmocka_unit_test(test_poly_mul_ifma),
        cmocka_unit_test(test_poly_mac2_ifma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
