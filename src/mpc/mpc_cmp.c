/* Comparison protocols: the millionaires' protocol (digits of up to 8
 * bits, 1-of-2^d OTs, AND tree in mpc_cmptree.c; digits that K
 * comparisons share sent once)
 * and DReLUs against public offsets (MSB, ReLU and the Z_p -> ring
 * conversion: mpc_sign.c; row maxima: mpc_max.c). */
#include <string.h>

#include "mpc/mpc_internal.h"

/* Digit width of the millionaires' protocol: one 1-of-2^d OT per digit.
 * CG_MPC_DIGIT_BITS fixes d for every call (a build-time experiment knob);
 * by default each call picks d from its width (digit_bits_for). */
#define MAX_DIGIT_BITS 8
#define MAX_CMP 16 /* comparisons sharing one OT message (2 bits each) */
#define SMALL_HASH ((size_t)1 << 17) /* sender hash rows (about 10 ms) */
/* Digit width of a pipelined comparison (mpc_lt_tree_pipe): a 24-bit DReLU
 * has 8 digits and 3 levels, 1-of-8 OTs (message rows an eighth as long
 * as 6-bit digits', twice as many) */
#define PIPE_DIGIT_BITS 3

static unsigned tree_levels(size_t q)
{
    unsigned l = 0;
    for (size_t cnt = q; cnt > 1; cnt = (cnt + 1) / 2) l++;
    return l;
}

/* The digit width of a w-bit comparison with K per OT message: the
 * smallest d in [4, 8] whose AND tree has the fewest levels (each level is
 * one round trip), among those whose OT message row (2^d entries of 2K
 * bits) stays within 1,024 bits and whose sender hashing (q 2^d per
 * element for q digits) stays within three times that of 4-bit digits.
 * 36 bits go from 9 digits and 4 levels to 8 and 3 (d = 5, 1.8 times the
 * hashing), a 12-bit truncation carry from 3 digits and 2 levels to 2 and
 * 1 (d = 6, 2.7 times), at about the same traffic (fewer digits' 256-bit
 * KK13 rows against longer message rows); 29 bits would need d = 8 for one
 * level less (8 times the hashing) and keep d = 4. A batch of n elements
 * with n q 2^d <= SMALL_HASH (the rows of reciprocal, rsqrt and LayerNorm)
 * may exceed the factor: a 28-bit rescaling of 34 copies goes from 3
 * levels to 2 (d = 7). */
static unsigned digit_bits_for(unsigned w, unsigned K, size_t n)
{
#ifdef CG_MPC_DIGIT_BITS
    (void)w;
    (void)K;
    (void)n;
    return CG_MPC_DIGIT_BITS;
#else
    size_t q4 = (w + 3) / 4, budget = 3 * q4 * 16;
    unsigned best = 4, best_lv = tree_levels(q4);
    for (unsigned d = 5; d <= MAX_DIGIT_BITS; d++) {
        size_t q = (w + d - 1) / d;
        /* a small batch (a row protocol's) may hash more per element: a
         * level costs more than SMALL_HASH sender rows */
        bool cheap = q << d <= budget || (n <= SMALL_HASH && n * (q << d) <= SMALL_HASH);
        if ((2u * K) << d > 1024 || !cheap) continue;
        if (tree_levels(q) < best_lv) {
            best = d;
            best_lv = tree_levels(q);
        }
    }
    return best;
#endif
}

/* Where a comparison's digits lie: digit d is bits off[d] .. off[d] +
 * wd[d] - 1 of the values (wd[d] <= db, a 1-of-2^db OT each); the qs lowest
 * are shared: the K values of an element (the sender's) agree on them, so
 * their OT message carries one comparison's bits, not K's. */
typedef struct {
    unsigned db, q, qs;
    uint8_t off[64], wd[64];
} cmp_layout;

/* The sender's message bits per element for q digits of db bits, qs of
 * them shared (the lowest digit's message has no [a == b] bit), plus the
 * OT's db COT choice bits per digit. */
static size_t layout_cost(unsigned db, size_t q, size_t qs, unsigned K)
{
    size_t lowest = qs ? 1 : K, upper = (qs > 1 ? qs - 1 : 0) * 2 + (q - (qs ? qs : 1)) * 2 * K;
    return q * db + ((lowest + upper) << db);
}

/* The layout of a w-bit comparison of K values per element that agree on
 * their sb low bits: by default (sb = 0 or K = 1) digits of digit_bits_for's
 * width from bit 0. With sb > 0 the digits split at bit sb (the lowest
 * digit the narrowest), the shared part below it: among the digit widths
 * up to the default one whose tree has no more levels than the default's,
 * the one with the fewest message bits. The exponential's 13 thresholds
 * (36 bits, all multiples of 2^24) go from 8 digits of 5 bits with 26-bit
 * messages to 5 shared digits below bit 24 (2-bit messages) and 3 above:
 * 6,280 to 2,824 bits per element, at the same 3 AND levels. */
static void layout_for(unsigned w, unsigned K, size_t n, unsigned sb, unsigned fixed,
                       cmp_layout *ly)
{
    unsigned db = fixed ? fixed : digit_bits_for(w, K, n), q = (w + db - 1) / db;
    unsigned best = db, bs = 0, bh = 0;
    size_t cost = layout_cost(db, q, 0, K);
    if (sb > w) sb = w;
    for (unsigned d = 2; !fixed && K > 1 && sb > 0 && d <= db; d++) {
        unsigned ns = (sb + d - 1) / d, nh = (w - sb + d - 1) / d;
        if (tree_levels(ns + nh) > tree_levels(q)) continue;
        size_t c = layout_cost(d, ns + nh, ns, K);
        if (c < cost) {
            cost = c;
            best = d;
            bs = ns;
            bh = nh;
        }
    }
    ly->db = best;
    ly->qs = bs;
    if (bs == 0) {
        ly->q = q;
        for (unsigned d = 0; d < q; d++) {
            ly->off[d] = (uint8_t)(d * db);
            ly->wd[d] = (uint8_t)(w - d * db < db ? w - d * db : db);
        }
        return;
    }
    ly->q = bs + bh;
    for (unsigned d = 0; d < bs; d++) {
        unsigned top = sb - (bs - 1 - d) * best; /* digit d ends below bit top */
        ly->off[d] = (uint8_t)(d == 0 ? 0 : top - best);
        ly->wd[d] = (uint8_t)(top - ly->off[d]);
    }
    for (unsigned j = 0; j < bh; j++) {
        unsigned o = sb + j * best;
        ly->off[bs + j] = (uint8_t)o;
        ly->wd[bs + j] = (uint8_t)(w - o < best ? w - o : best);
    }
}

static unsigned digit_of(const cmp_layout *ly, uint64_t v, size_t d)
{
    return (unsigned)((v >> ly->off[d]) & mpc_mask(ly->wd[d]));
}

/* The sender's digit-OT messages, made batch by batch (cg_otn_send_fn):
 * instance i*q + d is digit d of element i, and its message for the
 * receiver's digit v carries every comparison k's masked ([a < b],
 * [a == b]) in bits 2k, 2k+1 (masks lt/eq[(k*n + i)*q + d]), a shared
 * digit's only k = 0's. The server's values are the a side: as sender it
 * holds a_k (sender_is_a), as receiver its digit v is a and the client's
 * b_k are the sender's. */
typedef struct {
    const uint64_t *mine;
    const uint8_t *lt, *eq;
    uint64_t vmask;
    size_t n;
    unsigned K; /* comparisons per message */
    const cmp_layout *ly;
    bool sender_is_a;
} digit_msgs;

static void digit_messages(void *ctx, size_t first, size_t count, uint64_t *out)
{
    const digit_msgs *c = ctx;
    const cmp_layout *ly = c->ly;
    unsigned nv = 1u << ly->db;
    for (size_t t = 0; t < count; t++) {
        size_t inst = first + t, i = inst / ly->q, d = inst % ly->q;
        uint64_t *row = out + t * nv;
        memset(row, 0, nv * sizeof *row);
        for (unsigned k = 0; k < (d < ly->qs ? 1u : c->K); k++) {
            size_t at = ((size_t)k * c->n + i) * ly->q + d;
            unsigned ud = digit_of(ly, c->mine[(size_t)k * c->n + i] & c->vmask, d);
            unsigned msk = c->lt[at] | (c->eq[at] << 1);
            /* receiver digit v against ud: [a < b] | [a == b] << 1, a the
             * server's digit; the lowest digit's [a == b] is never read
             * (mpc_lt_tree), so its message carries [a < b] alone, in bit k */
            for (unsigned v = 0; v < nv; v++) {
                unsigned a = c->sender_is_a ? ud : v, b = c->sender_is_a ? v : ud;
                unsigned cv = (unsigned)(a < b) | ((unsigned)(a == b) << 1);
                if (d == 0) row[v] |= (uint64_t)((cv ^ msk) & 1) << k;
                else row[v] |= (uint64_t)(cv ^ msk) << (2 * k);
            }
        }
    }
}

/* One half of a comparison batch: n elements of K comparisons. In half 0
 * the server sends the digit OTs and holds K values a_k per element, the
 * client one value b: out[k*n + i] = [a_ki < b_i]. In half 1 the roles of
 * the OT swap: the client sends and holds K values b_k, the server one value
 * a: out[k*n + i] = [a_i < b_ki]. mine: this party's values (K*n for the
 * half it sends, n for the other). */
typedef struct {
    size_t n;
    const uint64_t *mine;
    uint8_t *out;
} lt_half;

/* Batches below this are not split between the two OT directions (at a
 * few elements the call is all latency; measured on DReLU, the split gains
 * from 32 elements on: 0.16 against 0.20 ms at 32, 0.74 against 1.1 ms at
 * 256). */
#ifndef CG_MPC_SPLIT_MIN
#define CG_MPC_SPLIT_MIN 32
#endif
#define SPLIT_MIN ((size_t)CG_MPC_SPLIT_MIN)

/* Both halves at once, in one round trip for the digit OTs and triples:
 * each party is the 1-of-16 sender of one half and the receiver of the
 * other, so the senders' hashing (16 rows per OT against the receiver's
 * one) is shared out instead of all falling on the server. Stream order,
 * the same at both parties: this party's triple half and its receiver
 * half's extension go out; it reads the peer's triple half, then the peer's
 * extension and answers it; last it reads the answers to its own. */
static cg_status lt_halves(cg_mpc *m, unsigned w, unsigned K, unsigned sb, const lt_half h[2],
                           const mpc_lt_arith *ar, bool pipe, cg_error *err)
{
    CG_TRY(mpc_check(m, w, 1, "less_than", err));
    if (K < 1 || K > MAX_CMP) return cg_error_set(err, CG_ERR_ARG, "less_than: %u comparisons", K);
    if (m->cmp_digits > MAX_DIGIT_BITS)
        return cg_error_set(err, CG_ERR_ARG, "less_than: %u-bit digits", m->cmp_digits);
    /* pipelined (the server sends every OT, see mpc_lt_tree_pipe): 3-bit digits */
    if (pipe && h[1].n)
        return cg_error_set(err, CG_ERR_ARG, "less_than: pipelined tree on a split batch");
    cmp_layout ly;
    layout_for(w, K, h[0].n + h[1].n, ar ? 0 : sb,
               m->cmp_digits ? m->cmp_digits : pipe ? PIPE_DIGIT_BITS : 0, &ly);
    unsigned db = ly.db, nv = 1u << db;
    size_t q = ly.q, nq[2], rows[2], cells;
    for (int j = 0; j < 2; j++)
        if (!cg_mul_size(h[j].n, q, &nq[j]) || !cg_mul_size(h[j].n, K, &rows[j]) ||
            !cg_mul_size(nq[j], (size_t)K * nv, &cells))
            return cg_error_set(err, CG_ERR_ARG, "less_than: batch too large");
    if (rows[0] > SIZE_MAX / 2 - rows[1] || !cg_mul_size(rows[0] + rows[1], q, &cells))
        return cg_error_set(err, CG_ERR_ARG, "less_than: batch too large");
    size_t all = rows[0] + rows[1];
    int snd = m->party == CG_SERVER ? 0 : 1, rcv = 1 - snd; /* this party's halves */
    uint64_t vmask = mpc_mask(w);
    /* lt/eq[row*q + d] over all rows, half 0's K*n0 rows first: shares of
     * [a_d < b_d], [a_d == b_d] for digit d. */
    mpc_prof_push(m, "cmp.ot");
    uint8_t *lt = cg_alloc(cells ? cells : 1), *eq = cg_alloc(cells ? cells : 1);
    uint8_t *dig = cg_alloc(nq[rcv] ? nq[rcv] : 1), *res = cg_alloc(all ? all : 1);
    uint64_t *buf = cg_alloc((nq[rcv] ? nq[rcv] : 1) * sizeof *buf); /* received OT outputs */
    /* message widths per digit OT: K bits for the lowest digit, 2K above */
    size_t nw = nq[0] > nq[1] ? nq[0] : nq[1];
    uint8_t *wid = cg_alloc(nw ? nw : 1);
    mpc_triples tr = {0};
    cg_status st = CG_OK;
    if (!lt || !eq || !dig || !res || !buf || !wid) {
        st = cg_error_set(err, CG_ERR_NOMEM, "less_than: out of memory");
        goto done;
    }
    size_t base[2] = {0, rows[0] * q}; /* each half's first cell */
    /* The tree's triples do not depend on the inputs, so their OTs share
     * the digit OTs' round trip. */
    /* arithmetic results: the tree stops before its last level (at two
     * blocks per row), which mpc_arith_last does on bundles */
    const mpc_row_map rm = {h[0].n, h[1].n, K};
    uint8_t sh[64];
    for (size_t d = 0; d < q; d++) sh[d] = d < ly.qs;
    mpc_tree_level lv[MPC_MAX_LEVELS];
    size_t stop = ar ? 2 : 1, nl = mpc_tree_plan(&rm, q, sh, stop, lv);
    size_t units = nl ? lv[nl - 1].first + lv[nl - 1].units : 0;
    st = mpc_ot_reserve(m, units + nq[snd] * db, units + nq[rcv] * db, err);
    if (st == CG_OK) st = mpc_triples_begin(m, units, &tr, err);
    /* Sender half: two random mask bits per (comparison, digit). */
    cg_prg_bytes(&m->prg, lt + base[snd], rows[snd] * q);
    for (size_t k = 0; k < rows[snd] * q; k++) {
        eq[base[snd] + k] = (lt[base[snd] + k] >> 1) & 1;
        lt[base[snd] + k] &= 1;
    }
    /* a shared digit's masks are the element's k = 0 ones in every row */
    for (size_t r = 0; r < rows[snd]; r++)
        for (size_t d = 0, p = r % (h[snd].n ? h[snd].n : 1); d < ly.qs; d++) {
            lt[base[snd] + r * q + d] = lt[base[snd] + p * q + d];
            eq[base[snd] + r * q + d] = eq[base[snd] + p * q + d];
        }
    /* Receiver half: this party's digits choose. */
    for (size_t i = 0; i < h[rcv].n; i++) {
        uint64_t b = h[rcv].mine[i] & vmask;
        for (size_t d = 0; d < q; d++) dig[i * q + d] = (uint8_t)digit_of(&ly, b, d);
    }
    for (size_t i = 0; i < nw; i++) {
        unsigned kd = i % q < ly.qs ? 1 : K;
        wid[i] = (uint8_t)(i % q == 0 ? kd : 2 * kd);
    }
    if (st == CG_OK && nq[rcv]) st = cg_otn_recv_w_begin(m->ot.recv, nq[rcv], nv, wid, dig, buf, err);
    if (st == CG_OK) st = mpc_triples_end(m, &tr, err);
    digit_msgs dm = {.mine = h[snd].mine, .lt = lt + base[snd], .eq = eq + base[snd],
                     .vmask = vmask, .n = h[snd].n, .K = K, .ly = &ly,
                     .sender_is_a = snd == 0};
    if (st == CG_OK && nq[snd])
        st = cg_otn_send_fn_w(m->ot.send, nq[snd], nv, wid, digit_messages, &dm, err);
    if (st == CG_OK && nq[rcv]) st = cg_otn_recv_w_end(m->ot.recv, nq[rcv], nv, wid, dig, buf, err);
    for (size_t i = 0; st == CG_OK && i < h[rcv].n; i++)
        for (size_t d = 0; d < q; d++)
            for (unsigned k = 0; k < K; k++) {
                size_t at = base[rcv] + ((size_t)k * h[rcv].n + i) * q + d;
                unsigned kk = d < ly.qs ? 0 : k; /* a shared digit's one comparison */
                uint64_t msg = d == 0 ? buf[i * q] >> kk : buf[i * q + d] >> (2 * kk);
                lt[at] = msg & 1;
                eq[at] = d == 0 ? 0 : (msg >> 1) & 1;
            }
    if (st == CG_OK && pipe)
        st = mpc_lt_tree_pipe(m, &rm, q, sh, lt, eq, &tr, stop, ar ? NULL : res, err);
    else if (st == CG_OK)
        st = mpc_lt_tree(m, &rm, q, sh, lt, eq, &tr, stop, ar ? NULL : res, err);
    if (st == CG_OK && ar)
        st = mpc_arith_last(m, ar->bits, all, q, lt, eq, ar->priv, ar->alt, ar->aor, err);
    if (ar) goto done;
    /* an empty half's out may be NULL */
    if (st == CG_OK && rows[0]) memcpy(h[0].out, res, rows[0]);
    if (st == CG_OK && rows[1]) memcpy(h[1].out, res + rows[0], rows[1]);
done:
    mpc_prof_pop(m);
    mpc_triples_free(&tr);
    cg_free(lt);
    cg_free(eq);
    cg_free(dig);
    cg_free(res);
    cg_free(buf);
    cg_free(wid);
    return mpc_fail(m, st);
}

cg_status mpc_less_than_multi(cg_mpc *m, unsigned w, size_t n, unsigned K, const uint64_t *mine,
                              uint8_t *out, cg_error *err)
{
    if (n && (!mine || !out)) return cg_error_set(err, CG_ERR_ARG, "less_than: NULL array");
    /* Only a single comparison can move half its elements to the other
     * direction here (the server's K values would need K receivers). */
    size_t n1 = K == 1 && n >= SPLIT_MIN ? n / 2 : 0, n0 = n - n1;
    const lt_half h[2] = {{n0, mine, out}, {n1, n1 ? mine + n0 : NULL, n1 ? out + n0 : NULL}};
    return lt_halves(m, w, K, 0, h, NULL, false, err);
}

cg_status mpc_less_than_arith(cg_mpc *m, unsigned w, size_t n, const uint64_t *mine,
                              const mpc_lt_arith *ar, cg_error *err)
{
    if (n && !mine) return cg_error_set(err, CG_ERR_ARG, "less_than: NULL array");
    size_t n1 = n >= SPLIT_MIN && !ar->pipe ? n / 2 : 0, n0 = n - n1;
    const lt_half h[2] = {{n0, mine, NULL}, {n1, n1 ? mine + n0 : NULL, NULL}};
    return lt_halves(m, w, 1, 0, h, ar, ar->pipe, err);
}

cg_status cg_mpc_less_than(cg_mpc *m, unsigned w, size_t n, const uint64_t *mine, uint8_t *out,
                           cg_error *err)
{
    return mpc_less_than_multi(m, w, n, 1, mine, out, err);
}

/* How many low bits x + c_k shares for all k of every group of gn
 * elements (public: from the offsets alone): c_k - c_0 is a multiple of
 * 2^sb. The exponential's thresholds, multiples of 2^(2s), share 2s. */
static unsigned shared_low_bits(unsigned w, size_t n, unsigned K, const uint64_t *c, size_t gn)
{
    unsigned sb = w;
    for (size_t g = 0; K > 1 && g * gn < n; g++)
        for (unsigned k = 1; k < K; k++) {
            uint64_t dif = (c[g * K + k] - c[g * K]) & mpc_mask(w);
            if (dif && (unsigned)__builtin_ctzll(dif) < sb) sb = (unsigned)__builtin_ctzll(dif);
        }
    return K > 1 ? sb : 0;
}

/* mpc_drelu_multi with the offsets chosen per group of gn consecutive
 * elements: element i's K thresholds are c[(i / gn) * K + k]. */
static cg_status drelu_grouped(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, unsigned K,
                               const uint64_t *c, size_t gn, bool pipe, uint8_t *out,
                               cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 2, "drelu", err));
    size_t nk;
    if (K < 1 || K > MAX_CMP || gn == 0 || !cg_mul_size(n, K, &nk))
        return cg_error_set(err, CG_ERR_ARG, "drelu: bad batch");
    uint64_t low = mpc_mask(bits - 1);
    /* msb(x + c_k) = msb(x0') ^ msb(x1') ^ [low(x0') + low(x1') >= 2^(bits-1)]
     * for any split x0' + x1' of x + c_k: in half 0 the server adds c_k to
     * its share (its K values are the OT sender's, the client's one value
     * its digits), in half 1 the client does (the client sends). The carry
     * is [2^(bits-1) - 1 - low(x0') < low(x1')] either way. */
    size_t n1 = n >= SPLIT_MIN && !pipe ? n / 2 : 0, n0 = n - n1;
    bool server = m->party == CG_SERVER;
    size_t mine_n = server ? K * n0 + n1 : n0 + K * n1;
    uint64_t *v = cg_alloc((mine_n ? mine_n : 1) * sizeof *v);
    uint8_t *o = cg_alloc(nk ? nk : 1);
    if (!v || !o) {
        cg_free(v);
        cg_free(o);
        return cg_error_set(err, CG_ERR_NOMEM, "drelu: out of memory");
    }
    uint64_t *vh[2] = {v, v + (server ? K * n0 : n0)};
    for (int j = 0; j < 2; j++) {
        size_t nj = j == 0 ? n0 : n1, off = j == 0 ? 0 : n0;
        bool adds = server == (j == 0); /* the K-valued side of half j adds c_k */
        for (unsigned k = 0; k < (adds ? K : 1u); k++)
            for (size_t i = 0; i < nj; i++) {
                uint64_t ck = adds ? c[((off + i) / gn) * K + k] : 0;
                uint64_t t = (x[off + i] + ck) & low;
                vh[j][k * nj + i] = server ? low - t : t;
            }
    }
    const lt_half h[2] = {{n0, vh[0], o}, {n1, vh[1], o + K * n0}};
    cg_status st =
        lt_halves(m, bits - 1, K, shared_low_bits(bits - 1, n, K, c, gn), h, NULL, pipe, err);
    if (st == CG_OK)
        for (unsigned k = 0; k < K; k++)
            for (size_t i = 0; i < n; i++) {
                bool half0 = i < n0, adds = server == half0;
                uint64_t sv = adds ? x[i] + c[(i / gn) * K + k] : x[i];
                uint8_t r = half0 ? o[k * n0 + i] : o[K * n0 + k * n1 + (i - n0)];
                out[k * n + i] = r ^ (uint8_t)(((sv >> (bits - 1)) & 1) ^ server);
            }
    cg_free(v);
    cg_free(o);
    return st;
}

cg_status mpc_drelu_multi(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, unsigned K,
                          const uint64_t *c, uint8_t *out, cg_error *err)
{
    return drelu_grouped(m, bits, n, x, K, c, n ? n : 1, false, out, err);
}

cg_status mpc_drelu_multi_pipe(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                               unsigned K, const uint64_t *c, uint8_t *out, cg_error *err)
{
    return drelu_grouped(m, bits, n, x, K, c, n ? n : 1, true, out, err);
}

cg_status mpc_drelu_offsets(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, size_t K,
                            const uint64_t *c, uint8_t *out, cg_error *err)
{
    if (K == 0) return cg_error_set(err, CG_ERR_ARG, "drelu: no thresholds");
    /* More than 16 thresholds need more than one OT message per digit: G
     * groups of up to 16, each a copy of x with its own offsets, all in one
     * call (one round trip for the digits and one per tree level, not G).
     * The groups are balanced, the last offset of a group repeated to fill
     * it. */
    size_t G = (K + MAX_CMP - 1) / MAX_CMP, kc = (K + G - 1) / G, ng, nk;
    if (!cg_mul_size(n, G, &ng) || !cg_mul_size(ng, kc, &nk) || kc * G > SIZE_MAX / 8)
        return cg_error_set(err, CG_ERR_ARG, "drelu: batch too large");
    /* one group (up to 16 thresholds) needs no copy of x */
    uint64_t *xr = G > 1 ? cg_alloc((ng ? ng : 1) * sizeof *xr) : NULL;
    uint64_t *offs = cg_alloc(G * kc * sizeof *offs);
    uint8_t *tmp = cg_alloc(nk ? nk : 1);
    cg_status st = CG_OK;
    if ((G > 1 && !xr) || !offs || !tmp)
        st = cg_error_set(err, CG_ERR_NOMEM, "drelu: out of memory");
    for (size_t g = 0; st == CG_OK && g < G; g++) {
        for (size_t i = 0; xr && i < n; i++) xr[g * n + i] = x[i];
        for (size_t j = 0; j < kc; j++) {
            size_t k = g * kc + j;
            offs[g * kc + j] = c[k < K ? k : K - 1];
        }
    }
    if (st == CG_OK)
        st = drelu_grouped(m, bits, ng, xr ? xr : x, (unsigned)kc, offs, n ? n : 1, false, tmp,
                           err);
    for (size_t g = 0; st == CG_OK && g < G; g++)
        for (size_t j = 0; j < kc && g * kc + j < K; j++)
            for (size_t i = 0; i < n; i++) out[i * K + g * kc + j] = tmp[j * ng + g * n + i];
    cg_free(xr);
    cg_free(offs);
    cg_free(tmp);
    return st;
}
