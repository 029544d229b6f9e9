/* Tests for the common layer: PRG, buffers, bit packing, threads, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cryptogen/common.h"

static void test_prg_deterministic_and_stream_separated(void **state)
{
    (void)state;
    uint8_t seed[CG_SEED_BYTES];
    for (int i = 0; i < CG_SEED_BYTES; i++) seed[i] = (uint8_t)i;
    cg_prg a, b, c;
    cg_prg_init(&a, seed, 7);
    cg_prg_init(&b, seed, 7);
    cg_prg_init(&c, seed, 8);
    uint8_t x[3000], y[3000], z[3000];
    /* Mixed request sizes must give the same stream as one large request. */
    cg_prg_bytes(&a, x, 1);
    cg_prg_bytes(&a, x + 1, 1500);
    cg_prg_bytes(&a, x + 1501, 1499);
    cg_prg_bytes(&b, y, sizeof y);
    cg_prg_bytes(&c, z, sizeof z);
    assert_memory_equal(x, y, sizeof x);
    assert_memory_not_equal(x, z, sizeof x);
}

static void test_prg_uniform_bounds_and_spread(void **state)
{
    (void)state;
    cg_prg p;
    cg_prg_init_random(&p);
    size_t counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = cg_prg_uniform(&p, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    /* Each bucket expects 10000; 6 sigma is about 560. */
    for (int i = 0; i < 7; i++) assert_in_range(counts[i], 9400, 10600);
    const uint64_t q = (1ull << 61) - 1;
    for (int i = 0; i < 1000; i++) assert_true(cg_prg_uniform(&p, q) < q);
    cg_prg_clear(&p);
}

static void test_buf_reader_roundtrip_and_truncation(void **state)
{
    (void)state;
    cg_buf b;
    cg_buf_init(&b);
    cg_buf_put_u8(&b, 0xab);
    cg_buf_put_u16(&b, 0x1234);
    cg_buf_put_u32(&b, 0xdeadbeef);
    cg_buf_put_u64(&b, 0x0102030405060708ull);
    assert_false(b.failed);
    assert_int_equal(b.len, 15);
    cg_reader r;
    cg_reader_init(&r, b.data, b.len);
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    cg_error err = {0};
    assert_int_equal(cg_read_u8(&r, &u8, "a", &err), CG_OK);
    assert_int_equal(cg_read_u16(&r, &u16, "b", &err), CG_OK);
    assert_int_equal(cg_read_u32(&r, &u32, "c", &err), CG_OK);
    assert_int_equal(u8, 0xab);
    assert_int_equal(u16, 0x1234);
    assert_int_equal(u32, 0xdeadbeef);
    /* 8 bytes left: reading 9 fails and consumes nothing. */
    uint8_t nine[9];
    assert_int_equal(cg_read_bytes(&r, nine, 9, "nine", &err), CG_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "nine"));
    assert_int_equal(cg_reader_left(&r), 8);
    assert_int_equal(cg_read_u64(&r, &u64, "d", &err), CG_OK);
    assert_true(u64 == 0x0102030405060708ull);
    assert_int_equal(cg_read_u8(&r, &u8, "e", &err), CG_ERR_FORMAT);
    cg_buf_free(&b);
}

static void test_bit_packing_all_widths(void **state)
{
    (void)state;
    cg_prg p;
    cg_prg_init_random(&p);
    for (unsigned w = 1; w <= 64; w++) {
        uint64_t vals[37], back[37];
        uint64_t mask = w == 64 ? UINT64_MAX : (1ull << w) - 1;
        for (int i = 0; i < 37; i++) vals[i] = cg_prg_u64(&p) & mask;
        vals[0] = mask; /* the edge: all ones */
        vals[1] = 0;
        cg_buf b;
        cg_buf_init(&b);
        cg_buf_put_u8(&b, 0x5a); /* unaligned start */
        cg_buf_put_packed(&b, vals, 37, w);
        assert_int_equal(b.len, 1 + cg_packed_size(37, w));
        cg_reader r;
        cg_reader_init(&r, b.data, b.len);
        uint8_t tag;
        assert_int_equal(cg_read_u8(&r, &tag, "tag", NULL), CG_OK);
        assert_int_equal(cg_read_packed(&r, back, 37, w, "vals", NULL), CG_OK);
        assert_memory_equal(vals, back, sizeof vals);
        /* One value read alone, from an unaligned buffer, the last included. */
        const size_t len = cg_packed_size(37, w);
        for (size_t i = 0; i < 37; i++)
            assert_int_equal(cg_packed_get(b.data + 1, len, i, w), vals[i]);
        /* Truncated by one byte: rejected. */
        cg_reader_init(&r, b.data + 1, b.len - 2);
        assert_int_equal(cg_read_packed(&r, back, 37, w, "vals", NULL), CG_ERR_FORMAT);
        cg_buf_free(&b);
    }
}

typedef struct sum_ctx {
    uint64_t *out;
} sum_ctx;

static void fill_range(void *ctx, size_t begin, size_t end)
{
    sum_ctx *c = ctx;
    for (size_t i = begin; i < end; i++) c->out[i] = i * i;
}

static void test_parallel_for_covers_range_once(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 5; threads++) {
        size_t n = 1001;
        uint64_t *out = cg_calloc(n, sizeof *out);
        assert_non_null(out);
        for (size_t i = 0; i < n; i++) out[i] = UINT64_MAX;
        sum_ctx c = {out};
        assert_int_equal(cg_parallel_for(threads, n, fill_range, &c), CG_OK);
        for (size_t i = 0; i < n; i++) assert_true(out[i] == i * i);
        cg_free(out);
    }
}

static void test_alloc_alignment_and_overflow(void **state)
{
    (void)state;
    void *p = cg_alloc(100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    cg_free(p);
    assert_null(cg_calloc(SIZE_MAX / 2, 4));
    size_t r;
    assert_false(cg_mul_size(SIZE_MAX, 2, &r));
    assert_true(cg_mul_size(3, 4, &r) && r == 12);
}

static void test_error_message(void **state)
{
    (void)state;
    cg_error err;
    assert_int_equal(cg_error_set(&err, CG_ERR_PARAM, "n=%d", 3), CG_ERR_PARAM);
    assert_string_equal(err.msg, "n=3");
    assert_string_equal(cg_status_name(CG_ERR_PARAM), "CG_ERR_PARAM");
    assert_int_equal(cg_error_set(NULL, CG_ERR_ARG, "ignored"), CG_ERR_ARG);
}

static void test_read_file_limits(void **state)
{
    (void)state;
    char path[] = "/tmp/cg_read_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char data[100000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('a' + i % 26);
    assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
    close(fd);
    char *got;
    size_t len;
    cg_error err = {0};
    assert_int_equal(cg_read_file(path, sizeof data, &got, &len, &err), CG_OK);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(got, data, len);
    assert_int_equal(got[len], 0);
    cg_free(got); /* cg_alloc'ed, like everything the library hands out */
    assert_int_equal(cg_read_file(path, sizeof data - 1, &got, &len, &err), CG_ERR_FORMAT);
    /* an empty file is an empty string */
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(cg_read_file(path, 0, &got, &len, &err), CG_OK);
    assert_int_equal(len, 0);
    assert_int_equal(got[0], 0);
    cg_free(got);
    unlink(path);
    assert_int_equal(cg_read_file(path, 10, &got, &len, &err), CG_ERR_IO);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prg_deterministic_and_stream_separated),
        cmocka_unit_test(test_prg_uniform_bounds_and_spread),
        cmocka_unit_test(test_buf_reader_roundtrip_and_truncation),
        cmocka_unit_test(test_bit_packing_all_widths),
        cmocka_unit_test(test_parallel_for_covers_range_once),
        cmocka_unit_test(test_alloc_alignment_and_overflow),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_read_file_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
