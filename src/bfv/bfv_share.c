/* HE -> shares: mask with a uniform plaintext, flood the noise, shrink. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

/* 3-limb little-endian integers (the flood is up to ~190 bits wide). */
static void add3(uint64_t a[3], const uint64_t b[3])
{
    cg_u128 c = 0;
    for (int i = 0; i < 3; i++) {
        c += (cg_u128)a[i] + b[i];
        a[i] = (uint64_t)c;
        c >>= 64;
    }
}

static void sub3(uint64_t r[3], const uint64_t a[3], const uint64_t b[3]) /* r = a - b, a >= b */
{
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        const uint64_t d = a[i] - b[i] - borrow;
        borrow = (a[i] < b[i]) || (a[i] - b[i] < borrow);
        r[i] = d;
    }
}

static bool less3(const uint64_t a[3], const uint64_t b[3])
{
    for (int i = 2; i >= 0; i--)
        if (a[i] != b[i]) return a[i] < b[i];
    return false;
}

/* out += flooding noise: per coefficient the sum of three independent uniforms on
 * [-2^bits, 2^bits), reduced into each of the k rows. A sum of three has a
 * density with finite Fisher information (about 4.6 / width^2), so a shift
 * by c costs c^2 I / 8 in squared Hellinger distance per coefficient and
 * the distances add up as sqrt(m) over m coefficients, not as m (one
 * uniform's total variation, c / width, adds up linearly). bits <= 186
 * (the caller checks). */
static void sample_flood(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, unsigned bits,
                         uint64_t *out)
{
    const unsigned nbits = bits + 1; /* each uniform in [0, 2^(bits+1)) before centring */
    const size_t limbs = (nbits + 63) / 64;
    const unsigned top = nbits - 64 * (unsigned)(limbs - 1);
    const uint64_t top_mask = top == 64 ? ~0ull : (1ull << top) - 1;
    uint64_t centre[3] = {0}; /* 3 * 2^bits */
    centre[bits / 64] = 1ull << (bits % 64);
    const uint64_t one[3] = {centre[0], centre[1], centre[2]};
    add3(centre, one);
    add3(centre, one);
    uint64_t draw[9];
    for (size_t j = 0; j < n; j++) {
        uint64_t sum[3] = {0}, mag[3];
        cg_prg_bytes(prg, draw, 3 * limbs * sizeof *draw);
        for (int u = 0; u < 3; u++) {
            uint64_t v[3] = {0};
            for (size_t l = 0; l < limbs; l++) v[l] = draw[u * limbs + l];
            v[limbs - 1] &= top_mask;
            add3(sum, v);
        }
        const bool neg = less3(sum, centre);
        if (neg) sub3(mag, centre, sum);
        else sub3(mag, sum, centre);
        for (size_t i = 0; i < k; i++) {
            uint64_t r = 0;
            for (size_t l = 3; l-- > 0;) r = cg_mod_reduce128(((cg_u128)r << 64) | mag[l], &mods[i]);
            const uint64_t q = mods[i].value, v = neg ? cg_mod_neg(r, q) : r;
            out[i * n + j] = cg_mod_add(out[i * n + j], v, q);
        }
        cg_secure_zero(mag, sizeof mag);
        cg_secure_zero(sum, sizeof sum);
    }
    cg_secure_zero(draw, sizeof draw);
}

cg_status cg_bfv_mask_and_flood(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                                unsigned stat_bits, cg_bfv_plain *mask_out, cg_error *err)
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
    uint64_t *z = st == CG_OK ? bfv_ws_get(c, 2 * w, &ws) : NULL;
    if (st == CG_OK && !z) st = cg_error_set(err, CG_ERR_NOMEM, "flooding");
    if (st == CG_OK) st = bfv_encrypt_zero_pk(c, pk, z, err);
    if (st == CG_OK) st = cg_bfv_from_ntt(c, ct, err);
    if (st == CG_OK) {
        cg_prg prg;
        cg_prg_init_random(&prg);
        /* uniform mask over all n coefficients = all slots */
        for (size_t j = 0; j < n; j++) mask_out->coeffs[j] = cg_prg_uniform(&prg, c->t);
        unsigned fb = flood_log2 > 1 ? (unsigned)ceil(flood_log2) : 1;
        /* ct + Enc(0) + (e_f, 0) - Delta * mask */
        sample_flood(&prg, c->mods, L, n, fb, ct->data);
        cg_prg_clear(&prg);
        bfv_poly_add(c, L, ct->data, z, ct->data);
        bfv_poly_add(c, L, ct->data + w, z + w, ct->data + w);
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
    bfv_ws_put(c, &ws, true);
    return st;
}
