/* BFV parameters: presets, security validation, prime selection and every
 * precomputation the other bfv modules use. */
#include <math.h>
#include <sodium.h>
#include <string.h>

#include "bfv/bfv_internal.h"

unsigned cg_bfv_max_logqp(size_t n)
{
    /* HE Standard, 128-bit classical security, ternary secret, sigma 3.2. */
    switch (n) {
    case 1024: return 27;
    case 2048: return 54;
    case 4096: return 109;
    case 8192: return 218;
    case 16384: return 438;
    case 32768: return 881;
    default: return 0;
    }
}

cg_status cg_bfv_preset(const char *name, cg_bfv_spec *s, cg_error *err)
{
    *s = (cg_bfv_spec){0};
    if (strcmp(name, "n4096") == 0) {
        *s = (cg_bfv_spec){.n = 4096, .nq = 2, .q_bits = {36, 37}, .np = 1, .p_bits = {36},
                           .t_bits = 20};
    } else if (strcmp(name, "paper") == 0) {
        /* n = 8192, log QP = 218 as in SEAL's default chain, all primes < 2^50
         * so every NTT takes the IFMA path; t a 29-bit batching prime. */
        *s = (cg_bfv_spec){.n = 8192, .nq = 4, .q_bits = {44, 44, 44, 43}, .np = 1,
                           .p_bits = {43}, .t_bits = 29};
    } else if (strcmp(name, "n16384") == 0) {
        *s = (cg_bfv_spec){.n = 16384, .nq = 8, .q_bits = {49, 49, 49, 49, 49, 49, 49, 49},
                           .np = 1, .p_bits = {46}, .t_bits = 30};
    } else if (strcmp(name, "test2048") == 0) {
        *s = (cg_bfv_spec){.n = 2048, .nq = 3, .q_bits = {45, 45, 45}, .np = 1, .p_bits = {46},
                           .t_bits = 20, .insecure_for_tests = true};
    } else {
        return cg_error_set(err, CG_ERR_PARAM,
                            "unknown BFV parameter set '%s' (n4096, paper, n16384, test2048)", name);
    }
    return CG_OK;
}

/* limbs / w (in place), returns the remainder. */
static uint64_t mp_div_word(uint64_t *limbs, size_t k, uint64_t w)
{
    cg_u128 r = 0;
    for (size_t i = k; i-- > 0;) {
        cg_u128 cur = (r << 64) | limbs[i];
        limbs[i] = (uint64_t)(cur / w);
        r = cur % w;
    }
    return (uint64_t)r;
}

static uint64_t mp_mod(const uint64_t *limbs, size_t k, const cg_modulus *m)
{
    uint64_t r = 0;
    for (size_t i = k; i-- > 0;) r = cg_mod_reduce128(((cg_u128)r << 64) | limbs[i], m);
    return r;
}

static cg_status init_levels(cg_bfv_ctx *c, cg_error *err)
{
    uint64_t primes[CG_BFV_MAX_ALL];
    for (size_t i = 0; i < c->nq; i++) primes[i] = c->mods[i].value;
    for (size_t l = 1; l <= c->nq; l++) {
        bfv_level *L = &c->level[l];
        CG_TRY(cg_rns_base_init(&L->base, primes, l, err));
        uint64_t q[CG_BFV_MAX_Q + 1] = {0};
        memcpy(q, L->base.prod, l * sizeof(uint64_t));
        L->q_mod_t = mp_div_word(q, l, c->t); /* q now holds floor(Q/t) */
        for (size_t i = 0; i < l; i++) L->delta[i] = mp_mod(q, l, &c->mods[i]);
        L->log2q = 0;
        for (size_t i = 0; i < l; i++) L->log2q += log2((double)primes[i]);
    }
    return CG_OK;
}

static cg_status init_keyswitch(cg_bfv_ctx *c, cg_error *err)
{
    const size_t nqp = c->nq + c->np;
    c->alpha = (c->nq + c->dnum - 1) / c->dnum;
    c->dnum = (c->nq + c->alpha - 1) / c->alpha;
    for (size_t j = 0; j < c->dnum; j++) {
        uint64_t dp[CG_BFV_MAX_ALL], cp[CG_BFV_MAX_ALL];
        size_t nd = 0, nc = 0;
        for (size_t i = 0; i < nqp; i++) {
            bool in = i < c->nq && i / c->alpha == j;
            if (in)
                dp[nd++] = c->mods[i].value;
            else {
                c->comp_idx[j][nc] = i;
                cp[nc++] = c->mods[i].value;
            }
        }
        CG_TRY(cg_rns_base_init(&c->digit_base[j], dp, nd, err));
        if (nc) {
            CG_TRY(cg_rns_base_init(&c->digit_comp[j], cp, nc, err));
            CG_TRY(cg_base_conv_init(&c->modup[j], &c->digit_base[j], &c->digit_comp[j], err));
        }
    }
    if (c->np) {
        uint64_t pp[CG_BFV_MAX_P];
        for (size_t i = 0; i < c->np; i++) pp[i] = c->mods[c->nq + i].value;
        CG_TRY(cg_rns_base_init(&c->pbase, pp, c->np, err));
        CG_TRY(cg_base_conv_init(&c->moddown, &c->pbase, &c->level[c->nq].base, err));
        for (size_t i = 0; i < c->nq; i++) {
            c->p_mod_q[i] = mp_mod(c->pbase.prod, c->np, &c->mods[i]);
            c->p_inv_mod_q[i] = cg_mod_inv(c->p_mod_q[i], &c->mods[i]);
        }
    } else {
        for (size_t i = 0; i < c->nq; i++) c->p_mod_q[i] = c->p_inv_mod_q[i] = 1;
    }
    return CG_OK;
}

static cg_status init_multiply(cg_bfv_ctx *c, unsigned rbits, uint64_t *used, size_t nused,
                               cg_error *err)
{
    /* R must hold round(t x / Q) for tensor coefficients |x| <= n Q^2 / 4,
     * i.e. R > n t Q / 2 with margin. */
    const double need = c->level[c->nq].log2q + c->logn + log2((double)c->t) + 4;
    /* 50-bit primes (below 2^50) keep R on the IFMA NTT; without IFMA every back-end runs
     * 60-bit primes as fast, and fewer of them cover R (4 instead of 5 for
     * the paper set: 1/9 fewer NTTs and conversions per product). Only the
     * rounding slips of the product depend on the choice. */
    if (rbits == 0) rbits = (cg_cpu_features() & CG_CPU_AVX512IFMA) ? 50 : 60;
    if (rbits < 50 || rbits > 60)
        return cg_error_set(err, CG_ERR_PARAM, "auxiliary primes of %u bits (50..60)", rbits);
    c->nr = (size_t)ceil(need / (rbits - 1));
    if (c->nr > CG_BFV_MAX_R) return cg_error_set(err, CG_ERR_PARAM, "modulus too large for ct x ct");
    uint64_t rp[CG_BFV_MAX_R];
    CG_TRY(cg_primes_ntt(rbits, c->n, c->nr, used, nused, rp, err));
    for (size_t j = 0; j < c->nr; j++) {
        CG_TRY(cg_modulus_init(&c->rmods[j], rp[j], err));
        CG_TRY(cg_ntt_table_init(&c->rntt[j], c->n, rp[j], CG_NTT_AUTO, err));
    }
    CG_TRY(cg_rns_base_init(&c->rbase, rp, c->nr, err));
    const cg_rns_base *Q = &c->level[c->nq].base;
    CG_TRY(cg_base_conv_init(&c->q_to_r, Q, &c->rbase, err));
    CG_TRY(cg_base_conv_init(&c->r_to_q, &c->rbase, Q, err));
    for (size_t j = 0; j < c->nr; j++) c->q_mod_r[j] = mp_mod(Q->prod, c->nq, &c->rmods[j]);
    for (size_t i = 0; i < c->nq; i++) c->r_mod_q[i] = mp_mod(c->rbase.prod, c->nr, &c->mods[i]);
    for (size_t i = 0; i < c->nq; i++) {
        const cg_modulus *qi = &c->mods[i];
        /* c_i = [(Q/q_i * R)^-1]_{q_i}; rem_i = t * R * c_i mod q_i */
        uint64_t qstar = mp_mod(Q->punct + i * c->nq, c->nq, qi);
        uint64_t ci = cg_mod_inv(cg_mod_mul(qstar, c->r_mod_q[i], qi), qi);
        uint64_t rem = cg_mod_mul(cg_mod_mul(c->t % qi->value, c->r_mod_q[i], qi), ci, qi);
        c->mul_frac[i] = (long double)rem / (long double)qi->value;
        for (size_t j = 0; j < c->nr; j++) {
            const cg_modulus *rj = &c->rmods[j];
            uint64_t qinv = cg_mod_inv(cg_mod_reduce(qi->value, rj), rj);
            c->mul_coef_q[j][i] = cg_mod_neg(cg_mod_mul(cg_mod_reduce(rem, rj), qinv, rj), rj->value);
        }
    }
    for (size_t j = 0; j < c->nr; j++) {
        const cg_modulus *rj = &c->rmods[j];
        c->mul_coef_r[j] = cg_mod_mul(c->t % rj->value, cg_mod_inv(c->q_mod_r[j], rj), rj);
    }
    return CG_OK;
}

static cg_status validate_spec(const cg_bfv_spec *s, cg_error *err)
{
    if (s->n < 1024 || s->n > 32768 || (s->n & (s->n - 1)))
        return cg_error_set(err, CG_ERR_PARAM, "ring degree %zu is not a power of two in [1024, 32768]",
                            s->n);
    if (s->nq < 1 || s->nq > CG_BFV_MAX_Q)
        return cg_error_set(err, CG_ERR_PARAM, "%zu ciphertext primes (1..%d allowed)", s->nq,
                            CG_BFV_MAX_Q);
    if (s->np > CG_BFV_MAX_P)
        return cg_error_set(err, CG_ERR_PARAM, "%zu special primes (0..%d allowed)", s->np,
                            CG_BFV_MAX_P);
    unsigned total = 0;
    for (size_t i = 0; i < s->nq + s->np; i++) {
        unsigned b = i < s->nq ? s->q_bits[i] : s->p_bits[i - s->nq];
        if (b < 20 || b > 60)
            return cg_error_set(err, CG_ERR_PARAM, "prime size %u bits outside [20, 60]", b);
        total += b;
    }
    unsigned bound = cg_bfv_max_logqp(s->n);
    if (!s->insecure_for_tests && (bound == 0 || total > bound))
        return cg_error_set(err, CG_ERR_PARAM,
                            "log2(QP) = %u exceeds the 128-bit bound %u for n = %zu (HE Standard); "
                            "use fewer/smaller primes or the insecure-for-tests flag",
                            total, bound, s->n);
    if (s->t == 0 && (s->t_bits < 2 || s->t_bits > 60))
        return cg_error_set(err, CG_ERR_PARAM, "plaintext modulus size %u bits", s->t_bits);
    if (s->t == 1) return cg_error_set(err, CG_ERR_PARAM, "plaintext modulus 1");
    return CG_OK;
}

cg_status cg_bfv_ctx_new(cg_bfv_ctx **out, const cg_bfv_spec *s, cg_error *err)
{
    *out = NULL;
    CG_TRY(validate_spec(s, err));
    cg_bfv_ctx *c = cg_calloc(1, sizeof *c);
    if (!c) return cg_error_set(err, CG_ERR_NOMEM, "BFV context");
    c->n = s->n;
    c->logn = (unsigned)__builtin_ctzll(s->n);
    c->nq = s->nq;
    c->np = s->np;
    c->dnum = s->dnum ? s->dnum : s->nq;
    if (c->dnum > s->nq) c->dnum = s->nq;
    c->nthreads = 1;
    c->avx2 = cg_poly_avx2_available();
    c->fma = cg_poly_fma_available();
    c->ifma = cg_poly_ifma_available();
    c->sigma = sqrt(21.0 / 2.0);
    cg_status st = bfv_pool_new(&c->pool, err);
    if (st != CG_OK) {
        cg_free(c);
        return st;
    }
    uint64_t used[CG_BFV_MAX_ALL + 1];
    size_t nused = 0;
    /* plaintext modulus first so no q prime collides with it */
    if (s->t == 0) {
        st = cg_primes_ntt(s->t_bits, s->n, 1, NULL, 0, &c->t, err);
        if (st == CG_OK) used[nused++] = c->t;
    } else {
        c->t = s->t;
        if (s->t >= (1ull << 61)) st = cg_error_set(err, CG_ERR_PARAM, "plaintext modulus >= 2^61");
    }
    if (st == CG_OK) st = cg_modulus_init(&c->tmod, c->t, err);
    c->batching = st == CG_OK && cg_is_prime(c->t) && c->t % (2 * s->n) == 1;
    for (size_t i = 0; i < s->nq + s->np && st == CG_OK; i++) {
        unsigned b = i < s->nq ? s->q_bits[i] : s->p_bits[i - s->nq];
        uint64_t q;
        st = cg_primes_ntt(b, s->n, 1, used, nused, &q, err);
        if (st != CG_OK) break;
        used[nused++] = q;
        st = cg_modulus_init(&c->mods[i], q, err);
        if (st == CG_OK) st = cg_ntt_table_init(&c->ntt[i], s->n, q, CG_NTT_AUTO, err);
        if (st == CG_OK && q <= c->t)
            st = cg_error_set(err, CG_ERR_PARAM, "ciphertext prime below the plaintext modulus");
    }
    if (st == CG_OK) st = init_levels(c, err);
    if (st == CG_OK && c->level[c->nq].log2q < log2((double)c->t) + 20)
        st = cg_error_set(err, CG_ERR_PARAM, "ciphertext modulus too small for t");
    if (st == CG_OK) st = init_keyswitch(c, err);
    if (st == CG_OK) st = init_multiply(c, s->r_bits, used, nused, err);
    if (st == CG_OK && c->batching) {
        st = cg_ntt_table_init(&c->t_ntt, s->n, c->t, CG_NTT_AUTO, err);
        c->slot_map = cg_alloc(s->n * sizeof(uint32_t));
        if (st == CG_OK && !c->slot_map) st = cg_error_set(err, CG_ERR_NOMEM, "slot map");
        if (st == CG_OK) {
            /* Row 0 slot i <-> evaluation at psi^(3^i), row 1 <-> psi^(-3^i):
             * rotations become automorphisms X -> X^(3^k). NTT position of the
             * evaluation at psi^e is bitrev((e - 1) / 2). */
            const uint64_t m = 2 * (uint64_t)s->n;
            uint64_t pos = 1;
            const size_t half = s->n / 2;
            for (size_t i = 0; i < half; i++) {
                uint64_t e0 = pos, e1 = m - pos;
                size_t r0 = 0, r1 = 0, x0 = (size_t)((e0 - 1) / 2), x1 = (size_t)((e1 - 1) / 2);
                for (unsigned b = 0; b < c->logn; b++) {
                    r0 |= ((x0 >> b) & 1u) << (c->logn - 1 - b);
                    r1 |= ((x1 >> b) & 1u) << (c->logn - 1 - b);
                }
                c->slot_map[i] = (uint32_t)r0;
                c->slot_map[half + i] = (uint32_t)r1;
                pos = pos * 3 % m;
            }
        }
    }
    if (st != CG_OK) {
        cg_bfv_ctx_free(c);
        return st;
    }
    /* Fingerprint: every parameter that changes the meaning of an object. */
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof c->fingerprint);
    uint64_t hdr[4] = {c->n, c->t, c->nq, c->np};
    crypto_generichash_update(&h, (const uint8_t *)"cryptogen-bfv-v1", 16);
    crypto_generichash_update(&h, (const uint8_t *)hdr, sizeof hdr);
    for (size_t i = 0; i < c->nq + c->np; i++)
        crypto_generichash_update(&h, (const uint8_t *)&c->mods[i].value, 8);
    uint64_t dn = c->dnum;
    crypto_generichash_update(&h, (const uint8_t *)&dn, 8);
    crypto_generichash_final(&h, c->fingerprint, sizeof c->fingerprint);
    *out = c;
    return CG_OK;
}

void cg_bfv_ctx_free(cg_bfv_ctx *c)
{
    if (!c) return;
    for (size_t i = 0; i < CG_BFV_MAX_ALL; i++) cg_ntt_table_free(&c->ntt[i]);
    for (size_t l = 0; l <= CG_BFV_MAX_Q; l++) cg_rns_base_free(&c->level[l].base);
    for (size_t j = 0; j < CG_BFV_MAX_Q; j++) {
        cg_rns_base_free(&c->digit_base[j]);
        cg_rns_base_free(&c->digit_comp[j]);
        cg_base_conv_free(&c->modup[j]);
    }
    cg_rns_base_free(&c->pbase);
    cg_base_conv_free(&c->moddown);
    for (size_t j = 0; j < CG_BFV_MAX_R; j++) cg_ntt_table_free(&c->rntt[j]);
    cg_rns_base_free(&c->rbase);
    cg_base_conv_free(&c->q_to_r);
    cg_base_conv_free(&c->r_to_q);
    cg_ntt_table_free(&c->t_ntt);
    cg_free(c->slot_map);
    bfv_pool_free(c->pool);
    cg_free(c);
}

size_t cg_bfv_n(const cg_bfv_ctx *c) { return c->n; }
uint64_t cg_bfv_t(const cg_bfv_ctx *c) { return c->t; }
size_t cg_bfv_nq(const cg_bfv_ctx *c) { return c->nq; }
bool cg_bfv_batching(const cg_bfv_ctx *c) { return c->batching; }
double cg_bfv_log2_q(const cg_bfv_ctx *c, size_t level)
{
    return level >= 1 && level <= c->nq ? c->level[level].log2q : 0;
}
double cg_bfv_log2_qp(const cg_bfv_ctx *c)
{
    double s = c->level[c->nq].log2q;
    for (size_t i = 0; i < c->np; i++) s += log2((double)c->mods[c->nq + i].value);
    return s;
}
const uint8_t *cg_bfv_fingerprint(const cg_bfv_ctx *c) { return c->fingerprint; }
void cg_bfv_set_threads(cg_bfv_ctx *c, int nthreads) { c->nthreads = nthreads < 1 ? 1 : nthreads; }
const cg_ntt_table *cg_bfv_q_ntt(const cg_bfv_ctx *c, size_t i) { return &c->ntt[i]; }

double bfv_log2_add(double a, double b)
{
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log2(1.0 + exp2(lo - hi));
}
