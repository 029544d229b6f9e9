/* Table lookup on shares (one 1-of-N OT per element) and ring changes:
 * signed extension to a larger power-of-two ring, local reduction to a
 * smaller one. */
#include "mpc/mpc_internal.h"

#define LUT_MAX_IN_BITS 8

cg_status cg_mpc_lut(cg_mpc *m, unsigned in_bits, unsigned out_bits, const uint64_t *table,
                     size_t n, const uint64_t *x, uint64_t *out, cg_error *err)
{
    return mpc_lut_multi(m, in_bits, out_bits, 1, table, n, x, out, err);
}

cg_status mpc_lut_multi(cg_mpc *m, unsigned in_bits, unsigned out_bits, size_t T,
                        const uint64_t *tables, size_t n, const uint64_t *x, uint64_t *out,
                        cg_error *err)
{
    CG_TRY(mpc_check(m, out_bits, 1, "lut", err));
    if (in_bits < 1 || in_bits > LUT_MAX_IN_BITS)
        return cg_error_set(err, CG_ERR_PARAM, "lut: index of %u bits outside [1, %d]", in_bits,
                            LUT_MAX_IN_BITS);
    if (m->party == CG_SERVER && !tables)
        return cg_error_set(err, CG_ERR_ARG, "lut: the server needs the table");
    unsigned N = 1u << in_bits;
    uint64_t imask = N - 1, omask = mpc_mask(out_bits);
    size_t nmsg, ni;
    if (T < 1 || !cg_mul_size(n, T, &ni) || !cg_mul_size(ni, N, &nmsg))
        return cg_error_set(err, CG_ERR_ARG, "lut: batch too large");
    cg_status st;
    if (m->party == CG_SERVER) {
        /* Row i*T + t is table t rotated by the server's share, masked by
         * r: entry j = T_t[(j + x_s) mod N] - r, so the client's pick j =
         * x_c gives T_t[x] - r and the server keeps r. */
        uint64_t *msgs = cg_alloc((nmsg ? nmsg : 1) * sizeof *msgs);
        uint64_t *r = cg_alloc((ni ? ni : 1) * sizeof *r);
        if (!msgs || !r) {
            cg_free(msgs);
            cg_free(r);
            return cg_error_set(err, CG_ERR_NOMEM, "lut: out of memory");
        }
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < T; t++) {
                uint64_t xs = x[i] & imask, *row = msgs + (i * T + t) * N;
                const uint64_t *tab = tables + t * N;
                uint64_t ri = r[i * T + t] = cg_prg_u64(&m->prg) & omask;
                for (unsigned j = 0; j < N; j++) row[j] = (tab[(j + xs) & imask] - ri) & omask;
            }
        mpc_prof_push(m, "lut");
        st = cg_otn_send(m->ot.send, ni, N, out_bits, msgs, err);
        mpc_prof_pop(m);
        if (st == CG_OK)
            for (size_t i = 0; i < ni; i++) out[i] = r[i];
        cg_free(msgs);
        cg_free(r);
    } else {
        uint8_t *choice = cg_alloc(ni ? ni : 1);
        if (!choice) return cg_error_set(err, CG_ERR_NOMEM, "lut: out of memory");
        for (size_t i = 0; i < ni; i++) choice[i] = (uint8_t)(x[i / T] & imask);
        /* out may alias x: the choices are copied out first. */
        mpc_prof_push(m, "lut");
        st = cg_otn_recv(m->ot.recv, ni, N, out_bits, choice, out, err);
        mpc_prof_pop(m);
        cg_free(choice);
    }
    return mpc_fail(m, st);
}

cg_status cg_mpc_extend(cg_mpc *m, unsigned from_bits, unsigned to_bits, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, to_bits, 2, "extend", err));
    if (from_bits < 2 || from_bits > to_bits)
        return cg_error_set(err, CG_ERR_PARAM, "extend: %u -> %u bits is no extension", from_bits,
                            to_bits);
    uint64_t fmask = mpc_mask(from_bits), tmask = mpc_mask(to_bits);
    if (from_bits == to_bits) {
        for (size_t i = 0; i < n; i++) out[i] = x[i] & fmask;
        return CG_OK;
    }
    uint64_t half = 1ull << (from_bits - 1), offset = 1ull << (from_bits - 2);
    uint64_t *y = cg_alloc((n ? n : 1) * sizeof *y), *prod = cg_alloc((n ? n : 1) * sizeof *prod);
    uint8_t *top = cg_alloc(n ? n : 1);
    uint64_t *delta = m->party == CG_SERVER ? cg_alloc((n ? n : 1) * sizeof *delta) : NULL;
    cg_status st = CG_OK;
    if (!y || !prod || !top || (m->party == CG_SERVER && !delta)) {
        st = cg_error_set(err, CG_ERR_NOMEM, "extend: out of memory");
        goto done;
    }
    /* As in the truncation: y = x + 2^(f-2) lies in [0, 2^(f-1)), so the
     * shares wrap mod 2^f exactly when either has its top bit set, and
     * y = y0 + y1 - w 2^f over the integers with w = m0 + m1 - m0 m1. */
    for (size_t i = 0; i < n; i++) {
        y[i] = (x[i] + (m->party == CG_SERVER ? offset : 0)) & fmask;
        top[i] = (y[i] & half) != 0;
    }
    if (m->party == CG_SERVER) {
        for (size_t i = 0; i < n; i++) delta[i] = top[i];
        mpc_prof_push(m, "extend.cot");
        st = cg_cot_send(m->ot.send, n, to_bits, delta, prod, err);
        mpc_prof_pop(m);
        for (size_t i = 0; st == CG_OK && i < n; i++) prod[i] = (0 - prod[i]) & tmask;
    } else {
        mpc_prof_push(m, "extend.cot");
        st = cg_cot_recv(m->ot.recv, n, to_bits, top, prod, err);
        mpc_prof_pop(m);
    }
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) {
            uint64_t wrap = (top[i] - prod[i]) & tmask; /* this party's share of w */
            uint64_t r = y[i] - (wrap << from_bits);
            if (m->party == CG_SERVER) r -= offset;
            out[i] = r & tmask;
        }
done:
    cg_free(y);
    cg_free(prod);
    cg_free(top);
    cg_free(delta);
    return mpc_fail(m, st);
}

cg_status cg_mpc_reduce(cg_mpc *m, unsigned from_bits, unsigned to_bits, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err)
{
    (void)m;
    if (to_bits < 1 || to_bits > from_bits || from_bits > 64)
        return cg_error_set(err, CG_ERR_PARAM, "reduce: %u -> %u bits is no reduction", from_bits,
                            to_bits);
    /* 2^to divides 2^from, so reducing each share reduces their sum. */
    uint64_t mask = mpc_mask(to_bits);
    for (size_t i = 0; i < n; i++) out[i] = x[i] & mask;
    return CG_OK;
}

cg_status mpc_lut_chord(cg_mpc *m, unsigned in_bits, unsigned bits, const uint64_t *A,
                        const uint64_t *D, size_t n, const uint64_t *x, const uint64_t *r,
                        uint64_t *a, uint64_t *d, uint64_t *p, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "lut", err));
    if (in_bits < 1 || in_bits > LUT_MAX_IN_BITS)
        return cg_error_set(err, CG_ERR_PARAM, "lut: index of %u bits outside [1, %d]", in_bits,
                            LUT_MAX_IN_BITS);
    unsigned N = 1u << in_bits;
    uint64_t imask = N - 1, omask = mpc_mask(bits);
    bool server = m->party == CG_SERVER;
    /* The server offers A, D and D r0 (three instances per element), the
     * client D r1 (one): each table rotated by the sender's index share
     * and masked, the receiver choosing with its own. */
    size_t ts = server ? 3 : 1, tr = server ? 1 : 3, ns, nr, nmsg;
    if (!cg_mul_size(n, 3, &ns) || !cg_mul_size(ns, N, &nmsg))
        return cg_error_set(err, CG_ERR_ARG, "lut: batch too large");
    ns = n * ts;
    nr = n * tr;
    uint64_t *msgs = cg_alloc((nmsg ? nmsg : 1) * sizeof *msgs);
    uint64_t *mk = cg_alloc((ns ? ns : 1) * sizeof *mk), *got = cg_alloc((nr ? nr : 1) * sizeof *got);
    uint8_t *choice = cg_alloc(nr ? nr : 1);
    cg_status st = CG_OK;
    if (!msgs || !mk || !got || !choice) {
        st = cg_error_set(err, CG_ERR_NOMEM, "lut: out of memory");
        goto done;
    }
    cg_prg_bytes(&m->prg, mk, (ns ? ns : 1) * sizeof *mk);
    for (size_t i = 0; i < n; i++) {
        uint64_t xs = x[i] & imask;
        for (size_t t = 0; t < ts; t++) {
            uint64_t *row = msgs + (i * ts + t) * N, mi = mk[i * ts + t] &= omask;
            for (unsigned j = 0; j < N; j++) {
                size_t at = (j + xs) & imask;
                uint64_t v = server && t == 0 ? A[at] : server && t == 1 ? D[at] : D[at] * r[i];
                row[j] = (v - mi) & omask;
            }
        }
        for (size_t t = 0; t < tr; t++) choice[i * tr + t] = (uint8_t)xs;
    }
    mpc_prof_push(m, "lut.chord");
    st = mpc_ot_reserve(m, ns * in_bits, nr * in_bits, err);
    if (st == CG_OK && nr) st = cg_otn_recv_begin(m->ot.recv, nr, N, bits, choice, got, err);
    if (st == CG_OK && ns) st = cg_otn_send(m->ot.send, ns, N, bits, msgs, err);
    if (st == CG_OK && nr) st = cg_otn_recv_end(m->ot.recv, nr, N, bits, choice, got, err);
    mpc_prof_pop(m);
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        if (server) {
            a[i] = mk[3 * i];
            d[i] = mk[3 * i + 1];
            p[i] = (mk[3 * i + 2] + got[i]) & omask;
        } else {
            a[i] = got[3 * i];
            d[i] = got[3 * i + 1];
            p[i] = (got[3 * i + 2] + mk[i]) & omask;
        }
    }
done:
    if (mk) cg_secure_zero(mk, (ns ? ns : 1) * sizeof *mk);
    cg_free(msgs);
    cg_free(mk);
    cg_free(got);
    cg_free(choice);
    return mpc_fail(m, st);
}
