/* Attention over the encrypted KV cache, for `rows` new positions of one
 * layer, in five phases:
 *   1. append      k and v of the new positions go into the cache
 *   2. scores      encrypted queries times the K blocks -> shares of q.k_j
 *   3. refresh     cache blocks low on noise budget are re-encrypted
 *   4. softmax     on shares, scaled by 1/sqrt(d_head), causal row lengths
 *   5. values      encrypted probabilities times the V blocks -> shares of o
 * Each phase is a client half and a server half; both run every phase in
 * the same order, so the messages pair up. */
#include <string.h>

#include "proto/attn_mat.h"
#include "proto/kv_pack.h"

/* A score item: one (row, head, block) product. */
typedef struct score_item {
    size_t row, head, block;
} score_item;

typedef struct attn {
    size_t layer, pos0, rows, cols; /* cols = pos0 + rows: the longest row */
    size_t n_app, n_q, n_sc, n_refresh_max;
    size_t pair, n_rep; /* score items per reply (gen_kv_score_pair) and replies */
    size_t app_blk0, n_app_blk; /* split appends: the blocks the new rows touch */
    /* Split decode's packed probabilities (kv_split.h): pack > 0 when on;
     * n_pin inputs (ni per head) and n_out outputs (pack per head) of p.V */
    size_t pack, ni, n_pin, n_out;
    kv_pack kp[2]; /* packed client inputs (kv_pack.h): appends, queries */
    const uint64_t *qkv; /* rows x 3d */
    uint64_t *o;         /* rows x d */
    uint64_t *sc, *pr;   /* (row, head) x cols: scores, probabilities */
    size_t *row_len;     /* per (row, head): the causal length */
    score_item *items;   /* n_sc, in (row, head, block) order */
    size_t *first_item;  /* per (row, head): its first score item */
    /* Ciphertexts, one allocation: appends (row, head, kind), queries and
     * outputs (row, head), scores and probabilities (score items),
     * refreshes. */
    cg_bfv_ct *cts, *app, *qct, *oct, *sct, *pct, *rct;
    size_t n_cts;
    uint64_t *kept; /* the refresh round's shares */
    /* Split attention, server: its K or V share blocks as plaintexts (kept
     * in s->shares), (head, block) for blocks < nb. */
    const cg_bfv_plain_ntt **blk;
    kv_kind blk_kind;
    size_t nb;
    /* Split, several rows: the matrix path (attn_mat.h), when it returns
     * fewer ciphertexts; NULL: one row per ciphertext. */
    const mat_plan *mat;
} attn;

/* The ciphertexts go back to the session's stock with their buffers. */
static void attn_free(gen_sess *s, attn *a)
{
    cg_free(a->blk);
    gen_give_cts(s, a->cts, a->n_cts);
    cg_free(a->sc);
    cg_free(a->row_len);
    cg_free(a->items);
    cg_free(a->kept);
}

static cg_status attn_new(gen_sess *s, attn *a, size_t layer, size_t pos0, size_t rows,
                          const uint64_t *qkv, uint64_t *o, cg_error *err)
{
    const size_t H = s->H;
    *a = (attn){.layer = layer, .pos0 = pos0, .rows = rows, .cols = pos0 + rows, .qkv = qkv, .o = o};
    /* split: one append ciphertext per (head, block, kind) the new rows
     * touch, holding all their positions in that block (a prefill chunk's
     * K and V in a few ciphertexts); ctct: one per (row, head, kind), which
     * its refresh counting assumes */
    a->app_blk0 = kv_block_of(&s->kv, pos0);
    a->n_app_blk = rows ? kv_block_of(&s->kv, pos0 + rows - 1) - a->app_blk0 + 1 : 0;
    a->n_app = s->attn == CG_ATTN_SPLIT ? 2 * H * a->n_app_blk : 2 * rows * H;
    a->n_q = rows * H;
    for (size_t r = 0; r < rows; r++) a->n_sc += H * (kv_block_of(&s->kv, pos0 + r) + 1);
    const bool split = s->attn == CG_ATTN_SPLIT;
    a->n_refresh_max = split ? 0 : 2 * H * kv_blocks_for(&s->kv, a->cols);
    a->n_pin = a->n_sc, a->n_out = a->n_q;
    if (split && rows == 1) { /* decode: public, the same on both sides */
        const size_t nb = kv_block_of(&s->kv, pos0) + 1;
        a->pack = kv_split_pack(&s->kv, nb), a->ni = kv_split_prob_cts(&s->kv, nb);
        a->n_pin = H * a->ni, a->n_out = H * a->pack;
    }
    a->pair = gen_kv_score_pair(s, pos0, rows), a->n_rep = (a->n_sc + a->pair - 1) / a->pair;
    const size_t n_pk = gen_kv_pack_plan(s, pos0, rows, qkv, a->kp);
    a->n_cts = a->n_app + a->n_q + a->n_out + a->n_sc + a->n_pin + a->n_refresh_max + n_pk;
    a->cts = gen_take_cts(s, a->n_cts);
    a->sc = cg_calloc(2 * a->n_q * a->cols, sizeof *a->sc);
    a->row_len = cg_alloc(2 * a->n_q * sizeof *a->row_len);
    a->items = cg_alloc(a->n_sc * sizeof *a->items);
    if (!a->cts || !a->sc || !a->row_len || !a->items) {
        attn_free(s, a);
        return cg_error_set(err, CG_ERR_NOMEM, "attention");
    }
    a->nb = kv_blocks_for(&s->kv, a->cols), a->pr = a->sc + a->n_q * a->cols, a->first_item = a->row_len + a->n_q;
    a->app = a->cts, a->qct = a->app + a->n_app, a->oct = a->qct + a->n_q;
    a->sct = a->oct + a->n_out, a->pct = a->sct + a->n_sc, a->rct = a->pct + a->n_pin;
    gen_kv_pack_room(a->kp, a->rct + a->n_refresh_max, a->app, a->qct);
    size_t k = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t h = 0; h < H; h++) {
            a->row_len[r * H + h] = pos0 + r + 1;
            a->first_item[r * H + h] = k;
            for (size_t b = 0; b <= kv_block_of(&s->kv, pos0 + r); b++, k++)
                a->items[k] = (score_item){r, h, b};
        }
    return CG_OK;
}

/* ---- 1. Append ------------------------------------------------------------------ */

/* The first new position of append item i and the end of its positions:
 * split, item (head n_app_blk + block) 2 + kind covers the new rows inside
 * that block; ctct, item (row H + head) 2 + kind covers one row. */
static size_t app_head(const gen_sess *s, const attn *a, size_t i)
{
    return s->attn == CG_ATTN_SPLIT ? i / 2 / a->n_app_blk : (i / 2) % s->H;
}

static void app_positions(const gen_sess *s, const attn *a, size_t i, size_t *p0, size_t *p1)
{
    if (s->attn != CG_ATTN_SPLIT) {
        *p0 = a->pos0 + i / (2 * s->H);
        *p1 = *p0 + 1;
        return;
    }
    const size_t B = s->kv.block, blk = a->app_blk0 + (i / 2) % a->n_app_blk;
    *p0 = blk * B > a->pos0 ? blk * B : a->pos0;
    *p1 = (blk + 1) * B < a->cols ? (blk + 1) * B : a->cols;
}

/* Append item i in its cache layout, zero elsewhere. */
static void append_layout(const gen_sess *s, const void *ctx, size_t i, uint64_t *co)
{
    const attn *a = ctx;
    const size_t h = app_head(s, a, i), kind = i % 2;
    size_t p0, p1;
    app_positions(s, a, i, &p0, &p1);
    memset(co, 0, s->N * sizeof *co);
    for (size_t pos = p0; pos < p1; pos++) {
        const uint64_t *src = a->qkv + (pos - a->pos0) * 3 * s->d + (kind + 1) * s->d + h * s->dh;
        if (kind == KV_KEY) kv_place_key(&s->kv, pos, src, co);
        else kv_place_value(&s->kv, pos, src, co);
    }
}

/* Split: this party keeps its own shares of the new k and v in the clear. */
static cg_status keep_shares(gen_sess *s, attn *a, cg_error *err)
{
    return s->attn != CG_ATTN_SPLIT ? CG_OK : kv_shares_put_rows(&s->shares, a->layer, a->pos0, a->rows, a->qkv, err);
}

static cg_status to_ntt_app(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    attn *a = ctx;
    return cg_bfv_to_ntt(s->he, &a->app[i], err);
}

static cg_status append_client(gen_sess *s, attn *a, cg_error *err)
{
    CG_TRY(keep_shares(s, a, err));
    if (a->kp[0].n_pk) return gen_kv_pack_send(s, &a->kp[0], err);
    CG_TRY(gen_shares_to_he(s, a->n_app, append_layout, a, a->app, err));
    return gen_send_cts(s, a->app, a->n_app, err);
}

/* The appended ciphertext is zero outside its position's coefficients, so
 * adding it into the block is the append. Split: the cache holds the
 * client's share only (in NTT form, for the ct x pt products), the server's
 * stays in the clear. */
static cg_status append_server(gen_sess *s, attn *a, cg_error *err)
{
    if (a->kp[0].n_pk) CG_TRY(gen_kv_pack_recv(s, &a->kp[0], err)); /* leaves: NTT already */
    else CG_TRY(gen_recv_cts(s, a->app, a->n_app, err));
    if (s->attn == CG_ATTN_SPLIT) {
        CG_TRY(keep_shares(s, a, err));
        CG_TRY(gen_parallel(s, a->n_app, to_ntt_app, a, err));
    } else {
        CG_TRY(gen_shares_to_he(s, a->n_app, append_layout, a, a->app, err));
    }
    for (size_t i = 0; i < a->n_app; i++) {
        size_t p0, p1;
        app_positions(s, a, i, &p0, &p1);
        CG_TRY(kv_cache_append(&s->cache, s->he, (kv_kind)(i % 2), a->layer, app_head(s, a, i), p0,
                               &a->app[i], err));
    }
    return CG_OK;
}

/* ---- 2. Scores ------------------------------------------------------------------ */

/* Item i = row H + head. */
static void query_layout(const gen_sess *s, const void *ctx, size_t i, uint64_t *co)
{
    const attn *a = ctx;
    const size_t r = i / s->H, h = i % s->H;
    kv_layout_query(&s->kv, a->qkv + r * 3 * s->d + h * s->dh, co);
}

/* Reply k: score items k pair + u, u < pair, the u-th from coefficient u T/2. */
static void take_scores(const gen_sess *s, void *ctx, size_t k, const uint64_t *share)
{
    attn *a = ctx;
    for (size_t u = 0, i = k * a->pair; u < a->pair && i < a->n_sc; u++, i++) {
        const size_t rh = a->items[i].row * s->H + a->items[i].head;
        kv_take_scores(&s->kv, a->items[i].block, a->row_len[rh], share + u * s->kv.stride / 2, a->sc + rh * a->cols);
    }
}

/* The coefficients take_scores reads (the server sends c0 only there). */
static void keep_scores(const gen_sess *s, const void *ctx, size_t k, uint8_t *used)
{
    const attn *a = ctx;
    for (size_t u = 0, i = k * a->pair; u < a->pair && i < a->n_sc; u++, i++) {
        const size_t len = a->row_len[a->items[i].row * s->H + a->items[i].head], b = a->items[i].block;
        for (size_t j = 0; j < s->kv.block && b * s->kv.block + j < len; j++)
            used[kv_score_coeff(&s->kv, j) + u * s->kv.stride / 2] = 1;
    }
}

static cg_status score_product_item(gen_sess *s, void *ctx, size_t k, cg_error *err)
{
    attn *a = ctx;
    const score_item *it = &a->items[k];
    return kv_cache_scores(&s->cache, s->he, &s->rk, a->layer, it->head, it->block,
                           &a->qct[it->row * s->H + it->head], &a->sct[k], err);
}

static cg_status scores_client(gen_sess *s, attn *a, cg_error *err)
{
    if (a->kp[1].n_pk) CG_TRY(gen_kv_pack_send(s, &a->kp[1], err));
    else if (!a->kp[1].merged) CG_TRY(gen_shares_to_he(s, a->n_q, query_layout, a, a->qct, err));
    if (!a->kp[1].n_pk && !a->kp[1].merged) CG_TRY(gen_send_cts(s, a->qct, a->n_q, err));
    CG_TRY(gen_recv_cts(s, a->sct, a->n_rep, err));
    return gen_he_to_shares(s, a->n_rep, a->sct, take_scores, a, err);
}

static cg_status scores_server(gen_sess *s, attn *a, cg_error *err)
{
    CG_TRY(gen_recv_cts(s, a->qct, a->n_q, err));
    CG_TRY(gen_shares_to_he(s, a->n_q, query_layout, a, a->qct, err));
    CG_TRY(gen_parallel(s, a->n_sc, score_product_item, a, err));
    CG_TRY(gen_he_to_shares(s, a->n_sc, a->sct, take_scores, a, err));
    return gen_send_cts_at(s, a->sct, a->n_sc, keep_scores, a, err);
}

/* ---- 3. Refresh ----------------------------------------------------------------- */

/* The refresh round's shares, n coefficients per ciphertext: the client's
 * decryptions, or the server's masks. */
static void keep_share(const gen_sess *s, void *ctx, size_t i, const uint64_t *share)
{
    attn *a = ctx;
    memcpy(a->kept + i * s->N, share, s->N * sizeof *share);
}

static void kept_layout(const gen_sess *s, const void *ctx, size_t i, uint64_t *co)
{
    const attn *a = ctx;
    memcpy(co, a->kept + i * s->N, s->N * sizeof *co);
}

static cg_status keep_room(const gen_sess *s, attn *a, size_t n, cg_error *err)
{
    a->kept = cg_alloc((n ? n : 1) * s->N * sizeof *a->kept);
    return a->kept ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "refresh");
}

/* Client: the masked cache ciphertexts decrypted and encrypted afresh. */
static cg_status refresh_client(gen_sess *s, attn *a, cg_error *err)
{
    size_t n;
    CG_TRY(gen_recv_cts_upto(s, a->rct, a->n_refresh_max, &n, err));
    CG_TRY(keep_room(s, a, n, err));
    CG_TRY(gen_he_to_shares(s, n, a->rct, keep_share, a, err));
    gen_free_cts(a->rct, n);
    CG_TRY(gen_shares_to_he(s, n, kept_layout, a, a->rct, err));
    s->rep.refreshes += (unsigned)n;
    return gen_send_cts(s, a->rct, n, err);
}

/* Server: the due blocks go out masked and flooded (the masks stay here),
 * come back as fresh encryptions of the masked values, and get their masks
 * added back. */
static cg_status refresh_server(gen_sess *s, attn *a, cg_error *err)
{
    kv_ref *due = cg_alloc((a->n_refresh_max ? a->n_refresh_max : 1) * sizeof *due);
    if (!due) return cg_error_set(err, CG_ERR_NOMEM, "refresh");
    const size_t n = kv_cache_due(&s->cache, s->he, a->layer, kv_blocks_for(&s->kv, a->cols),
                                  s->req.refresh_every,
                                  GEN_REFRESH_BUDGET + s->flood_bits - GEN_FLOOD_BITS, due, a->n_refresh_max);
    cg_status st = keep_room(s, a, n, err);
    for (size_t i = 0; st == CG_OK && i < n; i++)
        st = cg_bfv_ct_copy(s->he, &a->rct[i], kv_cache_at(&s->cache, due[i]), err);
    if (st == CG_OK) st = gen_he_to_shares(s, n, a->rct, keep_share, a, err);
    if (st == CG_OK) st = gen_send_cts(s, a->rct, n, err);
    gen_free_cts(a->rct, n);
    if (st == CG_OK) st = gen_recv_cts(s, a->rct, n, err);
    if (st == CG_OK) st = gen_shares_to_he(s, n, kept_layout, a, a->rct, err);
    for (size_t i = 0; st == CG_OK && i < n; i++) kv_cache_replace(&s->cache, due[i], &a->rct[i]);
    if (st == CG_OK) s->rep.refreshes += (unsigned)n;
    cg_free(due);
    return st;
}

/* ---- 4. Softmax ----------------------------------------------------------------- */

/* Scores at scale 2s to scale s times 1/sqrt(d_head), by the steps
 * cg_fixed_scale_scores takes in the clear. */
static cg_status scale_scores(gen_sess *s, size_t n, uint64_t *sc, cg_error *err)
{
    const cg_fixed_score_scale k = cg_fixed_score_scaling(s->fx, s->score_shift, s->score_mul);
    CG_TRY(gen_trunc(s, n, sc, k.first_shift, err));
    if (k.mul == 0) return CG_OK;
    cg_mpc_mul_public(s->mpc, s->l, n, sc, (uint64_t)k.mul, sc);
    return gen_trunc(s, n, sc, k.second_shift, err);
}

static cg_status softmax(gen_sess *s, attn *a, cg_error *err)
{
    CG_TRY(scale_scores(s, a->n_q * a->cols, a->sc, err));
    return cg_mpc_softmax(s->mpc, s->fx.act, a->n_q, a->cols, a->row_len, a->sc, a->pr, err);
}

/* ---- 5. Values -------------------------------------------------------------------- */

/* Score item k's block of its row's probabilities. */
static void probs_layout(const gen_sess *s, const void *ctx, size_t k, uint64_t *co)
{
    const attn *a = ctx;
    const score_item *it = &a->items[k];
    const size_t rh = it->row * s->H + it->head;
    kv_layout_probs(&s->kv, it->block, a->pr + rh * a->cols, a->row_len[rh], co);
}

/* Item i = row H + head: the head's output dimensions of the row. */
static void take_output(const gen_sess *s, void *ctx, size_t i, const uint64_t *share)
{
    attn *a = ctx;
    const size_t r = i / s->H, h = i % s->H;
    kv_take_output(&s->kv, share, a->o + r * s->d + h * s->dh);
}

static void keep_output(const gen_sess *s, const void *ctx, size_t i, uint8_t *used)
{
    (void)ctx;
    (void)i;
    for (size_t x = 0; x < s->dh; x++) used[kv_output_coeff(&s->kv, x)] = 1;
}

static cg_status output_product_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    attn *a = ctx;
    const size_t r = i / s->H, h = i % s->H;
    return kv_cache_apply_probs(&s->cache, s->he, &s->rk, a->layer, h,
                                kv_block_of(&s->kv, a->pos0 + r) + 1, &a->pct[a->first_item[i]],
                                &a->oct[i], err);
}

/* o = sum_j p_j v_j comes at scale 2s. */
static cg_status to_scale_s(gen_sess *s, attn *a, cg_error *err)
{
    return gen_trunc(s, a->rows * s->d, a->o, s->fx.act.frac_bits, err);
}

static cg_status values_client(gen_sess *s, attn *a, cg_error *err)
{
    CG_TRY(gen_shares_to_he(s, a->n_sc, probs_layout, a, a->pct, err));
    CG_TRY(gen_send_cts(s, a->pct, a->n_sc, err));
    CG_TRY(gen_recv_cts(s, a->oct, a->n_q, err));
    CG_TRY(gen_he_to_shares(s, a->n_q, a->oct, take_output, a, err));
    return to_scale_s(s, a, err);
}

static cg_status values_server(gen_sess *s, attn *a, cg_error *err)
{
    CG_TRY(gen_recv_cts(s, a->pct, a->n_sc, err));
    CG_TRY(gen_shares_to_he(s, a->n_sc, probs_layout, a, a->pct, err));
    CG_TRY(gen_parallel(s, a->n_q, output_product_item, a, err));
    CG_TRY(gen_he_to_shares(s, a->n_q, a->oct, take_output, a, err));
    CG_TRY(gen_send_cts_at(s, a->oct, a->n_q, keep_output, a, err));
    return to_scale_s(s, a, err);
}

/* ---- Split attention (kv_split.h): scores and values with ct x pt only ---- */

/* Server items run through gen_parallel_kv: one kv_scratch per thread, so
 * that a step's encodings and products reuse buffers instead of allocating
 * per item. */

/* Item (head, block): the server's share block as a plaintext, kept across
 * steps (kv_split_block_plain); the kind is a->blk_kind. */
static cg_status block_item(gen_sess *s, void *ctx, size_t i, kv_scratch *sc, cg_error *err)
{
    attn *a = ctx;
    return kv_split_block_plain(&s->shares, s->he, s->l, a->blk_kind, a->layer, i / a->nb,
                                i % a->nb, sc, &a->blk[i], err);
}

static cg_status encode_blocks(gen_sess *s, attn *a, kv_kind kind, cg_error *err)
{
    if (!a->blk) {
        a->blk = cg_calloc(s->H * a->nb, sizeof *a->blk);
        if (!a->blk) return cg_error_set(err, CG_ERR_NOMEM, "split attention");
    }
    a->blk_kind = kind;
    return gen_parallel_kv(s, s->H * a->nb, a->nb, block_item, a, err);
}

/* Item rh = row H + head: Enc(q_c) x K_s blocks + Enc(K_c blocks) x q_s. */
static cg_status split_score_item(gen_sess *s, void *ctx, size_t rh, kv_scratch *sc, cg_error *err)
{
    attn *a = ctx;
    const size_t r = rh / s->H, h = rh % s->H, nb = kv_block_of(&s->kv, a->pos0 + r) + 1;
    CG_TRY(cg_bfv_to_ntt(s->he, &a->qct[rh], err));
    kv_layout_query(&s->kv, a->qkv + r * 3 * s->d + h * s->dh, sc->co);
    CG_TRY(kv_split_encode(s->he, s->l, sc->co, &sc->pt, &sc->ntt[0], err));
    for (size_t b = 0; b < nb; b++)
        CG_TRY(kv_split_scores(&s->cache, s->he, a->layer, h, b, &a->qct[rh], &sc->ntt[0],
                               a->blk[h * a->nb + b], &a->sct[a->first_item[rh] + b], err));
    return CG_OK;
}

/* Both parties: their local term q_x . K_x added to their score shares. */
static void split_local_scores(gen_sess *s, attn *a)
{
    for (size_t rh = 0; rh < a->n_q; rh++) {
        const size_t r = rh / s->H, h = rh % s->H;
        kv_split_local_scores(&s->shares, a->layer, h, a->qkv + r * 3 * s->d + h * s->dh,
                              a->row_len[rh], s->mask, a->sc + rh * a->cols);
    }
}

static cg_status split_scores_client(gen_sess *s, attn *a, cg_error *err)
{
    CG_TRY(scores_client(s, a, err));
    split_local_scores(s, a);
    return CG_OK;
}

static cg_status split_scores_server(gen_sess *s, attn *a, cg_error *err)
{
    /* its plaintexts first: they do not wait for the client */
    CG_TRY(encode_blocks(s, a, KV_KEY, err));
    if (a->kp[1].n_pk) CG_TRY(gen_kv_pack_recv(s, &a->kp[1], err));
    else if (!a->kp[1].merged) CG_TRY(gen_recv_cts(s, a->qct, a->n_q, err));
    CG_TRY(gen_parallel_kv(s, a->n_q, a->nb, split_score_item, a, err));
    if (a->pair > 1) CG_TRY(gen_kv_pair_scores(s, a->sct, a->n_sc, err));
    CG_TRY(gen_he_to_shares_at(s, a->n_rep, a->sct, keep_scores, take_scores, a, err));
    split_local_scores(s, a);
    return gen_send_cts_at(s, a->sct, a->n_rep, keep_scores, a, err);
}

/* Item rh: sum over blocks of Enc(p_c) x V_s + Enc(V_c) x p_s. */
static cg_status split_output_item(gen_sess *s, void *ctx, size_t rh, kv_scratch *sc, cg_error *err)
{
    attn *a = ctx;
    const size_t r = rh / s->H, h = rh % s->H, nb = kv_block_of(&s->kv, a->pos0 + r) + 1;
    const size_t first = a->first_item[rh];
    for (size_t b = 0; b < nb; b++) {
        CG_TRY(cg_bfv_to_ntt(s->he, &a->pct[first + b], err));
        kv_layout_probs(&s->kv, b, a->pr + rh * a->cols, a->row_len[rh], sc->co);
        CG_TRY(kv_split_encode(s->he, s->l, sc->co, &sc->pt, &sc->ntt[b], err));
    }
    return kv_split_apply_probs(&s->cache, s->he, a->layer, h, nb, &a->pct[first], sc->ntt,
                                &a->blk[h * a->nb], sc, &a->oct[rh], err);
}

/* Both parties: their local term p_x . V_x added to their output shares. */
static void split_local_output(gen_sess *s, attn *a)
{
    for (size_t rh = 0; rh < a->n_q; rh++) {
        const size_t r = rh / s->H, h = rh % s->H;
        kv_split_local_output(&s->shares, a->layer, h, a->pr + rh * a->cols, a->row_len[rh],
                              s->mask, a->o + r * s->d + h * s->dh);
    }
}

/* Packed (decode): input k = head ni + group, output k = head pack + m. */
static void packed_probs_layout(const gen_sess *s, const void *ctx, size_t k, uint64_t *co)
{
    const attn *a = ctx;
    const size_t rh = k / a->ni;
    kv_split_layout_packed(&s->kv, a->pack, k % a->ni, a->pr + rh * a->cols, a->row_len[rh], co);
}

static void packed_take_output(const gen_sess *s, void *ctx, size_t k, const uint64_t *share)
{
    attn *a = ctx;
    const size_t rh = k / a->pack, r = rh / s->H, h = rh % s->H;
    kv_split_take_packed(&s->kv, a->pack, k % a->pack, share, a->o + r * s->d + h * s->dh);
}

static void packed_keep_output(const gen_sess *s, const void *ctx, size_t k, uint8_t *used)
{
    const attn *a = ctx;
    kv_split_keep_packed(&s->kv, a->pack, k % a->pack, used);
}

/* Item rh: its pack outputs (kv_split_packed_row). */
static cg_status packed_output_item(gen_sess *s, void *ctx, size_t rh, kv_scratch *sc, cg_error *err)
{
    attn *a = ctx;
    return kv_split_packed_row(&s->cache, &s->shares, s->he, s->l, a->layer, rh % s->H,
                               a->row_len[rh], a->pr + rh * a->cols, &a->pct[rh * a->ni], sc,
                               &a->oct[rh * a->pack], err);
}

static cg_status split_values_client(gen_sess *s, attn *a, cg_error *err)
{
    const bool pk = a->pack != 0;
    CG_TRY(gen_shares_to_he(s, a->n_pin, pk ? packed_probs_layout : probs_layout, a, a->pct, err));
    CG_TRY(gen_send_cts(s, a->pct, a->n_pin, err));
    CG_TRY(gen_recv_cts(s, a->oct, a->n_out, err));
    CG_TRY(gen_he_to_shares_at(s, a->n_out, a->oct, pk ? packed_keep_output : keep_output,
                               pk ? packed_take_output : take_output, a, err));
    split_local_output(s, a);
    return to_scale_s(s, a, err);
}

static cg_status split_values_server(gen_sess *s, attn *a, cg_error *err)
{
    const bool pk = a->pack != 0;
    /* its block plaintexts first: they do not wait for the client (packed:
     * its W layouts change with every append, made per item) */
    if (!pk) CG_TRY(encode_blocks(s, a, KV_VALUE, err));
    CG_TRY(gen_recv_cts(s, a->pct, a->n_pin, err));
    if (pk) CG_TRY(gen_parallel_kv(s, a->n_q, a->nb + a->ni, packed_output_item, a, err));
    else CG_TRY(gen_parallel_kv(s, a->n_q, a->nb, split_output_item, a, err));
    CG_TRY(gen_he_to_shares_at(s, a->n_out, a->oct, pk ? packed_keep_output : keep_output,
                               pk ? packed_take_output : take_output, a, err));
    split_local_output(s, a);
    CG_TRY(gen_send_cts_at(s, a->oct, a->n_out, pk ? packed_keep_output : keep_output, a, err));
    return to_scale_s(s, a, err);
}

/* ---- Split, several rows per ciphertext (attn_mat.h) ---------------------- */

static mat_io mat_io_of(const attn *a)
{
    return (mat_io){.layer = a->layer, .pos0 = a->pos0, .rows = a->rows, .cols = a->cols,
                    .qkv = a->qkv, .row_len = a->row_len, .sc = a->sc, .pr = a->pr, .o = a->o};
}

static cg_status mat_scores_half(gen_sess *s, attn *a, cg_error *err)
{
    const mat_io io = mat_io_of(a);
    CG_TRY(mat_scores(s, &io, a->mat, err));
    split_local_scores(s, a);
    return CG_OK;
}

static cg_status mat_values_half(gen_sess *s, attn *a, cg_error *err)
{
    const mat_io io = mat_io_of(a);
    CG_TRY(a->mat ? mat_values(s, &io, a->mat, err) : gen_kv_pack_values(s, &io, err));
    split_local_output(s, a);
    return to_scale_s(s, a, err);
}

/* ---- The five phases -------------------------------------------------------------- */

typedef cg_status (*attn_half)(gen_sess *s, attn *a, cg_error *err);

static cg_status phase(gen_sess *s, attn *a, cg_gen_part part, attn_half client, attn_half server,
                       cg_error *err)
{
    gen_part_begin(s, part);
    cg_status st = s->party == CG_CLIENT ? client(s, a, err) : server(s, a, err);
    gen_part_end(s);
    return st;
}

cg_status gen_attention(gen_sess *s, size_t layer, size_t pos0, size_t rows, const uint64_t *qkv,
                        uint64_t *o, cg_error *err)
{
    attn a;
    CG_TRY(attn_new(s, &a, layer, pos0, rows, qkv, o, err));
    const bool split = s->attn == CG_ATTN_SPLIT;
    /* public: the same choice on both sides */
    mat_plan pl;
    if (split && mat_plan_init(s, pos0, rows, a.n_sc / s->H + rows, &pl)) a.mat = &pl;
    cg_status st = phase(s, &a, CG_PART_KV_APPEND, append_client, append_server, err);
    if (st == CG_OK && a.mat) st = phase(s, &a, CG_PART_QK, mat_scores_half, mat_scores_half, err);
    else if (st == CG_OK)
        st = phase(s, &a, CG_PART_QK, split ? split_scores_client : scores_client,
                   split ? split_scores_server : scores_server, err);
    /* split: the cache only ever gets additions of fresh encryptions and is
     * never multiplied by a ciphertext, so it needs no refresh */
    if (st == CG_OK && !split)
        st = phase(s, &a, CG_PART_REFRESH, refresh_client, refresh_server, err);
    if (st == CG_OK) st = phase(s, &a, CG_PART_SOFTMAX, softmax, softmax, err);
    if (st == CG_OK && (a.mat || a.kp[0].n_pk)) st = phase(s, &a, CG_PART_SV, mat_values_half, mat_values_half, err);
    else if (st == CG_OK)
        st = phase(s, &a, CG_PART_SV, split ? split_values_client : values_client,
                   split ? split_values_server : values_server, err);
    if (a.mat) mat_plan_free(&pl);
    attn_free(s, &a);
    return st;
}
