/* Secret, public, relinearisation and Galois keys; key-switching keys. */
#include <math.h>
#include <string.h>

#include "bfv/bfv_internal.h"

static size_t nqp(const cg_bfv_ctx *c) { return c->nq + c->np; }

void cg_bfv_sk_free(cg_bfv_sk *sk)
{
    cg_free(sk->s_ntt);
    cg_free(sk->s_coeff);
    sk->s_ntt = NULL;
    sk->s_coeff = NULL;
}

void cg_bfv_pk_free(cg_bfv_pk *pk)
{
    cg_free(pk->data);
    pk->data = NULL;
}

void cg_bfv_ksk_free(cg_bfv_ksk *k)
{
    cg_free(k->data);
    k->data = NULL;
    k->dnum = 0;
}

void cg_bfv_galois_free(cg_bfv_galois_keys *gk)
{
    for (size_t i = 0; i < gk->count; i++) cg_bfv_ksk_free(&gk->keys[i]);
    cg_free(gk->keys);
    cg_free(gk->elts);
    gk->keys = NULL;
    gk->elts = NULL;
    gk->count = 0;
}

/* Error polynomial e (CBD) into rows [0, k) in NTT form. */
static void sample_error_ntt(const cg_bfv_ctx *c, cg_prg *prg, size_t k, uint64_t *out)
{
    int8_t *e = cg_alloc(c->n);
    cg_sample_cbd(prg, c->n, e);
    cg_small_to_rns(c->mods, k, c->n, e, out);
    cg_free(e);
    cg_poly_ntt(c->ntt, k, out, c->nthreads);
}

cg_status cg_bfv_keygen(const cg_bfv_ctx *c, cg_bfv_sk *sk, cg_bfv_pk *pk, cg_error *err)
{
    const size_t n = c->n, K = nqp(c);
    *sk = (cg_bfv_sk){0};
    sk->s_coeff = cg_alloc(n);
    sk->s_ntt = cg_alloc(K * n * sizeof(uint64_t));
    if (!sk->s_coeff || !sk->s_ntt) {
        cg_bfv_sk_free(sk);
        return cg_error_set(err, CG_ERR_NOMEM, "secret key");
    }
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_sample_ternary(&prg, n, sk->s_coeff);
    cg_small_to_rns(c->mods, K, n, sk->s_coeff, sk->s_ntt);
    cg_poly_ntt(c->ntt, K, sk->s_ntt, c->nthreads);
    if (pk) {
        const size_t L = c->nq;
        pk->data = cg_alloc(2 * L * n * sizeof(uint64_t));
        if (!pk->data) {
            cg_prg_clear(&prg);
            cg_bfv_sk_free(sk);
            return cg_error_set(err, CG_ERR_NOMEM, "public key");
        }
        cg_random_bytes(pk->seed, CG_SEED_BYTES);
        uint64_t *b = pk->data, *a = pk->data + L * n;
        cg_prg ap;
        cg_prg_init(&ap, pk->seed, 0);
        cg_sample_uniform(&ap, c->mods, L, n, a);
        sample_error_ntt(c, &prg, L, b);
        /* b = e - a s */
        uint64_t *as = cg_alloc(L * n * sizeof(uint64_t));
        if (!as) {
            cg_bfv_pk_free(pk);
            cg_bfv_sk_free(sk);
            cg_prg_clear(&prg);
            return cg_error_set(err, CG_ERR_NOMEM, "public key");
        }
        cg_poly_mul(c->mods, L, n, a, sk->s_ntt, as);
        cg_poly_sub(c->mods, L, n, b, as, b);
        cg_free(as);
    }
    cg_prg_clear(&prg);
    return CG_OK;
}

cg_status bfv_make_ksk(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const uint64_t *s_prime_ntt,
                       cg_bfv_ksk *ksk, cg_error *err)
{
    const size_t n = c->n, K = nqp(c);
    ksk->dnum = c->dnum;
    ksk->data = cg_alloc(2 * c->dnum * K * n * sizeof(uint64_t));
    uint64_t *tmp = cg_alloc(K * n * sizeof(uint64_t));
    if (!ksk->data || !tmp) {
        cg_free(tmp);
        cg_bfv_ksk_free(ksk);
        return cg_error_set(err, CG_ERR_NOMEM, "key-switching key");
    }
    cg_random_bytes(ksk->seed, CG_SEED_BYTES);
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (size_t j = 0; j < c->dnum; j++) {
        uint64_t *b = ksk->data + 2 * j * K * n, *a = b + K * n;
        cg_prg ap;
        cg_prg_init(&ap, ksk->seed, j);
        cg_sample_uniform(&ap, c->mods, K, n, a);
        sample_error_ntt(c, &prg, K, b);
        cg_poly_mul(c->mods, K, n, a, sk->s_ntt, tmp);
        cg_poly_sub(c->mods, K, n, b, tmp, b);
        /* + P * s' on the digit's primes (the gadget: P * Qhat_j * [Qhat_j^-1]
         * is P mod q_i there and 0 on every other prime). */
        for (size_t i = j * c->alpha; i < c->nq && i < (j + 1) * c->alpha; i++) {
            const cg_modulus *m = &c->mods[i];
            const uint64_t w = c->p_mod_q[i], wp = cg_shoup(w, m->value);
            for (size_t x = 0; x < n; x++)
                b[i * n + x] = cg_mod_add(b[i * n + x],
                                          cg_mul_shoup(s_prime_ntt[i * n + x], w, wp, m->value),
                                          m->value);
        }
    }
    cg_prg_clear(&prg);
    cg_free(tmp);
    return CG_OK;
}

cg_status cg_bfv_keygen_relin(const cg_bfv_ctx *c, const cg_bfv_sk *sk, cg_bfv_ksk *rk,
                              cg_error *err)
{
    const size_t n = c->n, K = nqp(c);
    uint64_t *s2 = cg_alloc(K * n * sizeof(uint64_t));
    if (!s2) return cg_error_set(err, CG_ERR_NOMEM, "relinearisation key");
    cg_poly_mul(c->mods, K, n, sk->s_ntt, sk->s_ntt, s2);
    cg_status st = bfv_make_ksk(c, sk, s2, rk, err);
    cg_free(s2);
    return st;
}

uint32_t cg_bfv_galois_elt(const cg_bfv_ctx *c, int step)
{
    const uint64_t m = 2 * (uint64_t)c->n, half = c->n / 2;
    int64_t s = step % (int64_t)half;
    if (s < 0) s += (int64_t)half;
    uint64_t g = 1;
    for (int64_t i = 0; i < s; i++) g = g * 3 % m;
    return (uint32_t)g;
}

/* Keys for the elements elts[0..count) (1 and repeats skipped). */
cg_status cg_bfv_keygen_galois_elts(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const uint32_t *elts,
                                    size_t count, cg_bfv_galois_keys *gk, cg_error *err)
{
    const size_t n = c->n, K = nqp(c);
    *gk = (cg_bfv_galois_keys){0};
    for (size_t i = 0; i < count; i++)
        if ((elts[i] & 1) == 0 || elts[i] >= 2 * n)
            return cg_error_set(err, CG_ERR_ARG, "Galois element %u is not odd below 2n", elts[i]);
    gk->elts = cg_calloc(count ? count : 1, sizeof(uint32_t));
    gk->keys = cg_calloc(count ? count : 1, sizeof(cg_bfv_ksk));
    uint64_t *sg = cg_alloc(K * n * sizeof(uint64_t));
    uint32_t *perm = cg_alloc(n * sizeof(uint32_t));
    if (!gk->elts || !gk->keys || !sg || !perm) {
        cg_free(sg);
        cg_free(perm);
        cg_bfv_galois_free(gk);
        return cg_error_set(err, CG_ERR_NOMEM, "Galois keys");
    }
    cg_status st = CG_OK;
    for (size_t i = 0; i < count && st == CG_OK; i++) {
        const uint32_t g = elts[i];
        bool dup = false;
        for (size_t j = 0; j < gk->count; j++) dup |= gk->elts[j] == g;
        if (dup || g == 1) continue;
        /* s(X^g) in NTT form is a permutation of s's slots. */
        cg_automorphism_ntt_perm(n, g, perm);
        cg_poly_permute(K, n, perm, sk->s_ntt, sg);
        st = bfv_make_ksk(c, sk, sg, &gk->keys[gk->count], err);
        if (st == CG_OK) gk->elts[gk->count++] = g;
    }
    cg_free(sg);
    cg_free(perm);
    if (st != CG_OK) cg_bfv_galois_free(gk);
    return st;
}

cg_status cg_bfv_keygen_galois(const cg_bfv_ctx *c, const cg_bfv_sk *sk, const int *steps,
                               size_t nsteps, bool column_swap, cg_bfv_galois_keys *gk,
                               cg_error *err)
{
    const size_t total = nsteps + (column_swap ? 1 : 0);
    uint32_t *elts = cg_calloc(total ? total : 1, sizeof *elts);
    if (!elts) {
        *gk = (cg_bfv_galois_keys){0};
        return cg_error_set(err, CG_ERR_NOMEM, "Galois keys");
    }
    for (size_t i = 0; i < total; i++)
        elts[i] = i < nsteps ? cg_bfv_galois_elt(c, steps[i]) : (uint32_t)(2 * c->n - 1);
    cg_status st = cg_bfv_keygen_galois_elts(c, sk, elts, total, gk, err);
    cg_free(elts);
    return st;
}
