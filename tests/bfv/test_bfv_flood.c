/* mask_and_flood's samplers: the chunked flood sampler adds exactly the
 * integer the per-coefficient reference (the code it replaced) adds for the
 * same PRG stream, at every width from one to three words; at a width that
 * a 45-bit prime holds, every coefficient is touched, lies in
 * [-3 * 2^bits, 3 * 2^bits), agrees across the primes and has mean ~ 0; the
 * mask is uniform on [0, t) (range, mean, and for t = 2^l the top l bits of
 * the PRG words). mask_and_flood itself, from NTT and from coefficient
 * form (two code paths), leaves ciphertexts that decrypt to value - mask
 * within their tracked noise bound. */
#include <math.h>

#include "bfv_fixture.h"
#include "bfv/bfv_internal.h"

/* The sampler as it was: one PRG call per coefficient, limb arithmetic,
 * the magnitude reduced word by word and negated by sign. */
static void add3(uint64_t a[3], const uint64_t b[3])
{
    cg_u128 c = 0;
    for (int i = 0; i < 3; i++) {
        c += (cg_u128)a[i] + b[i];
        a[i] = (uint64_t)c;
        c >>= 64;
    }
}
static void sub3(uint64_t r[3], const uint64_t a[3], const uint64_t b[3])
{
    uint64_t borrow = 0;
    for (int i = 0; i < 3; i++) {
        const uint64_t d = a[i] - b[i] - borrow;
        borrow = (a[i] < b[i]) || (a[i] - b[i] < borrow);
        r[i] = d;
    }
}
static bool less3(const uint64_t a[3], const uint64_t b[3])
{
    for (int i = 2; i >= 0; i--)
        if (a[i] != b[i]) return a[i] < b[i];
    return false;
}
static void ref_flood(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, unsigned bits,
                      uint64_t *out)
{
    const unsigned nbits = bits + 1;
    const size_t limbs = (nbits + 63) / 64;
    const unsigned top = nbits - 64 * (unsigned)(limbs - 1);
    const uint64_t top_mask = top == 64 ? ~0ull : (1ull << top) - 1;
    uint64_t centre[3] = {0};
    centre[bits / 64] = 1ull << (bits % 64);
    const uint64_t one[3] = {centre[0], centre[1], centre[2]};
    add3(centre, one);
    add3(centre, one);
    uint64_t draw[9];
    for (size_t j = 0; j < n; j++) {
        uint64_t sum[3] = {0}, mag[3];
        cg_prg_bytes(prg, draw, 3 * limbs * sizeof *draw);
        for (int u = 0; u < 3; u++) {
            uint64_t v[3] = {0};
            for (size_t l = 0; l < limbs; l++) v[l] = draw[u * limbs + l];
            v[limbs - 1] &= top_mask;
            add3(sum, v);
        }
        const bool neg = less3(sum, centre);
        if (neg) sub3(mag, centre, sum);
        else sub3(mag, sum, centre);
        for (size_t i = 0; i < k; i++) {
            uint64_t r = 0;
            for (size_t l = 3; l-- > 0;) r = cg_mod_reduce128(((cg_u128)r << 64) | mag[l], &mods[i]);
            const uint64_t q = mods[i].value, v = neg ? cg_mod_neg(r, q) : r;
            out[i * n + j] = cg_mod_add(out[i * n + j], v, q);
        }
    }
}

static void test_flood_matches_reference(void **state)
{
    (void)state;
    /* primes of 36 to 60 bits (the sampler's bound is q < 2^61) */
    static const uint64_t qs[4] = {68719403009ull, 17592186028033ull, 1152921504606830593ull,
                                   562949953392641ull};
    cg_modulus mods[4];
    cg_error err = {0};
    for (int i = 0; i < 4; i++) assert_int_equal(cg_modulus_init(&mods[i], qs[i], &err), CG_OK);
    static const unsigned widths[] = {1, 20, 62, 63, 64, 100, 125, 126, 127, 128, 150, 186};
    static const size_t ns[] = {2048, 100, 1};
    uint8_t seed[CG_SEED_BYTES] = {7};
    for (size_t a = 0; a < sizeof widths / sizeof widths[0]; a++) {
        for (size_t b = 0; b < 3; b++) {
            const size_t n = ns[b];
            uint64_t *x = calloc(4 * n, sizeof *x), *y = calloc(4 * n, sizeof *y);
            for (size_t i = 0; i < 4 * n; i++) x[i] = y[i] = (i * 0x9e3779b97f4a7c15ull) % qs[i / n];
            cg_prg p1, p2;
            cg_prg_init(&p1, seed, a * 3 + b);
            cg_prg_init(&p2, seed, a * 3 + b);
            bfv_sample_flood(&p1, mods, 4, n, widths[a], x);
            ref_flood(&p2, mods, 4, n, widths[a], y);
            assert_memory_equal(x, y, 4 * n * sizeof *x);
            /* both consumed the same stream */
            assert_int_equal(cg_prg_u64(&p1), cg_prg_u64(&p2));
            free(x);
            free(y);
        }
    }
}

static void test_flood_statistics(void **state)
{
    (void)state;
    static const uint64_t qs[3] = {35184372744193ull, 35184372121601ull, 35184371990529ull};
    cg_modulus mods[3];
    cg_error err = {0};
    for (int i = 0; i < 3; i++) assert_int_equal(cg_modulus_init(&mods[i], qs[i], &err), CG_OK);
    const size_t n = 8192;
    const unsigned bits = 40;
    uint64_t *x = calloc(3 * n, sizeof *x);
    cg_prg prg;
    cg_prg_init_random(&prg);
    bfv_sample_flood(&prg, mods, 3, n, bits, x);
    const int64_t lim = 3ll << bits;
    double mean = 0, var = 0;
    for (size_t j = 0; j < n; j++) {
        const int64_t e = x[j] > qs[0] / 2 ? (int64_t)x[j] - (int64_t)qs[0] : (int64_t)x[j];
        assert_true(e >= -lim && e < lim);
        assert_true(e != 0); /* P(e = 0) ~ 2^-43 per coefficient */
        for (size_t i = 1; i < 3; i++) {
            const uint64_t want = e < 0 ? qs[i] - (uint64_t)(-e) : (uint64_t)e;
            assert_int_equal(x[i * n + j], want);
        }
        mean += (double)e;
        var += (double)e * (double)e;
    }
    mean /= (double)n;
    var /= (double)n;
    /* the sum of three uniforms on [-W, W) has variance W^2: the mean of n
     * is within 6 W / sqrt(n), the variance within 10 % */
    const double w = ldexp(1.0, (int)bits);
    assert_true(fabs(mean) < 6 * w / sqrt((double)n));
    assert_true(fabs(var / (w * w) - 1.0) < 0.1);
    free(x);
    cg_prg_clear(&prg);
}

static void test_mask_uniform(void **state)
{
    (void)state;
    const size_t n = 8192;
    uint64_t *x = malloc(n * sizeof *x), *raw = malloc(n * sizeof *raw);
    static const uint64_t ts[] = {536903681ull, 1ull << 37, 3, 1ull << 1, (1ull << 60) + 33};
    uint8_t seed[CG_SEED_BYTES] = {9};
    for (size_t a = 0; a < sizeof ts / sizeof ts[0]; a++) {
        const uint64_t t = ts[a];
        cg_prg prg;
        cg_prg_init(&prg, seed, a);
        bfv_sample_mask(&prg, t, n, x);
        double mean = 0;
        for (size_t j = 0; j < n; j++) {
            assert_true(x[j] < t);
            mean += (double)x[j];
        }
        mean /= (double)n;
        /* uniform on [0, t): sd t / sqrt(12); the mean of n within 6 sd / sqrt(n) */
        const double td = (double)t;
        assert_true(fabs(mean - (td - 1) / 2) < 6 * td / sqrt(12.0 * (double)n));
        if ((t & (t - 1)) == 0) { /* t = 2^l: the top l bits of each word, none refused */
            unsigned l = 0;
            while ((1ull << l) < t) l++;
            cg_prg_init(&prg, seed, a);
            cg_prg_bytes(&prg, raw, n * sizeof *raw);
            for (size_t j = 0; j < n; j++) assert_int_equal(x[j], raw[j] >> (64 - l));
        }
        cg_prg_clear(&prg);
    }
    free(x);
    free(raw);
}

static void test_mask_and_flood_both_forms(void **state)
{
    fixture *f = *state;
    cg_error err = {0};
    int64_t *v = malloc(f->n * sizeof *v);
    for (size_t j = 0; j < f->n; j++) v[j] = (int64_t)cg_prg_uniform(&f->prg, f->t) - (int64_t)(f->t / 2);
    cg_bfv_plain pt = {0}, mask = {0}, dec = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->ctx, v, f->n, &pt, &err), CG_OK);
    for (int form = 0; form < 2; form++) {
        cg_bfv_ct ct = {0};
        assert_int_equal(cg_bfv_encrypt_pk(f->ctx, &f->pk, &pt, &ct, &err), CG_OK);
        if (form) assert_int_equal(cg_bfv_to_ntt(f->ctx, &ct, &err), CG_OK);
        assert_int_equal(cg_bfv_mask_and_flood(f->ctx, &f->pk, &ct, 52, &mask, &err), CG_OK);
        assert_false(ct.ntt);
        double noise = 0, budget = 0;
        assert_int_equal(cg_bfv_noise_measure(f->ctx, &f->sk, &ct, &noise, &budget, &err), CG_OK);
        assert_true(noise <= ct.noise_log2);
        assert_true(budget > 0);
        assert_int_equal(cg_bfv_decrypt(f->ctx, &f->sk, &ct, &dec, &err), CG_OK);
        check_unmasks_to(f, &dec, &mask, v, NULL, f->n);
        cg_bfv_ct_free(&ct);
    }
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_free(&mask);
    cg_bfv_plain_free(&dec);
    free(v);
}

int main(void)
{
    cg_error err = {0};
    if (cg_init(&err) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_matches_reference),
        cmocka_unit_test(test_flood_statistics),
        cmocka_unit_test(test_mask_uniform),
        cmocka_unit_test_setup_teardown(test_mask_and_flood_both_forms, setup_small, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
