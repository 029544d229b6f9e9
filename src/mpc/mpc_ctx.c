/* The two-party context and the arithmetic protocols: B2A, Gilboa products,
 * squares, public-constant operations, select/multiplexer, AND, truncation. */
#include "mpc/mpc_internal.h"

cg_status cg_mpc_new(cg_mpc **out, cg_channel *ch, cg_party party, int threads, cg_error *err)
{
    if (!out || !ch || (party != CG_SERVER && party != CG_CLIENT))
        return cg_error_set(err, CG_ERR_ARG, "cg_mpc_new: bad argument");
    *out = NULL;
    cg_mpc *m = cg_calloc(1, sizeof *m);
    if (!m) return cg_error_set(err, CG_ERR_NOMEM, "cannot allocate mpc context");
    m->ch = ch;
    m->party = party;
    m->threads = threads < 1 ? 1 : threads;
    cg_prg_init_random(&m->prg);
    cg_status st = cg_ot_pair_new(&m->ot, ch, (int)party, err);
    if (st != CG_OK) {
        cg_mpc_free(m);
        return st;
    }
    *out = m;
    return CG_OK;
}

void cg_mpc_free(cg_mpc *m)
{
    if (!m) return;
    cg_ot_pair_free(&m->ot);
    cg_prg_clear(&m->prg);
    cg_free(m);
}

cg_party cg_mpc_party(const cg_mpc *m) { return m->party; }
cg_channel *cg_mpc_channel(cg_mpc *m) { return m->ch; }

cg_status mpc_check(cg_mpc *m, unsigned bits, unsigned min_bits, const char *what, cg_error *err)
{
    if (!m) return cg_error_set(err, CG_ERR_ARG, "%s: no context", what);
    if (m->broken)
        return cg_error_set(err, CG_ERR_STATE, "%s: an earlier protocol call failed", what);
    if (bits < min_bits || bits > 64)
        return cg_error_set(err, CG_ERR_PARAM, "%s: ring of %u bits outside [%u, 64]", what, bits,
                            min_bits);
    return CG_OK;
}

cg_status mpc_fail(cg_mpc *m, cg_status st)
{
    if (st != CG_OK) m->broken = true;
    return st;
}

/* The two directions of one exchange: in step 0 the server sends (its sender
 * instance) and the client receives; in step 1 the roles swap. Both parties
 * run step 0 then step 1, so the channel stays in step. */
static bool sends_in_step(const cg_mpc *m, int step)
{
    return (m->party == CG_SERVER) == (step == 0);
}

cg_status cg_mpc_b2a(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "b2a", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *t = cg_alloc((n ? n : 1) * sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "b2a: out of memory");
    cg_status st;
    /* b0 xor b1 = b0 + b1 - 2 b0 b1; the product from one COT with the
     * server's bit as correlation and the client's as choice. */
    if (m->party == CG_SERVER) {
        uint64_t *delta = cg_alloc((n ? n : 1) * sizeof *delta);
        if (!delta) {
            cg_free(t);
            return cg_error_set(err, CG_ERR_NOMEM, "b2a: out of memory");
        }
        for (size_t i = 0; i < n; i++) delta[i] = b[i] & 1;
        st = cg_cot_send(m->ot.send, n, bits, delta, t, err);
        cg_free(delta);
        if (st == CG_OK)
            for (size_t i = 0; i < n; i++) out[i] = ((b[i] & 1) + 2 * t[i]) & mask;
    } else {
        st = cg_cot_recv(m->ot.recv, n, bits, b, t, err);
        if (st == CG_OK)
            for (size_t i = 0; i < n; i++) out[i] = ((b[i] & 1) - 2 * t[i]) & mask;
    }
    cg_free(t);
    return mpc_fail(m, st);
}

/* Shares of the cross term a * c, where the sender of this step holds a
 * (its delta base) and the receiver holds c, bit-decomposed: l COTs per
 * element with correlations a * 2^j. acc += this party's share. */
static cg_status cross_term(cg_mpc *m, int step, unsigned bits, size_t n, const uint64_t *mine,
                            uint64_t *acc, cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    size_t total;
    if (!cg_mul_size(n, bits, &total))
        return cg_error_set(err, CG_ERR_ARG, "mul: batch too large");
    uint64_t *buf = cg_alloc((total ? total : 1) * sizeof *buf);
    uint8_t *choice = NULL;
    uint64_t *delta = NULL;
    cg_status st = CG_OK;
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory");
    if (sends_in_step(m, step)) {
        delta = cg_alloc((total ? total : 1) * sizeof *delta);
        if (!delta) {
            st = cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            for (unsigned j = 0; j < bits; j++) delta[i * bits + j] = (mine[i] << j) & mask;
        st = cg_cot_send(m->ot.send, total, bits, delta, buf, err);
        if (st != CG_OK) goto done;
        for (size_t i = 0; i < n; i++) {
            uint64_t s = 0;
            for (unsigned j = 0; j < bits; j++) s += buf[i * bits + j];
            acc[i] = (acc[i] - s) & mask;
        }
    } else {
        choice = cg_alloc(total ? total : 1);
        if (!choice) {
            st = cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            for (unsigned j = 0; j < bits; j++) choice[i * bits + j] = (uint8_t)((mine[i] >> j) & 1);
        st = cg_cot_recv(m->ot.recv, total, bits, choice, buf, err);
        if (st != CG_OK) goto done;
        for (size_t i = 0; i < n; i++) {
            uint64_t s = 0;
            for (unsigned j = 0; j < bits; j++) s += buf[i * bits + j];
            acc[i] = (acc[i] + s) & mask;
        }
    }
done:
    cg_free(buf);
    cg_free(choice);
    cg_free(delta);
    return st;
}

cg_status cg_mpc_mul(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, const uint64_t *y,
                     uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "mul", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *acc = cg_alloc((n ? n : 1) * sizeof *acc);
    if (!acc) return cg_error_set(err, CG_ERR_NOMEM, "mul: out of memory");
    for (size_t i = 0; i < n; i++) acc[i] = (x[i] * y[i]) & mask;
    /* Step 0: server's x times client's y; step 1: client's x times server's y. */
    const uint64_t *s0 = m->party == CG_SERVER ? x : y;
    const uint64_t *s1 = m->party == CG_SERVER ? y : x;
    cg_status st = cross_term(m, 0, bits, n, s0, acc, err);
    if (st == CG_OK) st = cross_term(m, 1, bits, n, s1, acc, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = acc[i];
    cg_free(acc);
    return mpc_fail(m, st);
}

cg_status cg_mpc_square(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t *out,
                        cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "square", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *acc = cg_alloc((n ? n : 1) * sizeof *acc);
    uint64_t *twice = cg_alloc((n ? n : 1) * sizeof *twice);
    if (!acc || !twice) {
        cg_free(acc);
        cg_free(twice);
        return cg_error_set(err, CG_ERR_NOMEM, "square: out of memory");
    }
    /* x^2 = x0^2 + x1^2 + (2 x0) x1: the server's correlation is 2 x0. */
    for (size_t i = 0; i < n; i++) {
        acc[i] = (x[i] * x[i]) & mask;
        twice[i] = m->party == CG_SERVER ? (2 * x[i]) & mask : x[i] & mask;
    }
    cg_status st = cross_term(m, 0, bits, n, twice, acc, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = acc[i];
    cg_free(acc);
    cg_free(twice);
    return mpc_fail(m, st);
}

void cg_mpc_mul_public(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t c,
                       uint64_t *out)
{
    (void)m;
    uint64_t mask = mpc_mask(bits);
    for (size_t i = 0; i < n; i++) out[i] = (x[i] * c) & mask;
}

void cg_mpc_add_public(const cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint64_t c,
                       uint64_t *out)
{
    uint64_t mask = mpc_mask(bits), add = m->party == CG_SERVER ? c : 0;
    for (size_t i = 0; i < n; i++) out[i] = (x[i] + add) & mask;
}

/* Shares of (b0 xor b1) * v where the sender of `step` holds b_s and v and
 * the receiver holds b_r: (b_s xor b_r) v = b_s v + b_r (1 - 2 b_s) v, the
 * second term from one COT with correlation (1 - 2 b_s) v. */
static cg_status select_term(cg_mpc *m, int step, unsigned bits, size_t n, const uint8_t *b,
                             const uint64_t *v, uint64_t *acc, cg_error *err)
{
    uint64_t mask = mpc_mask(bits);
    uint64_t *buf = cg_alloc((n ? n : 1) * sizeof *buf);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "select: out of memory");
    cg_status st;
    if (sends_in_step(m, step)) {
        uint64_t *delta = cg_alloc((n ? n : 1) * sizeof *delta);
        if (!delta) {
            cg_free(buf);
            return cg_error_set(err, CG_ERR_NOMEM, "select: out of memory");
        }
        for (size_t i = 0; i < n; i++) delta[i] = (b[i] & 1 ? -v[i] : v[i]) & mask;
        st = cg_cot_send(m->ot.send, n, bits, delta, buf, err);
        if (st == CG_OK)
            for (size_t i = 0; i < n; i++)
                acc[i] = (acc[i] + ((b[i] & 1) ? v[i] : 0) - buf[i]) & mask;
        cg_free(delta);
    } else {
        st = cg_cot_recv(m->ot.recv, n, bits, b, buf, err);
        if (st == CG_OK)
            for (size_t i = 0; i < n; i++) acc[i] = (acc[i] + buf[i]) & mask;
    }
    cg_free(buf);
    return st;
}

cg_status cg_mpc_select(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                        uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "select", err));
    uint64_t *acc = cg_calloc(n ? n : 1, sizeof *acc);
    if (!acc) return cg_error_set(err, CG_ERR_NOMEM, "select: out of memory");
    /* Each party's own share of x is multiplied by the shared bit: in step 0
     * the server's share, in step 1 the client's. */
    cg_status st = select_term(m, 0, bits, n, b, x, acc, err);
    if (st == CG_OK) st = select_term(m, 1, bits, n, b, x, acc, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = acc[i];
    cg_free(acc);
    return mpc_fail(m, st);
}

cg_status cg_mpc_mux(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, const uint64_t *x,
                     const uint64_t *y, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 1, "mux", err));
    uint64_t mask = mpc_mask(bits);
    uint64_t *d = cg_alloc((n ? n : 1) * sizeof *d);
    if (!d) return cg_error_set(err, CG_ERR_NOMEM, "mux: out of memory");
    for (size_t i = 0; i < n; i++) d[i] = (x[i] - y[i]) & mask;
    cg_status st = cg_mpc_select(m, bits, n, b, d, d, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) out[i] = (y[i] + d[i]) & mask;
    cg_free(d);
    return st;
}

/* One direction of an AND's cross term: the sender's bit times the
 * receiver's bit, as XOR shares, from a 1-bit COT. */
static cg_status and_term(cg_mpc *m, int step, size_t n, const uint8_t *send_bit,
                          const uint8_t *recv_bit, uint8_t *acc, cg_error *err)
{
    uint64_t *buf = cg_alloc((n ? n : 1) * sizeof *buf);
    if (!buf) return cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
    cg_status st;
    if (sends_in_step(m, step)) {
        uint64_t *delta = cg_alloc((n ? n : 1) * sizeof *delta);
        if (!delta) {
            cg_free(buf);
            return cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
        }
        for (size_t i = 0; i < n; i++) delta[i] = send_bit[i] & 1;
        st = cg_cot_send(m->ot.send, n, 1, delta, buf, err);
        cg_free(delta);
    } else {
        st = cg_cot_recv(m->ot.recv, n, 1, recv_bit, buf, err);
    }
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) acc[i] ^= (uint8_t)(buf[i] & 1);
    cg_free(buf);
    return st;
}

cg_status cg_mpc_and(cg_mpc *m, size_t n, const uint8_t *x, const uint8_t *y, uint8_t *z,
                     cg_error *err)
{
    CG_TRY(mpc_check(m, 1, 1, "and", err));
    uint8_t *acc = cg_alloc(n ? n : 1);
    if (!acc) return cg_error_set(err, CG_ERR_NOMEM, "and: out of memory");
    for (size_t i = 0; i < n; i++) acc[i] = (uint8_t)(x[i] & y[i] & 1);
    /* Step 0: server's x times client's y; step 1: client's x times server's y. */
    cg_status st = and_term(m, 0, n, x, y, acc, err);
    if (st == CG_OK) st = and_term(m, 1, n, x, y, acc, err);
    if (st == CG_OK)
        for (size_t i = 0; i < n; i++) z[i] = acc[i];
    cg_free(acc);
    return mpc_fail(m, st);
}

cg_status cg_mpc_trunc(cg_mpc *m, unsigned bits, unsigned shift, size_t n, const uint64_t *x,
                       uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc: shift %u outside [1, %u)", shift, bits - 2);
    return mpc_trunc_var(m, bits, shift, NULL, n, x, out, err);
}

void cg_mpc_set_exact(cg_mpc *m, bool exact)
{
    if (m) m->exact = exact;
}

cg_status cg_mpc_trunc_exact(cg_mpc *m, unsigned bits, unsigned shift, size_t n,
                             const uint64_t *x, uint64_t *out, cg_error *err)
{
    CG_TRY(mpc_check(m, bits, 4, "trunc_exact", err));
    if (shift < 1 || shift >= bits - 2)
        return cg_error_set(err, CG_ERR_PARAM, "trunc_exact: shift %u outside [1, %u)", shift,
                            bits - 2);
    return mpc_trunc_impl(m, bits, shift, NULL, n, x, out, true, err);
}

cg_status mpc_trunc_var(cg_mpc *m, unsigned bits, unsigned shift, const uint8_t *shifts, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err)
{
    return mpc_trunc_impl(m, bits, shift, shifts, n, x, out, m->exact, err);
}

/* Shares of the carry [y0_low + y1_low >= 2^sh] of each element's low sh
 * bits, i.e. [2^sh - 1 - y0_low < y1_low]: one millionaires' comparison at
 * the largest shift's width, then B2A. */
static cg_status low_carry(cg_mpc *m, unsigned bits, unsigned shift, const uint8_t *shifts,
                           size_t n, const uint64_t *y, uint64_t *carry, cg_error *err)
{
    unsigned w = shift;
    if (shifts)
        for (size_t i = 0; i < n; i++)
            if (shifts[i] > w) w = shifts[i];
    uint64_t *v = cg_alloc((n ? n : 1) * sizeof *v);
    uint8_t *c = cg_alloc(n ? n : 1);
    cg_status st = CG_OK;
    if (!v || !c) st = cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        uint64_t low = mpc_mask(shifts ? shifts[i] : shift);
        v[i] = m->party == CG_SERVER ? low - (y[i] & low) : y[i] & low;
    }
    if (st == CG_OK && w >= 1) st = cg_mpc_less_than(m, w, n, v, c, err);
    if (st == CG_OK) st = cg_mpc_b2a(m, bits, n, c, carry, err);
    cg_free(v);
    cg_free(c);
    return st;
}

cg_status mpc_trunc_impl(cg_mpc *m, unsigned bits, unsigned shift, const uint8_t *shifts,
                         size_t n, const uint64_t *x, uint64_t *out, bool exact, cg_error *err)
{
    uint64_t mask = mpc_mask(bits), half = 1ull << (bits - 1), offset = 1ull << (bits - 2);
    uint8_t *top = cg_alloc(n ? n : 1);
    uint64_t *prod = cg_alloc((n ? n : 1) * sizeof *prod);
    uint64_t *y = cg_alloc((n ? n : 1) * sizeof *y);
    uint64_t *carry = exact ? cg_calloc(n ? n : 1, sizeof *carry) : NULL;
    if (!top || !prod || !y || (exact && !carry)) {
        cg_free(top);
        cg_free(prod);
        cg_free(y);
        cg_free(carry);
        return cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
    }
    /* y = x + 2^(l-2) lies in [0, 2^(l-1)), so its top bit is 0 and the
     * wrap bit of the shares is msb(y0) OR msb(y1) = m0 + m1 - m0 m1. */
    cg_mpc_add_public(m, bits, n, x, offset, y);
    for (size_t i = 0; i < n; i++) top[i] = (y[i] & half) != 0;
    cg_status st = CG_OK;
    {
        if (m->party == CG_SERVER) {
            uint64_t *delta = cg_alloc((n ? n : 1) * sizeof *delta);
            if (!delta) st = cg_error_set(err, CG_ERR_NOMEM, "trunc: out of memory");
            else {
                for (size_t i = 0; i < n; i++) delta[i] = top[i];
                st = cg_cot_send(m->ot.send, n, bits, delta, prod, err);
                for (size_t i = 0; st == CG_OK && i < n; i++) prod[i] = (0 - prod[i]) & mask;
                cg_free(delta);
            }
        } else {
            st = cg_cot_recv(m->ot.recv, n, bits, top, prod, err);
        }
    }
    /* The shares' floors lose exactly the carry of the low bits; adding it
     * back makes the result floor(x / 2^sh). */
    if (st == CG_OK && exact) st = low_carry(m, bits, shift, shifts, n, y, carry, err);
    if (st == CG_OK) {
        for (size_t i = 0; i < n; i++) {
            unsigned sh = shifts ? shifts[i] : shift;
            uint64_t wrap = (top[i] - prod[i]) & mask; /* this party's share of w */
            uint64_t r = (y[i] >> sh) - (wrap << (bits - sh));
            if (m->party == CG_SERVER) r -= offset >> sh;
            if (exact) r += carry[i];
            out[i] = r & mask;
        }
    }
    cg_free(top);
    cg_free(prod);
    cg_free(y);
    cg_free(carry);
    return mpc_fail(m, st);
}
