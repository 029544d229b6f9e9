/* cryptogen mpc layer: additive secret shares, fixed point, the two-party
 * protocols for every non-linear layer, and the HE <-> share bridge.
 *
 * Shared types below are the contract between layers (bridge, model's
 * fixed-point emulator, secure generation); see docs/INTERFACES.md. */
#ifndef CRYPTOGEN_MPC_H
#define CRYPTOGEN_MPC_H

#include "cryptogen/common.h"
#include "cryptogen/net.h"
#include "cryptogen/ot.h"

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

/* ---- Two-party context and arithmetic protocols ---------------------------
 * Both parties call the same function, in the same order, with their own
 * shares; shares of x in Z_{2^l} are x = x_server + x_client mod 2^l. All
 * protocols are batched (n elements per call, one round trip per OT call). */
typedef struct cg_mpc {
    cg_channel *ch;
    cg_party party;
    cg_ot_pair ot; /* this party's sender and receiver OT instances */
    cg_prg prg;
    int nthreads;
} cg_mpc;

/* Sets up OT in both directions with the peer over ch. */
cg_status cg_mpc_init(cg_mpc *m, cg_channel *ch, cg_party party, cg_error *err);
void cg_mpc_free(cg_mpc *m);

/* Bit shares (b = b_S xor b_C, one bit per byte) to arithmetic shares of b
 * in Z_{2^l}: one COT per element. */
cg_status cg_mpc_b2a(cg_mpc *m, size_t n, unsigned l, const uint8_t *bits, uint64_t *out, cg_error *err);
/* z = x * y elementwise (Gilboa: 2l COTs per element, one per bit of each
 * cross term). out may alias x or y. */
cg_status cg_mpc_mul(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, const uint64_t *y, uint64_t *z,
                     cg_error *err);
/* z = x^2 (one cross term: l COTs per element). */
cg_status cg_mpc_square(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint64_t *z, cg_error *err);
/* z = c * x for a public constant c (local). */
void cg_mpc_mul_public(size_t n, unsigned l, const uint64_t *x, uint64_t c, uint64_t *z);
/* z = c_i * x_i where the constants are known to the server only (the client
 * passes c = NULL): l COTs per element. */
cg_status cg_mpc_mul_server_const(cg_mpc *m, size_t n, unsigned l, const uint64_t *c, const uint64_t *x,
                                  uint64_t *z, cg_error *err);
/* Boolean shares (one bit per byte, b = b_S xor b_C) of [a > b], where the
 * server holds the unsigned m-bit values a and the client holds b (the other
 * party passes NULL): CrypTFlow2's millionaires' protocol with 4-bit digits,
 * one 1-of-16 OT per digit and a log-depth AND tree on bit triples. */
cg_status cg_mpc_millionaire(cg_mpc *m, size_t n, unsigned bits, const uint64_t *mine, uint8_t *gt,
                             cg_error *err);
/* Boolean shares of msb(x) (the sign of x in two's complement) and of
 * DReLU(x) = [x >= 0], for arithmetic shares x in Z_{2^l}. */
cg_status cg_mpc_msb(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint8_t *msb, cg_error *err);
cg_status cg_mpc_drelu(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint8_t *b, cg_error *err);
/* z = b * x for boolean-shared b and arithmetic-shared x (multiplexer). */
cg_status cg_mpc_mux(cg_mpc *m, size_t n, unsigned l, const uint8_t *b, const uint64_t *x, uint64_t *z,
                     cg_error *err);
/* z = max(x, 0). */
cg_status cg_mpc_relu(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint64_t *z, cg_error *err);
/* Truncation by a public shift s (arithmetic shift of a signed value):
 * z = floor(x / 2^s) or one less (<= 1 ulp, from the two local floors).
 * Precondition |x| < 2^(l-2), which makes the wrap bit one OR of the two
 * shares' top bits after adding 2^(l-2): one COT per element. */
cg_status cg_mpc_trunc(cg_mpc *m, size_t n, unsigned l, unsigned s, const uint64_t *x, uint64_t *z,
                       cg_error *err);

/* Bitwise AND of boolean shares (bit triples generated with OT). */
cg_status cg_mpc_and(cg_mpc *m, size_t n, const uint8_t *x, const uint8_t *y, uint8_t *z, cg_error *err);

/* Opens x to both parties (for tests and for revealed outputs only). */
cg_status cg_mpc_open(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint64_t *out, cg_error *err);

#ifdef __cplusplus
}
#endif
#endif
