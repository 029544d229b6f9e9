/* Ferret's primal LPN expansion over its local linear code (ferret.h).
 *
 * The code: row i's FE_D columns are words 10 i .. 10 i + 9 of an AES-CTR
 * stream under a fixed public key, each mapped to [0, k) by multiply-shift;
 * the same code for every refill of a set. Output row i is xored with the
 * base rows of those columns.
 *
 * Speed: one pass, rows in batches. The counter-mode words come from the
 * instance's AES back-end (VAES when the CPU has it: four blocks per
 * instruction), and the table rows of a row LPN_AHEAD rows ahead are
 * prefetched, so that the ten random reads per row overlap. An earlier
 * two-pass form (half the table per pass) was measured against this one
 * with both parties refilling at once on this machine and lost (PERFORMANCE.md,
 * "Ferret throughput"). tests/ot/test_ferret_lpn.c checks the rows against
 * a plain per-row loop of its own. */
#include "ot/ferret.h"

#include <string.h>

static const uint8_t lpn_key[16] = "cryptogen-lpn-1";

/* Rows per batch of code positions (2.5 AES blocks per row). */
#define LPN_BATCH 512
/* Rows of look-ahead for the prefetches: enough loads in flight for a table
 * in L3. */
#define LPN_AHEAD 16

void fe_lpn_code_init(fe_lpn_code *c, const cg_ot *ot)
{
    ot_aes_expand_aesni(&c->key, lpn_key);
    c->ctr = ot->ctr ? ot->ctr : ot_aes_ctr_aesni;
}

/* The code's columns of rows i0 .. i0 + cnt - 1 (i0 even: row i0's first
 * word starts a block) into idx. */
static void code_cols(const fe_lpn_code *c, size_t k, size_t i0, size_t cnt, uint32_t *idx)
{
    c->ctr(&c->key, i0 * FE_D / 4, (uint8_t *)idx, (cnt * FE_D + 3) / 4);
    for (size_t j = 0; j < cnt * FE_D; j++) idx[j] = (uint32_t)(((uint64_t)idx[j] * k) >> 32);
}

void fe_lpn_rows(const fe_lpn_code *c, size_t k, const uint8_t *base, uint8_t *rows, size_t i0,
                 size_t cnt)
{
    uint32_t idx[LPN_BATCH * FE_D + 4];
    for (size_t s = 0; s < cnt; s += LPN_BATCH) {
        size_t bc = cnt - s < LPN_BATCH ? cnt - s : LPN_BATCH;
        code_cols(c, k, i0 + s, bc, idx);
        /* The batch's first rows: their reads were not prefetched. */
        for (size_t i = 0; i < LPN_AHEAD && i < bc; i++)
            for (int d = 0; d < FE_D; d++) __builtin_prefetch(base + 16 * (size_t)idx[i * FE_D + d]);
        for (size_t i = 0; i < bc; i++) {
            if (i + LPN_AHEAD < bc)
                for (int d = 0; d < FE_D; d++)
                    __builtin_prefetch(base + 16 * (size_t)idx[(i + LPN_AHEAD) * FE_D + d]);
            uint64_t acc[2], x[2];
            uint8_t *r = rows + 16 * (s + i);
            memcpy(acc, r, 16);
            #pragma GCC unroll 10
            for (int d = 0; d < FE_D; d++) {
                memcpy(x, base + 16 * (size_t)idx[i * FE_D + d], 16);
                acc[0] ^= x[0];
                acc[1] ^= x[1];
            }
            memcpy(r, acc, 16);
        }
    }
}
