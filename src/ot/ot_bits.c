/* Values of a width per instance in a bit stream (the _w OT calls):
 * from the lowest bit of each byte up, little-endian. */
#include "ot/ot_internal.h"

void ot_put_bits(uint8_t *p, size_t bit, uint64_t v, unsigned w)
{
    while (w) {
        unsigned sh = (unsigned)(bit % 8), take = 8 - sh < w ? 8 - sh : w;
        p[bit / 8] |= (uint8_t)((v & ((1u << take) - 1)) << sh);
        v >>= take;
        bit += take;
        w -= take;
    }
}

uint64_t ot_get_bits(const uint8_t *p, size_t bit, unsigned w)
{
    uint64_t v = 0;
    for (unsigned got = 0; got < w;) {
        unsigned sh = (unsigned)(bit % 8), take = 8 - sh < w - got ? 8 - sh : w - got;
        v |= (uint64_t)((p[bit / 8] >> sh) & ((1u << take) - 1)) << got;
        bit += take;
        got += take;
    }
    return v;
}
