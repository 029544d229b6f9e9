/* Sign tests and the Z_p -> ring conversion on the millionaires'
 * protocol (mpc_cmp.c): MSB, DReLU and ReLU of a shared value, and the
 * wrap of a Z_p sharing as a ring sharing. */
#include "mpc/mpc_internal.h"

cg_status cg_mpc_msb(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint8_t *out,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 2, "msb", err));
    uint64_t low = mpc_mask(bits - 1);
    uint64_t *v = cg_alloc((n ? n : 1) * sizeof *v);
    if (!v) return cg_error_set(err, CG_ERR_NOMEM, "msb: out of memory");
    /* The carry into the top bit is [x0' + x1' >= 2^(l-1)] for the low l-1
     * bits, i.e. [2^(l-1) - 1 - x0' < x1']. */
    for (size_t i = 0; i < n; i++)
        v[i] = m->party == CG_SERVER ? low - (x[i] & low) : x[i] & low;
    cg_status st = cg_mpc_less_than(m, bits - 1, n, v, out, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] ^= (uint8_t)((x[i] >> (bits - 1)) & 1);
    cg_free(v);
    return st;
}

cg_status cg_mpc_drelu(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint8_t *out,
                       cg_error *err)
{
    CG_TRY(cg_mpc_msb(m, bits, n, x, out, err));
    if (m->party == CG_SERVER)
        for (size_t i = 0; i < n; i++) out[i] ^= 1;
    return CG_OK;
}

cg_status cg_mpc_relu(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t *out,
                      cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 2, "relu", err));
    uint8_t *d = cg_alloc(n ? n : 1);
    if (!d) return cg_error_set(err, CG_ERR_NOMEM, "relu: out of memory");
    cg_status st = cg_mpc_drelu(m, bits, n, x, d, err);
    if (st == CG_OK) st = cg_mpc_select(m, bits, n, d, x, out, err);
    cg_free(d);
    return st;
}

cg_status cg_mpc_prime_to_ring(cg_mpc *m, uint64_t p, unsigned bits, size_t n, const uint64_t *x,
                               uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 3, "prime_to_ring", err));
    if (p < 3 || !(p & 1) || (bits < 64 && p >= (1ull << (bits - 1))))
        return cg_error_set(err, CG_ERR_PARAM, "prime_to_ring: modulus %llu unsuited to %u bits",
                            (unsigned long long)p, bits);
    for (size_t i = 0; i < n; i++)
        if (x[i] >= p) return cg_error_set(err, CG_ERR_RANGE, "prime_to_ring: share not below p");
    uint64_t mask = mpc_mask(bits), half = (p - 1) / 2;
    unsigned w = (unsigned)(64 - __builtin_clzll(p - 1));
    uint64_t *v = cg_alloc((n ? n : 1) * sizeof *v), *wa = cg_alloc((n ? n : 1) * sizeof *wa);
    uint8_t *wrap = cg_alloc(n ? n : 1);
    cg_status st = CG_OK;
    if (!v || !wa || !wrap) {
        st = cg_error_set(err, CG_ERR_NOMEM, "prime_to_ring: out of memory");
        goto done;
    }
    /* Shift the centred secret into [0, p): the server adds (p-1)/2 mod p.
     * Then x0 + x1 = x' + w p with w = [x0 + x1 >= p] = [p - 1 - x0 < x1]. */
    for (size_t i = 0; i < n; i++) {
        uint64_t s = x[i];
        if (m->party == CG_SERVER) s = s + half >= p ? s + half - p : s + half;
        out[i] = s; /* kept until the end; out may alias x */
        v[i] = m->party == CG_SERVER ? p - 1 - s : s;
    }
    st = cg_mpc_less_than(m, w, n, v, wrap, err);
    if (st == CG_OK) st = cg_mpc_b2a(m, bits, n, wrap, wa, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) {
            uint64_t r = out[i] - wa[i] * p;
            if (m->party == CG_SERVER) r -= half;
            out[i] = r & mask;
        }
done:
    cg_free(v);
    cg_free(wa);
    cg_free(wrap);
    return st;
}
