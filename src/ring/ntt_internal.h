/* Back-end kernels of the NTT (internal to the ring layer). */
#ifndef CG_RING_NTT_INTERNAL_H
#define CG_RING_NTT_INTERNAL_H
#include "cryptogen/ring.h"

/* Scalar butterfly layers (shared by the portable and AVX2 kernels). */
void ntt_fwd_layer_scalar(const cg_ntt_table *t, uint64_t *a, size_t m, size_t span);
void ntt_inv_layer_scalar(const cg_ntt_table *t, uint64_t *a, size_t h, size_t span);

/* AVX-512 IFMA (q < 2^50); same contract as the portable kernels. */
void ntt_forward_ifma(const cg_ntt_table *t, uint64_t *a);
void ntt_inverse_ifma(const cg_ntt_table *t, uint64_t *a);
/* AVX2 (any q < 2^61, n >= 8). */
void ntt_forward_avx2(const cg_ntt_table *t, uint64_t *a);
void ntt_inverse_avx2(const cg_ntt_table *t, uint64_t *a);
/* AVX2 + FMA on doubles (q < 2^50, n >= 8). */
void ntt_forward_fma(const cg_ntt_table *t, uint64_t *a);
void ntt_inverse_fma(const cg_ntt_table *t, uint64_t *a);
#endif
