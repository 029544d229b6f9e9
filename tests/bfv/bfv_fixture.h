/* The BFV tests' shared fixture: a context with keys at a named preset,
 * random slot vectors, and checks of a ciphertext's decryption and of the
 * analytic noise bound against the measured noise. */
#ifndef CG_TESTS_BFV_FIXTURE_H
#define CG_TESTS_BFV_FIXTURE_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/bfv.h"

typedef struct fixture {
    cg_bfv_ctx *ctx;
    cg_bfv_sk sk;
    cg_bfv_pk pk;
    size_t n;
    uint64_t t;
    cg_prg prg;
} fixture;

static inline int64_t centred(uint64_t t, int64_t v)
{
    int64_t r = v % (int64_t)t;
    if (r < 0) r += (int64_t)t;
    return r > (int64_t)(t / 2) ? r - (int64_t)t : r;
}

/* A context and keys at a spec a test may have changed from a preset. */
static inline int setup_with_spec(void **state, const cg_bfv_spec *spec)
{
    fixture *f = calloc(1, sizeof *f);
    cg_error err = {0};
    if (cg_bfv_ctx_new(&f->ctx, spec, &err) != CG_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (cg_bfv_keygen(f->ctx, &f->sk, &f->pk, &err) != CG_OK) return -1;
    f->n = cg_bfv_n(f->ctx);
    f->t = cg_bfv_t(f->ctx);
    cg_prg_init_random(&f->prg);
    *state = f;
    return 0;
}

/* r_bits: ct x ct's auxiliary prime width (0: the CPU's choice). */
static inline int setup_spec_r(void **state, const char *preset, unsigned r_bits)
{
    cg_bfv_spec spec;
    if (cg_bfv_preset(preset, &spec, NULL) != CG_OK) return -1;
    spec.r_bits = r_bits;
    return setup_with_spec(state, &spec);
}

static inline int setup_spec(void **state, const char *preset)
{
    return setup_spec_r(state, preset, 0);
}
static inline int setup_small(void **state) { return setup_spec(state, "test2048"); }
/* The paper set also runs the batch operations on two threads. */
static inline int setup_paper(void **state)
{
    int r = setup_spec(state, "paper");
    if (r == 0) cg_bfv_set_threads(((fixture *)*state)->ctx, 2);
    return r;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    cg_bfv_sk_free(&f->sk);
    cg_bfv_pk_free(&f->pk);
    cg_bfv_ctx_free(f->ctx);
    free(f);
    return 0;
}

static inline int64_t *random_slots(fixture *f)
{
    int64_t *v = malloc(f->n * sizeof *v);
    for (size_t i = 0; i < f->n; i++) v[i] = centred(f->t, (int64_t)cg_prg_uniform(&f->prg, f->t));
    v[0] = (int64_t)(f->t / 2);     /* edges */
    v[1] = -(int64_t)(f->t / 2);
    v[2] = 0;
    return v;
}

static inline void encrypt_vals(fixture *f, const int64_t *v, cg_bfv_ct *ct, bool sk)
{
    cg_bfv_plain pt = {0};
    cg_error err = {0};
    assert_int_equal(cg_bfv_encode_batch(f->ctx, v, f->n, &pt, &err), CG_OK);
    if (sk)
        assert_int_equal(cg_bfv_encrypt_sk(f->ctx, &f->sk, &pt, ct, &err), CG_OK);
    else
        assert_int_equal(cg_bfv_encrypt_pk(f->ctx, &f->pk, &pt, ct, &err), CG_OK);
    cg_bfv_plain_free(&pt);
}

static inline void check_decrypts_to(fixture *f, const cg_bfv_ct *ct, const int64_t *want)
{
    cg_bfv_plain pt = {0};
    cg_error err = {0};
    assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, ct, &pt, &err), CG_OK);
    int64_t *got = malloc(f->n * sizeof *got);
    assert_int_equal(cg_bfv_decode_batch(f->ctx, &pt, got, &err), CG_OK);
    for (size_t i = 0; i < f->n; i++)
        if (centred(f->t, want[i]) != got[i]) {
            fprintf(stderr, "slot %zu: want %lld got %lld\n", i, (long long)centred(f->t, want[i]),
                    (long long)got[i]);
            fail();
        }
    free(got);
    cg_bfv_plain_free(&pt);
}

/* A masked ciphertext's decryption plus its mask is want mod t at each of
 * the np positions in pos (NULL: slots 0 .. np-1). */
static inline void check_unmasks_to(fixture *f, const cg_bfv_plain *dec, const cg_bfv_plain *mask,
                                    const int64_t *want, const uint32_t *pos, size_t np)
{
    for (size_t k = 0; k < np; k++) {
        const size_t j = pos ? pos[k] : k;
        const int64_t c = centred(f->t, want[j]);
        const uint64_t w = c < 0 ? f->t - (uint64_t)(-c) : (uint64_t)c;
        assert_int_equal((dec->coeffs[j] + mask->coeffs[j]) % f->t, w);
    }
}

/* The estimate must bound the measured noise and stay within `slack` bits. */
static inline void check_noise(fixture *f, const cg_bfv_ct *ct, double slack, const char *what)
{
    double measured, budget;
    assert_int_equal(cg_bfv_noise_measure(f->ctx, &f->sk, ct, &measured, &budget, NULL), CG_OK);
    printf("# noise %-14s measured 2^%.1f estimate 2^%.1f (budget %.1f bits)\n", what, measured,
           ct->noise_log2, budget);
    assert_true(ct->noise_log2 >= measured);
    assert_true(ct->noise_log2 - measured <= slack);
    assert_true(budget > 0);
}

#endif
