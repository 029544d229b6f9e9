/* No heap allocation per operation after warm-up: the program is linked
 * with --wrap for the allocator entry points and with the counting wrappers
 * of src/cli/alloc_count.c (tests/CMakeLists.txt), so every malloc / calloc /
 * realloc / aligned_alloc the library makes passes through that counter.
 * Also checks the results of the buffer-reusing forms, aliasing included,
 * against their decryptions. */
#include "bfv_fixture.h"

/* From the linked counting object (src/cli/alloc_count.c, declared in its
 * header there, which a bfv test may not include). */
uint64_t cli_alloc_count(void);
static unsigned long long allocs(void) { return cli_alloc_count(); }

typedef struct ops {
    fixture *f;
    cg_bfv_ct a, b, an, bn, out, acc, sw;
    cg_bfv_plain pt, dec, mask;
    cg_bfv_plain_ntt pn;
} ops;

#define RUN(expr) assert_int_equal((expr), CG_OK)

/* Each operation twice for warm-up, then counted over 5 more calls. */
#define ZERO_ALLOCS(name, body)                                                         \
    do {                                                                              \
        for (int w_ = 0; w_ < 2; w_++) { body; }                                      \
        unsigned long long before_ = allocs();                                        \
        for (int r_ = 0; r_ < 5; r_++) { body; }                                      \
        unsigned long long got_ = allocs() - before_;                                 \
        printf("# %-24s %llu allocations in 5 calls\n", name, got_);                  \
        assert_int_equal(got_, 0);                                                     \
    } while (0)

static void test_no_allocation_after_warm_up(void **state)
{
    fixture *f = *state;
    cg_bfv_set_threads(f->ctx, 1);
    ops o = {.f = f};
    cg_error err = {0};
    /* the hook sees the library's allocations (else zero would prove nothing) */
    unsigned long long before = allocs();
    cg_bfv_ct probe = {0};
    RUN(cg_bfv_ct_alloc(f->ctx, &probe, 2, 1, &err));
    assert_true(allocs() > before);
    cg_bfv_ct_free(&probe);
    int64_t *va = random_slots(f), *vb = random_slots(f);
    encrypt_vals(f, va, &o.a, false);
    encrypt_vals(f, vb, &o.b, true);
    RUN(cg_bfv_encode_batch(f->ctx, vb, f->n, &o.pt, &err));
    RUN(cg_bfv_plain_alloc(f->ctx, &o.dec, &err));
    RUN(cg_bfv_plain_to_ntt(f->ctx, &o.pt, cg_bfv_nq(f->ctx), &o.pn, &err));
    RUN(cg_bfv_ct_copy(f->ctx, &o.an, &o.a, &err));
    RUN(cg_bfv_ct_copy(f->ctx, &o.bn, &o.b, &err));
    RUN(cg_bfv_to_ntt(f->ctx, &o.an, &err));
    RUN(cg_bfv_to_ntt(f->ctx, &o.bn, &err));
    const cg_bfv_ct *cts[4] = {&o.an, &o.bn, &o.an, &o.bn};
    const cg_bfv_plain_ntt *pts[4] = {&o.pn, &o.pn, &o.pn, &o.pn};

    ZERO_ALLOCS("add", RUN(cg_bfv_add(f->ctx, &o.a, &o.b, &o.out, &err)));
    ZERO_ALLOCS("sub", RUN(cg_bfv_sub(f->ctx, &o.a, &o.b, &o.out, &err)));
    ZERO_ALLOCS("add_inplace", RUN(cg_bfv_add_inplace(f->ctx, &o.out, &o.a, &err)));
    ZERO_ALLOCS("add_plain", RUN(cg_bfv_add_plain(f->ctx, &o.out, &o.pt, &err)));
    ZERO_ALLOCS("mul_plain", RUN(cg_bfv_mul_plain(f->ctx, &o.an, &o.pn, &o.out, &err)));
    ZERO_ALLOCS("mul_plain_inplace", RUN(cg_bfv_mul_plain_inplace(f->ctx, &o.out, &o.pn, &err)));
    ZERO_ALLOCS("mac_plain x4", RUN(cg_bfv_mac_plain(f->ctx, cts, pts, 4, &o.acc, &err)));
    ZERO_ALLOCS("copy + mod_switch_down", {
        RUN(cg_bfv_ct_copy(f->ctx, &o.sw, &o.a, &err));
        RUN(cg_bfv_mod_switch_down(f->ctx, &o.sw, &err));
    });
    ZERO_ALLOCS("encrypt_pk", RUN(cg_bfv_encrypt_pk(f->ctx, &f->pk, &o.pt, &o.out, &err)));
    ZERO_ALLOCS("encrypt_sk", RUN(cg_bfv_encrypt_sk(f->ctx, &f->sk, &o.pt, &o.out, &err)));
    ZERO_ALLOCS("decrypt", RUN(cg_bfv_decrypt(f->ctx, &f->sk, &o.a, &o.dec, &err)));
    ZERO_ALLOCS("to_ntt + from_ntt", {
        RUN(cg_bfv_to_ntt(f->ctx, &o.out, &err));
        RUN(cg_bfv_from_ntt(f->ctx, &o.out, &err));
    });
    cg_bfv_ksk rk = {0};
    cg_bfv_galois_keys gk = {0};
    const int steps[2] = {1, 2};
    RUN(cg_bfv_keygen_relin(f->ctx, &f->sk, &rk, &err));
    RUN(cg_bfv_keygen_galois(f->ctx, &f->sk, steps, 2, false, &gk, &err));
    ZERO_ALLOCS("multiply + relinearize", {
        RUN(cg_bfv_multiply(f->ctx, &o.a, &o.b, &o.acc, &err));
        RUN(cg_bfv_relinearize(f->ctx, &rk, &o.acc, &err));
    });
    ZERO_ALLOCS("rotate_rows", RUN(cg_bfv_rotate_rows(f->ctx, &gk, &o.a, 1, &o.acc, &err)));
    cg_bfv_ct rot[2] = {{0}};
    ZERO_ALLOCS("rotate_hoisted x2", RUN(cg_bfv_rotate_hoisted(f->ctx, &gk, &o.a, steps, 2, rot, &err)));
    ZERO_ALLOCS("mask_rotate", RUN(cg_bfv_mask_rotate(f->ctx, &gk, &o.a, &o.pn, 2, &o.sw, &err)));
    ZERO_ALLOCS("plain_to_ntt", RUN(cg_bfv_plain_to_ntt(f->ctx, &o.pt, cg_bfv_nq(f->ctx), &o.pn, &err)));
    /* what they computed: the same slots as the one-at-a-time forms */
    int64_t *exp = malloc(f->n * sizeof *exp);
    for (int k = 0; k < 2; k++) {
        RUN(cg_bfv_rotate_rows(f->ctx, &gk, &o.a, steps[k], &o.acc, &err));
        RUN(cg_bfv_decrypt(f->ctx, &f->sk, &o.acc, &o.dec, &err));
        RUN(cg_bfv_decode_batch(f->ctx, &o.dec, exp, &err));
        check_decrypts_to(f, &rot[k], exp);
    }
    RUN(cg_bfv_mul_plain(f->ctx, &o.an, &o.pn, &o.acc, &err));
    RUN(cg_bfv_rotate_rows(f->ctx, &gk, &o.acc, 2, &o.acc, &err));
    RUN(cg_bfv_decrypt(f->ctx, &f->sk, &o.acc, &o.dec, &err));
    RUN(cg_bfv_decode_batch(f->ctx, &o.dec, exp, &err));
    check_decrypts_to(f, &o.sw, exp);
    free(exp);
    cg_bfv_ct_free(&rot[0]);
    cg_bfv_ct_free(&rot[1]);
    cg_bfv_ksk_free(&rk);
    cg_bfv_galois_free(&gk);
    ZERO_ALLOCS("mask_and_flood", {
        RUN(cg_bfv_ct_copy(f->ctx, &o.sw, &o.a, &err));
        RUN(cg_bfv_mask_and_flood(f->ctx, &f->pk, &o.sw, 40, &o.mask, &err));
    });

    /* the reused objects still hold the right values */
    RUN(cg_bfv_encrypt_pk(f->ctx, &f->pk, &o.pt, &o.out, &err));
    check_decrypts_to(f, &o.out, vb);
    RUN(cg_bfv_add(f->ctx, &o.a, &o.b, &o.out, &err));
    int64_t *want = malloc(f->n * sizeof *want);
    for (size_t i = 0; i < f->n; i++) want[i] = va[i] + vb[i];
    check_decrypts_to(f, &o.out, want);
    check_noise(f, &o.out, 8, "add (reused)");
    RUN(cg_bfv_ct_copy(f->ctx, &o.sw, &o.a, &err));
    RUN(cg_bfv_mod_switch_down(f->ctx, &o.sw, &err));
    check_decrypts_to(f, &o.sw, va);
    check_noise(f, &o.sw, 12, "mod switch");
    free(want);
    free(va);
    free(vb);
    cg_bfv_ct *all[] = {&o.a, &o.b, &o.an, &o.bn, &o.out, &o.acc, &o.sw};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cg_bfv_ct_free(all[i]);
    cg_bfv_plain_free(&o.pt);
    cg_bfv_plain_free(&o.dec);
    cg_bfv_plain_free(&o.mask);
    cg_bfv_plain_ntt_free(&o.pn);
}

/* out aliasing an input, also when the result is larger than the alias
 * (a size-3 operand), and a multiply-accumulate written over one of its
 * inputs. */
static void test_aliasing(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    int64_t *va = random_slots(f), *vb = random_slots(f), *want = malloc(f->n * sizeof *want);
    cg_bfv_ct a = {0}, b = {0}, sq = {0}, x = {0};
    encrypt_vals(f, va, &a, false);
    encrypt_vals(f, vb, &b, false);
    /* a + (b with a zero third polynomial): size 3 into a size-2 alias */
    RUN(cg_bfv_ct_reserve(f->ctx, &sq, 3, cg_bfv_nq(f->ctx), &err));
    memset(sq.data, 0, 3 * cg_bfv_nq(f->ctx) * f->n * sizeof(uint64_t));
    memcpy(sq.data, b.data, 2 * cg_bfv_nq(f->ctx) * f->n * sizeof(uint64_t));
    RUN(cg_bfv_ct_copy(f->ctx, &x, &a, &err));
    RUN(cg_bfv_add(f->ctx, &x, &sq, &x, &err));
    assert_int_equal(x.size, 3);
    for (size_t i = 0; i < f->n; i++) want[i] = va[i] + vb[i];
    check_decrypts_to(f, &x, want);
    RUN(cg_bfv_sub_inplace(f->ctx, &x, &sq, &err));
    check_decrypts_to(f, &x, va);
    /* mac into its own first input */
    cg_bfv_plain pb = {0};
    cg_bfv_plain_ntt pn = {0};
    RUN(cg_bfv_encode_batch(f->ctx, vb, f->n, &pb, &err));
    RUN(cg_bfv_plain_to_ntt(f->ctx, &pb, cg_bfv_nq(f->ctx), &pn, &err));
    RUN(cg_bfv_to_ntt(f->ctx, &a, &err));
    RUN(cg_bfv_to_ntt(f->ctx, &b, &err));
    const cg_bfv_ct *cts[2] = {&a, &b};
    const cg_bfv_plain_ntt *pts[2] = {&pn, &pn};
    RUN(cg_bfv_mac_plain(f->ctx, cts, pts, 2, &a, &err));
    for (size_t i = 0; i < f->n; i++)
        want[i] = centred(f->t, (int64_t)((__int128)(va[i] + vb[i]) * vb[i] % (int64_t)f->t));
    check_decrypts_to(f, &a, want);
    RUN(cg_bfv_mul_plain_inplace(f->ctx, &b, &pn, &err));
    for (size_t i = 0; i < f->n; i++) want[i] = centred(f->t, (int64_t)((__int128)vb[i] * vb[i] % (int64_t)f->t));
    check_decrypts_to(f, &b, want);
    cg_bfv_plain_free(&pb);
    cg_bfv_plain_ntt_free(&pn);
    cg_bfv_ct *all[] = {&a, &b, &sq, &x};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) cg_bfv_ct_free(all[i]);
    free(va);
    free(vb);
    free(want);
}

int main(void)
{
    const struct CMUnitTest small[] = {
        cmocka_unit_test(test_no_allocation_after_warm_up),
        cmocka_unit_test(test_aliasing),
    };
    const struct CMUnitTest paper[] = {
        cmocka_unit_test(test_no_allocation_after_warm_up),
    };
    int r = cmocka_run_group_tests_name("bfv_alloc_test2048", small, setup_small, teardown);
    return r | cmocka_run_group_tests_name("bfv_alloc_paper", paper, setup_paper, teardown);
}
