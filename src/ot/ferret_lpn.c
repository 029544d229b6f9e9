/* Ferret's primal LPN expansion over its local linear code (ferret.h).
 *
 * The code: row i's FE_D columns are words 10 i .. 10 i + 9 of an AES-CTR
 * stream under a fixed public key, each mapped to [0, k) by multiply-shift;
 * the same code for every refill of a set. Output row i is xored with the
 * base rows of those columns.
 *
 * Speed: one pass, rows in batches. The counter-mode words come from the
 * instance's AES back-end (VAES when the CPU has it: four blocks per
 * instruction) and become table byte offsets by a vectorised multiply-shift
 * (ferret_lpn_avx512.c, or the portable loop), and the table rows of the
 * row LPN_AHEAD rows ahead are prefetched, so that the ten random reads per
 * row overlap. An earlier
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

void fe_lpn_offsets_portable(uint32_t *w, size_t n, uint32_t k)
{
    for (size_t j = 0; j < n; j++) w[j] = (uint32_t)(((uint64_t)w[j] * k) >> 32) << 4;
}

void fe_lpn_code_init(fe_lpn_code *c, const cg_ot *ot)
{
    ot_aes_expand_aesni(&c->key, lpn_key);
    c->ctr = ot->ctr ? ot->ctr : ot_aes_ctr_aesni;
    c->offsets = (cg_cpu_features() & CG_CPU_AVX512F) ? fe_lpn_offsets_avx512 : fe_lpn_offsets_portable;
}

/* The code's columns of rows i0 .. i0 + cnt - 1 (i0 even: row i0's first
 * word starts a block) into off, as byte offsets into the table. */
static void code_offsets(const fe_lpn_code *c, size_t k, size_t i0, size_t cnt, uint32_t *off)
{
    c->ctr(&c->key, i0 * FE_D / 4, (uint8_t *)off, (cnt * FE_D + 3) / 4);
    c->offsets(off, cnt * FE_D, (uint32_t)k);
}

/* Per row: ten loads at precomputed offsets (the multiply-shift is done
 * ahead, sixteen words per instruction with AVX-512) and ten prefetches for
 * the row LPN_AHEAD on, all unrolled: the loop was bound by instructions
 * (as fast with a 64 kB table as with the 9.4 MB one), not by the reads. */
void fe_lpn_rows(const fe_lpn_code *c, size_t k, const uint8_t *base, uint8_t *rows, size_t i0,
                 size_t cnt)
{
    uint32_t off[(LPN_BATCH + LPN_AHEAD) * FE_D + 4];
    for (size_t s = 0; s < cnt; s += LPN_BATCH) {
        size_t bc = cnt - s < LPN_BATCH ? cnt - s : LPN_BATCH;
        code_offsets(c, k, i0 + s, bc, off);
        /* The prefetches past the batch read offset 0 (row 0 of the table). */
        memset(off + bc * FE_D, 0, LPN_AHEAD * FE_D * sizeof *off);
        /* The batch's first rows: their reads were not prefetched. */
        for (size_t i = 0; i < LPN_AHEAD * FE_D && i < bc * FE_D; i++) __builtin_prefetch(base + off[i]);
        for (size_t i = 0; i < bc; i++) {
            const uint32_t *o = off + i * FE_D;
            #pragma GCC unroll 10
            for (int d = 0; d < FE_D; d++) __builtin_prefetch(base + o[LPN_AHEAD * FE_D + d]);
            uint64_t acc[2], x[2];
            uint8_t *r = rows + 16 * (s + i);
            memcpy(acc, r, 16);
            #pragma GCC unroll 10
            for (int d = 0; d < FE_D; d++) {
                memcpy(x, base + o[d], 16);
                acc[0] ^= x[0];
                acc[1] ^= x[1];
            }
            memcpy(r, acc, 16);
        }
    }
}
