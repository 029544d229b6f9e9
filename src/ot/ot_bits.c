/* Values of a width per instance in a bit stream (the _w OT calls): back
 * to back from the lowest bit of each byte up, little-endian, a whole
 * stream padded to a byte. */
#include "ot/ot_internal.h"

size_t ot_var_bytes(const uint8_t *w, size_t count, unsigned rep)
{
    size_t bits = 0;
    for (size_t i = 0; i < count; i++) bits += w[i];
    return (bits * rep + 7) / 8;
}

void ot_pack_var(uint8_t *p, const uint64_t *vals, const uint8_t *w, size_t count, unsigned rep)
{
    uint64_t acc = 0;
    unsigned have = 0; /* bits in acc, < 64 */
    /* instance by instance: no division per value (the 1-of-N senders pack
     * N values of each instance's width) */
    for (size_t i = 0; i < count; i++) {
        const unsigned wk = w[i];
        const uint64_t mask = wk >= 64 ? ~0ull : (1ull << wk) - 1;
        for (const uint64_t *vp = vals + i * rep, *ve = vp + rep; vp < ve; vp++) {
            uint64_t v = *vp & mask;
            acc |= v << have;
            if (have + wk < 64) {
                have += wk;
                continue;
            }
            for (int b = 0; b < 8; b++) *p++ = (uint8_t)(acc >> (8 * b));
            have = have + wk - 64;
            acc = have ? v >> (wk - have) : 0;
        }
    }
    for (unsigned b = 0; 8 * b < have; b++) *p++ = (uint8_t)(acc >> (8 * b));
}

bool ot_out_put_var(cg_ot *ot, const uint64_t *vals, const uint8_t *w, size_t count)
{
    size_t len = ot_var_bytes(w, count, 1);
    if (!cg_buf_reserve(&ot->out, len)) return false;
    ot_pack_var(ot->out.data + ot->out.len, vals, w, count, 1);
    ot->out.len += len;
    return true;
}

void ot_unpack_var(uint64_t *vals, const uint8_t *p, const uint8_t *w, size_t count)
{
    uint64_t acc = 0;
    unsigned have = 0; /* bits in acc, < 64 */
    size_t at = 0, len = ot_var_bytes(w, count, 1);
    for (size_t i = 0; i < count; i++) {
        unsigned need = w[i];
        uint64_t mask = need >= 64 ? ~0ull : (1ull << need) - 1;
        if (have >= need) {
            vals[i] = acc & mask;
            acc >>= need; /* need <= have < 64 */
            have -= need;
            continue;
        }
        uint64_t nx = 0; /* the next eight bytes (zeros past the end) */
        for (int b = 0; b < 8 && at < len; b++) nx |= (uint64_t)p[at++] << (8 * b);
        vals[i] = (acc | (nx << have)) & mask;
        unsigned used = need - have; /* 1..64 bits of nx */
        acc = used >= 64 ? 0 : nx >> used;
        have = 64 - used;
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
