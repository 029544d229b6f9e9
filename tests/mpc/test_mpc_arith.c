/* Arithmetic and boolean protocols (B2A, products, squares, private and
 * public constants, select, mux, AND) run by two threads over the in-process
 * channel pair, checked against plaintext arithmetic on random inputs and
 * ring edges; parameter errors and a vanished peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mpc_ops.h"

static void test_arith(void **state)
{
    fixture *f = *state;
    io s, c;
    for (size_t r = 0; r < NRINGS; r++) {
        unsigned bits = RINGS[r];
        uint64_t mask = maskb(bits);
        fill_values(&f->prg, bits, N, B.v);
        fill_values(&f->prg, bits, N, B.w);
        for (size_t i = 0; i < N; i++) B.b[i] = (uint8_t)(cg_prg_u64(&f->prg) & 1);
        split(&f->prg, bits, N, B.v, B.x0, B.x1);
        split(&f->prg, bits, N, B.w, B.y0, B.y1);
        split_bits(&f->prg, N, B.b, B.b0, B.b1);

        setup_io(f, &s, &c, OP_B2A, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++) assert_int_equal((B.o0[i] + B.o1[i]) & mask, B.b[i]);

        setup_io(f, &s, &c, OP_MUL, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * B.w[i]) & mask);

        setup_io(f, &s, &c, OP_SQUARE, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * B.v[i]) & mask);

        /* Server-private constants: the server's y0 (any value, incl. 0 and
         * all ones), the client's y1 unused. */
        fill_values(&f->prg, bits, N, B.y0);
        B.y0[0] = 0;
        B.y0[1] = mask;
        setup_io(f, &s, &c, OP_MULPRIV, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * B.y0[i]) & mask);
        split(&f->prg, bits, N, B.w, B.y0, B.y1);

        setup_io(f, &s, &c, OP_SELECT, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, B.b[i] ? B.v[i] : 0);

        setup_io(f, &s, &c, OP_MUX, bits, N);
        run_both(&s, &c);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, B.b[i] ? B.v[i] : B.w[i]);

        /* Public-constant product and addition (local). */
        uint64_t k = cg_prg_u64(&f->prg);
        cg_mpc_mul_public(f->m[0], bits, N, B.x0, k, B.o0);
        cg_mpc_mul_public(f->m[1], bits, N, B.x1, k, B.o1);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] * k) & mask);
        cg_mpc_add_public(f->m[0], bits, N, B.x0, k, B.o0);
        cg_mpc_add_public(f->m[1], bits, N, B.x1, k, B.o1);
        for (size_t i = 0; i < N; i++)
            assert_int_equal((B.o0[i] + B.o1[i]) & mask, (B.v[i] + k) & mask);
    }
    /* n == 0 is a no-op on both sides. */
    setup_io(f, &s, &c, OP_MUL, 37, 0);
    run_both(&s, &c);
}

static void test_and(void **state)
{
    fixture *f = *state;
    io s, c;
    for (size_t i = 0; i < N; i++) {
        B.b[i] = (uint8_t)(i & 1);
        B.c[i] = (uint8_t)((i >> 1) & 1);
    }
    split_bits(&f->prg, N, B.b, B.b0, B.b1);
    split_bits(&f->prg, N, B.c, B.c0, B.c1);
    setup_io(f, &s, &c, OP_AND, 1, N);
    run_both(&s, &c);
    for (size_t i = 0; i < N; i++) assert_int_equal(B.bo0[i] ^ B.bo1[i], B.b[i] & B.c[i]);
}

static void test_bad_params(void **state)
{
    fixture *f = *state;
    cg_error e;
    uint64_t x[1] = {0};
    uint8_t b[1];
    /* Rejected before anything is sent, so the contexts stay usable. */
    assert_int_equal(cg_mpc_mul(f->m[0], 65, 1, x, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_msb(f->m[0], 1, 1, x, b, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_trunc(f->m[0], 37, 35, 1, x, x, &e), CG_ERR_PARAM);
    assert_int_equal(cg_mpc_row_max(f->m[0], 37, 1, 0, x, x, &e), CG_ERR_ARG);
    assert_int_equal(cg_mpc_argmax_reveal(f->m[0], 4, 9, x, x, &e), CG_ERR_ARG);
    assert_int_equal(cg_mpc_new(NULL, NULL, CG_SERVER, NULL, &e), CG_ERR_ARG);
    /* An unknown 1-of-N kind, refused before the base OTs. */
    cg_mpc *m = NULL;
    const cg_mpc_options bad = {.otn = (cg_otn_kind)2};
    assert_int_equal(cg_mpc_new(&m, f->ch[0], CG_SERVER, &bad, &e), CG_ERR_ARG);
    assert_null(m);
    const cg_mpc_options bad_ot = {.ot = (cg_ot_kind)7};
    assert_int_equal(cg_mpc_new(&m, f->ch[0], CG_SERVER, &bad_ot, &e), CG_ERR_ARG);
    assert_null(m);
}

/* A peer that vanishes gives an error, and the context then refuses calls. */
static void test_peer_gone(void **state)
{
    (void)state;
    cg_channel *a, *b;
    cg_chan_options opt = {.timeout_ms = 2000};
    assert_int_equal(cg_chan_pair_new(&a, &b, &opt, NULL), CG_OK);
    setup_job j = {b, NULL, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, setup_client, &j), 0);
    cg_mpc *srv = NULL;
    assert_int_equal(cg_mpc_new(&srv, a, CG_SERVER, fixture_options(), NULL), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(j.st, CG_OK);
    cg_mpc_free(j.m);
    cg_chan_free(b);
    uint64_t x[4] = {1, 2, 3, 4}, o[4];
    cg_error e;
    cg_status st = cg_mpc_mul(srv, 37, 4, x, x, o, &e);
    assert_true(st == CG_ERR_PEER || st == CG_ERR_TIMEOUT || st == CG_ERR_IO);
    assert_int_equal(cg_mpc_mul(srv, 37, 4, x, x, o, &e), CG_ERR_STATE);
    cg_mpc_free(srv);
    cg_chan_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_and),
        cmocka_unit_test(test_peer_gone),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
