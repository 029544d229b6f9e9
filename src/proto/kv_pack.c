/* Split decode's packed client inputs (kv_pack.h). */
#include <string.h>

#include "proto/kv_pack.h"

/* The packed (not dense) plans' levels: keys every packed session has, and
 * the leaf noise test_kv_strided bounds; dense sessions' extra level unused. */
size_t gen_kv_pack_chunks(const gen_sess *s)
{
    const size_t keys = (size_t)1 << gen_pack_levels(&s->cfg, s->N, false);
    return keys < s->kv.stride ? keys : s->kv.stride;
}

size_t gen_kv_pack_plan(const gen_sess *s, size_t pos0, size_t rows, const uint64_t *qkv,
                        kv_pack p[2])
{
    for (int k = 0; k < 2; k++) {
        p[k] = (kv_pack){.kind = (kv_pack_kind)k, .qkv = qkv, .pos = pos0};
        if (!s->kv.stride || s->attn != CG_ATTN_SPLIT || rows != 1) continue;
        p[k].chunks = k == KV_PACK_APPEND ? 2 * s->H : s->H;
        p[k].G = gen_kv_pack_chunks(s);
        p[k].n_pk = (p[k].chunks + p[k].G - 1) / p[k].G;
    }
    if (p[0].n_pk == 1 && p[0].chunks + p[1].chunks <= p[0].G) {
        p[0].queries = p[1].chunks, p[0].chunks += p[1].chunks;
        p[1].n_pk = 0, p[1].merged = true;
    }
    return p[0].n_pk + p[1].n_pk;
}

void gen_kv_pack_room(kv_pack p[2], cg_bfv_ct *pk, cg_bfv_ct *app, cg_bfv_ct *qct)
{
    p[0].pk = pk, p[0].leaves = app; /* merged: its query leaves land in qct = app + 2 H */
    p[1].pk = pk + p[0].n_pk, p[1].leaves = qct;
}

/* Ciphertext q holds chunks [q G, q G + count). */
static size_t pack_count(const kv_pack *p, size_t q)
{
    return p->chunks - q * p->G < p->G ? p->chunks - q * p->G : p->G;
}

static void pack_layout(const gen_sess *s, const void *ctx, size_t q, uint64_t *co)
{
    const kv_pack *p = ctx;
    memset(co, 0, s->N * sizeof *co);
    for (size_t t = 0; t < pack_count(p, q); t++) {
        const size_t c = q * p->G + t;
        const size_t apps = p->chunks - p->queries; /* appends' chunks (not merged: all) */
        if (p->kind == KV_PACK_QUERY) kv_pack_query(&s->kv, t, p->qkv + c * s->dh, co);
        else if (p->kind == KV_PACK_APPEND && c >= apps) kv_pack_query(&s->kv, t, p->qkv + (c - apps) * s->dh, co);
        else if (p->kind == KV_PACK_APPEND) kv_pack_leaf(&s->kv, t, p->qkv + (c % 2 + 1) * s->d + c / 2 * s->dh, co);
        else kv_pack_probs(&s->kv, t, c % p->groups, p->io->pr + c / p->groups * p->io->cols,
                           p->io->row_len[c / p->groups], co);
    }
}

static unsigned pack_scale(const void *ctx, size_t q)
{
    return cg_bfv_expand_levels(pack_count(ctx, q));
}

cg_status gen_kv_pack_send(gen_sess *s, kv_pack *p, cg_error *err)
{
    CG_TRY(gen_encrypt_packed(s, p->n_pk, pack_layout, pack_scale, p, p->pk, err));
    return gen_send_cts(s, p->pk, p->n_pk, err);
}

/* Leaf c (head c / 2, kind c % 2) to the new position's place in its block. */
static cg_status shift_leaf(gen_sess *s, void *ctx, size_t c, cg_error *err)
{
    kv_pack *p = ctx;
    return cg_bfv_mul_monomial(s->he, &p->leaves[c], kv_leaf_shift(&s->kv, (int)(c % 2), p->pos), err);
}

cg_status gen_kv_pack_recv(gen_sess *s, kv_pack *p, cg_error *err)
{
    CG_TRY(gen_recv_cts(s, p->pk, p->n_pk, err));
    for (size_t q = 0; q < p->n_pk; q++)
        CG_TRY(cg_bfv_expand(s->he, &s->pack_gk, &p->pk[q], pack_count(p, q), &p->leaves[q * p->G], err));
    /* merged queries (the last chunks) are their layout already */
    return p->kind == KV_PACK_APPEND ? gen_parallel(s, p->chunks - p->queries, shift_leaf, p, err) : CG_OK;
}

static cg_status pair_item(gen_sess *s, void *ctx, size_t k, cg_error *err)
{
    cg_bfv_ct *sct = ctx;
    CG_TRY(cg_bfv_mul_monomial(s->he, &sct[2 * k + 1], s->kv.stride / 2, err));
    return cg_bfv_add_inplace(s->he, &sct[2 * k], &sct[2 * k + 1], err);
}

cg_status gen_kv_pair_scores(gen_sess *s, cg_bfv_ct *sct, size_t n, cg_error *err)
{
    CG_TRY(gen_parallel(s, n / 2, pair_item, sct, err));
    for (size_t k = 1; k < (n + 1) / 2; k++) { /* reply k to sct[k]: swap, buffers stay owned */
        const cg_bfv_ct t = sct[k];
        sct[k] = sct[2 * k], sct[2 * k] = t;
    }
    return CG_OK;
}

/* ---- p.V with expanded probabilities -------------------------------------------- */

typedef struct values_job {
    kv_pack kp;
    cg_bfv_ct *outs; /* 2 per head: the leaves' term, the cache's */
    uint64_t *o2;    /* the cache terms' shares (added to io->o after) */
    size_t pair;     /* heads per reply (gen_kv_score_pair) */
} values_job;

/* Paired (len <= T/2, one block and one group), head 2p + 1's terms moved
 * so that neither reads on the other's: the leaves' term (o[i] at x^i,
 * others at i + d_head m, |m| < len) by x^(n/2) to n/2 + i, the cache's
 * (o[i] at i T + T - 1, others at i T + T - 1 + [1 - len, len - 1]) by
 * x^(-T/2) to residue T/2 - 1 mod T, which its partner leaves free. */
static size_t values_shift(const gen_sess *s, size_t t)
{
    return t ? 2 * s->N - s->kv.stride / 2 : s->N / 2;
}

/* Item k = 2 p + t: kind t (0 leaves, 1 cache) of heads p pair + u. */
static size_t values_coeff(const gen_sess *s, size_t t, size_t u, size_t i)
{
    return t ? kv_output_coeff(&s->kv, i) - u * s->kv.stride / 2 : i + u * s->N / 2;
}

static void values_take(const gen_sess *s, void *ctx, size_t k, const uint64_t *share)
{
    values_job *j = ctx;
    const size_t t = k % 2;
    for (size_t u = 0, h = k / 2 * j->pair; u < j->pair && h < s->H; u++, h++) {
        uint64_t *o = t ? j->o2 + h * s->dh : j->kp.io->o + h * s->dh;
        for (size_t i = 0; i < s->dh; i++) o[i] = share[values_coeff(s, t, u, i)];
    }
}

static void values_keep(const gen_sess *s, const void *ctx, size_t k, uint8_t *used)
{
    const values_job *j = ctx;
    for (size_t u = 0, h = k / 2 * j->pair; u < j->pair && h < s->H; u++, h++)
        for (size_t i = 0; i < s->dh; i++) used[values_coeff(s, k % 2, u, i)] = 1;
}

/* Reply k = 2 p + t: outs[4 p + t] + outs[4 p + 2 + t] moved (values_shift). */
static cg_status values_pair_item(gen_sess *s, void *ctx, size_t k, cg_error *err)
{
    values_job *j = ctx;
    cg_bfv_ct *a = &j->outs[4 * (k / 2) + k % 2], *b = a + 2;
    CG_TRY(cg_bfv_mul_monomial(s->he, b, values_shift(s, k % 2), err));
    return cg_bfv_add_inplace(s->he, a, b, err);
}

static cg_status values_pair(gen_sess *s, values_job *j, cg_error *err)
{
    CG_TRY(gen_parallel(s, 2 * (s->H / 2), values_pair_item, j, err));
    for (size_t k = 2; k < 2 * ((s->H + 1) / 2); k++) { /* reply k to outs[k]: swap, buffers stay owned */
        const cg_bfv_ct t = j->outs[k];
        j->outs[k] = j->outs[4 * (k / 2) + k % 2], j->outs[4 * (k / 2) + k % 2] = t;
    }
    return CG_OK;
}

static cg_status values_item(gen_sess *s, void *ctx, size_t h, kv_scratch *sc, cg_error *err)
{
    values_job *j = ctx;
    const mat_io *io = j->kp.io;
    return kv_split_leaf_row(&s->cache, &s->shares, s->he, s->l, io->layer, h, io->row_len[h],
                             io->pr + h * io->cols, &j->kp.leaves[h * j->kp.groups], sc, &j->outs[2 * h], err);
}

cg_status gen_kv_pack_values(gen_sess *s, const mat_io *io, cg_error *err)
{
    const size_t H = s->H, keys = (size_t)1 << gen_pack_levels(&s->cfg, s->N, false);
    values_job j = {.kp = {.kind = KV_PACK_PROBS, .io = io, .pos = io->pos0},
                    .pair = gen_kv_score_pair(s, io->pos0, 1)};
    const size_t n_rep = 2 * ((H + j.pair - 1) / j.pair);
    if (io->rows != 1 || !s->kv.stride) return cg_error_set(err, CG_ERR_INTERNAL, "expanded probabilities");
    j.kp.groups = kv_split_leaf_groups(&s->kv, io->cols);
    j.kp.chunks = H * j.kp.groups;
    j.kp.G = keys < s->dh ? keys : s->dh;
    j.kp.n_pk = (j.kp.chunks + j.kp.G - 1) / j.kp.G;
    const size_t n = j.kp.n_pk + j.kp.chunks + 2 * H;
    cg_bfv_ct *cts = gen_take_cts(s, n);
    j.o2 = cg_calloc(s->d, sizeof *j.o2);
    cg_status st = cts && j.o2 ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "expanded probabilities");
    if (st == CG_OK) {
        j.kp.pk = cts, j.kp.leaves = cts + j.kp.n_pk, j.outs = j.kp.leaves + j.kp.chunks;
        if (s->party == CG_CLIENT) {
            st = gen_kv_pack_send(s, &j.kp, err);
            if (st == CG_OK) st = gen_recv_cts(s, j.outs, n_rep, err);
            if (st == CG_OK) st = gen_he_to_shares_at(s, n_rep, j.outs, values_keep, values_take, &j, err);
        } else {
            st = gen_kv_pack_recv(s, &j.kp, err);
            if (st == CG_OK)
                st = gen_parallel_kv(s, H, kv_blocks_for(&s->kv, io->cols) + j.kp.groups, values_item, &j, err);
            if (st == CG_OK && j.pair > 1) st = values_pair(s, &j, err);
            if (st == CG_OK) st = gen_he_to_shares_at(s, n_rep, j.outs, values_keep, values_take, &j, err);
            if (st == CG_OK) st = gen_send_cts_at(s, j.outs, n_rep, values_keep, &j, err);
        }
    }
    if (st == CG_OK) gen_add_shares(s, s->d, io->o, j.o2);
    gen_give_cts(s, cts, cts ? n : 0);
    cg_free(j.o2); /* wipes */
    return st;
}
