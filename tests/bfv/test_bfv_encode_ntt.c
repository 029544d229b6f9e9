/* cg_bfv_encode_coeff_ntt against cg_bfv_encode_coeff + cg_bfv_plain_to_ntt:
 * the same NTT rows and norm for signed values of every size (weights,
 * shares mod t, t/2 at the centring edge, the int64 extremes), prefixes of
 * every length, a power-of-two t and a batching prime t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/bfv.h"
#include "cryptogen/common.h"

static void check_t(const char *preset, uint64_t t)
{
    cg_error err = {0};
    cg_bfv_spec spec;
    assert_int_equal(cg_bfv_preset(preset, &spec, &err), CG_OK);
    if (t) spec.t = t;
    cg_bfv_ctx *c = NULL;
    assert_int_equal(cg_bfv_ctx_new(&c, &spec, &err), CG_OK);
    const size_t n = cg_bfv_n(c), T = cg_bfv_t(c);
    int64_t *v = cg_calloc(n, sizeof *v);
    assert_non_null(v);
    cg_prg prg;
    const uint8_t seed[CG_SEED_BYTES] = {7};
    cg_prg_init(&prg, seed, 1);
    const size_t counts[] = {0, 1, 17, n / 8, n / 2 + 3, n};
    cg_bfv_plain pt = {0};
    cg_bfv_plain_ntt a = {0}, b = {0};
    for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
        const size_t count = counts[ci];
        for (unsigned kind = 0; kind < 4; kind++) {
            memset(v, 0, n * sizeof *v);
            for (size_t j = 0; j < count; j++) {
                const uint64_t r = cg_prg_u64(&prg);
                if (kind == 0) v[j] = (int64_t)(r % (1u << 20)) - (1 << 19);       /* weights */
                else if (kind == 1) v[j] = (int64_t)(r % T);                       /* shares */
                else if (kind == 2) v[j] = (j & 1) ? (int64_t)(T / 2) : -(int64_t)(T / 2);
                else v[j] = (j % 3 == 0) ? INT64_MIN : (j % 3 == 1) ? INT64_MAX : (int64_t)r;
            }
            for (size_t level = 1; level <= cg_bfv_nq(c); level += cg_bfv_nq(c) - 1) {
                assert_int_equal(cg_bfv_encode_coeff(c, v, n, &pt, &err), CG_OK);
                assert_int_equal(cg_bfv_plain_to_ntt(c, &pt, level, &a, &err), CG_OK);
                assert_int_equal(cg_bfv_encode_coeff_ntt(c, v, count, level, &b, &err), CG_OK);
                assert_int_equal(a.level, b.level);
                assert_memory_equal(a.data, b.data, level * n * sizeof(uint64_t));
                assert_true(a.norm_log2 == b.norm_log2);
            }
        }
    }
    assert_int_equal(cg_bfv_encode_coeff_ntt(c, v, n + 1, 1, &b, &err), CG_ERR_ARG);
    assert_int_equal(cg_bfv_encode_coeff_ntt(c, v, n, cg_bfv_nq(c) + 1, &b, &err), CG_ERR_ARG);
    cg_prg_clear(&prg);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_ntt_free(&a);
    cg_bfv_plain_ntt_free(&b);
    cg_free(v);
    cg_bfv_ctx_free(c);
}

static void test_pow2_t(void **state)
{
    (void)state;
    check_t("paper", 1ull << 37);
}

static void test_prime_t(void **state)
{
    (void)state;
    check_t("test2048", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pow2_t),
        cmocka_unit_test(test_prime_t),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
