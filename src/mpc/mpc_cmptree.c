/* The millionaires' protocol's AND tree (mpc_cmp.c makes its leaves): per
 * level one exchange of opened bits, or, where the server sent every digit
 * OT, half a round trip per level (mpc_lt_tree_pipe). */
#include <string.h>

#include "mpc/mpc_internal.h"

size_t mpc_tree_plan(const mpc_row_map *rm, size_t q, const uint8_t *sh0, size_t stop,
                     mpc_tree_level *lv)
{
    size_t nl = 0, first = 0, rows = (size_t)rm->K * (rm->n0 + rm->n1);
    uint8_t sh[64];
    memcpy(sh, sh0, q);
    for (size_t cnt = q; cnt > stop; cnt = (cnt + 1) / 2, nl++) {
        mpc_tree_level *L = &lv[nl];
        size_t half = cnt / 2, bits = 0;
        L->cnt = cnt;
        L->first = first;
        L->units = 0;
        memcpy(L->sh, sh, cnt);
        for (size_t k = 0; k < half; k++) {
            size_t u = sh[2 * k] && sh[2 * k + 1] ? rm->n0 + rm->n1 : rows;
            L->units += u;
            bits += u * (k != 0 ? 3 : 2);
            sh[k] = sh[2 * k] && sh[2 * k + 1];
        }
        if (cnt & 1) sh[half] = sh[cnt - 1];
        L->bytes = (bits + 7) / 8;
        first += L->units;
    }
    return nl;
}

/* The AND inputs of level L (lt = lt_hi ^ (eq_hi & lt_lo), eq = eq_hi &
 * eq_lo, the pair's two ANDs sharing eq_hi; a copy row's shared pairs left
 * to its primary row); returns the units. */
static size_t level_inputs(const mpc_row_map *rm, size_t q, const mpc_tree_level *L,
                           const uint8_t *lt, const uint8_t *eq, uint8_t *x, uint8_t *y,
                           uint8_t *two)
{
    size_t half = L->cnt / 2, u = 0, rows = (size_t)rm->K * (rm->n0 + rm->n1);
    for (size_t i = 0; i < rows; i++)
        for (size_t k = 0; k < half; k++) {
            if (L->sh[2 * k] && L->sh[2 * k + 1] && mpc_prim_row(rm, i) != i) continue;
            size_t hi = i * q + 2 * k + 1, lo = i * q + 2 * k;
            y[u] = eq[hi];
            x[2 * u] = lt[lo];
            x[2 * u + 1] = eq[lo];
            two[u++] = k != 0;
        }
    return u;
}

/* Level L's AND results z into the blocks: the lowest block is only ever
 * the low half of a pair, so its eq is never needed and not computed; an
 * unpaired top block passes through. */
static void level_apply(const mpc_row_map *rm, size_t q, const mpc_tree_level *L, uint8_t *lt,
                        uint8_t *eq, const uint8_t *z)
{
    size_t cnt = L->cnt, half = cnt / 2, u = 0, rows = (size_t)rm->K * (rm->n0 + rm->n1);
    for (size_t i = 0; i < rows; i++) {
        /* a copy row's primary row comes first and is done */
        size_t p = mpc_prim_row(rm, i);
        for (size_t k = 0; k < half; k++) {
            if (L->sh[2 * k] && L->sh[2 * k + 1] && p != i) {
                lt[i * q + k] = lt[p * q + k];
                eq[i * q + k] = eq[p * q + k];
                continue;
            }
            lt[i * q + k] = lt[i * q + 2 * k + 1] ^ z[2 * u];
            eq[i * q + k] = k == 0 ? 0 : z[2 * u + 1];
            u++;
        }
        if (cnt & 1) {
            lt[i * q + half] = lt[i * q + cnt - 1];
            eq[i * q + half] = eq[i * q + cnt - 1];
        }
    }
}

/* Scratch of a tree's levels: AND inputs and outputs, and both parties'
 * openings of every level (level j's at off[j], padded to whole bytes). */
typedef struct {
    uint8_t *x, *y, *two, *z, *wire, *peer;
    size_t off[MPC_MAX_LEVELS];
} tree_buf;

static bool tree_buf_init(tree_buf *b, const mpc_tree_level *lv, size_t nl, size_t units)
{
    size_t cap = units ? units : 1, all = 0;
    for (size_t j = 0; j < nl; j++) {
        b->off[j] = all;
        all += lv[j].bytes;
    }
    b->x = cg_alloc(2 * cap);
    b->y = cg_alloc(cap);
    b->two = cg_alloc(cap);
    b->z = cg_alloc(2 * cap);
    b->wire = cg_alloc(all ? all : 1);
    b->peer = cg_alloc(all ? all : 1);
    return b->x && b->y && b->two && b->z && b->wire && b->peer;
}

static void tree_buf_free(tree_buf *b)
{
    cg_free(b->x);
    cg_free(b->y);
    cg_free(b->two);
    cg_free(b->z);
    cg_free(b->wire);
    cg_free(b->peer);
}

cg_status mpc_lt_tree(cg_mpc *m, const mpc_row_map *rm, size_t q, const uint8_t *sh0,
                      uint8_t *lt, uint8_t *eq, const mpc_triples *t, size_t stop, uint8_t *out,
                      cg_error *err)
{
    mpc_tree_level lv[MPC_MAX_LEVELS];
    size_t nl = mpc_tree_plan(rm, q, sh0, stop, lv), rows = (size_t)rm->K * (rm->n0 + rm->n1);
    tree_buf b = {0};
    cg_status st = CG_OK;
    if (!tree_buf_init(&b, lv, nl, t->n))
        st = cg_error_set(err, CG_ERR_NOMEM, "less_than: out of memory");
    for (size_t j = 0; j < nl && st == CG_OK; j++) {
        size_t u = level_inputs(rm, q, &lv[j], lt, eq, b.x, b.y, b.two);
        st = mpc_and_units(m, u, b.two, b.x, b.y, t, lv[j].first, b.z, err);
        if (st == CG_OK) level_apply(rm, q, &lv[j], lt, eq, b.z);
    }
    for (size_t i = 0; st == CG_OK && out && i < rows; i++) out[i] = lt[i * q];
    tree_buf_free(&b);
    return st;
}

/* This party's openings of level j (the levels below it complete). */
static size_t pipe_open(const mpc_row_map *rm, size_t q, const mpc_tree_level *lv, size_t j,
                        const uint8_t *lt, const uint8_t *eq, const mpc_triples *t, tree_buf *b)
{
    size_t u = level_inputs(rm, q, &lv[j], lt, eq, b->x, b->y, b->two);
    return mpc_and_open(u, b->two, b->x, b->y, t, lv[j].first, b->wire + b->off[j]);
}

/* Level j from both parties' openings. */
static void pipe_close(const cg_mpc *m, const mpc_row_map *rm, size_t q,
                       const mpc_tree_level *lv, size_t j, uint8_t *lt, uint8_t *eq,
                       const mpc_triples *t, tree_buf *b)
{
    size_t u = level_inputs(rm, q, &lv[j], lt, eq, b->x, b->y, b->two);
    mpc_and_close(m, u, b->two, t, lv[j].first, b->wire + b->off[j], b->peer + b->off[j], b->z);
    level_apply(rm, q, &lv[j], lt, eq, b->z);
}

/* Levels counted from 0: the server sends level 0's openings right behind
 * its OT answers (message 0); message t >= 1, the client's for odd t, the
 * server's for even t, carries its sender's openings of levels t-1 and t
 * (t only below the level count). Its sender had the peer's openings of
 * levels t-2 and t-1 in message t-1, so it completes t-2, opens t-1,
 * completes t-1 and opens t; the last message's receiver completes the
 * last level. An arithmetic last level (stop 2, mpc_arith_last) follows
 * as its own exchange: the last message's sender sends its part right
 * behind it. */
cg_status mpc_lt_tree_pipe(cg_mpc *m, const mpc_row_map *rm, size_t q, const uint8_t *sh0,
                           uint8_t *lt, uint8_t *eq, const mpc_triples *t, size_t stop,
                           uint8_t *out, cg_error *err)
{
    mpc_tree_level lv[MPC_MAX_LEVELS];
    size_t nl = mpc_tree_plan(rm, q, sh0, stop, lv), rows = (size_t)rm->K * (rm->n0 + rm->n1);
    bool server = m->party == CG_SERVER, closed[MPC_MAX_LEVELS] = {0};
    tree_buf b = {0};
    cg_status st = CG_OK;
    if (!tree_buf_init(&b, lv, nl, t->n))
        st = cg_error_set(err, CG_ERR_NOMEM, "less_than: out of memory");
    mpc_prof_push(m, "cmp.and");
    if (st == CG_OK && server && nl > 0) {
        size_t len = pipe_open(rm, q, lv, 0, lt, eq, t, &b);
        st = cg_chan_send(m->ch, b.wire, len, err);
    } else if (st == CG_OK && nl > 0) {
        st = cg_chan_recv(m->ch, b.peer, lv[0].bytes, err);
    }
    for (size_t msg = 1; st == CG_OK && msg <= nl; msg++) {
        bool mine = (msg % 2 == 1) != server; /* odd messages are the client's */
        size_t lo = msg - 1, hi = msg < nl ? msg : msg - 1;
        if (mine) {
            if (lo > 0 && !closed[lo - 1]) {
                pipe_close(m, rm, q, lv, lo - 1, lt, eq, t, &b);
                closed[lo - 1] = true;
            }
            pipe_open(rm, q, lv, lo, lt, eq, t, &b);
            pipe_close(m, rm, q, lv, lo, lt, eq, t, &b);
            closed[lo] = true;
            if (hi != lo) pipe_open(rm, q, lv, hi, lt, eq, t, &b);
            /* levels lo..hi lie next to each other in wire */
            size_t len = b.off[hi] + lv[hi].bytes - b.off[lo];
            st = cg_chan_send(m->ch, b.wire + b.off[lo], len, err);
        } else {
            size_t len = b.off[hi] + lv[hi].bytes - b.off[lo];
            st = cg_chan_recv(m->ch, b.peer + b.off[lo], len, err);
        }
    }
    for (size_t j = 0; st == CG_OK && j < nl; j++)
        if (!closed[j]) pipe_close(m, rm, q, lv, j, lt, eq, t, &b);
    /* the last message leaves now, not with the caller's next one (an
     * arithmetic last level's exchange sends it along) */
    if (st == CG_OK && out) st = cg_chan_flush(m->ch, err);
    mpc_prof_pop(m);
    for (size_t i = 0; st == CG_OK && out && i < rows; i++) out[i] = lt[i * q];
    tree_buf_free(&b);
    return st;
}
