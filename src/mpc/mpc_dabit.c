/* daBits: random bits held both as XOR shares and as arithmetic shares mod
 * 2^64, made in bulk ahead of their use, and the one-exchange B2A they
 * give (open b xor r, then the arithmetic shares follow locally). A
 * conversion on COTs costs the receiver's extension and the sender's
 * corrections, two one-way trips in turn; opening a masked bit is one
 * exchange in which both parties send at once. */
#include <string.h>

#include "mpc/mpc_internal.h"

/* daBits made per refill at least: one COT batch serves many calls (a
 * GPT-2-base layer's exact truncations take a few ten thousand). */
#define DABIT_BATCH ((size_t)1 << 15)

void mpc_dabits_free(cg_mpc *m)
{
    if (m->db_bit) cg_secure_zero(m->db_bit, m->db_cap);
    if (m->db_arith) cg_secure_zero(m->db_arith, m->db_cap * sizeof *m->db_arith);
    cg_free(m->db_bit);
    cg_free(m->db_arith);
    m->db_bit = NULL;
    m->db_arith = NULL;
    m->db_cap = m->db_have = m->db_next = 0;
}

/* Makes cnt new daBits behind the unused ones: each party draws its bit
 * r_p; r = r0 xor r1 = r0 + r1 - 2 r0 r1, the product from one 64-bit COT
 * (the server's bit as correlation, the client's as choice). */
static cg_status refill(cg_mpc *m, size_t cnt, cg_error *err)
{
    size_t left = m->db_have - m->db_next, cap = left + cnt;
    uint8_t *bit = cg_alloc(cap);
    uint64_t *ar = cg_alloc(cap * sizeof *ar), *d = cg_alloc(cnt * sizeof *d);
    uint64_t *c = cg_alloc(cnt * sizeof *c);
    cg_status st = CG_OK;
    if (!bit || !ar || !d || !c) st = cg_error_set(err, CG_ERR_NOMEM, "daBits: out of memory");
    if (st == CG_OK) {
        memcpy(bit, m->db_bit + m->db_next, left);
        memcpy(ar, m->db_arith + m->db_next, left * sizeof *ar);
        uint8_t *nb = bit + left;
        cg_prg_bytes(&m->prg, nb, cnt);
        for (size_t i = 0; i < cnt; i++) nb[i] &= 1;
        bool server = m->party == CG_SERVER; /* server to client only */
        st = mpc_ot_reserve(m, server ? cnt : 0, server ? 0 : cnt, err);
        if (st == CG_OK && m->party == CG_SERVER) {
            for (size_t i = 0; i < cnt; i++) c[i] = nb[i];
            st = cg_cot_send(m->ot.send, cnt, 64, c, d, err);
            for (size_t i = 0; st == CG_OK && i < cnt; i++) d[i] = 0 - d[i];
        } else if (st == CG_OK) {
            st = cg_cot_recv(m->ot.recv, cnt, 64, nb, d, err);
        }
        for (size_t i = 0; st == CG_OK && i < cnt; i++) ar[left + i] = nb[i] - 2 * d[i];
    }
    cg_free(d);
    cg_free(c);
    if (st != CG_OK) {
        cg_free(bit);
        cg_free(ar);
        return st;
    }
    mpc_dabits_free(m);
    m->db_bit = bit;
    m->db_arith = ar;
    m->db_cap = m->db_have = cap;
    return CG_OK;
}

cg_status mpc_dabits_take(cg_mpc *m, size_t n, const uint8_t **bit, const uint64_t **arith,
                          cg_error *err)
{
    if (m->db_have - m->db_next < n) {
        size_t more = n - (m->db_have - m->db_next);
        CG_TRY(refill(m, more > DABIT_BATCH ? more : DABIT_BATCH, err));
    }
    *bit = m->db_bit + m->db_next;
    *arith = m->db_arith + m->db_next;
    m->db_next += n;
    return CG_OK;
}

cg_status mpc_b2a_open(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                       cg_error *err)
{
    if (n == 0) return CG_OK;
    const uint8_t *r;
    const uint64_t *ra;
    CG_TRY(mpc_dabits_take(m, n, &r, &ra, err));
    uint64_t mask = mpc_mask(bits);
    size_t nb = (n + 7) / 8;
    uint8_t *mine = cg_alloc(nb), *peer = cg_alloc(nb);
    cg_status st = CG_OK;
    if (!mine || !peer) st = cg_error_set(err, CG_ERR_NOMEM, "b2a: out of memory");
    if (st == CG_OK) {
        memset(mine, 0, nb);
        for (size_t i = 0; i < n; i++) mine[i / 8] |= (uint8_t)(((b[i] ^ r[i]) & 1) << (i % 8));
        st = cg_chan_send(m->ch, mine, nb, err);
    }
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK) st = cg_chan_recv(m->ch, peer, nb, err);
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
