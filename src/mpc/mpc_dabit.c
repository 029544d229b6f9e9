/* daBits: random bits held both as XOR shares and as arithmetic shares mod
 * 2^bits (a pool per width), made in bulk ahead of their use, and the one-exchange B2A they
 * give (open b xor r, then the arithmetic shares follow locally). A
 * conversion on COTs costs the receiver's extension and the sender's
 * corrections, two one-way trips in turn; opening a masked bit is one
 * exchange in which both parties send at once. */
#include <string.h>

#include "mpc/mpc_internal.h"

/* daBits made per refill at least: one COT batch serves many calls (a
 * GPT-2-base layer's exact truncations take a few ten thousand). */
#define DABIT_BATCH ((size_t)1 << 15)

/* A refill's new buffers: the unused entries moved to their front. */
static void stock_carry(const mpc_bitstock *s, size_t nbit, size_t nar, uint8_t *bit, uint64_t *ar)
{
    const size_t left = s->have - s->next;
    if (left) { /* the stock may still be empty (NULL) */
        memcpy(bit, s->bit + s->next * nbit, left * nbit);
        memcpy(ar, s->ar + s->next * nar, left * nar * sizeof *ar);
    }
}

/* The refilled buffers replace the old ones, which are wiped. */
static void stock_install(mpc_bitstock *s, size_t nbit, size_t nar, uint8_t *bit, uint64_t *ar,
                          size_t cap)
{
    mpc_bitstock_free(s, nbit, nar);
    *s = (mpc_bitstock){.bit = bit, .ar = ar, .cap = cap, .have = cap};
}

/* How many entries a take of n must make first: none while the stock has
 * n, else at least `batch`. */
static size_t stock_short(const mpc_bitstock *s, size_t n, size_t batch)
{
    const size_t left = s->have - s->next;
    if (left >= n) return 0;
    return n - left > batch ? n - left : batch;
}

static void stock_take(mpc_bitstock *s, size_t nbit, size_t nar, size_t n, const uint8_t **bit,
                       const uint64_t **ar)
{
    *bit = s->bit + s->next * nbit;
    *ar = s->ar + s->next * nar;
    s->next += n;
}

/* Makes cnt new daBits behind the unused ones: each party draws its bit
 * r_p; r = r0 xor r1 = r0 + r1 - 2 r0 r1, the product from one COT of
 * the pool's width (the server's bit as correlation, the client's as
 * choice: a random-choice COT's, so on Ferret the client sends no choice
 * bits). */
static cg_status refill(cg_mpc *m, unsigned bits, size_t cnt, cg_error *err)
{
    mpc_bitstock *p = &m->db[bits];
    size_t left = p->have - p->next, cap = left + cnt;
    uint8_t *bit = cg_alloc(cap);
    uint64_t *ar = cg_alloc(cap * sizeof *ar), *d = cg_alloc(cnt * sizeof *d);
    uint64_t *c = cg_alloc(cnt * sizeof *c);
    cg_status st = CG_OK;
    if (!bit || !ar || !d || !c) st = cg_error_set(err, CG_ERR_NOMEM, "daBits: out of memory");
    if (st == CG_OK) {
        stock_carry(p, MPC_DABIT_BITS, MPC_DABIT_ARITH, bit, ar);
        uint8_t *nb = bit + left;
        bool server = m->party == CG_SERVER; /* server to client only */
        /* The client's bits are its COTs' random choices (filled below). */
        if (server) cg_prg_bytes(&m->prg, nb, cnt);
        for (size_t i = 0; server && i < cnt; i++) nb[i] &= 1;
        mpc_prof_push(m, "dabit.make");
        st = mpc_ot_reserve(m, server ? cnt : 0, server ? 0 : cnt, err);
        if (st == CG_OK && m->party == CG_SERVER) {
            for (size_t i = 0; i < cnt; i++) c[i] = nb[i];
            st = cg_cot_send(m->ot.send, cnt, bits, c, d, err);
            for (size_t i = 0; st == CG_OK && i < cnt; i++) d[i] = 0 - d[i];
        } else if (st == CG_OK) {
            st = cg_cot_recv_rc(m->ot.recv, cnt, bits, nb, d, err);
        }
        mpc_prof_pop(m);
        for (size_t i = 0; st == CG_OK && i < cnt; i++) ar[left + i] = nb[i] - 2 * d[i];
    }
    cg_free(d);
    cg_free(c);
    if (st != CG_OK) {
        cg_free(bit);
        cg_free(ar);
        return st;
    }
    stock_install(p, MPC_DABIT_BITS, MPC_DABIT_ARITH, bit, ar, cap);
    return CG_OK;
}

cg_status mpc_dabits_take(cg_mpc *m, unsigned bits, size_t n, const uint8_t **bit,
                          const uint64_t **arith, cg_error *err)
{
    const size_t more = stock_short(&m->db[bits], n, DABIT_BATCH);
    if (more) CG_TRY(refill(m, bits, more, err));
    stock_take(&m->db[bits], MPC_DABIT_BITS, MPC_DABIT_ARITH, n, bit, arith);
    return CG_OK;
}

cg_status mpc_b2a_open(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                       cg_error *err)
{
    if (n == 0) return CG_OK;
    const uint8_t *r;
    const uint64_t *ra;
    CG_TRY(mpc_dabits_take(m, bits, n, &r, &ra, err));
    uint64_t mask = mpc_mask(bits);
    size_t nb = (n + 7) / 8;
    uint8_t *mine = cg_alloc(nb), *peer = cg_alloc(nb);
    cg_status st = CG_OK;
    if (!mine || !peer) st = cg_error_set(err, CG_ERR_NOMEM, "b2a: out of memory");
    if (st == CG_OK) {
        memset(mine, 0, nb);
        for (size_t i = 0; i < n; i++) mine[i / 8] |= (uint8_t)(((b[i] ^ r[i]) & 1) << (i % 8));
        mpc_prof_push(m, "b2a");
        st = cg_chan_send(m->ch, mine, nb, err);
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        if (st == CG_OK) st = cg_chan_recv(m->ch, peer, nb, err);
        mpc_prof_pop(m);
    }
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) {
            /* b = f xor r = f + (1 - 2f) r for the opened f */
            uint64_t f = (uint64_t)(((mine[i / 8] ^ peer[i / 8]) >> (i % 8)) & 1);
            uint64_t v = (f ? 0 - ra[i] : ra[i]) + (m->party == CG_SERVER ? f : 0);
            out[i] = v & mask;
        }
    cg_free(mine);
    cg_free(peer);
    return st;
}

/* ---- Bundles for the comparison's arithmetic last exchange ----
 * Per element: a daBit r, a product of private bits (rho0 the server's,
 * rho1 the client's, arithmetic shares of rho0 rho1) and an arithmetic bit
 * triple (a, b XOR-shared; arithmetic shares of a, b and ab). Seven COTs
 * (server to client) each, as wide as the results (a pool per width: the
 * exact truncations at l = 37 bits need no 64-bit ones), with u_p = (a_p, b_p):
 * r0 r1; rho0 rho1; a0 a1; b0 b1; and for ab = a0 b0 + b0 (1 - 2 a0) a1 +
 * a0 (1 - 2 b0) b1 + (1 - 2 a0)(1 - 2 b0) a1 b1 the last three terms. */
#define BUNDLE_COTS 7
#define BUNDLE_BATCH ((size_t)1 << 14)

static cg_status bundles_refill(cg_mpc *m, unsigned bits, size_t cnt, cg_error *err)
{
    mpc_bitstock *b = &m->bd[bits];
    size_t left = b->have - b->next, cap = left + cnt, nc = cnt * BUNDLE_COTS;
    uint8_t *bit = cg_alloc(cap * MPC_BUNDLE_BITS), *ch = cg_alloc(nc);
    uint64_t *ar = cg_alloc(cap * MPC_BUNDLE_ARITH * sizeof *ar);
    uint64_t *d = cg_alloc(nc * sizeof *d), *x = cg_alloc(nc * sizeof *x);
    bool server = m->party == CG_SERVER;
    cg_status st = CG_OK;
    if (!bit || !ch || !ar || !d || !x) st = cg_error_set(err, CG_ERR_NOMEM, "bundles: out of memory");
    if (st == CG_OK) {
        stock_carry(b, MPC_BUNDLE_BITS, MPC_BUNDLE_ARITH, bit, ar);
        uint8_t *nb = bit + left * MPC_BUNDLE_BITS;
        cg_prg_bytes(&m->prg, nb, cnt * MPC_BUNDLE_BITS);
        for (size_t i = 0; i < cnt * MPC_BUNDLE_BITS; i++) nb[i] &= 1;
        for (size_t i = 0; i < cnt; i++) {
            const uint8_t *u = nb + i * MPC_BUNDLE_BITS; /* r, rho, a, b */
            uint64_t *dd = d + i * BUNDLE_COTS;
            uint8_t *cc = ch + i * BUNDLE_COTS;
            uint64_t sa = 1 - 2 * (uint64_t)u[2], sb = 1 - 2 * (uint64_t)u[3];
            /* server: correlations; client: choices */
            dd[0] = u[0];
            dd[1] = u[1];
            dd[2] = u[2];
            dd[3] = u[3];
            dd[4] = u[3] * sa;
            dd[5] = u[2] * sb;
            dd[6] = sa * sb;
            cc[0] = u[0];
            cc[1] = u[1];
            cc[2] = u[2];
            cc[3] = u[3];
            cc[4] = u[2];
            cc[5] = u[3];
            cc[6] = u[2] & u[3];
        }
        mpc_prof_push(m, "bundle.make");
        st = mpc_ot_reserve(m, server ? nc : 0, server ? 0 : nc, err);
        if (st == CG_OK && server) {
            st = cg_cot_send(m->ot.send, nc, bits, d, x, err);
            for (size_t i = 0; st == CG_OK && i < nc; i++) x[i] = 0 - x[i];
        } else if (st == CG_OK) {
            st = cg_cot_recv(m->ot.recv, nc, bits, ch, x, err);
        }
        mpc_prof_pop(m);
        for (size_t i = 0; st == CG_OK && i < cnt; i++) {
            const uint8_t *u = nb + i * MPC_BUNDLE_BITS;
            const uint64_t *s = x + i * BUNDLE_COTS;
            uint64_t *o = ar + (left + i) * MPC_BUNDLE_ARITH; /* r, rho0 rho1, a, b, ab */
            o[0] = u[0] - 2 * s[0];
            o[1] = s[1];
            o[2] = u[2] - 2 * s[2];
            o[3] = u[3] - 2 * s[3];
            o[4] = (server ? (uint64_t)(u[2] & u[3]) : 0) + s[4] + s[5] + s[6];
        }
    }
    cg_free(ch);
    cg_free(d);
    cg_free(x);
    if (st != CG_OK) {
        cg_free(bit);
        cg_free(ar);
        return st;
    }
    stock_install(b, MPC_BUNDLE_BITS, MPC_BUNDLE_ARITH, bit, ar, cap);
    return CG_OK;
}

cg_status mpc_bundles_take(cg_mpc *m, unsigned bits, size_t n, const uint8_t **bit,
                           const uint64_t **ar, cg_error *err)
{
    const size_t more = stock_short(&m->bd[bits], n, BUNDLE_BATCH);
    if (more) CG_TRY(bundles_refill(m, bits, more, err));
    stock_take(&m->bd[bits], MPC_BUNDLE_BITS, MPC_BUNDLE_ARITH, n, bit, ar);
    return CG_OK;
}

static void put(uint8_t *p, size_t i, uint8_t v) { p[i / 8] |= (uint8_t)((v & 1) << (i % 8)); }
static uint64_t get2(const uint8_t *p, const uint8_t *q, size_t i)
{
    return (uint64_t)(((p[i / 8] ^ q[i / 8]) >> (i % 8)) & 1);
}

cg_status mpc_arith_last(cg_mpc *m, unsigned bits, size_t rows, size_t q, const uint8_t *lt,
                         const uint8_t *eq, const uint8_t *priv, uint64_t *alt, uint64_t *aor,
                         cg_error *err)
{
    if (rows == 0) return CG_OK;
    const uint8_t *bb;
    const uint64_t *ba;
    CG_TRY(mpc_bundles_take(m, bits, rows, &bb, &ba, err));
    bool server = m->party == CG_SERVER;
    uint64_t mask = mpc_mask(bits);
    size_t nb = (4 * rows + 7) / 8;
    uint8_t *mine = cg_alloc(nb), *peer = cg_alloc(nb);
    cg_status st = CG_OK;
    if (!mine || !peer) st = cg_error_set(err, CG_ERR_NOMEM, "less_than: out of memory");
    if (st == CG_OK) {
        memset(mine, 0, nb);
        for (size_t i = 0; i < rows; i++) {
            const uint8_t *u = bb + i * MPC_BUNDLE_BITS; /* r, rho, a, b */
            uint8_t hi = q >= 2 ? lt[i * q + 1] : lt[i * q];
            put(mine, 4 * i, hi ^ u[0]);
            put(mine, 4 * i + 1, priv[i] ^ u[1]);
            put(mine, 4 * i + 2, q >= 2 ? eq[i * q + 1] ^ u[2] : 0);
            put(mine, 4 * i + 3, q >= 2 ? lt[i * q] ^ u[3] : 0);
        }
        mpc_prof_push(m, "cmp.last");
        st = cg_chan_send(m->ch, mine, nb, err);
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        if (st == CG_OK) st = cg_chan_recv(m->ch, peer, nb, err);
        mpc_prof_pop(m);
    }
    for (size_t i = 0; st == CG_OK && i < rows; i++) {
        const uint8_t *u = bb + i * MPC_BUNDLE_BITS;
        const uint64_t *A = ba + i * MPC_BUNDLE_ARITH;
        uint64_t f = get2(mine, peer, 4 * i), one = server ? 1 : 0;
        /* the top block's lt (or the only digit's) from the daBit */
        uint64_t v = (f ? 0 - A[0] : A[0]) + f * one;
        if (q >= 2) { /* + eq_hi & lt_lo: x = d + (1 - 2d) a, y = e + (1 - 2e) b */
            uint64_t d = get2(mine, peer, 4 * i + 2), e = get2(mine, peer, 4 * i + 3);
            uint64_t sd = 1 - 2 * d, se = 1 - 2 * e;
            v += d * e * one + d * se * A[3] + e * sd * A[2] + sd * se * A[4];
        }
        alt[i] = v & mask;
        /* OR of the private bits m0 (server's) and m1 (client's): m0 + m1 -
         * m0 m1, m_p = D_p + (1 - 2 D_p) rho_p with D_p opened */
        uint64_t D0 = server ? (mine[(4 * i + 1) / 8] >> ((4 * i + 1) % 8)) & 1
                             : (peer[(4 * i + 1) / 8] >> ((4 * i + 1) % 8)) & 1;
        uint64_t D1 = server ? (peer[(4 * i + 1) / 8] >> ((4 * i + 1) % 8)) & 1
                             : (mine[(4 * i + 1) / 8] >> ((4 * i + 1) % 8)) & 1;
        uint64_t s0 = 1 - 2 * D0, s1 = 1 - 2 * D1;
        uint64_t r0 = server ? u[1] : 0, r1 = server ? 0 : u[1]; /* arithmetic rho0, rho1 */
        uint64_t prod = D0 * D1 * one + D0 * s1 * r1 + D1 * s0 * r0 + s0 * s1 * A[1];
        aor[i] = ((uint64_t)priv[i] - prod) & mask;
    }
    cg_free(mine);
    cg_free(peer);
    return st;
}
