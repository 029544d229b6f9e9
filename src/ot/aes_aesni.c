/* AES-128 with AES-NI: key expansion, ECB and counter mode with eight blocks
 * in flight (hides the 4-cycle aesenc latency), and the tweakable
 * correlation-robust hash used to break IKNP correlations. */
#include "ot/ot_internal.h"

#include <immintrin.h>
#include <string.h>

static __m128i expand_step(__m128i key, __m128i assist)
{
    assist = _mm_shuffle_epi32(assist, 0xff);
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

void ot_aes_expand_aesni(ot_aes_key *k, const uint8_t key[16])
{
    __m128i *rk = (__m128i *)k->rk;
    __m128i x = _mm_loadu_si128((const __m128i *)key);
    rk[0] = x;
    /* aeskeygenassist needs an immediate round constant. */
#define CG_EXPAND(i, rcon)                                                  \
    x = expand_step(x, _mm_aeskeygenassist_si128(x, rcon));                 \
    rk[i] = x;
    CG_EXPAND(1, 0x01)
    CG_EXPAND(2, 0x02)
    CG_EXPAND(3, 0x04)
    CG_EXPAND(4, 0x08)
    CG_EXPAND(5, 0x10)
    CG_EXPAND(6, 0x20)
    CG_EXPAND(7, 0x40)
    CG_EXPAND(8, 0x80)
    CG_EXPAND(9, 0x1b)
    CG_EXPAND(10, 0x36)
#undef CG_EXPAND
}

/* Encrypts 8 blocks in place. The unroll pragmas (here and in the 8-block
 * loops below) keep the blocks in registers: at -O2 GCC leaves these loops
 * rolled and round-trips every block through the stack between rounds,
 * which ran at a quarter of the AES units' throughput. */
static inline void enc8(const __m128i *rk, __m128i b[8])
{
    #pragma GCC unroll 16
    for (int j = 0; j < 8; j++) b[j] = _mm_xor_si128(b[j], rk[0]);
    #pragma GCC unroll 16
    for (int r = 1; r < 10; r++)
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++) b[j] = _mm_aesenc_si128(b[j], rk[r]);
    #pragma GCC unroll 16
    for (int j = 0; j < 8; j++) b[j] = _mm_aesenclast_si128(b[j], rk[10]);
}

static inline __m128i enc1(const __m128i *rk, __m128i b)
{
    b = _mm_xor_si128(b, rk[0]);
    #pragma GCC unroll 16
    for (int r = 1; r < 10; r++) b = _mm_aesenc_si128(b, rk[r]);
    return _mm_aesenclast_si128(b, rk[10]);
}

void ot_aes_ecb_aesni(const ot_aes_key *k, const uint8_t *in, uint8_t *out, size_t nblocks)
{
    const __m128i *rk = (const __m128i *)k->rk;
    size_t i = 0;
    for (; i + 8 <= nblocks; i += 8) {
        __m128i b[8];
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++) b[j] = _mm_loadu_si128((const __m128i *)(in + 16 * (i + j)));
        enc8(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++) _mm_storeu_si128((__m128i *)(out + 16 * (i + j)), b[j]);
    }
    for (; i < nblocks; i++)
        _mm_storeu_si128((__m128i *)(out + 16 * i),
                         enc1(rk, _mm_loadu_si128((const __m128i *)(in + 16 * i))));
}

void ot_aes_ctr_aesni(const ot_aes_key *k, uint64_t ctr, uint8_t *out, size_t nblocks)
{
    const __m128i *rk = (const __m128i *)k->rk;
    size_t i = 0;
    for (; i + 8 <= nblocks; i += 8) {
        __m128i b[8];
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++) b[j] = _mm_set_epi64x(0, (long long)(ctr + i + (size_t)j));
        enc8(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++) _mm_storeu_si128((__m128i *)(out + 16 * (i + j)), b[j]);
    }
    for (; i < nblocks; i++)
        _mm_storeu_si128((__m128i *)(out + 16 * i), enc1(rk, _mm_set_epi64x(0, (long long)(ctr + i))));
}

/* The tweakable correlation-robust hash of Guo, Katz, Wang and Yu (GKWY20,
 * section 7.4): tccr(t, x) = pi(pi(x) ^ t) ^ pi(x), pi = AES under a fixed
 * public key; two AES calls per hash. The earlier form with a linear
 * orthomorphism in place of the inner pi is not the tweakable (TCCR) hash
 * that many tweaks over many OTs need. */
void ot_tccr_aesni(const ot_aes_key *pi, const uint8_t *x, const uint8_t *mask, uint8_t *out,
                   size_t n, uint64_t tweak_lo, uint64_t tweak_hi)
{
    const __m128i *rk = (const __m128i *)pi->rk;
    __m128i m = mask ? _mm_loadu_si128((const __m128i *)mask) : _mm_setzero_si128();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i s[8], b[8];
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            s[j] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + 16 * (i + j))), m);
        enc8(rk, s);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            b[j] = _mm_xor_si128(s[j], _mm_set_epi64x((long long)tweak_hi,
                                                      (long long)(tweak_lo + i + (size_t)j)));
        enc8(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            _mm_storeu_si128((__m128i *)(out + 16 * (i + j)), _mm_xor_si128(b[j], s[j]));
    }
    for (; i < n; i++) {
        __m128i s = enc1(rk, _mm_xor_si128(_mm_loadu_si128((const __m128i *)(x + 16 * i)), m));
        __m128i b = _mm_xor_si128(s, _mm_set_epi64x((long long)tweak_hi, (long long)(tweak_lo + i)));
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_xor_si128(enc1(rk, b), s));
    }
}

void ot_tccr_multi_aesni(const ot_aes_key *pi, const uint8_t x[16], uint8_t *out, size_t n,
                         uint64_t tweak_lo, uint64_t tweak_hi)
{
    const __m128i *rk = (const __m128i *)pi->rk;
    __m128i s = enc1(rk, _mm_loadu_si128((const __m128i *)x));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b[8];
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            b[j] = _mm_xor_si128(s, _mm_set_epi64x((long long)(tweak_hi + i + (size_t)j),
                                                   (long long)tweak_lo));
        enc8(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            _mm_storeu_si128((__m128i *)(out + 16 * (i + j)), _mm_xor_si128(b[j], s));
    }
    for (; i < n; i++) {
        __m128i b = _mm_xor_si128(s, _mm_set_epi64x((long long)(tweak_hi + i), (long long)tweak_lo));
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_xor_si128(enc1(rk, b), s));
    }
}

void ot_tccr_tweaks_aesni(const ot_aes_key *pi, const uint8_t *x, const uint64_t *tweak_lo,
                          const uint64_t *tweak_hi, uint8_t *out, size_t n)
{
    const __m128i *rk = (const __m128i *)pi->rk;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i s[8], b[8];
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++) s[j] = _mm_loadu_si128((const __m128i *)(x + 16 * (i + j)));
        enc8(rk, s);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            b[j] = _mm_xor_si128(s[j], _mm_set_epi64x((long long)tweak_hi[i + j], (long long)tweak_lo[i + j]));
        enc8(rk, b);
        #pragma GCC unroll 16
        for (int j = 0; j < 8; j++)
            _mm_storeu_si128((__m128i *)(out + 16 * (i + j)), _mm_xor_si128(b[j], s[j]));
    }
    for (; i < n; i++) {
        __m128i s = enc1(rk, _mm_loadu_si128((const __m128i *)(x + 16 * i)));
        __m128i b = _mm_xor_si128(s, _mm_set_epi64x((long long)tweak_hi[i], (long long)tweak_lo[i]));
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_xor_si128(enc1(rk, b), s));
    }
}

/* The KK13 row hash: a 256-bit input (lo || hi) is compressed by two
 * chained tweakable hashes, h1 = tccr(T, lo) and h = tccr(T', h1 ^ hi), with
 * T = (tweak_lo + i, tweak_hi) and T' = (tweak_lo + i, tweak_hi + 1). The
 * chain makes a guess of either half useless without the other (no
 * meet-in-the-middle on the two halves). Input (i, x) is row i xored with
 * offs[x]; out[i * noffs + x] gets the low 64 bits of its hash. */
void ot_kk_hash_aesni(const ot_aes_key *pi, const uint8_t *rows, const uint8_t *offs,
                      size_t noffs, size_t n, uint64_t tweak_lo, uint64_t tweak_hi, uint64_t *out)
{
    const __m128i *rk = (const __m128i *)pi->rk;
    size_t total = n * noffs, p = 0, i = 0, x = 0;
    while (p < total) {
        size_t cnt = total - p < 8 ? total - p : 8;
        __m128i s[8], b[8], hi[8], tw[8];
        #pragma GCC unroll 16
        for (size_t j = 0; j < 8; j++) {
            const uint8_t *r = rows + 32 * i, *o = offs + 32 * x;
            __m128i lo = _mm_xor_si128(_mm_loadu_si128((const __m128i *)r),
                                       _mm_loadu_si128((const __m128i *)o));
            hi[j] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(r + 16)),
                                  _mm_loadu_si128((const __m128i *)(o + 16)));
            tw[j] = _mm_set_epi64x((long long)tweak_hi, (long long)(tweak_lo + i));
            s[j] = lo;
            /* Past the end the last input repeats (its result is dropped). */
            if (j + 1 < cnt && ++x == noffs) {
                x = 0;
                i++;
            }
        }
        enc8(rk, s);
        #pragma GCC unroll 16
        for (size_t j = 0; j < 8; j++) b[j] = _mm_xor_si128(s[j], tw[j]);
        enc8(rk, b);
        const __m128i one_hi = _mm_set_epi64x(1, 0);
        #pragma GCC unroll 16
        for (size_t j = 0; j < 8; j++) s[j] = _mm_xor_si128(_mm_xor_si128(b[j], s[j]), hi[j]);
        enc8(rk, s);
        #pragma GCC unroll 16
        for (size_t j = 0; j < 8; j++) b[j] = _mm_xor_si128(s[j], _mm_add_epi64(tw[j], one_hi));
        enc8(rk, b);
        for (size_t j = 0; j < cnt; j++)
            out[p + j] = (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(b[j], s[j]));
        p += cnt;
        if (p < total && ++x == noffs) {
            x = 0;
            i++;
        }
    }
}

/* One GGM level in place: parents nodes[0..m) become children nodes[0..2m),
 * child 2j = AES_k0(p_j) ^ p_j and 2j + 1 = AES_k1(p_j) ^ p_j; sums[0..16)
 * and sums[16..32) get the xor of the left and of the right children. The
 * parents are taken from the top down (children 2j, 2j + 1 lie at or above
 * parent j, so no unread parent is overwritten), four at a time: eight AES
 * blocks in flight, as in the other loops here. */
void ot_ggm_level_aesni(const ot_aes_key *k0, const ot_aes_key *k1, uint8_t *nodes, size_t m,
                        uint8_t sums[32])
{
    const __m128i *r0 = (const __m128i *)k0->rk, *r1 = (const __m128i *)k1->rk;
    __m128i sl = _mm_setzero_si128(), sr = _mm_setzero_si128();
    size_t j = m;
    while (j >= 4) {
        j -= 4;
        __m128i p[4], b[8];
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            p[i] = _mm_loadu_si128((const __m128i *)(nodes + 16 * (j + (size_t)i)));
            b[2 * i] = _mm_xor_si128(p[i], r0[0]);
            b[2 * i + 1] = _mm_xor_si128(p[i], r1[0]);
        }
        #pragma GCC unroll 16
        for (int r = 1; r < 10; r++)
            #pragma GCC unroll 4
            for (int i = 0; i < 4; i++) {
                b[2 * i] = _mm_aesenc_si128(b[2 * i], r0[r]);
                b[2 * i + 1] = _mm_aesenc_si128(b[2 * i + 1], r1[r]);
            }
        #pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            __m128i l = _mm_xor_si128(_mm_aesenclast_si128(b[2 * i], r0[10]), p[i]);
            __m128i rt = _mm_xor_si128(_mm_aesenclast_si128(b[2 * i + 1], r1[10]), p[i]);
            _mm_storeu_si128((__m128i *)(nodes + 32 * (j + (size_t)i)), l);
            _mm_storeu_si128((__m128i *)(nodes + 32 * (j + (size_t)i) + 16), rt);
            sl = _mm_xor_si128(sl, l);
            sr = _mm_xor_si128(sr, rt);
        }
    }
    while (j > 0) {
        j--;
        __m128i p = _mm_loadu_si128((const __m128i *)(nodes + 16 * j));
        __m128i l = _mm_xor_si128(enc1(r0, p), p), rt = _mm_xor_si128(enc1(r1, p), p);
        _mm_storeu_si128((__m128i *)(nodes + 32 * j), l);
        _mm_storeu_si128((__m128i *)(nodes + 32 * j + 16), rt);
        sl = _mm_xor_si128(sl, l);
        sr = _mm_xor_si128(sr, rt);
    }
    _mm_storeu_si128((__m128i *)sums, sl);
    _mm_storeu_si128((__m128i *)(sums + 16), sr);
}
