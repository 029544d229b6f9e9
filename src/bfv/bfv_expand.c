/* Server-side expansion of a packed ciphertext (PIR "query expansion"):
 * the key owner packs B chunks into one ciphertext, chunk a's value k at
 * coefficient a + 2^e k (any stride that is a multiple of 2^e), scaled by
 * round(Q / (t 2^e)) instead of Delta, e = ceil(log2 B); the evaluator splits
 * it into B ciphertexts, chunk a's value k at 2^e k (shifted down by a) at
 * the ordinary scale.
 *
 * Level j (all indices = 0 mod 2^j after the shifts): sigma_g with
 * g = n / 2^j + 1 maps X^(2^j m) to (-1)^m X^(2^j m), so c + sigma(c) keeps
 * the even m (twice), (c - sigma(c)) X^(-2^j) the odd m (twice, shifted to
 * even). A node with no chunk in its odd child is only doubled, so every
 * leaf carries the factor 2^e that the packed scale divides out. The odd
 * child of a node is never present without the even one, and its terms all
 * have index >= 2^j, so the shift never wraps a message term. */
#include <string.h>

#include "bfv/bfv_internal.h"

unsigned cg_bfv_expand_levels(size_t count)
{
    unsigned e = 0;
    while (((size_t)1 << e) < count) e++;
    return e;
}

size_t cg_bfv_expand_elts(const cg_bfv_ctx *c, unsigned levels, uint32_t *elts)
{
    size_t k = 0;
    for (unsigned j = 0; j < levels && j < c->logn; j++) elts[k++] = (uint32_t)((c->n >> j) + 1);
    return k;
}

/* The bound after a split: ||v + sigma(v) + ks|| <= 2 ||v|| + ks. */
cg_status cg_bfv_expand(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk, const cg_bfv_ct *ct,
                        size_t count, cg_bfv_ct *outs, cg_error *err)
{
    const size_t n = c->n, L = c->nq, w = L * n;
    if (!ct || !ct->data || ct->size != 2 || ct->level != L)
        return cg_error_set(err, CG_ERR_STATE, "expansion needs a top-level size-2 ciphertext");
    if (count == 0 || count > n) return cg_error_set(err, CG_ERR_ARG, "expansion into %zu", count);
    const unsigned e = cg_bfv_expand_levels(count);
    for (unsigned j = 0; j < e; j++)
        if (!bfv_find_key(gk, (uint32_t)((n >> j) + 1)))
            return cg_error_set(err, CG_ERR_STATE, "no Galois key for expansion level %u", j);
    CG_TRY(cg_bfv_ct_copy(c, &outs[0], ct, err));
    outs[0].seeded = false;
    CG_TRY(cg_bfv_to_ntt(c, &outs[0], err));
    bfv_ws ws;
    uint64_t *mono = bfv_ws_get(c, 3 * w, &ws);
    if (!mono) return cg_error_set(err, CG_ERR_NOMEM, "expansion");
    cg_bfv_ct auto_ct = {.size = 2, .level = L, .ntt = true, .data = mono + w, .cap = 2 * w};
    cg_status st = CG_OK;
    for (unsigned j = 0; j < e && st == CG_OK; j++) {
        const size_t step = (size_t)1 << j;
        const uint32_t g = (uint32_t)((n >> j) + 1);
        const cg_bfv_ksk *key = bfv_find_key(gk, g);
        /* X^(-step) = -X^(n - step), in NTT form */
        memset(mono, 0, w * sizeof(uint64_t));
        for (size_t i = 0; i < L; i++) mono[i * n + n - step] = c->mods[i].value - 1;
        cg_poly_ntt(c->ntt, L, mono, c->nthreads);
        for (size_t r = 0; r < step && r < count && st == CG_OK; r++) {
            cg_bfv_ct *node = &outs[r];
            const double before = node->noise_log2;
            if (r + step >= count) {
                /* no chunk in the odd child: double (the uniform factor) */
                st = cg_bfv_add_inplace(c, node, node, err);
                node->noise_log2 = before + 1.0;
                continue;
            }
            st = bfv_apply_galois(c, key, g, node, &auto_ct, err);
            if (st != CG_OK) break;
            cg_bfv_ct *odd = &outs[r + step];
            st = cg_bfv_sub(c, node, &auto_ct, odd, err);
            if (st == CG_OK) st = cg_bfv_add_inplace(c, node, &auto_ct, err);
            if (st != CG_OK) break;
            const double nb = bfv_log2_add(before, auto_ct.noise_log2);
            for (size_t i = 0; i < 2; i++)
                bfv_poly_mul(c, c->mods, L, odd->data + i * w, mono, odd->data + i * w);
            node->noise_log2 = odd->noise_log2 = nb;
        }
    }
    bfv_ws_put(c, &ws, false);
    return st;
}
