/* HE side of the protocol: ciphertext messages, HE -> share conversion and
 * linear layers as coefficient-encoded matrix-vector products.
 *
 * Layout (rotation-free, as in Cheetah): an input chunk of n_i values sits at
 * x^0..x^(n_i-1); the weight plaintext for n_o output rows holds W[o][j] at
 * x^(o n_i + n_i - 1 - j), so coefficient o n_i + n_i - 1 of the product is
 * sum_j W[o][j] x[j] (n_i n_o <= N keeps the other terms away from it, also
 * across the negacyclic wrap). Output rows sum over input chunks with one
 * fused multiply-accumulate. */
#include <stdlib.h>
#include <string.h>

#include "proto/proto_internal.h"

static const char *part_names[CG_PART_COUNT] = {
    "embedding", "layernorm", "qkv", "kv_append", "qk", "softmax", "sv",
    "attn_out", "mlp_up", "gelu", "mlp_down", "lm_head", "token", "refresh"};

const char *cg_gen_part_name(cg_gen_part p)
{
    return (unsigned)p < CG_PART_COUNT ? part_names[p] : "?";
}

void gen_part_begin(gen_sess *s, cg_gen_part p)
{
    s->part = p;
    s->part_t0 = cg_now_ns();
    cg_chan_set_phase(s->ch, part_names[p]);
}

void gen_part_end(gen_sess *s)
{
    s->rep.seconds[s->part] += (double)(cg_now_ns() - s->part_t0) * 1e-9;
    cg_chan_set_phase(s->ch, NULL);
}

typedef struct par_job {
    gen_sess *s;
    gen_item_fn fn;
    void *ctx;
    cg_error *errs; /* one per item */
} par_job;

static void par_range(void *arg, size_t begin, size_t end)
{
    par_job *j = arg;
    for (size_t i = begin; i < end; i++) {
        j->errs[i].code = j->fn(j->s, j->ctx, i, &j->errs[i]);
        if (j->errs[i].code != CG_OK) return;
    }
}

cg_status gen_parallel(gen_sess *s, size_t n, gen_item_fn fn, void *ctx, cg_error *err)
{
    if (n == 0) return CG_OK;
    cg_error *errs = cg_calloc(n, sizeof *errs);
    if (!errs) return cg_error_set(err, CG_ERR_NOMEM, "parallel items");
    par_job j = {s, fn, ctx, errs};
    if (s->threads <= 1 || cg_parallel_for(s->threads, n, par_range, &j) != CG_OK)
        par_range(&j, 0, n);
    cg_status st = CG_OK;
    for (size_t i = 0; i < n && st == CG_OK; i++)
        if (errs[i].code != CG_OK) {
            st = errs[i].code;
            if (err) *err = errs[i];
        }
    cg_free(errs);
    return st;
}

void gen_free_cts(cg_bfv_ct *cts, size_t n)
{
    for (size_t i = 0; cts && i < n; i++) cg_bfv_ct_free(&cts[i]);
}

static cg_status put_cts(gen_sess *s, cg_buf *b, const cg_bfv_ct *cts, size_t n, cg_error *err)
{
    cg_buf one;
    cg_buf_init(&one);
    cg_buf_put_u32(b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        cg_buf_reset(&one);
        cg_status st = cg_bfv_ct_serialize(s->he, &cts[i], &one, err);
        if (st != CG_OK) {
            cg_buf_free(&one);
            return st;
        }
        cg_buf_put_u32(b, (uint32_t)one.len);
        cg_buf_put(b, one.data, one.len);
    }
    cg_buf_free(&one);
    return b->failed ? cg_error_set(err, CG_ERR_NOMEM, "message buffer") : CG_OK;
}

cg_status gen_send_cts(gen_sess *s, cg_buf *b, const cg_bfv_ct *cts, size_t n, cg_error *err)
{
    cg_buf_reset(b);
    CG_TRY(put_cts(s, b, cts, n, err));
    return cg_chan_send_msg(s->ch, b->data, b->len, err);
}

/* Reads exactly n ciphertexts; any other count, or a malformed one, is an
 * error and leaves cts empty. */
cg_status gen_get_cts(gen_sess *s, cg_reader *r, cg_bfv_ct *cts, size_t n, cg_error *err)
{
    uint32_t count;
    CG_TRY(cg_read_u32(r, &count, "ciphertext count", err));
    if (count != n)
        return cg_error_set(err, CG_ERR_FORMAT, "expected %zu ciphertexts, peer sent %u", n, count);
    for (size_t i = 0; i < n; i++) {
        uint32_t len;
        cg_status st = cg_read_u32(r, &len, "ciphertext length", err);
        if (st == CG_OK && len > cg_reader_left(r))
            st = cg_error_set(err, CG_ERR_FORMAT, "ciphertext %zu: %u bytes, %zu left", i, len,
                              cg_reader_left(r));
        if (st == CG_OK) st = cg_bfv_ct_deserialize(s->he, r->p + r->pos, len, &cts[i], err);
        if (st != CG_OK) {
            gen_free_cts(cts, i);
            return st;
        }
        r->pos += len;
    }
    return CG_OK;
}

cg_status gen_move_cts(gen_sess *s, cg_party from, cg_bfv_ct *cts, size_t n, cg_buf *msg,
                       cg_error *err)
{
    if (s->party == from) return gen_send_cts(s, msg, cts, n, err);
    CG_TRY(gen_recv_msg(s, msg, n, err));
    cg_reader rd;
    cg_reader_init(&rd, msg->data, msg->len);
    CG_TRY(gen_get_cts(s, &rd, cts, n, err));
    if (cg_reader_left(&rd) != 0) {
        gen_free_cts(cts, n);
        return cg_error_set(err, CG_ERR_FORMAT, "trailing bytes after %zu ciphertexts", n);
    }
    return CG_OK;
}

cg_status gen_recv_msg(gen_sess *s, cg_buf *b, size_t max_cts, cg_error *err)
{
    /* A size-2 ciphertext at the top level, bit-packed, plus framing. */
    size_t per = 2 * cg_bfv_nq(s->he) * s->N * 8 + 256;
    cg_buf_reset(b);
    return cg_chan_recv_msg_buf(s->ch, b, 64 + max_cts * per, err);
}

cg_status gen_encode(gen_sess *s, const int64_t *coeffs, cg_bfv_plain *pt, cg_error *err)
{
    if (!pt->coeffs) CG_TRY(cg_bfv_plain_alloc(s->he, pt, err));
    return cg_bfv_encode_coeff(s->he, coeffs, s->N, pt, err);
}

cg_status gen_decrypt(gen_sess *s, const cg_bfv_ct *ct, uint64_t *coeffs, cg_error *err)
{
    cg_bfv_plain pt = {0};
    cg_status st = cg_bfv_plain_alloc(s->he, &pt, err);
    if (st == CG_OK) st = cg_bfv_decrypt(s->he, &s->sk, ct, &pt, err);
    if (st == CG_OK)
        for (size_t i = 0; i < s->N; i++) coeffs[i] = pt.coeffs[i] & s->mask;
    cg_bfv_plain_free(&pt);
    return st;
}

cg_status gen_mask(gen_sess *s, cg_bfv_ct *ct, uint64_t *mask, cg_error *err)
{
    cg_bfv_plain r = {0};
    cg_status st = cg_bfv_mask_and_flood(s->he, &s->pk, ct, CG_GEN_FLOOD_BITS, &r, err);
    if (st == CG_OK)
        for (size_t i = 0; i < s->N; i++) mask[i] = r.coeffs[i] & s->mask;
    cg_bfv_plain_free(&r);
    return st;
}

/* n_i (input chunk) minimising a cost model of one product: each ciphertext
 * sent costs about 15 fused products (encrypt/decrypt + transfer). */
void gen_plan(size_t N, size_t in, size_t out, size_t *ni, size_t *no)
{
    double best = 1e300;
    for (size_t a = 1; a <= in && a <= N; a++) {
        size_t b = N / a < out ? N / a : out;
        double cin = (double)((in + a - 1) / a), cout = (double)((out + b - 1) / b);
        double cost = 15.0 * (cin + cout) + cin * cout;
        if (cost < best) best = cost, *ni = a, *no = b;
    }
}

cg_status gen_encode_block(const cg_bfv_ctx *he, const int32_t *w, size_t so, size_t si,
                           size_t in, size_t out, size_t ni, size_t no, size_t a, size_t c,
                           int64_t *co, cg_bfv_plain *pt, cg_bfv_plain_ntt *dst, cg_error *err)
{
    const size_t N = cg_bfv_n(he);
    const size_t o_n = (c + 1) * no <= out ? no : out - c * no;
    const size_t j_n = (a + 1) * ni <= in ? ni : in - a * ni;
    memset(co, 0, N * sizeof *co);
    for (size_t o = 0; o < o_n; o++)
        for (size_t j = 0; j < j_n; j++)
            co[o * ni + ni - 1 - j] = w[(c * no + o) * so + (a * ni + j) * si];
    if (!pt->coeffs) CG_TRY(cg_bfv_plain_alloc(he, pt, err));
    CG_TRY(cg_bfv_encode_coeff(he, co, N, pt, err));
    cg_bfv_plain_ntt_free(dst);
    return cg_bfv_plain_to_ntt(he, pt, cg_bfv_nq(he), dst, err);
}

typedef struct lin_job {
    const int32_t *w;
    size_t so, si, in, out, rows, ni, no, cin, cout;
    const int64_t *b;
    const uint64_t *x;
    uint64_t *y;
    cg_bfv_ct *ins, *outs;
    const cg_bfv_plain_ntt *pre;    /* cin * cout blocks, or NULL */
    const cg_bfv_plain_ntt *window; /* encode-as-you-go: the current row block's cin */
} lin_job;

/* Input chunk a of row r: the client encrypts its share, the server adds
 * its own (x NULL: an all-zero share) and goes to NTT form. */
static cg_status lin_in_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    lin_job *j = ctx;
    const size_t r = i / j->cin, a = i % j->cin, N = s->N;
    cg_bfv_ct *ct = &j->ins[i];
    if (s->party == CG_SERVER && !j->x) return cg_bfv_to_ntt(s->he, ct, err);
    int64_t *co = cg_calloc(N, sizeof *co);
    cg_bfv_plain pt = {0};
    if (!co) return cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    for (size_t k = 0; k < j->ni && a * j->ni + k < j->in; k++)
        co[k] = gen_centre(s, j->x[r * j->in + a * j->ni + k]);
    cg_status st = gen_encode(s, co, &pt, err);
    if (st == CG_OK && s->party == CG_CLIENT) st = cg_bfv_encrypt_sk(s->he, &s->sk, &pt, ct, err);
    if (st == CG_OK && s->party == CG_SERVER) st = cg_bfv_add_plain(s->he, ct, &pt, err);
    if (st == CG_OK && s->party == CG_SERVER) st = cg_bfv_to_ntt(s->he, ct, err);
    cg_free(co);
    cg_bfv_plain_free(&pt);
    return st;
}

/* Output block c of row r: the server's fused products, bias, mask (its
 * share) with pre-encoded weights; the client's share from decryption. */
static cg_status lin_out_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    lin_job *j = ctx;
    const size_t r = i / j->cout, c = i % j->cout, N = s->N;
    const size_t o_n = (c + 1) * j->no <= j->out ? j->no : j->out - c * j->no;
    uint64_t *vals = cg_alloc(N * sizeof *vals);
    if (!vals) return cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    cg_status st = CG_OK;
    cg_bfv_ct *oc = &j->outs[i];
    if (s->party == CG_CLIENT) {
        st = gen_decrypt(s, oc, vals, err);
    } else {
        const cg_bfv_ct **inp = cg_calloc(j->cin, sizeof *inp);
        const cg_bfv_plain_ntt **wpp = cg_calloc(j->cin, sizeof *wpp);
        int64_t *co = cg_calloc(N, sizeof *co);
        cg_bfv_plain pt = {0};
        if (!inp || !wpp || !co) st = cg_error_set(err, CG_ERR_NOMEM, "linear layer");
        for (size_t a = 0; st == CG_OK && a < j->cin; a++) {
            inp[a] = &j->ins[r * j->cin + a];
            wpp[a] = j->window ? &j->window[a] : &j->pre[c * j->cin + a];
        }
        if (st == CG_OK) st = cg_bfv_mac_plain(s->he, inp, wpp, j->cin, oc, err);
        if (st == CG_OK && j->b) {
            for (size_t o = 0; o < o_n; o++) co[o * j->ni + j->ni - 1] = j->b[c * j->no + o];
            st = gen_encode(s, co, &pt, err);
            if (st == CG_OK) st = cg_bfv_add_plain(s->he, oc, &pt, err);
        }
        if (st == CG_OK) st = gen_mask(s, oc, vals, err);
        cg_free(inp);
        cg_free(wpp);
        cg_free(co);
        cg_bfv_plain_free(&pt);
    }
    for (size_t o = 0; st == CG_OK && o < o_n; o++)
        j->y[r * j->out + c * j->no + o] = vals[o * j->ni + j->ni - 1];
    cg_free(vals);
    return st;
}

/* Without pre-encoded weights: each row block's plaintexts are encoded once
 * and used for every row (sequential; the products thread inside mac). */
static cg_status lin_server_encode_as_you_go(gen_sess *s, lin_job *j, cg_error *err)
{
    const size_t N = s->N;
    cg_bfv_plain_ntt *wp = cg_calloc(j->cin, sizeof *wp);
    int64_t *co = cg_alloc(N * sizeof *co);
    cg_bfv_plain pt = {0};
    cg_status st = wp && co ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    for (size_t c = 0; st == CG_OK && c < j->cout; c++) {
        for (size_t a = 0; st == CG_OK && a < j->cin; a++)
            st = gen_encode_block(s->he, j->w, j->so, j->si, j->in, j->out, j->ni, j->no, a, c, co,
                                  &pt, &wp[a], err);
        lin_job one = *j;
        one.window = wp;
        for (size_t r = 0; st == CG_OK && r < j->rows; r++)
            st = lin_out_item(s, &one, r * j->cout + c, err);
    }
    for (size_t a = 0; wp && a < j->cin; a++) cg_bfv_plain_ntt_free(&wp[a]);
    cg_free(wp);
    cg_free(co);
    cg_bfv_plain_free(&pt);
    return st;
}

cg_status gen_linear(gen_sess *s, const int32_t *w, size_t so, size_t si, const int64_t *b,
                     size_t in, size_t out, size_t rows, const uint64_t *x, uint64_t *y,
                     cg_error *err)
{
    lin_job j = {.w = w, .so = so, .si = si, .in = in, .out = out, .rows = rows, .b = b, .x = x, .y = y};
    gen_plan(s->N, in, out, &j.ni, &j.no);
    j.cin = (in + j.ni - 1) / j.ni;
    j.cout = (out + j.no - 1) / j.no;
    j.pre = s->party == CG_SERVER && s->opt ? gen_weights_find(s->opt->weights, s->he, w) : NULL;
    const size_t n_in = rows * j.cin, n_out = rows * j.cout;
    j.ins = cg_calloc(n_in, sizeof *j.ins);
    j.outs = cg_calloc(n_out, sizeof *j.outs);
    cg_buf msg;
    cg_buf_init(&msg);
    cg_status st = j.ins && j.outs ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "linear layer");
    /* Client: encrypt, send, receive, decrypt. Server: receive, add its
     * share, multiply and mask, send. */
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_parallel(s, n_in, lin_in_item, &j, err);
    if (st == CG_OK) st = gen_move_cts(s, CG_CLIENT, j.ins, n_in, &msg, err);
    if (st == CG_OK && s->party == CG_SERVER) {
        st = gen_parallel(s, n_in, lin_in_item, &j, err);
        if (st == CG_OK)
            st = j.pre ? gen_parallel(s, n_out, lin_out_item, &j, err)
                       : lin_server_encode_as_you_go(s, &j, err);
    }
    if (st == CG_OK) st = gen_move_cts(s, CG_SERVER, j.outs, n_out, &msg, err);
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_parallel(s, n_out, lin_out_item, &j, err);
    gen_free_cts(j.ins, n_in);
    gen_free_cts(j.outs, n_out);
    cg_free(j.ins);
    cg_free(j.outs);
    cg_buf_free(&msg);
    return st;
}

/* ---- Pre-encoded weights ----------------------------------------------------------- */

typedef struct enc_matrix {
    const int32_t *w;
    size_t count;
    cg_bfv_plain_ntt *blocks;
} enc_matrix;

struct cg_gen_weights {
    uint8_t fingerprint[32];
    size_t nmat;
    enc_matrix *mats;
    uint64_t bytes;
};

typedef struct mat_desc {
    const int32_t *w;
    size_t so, si, in, out;
} mat_desc;

typedef struct enc_job {
    const cg_bfv_ctx *he;
    mat_desc m;
    size_t ni, no, cin;
    cg_bfv_plain_ntt *blocks;
    cg_status st;
} enc_job;

static void enc_range(void *ctx, size_t begin, size_t end)
{
    enc_job *j = ctx;
    const size_t N = cg_bfv_n(j->he);
    int64_t *co = cg_alloc(N * sizeof *co);
    cg_bfv_plain pt = {0};
    cg_error err = {0};
    cg_status st = co ? CG_OK : CG_ERR_NOMEM;
    for (size_t k = begin; st == CG_OK && k < end; k++)
        st = gen_encode_block(j->he, j->m.w, j->m.so, j->m.si, j->m.in, j->m.out, j->ni, j->no,
                              k % j->cin, k / j->cin, co, &pt, &j->blocks[k], &err);
    if (st != CG_OK) j->st = st; /* any failure is reported as a whole */
    cg_free(co);
    cg_bfv_plain_free(&pt);
}

static int by_size_desc(const void *a, const void *b)
{
    const mat_desc *x = a, *y = b;
    size_t sx = x->in * x->out, sy = y->in * y->out;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

void cg_gen_weights_free(cg_gen_weights *ws)
{
    if (!ws) return;
    for (size_t i = 0; i < ws->nmat; i++) {
        for (size_t k = 0; k < ws->mats[i].count && ws->mats[i].blocks; k++)
            cg_bfv_plain_ntt_free(&ws->mats[i].blocks[k]);
        cg_free(ws->mats[i].blocks);
    }
    cg_free(ws->mats);
    cg_free(ws);
}

uint64_t cg_gen_weights_bytes(const cg_gen_weights *ws) { return ws ? ws->bytes : 0; }

cg_status cg_gen_weights_new(cg_gen_weights **out, const cg_fixed_model *fm, const char *preset,
                             uint64_t max_bytes, int threads, cg_error *err)
{
    *out = NULL;
    cg_bfv_spec spec;
    CG_TRY(cg_bfv_preset(preset, &spec, err));
    spec.t = 1ull << fm->fx.act.ring_bits;
    cg_bfv_ctx *he = NULL;
    CG_TRY(cg_bfv_ctx_new(&he, &spec, err));
    const size_t d = fm->cfg.n_embd, V = fm->cfg.vocab_size, L = fm->cfg.n_layer;
    const size_t nm = 2 + 4 * L;
    mat_desc *md = cg_calloc(nm, sizeof *md);
    cg_gen_weights *ws = cg_calloc(1, sizeof *ws);
    cg_status st = md && ws ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "weights");
    if (st == CG_OK) {
        /* the same (w, strides, shape) the protocol passes to gen_linear */
        md[0] = (mat_desc){fm->emb, 1, d, V, d};
        md[1] = (mat_desc){fm->head_w, d, 1, d, V};
        for (size_t l = 0; l < L; l++) {
            const cg_fixed_layer *y = &fm->layers[l];
            md[2 + 4 * l] = (mat_desc){y->qkv_w, d, 1, d, 3 * d};
            md[3 + 4 * l] = (mat_desc){y->proj_w, d, 1, d, d};
            md[4 + 4 * l] = (mat_desc){y->fc_w, d, 1, d, 4 * d};
            md[5 + 4 * l] = (mat_desc){y->fc2_w, 4 * d, 1, 4 * d, d};
        }
        qsort(md, nm, sizeof *md, by_size_desc);
        ws->mats = cg_calloc(nm, sizeof *ws->mats);
        if (!ws->mats) st = cg_error_set(err, CG_ERR_NOMEM, "weights");
        memcpy(ws->fingerprint, cg_bfv_fingerprint(he), 32);
    }
    const size_t N = cg_bfv_n(he), per = cg_bfv_nq(he) * N * sizeof(uint64_t);
    for (size_t i = 0; st == CG_OK && i < nm; i++) {
        size_t ni, no;
        gen_plan(N, md[i].in, md[i].out, &ni, &no);
        size_t cin = (md[i].in + ni - 1) / ni, cout = (md[i].out + no - 1) / no;
        if (ws->bytes + (uint64_t)(cin * cout * per) > max_bytes) continue;
        enc_job j = {he, md[i], ni, no, cin, cg_calloc(cin * cout, sizeof(cg_bfv_plain_ntt)), CG_OK};
        if (!j.blocks) {
            st = cg_error_set(err, CG_ERR_NOMEM, "weights");
            break;
        }
        ws->mats[ws->nmat++] = (enc_matrix){md[i].w, cin * cout, j.blocks};
        if (cg_parallel_for(threads, cin * cout, enc_range, &j) != CG_OK) enc_range(&j, 0, cin * cout);
        if (j.st != CG_OK) st = cg_error_set(err, j.st, "encoding weights");
        ws->bytes += (uint64_t)(cin * cout * per);
    }
    cg_free(md);
    cg_bfv_ctx_free(he);
    if (st != CG_OK) {
        cg_gen_weights_free(ws);
        return st;
    }
    *out = ws;
    return CG_OK;
}

const cg_bfv_plain_ntt *gen_weights_find(const cg_gen_weights *ws, const cg_bfv_ctx *he,
                                         const int32_t *w)
{
    if (!ws || !w || memcmp(ws->fingerprint, cg_bfv_fingerprint(he), 32) != 0) return NULL;
    for (size_t i = 0; i < ws->nmat; i++)
        if (ws->mats[i].w == w) return ws->mats[i].blocks;
    return NULL;
}
