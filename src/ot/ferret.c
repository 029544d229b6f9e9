/* Ferret COTs for the extension core: the stock, refills (ferret_ggm.c does
 * the trees and the LPN), the IKNP bootstrap, and the two ends of the
 * extension with chosen or random choices. See ferret.h for the construction.
 *
 * Chosen choices: a stock COT has a random choice b_i; the receiver with
 * choice r_i sends d_i = r_i ^ b_i (one bit) and the sender shifts its row
 * to q_i ^ d_i Delta, so that t_i = q_i ^ r_i Delta as an IKNP row. The
 * derived OTs (ot_1of2.c, ot_1ofn.c) then hash the rows as before, with
 * tweaks from the same per-instance counter. Random choices (a KIND_RC
 * call's prefix) are the b_i themselves: no d_i, no shift.
 *
 * Choice bits ride in the rows: Delta's low bit is 1 and every sender row
 * of the base, the trees and so (by linearity) the output has low bit 0,
 * so the receiver's row t = q ^ b Delta has low bit b. The LPN expansion
 * then reads one table entry per nonzero, not two. */
#include "ot/ferret.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

const fe_params fe_small = {649728, 36288, 1269, 9};
const fe_params fe_large = {10608640, 589824, 1295, 13};

cg_status ot_ferret_new(cg_ot *ot, cg_error *err)
{
    ot->fe = cg_calloc(1, sizeof *ot->fe);
    if (!ot->fe) return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    ot->fe->base_buf = SIZE_MAX;
    return CG_OK;
}

static void buf_free(fe_buf *b)
{
    cg_free(b->rows);
    cg_free(b->b);
    b->rows = b->b = NULL;
    b->cap = 0;
}

void ot_ferret_free(struct ot_ferret *fe)
{
    if (!fe) return;
    buf_free(&fe->boot);
    for (size_t i = 0; i < fe->npool; i++) buf_free(&fe->pool[i]);
    cg_free(fe->pool);
    cg_free(fe->seg);
    cg_free(fe);
}

/* Rows (and choice bytes on the receiver) for cap COTs. The large set's
 * buffers (170 MB) are asked to come in 2 MB pages: their first touch in
 * 4 kB pages cost about 0.4 s per buffer on this VM, most of a refill. */
static bool buf_alloc(fe_buf *b, size_t cap, bool recv)
{
    b->rows = cg_alloc(16 * cap);
    b->b = recv ? cg_alloc(cap) : NULL;
    b->cap = cap;
    if (!b->rows || (recv && !b->b)) {
        buf_free(b);
        return false;
    }
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)1 << 21;
    uintptr_t lo = ((uintptr_t)b->rows + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)b->rows + 16 * cap) & ~(huge - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
    return true;
}

typedef struct boot_ctx {
    uint8_t *rows;
    const uint8_t *b; /* receiver: the choices; NULL on the sender */
} boot_ctx;

static cg_status boot_chunk(cg_ot *ot, void *vctx, size_t begin, size_t count, uint64_t first,
                            cg_error *err)
{
    (void)first;
    (void)err;
    boot_ctx *c = vctx;
    uint8_t *r = c->rows + 16 * begin;
    memcpy(r, ot->rows, 16 * count);
    /* Low bits: 0 on the sender, the choice on the receiver; t = q ^ b Delta
     * still holds there as Delta's low bit is 1. */
    for (size_t i = 0; i < count; i++)
        r[16 * i] = (uint8_t)((r[16 * i] & ~1u) | (c->b ? c->b[begin + i] & 1u : 0u));
    return CG_OK;
}

/* The first base: raw IKNP rows (q_i = t_i ^ r_i Delta) with random r. */
static cg_status bootstrap(cg_ot *ot, const fe_params *p, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    bool recv = ot->role == CG_OT_RECEIVER;
    size_t m = fe_base_size(p);
    if (!buf_alloc(&fe->boot, m, recv)) return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    fe->base = fe->boot.rows;
    fe->base_b = fe->boot.b;
    fe->base_buf = SIZE_MAX;
    boot_ctx c = {fe->boot.rows, NULL};
    ot->stats.base_iknp += m;
    if (!recv) return ot_iknp_extend_send(ot, m, false, boot_chunk, &c, err);
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_prg_bytes(&prg, fe->boot.b, m);
    cg_prg_clear(&prg);
    for (size_t i = 0; i < m; i++) fe->boot.b[i] &= 1;
    ot_choice_src cs = {fe->boot.b, 0, NULL, 0};
    c.b = fe->boot.b;
    return ot_iknp_extend_recv(ot, m, false, &cs, boot_chunk, &c, err);
}

/* The refill's trees and LPN, window by window: the sender sends each
 * window's tree messages as soon as they are made (the receiver starts on
 * them while the sender goes on; the bytes are those of one message), and
 * each group of trees goes through the LPN while its leaves are in cache;
 * the receiver's choice bytes (the rows' low bits) into ob. */
#define FE_WINDOW ((size_t)1 << 18) /* rows per window of tree messages */
static cg_status trees_and_lpn(cg_ot *ot, const fe_params *p, uint8_t *out, uint8_t *ob,
                               cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    bool recv = ot->role == CG_OT_RECEIVER;
    size_t N = (size_t)1 << p->h, per = 32 * (size_t)p->h + 16;
    /* Trees per group (about 8192 rows, 128 kB) and per window. */
    size_t group = N >= 8192 ? 1 : 8192 / N, wtrees = FE_WINDOW / N;
    if (wtrees < group) wtrees = group;
    wtrees -= wtrees % group;
    const uint8_t *tree = fe->base + 16 * p->k, *tree_b = recv ? fe->base_b + p->k : NULL;
    uint8_t *msg = cg_alloc(per * wtrees);
    if (!msg) return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    cg_status st = CG_OK;
    fe_lpn_code code;
    fe_lpn_code_init(&code, ot);
    fe_ggm g;
    fe_ggm_init(&g);
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (size_t w0 = 0; st == CG_OK && w0 < p->t; w0 += wtrees) {
        size_t wn = p->t - w0 < wtrees ? p->t - w0 : wtrees;
        if (recv) st = cg_chan_recv(ot->ch, msg, per * wn, err);
        for (size_t b = w0; st == CG_OK && b < w0 + wn; b += group) {
            size_t nt = w0 + wn - b < group ? w0 + wn - b : group;
            uint8_t *rows = out + 16 * N * b, *m = msg + per * (b - w0);
            if (recv)
                fe_ggm_recv(ot, &g, p, tree, tree_b, fe->tweak, b, nt, m, rows);
            else
                fe_ggm_send(ot, &g, p, tree, fe->tweak, b, nt, &prg, rows, m);
            fe_lpn_rows(&code, p->k, fe->base, rows, N * b, N * nt);
            /* The receiver's choice bytes while the rows are in cache. */
            for (size_t i = 0; recv && i < N * nt; i++) ob[N * b + i] = rows[16 * i] & 1u;
        }
        if (st == CG_OK && !recv) {
            st = cg_chan_send(ot->ch, msg, per * wn, err);
            if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
        }
    }
    cg_prg_clear(&prg);
    cg_free(msg);
    return st;
}

/* A pool buffer for n COTs that holds neither stock nor the base. Free
 * buffers too small for n (the small set's, once on the large one) are
 * released. */
static cg_status pick_buffer(struct ot_ferret *fe, size_t n, bool recv, size_t *out, cg_error *err)
{
    size_t pick = SIZE_MAX, slot = SIZE_MAX;
    for (size_t i = 0; i < fe->npool; i++) {
        bool busy = i == fe->base_buf;
        for (size_t s = 0; s < fe->nseg && !busy; s++) busy = fe->seg[s].buf == i;
        if (busy) continue;
        if (fe->pool[i].cap >= n && pick == SIZE_MAX) pick = i;
        if (fe->pool[i].cap < n) {
            buf_free(&fe->pool[i]);
            slot = i;
        }
    }
    if (pick != SIZE_MAX) {
        *out = pick;
        return CG_OK;
    }
    if (slot == SIZE_MAX) { /* a new slot, and room for its segment */
        fe_buf *np = cg_alloc((fe->npool + 1) * sizeof *np);
        fe_seg *ns = cg_alloc((fe->npool + 1) * sizeof *ns);
        if (!np || !ns) {
            cg_free(np);
            cg_free(ns);
            return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
        }
        if (fe->npool) memcpy(np, fe->pool, fe->npool * sizeof *np);
        if (fe->nseg) memcpy(ns, fe->seg, fe->nseg * sizeof *ns);
        cg_free(fe->pool);
        cg_free(fe->seg);
        fe->pool = np;
        fe->seg = ns;
        slot = fe->npool++;
        memset(&fe->pool[slot], 0, sizeof fe->pool[slot]);
    }
    if (!buf_alloc(&fe->pool[slot], n, recv))
        return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory for %zu COTs", n);
    *out = slot;
    return CG_OK;
}

/* One refill with the set fe->set: n new COTs into a free pool buffer, the
 * last base-size of them kept as the next base, the others a new segment
 * at the end of the stock. */
static cg_status refill(cg_ot *ot, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    const fe_params *p = fe->set;
    bool recv = ot->role == CG_OT_RECEIVER;
    size_t bi = 0;
    CG_TRY(pick_buffer(fe, p->n, recv, &bi, err));
    fe_buf *ob = &fe->pool[bi];
    /* A header as for every call: a refill out of step with the peer's
     * fails cleanly instead of reading other traffic as tree messages. */
    uint8_t hdr[16], want[16];
    memcpy(want, "cg-ferret", 8);
    memcpy(want + 8, &ot->stats.refills, 8);
    if (!recv) {
        CG_TRY(cg_chan_send(ot->ch, want, 16, err));
    } else {
        CG_TRY(cg_chan_recv(ot->ch, hdr, 16, err));
        if (memcmp(hdr, want, 16) != 0)
            return cg_error_set(err, CG_ERR_FORMAT, "Ferret: refill %llu out of step with the peer",
                                (unsigned long long)ot->stats.refills);
    }
    CG_TRY(trees_and_lpn(ot, p, ob->rows, ob->b, err));
    /* The old base is used up: wiped (each COT once), or freed if it was
     * the bootstrap's. */
    if (fe->base_buf == SIZE_MAX) {
        buf_free(&fe->boot);
    } else {
        cg_secure_zero((void *)fe->base, 16 * fe_base_size(p));
        if (recv) cg_secure_zero((void *)fe->base_b, fe_base_size(p));
    }
    fe->tweak += p->t * p->h;
    ot->stats.refills++;
    ot->stats.cots_made += p->n;
    ot->stats.refill_bytes += fe_msg_size(p);
    /* The next set: the large one once this instance has used (or a call
     * will take it past) FE_SWITCH COTs, or cg_ot_fill_ahead asked (both
     * ends count and call alike); a small refill's output covers a large
     * base. */
    const fe_params *next = ot->stats.cots_used >= FE_SWITCH || fe->go_large ? &fe_large : p;
    size_t nb = fe_base_size(next);
    fe->base = ob->rows + 16 * (p->n - nb);
    fe->base_b = recv ? ob->b + (p->n - nb) : NULL;
    fe->base_buf = bi;
    if (p->n > nb) {
        fe->seg[fe->nseg++] = (fe_seg){bi, 0, p->n - nb};
        fe->len += p->n - nb;
    }
    fe->set = next;
    return CG_OK;
}

cg_status ot_ferret_ensure(cg_ot *ot, size_t count, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    /* A call that takes the instance past FE_SWITCH: its refills go to the
     * large set at once (after the small one that makes the large base)
     * instead of a dozen small ones (5.1 bits per fresh COT against 0.45). */
    if (count > fe->len && ot->stats.cots_used + count >= FE_SWITCH) fe->go_large = true;
    while (fe->len < count) {
        if (!fe->set) {
            CG_TRY(bootstrap(ot, &fe_small, err));
            fe->set = &fe_small;
        }
        CG_TRY(refill(ot, err));
    }
    return CG_OK;
}

cg_status ot_ferret_fill_ahead(cg_ot *ot, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    fe->go_large = true;
    /* Refills (a small one first where the next is small: it makes the
     * large base) until the next is large and the stock holds half a large
     * refill's output. */
    const size_t half = (fe_large.n - fe_base_size(&fe_large)) / 2;
    while (fe->set != &fe_large || fe->len < half) {
        if (!fe->set) {
            CG_TRY(bootstrap(ot, &fe_small, err));
            fe->set = &fe_small;
        }
        CG_TRY(refill(ot, err));
    }
    return CG_OK;
}

cg_status ot_ferret_take(cg_ot *ot, size_t count, uint8_t *rows, uint8_t *b, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    CG_TRY(ot_ferret_ensure(ot, count, err));
    while (count) {
        fe_seg *s = &fe->seg[0];
        fe_buf *src = &fe->pool[s->buf];
        size_t k = s->end - s->head < count ? s->end - s->head : count;
        memcpy(rows, src->rows + 16 * s->head, 16 * k);
        if (b) memcpy(b, src->b + s->head, k);
        /* Each COT once: the taken ones leave the stock. */
        cg_secure_zero(src->rows + 16 * s->head, 16 * k);
        s->head += k;
        fe->len -= k;
        count -= k;
        rows += 16 * k;
        if (b) b += k;
        if (s->head == s->end) { /* the buffer is free for a refill */
            fe->nseg--;
            memmove(fe->seg, fe->seg + 1, fe->nseg * sizeof *fe->seg);
        }
    }
    return CG_OK;
}

/* COTs of a chunk [begin, begin + count) before the call's random-choice
 * prefix of rc_n: they take no correction. */
static size_t rc_in_chunk(size_t rc_n, size_t begin, size_t count)
{
    return rc_n <= begin ? 0 : rc_n - begin < count ? rc_n - begin : count;
}

cg_status ot_ferret_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx,
                                cg_error *err)
{
    for (size_t begin = 0; begin < m; begin += CHUNK) {
        size_t count = m - begin < CHUNK ? m - begin : CHUNK;
        CG_TRY(ot_ferret_take(ot, count, ot->rows, NULL, err));
        /* The random-choice prefix keeps the stock's rows; the corrections
         * d (one bit each) come for the chosen rest only. */
        size_t r0 = rc_in_chunk(ot->rc_n, begin, count), nd = count - r0;
        uint8_t *d = ot->scratch;
        if (nd) CG_TRY(cg_chan_recv(ot->ch, d, (nd + 7) / 8, err));
        uint64_t dl = lo64(ot->delta), dh = lo64(ot->delta + 8);
        for (size_t j = 0; j < nd; j++) {
            size_t i = r0 + j;
            uint64_t sel = 0 - (uint64_t)((d[j / 8] >> (j % 8)) & 1u), r[2];
            memcpy(r, ot->rows + 16 * i, 16);
            r[0] ^= dl & sel;
            r[1] ^= dh & sel;
            memcpy(ot->rows + 16 * i, r, 16);
        }
        uint64_t first = ot->ot_index;
        if (hash) {
            ot->tccr(&ot->pi, ot->rows, NULL, ot->h0, count, first, 0);
            ot->tccr(&ot->pi, ot->rows, ot->delta, ot->h1, count, first, 0);
        }
        ot->ot_index += round128(count);
        CG_TRY(fn(ot, ctx, begin, count, first, err));
    }
    return CG_OK;
}

static unsigned choice_bit(const ot_choice_src *c, size_t p)
{
    return c->k ? (c->choice[p / c->k] >> (p % c->k)) & 1u : c->choice[p] & 1u;
}

cg_status ot_ferret_extend_recv(cg_ot *ot, size_t m, bool hash, const ot_choice_src *cs,
                                ot_chunk_fn fn, void *ctx, cg_error *err)
{
    for (size_t begin = 0; begin < m; begin += CHUNK) {
        size_t count = m - begin < CHUNK ? m - begin : CHUNK;
        uint8_t *b = ot->mat, *d = ot->scratch; /* CHUNK bytes, CHUNK_BYTES bytes */
        CG_TRY(ot_ferret_take(ot, count, ot->rows, b, err));
        /* The random-choice prefix: the stock's choices are the call's. */
        size_t r0 = cs->rc ? rc_in_chunk(cs->rc_n, begin, count) : 0, nd = count - r0;
        if (r0) memcpy(cs->rc + begin, b, r0);
        if (nd) {
            memset(d, 0, (nd + 7) / 8);
            for (size_t j = 0; j < nd; j++)
                d[j / 8] |= (uint8_t)(((choice_bit(cs, begin + r0 + j) ^ b[r0 + j]) & 1u) << (j % 8));
            CG_TRY(cg_chan_send(ot->ch, d, (nd + 7) / 8, err));
            CG_TRY(cg_chan_flush(ot->ch, err));
        }
        uint64_t first = ot->ot_index;
        if (hash) ot->tccr(&ot->pi, ot->rows, NULL, ot->h0, count, first, 0);
        ot->ot_index += round128(count);
        CG_TRY(fn(ot, ctx, begin, count, first, err));
    }
    return CG_OK;
}
