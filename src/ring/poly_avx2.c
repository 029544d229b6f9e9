/* AVX2 forms of the row additions and subtractions (four residues per
 * instruction; the portable loops compile to scalar code, SSE2 having no
 * 64-bit compare). Residues are below 2^61, so signed compares are exact.
 * Bit-identical to cg_poly_add / cg_poly_sub (test_ring). */
#include <immintrin.h>

#include "cryptogen/ring.h"

void cg_poly_add_avx2(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        const __m256i vq = _mm256_set1_epi64x((long long)q), vq1 = _mm256_set1_epi64x((long long)(q - 1));
        const uint64_t *x = a + i * n, *y = b + i * n;
        uint64_t *o = out + i * n;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            __m256i s = _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(x + j)),
                                         _mm256_loadu_si256((const __m256i *)(y + j)));
            __m256i over = _mm256_cmpgt_epi64(s, vq1);
            _mm256_storeu_si256((__m256i *)(o + j), _mm256_sub_epi64(s, _mm256_and_si256(over, vq)));
        }
        for (; j < n; j++) o[j] = cg_mod_add(x[j], y[j], q);
    }
}

void cg_poly_sub_avx2(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        const __m256i vq = _mm256_set1_epi64x((long long)q);
        const uint64_t *x = a + i * n, *y = b + i * n;
        uint64_t *o = out + i * n;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const __m256i va = _mm256_loadu_si256((const __m256i *)(x + j));
            const __m256i vb = _mm256_loadu_si256((const __m256i *)(y + j));
            __m256i under = _mm256_cmpgt_epi64(vb, va);
            _mm256_storeu_si256((__m256i *)(o + j),
                                _mm256_add_epi64(_mm256_sub_epi64(va, vb), _mm256_and_si256(under, vq)));
        }
        for (; j < n; j++) o[j] = cg_mod_sub(x[j], y[j], q);
    }
}
