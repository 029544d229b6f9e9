/* cryptogen ring layer: arithmetic modulo word-size primes, NTT, RNS bases,
 * polynomial arithmetic over RNS, and samplers.
 *
 * Layout convention: an RNS polynomial of degree < n over k primes is k
 * contiguous rows of n uint64_t (row i holds the residues mod prime i). */
#ifndef CRYPTOGEN_RING_H
#define CRYPTOGEN_RING_H

#include "cryptogen/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A prime modulus q < 2^61 with its Barrett constant floor(2^128 / q). */
typedef struct cg_modulus {
    uint64_t value;
    uint64_t barrett_hi, barrett_lo; /* floor(2^128 / value) */
    unsigned bits;
} cg_modulus;

/* NTT back-ends, chosen at run time by cg_ntt_table_init(CG_NTT_AUTO). */
typedef enum cg_ntt_backend {
    CG_NTT_AUTO = 0,
    CG_NTT_PORTABLE = 1,
    CG_NTT_AVX2 = 2,
    CG_NTT_AVX512 = 3,     /* AVX-512F, 64-bit Shoup butterflies */
    CG_NTT_AVX512IFMA = 4  /* 52-bit IFMA, primes < 2^50 */
} cg_ntt_backend;

const char *cg_ntt_backend_name(cg_ntt_backend b);

#ifdef __cplusplus
}
#endif
#endif
