/* The context's SIMD product kernels (AVX-512 IFMA, AVX2 / FMA, as this CPU
 * offers) against the portable ones, through the BFV operations that use
 * them: the same ciphertext words with every kernel on and with all of them
 * off (the context's flags, internal to this layer). */
#include "bfv_fixture.h"

#include "bfv/bfv_internal.h"

typedef struct kernels {
    bool avx2, fma, ifma;
} kernels;

static kernels set_kernels(cg_bfv_ctx *c, kernels k)
{
    kernels old = {c->avx2, c->fma, c->ifma};
    c->avx2 = k.avx2, c->fma = k.fma, c->ifma = k.ifma;
    return old;
}

static void assert_same_ct(const cg_bfv_ct *a, const cg_bfv_ct *b, size_t n)
{
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->level, b->level);
    assert_int_equal(a->ntt, b->ntt);
    assert_memory_equal(a->data, b->data, a->size * a->level * n * sizeof(uint64_t));
}

enum { K = 48, OPS = 5 };

/* Each operation's result under the current kernels: a fused product of
 * K inputs and one product (NTT form), ct x ct, relinearisation and a
 * rotation (key switching, with and without the automorphism). */
static void run_ops(fixture *f, const cg_bfv_ct *cts, const cg_bfv_plain_ntt *pts, const cg_bfv_ct *c0,
                    const cg_bfv_ksk *rk, const cg_bfv_galois_keys *gk, cg_bfv_ct *out)
{
    cg_error err = {0};
    const cg_bfv_ct *cp[K];
    const cg_bfv_plain_ntt *pp[K];
    for (int k = 0; k < K; k++) cp[k] = &cts[k], pp[k] = &pts[k];
    assert_int_equal(cg_bfv_mac_plain(f->ctx, cp, pp, K, &out[0], &err), CG_OK);
    assert_int_equal(cg_bfv_mul_plain(f->ctx, &cts[1], &pts[1], &out[1], &err), CG_OK);
    assert_int_equal(cg_bfv_multiply(f->ctx, c0, c0, &out[2], &err), CG_OK);
    assert_int_equal(cg_bfv_ct_copy(f->ctx, &out[3], &out[2], &err), CG_OK);
    assert_int_equal(cg_bfv_relinearize(f->ctx, rk, &out[3], &err), CG_OK);
    assert_int_equal(cg_bfv_rotate_rows(f->ctx, gk, c0, 3, &out[4], &err), CG_OK);
}

static void test_kernels_match_portable(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    cg_bfv_ct cts[K], c0 = {0}, on[OPS] = {{0}}, off[OPS] = {{0}};
    cg_bfv_plain_ntt pts[K];
    for (int k = 0; k < K; k++) {
        int64_t *a = random_slots(f), *b = random_slots(f);
        cts[k] = (cg_bfv_ct){0};
        pts[k] = (cg_bfv_plain_ntt){0};
        encrypt_vals(f, a, &cts[k], k & 1);
        assert_int_equal(cg_bfv_to_ntt(f->ctx, &cts[k], NULL), CG_OK);
        cg_bfv_plain pb = {0};
        assert_int_equal(cg_bfv_encode_batch(f->ctx, b, f->n, &pb, &err), CG_OK);
        assert_int_equal(cg_bfv_plain_to_ntt(f->ctx, &pb, cg_bfv_nq(f->ctx), &pts[k], &err), CG_OK);
        cg_bfv_plain_free(&pb);
        if (k == 0) encrypt_vals(f, a, &c0, false);
        free(a);
        free(b);
    }
    cg_bfv_ksk rk;
    cg_bfv_galois_keys gk;
    int step = 3;
    assert_int_equal(cg_bfv_keygen_relin(f->ctx, &f->sk, &rk, &err), CG_OK);
    assert_int_equal(cg_bfv_keygen_galois(f->ctx, &f->sk, &step, 1, false, &gk, &err), CG_OK);
    run_ops(f, cts, pts, &c0, &rk, &gk, on);
    const kernels was = set_kernels(f->ctx, (kernels){false, false, false});
    run_ops(f, cts, pts, &c0, &rk, &gk, off);
    set_kernels(f->ctx, was);
    for (int i = 0; i < OPS; i++) assert_same_ct(&on[i], &off[i], f->n);
    for (int k = 0; k < K; k++) {
        cg_bfv_ct_free(&cts[k]);
        cg_bfv_plain_ntt_free(&pts[k]);
    }
    for (int i = 0; i < OPS; i++) cg_bfv_ct_free(&on[i]), cg_bfv_ct_free(&off[i]);
    cg_bfv_ct_free(&c0);
    cg_bfv_ksk_free(&rk);
    cg_bfv_galois_free(&gk);
}

static int setup_n16384(void **state) { return setup_spec(state, "n16384"); }

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kernels_match_portable)};
    int fails = cmocka_run_group_tests_name("bfv_kernels_test2048", tests, setup_small, teardown);
    fails += cmocka_run_group_tests_name("bfv_kernels_paper", tests, setup_paper, teardown);
    fails += cmocka_run_group_tests_name("bfv_kernels_n16384", tests, setup_n16384, teardown);
    return fails;
}
