/* The ot layer's building blocks: AES and the tweakable hash against
 * independent references, VAES against AES-NI, the transpositions against a
 * naive one, packing against the common layer's, and the base OTs' keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ot_fixture.h"

static void test_aes_known_answer(void **state)
{
    (void)state;
    /* FIPS-197 appendix C.1. */
    uint8_t key[16], pt[16], ct[16];
    static const uint8_t want[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                     0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
        pt[i] = (uint8_t)(i * 0x11);
    }
    ot_aes_key k;
    ot_aes_expand_aesni(&k, key);
    ot_aes_ecb_aesni(&k, pt, ct, 1);
    assert_memory_equal(ct, want, 16);
    /* FIPS-197 appendix A.1 key expansion: last round key of 2b7e1516... */
    static const uint8_t key2[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                     0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
    static const uint8_t rk10[16] = {0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89,
                                     0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63, 0x0c, 0xa6};
    ot_aes_expand_aesni(&k, key2);
    assert_memory_equal(k.rk + 160, rk10, 16);

    /* Batched ECB (8 in flight + tail) equals one block at a time; CTR equals
     * ECB of the counter blocks. */
    enum { NB = 21 };
    uint8_t in[NB * 16], out[NB * 16], one[16], ctr[NB * 16];
    cg_random_bytes(in, sizeof in);
    ot_aes_ecb_aesni(&k, in, out, NB);
    for (int b = 0; b < NB; b++) {
        ot_aes_ecb_aesni(&k, in + 16 * b, one, 1);
        assert_memory_equal(one, out + 16 * b, 16);
    }
    uint64_t c0 = 0xfffffffffffffff5ull;
    ot_aes_ctr_aesni(&k, c0, ctr, NB);
    for (int b = 0; b < NB; b++) {
        uint8_t blk[16] = {0};
        uint64_t c = c0 + (uint64_t)b;
        memcpy(blk, &c, 8);
        ot_aes_ecb_aesni(&k, blk, one, 1);
        assert_memory_equal(one, ctr + 16 * b, 16);
    }
}

/* The GKWY tweakable hash: tccr(t, x) = pi(pi(x) ^ t) ^ pi(x), recomputed
 * with plain integers and one-block AES. */
static void ref_tccr(const ot_aes_key *pi, const uint8_t x[16], uint64_t tlo, uint64_t thi,
                     uint8_t out[16])
{
    uint8_t s[16], b[16], e[16];
    ot_aes_ecb_aesni(pi, x, s, 1);
    uint64_t slo, shi;
    memcpy(&slo, s, 8);
    memcpy(&shi, s + 8, 8);
    uint64_t blo = slo ^ tlo, bhi = shi ^ thi;
    memcpy(b, &blo, 8);
    memcpy(b + 8, &bhi, 8);
    ot_aes_ecb_aesni(pi, b, e, 1);
    for (int i = 0; i < 16; i++) out[i] = e[i] ^ s[i];
}

/* The KK13 row hash: low 64 bits of tccr(T', tccr(T, lo) ^ hi). */
static uint64_t ref_kk(const ot_aes_key *pi, const uint8_t in[32], uint64_t tlo, uint64_t thi)
{
    uint8_t h1[16], h[16];
    ref_tccr(pi, in, tlo, thi, h1);
    for (int i = 0; i < 16; i++) h1[i] ^= in[16 + i];
    ref_tccr(pi, h1, tlo, thi + 1, h);
    uint64_t v;
    memcpy(&v, h, 8);
    return v;
}

static void test_tccr_matches_reference(void **state)
{
    (void)state;
    uint8_t key[16];
    cg_random_bytes(key, 16);
    ot_aes_key pi;
    ot_aes_expand_aesni(&pi, key);
    enum { N = 19 };
    uint8_t x[N * 16], mask[16], out[N * 16], ref[16], xm[16];
    cg_random_bytes(x, sizeof x);
    cg_random_bytes(mask, 16);
    ot_tccr_aesni(&pi, x, mask, out, N, 1000, 7);
    for (int i = 0; i < N; i++) {
        for (int t = 0; t < 16; t++) xm[t] = x[16 * i + t] ^ mask[t];
        ref_tccr(&pi, xm, 1000 + (uint64_t)i, 7, ref);
        assert_memory_equal(ref, out + 16 * i, 16);
    }
    ot_tccr_aesni(&pi, x, NULL, out, N, 5, 0);
    ref_tccr(&pi, x + 16 * 3, 8, 0, ref);
    assert_memory_equal(ref, out + 16 * 3, 16);
    uint64_t tlo[N], thi[N];
    for (int i = 0; i < N; i++) {
        tlo[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
        thi[i] = (uint64_t)(N - i);
    }
    ot_tccr_tweaks_aesni(&pi, x, tlo, thi, out, N);
    for (int i = 0; i < N; i++) {
        ref_tccr(&pi, x + 16 * i, tlo[i], thi[i], ref);
        assert_memory_equal(ref, out + 16 * i, 16);
    }
    ot_tccr_multi_aesni(&pi, x, out, N, 42, 1);
    for (int i = 0; i < N; i++) {
        ref_tccr(&pi, x, 42, 1 + (uint64_t)i, ref);
        assert_memory_equal(ref, out + 16 * i, 16);
    }
    /* KK13: 5 rows times 3 offsets (a tail shorter than eight) */
    uint8_t rows[5 * 32], offs[3 * 32], in[32];
    uint64_t kk[15];
    cg_random_bytes(rows, sizeof rows);
    cg_random_bytes(offs, sizeof offs);
    ot_kk_hash_aesni(&pi, rows, offs, 3, 5, 90, 11, kk);
    for (int r = 0; r < 5; r++)
        for (int o = 0; o < 3; o++) {
            for (int t = 0; t < 32; t++) in[t] = rows[32 * r + t] ^ offs[32 * o + t];
            assert_int_equal(kk[r * 3 + o], ref_kk(&pi, in, 90 + (uint64_t)r, 11));
        }
}

/* The VAES back-end gives the same bytes as AES-NI, tails included. */
static void test_vaes_matches_aesni(void **state)
{
    (void)state;
    if (!ot_vaes_available()) {
        fprintf(stderr, "  (no VAES/AVX-512 here or CG_SIMD forces a narrower path: AES-NI only)\n");
        return;
    }
    uint8_t key[16], mask[16];
    cg_random_bytes(key, 16);
    cg_random_bytes(mask, 16);
    ot_aes_key k;
    ot_aes_expand_aesni(&k, key);
    size_t sizes[] = {0, 1, 4, 7, 8, 12, 15, 16, 17, 33, 64, 100, 128, 1024};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        uint8_t *x = cg_alloc(16 * n + 16), *a = cg_alloc(16 * n + 16), *b = cg_alloc(16 * n + 16);
        cg_random_bytes(x, 16 * n);
        ot_aes_ctr_aesni(&k, 0xfffffffffffffff0ull, a, n);
        ot_aes_ctr_vaes(&k, 0xfffffffffffffff0ull, b, n);
        if (n) assert_memory_equal(a, b, 16 * n);
        ot_tccr_aesni(&k, x, mask, a, n, 77, 3);
        ot_tccr_vaes(&k, x, mask, b, n, 77, 3);
        if (n) assert_memory_equal(a, b, 16 * n);
        ot_tccr_aesni(&k, x, NULL, a, n, 0xfffffffffffffffaull, 0);
        ot_tccr_vaes(&k, x, NULL, b, n, 0xfffffffffffffffaull, 0);
        if (n) assert_memory_equal(a, b, 16 * n);
        /* one input, n tweaks (the high word wraps); one tweak per block */
        ot_tccr_multi_aesni(&k, mask, a, n, 5, 0xfffffffffffffff8ull);
        ot_tccr_multi_vaes(&k, mask, b, n, 5, 0xfffffffffffffff8ull);
        if (n) assert_memory_equal(a, b, 16 * n);
        uint64_t *tl = cg_alloc(8 * n + 8), *th = cg_alloc(8 * n + 8);
        cg_random_bytes((uint8_t *)tl, 8 * n);
        cg_random_bytes((uint8_t *)th, 8 * n);
        ot_tccr_tweaks_aesni(&k, x, tl, th, a, n);
        ot_tccr_tweaks_vaes(&k, x, tl, th, b, n);
        if (n) assert_memory_equal(a, b, 16 * n);
        cg_free(tl);
        cg_free(th);
        cg_free(x);
        cg_free(a);
        cg_free(b);
    }
}

static void test_transpose(void **state)
{
    (void)state;
    size_t shapes[][2] = {{16, 16}, {128, 128}, {128, 1024}, {32, 48}, {48, 64}, {256, 1024}, {128, 1u << 15}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], bytes = rows * cols / 8;
        uint8_t *in = cg_alloc(bytes), *a = cg_alloc(bytes), *b = cg_alloc(bytes), *c = cg_calloc(1, bytes);
        cg_random_bytes(in, bytes);
        ot_transpose_portable(in, a, rows, cols);
        ot_transpose_sse2(in, b, rows, cols);
        uint8_t *d = cg_alloc(bytes);
        if (cg_cpu_features_raw() & CG_CPU_AVX2) ot_transpose_avx2(in, d, rows, cols);
        else memcpy(d, a, bytes); /* no AVX2 here: nothing more to compare */
        for (size_t r = 0; r < rows; r++)
            for (size_t col = 0; col < cols; col++) {
                unsigned bit = (in[r * cols / 8 + col / 8] >> (col % 8)) & 1u;
                c[col * rows / 8 + r / 8] |= (uint8_t)(bit << (r % 8));
            }
        assert_memory_equal(a, c, bytes);
        assert_memory_equal(b, c, bytes);
        assert_memory_equal(d, c, bytes);
        cg_free(d);
        cg_free(in);
        cg_free(a);
        cg_free(b);
        cg_free(c);
    }
}

static void test_pack_and_random_access(void **state)
{
    (void)state;
    cg_prg prg;
    cg_prg_init_random(&prg);
    enum { MAXN = 301 };
    uint64_t vals[MAXN], back[MAXN], ref[MAXN];
    uint8_t mine[MAXN * 8 + 8];
    for (unsigned w = 1; w <= 64; w++)
        /* n >= 1: cg_buf_put_packed(count 0) on an empty cg_buf passes NULL to
         * memset (UBSan), a common-layer issue reported separately. */
        for (size_t n = 1; n <= MAXN; n += (n < 20 ? 1 : 47)) {
            cg_prg_bytes(&prg, vals, sizeof vals);
            size_t len = cg_packed_size(n, w);
            memset(mine, 0xaa, sizeof mine);
            cg_pack_bits(mine, vals, n, w);
            assert_int_equal(mine[len], 0xaa); /* nothing written past the end */
            cg_buf b;
            cg_buf_init(&b);
            cg_buf_put_packed(&b, vals, n, w);
            assert_int_equal(b.len, len);
            if (len) assert_memory_equal(mine, b.data, len);
            cg_reader rd;
            cg_reader_init(&rd, b.data, b.len);
            assert_int_equal(cg_read_packed(&rd, ref, n, w, "ref", NULL), CG_OK);
            cg_unpack_bits(back, mine, n, w);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(back[i], vals[i] & mask_of(w));
                assert_int_equal(back[i], ref[i]);
                /* one value read alone, including the buffer's last bytes */
                assert_int_equal(cg_packed_get(mine, len, i, w), back[i]);
            }
            cg_buf_free(&b);
        }
}

static uint8_t base_k2[OT_BASE_OTS][2][16], base_k1[OT_BASE_OTS][16], base_choice[OT_BASE_OTS / 8];

static cg_status base_sender(cg_channel *ch, void *ctx)
{
    (void)ctx;
    return ot_baseot_send(ch, base_k2, NULL);
}

static cg_status base_receiver(cg_channel *ch, void *ctx)
{
    (void)ctx;
    return ot_baseot_recv(ch, base_choice, base_k1, NULL);
}

static void test_base_ot(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    cg_random_bytes(base_choice, sizeof base_choice);
    cg_status sa, sb;
    run_two(a, b, base_sender, NULL, base_receiver, NULL, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    for (size_t j = 0; j < OT_BASE_OTS; j++) {
        unsigned c = (base_choice[j / 8] >> (j % 8)) & 1u;
        assert_memory_equal(base_k1[j], base_k2[j][c], 16);
        assert_memory_not_equal(base_k1[j], base_k2[j][1 - c], 16);
    }
    cg_chan_stats st;
    cg_chan_get_stats(b, &st);
    /* One point one way, 128 the other. */
    assert_int_equal(st.total.bytes_sent, 128 * 32);
    assert_int_equal(st.total.bytes_received, 32);
    cg_chan_free(a);
    cg_chan_free(b);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_known_answer),
        cmocka_unit_test(test_tccr_matches_reference),
        cmocka_unit_test(test_vaes_matches_aesni),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_pack_and_random_access),
        cmocka_unit_test(test_base_ot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
