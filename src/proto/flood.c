/* What a session returns and holds, from public facts only (the request and
 * the model's shapes), for both parties:
 *   - the ciphertexts the server returns over the whole session, and from
 *     them the statistical bits of the noise flooding: 40 + ceil(log2(m)/2)
 *     for m returned coefficients (the argument is in docs/PROTOCOL.md);
 *   - the largest working memory of one pass (attention's ciphertexts and
 *     shares, a linear layer's ciphertexts, the activations), counted in the
 *     session's memory budget beside the cache.
 * Both mirror the loops of session.c (run_steps), attention.c (attn_new)
 * and linear.c: a change there must be made here too. */
#include <math.h>

#include "proto/kv_pack.h"

/* Returned by one linear layer over `rows` rows: exactly the plan
 * gen_linear_m uses (packed or dense decode plans, prefill's several-rows
 * plans; rows x gen_plan_of's count is not an upper bound for the latter). */
static uint64_t returned_by(const gen_sess *s, gen_matrix_role role, size_t rows)
{
    const gen_matrix m = gen_matrix_of(&s->cfg, NULL, role, 0);
    return gen_linear_returned(s, &m, rows);
}

/* Returned by one attention call: scores, outputs, and (ctct) every
 * refresh that could be due (an upper bound). Split attention returns its
 * cross terms in exactly the score and output ciphertexts, and refreshes
 * nothing. */
static uint64_t attention_cts(const gen_sess *s, size_t pos0, size_t rows)
{
    uint64_t n = (uint64_t)rows * s->H; /* outputs */
    for (size_t r = 0; r < rows; r++) n += s->H * (kv_block_of(&s->kv, pos0 + r) + 1);
    /* split decode: kv_split_pack outputs per head (packed probabilities) */
    if (s->attn == CG_ATTN_SPLIT && rows == 1 && s->kv.stride) { /* kv_pack.h */
        /* per head, or per pair of heads (gen_kv_score_pair): its scores and two outputs */
        const size_t pair = gen_kv_score_pair(s, pos0, rows), heads = (s->H + pair - 1) / pair;
        return heads * (kv_block_of(&s->kv, pos0) + 1) + 2 * heads;
    }
    if (s->attn == CG_ATTN_SPLIT && rows == 1)
        return n + s->H * (kv_split_pack(&s->kv, kv_block_of(&s->kv, pos0) + 1) - 1);
    if (s->attn == CG_ATTN_SPLIT) return n;
    return n + 2 * (uint64_t)s->H * kv_blocks_for(&s->kv, pos0 + rows);
}

static uint64_t pass_cts(const gen_sess *s, size_t pos0, size_t rows, bool pick)
{
    const uint64_t linear = returned_by(s, GEN_MAT_QKV, rows) + returned_by(s, GEN_MAT_ATTN_OUT, rows) +
                            returned_by(s, GEN_MAT_MLP_UP, rows) + returned_by(s, GEN_MAT_MLP_DOWN, rows);
    uint64_t n = 0; /* the embedding: once per step (gen_returned_cts) */
    n += s->cfg.n_layer * (linear + attention_cts(s, pos0, rows));
    return n + (pick ? returned_by(s, GEN_MAT_LM_HEAD, 1) : 0); /* always one row (forward.c) */
}

uint64_t gen_returned_cts(const gen_sess *s)
{
    const size_t m = s->req.prompt_len, n = s->req.new_tokens, base = s->req.bench_fill;
    uint64_t total = 0;
    for (size_t step = 0; step < n; step++) {
        const size_t len = m + step;
        size_t first = s->req.use_cache && step > 0 ? len - 1 : 0;
        total += gen_embed_returned_cts(s, len - first);
        while (first < len) {
            const size_t rows = len - first < gen_pass_rows(s) ? len - first : gen_pass_rows(s);
            total += pass_cts(s, base + first, rows, first + rows == len);
            first += rows;
        }
    }
    return total;
}

void gen_flood_init(gen_sess *s)
{
    s->returned_max = gen_returned_cts(s);
    s->flood_bits = gen_flood_bits(s);
}

unsigned gen_flood_bits(const gen_sess *s)
{
    const double coeffs = (double)gen_returned_cts(s) * (double)s->N;
    const double half = coeffs > 1 ? ceil(0.5 * log2(coeffs)) : 0;
    return GEN_FLOOD_BITS + (unsigned)half;
}

uint64_t gen_working_bytes(const gen_sess *s)
{
    const size_t len = (size_t)s->req.bench_fill + s->req.prompt_len + s->req.new_tokens;
    const size_t rows = s->req.prompt_len < gen_pass_rows(s) ? s->req.prompt_len : gen_pass_rows(s);
    const size_t pos0 = len - rows; /* the largest pass ends at the last position */
    const double ct = 3.0 * (double)cg_bfv_nq(s->he) * (double)s->N * 8.0; /* a size-3 product */
    const double share = (double)s->N * 8.0;
    /* attention (attn_new): appends, queries, outputs, scores and probabilities
     * twice, refreshes, with the refresh round's shares and the score rows */
    const double n_q = (double)rows * (double)s->H;
    double n_sc = 0;
    for (size_t r = 0; r < rows; r++) n_sc += (double)s->H * (double)(kv_block_of(&s->kv, pos0 + r) + 1);
    const double n_ref = 2.0 * (double)s->H * (double)kv_blocks_for(&s->kv, len);
    const double attention = (2 * n_q + 2 * n_q + 2 * n_sc + n_ref) * ct + n_ref * share +
                             2.0 * n_q * (double)len * 8.0;
    /* the widest linear layer's inputs and outputs */
    double linear = 0;
    for (size_t i = 0; i < gen_matrix_count(&s->cfg); i++) {
        const gen_matrix m = gen_matrix_at(&s->cfg, NULL, i);
        const gen_plan p = gen_plan_of(s->N, m.in, m.out), d = gen_plan_decode(s, &m);
        const gen_plan q = gen_plan_for_rows(s, &m, rows);
        double need = (double)rows * (double)(p.cin + p.cout) * ct;
        /* the pass's own plan, and a decode step's (dense replies: more
         * leaves, one packed input) */
        const double g = (double)((rows + q.mi - 1) / q.mi);
        const double several = g * (double)(q.cin + q.cout) * ct;
        const double one = (double)(d.cin + d.cout + (d.stride ? gen_pack_cts(&d) : 0)) * ct;
        if (several > need) need = several;
        if (one > need) need = one;
        if (need > linear) linear = need;
    }
    /* the batch embedding of the largest pass (all its rows at once, before
     * its chunks: the prompt, or the whole sequence in the baseline): one
     * batch of buckets' queries and replies or the product to the
     * positions (gen_embed_working_cts), every bucket's shares, and its
     * rows kept over the pass's chunks */
    const size_t erows = s->req.use_cache ? s->req.prompt_len : len;
    const uint64_t ects = gen_embed_working_cts(s, erows);
    const double ct2 = 2.0 * (double)cg_bfv_nq(s->he) * (double)s->N * 8.0; /* no product of two */
    const double embed = (double)ects * ct2 + (ects ? (2.0 * (double)erows + 64.0) * (double)s->d * 8.0 : 0);
    const double kept = ects ? (double)erows * (double)s->d * 8.0 : 0;
    /* activations (forward.c), with the client's one-hot rows */
    const double acts = (double)rows * (12.0 * (double)s->d + (double)s->V) * 8.0 + (double)s->V * 8.0 + kept;
    double most = attention > linear ? attention : linear;
    if (embed > most) most = embed;
    most += acts;
    return most < 1.8e19 ? (uint64_t)most : UINT64_MAX;
}

cg_status gen_fit_memory(gen_sess *s, cg_error *err)
{
    const cg_gen_request *q = &s->req;
    if (q->prefill_chunk > GEN_PREFILL_CHUNK_MAX)
        return cg_error_set(err, CG_ERR_ARG, "%u prompt rows per prefill pass (at most %u)", q->prefill_chunk,
                            GEN_PREFILL_CHUNK_MAX);
    s->chunk = gen_asked_chunk(q);
    if (!s->opt || !s->opt->max_cache_bytes) return CG_OK;
    /* every block of K and V, at the top level, size 2, and the working
     * memory of the largest pass (attention's grows with the blocks) */
    const size_t blocks = kv_blocks_for(&s->kv, (size_t)q->bench_fill + q->prompt_len + q->new_tokens);
    double cache = 2.0 * s->cfg.n_layer * (double)s->H * (double)blocks * 2.0 * (double)cg_bfv_nq(s->he) *
                   (double)s->N * 8.0;
    if (s->attn == CG_ATTN_SPLIT) /* and the server's own shares, in the clear and as
                                    * kept NTT plaintexts (kv_split_block_plain) */
        cache += 2.0 * s->cfg.n_layer * (double)s->H * (double)blocks *
                 ((double)s->kv.block * (double)s->dh + (double)cg_bfv_nq(s->he) * (double)s->N) * 8.0;
    const double limit = (double)s->opt->max_cache_bytes;
    double work = (double)gen_working_bytes(s);
    /* Fewer rows per pass before a refusal: the pass's working memory
     * shrinks with its rows, the cache does not. */
    while (cache + work > limit && s->chunk > 1) {
        s->chunk = (s->chunk + 1) / 2;
        work = (double)gen_working_bytes(s);
    }
    if (cache + work > limit)
        return cg_error_set(err, CG_ERR_PARAM,
                            "this request needs %.0f MB (a %.0f MB cache and %.0f MB of working memory), "
                            "the server allows %.0f MB", (cache + work) / 1e6, cache / 1e6, work / 1e6,
                            limit / 1e6);
    return CG_OK;
}
