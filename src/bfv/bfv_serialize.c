/* Serialization: versioned header with the parameter fingerprint, then
 * coefficients bit-packed at each prime's width. Seeded objects carry the
 * 32-byte seed of their uniform part instead of the part itself. Readers
 * check every field, every coefficient's range and the exact length. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

#define MAGIC "CGBF"
#define VERSION 1

void bfv_put_header(const cg_bfv_ctx *c, cg_buf *b, cg_bfv_obj type)
{
    cg_buf_put(b, MAGIC, 4);
    cg_buf_put_u16(b, VERSION);
    cg_buf_put_u16(b, (uint16_t)type);
    cg_buf_put(b, c->fingerprint, 32);
}

cg_status bfv_get_header(const cg_bfv_ctx *c, cg_reader *r, cg_bfv_obj type, cg_error *err)
{
    uint8_t magic[4], fp[32];
    uint16_t ver, ty;
    CG_TRY(cg_read_bytes(r, magic, 4, "magic", err));
    if (memcmp(magic, MAGIC, 4) != 0) return cg_error_set(err, CG_ERR_FORMAT, "not a cryptogen BFV object");
    CG_TRY(cg_read_u16(r, &ver, "version", err));
    if (ver != VERSION) return cg_error_set(err, CG_ERR_FORMAT, "unsupported object version %u", ver);
    CG_TRY(cg_read_u16(r, &ty, "object type", err));
    if (ty != type)
        return cg_error_set(err, CG_ERR_FORMAT, "object type %u where %u was expected", ty, (unsigned)type);
    CG_TRY(cg_read_bytes(r, fp, 32, "parameter fingerprint", err));
    if (memcmp(fp, c->fingerprint, 32) != 0)
        return cg_error_set(err, CG_ERR_PARAM, "object made under different BFV parameters");
    return CG_OK;
}

static cg_status finish(cg_buf *b, cg_error *err)
{
    return b->failed ? cg_error_set(err, CG_ERR_NOMEM, "serialization buffer") : CG_OK;
}

static void put_rows(const cg_bfv_ctx *c, cg_buf *b, const uint64_t *rows, size_t first, size_t k)
{
    for (size_t i = 0; i < k; i++)
        cg_buf_put_packed(b, rows + i * c->n, c->n, c->mods[first + i].bits);
}

static cg_status get_rows(const cg_bfv_ctx *c, cg_reader *r, uint64_t *rows, size_t first, size_t k,
                          const char *what, cg_error *err)
{
    for (size_t i = 0; i < k; i++) {
        const cg_modulus *m = &c->mods[first + i];
        CG_TRY(cg_read_packed(r, rows + i * c->n, c->n, m->bits, what, err));
        for (size_t j = 0; j < c->n; j++)
            if (rows[i * c->n + j] >= m->value)
                return cg_error_set(err, CG_ERR_FORMAT, "%s: coefficient not reduced", what);
    }
    return CG_OK;
}

static cg_status at_end(const cg_reader *r, cg_error *err)
{
    if (cg_reader_left(r))
        return cg_error_set(err, CG_ERR_FORMAT, "%zu trailing bytes after the object", cg_reader_left(r));
    return CG_OK;
}

cg_status cg_bfv_ct_serialize(const cg_bfv_ctx *c, const cg_bfv_ct *ct, cg_buf *out, cg_error *err)
{
    if (!ct->data) return cg_error_set(err, CG_ERR_ARG, "empty ciphertext");
    const size_t w = ct->level * c->n;
    const bool seeded = ct->seeded && !ct->ntt && ct->size == 2 && ct->level == c->nq;
    bfv_put_header(c, out, CG_BFV_OBJ_CT);
    cg_buf_put_u8(out, (uint8_t)ct->size);
    cg_buf_put_u8(out, (uint8_t)ct->level);
    cg_buf_put_u8(out, (uint8_t)((ct->ntt ? 1 : 0) | (seeded ? 2 : 0)));
    /* the sender's noise estimate, in 1/1024 bits (advisory only) */
    double nl = ct->noise_log2 > 0 && ct->noise_log2 < 4000 ? ct->noise_log2 : 0;
    cg_buf_put_u32(out, (uint32_t)(nl * 1024));
    for (size_t p = 0; p < ct->size; p++) {
        if (p == 1 && seeded) {
            cg_buf_put(out, ct->seed, CG_SEED_BYTES);
            continue;
        }
        put_rows(c, out, ct->data + p * w, 0, ct->level);
    }
    return finish(out, err);
}

cg_status cg_bfv_ct_deserialize(const cg_bfv_ctx *c, const uint8_t *p, size_t len, cg_bfv_ct *ct,
                                cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_CT, err));
    uint8_t size, level, flags;
    uint32_t noise;
    CG_TRY(cg_read_u8(&r, &size, "ciphertext size", err));
    CG_TRY(cg_read_u8(&r, &level, "ciphertext level", err));
    CG_TRY(cg_read_u8(&r, &flags, "ciphertext flags", err));
    CG_TRY(cg_read_u32(&r, &noise, "noise estimate", err));
    if (size < 2 || size > 3 || level < 1 || level > c->nq || (flags & ~3u))
        return cg_error_set(err, CG_ERR_FORMAT, "ciphertext header out of range");
    const bool ntt = flags & 1, seeded = flags & 2;
    if (seeded && (ntt || size != 2 || level != c->nq))
        return cg_error_set(err, CG_ERR_FORMAT, "seeded ciphertext must be fresh");
    /* Into ct's own buffer when it is large enough (a receiver reusing its
     * ciphertexts allocates nothing); a malformed body leaves ct empty. */
    CG_TRY(bfv_ct_reserve(c, ct, size, level, err));
    const size_t w = (size_t)level * c->n;
    cg_status st = CG_OK;
    for (size_t k = 0; k < size && st == CG_OK; k++) {
        if (k == 1 && seeded) {
            st = cg_read_bytes(&r, ct->seed, CG_SEED_BYTES, "ciphertext seed", err);
            if (st == CG_OK) {
                cg_prg ap;
                cg_prg_init(&ap, ct->seed, 0);
                cg_sample_uniform(&ap, c->mods, level, c->n, ct->data + w);
                cg_poly_intt(c->ntt, level, ct->data + w, c->nthreads);
            }
            continue;
        }
        st = get_rows(c, &r, ct->data + k * w, 0, level, "ciphertext", err);
    }
    if (st == CG_OK) st = at_end(&r, err);
    if (st != CG_OK) {
        cg_bfv_ct_free(ct);
        return st;
    }
    ct->ntt = ntt;
    ct->seeded = seeded;
    ct->noise_log2 = noise / 1024.0;
    return CG_OK;
}

cg_status cg_bfv_pk_serialize(const cg_bfv_ctx *c, const cg_bfv_pk *pk, cg_buf *out, cg_error *err)
{
    if (!pk->data) return cg_error_set(err, CG_ERR_ARG, "empty public key");
    bfv_put_header(c, out, CG_BFV_OBJ_PK);
    cg_buf_put(out, pk->seed, CG_SEED_BYTES);
    put_rows(c, out, pk->data, 0, c->nq);
    return finish(out, err);
}

cg_status cg_bfv_pk_deserialize(const cg_bfv_ctx *c, const uint8_t *p, size_t len, cg_bfv_pk *pk,
                                cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_PK, err));
    cg_bfv_pk t = {0};
    const size_t w = c->nq * c->n;
    t.data = cg_alloc(2 * w * sizeof(uint64_t));
    if (!t.data) return cg_error_set(err, CG_ERR_NOMEM, "public key");
    cg_status st = cg_read_bytes(&r, t.seed, CG_SEED_BYTES, "public key seed", err);
    if (st == CG_OK) st = get_rows(c, &r, t.data, 0, c->nq, "public key", err);
    if (st == CG_OK) st = at_end(&r, err);
    if (st != CG_OK) {
        cg_bfv_pk_free(&t);
        return st;
    }
    cg_prg ap;
    cg_prg_init(&ap, t.seed, 0);
    cg_sample_uniform(&ap, c->mods, c->nq, c->n, t.data + w);
    cg_bfv_pk_free(pk);
    *pk = t;
    return CG_OK;
}

static void put_ksk_body(const cg_bfv_ctx *c, const cg_bfv_ksk *k, cg_buf *out)
{
    const size_t K = c->nq + c->np, w = K * c->n;
    cg_buf_put_u8(out, (uint8_t)k->dnum);
    cg_buf_put(out, k->seed, CG_SEED_BYTES);
    for (size_t j = 0; j < k->dnum; j++) put_rows(c, out, k->data + 2 * j * w, 0, K);
}

static cg_status get_ksk_body(const cg_bfv_ctx *c, cg_reader *r, cg_bfv_ksk *out, cg_error *err)
{
    const size_t K = c->nq + c->np, w = K * c->n;
    uint8_t dnum;
    CG_TRY(cg_read_u8(r, &dnum, "key digits", err));
    if (dnum != c->dnum)
        return cg_error_set(err, CG_ERR_FORMAT, "key has %u digits, parameters say %zu", dnum, c->dnum);
    cg_bfv_ksk t = {.dnum = dnum};
    t.data = cg_alloc(2 * dnum * w * sizeof(uint64_t));
    if (!t.data) return cg_error_set(err, CG_ERR_NOMEM, "key");
    cg_status st = cg_read_bytes(r, t.seed, CG_SEED_BYTES, "key seed", err);
    for (size_t j = 0; j < dnum && st == CG_OK; j++) {
        st = get_rows(c, r, t.data + 2 * j * w, 0, K, "key", err);
        if (st == CG_OK) {
            cg_prg ap;
            cg_prg_init(&ap, t.seed, j);
            cg_sample_uniform(&ap, c->mods, K, c->n, t.data + (2 * j + 1) * w);
        }
    }
    if (st != CG_OK) {
        cg_bfv_ksk_free(&t);
        return st;
    }
    *out = t;
    return CG_OK;
}

cg_status cg_bfv_ksk_serialize(const cg_bfv_ctx *c, const cg_bfv_ksk *k, cg_buf *out, cg_error *err)
{
    if (!k->data) return cg_error_set(err, CG_ERR_ARG, "empty key");
    bfv_put_header(c, out, CG_BFV_OBJ_KSK);
    put_ksk_body(c, k, out);
    return finish(out, err);
}

cg_status cg_bfv_ksk_deserialize(const cg_bfv_ctx *c, const uint8_t *p, size_t len, cg_bfv_ksk *k,
                                 cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_KSK, err));
    cg_bfv_ksk t = {0};
    CG_TRY(get_ksk_body(c, &r, &t, err));
    cg_status st = at_end(&r, err);
    if (st != CG_OK) {
        cg_bfv_ksk_free(&t);
        return st;
    }
    cg_bfv_ksk_free(k);
    *k = t;
    return CG_OK;
}

cg_status cg_bfv_galois_serialize(const cg_bfv_ctx *c, const cg_bfv_galois_keys *gk, cg_buf *out,
                                  cg_error *err)
{
    bfv_put_header(c, out, CG_BFV_OBJ_GALOIS);
    cg_buf_put_u32(out, (uint32_t)gk->count);
    for (size_t i = 0; i < gk->count; i++) {
        cg_buf_put_u32(out, gk->elts[i]);
        put_ksk_body(c, &gk->keys[i], out);
    }
    return finish(out, err);
}

cg_status cg_bfv_galois_deserialize(const cg_bfv_ctx *c, const uint8_t *p, size_t len,
                                    cg_bfv_galois_keys *gk, cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_GALOIS, err));
    uint32_t count;
    CG_TRY(cg_read_u32(&r, &count, "Galois key count", err));
    /* at most one key per Galois element */
    if (count > c->n) return cg_error_set(err, CG_ERR_FORMAT, "%u Galois keys", count);
    const size_t K = c->nq + c->np;
    size_t per_key = 4 + 1 + CG_SEED_BYTES;
    for (size_t i = 0; i < K; i++) per_key += c->dnum * cg_packed_size(c->n, c->mods[i].bits);
    if ((uint64_t)count * per_key > cg_reader_left(&r))
        return cg_error_set(err, CG_ERR_FORMAT, "Galois key set truncated");
    cg_bfv_galois_keys t = {0};
    t.elts = cg_calloc(count ? count : 1, sizeof(uint32_t));
    t.keys = cg_calloc(count ? count : 1, sizeof(cg_bfv_ksk));
    cg_status st = (t.elts && t.keys) ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "Galois keys");
    for (uint32_t i = 0; i < count && st == CG_OK; i++) {
        uint32_t g;
        st = cg_read_u32(&r, &g, "Galois element", err);
        if (st != CG_OK) break;
        bool dup = false;
        for (size_t j = 0; j < t.count; j++) dup |= t.elts[j] == g;
        if ((g & 1) == 0 || g >= 2 * c->n || g == 1 || dup) {
            st = cg_error_set(err, CG_ERR_FORMAT, "invalid or repeated Galois element %u", g);
            break;
        }
        st = get_ksk_body(c, &r, &t.keys[t.count], err);
        if (st == CG_OK) t.elts[t.count++] = g;
    }
    if (st == CG_OK) st = at_end(&r, err);
    if (st != CG_OK) {
        cg_bfv_galois_free(&t);
        return st;
    }
    cg_bfv_galois_free(gk);
    *gk = t;
    return CG_OK;
}

cg_status cg_bfv_plain_serialize(const cg_bfv_ctx *c, const cg_bfv_plain *pt, cg_buf *out, cg_error *err)
{
    if (!pt->coeffs || pt->n != c->n) return cg_error_set(err, CG_ERR_ARG, "bad plaintext");
    bfv_put_header(c, out, CG_BFV_OBJ_PLAIN);
    cg_buf_put_packed(out, pt->coeffs, c->n, c->tmod.bits);
    return finish(out, err);
}

cg_status cg_bfv_plain_deserialize(const cg_bfv_ctx *c, const uint8_t *p, size_t len, cg_bfv_plain *pt,
                                   cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_PLAIN, err));
    cg_bfv_plain t = {0};
    CG_TRY(cg_bfv_plain_alloc(c, &t, err));
    cg_status st = cg_read_packed(&r, t.coeffs, c->n, c->tmod.bits, "plaintext", err);
    for (size_t j = 0; j < c->n && st == CG_OK; j++)
        if (t.coeffs[j] >= c->t) st = cg_error_set(err, CG_ERR_FORMAT, "plaintext coefficient not below t");
    if (st == CG_OK) st = at_end(&r, err);
    if (st != CG_OK) {
        cg_bfv_plain_free(&t);
        return st;
    }
    cg_bfv_plain_free(pt);
    *pt = t;
    return CG_OK;
}

cg_status cg_bfv_sk_serialize(const cg_bfv_ctx *c, const cg_bfv_sk *sk, cg_buf *out, cg_error *err)
{
    if (!sk->s_coeff) return cg_error_set(err, CG_ERR_ARG, "empty secret key");
    uint64_t *v = cg_alloc(c->n * sizeof(uint64_t));
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "secret key");
    for (size_t j = 0; j < c->n; j++) v[j] = (uint64_t)(sk->s_coeff[j] + 1); /* {0,1,2} */
    bfv_put_header(c, out, CG_BFV_OBJ_SK);
    cg_buf_put_packed(out, v, c->n, 2);
    cg_free(v);
    return finish(out, err);
}

cg_status cg_bfv_sk_deserialize(const cg_bfv_ctx *c, const uint8_t *p, size_t len, cg_bfv_sk *sk,
                                cg_error *err)
{
    cg_reader r;
    cg_reader_init(&r, p, len);
    CG_TRY(bfv_get_header(c, &r, CG_BFV_OBJ_SK, err));
    const size_t K = c->nq + c->np;
    uint64_t *v = cg_alloc(c->n * sizeof(uint64_t));
    cg_bfv_sk t = {.s_coeff = cg_alloc(c->n), .s_ntt = cg_alloc(K * c->n * sizeof(uint64_t))};
    cg_status st = (v && t.s_coeff && t.s_ntt) ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "secret key");
    if (st == CG_OK) st = cg_read_packed(&r, v, c->n, 2, "secret key", err);
    for (size_t j = 0; j < c->n && st == CG_OK; j++) {
        if (v[j] > 2) st = cg_error_set(err, CG_ERR_FORMAT, "secret key coefficient out of range");
        else t.s_coeff[j] = (int8_t)((int)v[j] - 1);
    }
    if (st == CG_OK) st = at_end(&r, err);
    cg_free(v);
    if (st != CG_OK) {
        cg_bfv_sk_free(&t);
        return st;
    }
    cg_small_to_rns(c->mods, K, c->n, t.s_coeff, t.s_ntt);
    cg_poly_ntt(c->ntt, K, t.s_ntt, c->nthreads);
    cg_bfv_sk_free(sk);
    *sk = t;
    return CG_OK;
}
