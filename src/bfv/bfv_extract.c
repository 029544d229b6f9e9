/* Extracted ciphertexts: all of c1, c0 only where the key owner reads, and
 * optionally the low bits of every coefficient dropped (bfv.h). */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

/* Hoeffding: n terms e_i s_i, |e_i s_i| <= a, give P(|sum| > a h) <=
 * 2 exp(-h^2 / (2 n)) = 2^-fail for h = sqrt(2 n (fail + 1) ln 2). */
static double hoeffding(const cg_bfv_ctx *c, unsigned fail_bits)
{
    return sqrt(2.0 * (double)c->n * ((double)fail_bits + 1.0) * log(2.0));
}

double cg_bfv_extract_noise_log2(const cg_bfv_ctx *c, const cg_bfv_ct *ct, unsigned drop_bits,
                                 unsigned fail_bits)
{
    if (drop_bits == 0) return ct->noise_log2;
    /* c0's own rounding plus <e, s>, each e_i within 2^(d-1); times t */
    const double extra = log2((double)c->t) + (double)(drop_bits - 1) +
                         log2(1.0 + hoeffding(c, fail_bits));
    return bfv_log2_add(ct->noise_log2, extra);
}

/* Bits of Q_level - 1 (Q odd: the bits of Q), for level <= 2. */
static unsigned q_bits(const cg_bfv_ctx *c, size_t level)
{
    cg_u128 q = c->mods[0].value;
    if (level == 2) q *= c->mods[1].value;
    q -= 1;
    unsigned b = 0;
    while (q) {
        b++;
        q >>= 1;
    }
    return b;
}

unsigned cg_bfv_extract_drop_bits(const cg_bfv_ctx *c, const cg_bfv_ct *ct, unsigned fail_bits)
{
    if (!ct->data || ct->size != 2 || ct->level < 1 || ct->level > 2) return 0;
    const unsigned qb = q_bits(c, ct->level);
    const double log2q = c->level[ct->level].log2q;
    unsigned best = 0;
    for (unsigned d = 1; d < qb; d++) {
        const double noise = cg_bfv_extract_noise_log2(c, ct, d, fail_bits);
        if (log2q - 1 - noise < CG_BFV_EXTRACT_MARGIN_BITS) break;
        best = d;
    }
    /* the integers must fit 64 bits */
    return best > 0 && qb - best <= 64 ? best : 0;
}

typedef struct xform {
    size_t level;
    unsigned drop, width;
    cg_u128 q;
    uint64_t q0_inv; /* q0^-1 mod q1 */
} xform;

static void xform_init(const cg_bfv_ctx *c, size_t level, unsigned drop, xform *x)
{
    x->level = level;
    x->drop = drop;
    x->width = drop ? q_bits(c, level) - drop : 0;
    x->q = c->mods[0].value;
    x->q0_inv = 0;
    if (level == 2) {
        x->q *= c->mods[1].value;
        x->q0_inv = cg_mod_inv(c->mods[0].value % c->mods[1].value, &c->mods[1]);
    }
}

/* Residues of one coefficient (stride w) to its rounded integer. */
static uint64_t to_int(const cg_bfv_ctx *c, const xform *x, const uint64_t *co, size_t w)
{
    cg_u128 v = co[0];
    if (x->level == 2) {
        const cg_modulus *m1 = &c->mods[1];
        const uint64_t r0 = co[0] % m1->value;
        const uint64_t h = cg_mod_mul(cg_mod_sub(co[w], r0, m1->value), x->q0_inv, m1);
        v += (cg_u128)c->mods[0].value * h;
    }
    const cg_u128 half = (cg_u128)1 << (x->drop - 1);
    return v + half >= x->q ? 0 : (uint64_t)((v + half) >> x->drop);
}

static void from_int(const cg_bfv_ctx *c, const xform *x, uint64_t y, uint64_t *co, size_t w)
{
    const cg_u128 v = (cg_u128)y << x->drop;
    for (size_t i = 0; i < x->level; i++) co[i * w] = cg_mod_reduce128(v, &c->mods[i]);
}

cg_status cg_bfv_ct_serialize_extract(const cg_bfv_ctx *c, const cg_bfv_ct *ct,
                                      const uint32_t *pos, size_t npos, unsigned drop,
                                      cg_buf *out, cg_error *err)
{
    if (!ct->data || ct->size != 2 || ct->ntt || ct->level < 1 || ct->level > c->nq)
        return cg_error_set(err, CG_ERR_ARG, "extraction needs a size-2 coefficient-form ciphertext");
    if (npos > c->n) return cg_error_set(err, CG_ERR_ARG, "%zu positions in a ring of %zu", npos, c->n);
    for (size_t k = 0; k < npos; k++)
        if (pos[k] >= c->n || (k > 0 && pos[k] <= pos[k - 1]))
            return cg_error_set(err, CG_ERR_ARG, "positions must increase and stay below n");
    if (drop && (ct->level > 2 || drop >= q_bits(c, ct->level) || q_bits(c, ct->level) - drop > 64))
        return cg_error_set(err, CG_ERR_ARG, "cannot drop %u bits at level %zu", drop, ct->level);
    const size_t n = c->n, L = ct->level, w = L * n;
    bfv_put_header(c, out, CG_BFV_OBJ_CT_EXTRACT);
    cg_buf_put_u8(out, (uint8_t)L);
    cg_buf_put_u8(out, (uint8_t)drop);
    cg_buf_put_u32(out, (uint32_t)npos);
    uint64_t tmp[64];
    for (size_t k = 0; k < npos; k += 64) { /* packed in runs of 64 (whole bytes) */
        const size_t m = npos - k < 64 ? npos - k : 64;
        for (size_t i = 0; i < m; i++) tmp[i] = pos[k + i];
        cg_buf_put_packed(out, tmp, m, c->logn);
    }
    const uint64_t *c0 = ct->data, *c1 = ct->data + w;
    if (!drop) {
        for (size_t i = 0; i < L; i++) cg_buf_put_packed(out, c1 + i * n, n, c->mods[i].bits);
        for (size_t i = 0; i < L; i++)
            for (size_t k = 0; k < npos; k += 64) {
                const size_t m = npos - k < 64 ? npos - k : 64;
                for (size_t j = 0; j < m; j++) tmp[j] = c0[i * n + pos[k + j]];
                cg_buf_put_packed(out, tmp, m, c->mods[i].bits);
            }
    } else {
        xform x;
        xform_init(c, L, drop, &x);
        for (size_t k = 0; k < n + npos; k += 64) { /* c1, then c0 at the positions */
            const size_t m = n + npos - k < 64 ? n + npos - k : 64;
            for (size_t j = 0; j < m; j++)
                tmp[j] = k + j < n ? to_int(c, &x, c1 + k + j, n) : to_int(c, &x, c0 + pos[k + j - n], n);
            cg_buf_put_packed(out, tmp, m, x.width);
        }
    }
    return out->failed ? cg_error_set(err, CG_ERR_NOMEM, "serialization buffer") : CG_OK;
}

/* count values at width bits, in runs of 64 as written; each checked <= max. */
static cg_status read_runs(cg_reader *r, uint64_t *vals, size_t count, unsigned width, uint64_t max,
                           const char *what, cg_error *err)
{
    for (size_t k = 0; k < count; k += 64) {
        const size_t m = count - k < 64 ? count - k : 64;
        CG_TRY(cg_read_packed(r, vals + k, m, width, what, err));
        for (size_t j = 0; j < m; j++)
            if (vals[k + j] > max) return cg_error_set(err, CG_ERR_FORMAT, "%s out of range", what);
    }
    return CG_OK;
}

static cg_status read_body(const cg_bfv_ctx *c, cg_reader *r, size_t L, unsigned drop, size_t npos,
                           uint32_t *pos, uint64_t *vals, cg_bfv_ct *ct, cg_error *err)
{
    const size_t n = c->n, w = L * n;
    CG_TRY(read_runs(r, vals, npos, c->logn, n - 1, "extracted positions", err));
    for (size_t k = 0; k < npos; k++) {
        if (k > 0 && vals[k] <= vals[k - 1])
            return cg_error_set(err, CG_ERR_FORMAT, "extracted positions not increasing");
        pos[k] = (uint32_t)vals[k];
    }
    uint64_t *c0 = ct->data, *c1 = ct->data + w;
    memset(c0, 0, w * sizeof *c0);
    if (!drop) {
        for (size_t i = 0; i < L; i++)
            CG_TRY(read_runs(r, c1 + i * n, n, c->mods[i].bits, c->mods[i].value - 1, "extracted c1", err));
        for (size_t i = 0; i < L; i++) {
            CG_TRY(read_runs(r, vals, npos, c->mods[i].bits, c->mods[i].value - 1, "extracted c0", err));
            for (size_t k = 0; k < npos; k++) c0[i * n + pos[k]] = vals[k];
        }
    } else {
        xform x;
        xform_init(c, L, drop, &x);
        const uint64_t max = (uint64_t)((x.q - 1) >> drop); /* the writer's largest */
        for (size_t k = 0; k < n + npos; k += 64) {
            const size_t m = n + npos - k < 64 ? n + npos - k : 64;
            CG_TRY(read_runs(r, vals, m, x.width, max, "extracted coefficient", err));
            for (size_t j = 0; j < m; j++) {
                if (k + j < n) from_int(c, &x, vals[j], c1 + k + j, n);
                else from_int(c, &x, vals[j], c0 + pos[k + j - n], n);
            }
        }
    }
    return cg_reader_left(r) ? cg_error_set(err, CG_ERR_FORMAT, "%zu trailing bytes after the object",
                                            cg_reader_left(r))
                             : CG_OK;
}

cg_status cg_bfv_ct_deserialize_extract(const cg_bfv_ctx *c, const uint8_t *p, size_t len,
                                        cg_bfv_ct *ct, cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_CT_EXTRACT, err));
    uint8_t level, drop;
    uint32_t npos;
    CG_TRY(cg_read_u8(&r, &level, "ciphertext level", err));
    CG_TRY(cg_read_u8(&r, &drop, "dropped bits", err));
    CG_TRY(cg_read_u32(&r, &npos, "extracted positions", err));
    if (level < 1 || level > c->nq || npos > c->n)
        return cg_error_set(err, CG_ERR_FORMAT, "extracted ciphertext header out of range");
    if (drop && (level > 2 || drop >= q_bits(c, level) || q_bits(c, level) - drop > 64))
        return cg_error_set(err, CG_ERR_FORMAT, "%u dropped bits at level %u", drop, level);
    CG_TRY(bfv_ct_reserve(c, ct, 2, level, err));
    bfv_ws ws;
    uint64_t *vals = bfv_ws_get(c, c->n + c->n / 2 + 1, &ws); /* values, then positions */
    if (!vals) {
        cg_bfv_ct_free(ct);
        return cg_error_set(err, CG_ERR_NOMEM, "extracted ciphertext");
    }
    cg_status st = read_body(c, &r, level, drop, npos, (uint32_t *)(vals + c->n), vals, ct, err);
    bfv_ws_put(c, &ws, false);
    if (st != CG_OK) {
        cg_bfv_ct_free(ct);
        return st;
    }
    ct->ntt = false;
    ct->seeded = false;
    ct->noise_log2 = 0;
    return CG_OK;
}

cg_status cg_bfv_ct_deserialize_any(const cg_bfv_ctx *c, const uint8_t *p, size_t len,
                                    cg_bfv_ct *ct, cg_error *err)
{
    /* the type is the u16 after the magic and the version */
    if (len >= 8 && p[6] == CG_BFV_OBJ_CT_EXTRACT && p[7] == 0)
        return cg_bfv_ct_deserialize_extract(c, p, len, ct, err);
    return cg_bfv_ct_deserialize(c, p, len, ct, err);
}
