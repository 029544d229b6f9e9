/* Boolean AND (bit triples from OT), the millionaires' comparison, MSB,
 * DReLU, multiplexer and ReLU over Z_{2^l}. */
#include <stdlib.h>
#include <string.h>

#include "cryptogen/mpc.h"

static uint64_t mask_l(unsigned l) { return l >= 64 ? UINT64_MAX : (1ull << l) - 1; }

/* n Beaver bit triples: c = a & b with a, b, c boolean-shared. The cross
 * terms a_S b_C and a_C b_S come from one 1-bit COT each (XOR = addition
 * mod 2). */
static cg_status bit_triples(cg_mpc *m, size_t n, uint8_t *a, uint8_t *b, uint8_t *c, cg_error *err)
{
    uint64_t *d = malloc((n ? n : 1) * sizeof *d), *t1 = malloc((n ? n : 1) * sizeof *t1),
             *t2 = malloc((n ? n : 1) * sizeof *t2);
    cg_status st = d && t1 && t2 ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "bit triples");
    if (st == CG_OK) {
        cg_prg_bytes(&m->prg, a, n);
        cg_prg_bytes(&m->prg, b, n);
        for (size_t i = 0; i < n; i++) a[i] &= 1, b[i] &= 1, d[i] = a[i];
    }
    /* server sends with delta = a_S (client chooses with b_C), then the reverse */
    if (st == CG_OK) {
        if (m->party == CG_SERVER) {
            st = cg_cot_send(m->ot.send, n, 1, d, t1, err);
            if (st == CG_OK) st = cg_cot_recv(m->ot.recv, n, 1, b, t2, err);
        } else {
            st = cg_cot_recv(m->ot.recv, n, 1, b, t1, err);
            if (st == CG_OK) st = cg_cot_send(m->ot.send, n, 1, d, t2, err);
        }
    }
    for (size_t i = 0; i < n && st == CG_OK; i++) c[i] = (uint8_t)((a[i] & b[i]) ^ (t1[i] & 1) ^ (t2[i] & 1));
    free(d);
    free(t1);
    free(t2);
    return st;
}

cg_status cg_mpc_and(cg_mpc *m, size_t n, const uint8_t *x, const uint8_t *y, uint8_t *z, cg_error *err)
{
    uint8_t *a = malloc(n ? n : 1), *b = malloc(n ? n : 1), *c = malloc(n ? n : 1);
    uint8_t *mine = malloc(2 * (n ? n : 1)), *theirs = malloc(2 * (n ? n : 1));
    cg_status st = a && b && c && mine && theirs ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "AND");
    if (st == CG_OK) st = bit_triples(m, n, a, b, c, err);
    if (st == CG_OK) {
        /* open d = x ^ a and e = y ^ b */
        for (size_t i = 0; i < n; i++) {
            mine[i] = (x[i] ^ a[i]) & 1;
            mine[n + i] = (y[i] ^ b[i]) & 1;
        }
        if (m->party == CG_SERVER) {
            st = cg_chan_send_msg(m->ch, mine, 2 * n, err);
            if (st == CG_OK) st = cg_chan_recv_msg(m->ch, theirs, 2 * n, err);
        } else {
            st = cg_chan_recv_msg(m->ch, theirs, 2 * n, err);
            if (st == CG_OK) st = cg_chan_send_msg(m->ch, mine, 2 * n, err);
            if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        }
    }
    for (size_t i = 0; i < n && st == CG_OK; i++) {
        uint8_t d = (mine[i] ^ theirs[i]) & 1, e = (mine[n + i] ^ theirs[n + i]) & 1;
        z[i] = (uint8_t)(c[i] ^ (d & b[i]) ^ (e & a[i]) ^ (m->party == CG_SERVER ? d & e : 0));
    }
    free(a), free(b), free(c), free(mine), free(theirs);
    return st;
}

cg_status cg_mpc_millionaire(cg_mpc *m, size_t n, unsigned bits, const uint64_t *mine, uint8_t *gt,
                             cg_error *err)
{
    if (bits < 1 || bits > 64) return cg_error_set(err, CG_ERR_ARG, "comparison of %u-bit values", bits);
    const unsigned q = (bits + 3) / 4; /* 4-bit digits, most significant first */
    size_t cnt;
    if (!cg_mul_size(n, q, &cnt)) return cg_error_set(err, CG_ERR_ARG, "batch too large");
    uint8_t *g = malloc(cnt ? cnt : 1), *e = malloc(cnt ? cnt : 1);
    uint64_t *msgs = m->party == CG_SERVER ? malloc((cnt ? cnt : 1) * 16 * sizeof *msgs) : NULL;
    uint64_t *got = m->party == CG_CLIENT ? malloc((cnt ? cnt : 1) * sizeof *got) : NULL;
    uint8_t *choice = m->party == CG_CLIENT ? malloc(cnt ? cnt : 1) : NULL;
    cg_status st = g && e && (msgs || got) && (m->party == CG_SERVER || choice)
                       ? CG_OK
                       : cg_error_set(err, CG_ERR_NOMEM, "comparison");
    /* per digit: [a_i > b_i] and [a_i == b_i], the server's shares random */
    if (st == CG_OK && m->party == CG_SERVER) {
        for (size_t i = 0; i < n; i++)
            for (unsigned k = 0; k < q; k++) {
                const size_t idx = i * q + k;
                const unsigned sh = 4 * (q - 1 - k);
                const unsigned ai = (unsigned)((mine[i] >> sh) & 0xf);
                uint8_t r;
                cg_prg_bytes(&m->prg, &r, 1);
                g[idx] = r & 1;
                e[idx] = (r >> 1) & 1;
                for (unsigned v = 0; v < 16; v++)
                    msgs[idx * 16 + v] = (uint64_t)((g[idx] ^ (ai > v)) | ((e[idx] ^ (ai == v)) << 1));
            }
        st = cg_otn_send(m->ot.send, cnt, 16, 2, msgs, err);
    } else if (st == CG_OK) {
        for (size_t i = 0; i < n; i++)
            for (unsigned k = 0; k < q; k++) choice[i * q + k] = (uint8_t)((mine[i] >> (4 * (q - 1 - k))) & 0xf);
        st = cg_otn_recv(m->ot.recv, cnt, 16, 2, choice, got, err);
        for (size_t x = 0; x < cnt && st == CG_OK; x++) {
            g[x] = got[x] & 1;
            e[x] = (got[x] >> 1) & 1;
        }
    }
    /* combine digits pairwise: gt = gt_hi ^ (eq_hi & gt_lo), eq = eq_hi & eq_lo
     * (gt_hi and eq_hi & gt_lo are never both 1, so XOR is OR) */
    size_t width = q;
    uint8_t *x = calloc(2 * (cnt ? cnt : 1), 1), *y = calloc(2 * (cnt ? cnt : 1), 1), *z = calloc(2 * (cnt ? cnt : 1), 1);
    if (st == CG_OK && (!x || !y || !z)) st = cg_error_set(err, CG_ERR_NOMEM, "comparison");
    while (st == CG_OK && width > 1) {
        const size_t pairs = width / 2, nw = (width + 1) / 2;
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t p = 0; p < pairs; p++) {
                const size_t hi = i * width + 2 * p, lo = hi + 1;
                x[k] = e[hi], y[k] = g[lo], k++; /* eq_hi & gt_lo */
                x[k] = e[hi], y[k] = e[lo], k++; /* eq_hi & eq_lo */
            }
        st = cg_mpc_and(m, k, x, y, z, err);
        if (st != CG_OK) break;
        k = 0;
        for (size_t i = 0; i < n; i++) {
            for (size_t p = 0; p < pairs; p++) {
                const size_t hi = i * width + 2 * p;
                g[i * nw + p] = g[hi] ^ z[k];
                e[i * nw + p] = z[k + 1];
                k += 2;
            }
            if (width & 1) { /* odd digit out moves up unchanged */
                g[i * nw + pairs] = g[i * width + width - 1];
                e[i * nw + pairs] = e[i * width + width - 1];
            }
        }
        width = nw;
    }
    for (size_t i = 0; i < n && st == CG_OK; i++) gt[i] = g[i * width];
    free(g), free(e), free(msgs), free(got), free(choice), free(x), free(y), free(z);
    return st;
}

cg_status cg_mpc_msb(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint8_t *msb, cg_error *err)
{
    if (l < 2 || l > 64) return cg_error_set(err, CG_ERR_ARG, "msb needs 2 <= l <= 64");
    const uint64_t low = mask_l(l - 1);
    uint64_t *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "msb");
    /* msb(x) = msb(x_S) ^ msb(x_C) ^ carry, carry = [low_S + low_C >= 2^(l-1)]
     * = [low_S > 2^(l-1) - 1 - low_C] */
    for (size_t i = 0; i < n; i++) v[i] = m->party == CG_SERVER ? (x[i] & low) : (low - (x[i] & low));
    cg_status st = cg_mpc_millionaire(m, n, l - 1, v, msb, err);
    for (size_t i = 0; i < n && st == CG_OK; i++) msb[i] ^= (uint8_t)((x[i] >> (l - 1)) & 1);
    free(v);
    return st;
}

cg_status cg_mpc_drelu(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint8_t *b, cg_error *err)
{
    CG_TRY(cg_mpc_msb(m, n, l, x, b, err));
    if (m->party == CG_SERVER)
        for (size_t i = 0; i < n; i++) b[i] ^= 1;
    return CG_OK;
}

cg_status cg_mpc_mux(cg_mpc *m, size_t n, unsigned l, const uint8_t *b, const uint64_t *x, uint64_t *z,
                     cg_error *err)
{
    uint64_t *ba = malloc((n ? n : 1) * sizeof *ba);
    if (!ba) return cg_error_set(err, CG_ERR_NOMEM, "mux");
    cg_status st = cg_mpc_b2a(m, n, l, b, ba, err);
    if (st == CG_OK) st = cg_mpc_mul(m, n, l, ba, x, z, err);
    free(ba);
    return st;
}

cg_status cg_mpc_relu(cg_mpc *m, size_t n, unsigned l, const uint64_t *x, uint64_t *z, cg_error *err)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return cg_error_set(err, CG_ERR_NOMEM, "relu");
    cg_status st = cg_mpc_drelu(m, n, l, x, b, err);
    if (st == CG_OK) st = cg_mpc_mux(m, n, l, b, x, z, err);
    free(b);
    return st;
}
