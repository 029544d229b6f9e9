/* NTT-friendly prime generation and roots of unity. */
#include "cryptogen/ring.h"

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t q)
{
    return (uint64_t)(((cg_u128)a * b) % q);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t q)
{
    uint64_t r = 1 % q;
    b %= q;
    while (e) {
        if (e & 1) r = mulmod(r, b, q);
        b = mulmod(b, b, q);
        e >>= 1;
    }
    return r;
}

bool cg_is_prime(uint64_t q)
{
    if (q < 2) return false;
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        if (q == small[i]) return true;
        if (q % small[i] == 0) return false;
    }
    uint64_t d = q - 1;
    int s = 0;
    while ((d & 1) == 0) {
        d >>= 1;
        s++;
    }
    /* These bases make Miller-Rabin deterministic below 2^64. */
    static const uint64_t bases[] = {2, 325, 9375, 28178, 450775, 9780504, 1795265022};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        uint64_t a = bases[i] % q;
        if (a == 0) continue;
        uint64_t x = powmod(a, d, q);
        if (x == 1 || x == q - 1) continue;
        bool composite = true;
        for (int r = 1; r < s; r++) {
            x = mulmod(x, x, q);
            if (x == q - 1) {
                composite = false;
                break;
            }
        }
        if (composite) return false;
    }
    return true;
}

cg_status cg_primes_ntt(unsigned bits, size_t n, size_t count, const uint64_t *exclude,
                        size_t nexclude, uint64_t *out, cg_error *err)
{
    if (bits < 2 || bits > 61)
        return cg_error_set(err, CG_ERR_PARAM, "prime size %u bits outside [2, 61]", bits);
    if (n < 1 || (n & (n - 1)) || 2 * (uint64_t)n >= (1ull << (bits - 1)))
        return cg_error_set(err, CG_ERR_PARAM, "no %u-bit primes = 1 mod 2n for n = %zu", bits, n);
    const uint64_t step = 2 * (uint64_t)n, lo = 1ull << (bits - 1);
    /* Largest candidate below 2^bits that is 1 mod 2n. */
    uint64_t cand = (((1ull << bits) - 1) / step) * step + 1;
    if (cand >= (1ull << bits)) cand -= step;
    size_t found = 0;
    for (; found < count && cand > lo; cand -= step) {
        if (!cg_is_prime(cand)) continue;
        bool skip = false;
        for (size_t i = 0; i < nexclude && !skip; i++) skip = exclude[i] == cand;
        for (size_t i = 0; i < found && !skip; i++) skip = out[i] == cand;
        if (!skip) out[found++] = cand;
    }
    if (found < count)
        return cg_error_set(err, CG_ERR_PARAM, "only %zu of %zu %u-bit NTT primes for n = %zu",
                            found, count, bits, n);
    return CG_OK;
}

cg_status cg_primitive_root_2n(uint64_t q, size_t n, uint64_t *root, cg_error *err)
{
    const uint64_t m = 2 * (uint64_t)n;
    if (!cg_is_prime(q) || (q - 1) % m != 0)
        return cg_error_set(err, CG_ERR_PARAM, "%llu is not a prime = 1 mod %llu",
                            (unsigned long long)q, (unsigned long long)m);
    /* psi = g^((q-1)/2n) is a primitive 2n-th root iff psi^n = -1. */
    uint64_t psi = 0;
    for (uint64_t g = 2; g < q; g++) {
        uint64_t c = powmod(g, (q - 1) / m, q);
        if (powmod(c, n, q) == q - 1) {
            psi = c;
            break;
        }
    }
    if (!psi) return cg_error_set(err, CG_ERR_INTERNAL, "no primitive root found");
    /* The smallest of all primitive 2n-th roots (psi^odd), so tables do not
     * depend on the search order. */
    uint64_t best = psi, sq = mulmod(psi, psi, q), cur = psi;
    for (uint64_t i = 1; i < n; i++) {
        cur = mulmod(cur, sq, q);
        if (cur < best) best = cur;
    }
    *root = best;
    return CG_OK;
}
