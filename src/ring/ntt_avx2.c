/* AVX2 NTT (any q < 2^61). AVX2 has no 64x64-bit multiply, so the Shoup
 * product hi64(x * w') and the low words x*w, Q*q are assembled from 32-bit
 * vpmuludq partial products, four lanes at a time. Butterfly spans 2 and 1
 * (the last two forward / first two inverse layers) regroup two vectors so
 * that each lane holds one butterfly (128-bit halves for span 2, even/odd
 * words for span 1), with the twiddles permuted to match. Values stay
 * below 2^63, so signed 64-bit compares stand in for unsigned ones. */
#include "ring/avx2_internal.h"
#include "ring/ntt_internal.h"

/* Forward CT butterfly: x in [0, 4q) -> x' = x + wy, y' = x - wy, both in [0, 4q). */
static inline void fwd_bfly(__m256i *x, __m256i *y, __m256i w, __m256i wp, __m256i q, __m256i two_q)
{
    __m256i u = csub(*x, two_q), v = mul_shoup(*y, w, wp, q);
    *x = _mm256_add_epi64(u, v);
    *y = _mm256_add_epi64(_mm256_sub_epi64(u, v), two_q);
}

/* Inverse GS butterfly: x' = x + y in [0, 2q), y' = (x - y) w in [0, 2q). */
static inline void inv_bfly(__m256i *x, __m256i *y, __m256i w, __m256i wp, __m256i q, __m256i two_q)
{
    __m256i u = *x, v = *y;
    *x = csub(_mm256_add_epi64(u, v), two_q);
    *y = mul_shoup(_mm256_add_epi64(_mm256_sub_epi64(u, v), two_q), w, wp, q);
}

/* Span 2, eight words at a: blocks [a, a+4) and [a+4, a+8) take twiddles
 * tw[0] and tw[1]. */
static inline void span2(uint64_t *a, const uint64_t *tw, const uint64_t *twp, __m256i q,
                         __m256i two_q, int inverse)
{
    __m256i v0 = _mm256_loadu_si256((const __m256i *)a), v1 = _mm256_loadu_si256((const __m256i *)(a + 4));
    __m256i x = _mm256_permute2x128_si256(v0, v1, 0x20), y = _mm256_permute2x128_si256(v0, v1, 0x31);
    __m256i w = _mm256_set_epi64x((long long)tw[1], (long long)tw[1], (long long)tw[0], (long long)tw[0]);
    __m256i wp = _mm256_set_epi64x((long long)twp[1], (long long)twp[1], (long long)twp[0], (long long)twp[0]);
    if (inverse)
        inv_bfly(&x, &y, w, wp, q, two_q);
    else
        fwd_bfly(&x, &y, w, wp, q, two_q);
    _mm256_storeu_si256((__m256i *)a, _mm256_permute2x128_si256(x, y, 0x20));
    _mm256_storeu_si256((__m256i *)(a + 4), _mm256_permute2x128_si256(x, y, 0x31));
}

/* Span 1, eight words at a: pairs 0..3 take tw[0..3]; the even/odd split
 * puts pairs 0, 2, 1, 3 in lanes 0..3. */
static inline void span1(uint64_t *a, const uint64_t *tw, const uint64_t *twp, __m256i q,
                         __m256i two_q, int inverse)
{
    __m256i v0 = _mm256_loadu_si256((const __m256i *)a), v1 = _mm256_loadu_si256((const __m256i *)(a + 4));
    __m256i x = _mm256_unpacklo_epi64(v0, v1), y = _mm256_unpackhi_epi64(v0, v1);
    __m256i w = _mm256_permute4x64_epi64(_mm256_loadu_si256((const __m256i *)tw), 0xd8);
    __m256i wp = _mm256_permute4x64_epi64(_mm256_loadu_si256((const __m256i *)twp), 0xd8);
    if (inverse)
        inv_bfly(&x, &y, w, wp, q, two_q);
    else
        fwd_bfly(&x, &y, w, wp, q, two_q);
    _mm256_storeu_si256((__m256i *)a, _mm256_unpacklo_epi64(x, y));
    _mm256_storeu_si256((__m256i *)(a + 4), _mm256_unpackhi_epi64(x, y));
}

void ntt_forward_avx2(const cg_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    const uint64_t qs = t->mod.value, two_qs = 2 * qs;
    const __m256i q = _mm256_set1_epi64x((long long)qs), two_q = _mm256_set1_epi64x((long long)two_qs);
    size_t span = n, m = 1;
    for (; m < n; m <<= 1) {
        span >>= 1;
        if (span < 4) break;
        for (size_t i = 0; i < m; i++) {
            const __m256i w = _mm256_set1_epi64x((long long)t->fwd[m + i]);
            const __m256i wp = _mm256_set1_epi64x((long long)t->fwd_sh[m + i]);
            uint64_t *x = a + 2 * i * span, *y = x + span;
            for (size_t j = 0; j < span; j += 4) {
                __m256i u = csub(_mm256_loadu_si256((const __m256i *)(x + j)), two_q);
                __m256i v = mul_shoup(_mm256_loadu_si256((const __m256i *)(y + j)), w, wp, q);
                _mm256_storeu_si256((__m256i *)(x + j), _mm256_add_epi64(u, v));
                _mm256_storeu_si256((__m256i *)(y + j), _mm256_add_epi64(_mm256_sub_epi64(u, v), two_q));
            }
        }
    }
    if (n >= 8) { /* here span == 2, m == n / 4 */
        for (size_t k = 0; k < n; k += 8) span2(a + k, t->fwd + m + k / 4, t->fwd_sh + m + k / 4, q, two_q, 0);
        m <<= 1;
        span >>= 1;
        for (size_t k = 0; k < n; k += 8) span1(a + k, t->fwd + m + k / 2, t->fwd_sh + m + k / 2, q, two_q, 0);
        m <<= 1;
    }
    for (; m < n; m <<= 1, span >>= 1) ntt_fwd_layer_scalar(t, a, m, span);
    for (size_t j = 0; j < n; j += 4) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(a + j));
        _mm256_storeu_si256((__m256i *)(a + j), csub(csub(v, two_q), q));
    }
}

void ntt_inverse_avx2(const cg_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    const uint64_t qs = t->mod.value, two_qs = 2 * qs;
    const __m256i q = _mm256_set1_epi64x((long long)qs), two_q = _mm256_set1_epi64x((long long)two_qs);
    size_t span = 1, m = n;
    if (n >= 8) { /* spans 1 (h = n / 2) and 2 (h = n / 4) */
        for (size_t k = 0; k < n; k += 8) span1(a + k, t->inv + n / 2 + k / 2, t->inv_sh + n / 2 + k / 2, q, two_q, 1);
        for (size_t k = 0; k < n; k += 8) span2(a + k, t->inv + n / 4 + k / 4, t->inv_sh + n / 4 + k / 4, q, two_q, 1);
        m >>= 2;
        span <<= 2;
    }
    for (; m > 2 && span < 4; m >>= 1, span <<= 1) ntt_inv_layer_scalar(t, a, m >> 1, span);
    for (; m > 2; m >>= 1, span <<= 1) {
        const size_t h = m >> 1;
        for (size_t i = 0; i < h; i++) {
            const __m256i w = _mm256_set1_epi64x((long long)t->inv[h + i]);
            const __m256i wp = _mm256_set1_epi64x((long long)t->inv_sh[h + i]);
            uint64_t *x = a + 2 * i * span, *y = x + span;
            for (size_t j = 0; j < span; j += 4) {
                __m256i u = _mm256_loadu_si256((const __m256i *)(x + j));
                __m256i v = _mm256_loadu_si256((const __m256i *)(y + j));
                _mm256_storeu_si256((__m256i *)(x + j), csub(_mm256_add_epi64(u, v), two_q));
                _mm256_storeu_si256((__m256i *)(y + j),
                                    mul_shoup(_mm256_add_epi64(_mm256_sub_epi64(u, v), two_q), w, wp, q));
            }
        }
    }
    const __m256i ni = _mm256_set1_epi64x((long long)t->n_inv), nip = _mm256_set1_epi64x((long long)t->n_inv_sh);
    const __m256i li = _mm256_set1_epi64x((long long)t->last_inv), lip = _mm256_set1_epi64x((long long)t->last_inv_sh);
    uint64_t *x = a, *y = a + n / 2;
    for (size_t j = 0; j < n / 2; j += 4) {
        __m256i u = _mm256_loadu_si256((const __m256i *)(x + j));
        __m256i v = _mm256_loadu_si256((const __m256i *)(y + j));
        __m256i s = mul_shoup(_mm256_add_epi64(u, v), ni, nip, q);
        __m256i d = mul_shoup(_mm256_add_epi64(_mm256_sub_epi64(u, v), two_q), li, lip, q);
        _mm256_storeu_si256((__m256i *)(x + j), csub(s, q));
        _mm256_storeu_si256((__m256i *)(y + j), csub(d, q));
    }
}
