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
    prg->block_counter = 0;
    prg->buf_pos = sizeof prg->buf;
}

void cg_prg_init_random(cg_prg *prg)
{
    uint8_t seed[CG_SEED_BYTES];
    randombytes_buf(seed, sizeof seed);
    cg_prg_init(prg, seed, 0);
    sodium_memzero(seed, sizeof seed);
}

static void prg_refill(cg_prg *prg)
{
    memset(prg->buf, 0, sizeof prg->buf);
    crypto_stream_chacha20_ietf_xor_ic(prg->buf, prg->buf, sizeof prg->buf, prg->nonce,
                                       prg->block_counter, prg->key);
    prg->block_counter += sizeof prg->buf / 64;
    if (prg->block_counter == 0) {
        /* 2^32 blocks (256 GiB) used: move to the next nonce rather than wrap. */
        for (int i = 8; i < 12; i++)
            if (++prg->nonce[i]) break;
    }
    prg->buf_pos = 0;
}

void cg_prg_bytes(cg_prg *prg, void *out, size_t n)
{
    uint8_t *o = out;
    /* Large requests go straight to the stream cipher, block aligned. */
    while (n > 0) {
        if (prg->buf_pos == sizeof prg->buf && n >= sizeof prg->buf) {
            size_t blocks = n / 64;
            if (blocks > (1u << 20)) blocks = 1u << 20;
            if ((uint64_t)prg->block_counter + blocks > UINT32_MAX) {
                prg_refill(prg);
                continue;
            }
            memset(o, 0, blocks * 64);
            crypto_stream_chacha20_ietf_xor_ic(o, o, blocks * 64, prg->nonce, prg->block_counter,
                                               prg->key);
            prg->block_counter += (uint32_t)blocks;
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
