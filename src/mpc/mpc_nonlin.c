/* Non-linear functions on shares composed from the basic protocols; each
 * mirrors its plaintext reference in fxp_ref.c step for step. */
#include <math.h>

#include "mpc/mpc_internal.h"

/* Runs a protocol step; on failure jumps to the function's cleanup. */
/* out = floor-ish(c * x / 2^s) for a public fixed-point constant c. */
static cg_status mul_const_trunc(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, double c,
                                 uint64_t *out, cg_error *err)
{
    uint64_t k = (uint64_t)cg_fxp_encode(f, c);
    cg_mpc_mul_public(m, f.ring_bits, n, x, k, out);
    return cg_mpc_trunc(m, f.ring_bits, f.frac_bits, n, out, out, err);
}

/* GELU's sign tests: pos = [x >= 0] and inside = [-thr <= x <= thr], the
 * latter as [x + thr >= 0] xor [x - thr - 1 >= 0] (the second implies the
 * first). All three compare the client's same share bits, so they share
 * one set of OTs; and they run on the shares reduced mod 2^(l-s), which
 * keep every sign for |x| < 2^(l-s-2) (the documented input range; the
 * reference wraps the same way beyond it): 24-bit instead of 36-bit
 * comparisons at l = 37, s = 12. cmp needs 3n bytes. */
static cg_status gelu_tests(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, double thr,
                            uint8_t *cmp, uint8_t *inside, uint64_t *tmp, cg_error *err)
{
    unsigned mb = f.ring_bits - f.frac_bits;
    uint64_t mmask = mpc_mask(mb), t = (uint64_t)cg_fxp_encode(f, thr);
    const uint64_t offs[3] = {0, t & mmask, (0 - t - 1) & mmask};
    for (size_t i = 0; i < n; i++) tmp[i] = x[i] & mmask;
    CG_TRY(mpc_drelu_multi_pipe(m, mb, n, tmp, 3, offs, cmp, err));
    for (size_t i = 0; i < n; i++) inside[i] = cmp[n + i] ^ cmp[2 * n + i];
    return CG_OK;
}

void mpc_gelu_needs(cg_fxp f, size_t n, mpc_stock_req *req)
{
    /* relu's select and the final mux; the square; w z (ring widths as below) */
    req[0] = (mpc_stock_req){MPC_POOL_SEL, f.ring_bits, 2 * n};
    req[1] = (mpc_stock_req){MPC_POOL_SQ, 2 * f.frac_bits + 5, n};
    req[2] = (mpc_stock_req){MPC_POOL_MUL, 2 * f.frac_bits + 1, n};
}

cg_status cg_mpc_gelu(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                      cg_error *err)
{
    unsigned l = f.ring_bits, s = f.frac_bits;
    CG_TRY(mpc_check(m, l, 8, "gelu", err));
    if (s < 4 || 2 * (s + 4) >= l - 2)
        return cg_error_set(err, CG_ERR_PARAM, "gelu: format (%u, %u) leaves no headroom", l, s);
    uint64_t mask = mpc_mask(l);
    if (n > SIZE_MAX / 32) return cg_error_set(err, CG_ERR_ARG, "gelu: batch too large");
    enum { R, Y, Y2, Z, W, TB, NBUF };
    uint64_t *b[NBUF] = {0};
    uint8_t *pos = cg_alloc(n ? n : 1), *inside = cg_alloc(n ? n : 1);
    uint8_t *sh = cg_alloc(4 * (n ? n : 1));
    cg_status st = CG_OK;
    for (int i = 0; i < NBUF; i++)
        if (!(b[i] = cg_alloc((i == TB ? 4 : 1) * (n ? n : 1) * sizeof(uint64_t))))
            st = CG_ERR_NOMEM;
    if (st != CG_OK || !pos || !inside || !sh) {
        st = cg_error_set(err, CG_ERR_NOMEM, "gelu: out of memory");
        goto done;
    }
    uint8_t *cmp = cg_alloc(3 * (n ? n : 1));
    if (!cmp) {
        st = cg_error_set(err, CG_ERR_NOMEM, "gelu: out of memory");
        goto done;
    }
    st = gelu_tests(m, f, n, x, CG_FXP_GELU_T, cmp, inside, b[Y], err);
    for (size_t i = 0; st == CG_OK && i < n; i++) pos[i] = cmp[i];
    cg_free(cmp);
    if (st != CG_OK) goto done;
    /* The polynomial only counts where |x| <= T (elsewhere the final mux
     * drops it), so its products run in narrow rings that hold them there,
     * on the shares reduced mod 2^k, and the truncations after them lift
     * the results back to l bits at the cost of plain ones (fewer and
     * shorter COTs than l-bit products). y = |x| has y^2 = x^2, which a
     * ring of ksq = 2s + 5 bits holds with the truncation's headroom (x^2 <
     * 7.3 * 2^(2s) for T = 2.7), so the square needs no y and runs in the
     * round trip of relu(x)'s select. */
    const unsigned ksq = 2 * s + 5, kmul = 2 * s + 1;
    /* the material of the select, square, product and mux below in one COT
     * round trip (none if cg_mpc_prepare made it), so that each of them is
     * one exchange */
    mpc_stock_req req[MPC_GELU_REQS];
    mpc_gelu_needs(f, n, req);
    MPC_STEP(mpc_stock(m, MPC_GELU_REQS, req, err));
    m->pool_on = true;
    const uint64_t ksmask = mpc_mask(ksq), kmmask = mpc_mask(kmul);
    uint64_t one = 1ull << s;
    for (size_t i = 0; i < n; i++) b[W][i] = x[i] & ksmask;
    MPC_STEP(mpc_select_square(m, l, n, pos, x, b[R], ksq, b[W], b[Y2], err));
    /* relu(x) and y = |x| = 2 relu(x) - x. */
    for (size_t i = 0; i < n; i++) b[Y][i] = (2 * b[R][i] - x[i]) & mask;
    /* One batch for the truncations that do not depend on each other:
     * y^2 >> s, (B y) >> s, (A y) >> s and x >> 1, all in range in the
     * narrow ring where |x| <= T. */
    uint64_t ka = (uint64_t)cg_fxp_encode(f, CG_FXP_GELU_A);
    uint64_t kb = (uint64_t)cg_fxp_encode(f, CG_FXP_GELU_B);
    for (size_t i = 0; i < n; i++) {
        b[TB][i] = b[Y2][i];
        b[TB][n + i] = (b[Y][i] * kb) & ksmask;
        b[TB][2 * n + i] = (b[Y][i] * ka) & ksmask;
        b[TB][3 * n + i] = x[i] & ksmask;
        sh[i] = sh[n + i] = sh[2 * n + i] = (uint8_t)s;
        sh[3 * n + i] = 1;
    }
    MPC_STEP(mpc_trunc_lift(m, ksq, l, sh, 4 * n, b[TB], b[TB], err));
    /* z = A y^2 - B y + C */
    MPC_STEP(mul_const_trunc(m, f, n, b[TB], CG_FXP_GELU_A, b[Z], err));
    for (size_t i = 0; i < n; i++) b[Z][i] = (b[Z][i] - b[TB][n + i]) & mask;
    cg_mpc_add_public(m, l, n, b[Z], (uint64_t)cg_fxp_encode(f, CG_FXP_GELU_C), b[Z]);
    /* w = z + A y - D; P = w z + E. For |x| <= T, z is in [3.70, 4.58] and
     * w in [-4.14, -3.58], so with w' = w + 4 and z' = z - 4 (whole
     * numbers again) |w' z'| < 0.24 * 2^(2s), which a ring of 2s + 1 bits
     * holds, and floor(w z / 2^s) = floor(w' z' / 2^s) + 4 w' - 4 z' - 16 * 2^s. */
    for (size_t i = 0; i < n; i++) b[W][i] = (b[TB][2 * n + i] + b[Z][i]) & mask;
    cg_mpc_add_public(m, l, n, b[W], (4 * one - (uint64_t)cg_fxp_encode(f, CG_FXP_GELU_D)) & mask,
                      b[W]); /* w' */
    cg_mpc_add_public(m, l, n, b[Z], (0 - 4 * one) & mask, b[Z]); /* z' */
    for (size_t i = 0; i < n; i++) {
        b[Y2][i] = b[W][i] & kmmask;
        b[Y][i] = b[Z][i] & kmmask;
    }
    MPC_STEP(cg_mpc_mul(m, kmul, n, b[Y2], b[Y], b[Y2], err));
    for (size_t i = 0; i < n; i++) sh[i] = (uint8_t)s;
    MPC_STEP(mpc_trunc_lift(m, kmul, l, sh, n, b[Y2], b[Y2], err));
    for (size_t i = 0; i < n; i++) b[W][i] = (b[Y2][i] + 4 * b[W][i] - 4 * b[Z][i]) & mask;
    cg_mpc_add_public(m, l, n, b[W], ((uint64_t)cg_fxp_encode(f, CG_FXP_GELU_E) - 16 * one) & mask,
                      b[W]);
    /* inner = x/2 + P */
    for (size_t i = 0; i < n; i++) b[W][i] = (b[W][i] + b[TB][3 * n + i]) & mask;
    MPC_STEP(cg_mpc_mux(m, l, n, inside, b[W], b[R], out, err));
done:
    m->pool_on = false;
    for (int i = 0; i < NBUF; i++) cg_free(b[i]);
    cg_free(pos);
    cg_free(inside);
    cg_free(sh);
    return st;
}

cg_status cg_mpc_gelu_accurate(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                               cg_error *err)
{
    static const double d[7] = CG_FXP_GELU_ACC_COEFFS;
    unsigned l = f.ring_bits, s = f.frac_bits, ts = s + 5, sd = s + 2;
    CG_TRY(mpc_check(m, l, 8, "gelu", err));
    if (s < 4 || 2 * s + 13 > l)
        return cg_error_set(err, CG_ERR_PARAM, "gelu: format (%u, %u) leaves no headroom", l, s);
    if (n > SIZE_MAX / 32) return cg_error_set(err, CG_ERR_ARG, "gelu: batch too large");
    uint64_t mask = mpc_mask(l);
    const cg_fxp fd = {l, sd}, fa = {l, sd + ts};
    size_t cap = n ? n : 1;
    enum { R, T1, T2, T3, A, TB, P, NBUF };
    uint64_t *b[NBUF] = {0};
    uint8_t *cmp = cg_alloc(3 * cap), *sh = cg_alloc(2 * cap), *inside = cg_alloc(cap);
    cg_status st = CG_OK;
    for (int i = 0; i < NBUF; i++)
        if (!(b[i] = cg_alloc((i == TB ? 2 : 1) * cap * sizeof(uint64_t)))) st = CG_ERR_NOMEM;
    if (st != CG_OK || !cmp || !sh || !inside) {
        st = cg_error_set(err, CG_ERR_NOMEM, "gelu: out of memory");
        goto done;
    }
    MPC_STEP(gelu_tests(m, f, n, x, CG_FXP_GELU_ACC_T, cmp, inside, b[T1], err));
    /* relu(x); t = |x| / 4 = (2 relu(x) - x) * 2^3 with ts = s + 5 fraction bits. */
    MPC_STEP(cg_mpc_select(m, l, n, cmp, x, b[R], err));
    for (size_t i = 0; i < n; i++) b[T1][i] = ((2 * b[R][i] - x[i]) << 3) & mask;
    MPC_STEP(cg_mpc_square(m, l, n, b[T1], b[T2], err));
    MPC_STEP(mpc_trunc_var(m, l, ts, NULL, n, b[T2], b[T2], err));
    MPC_STEP(cg_mpc_mul(m, l, n, b[T1], b[T2], b[T3], err));
    MPC_STEP(mpc_trunc_var(m, l, ts, NULL, n, b[T3], b[T3], err));
    /* A = d0 + d1 t + d2 t^2 + d3 t^3 and B = d4 t + d5 t^2 + d6 t^3 (local);
     * B >> ts and x >> 1 in one truncation batch. */
    uint64_t k[7];
    for (int j = 0; j < 7; j++) k[j] = (uint64_t)cg_fxp_encode(fd, d[j]);
    for (size_t i = 0; i < n; i++) {
        uint64_t t1 = b[T1][i], t2 = b[T2][i], t3 = b[T3][i];
        b[A][i] = (k[1] * t1 + k[2] * t2 + k[3] * t3) & mask;
        b[TB][i] = (k[4] * t1 + k[5] * t2 + k[6] * t3) & mask;
        b[TB][n + i] = x[i] & mask;
        sh[i] = (uint8_t)ts;
        sh[n + i] = 1;
    }
    cg_mpc_add_public(m, l, n, b[A], (uint64_t)cg_fxp_encode(fa, d[0]), b[A]);
    MPC_STEP(mpc_trunc_var(m, l, 0, sh, 2 * n, b[TB], b[TB], err));
    /* Q = (A + t^3 B) >> (sd + ts - s); inner = x/2 + Q. */
    MPC_STEP(cg_mpc_mul(m, l, n, b[T3], b[TB], b[P], err));
    for (size_t i = 0; i < n; i++) b[P][i] = (b[P][i] + b[A][i]) & mask;
    MPC_STEP(mpc_trunc_var(m, l, sd + ts - s, NULL, n, b[P], b[P], err));
    for (size_t i = 0; i < n; i++) b[P][i] = (b[P][i] + b[TB][n + i]) & mask;
    MPC_STEP(cg_mpc_mux(m, l, n, inside, b[P], b[R], out, err));
done:
    for (int i = 0; i < NBUF; i++) cg_free(b[i]);
    cg_free(cmp);
    cg_free(sh);
    cg_free(inside);
    return mpc_fail(m, st);
}

cg_status cg_mpc_exp_neg(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                         cg_error *err)
{
    return mpc_exp_neg(m, f, n, x, false, out, err);
}

cg_status mpc_exp_neg(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, bool few_rounds,
                      uint64_t *out, cg_error *err)
{
    unsigned l = f.ring_bits, s = f.frac_bits;
    CG_TRY(mpc_check(m, l, 8, "exp", err));
    if (s < 4 || s > 20 || 2 * (s + 2) >= l - 2)
        return cg_error_set(err, CG_ERR_PARAM, "exp: format (%u, %u) unsupported", l, s);
    size_t K = s + 1, nk; /* thresholds k = 1..s+1 on l = floor(-x / ln2) */
    if (!cg_mul_size(n, K, &nk)) return cg_error_set(err, CG_ERR_ARG, "exp: batch too large");
    /* wl: the ring of the exponent's thresholds; ws: the square's; wd: the
     * shifted copies' (below) */
    const unsigned wl = l - 2 * s, ws = 2 * s + 3, wd = l > 3 * s + 3 ? l : 3 * s + 3;
    uint64_t mask = mpc_mask(l), lmask = mpc_mask(wl), smask = mpc_mask(ws), dmask = mpc_mask(wd);
    size_t cap = nk ? nk : 1;
    uint64_t *t = cg_alloc((n ? n : 1) * sizeof *t), *e = cg_alloc((n ? n : 1) * sizeof *e);
    uint64_t *d = cg_alloc(cap * sizeof *d);
    uint8_t *c = cg_alloc(cap), *onehot = cg_alloc(cap);
    cg_status st = CG_OK;
    if (!t || !e || !d || !c || !onehot) {
        st = cg_error_set(err, CG_ERR_NOMEM, "exp: out of memory");
        goto done;
    }
    /* L = floor(-x / ln2) = floor(-x K / 2^(2s)) (K = round(2^s / ln2); the
     * reference's two floors are one), from one exact truncation of the
     * product in both modes (0 <= -x K < 2^(l-2) by the precondition), so
     * L < 2^(l-2-2s). Its low bits' carry is what every threshold on the
     * product had in common: the thresholds c_k = [L >= k], k = 1..s+1,
     * then compare L's shares reduced to wl = l - 2s bits, where L - k
     * does not wrap (s + 1 < 2^(wl-2) as 2s + 6 < l): 13-bit instead of
     * 37-bit comparisons at l = 37, s = 12. They share the client's digit
     * OTs. */
    uint64_t kinv = (uint64_t)cg_fxp_encode(f, 1.0 / M_LN2), offs[32]; /* K = s + 1 <= 25 */
    for (size_t i = 0; i < n; i++) t[i] = ((0 - x[i]) * kinv) & mask;
    if (few_rounds) {
        /* Two rounds fewer, about 2.6 KB more per element: the thresholds
         * [-x K >= k 2^(2s)] on the l-bit product itself (no difference
         * wraps: k 2^(2s) <= (s+1) 2^(2s) < 2^(l-2)), and L = sum c_k from
         * their B2A (L clipped at s+1, where the result is 0). */
        for (size_t k = 0; k < K; k++) offs[k] = (0 - ((uint64_t)(k + 1) << (2 * s))) & mask;
        MPC_STEP(mpc_drelu_offsets(m, l, n, t, K, offs, c, err));
        MPC_STEP(cg_mpc_b2a(m, l, nk, c, d, err));
        for (size_t i = 0; i < n; i++) {
            uint64_t lv = 0;
            for (size_t k = 0; k < K; k++) lv += d[i * K + k];
            t[i] = lv & mask;
        }
    } else {
        MPC_STEP(mpc_trunc_impl(m, l, l, 2 * s, NULL, n, t, t, true, err));
        for (size_t i = 0; i < n; i++) e[i] = t[i] & lmask;
        for (size_t k = 0; k < K; k++) offs[k] = (0 - (uint64_t)(k + 1)) & lmask;
        MPC_STEP(mpc_drelu_offsets(m, wl, n, e, K, offs, c, err));
    }
    /* p = x + L ln2; q = p + 1.353. Where L > s the result is 0 (no
     * one-hot bit below is set), so L needs no clipping: q is garbage there
     * and dropped. Elsewhere q is in (0.65, 1.353], so q^2 < 2^(2s+1) and
     * the square runs in a ring of ws = 2s + 3 bits (fewer and shorter
     * COTs), its truncation lifting it to wd bits. */
    uint64_t ln2 = (uint64_t)cg_fxp_encode(f, M_LN2);
    for (size_t i = 0; i < n; i++) e[i] = (x[i] + t[i] * ln2) & mask;
    cg_mpc_add_public(m, l, n, e, (uint64_t)cg_fxp_encode(f, 1.353), e);
    for (size_t i = 0; i < n; i++) e[i] &= smask;
    MPC_STEP(cg_mpc_square(m, ws, n, e, e, err));
    {
        uint8_t *sh = onehot; /* the shifts, before onehot is filled */
        for (size_t i = 0; i < n; i++) sh[i] = (uint8_t)s;
        MPC_STEP(mpc_trunc_lift(m, ws, wd, sh, n, e, e, err));
    }
    /* A = c q2 + E 2^s (c = 0.3585, E = 0.344) in [0, 2^(2s+1)), and the
     * reference's e >> L is floor(A / 2^(s+L)) (floors of floors are one
     * floor) = floor(A 2^(s-L) / 2^(2s)) for L <= s: one selection of
     * the copies A 2^(s-k) by the one-hot [L == k] = c_k xor c_{k+1} (c_0
     * = 1; local on XOR shares since c is monotone), in wd >= 3s + 3 bits
     * where A 2^s < 2^(3s+1) = 2^(wd-2), then ONE truncation by 2s
     * (instead of s + 1 truncations of copies and their selection; 24
     * bits, not 25, keep its comparison at two AND levels). */
    cg_mpc_mul_public(m, wd, n, e, (uint64_t)cg_fxp_encode(f, 0.3585), e);
    cg_mpc_add_public(m, wd, n, e, (uint64_t)cg_fxp_encode(f, 0.344) << s, e);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++) {
            uint8_t ck = k == 0 ? (uint8_t)(m->party == CG_SERVER) : c[i * K + k - 1];
            onehot[i * K + k] = ck ^ c[i * K + k];
            d[i * K + k] = (e[i] << (s - k)) & dmask;
        }
    MPC_STEP(cg_mpc_select(m, wd, nk, onehot, d, d, err));
    for (size_t i = 0; i < n; i++) {
        uint64_t r = 0;
        for (size_t k = 0; k < K; k++) r += d[i * K + k];
        e[i] = r & dmask;
    }
    MPC_STEP(mpc_trunc_var(m, wd, 2 * s, NULL, n, e, e, err));
    for (size_t i = 0; i < n; i++) out[i] = e[i] & mask;
done:
    cg_free(t);
    cg_free(e);
    cg_free(d);
    cg_free(c);
    cg_free(onehot);
    return st;
}
