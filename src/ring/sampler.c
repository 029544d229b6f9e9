/* Samplers: uniform, ternary, centred binomial, wide flooding noise. */
#include <string.h>

#include "cryptogen/ring.h"

/* The next `count` 64-bit words of the stream, as cg_prg_u64 would return
 * them one by one (little-endian): the same stream position afterwards, so
 * a seed expands to the same polynomial as with single draws, at one
 * stream call per batch instead of one per word. */
#define DRAW_BATCH 128
static void draw_u64(cg_prg *prg, uint64_t *w, size_t count)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    cg_prg_bytes(prg, w, count * 8); /* the words are the stream's bytes as they lie */
#else
    uint8_t b[DRAW_BATCH * 8];
    cg_prg_bytes(prg, b, count * 8);
    for (size_t x = 0; x < count; x++) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | b[x * 8 + (size_t)i];
        w[x] = v;
    }
    cg_secure_zero(b, count * 8);
#endif
}

/* Bits set in x (SWAR, branch-free, inlined: without -mpopcnt the builtin
 * is a library call per word). */
static inline int popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ull);
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
    return (int)((x * 0x0101010101010101ull) >> 56);
}

void cg_sample_uniform(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, uint64_t *out)
{
    uint64_t w[DRAW_BATCH];
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        const uint64_t mask = (q & (q - 1)) ? (~0ull >> __builtin_clzll(q)) : q - 1;
        /* Rejection on the smallest all-ones mask above q: < 2 draws expected.
         * Batches never ask for more words than values still missing, so
         * the stream is consumed exactly as by one draw per attempt. */
        for (size_t j = 0; j < n;) {
            const size_t want = n - j < DRAW_BATCH ? n - j : DRAW_BATCH;
            draw_u64(prg, w, want);
            for (size_t x = 0; x < want; x++) {
                const uint64_t v = w[x] & mask;
                if (v < q) out[i * n + j++] = v;
            }
        }
    }
    cg_secure_zero(w, sizeof w); /* callers may sample secrets */
}

void cg_sample_ternary(cg_prg *prg, size_t n, int8_t *out)
{
    /* Uniform over {-1, 0, 1}: a byte below 255 taken mod 3 (rejection keeps it
     * unbiased; the reject branch depends only on public-looking randomness). */
    uint8_t buf[256];
    size_t pos = sizeof buf;
    for (size_t j = 0; j < n;) {
        if (pos == sizeof buf) {
            cg_prg_bytes(prg, buf, sizeof buf);
            pos = 0;
        }
        uint8_t b = buf[pos++];
        if (b == 255) continue;
        out[j++] = (int8_t)((int)(b % 3) - 1);
    }
    cg_secure_zero(buf, sizeof buf);
}

void cg_sample_cbd(cg_prg *prg, size_t n, int8_t *out)
{
    /* Sum of 21 bits minus sum of 21 bits: variance 21/2, sigma ~ 3.24. */
    uint64_t w[DRAW_BATCH];
    for (size_t j0 = 0; j0 < n; j0 += DRAW_BATCH) {
        const size_t len = n - j0 < DRAW_BATCH ? n - j0 : DRAW_BATCH;
        draw_u64(prg, w, len);
        for (size_t x = 0; x < len; x++) {
            int a = popcount64(w[x] & 0x1fffff);
            int b = popcount64((w[x] >> 21) & 0x1fffff);
            out[j0 + x] = (int8_t)(a - b);
        }
    }
    cg_secure_zero(w, sizeof w);
}

void cg_small_to_rns(const cg_modulus *mods, size_t k, size_t n, const int8_t *v, uint64_t *out)
{
    for (size_t i = 0; i < k; i++) {
        const uint64_t q = mods[i].value;
        for (size_t j = 0; j < n; j++) {
            int64_t x = v[j];
            out[i * n + j] = (uint64_t)x + (q & (0 - (uint64_t)(x < 0)));
        }
    }
}

void cg_signed_to_rns(const cg_modulus *mods, size_t k, size_t n, const int64_t *v,
                      uint64_t *out)
{
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++) {
            int64_t x = v[j];
            uint64_t r = cg_mod_reduce(x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x, &mods[i]);
            out[i * n + j] = x < 0 ? cg_mod_neg(r, mods[i].value) : r;
        }
}

void cg_sample_wide_noise(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, unsigned bits,
                          uint64_t *out)
{
    /* Uniform magnitude in [0, 2^bits] (rejecting above) and a sign; reduced
     * into each row as a multi-limb integer. bits <= 190 (3 limbs). */
    if (bits > 190) bits = 190;
    const size_t limbs = bits / 64 + 1;
    const unsigned top_bits = bits % 64 + 1; /* bits used in the top limb */
    for (size_t j = 0; j < n; j++) {
        uint64_t mag[3];
        for (;;) {
            memset(mag, 0, sizeof mag);
            for (size_t l = 0; l < limbs; l++) mag[l] = cg_prg_u64(prg);
            mag[limbs - 1] &= top_bits == 64 ? ~0ull : ((1ull << top_bits) - 1);
            /* accept v <= 2^bits: either the top bit alone, or below it */
            uint64_t topbit = 1ull << (top_bits - 1);
            if (mag[limbs - 1] < topbit) break;
            bool rest_zero = mag[limbs - 1] == topbit;
            for (size_t l = 0; l + 1 < limbs && rest_zero; l++) rest_zero = mag[l] == 0;
            if (rest_zero) break;
        }
        uint64_t sign = cg_prg_u64(prg) & 1;
        for (size_t i = 0; i < k; i++) {
            uint64_t r = 0;
            for (size_t l = limbs; l-- > 0;) r = cg_mod_reduce128(((cg_u128)r << 64) | mag[l], &mods[i]);
            out[i * n + j] = sign ? cg_mod_neg(r, mods[i].value) : r;
        }
        cg_secure_zero(mag, sizeof mag);
    }
}
