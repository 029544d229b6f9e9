/* cryptogen ring layer: arithmetic modulo word-size primes, NTT, RNS bases,
 * polynomial arithmetic over RNS, and samplers.
 *
 * Layout convention: an RNS polynomial of degree < n over k primes is k
 * contiguous rows of n uint64_t (row i holds the residues mod prime i).
 * Ranges: unless a function says otherwise, inputs and outputs are fully
 * reduced, i.e. in [0, q). */
#ifndef CRYPTOGEN_RING_H
#define CRYPTOGEN_RING_H

#include "cryptogen/common.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

typedef unsigned __int128 cg_u128;

/* ---- Arithmetic modulo one prime ------------------------------------------ */

/* A modulus 2 <= q < 2^61 with its Barrett constant floor(2^128 / q). */
typedef struct cg_modulus {
    uint64_t value;
    uint64_t barrett_hi, barrett_lo; /* floor(2^128 / value) */
    unsigned bits;
    uint64_t barrett_sq; /* floor(2^(2 bits) / value), for cg_mod_reduce_sq */
} cg_modulus;

cg_status cg_modulus_init(cg_modulus *m, uint64_t q, cg_error *err);

/* a, b in [0, q). Branch-free (the comparisons compile to masks/cmov). */
static inline uint64_t cg_mod_add(uint64_t a, uint64_t b, uint64_t q)
{
    uint64_t s = a + b;
    return s - (q & (0 - (uint64_t)(s >= q)));
}
static inline uint64_t cg_mod_sub(uint64_t a, uint64_t b, uint64_t q)
{
    uint64_t d = a - b;
    return d + (q & (0 - (uint64_t)(a < b)));
}
static inline uint64_t cg_mod_neg(uint64_t a, uint64_t q)
{
    return (q - a) & (0 - (uint64_t)(a != 0));
}

/* x mod q for any 128-bit x (Barrett with floor(2^128/q)). */
static inline uint64_t cg_mod_reduce128(cg_u128 x, const cg_modulus *m)
{
    const uint64_t xl = (uint64_t)x, xh = (uint64_t)(x >> 64);
    /* floor(x * r / 2^128), r = (rh, rl); the low-order carries are dropped,
     * so the quotient is short by at most 2 and one or two subtractions fix it. */
    cg_u128 t = (cg_u128)xl * m->barrett_hi + (((cg_u128)xl * m->barrett_lo) >> 64);
    cg_u128 u = (cg_u128)xh * m->barrett_lo + (uint64_t)t;
    uint64_t quot = xh * m->barrett_hi + (uint64_t)(t >> 64) + (uint64_t)(u >> 64);
    uint64_t r = xl - quot * m->value;
    r -= m->value & (0 - (uint64_t)(r >= m->value));
    r -= m->value & (0 - (uint64_t)(r >= m->value));
    return r;
}
/* x mod q for x < 2^(2 bits), e.g. a * b + c with a, b, c in [0, q): the
 * classic Barrett step (x >> (bits-1)) * floor(2^(2 bits) / q) >> (bits+1)
 * falls short of the quotient by at most 2, with two wide multiplications
 * where cg_mod_reduce128 needs four. */
static inline uint64_t cg_mod_reduce_sq(cg_u128 x, const cg_modulus *m)
{
    const uint64_t q1 = (uint64_t)(x >> (m->bits - 1));
    const uint64_t q3 = (uint64_t)(((cg_u128)q1 * m->barrett_sq) >> (m->bits + 1));
    uint64_t r = (uint64_t)x - q3 * m->value;
    r -= m->value & (0 - (uint64_t)(r >= m->value));
    r -= m->value & (0 - (uint64_t)(r >= m->value));
    return r;
}
/* x mod q for x < 2^64. */
static inline uint64_t cg_mod_reduce(uint64_t x, const cg_modulus *m)
{
    return cg_mod_reduce128(x, m);
}
/* a * b mod q, a, b < 2^64 (not necessarily reduced). */
static inline uint64_t cg_mod_mul(uint64_t a, uint64_t b, const cg_modulus *m)
{
    return cg_mod_reduce128((cg_u128)a * b, m);
}
/* Shoup: w' = floor(w * 2^64 / q) for a fixed operand w in [0, q). */
static inline uint64_t cg_shoup(uint64_t w, uint64_t q)
{
    return (uint64_t)(((cg_u128)w << 64) / q);
}
/* x * w mod q, lazily in [0, 2q), for any x < 2^64. */
static inline uint64_t cg_mul_shoup_lazy(uint64_t x, uint64_t w, uint64_t wp, uint64_t q)
{
    uint64_t hi = (uint64_t)(((cg_u128)x * wp) >> 64);
    return x * w - hi * q;
}
/* x * w mod q in [0, q). */
static inline uint64_t cg_mul_shoup(uint64_t x, uint64_t w, uint64_t wp, uint64_t q)
{
    uint64_t r = cg_mul_shoup_lazy(x, w, wp, q);
    return r - (q & (0 - (uint64_t)(r >= q)));
}

uint64_t cg_mod_pow(uint64_t base, uint64_t exp, const cg_modulus *m);
/* Inverse modulo a prime (Fermat); 0 has none: returns 0. */
uint64_t cg_mod_inv(uint64_t a, const cg_modulus *m);

/* ---- NTT-friendly primes ---------------------------------------------------- */

bool cg_is_prime(uint64_t q); /* deterministic Miller-Rabin for 64-bit */
/* `count` distinct primes of exactly `bits` bits (2..61), q = 1 mod 2n, in
 * decreasing order from 2^bits, skipping any listed in `exclude`. */
cg_status cg_primes_ntt(unsigned bits, size_t n, size_t count, const uint64_t *exclude,
                        size_t nexclude, uint64_t *out, cg_error *err);
/* The smallest primitive 2n-th root of unity modulo the prime q (q = 1 mod 2n). */
cg_status cg_primitive_root_2n(uint64_t q, size_t n, uint64_t *root, cg_error *err);

/* ---- Negacyclic NTT ----------------------------------------------------------
 * Forward: Cooley-Tukey, natural order in, bit-reversed order out. Inverse:
 * Gentleman-Sande, bit-reversed in, natural out, n^-1 folded into the last
 * layer. The negacyclic twist is folded into the twiddles, so pointwise
 * products of two forward transforms give the product modulo X^n + 1. */
typedef enum cg_ntt_backend {
    CG_NTT_AUTO = 0,
    CG_NTT_PORTABLE = 1,
    CG_NTT_AVX2 = 2,
    CG_NTT_AVX512 = 3,    /* reserved: AVX-512F 64-bit Shoup butterflies */
    CG_NTT_AVX512IFMA = 4 /* 52-bit IFMA, primes < 2^50 */
} cg_ntt_backend;

const char *cg_ntt_backend_name(cg_ntt_backend b);

typedef struct cg_ntt_table {
    size_t n;
    unsigned logn;
    cg_modulus mod;
    uint64_t root;      /* psi, primitive 2n-th root */
    uint64_t *fwd;      /* psi^bitrev(i), i < n */
    uint64_t *fwd_sh;   /* Shoup companions */
    uint64_t *inv;      /* psi^-bitrev(i) */
    uint64_t *inv_sh;
    uint64_t n_inv, n_inv_sh;         /* n^-1 */
    uint64_t last_inv, last_inv_sh;   /* n^-1 * psi^-bitrev(1): the last GS layer */
    /* 52-bit Shoup companions floor(w * 2^52 / q), for the IFMA back-end */
    uint64_t *fwd_sh52, *inv_sh52;
    uint64_t n_inv_sh52, last_inv_sh52;
    cg_ntt_backend backend;
    bool fma; /* AVX2 back-end runs the FMA-double kernels (q < 2^50, FMA CPU) */
} cg_ntt_table;

/* n a power of two in [2, 2^17]; q prime, q = 1 mod 2n, q < 2^61.
 * backend AUTO picks the fastest available for q (IFMA needs q < 2^50);
 * asking for one the CPU or q does not allow gives CG_ERR_UNSUPPORTED. */
cg_status cg_ntt_table_init(cg_ntt_table *t, size_t n, uint64_t q, cg_ntt_backend backend,
                            cg_error *err);
void cg_ntt_table_free(cg_ntt_table *t);
/* In place; input and output in [0, q). */
void cg_ntt_forward(const cg_ntt_table *t, uint64_t *a);
void cg_ntt_inverse(const cg_ntt_table *t, uint64_t *a);
/* Back-end specific entry points (same contract), for tests and benchmarks. */
void cg_ntt_forward_portable(const cg_ntt_table *t, uint64_t *a);
void cg_ntt_inverse_portable(const cg_ntt_table *t, uint64_t *a);
bool cg_ntt_backend_available(cg_ntt_backend b, uint64_t q);

/* ---- RNS bases -------------------------------------------------------------- */

typedef struct cg_rns_base {
    size_t k;
    cg_modulus *mods;
    /* product Q = prod q_i as k little-endian 64-bit limbs */
    uint64_t *prod;
    /* q_i* = Q / q_i (k limbs each, row i) and [q_i*^-1]_{q_i} with Shoup */
    uint64_t *punct;
    uint64_t *punct_inv, *punct_inv_sh;
} cg_rns_base;

cg_status cg_rns_base_init(cg_rns_base *b, const uint64_t *primes, size_t k, cg_error *err);
void cg_rns_base_free(cg_rns_base *b);
/* residues[i] (one per prime) -> x in [0, Q) as b->k limbs. */
void cg_rns_compose(const cg_rns_base *b, const uint64_t *residues, uint64_t *limbs);
/* x (nlimbs limbs) -> residues mod each prime. */
void cg_rns_decompose(const cg_rns_base *b, const uint64_t *limbs, size_t nlimbs,
                      uint64_t *residues);

/* Fast (approximate) base conversion A -> B of whole polynomials:
 * out = sum_i [x_i * q_i*^-1]_{q_i} * q_i* mod p_j, which equals x + u*Q with
 * 0 <= u < k_A. Input rows: k_A x n, output rows: k_B x n. */
typedef struct cg_base_conv {
    const cg_rns_base *from, *to;
    uint64_t *qstar_mod_p; /* k_to x k_from: q_i* mod p_j */
} cg_base_conv;

cg_status cg_base_conv_init(cg_base_conv *c, const cg_rns_base *from, const cg_rns_base *to,
                            cg_error *err);
void cg_base_conv_free(cg_base_conv *c);
void cg_base_conv_apply(const cg_base_conv *c, const uint64_t *in, uint64_t *out, size_t n);

/* ---- Polynomials over RNS (rows of n per modulus) ---------------------------- */

void cg_poly_add(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                 const uint64_t *b, uint64_t *out);
void cg_poly_sub(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                 const uint64_t *b, uint64_t *out);
void cg_poly_neg(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a, uint64_t *out);
/* AVX2 forms of add and sub, bit-identical: only where
 * cg_poly_avx2_available() (the CPU has AVX2 and CG_SIMD does not force
 * portable); callers pick once, e.g. per context. */
void cg_poly_add_avx2(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out);
void cg_poly_sub_avx2(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out);
bool cg_poly_avx2_available(void);
/* Two polynomials' multiply-accumulate over k inputs, one prime row (NTT
 * form, residues in [0, q)): o0[x] = sum_i a0[i][x] b[i][x] mod q and o1
 * likewise with a1, x < n. The AVX2 form (32-bit partial products) needs
 * q < 2^50 and k <= cg_poly_mac2_max_terms(m); the outputs may alias an
 * input (each pass writes its slots after reading them). Bit-identical to
 * cg_poly_mac2. */
size_t cg_poly_mac2_max_terms(const cg_modulus *m);
void cg_poly_mac2(const cg_modulus *m, size_t n, size_t k, const uint64_t *const *a0,
                  const uint64_t *const *a1, const uint64_t *const *b, uint64_t *o0, uint64_t *o1);
void cg_poly_mac2_avx2(const cg_modulus *m, size_t n, size_t k, const uint64_t *const *a0,
                       const uint64_t *const *a1, const uint64_t *const *b, uint64_t *o0,
                       uint64_t *o1);
/* Pointwise product (NTT form; entries of a and b in [0, q)). */
void cg_poly_mul(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                 const uint64_t *b, uint64_t *out);
/* The same in AVX2 + FMA doubles for primes below 2^50 (other rows take the
 * portable loop), bit-identical; only where cg_poly_fma_available(). */
void cg_poly_mul_avx2(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out);
bool cg_poly_fma_available(void);
/* AVX-512 IFMA forms (vpmadd52luq/huq), bit-identical: the pointwise product
 * (rows with q >= 2^50 take the portable loop) and the two-polynomial
 * multiply-accumulate (q < 2^50, k < 2^16; outputs may alias an input as
 * in cg_poly_mac2_avx2). Only where cg_poly_ifma_available(): the CPU has
 * AVX-512 IFMA, CG_SIMD does not force it off, and CG_POLY_IFMA is not "0"
 * (which keeps the IFMA NTT but these kernels off, for A/B timing). */
void cg_poly_mul_ifma(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                      const uint64_t *b, uint64_t *out);
void cg_poly_mac2_ifma(const cg_modulus *m, size_t n, size_t k, const uint64_t *const *a0,
                       const uint64_t *const *a1, const uint64_t *const *b, uint64_t *o0,
                       uint64_t *o1);
bool cg_poly_ifma_available(void);
/* out += a * b pointwise (all entries in [0, q)). */
void cg_poly_mul_add(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                     const uint64_t *b, uint64_t *out);
/* out = a * s_i in row i (s: one scalar per row, reduced). */
void cg_poly_mul_scalar(const cg_modulus *mods, size_t k, size_t n, const uint64_t *a,
                        const uint64_t *s, uint64_t *out);
/* Lazy 128-bit multiply-accumulate: acc[i] += a[i] * b[i] over k*n entries;
 * with primes < 2^60 at least 256 products fit before acc must be reduced. */
void cg_poly_mac128(size_t len, const uint64_t *a, const uint64_t *b, cg_u128 *acc);
void cg_poly_reduce128(const cg_modulus *mods, size_t k, size_t n, const cg_u128 *acc,
                       uint64_t *out);
/* Modulus switching's rounding, one row: dst = (src - [last]_centred) / q_l
 * mod q_i, i.e. round(x / q_l) mod q_i for the x whose residues are src (mod
 * q_i) and last (mod q_l), coefficient form. dst may be src. The AVX2 form is
 * bit-identical (same availability rule as cg_poly_add_avx2). */
void cg_poly_rescale_row(const cg_modulus *qi, const cg_modulus *ql, size_t n,
                         const uint64_t *src, const uint64_t *last, uint64_t *dst);
void cg_poly_rescale_row_avx2(const cg_modulus *qi, const cg_modulus *ql, size_t n,
                              const uint64_t *src, const uint64_t *last, uint64_t *dst);
/* The same multiply-accumulate in AVX2 for entries below 2^52: each entry as
 * two 26-bit limbs, acc = (lo, mid, hi) rows of len words with the sum
 * lo + mid 2^26 + hi 2^52; up to 1024 products fit before a reduction.
 * cg_poly_reduce26 gives exactly cg_poly_reduce128's residues. */
void cg_poly_mac26_avx2(size_t len, const uint64_t *a, const uint64_t *b, uint64_t *acc);
void cg_poly_reduce26(const cg_modulus *m, size_t len, const uint64_t *acc, uint64_t *out);
/* Forward/inverse NTT of k rows with k tables, on up to nthreads threads. */
void cg_poly_ntt(const cg_ntt_table *tabs, size_t k, uint64_t *a, int nthreads);
void cg_poly_intt(const cg_ntt_table *tabs, size_t k, uint64_t *a, int nthreads);

/* Automorphism X -> X^g (g odd, taken mod 2n) in coefficient form. */
void cg_poly_automorphism(const cg_modulus *mods, size_t k, size_t n, unsigned g,
                          const uint64_t *a, uint64_t *out);
/* The same in NTT (bit-reversed) form: out[j] = a[perm[j]]; perm from
 * cg_automorphism_ntt_perm (n entries). */
void cg_automorphism_ntt_perm(size_t n, unsigned g, uint32_t *perm);
void cg_poly_permute(size_t k, size_t n, const uint32_t *perm, const uint64_t *a,
                     uint64_t *out);

/* ---- Samplers ---------------------------------------------------------------- */

/* Uniform mod each prime (rejection sampling), k rows of n. */
void cg_sample_uniform(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, uint64_t *out);
/* Ternary: uniform over {-1, 0, 1} (1/3 each, by rejection), as small
 * signed integers. */
void cg_sample_ternary(cg_prg *prg, size_t n, int8_t *out);
/* Centered binomial with eta = 21 (sigma ~ 3.24). */
void cg_sample_cbd(cg_prg *prg, size_t n, int8_t *out);
/* Small signed integers (|v| < 2^63) into RNS rows. */
void cg_small_to_rns(const cg_modulus *mods, size_t k, size_t n, const int8_t *v, uint64_t *out);
void cg_signed_to_rns(const cg_modulus *mods, size_t k, size_t n, const int64_t *v,
                      uint64_t *out);
/* Uniform integers in [-2^bits, 2^bits] (bits <= 190), reduced into each
 * prime's row: the wide noise used for flooding. */
void cg_sample_wide_noise(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, unsigned bits,
                          uint64_t *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
