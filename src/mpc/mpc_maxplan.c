/* The fan plans of softmax's row maxima (mpc_max.c): which of two-, four-
 * and eight-way each grouped level is, the sequence with the fewest bits
 * by the estimate below among those with no more levels and rounds than
 * the fixed rule (mpc_max.c: eight-way while a row has more than four and
 * at most 64 entries left, else four-way). Every level but the last takes
 * its winners with one-bit OTs and one-flight selects (mpc_rsel_point), so
 * its candidates cost a one-bit row each, not a value-wide one each way;
 * every level but the first compares with mpc_drelu_served (twice the
 * digit-OT messages and triples), which hides the previous level's select
 * flight. Rows of 16 take four and four instead of eight and four, rows
 * of 2 one two-way level; 33 to 64 keep their two eight-way levels
 * (nothing else takes 64 to one in two) and 512 its four, four, eight,
 * four (with one-bit rows an eight-way level but the last is cheap; the
 * last one's value-wide rows want few candidates). Only public lengths go
 * in, so both parties make the same plan. */
#include <stdlib.h>
#include <string.h>

#include "mpc/mpc_internal.h"

/* A comparison batch from this size on runs in both OT directions
 * (mpc_cmp.c's CG_MPC_SPLIT_MIN): one round more as counted. */
#define PLAN_SPLIT 32

/* Estimated bits (both ways) of one group of fan on a `bits`-bit value
 * whose comparisons run on cmp_bits: a comparison's digit OTs (6-bit
 * digits: 64 two-bit messages and six choice bits each, twice the messages
 * when served), and per candidate a 1-of-2^(fan-1) OT each way (value-wide
 * rows) or, with sel, one way (one-bit rows) and a select word each way. */
static uint64_t group_cost(unsigned fan, unsigned bits, unsigned cmp_bits, bool sel, bool served)
{
    uint64_t cmp = (uint64_t)((cmp_bits + 4) / 6) * ((served ? 4 : 2) * 64 + 6);
    uint64_t nv = 1ull << (fan - 1), ot = sel ? nv + (fan - 1) + 2 * ((uint64_t)bits + 1)
                                              : 2 * (nv * bits + (fan - 1));
    return (uint64_t)fan * (fan - 1) / 2 * cmp + (uint64_t)fan * ot;
}

/* Bits and rounds (per level 2, plus one when its comparisons reach
 * PLAN_SPLIT; the comparisons' own AND levels are the same in every plan)
 * of the lv levels seq (sel_all: all but the last select in one flight)
 * over the distinct lengths len (cnt rows each, nd of them); *left gets
 * the longest row's count after them. */
static uint64_t plan_cost(const unsigned *seq, unsigned lv, bool sel_all, const size_t *len,
                          const size_t *cnt, size_t nd, unsigned bits, unsigned cmp_bits,
                          unsigned *rounds, size_t *left)
{
    uint64_t cost = 0;
    *rounds = 0;
    *left = 1;
    for (size_t d = 0; d < nd; d++) {
        size_t x = len[d];
        for (unsigned k = 0; k < lv; k++) x = (x + seq[k] - 1) / seq[k];
        if (x > *left) *left = x;
    }
    for (unsigned k = 0; k < lv; k++) {
        uint64_t cmps = 0, f = seq[k];
        bool sel = sel_all && k + 1 < lv, served = sel_all && k > 0;
        for (size_t d = 0; d < nd; d++) {
            size_t x = len[d];
            for (unsigned j = 0; j < k; j++) x = (x + seq[j] - 1) / seq[j];
            uint64_t g = (uint64_t)(x / f + (x % f > 1)) * cnt[d];
            cmps += g * (f * (f - 1) / 2);
            cost += g * group_cost(seq[k], bits, cmp_bits, sel, served);
        }
        *rounds += 2 + (cmps >= PLAN_SPLIT);
    }
    return cost;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

unsigned mpc_max_plan(size_t rows, const size_t *cnt_in, size_t most, unsigned bits,
                      unsigned cmp_bits, size_t fan8_max, unsigned *plan)
{
    static const unsigned fans[3] = {2, 4, 8};
    unsigned old[MPC_PLAN_MAX], lv = 0;
    for (size_t c = most; c > 1; lv++) {
        if (lv == MPC_PLAN_MAX) return 0; /* 3^lv plans: the fixed rule instead */
        old[lv] = c > 4 && c <= fan8_max ? 8 : 4;
        c = (c + old[lv] - 1) / old[lv];
    }
    size_t nd = 0, *len = lv ? cg_alloc(2 * (rows ? rows : 1) * sizeof *len) : NULL;
    if (!len) return 0; /* the fixed rule: no plan needs memory to be right */
    size_t *cnt = len + rows;
    for (size_t r = 0; r < rows; r++)
        if (cnt_in[r] > 1) len[nd++] = cnt_in[r];
    qsort(len, nd, sizeof *len, cmp_size);
    size_t u = 0; /* distinct lengths and their rows */
    for (size_t d = 0; d < nd; d++) {
        if (u && len[u - 1] == len[d]) {
            cnt[u - 1]++;
            continue;
        }
        len[u] = len[d];
        cnt[u++] = 1;
    }
    unsigned max_rounds, rounds, seq[MPC_PLAN_MAX];
    size_t left, tries = 1;
    plan_cost(old, lv, false, len, cnt, u, bits, cmp_bits, &max_rounds, &left);
    uint64_t best = plan_cost(old, lv, true, len, cnt, u, bits, cmp_bits, &rounds, &left);
    memcpy(plan, old, lv * sizeof *old);
    for (unsigned k = 0; k < lv; k++) tries *= 3;
    for (size_t t = 0; t < tries; t++) {
        size_t code = t;
        for (unsigned k = 0; k < lv; k++, code /= 3) seq[k] = fans[code % 3];
        uint64_t cost = plan_cost(seq, lv, true, len, cnt, u, bits, cmp_bits, &rounds, &left);
        if (left > 1 || rounds > max_rounds || cost >= best) continue;
        best = cost;
        memcpy(plan, seq, lv * sizeof *seq);
    }
    cg_free(len);
    return lv;
}
