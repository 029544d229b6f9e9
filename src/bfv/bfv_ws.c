/* Per-context workspaces and reusable ciphertext buffers: the hot
 * operations take their temporaries from a small pool owned by the context
 * instead of allocating (and page-faulting) fresh half-megabyte blocks on
 * every call. A slot is claimed with an atomic flag, so concurrent callers
 * (gen_parallel's workers) each get their own; a slot grows to the largest
 * request it has seen and keeps that size until the context is freed. */
#include <stdatomic.h>
#include <string.h>

#include "bfv/bfv_internal.h"

#define BFV_WS_SLOTS 64

typedef struct ws_slot {
    atomic_int busy;
    size_t words;
    uint64_t *buf;
} ws_slot;

struct bfv_pool {
    ws_slot slot[BFV_WS_SLOTS];
};

cg_status bfv_pool_new(bfv_pool **out, cg_error *err)
{
    *out = cg_calloc(1, sizeof **out);
    if (!*out) return cg_error_set(err, CG_ERR_NOMEM, "BFV workspace pool");
    for (size_t i = 0; i < BFV_WS_SLOTS; i++) atomic_init(&(*out)->slot[i].busy, 0);
    return CG_OK;
}

void bfv_pool_free(bfv_pool *p)
{
    if (!p) return;
    for (size_t i = 0; i < BFV_WS_SLOTS; i++) cg_free(p->slot[i].buf); /* wipes */
    cg_free(p);
}

static bool claim(ws_slot *s)
{
    int expect = 0;
    return atomic_compare_exchange_strong_explicit(&s->busy, &expect, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

uint64_t *bfv_ws_get(const cg_bfv_ctx *c, size_t words, bfv_ws *ws)
{
    ws->slot = SIZE_MAX;
    ws->p = NULL;
    ws->words = words;
    bfv_pool *pool = c->pool;
    /* first a free slot that is large enough, then any free slot (grown) */
    for (int pass = 0; pool && pass < 2 && ws->slot == SIZE_MAX; pass++)
        for (size_t i = 0; i < BFV_WS_SLOTS; i++) {
            ws_slot *s = &pool->slot[i];
            if (pass == 0 && s->words < words) continue;
            if (atomic_load_explicit(&s->busy, memory_order_relaxed) || !claim(s)) continue;
            if (s->words < words) {
                cg_free(s->buf);
                s->buf = cg_alloc(words * sizeof(uint64_t));
                s->words = s->buf ? words : 0;
                if (!s->buf) {
                    atomic_store_explicit(&s->busy, 0, memory_order_release);
                    return NULL;
                }
            }
            ws->slot = i;
            ws->p = s->buf;
            break;
        }
    if (ws->slot == SIZE_MAX) ws->p = cg_alloc(words * sizeof(uint64_t)); /* pool exhausted */
    return ws->p;
}

void bfv_ws_put(const cg_bfv_ctx *c, bfv_ws *ws, bool secret)
{
    if (!ws->p) return;
    if (ws->slot == SIZE_MAX) {
        cg_free(ws->p); /* wipes */
    } else {
        /* Secrets (u, e, the key's products) do not outlive the operation. */
        if (secret) cg_secure_zero(ws->p, ws->words * sizeof(uint64_t));
        atomic_store_explicit(&c->pool->slot[ws->slot].busy, 0, memory_order_release);
    }
    ws->p = NULL;
}

cg_status bfv_ct_reserve(const cg_bfv_ctx *c, cg_bfv_ct *ct, size_t size, size_t level,
                         cg_error *err)
{
    if (size < 2 || size > 3 || level < 1 || level > c->nq)
        return cg_error_set(err, CG_ERR_ARG, "ciphertext of size %zu at level %zu", size, level);
    const size_t need = size * level * c->n;
    if (!ct->data || ct->cap < need) {
        cg_free(ct->data);
        ct->data = cg_alloc(need * sizeof(uint64_t));
        ct->cap = ct->data ? need : 0;
        if (!ct->data) {
            *ct = (cg_bfv_ct){0};
            return cg_error_set(err, CG_ERR_NOMEM, "ciphertext");
        }
    }
    ct->size = size;
    ct->level = level;
    ct->ntt = false;
    ct->seeded = false;
    ct->noise_log2 = 0;
    return CG_OK;
}

cg_status cg_bfv_ct_reserve(const cg_bfv_ctx *c, cg_bfv_ct *ct, size_t size, size_t level,
                            cg_error *err)
{
    if (!ct) return cg_error_set(err, CG_ERR_ARG, "no ciphertext");
    return bfv_ct_reserve(c, ct, size, level, err);
}
