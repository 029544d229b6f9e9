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

/* Slots per pass: 32 vectors of 4; the six lane sums per vector (6 KB)
 * stay in L1 while every input streams its 1 KB of the pass. */
#define MAC2_CHUNK 128

/* Each residue (< q < 2^bits) splits into s = ceil(bits / 2) low bits and
 * the rest, so vpmuludq's 32-bit lanes hold the halves; the three partial
 * sums (low, cross, high) stay below 2^64 for k <= cg_poly_mac2_max_terms. */
void cg_poly_mac2_avx2(const cg_modulus *m, size_t n, size_t k, const uint64_t *const *a0,
                       const uint64_t *const *a1, const uint64_t *const *b, uint64_t *o0,
                       uint64_t *o1)
{
    const unsigned s = (m->bits + 1) / 2;
    const __m256i lo = _mm256_set1_epi64x((long long)((1ull << s) - 1));
    const __m128i sh = _mm_cvtsi32_si128((int)s);
    __m256i acc[6][MAC2_CHUNK / 4];
    uint64_t lanes[6][MAC2_CHUNK];
    for (size_t x0 = 0; x0 < n; x0 += MAC2_CHUNK) {
        const size_t len = n - x0 < MAC2_CHUNK ? n - x0 : MAC2_CHUNK, nv = len / 4;
        for (size_t p = 0; p < 6; p++)
            for (size_t v = 0; v < nv; v++) acc[p][v] = _mm256_setzero_si256();
        for (size_t i = 0; i < k; i++) {
            const uint64_t *pb = b[i] + x0, *pa = a0[i] + x0, *pc = a1[i] + x0;
            for (size_t v = 0; v < nv; v++) {
                const __m256i vb = _mm256_loadu_si256((const __m256i *)(pb + 4 * v));
                const __m256i bl = _mm256_and_si256(vb, lo), bh = _mm256_srl_epi64(vb, sh);
                const __m256i va = _mm256_loadu_si256((const __m256i *)(pa + 4 * v));
                const __m256i al = _mm256_and_si256(va, lo), ah = _mm256_srl_epi64(va, sh);
                acc[0][v] = _mm256_add_epi64(acc[0][v], _mm256_mul_epu32(al, bl));
                acc[1][v] = _mm256_add_epi64(acc[1][v], _mm256_add_epi64(_mm256_mul_epu32(al, bh),
                                                                         _mm256_mul_epu32(ah, bl)));
                acc[2][v] = _mm256_add_epi64(acc[2][v], _mm256_mul_epu32(ah, bh));
                const __m256i vc = _mm256_loadu_si256((const __m256i *)(pc + 4 * v));
                const __m256i cl = _mm256_and_si256(vc, lo), ch = _mm256_srl_epi64(vc, sh);
                acc[3][v] = _mm256_add_epi64(acc[3][v], _mm256_mul_epu32(cl, bl));
                acc[4][v] = _mm256_add_epi64(acc[4][v], _mm256_add_epi64(_mm256_mul_epu32(cl, bh),
                                                                         _mm256_mul_epu32(ch, bl)));
                acc[5][v] = _mm256_add_epi64(acc[5][v], _mm256_mul_epu32(ch, bh));
            }
        }
        for (size_t p = 0; p < 6; p++)
            for (size_t v = 0; v < nv; v++) _mm256_storeu_si256((__m256i *)(lanes[p] + 4 * v), acc[p][v]);
        for (size_t x = 0; x < nv * 4; x++) {
            o0[x0 + x] = cg_mod_reduce128(((cg_u128)lanes[2][x] << (2 * s)) + ((cg_u128)lanes[1][x] << s) +
                                              lanes[0][x], m);
            o1[x0 + x] = cg_mod_reduce128(((cg_u128)lanes[5][x] << (2 * s)) + ((cg_u128)lanes[4][x] << s) +
                                              lanes[3][x], m);
        }
        for (size_t x = nv * 4; x < len; x++) { /* n not a multiple of 4 */
            cg_u128 s0 = 0, s1 = 0;
            for (size_t i = 0; i < k; i++) {
                s0 += (cg_u128)a0[i][x0 + x] * b[i][x0 + x];
                s1 += (cg_u128)a1[i][x0 + x] * b[i][x0 + x];
            }
            o0[x0 + x] = cg_mod_reduce128(s0, m), o1[x0 + x] = cg_mod_reduce128(s1, m);
        }
    }
}
