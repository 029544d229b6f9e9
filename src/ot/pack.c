/* Random access into bit-packed OT messages (cg_pack_bits' LSB-first
 * format): one value without unpacking the rest. */
#include "ot/ot_internal.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

static uint64_t load_le(const uint8_t *p, size_t nbytes)
{
    uint64_t v = 0;
    if (HOST_LE && nbytes == 8) {
        memcpy(&v, p, 8);
        return v;
    }
    for (size_t i = 0; i < nbytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint64_t ot_packed_get(const uint8_t *in, size_t len, size_t index, unsigned width)
{
    const uint64_t mask = width >= 64 ? ~0ull : (1ull << width) - 1;
    size_t bit = index * width, byte = bit / 8;
    unsigned sh = (unsigned)(bit % 8);
    if (sh + width <= 64 && byte + 8 <= len) return (load_le(in + byte, 8) >> sh) & mask;
    /* Near the end of the buffer, or a value spanning nine bytes. */
    uint64_t v = 0;
    for (unsigned j = 0; j < width; j++) {
        size_t b = bit + j;
        v |= (uint64_t)((in[b / 8] >> (b % 8)) & 1u) << j;
    }
    return v;
}
