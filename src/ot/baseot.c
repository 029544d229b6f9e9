/* Chou-Orlandi "simplest OT" over ristretto255, 128 at once (semi-honest).
 *
 *   sender:   a random, A = aG                      --- A --->
 *   receiver: b_j random, B_j = b_j G + c_j A       <-- B_j ---
 *   sender:   k_j^0 = H(j, A, B_j, a B_j), k_j^1 = H(j, A, B_j, a (B_j - A))
 *   receiver: k_j^{c_j} = H(j, A, B_j, b_j A)
 *
 * H is BLAKE2b over a domain tag, the index and the transcript points. */
#include "ot/ot_internal.h"

#include <sodium.h>
#include <string.h>

#define PT crypto_core_ristretto255_BYTES
#define SC crypto_core_ristretto255_SCALARBYTES

/* A uniform scalar from the project's CSPRNG: 64 random bytes reduced mod L
 * (bias below 2^-250). */
static void random_scalar(uint8_t out[SC])
{
    uint8_t wide[crypto_core_ristretto255_NONREDUCEDSCALARBYTES];
    cg_random_bytes(wide, sizeof wide);
    crypto_core_ristretto255_scalar_reduce(out, wide);
    sodium_memzero(wide, sizeof wide);
}

static void derive_key(uint8_t out[16], uint32_t j, const uint8_t A[PT], const uint8_t B[PT],
                       const uint8_t P[PT])
{
    static const uint8_t tag[] = "cryptogen base OT v1";
    uint8_t idx[4] = {(uint8_t)j, (uint8_t)(j >> 8), (uint8_t)(j >> 16), (uint8_t)(j >> 24)};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, tag, sizeof tag);
    crypto_generichash_update(&st, idx, sizeof idx);
    crypto_generichash_update(&st, A, PT);
    crypto_generichash_update(&st, B, PT);
    crypto_generichash_update(&st, P, PT);
    crypto_generichash_final(&st, out, 16);
    sodium_memzero(&st, sizeof st);
}

cg_status ot_baseot_send(cg_channel *ch, uint8_t keys[OT_BASE_OTS][2][16], cg_error *err)
{
    uint8_t a[SC], A[PT], aA[PT];
    uint8_t *B = cg_alloc((size_t)OT_BASE_OTS * PT);
    if (!B) return cg_error_set(err, CG_ERR_NOMEM, "base OT: out of memory");
    cg_status st = CG_OK;
    random_scalar(a);
    if (crypto_scalarmult_ristretto255_base(A, a) != 0 || crypto_scalarmult_ristretto255(aA, a, A) != 0) {
        st = cg_error_set(err, CG_ERR_CRYPTO, "base OT: scalar multiplication failed");
        goto out;
    }
    if ((st = cg_chan_send(ch, A, PT, err)) != CG_OK) goto out;
    if ((st = cg_chan_recv(ch, B, (size_t)OT_BASE_OTS * PT, err)) != CG_OK) goto out;
    for (uint32_t j = 0; j < OT_BASE_OTS; j++) {
        const uint8_t *Bj = B + (size_t)j * PT;
        uint8_t P0[PT], P1[PT];
        if (!crypto_core_ristretto255_is_valid_point(Bj) || crypto_scalarmult_ristretto255(P0, a, Bj) != 0) {
            st = cg_error_set(err, CG_ERR_FORMAT, "base OT: invalid point from the peer (index %u)", j);
            goto out;
        }
        crypto_core_ristretto255_sub(P1, P0, aA); /* a(B - A) */
        derive_key(keys[j][0], j, A, Bj, P0);
        derive_key(keys[j][1], j, A, Bj, P1);
        sodium_memzero(P0, PT);
        sodium_memzero(P1, PT);
    }
out:
    sodium_memzero(a, sizeof a);
    sodium_memzero(aA, sizeof aA);
    cg_free(B);
    return st;
}

cg_status ot_baseot_recv(cg_channel *ch, const uint8_t choice[OT_BASE_OTS / 8],
                         uint8_t keys[OT_BASE_OTS][16], cg_error *err)
{
    uint8_t A[PT];
    CG_TRY(cg_chan_recv(ch, A, PT, err));
    if (!crypto_core_ristretto255_is_valid_point(A))
        return cg_error_set(err, CG_ERR_FORMAT, "base OT: invalid point from the peer");
    uint8_t *B = cg_alloc((size_t)OT_BASE_OTS * PT);
    uint8_t *b = cg_alloc((size_t)OT_BASE_OTS * SC);
    if (!B || !b) {
        cg_free(B);
        cg_free(b);
        return cg_error_set(err, CG_ERR_NOMEM, "base OT: out of memory");
    }
    cg_status st = CG_OK;
    for (uint32_t j = 0; j < OT_BASE_OTS; j++) {
        uint8_t *bj = b + (size_t)j * SC, *Bj = B + (size_t)j * PT;
        uint8_t bG[PT], bGA[PT];
        random_scalar(bj);
        if (crypto_scalarmult_ristretto255_base(bG, bj) != 0) {
            st = cg_error_set(err, CG_ERR_CRYPTO, "base OT: scalar multiplication failed");
            goto out;
        }
        crypto_core_ristretto255_add(bGA, bG, A);
        /* Constant-time select of bG or bG + A by the choice bit. */
        uint8_t mask = (uint8_t)(0u - ((choice[j / 8] >> (j % 8)) & 1u));
        for (size_t t = 0; t < PT; t++) Bj[t] = (uint8_t)((bG[t] & (uint8_t)~mask) | (bGA[t] & mask));
    }
    if ((st = cg_chan_send(ch, B, (size_t)OT_BASE_OTS * PT, err)) != CG_OK) goto out;
    if ((st = cg_chan_flush(ch, err)) != CG_OK) goto out;
    for (uint32_t j = 0; j < OT_BASE_OTS; j++) {
        uint8_t P[PT];
        if (crypto_scalarmult_ristretto255(P, b + (size_t)j * SC, A) != 0) {
            st = cg_error_set(err, CG_ERR_FORMAT, "base OT: degenerate point from the peer");
            goto out;
        }
        derive_key(keys[j], j, A, B + (size_t)j * PT, P);
        sodium_memzero(P, PT);
    }
out:
    cg_free(b);
    cg_free(B);
    return st;
}
