/* The OTs with two messages, on the IKNP extension (iknp.c): correlated OT
 * over Z_{2^bits} (with the receiver's split _begin/_end halves),
 * chosen-message OT and random OT. Each hashes the extension's rows once
 * per message (H(i, q_i), H(i, q_i ^ Delta) on the sender, H(i, t_i) on the
 * receiver) and, except ROT, adds one packed message from the sender.
 * The random-choice receivers (_rc, _mix, cg_rot_recv_random) mark their
 * header with KIND_RC and the count of random choices; the senders take
 * either form (their side is the same but for Ferret's corrections). */
#include "ot/ot_internal.h"

#include <string.h>

/* ---- correlated OT ---- */

typedef struct cot_ctx {
    unsigned bits;
    const uint8_t *widths; /* per instance (the _w calls), else NULL: all `bits` */
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
    const uint8_t *w = c->widths ? c->widths + begin : NULL;
    for (size_t i = 0; i < count; i++) {
        if (w) mask = mask_of(w[i]);
        uint64_t x0 = lo64(ot->h0 + 16 * i) & mask;
        c->x0[begin + i] = x0;
        ot->vals[i] = (x0 + c->delta[begin + i] - lo64(ot->h1 + 16 * i)) & mask;
    }
    /* Appended, sent whole after the last chunk (send_out): the receiver
     * sent every chunk up front, so answering chunk by chunk would only add
     * changes of direction. */
    if (!(w ? ot_out_put_var(ot, ot->vals, w, count) : ot_out_put_packed(ot, ot->vals, count, c->bits)))
        return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    return CG_OK;
}

static cg_status send_out(cg_ot *ot, cg_error *err)
{
    CG_TRY(cg_chan_send(ot->ch, ot->out.data, ot->out.len, err));
    ot->out.len = 0;
    return cg_chan_flush(ot->ch, err);
}

static cg_status store_hash_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                                  cg_error *err)
{
    (void)first;
    (void)err;
    cot_ctx *c = vctx;
    uint64_t mask = mask_of(c->bits);
    const uint8_t *w = c->widths ? c->widths + begin : NULL;
    for (size_t i = 0; i < count; i++) {
        if (w) mask = mask_of(w[i]);
        c->out[begin + i] = lo64(ot->h0 + 16 * i) & mask;
    }
    return CG_OK;
}

/* Receives one chunk's count packed values into vals. */
/* The receiver's part of every 1-out-of-2 batch: the header, then the
 * extension with out[i] = the pad of choice[i] (H(t_i), low bits). */
static cg_status recv_pads(cg_ot *ot, unsigned kind, size_t n, unsigned bits, const uint8_t *widths,
                           const uint8_t *choice, uint8_t *rc, size_t rc_n, uint64_t *out,
                           cg_error *err)
{
    cot_ctx c = {.bits = bits, .widths = widths, .out = out, .choice = choice};
    ot_choice_src cs = {rc ? rc : choice, 0, rc, rc_n};
    CG_TRY(ot_send_header_rc(ot, kind, bits, n, rc ? rc_n : 0, err));
    return ot_extend_recv(ot, n, true, &cs, store_hash_chunk, &c, err);
}

static cg_status recv_packed_chunk(cg_ot *ot, size_t count, unsigned bits, uint64_t *vals,
                                   cg_error *err)
{
    size_t len = cg_packed_size(count, bits);
    ot->out.len = 0;
    if (!cg_buf_reserve(&ot->out, len)) return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    CG_TRY(cg_chan_recv(ot->ch, ot->out.data, len, err));
    cg_unpack_bits(vals, ot->out.data, count, bits);
    return CG_OK;
}

cg_status cg_cot_send(cg_ot *ot, size_t n, unsigned bits, const uint64_t *delta, uint64_t *x0,
                      cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, bits, delta, x0, err));
    if (n == 0) return CG_OK;
    cot_ctx c = {.bits = bits, .delta = delta, .x0 = x0};
    cg_status st = ot_expect_header_rc(ot, KIND_COT, bits, n, err);
    ot->out.len = 0;
    if (st == CG_OK) st = ot_extend_send(ot, n, true, cot_send_chunk, &c, err);
    if (st == CG_OK) st = send_out(ot, err);
    return ot_finish(ot, st);
}

cg_status cg_cot_recv_begin(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice,
                            uint64_t *out, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(ot_check_choices(choice, n, 2, err));
    cg_status st = recv_pads(ot, KIND_COT, n, bits, NULL, choice, NULL, 0, out, err);
    if (st == CG_OK) ot_set_pending(ot, KIND_COT, n, bits);
    return ot_finish(ot, st);
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
    return ot_finish(ot, st);
}

cg_status cg_cot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                      cg_error *err)
{
    CG_TRY(cg_cot_recv_begin(ot, n, bits, choice, out, err));
    return cg_cot_recv_end(ot, n, bits, choice, out, err);
}

/* Random choices in [0, n_rc): the others must be 0/1. */
static cg_status check_mix(cg_ot *ot, size_t n, size_t n_rc, const uint8_t *choice, cg_error *err)
{
    (void)ot;
    if (n_rc > n) return cg_error_set(err, CG_ERR_ARG, "OT: %zu random choices of %zu", n_rc, n);
    return ot_check_choices(choice + n_rc, n - n_rc, 2, err);
}

cg_status cg_cot_recv_mix_begin(cg_ot *ot, size_t n, unsigned bits, size_t n_rc, uint8_t *choice,
                                uint64_t *out, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(check_mix(ot, n, n_rc, choice, err));
    cg_status st = recv_pads(ot, KIND_COT, n, bits, NULL, choice, choice, n_rc, out, err);
    /* cg_cot_recv_end finishes it, choice now filled */
    if (st == CG_OK) ot_set_pending(ot, KIND_COT, n, bits);
    return ot_finish(ot, st);
}

cg_status cg_cot_recv_rc(cg_ot *ot, size_t n, unsigned bits, uint8_t *choice, uint64_t *out,
                         cg_error *err)
{
    CG_TRY(cg_cot_recv_mix_begin(ot, n, bits, n, choice, out, err));
    return cg_cot_recv_end(ot, n, bits, choice, out, err);
}

/* ---- correlated OT with a width per instance ---- */

/* The header's parameter: the widths' sum (mod 2^32), so that two ends
 * with different widths fail at the header. Every width in 1..64. */
static cg_status width_param(const uint8_t *w, size_t n, unsigned *param, cg_error *err)
{
    if (n && !w) return cg_error_set(err, CG_ERR_ARG, "OT: NULL widths");
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < 1 || w[i] > 64)
            return cg_error_set(err, CG_ERR_ARG, "OT: width[%zu] = %u, need 1..64", i, w[i]);
        sum += w[i];
    }
    *param = (unsigned)(sum & 0xffffffffu);
    return CG_OK;
}

cg_status cg_cot_send_w(cg_ot *ot, size_t n, const uint8_t *widths, const uint64_t *delta,
                        uint64_t *x0, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, 64, delta, x0, err));
    if (n == 0) return CG_OK;
    unsigned param;
    CG_TRY(width_param(widths, n, &param, err));
    cot_ctx c = {.bits = 64, .widths = widths, .delta = delta, .x0 = x0};
    cg_status st = ot_expect_header_rc(ot, KIND_COTW, param, n, err);
    ot->out.len = 0;
    if (st == CG_OK) st = ot_extend_send(ot, n, true, cot_send_chunk, &c, err);
    if (st == CG_OK) st = send_out(ot, err);
    return ot_finish(ot, st);
}

cg_status cg_cot_recv_w_begin(cg_ot *ot, size_t n, const uint8_t *widths, const uint8_t *choice,
                              uint64_t *out, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, 64, choice, out, err));
    if (n == 0) return CG_OK;
    unsigned param;
    CG_TRY(width_param(widths, n, &param, err));
    CG_TRY(ot_check_choices(choice, n, 2, err));
    cg_status st = recv_pads(ot, KIND_COTW, n, param, widths, choice, NULL, 0, out, err); /* param: the header's */
    if (st == CG_OK) ot_set_pending(ot, KIND_COTW, n, param);
    return ot_finish(ot, st);
}

cg_status cg_cot_recv_w_mix_begin(cg_ot *ot, size_t n, const uint8_t *widths, size_t n_rc,
                                  uint8_t *choice, uint64_t *out, cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, 64, choice, out, err));
    if (n == 0) return CG_OK;
    unsigned param;
    CG_TRY(width_param(widths, n, &param, err));
    CG_TRY(check_mix(ot, n, n_rc, choice, err));
    cg_status st = recv_pads(ot, KIND_COTW, n, param, widths, choice, choice, n_rc, out, err);
    if (st == CG_OK) ot_set_pending(ot, KIND_COTW, n, param);
    return ot_finish(ot, st);
}

cg_status cg_cot_recv_w_end(cg_ot *ot, size_t n, const uint8_t *widths, const uint8_t *choice,
                            uint64_t *out, cg_error *err)
{
    if (!ot) return cg_error_set(err, CG_ERR_ARG, "OT: NULL instance");
    if (n == 0 && !ot->pending) return CG_OK;
    unsigned param = 0;
    if (n) CG_TRY(width_param(widths, n, &param, err));
    if (!ot->pending || ot->pending_kind != KIND_COTW || ot->pending_n != n ||
        ot->pending_bits != param || !choice || !out)
        return cg_error_set(err, CG_ERR_STATE, "OT: cg_cot_recv_w_end does not match a begun COT");
    ot->pending = false;
    cg_status st = CG_OK;
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        const uint8_t *w = widths + begin;
        size_t len = ot_var_bytes(w, count, 1);
        ot->out.len = 0;
        if (!cg_buf_reserve(&ot->out, len)) st = cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
        if (st == CG_OK) st = cg_chan_recv(ot->ch, ot->out.data, len, err);
        if (st != CG_OK) break;
        ot_unpack_var(ot->vals, ot->out.data, w, count);
        for (size_t i = 0; i < count; i++) {
            uint64_t sel = 0 - (uint64_t)choice[begin + i];
            out[begin + i] = (out[begin + i] + (ot->vals[i] & sel)) & mask_of(w[i]);
        }
    }
    return ot_finish(ot, st);
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
    bool ok = ot_out_put_packed(ot, ot->vals, count, c->bits);
    for (size_t i = 0; i < count; i++) ot->vals[i] = (c->m1[begin + i] ^ lo64(ot->h1 + 16 * i)) & mask;
    if (!ok || !ot_out_put_packed(ot, ot->vals, count, c->bits))
        return cg_error_set(err, CG_ERR_NOMEM, "OT: out of memory");
    return cg_chan_send(ot->ch, ot->out.data, ot->out.len, err);
}

cg_status cg_ot_send(cg_ot *ot, size_t n, unsigned bits, const uint64_t *m0, const uint64_t *m1,
                     cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, bits, m0, m1, err));
    if (n == 0) return CG_OK;
    ot_ctx c = {bits, m0, m1};
    cg_status st = ot_expect_header(ot, KIND_OT, bits, n, err);
    if (st == CG_OK) st = ot_extend_send(ot, n, true, ot_send_chunk, &c, err);
    if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
    return ot_finish(ot, st);
}

cg_status cg_ot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                     cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(ot_check_choices(choice, n, 2, err));
    cg_status st = recv_pads(ot, KIND_OT, n, bits, NULL, choice, NULL, 0, out, err);
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
    return ot_finish(ot, st);
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
    CG_TRY(ot_check_call(ot, CG_OT_SENDER, n, bits, r0, r1, err));
    if (n == 0) return CG_OK;
    rot_ctx c = {bits, r0, r1};
    cg_status st = ot_expect_header_rc(ot, KIND_ROT, bits, n, err);
    if (st == CG_OK) st = ot_extend_send(ot, n, true, rot_send_chunk, &c, err);
    return ot_finish(ot, st);
}

cg_status cg_rot_recv(cg_ot *ot, size_t n, unsigned bits, const uint8_t *choice, uint64_t *out,
                      cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    CG_TRY(ot_check_choices(choice, n, 2, err));
    cg_status st = recv_pads(ot, KIND_ROT, n, bits, NULL, choice, NULL, 0, out, err);
    if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
    return ot_finish(ot, st);
}

cg_status cg_rot_recv_random(cg_ot *ot, size_t n, unsigned bits, uint8_t *choice, uint64_t *out,
                             cg_error *err)
{
    CG_TRY(ot_check_call(ot, CG_OT_RECEIVER, n, bits, choice, out, err));
    if (n == 0) return CG_OK;
    cg_status st = recv_pads(ot, KIND_ROT, n, bits, NULL, choice, choice, n, out, err);
    if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
    return ot_finish(ot, st);
}
