/* Modulus set-up, exponentiation and inversion modulo a word-size prime. */
#include "cryptogen/ring.h"

cg_status cg_modulus_init(cg_modulus *m, uint64_t q, cg_error *err)
{
    if (q < 2 || q >= (1ull << 61))
        return cg_error_set(err, CG_ERR_PARAM, "modulus %llu outside [2, 2^61)",
                            (unsigned long long)q);
    m->value = q;
    m->bits = 64 - (unsigned)__builtin_clzll(q);
    /* floor(2^128 / q) = floor((2^128 - 1) / q) since q is not a power of two
     * (q = 2 is: it divides 2^128, and then the +1 below corrects). */
    cg_u128 r = ~(cg_u128)0 / q;
    if ((q & (q - 1)) == 0) r += 1;
    m->barrett_hi = (uint64_t)(r >> 64);
    m->barrett_lo = (uint64_t)r;
    m->barrett_sq = (uint64_t)(((cg_u128)1 << (2 * m->bits)) / q); /* bits <= 61: fits */
    return CG_OK;
}

uint64_t cg_mod_pow(uint64_t base, uint64_t exp, const cg_modulus *m)
{
    uint64_t result = 1 % m->value, b = cg_mod_reduce(base, m);
    while (exp) {
        if (exp & 1) result = cg_mod_mul(result, b, m);
        b = cg_mod_mul(b, b, m);
        exp >>= 1;
    }
    return result;
}

uint64_t cg_mod_inv(uint64_t a, const cg_modulus *m)
{
    if (cg_mod_reduce(a, m) == 0) return 0;
    return cg_mod_pow(a, m->value - 2, m);
}
