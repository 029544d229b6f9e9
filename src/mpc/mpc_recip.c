/* Reciprocal and inverse square root on shares, as inv_ext in fxp_ref.c
 * step for step, so in exact mode the results are equal bit for bit:
 * leading-bit one-hot, rescaling, chord lookup, optional Newton step,
 * rescaling back. */
#include <string.h>

#include "mpc/mpc_internal.h"

cg_status mpc_check_fmt(cg_mpc *m, cg_fxp f, const char *what, cg_error *err)
{
    CG_TRY(mpc_check(m, f.ring_bits, 8, what, err));
    if (f.frac_bits < 4 || f.frac_bits > 28 || f.ring_bits < 2u * f.frac_bits + 8)
        return cg_error_set(err, CG_ERR_PARAM, "%s: format (%u, %u) unsupported", what,
                            f.ring_bits, f.frac_bits);
    return CG_OK;
}

/* One-hot shares of the leading-bit position j in [0, J) of 0 < x < 2^J:
 * b_j = [x >= 2^j] from DReLU(x - 2^j) for j = 1..J-1 (b_0 = 1, b_J = 0),
 * and [msb == j] = b_j xor b_{j+1}, local because b is monotone. The nt
 * truncations tr by sh (also depending on x only) share the comparisons. */
static cg_status onehot_msb(cg_mpc *m, unsigned l, size_t n, size_t J, const uint64_t *x,
                            uint8_t *e, size_t nt, const uint8_t *sh, uint64_t *tr, cg_error *err)
{
    uint64_t mask = mpc_mask(l);
    size_t nb = n * (J - 1);
    uint64_t *d = mpc_alloc_u64(nb);
    uint8_t *b = cg_alloc(nb ? nb : 1);
    cg_status st = CG_OK;
    if (!d || !b) {
        st = cg_error_set(err, CG_ERR_NOMEM, "msb position: out of memory");
        goto done;
    }
    /* All thresholds test the same x: they share the client's digit OTs. */
    for (size_t j = 1; j < J; j++) d[j - 1] = (0 - (1ull << j)) & mask;
    MPC_STEP(mpc_drelu_trunc(m, l, n, x, J - 1, d, b, nt, sh, tr, tr, err));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < J; j++) {
            uint8_t lo = j == 0 ? (uint8_t)(m->party == CG_SERVER) : b[i * (J - 1) + j - 1];
            uint8_t hi = j + 1 == J ? 0 : b[i * (J - 1) + j];
            e[i * J + j] = lo ^ hi;
        }
done:
    cg_free(d);
    cg_free(b);
    return st;
}

/* nf families of rescaled copies of v selected by the one-hot e: out[f n +
 * i] = sum_j e[i J + j] sc(v_i, k[f J + j]), sc(v, k) = v 2^-k, for k > 0
 * a truncation by a public per-copy shift (rounding to nearest when
 * `round`: the server adds 2^(k-1) first), for k <= 0 a local product.
 * scale_prep lays out the truncations' inputs tr and shifts sh (returning
 * their count), scale_pick takes them truncated; all families'
 * truncations are one batch and their selections one exchange; copies
 * that are not selected may be garbage and are dropped. */
static size_t scale_prep(const cg_mpc *m, unsigned l, size_t n, size_t J, size_t nf, const int *k,
                         bool round, const uint64_t *v, uint64_t *tr, uint8_t *sh)
{
    size_t nt = 0;
    for (size_t f = 0; f < nf; f++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < J; j++) {
                int kj = k[f * J + j];
                if (kj <= 0) continue;
                uint64_t half = round && m->party == CG_SERVER ? 1ull << (kj - 1) : 0;
                tr[nt] = (v[i] + half) & mpc_mask(l);
                sh[nt++] = (uint8_t)kj;
            }
    return nt;
}

static cg_status scale_pick(cg_mpc *m, unsigned l, size_t n, size_t J, size_t nf, const int *k,
                            const uint8_t *e, const uint64_t *v, const uint64_t *tr,
                            uint64_t *out, cg_error *err)
{
    uint64_t mask = mpc_mask(l);
    size_t nJ = n * J * nf, nt = 0;
    uint64_t *cp = mpc_alloc_u64(nJ);
    uint8_t *ee = cg_alloc(nJ ? nJ : 1);
    cg_status st = CG_OK;
    if (!cp || !ee) {
        st = cg_error_set(err, CG_ERR_NOMEM, "rescale: out of memory");
        goto done;
    }
    for (size_t f = 0; f < nf; f++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < J; j++) {
                int kj = k[f * J + j];
                size_t at = (f * n + i) * J + j;
                cp[at] = kj > 0 ? tr[nt++] : (v[i] << (unsigned)-kj) & mask;
                ee[at] = e[i * J + j];
            }
    MPC_STEP(cg_mpc_select(m, l, nJ, ee, cp, cp, err));
    for (size_t fi = 0; fi < nf * n; fi++) {
        uint64_t r = 0;
        for (size_t j = 0; j < J; j++) r += cp[fi * J + j];
        out[fi] = r & mask;
    }
done:
    cg_free(cp);
    cg_free(ee);
    return st;
}

/* out = trunc(a * b) by shift (a product of two shared vectors). */
cg_status mpc_mul_trunc(cg_mpc *m, unsigned l, unsigned shift, size_t n, const uint64_t *a,
                           const uint64_t *b, uint64_t *out, cg_error *err)
{
    CG_TRY(cg_mpc_mul(m, l, n, a, b, out, err));
    return mpc_trunc_var(m, l, shift, NULL, n, out, out, err);
}

/* The steps of inv_ext in fxp_ref.c. extra: more fraction bits in the
 * result than x has (rsqrt only). The normalised u and its bin index come
 * from one rescaling (two families of copies), the chord's two entries
 * from one lookup of two tables, then one product and, after the optional
 * Newton step, one rescaling that rounds and undoes the normalisation at
 * once (their shifts add: floors of floors are one floor). */
cg_status mpc_recip_rsqrt(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                             bool sqrt_mode, unsigned extra, cg_error *err)
{
    unsigned l = f.ring_bits, s = f.frac_bits;
    const char *what = sqrt_mode ? "rsqrt" : "recip";
    CG_TRY(mpc_check_fmt(m, f, what, err));
    size_t J = l - 2, nJ; /* leading-bit positions of 0 < x < 2^(l-2) */
    if (!cg_mul_size(n, J, &nJ) || nJ > SIZE_MAX / 16)
        return cg_error_set(err, CG_ERR_ARG, "%s: batch too large", what);
    if (n == 0) return CG_OK;
    cg_fxp_inv *t = cg_alloc(sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "%s: out of memory", what);
    cg_status st = cg_fxp_inv_init(f, sqrt_mode, t, err);
    if (st != CG_OK) {
        cg_free(t);
        return st;
    }
    uint64_t mask = mpc_mask(l);
    int ib = (int)t->ib, sh = (int)t->g + (int)s - ib;
    int k[2 * 64], kout[64];
    for (size_t j = 0; j < J; j++) {
        int kj = (int)j - (int)s; /* X = U 2^k */
        if (sqrt_mode && (kj & 1)) kj -= 1; /* even exponent, as the reference */
        k[j] = kj;
        k[J + j] = kj + (int)s - ib; /* the bin index u >> (s - ib) */
        kout[j] = sqrt_mode ? kj / 2 - (int)extra : kj;
    }
    size_t N = (size_t)1 << t->in_bits;
    uint64_t *tab = mpc_alloc_u64(2 * N), *ui = mpc_alloc_u64(2 * n), *ad = mpc_alloc_u64(2 * n);
    uint64_t *y = mpc_alloc_u64(n), *w = mpc_alloc_u64(n), *p = mpc_alloc_u64(n);
    uint64_t *tr = mpc_alloc_u64(2 * nJ);
    uint8_t *e = cg_alloc(nJ ? nJ : 1), *tsh = cg_alloc(2 * nJ);
    if (!tab || !ui || !ad || !y || !w || !p || !e || !tr || !tsh) {
        st = cg_error_set(err, CG_ERR_NOMEM, "%s: out of memory", what);
        goto done;
    }
    for (size_t i = 0; i < N; i++) {
        tab[i] = (uint64_t)t->a[i] & mask;
        tab[N + i] = (uint64_t)t->d[i] & mask;
    }
    /* the first rescaling's truncations depend on x only: they share the
     * one-hot's comparisons */
    size_t nt = scale_prep(m, l, n, J, 2, k, false, x, tr, tsh);
    MPC_STEP(onehot_msb(m, l, n, J, x, e, nt, tsh, tr, err));
    MPC_STEP(scale_pick(m, l, n, J, 2, k, e, x, tr, ui, err));
    const uint64_t *u = ui, *idx = ui + n;
    /* y = a 2^(s - ib) + d r, r = u - idx 2^(s - ib): the tables are
     * public, so each party offers d times its own share of r in the
     * lookup's round trip (mpc_lut_chord) and no product follows */
    for (size_t i = 0; i < n; i++) p[i] = (u[i] - (idx[i] << (s - ib))) & mask;
    if (s > (unsigned)ib) {
        MPC_STEP(mpc_lut_chord(m, t->in_bits, l, tab, tab + N, n, idx, p, ad, ad + n, w, err));
        for (size_t i = 0; i < n; i++) y[i] = ((ad[i] << (s - ib)) + w[i]) & mask;
    } else {
        MPC_STEP(mpc_lut_multi(m, t->in_bits, l, 1, m->party == CG_SERVER ? tab : NULL, n, idx, ad,
                           err));
        for (size_t i = 0; i < n; i++) y[i] = (ad[i] << (s - ib)) & mask;
    }
    uint64_t two = (uint64_t)cg_fxp_encode(f, 2.0), three = (uint64_t)cg_fxp_encode(f, 3.0);
    for (unsigned it = 0; it < t->newton; it++) {
        /* w = round(y / 2^sh); then y = w (2 - u w) by s, or w (3 - u w^2) by s + 1 */
        cg_mpc_add_public(m, l, n, y, 1ull << (sh - 1), w);
        MPC_STEP(mpc_trunc_var(m, l, (unsigned)sh, NULL, n, w, w, err));
        if (sqrt_mode) {
            MPC_STEP(cg_mpc_square(m, l, n, w, p, err));
            MPC_STEP(mpc_trunc_var(m, l, s, NULL, n, p, p, err));
            MPC_STEP(mpc_mul_trunc(m, l, s, n, u, p, p, err));
        } else {
            MPC_STEP(mpc_mul_trunc(m, l, s, n, u, w, p, err));
        }
        for (size_t i = 0; i < n; i++) p[i] = (0 - p[i]) & mask;
        cg_mpc_add_public(m, l, n, p, sqrt_mode ? three : two, p);
        MPC_STEP(cg_mpc_mul(m, l, n, w, p, y, err));
        sh = sqrt_mode ? (int)s + 1 : (int)s;
    }
    for (size_t j = 0; j < J; j++) {
        int kj = sh + kout[j];
        k[j] = kj > (int)t->cap ? (int)t->cap : kj;
    }
    nt = scale_prep(m, l, n, J, 1, k, true, y, tr, tsh);
    if (nt) MPC_STEP(mpc_trunc_var(m, l, 0, tsh, nt, tr, tr, err));
    MPC_STEP(scale_pick(m, l, n, J, 1, k, e, y, tr, out, err));
done:
    cg_free(t);
    cg_free(tab);
    cg_free(ui);
    cg_free(ad);
    cg_free(y);
    cg_free(w);
    cg_free(p);
    cg_free(e);
    cg_free(tr);
    cg_free(tsh);
    return mpc_fail(m, st);
}

cg_status cg_mpc_recip(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                       cg_error *err)
{
    return mpc_recip_rsqrt(m, f, n, x, out, false, 0, err);
}

cg_status cg_mpc_rsqrt(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                       cg_error *err)
{
    return mpc_recip_rsqrt(m, f, n, x, out, true, 0, err);
}

