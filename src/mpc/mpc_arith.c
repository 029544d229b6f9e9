/* Arithmetic protocols on shares mod 2^bits: B2A, Gilboa products (both
 * cross terms at once), squares, products with server-private constants,
 * public-constant operations, select and multiplexer. */
#include <string.h>

#include "mpc/mpc_internal.h"

cg_status cg_mpc_b2a(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "b2a", err));
    /* one exchange on daBits made ahead (mpc_dabit.c) */
    return mpc_fail(m, mpc_b2a_open(m, bits, n, b, out, err));
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
    mpc_cot_bufs b;
    CG_TRY(mpc_cot_bufs_alloc(&b, total, total, "mul", err));
    for (size_t i = 0; i < n; i++)
        for (unsigned j = 0; j < bits; j++) {
            b.delta[i * bits + j] = (a[i] << j) & mask;
            b.choice[i * bits + j] = (uint8_t)((c[i] >> j) & 1);
        }
    mpc_prof_push(m, "cot.mul");
    cg_status st = mpc_cot_both(m, bits, total, b.delta, b.x0, total, b.choice, b.got, err);
    mpc_prof_pop(m);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) {
            uint64_t s = 0;
            for (unsigned j = 0; j < bits; j++) s += b.got[i * bits + j] - b.x0[i * bits + j];
            acc[i] = (acc[i] + s) & mask;
        }
    mpc_cot_bufs_free(&b);
    return st;
}

/* The COT forms of cg_mpc_mul, cg_mpc_square and cg_mpc_select (one
 * COT round trip each), when no product material is in stock. */
static cg_status mpc_mul_cot(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                             const uint64_t *y, uint64_t *out, cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    uint64_t *acc = cg_alloc((n ? n : 1) * sizeof *acc);
    if (!acc) return cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory");
    for (size_t i = 0; i < n; i++) acc[i] = (x[i] * y[i]) & mask;
    /* Each party's x times the other's y, both directions at once. */
    cg_status st = cross_terms_both(m, bits, n, x, y, acc, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = acc[i];
    cg_free(acc);
    return st;
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
    mpc_cot_bufs bf;
    CG_TRY(mpc_cot_bufs_alloc(&bf, ns, nr, "product", err));
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
    mpc_prof_push(m, "cot.split");
    cg_status st = mpc_cot_both(m, bits, ns, bf.delta, bf.x0, nr, bf.choice, bf.got, err);
    mpc_prof_pop(m);
    if (st == CG_OK) {
        size_t per_s = server ? k : kk, per_r = server ? kk : k;
        for (size_t i = 0; i < n; i++) {
            uint64_t v = acc[i];
            for (size_t j = 0; j < per_s; j++) v -= bf.x0[i * per_s + j];
            for (size_t j = 0; j < per_r; j++) v += bf.got[i * per_r + j];
            acc[i] = v & mask;
        }
    }
    mpc_cot_bufs_free(&bf);
    return st;
}

static cg_status mpc_square_cot(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                                uint64_t *out, cg_error *err)
{
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
    return st;
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
static cg_status mpc_select_cot(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b,
                                const uint64_t *x, uint64_t *out, cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    mpc_cot_bufs bf;
    cg_status st = mpc_cot_bufs_alloc(&bf, n, n, "select", err);
    if (st != CG_OK) return st;
    for (size_t i = 0; i < n; i++) {
        bf.delta[i] = (b[i] & 1 ? -x[i] : x[i]) & mask;
        bf.choice[i] = b[i] & 1;
    }
    mpc_prof_push(m, "cot.sel");
    st = mpc_cot_both(m, bits, n, bf.delta, bf.x0, n, bf.choice, bf.got, err);
    mpc_prof_pop(m);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = (((b[i] & 1) ? x[i] : 0) - bf.x0[i] + bf.got[i]) & mask;
    mpc_cot_bufs_free(&bf);
    return st;
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


/* The COT form of mpc_select_square (arguments checked by the caller). */
static cg_status select_square_cot(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b,
                                   const uint64_t *x, uint64_t *sel, unsigned sq_bits,
                                   const uint64_t *y, uint64_t *sq, cg_error *err)
{
    uint64_t mask = mpc_mask(bits), qmask = mpc_mask(sq_bits);
    bool server = m->party == CG_SERVER;
    /* the square's cross term as split_cross_term lays it out: the server
     * sends k COTs per element and receives kk, the client the reverse */
    unsigned k = (sq_bits + 1) / 2, kk = sq_bits - k;
    size_t ps = server ? k : kk, pr = server ? kk : k, ns, nr;
    if (!cg_mul_size(n, ps + 1, &ns) || !cg_mul_size(n, pr + 1, &nr))
        return cg_error_set(err, CG_ERR_ARG, "select: batch too large");
    mpc_cot_bufs bf;
    cg_status st = mpc_cot_bufs_alloc(&bf, ns, nr, "select", err);
    if (st != CG_OK) return st;
    /* entries 0 .. n-1: the select's (as cg_mpc_select); then the square's
     * (as cg_mpc_square), whose sq_bits-wide values ride in bits-wide COTs
     * and are reduced after */
    for (size_t i = 0; i < n; i++) {
        bf.delta[i] = (b[i] & 1 ? -x[i] : x[i]) & mask;
        bf.choice[i] = b[i] & 1;
        uint64_t op = (server ? 2 * y[i] : y[i]) & qmask, hi = op >> k;
        for (unsigned j = 0; j < ps; j++)
            bf.delta[n + i * ps + j] = (server ? op << j : hi << (k + j)) & qmask;
        for (unsigned j = 0; j < pr; j++) bf.choice[n + i * pr + j] = (uint8_t)((op >> j) & 1);
    }
    mpc_prof_push(m, "cot.selsq");
    st = mpc_cot_both(m, bits, ns, bf.delta, bf.x0, nr, bf.choice, bf.got, err);
    mpc_prof_pop(m);
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        sel[i] = (((b[i] & 1) ? x[i] : 0) - bf.x0[i] + bf.got[i]) & mask;
        uint64_t v = y[i] * y[i];
        for (size_t j = 0; j < ps; j++) v -= bf.x0[n + i * ps + j];
        for (size_t j = 0; j < pr; j++) v += bf.got[n + i * pr + j];
        sq[i] = v & qmask;
    }
    mpc_cot_bufs_free(&bf);
    return st;
}

/* ---- One-exchange forms on product material made ahead (mpc_beaver.c):
 * each party opens its share of the data minus the material's mask, both
 * at once, and the product follows locally from the opened differences. */

/* Select parts: b xor u (bits) and x - w. With e = b xor u and f = x - w
 * opened, b = e + (1 - 2e) u and b x = e x + (1 - 2e)(u f + u w). */
static void sel_masks(size_t n, const uint8_t *b, const uint64_t *x, const uint64_t *q,
                      uint64_t *e, uint64_t *f)
{
    for (size_t i = 0; i < n; i++) {
        e[i] = (b[i] ^ q[4 * i]) & 1;
        f[i] = x[i] - q[4 * i + 2];
    }
}

static void sel_finish(unsigned bits, size_t n, const uint64_t *x, const uint64_t *q,
                       const uint64_t *e, const uint64_t *f, uint64_t *out)
{
    uint64_t mask = mpc_mask(bits);
    for (size_t i = 0; i < n; i++) {
        uint64_t t = q[4 * i + 1] * f[i] + q[4 * i + 3];
        out[i] = ((e[i] ? x[i] - t : t)) & mask;
    }
}

/* Square parts: x - a opened as e, x^2 = a^2 + 2 e a + e^2. */
static void sq_finish(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *q,
                      const uint64_t *e, uint64_t *out)
{
    bool server = m->party == CG_SERVER;
    for (size_t i = 0; i < n; i++)
        out[i] = (q[2 * i + 1] + 2 * e[i] * q[2 * i] + (server ? e[i] * e[i] : 0)) & mpc_mask(bits);
}

cg_status cg_mpc_mul(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, const uint64_t *y,
                     uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "mul", err));
    if (n == 0) return CG_OK;
    if (n > SIZE_MAX / 32) return mpc_fail(m, cg_error_set(err, CG_ERR_ARG, "mul: batch too large"));
    const uint64_t *q = mpc_pool_get(m, MPC_POOL_MUL, bits, n);
    if (!q) return mpc_fail(m, mpc_mul_cot(m, bits, n, x, y, out, err));
    uint64_t *ef = cg_alloc(4 * n * sizeof *ef);
    if (!ef) return mpc_fail(m, cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory"));
    /* e = x - a, f = y - b; x y = ab + e b + f a + e f */
    for (size_t i = 0; i < n; i++) {
        ef[i] = x[i] - q[3 * i];
        ef[n + i] = y[i] - q[3 * i + 1];
    }
    const mpc_open_seg sg = {bits, 2 * n, ef, ef + 2 * n};
    cg_status st = mpc_open_exchange(m, 1, &sg, err);
    const uint64_t *e = ef + 2 * n, *f = ef + 3 * n;
    bool server = m->party == CG_SERVER;
    for (size_t i = 0; st == CG_OK && i < n; i++)
        out[i] = (q[3 * i + 2] + e[i] * q[3 * i + 1] + f[i] * q[3 * i] +
                  (server ? e[i] * f[i] : 0)) & mpc_mask(bits);
    cg_free(ef);
    return mpc_fail(m, st);
}

cg_status cg_mpc_square(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t *out,
                        cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "square", err));
    if (n == 0) return CG_OK;
    if (n > SIZE_MAX / 32) return mpc_fail(m, cg_error_set(err, CG_ERR_ARG, "square: batch too large"));
    const uint64_t *q = mpc_pool_get(m, MPC_POOL_SQ, bits, n);
    if (!q) return mpc_fail(m, mpc_square_cot(m, bits, n, x, out, err));
    uint64_t *e = cg_alloc(2 * n * sizeof *e);
    if (!e) return mpc_fail(m, cg_error_set(err, CG_ERR_NOMEM, "square: out of memory"));
    for (size_t i = 0; i < n; i++) e[i] = x[i] - q[2 * i];
    const mpc_open_seg sg = {bits, n, e, e + n};
    cg_status st = mpc_open_exchange(m, 1, &sg, err);
    if (st == CG_OK) sq_finish(m, bits, n, q, e + n, out);
    cg_free(e);
    return mpc_fail(m, st);
}

cg_status cg_mpc_select(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                        uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "select", err));
    if (n == 0) return CG_OK;
    if (n > SIZE_MAX / 32) return mpc_fail(m, cg_error_set(err, CG_ERR_ARG, "select: batch too large"));
    const uint64_t *q = mpc_pool_get(m, MPC_POOL_SEL, bits, n);
    if (!q) return mpc_fail(m, mpc_select_cot(m, bits, n, b, x, out, err));
    uint64_t *t = cg_alloc(4 * n * sizeof *t);
    if (!t) return mpc_fail(m, cg_error_set(err, CG_ERR_NOMEM, "select: out of memory"));
    sel_masks(n, b, x, q, t, t + n);
    const mpc_open_seg sg[2] = {{1, n, t, t + 2 * n}, {bits, n, t + n, t + 3 * n}};
    cg_status st = mpc_open_exchange(m, 2, sg, err);
    if (st == CG_OK) sel_finish(bits, n, x, q, t + 2 * n, t + 3 * n, out);
    cg_free(t);
    return mpc_fail(m, st);
}

cg_status mpc_select_square(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b,
                            const uint64_t *x, uint64_t *sel, unsigned sq_bits, const uint64_t *y,
                            uint64_t *sq, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "select", err));
    if (sq_bits < 1 || sq_bits > bits)
        return cg_error_set(err, CG_ERR_PARAM, "square: ring of %u bits", sq_bits);
    if (n == 0) return CG_OK;
    if (n > SIZE_MAX / 64) return mpc_fail(m, cg_error_set(err, CG_ERR_ARG, "select: batch too large"));
    if (m->pool[MPC_POOL_SEL][bits].have - m->pool[MPC_POOL_SEL][bits].next < n ||
        m->pool[MPC_POOL_SQ][sq_bits].have - m->pool[MPC_POOL_SQ][sq_bits].next < n)
        return mpc_fail(m, select_square_cot(m, bits, n, b, x, sel, sq_bits, y, sq, err));
    const uint64_t *qs = mpc_pool_get(m, MPC_POOL_SEL, bits, n);
    const uint64_t *qq = mpc_pool_get(m, MPC_POOL_SQ, sq_bits, n);
    uint64_t *t = cg_alloc(6 * n * sizeof *t);
    if (!t) return mpc_fail(m, cg_error_set(err, CG_ERR_NOMEM, "select: out of memory"));
    /* the select's bits and differences and the square's difference, all
     * in one exchange */
    sel_masks(n, b, x, qs, t, t + n);
    for (size_t i = 0; i < n; i++) t[2 * n + i] = y[i] - qq[2 * i];
    const mpc_open_seg sg[3] = {
        {1, n, t, t + 3 * n}, {bits, n, t + n, t + 4 * n}, {sq_bits, n, t + 2 * n, t + 5 * n}};
    cg_status st = mpc_open_exchange(m, 3, sg, err);
    if (st == CG_OK) {
        sel_finish(bits, n, x, qs, t + 3 * n, t + 4 * n, sel);
        sq_finish(m, sq_bits, n, qq, t + 5 * n, sq);
    }
    cg_free(t);
    return mpc_fail(m, st);
}
