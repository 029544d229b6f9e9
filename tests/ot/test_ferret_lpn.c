/* Ferret's kernels (ferret_lpn.c, ferret_ggm.c) against plain references:
 * the LPN (both AES back-ends, both multiply-shifts, any call size) gives
 * the rows of a plain per-row loop; the AVX-512 multiply-shift equals the
 * portable one; the VAES GGM level equals the AES-NI one; a GGM tree expanded in place equals the
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

/* The reference: row by row, each word of the code from its own counter
 * block (one-block AES-NI ECB of the block's index), multiply-shift, and
 * the ten base rows xored in. */
static void lpn_plain(size_t n, size_t k, uint8_t *rows, const uint8_t *base)
{
    static const uint8_t key16[16] = "cryptogen-lpn-1";
    ot_aes_key key;
    ot_aes_expand_aesni(&key, key16);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < FE_D; d++) {
            size_t w = FE_D * i + d;
            uint8_t ctr[16] = {0}, ks[16];
            uint64_t blk = w / 4;
            memcpy(ctr, &blk, 8);
            ot_aes_ecb_aesni(&key, ctr, ks, 1);
            uint32_t word;
            memcpy(&word, ks + 4 * (w % 4), 4);
            size_t j = (size_t)(((uint64_t)word * k) >> 32);
            for (int x = 0; x < 16; x++) rows[16 * i + (size_t)x] ^= base[16 * j + (size_t)x];
        }
}

typedef void (*offsets_fn)(uint32_t *, size_t, uint32_t);

/* fe_lpn_rows in calls of `call` rows, with the AES back-end ctr and the
 * multiply-shift offs. */
static void lpn_case(size_t n, size_t k, size_t call,
                     void (*ctr)(const ot_aes_key *, uint64_t, uint8_t *, size_t), offsets_fn offs)
{
    cg_prg prg;
    cg_prg_init_random(&prg);
    uint8_t *base = cg_alloc(16 * k), *a = cg_alloc(16 * n), *b = cg_alloc(16 * n);
    assert_non_null(base);
    assert_non_null(a);
    assert_non_null(b);
    cg_prg_bytes(&prg, base, 16 * k);
    cg_prg_bytes(&prg, a, 16 * n);
    memcpy(b, a, 16 * n);
    lpn_plain(n, k, a, base);
    cg_ot ot = {0};
    ot.ctr = ctr;
    fe_lpn_code c;
    fe_lpn_code_init(&c, &ot);
    c.offsets = offs;
    for (size_t i = 0; i < n; i += call)
        fe_lpn_rows(&c, k, base, b + 16 * i, i, n - i < call ? n - i : call);
    assert_memory_equal(a, b, 16 * n);
    cg_free(base);
    cg_free(a);
    cg_free(b);
}

static void test_lpn_equals_plain(void **state)
{
    (void)state;
    /* Only n and k matter to the LPN. */
    void (*ctrs[2])(const ot_aes_key *, uint64_t, uint8_t *, size_t) = {ot_aes_ctr_aesni, ot_aes_ctr_vaes};
    offsets_fn offs[2] = {fe_lpn_offsets_portable, fe_lpn_offsets_avx512};
    size_t nctr = ot_vaes_available() ? 2 : 1;
    size_t noff = (cg_cpu_features() & CG_CPU_AVX512F) ? 2 : 1;
    if (nctr == 1) fprintf(stderr, "no VAES here: the AES-NI back-end only\n");
    if (noff == 1) fprintf(stderr, "no AVX-512 here: the portable multiply-shift only\n");
    for (size_t c = 0; c < nctr; c++)
        for (size_t o = 0; o < noff; o++) {
            lpn_case(20000, 3001, 512, ctrs[c], offs[o]);
            lpn_case(20000, 3001, 8192, ctrs[c], offs[o]);
            lpn_case(20000, 3001, 2, ctrs[c], offs[o]);
            lpn_case(20001, 3001, 1026, ctrs[c], offs[o]);
            lpn_case(70000, 589824, 8192, ctrs[c], offs[o]);
            lpn_case(9000, 36288, 8190, ctrs[c], offs[o]);
        }
}

/* The AVX-512 multiply-shift against the portable one on random words
 * (both ends of the range included) for lengths around sixteen. */
static void test_lpn_offsets_avx512_equals_portable(void **state)
{
    (void)state;
    if (!(cg_cpu_features() & CG_CPU_AVX512F)) {
        fprintf(stderr, "no AVX-512 here: nothing to compare\n");
        return;
    }
    static const uint32_t ks[] = {1, 3001, 36288, 589824, (1u << 28) - 1};
    uint32_t a[100], b[100];
    for (size_t t = 0; t < 5; t++)
        for (size_t n = 0; n <= 100; n += 7) {
            cg_random_bytes(a, sizeof a);
            a[0] = 0;
            a[1] = UINT32_MAX;
            memcpy(b, a, sizeof a);
            fe_lpn_offsets_portable(a, n, ks[t]);
            fe_lpn_offsets_avx512(b, n, ks[t]);
            assert_memory_equal(a, b, sizeof a);
        }
}

/* The VAES level (eight parents at a time, the rest by AES-NI) against the
 * AES-NI one, for level sizes around the multiples of eight. */
static void test_ggm_level_vaes_equals_aesni(void **state)
{
    (void)state;
    if (!ot_vaes_available()) {
        fprintf(stderr, "no VAES here: nothing to compare\n");
        return;
    }
    fe_ggm g;
    fe_ggm_init(&g);
    static const size_t ms[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 31, 33, 64, 100, 4096};
    uint8_t *a = cg_alloc(16 * 8192), *b = cg_alloc(16 * 8192);
    for (size_t t = 0; t < sizeof ms / sizeof *ms; t++) {
        size_t m = ms[t];
        uint8_t sa[32], sb[32];
        cg_random_bytes(a, 16 * m);
        memcpy(b, a, 16 * m);
        ot_ggm_level_aesni(&g.k0, &g.k1, a, m, sa);
        ot_ggm_level_vaes(&g.k0, &g.k1, b, m, sb);
        assert_memory_equal(a, b, 32 * m);
        assert_memory_equal(sa, sb, 32);
    }
    cg_free(a);
    cg_free(b);
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
        cmocka_unit_test(test_lpn_equals_plain),
        cmocka_unit_test(test_ggm_level_vaes_equals_aesni),
        cmocka_unit_test(test_lpn_offsets_avx512_equals_portable),
        cmocka_unit_test(test_ggm_expand_equals_plain),
        cmocka_unit_test(test_ggm_single_point_cots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
