/* Ciphertext lists in parts (attn_parts.h). */
#include "proto/attn_parts.h"

size_t attn_parts_of(size_t n)
{
    const size_t k = n / ATTN_PART_MIN;
    return k < 1 ? 1 : k > ATTN_PARTS_MAX ? ATTN_PARTS_MAX : k;
}

void attn_take_part(const gen_sess *s, void *part, size_t i, const uint64_t *share)
{
    const attn_part *p = part;
    p->take(s, p->ctx, p->off + i, share);
}

void attn_layout_part(const gen_sess *s, const void *part, size_t i, uint64_t *co)
{
    const attn_part *p = part;
    p->layout(s, p->ctx, p->off + i, co);
}

cg_status attn_item_part(gen_sess *s, void *part, size_t i, kv_scratch *sc, cg_error *err)
{
    const attn_part *p = part;
    return p->item(s, p->ctx, p->off + i, sc, err);
}

cg_status attn_return_parts(gen_sess *s, cg_bfv_ct *cts, size_t n, gen_take_fn take, void *ctx,
                            cg_error *err)
{
    const size_t parts = attn_parts_of(n);
    for (size_t k = 0; k < parts; k++) {
        const size_t b0 = n * k / parts, m = n * (k + 1) / parts - b0;
        attn_part p = {.ctx = ctx, .off = b0, .take = take};
        if (s->party == CG_SERVER) {
            CG_TRY(gen_he_to_shares(s, m, cts + b0, attn_take_part, &p, err));
            CG_TRY(gen_send_cts(s, cts + b0, m, err));
        } else {
            CG_TRY(gen_recv_cts(s, cts + b0, m, err));
            CG_TRY(gen_he_to_shares(s, m, cts + b0, attn_take_part, &p, err));
        }
    }
    return CG_OK;
}
