/* The two-party context: set-up over an OT pair, the failed state, the exact
 * switch, and the COT batches in both directions at once that the arithmetic
 * (mpc_arith.c) and boolean (mpc_bool.c) protocols run on. */
#include <stdio.h>
#include <string.h>

#include "mpc/mpc_internal.h"

cg_status cg_mpc_new(cg_mpc **out, cg_channel *ch, cg_party party, const cg_mpc_options *opt,
                     cg_error *err)
{
    static const cg_mpc_options defaults = {.otn = CG_OTN_KK13, .ot = CG_OT_IKNP};
    if (!opt) opt = &defaults;
    if (!out || !ch || (party != CG_SERVER && party != CG_CLIENT) ||
        !cg_otn_kind_valid(opt->otn) || !cg_ot_kind_valid(opt->ot))
        return cg_error_set(err, CG_ERR_ARG, "cg_mpc_new: bad argument");
    *out = NULL;
    cg_mpc *m = cg_calloc(1, sizeof *m);
    if (!m) return cg_error_set(err, CG_ERR_NOMEM, "cannot allocate mpc context");
    m->ch = ch;
    m->party = party;
    cg_prg_init_random(&m->prg);
    cg_status st = cg_ot_pair_new_kind(&m->ot, ch, (int)party, opt->otn, opt->ot, err);
    /* Comparisons use 1-of-16 OTs in both directions (large batches are
     * split between them): set up both extensions now rather than inside
     * the first comparison, server-to-client first. */
    if (st == CG_OK)
        st = cg_ot_setup_otn(party == CG_SERVER ? m->ot.send : m->ot.recv, err);
    if (st == CG_OK)
        st = cg_ot_setup_otn(party == CG_SERVER ? m->ot.recv : m->ot.send, err);
    if (st != CG_OK) {
        cg_mpc_free(m);
        return st;
    }
    *out = m;
    return CG_OK;
}

void cg_mpc_free(cg_mpc *m)
{
    if (!m) return;
    cg_ot_pair_free(&m->ot);
    for (unsigned b = 0; b <= 64; b++) { /* the daBits and bundles made ahead (mpc_dabit.c) */
        mpc_bitstock_free(&m->db[b], MPC_DABIT_BITS, MPC_DABIT_ARITH);
        mpc_bitstock_free(&m->bd[b], MPC_BUNDLE_BITS, MPC_BUNDLE_ARITH);
    }
    for (int k = 0; k < MPC_POOL_KINDS; k++) /* product material (mpc_beaver.c) */
        for (unsigned b = 0; b <= 64; b++) {
            mpc_pool *p = &m->pool[k][b];
            if (p->v) cg_secure_zero(p->v, p->cap * p->per * sizeof *p->v);
            cg_free(p->v);
        }
    cg_free(m->prof);
    cg_prg_clear(&m->prg);
    cg_free(m);
}

cg_party cg_mpc_party(const cg_mpc *m) { return m->party; }
cg_channel *cg_mpc_channel(cg_mpc *m) { return m->ch; }

cg_status mpc_check(cg_mpc *m, unsigned bits, unsigned min_bits, const char *what, cg_error *err)
{
    if (!m) return cg_error_set(err, CG_ERR_ARG, "%s: no context", what);
    if (m->failed)
        return cg_error_set(err, CG_ERR_STATE, "%s: an earlier protocol call failed", what);
    if (bits < min_bits || bits > 64)
        return cg_error_set(err, CG_ERR_PARAM, "%s: ring of %u bits outside [%u, 64]", what, bits,
                            min_bits);
    return CG_OK;
}

cg_status mpc_fail(cg_mpc *m, cg_status st)
{
    if (st != CG_OK) m->failed = true;
    return st;
}

void cg_mpc_set_exact(cg_mpc *m, bool exact)
{
    if (m) m->exact = exact;
}

cg_status mpc_ot_reserve(cg_mpc *m, size_t rows_send, size_t rows_recv, cg_error *err)
{
    bool server = m->party == CG_SERVER;
    CG_TRY(cg_ot_reserve(server ? m->ot.send : m->ot.recv, server ? rows_send : rows_recv, 2, err));
    return cg_ot_reserve(server ? m->ot.recv : m->ot.send, server ? rows_recv : rows_send, 2, err);
}

cg_status cg_mpc_ot_fill_ahead(cg_mpc *m, cg_error *err)
{
    CG_TRY(mpc_check(m, 64, 1, "cg_mpc_ot_fill_ahead", err));
    /* The order of mpc_ot_reserve: each instance meets its peer's. */
    bool server = m->party == CG_SERVER;
    cg_status st = cg_ot_fill_ahead(server ? m->ot.send : m->ot.recv, err);
    if (st == CG_OK) st = cg_ot_fill_ahead(server ? m->ot.recv : m->ot.send, err);
    return mpc_fail(m, st);
}

/* COTs per direction per piece of mpc_cot_both: bounds what is in flight
 * (about 8 MB of IKNP extension); each piece is one round trip, so a
 * block's material at a decode step (cg_mpc_prepare: LayerNorm, GELU and
 * softmax, about 2^18.1 COTs at L = 64) takes one. */
#define COT_PIECE ((size_t)1 << 19)

/* Each party begins its receiver end first, so both expand their extension
 * matrices at the same time instead of taking turns. The first rc_send of
 * the sent COTs and the first rc_recv of the received ones have random
 * choices (the peer's rc_recv is this party's rc_send): each piece's
 * share of them rides in its one receiver call (cg_cot_recv_mix_begin). */
static cg_status cot_both(cg_mpc *m, unsigned bits, const uint8_t *ws, size_t n_send,
                          const uint64_t *delta, uint64_t *x0, const uint8_t *wr, size_t n_recv,
                          size_t rc_recv, uint8_t *choice, uint64_t *out, cg_error *err)
{
    cg_status st = CG_OK;
    bool w = ws || wr;
    for (size_t s = 0, r = 0; st == CG_OK && (s < n_send || r < n_recv);) {
        size_t ps = n_send - s < COT_PIECE ? n_send - s : COT_PIECE;
        size_t pr = n_recv - r < COT_PIECE ? n_recv - r : COT_PIECE;
        size_t rc = rc_recv <= r ? 0 : rc_recv - r < pr ? rc_recv - r : pr;
        st = mpc_ot_reserve(m, ps, pr, err);
        if (st == CG_OK)
            st = w ? cg_cot_recv_w_mix_begin(m->ot.recv, pr, wr + r, rc, choice + r, out + r, err)
                   : cg_cot_recv_mix_begin(m->ot.recv, pr, bits, rc, choice + r, out + r, err);
        if (st == CG_OK)
            st = w ? cg_cot_send_w(m->ot.send, ps, ws + s, delta + s, x0 + s, err)
                   : cg_cot_send(m->ot.send, ps, bits, delta + s, x0 + s, err);
        if (st == CG_OK)
            st = w ? cg_cot_recv_w_end(m->ot.recv, pr, wr + r, choice + r, out + r, err)
                   : cg_cot_recv_end(m->ot.recv, pr, bits, choice + r, out + r, err);
        s += ps;
        r += pr;
    }
    return st;
}

cg_status mpc_cot_both(cg_mpc *m, unsigned bits, size_t n_send, const uint64_t *delta,
                       uint64_t *x0, size_t n_recv, uint8_t *choice, uint64_t *out,
                       cg_error *err)
{
    return cot_both(m, bits, NULL, n_send, delta, x0, NULL, n_recv, 0, choice, out, err);
}

cg_status mpc_cot_both_w(cg_mpc *m, size_t n_send, const uint8_t *ws, const uint64_t *delta,
                         uint64_t *x0, size_t n_recv, const uint8_t *wr, size_t rc_recv,
                         uint8_t *choice, uint64_t *out, cg_error *err)
{
    if ((n_send && !ws) || (n_recv && !wr)) return cg_error_set(err, CG_ERR_ARG, "cot: no widths");
    if (rc_recv > n_recv) return cg_error_set(err, CG_ERR_ARG, "cot: random choices past the batch");
    return cot_both(m, 64, ws, n_send, delta, x0, wr, n_recv, rc_recv, choice, out, err);
}

void mpc_cot_bufs_free(mpc_cot_bufs *b)
{
    cg_free(b->delta);
    cg_free(b->x0);
    cg_free(b->got);
    cg_free(b->choice);
}

cg_status mpc_cot_bufs_alloc(mpc_cot_bufs *b, size_t n_send, size_t n_recv, const char *what,
                             cg_error *err)
{
    size_t cs = n_send ? n_send : 1, cr = n_recv ? n_recv : 1;
    b->delta = cg_alloc(cs * sizeof *b->delta);
    b->x0 = cg_alloc(cs * sizeof *b->x0);
    b->got = cg_alloc(cr * sizeof *b->got);
    b->choice = cg_alloc(cr);
    if (b->delta && b->x0 && b->got && b->choice) return CG_OK;
    mpc_cot_bufs_free(b);
    return cg_error_set(err, CG_ERR_NOMEM, "%s: out of memory", what);
}

/* ---- Profiling ---- */

static cg_mpc_prof_entry *prof_entry(mpc_prof *p, const char *sub)
{
    char name[sizeof p->p.e[0].name];
    snprintf(name, sizeof name, "%s/%s", p->label[0] ? p->label : "-", sub);
    for (size_t i = 0; i < p->p.n; i++)
        if (strcmp(p->p.e[i].name, name) == 0) return &p->p.e[i];
    if (p->p.n == CG_MPC_PROF_MAX) return &p->p.e[CG_MPC_PROF_MAX - 1];
    cg_mpc_prof_entry *e = &p->p.e[p->p.n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    return e;
}

/* Charges what passed since the last charge to the innermost running
 * sub-protocol (refill bytes to ferret.refill) and takes new counters. */
static void prof_charge(cg_mpc *m)
{
    mpc_prof *p = m->prof;
    cg_chan_stats cs;
    cg_ot_stats os, orc;
    cg_chan_get_stats(m->ch, &cs);
    cg_ot_get_stats(m->ot.send, &os);
    cg_ot_get_stats(m->ot.recv, &orc);
    uint64_t rs = os.refill_bytes - p->rs0, rr = orc.refill_bytes - p->rr0;
    cg_mpc_prof_entry *e = prof_entry(p, p->depth ? p->stack[p->depth - 1] : "-");
    e->bytes_sent += cs.total.bytes_sent - p->c0.bytes_sent - rs;
    e->bytes_received += cs.total.bytes_received - p->c0.bytes_received - rr;
    e->rounds += cs.total.rounds - p->c0.rounds;
    e->cots_sent += os.cots_used - p->cs0;
    e->cots_received += orc.cots_used - p->cr0;
    if (rs || rr) {
        cg_mpc_prof_entry *f = prof_entry(p, "ferret.refill");
        f->bytes_sent += rs;
        f->bytes_received += rr;
    }
    p->c0 = cs.total;
    p->cs0 = os.cots_used;
    p->cr0 = orc.cots_used;
    p->rs0 = os.refill_bytes;
    p->rr0 = orc.refill_bytes;
}

void mpc_prof_push(cg_mpc *m, const char *name)
{
    if (!m->prof || !m->prof->on) return;
    prof_charge(m);
    mpc_prof *p = m->prof;
    if (p->depth < MPC_PROF_DEPTH) p->stack[p->depth] = name;
    p->depth++;
    if (p->depth <= MPC_PROF_DEPTH) prof_entry(p, name)->calls++;
}

void mpc_prof_pop(cg_mpc *m)
{
    if (!m->prof || !m->prof->on || m->prof->depth == 0) return;
    prof_charge(m);
    m->prof->depth--;
}

void cg_mpc_profile_reset(cg_mpc *m, bool on)
{
    if (!m) return;
    if (!m->prof && !(m->prof = cg_calloc(1, sizeof *m->prof))) return; /* profiling stays off */
    memset(m->prof, 0, sizeof *m->prof);
    m->prof->on = on;
    if (on) prof_charge(m), m->prof->p.n = 0; /* takes the counters now */
}

void cg_mpc_profile_label(cg_mpc *m, const char *label)
{
    if (!m || !m->prof || !m->prof->on) return;
    prof_charge(m);
    snprintf(m->prof->label, sizeof m->prof->label, "%s", label ? label : "");
}

void cg_mpc_profile_get(cg_mpc *m, cg_mpc_profile *out)
{
    memset(out, 0, sizeof *out);
    if (m && m->prof && m->prof->on) {
        prof_charge(m);
        *out = m->prof->p;
    }
}
