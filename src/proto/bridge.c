/* The HE <-> share bridge and ciphertexts on the wire.
 *
 * t = 2^l equals the share ring, so a coefficient-encoded plaintext and a
 * share vector are the same n values: share -> HE is the client encrypting
 * its share and the server adding its own in the clear; HE -> share is the
 * server adding a uniform mask over all n coefficients (its share), with
 * noise flooding, and the client decrypting the rest. No modulus
 * conversion anywhere. */
#include <string.h>

#include "proto/proto_internal.h"

/* The flooding was sized for returned_max = gen_returned_cts ciphertexts
 * (gen_flood_init): the server refuses to return more, so a miscounted plan
 * cannot weaken the statistical argument silently. */
static cg_status count_returned(gen_sess *s, size_t n, cg_error *err)
{
    if (s->party != CG_SERVER) return CG_OK;
    s->returned += n;
    if (s->returned > s->returned_max)
        return cg_error_set(err, CG_ERR_INTERNAL, "%llu ciphertexts returned, the flooding counted %llu",
                            (unsigned long long)s->returned, (unsigned long long)s->returned_max);
    return CG_OK;
}

/* One message of n ciphertexts: u32 count, then u32 length + bytes each,
 * serialised straight into the session's buffer. */
cg_status gen_send_cts(gen_sess *s, const cg_bfv_ct *cts, size_t n, cg_error *err)
{
    CG_TRY(count_returned(s, n, err));
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    cg_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const size_t at = b->len;
        cg_buf_put_u32(b, 0);
        CG_TRY(cg_bfv_ct_serialize(s->he, &cts[i], b, err));
        if (b->failed) break;
        const uint32_t len = (uint32_t)(b->len - at - 4);
        for (int k = 0; k < 4; k++) b->data[at + k] = (uint8_t)(len >> (8 * k));
    }
    return cg_chan_send_buf(s->ch, b, err);
}

/* Returned ciphertexts in the extracted form: all of c1 and c0 only at the
 * positions keep marks (the client's take reads nothing else), low bits
 * dropped as far as the public noise estimate allows with a per-coefficient
 * failure of 2^-(2S - 40): the session returns m <= 2^(2(S - 40))
 * coefficients (gen_flood_bits), so all of them decrypt except with
 * probability 2^-40. */
cg_status gen_send_cts_at(gen_sess *s, const cg_bfv_ct *cts, size_t n, gen_keep_fn keep,
                          const void *ctx, cg_error *err)
{
    CG_TRY(count_returned(s, n, err));
    uint8_t *used = cg_calloc(s->N, 1);
    uint32_t *pos = cg_alloc(s->N * sizeof *pos);
    cg_status st = used && pos ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "extraction");
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    cg_buf_put_u32(b, (uint32_t)n);
    const unsigned fail = 2 * s->flood_bits - GEN_FLOOD_BITS;
    for (size_t i = 0; st == CG_OK && i < n && !b->failed; i++) {
        memset(used, 0, s->N);
        keep(s, ctx, i, used);
        size_t np = 0;
        for (size_t j = 0; j < s->N; j++)
            if (used[j]) pos[np++] = (uint32_t)j;
        const unsigned drop = cg_bfv_extract_drop_bits(s->he, &cts[i], fail);
        const size_t at = b->len;
        cg_buf_put_u32(b, 0);
        st = cg_bfv_ct_serialize_extract(s->he, &cts[i], pos, np, drop, b, err);
        const uint32_t len = (uint32_t)(b->len - at - 4);
        for (int k = 0; st == CG_OK && !b->failed && k < 4; k++) b->data[at + k] = (uint8_t)(len >> (8 * k));
    }
    cg_free(used);
    cg_free(pos);
    return st == CG_OK ? cg_chan_send_buf(s->ch, b, err) : st;
}

/* A received message holds at most max ciphertexts, each at most a size-2
 * ciphertext at the top level plus framing. */
static cg_status recv_list(gen_sess *s, size_t max, cg_reader *r, uint32_t *count, cg_error *err)
{
    const size_t per = 2 * cg_bfv_nq(s->he) * s->N * 8 + 256;
    cg_buf_reset(&s->msg);
    CG_TRY(cg_chan_recv_msg_buf(s->ch, &s->msg, 64 + max * per, err));
    cg_reader_init(r, s->msg.data, s->msg.len);
    CG_TRY(cg_read_u32(r, count, "ciphertext count", err));
    if (*count > max)
        return cg_error_set(err, CG_ERR_FORMAT, "%u ciphertexts where at most %zu fit", *count, max);
    return CG_OK;
}

/* Parses n ciphertexts and the end of the message; on error cts is empty. */
static cg_status parse_cts(gen_sess *s, cg_reader *r, cg_bfv_ct *cts, size_t n, cg_error *err)
{
    cg_status st = CG_OK;
    size_t i = 0;
    for (; st == CG_OK && i < n; i++) {
        uint32_t len;
        st = cg_read_u32(r, &len, "ciphertext length", err);
        if (st == CG_OK && len > cg_reader_left(r))
            st = cg_error_set(err, CG_ERR_FORMAT, "ciphertext %zu: %u bytes, %zu left", i, len,
                              cg_reader_left(r));
        /* only the client receives extracted ciphertexts */
        if (st == CG_OK && s->party == CG_CLIENT)
            st = cg_bfv_ct_deserialize_any(s->he, r->p + r->pos, len, &cts[i], err);
        else if (st == CG_OK)
            st = cg_bfv_ct_deserialize(s->he, r->p + r->pos, len, &cts[i], err);
        if (st == CG_OK) r->pos += len;
    }
    if (st == CG_OK && cg_reader_left(r) != 0)
        st = cg_error_set(err, CG_ERR_FORMAT, "trailing bytes after %zu ciphertexts", n);
    /* Everything the client sends is a fresh secret-key encryption (semi-
     * honest client): the server's estimate comes from that public fact,
     * never from the header's number, which the client could set to 0. */
    for (size_t k = 0; st == CG_OK && s->party == CG_SERVER && k < n; k++)
        cts[k].noise_log2 = cg_bfv_fresh_noise_estimate(s->he, false);
    if (st != CG_OK) gen_free_cts(cts, i);
    return st;
}

cg_status gen_recv_cts(gen_sess *s, cg_bfv_ct *cts, size_t n, cg_error *err)
{
    cg_reader r;
    uint32_t count;
    CG_TRY(recv_list(s, n, &r, &count, err));
    if (count != n)
        return cg_error_set(err, CG_ERR_FORMAT, "expected %zu ciphertexts, peer sent %u", n, count);
    return parse_cts(s, &r, cts, n, err);
}

cg_status gen_recv_cts_upto(gen_sess *s, cg_bfv_ct *cts, size_t max, size_t *n, cg_error *err)
{
    cg_reader r;
    uint32_t count;
    *n = 0;
    CG_TRY(recv_list(s, max, &r, &count, err));
    CG_TRY(parse_cts(s, &r, cts, count, err));
    *n = count;
    return CG_OK;
}

void gen_free_cts(cg_bfv_ct *cts, size_t n)
{
    for (size_t i = 0; cts && i < n; i++) cg_bfv_ct_free(&cts[i]);
}

cg_bfv_ct *gen_alloc_cts(size_t n) { return cg_calloc(n ? n : 1, sizeof(cg_bfv_ct)); }

cg_bfv_ct *gen_take_cts(gen_sess *s, size_t n)
{
    cg_bfv_ct *cts = gen_alloc_cts(n);
    for (size_t i = 0; cts && i < n && s->ct_stock_n > 0; i++) {
        cts[i] = s->ct_stock[--s->ct_stock_n];
        s->ct_stock[s->ct_stock_n] = (cg_bfv_ct){0};
    }
    return cts;
}

/* The stock grows up to STOCK_GROWN ciphertexts when a call gives back more
 * than it holds (a prefill chunk's linear layer: 336-384 inputs and outputs
 * for GPT-2 base), so the next layer reuses these buffers instead of
 * mapping fresh ones (a page fault per 4 KB); it holds at most what was in
 * use at once, which the working memory already counts. */
#define STOCK_GROWN (2 * GEN_CT_STOCK_MAX)

static void stock_reserve(gen_sess *s, size_t want)
{
    if (want > STOCK_GROWN) want = STOCK_GROWN;
    if (s->ct_stock && want <= s->ct_stock_cap) return;
    if (want < GEN_CT_STOCK_MAX) want = GEN_CT_STOCK_MAX;
    cg_bfv_ct *grown = cg_calloc(want, sizeof *grown);
    if (!grown) return; /* the old stock stays; what does not fit is freed */
    for (size_t i = 0; i < s->ct_stock_n; i++) grown[i] = s->ct_stock[i];
    cg_free(s->ct_stock); /* holds only headers: the buffers moved */
    s->ct_stock = grown;
    s->ct_stock_cap = want;
}

void gen_give_cts(gen_sess *s, cg_bfv_ct *cts, size_t n)
{
    if (!cts) return;
    stock_reserve(s, s->ct_stock_n + n);
    for (size_t i = 0; i < n; i++) {
        if (cts[i].data && s->ct_stock_n < s->ct_stock_cap)
            s->ct_stock[s->ct_stock_n++] = cts[i];
        else
            cg_bfv_ct_free(&cts[i]);
    }
    cg_free(cts);
}

void gen_stock_free(gen_sess *s)
{
    gen_free_cts(s->ct_stock, s->ct_stock_n);
    cg_free(s->ct_stock);
    s->ct_stock = NULL;
    s->ct_stock_n = s->ct_stock_cap = 0;
}

/* ---- Share -> HE ---------------------------------------------------------------- */

/* Scratch that one thread reuses for all its items of a batch (a plaintext
 * and a coefficient vector), instead of allocating both per ciphertext. */
typedef struct item_scratch {
    cg_bfv_plain pt;
    uint64_t *co;
} item_scratch;

typedef cg_status (*scratch_item_fn)(gen_sess *s, void *ctx, size_t i, item_scratch *sc,
                                     cg_error *err);

typedef struct scratch_job {
    gen_sess *s;
    scratch_item_fn fn;
    void *ctx;
} scratch_job;

static void scratch_range(void *arg, cg_error *errs, size_t begin, size_t end)
{
    scratch_job *j = arg;
    item_scratch sc = {0};
    cg_status st = cg_bfv_plain_alloc(j->s->he, &sc.pt, &errs[begin]);
    sc.co = st == CG_OK ? cg_alloc(j->s->N * sizeof *sc.co) : NULL;
    if (st == CG_OK && !sc.co) st = cg_error_set(&errs[begin], CG_ERR_NOMEM, "share layout");
    if (st != CG_OK) errs[begin].code = st;
    for (size_t i = begin; st == CG_OK && i < end; i++) {
        errs[i].code = j->fn(j->s, j->ctx, i, &sc, &errs[i]);
        st = errs[i].code;
    }
    cg_free(sc.co); /* both wipe: shares */
    cg_bfv_plain_free(&sc.pt);
}

/* gen_parallel with per-thread scratch: the same items, the same errors. */
static cg_status scratch_parallel(gen_sess *s, size_t n, scratch_item_fn fn, void *ctx,
                                  cg_error *err)
{
    scratch_job j = {s, fn, ctx};
    return gen_parallel_ranges(s, n, scratch_range, &j, err);
}

typedef struct to_he_job {
    gen_layout_fn layout;
    const void *ctx;
    cg_bfv_ct *cts;
    gen_scale_fn scale; /* client: packed encryptions at these scale bits, or NULL */
} to_he_job;

/* Item i's plaintext. Shares are below 2^l <= 2^48, so they read as
 * non-negative int64 (signed and unsigned versions of a type may alias),
 * and the encoder reduces mod t = 2^l: the same plaintext as the centred
 * values. */
static cg_status encode_item(gen_sess *s, const to_he_job *j, size_t i, item_scratch *sc,
                             cg_error *err)
{
    j->layout(s, j->ctx, i, sc->co);
    return cg_bfv_encode_coeff(s->he, (const int64_t *)sc->co, s->N, &sc->pt, err);
}

static cg_status encrypt_item(gen_sess *s, void *ctx, size_t i, item_scratch *sc, cg_error *err)
{
    const to_he_job *j = ctx;
    CG_TRY(encode_item(s, j, i, sc, err));
    if (j->scale) return cg_bfv_encrypt_sk_packed(s->he, &s->sk, &sc->pt, j->scale(j->ctx, i), &j->cts[i], err);
    return cg_bfv_encrypt_sk(s->he, &s->sk, &sc->pt, &j->cts[i], err);
}

static cg_status add_item(gen_sess *s, void *ctx, size_t i, item_scratch *sc, cg_error *err)
{
    const to_he_job *j = ctx;
    CG_TRY(encode_item(s, j, i, sc, err));
    return cg_bfv_add_plain(s->he, &j->cts[i], &sc->pt, err);
}

cg_status gen_shares_to_he(gen_sess *s, size_t n, gen_layout_fn layout, const void *ctx,
                           cg_bfv_ct *cts, cg_error *err)
{
    to_he_job j = {layout, ctx, cts, NULL};
    return scratch_parallel(s, n, s->party == CG_CLIENT ? encrypt_item : add_item, &j, err);
}

cg_status gen_encrypt_packed(gen_sess *s, size_t n, gen_layout_fn layout, gen_scale_fn scale,
                             const void *ctx, cg_bfv_ct *cts, cg_error *err)
{
    if (s->party != CG_CLIENT) return cg_error_set(err, CG_ERR_INTERNAL, "packed encryption on the server");
    to_he_job j = {layout, ctx, cts, scale};
    return scratch_parallel(s, n, encrypt_item, &j, err);
}

/* ---- HE -> share ---------------------------------------------------------------- */

typedef struct to_share_job {
    cg_bfv_ct *cts;
    gen_take_fn take;
    void *ctx;
} to_share_job;

/* The share is the plaintext's coefficients mod 2^l. */
static void take_share(gen_sess *s, const to_share_job *j, size_t i, cg_bfv_plain *pt)
{
    for (size_t k = 0; k < s->N; k++) pt->coeffs[k] &= s->mask;
    j->take(s, j->ctx, i, pt->coeffs);
}

static cg_status mask_item(gen_sess *s, void *ctx, size_t i, item_scratch *sc, cg_error *err)
{
    const to_share_job *j = ctx;
    CG_TRY(cg_bfv_mask_and_flood(s->he, &s->pk, &j->cts[i], s->flood_bits, &sc->pt, err));
    take_share(s, j, i, &sc->pt);
    return CG_OK;
}

static cg_status decrypt_item(gen_sess *s, void *ctx, size_t i, item_scratch *sc, cg_error *err)
{
    const to_share_job *j = ctx;
    CG_TRY(cg_bfv_decrypt(s->he, &s->sk, &j->cts[i], &sc->pt, err));
    take_share(s, j, i, &sc->pt);
    return CG_OK;
}

cg_status gen_he_to_shares(gen_sess *s, size_t n, cg_bfv_ct *cts, gen_take_fn take, void *ctx,
                           cg_error *err)
{
    to_share_job j = {cts, take, ctx};
    return scratch_parallel(s, n, s->party == CG_CLIENT ? decrypt_item : mask_item, &j, err);
}

/* gen_he_to_shares for results sent by gen_send_cts_at with the same keep:
 * the server floods only the coefficients keep marks (the rest of c0 never
 * leaves it; cg_bfv_mask_and_flood_at). */
typedef struct to_share_at_job {
    to_share_job j;
    gen_keep_fn keep;
} to_share_at_job;

static cg_status mask_at_item(gen_sess *s, void *ctx, size_t i, item_scratch *sc, cg_error *err)
{
    const to_share_at_job *a = ctx;
    uint8_t *used = (uint8_t *)sc->co; /* n bytes of the n-word scratch */
    memset(used, 0, s->N);
    a->keep(s, a->j.ctx, i, used);
    CG_TRY(cg_bfv_mask_and_flood_at(s->he, &s->pk, &a->j.cts[i], s->flood_bits, used, &sc->pt, err));
    take_share(s, &a->j, i, &sc->pt);
    return CG_OK;
}

static cg_status decrypt_at_item(gen_sess *s, void *ctx, size_t i, item_scratch *sc, cg_error *err)
{
    return decrypt_item(s, &((to_share_at_job *)ctx)->j, i, sc, err);
}

cg_status gen_he_to_shares_at(gen_sess *s, size_t n, cg_bfv_ct *cts, gen_keep_fn keep,
                              gen_take_fn take, void *ctx, cg_error *err)
{
    to_share_at_job a = {{cts, take, ctx}, keep};
    return scratch_parallel(s, n, s->party == CG_CLIENT ? decrypt_at_item : mask_at_item, &a, err);
}
