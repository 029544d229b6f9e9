/* Bit-matrix transposition for OT extension: the receiver's and sender's
 * 128 column streams become one 128-bit row per OT. */
#include "ot/ot_internal.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Transposes an 8x8 bit block held as 8 bytes (byte k = row k, bit b = column b). */
static uint64_t transpose8x8(uint64_t x)
{
    uint64_t t;
    t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
    x ^= t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
    x ^= t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
    x ^= t ^ (t << 28);
    return x;
}

void cg_transpose_portable(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
{
    size_t in_stride = cols / 8, out_stride = rows / 8;
    for (size_t r = 0; r < rows; r += 8)
        for (size_t cb = 0; cb < in_stride; cb++) {
            uint64_t x = 0;
            for (int k = 0; k < 8; k++) x |= (uint64_t)in[(r + (size_t)k) * in_stride + cb] << (8 * k);
            x = transpose8x8(x);
            for (int k = 0; k < 8; k++)
                out[(cb * 8 + (size_t)k) * out_stride + r / 8] = (uint8_t)(x >> (8 * k));
        }
}

void cg_transpose_sse2(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
{
#if defined(__SSE2__)
    size_t in_stride = cols / 8, out_stride = rows / 8;
    for (size_t r = 0; r < rows; r += 16)
        for (size_t cb = 0; cb < in_stride; cb++) {
            /* Lane k holds byte cb of row r + k; movemask collects one bit
             * (the top one) of every lane: one column's 16 bits. */
            uint8_t lanes[16];
            for (int k = 0; k < 16; k++) lanes[k] = in[(r + (size_t)k) * in_stride + cb];
            __m128i v = _mm_loadu_si128((const __m128i *)lanes);
            for (int b = 7; b >= 0; b--) {
                uint16_t m = (uint16_t)_mm_movemask_epi8(v);
                memcpy(out + (cb * 8 + (size_t)b) * out_stride + r / 8, &m, 2);
                v = _mm_slli_epi64(v, 1);
            }
        }
#else
    cg_transpose_portable(in, out, rows, cols);
#endif
}

void cg_transpose(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
{
    cg_transpose_sse2(in, out, rows, cols);
}
