/* The LPN code's multiply-shift with AVX-512 (ferret_lpn.c has the portable
 * loop; tests/ot/test_ferret_lpn.c checks that both agree). */
#include "ot/ferret.h"

#include <immintrin.h>

/* w[j] = ((w[j] * k) >> 32) * 16: the column's byte offset in the table.
 * Sixteen words per step: the even and odd lanes multiplied apart
 * (vpmuludq takes the low 32 bits of each 64-bit lane). */
void fe_lpn_offsets_avx512(uint32_t *w, size_t n, uint32_t k)
{
    const __m512i kk = _mm512_set1_epi64(k);
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i x = _mm512_loadu_si512((const void *)(w + j));
        __m512i even = _mm512_mul_epu32(x, kk);                        /* lanes 0, 2, ..: 64-bit products */
        __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), kk); /* lanes 1, 3, .. */
        /* high halves times 16: even >> 28 into the low dword, odd's into the high one */
        __m512i lo = _mm512_and_si512(_mm512_srli_epi64(even, 28), _mm512_set1_epi64(0xfffffff0));
        __m512i hi = _mm512_and_si512(_mm512_slli_epi64(odd, 4), _mm512_set1_epi64((long long)0xfffffff000000000ull));
        _mm512_storeu_si512((void *)(w + j), _mm512_or_si512(lo, hi));
    }
    for (; j < n; j++) w[j] = (uint32_t)(((uint64_t)w[j] * k) >> 32) << 4;
}
