/* Row maxima and the argmax: a tournament whose large levels pair the
 * entries (one DReLU and one multiplexer per pair) and whose small levels
 * take groups of eight while a row has more than four left and of four at
 * the end (level_fan: the group's pair DReLUs, then each candidate's test
 * and selection from one 1-of-2^(fan-1) OT each way): all cost one
 * comparison's rounds plus one OT round trip, so wider groups cut the
 * levels. Softmax's maxima choose each level's fan by bytes at the same
 * rounds (mpc_maxplan.c) and take every level's winners but the last's
 * with one-bit OTs and one-flight selects (mpc_rsel_point), hidden by the
 * next level's comparison. */
#include <string.h>

#include "mpc/mpc_internal.h"

/* Levels of at most this many entries (rows x entries left) group four:
 * the four-way level costs twice the DReLUs per entry eliminated and 64
 * messages per group each way, so the first levels of a long row (the
 * argmax over 50,257 logits) stay pairwise. Every softmax row set of a
 * GPT-2 decode step up to L = 682 fits. */
#ifndef CG_MPC_FAN4_MAX
#define CG_MPC_FAN4_MAX 8192
#endif
#define FAN4_MAX ((size_t)CG_MPC_FAN4_MAX)

/* The fixed rule of softmax's maxima (mpc_seg_max), which sets their
 * levels and rounds (their fans: mpc_max_plan): four-way levels while a
 * row has more than this many entries left, eight-way ones below, so rows
 * up to 64 entries (L <= 64) take two levels and longer ones, at a third
 * of the eight-way levels' bytes, one more (512 -> 128 -> 32 -> 4 -> 1). */
#define SEG_FAN8_MAX ((size_t)64)

/* The token's argmax (one row of 50,257) has its own policy: a many-way
 * level costs a 1-of-8 OT per candidate of four (1-of-128 for eight)
 * whose messages carry value and index, i.e. several hundred bytes
 * per entry against about 100 for a pair's DReLU and selects, so the
 * levels stay pairwise while more than ARGMAX_PAIR_ABOVE entries are left
 * and only the last few levels group (eight-way while at most
 * ARGMAX_FAN8_MAX are left and more than four, else four-way). */
#ifndef CG_MPC_ARGMAX_PAIR_ABOVE
#define CG_MPC_ARGMAX_PAIR_ABOVE 1024
#endif
#ifndef CG_MPC_ARGMAX_FAN8_MAX
#define CG_MPC_ARGMAX_FAN8_MAX 64
#endif

/* The argmax's pairwise levels with more than ARGMAX_NARROW_ABOVE entries
 * left compare with ARGMAX_NARROW_DIGITS-bit digits instead of the default
 * width: a 1-of-2^d digit OT costs about 2^d message bits plus d COTs, so
 * 3-bit digits move less than half the default 5-bit ones' bytes for one
 * AND-tree level more per such level. */
#ifndef CG_MPC_ARGMAX_NARROW_ABOVE
#define CG_MPC_ARGMAX_NARROW_ABOVE 25000
#endif
#ifndef CG_MPC_ARGMAX_NARROW_DIGITS
#define CG_MPC_ARGMAX_NARROW_DIGITS 3
#endif

/* When a tournament's levels pair and when they group: pairwise while more
 * than pair_above entries are left (all rows together), then eight-way
 * while a row has more than four and at most fan8_max left, else four. */
typedef struct {
    size_t pair_above, fan8_max;
    size_t narrow_above;   /* pairwise levels with more left: narrow digits */
    unsigned narrow_digits; /* 0: the comparisons' own width */
    bool plan; /* values only: the grouped levels' fans from fan_plan */
} fan_policy;

/* The segments of a tournament: segment r has cnt[r] entries left, from
 * off[r] in val (and idx, index shares mod imask + 1). */
typedef struct {
    size_t rows;
    unsigned cmp_bits; /* the DReLUs run on the differences' shares mod 2^cmp_bits */
    const size_t *off;
    size_t *cnt;
    uint64_t *val, *idx;
    mpc_rsel *rs; /* the pairwise selects' random OTs when idx is given */
} segs;

/* Groups of two or more members when each segment is cut into groups of
 * fan consecutive entries (a single last entry passes alone). */
static size_t level_groups(const segs *sg, unsigned fan)
{
    size_t G = 0;
    for (size_t r = 0; r < sg->rows; r++) G += sg->cnt[r] / fan + (sg->cnt[r] % fan > 1);
    return G;
}

/* The comparison every fan-way level starts with: the G groups' members in
 * mem (a short last group repeats its first member) and the bits
 * [m_i >= m_j] of all their pairs i < j, in lexicographic pair order, in ge
 * (dif: fan (fan - 1) / 2 words per group of scratch). */
static cg_status level_compare(cg_mpc *m, const segs *sg, unsigned fan, uint64_t vmask, size_t G,
                               size_t *mem, uint64_t *dif, uint8_t *ge, bool served,
                               cg_error *err)
{
    const size_t pairs = (size_t)fan * (fan - 1) / 2;
    const uint64_t *val = sg->val;
    for (size_t r = 0, g = 0; r < sg->rows; r++)
        for (size_t k0 = 0; k0 + 1 < sg->cnt[r]; k0 += fan, g++) {
            size_t sz = sg->cnt[r] - k0 < fan ? sg->cnt[r] - k0 : fan, p = 0;
            for (unsigned i = 0; i < fan; i++) mem[fan * g + i] = sg->off[r] + k0 + (i < sz ? i : 0);
            for (unsigned i = 0; i < fan; i++)
                for (unsigned j = i + 1; j < fan; j++, p++)
                    dif[pairs * g + p] = (val[mem[fan * g + i]] - val[mem[fan * g + j]]) & vmask;
        }
    for (size_t i = 0; i < pairs * G; i++) dif[i] &= mpc_mask(sg->cmp_bits);
    return served ? mpc_drelu_served(m, sg->cmp_bits, pairs * G, dif, ge, err)
                  : cg_mpc_drelu(m, sg->cmp_bits, pairs * G, dif, ge, err);
}

/* Segment r after a fan-way level whose j winners are at its front: a
 * single last entry passes behind them (it sits after them, so nothing it
 * needs was overwritten), and the segment shrinks to its winners. */
static void level_close_segment(segs *sg, size_t r, size_t j, unsigned fan, uint64_t imask)
{
    const size_t o = sg->off[r], c = sg->cnt[r];
    if (c % fan == 1) {
        sg->val[o + j] = sg->val[o + c - 1];
        if (sg->idx) sg->idx[o + j] = sg->idx[o + c - 1] & imask;
    }
    sg->cnt[r] = (c + fan - 1) / fan;
}

/* One fan-way level (fan 2, 4 or 8): groups of fan consecutive entries of
 * each segment (a short last group repeats its first member, a single one
 * passes), their winners moved to the front of the segment. The group's
 * fan (fan - 1) / 2 pair bits [m_i >= m_j] (i < j, pair index pair_at)
 * decide it: member i wins when it is at least every later member and
 * above every earlier one (ties to the lower position), i.e. when its
 * fan - 1 bits, ordered by the other member's position, equal pattern
 * [j > i]. Every candidate's test and its value's selection are one
 * 1-of-2^(fan-1) OT each way (the OT sender offers [its bits xor the
 * receiver's == pattern] times its own share, minus a mask), so a level
 * costs one comparison's rounds and one OT round trip whatever its fan;
 * the messages per entry grow as 2^(fan-1) (4-way: 8 per candidate, where
 * one 1-of-64 OT per group would carry 16 per entry). */
#define MAX_FAN 8
typedef struct {
    const uint64_t *val, *idx;
    const size_t *mem; /* fan positions per group */
    const uint8_t *ge; /* npair bit shares per group */
    const uint64_t *rv, *ri; /* this party's masks, one per candidate */
    uint64_t vmask, imask;
    unsigned bits, fan, npair;
} fan_msgs;

static unsigned pair_at(unsigned fan, unsigned i, unsigned j) /* i < j < fan */
{
    return i * (fan - 1) - i * (i + 1) / 2 + j - 1;
}

/* Candidate i's fan - 1 bit shares (the other members in order) as a
 * choice index, and the pattern that makes it the winner. */
static unsigned cand_bits(const uint8_t *ge, unsigned fan, unsigned i, unsigned *pat)
{
    unsigned c = 0, p = 0, k = 0;
    for (unsigned j = 0; j < fan; j++) {
        if (j == i) continue;
        c |= (unsigned)(ge[i < j ? pair_at(fan, i, j) : pair_at(fan, j, i)] & 1) << k;
        p |= (unsigned)(j > i) << k;
        k++;
    }
    *pat = p;
    return c;
}

static void fan_messages(void *ctx, size_t first, size_t count, uint64_t *out)
{
    const fan_msgs *c = ctx;
    const unsigned nv = 1u << (c->fan - 1);
    for (size_t t = 0; t < count; t++) {
        size_t inst = first + t, g = inst / c->fan;
        unsigned i = (unsigned)(inst % c->fan), pat;
        unsigned s = cand_bits(c->ge + (size_t)c->npair * g, c->fan, i, &pat);
        size_t at = c->mem[(size_t)c->fan * g + i];
        for (unsigned v = 0; v < nv; v++) {
            bool win = (v ^ s) == pat;
            uint64_t msg = ((win ? c->val[at] : 0) - c->rv[inst]) & c->vmask;
            if (c->idx) msg |= (((win ? c->idx[at] : 0) - c->ri[inst]) & c->imask) << c->bits;
            out[t * nv + v] = msg;
        }
    }
}

static cg_status level_fan(cg_mpc *m, unsigned bits, uint64_t imask, segs *sg, unsigned fan,
                           bool sel, bool served, cg_error *err)
{
    const size_t G = level_groups(sg, fan);
    const unsigned npair = fan * (fan - 1) / 2, nv = 1u << (fan - 1);
    uint64_t vmask = mpc_mask(bits), *val = sg->val, *idx = sg->idx;
    size_t cap = G ? G : 1, nc = fan * cap;
    size_t *mem = cg_alloc(fan * cap * sizeof *mem);
    uint64_t *dif = cg_alloc(npair * cap * sizeof *dif), *rv = cg_alloc(2 * nc * sizeof *rv);
    uint64_t *got = cg_alloc(nc * sizeof *got);
    uint8_t *ge = cg_alloc((npair + fan) * cap), *choice = cg_alloc(nc);
    fan_msgs fm = {.val = val, .idx = idx, .mem = mem, .ge = ge, .vmask = vmask,
                   .imask = imask, .bits = bits, .fan = fan, .npair = npair};
    cg_status st = CG_OK;
    if (!mem || !dif || !rv || !got || !ge || !choice) {
        st = cg_error_set(err, CG_ERR_NOMEM, "row_max: out of memory");
        goto done;
    }
    /* pairs in pair_at's order */
    st = level_compare(m, sg, fan, vmask, G, mem, dif, ge, served, err);
    if (st != CG_OK) goto done;
    for (size_t g = 0; g < G; g++)
        for (unsigned i = 0; i < fan; i++) {
            unsigned pat;
            choice[fan * g + i] = (uint8_t)cand_bits(ge + (size_t)npair * g, fan, i, &pat);
            rv[fan * g + i] = val[mem[fan * g + i]]; /* sel: the candidates' values */
            ge[npair * G + fan * g + i] = (uint8_t)pat; /* after the pair bits */
        }
    const size_t ots = fan * G;
    if (sel) { /* values only: one-bit winner OTs and one-flight selects */
        mpc_prof_push(m, "max.sel");
        st = mpc_rsel_point(m, ots, fan - 1, choice, ge + npair * G, bits, rv, got, err);
        mpc_prof_pop(m);
        memset(rv, 0, 2 * nc * sizeof *rv); /* the winners below: sums of got */
    } else {
        cg_prg_bytes(&m->prg, rv, 2 * nc * sizeof *rv);
        fm.rv = rv;
        fm.ri = rv + nc;
        unsigned mb = bits + (idx ? (unsigned)__builtin_popcountll(imask) : 0);
        /* Both directions at once, as the comparison's digit OTs: each
         * party offers its own shares, chosen by the peer's bit shares. */
        mpc_prof_push(m, "max.ot");
        st = mpc_ot_reserve(m, (fan - 1) * ots, (fan - 1) * ots, err);
        if (st == CG_OK) st = cg_otn_recv_begin(m->ot.recv, ots, nv, mb, choice, got, err);
        if (st == CG_OK) st = cg_otn_send_fn(m->ot.send, ots, nv, mb, fan_messages, &fm, err);
        if (st == CG_OK) st = cg_otn_recv_end(m->ot.recv, ots, nv, mb, choice, got, err);
        mpc_prof_pop(m);
    }
    if (st != CG_OK) goto done;
    for (size_t r = 0, g = 0; r < sg->rows; r++) {
        size_t o = sg->off[r], c = sg->cnt[r], j = 0;
        for (size_t k0 = 0; k0 + 1 < c; k0 += fan, g++, j++) {
            uint64_t sv = 0, si = 0;
            for (unsigned i = 0; i < fan; i++) {
                size_t u = fan * g + i;
                sv += rv[u] + got[u];
                si += rv[nc + u] + (got[u] >> bits);
            }
            val[o + j] = sv & vmask;
            if (idx) idx[o + j] = si & imask;
        }
        level_close_segment(sg, r, j, fan, imask);
    }
done:
    cg_free(mem);
    cg_free(dif);
    if (rv) cg_secure_zero(rv, 2 * nc * sizeof *rv);
    cg_free(rv);
    cg_free(got);
    cg_free(ge);
    cg_free(choice);
    return st;
}

/* Shares of the winners y + b (x - y) of n pairs at once: the values over
 * Z_2^bits and the index shares ix over Z_2^ib with the same bits, in one
 * flight each way from the random OTs made for the tournament (mpc_rsel). */
static cg_status pair_mux(cg_mpc *m, mpc_rsel *rs, unsigned bits, unsigned ib, size_t n,
                          const uint8_t *b, uint64_t *x, const uint64_t *y, uint64_t *ix,
                          const uint64_t *iy, cg_error *err)
{
    const size_t tot = 2 * n;
    uint64_t *d = mpc_alloc_u64(tot), *p = mpc_alloc_u64(tot);
    uint8_t *bb = cg_alloc(tot ? tot : 1);
    cg_status st = CG_OK;
    if (!d || !p || !bb) st = cg_error_set(err, CG_ERR_NOMEM, "row_max: out of memory");
    for (size_t k = 0; st == CG_OK && k < n; k++) {
        d[k] = (x[k] - y[k]) & mpc_mask(bits);
        d[n + k] = (ix[k] - iy[k]) & mpc_mask(ib);
        bb[k] = bb[n + k] = b[k] & 1;
    }
    mpc_prof_push(m, "cot.sel");
    if (st == CG_OK) st = mpc_rsel_mul(m, rs, n, bits, n, ib, bb, d, p, err);
    mpc_prof_pop(m);
    for (size_t k = 0; st == CG_OK && k < n; k++) {
        x[k] = (y[k] + p[k]) & mpc_mask(bits);
        ix[k] = (iy[k] + p[n + k]) & mpc_mask(ib);
    }
    cg_free(d);
    cg_free(p);
    cg_free(bb);
    return st;
}

/* One pairwise level: compare-and-select on values and, when idx is given,
 * on index shares (mod 2^ib) with the same bit (one COT batch for both). */
static cg_status level2(cg_mpc *m, unsigned bits, unsigned ib, segs *sg, cg_error *err)
{
    size_t pairs = 0;
    for (size_t r = 0; r < sg->rows; r++) pairs += sg->cnt[r] / 2;
    uint64_t mask = mpc_mask(bits), *val = sg->val, *idx = sg->idx;
    size_t width = idx ? 2 : 1, cap = pairs ? pairs : 1;
    uint64_t *a = cg_alloc(cap * 2 * sizeof *a), *b = cg_alloc(cap * 2 * sizeof *b);
    uint64_t *dif = cg_alloc(cap * sizeof *dif);
    uint8_t *ge = cg_alloc(cap);
    cg_status st = CG_OK;
    if (!a || !b || !dif || !ge) {
        st = cg_error_set(err, CG_ERR_NOMEM, "row_max: out of memory");
        goto done;
    }
    for (size_t r = 0, j = 0; r < sg->rows; r++)
        for (size_t k = 0; k < sg->cnt[r] / 2; k++, j++) {
            size_t ia = sg->off[r] + 2 * k;
            a[j] = val[ia];
            b[j] = val[ia + 1];
            dif[j] = (a[j] - b[j]) & mask;
            if (idx) {
                a[pairs + j] = idx[ia];
                b[pairs + j] = idx[ia + 1];
            }
        }
    for (size_t i = 0; i < pairs; i++) dif[i] &= mpc_mask(sg->cmp_bits);
    st = cg_mpc_drelu(m, sg->cmp_bits, pairs, dif, ge, err);
    if (st != CG_OK) goto done;
    if (!idx) /* softmax's maxima: values only, as ever */
        st = cg_mpc_mux(m, bits, pairs, ge, a, b, a, err);
    else if (pairs)
        st = pair_mux(m, sg->rs, bits, ib, pairs, ge, a, b, a + pairs, b + pairs, err);
    if (st != CG_OK) goto done;
    for (size_t w = 0; w < width; w++) {
        uint64_t *base = w ? idx : val;
        const uint64_t *win = a + w * pairs;
        for (size_t r = 0, j = 0; r < sg->rows; r++) {
            size_t o = sg->off[r], c = sg->cnt[r], half = c / 2;
            for (size_t k = 0; k < half; k++) base[o + k] = win[j++];
            if (c & 1) base[o + half] = base[o + c - 1];
        }
    }
    for (size_t r = 0; r < sg->rows; r++) sg->cnt[r] = (sg->cnt[r] + 1) / 2;
done:
    cg_free(a);
    cg_free(b);
    cg_free(dif);
    cg_free(ge);
    return st;
}

/* Tournament over segments (segment r: len[r] >= 1 entries of v from
 * off[r]; v is overwritten); ties go to the lower index. idx (if given)
 * holds index shares (positions within the segment) and gets the winners'
 * mod *imask_out + 1 = 2^ib, the least power of two that holds the
 * positions (many-way levels, which pack value and index into one OT
 * message, only where bits + ib <= 64). Levels follow pol. */
static cg_status max_segs(cg_mpc *m, unsigned bits, unsigned cmp_bits, size_t rows,
                         const size_t *len, const size_t *off, uint64_t *v, uint64_t *idx,
                         uint64_t *out, uint64_t *idx_out, uint64_t *imask_out, fan_policy pol,
                         cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    size_t *cnt = cg_alloc((rows ? rows : 1) * sizeof *cnt), maxlen = 0;
    if (!cnt) return cg_error_set(err, CG_ERR_NOMEM, "row_max: out of memory");
    for (size_t r = 0; r < rows; r++) {
        cnt[r] = len[r];
        if (len[r] > maxlen) maxlen = len[r];
    }
    /* Index shares live mod 2^ib, just the bits the positions need (16 for
     * 50,257; never more than the ring), in the pairwise levels' selects
     * and beside the value in the many-way levels' OT messages (which must
     * hold both in 64 bits). */
    unsigned ib = 1;
    while (ib < bits && (1ull << ib) < maxlen) ib++;
    const uint64_t imask = mpc_mask(ib);
    bool fan4_ok = !idx || bits + ib <= 64;
    mpc_rsel rs;
    segs sg = {.rows = rows, .cmp_bits = cmp_bits, .off = off, .cnt = cnt, .val = v, .idx = idx,
               .rs = &rs};
    /* The pairwise levels' selects (value and index) take their random OTs
     * in one flight up front: each level's select is then one flight. */
    size_t npair = 0, c = idx && rows == 1 ? cnt[0] : 0; /* the argmax: one row */
    for (; c > 1 && !(fan4_ok && c <= pol.pair_above); c = (c + 1) / 2) npair += c / 2;
    cg_status st = mpc_rsel_make(m, 2 * npair, &rs, err);
    unsigned plan[MPC_PLAN_MAX], nplan = 0, lev = 0;
    bool planned = false;
    while (st == CG_OK) {
        size_t left = 0, most = 0;
        for (size_t r = 0; r < rows; r++) {
            left += cnt[r];
            if (cnt[r] > most) most = cnt[r];
        }
        if (most <= 1) break;
        if (fan4_ok && left <= pol.pair_above) {
            /* eight-way while a row has more than four left: the same
             * rounds as four-way, twice the entries per level; or the
             * plan made when the grouped levels begin */
            if (pol.plan && !idx && !planned)
                nplan = mpc_max_plan(rows, cnt, most, bits, cmp_bits, pol.fan8_max, plan);
            planned = true;
            unsigned fan = most > 4 && most <= pol.fan8_max ? 8 : 4;
            /* a plan's levels but the last select in one flight, hidden
             * by the next level's comparison (mpc_rsel_point) */
            bool sel = false, served = false;
            if (lev < nplan) {
                fan = plan[lev];
                sel = lev + 1 < nplan;
                served = lev > 0;
                lev++;
            }
            st = level_fan(m, bits, imask, &sg, fan, sel, served, err);
        } else {
            if (pol.narrow_digits && left > pol.narrow_above) m->cmp_digits = pol.narrow_digits;
            st = level2(m, bits, ib, &sg, err);
            m->cmp_digits = 0;
        }
        if (st != CG_OK) break;
    }
    for (size_t r = 0; st == CG_OK && r < rows; r++) {
        out[r] = v[off[r]] & mask;
        if (idx) idx_out[r] = idx[off[r]] & imask;
    }
    if (imask_out) *imask_out = imask;
    mpc_rsel_free(&rs);
    cg_free(cnt);
    return st;
}

cg_status mpc_seg_max(cg_mpc *m, unsigned bits, unsigned cmp_bits, size_t rows, const size_t *len,
                      const size_t *off, size_t total, uint64_t *v, uint64_t *out, cg_error *err)
{
    (void)total;
    const fan_policy pol = {FAN4_MAX, SEG_FAN8_MAX, 0, 0, true};
    return max_segs(m, bits, cmp_bits, rows, len, off, v, NULL, out, NULL, NULL, pol, err);
}

/* max_segs over equal rows of a matrix (copied, as it is overwritten). */
static cg_status max_tree(cg_mpc *m, unsigned bits, size_t rows, size_t cols, const uint64_t *x,
                          uint64_t *out, uint64_t *idx, uint64_t *imask_out, fan_policy pol,
                          cg_error *err)
{
    size_t total;
    if (cols == 0) return cg_error_set(err, CG_ERR_ARG, "row_max: empty rows");
    if (!cg_mul_size(rows, cols, &total) || total > SIZE_MAX / 16)
        return cg_error_set(err, CG_ERR_ARG, "row_max: too large");
    uint64_t mask = mpc_mask(bits);
    size_t cap = total ? total : 1, rc = rows ? rows : 1;
    uint64_t *val = cg_alloc(cap * sizeof *val), *ix = idx ? cg_alloc(cap * sizeof *ix) : NULL;
    size_t *len = cg_alloc(rc * sizeof *len), *off = cg_alloc(rc * sizeof *off);
    cg_status st = CG_OK;
    if (!val || (idx && !ix) || !len || !off) {
        st = cg_error_set(err, CG_ERR_NOMEM, "row_max: out of memory");
        goto done;
    }
    /* indices are public, so the server holds them and the client 0 */
    for (size_t i = 0; i < total; i++) {
        val[i] = x[i] & mask;
        if (ix) ix[i] = m->party == CG_SERVER ? (uint64_t)(i % cols) : 0;
    }
    for (size_t r = 0; r < rows; r++) {
        len[r] = cols;
        off[r] = r * cols;
    }
    st = max_segs(m, bits, bits, rows, len, off, val, ix, out, idx, imask_out, pol, err);
done:
    cg_free(val);
    cg_free(ix);
    cg_free(len);
    cg_free(off);
    return st;
}

cg_status cg_mpc_row_max(cg_mpc *m, unsigned bits, size_t rows, size_t cols, const uint64_t *x,
                         uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 2, "row_max", err));
    size_t total; /* refused before anything is sent: the context stays usable */
    if (cols == 0 || !cg_mul_size(rows, cols, &total) || total > SIZE_MAX / 16)
        return cg_error_set(err, CG_ERR_ARG, "row_max: empty or too large rows");
    const fan_policy pol = {FAN4_MAX, SIZE_MAX, 0, 0, false};
    return mpc_fail(m, max_tree(m, bits, rows, cols, x, out, NULL, NULL, pol, err));
}

cg_status cg_mpc_argmax_reveal(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                               uint64_t *index, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 2, "argmax", err));
    if (n == 0 || (bits < 64 && n > (1ull << (bits - 1))))
        return cg_error_set(err, CG_ERR_ARG, "argmax: %zu entries do not fit the ring", n);
    uint64_t max, idx, mask;
    const fan_policy pol = {CG_MPC_ARGMAX_PAIR_ABOVE, CG_MPC_ARGMAX_FAN8_MAX,
                            CG_MPC_ARGMAX_NARROW_ABOVE, CG_MPC_ARGMAX_NARROW_DIGITS, false};
    CG_TRY(mpc_fail(m, max_tree(m, bits, 1, n, x, &max, &idx, &mask, pol, err)));
    cg_secure_zero(&max, sizeof max);
    uint8_t wire[8];
    if (m->party == CG_SERVER) {
        /* Only the server's index share travels; the client learns the index,
         * the server learns nothing. */
        for (int i = 0; i < 8; i++) wire[i] = (uint8_t)(idx >> (8 * i));
        cg_status st = cg_chan_send_msg(m->ch, wire, sizeof wire, err);
        if (st == CG_OK) st = cg_chan_flush(m->ch, err);
        return mpc_fail(m, st);
    }
    cg_status st = cg_chan_recv_msg(m->ch, wire, sizeof wire, err);
    if (st != CG_OK) return mpc_fail(m, st);
    uint64_t peer = 0;
    for (int i = 0; i < 8; i++) peer |= (uint64_t)wire[i] << (8 * i);
    uint64_t v = (peer + idx) & mask;
    if (v >= n) return mpc_fail(m, cg_error_set(err, CG_ERR_PEER, "argmax: index %llu out of range",
                                                (unsigned long long)v));
    *index = v;
    return CG_OK;
}
