/* AVX2 forms of the row additions and subtractions and of modulus
 * switching's rounding (four residues per instruction; the portable loops
 * compile to scalar code, SSE2 having no 64-bit compare). Residues are below
 * 2^61, so signed compares are exact. Bit-identical to cg_poly_add /
 * cg_poly_sub / cg_poly_rescale_row (test_ring). */
#include "cryptogen/ring.h"
#include "ring/avx2_internal.h"

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

void cg_poly_rescale_row_avx2(const cg_modulus *qi, const cg_modulus *ql, size_t n,
                              const uint64_t *src, const uint64_t *last, uint64_t *dst)
{
    const uint64_t qlv = ql->value, half = qlv / 2, qiv = qi->value;
    if (qlv > 2 * qiv) { /* Barrett per residue: the portable loop */
        cg_poly_rescale_row(qi, ql, n, src, last, dst);
        return;
    }
    const uint64_t inv = cg_mod_inv(cg_mod_reduce(qlv, qi), qi);
    const uint64_t invp = cg_shoup(inv, qiv);
    const uint64_t half_i = cg_mod_reduce(half, qi);
    const __m256i vql = _mm256_set1_epi64x((long long)qlv), vqi = _mm256_set1_epi64x((long long)qiv);
    const __m256i vhalf = _mm256_set1_epi64x((long long)half), vhi = _mm256_set1_epi64x((long long)half_i);
    const __m256i vinv = _mm256_set1_epi64x((long long)inv), vinvp = _mm256_set1_epi64x((long long)invp);
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        /* as the portable loop: rem = x + q_l/2 mod q_l, its residue mod q_i,
         * d = src + half_i - ri mod q_i, then d / q_l by Shoup */
        __m256i rem = csub(_mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(last + j)), vhalf), vql);
        __m256i ri = csub(rem, vqi);
        __m256i d = csub(_mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(src + j)), vhi), vqi);
        __m256i under = _mm256_cmpgt_epi64(ri, d);
        d = _mm256_add_epi64(_mm256_sub_epi64(d, ri), _mm256_and_si256(under, vqi));
        _mm256_storeu_si256((__m256i *)(dst + j), csub(mul_shoup(d, vinv, vinvp, vqi), vqi));
    }
    if (j < n) cg_poly_rescale_row(qi, ql, n - j, src + j, last + j, dst + j);
}

void cg_poly_mac26_avx2(size_t len, const uint64_t *a, const uint64_t *b, uint64_t *acc)
{
    /* a b = a1 b1 2^52 + (a1 b0 + a0 b1) 2^26 + a0 b0 with 26-bit limbs:
     * four vpmuludq per four products, each below 2^52 */
    const __m256i mask = _mm256_set1_epi64x((1ll << 26) - 1);
    uint64_t *lo = acc, *mid = acc + len, *hi = acc + 2 * len;
    size_t x = 0;
    for (; x + 4 <= len; x += 4) {
        const __m256i va = _mm256_loadu_si256((const __m256i *)(a + x));
        const __m256i vb = _mm256_loadu_si256((const __m256i *)(b + x));
        const __m256i a0 = _mm256_and_si256(va, mask), a1 = _mm256_srli_epi64(va, 26);
        const __m256i b0 = _mm256_and_si256(vb, mask), b1 = _mm256_srli_epi64(vb, 26);
        __m256i l = _mm256_loadu_si256((const __m256i *)(lo + x));
        __m256i m = _mm256_loadu_si256((const __m256i *)(mid + x));
        __m256i h = _mm256_loadu_si256((const __m256i *)(hi + x));
        l = _mm256_add_epi64(l, _mm256_mul_epu32(a0, b0));
        m = _mm256_add_epi64(m, _mm256_add_epi64(_mm256_mul_epu32(a0, b1), _mm256_mul_epu32(a1, b0)));
        h = _mm256_add_epi64(h, _mm256_mul_epu32(a1, b1));
        _mm256_storeu_si256((__m256i *)(lo + x), l);
        _mm256_storeu_si256((__m256i *)(mid + x), m);
        _mm256_storeu_si256((__m256i *)(hi + x), h);
    }
    for (; x < len; x++) {
        const uint64_t a0 = a[x] & ((1u << 26) - 1), a1 = a[x] >> 26;
        const uint64_t b0 = b[x] & ((1u << 26) - 1), b1 = b[x] >> 26;
        lo[x] += a0 * b0;
        mid[x] += a0 * b1 + a1 * b0;
        hi[x] += a1 * b1;
    }
}

/* a b mod q in doubles (q < 2^50): h + l = a b exactly (FMA), qt = floor(h /
 * q) within 1.25 of h / q (two roundings of at most 2^-53 on a quotient below
 * 2^50), so h - qt q is an integer below 1.25 q, exact in one FMA, and with
 * |l| <= ulp(h) / 2 <= q / 4 the sum lies in [-q/2, 3q/2): one correction
 * either way. Integers below 2^52 convert through the 2^52 bit pattern. */
__attribute__((target("avx2,fma"))) static void mul_row_fma(uint64_t q, size_t n, const uint64_t *a,
                                                            const uint64_t *b, uint64_t *out)
{
    const __m256i magic_i = _mm256_set1_epi64x(0x4330000000000000ll);
    const __m256d magic = _mm256_set1_pd(4503599627370496.0); /* 2^52 */
    const __m256d vq = _mm256_set1_pd((double)q), qinv = _mm256_set1_pd(1.0 / (double)q);
    const __m256d zero = _mm256_setzero_pd();
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const __m256d da = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(a + j)), magic_i)), magic);
        const __m256d db = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(b + j)), magic_i)), magic);
        const __m256d h = _mm256_mul_pd(da, db);
        const __m256d l = _mm256_fmsub_pd(da, db, h);
        const __m256d qt = _mm256_floor_pd(_mm256_mul_pd(h, qinv));
        __m256d r = _mm256_add_pd(_mm256_fnmadd_pd(qt, vq, h), l);
        r = _mm256_add_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, zero, _CMP_LT_OQ), vq));
        r = _mm256_sub_pd(r, _mm256_and_pd(_mm256_cmp_pd(r, vq, _CMP_GE_OQ), vq));
        _mm256_storeu_si256((__m256i *)(out + j),
                            _mm256_xor_si256(_mm256_castpd_si256(_mm256_add_pd(r, magic)), magic_i));
    }
    for (; j < n; j++) out[j] = (uint64_t)(((cg_u128)a[j] * b[j]) % q);
}

void cg_poly_mul_avx2(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        if (mods[i].value < (1ull << 50))
            mul_row_fma(mods[i].value, n, a + i * n, b + i * n, out + i * n);
        else
            cg_poly_mul(mods + i, 1, n, a + i * n, b + i * n, out + i * n);
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
