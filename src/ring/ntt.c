/* Negacyclic NTT: tables, portable Harvey butterflies, back-end dispatch. */
#include "cryptogen/ring.h"
#include "ring/ntt_internal.h"

static unsigned bitrev(unsigned x, unsigned bits)
{
    unsigned r = 0;
    for (unsigned i = 0; i < bits; i++) r |= ((x >> i) & 1u) << (bits - 1 - i);
    return r;
}

bool cg_ntt_backend_available(cg_ntt_backend b, uint64_t q)
{
    unsigned f = cg_cpu_features();
    switch (b) {
    case CG_NTT_PORTABLE: return true;
    case CG_NTT_AVX2: return (f & CG_CPU_AVX2) != 0;
    case CG_NTT_AVX512IFMA: return (f & CG_CPU_AVX512IFMA) && q < (1ull << 50);
    default: return false;
    }
}

cg_status cg_ntt_table_init(cg_ntt_table *t, size_t n, uint64_t q, cg_ntt_backend backend,
                            cg_error *err)
{
    *t = (cg_ntt_table){0};
    if (n < 2 || n > (1u << 17) || (n & (n - 1)))
        return cg_error_set(err, CG_ERR_PARAM, "NTT size %zu is not a power of two in [2, 2^17]", n);
    CG_TRY(cg_modulus_init(&t->mod, q, err));
    CG_TRY(cg_primitive_root_2n(q, n, &t->root, err));
    if (backend == CG_NTT_AUTO)
        backend = cg_ntt_backend_available(CG_NTT_AVX512IFMA, q) ? CG_NTT_AVX512IFMA
                  : cg_ntt_backend_available(CG_NTT_AVX2, q)     ? CG_NTT_AVX2
                                                                 : CG_NTT_PORTABLE;
    else if (!cg_ntt_backend_available(backend, q))
        return cg_error_set(err, CG_ERR_UNSUPPORTED, "NTT back-end %s unavailable for q = %llu",
                            cg_ntt_backend_name(backend), (unsigned long long)q);
    t->backend = backend;
    /* q < 2^50: the FMA-double butterflies beat vpmuludq's 64-bit emulation
     * (the test of cg_poly_fma_available, repeated: poly.c calls this module) */
    __builtin_cpu_init();
    t->fma = backend == CG_NTT_AVX2 && n >= 8 && q < (1ull << 50) && __builtin_cpu_supports("fma");
    t->n = n;
    t->logn = (unsigned)__builtin_ctzll(n);
    t->fwd = cg_alloc(n * sizeof(uint64_t));
    t->fwd_sh = cg_alloc(n * sizeof(uint64_t));
    t->inv = cg_alloc(n * sizeof(uint64_t));
    t->inv_sh = cg_alloc(n * sizeof(uint64_t));
    if (!t->fwd || !t->fwd_sh || !t->inv || !t->inv_sh) {
        cg_ntt_table_free(t);
        return cg_error_set(err, CG_ERR_NOMEM, "NTT tables for n = %zu", n);
    }
    const cg_modulus *m = &t->mod;
    uint64_t psi_inv = cg_mod_inv(t->root, m);
    uint64_t p = 1, pi = 1;
    /* Powers in natural order first, then scatter to bit-reversed slots. */
    for (size_t i = 0; i < n; i++) {
        unsigned r = bitrev((unsigned)i, t->logn);
        t->fwd[r] = p;
        t->inv[r] = pi;
        p = cg_mod_mul(p, t->root, m);
        pi = cg_mod_mul(pi, psi_inv, m);
    }
    for (size_t i = 0; i < n; i++) {
        t->fwd_sh[i] = cg_shoup(t->fwd[i], q);
        t->inv_sh[i] = cg_shoup(t->inv[i], q);
    }
    t->n_inv = cg_mod_inv(n % q, m);
    t->n_inv_sh = cg_shoup(t->n_inv, q);
    t->last_inv = cg_mod_mul(t->n_inv, t->inv[1], m);
    t->last_inv_sh = cg_shoup(t->last_inv, q);
    if (q < (1ull << 50)) {
        t->fwd_sh52 = cg_alloc(n * sizeof(uint64_t));
        t->inv_sh52 = cg_alloc(n * sizeof(uint64_t));
        if (!t->fwd_sh52 || !t->inv_sh52) {
            cg_ntt_table_free(t);
            return cg_error_set(err, CG_ERR_NOMEM, "NTT tables for n = %zu", n);
        }
        for (size_t i = 0; i < n; i++) {
            t->fwd_sh52[i] = (uint64_t)(((cg_u128)t->fwd[i] << 52) / q);
            t->inv_sh52[i] = (uint64_t)(((cg_u128)t->inv[i] << 52) / q);
        }
        t->n_inv_sh52 = (uint64_t)(((cg_u128)t->n_inv << 52) / q);
        t->last_inv_sh52 = (uint64_t)(((cg_u128)t->last_inv << 52) / q);
    }
    return CG_OK;
}

void cg_ntt_table_free(cg_ntt_table *t)
{
    cg_free(t->fwd);
    cg_free(t->fwd_sh);
    cg_free(t->inv);
    cg_free(t->inv_sh);
    cg_free(t->fwd_sh52);
    cg_free(t->inv_sh52);
    t->fwd = t->fwd_sh = t->inv = t->inv_sh = t->fwd_sh52 = t->inv_sh52 = NULL;
}

void cg_ntt_forward(const cg_ntt_table *t, uint64_t *a)
{
    if (t->backend == CG_NTT_AVX512IFMA)
        ntt_forward_ifma(t, a);
    else if (t->fma)
        ntt_forward_fma(t, a);
    else if (t->backend == CG_NTT_AVX2 && t->n >= 8)
        ntt_forward_avx2(t, a);
    else
        cg_ntt_forward_portable(t, a);
}

void cg_ntt_inverse(const cg_ntt_table *t, uint64_t *a)
{
    if (t->backend == CG_NTT_AVX512IFMA)
        ntt_inverse_ifma(t, a);
    else if (t->fma)
        ntt_inverse_fma(t, a);
    else if (t->backend == CG_NTT_AVX2 && t->n >= 8)
        ntt_inverse_avx2(t, a);
    else
        cg_ntt_inverse_portable(t, a);
}
