/* RNS bases: CRT composition/decomposition and fast base conversion. */
#include <string.h>

#include "cryptogen/ring.h"

/* Multi-precision helpers on little-endian limbs. */
static void mp_mul_word(const uint64_t *a, size_t n, uint64_t w, uint64_t *out /* n+1 */)
{
    uint64_t carry = 0;
    for (size_t i = 0; i < n; i++) {
        cg_u128 p = (cg_u128)a[i] * w + carry;
        out[i] = (uint64_t)p;
        carry = (uint64_t)(p >> 64);
    }
    out[n] = carry;
}

static uint64_t mp_add(uint64_t *a, const uint64_t *b, size_t n)
{
    uint64_t carry = 0;
    for (size_t i = 0; i < n; i++) {
        cg_u128 s = (cg_u128)a[i] + b[i] + carry;
        a[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    return carry;
}

static int mp_cmp(const uint64_t *a, const uint64_t *b, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}

static void mp_sub(uint64_t *a, const uint64_t *b, size_t n)
{
    uint64_t borrow = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t bi = b[i] + borrow;
        uint64_t nb = (bi < borrow) || (a[i] < bi);
        a[i] -= bi;
        borrow = nb;
    }
}

static uint64_t mp_mod_word(const uint64_t *a, size_t n, const cg_modulus *m)
{
    uint64_t r = 0;
    for (size_t i = n; i-- > 0;) r = cg_mod_reduce128(((cg_u128)r << 64) | a[i], m);
    return r;
}

cg_status cg_rns_base_init(cg_rns_base *b, const uint64_t *primes, size_t k, cg_error *err)
{
    *b = (cg_rns_base){0};
    if (k == 0 || k > 64) return cg_error_set(err, CG_ERR_PARAM, "RNS base of %zu primes", k);
    b->k = k;
    b->mods = cg_calloc(k, sizeof *b->mods);
    b->prod = cg_calloc(k + 1, sizeof(uint64_t));
    b->punct = cg_calloc(k * (k + 1), sizeof(uint64_t));
    b->punct_inv = cg_calloc(k, sizeof(uint64_t));
    b->punct_inv_sh = cg_calloc(k, sizeof(uint64_t));
    uint64_t *tmp = cg_calloc(k + 2, sizeof(uint64_t));
    if (!b->mods || !b->prod || !b->punct || !b->punct_inv || !b->punct_inv_sh || !tmp) {
        cg_free(tmp);
        cg_rns_base_free(b);
        return cg_error_set(err, CG_ERR_NOMEM, "RNS base");
    }
    cg_status st = CG_OK;
    for (size_t i = 0; i < k && st == CG_OK; i++) {
        st = cg_modulus_init(&b->mods[i], primes[i], err);
        for (size_t j = 0; j < i && st == CG_OK; j++)
            if (primes[j] == primes[i])
                st = cg_error_set(err, CG_ERR_PARAM, "RNS base repeats the prime %llu",
                                  (unsigned long long)primes[i]);
    }
    if (st != CG_OK) {
        cg_free(tmp);
        cg_rns_base_free(b);
        return st;
    }
    /* Q and each Q/q_i as k-limb integers (Q < 2^(61k) fits k+... limbs: k limbs
     * suffice because every prime is < 2^61 < 2^64). */
    b->prod[0] = 1;
    for (size_t i = 0; i < k; i++) {
        mp_mul_word(b->prod, k, primes[i], tmp);
        memcpy(b->prod, tmp, k * sizeof(uint64_t));
    }
    for (size_t i = 0; i < k; i++) {
        uint64_t *p = b->punct + i * k;
        memset(p, 0, k * sizeof(uint64_t));
        p[0] = 1;
        for (size_t j = 0; j < k; j++) {
            if (j == i) continue;
            mp_mul_word(p, k, primes[j], tmp);
            memcpy(p, tmp, k * sizeof(uint64_t));
        }
        uint64_t r = mp_mod_word(p, k, &b->mods[i]);
        b->punct_inv[i] = cg_mod_inv(r, &b->mods[i]);
        b->punct_inv_sh[i] = cg_shoup(b->punct_inv[i], primes[i]);
    }
    cg_free(tmp);
    return CG_OK;
}

void cg_rns_base_free(cg_rns_base *b)
{
    cg_free(b->mods);
    cg_free(b->prod);
    cg_free(b->punct);
    cg_free(b->punct_inv);
    cg_free(b->punct_inv_sh);
    *b = (cg_rns_base){0};
}

void cg_rns_compose(const cg_rns_base *b, const uint64_t *residues, uint64_t *limbs)
{
    const size_t k = b->k;
    uint64_t acc[65] = {0}, term[66];
    /* x = sum_i [r_i * q_i*^-1]_{q_i} * q_i*  mod Q */
    for (size_t i = 0; i < k; i++) {
        uint64_t c = cg_mul_shoup(residues[i], b->punct_inv[i], b->punct_inv_sh[i],
                                  b->mods[i].value);
        mp_mul_word(b->punct + i * k, k, c, term);
        uint64_t carry = mp_add(acc, term, k + 1);
        (void)carry;
        while (acc[k] != 0 || mp_cmp(acc, b->prod, k) >= 0) {
            /* subtract Q (as k+1 limbs) */
            uint64_t q1[65];
            memcpy(q1, b->prod, k * sizeof(uint64_t));
            q1[k] = 0;
            mp_sub(acc, q1, k + 1);
        }
    }
    memcpy(limbs, acc, k * sizeof(uint64_t));
}

void cg_rns_decompose(const cg_rns_base *b, const uint64_t *limbs, size_t nlimbs,
                      uint64_t *residues)
{
    for (size_t i = 0; i < b->k; i++) residues[i] = mp_mod_word(limbs, nlimbs, &b->mods[i]);
}

cg_status cg_base_conv_init(cg_base_conv *c, const cg_rns_base *from, const cg_rns_base *to,
                            cg_error *err)
{
    c->from = from;
    c->to = to;
    c->qstar_mod_p = cg_calloc(from->k * to->k, sizeof(uint64_t));
    if (!c->qstar_mod_p) return cg_error_set(err, CG_ERR_NOMEM, "base conversion table");
    for (size_t j = 0; j < to->k; j++)
        for (size_t i = 0; i < from->k; i++)
            c->qstar_mod_p[j * from->k + i] =
                mp_mod_word(from->punct + i * from->k, from->k, &to->mods[j]);
    return CG_OK;
}

void cg_base_conv_free(cg_base_conv *c)
{
    cg_free(c->qstar_mod_p);
    c->qstar_mod_p = NULL;
}

void cg_base_conv_apply(const cg_base_conv *c, const uint64_t *in, uint64_t *out, size_t n)
{
    const size_t ka = c->from->k, kb = c->to->k;
    if (ka == 1) {
        /* one prime (key-switching digits of one prime): Q/q_0 = 1, so the
         * conversion is a reduction of each residue */
        const uint64_t q0 = c->from->mods[0].value;
        for (size_t j = 0; j < kb; j++) {
            const cg_modulus *m = &c->to->mods[j];
            uint64_t *o = out + j * n;
            if (q0 <= 2 * m->value)
                for (size_t x = 0; x < n; x++) o[x] = in[x] - (m->value & (0 - (uint64_t)(in[x] >= m->value)));
            else
                for (size_t x = 0; x < n; x++) o[x] = cg_mod_reduce(in[x], m);
        }
        return;
    }
    uint64_t y[64];
    for (size_t x = 0; x < n; x++) {
        for (size_t i = 0; i < ka; i++)
            y[i] = cg_mul_shoup(in[i * n + x], c->from->punct_inv[i], c->from->punct_inv_sh[i],
                                c->from->mods[i].value);
        for (size_t j = 0; j < kb; j++) {
            /* ka products of < 2^61 * 2^61 fit a 128-bit sum for ka <= 64. */
            cg_u128 s = 0;
            const uint64_t *row = c->qstar_mod_p + j * ka;
            for (size_t i = 0; i < ka; i++) s += (cg_u128)y[i] * row[i];
            out[j * n + x] = cg_mod_reduce128(s, &c->to->mods[j]);
        }
    }
}
