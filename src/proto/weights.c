/* The weights table: every matrix of the model by role, with its shape and
 * strides written once, the plan that cuts it into plaintext blocks, and the
 * server's pre-encoded blocks (cg_gen_weights), which are found by role and
 * layer through the same table the linear layers use.
 *
 * Block layout (rotation-free, as in Cheetah): an input chunk of n_i values
 * sits at x^0..x^(n_i-1); the plaintext for n_o output rows holds W[o][j]
 * at x^(o n_i + n_i - 1 - j), so coefficient o n_i + n_i - 1 of the product
 * is sum_j W[o][j] x[j] (n_i n_o <= n keeps the other terms away from it,
 * also across the negacyclic wrap). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto_internal.h"

gen_matrix gen_matrix_of(const cg_gpt2_config *cfg, const cg_fixed_model *fm,
                         gen_matrix_role role, size_t layer)
{
    const size_t d = cfg->n_embd, V = cfg->vocab_size;
    const cg_fixed_layer *L = fm && role != GEN_MAT_EMBED && role != GEN_MAT_LM_HEAD
                                  ? &fm->layers[layer]
                                  : NULL;
    gen_matrix m = {.role = role, .layer = layer, .stride_in = 1};
    switch (role) {
    case GEN_MAT_EMBED:
        /* The token table emb[V][d] read as its transpose, W[o][i] =
         * emb[i][o]: the client's one-hot row picks its token's embedding. */
        m.layer = 0;
        m.in = V, m.out = d, m.stride_out = 1, m.stride_in = d;
        m.w = fm ? fm->emb : NULL;
        break;
    case GEN_MAT_QKV:
        m.in = d, m.out = 3 * d, m.stride_out = d;
        if (L) m.w = L->qkv_w, m.b = L->qkv_b;
        break;
    case GEN_MAT_ATTN_OUT:
        m.in = d, m.out = d, m.stride_out = d;
        if (L) m.w = L->proj_w, m.b = L->proj_b;
        break;
    case GEN_MAT_MLP_UP:
        m.in = d, m.out = 4 * d, m.stride_out = d;
        if (L) m.w = L->fc_w, m.b = L->fc_b;
        break;
    case GEN_MAT_MLP_DOWN:
        m.in = 4 * d, m.out = d, m.stride_out = 4 * d;
        if (L) m.w = L->fc2_w, m.b = L->fc2_b;
        break;
    case GEN_MAT_LM_HEAD:
        m.layer = 0;
        m.in = d, m.out = V, m.stride_out = d;
        if (fm) m.w = fm->head_w, m.b = fm->head_b;
        break;
    case GEN_MAT_SESSION: /* made by its caller */
        break;
    }
    return m;
}

size_t gen_matrix_count(const cg_gpt2_config *cfg) { return 2 + 4 * (size_t)cfg->n_layer; }

/* Table order: embedding, head, then each layer's four matrices. */
static const gen_matrix_role layer_roles[4] = {GEN_MAT_QKV, GEN_MAT_ATTN_OUT, GEN_MAT_MLP_UP,
                                               GEN_MAT_MLP_DOWN};

gen_matrix gen_matrix_at(const cg_gpt2_config *cfg, const cg_fixed_model *fm, size_t i)
{
    if (i < 2) return gen_matrix_of(cfg, fm, i == 0 ? GEN_MAT_EMBED : GEN_MAT_LM_HEAD, 0);
    return gen_matrix_of(cfg, fm, layer_roles[(i - 2) % 4], (i - 2) / 4);
}

static size_t matrix_index(const gen_matrix *m)
{
    if (m->role == GEN_MAT_EMBED) return 0;
    if (m->role == GEN_MAT_LM_HEAD) return 1;
    size_t k = 0;
    while (layer_roles[k] != m->role) k++;
    return 2 + 4 * m->layer + k;
}

/* Cost model in units of one fused ct x pt product: each ciphertext sent
 * costs about 15 (encrypt or mask and flood, NTTs, transfer, decrypt) and
 * encoding a weight block about 1 (the one-row plan's are pre-encoded). */
#define PLAN_CT_COST 15.0
#define PLAN_ENCODE_COST 1.0

/* The best n_i for mi rows per ciphertext, and its cost for `rows` rows. */
static gen_plan plan_for(size_t n, size_t in, size_t out, size_t rows, size_t mi, double *cost)
{
    gen_plan p = {.mi = mi};
    const double groups = (double)((rows + mi - 1) / mi);
    const size_t cap = n / mi;
    *cost = 1e300;
    for (size_t a = 1; a <= in && a <= cap; a++) {
        size_t b = cap / a < out ? cap / a : out;
        double cin = (double)((in + a - 1) / a), cout = (double)((out + b - 1) / b);
        double c = groups * (PLAN_CT_COST * (cin + cout) + cin * cout) +
                   (mi > 1 ? PLAN_ENCODE_COST * cin * cout : 0.0);
        if (c < *cost) *cost = c, p.ni = a, p.no = b;
    }
    p.cin = (in + p.ni - 1) / p.ni;
    p.cout = (out + p.no - 1) / p.no;
    return p;
}

gen_plan gen_plan_of(size_t n, size_t in, size_t out)
{
    double cost;
    return plan_for(n, in, out, 1, 1, &cost);
}

gen_plan gen_plan_rows(size_t n, size_t in, size_t out, size_t rows, size_t want)
{
    double best = 1e300, c;
    if (rows > n) rows = n; /* mi <= n keeps a block of one value per row */
    if (want) return plan_for(n, in, out, rows, want < rows ? want : rows, &c);
    gen_plan p = gen_plan_of(n, in, out);
    for (size_t mi = 1; mi <= rows; mi++) {
        /* for mi = 1 the groups only scale the cost: gen_plan_of's n_i */
        gen_plan q = plan_for(n, in, out, rows, mi, &c);
        if (c < best) best = c, p = q;
    }
    return p;
}

static size_t pow2_at_least(size_t v)
{
    size_t s = 1;
    while (s < v) s <<= 1;
    return s;
}

gen_plan gen_plan_strided(size_t n, size_t in, size_t out, size_t ni)
{
    gen_plan p = {.mi = 1, .ni = ni < in ? ni : in};
    if (p.ni == 0 || p.ni > n) return (gen_plan){0};
    size_t s = 1;
    while (2 * s * p.ni <= n) s <<= 1; /* the largest power of two with s n_i <= n */
    p.stride = s;
    p.no = s < out ? s : out;
    p.cin = (in + p.ni - 1) / p.ni;
    p.cout = (out + p.no - 1) / p.no;
    return p;
}

/* Dense replies' cost model, in seconds at a reference link of 100 Mbit/s
 * (issue 14's) and 2 threads, measured on the paper set (PERFORMANCE.md,
 * "Fuller replies"): a returned ciphertext is all of c1 and c0 at the
 * outputs at 48 bits (6 bytes; the extracted form, 2 bytes more per output
 * for its position) plus its masking, flooding and decryption; an
 * expansion split is one key switch; a fused ct x pt product term. Fixed
 * constants, so both parties (and the server's pre-encoded weights) make
 * the same choice from the shapes alone. */
#define DENSE_LINK_BYTES_PER_S 12.5e6
#define DENSE_REPLY_S 1.5e-3
#define DENSE_KEY_SWITCH_S 1.6e-3
#define DENSE_MAC_S 5.0e-5
/* At most 2^8 leaves per packed ciphertext: each level is one more Galois
 * key in the session set-up (~0.9 MB at the paper set). */
#define DENSE_MAX_LEVELS 8

static double dense_cost(size_t n, const gen_plan *p, unsigned dense)
{
    const double cin = (double)p->cin, cout = (double)p->cout;
    const double reply_bytes = 6.0 * (double)n + 8.0 * (double)p->no;
    const double splits = cin - (double)gen_pack_cts(p); /* leaves minus packed cts */
    /* max: bytes weigh 10x (a 10 Mbit/s link), so replies give way to key switches */
    const double link = dense == GEN_DENSE_MAX ? DENSE_LINK_BYTES_PER_S / 10.0 : DENSE_LINK_BYTES_PER_S;
    return cout * (reply_bytes / link + DENSE_REPLY_S) + splits * DENSE_KEY_SWITCH_S +
           cin * cout * DENSE_MAC_S;
}

gen_plan gen_plan_packed(size_t n, size_t in, size_t out, unsigned dense)
{
    gen_plan p = gen_plan_of(n, in, out);
    p.stride = pow2_at_least(p.no);
    if (p.stride * p.ni > n) {
        /* the decode plan's n_o rounded up does not fit: the cheapest cut
         * whose n_o is a power of two (the one-row cost model) */
        double best = 1e300;
        for (size_t a = 1; a <= in && a <= n; a++) {
            size_t s = 1;
            while (2 * s * a <= n) s <<= 1; /* largest power of two with s a <= n */
            const size_t b = pow2_at_least(s < out ? s : out);
            const double cin = (double)((in + a - 1) / a), cout = (double)((out + b - 1) / b);
            const double c = PLAN_CT_COST * (cin + cout) + cin * cout;
            if (c < best) best = c, p.ni = a, p.no = b < out ? b : out, p.stride = b;
        }
        p.cin = (in + p.ni - 1) / p.ni;
        p.cout = (out + p.no - 1) / p.no;
    }
    if (!dense) return p;
    /* fewer values per leaf, a wider stride, up to stride outputs per
     * reply: n_i halved down to 1 while the model says it pays */
    double best = dense_cost(n, &p, dense);
    for (size_t a = pow2_at_least(p.ni) / 2; a >= 1; a /= 2) {
        const gen_plan q = gen_plan_strided(n, in, out, a);
        if (!q.stride || cg_bfv_expand_levels(gen_pack_chunks(&q)) > DENSE_MAX_LEVELS) continue;
        const double c = dense_cost(n, &q, dense);
        if (c < best) best = c, p = q;
    }
    return p;
}

/* Input j of chunk a: its column offset in the weights, or false past a
 * session matrix's row list. */
static bool block_column(const gen_matrix *m, const gen_plan *p, size_t a, size_t j, size_t *col)
{
    const size_t i = a * p->ni + j;
    if (m->idx && i >= m->idx_n) return false;
    *col = (m->idx ? m->idx[i] : i) * m->stride_in;
    return true;
}

/* Output o of row block c at that column (weights mod 2^l or signed). */
static int64_t weight_at(const gen_matrix *m, const gen_plan *p, size_t c, size_t o, size_t col)
{
    const size_t at = (c * p->no + o) * m->stride_out + col;
    return m->w64 ? m->w64[at] : m->w[at];
}

/* The strided layout's block (gen_plan.stride): W[o][k] at x^(o - S k). */
static void encode_strided(const gen_matrix *m, const gen_plan *p, size_t a, size_t c, size_t n,
                           size_t o_n, size_t j_n, int64_t *co)
{
    memset(co, 0, n * sizeof *co);
    for (size_t j = 0; j < j_n; j++) {
        size_t col;
        if (!block_column(m, p, a, j, &col)) continue;
        for (size_t o = 0; o < o_n; o++) {
            const int64_t v = weight_at(m, p, c, o, col);
            if (j == 0)
                co[o] = v;
            else
                co[n + o - p->stride * j] = -v; /* x^(o - S j) = -x^(n + o - S j) */
        }
    }
}

/* The block layout's block: W[o][j] at x^(o n_i + n_i - 1 - j); returns
 * the coefficients used (the rest are zero). */
static size_t encode_blocked(const gen_matrix *m, const gen_plan *p, size_t a, size_t c,
                             size_t o_n, size_t j_n, int64_t *co)
{
    const size_t used = o_n * p->ni;
    memset(co, 0, used * sizeof *co);
    if (m->idx || m->w64) {
        /* a session's matrix: inputs through the row list, or weights mod 2^l */
        for (size_t j = 0; j < j_n; j++) {
            size_t col;
            if (!block_column(m, p, a, j, &col)) continue;
            for (size_t o = 0; o < o_n; o++) co[o * p->ni + p->ni - 1 - j] = weight_at(m, p, c, o, col);
        }
    } else {
        for (size_t o = 0; o < o_n; o++)
            for (size_t j = 0; j < j_n; j++)
                co[o * p->ni + p->ni - 1 - j] =
                    m->w[(c * p->no + o) * m->stride_out + (a * p->ni + j) * m->stride_in];
    }
    return used;
}

cg_status gen_encode_block(const cg_bfv_ctx *he, const gen_matrix *m, const gen_plan *p, size_t a,
                           size_t c, int64_t *co, cg_bfv_plain_ntt *dst,
                           cg_error *err)
{
    const size_t o_n = (c + 1) * p->no <= m->out ? p->no : m->out - c * p->no;
    const size_t j_n = (a + 1) * p->ni <= m->in ? p->ni : m->in - a * p->ni;
    size_t used = cg_bfv_n(he);
    if (p->stride)
        encode_strided(m, p, a, c, used, o_n, j_n, co);
    else
        used = encode_blocked(m, p, a, c, o_n, j_n, co);
    CG_TRY(cg_bfv_encode_coeff_ntt(he, co, used, cg_bfv_nq(he), dst, err)); /* reuses dst's buffer */
    /* the public bound, not this block's largest weight: the products'
     * estimates (and the flooding and switching they decide) stay public;
     * values mod 2^l (shares) are bounded by t / 2 centred */
    dst->norm_log2 = m->w64 ? log2((double)cg_bfv_t(he)) - 1.0 : GEN_WEIGHT_BOUND_LOG2;
    return CG_OK;
}

/* ---- Pre-encoded weights ----------------------------------------------------- */

typedef struct encoded_matrix {
    gen_plan plan;
    cg_bfv_plain_ntt *blocks; /* plan.cin * plan.cout, or NULL: encoded per use */
} encoded_matrix;

struct cg_gen_weights {
    uint8_t fingerprint[32];  /* the parameter set's */
    const cg_fixed_model *fm; /* the model they were encoded from (compared, never read) */
    size_t count;             /* gen_matrix_count entries, in table order */
    encoded_matrix *mats;
    uint64_t bytes;
};

typedef struct encode_job {
    const cg_bfv_ctx *he;
    const gen_matrix *m;
    const gen_plan *plan;
    cg_bfv_plain_ntt *blocks;
    cg_status st;
} encode_job;

static void encode_range(void *ctx, size_t begin, size_t end)
{
    encode_job *j = ctx;
    int64_t *co = cg_alloc(cg_bfv_n(j->he) * sizeof *co);
    cg_error err = {0};
    cg_status st = co ? CG_OK : CG_ERR_NOMEM;
    for (size_t k = begin; st == CG_OK && k < end; k++)
        st = gen_encode_block(j->he, j->m, j->plan, k % j->plan->cin, k / j->plan->cin, co,
                              &j->blocks[k], &err);
    if (st != CG_OK) j->st = st; /* any failure is reported as a whole */
    cg_free(co);
}

void cg_gen_weights_free(cg_gen_weights *ws)
{
    if (!ws) return;
    for (size_t i = 0; ws->mats && i < ws->count; i++) {
        encoded_matrix *e = &ws->mats[i];
        for (size_t k = 0; e->blocks && k < e->plan.cin * e->plan.cout; k++)
            cg_bfv_plain_ntt_free(&e->blocks[k]);
        cg_free(e->blocks);
    }
    cg_free(ws->mats);
    cg_free(ws);
}

uint64_t cg_gen_weights_bytes(const cg_gen_weights *ws) { return ws ? ws->bytes : 0; }

/* Largest first (ties in table order), so a budget goes where the
 * on-the-fly encoding would cost most. */
typedef struct by_size {
    size_t index, size;
} by_size;

static int larger_first(const void *a, const void *b)
{
    const by_size *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

cg_status cg_gen_weights_size(const cg_gpt2_config *cfg, const char *preset, uint64_t *bytes,
                              cg_error *err)
{
    cg_bfv_spec spec;
    CG_TRY(cg_bfv_preset(preset, &spec, err));
    spec.t = 1ull << cg_fixed_default().act.ring_bits;
    cg_bfv_ctx *he = NULL;
    CG_TRY(cg_bfv_ctx_new(&he, &spec, err));
    const size_t N = cg_bfv_n(he), per = cg_bfv_nq(he) * N * sizeof(uint64_t);
    *bytes = 0;
    for (size_t i = 0; i < gen_matrix_count(cfg); i++) {
        const gen_matrix m = gen_matrix_at(cfg, NULL, i);
        const gen_plan p = gen_plan_of(N, m.in, m.out);
        *bytes += (uint64_t)p.cin * p.cout * per;
    }
    cg_bfv_ctx_free(he);
    return CG_OK;
}

unsigned gen_pack_levels(const cg_gpt2_config *cfg, size_t n, unsigned dense)
{
    unsigned e = 0;
    for (size_t i = 0; i < gen_matrix_count(cfg); i++) {
        const gen_matrix m = gen_matrix_at(cfg, NULL, i);
        if (!gen_packable(m.role)) continue;
        const gen_plan p = gen_plan_packed(n, m.in, m.out, dense);
        const unsigned k = p.stride ? cg_bfv_expand_levels(gen_pack_chunks(&p)) : 0;
        if (k > e) e = k;
    }
    return e;
}

static cg_status weights_new(cg_gen_weights **out, const cg_fixed_model *fm, const char *preset,
                             uint64_t max_bytes, int threads, bool packed, unsigned dense,
                             cg_error *err)
{
    if (!out || !fm || !preset) return cg_error_set(err, CG_ERR_ARG, "cg_gen_weights_new: NULL argument");
    *out = NULL;
    cg_bfv_spec spec;
    CG_TRY(cg_bfv_preset(preset, &spec, err));
    spec.t = 1ull << fm->fx.act.ring_bits;
    cg_bfv_ctx *he = NULL;
    CG_TRY(cg_bfv_ctx_new(&he, &spec, err));
    const size_t count = gen_matrix_count(&fm->cfg);
    const size_t N = cg_bfv_n(he), per = cg_bfv_nq(he) * N * sizeof(uint64_t);
    cg_gen_weights *ws = cg_calloc(1, sizeof *ws);
    by_size *order = cg_calloc(count, sizeof *order);
    cg_status st = ws && order ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "weights");
    if (st == CG_OK) {
        ws->mats = cg_calloc(count, sizeof *ws->mats);
        if (!ws->mats) st = cg_error_set(err, CG_ERR_NOMEM, "weights");
    }
    if (st == CG_OK) {
        ws->count = count;
        ws->fm = fm;
        memcpy(ws->fingerprint, cg_bfv_fingerprint(he), sizeof ws->fingerprint);
        for (size_t i = 0; i < count; i++) {
            gen_matrix m = gen_matrix_at(&fm->cfg, fm, i);
            order[i] = (by_size){i, m.in * m.out};
            ws->mats[i].plan = gen_plan_of(N, m.in, m.out);
            if (packed && gen_packable(m.role)) {
                const gen_plan q = gen_plan_packed(N, m.in, m.out, dense);
                if (q.stride) ws->mats[i].plan = q;
            }
        }
        qsort(order, count, sizeof *order, larger_first);
    }
    for (size_t k = 0; st == CG_OK && k < count; k++) {
        const size_t i = order[k].index;
        const gen_matrix m = gen_matrix_at(&fm->cfg, fm, i);
        encoded_matrix *e = &ws->mats[i];
        const size_t nblocks = e->plan.cin * e->plan.cout;
        if (ws->bytes + (uint64_t)nblocks * per > max_bytes) continue;
        e->blocks = cg_calloc(nblocks, sizeof *e->blocks);
        if (!e->blocks) {
            st = cg_error_set(err, CG_ERR_NOMEM, "weights");
            break;
        }
        encode_job j = {he, &m, &e->plan, e->blocks, CG_OK};
        /* a thread that cannot start has its chunk run inline */
        (void)cg_parallel_for(threads, nblocks, encode_range, &j);
        if (j.st != CG_OK) st = cg_error_set(err, j.st, "encoding weights");
        ws->bytes += (uint64_t)nblocks * per;
    }
    cg_free(order);
    cg_bfv_ctx_free(he);
    if (st != CG_OK) {
        cg_gen_weights_free(ws);
        return st;
    }
    *out = ws;
    return CG_OK;
}

cg_status cg_gen_weights_new(cg_gen_weights **out, const cg_fixed_model *fm, const char *preset,
                             uint64_t max_bytes, int threads, cg_error *err)
{
    return weights_new(out, fm, preset, max_bytes, threads, false, GEN_DENSE_OFF, err);
}

cg_status cg_gen_weights_new_packed(cg_gen_weights **out, const cg_fixed_model *fm,
                                    const char *preset, uint64_t max_bytes, int threads,
                                    cg_error *err)
{
    return weights_new(out, fm, preset, max_bytes, threads, true, GEN_DENSE_OFF, err);
}

cg_status cg_gen_weights_new_dense(cg_gen_weights **out, const cg_fixed_model *fm,
                                   const char *preset, uint64_t max_bytes, int threads,
                                   cg_error *err)
{
    return weights_new(out, fm, preset, max_bytes, threads, true, GEN_DENSE_ON, err);
}

cg_status cg_gen_weights_new_dense_max(cg_gen_weights **out, const cg_fixed_model *fm,
                                       const char *preset, uint64_t max_bytes, int threads,
                                       cg_error *err)
{
    return weights_new(out, fm, preset, max_bytes, threads, true, GEN_DENSE_MAX, err);
}

const cg_bfv_plain_ntt *gen_weights_find(const cg_gen_weights *ws, const cg_bfv_ctx *he,
                                         const cg_fixed_model *fm, const gen_matrix *m,
                                         const gen_plan *p)
{
    if (!ws || m->role == GEN_MAT_SESSION || ws->fm != fm ||
        memcmp(ws->fingerprint, cg_bfv_fingerprint(he), 32) != 0)
        return NULL;
    const size_t i = matrix_index(m);
    if (i >= ws->count) return NULL;
    const encoded_matrix *e = &ws->mats[i];
    /* one table and one planner make these equal; a mismatch would mean
     * plaintexts of another layout, so they are not used */
    if (e->plan.ni != p->ni || e->plan.no != p->no || e->plan.stride != p->stride) return NULL;
    return e->blocks;
}
