/* Internal layout of the BFV context (shared by the bfv modules only). */
#ifndef CG_BFV_INTERNAL_H
#define CG_BFV_INTERNAL_H
#include <pthread.h>

#include "cryptogen/bfv.h"

#define CG_BFV_MAX_R 12 /* auxiliary primes for ct x ct */
#define CG_BFV_MAX_ALL (CG_BFV_MAX_Q + CG_BFV_MAX_P)

typedef struct bfv_level {
    cg_rns_base base;        /* q_0 .. q_{l-1} */
    uint64_t delta[CG_BFV_MAX_Q]; /* floor(Q_l / t) mod q_i */
    uint64_t q_mod_t;        /* Q_l mod t */
    double log2q;
} bfv_level;

struct cg_bfv_ctx {
    size_t n;
    unsigned logn;
    uint64_t t;
    cg_modulus tmod;
    bool batching;
    cg_ntt_table t_ntt;  /* when batching */
    uint32_t *slot_map;  /* slot index -> NTT position (batching) */
    size_t nq, np;
    cg_modulus mods[CG_BFV_MAX_ALL]; /* q primes, then p primes */
    cg_ntt_table ntt[CG_BFV_MAX_ALL];
    bfv_level level[CG_BFV_MAX_Q + 1]; /* index = number of primes */
    /* key switching */
    size_t dnum, alpha;
    cg_rns_base digit_base[CG_BFV_MAX_Q];
    cg_rns_base digit_comp[CG_BFV_MAX_Q];   /* QP primes outside the digit */
    cg_base_conv modup[CG_BFV_MAX_Q];
    size_t comp_idx[CG_BFV_MAX_Q][CG_BFV_MAX_ALL]; /* prime index of comp row */
    cg_rns_base pbase, qbase_top;
    cg_base_conv moddown;           /* P -> Q */
    uint64_t p_inv_mod_q[CG_BFV_MAX_Q];
    uint64_t p_mod_q[CG_BFV_MAX_Q];
    /* ct x ct: auxiliary base R */
    size_t nr;
    cg_modulus rmods[CG_BFV_MAX_R];
    cg_ntt_table rntt[CG_BFV_MAX_R];
    cg_rns_base rbase;
    cg_base_conv q_to_r, r_to_q;
    uint64_t q_mod_r[CG_BFV_MAX_R];     /* Q mod r_j */
    uint64_t r_mod_q[CG_BFV_MAX_Q];     /* R mod q_i */
    uint64_t mul_coef_q[CG_BFV_MAX_R][CG_BFV_MAX_Q]; /* -rem_i * q_i^-1 mod r_j */
    long double mul_frac[CG_BFV_MAX_Q];               /* rem_i / q_i */
    uint64_t mul_coef_r[CG_BFV_MAX_R];                /* t * Q^-1 mod r_j */
    uint8_t fingerprint[32];
    int nthreads;
    double sigma;
    struct bfv_pool *pool; /* workspaces (bfv_ws.c) */
    bool avx2;             /* row add/sub back-end, picked once */
    bool fma;              /* pointwise products in AVX2 + FMA doubles */
    bool ifma;             /* products and multiply-adds in AVX-512 IFMA */
};

/* Pointwise products through the context's back-end (any moduli list). */
static inline void bfv_poly_mul(const cg_bfv_ctx *c, const cg_modulus *mods, size_t k,
                                const uint64_t *a, const uint64_t *b, uint64_t *out)
{
    if (c->ifma)
        cg_poly_mul_ifma(mods, k, c->n, a, b, out);
    else if (c->fma)
        cg_poly_mul_avx2(mods, k, c->n, a, b, out);
    else
        cg_poly_mul(mods, k, c->n, a, b, out);
}

/* Row additions and subtractions through the context's back-end (any
 * moduli list; bfv_poly_add / bfv_poly_sub: the context's own primes). */
static inline void bfv_rows_add(const cg_bfv_ctx *c, const cg_modulus *mods, size_t k,
                                const uint64_t *a, const uint64_t *b, uint64_t *out)
{
    if (c->avx2)
        cg_poly_add_avx2(mods, k, c->n, a, b, out);
    else
        cg_poly_add(mods, k, c->n, a, b, out);
}
static inline void bfv_rows_sub(const cg_bfv_ctx *c, const cg_modulus *mods, size_t k,
                                const uint64_t *a, const uint64_t *b, uint64_t *out)
{
    if (c->avx2)
        cg_poly_sub_avx2(mods, k, c->n, a, b, out);
    else
        cg_poly_sub(mods, k, c->n, a, b, out);
}
static inline void bfv_poly_add(const cg_bfv_ctx *c, size_t k, const uint64_t *a,
                                const uint64_t *b, uint64_t *out)
{
    bfv_rows_add(c, c->mods, k, a, b, out);
}
static inline void bfv_poly_sub(const cg_bfv_ctx *c, size_t k, const uint64_t *a,
                                const uint64_t *b, uint64_t *out)
{
    bfv_rows_sub(c, c->mods, k, a, b, out);
}

/* ---- Workspaces (bfv_ws.c) ------------------------------------------------
 * A temporary of `words` words from the context's pool (a fresh allocation
 * only while the pool warms up or when every slot is busy); NULL when out of
 * memory. bfv_ws_put gives it back, wiping it first if it held a secret. */
typedef struct bfv_pool bfv_pool;
typedef struct bfv_ws {
    uint64_t *p;
    size_t words, slot;
} bfv_ws;
cg_status bfv_pool_new(bfv_pool **out, cg_error *err);
void bfv_pool_free(bfv_pool *p);
uint64_t *bfv_ws_get(const cg_bfv_ctx *c, size_t words, bfv_ws *ws);
void bfv_ws_put(const cg_bfv_ctx *c, bfv_ws *ws, bool secret);
/* Shape ct (size, level) keeping its buffer when it is large enough; the
 * contents are left as they were (callers overwrite them), flags reset. ct
 * must be zeroed or a valid ciphertext. */
cg_status bfv_ct_reserve(const cg_bfv_ctx *c, cg_bfv_ct *ct, size_t size, size_t level,
                         cg_error *err);

/* Centred lift of plaintext coefficients mod t into `level` rows. */
void bfv_lift_plain(const cg_bfv_ctx *ctx, const uint64_t *m, size_t level, uint64_t *out);
/* out_rows += Delta * m (rows of the level, coefficient form), precise
 * rounding of Q*m/t. */
void bfv_add_scaled_plain(const cg_bfv_ctx *ctx, const uint64_t *m, size_t level, uint64_t *rows,
                          bool subtract);
/* The same with Delta = round(Q / (t 2^e)) (packed encryption, e >= 1,
 * t 2^e < 2^63). */
void bfv_add_scaled_plain_e(const cg_bfv_ctx *ctx, const uint64_t *m, size_t level, uint64_t *rows,
                            unsigned e);
/* Key switching of one coefficient-form polynomial c (top level) with key
 * ksk: out0, out1 (top-level rows, NTT form) such that
 * out0 + out1 * s ~ c * s'. */
cg_status bfv_keyswitch(const cg_bfv_ctx *ctx, const uint64_t *c, const cg_bfv_ksk *ksk,
                        uint64_t *out0, uint64_t *out1, cg_error *err);
/* Decompose-and-raise once (for hoisting): digits (dnum * nqp rows, NTT). */
cg_status bfv_ks_decompose(const cg_bfv_ctx *ctx, const uint64_t *c, uint64_t *digits,
                           cg_error *err);
cg_status bfv_ks_apply(const cg_bfv_ctx *ctx, const uint64_t *digits, const uint32_t *perm,
                       const cg_bfv_ksk *ksk, uint64_t *out0, uint64_t *out1, cg_error *err);
/* One automorphism with its key: out = ks(sigma_g(ct)), NTT form, top
 * level, size 2; out may be ct. */
cg_status bfv_apply_galois(const cg_bfv_ctx *ctx, const cg_bfv_ksk *key, uint32_t g,
                           const cg_bfv_ct *ct, cg_bfv_ct *out, cg_error *err);
/* The key for element g in gk, or NULL. */
const cg_bfv_ksk *bfv_find_key(const cg_bfv_galois_keys *gk, uint32_t g);
/* Key-switching key from s' (ntt rows over QP) to s. */
cg_status bfv_make_ksk(const cg_bfv_ctx *ctx, const cg_bfv_sk *sk, const uint64_t *s_prime_ntt,
                       cg_bfv_ksk *ksk, cg_error *err);
double bfv_log2_add(double a, double b);
/* Serialized objects' header (magic, version, type, fingerprint), shared by
 * bfv_serialize.c and bfv_extract.c. */
void bfv_put_header(const cg_bfv_ctx *c, cg_buf *b, cg_bfv_obj type);
cg_status bfv_get_header(const cg_bfv_ctx *c, cg_reader *r, cg_bfv_obj type, cg_error *err);
/* rows (c0 then c1, top level, coefficient form) = Enc_pk(0). */
cg_status bfv_encrypt_zero_pk(const cg_bfv_ctx *c, const cg_bfv_pk *pk, uint64_t *rows,
                              cg_error *err);
/* rows (2 x top level, NTT form) -> coefficient form plus Enc_pk(0). */
cg_status bfv_add_encrypt_zero_pk_ntt(const cg_bfv_ctx *c, const cg_bfv_pk *pk, uint64_t *rows,
                                      cg_error *err);
/* Noise added by one key switch (log2 bound of ||t * error||). */
double bfv_keyswitch_noise_log2(const cg_bfv_ctx *ctx);
double bfv_fresh_noise_log2(const cg_bfv_ctx *ctx, bool public_key);
/* mask_and_flood's samplers (bfv_share.c; exposed for tests): rows += the
 * flood, three uniforms on [-2^bits, 2^bits) summed, bits <= 186, moduli
 * < 2^61; out = n values uniform on [0, t). */
void bfv_sample_flood(cg_prg *prg, const cg_modulus *mods, size_t k, size_t n, unsigned bits,
                      uint64_t *out);
void bfv_sample_mask(cg_prg *prg, uint64_t t, size_t n, uint64_t *out);
/* The last steps of an NTT-form plaintext: d (level rows of need words,
 * lifted) to NTT form, installed in out (out's old buffer freed when d is
 * new), with its level and the log2 of its largest centred value. */
void bfv_plain_ntt_finish(const cg_bfv_ctx *c, cg_bfv_plain_ntt *out, uint64_t *d, size_t need,
                          size_t level, uint64_t maxabs);

/* A threaded job keeps its first failure: a worker that fails records its
 * status and message unless another worker already did. */
static inline void bfv_job_fail(pthread_mutex_t *lock, cg_status *first, cg_error *first_err,
                                cg_status st, const cg_error *err)
{
    pthread_mutex_lock(lock);
    if (*first == CG_OK) {
        *first = st;
        *first_err = *err;
    }
    pthread_mutex_unlock(lock);
}

#endif
