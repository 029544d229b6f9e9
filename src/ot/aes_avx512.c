/* AES-128 counter mode and the tweakable hash with VAES on 512-bit vectors:
 * four blocks per instruction, sixteen in flight. Same results as the AES-NI
 * versions (tested against them); the tails go through those. */
#include "ot/ot_internal.h"

#include <immintrin.h>

/* The build gives this file the AVX-512 flags; VAES and AES come per function
 * (the same spelling works in gcc and clang). */
#define VAES_FN __attribute__((target("vaes,aes")))

VAES_FN static inline void load_keys(const ot_aes_key *k, __m512i rk[11])
{
    for (int r = 0; r < 11; r++)
        rk[r] = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)(k->rk + 16 * r)));
}

VAES_FN static inline void enc4x4(const __m512i rk[11], __m512i b[4])
{
    #pragma GCC unroll 16
    for (int j = 0; j < 4; j++) b[j] = _mm512_xor_si512(b[j], rk[0]);
    #pragma GCC unroll 16
    for (int r = 1; r < 10; r++)
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++) b[j] = _mm512_aesenc_epi128(b[j], rk[r]);
    #pragma GCC unroll 16
    for (int j = 0; j < 4; j++) b[j] = _mm512_aesenclast_epi128(b[j], rk[10]);
}

VAES_FN void ot_aes_ctr_vaes(const ot_aes_key *k, uint64_t ctr, uint8_t *out, size_t nblocks)
{
    __m512i rk[11];
    load_keys(k, rk);
    const __m512i lane = _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0);
    const __m512i four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
    size_t i = 0;
    for (; i + 16 <= nblocks; i += 16) {
        __m512i b[4];
        b[0] = _mm512_add_epi64(_mm512_set_epi64(0, (long long)(ctr + i), 0, (long long)(ctr + i), 0,
                                                 (long long)(ctr + i), 0, (long long)(ctr + i)),
                                lane);
        #pragma GCC unroll 16
        for (int j = 1; j < 4; j++) b[j] = _mm512_add_epi64(b[j - 1], four);
        enc4x4(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++) _mm512_storeu_si512((void *)(out + 16 * (i + 4 * (size_t)j)), b[j]);
    }
    if (i < nblocks) ot_aes_ctr_aesni(k, ctr + i, out + 16 * i, nblocks - i);
}

VAES_FN void ot_tccr_vaes(const ot_aes_key *pi, const uint8_t *x, const uint8_t *mask, uint8_t *out,
                  size_t n, uint64_t tweak_lo, uint64_t tweak_hi)
{
    __m512i rk[11];
    load_keys(pi, rk);
    __m512i m = mask ? _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)mask)) : _mm512_setzero_si512();
    const __m512i lane = _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0);
    const __m512i four = _mm512_set_epi64(0, 4, 0, 4, 0, 4, 0, 4);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i s[4], b[4];
        long long lo = (long long)(tweak_lo + i), hi = (long long)tweak_hi;
        __m512i tw = _mm512_add_epi64(_mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo), lane);
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++)
            s[j] = _mm512_xor_si512(_mm512_loadu_si512((const void *)(x + 16 * (i + 4 * (size_t)j))), m);
        enc4x4(rk, s); /* pi(x), then pi(pi(x) ^ t) ^ pi(x) as in aes_aesni.c */
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++) {
            b[j] = _mm512_xor_si512(s[j], tw);
            tw = _mm512_add_epi64(tw, four);
        }
        enc4x4(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++)
            _mm512_storeu_si512((void *)(out + 16 * (i + 4 * (size_t)j)), _mm512_xor_si512(b[j], s[j]));
    }
    if (i < n) ot_tccr_aesni(pi, x + 16 * i, mask, out + 16 * i, n - i, tweak_lo + i, tweak_hi);
}
