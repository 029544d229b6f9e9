/* Ferret's kernels (ferret_lpn.c, ferret_ggm.c) against plain references:
 * the two-pass, half-table LPN gives the rows of the one-pass loop for any
 * split, call size and window; a GGM tree expanded in place equals the
 * tree built level by level with one-block AES, level sums included; the
 * receiver of the single-point COTs gets every leaf but the punctured one,
 * which is the sender's xor Delta; and a refill's trees split into calls
 * give the bytes of one call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ot_fixture.h"
#include "ot/ferret.h"

static void lpn_case(const fe_params *p, size_t split, size_t call, size_t window)
{
    cg_prg prg;
    cg_prg_init_random(&prg);
    uint8_t *base = cg_alloc(16 * p->k), *a = cg_alloc(16 * p->n), *b = cg_alloc(16 * p->n);
    assert_non_null(base);
    assert_non_null(a);
    assert_non_null(b);
    cg_prg_bytes(&prg, base, 16 * p->k);
    cg_prg_bytes(&prg, a, 16 * p->n);
    memcpy(b, a, 16 * p->n);
    fe_lpn(p, a, NULL, base, NULL);
    fe_lpn_work l;
    assert_int_equal(fe_lpn_init(&l, p, base, split, NULL), CG_OK);
    for (size_t w0 = 0; w0 < p->n; w0 += window) {
        size_t wn = p->n - w0 < window ? p->n - w0 : window;
        for (size_t i = w0; i < w0 + wn; i += call)
            fe_lpn_add(&l, b + 16 * i, i, w0 + wn - i < call ? w0 + wn - i : call);
        fe_lpn_flush(&l, b + 16 * w0);
    }
    fe_lpn_free(&l);
    assert_memory_equal(a, b, 16 * p->n);
    cg_free(base);
    cg_free(a);
    cg_free(b);
}

static void test_blocked_lpn_equals_plain(void **state)
{
    (void)state;
    /* Only n and k matter to the LPN. */
    const fe_params small = {20000, 3001, 0, 0}, big = {FE_WINDOW + 5000, 589824, 0, 0};
    static const size_t splits[] = {0, 1, 1500, 3000, 3001, 100000};
    for (size_t s = 0; s < sizeof splits / sizeof *splits; s++) {
        lpn_case(&small, splits[s], 512, 20000);
        lpn_case(&small, splits[s], 8192, 8192);
        lpn_case(&small, splits[s], 2, 1000);
        lpn_case(&small, splits[s], 1026, 5130);
    }
    lpn_case(&big, big.k / 2, 8192, FE_WINDOW);
    lpn_case(&big, big.k / 3, 512, FE_WINDOW / 2);
}

/* The tree level by level from one-block AES. */
static void test_ggm_expand_equals_plain(void **state)
{
    (void)state;
    fe_ggm g;
    fe_ggm_init(&g);
    for (unsigned h = 1; h <= 13; h += 3) {
        size_t N = (size_t)1 << h;
        uint8_t *t = cg_alloc(16 * N), *ref = cg_alloc(16 * N), *next = cg_alloc(16 * N);
        uint8_t sums[32 * 13], want[32];
        cg_random_bytes(t, 16);
        memcpy(ref, t, 16);
        fe_ggm_expand(&g, h, t, sums);
        for (unsigned l = 0; l < h; l++) {
            size_t m = (size_t)1 << l;
            memset(want, 0, 32);
            for (size_t j = 0; j < m; j++)
                for (int c = 0; c < 2; c++) {
                    uint8_t *ch = next + 16 * (2 * j + (size_t)c);
                    ot_aes_ecb_aesni(c ? &g.k1 : &g.k0, ref + 16 * j, ch, 1);
                    for (int x = 0; x < 16; x++) {
                        ch[x] ^= ref[16 * j + (size_t)x];
                        want[16 * c + x] ^= ch[x];
                    }
                }
            memcpy(ref, next, 32 * m);
            assert_memory_equal(sums + 32 * l, want, 32);
        }
        assert_memory_equal(t, ref, 16 * N);
        cg_free(t);
        cg_free(ref);
        cg_free(next);
    }
}

/* Single-point COTs between two instances' halves without a channel: a
 * bare instance with the hash key and Delta is all fe_ggm_* use. */
static void test_ggm_single_point_cots(void **state)
{
    (void)state;
    const fe_params p = {64 * 128, 0, 64, 7};
    size_t N = 128, nb = p.t * p.h, per = 32 * p.h + 16;
    cg_ot ot = {0};
    uint8_t key[16];
    cg_random_bytes(key, 16);
    ot_aes_expand_aesni(&ot.pi, key);
    ot.tccr = ot_tccr_aesni;
    cg_random_bytes(ot.delta, 16);
    ot.delta[0] |= 1;
    uint8_t *q = cg_alloc(16 * nb), *t = cg_alloc(16 * nb), *c = cg_alloc(nb);
    cg_random_bytes(q, 16 * nb);
    cg_random_bytes(c, nb);
    for (size_t u = 0; u < nb; u++) {
        c[u] &= 1;
        for (int x = 0; x < 16; x++) t[16 * u + (size_t)x] = q[16 * u + (size_t)x] ^ (c[u] ? ot.delta[x] : 0);
    }
    uint8_t *v = cg_alloc(16 * p.n), *v2 = cg_alloc(16 * p.n), *w = cg_alloc(16 * p.n);
    uint8_t *msg = cg_alloc(per * p.t), *msg2 = cg_alloc(per * p.t);
    fe_ggm g;
    fe_ggm_init(&g);
    uint8_t seed[CG_SEED_BYTES] = {7};
    cg_prg prg;
    cg_prg_init(&prg, seed, 1);
    fe_ggm_send(&ot, &g, &p, q, 1000, 0, p.t, &prg, v, msg);
    /* Same seeds, trees in calls of 1, 3 and the rest. */
    cg_prg_init(&prg, seed, 1);
    fe_ggm_send(&ot, &g, &p, q, 1000, 0, 1, &prg, v2, msg2);
    fe_ggm_send(&ot, &g, &p, q, 1000, 1, 3, &prg, v2 + 16 * N, msg2 + per);
    fe_ggm_send(&ot, &g, &p, q, 1000, 4, p.t - 4, &prg, v2 + 16 * N * 4, msg2 + per * 4);
    assert_memory_equal(v, v2, 16 * p.n);
    assert_memory_equal(msg, msg2, per * p.t);
    fe_ggm_recv(&ot, &g, &p, t, c, 1000, 0, 5, msg, w);
    fe_ggm_recv(&ot, &g, &p, t, c, 1000, 5, p.t - 5, msg + per * 5, w + 16 * N * 5);
    for (size_t b = 0; b < p.t; b++) {
        size_t alpha = 0;
        for (unsigned l = 0; l < p.h; l++) alpha = 2 * alpha + (1u - c[b * p.h + l]);
        for (size_t j = 0; j < N; j++) {
            uint8_t want[16];
            memcpy(want, v + 16 * (N * b + j), 16);
            assert_int_equal(want[0] & 1, 0);
            if (j == alpha)
                for (int x = 0; x < 16; x++) want[x] ^= ot.delta[x];
            assert_memory_equal(w + 16 * (N * b + j), want, 16);
        }
    }
    cg_free(q);
    cg_free(t);
    cg_free(c);
    cg_free(v);
    cg_free(v2);
    cg_free(w);
    cg_free(msg);
    cg_free(msg2);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_lpn_equals_plain),
        cmocka_unit_test(test_ggm_expand_equals_plain),
        cmocka_unit_test(test_ggm_single_point_cots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
