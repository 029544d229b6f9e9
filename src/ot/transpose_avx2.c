/* Bit-matrix transposition with AVX2: 32 input rows at a time, so each
 * movemask yields 32 bits of an output row instead of SSE2's 16. */
#include "ot/ot_internal.h"

#include <immintrin.h>
#include <string.h>

/* In-lane 16x16 byte transpose of both 128-bit lanes at once: lane 0 holds
 * rows 0-15, lane 1 rows 16-31 (same network as the SSE2 path). */
static inline void transpose_lanes(__m256i x[16])
{
#pragma GCC unroll 4
    for (int round = 0; round < 4; round++) {
        __m256i y[16];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            y[2 * k] = _mm256_unpacklo_epi8(x[k], x[k + 8]);
            y[2 * k + 1] = _mm256_unpackhi_epi8(x[k], x[k + 8]);
        }
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) x[k] = y[k];
    }
}

/* Lane bytes of v: byte k of lane 0 is row r + k, of lane 1 row r + 16 + k;
 * movemask takes bit 7 of all 32 bytes = one column's 32 bits. */
static inline void emit32(__m256i v, uint8_t *out, size_t out_stride, size_t col0, size_t r)
{
    /* movemask orders lane 0's bytes first, which is rows r .. r+15, then
     * lane 1's, rows r+16 .. r+31: exactly the row order wanted. */
#pragma GCC unroll 8
    for (int b = 7; b >= 0; b--) {
        uint32_t m = (uint32_t)_mm256_movemask_epi8(v);
        memcpy(out + (col0 + (size_t)b) * out_stride + r / 8, &m, 4);
        v = _mm256_slli_epi64(v, 1);
    }
}

void ot_transpose_avx2(const uint8_t *in, uint8_t *out, size_t rows, size_t cols)
{
    size_t in_stride = cols / 8, out_stride = rows / 8;
    size_t r = 0;
    for (; r + 32 <= rows; r += 32) {
        size_t cb = 0;
        for (; cb + 16 <= in_stride; cb += 16) {
            __m256i x[16];
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++) {
                __m128i lo = _mm_loadu_si128((const __m128i *)(in + (r + (size_t)k) * in_stride + cb));
                __m128i hi = _mm_loadu_si128((const __m128i *)(in + (r + 16 + (size_t)k) * in_stride + cb));
                x[k] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
            }
            transpose_lanes(x);
#pragma GCC unroll 16
            for (int c = 0; c < 16; c++) emit32(x[c], out, out_stride, (cb + (size_t)c) * 8, r);
        }
        for (; cb < in_stride; cb++) {
            uint8_t lanes[32];
            for (int k = 0; k < 32; k++) lanes[k] = in[(r + (size_t)k) * in_stride + cb];
            emit32(_mm256_loadu_si256((const __m256i *)lanes), out, out_stride, cb * 8, r);
        }
    }
    if (r < rows) {
        /* A last group of 16 rows (rows is a multiple of 16; the OT layer
         * only uses 128 and 256): bit by bit, eight rows per output byte. */
        size_t rest = rows - r;
        for (size_t cb = 0; cb < in_stride; cb++)
            for (size_t k = 0; k < rest; k += 8) {
                uint8_t bytes[8];
                for (int t = 0; t < 8; t++) bytes[t] = in[(r + k + (size_t)t) * in_stride + cb];
                for (int b = 0; b < 8; b++) {
                    uint8_t v = 0;
                    for (int t = 0; t < 8; t++) v |= (uint8_t)(((bytes[t] >> b) & 1u) << t);
                    out[(cb * 8 + (size_t)b) * out_stride + (r + k) / 8] = v;
                }
            }
    }
}
