/* Split attention, several rows per ciphertext (attn_mat.h): the plan
 * covers every causal (row, key) score exactly once, never returns more
 * ciphertexts than the one-row path (so the session's flood budget, counted
 * for that path, covers it), and its widest output (a pass of the default
 * 64 rows at the end of GPT-2 base's 1024 positions: the most pairs one output
 * sums) still decrypts at two primes after the session's flooding. The
 * end-to-end equality with the emulator is test_gen_split's. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/attn_mat.h"

enum { L = 37 };
static const uint64_t MASK = (1ull << L) - 1;

static gen_sess geometry(size_t n, size_t dh, size_t block)
{
    gen_sess s = {.party = CG_SERVER, .attn = CG_ATTN_SPLIT, .N = n, .dh = dh, .H = 1};
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&s.kv, n, dh, block, &err), CG_OK);
    return s;
}

/* The row path's returned ciphertexts per head: one per (row, block) of
 * scores and one output per row. */
static size_t row_path(const gen_sess *s, size_t pos0, size_t rows)
{
    size_t n = rows;
    for (size_t r = 0; r < rows; r++) n += kv_block_of(&s->kv, pos0 + r) + 1;
    return n;
}

static void check_plan(const gen_sess *s, size_t pos0, size_t rows)
{
    mat_plan pl;
    const size_t rp = row_path(s, pos0, rows);
    if (!mat_plan_init(s, pos0, rows, rp, &pl)) return;
    assert_true(mat_returned_per_head(&pl) < rp);
    assert_true(pl.mw * pl.kw * s->dh <= s->N);
    assert_true(pl.mw <= s->kv.block && pl.kw <= s->kv.block);
    const size_t cols = pos0 + rows;
    unsigned char *seen = calloc(rows * cols, 1);
    assert_non_null(seen);
    for (size_t p = 0; p < pl.n_pairs; p++) {
        const size_t g = pl.pair_g[p], k = pl.pair_k[p];
        assert_true(p >= pl.g_first[g] && p < pl.g_first[g + 1]);
        for (size_t r = g * pl.mw; r < (g + 1) * pl.mw && r < rows; r++)
            for (size_t c = k * pl.kw; c < (k + 1) * pl.kw && c < cols; c++)
                if (c <= pos0 + r) seen[r * cols + c]++;
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c <= pos0 + r; c++) assert_int_equal(seen[r * cols + c], 1);
    free(seen);
    mat_plan_free(&pl);
}

static void test_plan_covers_causal_scores_once(void **state)
{
    (void)state;
    const size_t blocks[3] = {0, 4, 16};
    for (int b = 0; b < 3; b++) {
        const gen_sess s = geometry(8192, 64, blocks[b]);
        for (size_t rows = 1; rows <= 40; rows += 3)
            for (size_t pos0 = 0; pos0 < 300; pos0 += 37) check_plan(&s, pos0, rows);
        check_plan(&s, 992, 32);
        check_plan(&s, 960, 64);
        check_plan(&s, 0, 64);
    }
    /* GPT-2 base, a 64-token prompt from position 0: 16 rows x 8 keys per
     * ciphertext, 20 causal pairs and 4 outputs per head against 128
     * returned ciphertexts on the row path */
    const gen_sess s = geometry(8192, 64, 0);
    mat_plan pl;
    assert_true(mat_plan_init(&s, 0, 64, row_path(&s, 0, 64), &pl));
    fprintf(stderr, "64 rows from 0: mw %zu kw %zu, %zu pairs + %zu outputs per head (row path %zu)\n",
            pl.mw, pl.kw, pl.n_pairs, pl.ng, row_path(&s, 0, 64));
    assert_true(mat_returned_per_head(&pl) <= 32);
    mat_plan_free(&pl);
    /* one row: the decode path, never the matrix one */
    assert_false(mat_plan_init(&s, 100, 1, row_path(&s, 100, 1), &pl));
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x & MASK;
}

static void test_widest_output_fits_at_1024(void **state)
{
    (void)state;
    gen_sess s = geometry(8192, 64, 0);
    s.cfg = (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                             .vocab_size = 50257, .ln_eps = 1e-5f};
    s.req = (cg_gen_request){.he_preset = "paper", .use_cache = true, .prompt_len = 1, .new_tokens = 1023};
    s.d = 768, s.H = 12, s.V = 50257;
    const unsigned bits = gen_flood_bits(&s);
    s.H = 1;
    mat_plan pl;
    /* the last pass of the default rows: the most terms per output */
    const size_t rows = GEN_PREFILL_CHUNK, pos0 = 1024 - rows;
    assert_true(mat_plan_init(&s, pos0, rows, row_path(&s, pos0, rows), &pl));
    size_t widest = 0;
    for (size_t g = 0; g < pl.ng; g++)
        if (pl.g_first[g + 1] - pl.g_first[g] > widest) widest = pl.g_first[g + 1] - pl.g_first[g];
    mat_plan_free(&pl);
    cg_error err = {0};
    cg_bfv_spec spec;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << L;
    cg_bfv_ctx *c;
    cg_bfv_sk sk;
    cg_bfv_pk pk;
    assert_int_equal(cg_bfv_ctx_new(&c, &spec, &err), CG_OK);
    assert_int_equal(cg_bfv_keygen(c, &sk, &pk, &err), CG_OK);
    const size_t n = cg_bfv_n(c), terms = 2 * widest;
    cg_bfv_ct *cts = calloc(terms, sizeof *cts);
    cg_bfv_plain_ntt *pts = calloc(terms, sizeof *pts);
    const cg_bfv_ct **cp = calloc(terms, sizeof *cp);
    const cg_bfv_plain_ntt **pp = calloc(terms, sizeof *pp);
    int64_t *co = calloc(n, sizeof *co);
    assert_true(cts && pts && cp && pp && co);
    uint64_t x = 0x2545f4914f6cdd1dull;
    cg_bfv_plain pt = {0};
    for (size_t t = 0; t < terms; t++) { /* fresh inputs, uniform plaintext shares: the worst case */
        for (size_t i = 0; i < n; i++) co[i] = (int64_t)next(&x);
        assert_int_equal(cg_bfv_encode_coeff(c, co, n, &pt, &err), CG_OK);
        assert_int_equal(cg_bfv_encrypt_sk(c, &sk, &pt, &cts[t], &err), CG_OK);
        cts[t].noise_log2 = cg_bfv_fresh_noise_estimate(c, false);
        assert_int_equal(cg_bfv_to_ntt(c, &cts[t], &err), CG_OK);
        for (size_t i = 0; i < n; i++) co[i] = (int64_t)next(&x);
        assert_int_equal(cg_bfv_encode_coeff(c, co, n, &pt, &err), CG_OK);
        assert_int_equal(cg_bfv_plain_to_ntt(c, &pt, cg_bfv_nq(c), &pts[t], &err), CG_OK);
        pts[t].norm_log2 = L - 1.0;
        cp[t] = &cts[t], pp[t] = &pts[t];
    }
    cg_bfv_ct out = {0};
    assert_int_equal(cg_bfv_mac_plain(c, cp, pp, terms, &out, &err), CG_OK);
    cg_bfv_plain want = {0}, got = {0}, r = {0};
    assert_int_equal(cg_bfv_decrypt(c, &sk, &out, &want, &err), CG_OK);
    assert_int_equal(cg_bfv_mask_and_flood(c, &pk, &out, bits, &r, &err), CG_OK);
    fprintf(stderr, "widest output at 1024: %zu terms, %u flood bits, %zu primes after\n", terms, bits, out.level);
    assert_int_equal(out.level, 2);
    assert_int_equal(cg_bfv_decrypt(c, &sk, &out, &got, &err), CG_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal((got.coeffs[i] + r.coeffs[i]) & MASK, want.coeffs[i] & MASK);
    cg_bfv_plain_free(&want);
    cg_bfv_plain_free(&got);
    cg_bfv_plain_free(&r);
    cg_bfv_plain_free(&pt);
    cg_bfv_ct_free(&out);
    for (size_t t = 0; t < terms; t++) cg_bfv_ct_free(&cts[t]), cg_bfv_plain_ntt_free(&pts[t]);
    free(cts), free(pts), free(cp), free(pp), free(co);
    cg_bfv_sk_free(&sk);
    cg_bfv_pk_free(&pk);
    cg_bfv_ctx_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_covers_causal_scores_once),
        cmocka_unit_test(test_widest_output_fits_at_1024),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
