/* IKNP OT extension and the OTs derived from it.
 *
 * Set-up: 128 base OTs in the opposite direction. The extension sender picks
 * Delta = s (128 random bits) and learns k_j^{s_j}; the extension receiver
 * knows both k_j^0 and k_j^1. Each key seeds an AES-CTR column stream G.
 *
 * Extension of m OTs with receiver choices r (m bits): the receiver sends
 * u_j = G(k_j^0) ^ G(k_j^1) ^ r for j < 128; the sender forms
 * q_j = G(k_j^{s_j}) ^ s_j u_j. After transposing, row i satisfies
 * q_i = t_i ^ r_i Delta. Hashing with the tweakable correlation-robust hash
 * (tweak = a per-instance OT counter, so every hash input is used once) gives
 * random OTs: sender H(i, q_i), H(i, q_i ^ Delta); receiver H(i, t_i).
 * Correlated OT, chosen-message OT and 1-out-of-N OT add one message from
 * the sender. Every call starts with a 16-byte header from the receiver so
 * that mismatched calls fail cleanly instead of desynchronising. */
#include "ot/ot_internal.h"

#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

/* Here rather than in aes_avx512.c: that file is built with AVX-512 flags, so
 * the compiler (and sanitizer instrumentation) may use AVX-512 in any of its
 * functions, including this check that runs on CPUs without it. */
bool ot_vaes_available(void)
{
    unsigned a, b, c, d;
    /* CPUID leaf 7: ECX bit 9 is VAES. AVX-512 state support by the OS is
     * part of the AVX512F check in cg_cpu_features. */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (cg_cpu_features() & CG_CPU_AVX512F) && (c & (1u << 9)) &&
           (cg_cpu_features_raw() & CG_CPU_AESNI);
}

/* OTs per extension chunk (a multiple of 128): bounds memory and lets the
 * sender start on a chunk while the receiver prepares the next. */
#define CHUNK ((size_t)1 << 15)
#define CHUNK_BYTES (CHUNK / 8)
/* 1-out-of-N instances per extension batch (bounds the sender's memory). */
#define OTN_BATCH ((size_t)4096)

enum { KIND_COT = 1, KIND_OT = 2, KIND_ROT = 3, KIND_OTN = 4, KIND_OTN_KK = 5 };

/* KK13 1-out-of-N OT: rows of KK_COLS bits, encoded with the Walsh-Hadamard
 * code on 8 bits (any two codewords differ in exactly 128 positions). */
#define KK_COLS 256
#define KK_TWEAK_HI ((uint64_t)1 << 62) /* and + 1: the hash's two stages */

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
    cg_buf out;         /* sender's outgoing corrections */
    /* KK13 1-of-N extension, set up by cg_ot_setup_otn or the first such
     * call (its own 256 base OTs, in the same direction as the IKNP ones). */
    bool otn_split;     /* CG_OTN=split: always the log2 N-row construction */
    bool kk_ready;
    ot_aes_key *kk_col; /* sender: kk_col[j]; receiver: kk_col[2j + b] */
    uint8_t kk_s[KK_COLS / 8]; /* sender only: the secret column selection */
    uint64_t kk_block;  /* next PRG block of every KK column */
    uint64_t kk_index;  /* next KK row index (hash tweak) */
    bool pending;       /* receiver: a cg_cot_recv_begin / cg_otn_recv_begin awaits its _end */
    unsigned pending_kind; /* KIND_COT or KIND_OTN */
    size_t pending_n;
    unsigned pending_bits;
};

static const uint8_t fixed_pi_key[16] = {0x63, 0x72, 0x79, 0x70, 0x74, 0x6f, 0x67, 0x65,
                                         0x6e, 0x2d, 0x74, 0x63, 0x63, 0x72, 0x2d, 0x31};

static uint64_t lo64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t mask_of(unsigned bits) { return bits >= 64 ? ~0ull : ((1ull << bits) - 1); }

/* Bit `bit` of each of the eight bytes of x (byte t in bits 8t..8t+7) as
 * one byte, byte t's bit landing in bit t: the multiply moves bit 8t to
 * 56 + t without carries (the partial products' positions are distinct). */
static uint8_t gather_bits(uint64_t x, unsigned bit)
{
    return (uint8_t)((((x >> bit) & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56);
}

cg_ot_role cg_ot_get_role(const cg_ot *ot) { return ot->role; }

const char *cg_ot_backend(void)
{
    if (!(cg_cpu_features_raw() & CG_CPU_AESNI)) return "none";
    return ot_vaes_available() ? "vaes" : "aesni";
}

void cg_ot_free(cg_ot *ot)
{
    if (!ot) return;
    cg_free(ot->col);
    cg_free(ot->kk_col);
    cg_free(ot->mat);
    cg_free(ot->scratch);
    cg_free(ot->rows);
    cg_free(ot->h0);
    cg_free(ot->h1);
    cg_free(ot->vals);
    cg_buf_free(&ot->out);
    cg_free(ot); /* wipes delta and the fixed key */
}

cg_status cg_ot_new(cg_ot **out, cg_channel *ch, cg_ot_role role, cg_error *err)
{
    if (!out || !ch || (role != CG_OT_SENDER && role != CG_OT_RECEIVER))
        return cg_error_set(err, CG_ERR_ARG, "cg_ot_new: bad argument");
    *out = NULL;
    if (!(cg_cpu_features_raw() & CG_CPU_AESNI))
        return cg_error_set(err, CG_ERR_UNSUPPORTED, "OT extension needs AES-NI");
    cg_ot *ot = cg_calloc(1, sizeof *ot);
    if (!ot) return cg_error_set(err, CG_ERR_NOMEM, "cg_ot_new: out of memory");
    ot->ch = ch;
    ot->role = role;
    bool vaes = ot_vaes_available();
    ot->ctr = vaes ? ot_aes_ctr_vaes : ot_aes_ctr_aesni;
    ot->tccr = vaes ? ot_tccr_vaes : ot_tccr_aesni;
    const char *otn = getenv("CG_OTN");
    ot->otn_split = otn && strcmp(otn, "split") == 0;
    cg_buf_init(&ot->out);
    size_t ncol = role == CG_OT_SENDER ? OT_BASE_OTS : 2 * OT_BASE_OTS;
    ot->col = cg_calloc(ncol, sizeof *ot->col);
    ot->mat = cg_alloc(OT_BASE_OTS * CHUNK_BYTES);
    ot->scratch = cg_alloc(role == CG_OT_SENDER ? OT_BASE_OTS * CHUNK_BYTES : CHUNK_BYTES);
    ot->rows = cg_alloc(CHUNK * 16);
    ot->h0 = cg_alloc(CHUNK * 16);
    ot->h1 = role == CG_OT_SENDER ? cg_alloc(CHUNK * 16) : NULL;
    ot->vals = cg_alloc(CHUNK * sizeof(uint64_t));
    if (!ot->col || !ot->mat || !ot->scratch || !ot->rows || !ot->h0 || !ot->vals ||
        (role == CG_OT_SENDER && !ot->h1)) {
        cg_ot_free(ot);
        return cg_error_set(err, CG_ERR_NOMEM, "cg_ot_new: out of memory");
    }
    ot_aes_expand_aesni(&ot->pi, fixed_pi_key);
    cg_status st;
    if (role == CG_OT_SENDER) {
        uint8_t keys[OT_BASE_OTS][16];
        cg_random_bytes(ot->delta, sizeof ot->delta);
        st = ot_baseot_recv(ch, ot->delta, keys, err);
        if (st == CG_OK)
            for (size_t j = 0; j < OT_BASE_OTS; j++) ot_aes_expand_aesni(&ot->col[j], keys[j]);
        cg_secure_zero(keys, sizeof keys);
    } else {
        uint8_t keys[OT_BASE_OTS][2][16];
        st = ot_baseot_send(ch, keys, err);
        if (st == CG_OK)
            for (size_t j = 0; j < OT_BASE_OTS; j++) {
                ot_aes_expand_aesni(&ot->col[2 * j], keys[j][0]);
                ot_aes_expand_aesni(&ot->col[2 * j + 1], keys[j][1]);
            }
        cg_secure_zero(keys, sizeof keys);
    }
    if (st != CG_OK) {
        cg_ot_free(ot);
        return st;
    }
    *out = ot;
    return CG_OK;
}

/* ---- the extension core ---- */

typedef cg_status (*chunk_fn)(cg_ot *ot, void *ctx, size_t begin, size_t count,
                              uint64_t first_index, cg_error *err);

/* Receiver's choice bit for ROT number p: choice[p], or for 1-out-of-N with
 * k bits per instance, bit p % k of choice[p / k]. */
typedef struct choice_src {
    const uint8_t *choice;
    unsigned k;
} choice_src;

static unsigned choice_bit(const choice_src *c, size_t p)
{
    return c->k ? (c->choice[p / c->k] >> (p % c->k)) & 1u : c->choice[p] & 1u;
}

static size_t round128(size_t n) { return (n + 127) & ~(size_t)127; }

/* The extension sender's columns for one chunk: q_j = G(k_j) from PRG block
 * `block` on, xored with the receiver's column u_j where bit j of sel is set
 * (rowbytes bytes per column, a multiple of 16). */
static void sender_columns(void (*ctr)(const ot_aes_key *, uint64_t, uint8_t *, size_t),
                           const ot_aes_key *keys, size_t ncols, const uint8_t *sel, uint64_t block,
                           const uint8_t *u, uint8_t *q, size_t rowbytes)
{
    for (size_t j = 0; j < ncols; j++) {
        uint8_t *qj = q + j * rowbytes;
        ctr(&keys[j], block, qj, rowbytes / 16);
        if (!((sel[j / 8] >> (j % 8)) & 1)) continue;
        const uint8_t *uj = u + j * rowbytes;
        for (size_t b = 0; b < rowbytes; b += 8) {
            uint64_t x, y;
            memcpy(&x, qj + b, 8);
            memcpy(&y, uj + b, 8);
            x ^= y;
            memcpy(qj + b, &x, 8);
        }
    }
}

/* Sender: m random OTs; per chunk, ot->h0/h1 hold the hashed pairs, or with
 * hash == false only ot->rows holds the raw rows q_i (the caller hashes). */
static cg_status ext_send_core(cg_ot *ot, size_t m, bool hash, chunk_fn fn, void *ctx,
                               cg_error *err)
{
    for (size_t begin = 0; begin < m; begin += CHUNK) {
        size_t count = m - begin < CHUNK ? m - begin : CHUNK;
        size_t cols = round128(count), rowbytes = cols / 8, nblocks = cols / 128;
        CG_TRY(cg_chan_recv(ot->ch, ot->scratch, OT_BASE_OTS * rowbytes, err));
        sender_columns(ot->ctr, ot->col, OT_BASE_OTS, ot->delta, ot->prg_block, ot->scratch,
                       ot->mat, rowbytes);
        ot_transpose(ot->mat, ot->rows, OT_BASE_OTS, cols);
        uint64_t first = ot->ot_index;
        if (hash) {
            ot->tccr(&ot->pi, ot->rows, NULL, ot->h0, count, first, 0);
            ot->tccr(&ot->pi, ot->rows, ot->delta, ot->h1, count, first, 0);
        }
        ot->prg_block += nblocks;
        ot->ot_index += cols;
        CG_TRY(fn(ot, ctx, begin, count, first, err));
    }
    return CG_OK;
}

static cg_status ext_send(cg_ot *ot, size_t m, chunk_fn fn, void *ctx, cg_error *err)
{
    return ext_send_core(ot, m, true, fn, ctx, err);
}

/* Receiver: m random OTs with the given choices; per chunk ot->h0 holds the
 * hashed rows, or with hash == false only ot->rows the raw rows t_i. */
static cg_status ext_recv_core(cg_ot *ot, size_t m, bool hash, const choice_src *cs, chunk_fn fn,
                               void *ctx, cg_error *err)
{
    for (size_t begin = 0; begin < m; begin += CHUNK) {
        size_t count = m - begin < CHUNK ? m - begin : CHUNK;
        size_t cols = round128(count), rowbytes = cols / 8, nblocks = cols / 128;
        uint8_t *r = ot->rows; /* borrowed as the packed choice vector */
        memset(r, 0, rowbytes);
        size_t i = 0;
        if (cs->k == 0)
            for (; i + 8 <= count; i += 8) /* eight 0/1 bytes to eight bits */
                r[i / 8] = gather_bits(lo64(cs->choice + begin + i), 0);
        for (; i < count; i++) r[i / 8] |= (uint8_t)(choice_bit(cs, begin + i) << (i % 8));
        for (size_t j = 0; j < OT_BASE_OTS; j++) {
            uint8_t *t = ot->mat + j * rowbytes;
            ot->ctr(&ot->col[2 * j], ot->prg_block, t, nblocks);
            ot->ctr(&ot->col[2 * j + 1], ot->prg_block, ot->scratch, nblocks);
            for (size_t b = 0; b < rowbytes; b += 8) {
                uint64_t x, y, z;
                memcpy(&x, t + b, 8);
                memcpy(&y, ot->scratch + b, 8);
                memcpy(&z, r + b, 8);
                x ^= y ^ z;
                memcpy(ot->scratch + b, &x, 8);
            }
            CG_TRY(cg_chan_send(ot->ch, ot->scratch, rowbytes, err));
        }
        CG_TRY(cg_chan_flush(ot->ch, err));
        ot_transpose(ot->mat, ot->rows, OT_BASE_OTS, cols);
        uint64_t first = ot->ot_index;
        if (hash) ot->tccr(&ot->pi, ot->rows, NULL, ot->h0, count, first, 0);
        ot->prg_block += nblocks;
        ot->ot_index += cols;
        CG_TRY(fn(ot, ctx, begin, count, first, err));
    }
    return CG_OK;
}

static cg_status ext_recv(cg_ot *ot, size_t m, const choice_src *cs, chunk_fn fn, void *ctx,
                          cg_error *err)
{
    return ext_recv_core(ot, m, true, cs, fn, ctx, err);
}

/* ---- call framing and checks ---- */

/* The instance can take a new call: not failed, no split call pending. */
static cg_status check_usable(const cg_ot *ot, cg_error *err)
{
    if (!ot) return cg_error_set(err, CG_ERR_ARG, "OT: NULL instance");
    if (ot->failed != CG_OK)
        return cg_error_set(err, CG_ERR_STATE, "OT: instance unusable after an earlier error (%s)",
                            cg_status_name(ot->failed));
    if (ot->pending)
        return cg_error_set(err, CG_ERR_STATE, "OT: a begun receiver call awaits its _end");
    return CG_OK;
}

static cg_status check_call(cg_ot *ot, cg_ot_role role, size_t n, unsigned bits, const void *p1,
                            const void *p2, cg_error *err)
{
    CG_TRY(check_usable(ot, err));
    if (ot->role != role)
        return cg_error_set(err, CG_ERR_STATE, "OT: %s call on a %s instance",
                            role == CG_OT_SENDER ? "sender" : "receiver",
                            ot->role == CG_OT_SENDER ? "sender" : "receiver");
    if (bits < 1 || bits > 64) return cg_error_set(err, CG_ERR_ARG, "OT: bits = %u, need 1..64", bits);
    if (n > ((size_t)1 << 40)) return cg_error_set(err, CG_ERR_ARG, "OT: batch too large");
    if (n && (!p1 || !p2)) return cg_error_set(err, CG_ERR_ARG, "OT: NULL array");
    return CG_OK;
}

static cg_status check_choices(const uint8_t *c, size_t n, unsigned limit, cg_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (c[i] >= limit)
            return cg_error_set(err, CG_ERR_RANGE, "OT: choice[%zu] = %u out of range", i, c[i]);
    return CG_OK;
}

static void put_header(uint8_t h[16], unsigned kind, unsigned param, size_t n)
{
    uint64_t a = (uint64_t)kind | ((uint64_t)param << 32), b = n;
    for (int i = 0; i < 8; i++) {
        h[i] = (uint8_t)(a >> (8 * i));
        h[8 + i] = (uint8_t)(b >> (8 * i));
    }
}

static cg_status send_header(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err)
{
    uint8_t h[16];
    put_header(h, kind, param, n);
    return cg_chan_send(ot->ch, h, sizeof h, err);
}

static cg_status expect_header(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err)
{
    uint8_t h[16], want[16];
    CG_TRY(cg_chan_recv(ot->ch, h, sizeof h, err));
    put_header(want, kind, param, n);
    if (memcmp(h, want, sizeof h) != 0)
        return cg_error_set(err, CG_ERR_FORMAT, "OT: the peer's call (kind, size) does not match this one");
    return CG_OK;
}

/* Any failure mid-protocol leaves the two ends out of step: poison the instance. */
static cg_status finish(cg_ot *ot, cg_status st)
{
    if (st != CG_OK && st != CG_ERR_ARG && st != CG_ERR_RANGE && ot->failed == CG_OK) ot->failed = st;
    return st;
}

/* Appends count packed values to ot->out. */
static bool out_put_packed(cg_ot *ot, const uint64_t *vals, size_t count, unsigned bits)
{
    size_t len = cg_packed_size(count, bits);
    if (!cg_buf_reserve(&ot->out, len)) return false;
    ot_pack(ot->out.data + ot->out.len, vals, count, bits);
    ot->out.len += len;
    return true;
}

/* Packs count values into ot->out, sends and flushes them. */
static cg_status send_packed(cg_ot *ot, const uint64_t *vals, size_t count, unsigned bits,
                             cg_error *err)
{
    ot->out.len = 0;
    if (!out_put_packed(ot, vals, count, bits))
        return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    CG_TRY(cg_chan_send(ot->ch, ot->out.data, ot->out.len, err));
    return cg_chan_flush(ot->ch, err);
}

/* ---- correlated OT ---- */

typedef struct cot_ctx {
    unsigned bits;
    const uint64_t *delta;
    uint64_t *x0;
    uint64_t *out;
    const uint8_t *choice;
} cot_ctx;

static cg_status cot_send_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                                cg_error *err)
{
    (void)first;
    cot_ctx *c = vctx;
    uint64_t mask = mask_of(c->bits);
    for (size_t i = 0; i < count; i++) {
        uint64_t x0 = lo64(ot->h0 + 16 * i) & mask;
        c->x0[begin + i] = x0;
        ot->vals[i] = (x0 + c->delta[begin + i] - lo64(ot->h1 + 16 * i)) & mask;
    }
    ot->out.len = 0;
    if (!out_put_packed(ot, ot->vals, count, c->bits))
        return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    return cg_chan_send(ot->ch, ot->out.data, ot->out.len, err);
}

static cg_status store_hash_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                                  cg_error *err)
{
    (void)first;
    (void)err;
    cot_ctx *c = vctx;
    uint64_t mask = mask_of(c->bits);
    for (size_t i = 0; i < count; i++) c->out[begin + i] = lo64(ot->h0 + 16 * i) & mask;
    return CG_OK;
}

/* Receives `per` packed arrays of count values for each chunk of n. */
static cg_status recv_packed_chunk(cg_ot *ot, size_t count, unsigned bits, uint64_t *vals,
                                   cg_error *err)
{
    size_t len = cg_packed_size(count, bits);
    ot->out.len = 0;
    if (!cg_buf_reserve(&ot->out, len)) return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    CG_TRY(cg_chan_recv(ot->ch, ot->out.data, len, err));
    ot_unpack(vals, ot->out.data, count, bits);
    return CG_OK;
}

cg_status cg_cot_send(cg_ot *ot, size_t n, unsigned bits, const uint64_t *delta, uint64_t *x0,
                      cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_SENDER, n, bits, delta, x0, err));
    if (n == 0) return CG_OK;
    cot_ctx c = {.bits = bits, .delta = delta, .x0 = x0};
    cg_status st = expect_header(ot, KIND_COT, bits, n, err);
    if (st == CG_OK) st = ext_send(ot, n, cot_send_chunk, &c, err);
    if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
    return finish(ot, st);
}

cg_status cg_cot_recv_begin(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice,
                            uint64_t *out, cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(check_choices(choice, n, 2, err));
    cot_ctx c = {.bits = bits, .out = out, .choice = choice};
    choice_src cs = {choice, 0};
    cg_status st = send_header(ot, KIND_COT, bits, n, err);
    if (st == CG_OK) st = ext_recv(ot, n, &cs, store_hash_chunk, &c, err);
    if (st == CG_OK) {
        ot->pending = true;
        ot->pending_kind = KIND_COT;
        ot->pending_n = n;
        ot->pending_bits = bits;
    }
    return finish(ot, st);
}

cg_status cg_cot_recv_end(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                          cg_error *err)
{
    if (!ot) return cg_error_set(err, CG_ERR_ARG, "OT: NULL instance");
    if (n == 0 && !ot->pending) return CG_OK;
    if (!ot->pending || ot->pending_kind != KIND_COT || ot->pending_n != n ||
        ot->pending_bits != bits || !choice || !out)
        return cg_error_set(err, CG_ERR_STATE, "OT: cg_cot_recv_end does not match a begun COT");
    ot->pending = false;
    uint64_t mask = mask_of(bits);
    cg_status st = CG_OK;
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        st = recv_packed_chunk(ot, count, bits, ot->vals, err);
        if (st != CG_OK) break;
        for (size_t i = 0; i < count; i++) {
            uint64_t sel = 0 - (uint64_t)choice[begin + i];
            out[begin + i] = (out[begin + i] + (ot->vals[i] & sel)) & mask;
        }
    }
    return finish(ot, st);
}

cg_status cg_cot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                      cg_error *err)
{
    CG_TRY(cg_cot_recv_begin(ot, n, bits, choice, out, err));
    return cg_cot_recv_end(ot, n, bits, choice, out, err);
}

/* ---- chosen-message OT ---- */

typedef struct ot_ctx {
    unsigned bits;
    const uint64_t *m0, *m1;
} ot_ctx;

static cg_status ot_send_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                               cg_error *err)
{
    (void)first;
    ot_ctx *c = vctx;
    uint64_t mask = mask_of(c->bits);
    ot->out.len = 0;
    for (size_t i = 0; i < count; i++) ot->vals[i] = (c->m0[begin + i] ^ lo64(ot->h0 + 16 * i)) & mask;
    bool ok = out_put_packed(ot, ot->vals, count, c->bits);
    for (size_t i = 0; i < count; i++) ot->vals[i] = (c->m1[begin + i] ^ lo64(ot->h1 + 16 * i)) & mask;
    if (!ok || !out_put_packed(ot, ot->vals, count, c->bits))
        return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    return cg_chan_send(ot->ch, ot->out.data, ot->out.len, err);
}

cg_status cg_ot_send(cg_ot *ot, size_t n, unsigned bits, const uint64_t *m0, const uint64_t *m1,
                     cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_SENDER, n, bits, m0, m1, err));
    if (n == 0) return CG_OK;
    ot_ctx c = {bits, m0, m1};
    cg_status st = expect_header(ot, KIND_OT, bits, n, err);
    if (st == CG_OK) st = ext_send(ot, n, ot_send_chunk, &c, err);
    if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
    return finish(ot, st);
}

cg_status cg_ot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                     cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(check_choices(choice, n, 2, err));
    cot_ctx c = {.bits = bits, .out = out, .choice = choice};
    choice_src cs = {choice, 0};
    cg_status st = send_header(ot, KIND_OT, bits, n, err);
    if (st == CG_OK) st = ext_recv(ot, n, &cs, store_hash_chunk, &c, err);
    uint64_t *e1 = NULL;
    if (st == CG_OK && !(e1 = cg_alloc(CHUNK * sizeof *e1)))
        st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    uint64_t mask = mask_of(bits);
    for (size_t begin = 0; st == CG_OK && begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        st = recv_packed_chunk(ot, count, bits, ot->vals, err);
        if (st == CG_OK) st = recv_packed_chunk(ot, count, bits, e1, err);
        if (st != CG_OK) break;
        for (size_t i = 0; i < count; i++) {
            uint64_t sel = 0 - (uint64_t)choice[begin + i];
            uint64_t e = (ot->vals[i] & ~sel) | (e1[i] & sel);
            out[begin + i] = (out[begin + i] ^ e) & mask;
        }
    }
    cg_free(e1);
    return finish(ot, st);
}

/* ---- random OT ---- */

typedef struct rot_ctx {
    unsigned bits;
    uint64_t *r0, *r1;
} rot_ctx;

static cg_status rot_send_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                                cg_error *err)
{
    (void)first;
    (void)err;
    rot_ctx *c = vctx;
    uint64_t mask = mask_of(c->bits);
    for (size_t i = 0; i < count; i++) {
        c->r0[begin + i] = lo64(ot->h0 + 16 * i) & mask;
        c->r1[begin + i] = lo64(ot->h1 + 16 * i) & mask;
    }
    return CG_OK;
}

cg_status cg_rot_send(cg_ot *ot, size_t n, unsigned bits, uint64_t *r0, uint64_t *r1,
                      cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_SENDER, n, bits, r0, r1, err));
    if (n == 0) return CG_OK;
    rot_ctx c = {bits, r0, r1};
    cg_status st = expect_header(ot, KIND_ROT, bits, n, err);
    if (st == CG_OK) st = ext_send(ot, n, rot_send_chunk, &c, err);
    return finish(ot, st);
}

cg_status cg_rot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                      cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(check_choices(choice, n, 2, err));
    cot_ctx c = {.bits = bits, .out = out, .choice = choice};
    choice_src cs = {choice, 0};
    cg_status st = send_header(ot, KIND_ROT, bits, n, err);
    if (st == CG_OK) st = ext_recv(ot, n, &cs, store_hash_chunk, &c, err);
    if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
    return finish(ot, st);
}

cg_status cg_rot_recv_random(cg_ot *ot, size_t n, unsigned bits, uint8_t *choice, uint64_t *out,
                             cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    /* A PRG keyed from the OS: the OS source in small pieces (getrandom)
     * cost more than the OTs themselves for large n. */
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_prg_bytes(&prg, choice, n);
    cg_prg_clear(&prg);
    for (size_t i = 0; i < n; i++) choice[i] &= 1;
    return cg_rot_recv(ot, n, bits, choice, out, err);
}

/* ---- 1-out-of-N OT from k = ceil(log2 N) IKNP rows per instance ----
 * Instance i uses extension rows p = i*k + j (j < k) with unique indices
 * idx_p; the sender holds q_p, the receiver t_p = q_p ^ c_j Delta (c_j = bit
 * j of its choice c). The pad of message x is
 *   pad(x) = xor over j of H((idx_p, 1 + x_j*half + y_j(x)), q_p ^ x_j Delta),
 * where x_j is bit j of x, y_j(x) is x with bit j removed and half =
 * 2^(k-1); H is the tweakable correlation-robust hash, fed the raw IKNP rows
 * directly (no intermediate random-OT keys, which saves 2 hashes per row on
 * the sender and 1 on the receiver). The receiver can compute the term of
 * row p only for x_j = c_j. For x != c some j has x_j != c_j, and that term
 * is H(t, t_p ^ Delta) for a tweak t that is never used with any other input:
 * tweaks include x_j, so each (row, tweak) pair hashes exactly one of q_p,
 * q_p ^ Delta, and idx_p never repeats across calls. By the TCCR property
 * (Guo-Katz-Wang-Yu 2020, the same assumption as the random OTs above) those
 * terms look random, so every non-chosen message stays hidden
 * (semi-honest, 128-bit computational). Sender cost: N*k hashes per
 * instance (N a power of two), receiver: k. */

typedef struct otn_ctx {
    uint8_t *rows;      /* raw rows of the batch: q_p (sender) or t_p (receiver) */
    uint64_t *idx;      /* index (tweak) of every row in the batch */
} otn_ctx;

static cg_status otn_rows_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                                cg_error *err)
{
    (void)err;
    otn_ctx *c = vctx;
    memcpy(c->rows + 16 * begin, ot->rows, 16 * count);
    for (size_t i = 0; i < count; i++) c->idx[begin + i] = first + i;
    return CG_OK;
}

static unsigned log2_ceil(unsigned N)
{
    unsigned k = 0;
    while ((1u << k) < N) k++;
    return k;
}

/* x with bit j removed (the higher bits shift down by one). */
static unsigned drop_bit(unsigned x, unsigned j)
{
    return (x & ((1u << j) - 1u)) | ((x >> (j + 1)) << j);
}

static cg_status otn_alloc(otn_ctx *c, size_t rows, cg_error *err)
{
    c->rows = cg_alloc(rows * 16);
    c->idx = cg_alloc(rows * sizeof *c->idx);
    if (!c->rows || !c->idx) return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    return CG_OK;
}

static void otn_release(otn_ctx *c)
{
    cg_free(c->rows); /* wipes the rows */
    cg_free(c->idx);
}

/* ---- 1-out-of-N OT, KK13 (Kolesnikov-Kumaresan 2013) ----
 * Used for N >= 8. One extension row of 256 bits per instance instead of
 * log2 N rows of 128: the receiver with choice r sends the columns of
 * t ^ G(k^1) ^ C(r), C the Walsh-Hadamard code of 8-bit values; the sender
 * with its 256 secret bits s gets q = t ^ (C(r) & s) and pads message x
 * with H(i, q ^ (C(x) & s)), the receiver its choice with H(i, t). For
 * x != r the pad input differs from t by (C(x) ^ C(r)) & s: 128 unknown
 * bits of s (64 in each 128-bit half, or all 128 in one half), hashed by
 * ot_kk_hash_aesni's chained TCCR under a row index that never repeats. The
 * chain feeds the first half's hash into the second half's input, so a
 * guess of one half cannot be checked alone (no meet in the middle): the
 * unchosen pads stay hidden with 128-bit security, semi-honest, fixed-key
 * AES modelled as a random permutation as for the other hashes. Sender: N hashes
 * of two AES calls per instance (the split construction: N log2 N of one);
 * receiver: one. Traffic: 32 bytes per instance up (64 for N = 16 split). */

static unsigned parity8(unsigned v)
{
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return v & 1u;
}

/* The 256 base OTs of the KK13 extension, run once per instance. */
static cg_status kk_setup(cg_ot *ot, cg_error *err)
{
    ot->kk_col = cg_calloc(ot->role == CG_OT_SENDER ? KK_COLS : 2 * KK_COLS, sizeof *ot->kk_col);
    if (!ot->kk_col) return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    cg_status st = CG_OK;
    for (size_t half = 0; st == CG_OK && half < KK_COLS / OT_BASE_OTS; half++) {
        size_t j0 = half * OT_BASE_OTS;
        if (ot->role == CG_OT_SENDER) {
            uint8_t keys[OT_BASE_OTS][16];
            uint8_t *choice = ot->kk_s + j0 / 8;
            cg_random_bytes(choice, OT_BASE_OTS / 8);
            st = ot_baseot_recv(ot->ch, choice, keys, err);
            if (st == CG_OK)
                for (size_t j = 0; j < OT_BASE_OTS; j++) ot_aes_expand_aesni(&ot->kk_col[j0 + j], keys[j]);
            cg_secure_zero(keys, sizeof keys);
        } else {
            uint8_t keys[OT_BASE_OTS][2][16];
            st = ot_baseot_send(ot->ch, keys, err);
            if (st == CG_OK)
                for (size_t j = 0; j < OT_BASE_OTS; j++) {
                    ot_aes_expand_aesni(&ot->kk_col[2 * (j0 + j)], keys[j][0]);
                    ot_aes_expand_aesni(&ot->kk_col[2 * (j0 + j) + 1], keys[j][1]);
                }
            cg_secure_zero(keys, sizeof keys);
        }
    }
    if (st == CG_OK) ot->kk_ready = true;
    return st;
}

cg_status cg_ot_setup_otn(cg_ot *ot, cg_error *err)
{
    CG_TRY(check_usable(ot, err));
    if (ot->kk_ready || ot->otn_split) return CG_OK;
    return finish(ot, kk_setup(ot, err));
}

/* Where a 1-of-N sender's messages come from: a caller's table (read in
 * place) or a callback that fills a batch buffer. */
typedef struct {
    const uint64_t *table;
    cg_otn_fill_fn fill;
    void *ctx;
    unsigned N;
} msg_source;

/* The messages of instances first .. first + count - 1; scratch holds
 * count * N entries and is only written for a callback source. */
static const uint64_t *source_batch(const msg_source *src, size_t first, size_t count,
                                    uint64_t *scratch)
{
    if (src->table) return src->table + first * src->N;
    src->fill(src->ctx, first, count, scratch);
    return scratch;
}

static cg_status otn_send_kk(cg_ot *ot, size_t n, unsigned N, unsigned bits, const msg_source *src,
                             cg_error *err)
{
    uint64_t mask = mask_of(bits);
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH, cap = round128(batch), rb = cap / 8;
    uint8_t *u = cg_alloc(KK_COLS * rb), *q = cg_alloc(KK_COLS * rb);
    uint8_t *rows = cg_alloc(cap * 32), *cs = cg_alloc((size_t)N * 32);
    uint64_t *pads = cg_alloc(batch * N * sizeof *pads);
    uint64_t *scratch = src->table ? NULL : cg_alloc(batch * N * sizeof *scratch);
    cg_status st = CG_OK;
    if (!u || !q || !rows || !cs || !pads || (!src->table && !scratch))
        st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    if (st == CG_OK) st = expect_header(ot, KIND_OTN_KK, bits | (N << 8), n, err);
    if (st == CG_OK && !ot->kk_ready) st = kk_setup(ot, err);
    /* cs[x] = C(x) & s: what separates message x's hash input from q. */
    if (st == CG_OK) memset(cs, 0, (size_t)N * 32);
    for (unsigned x = 0; st == CG_OK && x < N; x++)
        for (unsigned j = 0; j < KK_COLS; j++)
            cs[32 * x + j / 8] |= (uint8_t)((parity8(x & j) & (ot->kk_s[j / 8] >> (j % 8))) << (j % 8));
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        size_t cols = round128(cnt), rowbytes = cols / 8;
        st = cg_chan_recv(ot->ch, u, KK_COLS * rowbytes, err);
        if (st != CG_OK) break;
        sender_columns(ot->ctr, ot->kk_col, KK_COLS, ot->kk_s, ot->kk_block, u, q, rowbytes);
        ot_transpose(q, rows, KK_COLS, cols);
        ot_kk_hash_aesni(&ot->pi, rows, cs, N, cnt, ot->kk_index, KK_TWEAK_HI, pads);
        ot->kk_block += cols / 128;
        ot->kk_index += cols;
        const uint64_t *m = source_batch(src, b0, cnt, scratch);
        for (size_t i = 0; i < cnt * N; i++) pads[i] = (pads[i] ^ m[i]) & mask;
        st = send_packed(ot, pads, cnt * N, bits, err);
    }
    cg_free(u);
    cg_free(q);
    cg_free(rows);
    cg_free(cs);
    cg_free(pads);
    cg_free(scratch);
    return finish(ot, st);
}

/* The receiver's first half: the extension, leaving the chosen message's
 * pad in out (the ciphertexts come in otn_recv_msgs). */
static cg_status otn_recv_kk_pads(cg_ot *ot, size_t n, unsigned N, unsigned bits,
                                  const uint8_t *choice, uint64_t *out, cg_error *err)
{
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH, cap = round128(batch), rb = cap / 8;
    uint8_t *t = cg_alloc(KK_COLS * rb), *code = cg_alloc(KK_COLS * rb), *ucol = cg_alloc(rb);
    uint8_t *rows = cg_alloc(cap * 32);
    static const uint8_t zero_off[32];
    cg_status st = CG_OK;
    if (!t || !code || !ucol || !rows) st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    if (st == CG_OK) st = send_header(ot, KIND_OTN_KK, bits | (N << 8), n, err);
    if (st == CG_OK && !ot->kk_ready) st = kk_setup(ot, err);
    /* Every batch's extension first; all ciphertexts after (one round trip
     * for any n). */
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        size_t cols = round128(cnt), rowbytes = cols / 8;
        /* Column j of the codewords is the xor of the choice bit planes
         * named by j's bits: code_j = code_{j & (j - 1)} ^ plane_{ctz j}. */
        memset(code, 0, rowbytes);
        for (unsigned bit = 0; bit < 8; bit++)
            memset(code + ((size_t)1 << bit) * rowbytes, 0, rowbytes);
        for (size_t i0 = 0; i0 < cnt; i0 += 8) {
            /* Eight choices at once: x holds choice i0 + t in byte t. */
            uint64_t x = 0;
            size_t k = cnt - i0 < 8 ? cnt - i0 : 8;
            for (size_t t8 = 0; t8 < k; t8++) x |= (uint64_t)choice[b0 + i0 + t8] << (8 * t8);
            for (unsigned bit = 0; bit < 8; bit++)
                code[((size_t)1 << bit) * rowbytes + i0 / 8] = gather_bits(x, bit);
        }
        for (unsigned j = 3; j < KK_COLS; j++) {
            if ((j & (j - 1)) == 0) continue; /* a plane, done above */
            const uint8_t *a = code + (size_t)(j & (j - 1)) * rowbytes;
            const uint8_t *c = code + ((size_t)1 << __builtin_ctz(j)) * rowbytes;
            uint8_t *d = code + (size_t)j * rowbytes;
            for (size_t b = 0; b < rowbytes; b++) d[b] = a[b] ^ c[b];
        }
        for (size_t j = 0; j < KK_COLS; j++) {
            uint8_t *tj = t + j * rowbytes;
            const uint8_t *cj = code + j * rowbytes;
            ot_aes_ctr_aesni(&ot->kk_col[2 * j], ot->kk_block, tj, cols / 128);
            ot_aes_ctr_aesni(&ot->kk_col[2 * j + 1], ot->kk_block, ucol, cols / 128);
            for (size_t b = 0; b < rowbytes; b += 8) {
                uint64_t x, y, z;
                memcpy(&x, tj + b, 8);
                memcpy(&y, ucol + b, 8);
                memcpy(&z, cj + b, 8);
                x ^= y ^ z;
                memcpy(ucol + b, &x, 8);
            }
            st = cg_chan_send(ot->ch, ucol, rowbytes, err);
            if (st != CG_OK) break;
        }
        if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
        if (st != CG_OK) break;
        ot_transpose(t, rows, KK_COLS, cols);
        ot_kk_hash_aesni(&ot->pi, rows, zero_off, 1, cnt, ot->kk_index, KK_TWEAK_HI, out + b0);
        ot->kk_block += cols / 128;
        ot->kk_index += cols;
    }
    cg_free(t);
    cg_free(code);
    cg_free(ucol);
    cg_free(rows);
    return st;
}

/* Hashes per sender call of ot_tccr_tweaks_aesni: several small instances
 * share one call so that the 8-block AES pipeline stays full. */
#define OTN_HASH_GROUP ((size_t)512)

/* The sender behind cg_otn_send and cg_otn_send_fn: KK13 for N >= 8 (unless
 * CG_OTN=split), else the log2 N-row construction below. */
static cg_status otn_send(cg_ot *ot, size_t n, unsigned N, unsigned bits, const msg_source *src,
                          cg_error *err)
{
    if (N < 2 || N > 256) return cg_error_set(err, CG_ERR_ARG, "OT: N = %u, need 2..256", N);
    if (n == 0) return CG_OK;
    if (N >= 8 && !ot->otn_split) return otn_send_kk(ot, n, N, bits, src, err);
    unsigned k = log2_ceil(N), half = 1u << (k - 1);
    uint64_t mask = mask_of(bits);
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH;
    /* Per instance: 2*k*half hash inputs, entry (2j + b)*half + y. */
    size_t nh = (size_t)2 * k * half;
    size_t group = nh >= OTN_HASH_GROUP ? 1 : OTN_HASH_GROUP / nh, cap = group * nh;
    otn_ctx c = {0};
    uint64_t *pads = cg_alloc(batch * N * sizeof *pads);
    uint64_t *scratch = src->table ? NULL : cg_alloc(batch * N * sizeof *scratch);
    uint8_t *hin = cg_alloc(cap * 16), *hout = cg_alloc(cap * 16);
    uint64_t *tlo = cg_alloc(cap * sizeof *tlo), *thi = cg_alloc(cap * sizeof *thi);
    /* offs[x*k + j]: the entry of row j's term in message x's pad. */
    uint16_t offs[256 * 8];
    for (unsigned x = 0; x < N; x++)
        for (unsigned j = 0; j < k; j++)
            offs[x * k + j] = (uint16_t)((2 * j + ((x >> j) & 1u)) * half + drop_bit(x, j));
    cg_status st = otn_alloc(&c, batch * k, err);
    if (st == CG_OK && (!pads || (!src->table && !scratch) || !hin || !hout || !tlo || !thi))
        st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    if (st == CG_OK) st = expect_header(ot, KIND_OTN, bits | (N << 8), n, err);
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        st = ext_send_core(ot, cnt * k, false, otn_rows_chunk, &c, err);
        if (st != CG_OK) break;
        const uint64_t *msgs = source_batch(src, b0, cnt, scratch);
        for (size_t g0 = 0; g0 < cnt; g0 += group) {
            size_t gcnt = cnt - g0 < group ? cnt - g0 : group;
            for (size_t i = 0; i < gcnt; i++)
                for (unsigned j = 0; j < k; j++) {
                    size_t p = (g0 + i) * k + j;
                    uint8_t w[2][16];
                    memcpy(w[0], c.rows + 16 * p, 16);
                    for (int t = 0; t < 16; t++) w[1][t] = (uint8_t)(w[0][t] ^ ot->delta[t]);
                    if (half >= 8) {
                        /* Contiguous tweaks: the multi-tweak routine needs no copies. */
                        for (unsigned bb = 0; bb < 2; bb++)
                            ot_tccr_multi_aesni(&ot->pi, w[bb],
                                                hout + 16 * (i * nh + (size_t)(2 * j + bb) * half),
                                                half, c.idx[p], 1 + (uint64_t)bb * half);
                        cg_secure_zero(w, sizeof w);
                        continue;
                    }
                    for (unsigned bb = 0; bb < 2; bb++)
                        for (unsigned y = 0; y < half; y++) {
                            size_t h = i * nh + (size_t)(2 * j + bb) * half + y;
                            memcpy(hin + 16 * h, w[bb], 16);
                            tlo[h] = c.idx[p];
                            thi[h] = 1 + (uint64_t)bb * half + y;
                        }
                    cg_secure_zero(w, sizeof w);
                }
            if (half < 8) ot_tccr_tweaks_aesni(&ot->pi, hin, tlo, thi, hout, gcnt * nh);
            for (size_t i = 0; i < gcnt; i++) {
                const uint8_t *hi = hout + 16 * i * nh;
                uint64_t *pad = pads + (g0 + i) * N;
                const uint64_t *m = msgs + (g0 + i) * N;
                const uint16_t *o = offs;
                for (unsigned x = 0; x < N; x++, o += k) {
                    uint64_t v = m[x];
                    for (unsigned j = 0; j < k; j++) v ^= lo64(hi + 16 * (size_t)o[j]);
                    pad[x] = v & mask;
                }
            }
        }
        st = send_packed(ot, pads, cnt * N, bits, err);
    }
    cg_free(hin);
    cg_free(hout);
    cg_free(tlo);
    cg_free(thi);
    otn_release(&c);
    cg_free(pads);
    cg_free(scratch);
    return finish(ot, st);
}

cg_status cg_otn_send(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint64_t *msgs,
                      cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_SENDER, n, bits, msgs, msgs, err));
    msg_source src = {.table = msgs, .N = N};
    return otn_send(ot, n, N, bits, &src, err);
}

cg_status cg_otn_send_fn(cg_ot *ot, size_t n, unsigned N, unsigned bits, cg_otn_fill_fn fill,
                         void *ctx, cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_SENDER, n, bits, ot, ot, err)); /* no arrays: fill below */
    if (n && !fill) return cg_error_set(err, CG_ERR_ARG, "OT: no message source");
    msg_source src = {.fill = fill, .ctx = ctx, .N = N};
    return otn_send(ot, n, N, bits, &src, err);
}

/* The log2 N-row receiver's first half, as otn_recv_kk_pads. */
static cg_status otn_recv_split_pads(cg_ot *ot, size_t n, unsigned N, unsigned bits,
                                     const uint8_t *choice, uint64_t *out, cg_error *err)
{
    unsigned k = log2_ceil(N), half = 1u << (k - 1);
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH, nh = batch * k;
    otn_ctx c = {0};
    uint64_t *thi = cg_alloc(nh * sizeof *thi);
    uint8_t *hout = cg_alloc(nh * 16);
    cg_status st = otn_alloc(&c, nh, err);
    if (st == CG_OK && (!thi || !hout)) st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    if (st == CG_OK) st = send_header(ot, KIND_OTN, bits | (N << 8), n, err);
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        choice_src cs = {choice + b0, k};
        st = ext_recv_core(ot, cnt * k, false, &cs, otn_rows_chunk, &c, err);
        if (st != CG_OK) break;
        for (size_t p = 0; p < cnt * k; p++) {
            unsigned ch = choice[b0 + p / k], j = (unsigned)(p % k);
            thi[p] = 1 + (uint64_t)((ch >> j) & 1u) * half + drop_bit(ch, j);
        }
        ot_tccr_tweaks_aesni(&ot->pi, c.rows, c.idx, thi, hout, cnt * k);
        for (size_t i = 0; i < cnt; i++) {
            uint64_t v = 0;
            for (unsigned j = 0; j < k; j++) v ^= lo64(hout + 16 * (i * k + j));
            out[b0 + i] = v;
        }
    }
    otn_release(&c);
    cg_free(thi);
    cg_free(hout);
    return st;
}

/* The receiver's second half (both constructions): every batch's
 * ciphertexts, unmasked with the pads in out. */
static cg_status otn_recv_msgs(cg_ot *ot, size_t n, unsigned N, unsigned bits,
                               const uint8_t *choice, uint64_t *out, cg_error *err)
{
    uint64_t mask = mask_of(bits);
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH;
    cg_status st = CG_OK;
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        size_t len = cg_packed_size(cnt * N, bits);
        ot->out.len = 0;
        if (!cg_buf_reserve(&ot->out, len)) {
            st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
            break;
        }
        st = cg_chan_recv(ot->ch, ot->out.data, len, err);
        if (st != CG_OK) break;
        /* Only the chosen ciphertext of each instance is read. */
        for (size_t i = 0; i < cnt; i++) {
            uint64_t e = ot_packed_get(ot->out.data, len, i * N + choice[b0 + i], bits);
            out[b0 + i] = (out[b0 + i] ^ e) & mask;
        }
    }
    return st;
}

cg_status cg_otn_recv_begin(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                            uint64_t *out, cg_error *err)
{
    CG_TRY(check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (N < 2 || N > 256) return cg_error_set(err, CG_ERR_ARG, "OT: N = %u, need 2..256", N);
    if (n == 0) return CG_OK;
    CG_TRY(check_choices(choice, n, N, err));
    bool kk = N >= 8 && !ot->otn_split;
    cg_status st = kk ? otn_recv_kk_pads(ot, n, N, bits, choice, out, err)
                      : otn_recv_split_pads(ot, n, N, bits, choice, out, err);
    if (st == CG_OK) {
        ot->pending = true;
        ot->pending_kind = KIND_OTN;
        ot->pending_n = n;
        ot->pending_bits = bits | (N << 8);
    }
    return finish(ot, st);
}

cg_status cg_otn_recv_end(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                          uint64_t *out, cg_error *err)
{
    if (!ot) return cg_error_set(err, CG_ERR_ARG, "OT: NULL instance");
    if (n == 0 && !ot->pending) return CG_OK;
    if (!ot->pending || ot->pending_kind != KIND_OTN || ot->pending_n != n ||
        ot->pending_bits != (bits | (N << 8)) || !choice || !out)
        return cg_error_set(err, CG_ERR_STATE, "OT: cg_otn_recv_end does not match a begun 1-of-N OT");
    ot->pending = false;
    return finish(ot, otn_recv_msgs(ot, n, N, bits, choice, out, err));
}

cg_status cg_otn_recv(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                      uint64_t *out, cg_error *err)
{
    CG_TRY(cg_otn_recv_begin(ot, n, N, bits, choice, out, err));
    return cg_otn_recv_end(ot, n, N, bits, choice, out, err);
}

/* ---- both directions ---- */

cg_status cg_ot_pair_new(cg_ot_pair *p, cg_channel *ch, int party, cg_error *err)
{
    if (!p || !ch || (party != 0 && party != 1))
        return cg_error_set(err, CG_ERR_ARG, "cg_ot_pair_new: bad argument");
    p->send = p->recv = NULL;
    cg_status st;
    /* Opposite orders on the two sides: party 0's sender meets party 1's receiver first. */
    if (party == 0) {
        st = cg_ot_new(&p->send, ch, CG_OT_SENDER, err);
        if (st == CG_OK) st = cg_ot_new(&p->recv, ch, CG_OT_RECEIVER, err);
    } else {
        st = cg_ot_new(&p->recv, ch, CG_OT_RECEIVER, err);
        if (st == CG_OK) st = cg_ot_new(&p->send, ch, CG_OT_SENDER, err);
    }
    if (st != CG_OK) cg_ot_pair_free(p);
    return st;
}

void cg_ot_pair_free(cg_ot_pair *p)
{
    if (!p) return;
    cg_ot_free(p->send);
    cg_ot_free(p->recv);
    p->send = p->recv = NULL;
}
