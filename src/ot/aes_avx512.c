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

/* ot_tccr_multi_aesni on 512-bit vectors: pi(x) once, then sixteen tweaks
 * (tweak_lo, tweak_hi + i) in flight. The split 1-of-N sender hashes N
 * tweaks per row this way, the largest AES cost of the non-linear layers
 * with Ferret. */
VAES_FN void ot_tccr_multi_vaes(const ot_aes_key *pi, const uint8_t x[16], uint8_t *out, size_t n,
                                uint64_t tweak_lo, uint64_t tweak_hi)
{
    if (n < 8) {
        ot_tccr_multi_aesni(pi, x, out, n, tweak_lo, tweak_hi);
        return;
    }
    __m512i rk[11];
    load_keys(pi, rk);
    /* s = pi(x) in every lane (one block through a whole vector: the cost of one) */
    __m512i s = _mm512_xor_si512(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)x)), rk[0]);
    #pragma GCC unroll 16
    for (int r = 1; r < 10; r++) s = _mm512_aesenc_epi128(s, rk[r]);
    const __m512i sv = _mm512_aesenclast_epi128(s, rk[10]);
    const __m512i lane = _mm512_set_epi64(3, 0, 2, 0, 1, 0, 0, 0);
    const __m512i four = _mm512_set_epi64(4, 0, 4, 0, 4, 0, 4, 0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        long long lo = (long long)tweak_lo, hi = (long long)(tweak_hi + i);
        __m512i tw = _mm512_add_epi64(_mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo), lane);
        __m512i b[4];
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++) {
            b[j] = _mm512_xor_si512(sv, tw);
            tw = _mm512_add_epi64(tw, four);
        }
        enc4x4(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++)
            _mm512_storeu_si512((void *)(out + 16 * (i + 4 * (size_t)j)), _mm512_xor_si512(b[j], sv));
    }
    /* 4 to 12 left (the sizes here are powers of two: 8 at N = 16) */
    for (; i + 4 <= n; i += 4) {
        long long lo = (long long)tweak_lo, hi = (long long)(tweak_hi + i);
        __m512i b = _mm512_xor_si512(sv, _mm512_add_epi64(_mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo), lane));
        b = _mm512_xor_si512(b, rk[0]);
        #pragma GCC unroll 16
        for (int r = 1; r < 10; r++) b = _mm512_aesenc_epi128(b, rk[r]);
        b = _mm512_aesenclast_epi128(b, rk[10]);
        _mm512_storeu_si512((void *)(out + 16 * i), _mm512_xor_si512(b, sv));
    }
    if (i < n) ot_tccr_multi_aesni(pi, x, out + 16 * i, n - i, tweak_lo, tweak_hi + i);
}

/* ot_tccr_tweaks_aesni on 512-bit vectors: sixteen blocks, each with its own
 * tweak, in flight (the split 1-of-N receiver's hash). */
VAES_FN void ot_tccr_tweaks_vaes(const ot_aes_key *pi, const uint8_t *x, const uint64_t *tweak_lo,
                                 const uint64_t *tweak_hi, uint8_t *out, size_t n)
{
    __m512i rk[11];
    load_keys(pi, rk);
    /* interleaves four lo and four hi words into four (lo, hi) blocks */
    const __m512i mix = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i s[4], b[4];
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++)
            s[j] = _mm512_loadu_si512((const void *)(x + 16 * (i + 4 * (size_t)j)));
        enc4x4(rk, s);
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++) {
            __m256i lo = _mm256_loadu_si256((const __m256i *)(tweak_lo + i + 4 * (size_t)j));
            __m256i hi = _mm256_loadu_si256((const __m256i *)(tweak_hi + i + 4 * (size_t)j));
            __m512i tw = _mm512_permutex2var_epi64(_mm512_castsi256_si512(lo), mix,
                                                   _mm512_castsi256_si512(hi));
            b[j] = _mm512_xor_si512(s[j], tw);
        }
        enc4x4(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 4; j++)
            _mm512_storeu_si512((void *)(out + 16 * (i + 4 * (size_t)j)), _mm512_xor_si512(b[j], s[j]));
    }
    if (i < n) ot_tccr_tweaks_aesni(pi, x + 16 * i, tweak_lo + i, tweak_hi + i, out + 16 * i, n - i);
}

/* One GGM level in place, as ot_ggm_level_aesni: eight parents at a time
 * (two vectors, both keys: sixteen blocks in flight), from the top down so
 * that children 2j .. 2j + 15 only overwrite parents already read. The
 * children are put in order (left, right of each parent) by two permutes;
 * fewer than eight parents left go through the AES-NI version, which also
 * gives their sums. */
VAES_FN void ot_ggm_level_vaes(const ot_aes_key *k0, const ot_aes_key *k1, uint8_t *nodes, size_t m,
                               uint8_t sums[32])
{
    /* Parents [rest, m) in eights from the top; the lowest m % 8 last. */
    size_t rest = m % 8, j = m;
    uint8_t tail[32] = {0};
    __m512i r0[11], r1[11];
    load_keys(k0, r0);
    load_keys(k1, r1);
    __m512i sl = _mm512_setzero_si512(), sr = _mm512_setzero_si512();
    /* 64-bit lanes: left children block a, right block a, ... */
    const __m512i lo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i hi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    while (j - rest >= 8) {
        j -= 8;
        const uint8_t *src = nodes + 16 * j;
        __m512i p[2], b[4];
        p[0] = _mm512_loadu_si512((const void *)src);
        p[1] = _mm512_loadu_si512((const void *)(src + 64));
        b[0] = _mm512_xor_si512(p[0], r0[0]);
        b[1] = _mm512_xor_si512(p[0], r1[0]);
        b[2] = _mm512_xor_si512(p[1], r0[0]);
        b[3] = _mm512_xor_si512(p[1], r1[0]);
        #pragma GCC unroll 16
        for (int r = 1; r < 10; r++) {
            b[0] = _mm512_aesenc_epi128(b[0], r0[r]);
            b[1] = _mm512_aesenc_epi128(b[1], r1[r]);
            b[2] = _mm512_aesenc_epi128(b[2], r0[r]);
            b[3] = _mm512_aesenc_epi128(b[3], r1[r]);
        }
        b[0] = _mm512_xor_si512(_mm512_aesenclast_epi128(b[0], r0[10]), p[0]);
        b[1] = _mm512_xor_si512(_mm512_aesenclast_epi128(b[1], r1[10]), p[0]);
        b[2] = _mm512_xor_si512(_mm512_aesenclast_epi128(b[2], r0[10]), p[1]);
        b[3] = _mm512_xor_si512(_mm512_aesenclast_epi128(b[3], r1[10]), p[1]);
        sl = _mm512_xor_si512(sl, _mm512_xor_si512(b[0], b[2]));
        sr = _mm512_xor_si512(sr, _mm512_xor_si512(b[1], b[3]));
        uint8_t *dst = nodes + 32 * j;
        _mm512_storeu_si512((void *)dst, _mm512_permutex2var_epi64(b[0], lo, b[1]));
        _mm512_storeu_si512((void *)(dst + 64), _mm512_permutex2var_epi64(b[0], hi, b[1]));
        _mm512_storeu_si512((void *)(dst + 128), _mm512_permutex2var_epi64(b[2], lo, b[3]));
        _mm512_storeu_si512((void *)(dst + 192), _mm512_permutex2var_epi64(b[2], hi, b[3]));
    }
    if (rest) ot_ggm_level_aesni(k0, k1, nodes, rest, tail);
    /* The four lanes' sums folded, then the tail's. */
    __m256i l4 = _mm256_xor_si256(_mm512_castsi512_si256(sl), _mm512_extracti64x4_epi64(sl, 1));
    __m256i r4 = _mm256_xor_si256(_mm512_castsi512_si256(sr), _mm512_extracti64x4_epi64(sr, 1));
    __m128i l2 = _mm_xor_si128(_mm256_castsi256_si128(l4), _mm256_extracti128_si256(l4, 1));
    __m128i r2 = _mm_xor_si128(_mm256_castsi256_si128(r4), _mm256_extracti128_si256(r4, 1));
    l2 = _mm_xor_si128(l2, _mm_loadu_si128((const __m128i *)tail));
    r2 = _mm_xor_si128(r2, _mm_loadu_si128((const __m128i *)(tail + 16)));
    _mm_storeu_si128((__m128i *)sums, l2);
    _mm_storeu_si128((__m128i *)(sums + 16), r2);
}
