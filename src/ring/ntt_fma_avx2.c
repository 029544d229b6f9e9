/* FMA-double NTT for primes q < 2^50 on AVX2 + FMA CPUs (the AVX2 back-end
 * picks it at table init, see ntt.c). The whole transform runs on doubles:
 * the input converts once (integers below 2^52 through the 2^52 bit
 * pattern), every layer keeps values centred, |v| <= ~1.7 q < 2^51, and the
 * output is reduced to [0, q) and converted back, so it equals the portable
 * kernels' output word for word (both are the unique reduced residues).
 *
 * Product y w mod q (|y| < 2^52, 0 <= w < q): h + l = y w exactly (FMA),
 * c = round(y * fl(w / q)) is within 0.5 + 3 * 2^-53 |y| of y w / q, so
 * h - c q is an integer of magnitude < 2q + ulp(h) < 2^52, exact in one
 * FMA, and adding l gives y w - c q exactly, in [-(0.5 + e) q, (0.5 + e) q]
 * with e = 3 * 2^-53 |y| (e < 0.01 for 44-bit primes). Centred reduction of
 * a sum x uses the same rounded quotient. */
#include <immintrin.h>

#include "ring/ntt_internal.h"

#define FMA_FN __attribute__((target("avx2,fma")))

typedef struct fconst {
    __m256d q, qinv;
} fconst;

/* y w - round(y w / q) q, exact (see the header). */
FMA_FN static inline __m256d mulmod(__m256d y, __m256d w, __m256d wq, __m256d q)
{
    const __m256d h = _mm256_mul_pd(y, w);
    const __m256d l = _mm256_fmsub_pd(y, w, h);
    const __m256d c = _mm256_round_pd(_mm256_mul_pd(y, wq), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_add_pd(_mm256_fnmadd_pd(c, q, h), l);
}

/* x - round(x / q) q: centred, |result| <= q / 2 + tiny. */
FMA_FN static inline __m256d creduce(__m256d x, const fconst *k)
{
    const __m256d c = _mm256_round_pd(_mm256_mul_pd(x, k->qinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_fnmadd_pd(c, k->q, x);
}

FMA_FN static inline void fwd_bfly(__m256d *x, __m256d *y, __m256d w, __m256d wq, const fconst *k)
{
    const __m256d u = creduce(*x, k), v = mulmod(*y, w, wq, k->q);
    *x = _mm256_add_pd(u, v);
    *y = _mm256_sub_pd(u, v);
}

FMA_FN static inline void inv_bfly(__m256d *x, __m256d *y, __m256d w, __m256d wq, const fconst *k)
{
    const __m256d u = *x, v = *y;
    *x = creduce(_mm256_add_pd(u, v), k);
    *y = mulmod(_mm256_sub_pd(u, v), w, wq, k->q);
}

/* `inverse` is a constant at every call: the branch folds away. */
FMA_FN static inline void bfly(__m256d *x, __m256d *y, __m256d w, __m256d wq, const fconst *k, int inverse)
{
    if (inverse)
        inv_bfly(x, y, w, wq, k);
    else
        fwd_bfly(x, y, w, wq, k);
}

/* Four table words (< 2^52) to doubles. */
FMA_FN static inline __m256d to_pd(__m256i v)
{
    const __m256i magic_i = _mm256_set1_epi64x(0x4330000000000000ll);
    return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(v, magic_i)), _mm256_set1_pd(4503599627370496.0));
}

/* One layer of span >= 4: groups butterflies of span pairs, twiddle i of
 * group i; both directions share it. */
FMA_FN static inline void layer(double *d, size_t groups, size_t span, const uint64_t *tw,
                                const fconst *k, int inverse)
{
    for (size_t i = 0; i < groups; i++) {
        const __m256d w = _mm256_set1_pd((double)(int64_t)tw[i]), wq = _mm256_mul_pd(w, k->qinv);
        double *x = d + 2 * i * span, *y = x + span;
        for (size_t j = 0; j < span; j += 4) {
            __m256d u = _mm256_loadu_pd(x + j), v = _mm256_loadu_pd(y + j);
            bfly(&u, &v, w, wq, k, inverse);
            _mm256_storeu_pd(x + j, u);
            _mm256_storeu_pd(y + j, v);
        }
    }
}

/* Span 2 / span 1 over eight words, twiddles regrouped as in ntt_avx2.c. */
FMA_FN static inline void span2(double *a, const uint64_t *tw, const fconst *k, int inverse)
{
    __m256d v0 = _mm256_loadu_pd(a), v1 = _mm256_loadu_pd(a + 4);
    __m256d x = _mm256_permute2f128_pd(v0, v1, 0x20), y = _mm256_permute2f128_pd(v0, v1, 0x31);
    const __m256d w = _mm256_set_pd((double)(int64_t)tw[1], (double)(int64_t)tw[1], (double)(int64_t)tw[0], (double)(int64_t)tw[0]);
    const __m256d wq = _mm256_mul_pd(w, k->qinv);
    bfly(&x, &y, w, wq, k, inverse);
    _mm256_storeu_pd(a, _mm256_permute2f128_pd(x, y, 0x20));
    _mm256_storeu_pd(a + 4, _mm256_permute2f128_pd(x, y, 0x31));
}

FMA_FN static inline void span1(double *a, const uint64_t *tw, const fconst *k, int inverse)
{
    __m256d v0 = _mm256_loadu_pd(a), v1 = _mm256_loadu_pd(a + 4);
    __m256d x = _mm256_unpacklo_pd(v0, v1), y = _mm256_unpackhi_pd(v0, v1);
    const __m256d w = _mm256_permute4x64_pd(to_pd(_mm256_loadu_si256((const __m256i *)tw)), 0xd8);
    const __m256d wq = _mm256_mul_pd(w, k->qinv);
    bfly(&x, &y, w, wq, k, inverse);
    _mm256_storeu_pd(a, _mm256_unpacklo_pd(x, y));
    _mm256_storeu_pd(a + 4, _mm256_unpackhi_pd(x, y));
}

/* In place: words below 2^52 to doubles (the array is reused as double[]). */
FMA_FN static void words_to_pd(uint64_t *a, size_t n)
{
    for (size_t j = 0; j < n; j += 4)
        _mm256_storeu_pd((double *)(a + j), to_pd(_mm256_loadu_si256((const __m256i *)(a + j))));
}

/* Centred doubles (|x| < 2^51) to words in [0, q): floor quotient, then one
 * correction either way for the estimate's error. */
FMA_FN static void pd_to_words(uint64_t *a, size_t n, const fconst *k)
{
    const __m256i magic_i = _mm256_set1_epi64x(0x4330000000000000ll);
    const __m256d magic = _mm256_set1_pd(4503599627370496.0), zero = _mm256_setzero_pd();
    for (size_t j = 0; j < n; j += 4) {
        const __m256d x = _mm256_loadu_pd((const double *)(a + j));
        __m256d r = _mm256_fnmadd_pd(_mm256_floor_pd(_mm256_mul_pd(x, k->qinv)), k->q, x);
        r = _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, zero, _CMP_LT_OQ), k->q));
        r = _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, k->q, _CMP_GE_OQ), k->q));
        _mm256_storeu_si256((__m256i *)(a + j), _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(r, magic)), magic_i));
    }
}

FMA_FN void ntt_forward_fma(const cg_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    const double qd = (double)t->mod.value;
    const fconst k = {_mm256_set1_pd(qd), _mm256_set1_pd(1.0 / qd)};
    double *d = (double *)a;
    words_to_pd(a, n);
    size_t span = n / 2, m = 1;
    for (; span >= 4; m <<= 1, span >>= 1) layer(d, m, span, t->fwd + m, &k, 0);
    /* here span == 2, m == n / 4 (n >= 8) */
    for (size_t j = 0; j < n; j += 8) span2(d + j, t->fwd + m + j / 4, &k, 0);
    m <<= 1;
    for (size_t j = 0; j < n; j += 8) span1(d + j, t->fwd + m + j / 2, &k, 0);
    pd_to_words(a, n, &k);
}

FMA_FN void ntt_inverse_fma(const cg_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    const double qd = (double)t->mod.value;
    const fconst k = {_mm256_set1_pd(qd), _mm256_set1_pd(1.0 / qd)};
    double *d = (double *)a;
    words_to_pd(a, n);
    for (size_t j = 0; j < n; j += 8) span1(d + j, t->inv + n / 2 + j / 2, &k, 1);
    for (size_t j = 0; j < n; j += 8) span2(d + j, t->inv + n / 4 + j / 4, &k, 1);
    size_t span = 4;
    for (size_t m = n / 4; m > 2; m >>= 1, span <<= 1) layer(d, m >> 1, span, t->inv + (m >> 1), &k, 1);
    /* The last layer also multiplies by n^-1 (x + y) and n^-1 psi^-bitrev(1) (x - y). */
    const __m256d ni = _mm256_set1_pd((double)(int64_t)t->n_inv), niq = _mm256_mul_pd(ni, k.qinv);
    const __m256d li = _mm256_set1_pd((double)(int64_t)t->last_inv), liq = _mm256_mul_pd(li, k.qinv);
    double *x = d, *y = d + n / 2;
    for (size_t j = 0; j < n / 2; j += 4) {
        const __m256d u = _mm256_loadu_pd(x + j), v = _mm256_loadu_pd(y + j);
        _mm256_storeu_pd(x + j, mulmod(_mm256_add_pd(u, v), ni, niq, k.q));
        _mm256_storeu_pd(y + j, mulmod(_mm256_sub_pd(u, v), li, liq, k.q));
    }
    pd_to_words(a, n, &k);
}
