/* 64-bit modular helpers on four lanes for the AVX2 kernels (ntt_avx2.c,
 * poly_avx2.c; only files compiled with -mavx2 include this). AVX2 has no
 * 64x64-bit multiply: the products are assembled from 32-bit vpmuludq
 * partial products. Values stay below 2^63, so signed compares stand in for
 * unsigned ones. */
#ifndef CG_RING_AVX2_INTERNAL_H
#define CG_RING_AVX2_INTERNAL_H
#include <immintrin.h>

static inline __m256i mul_lo64(__m256i a, __m256i b)
{
    __m256i ll = _mm256_mul_epu32(a, b);
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                     _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
    return _mm256_add_epi64(ll, _mm256_slli_epi64(cross, 32));
}

static inline __m256i mul_hi64(__m256i a, __m256i b)
{
    const __m256i lo32 = _mm256_set1_epi64x(0xffffffffll);
    __m256i ah = _mm256_srli_epi64(a, 32), bh = _mm256_srli_epi64(b, 32);
    __m256i ll = _mm256_mul_epu32(a, b), lh = _mm256_mul_epu32(a, bh);
    __m256i hl = _mm256_mul_epu32(ah, b), hh = _mm256_mul_epu32(ah, bh);
    __m256i mid = _mm256_add_epi64(_mm256_add_epi64(_mm256_srli_epi64(ll, 32), _mm256_and_si256(lh, lo32)),
                                   _mm256_and_si256(hl, lo32));
    __m256i hi = _mm256_add_epi64(hh, _mm256_add_epi64(_mm256_srli_epi64(lh, 32), _mm256_srli_epi64(hl, 32)));
    return _mm256_add_epi64(hi, _mm256_srli_epi64(mid, 32));
}

/* x * w mod q in [0, 2q) */
static inline __m256i mul_shoup(__m256i x, __m256i w, __m256i wp, __m256i q)
{
    return _mm256_sub_epi64(mul_lo64(x, w), mul_lo64(mul_hi64(x, wp), q));
}

/* v - m if v >= m (v, m < 2^63) */
static inline __m256i csub(__m256i v, __m256i m)
{
    __m256i lt = _mm256_cmpgt_epi64(m, v);
    return _mm256_sub_epi64(v, _mm256_andnot_si256(lt, m));
}

#endif
