/* The IKNP OT extension core: set-up, the extension of m random OTs that
 * every derived OT runs on (ot_1of2.c, ot_1ofn.c), call framing and checks.
 * Instances themselves (and the choice of COT source) are ot_ctx.c's.
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

static const uint8_t fixed_pi_key[16] = {0x63, 0x72, 0x79, 0x70, 0x74, 0x6f, 0x67, 0x65,
                                         0x6e, 0x2d, 0x74, 0x63, 0x63, 0x72, 0x2d, 0x31};

cg_ot_role cg_ot_get_role(const cg_ot *ot) { return ot->role; }

const char *cg_ot_backend(void)
{
    if (!(cg_cpu_features_raw() & CG_CPU_AESNI)) return "none";
    return ot_vaes_available() ? "vaes" : "aesni";
}

void ot_iknp_release(cg_ot *ot)
{
    cg_free(ot->col);
    cg_free(ot->kk_col);
    cg_free(ot->mat);
    cg_free(ot->scratch);
    cg_free(ot->rows);
    cg_free(ot->h0);
    cg_free(ot->h1);
    cg_free(ot->vals);
    cg_buf_free(&ot->out);
}

cg_status ot_iknp_init(cg_ot *ot, cg_error *err)
{
    cg_ot_role role = ot->role;
    cg_channel *ch = ot->ch;
    bool vaes = ot_vaes_available();
    ot->ctr = vaes ? ot_aes_ctr_vaes : ot_aes_ctr_aesni;
    ot->tccr = vaes ? ot_tccr_vaes : ot_tccr_aesni;
    ot->tccr_multi = vaes ? ot_tccr_multi_vaes : ot_tccr_multi_aesni;
    ot->tccr_tweaks = vaes ? ot_tccr_tweaks_vaes : ot_tccr_tweaks_aesni;
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
        (role == CG_OT_SENDER && !ot->h1))
        return cg_error_set(err, CG_ERR_NOMEM, "cg_ot_new: out of memory");
    ot_aes_expand_aesni(&ot->pi, fixed_pi_key);
    cg_status st;
    if (role == CG_OT_SENDER) {
        uint8_t keys[OT_BASE_OTS][16];
        cg_random_bytes(ot->delta, sizeof ot->delta);
        /* Ferret keeps each COT's choice in the low bit of the receiver's
         * row (see ferret.c), which needs Delta's low bit set, as emp-ot
         * does: 127 secret bits. */
        if (ot->kind == CG_OT_FERRET) ot->delta[0] |= 1;
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
    return st;
}

/* ---- the extension core ---- */

static unsigned choice_bit(const ot_choice_src *c, size_t p)
{
    return c->k ? (c->choice[p / c->k] >> (p % c->k)) & 1u : c->choice[p] & 1u;
}

void ot_sender_columns(void (*ctr)(const ot_aes_key *, uint64_t, uint8_t *, size_t),
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

cg_status ot_iknp_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx,
                              cg_error *err)
{
    for (size_t begin = 0; begin < m; begin += CHUNK) {
        size_t count = m - begin < CHUNK ? m - begin : CHUNK;
        size_t cols = round128(count), rowbytes = cols / 8, nblocks = cols / 128;
        CG_TRY(cg_chan_recv(ot->ch, ot->scratch, OT_BASE_OTS * rowbytes, err));
        ot_sender_columns(ot->ctr, ot->col, OT_BASE_OTS, ot->delta, ot->prg_block, ot->scratch,
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

cg_status ot_iknp_extend_recv(cg_ot *ot, size_t m, bool hash, const ot_choice_src *cs,
                              ot_chunk_fn fn, void *ctx, cg_error *err)
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

/* ---- call framing and checks ---- */

cg_status ot_check_usable(const cg_ot *ot, cg_error *err)
{
    if (!ot) return cg_error_set(err, CG_ERR_ARG, "OT: NULL instance");
    if (ot->failed != CG_OK)
        return cg_error_set(err, CG_ERR_STATE, "OT: instance unusable after an earlier error (%s)",
                            cg_status_name(ot->failed));
    if (ot->pending)
        return cg_error_set(err, CG_ERR_STATE, "OT: a begun receiver call awaits its _end");
    return CG_OK;
}

cg_status ot_check_call(cg_ot *ot, cg_ot_role role, size_t n, unsigned bits, const void *p1,
                        const void *p2, cg_error *err)
{
    CG_TRY(ot_check_usable(ot, err));
    if (ot->role != role)
        return cg_error_set(err, CG_ERR_STATE, "OT: %s call on a %s instance",
                            role == CG_OT_SENDER ? "sender" : "receiver",
                            ot->role == CG_OT_SENDER ? "sender" : "receiver");
    if (bits < 1 || bits > 64) return cg_error_set(err, CG_ERR_ARG, "OT: bits = %u, need 1..64", bits);
    if (n > ((size_t)1 << 40)) return cg_error_set(err, CG_ERR_ARG, "OT: batch too large");
    if (n && (!p1 || !p2)) return cg_error_set(err, CG_ERR_ARG, "OT: NULL array");
    return CG_OK;
}

cg_status ot_check_choices(const uint8_t *c, size_t n, unsigned limit, cg_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (c[i] >= limit)
            return cg_error_set(err, CG_ERR_RANGE, "OT: choice[%zu] = %u out of range", i, c[i]);
    return CG_OK;
}

cg_status ot_finish(cg_ot *ot, cg_status st)
{
    ot->rc_n = 0;
    if (st != CG_OK && st != CG_ERR_ARG && st != CG_ERR_RANGE && ot->failed == CG_OK) ot->failed = st;
    return st;
}

bool ot_out_put_packed(cg_ot *ot, const uint64_t *vals, size_t count, unsigned bits)
{
    size_t len = cg_packed_size(count, bits);
    if (!cg_buf_reserve(&ot->out, len)) return false;
    cg_pack_bits(ot->out.data + ot->out.len, vals, count, bits);
    ot->out.len += len;
    return true;
}
