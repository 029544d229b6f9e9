/* The paper's BFV context with t = 2^37 (the protocol's plaintext modulus)
 * and its keys, for the proto tests that work at the HE level. */
#ifndef CG_TESTS_HE_FIXTURE_H
#define CG_TESTS_HE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cryptogen/bfv.h"

typedef struct he_fixture {
    cg_bfv_ctx *c;
    cg_bfv_sk sk;
    cg_bfv_pk pk;
    cg_bfv_ksk rk;
    size_t n; /* the ring degree */
} he_fixture;

static inline void he_setup(he_fixture *f)
{
    cg_error err = {0};
    cg_bfv_spec spec;
    *f = (he_fixture){0};
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << 37;
    assert_int_equal(cg_bfv_ctx_new(&f->c, &spec, &err), CG_OK);
    assert_int_equal(cg_bfv_keygen(f->c, &f->sk, &f->pk, &err), CG_OK);
    assert_int_equal(cg_bfv_keygen_relin(f->c, &f->sk, &f->rk, &err), CG_OK);
    f->n = cg_bfv_n(f->c);
}

static inline void he_teardown(he_fixture *f)
{
    cg_bfv_sk_free(&f->sk);
    cg_bfv_pk_free(&f->pk);
    cg_bfv_ksk_free(&f->rk);
    cg_bfv_ctx_free(f->c);
}

#endif
