/* The KV cache on its own, apart from secure generation: its layout's index
 * maps, the products of laid-out vectors against a naive negacyclic
 * multiplication mod 2^l (the plaintext algebra the ciphertexts follow),
 * and the container with real ciphertexts (append, scores, probabilities,
 * refresh selection, usage). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/kv_cache.h"
#include "proto/he_fixture.h"

#define L_BITS 37
#define MASK ((1ull << L_BITS) - 1)

typedef struct geometry {
    size_t n, head_dim, block;
} geometry;

/* The protocol's shape (GPT-2: d_head 64, 128 positions per block), a
 * smaller block, and small rings with odd block sizes. */
static const geometry shapes[] = {{8192, 64, 128}, {8192, 64, 8}, {256, 16, 16}, {256, 16, 5},
                                  {64, 8, 3},      {32, 32, 1},   {16, 4, 4}};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* c = a b in Z_{2^l}[x] / (x^n + 1), schoolbook. */
static void negacyclic(const uint64_t *a, const uint64_t *b, size_t n, uint64_t *c)
{
    memset(c, 0, n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        if (!a[i]) continue;
        for (size_t j = 0; j < n; j++) {
            uint64_t t = a[i] * b[j];
            if (i + j < n) c[i + j] += t;
            else c[i + j - n] -= t;
        }
    }
    for (size_t i = 0; i < n; i++) c[i] &= MASK;
}

static kv_layout layout_of(const geometry *s)
{
    kv_layout g;
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&g, s->n, s->head_dim, s->block, &err), CG_OK);
    return g;
}

static void test_layout_init_checks(void **state)
{
    (void)state;
    kv_layout g;
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&g, 8192, 64, 0, &err), CG_OK);
    assert_int_equal(g.block, 128); /* 0: the most that fit */
    assert_int_equal(kv_layout_init(&g, 8192, 64, 129, &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "at most 128"));
    assert_int_equal(kv_layout_init(&g, 8192, 48, 0, &err), CG_ERR_PARAM);
    assert_int_equal(kv_layout_init(&g, 8192, 0, 0, &err), CG_ERR_PARAM);
    assert_int_equal(kv_layout_init(&g, 16, 32, 0, &err), CG_ERR_PARAM);
}

/* Every map stays inside the ring, is one-to-one, and the positions of a
 * length fall into the blocks kv_blocks_for counts. */
static void test_index_maps(void **state)
{
    (void)state;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const kv_layout g = layout_of(&shapes[t]);
        uint8_t *seen_k = calloc(g.n, 1), *seen_v = calloc(g.n, 1), *seen_q = calloc(g.n, 1);
        assert_non_null(seen_k);
        assert_non_null(seen_v);
        assert_non_null(seen_q);
        for (size_t j = 0; j < g.block; j++)
            for (size_t i = 0; i < g.head_dim; i++) {
                size_t k = kv_key_coeff(&g, j, i), v = kv_value_coeff(&g, j, i);
                assert_true(k < g.n && v < g.n);
                assert_int_equal(seen_k[k]++, 0);
                assert_int_equal(seen_v[v]++, 0);
            }
        for (size_t i = 0; i < g.head_dim; i++) {
            assert_true(kv_query_coeff(&g, i) < g.head_dim);
            assert_int_equal(seen_q[kv_query_coeff(&g, i)]++, 0);
            assert_true(kv_output_coeff(&g, i) < g.n);
        }
        for (size_t j = 0; j < g.block; j++) {
            assert_true(kv_score_coeff(&g, j) < g.n);
            assert_int_equal(kv_prob_coeff(&g, j), j);
        }
        for (size_t len = 1; len <= 3 * g.block + 1; len++) {
            assert_int_equal(kv_blocks_for(&g, len), kv_block_of(&g, len - 1) + 1);
            assert_true(kv_blocks_for(&g, len) * g.block >= len);
        }
        assert_int_equal(kv_blocks_for(&g, 0), 0);
        free(seen_k);
        free(seen_v);
        free(seen_q);
    }
}

/* A full K block (random values at every position) times a laid-out query
 * gives each position's dot product; positions at or beyond len are not
 * written. */
static void test_scores_layout_products(void **state)
{
    (void)state;
    uint64_t seed = 1;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const kv_layout g = layout_of(&shapes[t]);
        const size_t n = g.n, dh = g.head_dim, B = g.block, block = 2;
        uint64_t *kblk = calloc(n, 8), *qco = calloc(n, 8), *prod = calloc(n, 8);
        uint64_t *keys = calloc(3 * B * dh, 8), *q = calloc(dh, 8), *scores = calloc(3 * B, 8);
        assert_true(kblk && qco && prod && keys && q && scores);
        for (size_t i = 0; i < 3 * B * dh; i++) keys[i] = splitmix(&seed) & MASK;
        for (size_t i = 0; i < dh; i++) q[i] = splitmix(&seed) & MASK;
        for (size_t pos = block * B; pos < (block + 1) * B; pos++) kv_place_key(&g, pos, keys + pos * dh, kblk);
        kv_layout_query(&g, q, qco);
        negacyclic(kblk, qco, n, prod);
        const size_t len = block * B + (B + 1) / 2; /* a partial last block */
        for (size_t i = 0; i < 3 * B; i++) scores[i] = 0xdead;
        kv_take_scores(&g, block, len, prod, scores);
        for (size_t pos = 0; pos < 3 * B; pos++) {
            if (pos < block * B || pos >= len) {
                assert_int_equal(scores[pos], 0xdead);
                continue;
            }
            uint64_t want = 0;
            for (size_t i = 0; i < dh; i++) want += keys[pos * dh + i] * q[i];
            assert_int_equal(scores[pos], want & MASK);
        }
        free(kblk), free(qco), free(prod), free(keys), free(q), free(scores);
    }
}

/* Two V blocks times their blocks of probabilities, summed: each output
 * dimension is sum_j p_j v_j[i] over the row's positions. */
static void test_values_layout_products(void **state)
{
    (void)state;
    uint64_t seed = 2;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const kv_layout g = layout_of(&shapes[t]);
        const size_t n = g.n, dh = g.head_dim, B = g.block;
        const size_t len = B + (B + 2) / 3; /* the second block partly filled */
        uint64_t *vals = calloc(2 * B * dh, 8), *p = calloc(2 * B, 8);
        uint64_t *vblk = calloc(n, 8), *pco = calloc(n, 8), *prod = calloc(n, 8), *sum = calloc(n, 8);
        uint64_t *o = calloc(dh, 8);
        assert_true(vals && p && vblk && pco && prod && sum && o);
        for (size_t i = 0; i < 2 * B * dh; i++) vals[i] = splitmix(&seed) & MASK;
        for (size_t j = 0; j < 2 * B; j++) p[j] = splitmix(&seed) & MASK;
        assert_int_equal(kv_blocks_for(&g, len), 2);
        for (size_t b = 0; b < 2; b++) {
            memset(vblk, 0, n * 8);
            for (size_t pos = b * B; pos < (b + 1) * B && pos < len; pos++)
                kv_place_value(&g, pos, vals + pos * dh, vblk);
            kv_layout_probs(&g, b, p, len, pco);
            for (size_t j = 0; j < n; j++)
                if (j >= B) assert_int_equal(pco[j], 0);
            negacyclic(vblk, pco, n, prod);
            for (size_t j = 0; j < n; j++) sum[j] = (sum[j] + prod[j]) & MASK;
        }
        kv_take_output(&g, sum, o);
        for (size_t i = 0; i < dh; i++) {
            uint64_t want = 0;
            for (size_t pos = 0; pos < len; pos++) want += p[pos] * vals[pos * dh + i];
            assert_int_equal(o[i], want & MASK);
        }
        free(vals), free(p), free(vblk), free(pco), free(prod), free(sum), free(o);
    }
}

/* ---- The container with ciphertexts ------------------------------------------ */

static void encrypt_coeffs(he_fixture *f, const uint64_t *co, cg_bfv_ct *ct)
{
    cg_error err = {0};
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_encode_coeff(f->c, (const int64_t *)co, cg_bfv_n(f->c), &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_sk(f->c, &f->sk, &pt, ct, &err), CG_OK);
    cg_bfv_plain_free(&pt);
}

static void decrypt_coeffs(he_fixture *f, const cg_bfv_ct *ct, uint64_t *co)
{
    cg_error err = {0};
    cg_bfv_plain pt = {0};
    assert_int_equal(cg_bfv_plain_alloc(f->c, &pt, &err), CG_OK);
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &pt, &err), CG_OK);
    for (size_t i = 0; i < cg_bfv_n(f->c); i++) co[i] = pt.coeffs[i] & MASK;
    cg_bfv_plain_free(&pt);
}

/* Positions 0..B+2 of one (layer, head) appended one by one (crossing into
 * a second block), then scores and the weighted values from ciphertexts
 * equal the plaintext dot products; refresh selection, replacement and
 * usage follow the append counts. */
static void test_cache_with_ciphertexts(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    const size_t n = cg_bfv_n(f.c), dh = 64, B = 8, layers = 2, heads = 3, len = B + 3;
    const size_t layer = 1, head = 2;
    kv_layout g;
    assert_int_equal(kv_layout_init(&g, n, dh, B, &err), CG_OK);
    kv_cache c;
    assert_int_equal(kv_cache_init(&c, &g, layers, heads, 2, &err), CG_OK);
    /* distinct, in range, for every slot */
    uint8_t *seen = calloc(layers * heads * 2, 1);
    for (size_t l = 0; l < layers; l++)
        for (size_t h = 0; h < heads; h++)
            for (size_t b = 0; b < 2; b++) assert_int_equal(seen[kv_cache_index(&c, l, h, b)]++, 0);
    free(seen);
    uint64_t seed = 3;
    uint64_t *keys = calloc(len * dh, 8), *vals = calloc(len * dh, 8), *co = calloc(n, 8);
    assert_true(keys && vals && co);
    for (size_t i = 0; i < len * dh; i++) {
        keys[i] = splitmix(&seed) % 8192; /* small, as activations are */
        vals[i] = splitmix(&seed) % 8192;
    }
    for (size_t pos = 0; pos < len; pos++)
        for (int kind = 0; kind < 2; kind++) {
            cg_bfv_ct ct = {0};
            memset(co, 0, n * 8);
            if (kind == KV_KEY) kv_place_key(&g, pos, keys + pos * dh, co);
            else kv_place_value(&g, pos, vals + pos * dh, co);
            encrypt_coeffs(&f, co, &ct);
            assert_int_equal(kv_cache_append(&c, f.c, (kv_kind)kind, layer, head, pos, &ct, &err), CG_OK);
            /* a block's first position is moved in; later ones are added */
            if (pos % B == 0) assert_null(ct.data);
            else assert_non_null(ct.data);
            cg_bfv_ct_free(&ct);
        }
    /* outside the cache: refused, not written */
    cg_bfv_ct extra = {0};
    assert_int_equal(kv_cache_append(&c, f.c, KV_KEY, layer, head, 2 * B, &extra, &err), CG_ERR_INTERNAL);
    uint64_t cts, bytes;
    kv_cache_usage(&c, &cts, &bytes);
    assert_int_equal(cts, 4); /* K and V, two blocks */
    assert_true(bytes > 0);

    /* scores: q against both K blocks */
    uint64_t *q = calloc(dh, 8), *scores = calloc(len, 8), *prod = calloc(n, 8);
    for (size_t i = 0; i < dh; i++) q[i] = splitmix(&seed) % 8192;
    kv_layout_query(&g, q, co);
    cg_bfv_ct qct = {0}, out = {0};
    encrypt_coeffs(&f, co, &qct);
    for (size_t b = 0; b < kv_blocks_for(&g, len); b++) {
        assert_int_equal(kv_cache_scores(&c, f.c, &f.rk, layer, head, b, &qct, &out, &err), CG_OK);
        decrypt_coeffs(&f, &out, prod);
        kv_take_scores(&g, b, len, prod, scores);
    }
    for (size_t pos = 0; pos < len; pos++) {
        uint64_t want = 0;
        for (size_t i = 0; i < dh; i++) want += keys[pos * dh + i] * q[i];
        assert_int_equal(scores[pos], want & MASK);
    }
    /* probabilities over both V blocks, summed in one output */
    uint64_t *p = calloc(2 * B, 8), *o = calloc(dh, 8);
    cg_bfv_ct pct[2] = {{0}};
    for (size_t j = 0; j < len; j++) p[j] = splitmix(&seed) % 4096;
    for (size_t b = 0; b < 2; b++) {
        kv_layout_probs(&g, b, p, len, co);
        encrypt_coeffs(&f, co, &pct[b]);
    }
    assert_int_equal(kv_cache_apply_probs(&c, f.c, &f.rk, layer, head, 2, pct, &out, &err), CG_OK);
    decrypt_coeffs(&f, &out, prod);
    kv_take_output(&g, prod, o);
    for (size_t i = 0; i < dh; i++) {
        uint64_t want = 0;
        for (size_t pos = 0; pos < len; pos++) want += p[pos] * vals[pos * dh + i];
        assert_int_equal(o[i], want & MASK);
    }

    /* refresh selection: block 0 had B appends per kind, block 1 three */
    kv_ref due[8];
    assert_int_equal(kv_cache_due(&c, f.c, layer, 2, 4, 100.0, due, 8), 2);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(due[k].kind, (kv_kind)k);
        assert_int_equal(due[k].layer, layer);
        assert_int_equal(due[k].head, head);
        assert_int_equal(due[k].block, 0);
    }
    assert_int_equal(kv_cache_due(&c, f.c, layer, 2, 3, 100.0, due, 8), 4);
    assert_int_equal(kv_cache_due(&c, f.c, layer, 2, 3, 100.0, due, 3), 3); /* capped */
    assert_int_equal(kv_cache_due(&c, f.c, 0, 2, 1, 100.0, due, 8), 0);     /* an empty layer */
    /* by the noise estimate: fresh-ish ciphertexts are far from a 100-bit
     * threshold, and all are due under an impossible one */
    assert_int_equal(kv_cache_due(&c, f.c, layer, 2, 0, 100.0, due, 8), 0);
    assert_int_equal(kv_cache_due(&c, f.c, layer, 2, 0, 1e9, due, 8), 4);
    cg_bfv_ct fresh = {0};
    assert_int_equal(cg_bfv_ct_copy(f.c, &fresh, kv_cache_at(&c, due[0]), &err), CG_OK);
    kv_cache_replace(&c, due[0], &fresh);
    assert_null(fresh.data);
    assert_int_equal(c.appends[due[0].kind][kv_cache_index(&c, layer, head, due[0].block)], 0);
    assert_int_equal(kv_cache_due(&c, f.c, layer, 2, 3, 100.0, due, 8), 3);
    kv_cache_clear(&c);
    kv_cache_usage(&c, &cts, &bytes);
    assert_int_equal(cts, 0);
    assert_int_equal(bytes, 0);

    cg_bfv_ct_free(&qct);
    cg_bfv_ct_free(&out);
    cg_bfv_ct_free(&pct[0]);
    cg_bfv_ct_free(&pct[1]);
    free(keys), free(vals), free(co), free(q), free(scores), free(prod), free(p), free(o);
    kv_cache_free(&c);
    he_teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_init_checks),
        cmocka_unit_test(test_index_maps),
        cmocka_unit_test(test_scores_layout_products),
        cmocka_unit_test(test_values_layout_products),
        cmocka_unit_test(test_cache_with_ciphertexts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
