/* Boolean protocols on XOR shares: AND from two 1-bit COTs, random bit
 * triples from random OTs, and ANDs on those triples (Beaver), which the
 * comparisons' AND trees use. */
#include <string.h>

#include "mpc/mpc_internal.h"

/* x & y on XOR shares: x0 y0 ^ x1 y1 locally, and both cross terms (each
 * party's x times the other's y, a 1-bit COT each) at once. */
cg_status cg_mpc_and(cg_mpc *m, size_t n, const uint8_t *x, const uint8_t *y, uint8_t *z,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, 1, 1, "and", err));
    mpc_cot_bufs bf;
    cg_status st = mpc_cot_bufs_alloc(&bf, n, n, "and", err);
    if (st != CG_OK) return mpc_fail(m, st);
    for (size_t i = 0; i < n; i++) {
        bf.delta[i] = x[i] & 1;
        bf.choice[i] = y[i] & 1;
    }
    mpc_prof_push(m, "cot.and");
    st = mpc_cot_both(m, 1, n, bf.delta, bf.x0, n, bf.choice, bf.got, err);
    mpc_prof_pop(m);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++)
            z[i] = (uint8_t)((x[i] & y[i] & 1) ^ ((bf.x0[i] ^ bf.got[i]) & 1));
    mpc_cot_bufs_free(&bf);
    return mpc_fail(m, st);
}

/* Random bit triples in pairs that share b: XOR shares of a, b and
 * c = a & b for n units of two triples (a[2u], b[u], c[2u]) and
 * (a[2u+1], b[u], c[2u+1]). Each cross term (one party's a times the
 * other's b) comes from one random OT: the sender's r0 ^ r1 is its a-share,
 * the receiver's random choice its b-share, and r0 and r_choice are XOR
 * shares of the product; 2-bit messages give both triples of a unit from
 * one OT, since they share the choice. Random OTs need no correction
 * message. _begin runs this party's receiver end (it only sends), _end its
 * sender end (it reads the peer's _begin message), so a caller can put
 * other traffic between the two halves. */
cg_status mpc_triples_begin(cg_mpc *m, size_t n, mpc_triples *t, cg_error *err)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    size_t cap = n ? n : 1;
    if (cap > SIZE_MAX / 2) return cg_error_set(err, CG_ERR_ARG, "and: batch too large");
    t->a = cg_alloc(2 * cap);
    t->b = cg_alloc(cap);
    t->c = cg_alloc(2 * cap);
    t->v = cg_alloc(cap * sizeof *t->v);
    if (!t->a || !t->b || !t->c || !t->v)
        return cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
    if (n == 0) return CG_OK;
    return cg_rot_recv_random(m->ot.recv, n, 2, t->b, t->v, err);
}

cg_status mpc_triples_end(cg_mpc *m, mpc_triples *t, cg_error *err)
{
    size_t n = t->n;
    if (n == 0) return CG_OK;
    uint64_t *r0 = cg_alloc(n * sizeof *r0), *r1 = cg_alloc(n * sizeof *r1);
    cg_status st = CG_OK;
    if (!r0 || !r1) st = cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
    if (st == CG_OK) st = cg_rot_send(m->ot.send, n, 2, r0, r1, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++)
            for (unsigned j = 0; j < 2; j++) {
                uint8_t a = (uint8_t)(((r0[i] ^ r1[i]) >> j) & 1);
                t->a[2 * i + j] = a;
                t->c[2 * i + j] = (uint8_t)(((a & t->b[i]) ^ ((r0[i] ^ t->v[i]) >> j)) & 1);
            }
    cg_free(r0);
    cg_free(r1);
    return st;
}

void mpc_triples_free(mpc_triples *t)
{
    cg_free(t->a);
    cg_free(t->b);
    cg_free(t->c);
    cg_free(t->v);
    memset(t, 0, sizeof *t);
}

/* Appends bit v at *pos of a zeroed bit string. */
static void put_bit(uint8_t *out, size_t *pos, uint8_t v)
{
    out[*pos / 8] |= (uint8_t)((v & 1) << (*pos % 8));
    (*pos)++;
}

static uint8_t take_bit(const uint8_t *p, size_t *pos)
{
    uint8_t v = (p[*pos / 8] >> (*pos % 8)) & 1;
    (*pos)++;
    return v;
}

/* ANDs on XOR shares in units of one or two sharing their y operand, unit
 * u using the triples of unit `first + u` of t (Beaver): z[2u] = x[2u] &
 * y[u] and, where two[u], z[2u+1] = x[2u+1] & y[u]. Both parties open
 * e = y ^ b and each d = x ^ a in one exchange (each sends at once), so a
 * pair opens three bits instead of four; then z = c ^ d b ^ e a ^ d e (the
 * last term on the server only). */
size_t mpc_and_open(size_t nu, const uint8_t *two, const uint8_t *x, const uint8_t *y,
                    const mpc_triples *t, size_t first, uint8_t *wire)
{
    const uint8_t *a = t->a + 2 * first, *b = t->b + first;
    size_t pos = 0, bits = 2 * nu;
    for (size_t u = 0; u < nu; u++) bits += two[u] != 0;
    memset(wire, 0, (bits + 7) / 8);
    for (size_t u = 0; u < nu; u++) {
        put_bit(wire, &pos, y[u] ^ b[u]);
        for (unsigned j = 0; j < 1u + (two[u] != 0); j++)
            put_bit(wire, &pos, x[2 * u + j] ^ a[2 * u + j]);
    }
    return (pos + 7) / 8;
}

void mpc_and_close(const cg_mpc *m, size_t nu, const uint8_t *two, const mpc_triples *t,
                   size_t first, const uint8_t *wire, const uint8_t *peer, uint8_t *z)
{
    const uint8_t *a = t->a + 2 * first, *b = t->b + first, *c = t->c + 2 * first;
    size_t mp = 0, pp = 0;
    for (size_t u = 0; u < nu; u++) {
        uint8_t e = take_bit(wire, &mp) ^ take_bit(peer, &pp);
        for (unsigned j = 0; j < 1u + (two[u] != 0); j++) {
            size_t k = 2 * u + j;
            uint8_t d = take_bit(wire, &mp) ^ take_bit(peer, &pp);
            uint8_t zi = c[k] ^ (d & b[u]) ^ (e & a[k]);
            if (m->party == CG_SERVER) zi ^= d & e;
            z[k] = zi & 1;
        }
    }
}

cg_status mpc_and_units(cg_mpc *m, size_t nu, const uint8_t *two, const uint8_t *x,
                        const uint8_t *y, const mpc_triples *t, size_t first, uint8_t *z,
                        cg_error *err)
{
    if (nu == 0) return CG_OK;
    if (first > t->n || nu > t->n - first)
        return cg_error_set(err, CG_ERR_ARG, "and: %zu units beyond the triples", nu);
    size_t nb = mpc_and_wire_bytes(nu);
    uint8_t *wire = cg_alloc(nb), *peer = cg_alloc(nb);
    cg_status st = CG_OK;
    if (!wire || !peer) st = cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
    if (st == CG_OK) {
        size_t len = mpc_and_open(nu, two, x, y, t, first, wire);
        mpc_prof_push(m, "cmp.and");
        st = cg_chan_send(m->ch, wire, len, err);
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        if (st == CG_OK) st = cg_chan_recv(m->ch, peer, len, err);
        mpc_prof_pop(m);
    }
    if (st == CG_OK) mpc_and_close(m, nu, two, t, first, wire, peer, z);
    cg_free(wire);
    cg_free(peer);
    return st;
}
