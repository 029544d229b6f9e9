/* Ferret's noise: t single-point COTs from GGM trees (a puncturable PRF),
 * semi-honest, and the primal LPN expansion over the local linear code.
 *
 * A GGM tree doubles each node s into (AES_k0(s) ^ s, AES_k1(s) ^ s) under
 * two fixed public keys. Level l (1..h) has sums K0 (left children) and K1
 * (right children). Level l's random OT comes from base COT u = (q_u, t_u =
 * q_u ^ c Delta): the sender sends K0 ^ H(u, q_u) and K1 ^ H(u, q_u ^ Delta),
 * the receiver unmasks K_c with H(u, t_u); the path to the punctured leaf
 * goes to the child 1 - c, so alpha's bits are the complements of the base
 * choice bits and cost no message. With K_c and every node it already has
 * at that level the receiver recomputes the sibling of the path node. Last
 * the sender sends Delta ^ (xor of all leaves), which gives the receiver
 * w[alpha] = v[alpha] ^ Delta. H is the tweakable correlation-robust hash
 * of the extension, with tweaks (tweak + u, FE_TWEAK_HI) used once each. */
#include "ot/ferret.h"

#include <string.h>

#define FE_TWEAK_HI ((uint64_t)3 << 62) /* apart from IKNP (0), KK13 (2^62) and 1-of-N (< 2^9) */

static const uint8_t ggm_key0[16] = "cryptogen-ggm-L";
static const uint8_t ggm_key1[16] = "cryptogen-ggm-R";
static const uint8_t lpn_key[16] = "cryptogen-lpn-1";

static inline void xor16(uint8_t *d, const uint8_t *s)
{
    uint64_t a[2], b[2];
    memcpy(a, d, 16);
    memcpy(b, s, 16);
    a[0] ^= b[0];
    a[1] ^= b[1];
    memcpy(d, a, 16);
}

typedef struct ggm_work {
    ot_aes_key k0, k1;
    uint8_t *tmp, *a, *b; /* 2^(h-1) rows each */
    uint8_t *h0, *h1;     /* t*h hashes */
} ggm_work;

static cg_status work_new(ggm_work *g, const fe_params *p, bool sender, cg_error *err)
{
    size_t half = (size_t)1 << (p->h - 1), nb = p->t * p->h;
    ot_aes_expand_aesni(&g->k0, ggm_key0);
    ot_aes_expand_aesni(&g->k1, ggm_key1);
    g->tmp = cg_alloc(16 * half);
    g->a = cg_alloc(16 * half);
    g->b = cg_alloc(16 * half);
    g->h0 = cg_alloc(16 * nb);
    g->h1 = sender ? cg_alloc(16 * nb) : NULL;
    if (g->tmp && g->a && g->b && g->h0 && (!sender || g->h1)) return CG_OK;
    return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
}

static void work_free(ggm_work *g)
{
    cg_free(g->tmp);
    cg_free(g->a);
    cg_free(g->b);
    cg_free(g->h0);
    cg_free(g->h1);
}

/* Level with m nodes at nodes[0..m) -> 2m children in place; sums of the
 * left and right children into k[0..16) and k[16..32). */
static void expand(ggm_work *g, uint8_t *nodes, size_t m, uint8_t k[32])
{
    memcpy(g->tmp, nodes, 16 * m);
    ot_aes_ecb_aesni(&g->k0, g->tmp, g->a, m);
    ot_aes_ecb_aesni(&g->k1, g->tmp, g->b, m);
    uint64_t s[4] = {0, 0, 0, 0};
    for (size_t j = 0; j < m; j++) {
        uint64_t p[2], l[2], r[2];
        memcpy(p, g->tmp + 16 * j, 16);
        memcpy(l, g->a + 16 * j, 16);
        memcpy(r, g->b + 16 * j, 16);
        l[0] ^= p[0], l[1] ^= p[1], r[0] ^= p[0], r[1] ^= p[1];
        memcpy(nodes + 32 * j, l, 16);
        memcpy(nodes + 32 * j + 16, r, 16);
        s[0] ^= l[0], s[1] ^= l[1], s[2] ^= r[0], s[3] ^= r[1];
    }
    memcpy(k, s, 32);
}

cg_status fe_ggm_send(cg_ot *ot, const fe_params *p, const uint8_t *base, uint64_t tweak,
                      uint8_t *v, uint8_t *msg, cg_error *err)
{
    ggm_work g = {0};
    cg_status st = work_new(&g, p, true, err);
    if (st != CG_OK) {
        work_free(&g);
        return st;
    }
    size_t N = (size_t)1 << p->h, nb = p->t * p->h, per = 32 * (size_t)p->h + 16;
    ot->tccr(&ot->pi, base, NULL, g.h0, nb, tweak, FE_TWEAK_HI);
    ot->tccr(&ot->pi, base, ot->delta, g.h1, nb, tweak, FE_TWEAK_HI);
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (size_t b = 0; b < p->t; b++) {
        uint8_t *nodes = v + 16 * N * b, *m = msg + per * b;
        cg_prg_bytes(&prg, nodes, 16);
        for (unsigned l = 0; l < p->h; l++) {
            size_t u = b * p->h + l;
            expand(&g, nodes, (size_t)1 << l, m + 32 * l);
            xor16(m + 32 * l, g.h0 + 16 * u);
            xor16(m + 32 * l + 16, g.h1 + 16 * u);
        }
        uint8_t c[16];
        memcpy(c, ot->delta, 16);
        for (size_t j = 0; j < N; j++) {
            nodes[16 * j] &= 0xfe; /* low bit 0 (ferret.c) */
            xor16(c, nodes + 16 * j);
        }
        memcpy(m + 32 * p->h, c, 16);
    }
    cg_prg_clear(&prg);
    work_free(&g);
    return CG_OK;
}

cg_status fe_ggm_recv(cg_ot *ot, const fe_params *p, const uint8_t *base, const uint8_t *base_b,
                      uint64_t tweak, const uint8_t *msg, uint8_t *w, uint8_t *e, cg_error *err)
{
    ggm_work g = {0};
    cg_status st = work_new(&g, p, false, err);
    if (st != CG_OK) {
        work_free(&g);
        return st;
    }
    size_t N = (size_t)1 << p->h, nb = p->t * p->h, per = 32 * (size_t)p->h + 16;
    ot->tccr(&ot->pi, base, NULL, g.h0, nb, tweak, FE_TWEAK_HI);
    memset(e, 0, p->n);
    for (size_t b = 0; b < p->t; b++) {
        uint8_t *nodes = w + 16 * N * b;
        const uint8_t *m = msg + per * b;
        size_t path = 0; /* the unknown node of the current level */
        memset(nodes, 0, 16);
        for (unsigned l = 0; l < p->h; l++) {
            uint8_t k[32];
            size_t u = b * p->h + l;
            unsigned c = base_b[u] & 1u;
            expand(&g, nodes, (size_t)1 << l, k); /* the unknown node's children are garbage */
            /* The sibling: K_c xor every other node of its side, i.e. xor
             * the computed sum k_c without the garbage in the sibling's slot. */
            size_t sib = 2 * path + c;
            uint8_t s[16];
            memcpy(s, m + 32 * l + 16 * c, 16);
            xor16(s, g.h0 + 16 * u);
            xor16(s, k + 16 * c);
            xor16(s, nodes + 16 * sib);
            memcpy(nodes + 16 * sib, s, 16);
            path = 2 * path + (1u - c);
            memset(nodes + 16 * path, 0, 16);
        }
        uint8_t c[16];
        memcpy(c, m + 32 * p->h, 16);
        for (size_t j = 0; j < N; j++) {
            nodes[16 * j] &= 0xfe; /* as the sender's; w[alpha] gets Delta's low bit, 1 */
            xor16(c, nodes + 16 * j);
        }
        memcpy(nodes + 16 * path, c, 16);
        e[N * b + path] = 1;
    }
    work_free(&g);
    return CG_OK;
}

#ifndef LPN_AHEAD
#define LPN_AHEAD 16 /* rows: enough loads in flight for a table in L3 */
#endif
/* Rows per batch of LPN code positions. */
#define LPN_BATCH 512

void fe_lpn(const fe_params *p, uint8_t *rows, uint8_t *b, const uint8_t *base,
            const uint8_t *base_b)
{
    ot_aes_key key;
    ot_aes_expand_aesni(&key, lpn_key);
    uint32_t idx[LPN_BATCH * FE_D];
    for (size_t i0 = 0; i0 < p->n; i0 += LPN_BATCH) {
        size_t cnt = p->n - i0 < LPN_BATCH ? p->n - i0 : LPN_BATCH;
        /* FE_D 32-bit words per row, LPN_BATCH * FE_D * 4 / 16 blocks per
         * batch: the code is the same for every refill of a set. */
        ot_aes_ctr_aesni(&key, i0 * FE_D / 4, (uint8_t *)idx, LPN_BATCH * FE_D / 4);
        for (size_t j = 0; j < cnt * FE_D; j++) idx[j] = (uint32_t)(((uint64_t)idx[j] * p->k) >> 32);
        for (size_t i = 0; i < cnt; i++) {
            if (i + LPN_AHEAD < cnt)
                for (int d = 0; d < FE_D; d++)
                    __builtin_prefetch(base + 16 * (size_t)idx[(i + LPN_AHEAD) * FE_D + d]);
            uint64_t acc[2], x[2];
            uint8_t *r = rows + 16 * (i0 + i);
            memcpy(acc, r, 16);
            uint8_t bb = 0;
            for (int d = 0; d < FE_D; d++) {
                size_t j = idx[i * FE_D + d];
                memcpy(x, base + 16 * j, 16);
                acc[0] ^= x[0];
                acc[1] ^= x[1];
                if (b) bb ^= base_b[j];
            }
            memcpy(r, acc, 16);
            if (b) b[i0 + i] ^= bb;
        }
    }
    cg_secure_zero(&key, sizeof key);
}
