/* Products b * d of a shared bit and a shared ring value in one flight,
 * from random OTs made ahead (the argmax's pairwise selects). With a
 * random OT (sender m0, m1; receiver r, m_r) the sender's correlation
 * delta = (1 - 2 b_s) d_s needs no word from the receiver: the sender sends
 * u = m1 - m0 - delta, the receiver c = r ^ b_r, both at once, and each
 * fixes its share up with the other's word (a chosen COT needs the choice
 * first: two flights). c is uniform (r is secret), u hides delta (m_{1-r}
 * is). */
#include <string.h>

#include "mpc/mpc_internal.h"

cg_status mpc_rsel_make(cg_mpc *m, size_t n, mpc_rsel *s, cg_error *err)
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

cg_status mpc_rsel_mul(cg_mpc *m, mpc_rsel *s, size_t n1, unsigned w1, size_t n2, unsigned w2,
                       const uint8_t *b, const uint64_t *d, uint64_t *out, cg_error *err)
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
    st = cg_chan_send_msg(m->ch, msg, len, err);
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK) st = cg_chan_recv_msg(m->ch, in, len, err);
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
