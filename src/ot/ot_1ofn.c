/* 1-out-of-N OT on the IKNP extension (iknp.c): Kolesnikov-Kumaresan
 * (KK13) with its own 256 base OTs, and the construction from log2 N IKNP
 * rows per instance; messages from a table or a callback; the receiver's
 * split _begin/_end halves. */
#include "ot/ot_internal.h"

#include <string.h>

/* 1-out-of-N instances per extension batch (bounds the sender's memory). */
#define OTN_BATCH ((size_t)4096)

#define KK_TWEAK_HI ((uint64_t)1 << 62) /* and + 1: the hash's two stages */

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
 * (Guo-Katz-Wang-Yu 2020, the same assumption as the random OTs of
 * ot_1of2.c) those terms look random, so every non-chosen message stays
 * hidden (semi-honest, 128-bit computational). Sender cost: N*k hashes per
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
    CG_TRY(ot_check_usable(ot, err));
    if (ot->kk_ready || ot->otn == CG_OTN_SPLIT) return CG_OK;
    return ot_finish(ot, kk_setup(ot, err));
}

/* Where a 1-of-N sender's messages come from: a caller's table (read in
 * place) or a callback that fills a batch buffer. */
typedef struct {
    const uint64_t *table;
    cg_otn_fill_fn fill;
    void *ctx;
    unsigned N;
    const uint8_t *widths; /* the _w calls: instance i's messages widths[i] bits */
} msg_source;

/* The header's parameter: N and the width (uniform), or N and the widths'
 * sum (bits field 0: variable), so that ends that differ fail there. */
static unsigned otn_param(unsigned N, unsigned bits, const uint8_t *w, size_t n)
{
    if (!w) return bits | (N << 8);
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) sum += w[i];
    return (N << 8) | (unsigned)((sum & 0x7fff) << 17);
}

/* The messages of instances first .. first + count - 1; scratch holds
 * count * N entries and is only written for a callback source. */
static const uint64_t *source_batch(const msg_source *src, size_t first, size_t count,
                                    uint64_t *scratch)
{
    if (src->table) return src->table + first * src->N;
    src->fill(src->ctx, first, count, scratch);
    return scratch;
}

/* Appends count values, packed, to ot->out. The senders keep every
 * batch's messages there and send them all at the end (send_all): the
 * receiver sent all its batches at once, so answering batch by batch would
 * only turn each later batch's read into a change of direction (a round on
 * the channel's count) without saving the peer any waiting. The byte
 * stream is the same. */
static cg_status put_packed(cg_ot *ot, const uint64_t *vals, size_t count, unsigned bits,
                            cg_error *err)
{
    if (!ot_out_put_packed(ot, vals, count, bits))
        return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    return CG_OK;
}

/* A batch of cnt instances' N values each: uniform `bits`, or w[i] bits for
 * instance i (w non-NULL, pointing at the batch's first instance). */
static cg_status put_batch(cg_ot *ot, const uint64_t *vals, size_t cnt, unsigned N, unsigned bits,
                           const uint8_t *w, cg_error *err)
{
    if (!w) return put_packed(ot, vals, cnt * N, bits, err);
    size_t len = ot_var_bytes(w, cnt, N);
    if (!cg_buf_reserve(&ot->out, len)) return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    ot_pack_var(ot->out.data + ot->out.len, vals, w, cnt, N);
    ot->out.len += len;
    return CG_OK;
}

static cg_status send_all(cg_ot *ot, cg_error *err)
{
    CG_TRY(cg_chan_send(ot->ch, ot->out.data, ot->out.len, err));
    ot->out.len = 0;
    return cg_chan_flush(ot->ch, err);
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
    if (st == CG_OK) st = ot_expect_header(ot, KIND_OTN_KK, otn_param(N, bits, src->widths, n), n, err);
    if (st == CG_OK && !ot->kk_ready) st = kk_setup(ot, err);
    /* cs[x] = C(x) & s: what separates message x's hash input from q. */
    if (st == CG_OK) memset(cs, 0, (size_t)N * 32);
    for (unsigned x = 0; st == CG_OK && x < N; x++)
        for (unsigned j = 0; j < KK_COLS; j++)
            cs[32 * x + j / 8] |= (uint8_t)((parity8(x & j) & (ot->kk_s[j / 8] >> (j % 8))) << (j % 8));
    ot->out.len = 0;
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        size_t cols = round128(cnt), rowbytes = cols / 8;
        st = cg_chan_recv(ot->ch, u, KK_COLS * rowbytes, err);
        if (st != CG_OK) break;
        ot_sender_columns(ot->ctr, ot->kk_col, KK_COLS, ot->kk_s, ot->kk_block, u, q, rowbytes);
        ot_transpose(q, rows, KK_COLS, cols);
        ot_kk_hash_aesni(&ot->pi, rows, cs, N, cnt, ot->kk_index, KK_TWEAK_HI, pads);
        ot->kk_block += cols / 128;
        ot->kk_index += cols;
        const uint64_t *m = source_batch(src, b0, cnt, scratch);
        for (size_t i = 0; i < cnt * N; i++) pads[i] = (pads[i] ^ m[i]) & mask;
        st = put_batch(ot, pads, cnt, N, bits, src->widths ? src->widths + b0 : NULL, err);
    }
    if (st == CG_OK) st = send_all(ot, err);
    cg_free(u);
    cg_free(q);
    cg_free(rows);
    cg_free(cs);
    cg_free(pads);
    cg_free(scratch);
    return ot_finish(ot, st);
}

/* The receiver's first half: the extension, leaving the chosen message's
 * pad in out (the ciphertexts come in otn_recv_msgs). */
static cg_status otn_recv_kk_pads(cg_ot *ot, size_t n, unsigned N, unsigned param,
                                  const uint8_t *choice, uint64_t *out, cg_error *err)
{
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH, cap = round128(batch), rb = cap / 8;
    uint8_t *t = cg_alloc(KK_COLS * rb), *code = cg_alloc(KK_COLS * rb), *ucol = cg_alloc(rb);
    uint8_t *rows = cg_alloc(cap * 32);
    static const uint8_t zero_off[32];
    cg_status st = CG_OK;
    if (!t || !code || !ucol || !rows) st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    if (st == CG_OK) st = ot_send_header(ot, KIND_OTN_KK, param, n, err);
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
 * the instance is CG_OTN_SPLIT), else the log2 N-row construction below. */
static cg_status otn_send(cg_ot *ot, size_t n, unsigned N, unsigned bits, const msg_source *src,
                          cg_error *err)
{
    if (N < 2 || N > 256) return cg_error_set(err, CG_ERR_ARG, "OT: N = %u, need 2..256", N);
    if (n == 0) return CG_OK;
    if (N >= 8 && ot->otn == CG_OTN_KK13) return otn_send_kk(ot, n, N, bits, src, err);
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
    if (st == CG_OK) st = ot_expect_header(ot, KIND_OTN, otn_param(N, bits, src->widths, n), n, err);
    ot->out.len = 0;
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        st = ot_extend_send(ot, cnt * k, false, otn_rows_chunk, &c, err);
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
                            ot->tccr_multi(&ot->pi, w[bb],
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
            if (half < 8) ot->tccr_tweaks(&ot->pi, hin, tlo, thi, hout, gcnt * nh);
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
        st = put_batch(ot, pads, cnt, N, bits, src->widths ? src->widths + b0 : NULL, err);
    }
    if (st == CG_OK) st = send_all(ot, err);
    cg_free(hin);
    cg_free(hout);
    cg_free(tlo);
    cg_free(thi);
    otn_release(&c);
    cg_free(pads);
    cg_free(scratch);
    return ot_finish(ot, st);
}

cg_status cg_otn_send(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint64_t *msgs,
                      cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, bits, msgs, msgs, err));
    msg_source src = {.table = msgs, .N = N};
    return otn_send(ot, n, N, bits, &src, err);
}

cg_status cg_otn_send_fn(cg_ot *ot, size_t n, unsigned N, unsigned bits, cg_otn_fill_fn fill,
                         void *ctx, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, bits, ot, ot, err)); /* no arrays: fill below */
    if (n && !fill) return cg_error_set(err, CG_ERR_ARG, "OT: no message source");
    msg_source src = {.fill = fill, .ctx = ctx, .N = N};
    return otn_send(ot, n, N, bits, &src, err);
}

/* Every width in 1..64. */
static cg_status check_widths(const uint8_t *w, size_t n, cg_error *err)
{
    if (n && !w) return cg_error_set(err, CG_ERR_ARG, "OT: NULL widths");
    for (size_t i = 0; i < n; i++)
        if (w[i] < 1 || w[i] > 64)
            return cg_error_set(err, CG_ERR_ARG, "OT: width[%zu] = %u, need 1..64", i, w[i]);
    return CG_OK;
}

cg_status cg_otn_send_fn_w(cg_ot *ot, size_t n, unsigned N, const uint8_t *widths,
                           cg_otn_fill_fn fill, void *ctx, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, 64, ot, ot, err));
    CG_TRY(check_widths(widths, n, err));
    if (n && !fill) return cg_error_set(err, CG_ERR_ARG, "OT: no message source");
    msg_source src = {.fill = fill, .ctx = ctx, .N = N, .widths = widths};
    return otn_send(ot, n, N, 64, &src, err);
}

/* The log2 N-row receiver's first half, as otn_recv_kk_pads. */
static cg_status otn_recv_split_pads(cg_ot *ot, size_t n, unsigned N, unsigned param,
                                     const uint8_t *choice, uint64_t *out, cg_error *err)
{
    unsigned k = log2_ceil(N), half = 1u << (k - 1);
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH, nh = batch * k;
    otn_ctx c = {0};
    uint64_t *thi = cg_alloc(nh * sizeof *thi);
    uint8_t *hout = cg_alloc(nh * 16);
    cg_status st = otn_alloc(&c, nh, err);
    if (st == CG_OK && (!thi || !hout)) st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    if (st == CG_OK) st = ot_send_header(ot, KIND_OTN, param, n, err);
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        ot_choice_src cs = {choice + b0, k, NULL, 0};
        st = ot_extend_recv(ot, cnt * k, false, &cs, otn_rows_chunk, &c, err);
        if (st != CG_OK) break;
        for (size_t p = 0; p < cnt * k; p++) {
            unsigned ch = choice[b0 + p / k], j = (unsigned)(p % k);
            thi[p] = 1 + (uint64_t)((ch >> j) & 1u) * half + drop_bit(ch, j);
        }
        ot->tccr_tweaks(&ot->pi, c.rows, c.idx, thi, hout, cnt * k);
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
                               const uint8_t *widths, const uint8_t *choice, uint64_t *out,
                               cg_error *err)
{
    uint64_t mask = mask_of(bits);
    size_t batch = n < OTN_BATCH ? n : OTN_BATCH;
    cg_status st = CG_OK;
    for (size_t b0 = 0; st == CG_OK && b0 < n; b0 += batch) {
        size_t cnt = n - b0 < batch ? n - b0 : batch;
        const uint8_t *w = widths ? widths + b0 : NULL;
        size_t len = w ? ot_var_bytes(w, cnt, N) : cg_packed_size(cnt * N, bits);
        ot->out.len = 0;
        if (!cg_buf_reserve(&ot->out, len)) {
            st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
            break;
        }
        st = cg_chan_recv(ot->ch, ot->out.data, len, err);
        if (st != CG_OK) break;
        /* Only the chosen ciphertext of each instance is read. */
        for (size_t i = 0, bit = 0; w && i < cnt; bit += (size_t)N * w[i], i++) {
            uint64_t e = ot_get_bits(ot->out.data, bit + (size_t)choice[b0 + i] * w[i], w[i]);
            out[b0 + i] = (out[b0 + i] ^ e) & mask_of(w[i]);
        }
        for (size_t i = 0; !w && i < cnt; i++) {
            uint64_t e = cg_packed_get(ot->out.data, len, i * N + choice[b0 + i], bits);
            out[b0 + i] = (out[b0 + i] ^ e) & mask;
        }
    }
    return st;
}

static cg_status otn_recv_begin(cg_ot *ot, size_t n, unsigned N, unsigned bits,
                                const uint8_t *widths, const uint8_t *choice, uint64_t *out,
                                cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (N < 2 || N > 256) return cg_error_set(err, CG_ERR_ARG, "OT: N = %u, need 2..256", N);
    if (widths) CG_TRY(check_widths(widths, n, err));
    if (n == 0) return CG_OK;
    CG_TRY(ot_check_choices(choice, n, N, err));
    bool kk = N >= 8 && ot->otn == CG_OTN_KK13;
    unsigned param = otn_param(N, bits, widths, n);
    cg_status st = kk ? otn_recv_kk_pads(ot, n, N, param, choice, out, err)
                      : otn_recv_split_pads(ot, n, N, param, choice, out, err);
    if (st == CG_OK) ot_set_pending(ot, KIND_OTN, n, param);
    return ot_finish(ot, st);
}

static cg_status otn_recv_end(cg_ot *ot, size_t n, unsigned N, unsigned bits,
                              const uint8_t *widths, const uint8_t *choice, uint64_t *out,
                              cg_error *err)
{
    if (!ot) return cg_error_set(err, CG_ERR_ARG, "OT: NULL instance");
    if (n == 0 && !ot->pending) return CG_OK;
    if (widths) CG_TRY(check_widths(widths, n, err));
    if (!ot->pending || ot->pending_kind != KIND_OTN || ot->pending_n != n ||
        ot->pending_bits != otn_param(N, bits, widths, n) || !choice || !out)
        return cg_error_set(err, CG_ERR_STATE, "OT: cg_otn_recv_end does not match a begun 1-of-N OT");
    ot->pending = false;
    return ot_finish(ot, otn_recv_msgs(ot, n, N, bits, widths, choice, out, err));
}

cg_status cg_otn_recv_begin(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                            uint64_t *out, cg_error *err)
{
    return otn_recv_begin(ot, n, N, bits, NULL, choice, out, err);
}

cg_status cg_otn_recv_end(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                          uint64_t *out, cg_error *err)
{
    return otn_recv_end(ot, n, N, bits, NULL, choice, out, err);
}

cg_status cg_otn_recv_w_begin(cg_ot *ot, size_t n, unsigned N, const uint8_t *widths,
                              const uint8_t *choice, uint64_t *out, cg_error *err)
{
    if (n && !widths) return cg_error_set(err, CG_ERR_ARG, "OT: NULL widths");
    return otn_recv_begin(ot, n, N, 64, widths, choice, out, err);
}

cg_status cg_otn_recv_w_end(cg_ot *ot, size_t n, unsigned N, const uint8_t *widths,
                            const uint8_t *choice, uint64_t *out, cg_error *err)
{
    if (n && !widths) return cg_error_set(err, CG_ERR_ARG, "OT: NULL widths");
    return otn_recv_end(ot, n, N, 64, widths, choice, out, err);
}

cg_status cg_otn_recv(cg_ot *ot, size_t n, unsigned N, unsigned bits, const uint8_t *choice,
                      uint64_t *out, cg_error *err)
{
    CG_TRY(cg_otn_recv_begin(ot, n, N, bits, choice, out, err));
    return cg_otn_recv_end(ot, n, N, bits, choice, out, err);
}

