/* OS randomness and a seeded ChaCha20 PRG (libsodium). */
#include "cryptogen/common.h"

#include <sodium.h>
#include <string.h>

cg_status cg_init(cg_error *err)
{
    if (sodium_init() < 0) return cg_error_set(err, CG_ERR_CRYPTO, "libsodium failed to initialise");
    return CG_OK;
}

void cg_random_bytes(void *out, size_t n)
{
    randombytes_buf(out, n);
}

void cg_prg_init(cg_prg *prg, const uint8_t seed[CG_SEED_BYTES], uint64_t stream_id)
{
    memcpy(prg->key, seed, CG_SEED_BYTES);
    memset(prg->nonce, 0, sizeof prg->nonce);
    for (int i = 0; i < 8; i++) prg->nonce[i] = (uint8_t)(stream_id >> (8 * i));
    prg->block = 0;
    prg->buf_pos = sizeof prg->buf;
}

void cg_prg_init_random(cg_prg *prg)
{
    uint8_t seed[CG_SEED_BYTES];
    randombytes_buf(seed, sizeof seed);
    cg_prg_init(prg, seed, 0);
    sodium_memzero(seed, sizeof seed);
}

/* The only place keystream is made: `blocks` blocks from prg->block on.
 * Nonce and counter are both derived from that one 64-bit position, and a
 * call never crosses a 2^32-block boundary (where ChaCha20's 32-bit counter
 * would carry into the nonce), so no two positions share a (nonce, counter)
 * pair: keystream reuse is impossible by construction, not by volume. */
static void keystream(cg_prg *prg, uint8_t *out, uint64_t blocks)
{
    while (blocks > 0) {
        const uint32_t ctr = (uint32_t)prg->block;
        const uint64_t room = ((uint64_t)1 << 32) - ctr;
        const uint64_t k = blocks < room ? blocks : room;
        for (int i = 0; i < 4; i++) prg->nonce[8 + i] = (uint8_t)(prg->block >> (32 + 8 * i));
        memset(out, 0, (size_t)k * 64);
        crypto_stream_chacha20_ietf_xor_ic(out, out, (size_t)k * 64, prg->nonce, ctr, prg->key);
        prg->block += k; /* 2^64 blocks: never in practice, and the nonce keeps up to there */
        out += k * 64;
        blocks -= k;
    }
}

static void prg_refill(cg_prg *prg)
{
    keystream(prg, prg->buf, sizeof prg->buf / 64);
    prg->buf_pos = 0;
}

void cg_prg_bytes(cg_prg *prg, void *out, size_t n)
{
    uint8_t *o = out;
    while (n > 0) {
        /* Large requests go straight to the stream cipher, block aligned. */
        if (prg->buf_pos == sizeof prg->buf && n >= sizeof prg->buf) {
            const size_t blocks = n / 64;
            keystream(prg, o, blocks);
            o += blocks * 64;
            n -= blocks * 64;
            continue;
        }
        if (prg->buf_pos == sizeof prg->buf) prg_refill(prg);
        size_t take = sizeof prg->buf - prg->buf_pos;
        if (take > n) take = n;
        memcpy(o, prg->buf + prg->buf_pos, take);
        sodium_memzero(prg->buf + prg->buf_pos, take);
        prg->buf_pos += take;
        o += take;
        n -= take;
    }
}

uint64_t cg_prg_u64(cg_prg *prg)
{
    uint8_t b[8];
    cg_prg_bytes(prg, b, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

uint64_t cg_prg_uniform(cg_prg *prg, uint64_t bound)
{
    if (bound <= 1) return 0;
    /* Reject draws in the top partial interval: no modulo bias. */
    const uint64_t limit = (UINT64_MAX / bound) * bound;
    for (;;) {
        uint64_t v = cg_prg_u64(prg);
        if (v < limit) return v % bound;
    }
}

void cg_prg_clear(cg_prg *prg)
{
    sodium_memzero(prg, sizeof *prg);
}
