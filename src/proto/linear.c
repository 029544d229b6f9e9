/* Linear layers on shares: y = W x + b with W the server's (weights.c for
 * the table and the block layout). With several rows (a prefill chunk) the
 * plan may pack m_i rows per ciphertext, a coefficient-encoded matrix
 * product as in Cheetah: row t of a group sits at t S.., S = n_i n_o, and
 * the same weight blocks give its outputs at t S + o n_i + n_i - 1.
 *   client: encrypts its share of each input chunk -> server
 *   server: adds its share, multiplies by the weight blocks (fused over the
 *           chunks), adds the bias, masks and floods -> client
 *   client: decrypts its share of the outputs.
 * With packed inputs (one row, s->pack, gen_plan_packed's strided plan) the
 * client sends its chunks packed, up to `stride` per ciphertext (chunk a at
 * a + stride k), and the server expands them (cg_bfv_expand) into the
 * strided layout before it adds its share. With dense replies (s->dense)
 * the plan has fewer values per chunk and a wider stride: more leaves,
 * fewer returned ciphertexts. */
#include <stdatomic.h>
#include <string.h>

#include "proto/proto_internal.h"

/* Encoding windows (a row block's cin plaintexts) kept across row blocks:
 * one per thread at a time, claimed with a flag, so the on-the-fly encoding
 * reuses its buffers instead of mapping fresh ones per block. */
#define LINEAR_WINDOWS 256 /* CG_MAX_THREADS: one per worker */
typedef struct window_set {
    atomic_int busy;
    cg_bfv_plain_ntt *pts; /* cin, or NULL until first used */
} window_set;

typedef struct linear_job {
    gen_matrix m;
    gen_plan p;
    size_t rows, groups; /* groups of p.mi rows, the last one maybe short */
    const uint64_t *x; /* rows x in (server: NULL for an all-zero share) */
    uint64_t *y;       /* rows x out */
    cg_bfv_ct *ins;    /* groups x cin: item i is group i / cin, chunk i % cin */
    cg_bfv_ct *outs;   /* groups x cout: item i is group i / cout, row block i % cout */
    cg_bfv_ct *packed; /* packed inputs: gen_pack_cts(&p) ciphertexts, else NULL */
    const cg_bfv_plain_ntt *pre;    /* server: cin x cout pre-encoded blocks, or NULL */
    window_set *windows;            /* server without pre: LINEAR_WINDOWS sets */
} linear_job;

static size_t rows_in_group(const linear_job *j, size_t g)
{
    return (g + 1) * j->p.mi <= j->rows ? j->p.mi : j->rows - g * j->p.mi;
}

/* Input chunk a of each row t of group g at x^(t S)..x^(t S + n_i - 1). */
static void input_chunk(const gen_sess *s, const void *ctx, size_t i, uint64_t *co)
{
    const linear_job *j = ctx;
    const size_t g = i / j->p.cin, a = i % j->p.cin;
    memset(co, 0, s->N * sizeof *co);
    for (size_t t = 0; t < rows_in_group(j, g); t++) {
        const uint64_t *x = j->x + (g * j->p.mi + t) * j->m.in + a * j->p.ni;
        for (size_t k = 0; k < j->p.ni && a * j->p.ni + k < j->m.in; k++) co[gen_in_coeff(&j->p, t, k)] = x[k];
    }
}

/* Packed ciphertext q: chunks [q G, q G + count) (G = gen_pack_chunks). */
static size_t pack_count(const linear_job *j, size_t q)
{
    const size_t G = gen_pack_chunks(&j->p), a0 = q * G;
    return j->p.cin - a0 < G ? j->p.cin - a0 : G;
}

/* One row: chunk a's value k at (a - q G) + stride k. */
static void input_packed(const gen_sess *s, const void *ctx, size_t q, uint64_t *co)
{
    const linear_job *j = ctx;
    const size_t G = gen_pack_chunks(&j->p);
    memset(co, 0, s->N * sizeof *co);
    for (size_t a = q * G; a < q * G + pack_count(j, q); a++)
        for (size_t k = 0; k < j->p.ni && a * j->p.ni + k < j->m.in; k++)
            co[a - q * G + j->p.stride * k] = j->x[a * j->p.ni + k];
}

static unsigned pack_scale(const void *ctx, size_t q)
{
    return cg_bfv_expand_levels(pack_count(ctx, q));
}

static size_t rows_in_block(const linear_job *j, size_t c)
{
    return (c + 1) * j->p.no <= j->m.out ? j->p.no : j->m.out - c * j->p.no;
}

/* Output row o of a block, for row t of the group, sits at coefficient
 * t S + o n_i + n_i - 1. The server adds the bias to its share (the same
 * sum as adding it under encryption, without a plaintext NTT per block). */
static void take_outputs(const gen_sess *s, void *ctx, size_t i, const uint64_t *share)
{
    linear_job *j = ctx;
    const size_t g = i / j->p.cout, c = i % j->p.cout;
    const int64_t *b = s->party == CG_SERVER ? j->m.b : NULL;
    for (size_t t = 0; t < rows_in_group(j, g); t++)
        for (size_t o = 0; o < rows_in_block(j, c); o++) {
            const uint64_t v = share[gen_out_coeff(&j->p, t, o)];
            j->y[(g * j->p.mi + t) * j->m.out + c * j->p.no + o] =
                b ? (v + (uint64_t)b[c * j->p.no + o]) & s->mask : v;
        }
}

/* The coefficients take_outputs reads (the server sends c0 only there). */
static void keep_outputs(const gen_sess *s, const void *ctx, size_t i, uint8_t *used)
{
    (void)s;
    const linear_job *j = ctx;
    const size_t g = i / j->p.cout, c = i % j->p.cout;
    for (size_t t = 0; t < rows_in_group(j, g); t++)
        for (size_t o = 0; o < rows_in_block(j, c); o++) used[gen_out_coeff(&j->p, t, o)] = 1;
}

static cg_status linear_client(gen_sess *s, linear_job *j, cg_error *err)
{
    const size_t n_in = j->groups * j->p.cin, n_out = j->groups * j->p.cout;
    if (j->packed) {
        const size_t npk = gen_pack_cts(&j->p);
        CG_TRY(gen_encrypt_packed(s, npk, input_packed, pack_scale, j, j->packed, err));
        CG_TRY(gen_send_cts(s, j->packed, npk, err));
    } else {
        CG_TRY(gen_shares_to_he(s, n_in, input_chunk, j, j->ins, err));
        CG_TRY(gen_send_cts(s, j->ins, n_in, err));
    }
    CG_TRY(gen_recv_cts(s, j->outs, n_out, err));
    return gen_he_to_shares(s, n_out, j->outs, take_outputs, j, err);
}

/* ---- Server half ------------------------------------------------------------ */

static cg_status to_ntt_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    linear_job *j = ctx;
    return cg_bfv_to_ntt(s->he, &j->ins[i], err);
}

/* Output block c of group g: fused products over the chunks with the
 * blocks wp[0..cin) (the bias joins the server's share, take_outputs). */
static cg_status block_product(gen_sess *s, linear_job *j, size_t g, size_t c,
                               const cg_bfv_plain_ntt *wp, cg_error *err)
{
    enum { STACK = 64 };
    const size_t cin = j->p.cin;
    const cg_bfv_ct *inp_s[STACK];
    const cg_bfv_plain_ntt *wpp_s[STACK];
    const cg_bfv_ct **inp = cin <= STACK ? inp_s : cg_calloc(cin, sizeof *inp);
    const cg_bfv_plain_ntt **wpp = cin <= STACK ? wpp_s : cg_calloc(cin, sizeof *wpp);
    cg_status st = inp && wpp ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    for (size_t a = 0; st == CG_OK && a < cin; a++) {
        inp[a] = &j->ins[g * cin + a];
        wpp[a] = &wp[a];
    }
    if (st == CG_OK) st = cg_bfv_mac_plain(s->he, inp, wpp, cin, &j->outs[g * j->p.cout + c], err);
    if (inp != inp_s) cg_free(inp);
    if (wpp != wpp_s) cg_free(wpp);
    return st;
}

/* With pre-encoded weights: one item per row block, its blocks used for
 * every group while they are in cache (a large matrix's blocks streamed
 * once per row would make the products wait on memory). */
static cg_status product_item(gen_sess *s, void *ctx, size_t c, cg_error *err)
{
    linear_job *j = ctx;
    cg_status st = CG_OK;
    for (size_t g = 0; st == CG_OK && g < j->groups; g++)
        st = block_product(s, j, g, c, &j->pre[c * j->p.cin], err);
    return st;
}

/* Without them: one item per row block, which encodes its cin blocks once
 * for every group (threads share the encoding as well as the products). */
static cg_status row_block_item(gen_sess *s, void *ctx, size_t c, cg_error *err)
{
    linear_job *j = ctx;
    window_set *ws = NULL;
    for (size_t k = 0; !ws && k < LINEAR_WINDOWS; k++)
        if (atomic_exchange(&j->windows[k].busy, 1) == 0) ws = &j->windows[k];
    if (!ws) return cg_error_set(err, CG_ERR_INTERNAL, "linear layer: no free encoding window");
    if (!ws->pts) ws->pts = cg_calloc(j->p.cin, sizeof *ws->pts);
    int64_t *co = cg_alloc(s->N * sizeof *co);
    cg_status st = ws->pts && co ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    for (size_t a = 0; st == CG_OK && a < j->p.cin; a++)
        st = gen_encode_block(s->he, &j->m, &j->p, a, c, co, &ws->pts[a], err);
    for (size_t g = 0; st == CG_OK && g < j->groups; g++) st = block_product(s, j, g, c, ws->pts, err);
    atomic_store(&ws->busy, 0);
    cg_free(co);
    return st;
}

static void windows_free(linear_job *j)
{
    for (size_t k = 0; j->windows && k < LINEAR_WINDOWS; k++) {
        for (size_t a = 0; j->windows[k].pts && a < j->p.cin; a++) cg_bfv_plain_ntt_free(&j->windows[k].pts[a]);
        cg_free(j->windows[k].pts);
    }
    cg_free(j->windows);
    j->windows = NULL;
}

/* The server's share of x is added to the client's encryption (none for the
 * embedding's one-hot rows, which only the client has). */
static cg_status linear_server(gen_sess *s, linear_job *j, cg_error *err)
{
    const size_t n_in = j->groups * j->p.cin, n_out = j->groups * j->p.cout;
    if (!j->m.w && !j->m.w64) return cg_error_set(err, CG_ERR_INTERNAL, "linear layer without weights");
    j->pre = s->opt ? gen_weights_find(s->opt->weights, s->he, s->fm, &j->m, &j->p) : NULL;
    if (j->packed) {
        /* the client's packed chunks, expanded (noise from the fresh
         * estimate gen_recv_cts sets, never the sender's) */
        const size_t npk = gen_pack_cts(&j->p), G = gen_pack_chunks(&j->p);
        CG_TRY(gen_recv_cts(s, j->packed, npk, err));
        for (size_t q = 0; q < npk; q++)
            CG_TRY(cg_bfv_expand(s->he, &s->pack_gk, &j->packed[q], pack_count(j, q), &j->ins[q * G], err));
    } else {
        CG_TRY(gen_recv_cts(s, j->ins, n_in, err));
    }
    if (j->x) CG_TRY(gen_shares_to_he(s, n_in, input_chunk, j, j->ins, err));
    CG_TRY(gen_parallel(s, n_in, to_ntt_item, j, err));
    if (!j->pre) {
        j->windows = cg_calloc(LINEAR_WINDOWS, sizeof *j->windows);
        if (!j->windows) return cg_error_set(err, CG_ERR_NOMEM, "linear layer");
        for (size_t k = 0; k < LINEAR_WINDOWS; k++) atomic_init(&j->windows[k].busy, 0);
    }
    cg_status st = gen_parallel(s, j->p.cout, j->pre ? product_item : row_block_item, j, err);
    windows_free(j);
    CG_TRY(st);
    CG_TRY(gen_he_to_shares(s, n_out, j->outs, take_outputs, j, err));
    return gen_send_cts_at(s, j->outs, n_out, keep_outputs, j, err);
}

void gen_pack_decide(gen_sess *s)
{
    s->pack = s->req.pack_inputs && !(s->opt && s->opt->refuse_pack_inputs);
    const bool dense = s->pack && s->req.dense_replies && !(s->opt && s->opt->refuse_dense_replies);
    const bool max = dense && s->req.dense_max && !(s->opt && s->opt->refuse_dense_max);
    s->dense = max ? GEN_DENSE_MAX : dense ? GEN_DENSE_ON : GEN_DENSE_OFF;
}

gen_plan gen_plan_decode(const gen_sess *s, const gen_matrix *m)
{
    if (s->pack && gen_packable(m->role)) {
        const gen_plan q = gen_plan_packed(s->N, m->in, m->out, s->dense);
        if (q.stride) return q;
    }
    return gen_plan_of(s->N, m->in, m->out);
}

gen_plan gen_plan_for_rows(const gen_sess *s, const gen_matrix *m, size_t rows)
{
    return rows > 1 ? gen_plan_rows(s->N, m->in, m->out, rows, s->req.prefill_rows) : gen_plan_decode(s, m);
}

uint64_t gen_linear_returned(const gen_sess *s, const gen_matrix *m, size_t rows)
{
    const gen_plan p = gen_plan_for_rows(s, m, rows);
    return (uint64_t)((rows + p.mi - 1) / p.mi) * p.cout;
}

cg_status gen_linear(gen_sess *s, gen_matrix_role role, size_t layer, size_t rows,
                     const uint64_t *x, uint64_t *y, cg_error *err)
{
    const gen_matrix m = gen_matrix_of(&s->cfg, s->fm, role, layer);
    return gen_linear_m(s, &m, rows, x, y, err);
}

cg_status gen_linear_m(gen_sess *s, const gen_matrix *m, size_t rows, const uint64_t *x,
                       uint64_t *y, cg_error *err)
{
    linear_job j = {.m = *m, .rows = rows, .x = x, .y = y};
    j.p = gen_plan_for_rows(s, m, rows);
    j.groups = (rows + j.p.mi - 1) / j.p.mi;
    const size_t n_in = j.groups * j.p.cin, n_out = j.groups * j.p.cout;
    const size_t n_pk = j.p.stride ? gen_pack_cts(&j.p) : 0;
    j.ins = gen_take_cts(s, n_in);
    j.outs = gen_take_cts(s, n_out);
    if (n_pk) j.packed = gen_take_cts(s, n_pk);
    cg_status st = j.ins && j.outs && (!n_pk || j.packed) ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    if (st == CG_OK) st = s->party == CG_CLIENT ? linear_client(s, &j, err) : linear_server(s, &j, err);
    gen_give_cts(s, j.ins, n_in);
    gen_give_cts(s, j.outs, n_out);
    if (j.packed) gen_give_cts(s, j.packed, n_pk);
    return st;
}

/* ---- Expansion keys ------------------------------------------------------------ */

cg_status gen_pack_keys_make(gen_sess *s, cg_buf *out, cg_error *err)
{
    uint32_t elts[32];
    const size_t ne = cg_bfv_expand_elts(s->he, gen_pack_levels(&s->cfg, s->N, s->dense), elts);
    /* the client only sends them: no copy kept for the session */
    cg_bfv_galois_keys gk;
    CG_TRY(cg_bfv_keygen_galois_elts(s->he, &s->sk, elts, ne, &gk, err));
    const cg_status st = cg_bfv_galois_serialize(s->he, &gk, out, err);
    cg_bfv_galois_free(&gk);
    return st;
}

cg_status gen_pack_keys_read(gen_sess *s, const uint8_t *p, size_t len, cg_error *err)
{
    CG_TRY(cg_bfv_galois_deserialize(s->he, p, len, &s->pack_gk, err));
    /* every level the model's packed inputs need, checked once here */
    uint32_t elts[32];
    const size_t ne = cg_bfv_expand_elts(s->he, gen_pack_levels(&s->cfg, s->N, s->dense), elts);
    for (size_t i = 0; i < ne; i++) {
        bool found = false;
        for (size_t k = 0; k < s->pack_gk.count; k++) found |= s->pack_gk.elts[k] == elts[i];
        if (!found) return cg_error_set(err, CG_ERR_FORMAT, "no expansion key for Galois element %u", elts[i]);
    }
    return CG_OK;
}
