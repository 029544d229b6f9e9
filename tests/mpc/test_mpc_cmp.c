/* Comparisons (millionaires', MSB, DReLU, ReLU, row max, argmax, split
 * between the OT directions), truncations and the Z_p -> ring conversion,
 * run by two threads over the in-process channel pair and checked against
 * plaintext on random inputs and range edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpc_ops.h"

static void test_less_than(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned widths[] = {1, 3, 4, 5, 8, 12, 13, 16, 36, 63, 64};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        unsigned w = widths[wi];
        uint64_t mask = maskb(w);
        for (size_t i = 0; i < N; i++) {
            B.x0[i] = cg_prg_u64(&f->prg) & mask;
            /* A third of the pairs equal or one apart, to exercise the eq chain. */
            B.x1[i] = i % 3 == 0 ? B.x0[i] : (i % 3 == 1 ? (B.x0[i] + 1) & mask : cg_prg_u64(&f->prg) & mask);
        }
        B.x0[0] = 0, B.x1[0] = mask;
        B.x0[1] = mask, B.x1[1] = 0;
        B.x0[2] = mask, B.x1[2] = mask;
        setup_io(f, &s, &c, OP_LT, w, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.x0[i] < B.x1[i]);
    }
}

static void test_sign_relu_trunc(void **state)
{
    fixture *f = *state;
    io s, c;
    for (size_t r = 0; r < NRINGS; r++) {
        unsigned bits = RINGS[r];
        uint64_t mask = maskb(bits);
        fill_values(&f->prg, bits, N, B.v);
        split(&f->prg, bits, N, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_MSB, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], (B.v[i] >> (bits - 1)) & 1);
        setup_io(f, &s, &c, OP_DRELU, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], as_signed(bits, B.v[i]) >= 0);
        setup_io(f, &s, &c, OP_RELU, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, as_signed(bits, B.v[i]) >= 0 ? B.v[i] : 0);
        if (bits < 8) continue;
        /* Truncation needs |x| < 2^(l-2): values drawn there, edges included. */
        uint64_t lim = 1ull << (bits - 2);
        for (size_t i = 0; i < N; i++) B.v[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & mask;
        B.v[0] = 0, B.v[1] = (lim - 1) & mask, B.v[2] = (0 - (lim - 1)) & mask, B.v[3] = mask;
        split(&f->prg, bits, N, B.v, B.x0, B.x1);
        unsigned shifts[] = {1, 12, bits - 3};
        for (int k = 0; k < 3; k++) {
            setup_io(f, &s, &c, OP_TRUNC, bits, N);
            s.shift = c.shift = shifts[k];
            run_both(&s, &c);
            for (size_t i = 0; i < N; i++) {
                int64_t want = as_signed(bits, B.v[i]) >> shifts[k];
                int64_t got = as_signed(bits, (B.o0[i] + B.o1[i]) & mask);
                assert_true(got == want || got == want - 1);
            }
        }
    }
}

/* Exact truncation equals the floor shift for every shift 1..l-3, on random
 * values in |x| < 2^(l-2) and both edges; the exact switch routes the
 * approximate entry point through it too. */
static void test_trunc_exact(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned rings[] = {8, 17, 37, 63, 64};
    for (size_t r = 0; r < 5; r++) {
        unsigned bits = rings[r];
        uint64_t mask = maskb(bits), lim = 1ull << (bits - 2);
        for (unsigned sh = 1; sh <= bits - 3; sh++) {
            size_t n = 64;
            for (size_t i = 0; i < n; i++)
                B.v[i] = (cg_prg_u64(&f->prg) % (2 * lim - 1) - (lim - 1)) & mask;
            /* both edges, 0, +-1, and values straddling multiples of 2^sh */
            uint64_t edges[] = {0, 1, mask, (lim - 1) & mask, (0 - (lim - 1)) & mask,
                                (1ull << sh) & mask, ((1ull << sh) - 1) & mask,
                                (0 - (1ull << sh)) & mask, (0 - ((1ull << sh) - 1)) & mask,
                                (0 - ((1ull << sh) + 1)) & mask};
            for (size_t i = 0; i < 10; i++) B.v[i] = edges[i];
            split(&f->prg, bits, n, B.v, B.x0, B.x1);
            B.x0[10] = mask, B.x1[10] = (B.v[10] - mask) & mask; /* shares with all low bits set */
            B.x0[11] = 0, B.x1[11] = B.v[11];
            setup_io(f, &s, &c, (sh & 1) ? OP_TRUNCX : OP_TRUNC, bits, n);
            s.shift = c.shift = sh;
            if (!(sh & 1)) {
                cg_mpc_set_exact(f->m[0], true);
                cg_mpc_set_exact(f->m[1], true);
            }
            run_both(&s, &c);
            cg_mpc_set_exact(f->m[0], false);
            cg_mpc_set_exact(f->m[1], false);
            for (size_t i = 0; i < n; i++) {
                int64_t want = cg_fxp_ref_trunc(as_signed(bits, B.v[i]), sh);
                assert_int_equal(as_signed(bits, (B.o0[i] + B.o1[i]) & mask), want);
            }
        }
    }
    cg_error e;
    uint64_t x[1] = {0};
    assert_int_equal(cg_mpc_trunc_exact(f->m[0], 37, 35, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_trunc_exact(f->m[0], 37, 0, 1, x, x, &e), CG_ERR_PARAM);
}

static void test_row_max(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned bits = 37;
    const size_t shapes[][2] = {{1, 1}, {3, 7}, {5, 16}, {2, 100}};
    for (size_t k = 0; k < 4; k++) {
        size_t rows = shapes[k][0], cols = shapes[k][1], n = rows * cols;
        /* Values in (-2^35, 2^35) so differences stay inside the ring. */
        for (size_t i = 0; i < n; i++)
            B.v[i] = (uint64_t)((int64_t)(cg_prg_u64(&f->prg) >> 29) - ((int64_t)1 << 34)) & maskb(bits);
        if (n > 2) B.v[n - 1] = (1ull << 35) - 1; /* the max in the last, unpaired slot */
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_ROWMAX, bits, n);
        s.rows = c.rows = rows;
        s.cols = c.cols = cols;
        run_both(&s, &c);
        for (size_t r = 0; r < rows; r++) {
            int64_t want = as_signed(bits, B.v[r * cols]);
            for (size_t j = 1; j < cols; j++)
                if (as_signed(bits, B.v[r * cols + j]) > want) want = as_signed(bits, B.v[r * cols + j]);
            assert_int_equal(as_signed(bits, (B.o0[r] + B.o1[r]) & maskb(bits)), want);
        }
    }
}

static void test_argmax(void **state)
{
    fixture *f = *state;
    io s, c;
    const unsigned bits = 37;
    const size_t sizes[] = {1, 2, 7, 64, N};
    for (size_t k = 0; k < 5; k++) {
        size_t n = sizes[k];
        /* Few distinct values so ties are common; the lowest index must win. */
        for (size_t i = 0; i < n; i++)
            B.v[i] = (uint64_t)((int64_t)(cg_prg_u64(&f->prg) % 9) - 4) & maskb(bits);
        if (k == 4) B.v[n - 1] = 100; /* unique max in the last slot */
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_ARGMAX, bits, n);
        B.o0[0] = B.o1[0] = 0xdeadbeef;
        run_both(&s, &c);
        size_t want = 0;
        for (size_t i = 1; i < n; i++)
            if (as_signed(bits, B.v[i]) > as_signed(bits, B.v[want])) want = i;
        assert_int_equal(B.o1[0], want);
        assert_int_equal(B.o0[0], 0xdeadbeef); /* the server gets nothing */
    }
}

/* Comparisons of 32 elements or more split between the two OT directions
 * (half with the server as the 1-of-16 sender, half with the client): sizes
 * around that bound and odd ones, for single comparisons (less_than, DReLU)
 * and for several thresholds on one value (exp's 13, in exact mode). */
static void test_cmp_split_sizes(void **state)
{
    fixture *f = *state;
    io s, c;
    const size_t sizes[] = {31, 32, 33, 257, 999};
    const unsigned bits = 37;
    const uint64_t mask = maskb(bits);
    const cg_fxp fx = {.ring_bits = 37, .frac_bits = 12};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        size_t n = sizes[z];
        fill_values(&f->prg, bits, n, B.v);
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        setup_io(f, &s, &c, OP_DRELU, bits, n);
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], as_signed(bits, B.v[i]) >= 0);
        /* less_than on 20-bit values: the server's a, the client's b */
        for (size_t i = 0; i < n; i++) {
            B.x0[i] = cg_prg_u64(&f->prg) & maskb(20);
            B.x1[i] = i % 5 == 0 ? B.x0[i] : cg_prg_u64(&f->prg) & maskb(20);
        }
        setup_io(f, &s, &c, OP_LT, 20, n);
        run_both(&s, &c);
        for (size_t i = 0; i < n; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.x0[i] < B.x1[i]);
        for (size_t i = 0; i < n; i++)
            B.v[i] = (uint64_t)(-(int64_t)(cg_prg_u64(&f->prg) % (16 * 4096 + 1))) & mask;
        split(&f->prg, bits, n, B.v, B.x0, B.x1);
        cg_mpc_set_exact(f->m[0], true);
        cg_mpc_set_exact(f->m[1], true);
        setup_io(f, &s, &c, OP_EXP, bits, n);
        s.fx = c.fx = fx;
        run_both(&s, &c);
        cg_mpc_set_exact(f->m[0], false);
        cg_mpc_set_exact(f->m[1], false);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(as_signed(bits, (B.o0[i] + B.o1[i]) & mask),
                             cg_fxp_ref_exp_neg(fx, as_signed(bits, B.v[i])));
    }
}

static void test_prime_to_ring(void **state)
{
    fixture *f = *state;
    io s, c;
    /* A 29-bit NTT-friendly prime like the paper's plaintext modulus, a small
     * one, and one just below 2^62. */
    const uint64_t primes[] = {536903681ull, 97ull, 4611686018427387847ull};
    const unsigned rings[] = {37, 8, 64};
    for (int k = 0; k < 3; k++) {
        uint64_t p = primes[k], h = (p - 1) / 2;
        unsigned bits = rings[k];
        for (size_t i = 0; i < N; i++) {
            int64_t v = (int64_t)(cg_prg_u64(&f->prg) % p) - (int64_t)h; /* centred secret */
            if (i == 0) v = 0;
            if (i == 1) v = (int64_t)h;
            if (i == 2) v = -(int64_t)h;
            if (i == 3) v = -1;
            B.w[i] = (uint64_t)v; /* the expected ring value, sign-extended */
            uint64_t xm = v < 0 ? p - (uint64_t)(-v) : (uint64_t)v;
            B.x0[i] = cg_prg_u64(&f->prg) % p;
            if (i == 4) B.x0[i] = p - 1;
            if (i == 5) B.x0[i] = 0;
            B.x1[i] = xm >= B.x0[i] ? xm - B.x0[i] : xm + p - B.x0[i];
        }
        setup_io(f, &s, &c, OP_P2R, bits, N);
        s.prime = c.prime = p;
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & maskb(bits), B.w[i] & maskb(bits));
    }
    cg_error e;
    uint64_t bad[1] = {97};
    assert_int_equal(cg_mpc_prime_to_ring(f->m[0], 97, 8, 1, bad, bad, &e), CG_ERR_RANGE);
    assert_int_equal(cg_mpc_prime_to_ring(f->m[0], 536903681ull, 30, 1, bad, bad, &e), CG_ERR_PARAM);
}

/* Contexts made with the log2 N-row 1-of-N OTs (cg_mpc_options, the same
 * on both parties) compare as the default ones do, and the option reaches
 * the OT layer: the client's digit-OT extension is larger than KK13's. */
typedef struct {
    cg_channel *ch;
    cg_mpc *m;
    cg_status st;
} split_job;

static void *split_client(void *arg)
{
    split_job *j = arg;
    const cg_mpc_options opt = {.otn = CG_OTN_SPLIT};
    j->st = cg_mpc_new(&j->m, j->ch, CG_CLIENT, &opt, NULL);
    return NULL;
}

static void test_otn_split_contexts(void **state)
{
    fixture *f = *state, g = {0};
    assert_int_equal(cg_chan_pair_new(&g.ch[0], &g.ch[1], NULL, NULL), CG_OK);
    split_job j = {g.ch[1], NULL, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, split_client, &j), 0);
    const cg_mpc_options opt = {.otn = CG_OTN_SPLIT};
    assert_int_equal(cg_mpc_new(&g.m[0], g.ch[0], CG_SERVER, &opt, NULL), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(j.st, CG_OK);
    g.m[1] = j.m;
    io s, c;
    const unsigned bits = 37;
    fill_values(&f->prg, bits, N, B.v);
    split(&f->prg, bits, N, B.v, B.x0, B.x1);
    uint64_t sent[2];
    for (int k = 0; k < 2; k++) { /* the default contexts, then the split ones */
        fixture *h = k ? &g : f;
        cg_chan_reset_stats(h->ch[1]);
        setup_io(h, &s, &c, OP_DRELU, bits, N);
        run_both(&s, &c);
        cg_chan_stats st;
        cg_chan_get_stats(h->ch[1], &st);
        sent[k] = st.total.bytes_sent;
        for (size_t i = 0; i < N; i++)
            assert_int_equal(B.bo0[i] ^ B.bo1[i], as_signed(bits, B.v[i]) >= 0);
    }
    assert_true(sent[1] > sent[0]);
    for (size_t i = 0; i < N; i++) {
        B.x0[i] = cg_prg_u64(&f->prg) & maskb(13);
        B.x1[i] = i % 4 == 0 ? B.x0[i] : cg_prg_u64(&f->prg) & maskb(13);
    }
    setup_io(&g, &s, &c, OP_LT, 13, N);
    run_both(&s, &c);
    for (size_t i = 0; i < N; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.x0[i] < B.x1[i]);
    cg_mpc_free(g.m[0]);
    cg_mpc_free(g.m[1]);
    cg_chan_free(g.ch[0]);
    cg_chan_free(g.ch[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_less_than),
        cmocka_unit_test(test_sign_relu_trunc),
        cmocka_unit_test(test_row_max),
        cmocka_unit_test(test_cmp_split_sizes),
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_prime_to_ring),
        cmocka_unit_test(test_trunc_exact),
        cmocka_unit_test(test_otn_split_contexts),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
