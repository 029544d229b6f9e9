/* AVX-512 IFMA forms of the pointwise product and of the two-polynomial
 * multiply-accumulate (eight residues per instruction; primes below 2^50,
 * so every residue fits vpmadd52's 52-bit inputs). vpmadd52luq / huq give
 * the low and high 52 bits of a 104-bit product, so a product is exact in
 * two instructions where AVX2 needs four 32-bit partial products (or a
 * double FMA with corrections). Bit-identical to cg_poly_mul / cg_poly_mac2
 * (test_ring_kernels). Only where cg_poly_ifma_available(). */
#include <immintrin.h>

#include "cryptogen/ring.h"

#define MASK52 ((1ull << 52) - 1)

typedef struct ifma_mod {
    __m512i q, mu, c1, c2, mask, zero;
    __m128i sh_lo, sh_hi;
} ifma_mod;

static ifma_mod ifma_mod_init(const cg_modulus *m)
{
    const uint64_t q = m->value;
    const unsigned L = m->bits;
    ifma_mod c;
    c.q = _mm512_set1_epi64((long long)q);
    c.mu = _mm512_set1_epi64((long long)(uint64_t)(((cg_u128)1 << (L + 51)) / q));
    c.c1 = _mm512_set1_epi64((long long)(uint64_t)(((cg_u128)1 << 52) % q));
    c.c2 = _mm512_set1_epi64((long long)(uint64_t)(((cg_u128)1 << 104) % q));
    c.mask = _mm512_set1_epi64((long long)MASK52);
    c.zero = _mm512_setzero_si512();
    c.sh_lo = _mm_cvtsi32_si128((int)(L - 1));
    c.sh_hi = _mm_cvtsi32_si128((int)(53 - L));
    return c;
}

/* v mod q for v < 2q: below q, v - q wraps above v and the unsigned min keeps v */
static inline __m512i csub(__m512i v, __m512i q) { return _mm512_min_epu64(v, _mm512_sub_epi64(v, q)); }

/* p = hi 2^52 + lo mod q for p < q^2 + 2^53, lo < 2^53, q < 2^L <= 2^50,
 * by Barrett: x = p >> (L-1) < 2^(L+1) + 2^(54-L) <= 2^52, qh = x mu >> 52 with mu
 * = floor(2^(L+51) / q) < 2^52 (q > 2^(L-1): q is an odd prime). x and mu
 * are each short by < 1 and x < 2^52, so qh is within 2 below floor(p /
 * q): r = p - qh q lies in [0, 3q) below 2^52 and is exact in the low 52
 * bits; two conditional subtractions. */
static inline __m512i barrett(const ifma_mod *c, __m512i hi, __m512i lo)
{
    const __m512i x = _mm512_add_epi64(_mm512_sll_epi64(hi, c->sh_hi), _mm512_srl_epi64(lo, c->sh_lo));
    const __m512i qh = _mm512_madd52hi_epu64(c->zero, x, c->mu);
    const __m512i r = _mm512_and_si512(_mm512_sub_epi64(lo, _mm512_madd52lo_epu64(c->zero, qh, c->q)), c->mask);
    return csub(csub(r, c->q), c->q);
}

/* (hi 2^52 + lo) mod q for any hi, lo < 2^64: with h = h1 2^52 + h0,
 * T = h0 c1 + h1 c2 + lo' (c1 = 2^52, c2 = 2^104 mod q, lo' the low 52
 * bits of lo, its carry added to h) as Th 2^52 + Tl with Th < q + q/2^40 + 3
 * < 2q, Tl < 2^52; Th mod q by one subtraction; then Th c1 + Tl < q^2 +
 * 2^53 by Barrett. */
static inline __m512i reduce_wide(const ifma_mod *c, __m512i hi, __m512i lo)
{
    hi = _mm512_add_epi64(hi, _mm512_srli_epi64(lo, 52));
    lo = _mm512_and_si512(lo, c->mask);
    const __m512i h1 = _mm512_srli_epi64(hi, 52), h0 = _mm512_and_si512(hi, c->mask);
    __m512i tl = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(lo, h0, c->c1), h1, c->c2);
    __m512i th = _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(c->zero, h0, c->c1), h1, c->c2);
    th = csub(_mm512_add_epi64(th, _mm512_srli_epi64(tl, 52)), c->q);
    tl = _mm512_and_si512(tl, c->mask);
    return barrett(c, _mm512_madd52hi_epu64(c->zero, th, c->c1), _mm512_madd52lo_epu64(tl, th, c->c1));
}

/* a b < q^2: the Barrett step on its 52-bit halves. */
static void mul_row_ifma(const cg_modulus *m, size_t n, const uint64_t *a, const uint64_t *b,
                         uint64_t *out)
{
    const ifma_mod c = ifma_mod_init(m);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m512i va = _mm512_loadu_si512((const void *)(a + j));
        const __m512i vb = _mm512_loadu_si512((const void *)(b + j));
        const __m512i lo = _mm512_madd52lo_epu64(c.zero, va, vb);
        const __m512i hi = _mm512_madd52hi_epu64(c.zero, va, vb);
        _mm512_storeu_si512((void *)(out + j), barrett(&c, hi, lo));
    }
    if (j < n) cg_poly_mul(m, 1, n - j, a + j, b + j, out + j);
}

void cg_poly_mul_ifma(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        if (mods[i].value < (1ull << 50))
            mul_row_ifma(&mods[i], n, a + i * n, b + i * n, out + i * n);
        else
            cg_poly_mul(mods + i, 1, n, a + i * n, b + i * n, out + i * n);
    }
}

/* Vectors of eight slots per register block: 4 x 4 accumulators (low and
 * high halves of both outputs) stay in registers over all k inputs, each
 * input's 256 bytes per row read once per block. */
#define MAC_V 4
#define MAC_SLOTS (8 * MAC_V)
#ifndef MAC_PF_HINT
#define MAC_PF_HINT _MM_HINT_T0
#endif
/* Low halves add terms below 2^52: fold them into the high halves every
 * 2^11 terms, well before 2^64. */
#define MAC_FOLD 2048

static inline void fold(__m512i *lo, __m512i *hi, __m512i mask)
{
    *hi = _mm512_add_epi64(*hi, _mm512_srli_epi64(*lo, 52));
    *lo = _mm512_and_si512(*lo, mask);
}

/* Sum = hi 2^52 + lo per slot, hi < 2^64 for k < 2^16 (terms' high
 * halves below 2^48), reduced once per slot in the vector lanes. */
void cg_poly_mac2_ifma(const cg_modulus *m, size_t n, size_t k, const uint64_t *const *a0,
                       const uint64_t *const *a1, const uint64_t *const *b, uint64_t *o0,
                       uint64_t *o1)
{
    const ifma_mod c = ifma_mod_init(m);
    const __m512i mask = c.mask;
    size_t x0 = 0;
    for (; x0 + MAC_SLOTS <= n; x0 += MAC_SLOTS) {
        __m512i l0[MAC_V], h0[MAC_V], l1[MAC_V], h1[MAC_V];
        for (int v = 0; v < MAC_V; v++)
            l0[v] = h0[v] = l1[v] = h1[v] = _mm512_setzero_si512();
        for (size_t i = 0; i < k; i++) {
            const uint64_t *pb = b[i] + x0, *pa = a0[i] + x0, *pc = a1[i] + x0;
            if (x0 + 2 * MAC_SLOTS <= n)
                for (int v = 0; v < MAC_V; v++) {
                    _mm_prefetch((const char *)(pb + MAC_SLOTS + 8 * v), MAC_PF_HINT);
                    _mm_prefetch((const char *)(pa + MAC_SLOTS + 8 * v), MAC_PF_HINT);
                    _mm_prefetch((const char *)(pc + MAC_SLOTS + 8 * v), MAC_PF_HINT);
                }
            for (int v = 0; v < MAC_V; v++) {
                const __m512i vb = _mm512_loadu_si512((const void *)(pb + 8 * v));
                const __m512i va = _mm512_loadu_si512((const void *)(pa + 8 * v));
                const __m512i vc = _mm512_loadu_si512((const void *)(pc + 8 * v));
                l0[v] = _mm512_madd52lo_epu64(l0[v], va, vb);
                h0[v] = _mm512_madd52hi_epu64(h0[v], va, vb);
                l1[v] = _mm512_madd52lo_epu64(l1[v], vc, vb);
                h1[v] = _mm512_madd52hi_epu64(h1[v], vc, vb);
            }
            if ((i + 1) % MAC_FOLD == 0)
                for (int v = 0; v < MAC_V; v++) fold(&l0[v], &h0[v], mask), fold(&l1[v], &h1[v], mask);
        }
        for (int v = 0; v < MAC_V; v++) {
            _mm512_storeu_si512((void *)(o0 + x0 + 8 * v), reduce_wide(&c, h0[v], l0[v]));
            _mm512_storeu_si512((void *)(o1 + x0 + 8 * v), reduce_wide(&c, h1[v], l1[v]));
        }
    }
    for (; x0 < n; x0++) { /* tail: n not a multiple of the block */
        cg_u128 s0 = 0, s1 = 0;
        for (size_t i = 0; i < k; i++) {
            s0 += (cg_u128)a0[i][x0] * b[i][x0];
            s1 += (cg_u128)a1[i][x0] * b[i][x0];
            if ((i & 63) == 63) s0 = cg_mod_reduce128(s0, m), s1 = cg_mod_reduce128(s1, m);
        }
        o0[x0] = cg_mod_reduce128(s0, m), o1[x0] = cg_mod_reduce128(s1, m);
    }
}
