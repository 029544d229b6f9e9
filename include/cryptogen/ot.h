/* cryptogen ot layer: oblivious transfer over a cg_channel.
 *
 * Base OT: Chou-Orlandi over ristretto255 (libsodium). Extension: IKNP
 * correlated OT with AES-NI and a tweakable correlation-robust hash. Derived:
 * correlated OT over Z_{2^bits}, chosen-message OT, random OT and 1-out-of-N OT
 * (N <= 256; Kolesnikov-Kumaresan for N >= 8) for messages of 1..64 bits, in
 * batches.
 *
 * A cg_ot is ONE direction: either the sender or the receiver end of an OT
 * extension. A party that needs OTs in both directions holds a cg_ot_pair
 * (two instances over the same channel, one per direction), so that both
 * parties can act as sender. Each COT is used once; the global correlation
 * Delta is never revealed. The COTs come from IKNP or from a Ferret silent
 * OT generator (cg_ot_kind); callers only see the batch calls below.
 *
 * Calling conventions: the two ends make the same call (kind, n, bits, N) in
 * the same order; the receiver's first message names its call and a
 * mismatch gives CG_ERR_FORMAT on the sender. Choice bytes must be 0/1
 * (0..N-1 for OTN), else CG_ERR_RANGE before anything is sent. Message
 * values are taken mod 2^bits. A call refused before anything is sent
 * (CG_ERR_ARG, CG_ERR_RANGE, or CG_ERR_STATE for a call the instance cannot
 * take now) leaves the instance as it was; after any other error it refuses
 * further calls (CG_ERR_STATE): the two ends are out of step. n == 0 sends
 * nothing. Needs AES-NI (CG_ERR_UNSUPPORTED otherwise); uses VAES on AVX-512
 * machines unless CG_SIMD=avx2|portable.
 *
 * Traffic per OT (receiver -> sender, then sender -> receiver), IKNP:
 *   COT: 128 bits, then `bits`;  chosen OT: 128, then 2*bits;  ROT: 128 only;
 *   1-of-N, N <= 4 (any N with CG_OTN_SPLIT): 128*ceil(log2 N), then N*bits;
 *   1-of-N, N >= 8 (KK13, 256-bit rows): 256, then N*bits.
 * Rows are padded to multiples of 128 OTs per chunk; each call adds a
 * 16-byte header. One round trip per call, whatever n (ROT: one message),
 * except that the first 1-of-N call with N >= 8 on an instance also runs
 * the KK13 extension's 256 base OTs (unless cg_ot_setup_otn ran them). An
 * instance made with CG_OTN_SPLIT keeps every N on the log2 N-row
 * construction, for comparisons. */
#ifndef CRYPTOGEN_OT_H
#define CRYPTOGEN_OT_H

#include "cryptogen/net.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

typedef enum cg_ot_role { CG_OT_SENDER = 0, CG_OT_RECEIVER = 1 } cg_ot_role;

typedef struct cg_ot cg_ot;

/* The 1-out-of-N construction an instance runs for N >= 8 (below 8 both
 * are the log2 N-row one): KK13, the default, or the log2 N IKNP rows
 * (CG_OTN_SPLIT: more traffic and sender hashing, kept for comparisons).
 * The two differ on the wire, so both ends must choose the same kind; it is
 * not negotiated here (a 1-of-N call with N >= 8 between ends of different
 * kinds fails with CG_ERR_FORMAT on the sender, but a cg_ot_setup_otn
 * before it leaves the ends out of step). */
typedef enum cg_otn_kind { CG_OTN_KK13 = 0, CG_OTN_SPLIT = 1 } cg_otn_kind;
/* Whether k is one of the kinds above (a value from a caller or a peer). */
static inline bool cg_otn_kind_valid(cg_otn_kind k) { return k == CG_OTN_KK13 || k == CG_OTN_SPLIT; }

/* Where an instance's correlated OTs come from. CG_OT_IKNP: IKNP
 * extension, 128 bits from the receiver per COT. CG_OT_FERRET: Ferret
 * silent OT (primal LPN with regular noise, GGM-tree single-point COTs),
 * bootstrapped from IKNP once and then from its own output; per COT the
 * receiver sends 1 bit (its choice, derandomised; none in the random-choice
 * calls) and the sender about 0.45
 * bits of refills amortised (5 bits while on the small parameter set of the
 * first 2.6 M COTs), see docs/OT.md. A Ferret instance always runs 1-of-N
 * OT on log2 N COTs (its otn is taken as CG_OTN_SPLIT). Both ends must use
 * the same kind; it is not negotiated here. */
typedef enum cg_ot_kind { CG_OT_IKNP = 0, CG_OT_FERRET = 1 } cg_ot_kind;
static inline bool cg_ot_kind_valid(cg_ot_kind k) { return k == CG_OT_IKNP || k == CG_OT_FERRET; }

/* What an instance has done (one direction, counted on this end). */
typedef struct cg_ot_stats {
    uint64_t cots_used;    /* COTs (extension rows) drawn by calls */
    uint64_t cots_made;    /* Ferret: COTs produced by refills, their bases included */
    uint64_t refills;      /* Ferret refills */
    uint64_t base_iknp;    /* Ferret: IKNP COTs of the first base */
    uint64_t refill_bytes; /* Ferret: refill messages, sender to receiver */
    uint64_t stock;        /* Ferret: COTs in stock now */
} cg_ot_stats;

/* Runs the base OTs and key set-up with the peer (which must call
 * cg_ot_new with the opposite role and the same otn on the other end of
 * ch). */
cg_status cg_ot_new(cg_ot **ot, cg_channel *ch, cg_ot_role role, cg_otn_kind otn, cg_error *err);
void cg_ot_free(cg_ot *ot); /* wipes keys */
/* cg_ot_new with the COT source `kind` (cg_ot_new is CG_OT_IKNP). */
cg_status cg_ot_new_kind(cg_ot **ot, cg_channel *ch, cg_ot_role role, cg_otn_kind otn,
                         cg_ot_kind kind, cg_error *err);
cg_ot_kind cg_ot_get_kind(const cg_ot *ot);
void cg_ot_get_stats(const cg_ot *ot, cg_ot_stats *s);
/* Ferret: makes sure the next n 1-of-N OTs (N = 2 for COT, OT and ROT) need
 * no refill, so that a receiver's _begin never waits for the peer; both
 * ends call it at the same point. A Ferret receiver's _begin that runs out
 * of stock refills, which reads from the sender: with calls interleaved as
 * in cg_cot_recv_begin's note, reserve first. A no-op on IKNP. */
cg_status cg_ot_reserve(cg_ot *ot, size_t n, unsigned N, cg_error *err);
/* Ferret: moves the instance to its large parameter set now (a long
 * session will need it) and refills until the stock holds half a large
 * refill's output, so that the big refills fall here, at a point the caller
 * picks (session set-up, between tokens), rather than inside a later call.
 * The first such call costs a small and the large set's first refill (a
 * 170 MB buffer on each end; 0.1-0.6 s measured); later ones refill only
 * when the stock is below half. Both ends call it at the same point. A
 * no-op on IKNP. */
cg_status cg_ot_fill_ahead(cg_ot *ot, cg_error *err);

cg_ot_role cg_ot_get_role(const cg_ot *ot);
/* The AES back-end new instances use: "vaes", "aesni" or "none" (no AES-NI:
 * cg_ot_new fails with CG_ERR_UNSUPPORTED). */
const char *cg_ot_backend(void);

/* Correlated OT over Z_{2^bits} (1 <= bits <= 64), n instances.
 * Sender gives per-instance correlations delta[i] and gets x0[i] (random);
 * receiver with choice bit c[i] (0/1 per byte) gets x0[i] + c[i]*delta[i]
 * mod 2^bits. */
cg_status cg_cot_send(cg_ot *ot, size_t n, unsigned bits, const uint64_t *delta, uint64_t *x0,
                      cg_error *err);
cg_status cg_cot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                      cg_error *err);
/* The receiver's COT in two halves: _begin sends the whole extension, _end
 * (same arguments) receives the corrections. In between the caller may run
 * calls on other instances -- typically the opposite direction's sender --
 * so that both parties compute at once instead of taking turns. Any other
 * call on this instance before _end fails with CG_ERR_STATE. */
cg_status cg_cot_recv_begin(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice,
                            uint64_t *out, cg_error *err);
cg_status cg_cot_recv_end(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                          cg_error *err);

/* Random-choice COT: as cg_cot_recv, but the receiver's choices are random
 * and come out in choice (0/1 bytes), for protocols whose choice bits only
 * need to be random (they become the party's random share). Pairs with
 * cg_cot_send (the sender's side is the same; the receiver's header tells
 * it). On Ferret these are the COT source's own random choices, so the
 * receiver sends no choice bits (its header only, 24 bytes: about 0.45 bits
 * per COT in all, refills included, against 1.45 chosen); on IKNP they
 * come from the CSPRNG and the traffic is cg_cot_recv's.
 * _mix_begin: the first n_rc choices random (written to choice), the rest
 * chosen (read from choice, 0/1), in one call; cg_cot_recv_end (same
 * arguments, choice now filled) finishes it. */
cg_status cg_cot_recv_rc(cg_ot *ot, size_t n, unsigned bits, uint8_t *choice, uint64_t *out,
                         cg_error *err);
cg_status cg_cot_recv_mix_begin(cg_ot *ot, size_t n, unsigned bits, size_t n_rc, uint8_t *choice,
                                uint64_t *out, cg_error *err);

/* Correlated OT with a ring width per instance: instance i over
 * Z_{2^widths[i]} (1..64; both ends pass the same widths), its correction
 * in widths[i] bits. A Gilboa product's bit j needs its term only mod
 * 2^(l-j) (the term is shifted up by j after): l - j bits instead of l.
 * Receiver in two halves as cg_cot_recv_begin/_end. */
cg_status cg_cot_send_w(cg_ot *ot, size_t n, const uint8_t *widths, const uint64_t *delta,
                        uint64_t *x0, cg_error *err);
cg_status cg_cot_recv_w_begin(cg_ot *ot, size_t n, const uint8_t *widths, const uint8_t *choice,
                              uint64_t *out, cg_error *err);
cg_status cg_cot_recv_w_end(cg_ot *ot, size_t n, const uint8_t *widths, const uint8_t *choice,
                            uint64_t *out, cg_error *err);
/* cg_cot_recv_w_begin with the first n_rc choices random (as
 * cg_cot_recv_mix_begin); cg_cot_recv_w_end finishes it; pairs with
 * cg_cot_send_w. */
cg_status cg_cot_recv_w_mix_begin(cg_ot *ot, size_t n, const uint8_t *widths, size_t n_rc,
                                  uint8_t *choice, uint64_t *out, cg_error *err);

/* Chosen-message OT: receiver gets m0[i] if c[i] == 0 else m1[i]. */
cg_status cg_ot_send(cg_ot *ot, size_t n, unsigned bits, const uint64_t *m0, const uint64_t *m1,
                     cg_error *err);
cg_status cg_ot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                     cg_error *err);

/* Random OT: sender gets r0[i], r1[i]; receiver gets r_{c[i]}. Random choice
 * variant: receiver's choices are random too (returned in choice). */
cg_status cg_rot_send(cg_ot *ot, size_t n, unsigned bits, uint64_t *r0, uint64_t *r1,
                      cg_error *err);
cg_status cg_rot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                      cg_error *err);
/* The random-choice variant: fills choice[i] with uniform bits (0/1) and
 * out[i] with r_{choice[i]}; pairs with cg_rot_send on the other end. On
 * Ferret the choices are the COT source's own: no choice message. */
cg_status cg_rot_recv_random(cg_ot *ot, size_t n, unsigned bits, uint8_t *choice, uint64_t *out,
                             cg_error *err);

/* Runs the KK13 extension's 256 base OTs now (both ends at the same
 * point), so that no later 1-of-N call has to; a no-op when done before or
 * on a CG_OTN_SPLIT instance. */
cg_status cg_ot_setup_otn(cg_ot *ot, cg_error *err);

/* 1-out-of-N OT (2 <= N <= 256): msgs is n rows of N messages (row-major);
 * receiver with choice[i] in [0, N) gets msgs[i*N + choice[i]]. */
cg_status cg_otn_send(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint64_t *msgs,
                      cg_error *err);
/* cg_otn_send with the messages made on demand, so that a large batch
 * needs no table of n * N messages: fill(ctx, first, count, out) writes the
 * N messages of each instance first .. first + count - 1 to out (count * N
 * entries, row-major); count is at most a few thousand and the calls run in
 * order. */
typedef void (*cg_otn_fill_fn)(void *ctx, size_t first, size_t count, uint64_t *out);
cg_status cg_otn_send_fn(cg_ot *ot, size_t n, unsigned N, unsigned bits, cg_otn_fill_fn fill,
                         void *ctx, cg_error *err);
cg_status cg_otn_recv(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                      uint64_t *out, cg_error *err);
/* cg_otn_send_fn / cg_otn_recv_begin / _end with a message width per
 * instance: instance i's N messages are widths[i] bits (1..64; both ends
 * pass the same widths), e.g. a comparison's lowest digit, whose equality
 * bits nobody reads. */
cg_status cg_otn_send_fn_w(cg_ot *ot, size_t n, unsigned N, const uint8_t *widths,
                           cg_otn_fill_fn fill, void *ctx, cg_error *err);
cg_status cg_otn_recv_w_begin(cg_ot *ot, size_t n, unsigned N, const uint8_t *widths,
                              const uint8_t *choice, uint64_t *out, cg_error *err);
cg_status cg_otn_recv_w_end(cg_ot *ot, size_t n, unsigned N, const uint8_t *widths,
                            const uint8_t *choice, uint64_t *out, cg_error *err);
/* cg_otn_recv in two halves, as cg_cot_recv_begin/_end: _begin sends the
 * extension, _end (same arguments) receives the ciphertexts. Call
 * cg_ot_setup_otn first when other traffic is interleaved: otherwise _begin
 * may run the KK13 base OTs, which read from the channel. */
cg_status cg_otn_recv_begin(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                            uint64_t *out, cg_error *err);
cg_status cg_otn_recv_end(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                          uint64_t *out, cg_error *err);

/* Both directions for one party: `send` is this party's sender instance and
 * `recv` its receiver instance, both of kind otn. Party 0 (server) sets up
 * its sender first. */
typedef struct cg_ot_pair {
    cg_ot *send;
    cg_ot *recv;
} cg_ot_pair;

cg_status cg_ot_pair_new(cg_ot_pair *p, cg_channel *ch, int party, cg_otn_kind otn,
                         cg_error *err);
/* cg_ot_pair_new with both instances of COT source kind. */
cg_status cg_ot_pair_new_kind(cg_ot_pair *p, cg_channel *ch, int party, cg_otn_kind otn,
                              cg_ot_kind kind, cg_error *err);
void cg_ot_pair_free(cg_ot_pair *p);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
