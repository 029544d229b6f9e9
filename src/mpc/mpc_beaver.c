/* Product material made ahead: multiplication triples (a, b, ab), square
 * pairs (a, a^2) and select quadruples (u, [u], w, [u w]) per ring width,
 * made in bulk on the COT protocols (mpc_arith.c's *_cot forms) so that a
 * product, square or select on the data is one exchange of masked values
 * in which both parties send at once, instead of a COT round trip. */
#include <string.h>

#include "mpc/mpc_internal.h"

static const size_t per_entry[MPC_POOL_KINDS] = {3, 2, 4};

/* At most this many entries of one kind and width are made at once (a
 * decode step's are a few thousand); larger batches (a long prompt's) run
 * the COT forms, as their buffers would be too large to hold together. */
#define STOCK_MAX ((size_t)1 << 16)

static void pool_clear(mpc_pool *p, size_t per)
{
    if (p->v) cg_secure_zero(p->v, p->cap * per * sizeof *p->v);
    cg_free(p->v);
    memset(p, 0, sizeof *p);
}

const uint64_t *mpc_pool_get(cg_mpc *m, int kind, unsigned bits, size_t n)
{
    mpc_pool *p = &m->pool[kind][bits];
    if (n == 0 || !m->pool_on || p->have - p->next < n) return NULL;
    const uint64_t *q = p->v + p->next * per_entry[kind];
    p->next += n;
    return q;
}

/* COTs request r sends and receives: MUL both cross terms (bits each way
 * per entry), SQ the split cross term (the server sends k = ceil(bits/2)
 * and receives bits - k per entry, the client the reverse), SEL u times w
 * each way and u times the public 1 from the server only (the client's
 * share of 1 is 0: its COT would carry nothing). */
static void req_cots(const cg_mpc *m, const mpc_stock_req *r, size_t *ns, size_t *nr)
{
    size_t k = (r->bits + 1) / 2, kk = r->bits - k;
    bool server = m->party == CG_SERVER;
    if (r->kind == MPC_POOL_MUL) *ns = *nr = r->n * r->bits;
    else if (r->kind == MPC_POOL_SQ) {
        *ns = r->n * (server ? k : kk);
        *nr = r->n * (server ? kk : k);
    } else {
        *ns = (server ? 2 : 1) * r->n;
        *nr = (server ? 1 : 2) * r->n;
    }
}

/* The shift of a request's j-th sent (send) or received COT of an entry:
 * a Gilboa term a 2^sh mod 2^l runs as a COT of a mod 2^(l - sh), l - sh
 * bits wide, shifted up after (cg_cot_send_w). MUL: bit j of the chooser's
 * operand; SQ: the server's correlations 2 a0 2^j (j < k), the client's
 * hi 2^(k + j); SEL: none. */
static unsigned req_shift(const cg_mpc *m, const mpc_stock_req *r, bool send, size_t j)
{
    size_t k = (r->bits + 1) / 2;
    if (r->kind == MPC_POOL_MUL) return (unsigned)j;
    if (r->kind == MPC_POOL_SEL) return 0;
    bool server_sent = send == (m->party == CG_SERVER);
    return (unsigned)(server_sent ? j : k + j);
}

/* Request r's random values (per_entry layout in e) and its COT inputs:
 * correlations, choices and widths (ws for the sent COTs, wr for the
 * received ones). */
static void req_fill(cg_mpc *m, const mpc_stock_req *r, uint64_t *e, uint64_t *delta,
                     uint8_t *choice, uint8_t *ws, uint8_t *wr)
{
    unsigned l = r->bits;
    uint64_t mask = mpc_mask(l);
    size_t k = (l + 1) / 2, pe = per_entry[r->kind], ns, nr;
    bool server = m->party == CG_SERVER;
    req_cots(m, r, &ns, &nr);
    size_t ps = r->n ? ns / r->n : 0, pr = r->n ? nr / r->n : 0;
    for (size_t j = 0; j < ps; j++) ws[j] = (uint8_t)(l - req_shift(m, r, true, j));
    for (size_t j = 0; j < pr; j++) wr[j] = (uint8_t)(l - req_shift(m, r, false, j));
    for (size_t i = 1; i < r->n; i++) {
        memcpy(ws + i * ps, ws, ps);
        memcpy(wr + i * pr, wr, pr);
    }
    for (size_t i = 0; i < r->n; i++) {
        uint64_t *q = e + i * pe;
        if (r->kind == MPC_POOL_MUL) {
            /* b (q[1]) is the random choices of its COTs: req_finish */
            q[0] = cg_prg_u64(&m->prg) & mask;
            q[1] = q[2] = 0;
            for (unsigned j = 0; j < l; j++) delta[i * l + j] = q[0] & mpc_mask(l - j);
        } else if (r->kind == MPC_POOL_SQ) {
            /* a^2 = a0^2 + a1^2 + (2 a0) a1, as mpc_square_cot */
            q[0] = cg_prg_u64(&m->prg) & mask;
            q[1] = q[0] * q[0];
            uint64_t op = (server ? 2 * q[0] : q[0]) & mask, hi = op >> k;
            for (size_t j = 0; j < ps; j++) delta[i * ps + j] = (server ? op : hi) & mpc_mask(ws[j]);
            for (size_t j = 0; j < pr; j++) choice[i * pr + j] = (uint8_t)((op >> j) & 1);
        } else {
            /* u XOR-shared: [u] = u times the public 1, [u w] for a random w,
             * as mpc_select_cot: correlation (1 - 2 u_p) v_p, choice u_p */
            q[0] = cg_prg_u64(&m->prg) & 1;
            q[2] = cg_prg_u64(&m->prg) & mask;
            uint64_t one = server ? 1 : 0;
            q[1] = q[0] ? one : 0;
            q[3] = q[0] ? q[2] : 0;
            uint64_t dw = (q[0] ? 0 - q[2] : q[2]) & mask;
            if (server) {
                delta[2 * i] = (q[0] ? 0 - one : one) & mask;
                delta[2 * i + 1] = dw;
                choice[i] = (uint8_t)q[0];
            } else {
                delta[i] = dw;
                choice[2 * i] = choice[2 * i + 1] = (uint8_t)q[0];
            }
        }
    }
}

/* Adds the COT outputs: per entry, sum (got - x0) 2^shift onto the product
 * (a triple's b and ab first, from its COTs' random choices). */
static void req_finish(const cg_mpc *m, const mpc_stock_req *r, uint64_t *e, const uint64_t *x0,
                       const uint64_t *got, const uint8_t *choice)
{
    size_t ns, nr, pe = per_entry[r->kind];
    if (r->n == 0) return;
    req_cots(m, r, &ns, &nr);
    size_t ps = ns / r->n, pr = nr / r->n, at = r->kind == MPC_POOL_SQ ? 1 : 2;
    uint64_t mask = mpc_mask(r->bits);
    unsigned shs[64], shr[64];
    for (size_t j = 0; j < ps && j < 64; j++) shs[j] = req_shift(m, r, true, j);
    for (size_t j = 0; j < pr && j < 64; j++) shr[j] = req_shift(m, r, false, j);
    for (size_t i = 0; i < r->n; i++) {
        uint64_t *q = e + i * pe;
        if (r->kind == MPC_POOL_SEL && m->party == CG_SERVER) {
            q[1] = (q[1] - x0[2 * i]) & mask;
            q[3] = (q[3] - x0[2 * i + 1] + got[i]) & mask;
            continue;
        }
        if (r->kind == MPC_POOL_SEL) {
            q[1] = (q[1] + got[2 * i]) & mask;
            q[3] = (q[3] - x0[i] + got[2 * i + 1]) & mask;
            continue;
        }
        if (r->kind == MPC_POOL_MUL) { /* b from its random choices, then ab */
            for (size_t j = 0; j < pr; j++) q[1] |= (uint64_t)choice[i * pr + j] << j;
            q[2] = q[0] * q[1];
        }
        uint64_t v = q[at];
        for (size_t j = 0; j < ps; j++) v -= x0[i * ps + j] << shs[j];
        for (size_t j = 0; j < pr; j++) v += got[i * pr + j] << shr[j];
        q[at] = v & mask;
    }
}

/* Appends cnt entries (made in e) behind pool p's unused ones. */
static cg_status pool_append(mpc_pool *p, size_t per, const uint64_t *e, size_t cnt, cg_error *err)
{
    size_t left = p->have - p->next, cap = left + cnt;
    uint64_t *v = cg_alloc((cap ? cap : 1) * per * sizeof *v);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "product material: out of memory");
    if (left) memcpy(v, p->v + p->next * per, left * per * sizeof *v);
    memcpy(v + left * per, e, cnt * per * sizeof *v);
    pool_clear(p, per);
    p->v = v;
    p->per = per;
    p->cap = p->have = cap;
    return CG_OK;
}

static cg_status make(cg_mpc *m, size_t nreq, const mpc_stock_req *req, cg_error *err)
{
    size_t S = 0, R = 0, E = 0;
    for (size_t i = 0; i < nreq; i++) {
        const mpc_stock_req *r = &req[i];
        size_t ns, nr;
        req_cots(m, r, &ns, &nr);
        S += ns;
        R += nr;
        E += r->n * per_entry[r->kind];
    }
    if (S + R == 0) return CG_OK;
    /* The triples' received COTs come first (mpc_stock orders the requests
     * by kind): their choices, the b of each triple, are random ones. */
    size_t rc = 0;
    for (size_t i = 0; i < nreq && req[i].kind == MPC_POOL_MUL; i++) rc += req[i].n * req[i].bits;
    for (size_t i = 1; i < nreq; i++)
        if (req[i].kind == MPC_POOL_MUL && req[i - 1].kind != MPC_POOL_MUL)
            return mpc_fail(m, cg_error_set(err, CG_ERR_ARG, "product material: requests out of order"));
    mpc_cot_bufs b;
    CG_TRY(mpc_cot_bufs_alloc(&b, S, R, "product material", err));
    uint64_t *e = cg_alloc((E ? E : 1) * sizeof *e);
    uint8_t *ws = cg_alloc(S ? S : 1), *wr = cg_alloc(R ? R : 1);
    cg_status st = e && ws && wr ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "product material: out of memory");
    for (size_t i = 0, s = 0, r = 0, at = 0; st == CG_OK && i < nreq; i++) {
        size_t ns, nr;
        req_cots(m, &req[i], &ns, &nr);
        req_fill(m, &req[i], e + at, b.delta + s, b.choice + r, ws + s, wr + r);
        s += ns;
        r += nr;
        at += req[i].n * per_entry[req[i].kind];
    }
    /* every request's COTs in one batch, each as wide as its term needs */
    mpc_prof_push(m, "stock");
    if (st == CG_OK) st = mpc_cot_both_w(m, S, ws, b.delta, b.x0, R, wr, rc, b.choice, b.got, err);
    mpc_prof_pop(m);
    cg_free(ws);
    cg_free(wr);
    for (size_t i = 0, s = 0, r = 0, at = 0; st == CG_OK && i < nreq; i++) {
        size_t ns, nr, pe = per_entry[req[i].kind];
        req_cots(m, &req[i], &ns, &nr);
        req_finish(m, &req[i], e + at, b.x0 + s, b.got + r, b.choice + r);
        if (req[i].n) st = pool_append(&m->pool[req[i].kind][req[i].bits], pe, e + at, req[i].n, err);
        s += ns;
        r += nr;
        at += req[i].n * pe;
    }
    if (e) cg_secure_zero(e, (E ? E : 1) * sizeof *e);
    cg_free(e);
    cg_secure_zero(b.delta, (S ? S : 1) * sizeof *b.delta);
    cg_secure_zero(b.choice, R ? R : 1);
    mpc_cot_bufs_free(&b);
    return mpc_fail(m, st);
}

cg_status mpc_stock(cg_mpc *m, size_t nreq, const mpc_stock_req *in, cg_error *err)
{
    /* the wanted count per kind and width, less what is in stock */
    size_t want[MPC_POOL_KINDS][65] = {{0}};
    for (size_t i = 0; i < nreq; i++) {
        if (in[i].kind < 0 || in[i].kind >= MPC_POOL_KINDS || in[i].bits < 1 || in[i].bits > 64)
            return mpc_fail(m, cg_error_set(err, CG_ERR_ARG, "product material: bad request"));
        want[in[i].kind][in[i].bits] += in[i].n < STOCK_MAX ? in[i].n : STOCK_MAX + 1;
    }
    mpc_stock_req req[MPC_POOL_KINDS * 65];
    size_t nr = 0;
    for (int k = 0; k < MPC_POOL_KINDS; k++)
        for (unsigned b = 1; b <= 64; b++) {
            const mpc_pool *p = &m->pool[k][b];
            size_t left = p->have - p->next;
            if (want[k][b] > left && want[k][b] <= STOCK_MAX) req[nr++] = (mpc_stock_req){k, b, want[k][b] - left};
        }
    return make(m, nr, req, err);
}

/* Values mod 2^bits travel in ceil(bits / 8) bytes, little-endian; bits
 * (bits = 1) eight to a byte. */
static size_t seg_bytes(const mpc_open_seg *g)
{
    return g->bits == 1 ? (g->n + 7) / 8 : g->n * ((g->bits + 7) / 8);
}

static void seg_put(const mpc_open_seg *g, uint8_t *buf)
{
    if (g->bits == 1) {
        memset(buf, 0, seg_bytes(g));
        for (size_t i = 0; i < g->n; i++) buf[i / 8] |= (uint8_t)((g->mine[i] & 1) << (i % 8));
        return;
    }
    size_t w = (g->bits + 7) / 8;
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = 0; j < w; j++) buf[i * w + j] = (uint8_t)(g->mine[i] >> (8 * j));
}

static void seg_sum(const mpc_open_seg *g, const uint8_t *buf)
{
    uint64_t mask = mpc_mask(g->bits);
    size_t w = (g->bits + 7) / 8;
    for (size_t i = 0; i < g->n; i++) {
        uint64_t v = 0;
        if (g->bits == 1) v = (buf[i / 8] >> (i % 8)) & 1;
        else
            for (size_t j = 0; j < w; j++) v |= (uint64_t)buf[i * w + j] << (8 * j);
        g->sum[i] = (g->mine[i] + v) & mask;
    }
}

cg_status mpc_open_exchange(cg_mpc *m, size_t nseg, const mpc_open_seg *seg, cg_error *err)
{
    size_t nb = 0;
    for (size_t k = 0; k < nseg; k++) {
        if (seg[k].n > SIZE_MAX / 16) return cg_error_set(err, CG_ERR_ARG, "open: batch too large");
        nb += seg_bytes(&seg[k]);
    }
    if (nb == 0) return CG_OK;
    uint8_t *buf = cg_alloc(nb);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "open: out of memory");
    for (size_t k = 0, at = 0; k < nseg; at += seg_bytes(&seg[k]), k++) seg_put(&seg[k], buf + at);
    mpc_prof_push(m, "open");
    cg_status st = cg_chan_send(m->ch, buf, nb, err);
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK) st = cg_chan_recv(m->ch, buf, nb, err);
    mpc_prof_pop(m);
    for (size_t k = 0, at = 0; st == CG_OK && k < nseg; at += seg_bytes(&seg[k]), k++)
        seg_sum(&seg[k], buf + at);
    cg_free(buf);
    return st;
}
