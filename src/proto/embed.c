/* The prompt's embedding as a batch lookup (hashed buckets, as in batch
 * PIR). One-hot rows over the whole table cost rows x V x d / N products;
 * here every table row is put in EMBED_HASHES of B buckets by hash
 * functions public to both parties, the client assigns each distinct token
 * of the prompt to one of its buckets (at most one per bucket), and every
 * bucket is queried once with a one-hot over its own rows (all zero when
 * empty), so the server touches each table row EMBED_HASHES times whatever
 * the prompt length:
 *   client: Enc(one-hot of bucket b) for every b -> server
 *   server: bucket b's rows of the table as a matrix, masked (its share
 *           a_b, uniform) and flooded -> client, who gets emb[t_b] - a_b
 * Which bucket holds which position is the client's secret, so the server's
 * shares are brought to the positions by one more product: the client's
 * one-hot rows P (row r picks its token's bucket) times the server's shares
 * A (B x d) as a matrix, y = P A on shares (linear.c), and
 *   client: x_r = (emb[t] - a_b) + y_r^client,   server: x_r = y_r^server.
 * The buckets go in batches (EMBED_BATCH_CTS), one round trip each, so
 * the ciphertexts held at once are bounded whatever the prompt length.
 * The server sees only fresh encryptions (every bucket, the same count
 * whatever the tokens); the client sees its bucket rows and y masked by
 * independent uniform shares. Same values mod 2^l as the one-hot product.
 *
 * The one event that depends on the tokens is an assignment that does not
 * exist (it would end the session, which the server sees). The hashes are
 * keyed permutations of the table drawn from a key the server picks fresh
 * per session after the request (s->embed_key), so for any prompt the
 * probability is bounded over the key: by Hall's theorem no assignment
 * exists only if some j distinct tokens have all their h j bucket choices
 * inside j - 1 buckets, P <= sum_j C(R, j) C(B, j - 1) ((j - 1)(1 + B/V) / B)^(h j);
 * with h = 5 and B = 2 R + 64 that is <= 2^-52 for every R in [8, 1024],
 * <= 2^-42 over the at most 1,024 passes of a session (scripts/embed_bound.py).
 * The assignment is found by augmenting paths, so it fails only then. */
#include <string.h>

#include "proto/proto_internal.h"

#define EMBED_HASHES 5
#define EMBED_NONE UINT32_MAX
/* Ciphertexts (queries and replies) held at once: the buckets go in
 * batches of EMBED_BATCH_CTS / (cin + cout), one round trip each, so a
 * pass's working memory stays ~128 MB per party (size-2, n = 8192, four
 * primes) whatever the prompt length; the same ciphertexts cross the wire. */
#define EMBED_BATCH_CTS 256

static size_t buckets_for(size_t rows) { return 2 * rows + 64; }

/* Every bucket holds EMBED_HASHES x (the table rows x < V with x = b mod B)
 * entries whatever the key (a row may sit twice in one bucket), so the
 * shapes, and the bytes on the wire, are the same for every session. */
static size_t bucket_size_max(size_t V, size_t B) { return EMBED_HASHES * ((V + B - 1) / B); }

/* Bucket b's table rows, ascending: list[off[b] .. off[b + 1]); the bucket
 * of row v under hash k is of[k V + v]. */
typedef struct buckets {
    size_t B, S, V; /* buckets, the largest bucket's size (public), rows */
    uint32_t *off, *list, *of;
} buckets;

static void buckets_free(buckets *bk)
{
    cg_free(bk->off), cg_free(bk->list), cg_free(bk->of);
    *bk = (buckets){0};
}

/* The distinct buckets of row v (a hash repeated counts once). */
static unsigned row_buckets(const buckets *bk, size_t v, size_t out[EMBED_HASHES])
{
    unsigned n = 0;
    for (unsigned k = 0; k < EMBED_HASHES; k++) {
        const size_t b = bk->of[k * bk->V + v];
        bool seen = false;
        for (unsigned i = 0; i < n; i++) seen |= out[i] == b;
        if (!seen) out[n++] = b;
    }
    return n;
}

/* Hash k: a permutation pi of the table rows from the session's key
 * (Fisher-Yates on its PRG stream k), row v in bucket pi(v) mod B. */
static cg_status buckets_build(const uint8_t key[CG_SEED_BYTES], size_t V, size_t B, buckets *bk,
                               cg_error *err)
{
    *bk = (buckets){.B = B, .V = V, .off = cg_calloc(B + 1, sizeof *bk->off),
                    .list = cg_alloc(V * EMBED_HASHES * sizeof *bk->list),
                    .of = cg_alloc(V * EMBED_HASHES * sizeof *bk->of)};
    uint32_t *fill = cg_calloc(B, sizeof *fill);
    if (!bk->off || !bk->list || !bk->of || !fill) {
        cg_free(fill);
        buckets_free(bk);
        return cg_error_set(err, CG_ERR_NOMEM, "embedding buckets");
    }
    for (unsigned k = 0; k < EMBED_HASHES; k++) {
        uint32_t *pi = bk->of + k * V;
        for (size_t v = 0; v < V; v++) pi[v] = (uint32_t)v;
        cg_prg prg;
        cg_prg_init(&prg, key, 0x656d6200u + k); /* "emb", hash k */
        for (size_t i = V; i-- > 1;) {
            const size_t r = (size_t)cg_prg_uniform(&prg, i + 1);
            const uint32_t t = pi[i];
            pi[i] = pi[r], pi[r] = t;
        }
        cg_prg_clear(&prg);
        for (size_t v = 0; v < V; v++) pi[v] %= (uint32_t)B;
    }
    for (size_t i = 0; i < V * EMBED_HASHES; i++) bk->off[bk->of[i] + 1]++;
    for (size_t b = 0; b < B; b++) {
        if (bk->off[b + 1] > bk->S) bk->S = bk->off[b + 1];
        bk->off[b + 1] += bk->off[b];
    }
    /* rows ascending within a bucket (slot_in_bucket searches them) */
    for (size_t v = 0; v < V; v++)
        for (unsigned k = 0; k < EMBED_HASHES; k++) {
            const uint32_t b = bk->of[k * V + v];
            bk->list[bk->off[b] + fill[b]++] = (uint32_t)v;
        }
    cg_free(fill);
    if (bk->S != bucket_size_max(V, B)) {
        buckets_free(bk);
        return cg_error_set(err, CG_ERR_INTERNAL, "embedding buckets: uneven sizes");
    }
    return CG_OK;
}

/* Augmenting path from token v (Kuhn): v takes a free bucket of its own or
 * one whose holder can move on. seen marks buckets visited in this search. */
static bool augment(const buckets *bk, uint32_t v, uint32_t *holder, uint8_t *seen, unsigned depth)
{
    size_t hb[EMBED_HASHES];
    const unsigned n = row_buckets(bk, v, hb);
    for (unsigned i = 0; i < n; i++)
        if (holder[hb[i]] == EMBED_NONE) return holder[hb[i]] = v, true;
    if (depth == 0) return false;
    for (unsigned i = 0; i < n; i++) {
        if (seen[hb[i]]) continue;
        seen[hb[i]] = 1;
        if (augment(bk, holder[hb[i]], holder, seen, depth - 1)) return holder[hb[i]] = v, true;
    }
    return false;
}

/* Client: each distinct token in one of its buckets. Depth up to B finds
 * an assignment whenever one exists (a path visits each bucket once). */
static cg_status place_tokens(const buckets *bk, const uint32_t *tokens, size_t rows, uint32_t *holder,
                              cg_error *err)
{
    for (size_t b = 0; b < bk->B; b++) holder[b] = EMBED_NONE;
    uint8_t *seen = cg_alloc(bk->B);
    if (!seen) return cg_error_set(err, CG_ERR_NOMEM, "embedding");
    size_t hb[EMBED_HASHES];
    cg_status st = CG_OK;
    for (size_t r = 0; st == CG_OK && r < rows; r++) {
        bool placed = false;
        for (unsigned i = 0, n = row_buckets(bk, tokens[r], hb); i < n; i++) placed |= holder[hb[i]] == tokens[r];
        if (placed) continue;
        memset(seen, 0, bk->B);
        if (!augment(bk, tokens[r], holder, seen, (unsigned)bk->B))
            st = cg_error_set(err, CG_ERR_INTERNAL,
                              "embedding: no assignment of the prompt's tokens to buckets (probability "
                              "below 2^-52 per pass)");
    }
    cg_free(seen);
    return st;
}

typedef struct embed_job {
    buckets bk;
    gen_plan p;              /* one bucket's: S inputs, d outputs, one row */
    gen_matrix m;            /* the table's shape and weights (server) */
    const uint32_t *holder;  /* client: token in bucket b, or EMBED_NONE */
    uint64_t *share;         /* B x d: this party's share of each bucket's row */
    size_t b0;               /* the batch's first bucket */
    cg_bfv_ct *ins, *outs;   /* the batch's: its buckets x cin, x cout */
} embed_job;

/* Buckets per batch (public: the plan's shape only). */
static size_t batch_buckets(const gen_plan *p)
{
    const size_t per = p->cin + p->cout, bb = EMBED_BATCH_CTS / per;
    return bb ? bb : 1;
}

/* Row in bucket b of token v (it is there: placed by its hashes). */
static size_t slot_in_bucket(const buckets *bk, size_t b, uint32_t v)
{
    size_t lo = bk->off[b], hi = bk->off[b + 1];
    while (hi - lo > 1) {
        const size_t mid = lo + (hi - lo) / 2;
        if (bk->list[mid] <= v) lo = mid;
        else hi = mid;
    }
    return lo - bk->off[b];
}

static void bucket_onehot(const gen_sess *s, const void *ctx, size_t i, uint64_t *co)
{
    const embed_job *j = ctx;
    const size_t b = j->b0 + i / j->p.cin, a = i % j->p.cin;
    memset(co, 0, s->N * sizeof *co);
    if (j->holder[b] == EMBED_NONE) return;
    const size_t k = slot_in_bucket(&j->bk, b, j->holder[b]);
    if (k / j->p.ni == a) co[gen_in_coeff(&j->p, 0, k % j->p.ni)] = 1;
}

static void take_bucket(const gen_sess *s, void *ctx, size_t i, const uint64_t *share)
{
    embed_job *j = ctx;
    const size_t b = j->b0 + i / j->p.cout, c = i % j->p.cout;
    for (size_t o = 0; o < j->p.no && c * j->p.no + o < s->d; o++)
        j->share[b * s->d + c * j->p.no + o] = share[gen_out_coeff(&j->p, 0, o)];
}

/* The coefficients take_bucket reads: the only c0 coefficients sent. */
static void keep_bucket(const gen_sess *s, const void *ctx, size_t i, uint8_t *used)
{
    const embed_job *j = ctx;
    const size_t c = i % j->p.cout;
    for (size_t o = 0; o < j->p.no && c * j->p.no + o < s->d; o++) used[gen_out_coeff(&j->p, 0, o)] = 1;
}

static cg_status to_ntt_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    embed_job *j = ctx;
    return cg_bfv_to_ntt(s->he, &j->ins[i], err);
}

/* Server: items (bucket b, row block c), each encoding its cin blocks of
 * bucket b's matrix into this thread's window and summing the products. */
typedef struct bucket_run {
    gen_sess *s;
    embed_job *j;
} bucket_run;

static cg_status bucket_item(gen_sess *s, embed_job *j, size_t item, cg_bfv_plain_ntt *pts,
                             const cg_bfv_plain_ntt **wpp, const cg_bfv_ct **inp, int64_t *co,
                             cg_error *err)
{
    const size_t bl = item / j->p.cout, b = j->b0 + bl, c = item % j->p.cout;
    gen_matrix mb = j->m;
    mb.idx = j->bk.list + j->bk.off[b];
    mb.idx_n = j->bk.off[b + 1] - j->bk.off[b];
    for (size_t a = 0; a < j->p.cin; a++) {
        CG_TRY(gen_encode_block(s->he, &mb, &j->p, a, c, co, &pts[a], err));
        wpp[a] = &pts[a];
        inp[a] = &j->ins[bl * j->p.cin + a];
    }
    return cg_bfv_mac_plain(s->he, inp, wpp, j->p.cin, &j->outs[item], err);
}

static void bucket_range(void *ctx, cg_error *errs, size_t begin, size_t end)
{
    bucket_run *r = ctx;
    embed_job *j = r->j;
    const size_t cin = j->p.cin;
    cg_bfv_plain_ntt *pts = cg_calloc(cin, sizeof *pts);
    const cg_bfv_plain_ntt **wpp = cg_calloc(cin, sizeof *wpp);
    const cg_bfv_ct **inp = cg_calloc(cin, sizeof *inp);
    int64_t *co = cg_alloc(r->s->N * sizeof *co);
    cg_status st = pts && wpp && inp && co ? CG_OK : cg_error_set(&errs[begin], CG_ERR_NOMEM, "embedding");
    if (st != CG_OK) errs[begin].code = st;
    for (size_t i = begin; st == CG_OK && i < end; i++) {
        errs[i].code = bucket_item(r->s, j, i, pts, wpp, inp, co, &errs[i]);
        st = errs[i].code;
    }
    for (size_t a = 0; pts && a < cin; a++) cg_bfv_plain_ntt_free(&pts[a]);
    cg_free(pts), cg_free(wpp), cg_free(inp), cg_free(co);
}

/* One batch of nb buckets from j->b0: queries, products, replies. */
static cg_status buckets_exchange(gen_sess *s, embed_job *j, size_t nb, cg_error *err)
{
    const size_t n_in = nb * j->p.cin, n_out = nb * j->p.cout;
    if (s->party == CG_CLIENT) {
        CG_TRY(gen_shares_to_he(s, n_in, bucket_onehot, j, j->ins, err));
        CG_TRY(gen_send_cts(s, j->ins, n_in, err));
        CG_TRY(gen_recv_cts(s, j->outs, n_out, err));
        return gen_he_to_shares(s, n_out, j->outs, take_bucket, j, err);
    }
    if (!j->m.w) return cg_error_set(err, CG_ERR_INTERNAL, "embedding without weights");
    CG_TRY(gen_recv_cts(s, j->ins, n_in, err));
    CG_TRY(gen_parallel(s, n_in, to_ntt_item, j, err));
    bucket_run run = {s, j};
    CG_TRY(gen_parallel_ranges(s, n_out, bucket_range, &run, err));
    CG_TRY(gen_he_to_shares(s, n_out, j->outs, take_bucket, j, err));
    return gen_send_cts_at(s, j->outs, n_out, keep_bucket, j, err);
}

/* Bucket of each row's token among its own buckets (client). */
static size_t bucket_of_row(const embed_job *j, uint32_t v)
{
    size_t hb[EMBED_HASHES];
    const unsigned n = row_buckets(&j->bk, v, hb);
    for (unsigned i = 0; i < n; i++)
        if (j->holder[hb[i]] == v) return hb[i];
    return 0; /* unreachable: place_tokens put every token */
}

/* y = P A on shares, then each party's x (the header's two lines). */
static cg_status to_positions(gen_sess *s, embed_job *j, const uint32_t *tokens, size_t rows,
                              uint64_t *x, cg_error *err)
{
    const size_t B = j->bk.B, d = s->d;
    uint64_t *P = s->party == CG_CLIENT ? cg_calloc(rows * B, sizeof *P) : NULL;
    size_t *from = s->party == CG_CLIENT ? cg_calloc(rows, sizeof *from) : NULL;
    if (s->party == CG_CLIENT && (!P || !from)) {
        cg_free(P), cg_free(from);
        return cg_error_set(err, CG_ERR_NOMEM, "embedding");
    }
    for (size_t r = 0; P && r < rows; r++) {
        from[r] = bucket_of_row(j, tokens[r]);
        P[r * B + from[r]] = 1;
    }
    /* W[o][b] = A[b][o]: the server's bucket shares as a B-input matrix */
    const gen_matrix pm = {.role = GEN_MAT_SESSION, .in = B, .out = d, .stride_out = 1, .stride_in = d,
                           .w64 = s->party == CG_SERVER ? (const int64_t *)j->share : NULL};
    cg_status st = gen_linear_m(s, &pm, rows, P, x, err);
    for (size_t r = 0; st == CG_OK && from && r < rows; r++)
        for (size_t o = 0; o < d; o++) x[r * d + o] = (x[r * d + o] + j->share[from[r] * d + o]) & s->mask;
    cg_free(P), cg_free(from);
    return st;
}

cg_status gen_embed_batch(gen_sess *s, const uint32_t *tokens, size_t rows, uint64_t *x, cg_error *err)
{
    embed_job j = {.m = gen_matrix_of(&s->cfg, s->fm, GEN_MAT_EMBED, 0)};
    CG_TRY(buckets_build(s->embed_key, s->V, buckets_for(rows), &j.bk, err));
    j.m.role = GEN_MAT_SESSION;
    j.m.in = j.bk.S;
    j.p = gen_plan_of(s->N, j.bk.S, s->d);
    const size_t bb = batch_buckets(&j.p), nb = j.bk.B < bb ? j.bk.B : bb;
    const size_t n_in = nb * j.p.cin, n_out = nb * j.p.cout;
    uint32_t *holder = s->party == CG_CLIENT ? cg_alloc(j.bk.B * sizeof *holder) : NULL;
    j.holder = holder;
    j.share = cg_calloc(j.bk.B * s->d, sizeof *j.share);
    j.ins = gen_take_cts(s, n_in);
    j.outs = gen_take_cts(s, n_out);
    cg_status st = j.share && j.ins && j.outs && (holder || s->party == CG_SERVER)
                       ? CG_OK
                       : cg_error_set(err, CG_ERR_NOMEM, "embedding");
    for (size_t r = 0; st == CG_OK && s->party == CG_CLIENT && r < rows; r++)
        if (tokens[r] >= s->V) st = cg_error_set(err, CG_ERR_ARG, "token %u >= vocab %zu", tokens[r], s->V);
    if (st == CG_OK && holder) st = place_tokens(&j.bk, tokens, rows, holder, err);
    for (j.b0 = 0; st == CG_OK && j.b0 < j.bk.B; j.b0 += bb)
        st = buckets_exchange(s, &j, j.bk.B - j.b0 < bb ? j.bk.B - j.b0 : bb, err);
    gen_give_cts(s, j.ins, n_in);
    gen_give_cts(s, j.outs, n_out);
    if (st == CG_OK) st = to_positions(s, &j, tokens, rows, x, err);
    if (j.share) memset(j.share, 0, j.bk.B * s->d * sizeof *j.share);
    cg_free(j.share);
    cg_free(holder);
    buckets_free(&j.bk);
    return st;
}

uint64_t gen_embed_returned_cts(const gen_sess *s, size_t rows)
{
    const gen_matrix m = gen_matrix_of(&s->cfg, NULL, GEN_MAT_EMBED, 0);
    if (rows < GEN_EMBED_BATCH_MIN) return gen_linear_returned(s, &m, rows); /* one-hot rows (forward.c) */
    const size_t B = buckets_for(rows); /* the largest bucket's size sets the plan */
    const gen_plan p = gen_plan_of(s->N, bucket_size_max(s->V, B), s->d);
    const gen_matrix pm = {.in = B, .out = s->d};
    const gen_plan q = gen_plan_rows(s->N, pm.in, pm.out, rows, s->req.prefill_rows);
    return (uint64_t)B * p.cout + (uint64_t)((rows + q.mi - 1) / q.mi) * q.cout;
}

uint64_t gen_embed_working_cts(const gen_sess *s, size_t rows)
{
    if (rows < GEN_EMBED_BATCH_MIN) return 0;
    const size_t B = buckets_for(rows);
    const gen_plan p = gen_plan_of(s->N, bucket_size_max(s->V, B), s->d);
    const gen_plan q = gen_plan_rows(s->N, B, s->d, rows, s->req.prefill_rows);
    /* one batch of buckets' queries and replies, then the product to the
     * positions */
    const size_t bb = batch_buckets(&p);
    const uint64_t queries = (uint64_t)(B < bb ? B : bb) * (p.cin + p.cout);
    const uint64_t place = (uint64_t)((rows + q.mi - 1) / q.mi) * (q.cin + q.cout);
    return queries > place ? queries : place;
}
