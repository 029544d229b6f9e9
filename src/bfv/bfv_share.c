/* HE -> shares: mask with a uniform plaintext, flood the noise, shrink. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

cg_status cg_bfv_mask_and_flood(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_bfv_ct *ct,
                                unsigned stat_bits, cg_bfv_plain *mask_out, cg_error *err)
{
    if (stat_bits < 40)
        return cg_error_set(err, CG_ERR_PARAM, "noise flooding needs >= 40 statistical bits, got %u",
                            stat_bits);
    if (!ct->data || ct->size != 2 || ct->level != c->nq)
        return cg_error_set(err, CG_ERR_STATE, "mask_and_flood needs a top-level size-2 ciphertext");
    const size_t n = c->n, L = ct->level, w = L * n;
    /* Flooding noise e_f in t-units: ||t e_f|| ~ 2^(noise + stat_bits) must
     * still leave budget after switching down to one prime. */
    const double flood_log2 = ct->noise_log2 + stat_bits - log2((double)c->t);
    const double after = flood_log2 + log2((double)c->t) + 1;
    if (after >= c->level[L].log2q - 2)
        return cg_error_set(err, CG_ERR_NOISE,
                            "not enough noise budget to flood with %u bits (noise 2^%.1f, Q 2^%.1f)",
                            stat_bits, ct->noise_log2, c->level[L].log2q);
    cg_bfv_plain mask = {0}, zero = {0};
    cg_bfv_ct z = {0};
    cg_status st = cg_bfv_plain_alloc(c, &mask, err);
    if (st == CG_OK) st = cg_bfv_plain_alloc(c, &zero, err);
    if (st == CG_OK) st = cg_bfv_encrypt_pk(c, pk, &zero, &z, err);
    uint64_t *noise = st == CG_OK ? cg_alloc(w * sizeof(uint64_t)) : NULL;
    if (st == CG_OK && !noise) st = cg_error_set(err, CG_ERR_NOMEM, "flooding");
    if (st == CG_OK) st = cg_bfv_from_ntt(c, ct, err);
    if (st == CG_OK) {
        cg_prg prg;
        cg_prg_init_random(&prg);
        /* uniform mask over all n coefficients = all slots */
        for (size_t j = 0; j < n; j++) mask.coeffs[j] = cg_prg_uniform(&prg, c->t);
        unsigned fb = flood_log2 > 1 ? (unsigned)ceil(flood_log2) : 1;
        cg_sample_wide_noise(&prg, c->mods, L, n, fb, noise);
        cg_prg_clear(&prg);
        /* ct + Enc(0) + (e_f, 0) - Delta * mask */
        cg_poly_add(c->mods, L, n, ct->data, z.data, ct->data);
        cg_poly_add(c->mods, L, n, ct->data + w, z.data + w, ct->data + w);
        cg_poly_add(c->mods, L, n, ct->data, noise, ct->data);
        bfv_add_scaled_plain(c, mask.coeffs, L, ct->data, true);
        ct->seeded = false;
        ct->noise_log2 = bfv_log2_add(bfv_log2_add(ct->noise_log2, z.noise_log2),
                                      flood_log2 + log2((double)c->t));
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
    cg_free(noise);
    cg_bfv_ct_free(&z);
    cg_bfv_plain_free(&zero);
    if (st == CG_OK) {
        cg_bfv_plain_free(mask_out);
        *mask_out = mask;
    } else {
        cg_bfv_plain_free(&mask);
    }
    return st;
}
