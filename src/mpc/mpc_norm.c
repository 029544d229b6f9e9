/* Softmax and LayerNorm on shares (reciprocal and rsqrt: mpc_recip.c); each
 * mirrors its plaintext reference in fxp_ref.c step for step, so in exact
 * mode the results are equal bit for bit. */
#include <math.h>
#include <string.h>

#include "mpc/mpc_internal.h"

/* Bits appended to a little-endian bit stream (the row product's
 * messages carry w - j bits per value). */
typedef struct {
    uint8_t *p;
    size_t bit;
} bitio;

static void bits_put(bitio *b, uint64_t v, unsigned n)
{
    for (unsigned k = 0; k < n; k++, b->bit++)
        if ((v >> k) & 1) b->p[b->bit >> 3] |= (uint8_t)(1u << (b->bit & 7));
}

static uint64_t bits_get(bitio *b, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++, b->bit++) v |= (uint64_t)((b->p[b->bit >> 3] >> (b->bit & 7)) & 1) << k;
    return v;
}

/* The PRG of one row product's key: two 64-bit ROT outputs (128 bits). */
static void key_prg(cg_prg *g, const uint64_t *k)
{
    uint8_t seed[CG_SEED_BYTES] = {0};
    memcpy(seed, k, 2 * sizeof *k);
    cg_prg_init(g, seed, 0);
    cg_secure_zero(seed, sizeof seed);
}

/* Shares mod 2^w of e_i r_row for element shares e (rows packed at off,
 * len) and one shared r per row: a Gilboa product whose chooser bits, the
 * peer's bits of its share of r, are one per row and bit, so each is a
 * ROT whose 128-bit keys expand to a whole row of correlations (a vector
 * OLE): per element and direction sum_j (w - j) bits (47 bytes at w = 27)
 * instead of w COTs (16 bytes and w bits each). Both directions at once:
 * the ROTs, then one message each way. */
static cg_status row_product(cg_mpc *m, unsigned w, size_t rows, const size_t *len,
                             const size_t *off, size_t total, const uint64_t *e, const uint64_t *r,
                             uint64_t *out, cg_error *err)
{
    uint64_t mask = mpc_mask(w);
    if (rows > SIZE_MAX / 128 || total > SIZE_MAX / (64 * 64))
        return cg_error_set(err, CG_ERR_ARG, "softmax: batch too large");
    size_t nrot = 2 * rows * w, nbits = 0;
    for (unsigned j = 0; j < w; j++) nbits += total * (w - j);
    size_t nbytes = (nbits + 7) / 8;
    uint64_t *k0 = mpc_alloc_u64(nrot), *k1 = mpc_alloc_u64(nrot), *kr = mpc_alloc_u64(nrot);
    uint8_t *ch = cg_alloc(nrot), *snd = cg_alloc(nbytes ? nbytes : 1);
    uint8_t *rcv = cg_alloc(nbytes ? nbytes : 1);
    cg_status st = CG_OK;
    if (!k0 || !k1 || !kr || !ch || !snd || !rcv) {
        st = cg_error_set(err, CG_ERR_NOMEM, "softmax: out of memory");
        goto done;
    }
    for (size_t q = 0; q < rows; q++)
        for (unsigned j = 0; j < w; j++) ch[2 * (q * w + j)] = ch[2 * (q * w + j) + 1] = (r[q] >> j) & 1;
    mpc_prof_push(m, "rowprod");
    st = mpc_ot_reserve(m, nrot, nrot, err);
    if (st == CG_OK) st = cg_rot_recv(m->ot.recv, nrot, 64, ch, kr, err);
    if (st == CG_OK) st = cg_rot_send(m->ot.send, nrot, 64, k0, k1, err);
    if (st != CG_OK) {
        mpc_prof_pop(m);
        goto done;
    }
    /* this party's e times the peer's r: u = G0 - G1 + e 2^j, the G's
     * multiples of 2^j, so u >> j (w - j bits) travels */
    for (size_t i = 0; i < total; i++) out[i] = 0;
    bitio bw = {snd, 0};
    memset(snd, 0, nbytes ? nbytes : 1);
    for (size_t q = 0; q < rows; q++)
        for (unsigned j = 0; j < w; j++) {
            cg_prg g0, g1;
            key_prg(&g0, k0 + 2 * (q * w + j));
            key_prg(&g1, k1 + 2 * (q * w + j));
            for (size_t i = off[q]; i < off[q] + len[q]; i++) {
                uint64_t a = cg_prg_u64(&g0) << j, b = cg_prg_u64(&g1) << j;
                out[i] -= a;
                bits_put(&bw, ((a - b + (e[i] << j)) & mask) >> j, w - j);
            }
            cg_prg_clear(&g0);
            cg_prg_clear(&g1);
        }
    st = cg_chan_send_msg(m->ch, snd, nbytes, err);
    if (st == CG_OK) st = cg_chan_flush(m->ch, err);
    if (st == CG_OK) st = cg_chan_recv_msg(m->ch, rcv, nbytes, err);
    mpc_prof_pop(m);
    if (st != CG_OK) goto done;
    bitio br = {rcv, 0};
    for (size_t q = 0; q < rows; q++)
        for (unsigned j = 0; j < w; j++) {
            cg_prg g;
            uint64_t c = (r[q] >> j) & 1;
            key_prg(&g, kr + 2 * (q * w + j));
            for (size_t i = off[q]; i < off[q] + len[q]; i++) {
                uint64_t u = bits_get(&br, w - j) << j;
                out[i] += (cg_prg_u64(&g) << j) + c * u;
            }
            cg_prg_clear(&g);
        }
    for (size_t q = 0; q < rows; q++)
        for (size_t i = off[q]; i < off[q] + len[q]; i++) out[i] = (out[i] + e[i] * r[q]) & mask;
done:
    if (k0) cg_secure_zero(k0, nrot * sizeof *k0);
    if (k1) cg_secure_zero(k1, nrot * sizeof *k1);
    if (kr) cg_secure_zero(kr, nrot * sizeof *kr);
    cg_free(k0);
    cg_free(k1);
    cg_free(kr);
    cg_free(ch);
    cg_free(snd);
    cg_free(rcv);
    return st;
}

#define SOFTMAX_FEW_ROUNDS 64

/* Softmax's stocked material for `rows` rows of `total` entries in all:
 * exp's square (2s + 3 bits) and its selection of s + 1 copies (wide
 * ring), the reciprocal's selects (two rescalings) and Newton products. */
cg_status mpc_softmax_needs(cg_fxp f, size_t rows, size_t total, mpc_stock_req *req,
                            cg_error *err)
{
    cg_fxp_inv *t = cg_alloc(sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "softmax: out of memory");
    cg_status st = cg_fxp_inv_init(f, false, t, err);
    unsigned l = f.ring_bits, s = f.frac_bits, wd = l > 3 * s + 3 ? l : 3 * s + 3;
    size_t newton = t->newton, J = l - 2, nk;
    cg_free(t);
    if (st != CG_OK) return st;
    if (!cg_mul_size(total, s + 1, &nk)) nk = SIZE_MAX; /* too many: not made */
    req[0] = (mpc_stock_req){MPC_POOL_SQ, 2 * s + 3, total};
    req[1] = (mpc_stock_req){MPC_POOL_SEL, wd, nk};
    req[2] = (mpc_stock_req){MPC_POOL_SEL, l, 3 * J * rows};
    req[3] = (mpc_stock_req){MPC_POOL_MUL, l, 2 * newton * rows};
    return CG_OK;
}

cg_status cg_mpc_softmax(cg_mpc *m, cg_fxp f, size_t rows, size_t cols, const size_t *row_len,
                         const uint64_t *x, uint64_t *out, cg_error *err)
{
    unsigned l = f.ring_bits, s = f.frac_bits;
    CG_TRY(mpc_check_fmt(m, f, "softmax", err));
    if (s > 20 || 2 * (s + 2) >= l - 2)
        return cg_error_set(err, CG_ERR_PARAM, "softmax: format (%u, %u) unsupported", l, s);
    size_t all;
    if (cols == 0 || !cg_mul_size(rows, cols, &all) || all > SIZE_MAX / 64)
        return cg_error_set(err, CG_ERR_ARG, "softmax: bad shape");
    if (rows == 0) return CG_OK;
    size_t total = 0;
    for (size_t r = 0; r < rows; r++) {
        size_t n = row_len ? row_len[r] : cols;
        if (n < 1 || n > cols)
            return cg_error_set(err, CG_ERR_ARG, "softmax: row %zu length %zu outside [1, %zu]",
                                r, n, cols);
        total += n;
    }
    uint64_t mask = mpc_mask(l);
    size_t *len = cg_alloc((rows ? rows : 1) * sizeof *len);
    size_t *off = cg_alloc((rows ? rows : 1) * sizeof *off);
    uint64_t *px = mpc_alloc_u64(total), *e = mpc_alloc_u64(total), *rb = mpc_alloc_u64(total);
    uint64_t *mx = mpc_alloc_u64(rows), *sum = mpc_alloc_u64(rows);
    cg_status st = CG_OK;
    if (!len || !off || !px || !e || !rb || !mx || !sum) {
        st = cg_error_set(err, CG_ERR_NOMEM, "softmax: out of memory");
        goto done;
    }
    /* Pack the unmasked entries; the mask is public. */
    for (size_t r = 0, t = 0; r < rows; r++) {
        len[r] = row_len ? row_len[r] : cols;
        off[r] = t;
        for (size_t j = 0; j < len[r]; j++) px[t++] = x[r * cols + j] & mask;
    }
    for (size_t t = 0; t < total; t++) e[t] = px[t];
    /* By the precondition, entries of a row differ by less than 2^(l-2) /
     * round(2^s / ln2) < 2^(l-2-s): the maximum's comparisons keep their
     * signs on the differences reduced to l - s bits (fewer digits, one
     * AND level fewer at l = 37, s = 12). */
    MPC_STEP(mpc_seg_max(m, l, l - s, rows, len, off, total, e, mx, err));
    /* exp's square and selection, the reciprocal's selects and products:
     * one exchange each on material from stock (made by cg_mpc_prepare,
     * or here in one round trip); the row maximum keeps the COT forms. */
    {
        mpc_stock_req req[MPC_SM_REQS];
        MPC_STEP(mpc_softmax_needs(f, rows, total, req, err));
        MPC_STEP(mpc_stock(m, MPC_SM_REQS, req, err));
    }
    m->pool_on = true;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < len[r]; j++) e[off[r] + j] = (px[off[r] + j] - mx[r]) & mask;
    /* Rows of up to SOFTMAX_FEW_ROUNDS entries (decode steps up to L =
     * 64) keep exp's rounds; longer ones its fewer bytes. */
    size_t longest = 0;
    for (size_t r = 0; r < rows; r++)
        if (len[r] > longest) longest = len[r];
    MPC_STEP(mpc_exp_neg(m, f, total, e, longest <= SOFTMAX_FEW_ROUNDS, e, err));
    for (size_t r = 0; r < rows; r++) {
        uint64_t z = 0;
        for (size_t j = 0; j < len[r]; j++) z += e[off[r] + j];
        sum[r] = z & mask;
    }
    MPC_STEP(cg_mpc_recip(m, f, rows, sum, sum, err));
    /* e <= exp(0) < 2^(s+1) and r = 1/sum <= 1 (sum >= exp(0)), so
     * e r < 2^(2s+1): the product runs on the shares reduced to 2s + 3
     * bits (fewer and shorter COTs) and its truncation lifts it back. */
    const unsigned wp = 2 * s + 3;
    uint64_t pmask = mpc_mask(wp);
    for (size_t t = 0; t < total; t++) e[t] &= pmask;
    for (size_t r = 0; r < rows; r++) sum[r] &= pmask;
    m->pool_on = false;
    MPC_STEP(row_product(m, wp, rows, len, off, total, e, sum, rb, err));
    memcpy(e, rb, total * sizeof *e);
    {
        uint8_t *sh = cg_alloc(total ? total : 1);
        if (!sh) {
            st = cg_error_set(err, CG_ERR_NOMEM, "softmax: out of memory");
            goto done;
        }
        memset(sh, (int)s, total);
        st = mpc_trunc_lift(m, wp, l, sh, total, e, e, err);
        cg_free(sh);
        if (st != CG_OK) goto done;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) out[r * cols + j] = j < len[r] ? e[off[r] + j] : 0;
done:
    m->pool_on = false;
    cg_free(len);
    cg_free(off);
    cg_free(px);
    cg_free(e);
    cg_free(rb);
    cg_free(mx);
    cg_free(sum);
    return mpc_fail(m, st);
}

/* c = round(2^(a+b) / n) with 2^a <= n < 2^(a+1), as cg_fxp_ref_layernorm. */
static uint64_t div_const(size_t n, unsigned b, unsigned *a)
{
    *a = (unsigned)(63 - __builtin_clzll((uint64_t)n));
    return (((uint64_t)1 << (*a + b)) + n / 2) / n;
}

/* One LayerNorm's products: the square of x - mean (64 bits) and the
 * final product, and its rsqrt's (selects of the two rescalings, Newton's
 * square and products), stocked at its start so that each is one
 * exchange. */
cg_status mpc_layernorm_needs(cg_fxp f, size_t rows, size_t cols, mpc_stock_req *req,
                              cg_error *err)
{
    cg_fxp_inv *t = cg_alloc(sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "layernorm: out of memory");
    cg_status st = cg_fxp_inv_init(f, true, t, err);
    size_t newton = t->newton, J = f.ring_bits - 2, all = rows * cols;
    cg_free(t);
    if (st != CG_OK) return st;
    req[0] = (mpc_stock_req){MPC_POOL_SQ, 64, all};
    req[1] = (mpc_stock_req){MPC_POOL_MUL, f.ring_bits, all + 2 * newton * rows};
    req[2] = (mpc_stock_req){MPC_POOL_SQ, f.ring_bits, newton * rows};
    req[3] = (mpc_stock_req){MPC_POOL_SEL, f.ring_bits, 3 * J * rows};
    return CG_OK;
}

/* x: shares mod 2^l to extend, or x64: already extended (one of them). */
static cg_status layernorm(cg_mpc *m, cg_fxp f, size_t rows, size_t cols, const uint64_t *x,
                           const uint64_t *x64, uint64_t *out, cg_error *err)
{
    unsigned l = f.ring_bits, s = f.frac_bits, a;
    CG_TRY(mpc_check_fmt(m, f, "layernorm", err));
    if (l + CG_LN_MEAN_BITS + 1 > 62)
        return cg_error_set(err, CG_ERR_PARAM, "layernorm: format (%u, %u) unsupported", l, s);
    size_t all;
    if (cols == 0 || cols > (1u << 20) || !cg_mul_size(rows, cols, &all))
        return cg_error_set(err, CG_ERR_ARG, "layernorm: bad shape");
    if (rows == 0) return CG_OK;
    uint64_t mask = mpc_mask(l);
    uint64_t *d = mpc_alloc_u64(all), *q = mpc_alloc_u64(all);
    uint64_t *mean = mpc_alloc_u64(rows), *var = mpc_alloc_u64(rows);
    cg_status st = CG_OK;
    if (!d || !q || !mean || !var) {
        st = cg_error_set(err, CG_ERR_NOMEM, "layernorm: out of memory");
        goto done;
    }
    mpc_stock_req req[MPC_LN_REQS];
    MPC_STEP(mpc_layernorm_needs(f, rows, cols, req, err));
    MPC_STEP(mpc_stock(m, MPC_LN_REQS, req, err));
    m->pool_on = true;
    /* The statistics in the 64-bit ring: one exact extension of x (one
     * COT each) lets the mean be one truncation of sum * c and the squares
     * be of the unshifted x - mean, whose sum is local, so the variance
     * needs no per-element truncation (the reference's steps). */
    if (x64) memcpy(d, x64, all * sizeof *d);
    else MPC_STEP(cg_mpc_extend(m, l, 64, all, x, d, err));
    uint64_t cm = div_const(cols, CG_LN_MEAN_BITS, &a);
    for (size_t r = 0; r < rows; r++) {
        uint64_t z = 0;
        for (size_t j = 0; j < cols; j++) z += d[r * cols + j];
        mean[r] = z * cm;
    }
    MPC_STEP(mpc_trunc_var(m, 64, a + CG_LN_MEAN_BITS, NULL, rows, mean, mean, err));
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) d[r * cols + j] -= mean[r];
    MPC_STEP(cg_mpc_square(m, 64, all, d, q, err));
    for (size_t r = 0; r < rows; r++) {
        uint64_t z = 0;
        for (size_t j = 0; j < cols; j++) z += q[r * cols + j];
        var[r] = z;
    }
    uint64_t cv = div_const(cols, CG_LN_VAR_BITS, &a);
    const unsigned ve = CG_LN_VAR_EXTRA;
    if (s - ve + a > 0) MPC_STEP(mpc_trunc_var(m, 64, s - ve + a, NULL, rows, var, var, err));
    cg_mpc_mul_public(m, 64, rows, var, cv, var);
    MPC_STEP(mpc_trunc_var(m, 64, CG_LN_VAR_BITS, NULL, rows, var, var, err));
    for (size_t r = 0; r < rows; r++) var[r] &= mask; /* back to l bits: local */
    for (size_t i = 0; i < all; i++) d[i] &= mask;
    const cg_fxp fv = {l, s + ve};
    int64_t eps = cg_fxp_encode(fv, 1e-5);
    if (eps < 1) eps = 1;
    cg_mpc_add_public(m, l, rows, var, (uint64_t)eps, var);
    MPC_STEP(mpc_recip_rsqrt(m, f, rows, var, var, true, CG_LN_RS_EXTRA + ve / 2, err));
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) q[r * cols + j] = var[r];
    MPC_STEP(mpc_mul_trunc(m, l, s + CG_LN_RS_EXTRA, all, d, q, out, err));
done:
    m->pool_on = false;
    cg_free(d);
    cg_free(q);
    cg_free(mean);
    cg_free(var);
    return mpc_fail(m, st);
}

cg_status cg_mpc_layernorm(cg_mpc *m, cg_fxp f, size_t rows, size_t cols, const uint64_t *x,
                           uint64_t *out, cg_error *err)
{
    return layernorm(m, f, rows, cols, x, NULL, out, err);
}

cg_status cg_mpc_layernorm_lifted(cg_mpc *m, cg_fxp f, size_t rows, size_t cols,
                                  const uint64_t *x64, uint64_t *out, cg_error *err)
{
    return layernorm(m, f, rows, cols, NULL, x64, out, err);
}

cg_status cg_mpc_prepare(cg_mpc *m, cg_fxp f, size_t layernorms, size_t rows, size_t cols,
                         size_t gelu_n, size_t sm_rows, size_t sm_cols, cg_error *err)
{
    CG_TRY(mpc_check(m, f.ring_bits, 8, "prepare", err));
    size_t all, sm_all;
    if (layernorms > 16 || !cg_mul_size(rows, cols, &all) || all > ((size_t)1 << 24) ||
        gelu_n > ((size_t)1 << 24) || !cg_mul_size(sm_rows, sm_cols, &sm_all) ||
        sm_all > ((size_t)1 << 24))
        return CG_OK; /* beyond what is made at once (mpc_stock): the calls run the COT forms */
    enum { NR = MPC_LN_REQS + MPC_GELU_REQS + MPC_SM_REQS };
    mpc_stock_req req[NR];
    CG_TRY(mpc_layernorm_needs(f, rows, cols, req, err));
    for (size_t i = 0; i < MPC_LN_REQS; i++) req[i].n *= layernorms;
    mpc_gelu_needs(f, gelu_n, req + MPC_LN_REQS);
    size_t nr = MPC_LN_REQS + MPC_GELU_REQS;
    if (sm_all && f.frac_bits <= 20) {
        CG_TRY(mpc_softmax_needs(f, sm_rows, sm_all, req + nr, err));
        nr += MPC_SM_REQS;
    }
    return mpc_stock(m, nr, req, err);
}
