/* Polynomial arithmetic over RNS: rows of n coefficients per modulus. */
#include <stdlib.h>
#include <string.h>

#include "cryptogen/ring.h"

void cg_poly_add(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                 const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        for (size_t j = 0; j < n; j++) out[i * n + j] = cg_mod_add(a[i * n + j], b[i * n + j], q);
    }
}

void cg_poly_sub(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                 const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        for (size_t j = 0; j < n; j++) out[i * n + j] = cg_mod_sub(a[i * n + j], b[i * n + j], q);
    }
}

/* The per-prime constants are recomputed per call: a few divisions against
 * n multiplications. */
void cg_poly_rescale_row(const cg_modulus *qi, const cg_modulus *ql, size_t n,
                         const uint64_t *src, const uint64_t *last, uint64_t *dst)
{
    const uint64_t qlv = ql->value, half = qlv / 2, qiv = qi->value;
    const uint64_t inv = cg_mod_inv(cg_mod_reduce(qlv, qi), qi);
    const uint64_t invp = cg_shoup(inv, qiv);
    const uint64_t half_i = cg_mod_reduce(half, qi);
    /* q_l > q_i or q_l < q_i: a value below q_l reduces mod q_i with one
     * conditional subtraction only when q_l < 2 q_i; otherwise Barrett. */
    const bool one_sub = qlv <= 2 * qiv;
    for (size_t j = 0; j < n; j++) {
        /* (x - [x]_{q_l}) / q_l with the centred remainder: rounding */
        uint64_t rem = last[j] + half;
        rem = rem >= qlv ? rem - qlv : rem; /* x + q_l/2 mod q_l */
        uint64_t ri = one_sub ? (rem >= qiv ? rem - qiv : rem) : cg_mod_reduce(rem, qi);
        /* d = src - (ri - half_i) = src + half_i - ri, in [0, 3 q_i) before reduction */
        uint64_t d = src[j] + half_i;
        d = d >= qiv ? d - qiv : d;
        d = d >= ri ? d - ri : d + qiv - ri;
        dst[j] = cg_mul_shoup(d, inv, invp, qiv);
    }
}

bool cg_poly_avx2_available(void) { return (cg_cpu_features() & CG_CPU_AVX2) != 0; }
bool cg_poly_fma_available(void)
{
    __builtin_cpu_init();
    return cg_poly_avx2_available() && __builtin_cpu_supports("fma");
}

bool cg_poly_ifma_available(void)
{
    const char *off = getenv("CG_POLY_IFMA");
    return (cg_cpu_features() & CG_CPU_AVX512IFMA) != 0 && !(off && strcmp(off, "0") == 0);
}

void cg_poly_neg(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        for (size_t j = 0; j < n; j++) out[i * n + j] = cg_mod_neg(a[i * n + j], q);
    }
}

void cg_poly_mul(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                 const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++)
            out[i * n + j] = cg_mod_reduce_sq((cg_u128)a[i * n + j] * b[i * n + j], &mods[i]);
}

void cg_poly_mul_add(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                     const uint64_t *b, uint64_t *out)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++) {
            const size_t x = i * n + j;
            out[x] = cg_mod_reduce_sq((cg_u128)a[x] * b[x] + out[x], &mods[i]);
        }
}

void cg_poly_mul_scalar(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                        const uint64_t *s, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value, w = s[i], wp = cg_shoup(w, q);
        for (size_t j = 0; j < n; j++) out[i * n + j] = cg_mul_shoup(a[i * n + j], w, wp, q);
    }
}

void cg_poly_mac128(size_t len, const uint64_t *a, const uint64_t *b, cg_u128 *acc)
{
    for (size_t x = 0; x < len; x++) acc[x] += (cg_u128)a[x] * b[x];
}

size_t cg_poly_mac2_max_terms(const cg_modulus *m)
{
    if (m->bits >= 50) return 0;
    /* the cross sum of k terms below 2^(2s+1) stays under 2^64 */
    const unsigned s = (m->bits + 1) / 2;
    return (size_t)1 << (63 - 2 * s);
}

void cg_poly_mac2(const cg_modulus *m, size_t n, size_t k, const uint64_t *const *a0,
                  const uint64_t *const *a1, const uint64_t *const *b, uint64_t *o0, uint64_t *o1)
{
    for (size_t x = 0; x < n; x++) {
        cg_u128 s0 = 0, s1 = 0;
        for (size_t i = 0; i < k; i++) {
            s0 += (cg_u128)a0[i][x] * b[i][x];
            s1 += (cg_u128)a1[i][x] * b[i][x];
            /* terms below 2^120 (q < 2^60): fold before 2^128 */
            if ((i & 63) == 63) s0 = cg_mod_reduce128(s0, m), s1 = cg_mod_reduce128(s1, m);
        }
        o0[x] = cg_mod_reduce128(s0, m), o1[x] = cg_mod_reduce128(s1, m);
    }
}

void cg_poly_reduce128(const cg_modulus *mods, size_t k, size_t n, const cg_u128 *acc,
                       uint64_t *out)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++) out[i * n + j] = cg_mod_reduce128(acc[i * n + j], &mods[i]);
}

void cg_poly_reduce26(const cg_modulus *m, size_t len, const uint64_t *acc, uint64_t *out)
{
    const uint64_t *lo = acc, *mid = acc + len, *hi = acc + 2 * len;
    for (size_t x = 0; x < len; x++)
        out[x] = cg_mod_reduce128(((cg_u128)hi[x] << 52) + ((cg_u128)mid[x] << 26) + lo[x], m);
}

typedef struct ntt_job {
    const cg_ntt_table *tabs;
    uint64_t *a;
    bool inverse;
} ntt_job;

static void ntt_rows(void *ctx, size_t begin, size_t end)
{
    ntt_job *job = ctx;
    for (size_t i = begin; i < end; i++) {
        uint64_t *row = job->a + i * job->tabs[i].n;
        if (job->inverse)
            cg_ntt_inverse(&job->tabs[i], row);
        else
            cg_ntt_forward(&job->tabs[i], row);
    }
}

void cg_poly_ntt(const cg_ntt_table *tabs, size_t k, uint64_t *a, int nthreads)
{
    ntt_job job = {tabs, a, false};
    cg_parallel_for(nthreads, k, ntt_rows, &job);
}

void cg_poly_intt(const cg_ntt_table *tabs, size_t k, uint64_t *a, int nthreads)
{
    ntt_job job = {tabs, a, true};
    cg_parallel_for(nthreads, k, ntt_rows, &job);
}

void cg_poly_automorphism(const cg_modulus *mods, size_t k, size_t n, unsigned g,
                          const uint64_t *a, uint64_t *out)
{
    /* X^j -> X^(j*g mod 2n), with X^n = -1. */
    const size_t two_n = 2 * n;
    for (size_t j = 0; j < n; j++) {
        size_t dst = (size_t)(((uint64_t)j * g) % two_n);
        bool negate = dst >= n;
        if (negate) dst -= n;
        for (size_t i = 0; i < k; i++) {
            uint64_t v = a[i * n + j];
            out[i * n + dst] = negate ? cg_mod_neg(v, mods[i].value) : v;
        }
    }
}

static size_t bitrev_idx(size_t x, unsigned bits)
{
    size_t r = 0;
    for (unsigned i = 0; i < bits; i++) r |= ((x >> i) & 1u) << (bits - 1 - i);
    return r;
}

void cg_automorphism_ntt_perm(size_t n, unsigned g, uint32_t *perm)
{
    /* Slot at bit-reversed position j holds the evaluation at psi^(2*br(j)+1).
     * After X -> X^g it must hold the old evaluation at psi^(g*(2*br(j)+1)). */
    const unsigned logn = (unsigned)__builtin_ctzll(n);
    const uint64_t two_n = 2 * (uint64_t)n;
    for (size_t j = 0; j < n; j++) {
        uint64_t e = (2 * bitrev_idx(j, logn) + 1) * (uint64_t)g % two_n;
        perm[j] = (uint32_t)bitrev_idx((size_t)((e - 1) / 2), logn);
    }
}

void cg_poly_permute(size_t k, size_t n, const uint32_t *perm, const uint64_t *a, uint64_t *out)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++) out[i * n + j] = a[i * n + perm[j]];
}
