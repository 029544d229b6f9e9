/* Split attention for several rows per ciphertext (attn_mat.h). */
#include <string.h>

#include "proto/attn_mat.h"

static size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

/* The last position of row group g (the causal bound of its keys). */
static size_t group_last(size_t pos0, size_t rows, size_t mw, size_t g)
{
    const size_t end = (g + 1) * mw < rows ? (g + 1) * mw : rows;
    return pos0 + end - 1;
}

static size_t pairs_of(size_t pos0, size_t rows, size_t mw, size_t kw, size_t nk, size_t g)
{
    const size_t k = group_last(pos0, rows, mw, g) / kw + 1;
    return k < nk ? k : nk;
}

bool mat_plan_init(const gen_sess *s, size_t pos0, size_t rows, size_t row_path_cts, mat_plan *pl)
{
    memset(pl, 0, sizeof *pl);
    /* groups of rows and of keys at most a cache block each (B = n / d_head
     * unless a smaller block is asked for, as the tests do to get many
     * groups) */
    const size_t cap = s->N / s->dh, B = s->kv.block, cols = pos0 + rows;
    size_t best = row_path_cts, best_mw = 0;
    for (size_t mw = 1; rows > 1 && mw <= rows && mw <= cap && mw <= B; mw++) {
        const size_t kw = cap / mw < B ? cap / mw : B, ng = div_up(rows, mw), nk = div_up(cols, kw);
        size_t n = ng;
        for (size_t g = 0; g < ng; g++) n += pairs_of(pos0, rows, mw, kw, nk, g);
        if (n <= best && (n < best || best_mw)) best = n, best_mw = mw;
    }
    if (!best_mw) return false;
    pl->mw = best_mw;
    pl->kw = cap / best_mw < B ? cap / best_mw : B;
    pl->ng = div_up(rows, pl->mw);
    pl->nk = div_up(cols, pl->kw);
    for (size_t g = 0; g < pl->ng; g++) pl->n_pairs += pairs_of(pos0, rows, pl->mw, pl->kw, pl->nk, g);
    pl->pair_g = cg_alloc(pl->n_pairs * sizeof *pl->pair_g);
    pl->pair_k = cg_alloc(pl->n_pairs * sizeof *pl->pair_k);
    pl->g_first = cg_alloc((pl->ng + 1) * sizeof *pl->g_first);
    if (!pl->pair_g || !pl->pair_k || !pl->g_first) {
        mat_plan_free(pl);
        return false; /* the row path needs no such room */
    }
    size_t p = 0;
    for (size_t g = 0; g < pl->ng; g++) {
        pl->g_first[g] = p;
        for (size_t k = 0; k < pairs_of(pos0, rows, pl->mw, pl->kw, pl->nk, g); k++, p++)
            pl->pair_g[p] = g, pl->pair_k[p] = k;
    }
    pl->g_first[pl->ng] = p;
    return true;
}

void mat_plan_free(mat_plan *pl)
{
    cg_free(pl->pair_g);
    cg_free(pl->pair_k);
    cg_free(pl->g_first);
    memset(pl, 0, sizeof *pl);
}

size_t mat_returned_per_head(const mat_plan *pl) { return pl->n_pairs + pl->ng; }

/* ---- Layouts (the same for the client's encryptions and the server's
 * plaintexts: each party lays out its own shares) ------------------------ */

typedef struct mat_job {
    const mat_io *io;
    const mat_plan *pl;
    bool values;
    cg_bfv_ct *ins, *outs;
    cg_bfv_plain_ntt *pts;
    size_t n_in, n_out;
} mat_job;

static const uint64_t *share_at(const gen_sess *s, kv_kind kind, size_t layer, size_t head, size_t pos)
{
    const uint64_t *b = kv_shares_block(&s->shares, kind, layer, head, kv_block_of(&s->kv, pos));
    return b ? b + (pos % s->kv.block) * s->dh : NULL;
}

/* Key group k of head h (kind KV_KEY: the K layout, KV_VALUE: the V one). */
static void group_layout(const gen_sess *s, const mat_job *j, kv_kind kind, size_t h, size_t k,
                         uint64_t *co)
{
    const size_t kw = j->pl->kw, dh = s->dh;
    for (size_t c = 0; c < kw && k * kw + c < j->io->cols; c++) {
        const uint64_t *x = share_at(s, kind, j->io->layer, h, k * kw + c);
        for (size_t i = 0; x && i < dh; i++) co[kind == KV_KEY ? c * dh + i : i * kw + c] = x[i];
    }
}

/* Inputs: scores, Q groups (h ng + g) then K groups (h nk + k); values,
 * P blocks (h n_pairs + pair) then V groups (h nk + k). */
static void input_layout(const gen_sess *s, const void *ctx, size_t i, uint64_t *co)
{
    const mat_job *j = ctx;
    const mat_plan *pl = j->pl;
    const mat_io *io = j->io;
    const size_t H = s->H, dh = s->dh, mw = pl->mw, kw = pl->kw;
    memset(co, 0, s->N * sizeof *co);
    const size_t first = H * (j->values ? pl->n_pairs : pl->ng);
    if (i >= first) {
        group_layout(s, j, j->values ? KV_VALUE : KV_KEY, (i - first) / pl->nk, (i - first) % pl->nk, co);
        return;
    }
    if (!j->values) {
        const size_t h = i / pl->ng, g = i % pl->ng;
        for (size_t r = 0; r < mw && g * mw + r < io->rows; r++) {
            const uint64_t *q = io->qkv + (g * mw + r) * 3 * s->d + h * dh;
            for (size_t x = 0; x < dh; x++) co[r * kw * dh + dh - 1 - x] = q[x];
        }
        return;
    }
    const size_t h = i / pl->n_pairs, p = i % pl->n_pairs, g = pl->pair_g[p], k = pl->pair_k[p];
    for (size_t r = 0; r < mw && g * mw + r < io->rows; r++) {
        const size_t rh = (g * mw + r) * H + h, len = io->row_len[rh];
        const uint64_t *pr = io->pr + rh * io->cols;
        for (size_t c = 0; c < kw && k * kw + c < len; c++) co[r * kw * dh + kw - 1 - c] = pr[k * kw + c];
    }
}

/* Outputs: scores, (h n_pairs + pair); values, (h ng + g). */
static void take_output(const gen_sess *s, void *ctx, size_t i, const uint64_t *share)
{
    const mat_job *j = ctx;
    const mat_plan *pl = j->pl;
    const mat_io *io = j->io;
    const size_t H = s->H, dh = s->dh, mw = pl->mw, kw = pl->kw;
    if (j->values) {
        const size_t h = i / pl->ng, g = i % pl->ng;
        for (size_t r = 0; r < mw && g * mw + r < io->rows; r++)
            for (size_t x = 0; x < dh; x++)
                io->o[(g * mw + r) * s->d + h * dh + x] = share[r * kw * dh + x * kw + kw - 1];
        return;
    }
    const size_t h = i / pl->n_pairs, p = i % pl->n_pairs, g = pl->pair_g[p], k = pl->pair_k[p];
    for (size_t r = 0; r < mw && g * mw + r < io->rows; r++) {
        const size_t rh = (g * mw + r) * H + h, len = io->row_len[rh];
        for (size_t c = 0; c < kw && k * kw + c < len; c++)
            io->sc[rh * io->cols + k * kw + c] = share[r * kw * dh + c * dh + dh - 1];
    }
}

/* The coefficients take_output reads (the server sends c0 only there). */
static void keep_output(const gen_sess *s, const void *ctx, size_t i, uint8_t *used)
{
    const mat_job *j = ctx;
    const mat_plan *pl = j->pl;
    const mat_io *io = j->io;
    const size_t dh = s->dh, mw = pl->mw, kw = pl->kw;
    if (j->values) {
        const size_t g = i % pl->ng;
        for (size_t r = 0; r < mw && g * mw + r < io->rows; r++)
            for (size_t x = 0; x < dh; x++) used[r * kw * dh + x * kw + kw - 1] = 1;
        return;
    }
    const size_t h = i / pl->n_pairs, p = i % pl->n_pairs, g = pl->pair_g[p], k = pl->pair_k[p];
    for (size_t r = 0; r < mw && g * mw + r < io->rows; r++) {
        const size_t len = io->row_len[(g * mw + r) * s->H + h];
        for (size_t c = 0; c < kw && k * kw + c < len; c++) used[r * kw * dh + c * dh + dh - 1] = 1;
    }
}

/* ---- Server ------------------------------------------------------------------- */

/* Item i: the client's input to NTT form and the server's own layout as a
 * plaintext, at the same index. */
static cg_status prepare_item(gen_sess *s, void *ctx, size_t i, kv_scratch *sc, cg_error *err)
{
    mat_job *j = ctx;
    CG_TRY(cg_bfv_to_ntt(s->he, &j->ins[i], err));
    input_layout(s, j, i, sc->co);
    return kv_split_encode(s->he, s->l, sc->co, &sc->pt, &j->pts[i], err);
}

/* Scores, item h n_pairs + pair: Enc(Q_c g) pt(K_s k) + Enc(K_c k) pt(Q_s g). */
static cg_status score_item(gen_sess *s, void *ctx, size_t i, kv_scratch *sc, cg_error *err)
{
    mat_job *j = ctx;
    const mat_plan *pl = j->pl;
    const size_t h = i / pl->n_pairs, p = i % pl->n_pairs;
    const size_t qi = h * pl->ng + pl->pair_g[p], ki = s->H * pl->ng + h * pl->nk + pl->pair_k[p];
    sc->cts[0] = &j->ins[qi], sc->pts[0] = &j->pts[ki];
    sc->cts[1] = &j->ins[ki], sc->pts[1] = &j->pts[qi];
    return cg_bfv_mac_plain(s->he, sc->cts, sc->pts, 2, &j->outs[i], err);
}

/* Values, item h ng + g: the sum over its pairs of Enc(P_c) pt(V_s k) +
 * Enc(V_c k) pt(P_s), one reduction. */
static cg_status value_item(gen_sess *s, void *ctx, size_t i, kv_scratch *sc, cg_error *err)
{
    mat_job *j = ctx;
    const mat_plan *pl = j->pl;
    const size_t h = i / pl->ng, g = i % pl->ng, n = pl->g_first[g + 1] - pl->g_first[g];
    if (n > sc->max) return cg_error_set(err, CG_ERR_INTERNAL, "split values: %zu pairs", n);
    for (size_t t = 0; t < n; t++) {
        const size_t p = pl->g_first[g] + t;
        const size_t pi = h * pl->n_pairs + p, vi = s->H * pl->n_pairs + h * pl->nk + pl->pair_k[p];
        sc->cts[2 * t] = &j->ins[pi], sc->pts[2 * t] = &j->pts[vi];
        sc->cts[2 * t + 1] = &j->ins[vi], sc->pts[2 * t + 1] = &j->pts[pi];
    }
    return cg_bfv_mac_plain(s->he, sc->cts, sc->pts, 2 * n, &j->outs[i], err);
}

static cg_status run(gen_sess *s, mat_job *j, cg_error *err)
{
    cg_status st;
    if (s->party == CG_CLIENT) {
        st = gen_shares_to_he(s, j->n_in, input_layout, j, j->ins, err);
        if (st == CG_OK) st = gen_send_cts(s, j->ins, j->n_in, err);
        if (st == CG_OK) st = gen_recv_cts(s, j->outs, j->n_out, err);
        if (st == CG_OK) st = gen_he_to_shares(s, j->n_out, j->outs, take_output, j, err);
        return st;
    }
    j->pts = cg_calloc(j->n_in, sizeof *j->pts);
    st = j->pts ? gen_recv_cts(s, j->ins, j->n_in, err) : cg_error_set(err, CG_ERR_NOMEM, "split attention");
    if (st == CG_OK) st = gen_parallel_kv(s, j->n_in, j->pl->nk, prepare_item, j, err);
    if (st == CG_OK)
        st = gen_parallel_kv(s, j->n_out, j->pl->nk, j->values ? value_item : score_item, j, err);
    for (size_t i = 0; j->pts && i < j->n_in; i++) cg_bfv_plain_ntt_free(&j->pts[i]); /* wipes */
    cg_free(j->pts);
    if (st == CG_OK) st = gen_he_to_shares_at(s, j->n_out, j->outs, keep_output, take_output, j, err);
    if (st == CG_OK) st = gen_send_cts_at(s, j->outs, j->n_out, keep_output, j, err);
    return st;
}

static cg_status mat_pass(gen_sess *s, const mat_io *io, const mat_plan *pl, bool values, cg_error *err)
{
    const size_t H = s->H;
    mat_job j = {.io = io, .pl = pl, .values = values};
    j.n_in = H * ((values ? pl->n_pairs : pl->ng) + pl->nk);
    j.n_out = H * (values ? pl->ng : pl->n_pairs);
    j.ins = gen_take_cts(s, j.n_in);
    j.outs = gen_take_cts(s, j.n_out);
    cg_status st = j.ins && j.outs ? run(s, &j, err) : cg_error_set(err, CG_ERR_NOMEM, "split attention");
    gen_give_cts(s, j.ins, j.n_in);
    gen_give_cts(s, j.outs, j.n_out);
    return st;
}

cg_status mat_scores(gen_sess *s, const mat_io *io, const mat_plan *pl, cg_error *err)
{
    return mat_pass(s, io, pl, false, err);
}

cg_status mat_values(gen_sess *s, const mat_io *io, const mat_plan *pl, cg_error *err)
{
    return mat_pass(s, io, pl, true, err);
}
