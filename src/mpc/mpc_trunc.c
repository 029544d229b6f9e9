/* Truncation by a public shift (Cheetah's approximate one, and the exact
 * one that adds the low bits' carry from a millionaires' comparison), per
 * element shifts and the truncation that also extends the ring. */
#include <string.h>

#include "mpc/mpc_internal.h"

cg_status cg_mpc_trunc(cg_mpc *m, unsigned bits, unsigned shift, size_t n, const uint64_t *x,
                       uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc: shift %u outside [1, %u)", shift, bits - 2);
    return mpc_trunc_var(m, bits, shift, NULL, n, x, out, err);
}

cg_status cg_mpc_trunc_exact(cg_mpc *m, unsigned bits, unsigned shift, size_t n,
                             const uint64_t *x, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc_exact", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc_exact: shift %u outside [1, %u)", shift,
                            bits - 2);
    return mpc_trunc_impl(m, bits, bits, shift, NULL, n, x, out, true, err);
}

cg_status cg_mpc_trunc_add_lift(cg_mpc *m, unsigned bits, unsigned shift, size_t n,
                                const uint64_t *y, const uint64_t *x, uint64_t *x64,
                                cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc_add_lift", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc_add_lift: shift %u outside [1, %u)", shift,
                            bits - 2);
    size_t n2;
    if (!cg_mul_size(n, 2, &n2)) return cg_error_set(err, CG_ERR_ARG, "trunc_add_lift: size");
    /* [y; x] with shifts [shift; 0]: y truncated and x extended in the same
     * exchanges (a zero shift's carry is 0), both lifted to 64 bits, where
     * their sum is exact */
    uint64_t *v = cg_alloc((n2 ? n2 : 1) * sizeof *v), *o = cg_alloc((n2 ? n2 : 1) * sizeof *o);
    uint8_t *sh = cg_alloc(n2 ? n2 : 1);
    cg_status st = v && o && sh ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "trunc_add_lift: out of memory");
    if (st == CG_OK) {
        memcpy(v, y, n * sizeof *v);
        memcpy(v + n, x, n * sizeof *v);
        memset(sh, (int)shift, n);
        memset(sh + n, 0, n);
        st = mpc_trunc_impl(m, bits, 64, shift, sh, n2, v, o, true, err);
    }
    for (size_t i = 0; st == CG_OK && i < n; i++) x64[i] = o[i] + o[n + i];
    cg_free(v);
    cg_free(o);
    cg_free(sh);
    return mpc_fail(m, st);
}

cg_status mpc_trunc_var(cg_mpc *m, unsigned bits, unsigned shift, const uint8_t *shifts, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err)
{
    return mpc_trunc_impl(m, bits, bits, shift, shifts, n, x, out, m->exact, err);
}

/* Up to this many elements an exact truncation takes its wrap and carry
 * from bundles (one round fewer, about 127 B more per element with IKNP:
 * 4096 of them about the 40 ms round of a 100 Mbit/s link, and a decode
 * step's widest truncations, 3 d = 2304 and 4 d = 3072 at GPT-2 base, take
 * this path); beyond, a COT batch converts the carry and the wrap after
 * the comparison. */
#define TRUNC_BUNDLE_MAX 4096

/* Each party's side of the carry comparison [2^sh - 1 - y0_low < y1_low]
 * (a new array; NULL when out of memory) and its width, the largest shift. */
/* v 2^k mod 2^64 for k in [1, 64]: a shift by the whole ring is 0, which
 * C leaves undefined (the untruncated half of a lift at bits = 64). */
static inline uint64_t shl_ring(uint64_t v, unsigned k) { return k >= 64 ? 0 : v << k; }

static uint64_t *carry_operand(const cg_mpc *m, unsigned shift, const uint8_t *shifts, size_t n,
                               const uint64_t *y, unsigned *width)
{
    unsigned w = shift;
    if (shifts)
        for (size_t i = 0; i < n; i++)
            if (shifts[i] > w) w = shifts[i];
    uint64_t *v = cg_alloc((n ? n : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint64_t low = mpc_mask(shifts ? shifts[i] : shift);
        v[i] = m->party == CG_SERVER ? low - (y[i] & low) : y[i] & low;
    }
    *width = w;
    return v;
}

/* The carry's low sh bits as in wrap_carry_exact, as boolean shares. */
static cg_status low_carry_bits(cg_mpc *m, unsigned shift, const uint8_t *shifts, size_t n,
                                const uint64_t *y, uint8_t *c, cg_error *err)
{
    unsigned w = 0;
    uint64_t *v = carry_operand(m, shift, shifts, n, y, &w);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    cg_status st = w >= 1 ? cg_mpc_less_than(m, w, n, v, c, err) : CG_OK;
    cg_free(v);
    return st;
}

/* Arithmetic shares mod 2^out_bits of the carry [y0_low + y1_low >= 2^sh]
 * of each element's low sh bits, i.e. [2^sh - 1 - y0_low < y1_low] (one
 * millionaires' comparison at the largest shift's width), into out[n + i],
 * and of the wrap bit m0 OR m1 of the top bits `bit` into out[i]: the
 * tree's last level and both conversions in one exchange on bundles made
 * ahead (mpc_arith_last). */
static cg_status wrap_carry_exact(cg_mpc *m, unsigned shift, const uint8_t *shifts, size_t n,
                                  const uint64_t *y, const uint8_t *bit, uint64_t *out,
                                  unsigned out_bits, cg_error *err)
{
    unsigned w = 0;
    uint64_t *v = carry_operand(m, shift, shifts, n, y, &w);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    /* pipelined from the split batches' size on: 3-bit digits (a 12-bit
     * carry's 4 digits: 68 message bits against 6-bit digits' 204), one
     * tree level riding the OT's answer flight and the next message, a
     * round fewer than the split batch; a smaller batch keeps its wide
     * digits and no tree level (a round fewer than the pipeline's ROT
     * headers and level) */
    const mpc_lt_arith ar = {out_bits, bit, out + n, out, n >= MPC_PIPE_MIN};
    cg_status st = mpc_less_than_arith(m, w, n, v, &ar, err);
    cg_free(v);
    return st;
}

cg_status mpc_trunc_lift(cg_mpc *m, unsigned bits, unsigned out_bits, const uint8_t *shifts,
                         size_t n, const uint64_t *x, uint64_t *out, cg_error *err)
{
    return mpc_trunc_impl(m, bits, out_bits, 0, shifts, n, x, out, m->exact, err);
}

cg_status mpc_trunc_impl(cg_mpc *m, unsigned bits, unsigned out_bits, unsigned shift,
                         const uint8_t *shifts, size_t n, const uint64_t *x, uint64_t *out,
                         bool exact, cg_error *err)
{
    uint64_t half = 1ull << (bits - 1), offset = 1ull << (bits - 2), mask = mpc_mask(out_bits);
    /* Shares come in mod 2^bits and leave mod 2^out_bits: the identity
     * below holds over the integers, so only the wrap and carry bits'
     * arithmetic shares need the wider ring, which their conversion gives
     * at no extra count. */
    size_t np = exact ? 2 * n : n, cap = np ? np : 1; /* the COT's entries */
    uint8_t *bit = cg_alloc(cap);
    uint64_t *prod = cg_alloc(cap * sizeof *prod);
    uint64_t *y = cg_alloc((n ? n : 1) * sizeof *y);
    if (!bit || !prod || !y) {
        cg_free(bit);
        cg_free(prod);
        cg_free(y);
        return cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    }
    /* y = x + 2^(l-2) lies in [0, 2^(l-1)), so its top bit is 0 and the
     * wrap bit of the shares is msb(y0) OR msb(y1) = m0 + m1 - m0 m1. */
    cg_mpc_add_public(m, bits, n, x, offset, y);
    for (size_t i = 0; i < n; i++) bit[i] = (y[i] & half) != 0;
    /* The shares' floors lose exactly the carry of the low bits; adding it
     * back makes the result floor(x / 2^sh). Exact: wrap and carry from the
     * comparison and daBits (prod[i] the wrap's shares, prod[n + i] the
     * carry's); else the wrap's product from one COT. */
    cg_status st = CG_OK;
    if (exact && n <= TRUNC_BUNDLE_MAX) {
        st = wrap_carry_exact(m, shift, shifts, n, y, bit, prod, out_bits, err);
        for (size_t i = 0; st == CG_OK && i < n; i++) {
            unsigned sh = shifts ? shifts[i] : shift;
            uint64_t r = (y[i] >> sh) - shl_ring(prod[i], bits - sh) + prod[n + i];
            if (m->party == CG_SERVER) r -= offset >> sh;
            out[i] = r & mask;
        }
    } else {
        /* the COT batch: entry i < n the wrap term top0 * top1, entry n + i
         * (exact only) the carry's c0 * c1 (its B2A) */
        if (exact) st = low_carry_bits(m, shift, shifts, n, y, bit + n, err);
        /* the wrap enters as w 2^(bits - sh) mod 2^out_bits: w mod
         * 2^(out_bits - bits + sh) is all it needs, so its COT is that wide;
         * the carry's, out_bits */
        uint8_t *wd = cg_alloc(cap);
        if (st == CG_OK && !wd) st = cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
        for (size_t i = 0; st == CG_OK && i < np; i++) {
            unsigned need = out_bits - bits + (shifts ? shifts[i % n] : shift);
            wd[i] = (uint8_t)(i >= n || need >= out_bits ? out_bits : need ? need : 1);
        }
        mpc_prof_push(m, "trunc.cot");
        if (st == CG_OK && m->party == CG_SERVER) {
            uint64_t *delta = cg_alloc(cap * sizeof *delta);
            if (!delta) st = cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
            else {
                for (size_t i = 0; i < np; i++) delta[i] = bit[i];
                st = cg_cot_send_w(m->ot.send, np, wd, delta, prod, err);
                for (size_t i = 0; st == CG_OK && i < np; i++) prod[i] = (0 - prod[i]) & mask;
                cg_free(delta);
            }
        } else if (st == CG_OK) {
            st = cg_cot_recv_w_begin(m->ot.recv, np, wd, bit, prod, err);
            if (st == CG_OK) st = cg_cot_recv_w_end(m->ot.recv, np, wd, bit, prod, err);
        }
        mpc_prof_pop(m);
        cg_free(wd);
        for (size_t i = 0; st == CG_OK && i < n; i++) {
            unsigned sh = shifts ? shifts[i] : shift;
            uint64_t wrap = (bit[i] - prod[i]) & mask; /* this party's share of w */
            uint64_t r = (y[i] >> sh) - shl_ring(wrap, bits - sh);
            if (m->party == CG_SERVER) r -= offset >> sh;
            if (exact) r += bit[n + i] - 2 * prod[n + i];
            out[i] = r & mask;
        }
    }
    cg_free(bit);
    cg_free(prod);
    cg_free(y);
    return mpc_fail(m, st);
}

cg_status mpc_drelu_trunc(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, size_t K,
                          const uint64_t *c, uint8_t *dout, size_t nt, const uint8_t *shifts,
                          const uint64_t *t, uint64_t *tout, cg_error *err)
{
    size_t nd, all;
    if (!cg_mul_size(n, K, &nd) || nd > SIZE_MAX / 2 - nt)
        return cg_error_set(err, CG_ERR_ARG, "drelu_trunc: batch too large");
    all = nd + nt;
    /* Beyond the bundles' batch (or approximate): the two calls. */
    if (!m->exact || all > TRUNC_BUNDLE_MAX) {
        CG_TRY(mpc_drelu_offsets(m, bits, n, x, K, c, dout, err));
        return nt ? mpc_trunc_var(m, bits, 0, shifts, nt, t, tout, err) : CG_OK;
    }
    bool server = m->party == CG_SERVER;
    uint64_t low = mpc_mask(bits - 1), mask = mpc_mask(bits), offset = 1ull << (bits - 2);
    unsigned w = bits - 1;
    for (size_t i = 0; i < nt; i++)
        if (shifts[i] > w) w = shifts[i];
    uint64_t *v = cg_alloc((all ? all : 1) * sizeof *v), *y = cg_alloc((nt ? nt : 1) * sizeof *y);
    uint64_t *alt = cg_alloc((all ? all : 1) * sizeof *alt);
    uint64_t *aor = cg_alloc((all ? all : 1) * sizeof *aor);
    uint8_t *priv = cg_alloc(all ? all : 1);
    cg_status st = CG_OK;
    if (!v || !y || !alt || !aor || !priv) {
        st = cg_error_set(err, CG_ERR_NOMEM, "drelu_trunc: out of memory");
        goto done;
    }
    /* One comparison per DReLU (the server adds the offset: any split of
     * x + c_k serves, mpc_drelu_multi) and per truncation's carry, all at
     * the widest width (the shorter ones' top digits are 0 on both sides)
     * with arithmetic results, whose low bit is a boolean share. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++) {
            uint64_t sv = (x[i] + (server ? c[k] : 0)) & low;
            v[i * K + k] = server ? low - sv : sv;
            priv[i * K + k] = 0;
        }
    for (size_t i = 0; i < nt; i++) {
        uint64_t lk = mpc_mask(shifts[i]);
        y[i] = (t[i] + (server ? offset : 0)) & mask;
        priv[nd + i] = (y[i] >> (bits - 1)) & 1;
        v[nd + i] = server ? lk - (y[i] & lk) : y[i] & lk;
    }
    const mpc_lt_arith ar = {bits, priv, alt, aor, false};
    st = mpc_less_than_arith(m, w, all, v, &ar, err);
    for (size_t i = 0; st == CG_OK && i < n; i++)
        for (size_t k = 0; k < K; k++) {
            uint64_t sv = x[i] + (server ? c[k] : 0);
            dout[i * K + k] = (uint8_t)((alt[i * K + k] ^ (sv >> (bits - 1)) ^ server) & 1);
        }
    for (size_t i = 0; st == CG_OK && i < nt; i++) {
        unsigned sh = shifts[i];
        uint64_t r = (y[i] >> sh) - shl_ring(aor[nd + i], bits - sh) + alt[nd + i];
        if (server) r -= offset >> sh;
        tout[i] = r & mask;
    }
done:
    if (priv) cg_secure_zero(priv, all ? all : 1);
    cg_free(v);
    cg_free(y);
    cg_free(alt);
    cg_free(aor);
    cg_free(priv);
    return mpc_fail(m, st);
}
