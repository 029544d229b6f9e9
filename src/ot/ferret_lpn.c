/* Ferret's primal LPN expansion over its local linear code (ferret.h).
 *
 * The code: row i's FE_D columns are words 10 i .. 10 i + 9 of an AES-CTR
 * stream under a fixed public key, each mapped to [0, k) by multiply-shift;
 * the same code for every refill of a set. Output row i is xored with the
 * base rows of those columns.
 *
 * Speed: the table (k rows, 9.4 MB on the large set) is read at random, ten
 * rows per output row. With both parties refilling at once on this 2-core
 * machine their two tables did not stay in the shared L3 (reads 3-4 times
 * slower than with one table), while half tables did. So fe_lpn_add xors
 * in the columns below `split` at once and lists the others, and
 * fe_lpn_flush adds the listed ones for a whole window of rows: each pass
 * reads one half of the table only. The xor is the same, in another order:
 * fe_lpn (the plain loop) is the reference, and tests/ot/test_ferret_lpn.c
 * checks that both give the same rows. */
#include "ot/ferret.h"

#include <string.h>

static const uint8_t lpn_key[16] = "cryptogen-lpn-1";

/* Rows per batch of code positions (2.5 AES blocks per row). */
#define LPN_BATCH 512
/* Rows of look-ahead for the prefetches: enough loads in flight for a table
 * in L3. */
#define LPN_AHEAD 16
/* Listed columns of look-ahead in the flush. */
#define LIST_AHEAD 64

static inline void xor_row(uint64_t acc[2], const uint8_t *src)
{
    uint64_t x[2];
    memcpy(x, src, 16);
    acc[0] ^= x[0];
    acc[1] ^= x[1];
}

/* All ones when j < split, else 0, computed without a branch. */
static inline uint32_t low_mask(uint32_t j, uint32_t split)
{
    return (uint32_t)(((uint64_t)j - split) >> 32);
}

/* The code's columns of rows i0 .. i0 + cnt - 1 (i0 even) into idx. */
static void code_cols(const ot_aes_key *key, size_t k, size_t i0, size_t cnt, uint32_t *idx)
{
    ot_aes_ctr_aesni(key, i0 * FE_D / 4, (uint8_t *)idx, (cnt * FE_D + 3) / 4);
    for (size_t j = 0; j < cnt * FE_D; j++) idx[j] = (uint32_t)(((uint64_t)idx[j] * k) >> 32);
}

void fe_lpn(const fe_params *p, uint8_t *rows, uint8_t *b, const uint8_t *base,
            const uint8_t *base_b)
{
    ot_aes_key key;
    ot_aes_expand_aesni(&key, lpn_key);
    uint32_t idx[LPN_BATCH * FE_D + 4];
    for (size_t i0 = 0; i0 < p->n; i0 += LPN_BATCH) {
        size_t cnt = p->n - i0 < LPN_BATCH ? p->n - i0 : LPN_BATCH;
        code_cols(&key, p->k, i0, cnt, idx);
        for (size_t i = 0; i < cnt; i++) {
            if (i + LPN_AHEAD < cnt)
                for (int d = 0; d < FE_D; d++)
                    __builtin_prefetch(base + 16 * (size_t)idx[(i + LPN_AHEAD) * FE_D + d]);
            uint64_t acc[2];
            uint8_t *r = rows + 16 * i0 + 16 * i;
            memcpy(acc, r, 16);
            uint8_t bb = 0;
            for (int d = 0; d < FE_D; d++) {
                size_t j = idx[i * FE_D + d];
                xor_row(acc, base + 16 * j);
                if (b) bb ^= base_b[j];
            }
            memcpy(r, acc, 16);
            if (b) b[i0 + i] ^= bb;
        }
    }
    cg_secure_zero(&key, sizeof key);
}

cg_status fe_lpn_init(fe_lpn_work *l, const fe_params *p, const uint8_t *base, size_t split,
                      cg_error *err)
{
    memset(l, 0, sizeof *l);
    l->p = p;
    l->base = base;
    l->split = split < p->k ? split : p->k;
    ot_aes_expand_aesni(&l->key, lpn_key);
    size_t w = p->n < FE_WINDOW ? p->n : FE_WINDOW;
    l->cnt = cg_alloc(w);
    l->cols = cg_alloc(4 * w * FE_D);
    if (!l->cnt || !l->cols) {
        fe_lpn_free(l);
        return cg_error_set(err, CG_ERR_NOMEM, "Ferret: out of memory");
    }
    return CG_OK;
}

void fe_lpn_free(fe_lpn_work *l)
{
    cg_free(l->cnt);
    cg_free(l->cols);
    l->cnt = NULL;
    l->cols = NULL;
}

void fe_lpn_add(fe_lpn_work *l, uint8_t *rows, size_t i0, size_t cnt)
{
    const uint8_t *base = l->base;
    const uint32_t split = (uint32_t)l->split;
    uint32_t idx[LPN_BATCH * FE_D + 4];
    if (l->wn == 0) l->w0 = i0;
    for (size_t s = 0; s < cnt; s += LPN_BATCH) {
        size_t bc = cnt - s < LPN_BATCH ? cnt - s : LPN_BATCH;
        code_cols(&l->key, l->p->k, i0 + s, bc, idx);
        uint32_t *cols = l->cols + l->ncols;
        size_t nc = 0;
        uint8_t *cn = l->cnt + l->wn + s;
        for (size_t i = 0; i < bc; i++) {
            /* Columns at or above split go to the list; now they read
             * row 0 (in L1) and add nothing. No branch: the halves fall at
             * random and mispredictions cost more than the reads. */
            if (i + LPN_AHEAD < bc)
                for (int d = 0; d < FE_D; d++) {
                    uint32_t j = idx[(i + LPN_AHEAD) * FE_D + d];
                    __builtin_prefetch(base + 16 * (size_t)(j & low_mask(j, split)));
                }
            uint64_t acc[2];
            uint8_t *r = rows + 16 * (s + i);
            memcpy(acc, r, 16);
            size_t c0 = nc;
            for (int d = 0; d < FE_D; d++) {
                uint32_t j = idx[i * FE_D + d], m = low_mask(j, split);
                uint64_t x[2], m64 = (uint64_t)(int64_t)(int32_t)m;
                memcpy(x, base + 16 * (size_t)(j & m), 16);
                acc[0] ^= x[0] & m64;
                acc[1] ^= x[1] & m64;
                cols[nc] = j;
                nc += 1u - (m & 1u); /* 1 when listed */
            }
            memcpy(r, acc, 16);
            cn[i] = (uint8_t)(nc - c0);
        }
        l->ncols += nc;
    }
    l->wn += cnt;
}

void fe_lpn_flush(fe_lpn_work *l, uint8_t *rows)
{
    const uint8_t *base = l->base;
    const uint32_t *cols = l->cols;
    size_t p = 0, nc = l->ncols;
    for (size_t i = 0; i < l->wn; i++) {
        uint64_t acc[2];
        uint8_t *r = rows + 16 * i;
        memcpy(acc, r, 16);
        for (unsigned c = l->cnt[i]; c > 0; c--, p++) {
            if (p + LIST_AHEAD < nc) __builtin_prefetch(base + 16 * (size_t)cols[p + LIST_AHEAD]);
            xor_row(acc, base + 16 * (size_t)cols[p]);
        }
        memcpy(r, acc, 16);
    }
    l->wn = 0;
    l->ncols = 0;
}
