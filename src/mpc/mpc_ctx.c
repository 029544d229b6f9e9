/* The two-party context and the arithmetic protocols: B2A, Gilboa products,
 * squares, public-constant operations, select/multiplexer, AND, truncation. */
#include <string.h>

#include "mpc/mpc_internal.h"

cg_status cg_mpc_new(cg_mpc **out, cg_channel *ch, cg_party party, const cg_mpc_options *opt,
                     cg_error *err)
{
    static const cg_mpc_options defaults = {.otn = CG_OTN_KK13};
    if (!opt) opt = &defaults;
    if (!out || !ch || (party != CG_SERVER && party != CG_CLIENT) ||
        (opt->otn != CG_OTN_KK13 && opt->otn != CG_OTN_SPLIT))
        return cg_error_set(err, CG_ERR_ARG, "cg_mpc_new: bad argument");
    *out = NULL;
    cg_mpc *m = cg_calloc(1, sizeof *m);
    if (!m) return cg_error_set(err, CG_ERR_NOMEM, "cannot allocate mpc context");
    m->ch = ch;
    m->party = party;
    cg_prg_init_random(&m->prg);
    cg_status st = cg_ot_pair_new(&m->ot, ch, (int)party, opt->otn, err);
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

/* The two directions of one exchange: in step 0 the server sends (its sender
 * instance) and the client receives; in step 1 the roles swap. Both parties
 * run step 0 then step 1, so the channel stays in step. */
cg_status cg_mpc_b2a(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "b2a", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *t = cg_alloc((n ? n : 1) * sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "b2a: out of memory");
    cg_status st;
    /* b0 xor b1 = b0 + b1 - 2 b0 b1; the product from one COT with the
     * server's bit as correlation and the client's as choice. */
    if (m->party == CG_SERVER) {
        uint64_t *delta = cg_alloc((n ? n : 1) * sizeof *delta);
        if (!delta) {
            cg_free(t);
            return cg_error_set(err, CG_ERR_NOMEM, "b2a: out of memory");
        }
        for (size_t i = 0; i < n; i++) delta[i] = b[i] & 1;
        st = cg_cot_send(m->ot.send, n, bits, delta, t, err);
        cg_free(delta);
        if (st == CG_OK)
            for (size_t i = 0; i < n; i++) out[i] = ((b[i] & 1) + 2 * t[i]) & mask;
    } else {
        st = cg_cot_recv(m->ot.recv, n, bits, b, t, err);
        if (st == CG_OK)
            for (size_t i = 0; i < n; i++) out[i] = ((b[i] & 1) - 2 * t[i]) & mask;
    }
    cg_free(t);
    return mpc_fail(m, st);
}

/* COTs per direction per piece of cot_both2: bounds what is in flight. */
#define COT_PIECE ((size_t)1 << 16)

/* One COT batch in each direction at once: this party sends n_send COTs
 * with correlations delta (getting x0) and receives n_recv with its choice
 * bits (getting out). Each party begins its receiver end first, so both
 * expand their extension matrices at the same time instead of taking turns. */

static cg_status cot_both2(cg_mpc *m, unsigned bits, size_t n_send, const uint64_t *delta,
                           uint64_t *x0, size_t n_recv, const uint8_t *choice, uint64_t *out,
                           cg_error *err)
{
    cg_status st = CG_OK;
    for (size_t s = 0, r = 0; st == CG_OK && (s < n_send || r < n_recv);) {
        size_t ps = n_send - s < COT_PIECE ? n_send - s : COT_PIECE;
        size_t pr = n_recv - r < COT_PIECE ? n_recv - r : COT_PIECE;
        st = cg_cot_recv_begin(m->ot.recv, pr, bits, choice + r, out + r, err);
        if (st == CG_OK) st = cg_cot_send(m->ot.send, ps, bits, delta + s, x0 + s, err);
        if (st == CG_OK) st = cg_cot_recv_end(m->ot.recv, pr, bits, choice + r, out + r, err);
        s += ps;
        r += pr;
    }
    return st;
}

static cg_status cot_both(cg_mpc *m, unsigned bits, size_t n, const uint64_t *delta, uint64_t *x0,
                          const uint8_t *choice, uint64_t *out, cg_error *err)
{
    return cot_both2(m, bits, n, delta, x0, n, choice, out, err);
}

/* Scratch of one two-direction COT call: what this party sends (delta ->
 * x0) and what it receives (choice -> got). */
typedef struct cot_bufs {
    uint64_t *delta, *x0, *got;
    uint8_t *choice;
} cot_bufs;

static void cot_bufs_free(cot_bufs *b)
{
    cg_free(b->delta);
    cg_free(b->x0);
    cg_free(b->got);
    cg_free(b->choice);
}

static cg_status cot_bufs_alloc(cot_bufs *b, size_t n_send, size_t n_recv, const char *what,
                                cg_error *err)
{
    size_t cs = n_send ? n_send : 1, cr = n_recv ? n_recv : 1;
    b->delta = cg_alloc(cs * sizeof *b->delta);
    b->x0 = cg_alloc(cs * sizeof *b->x0);
    b->got = cg_alloc(cr * sizeof *b->got);
    b->choice = cg_alloc(cr);
    if (b->delta && b->x0 && b->got && b->choice) return CG_OK;
    cot_bufs_free(b);
    return cg_error_set(err, CG_ERR_NOMEM, "%s: out of memory", what);
}

/* Both cross terms of a product at once: this party's a times the peer's
 * c, and the peer's a times this party's c (each a Gilboa product, l COTs
 * per element with correlations a * 2^j). acc += this party's shares. */
static cg_status cross_terms_both(cg_mpc *m, unsigned bits, size_t n, const uint64_t *a,
                                  const uint64_t *c, uint64_t *acc, cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    size_t total;
    if (!cg_mul_size(n, bits, &total)) return cg_error_set(err, CG_ERR_ARG, "mul: batch too large");
    cot_bufs b;
    CG_TRY(cot_bufs_alloc(&b, total, total, "mul", err));
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < bits; j++) {
            b.delta[i * bits + j] = (a[i] << j) & mask;
            b.choice[i * bits + j] = (uint8_t)((c[i] >> j) & 1);
        }
    cg_status st = cot_both(m, bits, total, b.delta, b.x0, b.choice, b.got, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) {
            uint64_t s = 0;
            for (unsigned j = 0; j < bits; j++) s += b.got[i * bits + j] - b.x0[i * bits + j];
            acc[i] = (acc[i] + s) & mask;
        }
    cot_bufs_free(&b);
    return st;
}

cg_status cg_mpc_mul(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, const uint64_t *y,
                     uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "mul", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *acc = cg_alloc((n ? n : 1) * sizeof *acc);
    if (!acc) return cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory");
    for (size_t i = 0; i < n; i++) acc[i] = (x[i] * y[i]) & mask;
    /* Each party's x times the other's y, both directions at once. */
    cg_status st = cross_terms_both(m, bits, n, x, y, acc, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = acc[i];
    cg_free(acc);
    return mpc_fail(m, st);
}

/* Shares of a * b where the server holds a and the client b (each party
 * passes its own operand as `mine`; acc += this party's share). With
 * b = lo + 2^k hi (lo the low k bits): a b = a lo + 2^k (a mod 2^(l-k)) hi.
 * The first part takes k COTs on the client's bits of lo (the server's
 * correlations a 2^j), the second l - k COTs on the server's bits of a (the
 * client's correlations hi 2^(k+i)): one product's l COTs, split between
 * the two directions and run at once. */
static cg_status split_cross_term(cg_mpc *m, unsigned bits, size_t n, const uint64_t *mine,
                                  uint64_t *acc, cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    unsigned k = (bits + 1) / 2, kk = bits - k;
    size_t cs, cr; /* COTs the server sends / receives */
    bool server = m->party == CG_SERVER;
    if (!cg_mul_size(n, k, &cs) || !cg_mul_size(n, kk, &cr))
        return cg_error_set(err, CG_ERR_ARG, "product: batch too large");
    size_t ns = server ? cs : cr, nr = server ? cr : cs;
    cot_bufs bf;
    CG_TRY(cot_bufs_alloc(&bf, ns, nr, "product", err));
    if (server)
        for (size_t i = 0; i < n; i++) {
            for (unsigned j = 0; j < k; j++) bf.delta[i * k + j] = (mine[i] << j) & mask;
            for (unsigned j = 0; j < kk; j++) bf.choice[i * kk + j] = (uint8_t)((mine[i] >> j) & 1);
        }
    else
        for (size_t i = 0; i < n; i++) {
            uint64_t hi = (mine[i] & mask) >> k;
            for (unsigned j = 0; j < kk; j++) bf.delta[i * kk + j] = (hi << (k + j)) & mask;
            for (unsigned j = 0; j < k; j++) bf.choice[i * k + j] = (uint8_t)((mine[i] >> j) & 1);
        }
    cg_status st = cot_both2(m, bits, ns, bf.delta, bf.x0, nr, bf.choice, bf.got, err);
    if (st == CG_OK) {
        size_t per_s = server ? k : kk, per_r = server ? kk : k;
        for (size_t i = 0; i < n; i++) {
            uint64_t v = acc[i];
            for (size_t j = 0; j < per_s; j++) v -= bf.x0[i * per_s + j];
            for (size_t j = 0; j < per_r; j++) v += bf.got[i * per_r + j];
            acc[i] = v & mask;
        }
    }
    cot_bufs_free(&bf);
    return st;
}

cg_status cg_mpc_square(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t *out,
                        cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "square", err));
    uint64_t mask = mpc_mask(bits);
    size_t cap = n ? n : 1;
    uint64_t *acc = cg_alloc(cap * sizeof *acc), *op = cg_alloc(cap * sizeof *op);
    cg_status st = CG_OK;
    if (!acc || !op) st = cg_error_set(err, CG_ERR_NOMEM, "square: out of memory");
    /* x^2 = x0^2 + x1^2 + (2 x0) x1. */
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        acc[i] = (x[i] * x[i]) & mask;
        op[i] = m->party == CG_SERVER ? (2 * x[i]) & mask : x[i] & mask;
    }
    if (st == CG_OK) st = split_cross_term(m, bits, n, op, acc, err);
    if (st == CG_OK) memcpy(out, acc, n * sizeof *out);
    cg_free(acc);
    cg_free(op);
    return mpc_fail(m, st);
}

cg_status cg_mpc_mul_private(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                             const uint64_t *c, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "mul_private", err));
    bool server = m->party == CG_SERVER;
    if (server && n && !c) return cg_error_set(err, CG_ERR_ARG, "mul_private: no constants");
    uint64_t mask = mpc_mask(bits);
    size_t cap = n ? n : 1;
    uint64_t *acc = cg_alloc(cap * sizeof *acc);
    if (!acc) return mpc_fail(m, cg_error_set(err, CG_ERR_NOMEM, "mul_private: out of memory"));
    /* c x = c x0 (the server's, local) + c x1 (the cross term). */
    for (size_t i = 0; i < n; i++) acc[i] = server ? (c[i] * x[i]) & mask : 0;
    cg_status st = split_cross_term(m, bits, n, server ? c : x, acc, err);
    if (st == CG_OK) memcpy(out, acc, n * sizeof *out);
    cg_free(acc);
    return mpc_fail(m, st);
}

void cg_mpc_mul_public(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t c,
                       uint64_t *out)
{
    (void)m;
    uint64_t mask = mpc_mask(bits);
    for (size_t i = 0; i < n; i++) out[i] = (x[i] * c) & mask;
}

void cg_mpc_add_public(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t c,
                       uint64_t *out)
{
    uint64_t mask = mpc_mask(bits), add = m->party == CG_SERVER ? c : 0;
    for (size_t i = 0; i < n; i++) out[i] = (x[i] + add) & mask;
}

/* Shares of (b0 xor b1) * v for v = v0 + v1: each party's part
 * (b_s xor b_r) v_s = b_s v_s + b_r (1 - 2 b_s) v_s, the second term from a
 * COT where the owner of v_s sends correlation (1 - 2 b_s) v_s and the other
 * party chooses with b_r. Both directions at once. */
cg_status cg_mpc_select(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                        uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "select", err));
    uint64_t mask = mpc_mask(bits);
    cot_bufs bf;
    cg_status st = cot_bufs_alloc(&bf, n, n, "select", err);
    if (st != CG_OK) return mpc_fail(m, st);
    for (size_t i = 0; i < n; i++) {
        bf.delta[i] = (b[i] & 1 ? -x[i] : x[i]) & mask;
        bf.choice[i] = b[i] & 1;
    }
    st = cot_both(m, bits, n, bf.delta, bf.x0, bf.choice, bf.got, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = (((b[i] & 1) ? x[i] : 0) - bf.x0[i] + bf.got[i]) & mask;
    cot_bufs_free(&bf);
    return mpc_fail(m, st);
}

cg_status cg_mpc_mux(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                     const uint64_t *y, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "mux", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *d = cg_alloc((n ? n : 1) * sizeof *d);
    if (!d) return cg_error_set(err, CG_ERR_NOMEM, "mux: out of memory");
    for (size_t i = 0; i < n; i++) d[i] = (x[i] - y[i]) & mask;
    cg_status st = cg_mpc_select(m, bits, n, b, d, d, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = (y[i] + d[i]) & mask;
    cg_free(d);
    return st;
}

/* x & y on XOR shares: x0 y0 ^ x1 y1 locally, and both cross terms (each
 * party's x times the other's y, a 1-bit COT each) at once. */
cg_status cg_mpc_and(cg_mpc *m, size_t n, const uint8_t *x, const uint8_t *y, uint8_t *z,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, 1, 1, "and", err));
    cot_bufs bf;
    cg_status st = cot_bufs_alloc(&bf, n, n, "and", err);
    if (st != CG_OK) return mpc_fail(m, st);
    for (size_t i = 0; i < n; i++) {
        bf.delta[i] = x[i] & 1;
        bf.choice[i] = y[i] & 1;
    }
    st = cot_both(m, 1, n, bf.delta, bf.x0, bf.choice, bf.got, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++)
            z[i] = (uint8_t)((x[i] & y[i] & 1) ^ ((bf.x0[i] ^ bf.got[i]) & 1));
    cot_bufs_free(&bf);
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
cg_status mpc_and_units(cg_mpc *m, size_t nu, const uint8_t *two, const uint8_t *x,
                        const uint8_t *y, const mpc_triples *t, size_t first, uint8_t *z,
                        cg_error *err)
{
    if (nu == 0) return CG_OK;
    if (first > t->n || nu > t->n - first)
        return cg_error_set(err, CG_ERR_ARG, "and: %zu units beyond the triples", nu);
    const uint8_t *a = t->a + 2 * first, *b = t->b + first, *c = t->c + 2 * first;
    size_t nb = (3 * nu + 7) / 8, pos = 0;
    uint8_t *wire = cg_alloc(nb), *peer = cg_alloc(nb);
    cg_status st = CG_OK;
    if (!wire || !peer) st = cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
    if (st == CG_OK) {
        memset(wire, 0, nb);
        for (size_t u = 0; u < nu; u++) {
            put_bit(wire, &pos, y[u] ^ b[u]);
            for (unsigned j = 0; j < 1u + (two[u] != 0); j++)
                put_bit(wire, &pos, x[2 * u + j] ^ a[2 * u + j]);
        }
        st = cg_chan_send(m->ch, wire, (pos + 7) / 8, err);
    }
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK) st = cg_chan_recv(m->ch, peer, (pos + 7) / 8, err);
    if (st == CG_OK) {
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
    cg_free(wire);
    cg_free(peer);
    return st;
}

cg_status cg_mpc_trunc(cg_mpc *m, unsigned bits, unsigned shift, size_t n, const uint64_t *x,
                       uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc: shift %u outside [1, %u)", shift, bits - 2);
    return mpc_trunc_var(m, bits, shift, NULL, n, x, out, err);
}

void cg_mpc_set_exact(cg_mpc *m, bool exact)
{
    if (m) m->exact = exact;
}

cg_status cg_mpc_trunc_exact(cg_mpc *m, unsigned bits, unsigned shift, size_t n,
                             const uint64_t *x, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc_exact", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc_exact: shift %u outside [1, %u)", shift,
                            bits - 2);
    return mpc_trunc_impl(m, bits, bits, shift, NULL, n, x, out, true, err);
}

cg_status mpc_trunc_var(cg_mpc *m, unsigned bits, unsigned shift, const uint8_t *shifts, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err)
{
    return mpc_trunc_impl(m, bits, bits, shift, shifts, n, x, out, m->exact, err);
}

/* Boolean shares of the carry [y0_low + y1_low >= 2^sh] of each element's
 * low sh bits, i.e. [2^sh - 1 - y0_low < y1_low]: one millionaires'
 * comparison at the largest shift's width. */
static cg_status low_carry_bits(cg_mpc *m, unsigned shift, const uint8_t *shifts, size_t n,
                                const uint64_t *y, uint8_t *c, cg_error *err)
{
    unsigned w = shift;
    if (shifts)
        for (size_t i = 0; i < n; i++)
            if (shifts[i] > w) w = shifts[i];
    uint64_t *v = cg_alloc((n ? n : 1) * sizeof *v);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t low = mpc_mask(shifts ? shifts[i] : shift);
        v[i] = m->party == CG_SERVER ? low - (y[i] & low) : y[i] & low;
    }
    cg_status st = w >= 1 ? cg_mpc_less_than(m, w, n, v, c, err) : CG_OK;
    cg_free(v);
    return st;
}

cg_status mpc_trunc_lift(cg_mpc *m, unsigned bits, unsigned out_bits, const uint8_t *shifts,
                         size_t n, const uint64_t *x, uint64_t *out, cg_error *err)
{
    return mpc_trunc_impl(m, bits, out_bits, 0, shifts, n, x, out, m->exact, err);
}

cg_status mpc_trunc_impl(cg_mpc *m, unsigned bits, unsigned out_bits, unsigned shift,
                         const uint8_t *shifts, size_t n, const uint64_t *x, uint64_t *out,
                         bool exact, cg_error *err)
{
    uint64_t half = 1ull << (bits - 1), offset = 1ull << (bits - 2), mask = mpc_mask(out_bits);
    /* Shares come in mod 2^bits and leave mod 2^out_bits: the identity
     * below holds over the integers, so only the wrap bit's arithmetic
     * shares need the wider ring, which the COT gives at no extra count.
     * Bit products over Z_2^out_bits from one COT batch: entry i < n is the wrap
     * term top0 * top1, entry n + i (exact only) the carry's c0 * c1 (its
     * B2A); one batch saves the carry a round trip of its own. */
    size_t np = exact ? 2 * n : n, cap = np ? np : 1;
    uint8_t *bit = cg_alloc(cap);
    uint64_t *prod = cg_alloc(cap * sizeof *prod);
    uint64_t *y = cg_alloc((n ? n : 1) * sizeof *y);
    if (!bit || !prod || !y) {
        cg_free(bit);
        cg_free(prod);
        cg_free(y);
        return cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    }
    /* y = x + 2^(l-2) lies in [0, 2^(l-1)), so its top bit is 0 and the
     * wrap bit of the shares is msb(y0) OR msb(y1) = m0 + m1 - m0 m1. */
    cg_mpc_add_public(m, bits, n, x, offset, y);
    for (size_t i = 0; i < n; i++) bit[i] = (y[i] & half) != 0;
    /* The shares' floors lose exactly the carry of the low bits; adding it
     * back makes the result floor(x / 2^sh). */
    cg_status st = exact ? low_carry_bits(m, shift, shifts, n, y, bit + n, err) : CG_OK;
    if (st == CG_OK) {
        if (m->party == CG_SERVER) {
            uint64_t *delta = cg_alloc(cap * sizeof *delta);
            if (!delta) st = cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
            else {
                for (size_t i = 0; i < np; i++) delta[i] = bit[i];
                st = cg_cot_send(m->ot.send, np, out_bits, delta, prod, err);
                for (size_t i = 0; st == CG_OK && i < np; i++) prod[i] = (0 - prod[i]) & mask;
                cg_free(delta);
            }
        } else {
            st = cg_cot_recv(m->ot.recv, np, out_bits, bit, prod, err);
        }
    }
    if (st == CG_OK) {
        for (size_t i = 0; i < n; i++) {
            unsigned sh = shifts ? shifts[i] : shift;
            uint64_t wrap = (bit[i] - prod[i]) & mask; /* this party's share of w */
            uint64_t r = (y[i] >> sh) - (wrap << (bits - sh));
            if (m->party == CG_SERVER) r -= offset >> sh;
            if (exact) r += bit[n + i] - 2 * prod[n + i]; /* B2A of the carry */
            out[i] = r & mask;
        }
    }
    cg_free(bit);
    cg_free(prod);
    cg_free(y);
    return mpc_fail(m, st);
}
