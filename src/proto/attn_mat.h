/* Split attention for several new rows at once (a prefill chunk, the
 * baseline's re-run): the cross terms of Q.K^T and P.V as coefficient-
 * encoded matrix products (Cheetah style), several queries per ciphertext.
 *
 * Rows are taken in groups of mw, keys (positions 0 .. cols-1) in groups of
 * kw, with mw kw d_head <= n. For a row group g and a key group k:
 *   Q group   q_r[i]   at x^(r kw dh + dh - 1 - i)      (r < mw, i < dh)
 *   K group   k_c[i]   at x^(c dh + i)                  (c < kw)
 *   score     q_r.k_c  at x^(r kw dh + c dh + dh - 1)
 *   P block   p_r[c]   at x^(r kw dh + kw - 1 - c)
 *   V group   v_c[i]   at x^(i kw + c)
 *   output    o_r[i]   at x^(r kw dh + i kw + kw - 1)   (summed over k)
 * A read coefficient collects exactly its dot product (the same argument as
 * kv_cache.h's: other index pairs differ by a multiple of the stride that no
 * in-range difference reaches, and the negacyclic wrap only reaches
 * coefficients below the first one read).
 *
 * Both cross terms use these layouts: Enc(x_c group) * pt(y_s group) +
 * Enc(y_c group) * pt(x_s group), so the client sends its K and V shares
 * again in group layout (it keeps them, kv_split.h) and one returned
 * ciphertext holds mw x kw scores, or mw whole output rows. Causal masking:
 * only the (g, k) pairs whose keys start at or before the group's last row
 * are computed, and probabilities past a row's length are laid out as zero. */
#ifndef CG_PROTO_ATTN_MAT_H
#define CG_PROTO_ATTN_MAT_H

#include "proto/proto_internal.h"

typedef struct mat_plan {
    size_t mw, kw, ng, nk;
    size_t n_pairs;     /* causal (g, k) pairs, per head */
    size_t *pair_g, *pair_k;
    size_t *g_first;    /* per g: its first pair (pairs are in (g, k) order) */
} mat_plan;

/* The data of one attention pass (attention.c's arrays). */
typedef struct mat_io {
    size_t layer, pos0, rows, cols;
    const uint64_t *qkv;    /* rows x 3d: this party's q, k, v shares */
    const size_t *row_len;  /* per (row, head) */
    uint64_t *sc, *pr;      /* (row, head) x cols */
    uint64_t *o;            /* rows x d */
} mat_io;

/* The row count per ciphertext mw that returns the fewest ciphertexts for
 * these rows, if that is fewer than the one-row-per-ciphertext path's
 * (`row_path_cts` returned ciphertexts per head), so the session's flood
 * budget (counted for that path) still covers it. false: use that path. */
bool mat_plan_init(const gen_sess *s, size_t pos0, size_t rows, size_t row_path_cts, mat_plan *pl);
void mat_plan_free(mat_plan *pl);
/* Returned ciphertexts per head. */
size_t mat_returned_per_head(const mat_plan *pl);

/* The cross terms into io->sc (scores; positions below each row's length)
 * and io->o (outputs): both parties, the client's and the server's halves
 * by s->party. The local terms are the caller's (kv_split_local_*). */
cg_status mat_scores(gen_sess *s, const mat_io *io, const mat_plan *pl, cg_error *err);
cg_status mat_values(gen_sess *s, const mat_io *io, const mat_plan *pl, cg_error *err);

#endif
