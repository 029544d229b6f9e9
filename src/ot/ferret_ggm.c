/* Ferret's noise: t single-point COTs from GGM trees (a puncturable PRF),
 * semi-honest (the LPN expansion is ferret_lpn.c).
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
#define FE_MAX_H 16

static const uint8_t ggm_key0[16] = "cryptogen-ggm-L";
static const uint8_t ggm_key1[16] = "cryptogen-ggm-R";

static inline void xor16(uint8_t *d, const uint8_t *s)
{
    uint64_t a[2], b[2];
    memcpy(a, d, 16);
    memcpy(b, s, 16);
    a[0] ^= b[0];
    a[1] ^= b[1];
    memcpy(d, a, 16);
}

void fe_ggm_init(fe_ggm *g)
{
    ot_aes_expand_aesni(&g->k0, ggm_key0);
    ot_aes_expand_aesni(&g->k1, ggm_key1);
    g->level = ot_vaes_available() ? ot_ggm_level_vaes : ot_ggm_level_aesni;
}

void fe_ggm_expand(const fe_ggm *g, unsigned h, uint8_t *nodes, uint8_t *sums)
{
    uint8_t k[32];
    for (unsigned l = 0; l < h; l++)
        g->level(&g->k0, &g->k1, nodes, (size_t)1 << l, sums ? sums + 32 * l : k);
}

/* Low bits 0 (ferret.c) and the xor of the 2^h leaves into c. The bit is
 * cleared in a register: a byte store followed by the 8-byte load of the
 * same leaf defeated store forwarding (about 5 ns per leaf). */
static void clear_and_sum(uint8_t *nodes, size_t N, uint8_t c[16])
{
    uint64_t s[2] = {0, 0};
    for (size_t j = 0; j < N; j++) {
        uint64_t x[2];
        memcpy(x, nodes + 16 * j, 16);
        x[0] &= ~(uint64_t)1;
        memcpy(nodes + 16 * j, x, 16);
        s[0] ^= x[0];
        s[1] ^= x[1];
    }
    uint64_t a[2];
    memcpy(a, c, 16);
    a[0] ^= s[0];
    a[1] ^= s[1];
    memcpy(c, a, 16);
}

void fe_ggm_send(cg_ot *ot, const fe_ggm *g, const fe_params *p, const uint8_t *base,
                 uint64_t tweak, size_t b0, size_t nt, cg_prg *prg, uint8_t *v, uint8_t *msg)
{
    size_t N = (size_t)1 << p->h, per = 32 * (size_t)p->h + 16;
    uint8_t h0[16 * FE_MAX_H], h1[16 * FE_MAX_H];
    for (size_t i = 0; i < nt; i++) {
        size_t b = b0 + i;
        uint8_t *nodes = v + 16 * N * i, *m = msg + per * i;
        const uint8_t *bq = base + 16 * b * p->h;
        ot->tccr(&ot->pi, bq, NULL, h0, p->h, tweak + b * p->h, FE_TWEAK_HI);
        ot->tccr(&ot->pi, bq, ot->delta, h1, p->h, tweak + b * p->h, FE_TWEAK_HI);
        cg_prg_bytes(prg, nodes, 16);
        fe_ggm_expand(g, p->h, nodes, m);
        for (unsigned l = 0; l < p->h; l++) {
            xor16(m + 32 * l, h0 + 16 * l);
            xor16(m + 32 * l + 16, h1 + 16 * l);
        }
        memcpy(m + 32 * p->h, ot->delta, 16);
        clear_and_sum(nodes, N, m + 32 * p->h);
    }
    cg_secure_zero(h0, sizeof h0);
    cg_secure_zero(h1, sizeof h1);
}

void fe_ggm_recv(cg_ot *ot, const fe_ggm *g, const fe_params *p, const uint8_t *base,
                 const uint8_t *base_b, uint64_t tweak, size_t b0, size_t nt, const uint8_t *msg,
                 uint8_t *w)
{
    size_t N = (size_t)1 << p->h, per = 32 * (size_t)p->h + 16;
    uint8_t h0[16 * FE_MAX_H];
    for (size_t i = 0; i < nt; i++) {
        size_t b = b0 + i;
        uint8_t *nodes = w + 16 * N * i;
        const uint8_t *m = msg + per * i;
        ot->tccr(&ot->pi, base + 16 * b * p->h, NULL, h0, p->h, tweak + b * p->h, FE_TWEAK_HI);
        size_t path = 0; /* the unknown node of the current level */
        memset(nodes, 0, 16);
        for (unsigned l = 0; l < p->h; l++) {
            uint8_t k[32];
            unsigned c = base_b[b * p->h + l] & 1u;
            /* The unknown node's children are garbage. */
            g->level(&g->k0, &g->k1, nodes, (size_t)1 << l, k);
            /* The sibling: K_c xor every other node of its side, i.e. xor
             * the computed sum k_c without the garbage in the sibling's slot. */
            size_t sib = 2 * path + c;
            uint8_t s[16];
            memcpy(s, m + 32 * l + 16 * c, 16);
            xor16(s, h0 + 16 * l);
            xor16(s, k + 16 * c);
            xor16(s, nodes + 16 * sib);
            memcpy(nodes + 16 * sib, s, 16);
            path = 2 * path + (1u - c);
            memset(nodes + 16 * path, 0, 16);
        }
        /* As the sender's; w[alpha] gets Delta's low bit, 1. */
        uint8_t c[16];
        memcpy(c, m + 32 * p->h, 16);
        clear_and_sum(nodes, N, c);
        memcpy(nodes + 16 * path, c, 16);
    }
    cg_secure_zero(h0, sizeof h0);
}
