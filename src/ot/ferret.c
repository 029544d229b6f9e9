/* Ferret COTs for the extension core: the stock, refills (ferret_ggm.c does
 * the trees and the LPN), the IKNP bootstrap, and the two ends of the
 * extension with chosen choices. See ferret.h for the construction.
 *
 * Chosen choices: a stock COT has a random choice b_i; the receiver with
 * choice r_i sends d_i = r_i ^ b_i (one bit) and the sender shifts its row
 * to q_i ^ d_i Delta, so that t_i = q_i ^ r_i Delta as an IKNP row. The
 * derived OTs (ot_1of2.c, ot_1ofn.c) then hash the rows as before, with
 * tweaks from the same per-instance counter.
 *
 * Choice bits ride in the rows: Delta's low bit is 1 and every sender row
 * of the base, the trees and so (by linearity) the output has low bit 0,
 * so the receiver's row t = q ^ b Delta has low bit b. The LPN expansion
 * then reads one table entry per nonzero, not two. */
#include "ot/ferret.h"

#include <string.h>

const fe_params fe_small = {649728, 36288, 1269, 9};
const fe_params fe_large = {10608640, 589824, 1295, 13};

cg_status ot_ferret_new(cg_ot *ot, cg_error *err)
{
    ot->fe = cg_calloc(1, sizeof *ot->fe);
    if (!ot->fe) return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    return CG_OK;
}

void ot_ferret_free(struct ot_ferret *fe)
{
    if (!fe) return;
    cg_free(fe->base);
    cg_free(fe->base_b);
    cg_free(fe->stock);
    cg_free(fe->stock_b);
    if (fe->lpn) fe_lpn_free(fe->lpn);
    cg_free(fe->lpn);
    cg_free(fe);
}

/* Buffers of rows (and choice bytes on the receiver) for cap COTs, keeping
 * the first keep. */
static bool grow(uint8_t **rows, uint8_t **b, size_t *cap, size_t want, size_t keep, bool recv)
{
    if (*cap >= want) return true;
    uint8_t *nr = cg_alloc(16 * want), *nb = recv ? cg_alloc(want) : NULL;
    if (!nr || (recv && !nb)) {
        cg_free(nr);
        cg_free(nb);
        return false;
    }
    if (keep) memcpy(nr, *rows, 16 * keep);
    if (keep && recv) memcpy(nb, *b, keep);
    cg_free(*rows);
    cg_free(*b);
    *rows = nr;
    *b = nb;
    *cap = want;
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
    if (!grow(&fe->base, &fe->base_b, &fe->base_cap, m, 0, recv))
        return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    boot_ctx c = {fe->base, NULL};
    ot->stats.base_iknp += m;
    if (!recv) return ot_iknp_extend_send(ot, m, false, boot_chunk, &c, err);
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_prg_bytes(&prg, fe->base_b, m);
    cg_prg_clear(&prg);
    for (size_t i = 0; i < m; i++) fe->base_b[i] &= 1;
    ot_choice_src cs = {fe->base_b, 0};
    c.b = fe->base_b;
    return ot_iknp_extend_recv(ot, m, false, &cs, boot_chunk, &c, err);
}

/* The refill's trees and LPN, window by window: the sender sends each
 * window's tree messages as soon as they are made (the receiver starts on
 * them while the sender goes on; the bytes are those of one message), and
 * each group of trees goes through the LPN's first pass while its leaves
 * are in cache (ferret_lpn.c). */
static cg_status trees_and_lpn(cg_ot *ot, const fe_params *p, uint8_t *out, cg_error *err)
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
    cg_status st = CG_OK;
    if (fe->lpn && fe->lpn->p != p) {
        fe_lpn_free(fe->lpn);
        cg_free(fe->lpn);
        fe->lpn = NULL;
    }
    if (!fe->lpn && (fe->lpn = cg_alloc(sizeof *fe->lpn)) != NULL &&
        (st = fe_lpn_init(fe->lpn, p, fe->base, p->k / 2, err)) != CG_OK) {
        cg_free(fe->lpn);
        fe->lpn = NULL;
    }
    if (st == CG_OK && (!msg || !fe->lpn)) st = cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    fe_lpn_work *lpn = fe->lpn;
    if (lpn) { /* the base moves when it grows; a failed refill left a window */
        lpn->base = fe->base;
        lpn->wn = lpn->ncols = 0;
    }
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
            fe_lpn_add(lpn, rows, N * b, N * nt);
        }
        if (st == CG_OK && !recv) {
            st = cg_chan_send(ot->ch, msg, per * wn, err);
            if (st == CG_OK) st = cg_chan_flush(ot->ch, err);
        }
        if (st == CG_OK) fe_lpn_flush(lpn, out + 16 * N * w0);
    }
    cg_prg_clear(&prg);
    cg_free(msg);
    return st;
}

/* One refill with the set fe->set: n new COTs at the end of the stock, the
 * last base-size of them kept as the next base. */
static cg_status refill(cg_ot *ot, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    const fe_params *p = fe->set;
    bool recv = ot->role == CG_OT_RECEIVER;
    if (fe->head) { /* compact */
        memmove(fe->stock, fe->stock + 16 * fe->head, 16 * fe->len);
        if (recv) memmove(fe->stock_b, fe->stock_b + fe->head, fe->len);
        fe->head = 0;
    }
    /* A quarter of slack: the left-over stock varies from refill to refill,
     * and each regrowth of the 170 MB stock cost its pages' faults anew. */
    size_t need = fe->len + p->n;
    if (fe->cap < need) need += need / 4;
    if (!grow(&fe->stock, &fe->stock_b, &fe->cap, need, fe->len, recv))
        return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory for %zu COTs", fe->len + p->n);
    uint8_t *out = fe->stock + 16 * fe->len, *ob = recv ? fe->stock_b + fe->len : NULL;
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
    CG_TRY(trees_and_lpn(ot, p, out, err));
    if (recv)
        for (size_t i = 0; i < p->n; i++) ob[i] = out[16 * i] & 1u;
    fe->tweak += p->t * p->h;
    ot->stats.refills++;
    ot->stats.cots_made += p->n;
    ot->stats.refill_bytes += fe_msg_size(p);
    /* The next set: the large one once this instance has used FE_SWITCH
     * COTs (both ends count alike); a small refill's output covers a large
     * base. */
    const fe_params *next = ot->stats.cots_used >= FE_SWITCH ? &fe_large : p;
    size_t nb = fe_base_size(next);
    if (!grow(&fe->base, &fe->base_b, &fe->base_cap, nb, 0, recv))
        return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    memcpy(fe->base, out + 16 * (p->n - nb), 16 * nb);
    if (recv) memcpy(fe->base_b, ob + (p->n - nb), nb);
    fe->len += p->n - nb;
    fe->set = next;
    return CG_OK;
}

cg_status ot_ferret_ensure(cg_ot *ot, size_t count, cg_error *err)
{
    struct ot_ferret *fe = ot->fe;
    while (fe->len < count) {
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
    memcpy(rows, fe->stock + 16 * fe->head, 16 * count);
    if (b) memcpy(b, fe->stock_b + fe->head, count);
    /* Each COT once: the taken ones leave the stock. */
    cg_secure_zero(fe->stock + 16 * fe->head, 16 * count);
    fe->head += count;
    fe->len -= count;
    return CG_OK;
}

cg_status ot_ferret_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx,
                                cg_error *err)
{
    for (size_t begin = 0; begin < m; begin += CHUNK) {
        size_t count = m - begin < CHUNK ? m - begin : CHUNK;
        CG_TRY(ot_ferret_take(ot, count, ot->rows, NULL, err));
        uint8_t *d = ot->scratch;
        CG_TRY(cg_chan_recv(ot->ch, d, (count + 7) / 8, err));
        uint64_t dl = lo64(ot->delta), dh = lo64(ot->delta + 8);
        for (size_t i = 0; i < count; i++) {
            uint64_t sel = 0 - (uint64_t)((d[i / 8] >> (i % 8)) & 1u), r[2];
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
        memset(d, 0, (count + 7) / 8);
        for (size_t i = 0; i < count; i++)
            d[i / 8] |= (uint8_t)(((choice_bit(cs, begin + i) ^ b[i]) & 1u) << (i % 8));
        CG_TRY(cg_chan_send(ot->ch, d, (count + 7) / 8, err));
        CG_TRY(cg_chan_flush(ot->ch, err));
        uint64_t first = ot->ot_index;
        if (hash) ot->tccr(&ot->pi, ot->rows, NULL, ot->h0, count, first, 0);
        ot->ot_index += round128(count);
        CG_TRY(fn(ot, ctx, begin, count, first, err));
    }
    return CG_OK;
}
