/* Long lists of ciphertexts in a few messages instead of one, so that one
 * party works on a part while the other makes the next (split decode: the
 * client reads and decrypts the first scores while the server floods the
 * rest; the server multiplies the first heads' probabilities while the
 * client encrypts the others). A part holds at least ATTN_PART_MIN items
 * and a list at most ATTN_PARTS_MAX parts; the cut follows from the item
 * count alone (public), so both parties cut alike, and messages in one
 * direction add no round. */
#ifndef CG_PROTO_ATTN_PARTS_H
#define CG_PROTO_ATTN_PARTS_H

#include "proto/proto_internal.h"

#define ATTN_PART_MIN 6
#define ATTN_PARTS_MAX 4

size_t attn_parts_of(size_t n);

/* Items [off, off + m) of a list, seen as items [0, m) of one batch: the
 * callbacks get off + i and ctx. */
typedef struct attn_part {
    void *ctx;
    size_t off;
    gen_take_fn take;
    gen_layout_fn layout;
    gen_kv_item_fn item;
} attn_part;

void attn_take_part(const gen_sess *s, void *part, size_t i, const uint64_t *share);
void attn_layout_part(const gen_sess *s, const void *part, size_t i, uint64_t *co);
cg_status attn_item_part(gen_sess *s, void *part, size_t i, kv_scratch *sc, cg_error *err);

/* HE -> shares of cts[0, n) part by part. Server: masks, floods and sends
 * each part; client: receives and decrypts each. take(ctx, i) as in
 * gen_he_to_shares. */
cg_status attn_return_parts(gen_sess *s, cg_bfv_ct *cts, size_t n, gen_take_fn take, void *ctx,
                            cg_error *err);

#endif
