/* Fast bit packing of OT messages, 64 bits at a time; the same LSB-first
 * format as cg_buf_put_packed (which goes a byte at a time and is too slow
 * for tens of millions of corrections per second). */
#include "ot/ot_internal.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

static void store_le(uint8_t *p, uint64_t v, size_t nbytes)
{
    if (HOST_LE && nbytes == 8) {
        memcpy(p, &v, 8); /* one store instead of eight */
        return;
    }
    for (size_t i = 0; i < nbytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

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

void ot_pack(uint8_t *out, const uint64_t *vals, size_t count, unsigned width)
{
    const uint64_t mask = width >= 64 ? ~0ull : (1ull << width) - 1;
    if (width == 64) {
        if (HOST_LE) memcpy(out, vals, 8 * count);
        else
            for (size_t i = 0; i < count; i++) store_le(out + 8 * i, vals[i], 8);
        return;
    }
    uint64_t acc = 0;
    unsigned nacc = 0; /* valid low bits in acc, always < 64 */
    for (size_t i = 0; i < count; i++) {
        uint64_t v = vals[i] & mask;
        acc |= v << nacc;
        unsigned total = nacc + width;
        if (total >= 64) {
            store_le(out, acc, 8);
            out += 8;
            acc = nacc ? v >> (64 - nacc) : 0;
            nacc = total - 64;
        } else {
            nacc = total;
        }
    }
    store_le(out, acc, (nacc + 7) / 8);
}

void ot_unpack(uint64_t *vals, const uint8_t *in, size_t count, unsigned width)
{
    const uint64_t mask = width >= 64 ? ~0ull : (1ull << width) - 1;
    if (width == 64) {
        if (HOST_LE) memcpy(vals, in, 8 * count);
        else
            for (size_t i = 0; i < count; i++) vals[i] = load_le(in + 8 * i, 8);
        return;
    }
    size_t left = cg_packed_size(count, width);
    uint64_t acc = 0;
    unsigned nacc = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = acc;
        if (nacc < width) {
            size_t nb = left < 8 ? left : 8;
            uint64_t next = load_le(in, nb);
            in += nb;
            left -= nb;
            v |= next << nacc;
            unsigned used = width - nacc;
            acc = next >> used; /* used < 64 since width < 64 here */
            nacc = (unsigned)(8 * nb) - used;
        } else {
            acc >>= width;
            nacc -= width;
        }
        vals[i] = v & mask;
    }
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
