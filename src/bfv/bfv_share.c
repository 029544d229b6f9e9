/* HE -> shares: mask with a uniform plaintext, flood the noise, shrink. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

/* Coefficients per PRG call in the flood sampler: one call per chunk, not
 * per coefficient (the per-call copy and wipe dominated). */
#define FLOOD_CHUNK 64

/* Per prime: q, floor(2^64 / q), 2^64 and 2^128 mod q with their Shoup
 * constants, q - (3 * 2^bits mod q). */
typedef struct flood_const {
    uint64_t q, onep, r1, r1p, r2, r2p, negc;
} flood_const;

/* (o + s0 + s1 2^64 + s2 2^128 - centre) mod q, o in [0, q): each term of
 * the sum in [0, 2q) or [0, q), q < 2^61, so it stays below 8q < 2^64. */
static inline uint64_t flood_add(uint64_t o, uint64_t s0, uint64_t s1, uint64_t s2,
                                 const flood_const *f)
{
    uint64_t v = cg_mul_shoup_lazy(s0, 1, f->onep, f->q) + f->negc + o +
                 cg_mul_shoup_lazy(s1, f->r1, f->r1p, f->q) +
                 cg_mul_shoup_lazy(s2, f->r2, f->r2p, f->q);
    v = cg_mul_shoup_lazy(v, 1, f->onep, f->q);
    return v - (f->q & (0 - (uint64_t)(v >= f->q)));
}

/* out += flooding noise: per coefficient the sum of three independent uniforms on
 * [-2^bits, 2^bits), reduced into each of the k rows. A sum of three has a
 * density with finite Fisher information (about 4.6 / width^2), so a shift
 * by c costs c^2 I / 8 in squared Hellinger distance per coefficient and
 * the distances add up as sqrt(m) over m coefficients, not as m (one
 * uniform's total variation, c / width, adds up linearly). bits <= 186
 * (the caller checks).
 *
 * Each uniform is drawn as U' uniform on [0, 2^(bits+1)) (whole PRG words,
 * the top one masked) and the noise is U1' + U2' + U3' - 3 * 2^bits, the same
 * integer as before this was made fast; it is reduced mod q as
 * s0 + s1 2^64 + s2 2^128 - centre with 2^64, 2^128 and the centre mod q
 * precomputed (Shoup products, no division, no branch on the noise). */
void bfv_sample_flood(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, unsigned bits,
                      uint64_t *out)
{
    const unsigned nbits = bits + 1;
    const size_t limbs = (nbits + 63) / 64;
    const unsigned top = nbits - 64 * (unsigned)(limbs - 1);
    const uint64_t top_mask = top == 64 ? ~0ull : (1ull << top) - 1;
    uint64_t mask[3] = {0, 0, 0};
    for (size_t l = 0; l < limbs; l++) mask[l] = l + 1 == limbs ? top_mask : ~0ull;
    const size_t sw = (nbits + 2 + 63) / 64; /* words of the sum, < 3 * 2^nbits */
    flood_const fc[CG_BFV_MAX_ALL];
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        fc[i].q = q;
        fc[i].onep = cg_shoup(1, q);
        fc[i].r1 = cg_mod_reduce128((cg_u128)1 << 64, &mods[i]);
        fc[i].r2 = cg_mod_mul(fc[i].r1, fc[i].r1, &mods[i]);
        fc[i].r1p = cg_shoup(fc[i].r1, q);
        fc[i].r2p = cg_shoup(fc[i].r2, q);
        const uint64_t pw = bits / 64 == 0 ? 1 : bits / 64 == 1 ? fc[i].r1 : fc[i].r2;
        const uint64_t c = cg_mod_mul(cg_mod_mul(3, pw, &mods[i]), 1ull << (bits % 64), &mods[i]);
        fc[i].negc = cg_mod_neg(c, q);
    }
    uint64_t draw[FLOOD_CHUNK * 9];
    for (size_t j0 = 0; j0 < n; j0 += FLOOD_CHUNK) {
        const size_t cn = n - j0 < FLOOD_CHUNK ? n - j0 : FLOOD_CHUNK;
        cg_prg_bytes(prg, draw, cn * 3 * limbs * sizeof *draw);
        for (size_t jj = 0; jj < cn; jj++) {
            const uint64_t *d = draw + jj * 3 * limbs;
            uint64_t s[3] = {0, 0, 0};
            cg_u128 carry = 0;
            for (size_t l = 0; l < 3; l++) {
                if (l < limbs)
                    carry += (cg_u128)(d[l] & mask[l]) + (d[limbs + l] & mask[l]) +
                             (d[2 * limbs + l] & mask[l]);
                s[l] = (uint64_t)carry;
                carry >>= 64;
            }
            const size_t j = j0 + jj;
            /* s < 2^(bits + 3): a literal 0 for the words that always are
             * lets the compiler drop their products (no branch on s) */
            if (sw == 1)
                for (size_t i = 0; i < k; i++)
                    out[i * n + j] = flood_add(out[i * n + j], s[0], 0, 0, &fc[i]);
            else if (sw == 2)
                for (size_t i = 0; i < k; i++)
                    out[i * n + j] = flood_add(out[i * n + j], s[0], s[1], 0, &fc[i]);
            else
                for (size_t i = 0; i < k; i++)
                    out[i * n + j] = flood_add(out[i * n + j], s[0], s[1], s[2], &fc[i]);
        }
    }
    cg_secure_zero(draw, sizeof draw);
}

/* A uniform mask on [0, t): Lemire's multiply-and-reject on PRG words drawn
 * in one call (exactly uniform: a word is refused when the low half of
 * word * t falls below 2^64 mod t, which never happens for t = 2^l, and
 * with probability < t / 2^64 otherwise). */
void bfv_sample_mask(cg_prg *prg, uint64_t t, size_t n, uint64_t *out)
{
    const uint64_t thresh = (0 - t) % t; /* 2^64 mod t */
    cg_prg_bytes(prg, out, n * sizeof *out);
    for (size_t j = 0; j < n; j++) {
        cg_u128 m = (cg_u128)out[j] * t;
        while ((uint64_t)m < thresh) m = (cg_u128)cg_prg_u64(prg) * t;
        out[j] = (uint64_t)(m >> 64);
    }
}

/* rows += the flood at the coefficients used marks only (the others are
 * never revealed): drawn for those u coefficients as bfv_sample_flood
 * draws for n, then added in; the draw is wiped. */
static cg_status sample_flood_at(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n,
                                 unsigned bits, const uint8_t *used, uint64_t *rows, cg_error *err)
{
    size_t u = 0;
    for (size_t j = 0; j < n; j++) u += used[j] != 0;
    if (u == 0) return CG_OK;
    uint64_t *f = cg_calloc(k * u, sizeof *f);
    if (!f) return cg_error_set(err, CG_ERR_NOMEM, "flooding");
    bfv_sample_flood(prg, mods, k, u, bits, f);
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        uint64_t *row = rows + i * n;
        for (size_t j = 0, x = 0; j < n; j++) {
            if (!used[j]) continue;
            const uint64_t v = row[j] + f[i * u + x++]; /* both below q < 2^61 */
            row[j] = v >= q ? v - q : v;
        }
    }
    cg_secure_zero(f, k * u * sizeof *f);
    cg_free(f);
    return CG_OK;
}

static cg_status mask_flood(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                            unsigned stat_bits, const uint8_t *used, cg_bfv_plain *mask_out,
                            cg_error *err);

cg_status cg_bfv_mask_and_flood(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                                unsigned stat_bits, cg_bfv_plain *mask_out, cg_error *err)
{
    return mask_flood(c, pk, ct, stat_bits, NULL, mask_out, err);
}

cg_status cg_bfv_mask_and_flood_at(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                                   unsigned stat_bits, const uint8_t *used,
                                   cg_bfv_plain *mask_out, cg_error *err)
{
    if (!used) return cg_error_set(err, CG_ERR_ARG, "mask_and_flood_at without coefficients");
    return mask_flood(c, pk, ct, stat_bits, used, mask_out, err);
}

static cg_status mask_flood(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                            unsigned stat_bits, const uint8_t *used, cg_bfv_plain *mask_out,
                            cg_error *err)
{
    if (stat_bits < 40)
        return cg_error_set(err, CG_ERR_PARAM, "noise flooding needs >= 40 statistical bits, got %u",
                            stat_bits);
    if (!ct->data || ct->size != 2 || ct->level != c->nq)
        return cg_error_set(err, CG_ERR_STATE, "mask_and_flood needs a top-level size-2 ciphertext");
    const size_t n = c->n, L = ct->level, w = L * n;
    /* Each uniform's half-width, in units of the raw noise: 2^stat_bits times
     * the bound of everything it hides, the encryption of zero's noise
     * included; the flood (at most 3 such) must leave budget to decrypt. */
    const double hidden = bfv_log2_add(ct->noise_log2, bfv_fresh_noise_log2(c, true));
    const double flood_log2 = hidden + stat_bits - log2((double)c->t);
    const double after = flood_log2 + log2(3.0) + log2((double)c->t) + 1;
    if (after >= c->level[L].log2q - 2 || flood_log2 > 186)
        return cg_error_set(err, CG_ERR_NOISE,
                            "not enough noise budget to flood with %u bits (noise 2^%.1f, Q 2^%.1f)",
                            stat_bits, ct->noise_log2, c->level[L].log2q);
    if (mask_out->coeffs && mask_out->n != n) cg_bfv_plain_free(mask_out);
    cg_status st = mask_out->coeffs ? CG_OK : cg_bfv_plain_alloc(c, mask_out, err);
    bfv_ws ws = {0};
    uint64_t *z = NULL;
    if (st == CG_OK && ct->ntt) {
        /* ct + Enc(0) with one inverse transform per row */
        st = bfv_add_encrypt_zero_pk_ntt(c, pk, ct->data, err);
        if (st == CG_OK) ct->ntt = false;
    } else if (st == CG_OK) {
        z = bfv_ws_get(c, 2 * w, &ws);
        if (!z) st = cg_error_set(err, CG_ERR_NOMEM, "flooding");
        if (st == CG_OK) st = bfv_encrypt_zero_pk(c, pk, z, err);
    }
    if (st == CG_OK) {
        cg_prg prg;
        cg_prg_init_random(&prg);
        /* uniform mask over all n coefficients = all slots */
        bfv_sample_mask(&prg, c->t, n, mask_out->coeffs);
        unsigned fb = flood_log2 > 1 ? (unsigned)ceil(flood_log2) : 1;
        /* ct + Enc(0) + (e_f, 0) - Delta * mask */
        if (used) st = sample_flood_at(&prg, c->mods, L, n, fb, used, ct->data, err);
        else bfv_sample_flood(&prg, c->mods, L, n, fb, ct->data);
        cg_prg_clear(&prg);
        if (z && st == CG_OK) {
            bfv_poly_add(c, L, ct->data, z, ct->data);
            bfv_poly_add(c, L, ct->data + w, z + w, ct->data + w);
        }
        bfv_add_scaled_plain(c, mask_out->coeffs, L, ct->data, true);
        ct->seeded = false;
        ct->noise_log2 = bfv_log2_add(bfv_log2_add(ct->noise_log2, bfv_fresh_noise_log2(c, true)),
                                      fb + log2(3.0) + log2((double)c->t));
        ct->noise_log2 = bfv_log2_add(ct->noise_log2, log2((double)c->t));
        /* Drop primes while the estimated budget after the next switch keeps
         * a margin: one prime suffices for t ~ 2^29, a 2^37 plaintext
         * modulus needs two (the rounding term alone is ~ t sqrt(n)). */
        while (st == CG_OK && ct->level > 1) {
            const double lq = log2((double)c->mods[ct->level - 1].value);
            const double rnd = log2((double)c->t * (1.0 + 8.0 * sqrt((double)n / 18.0)));
            const double next = bfv_log2_add(ct->noise_log2 - lq, rnd);
            if (c->level[ct->level - 1].log2q - 1 - next < CG_BFV_SHARE_MARGIN_BITS) break;
            st = cg_bfv_mod_switch_down(c, ct, err);
        }
    }
    if (z) bfv_ws_put(c, &ws, true);
    return st;
}
