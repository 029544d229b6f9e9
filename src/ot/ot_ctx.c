/* OT instances: set-up on a COT source (IKNP, or Ferret on top of it),
 * release, the extension core's dispatch to the source, statistics, the
 * Ferret reserve, and the pair of instances for both directions. */
#include "ot/ferret.h"

#include <string.h>

void cg_ot_free(cg_ot *ot)
{
    if (!ot) return;
    ot_iknp_release(ot);
    ot_ferret_free(ot->fe);
    cg_free(ot); /* wipes delta and the fixed key */
}

cg_ot_kind cg_ot_get_kind(const cg_ot *ot) { return ot->kind; }

void cg_ot_get_stats(const cg_ot *ot, cg_ot_stats *s)
{
    *s = ot->stats;
    if (ot->fe) s->stock = ot->fe->len;
}

cg_status cg_ot_new(cg_ot **out, cg_channel *ch, cg_ot_role role, cg_otn_kind otn, cg_error *err)
{
    return cg_ot_new_kind(out, ch, role, otn, CG_OT_IKNP, err);
}

cg_status cg_ot_new_kind(cg_ot **out, cg_channel *ch, cg_ot_role role, cg_otn_kind otn,
                         cg_ot_kind kind, cg_error *err)
{
    if (!out || !ch || (role != CG_OT_SENDER && role != CG_OT_RECEIVER) ||
        !cg_otn_kind_valid(otn) || !cg_ot_kind_valid(kind))
        return cg_error_set(err, CG_ERR_ARG, "cg_ot_new: bad argument");
    *out = NULL;
    if (!(cg_cpu_features_raw() & CG_CPU_AESNI))
        return cg_error_set(err, CG_ERR_UNSUPPORTED, "OT extension needs AES-NI");
    cg_ot *ot = cg_calloc(1, sizeof *ot);
    if (!ot) return cg_error_set(err, CG_ERR_NOMEM, "cg_ot_new: out of memory");
    ot->ch = ch;
    ot->role = role;
    /* Ferret: 1-of-N from log2 N COTs, which cost it about a bit each. */
    ot->otn = kind == CG_OT_FERRET ? CG_OTN_SPLIT : otn;
    ot->kind = kind;
    cg_status st = ot_iknp_init(ot, err);
    if (st == CG_OK && kind == CG_OT_FERRET) st = ot_ferret_new(ot, err);
    if (st != CG_OK) {
        cg_ot_free(ot);
        return st;
    }
    *out = ot;
    return CG_OK;
}

cg_status ot_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx, cg_error *err)
{
    ot->stats.cots_used += m;
    if (ot->fe) return ot_ferret_extend_send(ot, m, hash, fn, ctx, err);
    return ot_iknp_extend_send(ot, m, hash, fn, ctx, err);
}

cg_status ot_extend_recv(cg_ot *ot, size_t m, bool hash, const ot_choice_src *cs, ot_chunk_fn fn,
                         void *ctx, cg_error *err)
{
    ot->stats.cots_used += m;
    if (ot->fe) return ot_ferret_extend_recv(ot, m, hash, cs, fn, ctx, err);
    if (!cs->rc) return ot_iknp_extend_recv(ot, m, hash, cs, fn, ctx, err);
    /* IKNP's choices are chosen anyway: random ones from a PRG keyed from
     * the OS, as a fallback with the same interface. */
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_prg_bytes(&prg, cs->rc, cs->rc_n);
    cg_prg_clear(&prg);
    for (size_t i = 0; i < cs->rc_n; i++) cs->rc[i] &= 1;
    ot_choice_src chosen = {cs->rc, 0, NULL, 0};
    return ot_iknp_extend_recv(ot, m, hash, &chosen, fn, ctx, err);
}

cg_status cg_ot_reserve(cg_ot *ot, size_t n, unsigned N, cg_error *err)
{
    CG_TRY(ot_check_usable(ot, err));
    if (N < 2 || N > 256) return cg_error_set(err, CG_ERR_ARG, "cg_ot_reserve: N = %u, need 2..256", N);
    if (n > ((size_t)1 << 32)) return cg_error_set(err, CG_ERR_ARG, "cg_ot_reserve: too many");
    if (!ot->fe || n == 0) return CG_OK;
    unsigned k = 0;
    while ((1u << k) < N) k++;
    return ot_finish(ot, ot_ferret_ensure(ot, n * k, err));
}

cg_status cg_ot_fill_ahead(cg_ot *ot, cg_error *err)
{
    CG_TRY(ot_check_usable(ot, err));
    if (!ot->fe) return CG_OK;
    return ot_finish(ot, ot_ferret_fill_ahead(ot, err));
}

/* ---- call framing ---- */

/* Ferret: every refill a call needs runs right after its header, on both
 * ends, before any of its traffic; a refill in the middle would meet the
 * sender's messages for the first chunks where the tree message should be. */
static cg_status prepare(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err)
{
    if (!ot->fe) return CG_OK;
    size_t rows = n;
    if (kind == KIND_OTN) {
        unsigned N = (param >> 8) & 0x1ff, k = 0; /* above: a width sum (ot_1ofn.c) */
        while ((1u << k) < N) k++;
        rows = n * k;
    }
    return ot_ferret_ensure(ot, rows, err);
}

static void put_header(uint8_t h[16], unsigned kind, unsigned param, size_t n)
{
    uint64_t a = (uint64_t)kind | ((uint64_t)param << 32), b = n;
    for (int i = 0; i < 8; i++) {
        h[i] = (uint8_t)(a >> (8 * i));
        h[8 + i] = (uint8_t)(b >> (8 * i));
    }
}

cg_status ot_send_header(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err)
{
    uint8_t h[16];
    put_header(h, kind, param, n);
    CG_TRY(cg_chan_send(ot->ch, h, sizeof h, err));
    return prepare(ot, kind, param, n, err);
}

cg_status ot_expect_header(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err)
{
    uint8_t h[16], want[16];
    CG_TRY(cg_chan_recv(ot->ch, h, sizeof h, err));
    put_header(want, kind, param, n);
    if (memcmp(h, want, sizeof h) != 0)
        return cg_error_set(err, CG_ERR_FORMAT, "OT: the peer's call (kind, size) does not match this one");
    return prepare(ot, kind, param, n, err);
}

cg_status ot_send_header_rc(cg_ot *ot, unsigned kind, unsigned param, size_t n, size_t rc_n,
                            cg_error *err)
{
    if (rc_n == 0) return ot_send_header(ot, kind, param, n, err);
    uint8_t h[24];
    put_header(h, kind | KIND_RC, param, n);
    for (int i = 0; i < 8; i++) h[16 + i] = (uint8_t)((uint64_t)rc_n >> (8 * i));
    CG_TRY(cg_chan_send(ot->ch, h, sizeof h, err));
    return prepare(ot, kind, param, n, err);
}

cg_status ot_expect_header_rc(cg_ot *ot, unsigned kind, unsigned param, size_t n, cg_error *err)
{
    uint8_t h[16], want[16], want_rc[16], r[8];
    CG_TRY(cg_chan_recv(ot->ch, h, sizeof h, err));
    put_header(want, kind, param, n);
    put_header(want_rc, kind | KIND_RC, param, n);
    ot->rc_n = 0;
    if (memcmp(h, want_rc, sizeof h) == 0) {
        CG_TRY(cg_chan_recv(ot->ch, r, sizeof r, err));
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v |= (uint64_t)r[i] << (8 * i);
        if (v == 0 || v > n) return cg_error_set(err, CG_ERR_FORMAT, "OT: random choices out of range");
        ot->rc_n = (size_t)v;
    } else if (memcmp(h, want, sizeof h) != 0) {
        return cg_error_set(err, CG_ERR_FORMAT, "OT: the peer's call (kind, size) does not match this one");
    }
    return prepare(ot, kind, param, n, err);
}

/* ---- both directions ---- */

cg_status cg_ot_pair_new(cg_ot_pair *p, cg_channel *ch, int party, cg_otn_kind otn,
                         cg_error *err)
{
    return cg_ot_pair_new_kind(p, ch, party, otn, CG_OT_IKNP, err);
}

cg_status cg_ot_pair_new_kind(cg_ot_pair *p, cg_channel *ch, int party, cg_otn_kind otn,
                              cg_ot_kind kind, cg_error *err)
{
    if (!p || !ch || (party != 0 && party != 1))
        return cg_error_set(err, CG_ERR_ARG, "cg_ot_pair_new: bad argument");
    p->send = p->recv = NULL;
    cg_status st;
    /* Opposite orders on the two sides: party 0's sender meets party 1's receiver first. */
    if (party == 0) {
        st = cg_ot_new_kind(&p->send, ch, CG_OT_SENDER, otn, kind, err);
        if (st == CG_OK) st = cg_ot_new_kind(&p->recv, ch, CG_OT_RECEIVER, otn, kind, err);
    } else {
        st = cg_ot_new_kind(&p->recv, ch, CG_OT_RECEIVER, otn, kind, err);
        if (st == CG_OK) st = cg_ot_new_kind(&p->send, ch, CG_OT_SENDER, otn, kind, err);
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
