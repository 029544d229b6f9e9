/* cryptogen mpc layer: the two-party protocols on additive secret shares
 * for every non-linear layer, over the ot layer. They reproduce the fxp
 * layer's plaintext references (fxp.h) step for step. Converting between
 * ciphertexts and shares is proto's job: this layer has no HE.
 * See docs/INTERFACES.md for what crosses layers. */
#ifndef CRYPTOGEN_MPC_H
#define CRYPTOGEN_MPC_H

#include "cryptogen/common.h"
#include "cryptogen/fxp.h"
#include "cryptogen/net.h"
#include "cryptogen/ot.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

/* Which side of the protocol this process plays. The server (model owner) is
 * party 0 and acts as OT sender first; the client (prompt and HE key owner) is
 * party 1. */
typedef enum cg_party { CG_SERVER = 0, CG_CLIENT = 1 } cg_party;

/* ---- Two-party protocols (the context in mpc_ctx.c; mpc_arith.c, mpc_bool.c,
 * mpc_cmp.c, mpc_trunc.c; the later sections name their files) ---------------
 * Semi-honest, over Z_{2^bits} (1 <= bits <= 64; comparisons need bits >= 2).
 * Both parties make the same call with their own shares: x, y, out are this
 * party's n-element share vectors (values taken mod 2^bits); boolean shares
 * are bytes 0/1 whose XOR over the two parties is the secret bit. out may
 * alias an input. Bad arguments and parameters are refused before anything
 * is sent; a call that fails after that leaves the context unusable
 * (CG_ERR_STATE from then on: the two ends are out of step). Each call's
 * cost is given per element (IKNP, l = bits). */
typedef struct cg_mpc cg_mpc;

/* What a context is made with; cg_mpc_new takes NULL for the defaults (a
 * zeroed struct is the same). Both parties must pass the same values: they
 * change the wire protocol and are not negotiated here. */
typedef struct cg_mpc_options {
    cg_otn_kind otn; /* 1-of-N OTs of comparisons and lookup tables; default CG_OTN_KK13 */
    cg_ot_kind ot;   /* COT source of both directions; default CG_OT_IKNP (Ferret runs
                      * every 1-of-N OT on log2 N COTs, whatever otn says) */
} cg_mpc_options;

/* Sets up the OT pair with the peer (party 0 = server, 1 = client) and,
 * for KK13, both directions' 1-of-N base OTs. The protocols run on the
 * calling thread. */
cg_status cg_mpc_new(cg_mpc **m, cg_channel *ch, cg_party party, const cg_mpc_options *opt,
                     cg_error *err);
void cg_mpc_free(cg_mpc *m);
cg_party cg_mpc_party(const cg_mpc *m);
cg_channel *cg_mpc_channel(cg_mpc *m);

/* Bit -> arithmetic: one exchange of one masked bit each way, on a daBit
 * (a random bit shared both ways) from the context's stock, which is made
 * 2^15 at a time by one batch of 64-bit COTs when it runs out. */
cg_status cg_mpc_b2a(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                     cg_error *err);
/* out = x * y mod 2^l (Gilboa: l COTs each direction, l-bit correlations). */
cg_status cg_mpc_mul(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, const uint64_t *y,
                     uint64_t *out, cg_error *err);
/* out = x^2 (one cross term: l COTs in all, split between the directions). */
cg_status cg_mpc_square(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t *out,
                        cg_error *err);
/* x times constants known to the server only (c[i] per element; the
 * client passes NULL): the shares of c x with no truncation; the client
 * learns nothing of c. One product's l COTs per element, split between the
 * directions (as cg_mpc_square). */
cg_status cg_mpc_mul_private(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                             const uint64_t *c, uint64_t *out, cg_error *err);
/* out = c * x for a public c (local). */
void cg_mpc_mul_public(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t c,
                       uint64_t *out);
/* out = x + c for a public c (the server adds it). */
void cg_mpc_add_public(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t c,
                       uint64_t *out);
/* out = b * x with b a boolean share (two COTs, one each direction). */
cg_status cg_mpc_select(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                        uint64_t *out, cg_error *err);
/* out = b ? x : y. */
cg_status cg_mpc_mux(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                     const uint64_t *y, uint64_t *out, cg_error *err);
/* z = x AND y on boolean shares (two 1-bit COTs). */
cg_status cg_mpc_and(cg_mpc *m, size_t n, const uint8_t *x, const uint8_t *y, uint8_t *z,
                     cg_error *err);
/* Millionaires: the server holds a, the client b (w-bit private inputs, both
 * call with their own value in `mine`, 1 <= w <= 64); out = [a < b] as
 * boolean shares. 4-bit digits, one 1-of-16 OT each, then an AND tree. */
cg_status cg_mpc_less_than(cg_mpc *m, unsigned w, size_t n, const uint64_t *mine, uint8_t *out,
                           cg_error *err);
/* Boolean shares of msb(x) (x < 0 as a signed value), and of DReLU = x >= 0. */
cg_status cg_mpc_msb(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint8_t *out,
                     cg_error *err);
cg_status cg_mpc_drelu(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint8_t *out,
                       cg_error *err);
cg_status cg_mpc_relu(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t *out,
                      cg_error *err);
/* Approximate truncation by a public shift (Cheetah): for |x| < 2^(l-2),
 * out is floor(x / 2^shift) or one less (<= 1 ulp, never above). One COT
 * for the wrap bit; 1 <= shift < l - 2. In exact mode (cg_mpc_set_exact)
 * it is cg_mpc_trunc_exact. */
cg_status cg_mpc_trunc(cg_mpc *m, unsigned bits, unsigned shift, size_t n, const uint64_t *x,
                       uint64_t *out, cg_error *err);
/* Exact truncation: out = floor(x / 2^shift) for |x| < 2^(l-2),
 * 1 <= shift < l - 2 (garbage outside, silently). The approximate protocol
 * plus the carry of the shares' low shift bits: one millionaires' comparison
 * of shift bits and one B2A more. */
cg_status cg_mpc_trunc_exact(cg_mpc *m, unsigned bits, unsigned shift, size_t n,
                             const uint64_t *x, uint64_t *out, cg_error *err);
/* A projection's truncation and the next LayerNorm's exact extension in
 * one protocol: x64 gets shares mod 2^64 of x + floor(y / 2^shift) over the
 * integers (x and y signed mod 2^bits, each |.| < 2^(bits-2), 1 <= shift <
 * bits - 2); x64 mod 2^bits is then the residual x + trunc(y) mod 2^bits,
 * and cg_mpc_layernorm_lifted takes x64 without its own extension (one
 * round fewer). The rounds of cg_mpc_trunc_exact on 2n elements. */
cg_status cg_mpc_trunc_add_lift(cg_mpc *m, unsigned bits, unsigned shift, size_t n,
                                const uint64_t *y, const uint64_t *x, uint64_t *x64,
                                cg_error *err);
/* Exact mode (default off): when on, every truncation inside every protocol
 * of this context (cg_mpc_trunc, GELU, exp, reciprocal, rsqrt, softmax,
 * LayerNorm) is exact, so the fixed-point protocols equal their cg_fxp_ref_*
 * references bit for bit. Both parties must set the same mode. */
void cg_mpc_set_exact(cg_mpc *m, bool exact);
/* Z_p -> Z_{2^bits}: x holds this party's share mod the odd prime p (values
 * in [0, p), else CG_ERR_RANGE before anything is sent); out gets ring shares
 * of the centred secret in [-(p-1)/2, (p-1)/2]. One millionaires' comparison
 * for the wrap bit [x0 + x1 >= p] plus one B2A. Needs p < 2^(bits-1). */
cg_status cg_mpc_prime_to_ring(cg_mpc *m, uint64_t p, unsigned bits, size_t n, const uint64_t *x,
                               uint64_t *out, cg_error *err);
/* Row maxima: x is rows * cols (row-major), out has rows entries; a
 * log-depth tree of compare-and-select. Needs |differences| < 2^(l-1). */
cg_status cg_mpc_row_max(cg_mpc *m, unsigned bits, size_t rows, size_t cols, const uint64_t *x,
                         uint64_t *out, cg_error *err);
/* Index of the maximum of a shared vector (the lowest index on ties),
 * revealed to the client only: the client gets *index in [0, n), the server
 * learns nothing and leaves *index untouched. Same range condition as
 * row_max; n <= 2^(bits-1). */
cg_status cg_mpc_argmax_reveal(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                               uint64_t *index, cg_error *err);

/* Lookup table on shares (mpc_lut.c): x holds shares of an index over
 * Z_{2^in_bits} (1 <= in_bits <= 8), out gets shares over Z_{2^out_bits}
 * (1 <= out_bits <= 64) of table[x]. The table has 2^in_bits entries (taken
 * mod 2^out_bits) and is the server's input: private to the server, or
 * public; the client passes NULL. One 1-of-2^in_bits OT per element, server
 * to client: 128 in_bits bits up (256 for in_bits >= 3 with KK13, the
 * default cg_otn_kind), 2^in_bits out_bits bits down, one round. */
cg_status cg_mpc_lut(cg_mpc *m, unsigned in_bits, unsigned out_bits, const uint64_t *table,
                     size_t n, const uint64_t *x, uint64_t *out, cg_error *err);
/* Signed extension: x holds shares over Z_{2^from_bits} of a signed value
 * with |x| < 2^(from_bits - 2); out gets shares over Z_{2^to_bits} of the
 * same signed value, exactly (garbage outside the range, silently).
 * 2 <= from_bits <= to_bits <= 64 (equal: a copy). One COT of to_bits bits
 * for the wrap bit, one round (the known-top-bit trick of cg_mpc_trunc). */
cg_status cg_mpc_extend(cg_mpc *m, unsigned from_bits, unsigned to_bits, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err);
/* Reduction to a smaller ring, local (no communication, m may be NULL):
 * each share mod 2^to_bits, 1 <= to_bits <= from_bits <= 64. The secret
 * becomes x mod 2^to_bits (a signed value survives when it fits to_bits). */
cg_status cg_mpc_reduce(cg_mpc *m, unsigned from_bits, unsigned to_bits, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err);

/* GELU on shares of fixed-point values in format f (mpc_nonlin.c): the steps
 * of cg_fxp_ref_gelu with each floor truncation replaced by the approximate
 * one, so the result is within CG_MPC_GELU_ULP of the reference (see
 * docs/NUMERICS.md). Inputs must satisfy |x| < 2^(ring_bits - frac_bits - 2)
 * (2048.0 at l = 37, s = 12): the sign tests run on the shares reduced to
 * ring_bits - frac_bits bits, and beyond that range the result is
 * unspecified. Needs 2 * (frac_bits + 4) < ring_bits - 2. The quartic's
 * products run in rings of 2 frac_bits + 5 and 2 frac_bits + 1 bits, which
 * hold them for |x| <= 2.7; outside, their values are discarded by the
 * final mux. The square (of x, equal to |x|'s) shares the round trip of
 * relu(x)'s select. */
#define CG_MPC_GELU_ULP 48
/* exp(x) for shared x <= 0 (the caller guarantees the sign, e.g. softmax
 * after subtracting the row max): the steps of cg_fxp_ref_exp_neg, with
 * l = floor(-x / ln2) from an exact truncation and s+1 narrow threshold
 * comparisons (so the shift by l is a one-hot select of s+1 scaled copies
 * and one truncation). Within CG_MPC_EXP_ULP of the reference (so a result
 * of 0 may come out as -1). frac_bits in [4, 20] and
 * 2 * (frac_bits + 2) < ring_bits - 2; -x * round(2^s / ln2) < 2^(ring_bits - 2)
 * (the product -x / ln2 must be in truncation range: -x < ~1419 at l = 37,
 * s = 12). In exact mode GELU and exp equal their references exactly. */
#define CG_MPC_EXP_ULP 8
cg_status cg_mpc_exp_neg(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                         cg_error *err);
cg_status cg_mpc_gelu(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                      cg_error *err);
/* The accurate option on shares: the steps of cg_fxp_ref_gelu_accurate
 * (three comparisons as in cg_mpc_gelu, a square and two products: five
 * cross terms against three), within CG_MPC_GELU_ACC_ULP of it (exact in
 * exact mode). Same input range as cg_mpc_gelu; needs 4 <= frac_bits and
 * 2 * frac_bits + 13 <= ring_bits. */
#define CG_MPC_GELU_ACC_ULP 8
cg_status cg_mpc_gelu_accurate(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                               cg_error *err);

/* 1/x and 1/sqrt(x) on shares (mpc_norm.c), the steps of cg_fxp_ref_recip /
 * cg_fxp_ref_rsqrt: the leading-bit position from l-3 comparisons, the
 * normalised value and its bin index as one-hot selections of shifted
 * copies, the piecewise-linear table's two entries from one 1-of-256 OT,
 * one product (and a Newton step from frac_bits 16 on), and the final
 * rounding and rescaling as one more selection. Precondition: 0 < x <
 * 2^(ring_bits - 2) (at l = 37, s = 12: up to 2^23 in value), frac_bits in
 * [4, 28] and ring_bits >= 2 frac_bits + 8. Equal to the references in
 * exact mode; in approximate mode a few ulp off. Costs l - 3 DReLUs per
 * element. */
cg_status cg_mpc_recip(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                       cg_error *err);
cg_status cg_mpc_rsqrt(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                       cg_error *err);
/* Softmax over each row of x (rows * cols, row-major), the steps of
 * cg_fxp_ref_softmax. row_len (NULL = all cols) is a public causal mask:
 * row r uses its first row_len[r] entries (1 <= row_len[r] <= cols), the
 * others are ignored and come out as shares of 0. Preconditions: within a
 * row, max - x < 2^(l-2) / round(2^s / ln2) (about 1419 at l = 37, s = 12;
 * see cg_mpc_exp_neg), and row_len * 2^s * 1.01 < 2^(l-2). */
cg_status cg_mpc_softmax(cg_mpc *m, cg_fxp f, size_t rows, size_t cols, const size_t *row_len,
                         const uint64_t *x, uint64_t *out, cg_error *err);
/* LayerNorm (no gamma/beta) over each row, the steps of
 * cg_fxp_ref_layernorm: x's shares lifted exactly to 64 bits (one COT
 * each), the mean one truncation there, the squares of x - mean in that
 * ring and summed locally, the variance two truncations of one value per
 * row; then rsqrt and the final product as before. Preconditions (values
 * in real units, l = 37, s = 12 in brackets): |x| < 2^(l-2-s) [2^23] (the
 * exact extension), |row sum| < 2^(l-2-s) [2^23], sum of (x - mean)^2 <
 * 2^(62-2s) [2^38], variance < 2^(l-2-s-CG_LN_VAR_EXTRA) [2^21]; |x - mean| /
 * sqrt(var + eps) < 2^(l-2-2s-CG_LN_RS_EXTRA) [64]. Format: as
 * cg_mpc_rsqrt and ring_bits + CG_LN_MEAN_BITS <= 61. */
cg_status cg_mpc_layernorm(cg_mpc *m, cg_fxp f, size_t rows, size_t cols, const uint64_t *x,
                           uint64_t *out, cg_error *err);
/* The same on x's exact extension to 64 bits (shares mod 2^64 of the signed
 * value, as cg_mpc_trunc_add_lift gives): the same output, one round fewer. */
cg_status cg_mpc_layernorm_lifted(cg_mpc *m, cg_fxp f, size_t rows, size_t cols,
                                  const uint64_t *x64, uint64_t *out, cg_error *err);

/* cg_ot_fill_ahead on both directions' OT instances (Ferret's big refills
 * at a point the caller picks; a no-op on IKNP). Both parties call it at
 * the same point. */
cg_status cg_mpc_ot_fill_ahead(cg_mpc *m, cg_error *err);

/* Product material made ahead: the products, squares and selects of
 * `layernorms` LayerNorms of rows x cols (with their rsqrt) and of GELUs
 * over gelu_n elements in all, and of a softmax of sm_rows x sm_cols
 * (0 x 0: none) (format f), made in one COT round trip.
 * Those calls then find it in stock and each product is one exchange of
 * masked values; without it each call makes its own first (one round trip
 * per call). Both parties call it with the same arguments; optional, and
 * material a call does not use stays for the next ones. */
cg_status cg_mpc_prepare(cg_mpc *m, cg_fxp f, size_t layernorms, size_t rows, size_t cols,
                         size_t gelu_n, size_t sm_rows, size_t sm_cols, cg_error *err);

/* Accounting by sub-protocol (a measuring aid: bench mpc --op block): with
 * profiling on, every message a context's calls send or receive is charged
 * to an entry "label/sub" (label: the caller's, cg_mpc_profile_label; sub:
 * the innermost sub-protocol running, e.g. "stock", "cmp.ot", "cmp.and",
 * "open", "dabit.make"; "-" outside any). Ferret refill messages are taken
 * out of their call's entry into "label/ferret.refill". Counts are this
 * party's: bytes it sent and received, rounds as the channel counts them,
 * COTs its sender and receiver instances drew. Off by default (no cost). */
#define CG_MPC_PROF_MAX 64
typedef struct cg_mpc_prof_entry {
    char name[48];
    uint64_t calls, bytes_sent, bytes_received, rounds, cots_sent, cots_received;
} cg_mpc_prof_entry;
typedef struct cg_mpc_profile {
    size_t n; /* entries used; further names are charged to the last */
    cg_mpc_prof_entry e[CG_MPC_PROF_MAX];
} cg_mpc_profile;
/* Clears the counts and turns profiling on or off. */
void cg_mpc_profile_reset(cg_mpc *m, bool on);
/* The label of later calls' entries (copied; NULL: "-"). */
void cg_mpc_profile_label(cg_mpc *m, const char *label);
void cg_mpc_profile_get(cg_mpc *m, cg_mpc_profile *out);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
