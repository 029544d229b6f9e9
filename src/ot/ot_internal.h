/* Private building blocks of the ot layer: AES-128 (AES-NI), the tweakable
 * correlation-robust hash, bit-matrix transposition, Chou-Orlandi base OT. */
#ifndef CG_OT_INTERNAL_H
#define CG_OT_INTERNAL_H

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
 * and tccr(t, x) = pi(sigma(x) ^ t) ^ sigma(x) with pi = AES under the fixed
 * key and sigma(xL || xR) = (xL ^ xR || xL) an orthomorphism. mask may be NULL. */
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

/* ---- VAES on 512-bit vectors (aes_avx512.c): same results as the AES-NI
 * functions above. Available when the CPU has AVX-512F and VAES and CG_SIMD
 * does not force a narrower path. */
bool ot_vaes_available(void);
void ot_aes_ctr_vaes(const ot_aes_key *k, uint64_t ctr, uint8_t *out, size_t nblocks);
void ot_tccr_vaes(const ot_aes_key *pi, const uint8_t *x, const uint8_t *mask, uint8_t *out,
                  size_t n, uint64_t tweak_lo, uint64_t tweak_hi);

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

/* ---- Bit packing (pack.c): cg_packed_size(count, width) bytes, the same
 * LSB-first layout as cg_buf_put_packed; width 1..64. Values are masked. */
void ot_pack(uint8_t *out, const uint64_t *vals, size_t count, unsigned width);
void ot_unpack(uint64_t *vals, const uint8_t *in, size_t count, unsigned width);
/* Value `index` of a packed buffer of len bytes (which must hold it). */
uint64_t ot_packed_get(const uint8_t *in, size_t len, size_t index, unsigned width);

#endif
