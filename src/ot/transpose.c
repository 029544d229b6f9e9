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

void ot_transpose_portable(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
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

#if defined(__SSE2__)
/* 16x16 byte transpose in registers: four rounds of interleaving rows k and
 * k+8 rotate the 8-bit (row, column) index by one bit each, four make it
 * (column, row). */
static void transpose16x16_bytes(__m128i x[16])
{
    for (int round = 0; round < 4; round++) {
        __m128i y[16];
        for (int k = 0; k < 8; k++) {
            y[2 * k] = _mm_unpacklo_epi8(x[k], x[k + 8]);
            y[2 * k + 1] = _mm_unpackhi_epi8(x[k], x[k + 8]);
        }
        for (int k = 0; k < 16; k++) x[k] = y[k];
    }
}

/* Writes the 8 bit-columns of a vector whose lane k is one byte of row r + k. */
static inline void emit_columns(__m128i v, uint8_t *out, size_t out_stride, size_t col0, size_t r)
{
    for (int b = 7; b >= 0; b--) {
        /* movemask collects the top bit of every lane: one column's 16 bits. */
        uint16_t m = (uint16_t)_mm_movemask_epi8(v);
        memcpy(out + (col0 + (size_t)b) * out_stride + r / 8, &m, 2);
        v = _mm_slli_epi64(v, 1);
    }
}
#endif

void ot_transpose_sse2(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
{
#if defined(__SSE2__)
    size_t in_stride = cols / 8, out_stride = rows / 8;
    for (size_t r = 0; r < rows; r += 16) {
        size_t cb = 0;
        /* 16 rows x 128 columns at a time, gathered with full-width loads. */
        for (; cb + 16 <= in_stride; cb += 16) {
            __m128i x[16];
            for (int k = 0; k < 16; k++)
                x[k] = _mm_loadu_si128((const __m128i *)(in + (r + (size_t)k) * in_stride + cb));
            transpose16x16_bytes(x);
            for (int c = 0; c < 16; c++) emit_columns(x[c], out, out_stride, (cb + (size_t)c) * 8, r);
        }
        for (; cb < in_stride; cb++) {
            uint8_t lanes[16];
            for (int k = 0; k < 16; k++) lanes[k] = in[(r + (size_t)k) * in_stride + cb];
            emit_columns(_mm_loadu_si128((const __m128i *)lanes), out, out_stride, cb * 8, r);
        }
    }
#else
    ot_transpose_portable(in, out, rows, cols);
#endif
}

void ot_transpose(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
{
    if (cg_cpu_features() & CG_CPU_AVX2) ot_transpose_avx2(in, out, rows, cols);
    else ot_transpose_sse2(in, out, rows, cols);
}
