/* Rings Z_{2^l} and Z_p, and share vectors. */
#include "cryptogen/mpc.h"

cg_ring cg_ring_pow2(unsigned bits)
{
    cg_ring r = {.modulus = bits >= 64 ? 0 : (1ull << bits), .bits = (uint8_t)bits, .pow2 = true};
    return r;
}

cg_ring cg_ring_prime(uint64_t p)
{
    cg_ring r = {.modulus = p, .bits = (uint8_t)(64 - __builtin_clzll(p - 1)), .pow2 = false};
    return r;
}

static uint64_t ring_mask(cg_ring r) { return r.bits >= 64 ? UINT64_MAX : r.modulus - 1; }

uint64_t cg_ring_reduce_signed(cg_ring r, int64_t v)
{
    if (r.pow2) return (uint64_t)v & ring_mask(r);
    int64_t m = (int64_t)(v % (int64_t)r.modulus);
    return (uint64_t)(m < 0 ? m + (int64_t)r.modulus : m);
}

int64_t cg_ring_to_signed(cg_ring r, uint64_t x)
{
    if (r.pow2) {
        if (r.bits >= 64) return (int64_t)x;
        uint64_t half = 1ull << (r.bits - 1);
        return x >= half ? (int64_t)x - (int64_t)r.modulus : (int64_t)x;
    }
    return x > r.modulus / 2 ? (int64_t)x - (int64_t)r.modulus : (int64_t)x;
}

uint64_t cg_ring_add(cg_ring r, uint64_t a, uint64_t b)
{
    if (r.pow2) return (a + b) & ring_mask(r);
    uint64_t s = a + b;
    return s >= r.modulus ? s - r.modulus : s;
}

uint64_t cg_ring_sub(cg_ring r, uint64_t a, uint64_t b)
{
    if (r.pow2) return (a - b) & ring_mask(r);
    return a >= b ? a - b : a + r.modulus - b;
}

uint64_t cg_ring_mul(cg_ring r, uint64_t a, uint64_t b)
{
    if (r.pow2) return (a * b) & ring_mask(r);
    return (uint64_t)(((unsigned __int128)a * b) % r.modulus);
}

cg_status cg_shares_alloc(cg_shares *s, cg_ring ring, size_t n, cg_error *err)
{
    s->ring = ring;
    s->n = n;
    s->v = cg_calloc(n ? n : 1, sizeof(uint64_t));
    if (!s->v) return cg_error_set(err, CG_ERR_NOMEM, "cannot allocate %zu shares", n);
    return CG_OK;
}

void cg_shares_free(cg_shares *s)
{
    cg_free(s->v);
    s->v = NULL;
    s->n = 0;
}
