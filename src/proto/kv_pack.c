/* Split decode's packed client inputs (kv_pack.h). */
#include <string.h>

#include "proto/kv_pack.h"

size_t gen_kv_pack_chunks(const gen_sess *s)
{
    const size_t keys = (size_t)1 << gen_pack_levels(&s->cfg, s->N);
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
    return p[0].n_pk + p[1].n_pk;
}

void gen_kv_pack_room(kv_pack p[2], cg_bfv_ct *pk, cg_bfv_ct *app, cg_bfv_ct *qct)
{
    p[0].pk = pk, p[0].leaves = app;
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
        if (p->kind == KV_PACK_QUERY) kv_pack_query(&s->kv, t, p->qkv + c * s->dh, co);
        else kv_pack_leaf(&s->kv, t, p->qkv + (c % 2 + 1) * s->d + c / 2 * s->dh, co);
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
    return p->kind == KV_PACK_APPEND ? gen_parallel(s, p->chunks, shift_leaf, p, err) : CG_OK;
}
