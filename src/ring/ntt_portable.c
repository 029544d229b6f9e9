/* Portable negacyclic NTT kernels (Harvey lazy butterflies with Shoup
 * multiplication); the SIMD back-ends reuse the per-layer kernels for the
 * layers they do not vectorise. */
#include "cryptogen/ring.h"
#include "ring/ntt_internal.h"

/* One forward CT layer: m blocks of 2*span; values stay in [0, 4q) (Harvey). */
void ntt_fwd_layer_scalar(const cg_ntt_table *t, uint64_t *a, size_t m, size_t span)
{
    const uint64_t q = t->mod.value, two_q = 2 * q;
    for (size_t i = 0; i < m; i++) {
        const uint64_t w = t->fwd[m + i], wp = t->fwd_sh[m + i];
        uint64_t *x = a + 2 * i * span, *y = x + span;
        for (size_t j = 0; j < span; j++) {
            uint64_t u = x[j];
            u -= two_q & (0 - (uint64_t)(u >= two_q));
            uint64_t v = cg_mul_shoup_lazy(y[j], w, wp, q);
            x[j] = u + v;
            y[j] = u - v + two_q;
        }
    }
}

/* One inverse GS layer: h blocks of 2*span; values stay in [0, 2q). */
void ntt_inv_layer_scalar(const cg_ntt_table *t, uint64_t *a, size_t h, size_t span)
{
    const uint64_t q = t->mod.value, two_q = 2 * q;
    for (size_t i = 0; i < h; i++) {
        const uint64_t w = t->inv[h + i], wp = t->inv_sh[h + i];
        uint64_t *x = a + 2 * i * span, *y = x + span;
        for (size_t j = 0; j < span; j++) {
            uint64_t u = x[j], v = y[j];
            uint64_t s = u + v;
            s -= two_q & (0 - (uint64_t)(s >= two_q));
            x[j] = s;
            y[j] = cg_mul_shoup_lazy(u - v + two_q, w, wp, q);
        }
    }
}

void cg_ntt_forward_portable(const cg_ntt_table *t, uint64_t *a)
{
    const uint64_t q = t->mod.value, two_q = 2 * q;
    const size_t n = t->n;
    for (size_t m = 1, span = n / 2; m < n; m <<= 1, span >>= 1) ntt_fwd_layer_scalar(t, a, m, span);
    for (size_t j = 0; j < n; j++) {
        uint64_t u = a[j];
        u -= two_q & (0 - (uint64_t)(u >= two_q));
        u -= q & (0 - (uint64_t)(u >= q));
        a[j] = u;
    }
}

/* The last layer also multiplies by n^-1. */
void cg_ntt_inverse_portable(const cg_ntt_table *t, uint64_t *a)
{
    const uint64_t q = t->mod.value, two_q = 2 * q;
    const size_t n = t->n;
    for (size_t m = n, span = 1; m > 2; m >>= 1, span <<= 1) ntt_inv_layer_scalar(t, a, m >> 1, span);
    uint64_t *x = a, *y = a + n / 2;
    for (size_t j = 0; j < n / 2; j++) {
        uint64_t u = x[j], v = y[j];
        x[j] = cg_mul_shoup(u + v, t->n_inv, t->n_inv_sh, q);
        y[j] = cg_mul_shoup(u - v + two_q, t->last_inv, t->last_inv_sh, q);
    }
}
