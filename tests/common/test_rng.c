/* The PRG's keystream positions: nonce and counter come from one 64-bit
 * block position, so crossing ChaCha20's 2^32-block counter boundary moves
 * to a new nonce instead of repeating (or carrying into the stream id),
 * on the buffered and on the direct-output path alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cryptogen/common.h"

/* Block `block` of stream `stream` as the construction defines it. */
static void reference_block(const uint8_t *seed, uint64_t stream, uint64_t block, uint8_t out[64])
{
    uint8_t nonce[12];
    for (int i = 0; i < 8; i++) nonce[i] = (uint8_t)(stream >> (8 * i));
    for (int i = 0; i < 4; i++) nonce[8 + i] = (uint8_t)(block >> (32 + 8 * i));
    memset(out, 0, 64);
    crypto_stream_chacha20_ietf_xor_ic(out, out, 64, nonce, (uint32_t)block, seed);
}

static void check_across_boundary(size_t first_draw, size_t total)
{
    uint8_t seed[CG_SEED_BYTES] = {9, 8, 7};
    const uint64_t start = ((uint64_t)1 << 32) - 3;
    cg_prg p;
    cg_prg_init(&p, seed, 5);
    p.block = start; /* as if 2^32 - 3 blocks had been used */
    uint8_t got[2048], want[64], early[64], other[64];
    assert_true(total <= sizeof got && total % 64 == 0);
    cg_prg_bytes(&p, got, first_draw);
    cg_prg_bytes(&p, got + first_draw, total - first_draw);
    reference_block(seed, 5, 0, early);
    reference_block(seed, 6, 0, other); /* what a counter carry into the nonce gives */
    for (size_t k = 0; k < total / 64; k++) {
        reference_block(seed, 5, start + k, want);
        assert_memory_equal(got + 64 * k, want, 64);
        assert_memory_not_equal(got + 64 * k, early, 64);
        assert_memory_not_equal(got + 64 * k, other, 64);
    }
}

static void test_counter_boundary_buffered(void **state)
{
    (void)state;
    check_across_boundary(8, 512); /* small draws: through the 512-byte buffer */
}

static void test_counter_boundary_direct(void **state)
{
    (void)state;
    check_across_boundary(2048, 2048); /* one large draw: straight to the cipher */
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_boundary_buffered),
        cmocka_unit_test(test_counter_boundary_direct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
