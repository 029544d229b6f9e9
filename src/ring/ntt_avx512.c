/* AVX-512 IFMA NTT for primes q < 2^50. Same algorithm and lazy ranges as the
 * portable kernels, with 52-bit Shoup multiplication: for x < 2^52,
 * Q = hi52(x * w'), x*w - Q*q lies in [0, 2q) and fits 52 bits, so two IFMA
 * instructions and one masked subtraction give the lazy product. Layers whose
 * butterfly span is below 8 lanes gather x/y halves from two vectors with
 * permutex2var. Only called when the CPU has IFMA (see ntt.c). */
#include <immintrin.h>

#include "ring/ntt_internal.h"

#define MASK52 ((1ull << 52) - 1)

static inline __m512i mul_shoup52(__m512i x, __m512i w, __m512i wp, __m512i q)
{
    const __m512i zero = _mm512_setzero_si512();
    __m512i hi = _mm512_madd52hi_epu64(zero, x, wp);
    __m512i lo = _mm512_madd52lo_epu64(zero, x, w);
    __m512i qq = _mm512_madd52lo_epu64(zero, hi, q);
    return _mm512_and_si512(_mm512_sub_epi64(lo, qq), _mm512_set1_epi64((long long)MASK52));
}

/* v - m if v >= m, else v (m <= 2^63). */
static inline __m512i csub(__m512i v, __m512i m)
{
    return _mm512_min_epu64(v, _mm512_sub_epi64(v, m));
}

static inline void fwd_bfly(__m512i *x, __m512i *y, __m512i w, __m512i wp, __m512i q,
                            __m512i two_q)
{
    __m512i u = csub(*x, two_q);
    __m512i v = mul_shoup52(*y, w, wp, q);
    *x = _mm512_add_epi64(u, v);
    *y = _mm512_add_epi64(_mm512_sub_epi64(u, v), two_q);
}

static inline void inv_bfly(__m512i *x, __m512i *y, __m512i w, __m512i wp, __m512i q,
                            __m512i two_q)
{
    __m512i u = *x, v = *y;
    *x = csub(_mm512_add_epi64(u, v), two_q);
    *y = mul_shoup52(_mm512_add_epi64(_mm512_sub_epi64(u, v), two_q), w, wp, q);
}

/* Index vectors for spans s = 1, 2, 4 over a 16-element pair (v0 | v1):
 * X lanes are the j with (j & s) == 0, Y lanes the others; back[] undoes it. */
typedef struct small_span {
    __m512i xi, yi, back_lo, back_hi, tw; /* tw: which of the 8 loaded twiddles per X lane */
} small_span;

static small_span make_span(unsigned s)
{
    long long xi[8], yi[8], bl[8], bh[8], tw[8];
    int nx = 0, ny = 0;
    int pos[16];
    for (int j = 0; j < 16; j++) {
        if ((j & (int)s) == 0) {
            tw[nx] = j / (int)(2 * s);
            pos[j] = nx;
            xi[nx++] = j;
        } else {
            pos[j] = 8 + ny;
            yi[ny++] = j;
        }
    }
    for (int j = 0; j < 8; j++) {
        bl[j] = pos[j];
        bh[j] = pos[8 + j];
    }
    small_span r;
    r.xi = _mm512_loadu_si512(xi);
    r.yi = _mm512_loadu_si512(yi);
    r.back_lo = _mm512_loadu_si512(bl);
    r.back_hi = _mm512_loadu_si512(bh);
    r.tw = _mm512_loadu_si512(tw);
    return r;
}

void ntt_forward_ifma(const cg_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    if (n < 16) {
        cg_ntt_forward_portable(t, a);
        return;
    }
    const __m512i q = _mm512_set1_epi64((long long)t->mod.value);
    const __m512i two_q = _mm512_set1_epi64((long long)(2 * t->mod.value));
    size_t span = n, m = 1;
    for (; m < n; m <<= 1) {
        span >>= 1;
        if (span < 8) break;
        for (size_t i = 0; i < m; i++) {
            const __m512i w = _mm512_set1_epi64((long long)t->fwd[m + i]);
            const __m512i wp = _mm512_set1_epi64((long long)t->fwd_sh52[m + i]);
            uint64_t *x = a + 2 * i * span, *y = x + span;
            for (size_t j = 0; j < span; j += 8) {
                __m512i vx = _mm512_loadu_si512(x + j), vy = _mm512_loadu_si512(y + j);
                fwd_bfly(&vx, &vy, w, wp, q, two_q);
                _mm512_storeu_si512(x + j, vx);
                _mm512_storeu_si512(y + j, vy);
            }
        }
    }
    /* spans 4, 2, 1 */
    for (; m < n; m <<= 1, span >>= 1) {
        const small_span sp = make_span((unsigned)span);
        for (size_t k = 0; k < n; k += 16) {
            __m512i v0 = _mm512_loadu_si512(a + k), v1 = _mm512_loadu_si512(a + k + 8);
            const size_t i0 = m + k / (2 * span);
            __m512i wall = _mm512_loadu_si512(t->fwd + i0);
            __m512i wpall = _mm512_loadu_si512(t->fwd_sh52 + i0);
            __m512i w = _mm512_permutexvar_epi64(sp.tw, wall);
            __m512i wp = _mm512_permutexvar_epi64(sp.tw, wpall);
            __m512i x = _mm512_permutex2var_epi64(v0, sp.xi, v1);
            __m512i y = _mm512_permutex2var_epi64(v0, sp.yi, v1);
            fwd_bfly(&x, &y, w, wp, q, two_q);
            _mm512_storeu_si512(a + k, _mm512_permutex2var_epi64(x, sp.back_lo, y));
            _mm512_storeu_si512(a + k + 8, _mm512_permutex2var_epi64(x, sp.back_hi, y));
        }
    }
    for (size_t j = 0; j < n; j += 8) {
        __m512i v = _mm512_loadu_si512(a + j);
        _mm512_storeu_si512(a + j, csub(csub(v, two_q), q));
    }
}

void ntt_inverse_ifma(const cg_ntt_table *t, uint64_t *a)
{
    const size_t n = t->n;
    if (n < 16) {
        cg_ntt_inverse_portable(t, a);
        return;
    }
    const __m512i q = _mm512_set1_epi64((long long)t->mod.value);
    const __m512i two_q = _mm512_set1_epi64((long long)(2 * t->mod.value));
    size_t span = 1, m = n;
    /* spans 1, 2, 4 */
    for (; m > 2 && span < 8; m >>= 1, span <<= 1) {
        const small_span sp = make_span((unsigned)span);
        const size_t h = m >> 1;
        for (size_t k = 0; k < n; k += 16) {
            __m512i v0 = _mm512_loadu_si512(a + k), v1 = _mm512_loadu_si512(a + k + 8);
            const size_t i0 = h + k / (2 * span);
            __m512i w = _mm512_permutexvar_epi64(sp.tw, _mm512_loadu_si512(t->inv + i0));
            __m512i wp = _mm512_permutexvar_epi64(sp.tw, _mm512_loadu_si512(t->inv_sh52 + i0));
            __m512i x = _mm512_permutex2var_epi64(v0, sp.xi, v1);
            __m512i y = _mm512_permutex2var_epi64(v0, sp.yi, v1);
            inv_bfly(&x, &y, w, wp, q, two_q);
            _mm512_storeu_si512(a + k, _mm512_permutex2var_epi64(x, sp.back_lo, y));
            _mm512_storeu_si512(a + k + 8, _mm512_permutex2var_epi64(x, sp.back_hi, y));
        }
    }
    for (; m > 2; m >>= 1, span <<= 1) {
        const size_t h = m >> 1;
        for (size_t i = 0; i < h; i++) {
            const __m512i w = _mm512_set1_epi64((long long)t->inv[h + i]);
            const __m512i wp = _mm512_set1_epi64((long long)t->inv_sh52[h + i]);
            uint64_t *x = a + 2 * i * span, *y = x + span;
            for (size_t j = 0; j < span; j += 8) {
                __m512i vx = _mm512_loadu_si512(x + j), vy = _mm512_loadu_si512(y + j);
                inv_bfly(&vx, &vy, w, wp, q, two_q);
                _mm512_storeu_si512(x + j, vx);
                _mm512_storeu_si512(y + j, vy);
            }
        }
    }
    /* Last layer with n^-1 folded in, fully reduced. */
    const __m512i ni = _mm512_set1_epi64((long long)t->n_inv);
    const __m512i nip = _mm512_set1_epi64((long long)t->n_inv_sh52);
    const __m512i li = _mm512_set1_epi64((long long)t->last_inv);
    const __m512i lip = _mm512_set1_epi64((long long)t->last_inv_sh52);
    uint64_t *x = a, *y = a + n / 2;
    for (size_t j = 0; j < n / 2; j += 8) {
        __m512i u = _mm512_loadu_si512(x + j), v = _mm512_loadu_si512(y + j);
        __m512i s = mul_shoup52(_mm512_add_epi64(u, v), ni, nip, q);
        __m512i d = mul_shoup52(_mm512_add_epi64(_mm512_sub_epi64(u, v), two_q), li, lip, q);
        _mm512_storeu_si512(x + j, csub(s, q));
        _mm512_storeu_si512(y + j, csub(d, q));
    }
}
