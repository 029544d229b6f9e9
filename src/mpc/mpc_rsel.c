/* Products b * d of a shared bit and a shared ring value in one flight,
 * from random OTs made ahead (the argmax's pairwise selects, the row
 * maxima's many-way levels but the last: mpc_rsel_point). With a
 * random OT (sender m0, m1; receiver r, m_r) the sender's correlation
 * delta = (1 - 2 b_s) d_s needs no word from the receiver: the sender sends
 * u = m1 - m0 - delta, the receiver c = r ^ b_r, both at once, and each
 * fixes its share up with the other's word (a chosen COT needs the choice
 * first: two flights). c is uniform (r is secret), u hides delta (m_{1-r}
 * is). */
#include <string.h>

#include "mpc/mpc_internal.h"

static cg_status rsel_alloc(size_t n, mpc_rsel *s, cg_error *err)
{
    memset(s, 0, sizeof *s);
    size_t cap = n ? n : 1;
    s->n = n;
    s->r0 = mpc_alloc_u64(cap);
    s->r1 = mpc_alloc_u64(cap);
    s->got = mpc_alloc_u64(cap);
    s->ch = cg_alloc(cap);
    if (!s->r0 || !s->r1 || !s->got || !s->ch)
        return cg_error_set(err, CG_ERR_NOMEM, "select: out of memory");
    return CG_OK;
}

cg_status mpc_rsel_make(cg_mpc *m, size_t n, mpc_rsel *s, cg_error *err)
{
    CG_TRY(rsel_alloc(n, s, err));
    if (n == 0) return CG_OK;
    /* both receivers' headers go out before either sender reads one */
    cg_status st = mpc_ot_reserve(m, n, n, err);
    if (st == CG_OK) st = cg_rot_recv_random(m->ot.recv, n, 64, s->ch, s->got, err);
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK) st = cg_rot_send(m->ot.send, n, 64, s->r0, s->r1, err);
    return st;
}

void mpc_rsel_free(mpc_rsel *s)
{
    size_t cap = s->n ? s->n : 1;
    if (s->r0) cg_secure_zero(s->r0, cap * sizeof *s->r0);
    if (s->r1) cg_secure_zero(s->r1, cap * sizeof *s->r1);
    if (s->got) cg_secure_zero(s->got, cap * sizeof *s->got);
    if (s->ch) cg_secure_zero(s->ch, cap);
    cg_free(s->r0);
    cg_free(s->r1);
    cg_free(s->got);
    cg_free(s->ch);
    memset(s, 0, sizeof *s);
}

/* mpc_rsel_mul's exchange; peer_first: read the peer's words before
 * sending this party's (whose bit shares came in with the peer's last
 * message, so that its words go out with whatever it sends next). */
static cg_status rsel_exchange(cg_mpc *m, mpc_rsel *s, size_t n1, unsigned w1, size_t n2,
                               unsigned w2, const uint8_t *b, const uint64_t *d, uint64_t *out,
                               bool peer_first, cg_error *err)
{
    size_t n = n1 + n2;
    if (n < n1 || n > s->n - s->used || w1 < 1 || w1 > 64 || w2 < 1 || w2 > 64)
        return cg_error_set(err, CG_ERR_ARG, "select: %zu products past the random OTs", n);
    size_t l1 = cg_packed_size(n1, w1), l2 = cg_packed_size(n2, w2), lc = cg_packed_size(n, 1);
    size_t len = l1 + l2 + lc, cap = n ? n : 1;
    uint8_t *msg = cg_alloc(len ? len : 1), *in = cg_alloc(len ? len : 1);
    uint64_t *u = mpc_alloc_u64(cap), *c = mpc_alloc_u64(cap);
    cg_status st = CG_OK;
    if (!msg || !in || !u || !c) {
        st = cg_error_set(err, CG_ERR_NOMEM, "select: out of memory");
        goto done;
    }
    const size_t k0 = s->used;
    for (size_t i = 0; i < n; i++) {
        uint64_t mk = mpc_mask(i < n1 ? w1 : w2), bi = b[i] & 1u;
        uint64_t delta = (bi ? -d[i] : d[i]) & mk;
        u[i] = (s->r1[k0 + i] - s->r0[k0 + i] - delta) & mk;
        c[i] = (s->ch[k0 + i] ^ bi) & 1u;
    }
    cg_pack_bits(msg, u, n1, w1);
    cg_pack_bits(msg + l1, u + n1, n2, w2);
    cg_pack_bits(msg + l1 + l2, c, n, 1);
    if (peer_first) st = cg_chan_recv_msg(m->ch, in, len, err);
    if (st == CG_OK) st = cg_chan_send_msg(m->ch, msg, len, err);
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK && !peer_first) st = cg_chan_recv_msg(m->ch, in, len, err);
    if (st != CG_OK) goto done;
    s->used += n;
    cg_unpack_bits(u, in, n1, w1); /* the peer's words from here on */
    cg_unpack_bits(u + n1, in + l1, n2, w2);
    cg_unpack_bits(c, in + l1 + l2, n, 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t mk = mpc_mask(i < n1 ? w1 : w2), bi = b[i] & 1u, k = k0 + i;
        uint64_t delta = (bi ? -d[i] : d[i]) & mk;
        uint64_t own = bi ? d[i] : 0;
        /* sender half: -m0, or delta + m0 when the peer's choice was flipped */
        uint64_t snd = (c[i] & 1u) ? delta + s->r0[k] : -s->r0[k];
        /* receiver half: m_r - r u = m0' + r delta', negated when flipped */
        uint64_t v = s->got[k] - (s->ch[k] ? u[i] : 0);
        uint64_t rcv = (s->ch[k] ^ bi) ? -v : v;
        out[i] = (own + snd + rcv) & mk;
    }
done:
    if (u) cg_secure_zero(u, cap * sizeof *u);
    if (c) cg_secure_zero(c, cap * sizeof *c);
    cg_free(msg);
    cg_free(in);
    cg_free(u);
    cg_free(c);
    return st;
}

cg_status mpc_rsel_mul(cg_mpc *m, mpc_rsel *s, size_t n1, unsigned w1, size_t n2, unsigned w2,
                       const uint8_t *b, const uint64_t *d, uint64_t *out, cg_error *err)
{
    return rsel_exchange(m, s, n1, w1, n2, w2, b, d, out, false, err);
}

/* The server's OT rows for mpc_rsel_point: row x of candidate i is
 * [x xor its index share == pat] xor its mask bit. */
typedef struct {
    const uint8_t *mine, *pat, *rho;
    unsigned nv;
} point_rows;

static void point_messages(void *ctx, size_t first, size_t count, uint64_t *out)
{
    const point_rows *c = ctx;
    for (size_t t = 0; t < count; t++) {
        size_t i = first + t;
        for (unsigned x = 0; x < c->nv; x++)
            out[t * c->nv + x] = (uint64_t)(((x ^ c->mine[i]) == c->pat[i]) ^ (c->rho[i] & 1u));
    }
}

cg_status mpc_rsel_point(cg_mpc *m, size_t n, unsigned nb, const uint8_t *mine, const uint8_t *pat,
                         unsigned bits, const uint64_t *v, uint64_t *out, cg_error *err)
{
    size_t rows, cap = n ? n : 1;
    if (nb < 1 || nb > 7 || bits < 1 || bits > 64 || !cg_mul_size(n, nb, &rows) ||
        rows > SIZE_MAX - n)
        return cg_error_set(err, CG_ERR_ARG, "select: bad point batch");
    const unsigned nv = 1u << nb;
    const bool server = m->party == CG_SERVER;
    mpc_rsel s;
    uint8_t *w = cg_alloc(cap);
    uint64_t *got = mpc_alloc_u64(cap);
    cg_status st = rsel_alloc(n, &s, err);
    if (st == CG_OK && (!w || !got)) st = cg_error_set(err, CG_ERR_NOMEM, "select: out of memory");
    if (st != CG_OK || n == 0) goto done;
    /* Stream order: the random OTs' receiver headers and the client's
     * extension go out; the server reads them and answers with its rows
     * and its select words; the client reads rows and words, then sends
     * its words (with the next protocol's first message). */
    st = mpc_ot_reserve(m, n + (server ? rows : 0), n + (server ? 0 : rows), err);
    if (st == CG_OK) st = cg_rot_recv_random(m->ot.recv, n, 64, s.ch, s.got, err);
    if (server) {
        cg_prg_bytes(&m->prg, w, n);
        for (size_t i = 0; i < n; i++) w[i] &= 1u;
        point_rows pr = {mine, pat, w, nv};
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        if (st == CG_OK) st = cg_rot_send(m->ot.send, n, 64, s.r0, s.r1, err);
        if (st == CG_OK) st = cg_otn_send_fn(m->ot.send, n, nv, 1, point_messages, &pr, err);
    } else {
        if (st == CG_OK) st = cg_otn_recv_begin(m->ot.recv, n, nv, 1, mine, got, err);
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        if (st == CG_OK) st = cg_rot_send(m->ot.send, n, 64, s.r0, s.r1, err);
        if (st == CG_OK) st = cg_otn_recv_end(m->ot.recv, n, nv, 1, mine, got, err);
        for (size_t i = 0; i < n; i++) w[i] = (uint8_t)(got[i] & 1u);
    }
    if (st == CG_OK) st = rsel_exchange(m, &s, n, bits, 0, bits, w, v, out, !server, err);
done:
    if (w) cg_secure_zero(w, cap);
    if (got) cg_secure_zero(got, cap * sizeof *got);
    cg_free(w);
    cg_free(got);
    mpc_rsel_free(&s);
    return st;
}

cg_status mpc_drelu_served(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint8_t *out,
                           cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 2, "drelu", err));
    const bool server = m->party == CG_SERVER;
    const uint64_t low = mpc_mask(bits - 1);
    size_t cap = n ? n : 1;
    uint64_t *v = mpc_alloc_u64(2 * cap);
    uint8_t *o = cg_alloc(2 * cap);
    cg_status st = CG_OK;
    if (!v || !o) st = cg_error_set(err, CG_ERR_NOMEM, "drelu: out of memory");
    /* cg_mpc_msb's carry [2^(l-1) - 1 - x0' < x1'] as two comparisons per
     * element with the same server value: mpc_less_than_multi moves none
     * of them to the other OT direction */
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        v[i] = server ? low - (x[i] & low) : x[i] & low;
        v[n + i] = v[i];
    }
    if (st == CG_OK && n) st = mpc_less_than_multi(m, bits - 1, n, 2, v, o, err);
    for (size_t i = 0; st == CG_OK && i < n; i++)
        out[i] = (uint8_t)(o[i] ^ ((x[i] >> (bits - 1)) & 1u) ^ (unsigned)server);
    cg_free(v);
    cg_free(o);
    return st;
}
