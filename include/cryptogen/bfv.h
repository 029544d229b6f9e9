/* cryptogen bfv layer: RNS-BFV parameters, keys, encryption, encoders,
 * evaluator, noise tracking, HE->share helpers, serialization.
 * Built on ring.h.
 *
 * Conventions
 * - Q = q_0 ... q_{L-1} is the ciphertext modulus, P = p_0 ... (possibly
 *   empty) the special modulus used only inside key switching. Security is
 *   judged on log2(QP) against the HE Standard 128-bit table.
 * - Ciphertexts live at a "level" = number of q primes still present
 *   (L at the top, 1 after switching all the way down). Key switching
 *   (relinearisation, rotations) works at the top level only; modulus
 *   switching is for shrinking a ciphertext before it is sent.
 * - A ciphertext is either in coefficient or in NTT form (flag `ntt`);
 *   operations convert their output as documented.
 * - Every ciphertext carries `noise_log2`, an analytic upper bound on
 *   log2 ||[t * (c0 + c1 s + ...)]_Q||_inf, computed without the key; the
 *   budget is log2(Q) - 1 - noise_log2 (decryption is correct while > 0). */
#ifndef CRYPTOGEN_BFV_H
#define CRYPTOGEN_BFV_H

#include "cryptogen/ring.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

#define CG_BFV_MAX_Q 16
#define CG_BFV_MAX_P 4

/* What the caller asks for. t == 0: pick the largest batching prime of
 * t_bits bits (t = 1 mod 2n). t a power of two: no batching (coefficient
 * encoder only). */
typedef struct cg_bfv_spec {
    size_t n;
    size_t nq;
    unsigned q_bits[CG_BFV_MAX_Q];
    size_t np;
    unsigned p_bits[CG_BFV_MAX_P];
    uint64_t t;
    unsigned t_bits;
    size_t dnum;             /* key-switching digits (0 = one per q prime) */
    bool insecure_for_tests; /* allow sets above the 128-bit bound */
    unsigned r_bits;         /* ct x ct's auxiliary primes, 50..60 bits (0 = by the CPU) */
} cg_bfv_spec;

/* Named sets: "n4096" (log QP = 109), "paper" (n = 8192, log QP = 218,
 * t = 29-bit prime; the CryptoGen/BOLT set), "n16384" (log QP = 438),
 * "test2048" (insecure, for fast tests). */
cg_status cg_bfv_preset(const char *name, cg_bfv_spec *spec, cg_error *err);
/* Largest log2(QP) for 128-bit security at ring degree n (0 if n unknown). */
unsigned cg_bfv_max_logqp(size_t n);

typedef struct cg_bfv_ctx cg_bfv_ctx;

cg_status cg_bfv_ctx_new(cg_bfv_ctx **ctx, const cg_bfv_spec *spec, cg_error *err);
void cg_bfv_ctx_free(cg_bfv_ctx *ctx);
size_t cg_bfv_n(const cg_bfv_ctx *ctx);
uint64_t cg_bfv_t(const cg_bfv_ctx *ctx);
size_t cg_bfv_nq(const cg_bfv_ctx *ctx);
bool cg_bfv_batching(const cg_bfv_ctx *ctx);
double cg_bfv_log2_q(const cg_bfv_ctx *ctx, size_t level);
double cg_bfv_log2_qp(const cg_bfv_ctx *ctx);
/* 32-byte hash of every parameter; serialized objects carry it. */
const uint8_t *cg_bfv_fingerprint(const cg_bfv_ctx *ctx);
/* The thread count used by batch operations (default 1). */
void cg_bfv_set_threads(cg_bfv_ctx *ctx, int nthreads);
const cg_ntt_table *cg_bfv_q_ntt(const cg_bfv_ctx *ctx, size_t i);

/* ---- Objects ------------------------------------------------------------- */

typedef struct cg_bfv_plain {
    size_t n;
    uint64_t *coeffs; /* n values mod t */
} cg_bfv_plain;

/* A plaintext lifted to Q and transformed, ready for fast mul_plain. */
typedef struct cg_bfv_plain_ntt {
    size_t level;
    uint64_t *data; /* level rows of n, NTT form */
    double norm_log2; /* log2 of max |centred coefficient| */
    size_t cap; /* words data can hold (0: unknown; cg_bfv_plain_to_ntt reuses data when enough) */
} cg_bfv_plain_ntt;

typedef struct cg_bfv_ct {
    size_t size;  /* 2 or 3 polynomials */
    size_t level; /* q primes present */
    bool ntt;
    uint64_t *data; /* size * level rows of n */
    double noise_log2;
    bool seeded;                  /* c1 = uniform from seed (fresh sk encryption) */
    uint8_t seed[CG_SEED_BYTES];
    size_t cap; /* words data can hold (0: unknown, reallocated when reshaped) */
} cg_bfv_ct;

typedef struct cg_bfv_sk {
    uint64_t *s_ntt; /* s over Q then P rows, NTT form */
    int8_t *s_coeff; /* ternary coefficients */
} cg_bfv_sk;

typedef struct cg_bfv_pk {
    uint64_t *data; /* (b, a) over Q, NTT form */
    uint8_t seed[CG_SEED_BYTES]; /* a = uniform(seed) */
} cg_bfv_pk;

/* Key-switching key from some s' to s: dnum pairs over QP, NTT form. */
typedef struct cg_bfv_ksk {
    size_t dnum;
    uint64_t *data;
    uint8_t seed[CG_SEED_BYTES]; /* the a-parts come from this seed */
} cg_bfv_ksk;

typedef struct cg_bfv_galois_keys {
    size_t count;
    uint32_t *elts; /* Galois elements g (odd, < 2n) */
    cg_bfv_ksk *keys;
} cg_bfv_galois_keys;

cg_status cg_bfv_plain_alloc(const cg_bfv_ctx *ctx, cg_bfv_plain *pt, cg_error *err);
void cg_bfv_plain_free(cg_bfv_plain *pt);
void cg_bfv_plain_ntt_free(cg_bfv_plain_ntt *p);
cg_status cg_bfv_ct_alloc(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, size_t size, size_t level,
                          cg_error *err);
void cg_bfv_ct_free(cg_bfv_ct *ct);
cg_status cg_bfv_ct_copy(const cg_bfv_ctx *ctx, cg_bfv_ct *dst, const cg_bfv_ct *src,
                         cg_error *err);
/* Buffer reuse. Every operation that writes a result ciphertext (`out`,
 * `ct`, `dst`) keeps that ciphertext's buffer when it is large enough and
 * allocates only when it must grow, so a result object reused across calls
 * costs no allocation after the first; `_inplace` functions take the result
 * as their first ciphertext (acc op= x). Temporaries come from a workspace
 * pool owned by the context, so after warm-up add, sub, plaintext products,
 * multiply-accumulate, modulus switching, copies, encryption and decryption
 * allocate nothing. cg_bfv_ct_reserve shapes a zeroed or valid ciphertext
 * (contents unspecified), e.g. at size 3 so that it never has to grow. */
cg_status cg_bfv_ct_reserve(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, size_t size, size_t level,
                            cg_error *err);
void cg_bfv_sk_free(cg_bfv_sk *sk);
void cg_bfv_pk_free(cg_bfv_pk *pk);
void cg_bfv_ksk_free(cg_bfv_ksk *k);
void cg_bfv_galois_free(cg_bfv_galois_keys *gk);

/* ---- Keys ---------------------------------------------------------------- */

cg_status cg_bfv_keygen(const cg_bfv_ctx *ctx, cg_bfv_sk *sk, cg_bfv_pk *pk, cg_error *err);
cg_status cg_bfv_keygen_relin(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, cg_bfv_ksk *rk,
                              cg_error *err);
/* Galois keys for row rotations by each step in steps[] (negative = right)
 * and, if column_swap, for swapping the two rows. */
cg_status cg_bfv_keygen_galois(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, const int *steps,
                               size_t nsteps, bool column_swap, cg_bfv_galois_keys *gk,
                               cg_error *err);
/* Galois keys for the elements elts[0..count) (odd, below 2n; 1 and repeats
 * skipped), e.g. those of cg_bfv_expand_elts. */
cg_status cg_bfv_keygen_galois_elts(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk,
                                    const uint32_t *elts, size_t count, cg_bfv_galois_keys *gk,
                                    cg_error *err);
/* Galois element of a row rotation to the left by step. */
uint32_t cg_bfv_galois_elt(const cg_bfv_ctx *ctx, int step);

/* ---- Encryption ---------------------------------------------------------- */

cg_status cg_bfv_encrypt_pk(const cg_bfv_ctx *ctx, const cg_bfv_pk *pk, const cg_bfv_plain *pt,
                            cg_bfv_ct *ct, cg_error *err);
/* Secret-key encryption: c1 is expanded from a fresh seed (ct->seeded). */
cg_status cg_bfv_encrypt_sk(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, const cg_bfv_plain *pt,
                            cg_bfv_ct *ct, cg_error *err);
/* The same with the scale round(Q / (t 2^scale_bits)) instead of Delta: a
 * packed ciphertext for cg_bfv_expand with scale_bits = its levels. */
cg_status cg_bfv_encrypt_sk_packed(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk,
                                   const cg_bfv_plain *pt, unsigned scale_bits, cg_bfv_ct *ct,
                                   cg_error *err);
cg_status cg_bfv_decrypt(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, const cg_bfv_ct *ct,
                         cg_bfv_plain *pt, cg_error *err);
/* Measured noise: log2 ||[t (c0 + c1 s + c2 s^2)]_Q||_inf, and the budget in
 * bits (log2 Q - 1 - that). Needs the secret key. */
cg_status cg_bfv_noise_measure(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, const cg_bfv_ct *ct,
                               double *noise_log2, double *budget_bits, cg_error *err);
/* Analytic budget from ct->noise_log2 (no key). */
double cg_bfv_noise_budget_estimate(const cg_bfv_ctx *ctx, const cg_bfv_ct *ct);
/* The noise_log2 a fresh encryption gets (public-key or secret-key), for a
 * receiver that recomputes estimates instead of trusting a sender's. */
double cg_bfv_fresh_noise_estimate(const cg_bfv_ctx *ctx, bool public_key);

/* ---- Encoders -------------------------------------------------------------- */

/* Batch: n values mod t (signed values are reduced) into the 2 x n/2 slot
 * matrix, row-major: slots [0, n/2) are row 0. */
cg_status cg_bfv_encode_batch(const cg_bfv_ctx *ctx, const int64_t *vals, size_t count,
                              cg_bfv_plain *pt, cg_error *err);
cg_status cg_bfv_decode_batch(const cg_bfv_ctx *ctx, const cg_bfv_plain *pt, int64_t *vals,
                              cg_error *err); /* centred values in (-t/2, t/2] */
/* Coefficient: value i at x^i. */
cg_status cg_bfv_encode_coeff(const cg_bfv_ctx *ctx, const int64_t *vals, size_t count,
                              cg_bfv_plain *pt, cg_error *err);
cg_status cg_bfv_decode_coeff(const cg_bfv_ctx *ctx, const cg_bfv_plain *pt, int64_t *vals,
                              cg_error *err);

/* ---- Evaluator ------------------------------------------------------------- */

/* Puts a ciphertext in NTT (evaluation) or coefficient form, in place; a
 * no-op when it is already there. CG_ERR_ARG for a ciphertext that is not
 * allocated or whose size or level the context does not have. */
cg_status cg_bfv_to_ntt(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, cg_error *err);
cg_status cg_bfv_from_ntt(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, cg_error *err);
/* out may alias an input; both inputs must have the same form and level. */
cg_status cg_bfv_add(const cg_bfv_ctx *ctx, const cg_bfv_ct *a, const cg_bfv_ct *b,
                     cg_bfv_ct *out, cg_error *err);
cg_status cg_bfv_sub(const cg_bfv_ctx *ctx, const cg_bfv_ct *a, const cg_bfv_ct *b,
                     cg_bfv_ct *out, cg_error *err);
/* acc = acc + b, acc = acc - b (same level and form). */
cg_status cg_bfv_add_inplace(const cg_bfv_ctx *ctx, cg_bfv_ct *acc, const cg_bfv_ct *b,
                             cg_error *err);
cg_status cg_bfv_sub_inplace(const cg_bfv_ctx *ctx, cg_bfv_ct *acc, const cg_bfv_ct *b,
                             cg_error *err);
cg_status cg_bfv_negate(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, cg_error *err);
/* ct += / -= Delta * pt (coefficient or NTT form ciphertexts). */
cg_status cg_bfv_add_plain(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, const cg_bfv_plain *pt,
                           cg_error *err);
cg_status cg_bfv_sub_plain(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, const cg_bfv_plain *pt,
                           cg_error *err);
/* Lift a plaintext (centred) to the level's primes and transform it; out
 * keeps its buffer when it has room for `level` rows (no allocation). */
cg_status cg_bfv_plain_to_ntt(const cg_bfv_ctx *ctx, const cg_bfv_plain *pt, size_t level,
                              cg_bfv_plain_ntt *out, cg_error *err);
/* cg_bfv_encode_coeff of vals[0..count) (the rest zero) then
 * cg_bfv_plain_to_ntt, the same result in one pass without the plaintext
 * in between (for weights encoded per use). */
cg_status cg_bfv_encode_coeff_ntt(const cg_bfv_ctx *ctx, const int64_t *vals, size_t count,
                                  size_t level, cg_bfv_plain_ntt *out, cg_error *err);
/* out = ct * pt; out is in NTT form. */
cg_status cg_bfv_mul_plain(const cg_bfv_ctx *ctx, const cg_bfv_ct *ct,
                           const cg_bfv_plain_ntt *pt, cg_bfv_ct *out, cg_error *err);
/* ct = ct * pt (ct in NTT form). */
cg_status cg_bfv_mul_plain_inplace(const cg_bfv_ctx *ctx, cg_bfv_ct *ct,
                                   const cg_bfv_plain_ntt *pt, cg_error *err);
/* out = sum_i cts[i] * pts[i], all in NTT form, 128-bit lazy accumulation and
 * one reduction; the k products are split over the context's threads. */
cg_status cg_bfv_mac_plain(const cg_bfv_ctx *ctx, const cg_bfv_ct *const *cts,
                           const cg_bfv_plain_ntt *const *pts, size_t k, cg_bfv_ct *out,
                           cg_error *err);
/* ct *= s (a scalar mod t, centred). */
cg_status cg_bfv_mul_scalar(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, int64_t s, cg_error *err);
/* Drop the last q prime with rounding (coefficient form out). */
cg_status cg_bfv_mod_switch_down(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, cg_error *err);
cg_status cg_bfv_mod_switch_to(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, size_t level,
                               cg_error *err);

/* ct x ct (HPS-style RNS tensoring and scaling), size-3 result; relinearize
 * brings it back to size 2. Top level only. */
cg_status cg_bfv_multiply(const cg_bfv_ctx *ctx, const cg_bfv_ct *a, const cg_bfv_ct *b,
                          cg_bfv_ct *out, cg_error *err);
cg_status cg_bfv_relinearize(const cg_bfv_ctx *ctx, const cg_bfv_ksk *rk, cg_bfv_ct *ct,
                             cg_error *err);
/* Rotations (top level): rows left by step (composing available keys when
 * there is no key for step), and the column swap. */
cg_status cg_bfv_rotate_rows(const cg_bfv_ctx *ctx, const cg_bfv_galois_keys *gk,
                             const cg_bfv_ct *ct, int step, cg_bfv_ct *out, cg_error *err);
cg_status cg_bfv_rotate_columns(const cg_bfv_ctx *ctx, const cg_bfv_galois_keys *gk,
                                const cg_bfv_ct *ct, cg_bfv_ct *out, cg_error *err);
/* Hoisted: one decomposition of ct, then one rotation per step (each step
 * must have its own key). outs[i] = rotate_rows(ct, steps[i]). */
cg_status cg_bfv_rotate_hoisted(const cg_bfv_ctx *ctx, const cg_bfv_galois_keys *gk,
                                const cg_bfv_ct *ct, const int *steps, size_t nsteps,
                                cg_bfv_ct *outs, cg_error *err);
/* out = rotate_rows(ct * mask, step): keep the slots where mask is 1. */
cg_status cg_bfv_mask_rotate(const cg_bfv_ctx *ctx, const cg_bfv_galois_keys *gk,
                             const cg_bfv_ct *ct, const cg_bfv_plain_ntt *mask, int step,
                             cg_bfv_ct *out, cg_error *err);

/* ---- Expansion (PIR query expansion, bfv_expand.c) ------------------------------
 * A packed ciphertext (cg_bfv_encrypt_sk_packed at scale_bits e =
 * cg_bfv_expand_levels(count)) holding chunk a < count's value k at
 * coefficient a + S k for a stride S that is a multiple of 2^e (no other
 * coefficient nonzero) becomes count ciphertexts at the ordinary scale,
 * outs[a] holding chunk a's value k at S k. count - 1 automorphisms with
 * key switching (top level); the keys are those of cg_bfv_expand_elts.
 * Each output's noise_log2 is 2^e times the input's plus (2^e - 1) key
 * switches, at most (tracked exactly per split). outs: count zeroed or valid
 * ciphertexts (buffers reused). */
unsigned cg_bfv_expand_levels(size_t count);
/* The e Galois elements n / 2^j + 1 (j < levels) into elts; returns e. */
size_t cg_bfv_expand_elts(const cg_bfv_ctx *ctx, unsigned levels, uint32_t *elts);
cg_status cg_bfv_expand(const cg_bfv_ctx *ctx, const cg_bfv_galois_keys *gk, const cg_bfv_ct *ct,
                        size_t count, cg_bfv_ct *outs, cg_error *err);
/* ct *= X^m (m < 2n), in either form: a signed permutation of the
 * coefficients, noise bound unchanged (moves an expansion leaf's values
 * from S k to S k + m). */
cg_status cg_bfv_mul_monomial(const cg_bfv_ctx *ctx, cg_bfv_ct *ct, size_t m, cg_error *err);

/* ---- HE -> shares ------------------------------------------------------------
 * The evaluator (server) turns an encryption of x into an encryption of
 * x - r for a uniform mask r over all slots it keeps as its share, after
 * flooding the noise with a fresh encryption of zero plus a sum of three
 * independent uniforms, each of half-width 2^stat_bits (>= 40) times the
 * tracked bound of the noise including the encryption of zero's (a smooth
 * flood: the statistical distance over m coefficients is below
 * sqrt(m) 2^-stat_bits, docs/PROTOCOL.md), then switches
 * down to the fewest primes that keep CG_BFV_SHARE_MARGIN_BITS of estimated
 * budget (one prime for t ~ 2^29, two for t = 2^37) before the ciphertext is
 * sent to the key owner. */
#define CG_BFV_SHARE_MARGIN_BITS 6
cg_status cg_bfv_mask_and_flood(const cg_bfv_ctx *ctx, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                                unsigned stat_bits, cg_bfv_plain *mask_out, cg_error *err);
/* The same for a ciphertext of which only c1 and the c0 coefficients with
 * used[i] != 0 are ever revealed (cg_bfv_ct_serialize_extract at those
 * positions): the mask and Enc(0) cover everything, the flood only those
 * coefficients, which is all the key owner can decrypt (most of the cost of
 * a full flood is drawing it). used: n flags. */
cg_status cg_bfv_mask_and_flood_at(const cg_bfv_ctx *ctx, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                                   unsigned stat_bits, const uint8_t *used,
                                   cg_bfv_plain *mask_out, cg_error *err);

/* ---- Serialization -----------------------------------------------------------
 * Header: magic "CGBF", version u16, object type u16, parameter fingerprint
 * (32 bytes), then the body; coefficients bit-packed at modulus width. A
 * seeded ciphertext stores its seed instead of c1. Deserializers validate
 * every field and reject truncated, oversized or mismatched input. */
typedef enum cg_bfv_obj {
    CG_BFV_OBJ_CT = 1,
    CG_BFV_OBJ_PK = 2,
    CG_BFV_OBJ_KSK = 3,
    CG_BFV_OBJ_GALOIS = 4,
    CG_BFV_OBJ_PLAIN = 5,
    CG_BFV_OBJ_SK = 6,
    CG_BFV_OBJ_CT_EXTRACT = 7
} cg_bfv_obj;

cg_status cg_bfv_ct_serialize(const cg_bfv_ctx *ctx, const cg_bfv_ct *ct, cg_buf *out,
                              cg_error *err);
/* Reads into ct's buffer when it is large enough; a rejected body leaves
 * ct empty (freed). */
cg_status cg_bfv_ct_deserialize(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                cg_bfv_ct *ct, cg_error *err);
cg_status cg_bfv_pk_serialize(const cg_bfv_ctx *ctx, const cg_bfv_pk *pk, cg_buf *out,
                              cg_error *err);
cg_status cg_bfv_pk_deserialize(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                cg_bfv_pk *pk, cg_error *err);
cg_status cg_bfv_ksk_serialize(const cg_bfv_ctx *ctx, const cg_bfv_ksk *k, cg_buf *out,
                               cg_error *err);
cg_status cg_bfv_ksk_deserialize(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                 cg_bfv_ksk *k, cg_error *err);
cg_status cg_bfv_galois_serialize(const cg_bfv_ctx *ctx, const cg_bfv_galois_keys *gk,
                                  cg_buf *out, cg_error *err);
cg_status cg_bfv_plain_serialize(const cg_bfv_ctx *ctx, const cg_bfv_plain *pt, cg_buf *out,
                                 cg_error *err);
cg_status cg_bfv_plain_deserialize(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                   cg_bfv_plain *pt, cg_error *err);
/* The secret key (2 bits per coefficient) for a client that keeps its key
 * across runs; the caller is responsible for storing it safely. The buffer
 * holds a secret: free it with cg_buf_free, which wipes. */
cg_status cg_bfv_sk_serialize(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, cg_buf *out,
                              cg_error *err);
cg_status cg_bfv_sk_deserialize(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                cg_bfv_sk *sk, cg_error *err);
cg_status cg_bfv_galois_deserialize(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                    cg_bfv_galois_keys *gk, cg_error *err);

/* ---- Extracted ciphertexts (the LWE view, as in Cheetah) ----------------------
 * A returned ciphertext of which the key owner reads only some coefficients
 * needs all of c1 but c0 only at those positions: c0 + c1 s at position j
 * involves c0 at j alone. CG_BFV_OBJ_CT_EXTRACT carries the level, the
 * dropped low bits d, the positions (strictly increasing, log2 n bits each),
 * c1, and c0 at the positions. With d = 0 the coefficients go as RNS rows;
 * with d > 0 (levels 1 and 2 only) each coefficient x in [0, Q) goes as the
 * integer round(x / 2^d) (x within 2^(d-1) of Q wraps to 0) at
 * bits(Q) - d <= 64 bits, and the reader uses 2^d times it: an extra error of
 * at most 2^(d-1) (1 + ||<e, s>|| / 2^(d-1)) per coefficient. The other c0
 * coefficients are read as 0, so they decrypt to garbage. */
/* The most low bits the sender can drop from ct (size 2, coefficient form)
 * and keep CG_BFV_EXTRACT_MARGIN_BITS of estimated budget, with the rounding
 * term <e, s> bounded by Hoeffding (|e_i| <= 2^(d-1), c1 uniform) except
 * with probability 2^-fail_bits per coefficient (a tail bound already, so
 * one bit of slack suffices); 0 when none can go or ct has more than two
 * primes. From ct->noise_log2 only (public). */
#define CG_BFV_EXTRACT_MARGIN_BITS 1
unsigned cg_bfv_extract_drop_bits(const cg_bfv_ctx *ctx, const cg_bfv_ct *ct, unsigned fail_bits);
/* The noise_log2 bound of ct once d bits are dropped (the same Hoeffding
 * term as above). */
double cg_bfv_extract_noise_log2(const cg_bfv_ctx *ctx, const cg_bfv_ct *ct, unsigned drop_bits,
                                 unsigned fail_bits);
cg_status cg_bfv_ct_serialize_extract(const cg_bfv_ctx *ctx, const cg_bfv_ct *ct,
                                      const uint32_t *pos, size_t npos, unsigned drop_bits,
                                      cg_buf *out, cg_error *err);
/* A size-2 coefficient-form ciphertext at the object's level, c0 zero off
 * the positions; noise_log2 0 (unknown). A rejected body leaves ct empty. */
cg_status cg_bfv_ct_deserialize_extract(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                        cg_bfv_ct *ct, cg_error *err);
/* Either a CG_BFV_OBJ_CT or a CG_BFV_OBJ_CT_EXTRACT, by the header's type. */
cg_status cg_bfv_ct_deserialize_any(const cg_bfv_ctx *ctx, const uint8_t *p, size_t len,
                                    cg_bfv_ct *ct, cg_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
