/* Private building blocks of the ot layer: AES-128 (AES-NI), the tweakable
 * correlation-robust hash, bit-matrix transposition, Chou-Orlandi base OT,
 * and the IKNP extension core (iknp.c) that the derived OTs (ot_1of2.c,
 * ot_1ofn.c) run on. */
#ifndef CG_OT_INTERNAL_H
#define CG_OT_INTERNAL_H

#include <string.h>

#include "cryptogen/ot.h"

/* An expanded AES-128 encryption key (11 round keys). */
typedef struct ot_aes_key {
    _Alignas(16) uint8_t rk[11 * 16];
} ot_aes_key;

/* ---- AES-NI (aes_aesni.c); callers check CG_CPU_AESNI first. ---- */
void ot_aes_expand_aesni(ot_aes_key *k, const uint8_t key[16]);
/* out[b] = AES_k(in[b]) for nblocks 16-byte blocks (in == out allowed). */
void ot_aes_ecb_aesni(const ot_aes_key *k, const uint8_t *in, uint8_t *out, size_t nblocks);
/* Counter-mode keystream: out[b] = AES_k(block(ctr + b)), the counter in the
 * low 64 bits (little-endian) of the block and zero above. */
void ot_aes_ctr_aesni(const ot_aes_key *k, uint64_t ctr, uint8_t *out, size_t nblocks);
/* out[i] = tccr(tweak_i, x_i ^ mask), where tweak_i = (tweak_lo + i, tweak_hi)
 * and tccr(t, x) = pi(pi(x) ^ t) ^ pi(x) with pi = AES under the fixed key:
 * the tweakable circular correlation-robust hash of Guo-Katz-Wang-Yu (2020).
 * With pi ideal, p queries to pi distinguish it with advantage about
 * mu p / 2^128 for mu hashed values per tweak: tweaks are unique in a
 * session but restart in the next under the same key, so the bits drop
 * with log2 of the sessions (docs/PROTOCOL.md), not a flat 128. mask may
 * be NULL. */
void ot_tccr_aesni(const ot_aes_key *pi, const uint8_t *x, const uint8_t *mask, uint8_t *out,
                   size_t n, uint64_t tweak_lo, uint64_t tweak_hi);
/* Same hash with a fixed x and n consecutive tweak_hi values (tweak_lo fixed):
 * out[i] = tccr((tweak_lo, tweak_hi + i), x). */
void ot_tccr_multi_aesni(const ot_aes_key *pi, const uint8_t x[16], uint8_t *out, size_t n,
                         uint64_t tweak_lo, uint64_t tweak_hi);

/* Same hash with one tweak per block: out[i] = tccr((tweak_lo[i], tweak_hi[i]), x_i). */
void ot_tccr_tweaks_aesni(const ot_aes_key *pi, const uint8_t *x, const uint64_t *tweak_lo,
                          const uint64_t *tweak_hi, uint8_t *out, size_t n);

/* KK13 row hash (256-bit inputs, two chained tccr calls, tweaks
 * (tweak_lo + i, tweak_hi) then (tweak_lo + i, tweak_hi + 1)): out[i * noffs +
 * x] = low 64 bits of H(rows[i] ^ offs[x]); rows and offs hold 32-byte entries. */
void ot_kk_hash_aesni(const ot_aes_key *pi, const uint8_t *rows, const uint8_t *offs,
                      size_t noffs, size_t n, uint64_t tweak_lo, uint64_t tweak_hi, uint64_t *out);

/* One GGM tree level in place (ferret_ggm.c): parents nodes[0..m) become
 * children nodes[0..2m), child 2j + c = AES_kc(p_j) ^ p_j; sums gets the
 * xor of the left children, then of the right ones. */
void ot_ggm_level_aesni(const ot_aes_key *k0, const ot_aes_key *k1, uint8_t *nodes, size_t m,
                        uint8_t sums[32]);

/* ---- VAES on 512-bit vectors (aes_avx512.c): same results as the AES-NI
 * functions above. Available when the CPU has AVX-512F and VAES and CG_SIMD
 * does not force a narrower path (ot_vaes_available, in iknp.c: a file built
 * without AVX-512 flags, as the check runs on CPUs without it). */
bool ot_vaes_available(void);
void ot_aes_ctr_vaes(const ot_aes_key *k, uint64_t ctr, uint8_t *out, size_t nblocks);
void ot_tccr_vaes(const ot_aes_key *pi, const uint8_t *x, const uint8_t *mask, uint8_t *out,
                  size_t n, uint64_t tweak_lo, uint64_t tweak_hi);
void ot_ggm_level_vaes(const ot_aes_key *k0, const ot_aes_key *k1, uint8_t *nodes, size_t m,
                       uint8_t sums[32]);
void ot_tccr_multi_vaes(const ot_aes_key *pi, const uint8_t x[16], uint8_t *out, size_t n,
                        uint64_t tweak_lo, uint64_t tweak_hi);
void ot_tccr_tweaks_vaes(const ot_aes_key *pi, const uint8_t *x, const uint64_t *tweak_lo,
                         const uint64_t *tweak_hi, uint8_t *out, size_t n);

/* ---- Transposition (transpose.c) ----
 * in: `rows` rows of `cols` bits, row r at in + r * cols/8, bit c of a row at
 * byte c/8, bit c%8. out: `cols` rows of `rows` bits, same layout.
 * rows and cols must be multiples of 16 (the SSE2 path) or 8 (portable). */
void ot_transpose_portable(const uint8_t *in, uint8_t *out, size_t rows, size_t cols);
void ot_transpose_sse2(const uint8_t *in, uint8_t *out, size_t rows, size_t cols);
/* AVX2, 32 rows at a time (callers check CG_CPU_AVX2). */
void ot_transpose_avx2(const uint8_t *in, uint8_t *out, size_t rows, size_t cols);
/* Picks the fastest path available (rows, cols multiples of 16). */
void ot_transpose(const uint8_t *in, uint8_t *out, size_t rows, size_t cols);

/* ---- Chou-Orlandi base OT (baseot.c), 128 at once ----
 * Sender of the base OTs ends with keys[j][0..1]; receiver with choice bits
 * (bit j of choice, byte j/8 bit j%8) gets keys[j] = sender's keys[j][bit]. */
#define OT_BASE_OTS 128
cg_status ot_baseot_send(cg_channel *ch, uint8_t keys[OT_BASE_OTS][2][16], cg_error *err);
cg_status ot_baseot_recv(cg_channel *ch, const uint8_t choice[OT_BASE_OTS / 8],
                         uint8_t keys[OT_BASE_OTS][16], cg_error *err);

/* ---- The IKNP extension core (iknp.c) ---- */

/* OTs per extension chunk (a multiple of 128): bounds memory and lets the
 * sender start on a chunk while the receiver prepares the next. */
#define CHUNK ((size_t)1 << 15)
#define CHUNK_BYTES (CHUNK / 8)

/* What a call's header names (the receiver's first message). */
enum { KIND_COT = 1, KIND_OT = 2, KIND_ROT = 3, KIND_OTN = 4, KIND_OTN_KK = 5, KIND_COTW = 6 };
/* Or'ed into a 1-of-2 call's kind: the receiver's first rc_n choices are
 * random (the COT source's own on Ferret, so no choice bits for them; see
 * ot_extend_recv); rc_n follows the header in 8 bytes. */
#define KIND_RC 0x100u

/* KK13 1-out-of-N OT: rows of KK_COLS bits, encoded with the Walsh-Hadamard
 * code on 8 bits (any two codewords differ in exactly 128 positions). */
#define KK_COLS 256

struct cg_ot {
    cg_channel *ch;
    cg_ot_role role;
    cg_status failed;
    ot_aes_key pi;      /* fixed public key of the hash */
    ot_aes_key *col;    /* sender: col[j]; receiver: col[2j + b] */
    uint8_t delta[16];  /* sender only: s, the global correlation */
    uint64_t prg_block; /* next block of every column stream */
    uint64_t ot_index;  /* next hash tweak */
    uint8_t *mat;       /* 128 columns x CHUNK bits */
    uint8_t *scratch;   /* receiver: one column of G(k_j^1); sender: u */
    uint8_t *rows;      /* CHUNK rows of 128 bits */
    uint8_t *h0, *h1;   /* hashed rows */
    uint64_t *vals;     /* CHUNK values for packing */
    /* AES back-end chosen at set-up (VAES or AES-NI). */
    void (*ctr)(const ot_aes_key *, uint64_t, uint8_t *, size_t);
    void (*tccr)(const ot_aes_key *, const uint8_t *, const uint8_t *, uint8_t *, size_t, uint64_t,
                 uint64_t);
    void (*tccr_multi)(const ot_aes_key *, const uint8_t *, uint8_t *, size_t, uint64_t, uint64_t);
    void (*tccr_tweaks)(const ot_aes_key *, const uint8_t *, const uint64_t *, const uint64_t *,
                        uint8_t *, size_t);
    cg_buf out;         /* packed messages: the sender's outgoing, the receiver's incoming */
    /* KK13 1-of-N extension, set up by cg_ot_setup_otn or the first such
     * call (its own 256 base OTs, in the same direction as the IKNP ones). */
    cg_otn_kind otn;    /* CG_OTN_SPLIT: always the log2 N-row construction */
    bool kk_ready;
    ot_aes_key *kk_col; /* sender: kk_col[j]; receiver: kk_col[2j + b] */
    uint8_t kk_s[KK_COLS / 8]; /* sender only: the secret column selection */
    uint64_t kk_block;  /* next PRG block of every KK column */
    uint64_t kk_index;  /* next KK row index (hash tweak) */
    bool pending;       /* receiver: a cg_cot_recv_begin / cg_otn_recv_begin awaits its _end */
    unsigned pending_kind; /* KIND_COT, KIND_COTW or KIND_OTN */
    size_t pending_n;
    unsigned pending_bits;
    size_t rc_n;        /* sender: the current call's first rc_n choices are random (KIND_RC) */
    cg_ot_kind kind;
    struct ot_ferret *fe; /* CG_OT_FERRET: the COT generator and its stock */
    cg_ot_stats stats;
};

/* A receiver's _begin call succeeded: its _end must follow with the same
 * kind, count and width (checked there). */
static inline void ot_set_pending(cg_ot *ot, unsigned kind, size_t n, unsigned bits)
{
    ot->pending = true;
    ot->pending_kind = kind;
    ot->pending_n = n;
    ot->pending_bits = bits;
}

static inline uint64_t lo64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mask_of(unsigned bits) { return bits >= 64 ? ~0ull : ((1ull << bits) - 1); }

/* Bit `bit` of each of the eight bytes of x (byte t in bits 8t..8t+7) as
 * one byte, byte t's bit landing in bit t: the multiply moves bit 8t to
 * 56 + t without carries (the partial products' positions are distinct). */
static inline uint8_t gather_bits(uint64_t x, unsigned bit)
{
    return (uint8_t)((((x >> bit) & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56);
}

static inline size_t round128(size_t n) { return (n + 127) & ~(size_t)127; }

/* Called once per chunk of an extension with the chunk's rows in ot->rows
 * (and hashed in ot->h0 / h1 when asked): OTs begin .. begin + count - 1 of
 * the call, whose hash tweaks start at first_index. */
typedef cg_status (*ot_chunk_fn)(cg_ot *ot, void *ctx, size_t begin, size_t count,
                                 uint64_t first_index, cg_error *err);

/* Receiver's choice bit for ROT number p: choice[p], or for 1-out-of-N with
 * k bits per instance, bit p % k of choice[p / k]. */
typedef struct ot_choice_src {
    const uint8_t *choice;
    unsigned k;
    /* Random choices (k == 0 only): rc is the choice array itself, and the
     * extension writes the first rc_n choices into it (0/1 bytes); the
     * rest are chosen, read from it as usual. */
    uint8_t *rc;
    size_t rc_n;
} ot_choice_src;

/* The extension sender's columns for one chunk: q_j = G(k_j) from PRG block
 * `block` on, xored with the receiver's column u_j where bit j of sel is set
 * (rowbytes bytes per column, a multiple of 16). */
void ot_sender_columns(void (*ctr)(const ot_aes_key *, uint64_t, uint8_t *, size_t),
                       const ot_aes_key *keys, size_t ncols, const uint8_t *sel, uint64_t block,
                       const uint8_t *u, uint8_t *q, size_t rowbytes);
/* IKNP set-up of a zeroed instance with ch and role set: buffers, hash
 * key, base OTs (the caller frees on failure); and the release of what it
 * allocated. */
cg_status ot_iknp_init(cg_ot *ot, cg_error *err);
void ot_iknp_release(cg_ot *ot);
/* The extension core on the instance's COT source: IKNP, or Ferret
 * (ferret.c), whose rows satisfy the same relation. */
cg_status ot_iknp_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx,
                              cg_error *err);
cg_status ot_iknp_extend_recv(cg_ot *ot, size_t m, bool hash, const ot_choice_src *cs,
                              ot_chunk_fn fn, void *ctx, cg_error *err);
/* Sender: m random OTs; per chunk, ot->h0/h1 hold the hashed pairs, or with
 * hash == false only ot->rows holds the raw rows q_i (the caller hashes). */
cg_status ot_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx, cg_error *err);
/* Receiver: m random OTs with the given choices; per chunk ot->h0 holds the
 * hashed rows, or with hash == false only ot->rows the raw rows t_i. */
cg_status ot_extend_recv(cg_ot *ot, size_t m, bool hash, const ot_choice_src *cs, ot_chunk_fn fn,
                         void *ctx, cg_error *err);

/* The instance can take a new call: not failed, no split call pending. */
cg_status ot_check_usable(const cg_ot *ot, cg_error *err);
/* ot_check_usable, the role, bits in 1..64, a sane n and non-NULL arrays. */
cg_status ot_check_call(cg_ot *ot, cg_ot_role role, size_t n, unsigned bits, const void *p1,
                        const void *p2, cg_error *err);
/* Every choice below limit (CG_ERR_RANGE). */
cg_status ot_check_choices(const uint8_t *c, size_t n, unsigned limit, cg_error *err);
/* The receiver's 16-byte call header, and the sender's check of it. */
cg_status ot_send_header(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err);
cg_status ot_expect_header(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err);
/* ot_expect_header that also takes kind | KIND_RC, and then sets
 * ot->rc_n for the call's extension (ot_finish clears it); and the
 * receiver's header with rc_n random choices (KIND_RC where rc_n > 0). */
cg_status ot_send_header_rc(cg_ot *ot, unsigned kind, unsigned param, size_t n, size_t rc_n,
                            cg_error *err);
cg_status ot_expect_header_rc(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err);
/* Any failure mid-protocol leaves the two ends out of step: poisons the
 * instance (argument and range errors excepted); returns st. */
cg_status ot_finish(cg_ot *ot, cg_status st);
/* Appends count packed values to ot->out (false: out of memory). */
bool ot_out_put_packed(cg_ot *ot, const uint64_t *vals, size_t count, unsigned bits);
/* Width-per-instance streams (ot_bits.c): value k of count * rep in
 * w[k / rep] bits, back to back, padded to a byte at the end
 * (ot_var_bytes bytes); the same appended to ot->out; count values back
 * (rep 1); and the w bits at bit offset `bit`. */
size_t ot_var_bytes(const uint8_t *w, size_t count, unsigned rep);
void ot_pack_var(uint8_t *p, const uint64_t *vals, const uint8_t *w, size_t count, unsigned rep);
bool ot_out_put_var(cg_ot *ot, const uint64_t *vals, const uint8_t *w, size_t count);
void ot_unpack_var(uint64_t *vals, const uint8_t *p, const uint8_t *w, size_t count);
uint64_t ot_get_bits(const uint8_t *p, size_t bit, unsigned w);

#endif
