/* Two-party context and arithmetic protocols over Z_{2^l}: B2A, Gilboa
 * multiplication via correlated OT, server-private constants, opening. */
#include <stdlib.h>
#include <string.h>

#include "cryptogen/mpc.h"

static uint64_t mask_l(unsigned l) { return l >= 64 ? UINT64_MAX : (1ull << l) - 1; }

cg_status cg_mpc_init(cg_mpc *m, cg_channel *ch, cg_party party, cg_error *err)
{
    memset(m, 0, sizeof *m);
    m->ch = ch;
    m->party = party;
    m->nthreads = 1;
    cg_prg_init_random(&m->prg);
    return cg_ot_pair_new(&m->ot, ch, party == CG_SERVER ? 0 : 1, err);
}

void cg_mpc_free(cg_mpc *m)
{
    cg_ot_pair_free(&m->ot);
    cg_prg_clear(&m->prg);
}

static cg_status check_l(unsigned l, cg_error *err)
{
    if (l < 1 || l > 64) return cg_error_set(err, CG_ERR_ARG, "ring width %u outside [1, 64]", l);
    return CG_OK;
}

/* Additive shares in Z_{2^l} of a * b for bits a (the server's) and b (the
 * client's): one COT with a as the correlation and b as the choice. Each
 * party passes its own bits. */
static cg_status bit_product(cg_mpc *m, size_t n, unsigned l, const uint8_t *mine, uint64_t *share, cg_error *err)
{
    const uint64_t mk = mask_l(l);
    uint64_t *t = malloc((n ? n : 1) * sizeof *t);
    uint8_t *c = malloc(n ? n : 1);
    cg_status st = t && c ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "bit product");
    for (size_t i = 0; i < n && st == CG_OK; i++) c[i] = mine[i] & 1;
    if (st == CG_OK && m->party == CG_SERVER) {
        for (size_t i = 0; i < n; i++) share[i] = c[i]; /* the correlation, then the share */
        st = cg_cot_send(m->ot.send, n, l, share, t, err);
        for (size_t i = 0; i < n && st == CG_OK; i++) share[i] = (0 - t[i]) & mk;
    } else if (st == CG_OK) {
        st = cg_cot_recv(m->ot.recv, n, l, c, share, err);
    }
    if (t) cg_secure_zero(t, n * sizeof *t);
    if (c) cg_secure_zero(c, n);
    free(t);
    free(c);
    return st;
}

cg_status cg_mpc_b2a(cg_mpc *m, size_t n, unsigned l, const uint8_t *bits, uint64_t *out, cg_error *err)
{
    CG_TRY(check_l(l, err));
    const uint64_t mk = mask_l(l);
    /* b = b_S + b_C - 2 b_S b_C */
    CG_TRY(bit_product(m, n, l, bits, out, err));
    for (size_t i = 0; i < n; i++) out[i] = ((uint64_t)(bits[i] & 1) - 2 * out[i]) & mk;
    return CG_OK;
}

/* Shares of a * b where `sender` holds a and the other party holds b: one COT
 * per bit of b with correlation a * 2^j. The sender's share is -sum x0. */
static cg_status cross(cg_mpc *m, cg_party sender, size_t n, unsigned l, const uint64_t *mine, uint64_t *share,
                       cg_error *err)
{
    const uint64_t mk = mask_l(l);
    size_t cnt;
    if (!cg_mul_size(n, l, &cnt)) return cg_error_set(err, CG_ERR_ARG, "batch too large");
    uint64_t *v = malloc((cnt ? cnt : 1) * sizeof *v);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "multiplication");
    cg_status st;
    if (m->party == sender) {
        uint64_t *delta = malloc((cnt ? cnt : 1) * sizeof *delta);
        st = delta ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "multiplication");
        for (size_t i = 0; i < n && st == CG_OK; i++)
            for (unsigned j = 0; j < l; j++) delta[i * l + j] = (mine[i] << j) & mk;
        if (st == CG_OK) st = cg_cot_send(m->ot.send, cnt, l, delta, v, err);
        for (size_t i = 0; i < n && st == CG_OK; i++) {
            uint64_t s = 0;
            for (unsigned j = 0; j < l; j++) s -= v[i * l + j];
            share[i] = s & mk;
        }
        free(delta);
    } else {
        uint8_t *c = malloc(cnt ? cnt : 1);
        st = c ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "multiplication");
        for (size_t i = 0; i < n && st == CG_OK; i++)
            for (unsigned j = 0; j < l; j++) c[i * l + j] = (uint8_t)((mine[i] >> j) & 1);
        if (st == CG_OK) st = cg_cot_recv(m->ot.recv, cnt, l, c, v, err);
        for (size_t i = 0; i < n && st == CG_OK; i++) {
            uint64_t s = 0;
            for (unsigned j = 0; j < l; j++) s += v[i * l + j];
            share[i] = s & mk;
        }
        if (c) cg_secure_zero(c, cnt);
        free(c);
    }
    cg_secure_zero(v, cnt * sizeof *v);
    free(v);
    return st;
}

cg_status cg_mpc_mul(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, const uint64_t *y, uint64_t *z,
                     cg_error *err)
{
    CG_TRY(check_l(l, err));
    const uint64_t mk = mask_l(l);
    uint64_t *c1 = malloc((n ? n : 1) * sizeof *c1), *c2 = malloc((n ? n : 1) * sizeof *c2);
    cg_status st = c1 && c2 ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "multiplication");
    /* x_S y_C (server holds x_S), then x_C y_S (client holds x_C) */
    if (st == CG_OK) st = cross(m, CG_SERVER, n, l, m->party == CG_SERVER ? x : y, c1, err);
    if (st == CG_OK) st = cross(m, CG_CLIENT, n, l, m->party == CG_CLIENT ? x : y, c2, err);
    for (size_t i = 0; i < n && st == CG_OK; i++) z[i] = (x[i] * y[i] + c1[i] + c2[i]) & mk;
    free(c1);
    free(c2);
    return st;
}

cg_status cg_mpc_square(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint64_t *z, cg_error *err)
{
    CG_TRY(check_l(l, err));
    const uint64_t mk = mask_l(l);
    uint64_t *c = malloc((n ? n : 1) * sizeof *c);
    if (!c) return cg_error_set(err, CG_ERR_NOMEM, "square");
    /* (x_S + x_C)^2 = x_S^2 + x_C^2 + 2 x_S x_C: one cross term */
    cg_status st = cross(m, CG_SERVER, n, l, x, c, err);
    for (size_t i = 0; i < n && st == CG_OK; i++) z[i] = (x[i] * x[i] + 2 * c[i]) & mk;
    free(c);
    return st;
}

void cg_mpc_mul_public(size_t n, unsigned l, const uint64_t *x, uint64_t c, uint64_t *z)
{
    const uint64_t mk = mask_l(l);
    for (size_t i = 0; i < n; i++) z[i] = (x[i] * c) & mk;
}

cg_status cg_mpc_mul_server_const(cg_mpc *m, size_t n, unsigned l, const uint64_t *c, const uint64_t *x,
                                  uint64_t *z, cg_error *err)
{
    CG_TRY(check_l(l, err));
    if (m->party == CG_SERVER && !c) return cg_error_set(err, CG_ERR_ARG, "the server must give the constants");
    const uint64_t mk = mask_l(l);
    uint64_t *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "multiplication");
    /* c x = c x_S (local at the server) + c x_C (cross term) */
    cg_status st = cross(m, CG_SERVER, n, l, m->party == CG_SERVER ? c : x, t, err);
    for (size_t i = 0; i < n && st == CG_OK; i++) z[i] = (m->party == CG_SERVER ? c[i] * x[i] + t[i] : t[i]) & mk;
    free(t);
    return st;
}

cg_status cg_mpc_open(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint64_t *out, cg_error *err)
{
    CG_TRY(check_l(l, err));
    const uint64_t mk = mask_l(l);
    uint64_t *peer = malloc((n ? n : 1) * sizeof *peer);
    if (!peer) return cg_error_set(err, CG_ERR_NOMEM, "open");
    cg_status st;
    /* the server speaks first so the two sends never cross */
    if (m->party == CG_SERVER) {
        st = cg_chan_send_msg(m->ch, x, n * 8, err);
        if (st == CG_OK) st = cg_chan_recv_msg(m->ch, peer, n * 8, err);
    } else {
        st = cg_chan_recv_msg(m->ch, peer, n * 8, err);
        if (st == CG_OK) st = cg_chan_send_msg(m->ch, x, n * 8, err);
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    }
    for (size_t i = 0; i < n && st == CG_OK; i++) out[i] = (x[i] + peer[i]) & mk;
    free(peer);
    return st;
}

cg_status cg_mpc_trunc(cg_mpc *m, size_t n, unsigned l, unsigned s, const uint64_t *x, uint64_t *z,
                       cg_error *err)
{
    CG_TRY(check_l(l, err));
    if (l < 3 || s >= l - 2) return cg_error_set(err, CG_ERR_ARG, "truncation by %u in a %u-bit ring", s, l);
    const uint64_t mk = mask_l(l), bias = 1ull << (l - 2);
    uint64_t *xp = malloc((n ? n : 1) * sizeof *xp), *w = malloc((n ? n : 1) * sizeof *w);
    uint8_t *top = calloc(n ? n : 1, 1);
    cg_status st = xp && w && top ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "truncation");
    /* x' = x + 2^(l-2) is in [0, 2^(l-1)): the shares wrap iff either share's
     * top bit is set, so w = a + b - ab with a, b the two top bits */
    for (size_t i = 0; i < n && st == CG_OK; i++) {
        xp[i] = (x[i] + (m->party == CG_SERVER ? bias : 0)) & mk;
        top[i] = (uint8_t)((xp[i] >> (l - 1)) & 1);
    }
    /* w = a OR b = 1 - (1-a)(1-b): the product of the complemented top bits */
    for (size_t i = 0; i < n && st == CG_OK; i++) top[i] ^= 1;
    if (st == CG_OK) st = bit_product(m, n, l, top, w, err);
    for (size_t i = 0; i < n && st == CG_OK; i++) w[i] = ((m->party == CG_SERVER ? 1 : 0) - w[i]) & mk;
    for (size_t i = 0; i < n && st == CG_OK; i++) {
        uint64_t v = (xp[i] >> s) - ((w[i] << (l - s)) & mk);
        if (m->party == CG_SERVER) v -= bias >> s;
        z[i] = v & mk;
    }
    free(xp), free(w), free(top);
    return st;
}
