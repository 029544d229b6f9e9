/* cryptogen mpc layer: additive secret shares, fixed point, the two-party
 * protocols for every non-linear layer, and the HE <-> share bridge.
 *
 * Shared types below are the contract between layers (bridge, model's
 * fixed-point emulator, secure generation); see docs/INTERFACES.md. */
#ifndef CRYPTOGEN_MPC_H
#define CRYPTOGEN_MPC_H

#include "cryptogen/common.h"
#include "cryptogen/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The ring a share lives in: Z_{2^bits} (pow2, 1 <= bits <= 64) or Z_p for a
 * prime p < 2^62 (the BFV plaintext modulus, for HE <-> share conversion).
 * A signed value v is stored as v mod modulus (two's complement for 2^bits,
 * centred representative in (-p/2, p/2) for Z_p). */
typedef struct cg_ring {
    uint64_t modulus; /* p, or 0 when pow2 with bits == 64 (2^64) */
    uint8_t bits;     /* ceil(log2(modulus)) */
    bool pow2;
} cg_ring;

cg_ring cg_ring_pow2(unsigned bits);
cg_ring cg_ring_prime(uint64_t p);
uint64_t cg_ring_reduce_signed(cg_ring r, int64_t v);  /* v mod r */
int64_t cg_ring_to_signed(cg_ring r, uint64_t x);      /* centred lift */
uint64_t cg_ring_add(cg_ring r, uint64_t a, uint64_t b);
uint64_t cg_ring_sub(cg_ring r, uint64_t a, uint64_t b);
uint64_t cg_ring_mul(cg_ring r, uint64_t a, uint64_t b);

/* Which side of the protocol this process plays. The server (model owner) is
 * party 0 and acts as OT sender first; the client (prompt and HE key owner) is
 * party 1. */
typedef enum cg_party { CG_SERVER = 0, CG_CLIENT = 1 } cg_party;

/* A vector of additive shares: the secret is x = share_server + share_client
 * mod ring, elementwise. Each party holds one cg_shares of the same length. */
typedef struct cg_shares {
    cg_ring ring;
    size_t n;
    uint64_t *v; /* cg_alloc'ed, length n */
} cg_shares;

cg_status cg_shares_alloc(cg_shares *s, cg_ring ring, size_t n, cg_error *err);
void cg_shares_free(cg_shares *s); /* wipes */

/* Fixed-point format: a real r is the integer round(r * 2^frac) in a ring of
 * ring_bits bits (see docs/NUMERICS.md for the per-operation choices). */
typedef struct cg_fxp {
    uint8_t ring_bits;
    uint8_t frac_bits;
} cg_fxp;


/* ---- Plaintext fixed-point references (fxp_ref.c) --------------------------
 * Integer-only models of what the two-party protocols compute, on the signed
 * integer a ring element encodes (value = v / 2^frac_bits). Each follows the
 * same steps as its protocol, so a protocol's output can be checked against
 * them exactly or within a documented ulp bound; docs/NUMERICS.md lists their
 * errors against real arithmetic. Results are wrapped to ring_bits like the
 * ring would. */
int64_t cg_fxp_encode(cg_fxp f, double r);   /* round(r * 2^frac), wrapped */
double cg_fxp_decode(cg_fxp f, int64_t v);   /* v / 2^frac */
int64_t cg_fxp_wrap(cg_fxp f, int64_t v);    /* v mod 2^ring_bits, centred */
/* floor(x / 2^shift) (arithmetic shift), shift <= 63. */
int64_t cg_fxp_ref_trunc(int64_t x, unsigned shift);
/* floor(a * b / 2^frac), wrapped. */
int64_t cg_fxp_ref_mul(cg_fxp f, int64_t a, int64_t b);
/* exp(x) for x <= 0 (BOLT): l = floor(x / -ln2), p = x + l*ln2,
 * exp(p) ~ 0.3585 (p + 1.353)^2 + 0.344, then >> l; 0 once l > frac_bits.
 * x > 0 is clipped to 0. */
int64_t cg_fxp_ref_exp_neg(cg_fxp f, int64_t x);
/* GELU (BOLT): 0.5x + P(|x|) for |x| <= 2.7, ReLU outside. */
int64_t cg_fxp_ref_gelu(cg_fxp f, int64_t x);
/* 1/x and 1/sqrt(x) for x > 0 (CG_ERR_RANGE otherwise): normalise by the most
 * significant bit, 8-entry table guess, three Newton steps. */
cg_status cg_fxp_ref_recip(cg_fxp f, int64_t x, int64_t *out, cg_error *err);
cg_status cg_fxp_ref_rsqrt(cg_fxp f, int64_t x, int64_t *out, cg_error *err);
/* softmax over a row of n >= 1: exp_neg(x - max), sum, recip, products. */
cg_status cg_fxp_ref_softmax(cg_fxp f, const int64_t *x, size_t n, int64_t *out, cg_error *err);
/* LayerNorm without gamma/beta over a row of n >= 1:
 * (x - mean) * rsqrt(var + eps), eps = 2^-frac (one ulp) at least 1e-5. The
 * divisions by n are products with round(2^(frac+16) / n) then a truncation. */
cg_status cg_fxp_ref_layernorm(cg_fxp f, const int64_t *x, size_t n, int64_t *out,
                               cg_error *err);

#ifdef __cplusplus
}
#endif
#endif
