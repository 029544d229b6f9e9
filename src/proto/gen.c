/* Secure generation: handshake, keys, and the per-step schedule both parties
 * run in lockstep (docs/PROTOCOL.md). Shares live in Z_{2^l}; BFV uses
 * t = 2^l with coefficient encoding, so HE -> share is a mask over all
 * coefficients and share -> HE is the client encrypting its share and the
 * server adding its own: no conversion between moduli anywhere.
 *
 * Encrypted KV cache, per layer and head, B = N / dh positions per
 * ciphertext:
 *   K block: position j of the block at x^(j dh + i), i < dh. A query q
 *     encrypted as q[i] at x^(dh - 1 - i) gives score_j at x^(j dh + dh - 1)
 *     of K * q.
 *   V block: v_j[i] at x^(i B + B - 1 - j). Probabilities p_j at x^j give
 *     sum_j p_j v_j[i] at x^(i B + B - 1) of V * p; blocks are summed.
 * A new position is appended by adding an encryption that is zero
 * everywhere else (client's share encrypted, server's share added). */
#include <math.h>
#include <string.h>

#include <sodium.h>

#include "proto/proto_internal.h"

#define GEN_MAGIC 0x4e454743u /* "CGEN" */

/* ---- Reporting --------------------------------------------------------------- */

static void step_begin(gen_sess *s, size_t step)
{
    memset(&s->rep, 0, sizeof s->rep);
    s->rep.step = step;
    cg_chan_reset_stats(s->ch);
}

static void step_end(gen_sess *s, size_t length, uint64_t t0)
{
    cg_chan_stats cs;
    cg_chan_get_stats(s->ch, &cs);
    for (size_t i = 0; i < cs.nphases; i++)
        for (int p = 0; p < CG_PART_COUNT; p++)
            if (strcmp(cs.phase_name[i], cg_gen_part_name((cg_gen_part)p)) == 0) {
                s->rep.bytes_sent[p] += cs.phase[i].bytes_sent;
                s->rep.bytes_received[p] += cs.phase[i].bytes_received;
                s->rep.rounds[p] += cs.phase[i].rounds;
            }
    s->rep.total_sent = cs.total.bytes_sent;
    s->rep.total_received = cs.total.bytes_received;
    s->rep.total_rounds = cs.total.rounds;
    s->rep.total_seconds = (double)(cg_now_ns() - t0) * 1e-9;
    s->rep.length = length;
    if (s->rep.step == 0) {
        s->rep.setup_seconds = (double)(t0 - s->setup_t0) * 1e-9;
        s->rep.setup_sent = s->setup.bytes_sent;
        s->rep.setup_received = s->setup.bytes_received;
    }
    if (s->party == CG_SERVER) {
        size_t nct = (size_t)s->cfg.n_layer * s->H * s->max_blocks;
        for (size_t i = 0; i < nct; i++) {
            const cg_bfv_ct *cs2[2] = {&s->kc[i], &s->vc[i]};
            for (int k = 0; k < 2; k++)
                if (cs2[k]->data) {
                    s->rep.cache_cts++;
                    s->rep.cache_bytes += cs2[k]->size * cs2[k]->level * s->N * sizeof(uint64_t);
                }
        }
    }
    if (s->opt && s->opt->on_step) s->opt->on_step(s->opt->on_step_ctx, &s->rep);
}

/* ---- Session set-up ------------------------------------------------------------- */

static void sess_free(gen_sess *s)
{
    size_t nct = (size_t)s->cfg.n_layer * s->H * s->max_blocks;
    gen_free_cts(s->kc, nct);
    gen_free_cts(s->vc, nct);
    cg_free(s->kc);
    cg_free(s->vc);
    cg_free(s->k_appends);
    cg_free(s->v_appends);
    cg_mpc_free(s->mpc);
    cg_bfv_sk_free(&s->sk);
    cg_bfv_pk_free(&s->pk);
    cg_bfv_ksk_free(&s->rk);
    cg_bfv_ctx_free(s->he);
    sodium_memzero(s, sizeof *s); /* the sampling seed and key pointers */
}

/* Shapes both sides derive from the public configuration; checked so that a
 * peer's numbers cannot make the layout overlap. */
static cg_status sess_shapes(gen_sess *s, cg_error *err)
{
    CG_TRY(cg_gpt2_config_check(&s->cfg, err));
    s->d = s->cfg.n_embd;
    s->H = s->cfg.n_head;
    s->dh = s->d / s->H;
    s->V = s->cfg.vocab_size;
    s->l = s->fx.act.ring_bits;
    if (s->l < 24 || s->l > 48 || s->fx.act.frac_bits < 4 || s->fx.weight_frac < 4 ||
        (unsigned)s->fx.act.frac_bits + s->fx.weight_frac + 2 >= s->l)
        return cg_error_set(err, CG_ERR_PARAM, "fixed-point format l=%u s=%u w=%u not supported",
                            s->l, s->fx.act.frac_bits, s->fx.weight_frac);
    if (s->score_shift > 8 || (s->score_shift == 0) == (s->score_mul == 0) || s->score_mul < 0 ||
        s->score_mul > (1 << 20))
        return cg_error_set(err, CG_ERR_PARAM, "bad attention scale");
    s->mask = (1ull << s->l) - 1;
    cg_bfv_spec spec;
    CG_TRY(cg_bfv_preset(s->req.he_preset, &spec, err));
    spec.t = 1ull << s->l;
    CG_TRY(cg_bfv_ctx_new(&s->he, &spec, err));
    cg_bfv_set_threads(s->he, s->threads);
    s->N = cg_bfv_n(s->he);
    if (s->dh == 0 || s->dh > s->N || s->N % s->dh != 0)
        return cg_error_set(err, CG_ERR_PARAM, "head size %zu does not divide n = %zu", s->dh, s->N);
    s->B = s->N / s->dh;
    if (s->req.block_positions > s->B)
        return cg_error_set(err, CG_ERR_PARAM, "%u positions per cache ciphertext, at most %zu fit",
                            s->req.block_positions, s->B);
    if (s->req.block_positions) s->B = s->req.block_positions;
    if (s->req.prompt_len < 1 || s->req.new_tokens < 1 ||
        (uint64_t)s->req.bench_fill + s->req.prompt_len + s->req.new_tokens > s->cfg.n_positions)
        return cg_error_set(err, CG_ERR_ARG, "%u filled + prompt %u + %u new tokens exceed %u positions",
                            s->req.bench_fill, s->req.prompt_len, s->req.new_tokens, s->cfg.n_positions);
    if (s->req.temperature_milli && (s->req.temperature_milli < 100 || s->req.temperature_milli > 100000))
        return cg_error_set(err, CG_ERR_ARG, "temperature %.3f outside [0.1, 100]",
                            s->req.temperature_milli / 1000.0);
    if (s->req.bench_fill && !s->req.use_cache)
        return cg_error_set(err, CG_ERR_ARG, "a benchmark fill needs the cache mode");
    s->max_blocks = (s->req.bench_fill + s->req.prompt_len + s->req.new_tokens + s->B - 1) / s->B;
    if (s->party == CG_SERVER && s->opt && s->opt->max_cache_bytes) {
        /* every block of K and V, at the top level, size 2 */
        double need = 2.0 * s->cfg.n_layer * (double)s->H * (double)s->max_blocks * 2.0 *
                      (double)cg_bfv_nq(s->he) * (double)s->N * 8.0;
        if (need > (double)s->opt->max_cache_bytes)
            return cg_error_set(err, CG_ERR_PARAM,
                                "this request needs a %.0f MB cache, the server allows %.0f MB",
                                need / 1e6, (double)s->opt->max_cache_bytes / 1e6);
    }
    return CG_OK;
}

static cg_status client_handshake(gen_sess *s, cg_error *err)
{
    cg_buf b;
    cg_buf_init(&b);
    cg_buf_put_u32(&b, GEN_MAGIC);
    cg_buf_put_u16(&b, CG_GEN_VERSION);
    cg_buf_put(&b, s->req.he_preset, sizeof s->req.he_preset);
    cg_buf_put_u8(&b, s->req.use_cache);
    cg_buf_put_u32(&b, s->req.prompt_len);
    cg_buf_put_u32(&b, s->req.new_tokens);
    cg_buf_put_u32(&b, s->req.block_positions);
    cg_buf_put_u32(&b, s->req.bench_fill);
    cg_buf_put_u32(&b, s->req.temperature_milli);
    cg_buf_put_u32(&b, s->req.refresh_every);
    cg_status st = cg_chan_send_msg(s->ch, b.data, b.len, err);
    if (st == CG_OK) st = cg_chan_recv_msg_buf(s->ch, &b, 4096, err);
    cg_reader r;
    cg_reader_init(&r, b.data, b.len);
    uint8_t ok = 0;
    if (st == CG_OK) st = cg_read_u8(&r, &ok, "handshake status", err);
    if (st == CG_OK && !ok) {
        char msg[256] = {0};
        size_t n = cg_reader_left(&r) < sizeof msg - 1 ? cg_reader_left(&r) : sizeof msg - 1;
        cg_read_bytes(&r, msg, n, "reason", err);
        st = cg_error_set(err, CG_ERR_PARAM, "server refused: %s", msg);
    }
    uint32_t v[5];
    uint8_t fx[4];
    uint64_t mul = 0;
    for (int i = 0; st == CG_OK && i < 5; i++) st = cg_read_u32(&r, &v[i], "model shape", err);
    for (int i = 0; st == CG_OK && i < 4; i++) st = cg_read_u8(&r, &fx[i], "fixed-point format", err);
    if (st == CG_OK) st = cg_read_u64(&r, &mul, "attention scale", err);
    if (st == CG_OK) st = cg_read_bytes(&r, s->server_seed, sizeof s->server_seed, "server seed", err);
    cg_buf_free(&b);
    if (st != CG_OK) return st;
    /* Sampling noise from both halves: unbiased if either side's generator
     * is; the server never learns it (it lacks the client's half). */
    uint8_t mine[32];
    randombytes_buf(mine, sizeof mine);
    crypto_generichash_state h;
    crypto_generichash_init(&h, NULL, 0, sizeof s->sample_seed);
    crypto_generichash_update(&h, mine, sizeof mine);
    crypto_generichash_update(&h, s->server_seed, sizeof s->server_seed);
    crypto_generichash_final(&h, s->sample_seed, sizeof s->sample_seed);
    sodium_memzero(mine, sizeof mine);
    sodium_memzero(&h, sizeof h);
    s->cfg = (cg_gpt2_config){.n_layer = v[0], .n_head = v[1], .n_embd = v[2],
                              .n_positions = v[3], .vocab_size = v[4], .ln_eps = 1e-5f};
    s->fx = (cg_fixed_config){.act = {.ring_bits = fx[0], .frac_bits = fx[1]}, .weight_frac = fx[2]};
    s->score_shift = fx[3];
    s->score_mul = (int64_t)mul;
    return sess_shapes(s, err);
}

static cg_status refuse(gen_sess *s, cg_status st, cg_error *err)
{
    cg_buf b;
    cg_buf_init(&b);
    cg_buf_put_u8(&b, 0);
    cg_buf_put(&b, err->msg, strlen(err->msg));
    cg_error ignore = {0};
    if (cg_chan_send_msg(s->ch, b.data, b.len, &ignore) == CG_OK) cg_chan_flush(s->ch, &ignore);
    cg_buf_free(&b);
    return st;
}

static cg_status server_handshake(gen_sess *s, cg_error *err)
{
    cg_buf b;
    cg_buf_init(&b);
    cg_status st = cg_chan_recv_msg_buf(s->ch, &b, 4096, err);
    cg_reader r;
    cg_reader_init(&r, b.data, b.len);
    uint32_t magic = 0;
    uint16_t ver = 0;
    uint8_t cache = 0;
    if (st == CG_OK) st = cg_read_u32(&r, &magic, "magic", err);
    if (st == CG_OK) st = cg_read_u16(&r, &ver, "version", err);
    if (st == CG_OK && (magic != GEN_MAGIC || ver != CG_GEN_VERSION))
        st = cg_error_set(err, CG_ERR_FORMAT, "client speaks version %u of %08x; this server %u",
                          ver, magic, CG_GEN_VERSION);
    if (st == CG_OK) st = cg_read_bytes(&r, s->req.he_preset, sizeof s->req.he_preset, "preset", err);
    if (st == CG_OK) st = cg_read_u8(&r, &cache, "mode", err);
    if (st == CG_OK) st = cg_read_u32(&r, &s->req.prompt_len, "prompt length", err);
    if (st == CG_OK) st = cg_read_u32(&r, &s->req.new_tokens, "token count", err);
    if (st == CG_OK) st = cg_read_u32(&r, &s->req.block_positions, "block size", err);
    if (st == CG_OK) st = cg_read_u32(&r, &s->req.bench_fill, "benchmark fill", err);
    if (st == CG_OK) st = cg_read_u32(&r, &s->req.temperature_milli, "temperature", err);
    if (st == CG_OK) st = cg_read_u32(&r, &s->req.refresh_every, "refresh knob", err);
    cg_buf_free(&b);
    if (st != CG_OK) return st == CG_ERR_FORMAT ? refuse(s, st, err) : st;
    s->req.he_preset[sizeof s->req.he_preset - 1] = '\0';
    s->req.use_cache = cache != 0;
    s->cfg = s->fm->cfg;
    s->fx = s->fm->fx;
    s->score_shift = s->fm->score_shift;
    s->score_mul = s->fm->score_mul;
    st = sess_shapes(s, err);
    if (st != CG_OK) return refuse(s, st, err);
    cg_buf_init(&b);
    cg_buf_put_u8(&b, 1);
    cg_buf_put_u32(&b, s->cfg.n_layer);
    cg_buf_put_u32(&b, s->cfg.n_head);
    cg_buf_put_u32(&b, s->cfg.n_embd);
    cg_buf_put_u32(&b, s->cfg.n_positions);
    cg_buf_put_u32(&b, s->cfg.vocab_size);
    cg_buf_put_u8(&b, s->fx.act.ring_bits);
    cg_buf_put_u8(&b, s->fx.act.frac_bits);
    cg_buf_put_u8(&b, s->fx.weight_frac);
    cg_buf_put_u8(&b, (uint8_t)s->score_shift);
    cg_buf_put_u64(&b, (uint64_t)s->score_mul);
    /* the server's half of the sampling randomness */
    randombytes_buf(s->server_seed, sizeof s->server_seed);
    cg_buf_put(&b, s->server_seed, sizeof s->server_seed);
    st = cg_chan_send_msg(s->ch, b.data, b.len, err);
    cg_buf_free(&b);
    return st;
}

/* Client: fresh keys; the public and relinearisation keys go to the server. */
static cg_status exchange_keys(gen_sess *s, cg_error *err)
{
    cg_buf b, one;
    cg_buf_init(&b);
    cg_buf_init(&one);
    cg_status st = CG_OK;
    if (s->party == CG_CLIENT) {
        st = cg_bfv_keygen(s->he, &s->sk, &s->pk, err);
        if (st == CG_OK) st = cg_bfv_keygen_relin(s->he, &s->sk, &s->rk, err);
        if (st == CG_OK) st = cg_bfv_pk_serialize(s->he, &s->pk, &one, err);
        if (st == CG_OK) {
            cg_buf_put_u32(&b, (uint32_t)one.len);
            cg_buf_put(&b, one.data, one.len);
            cg_buf_reset(&one);
            st = cg_bfv_ksk_serialize(s->he, &s->rk, &one, err);
        }
        if (st == CG_OK) {
            cg_buf_put_u32(&b, (uint32_t)one.len);
            cg_buf_put(&b, one.data, one.len);
            st = cg_chan_send_msg(s->ch, b.data, b.len, err);
        }
    } else {
        size_t max = 64u << 20;
        st = cg_chan_recv_msg_buf(s->ch, &b, max, err);
        cg_reader r;
        cg_reader_init(&r, b.data, b.len);
        uint32_t len = 0;
        if (st == CG_OK) st = cg_read_u32(&r, &len, "public key length", err);
        if (st == CG_OK && len > cg_reader_left(&r))
            st = cg_error_set(err, CG_ERR_FORMAT, "public key truncated");
        if (st == CG_OK) st = cg_bfv_pk_deserialize(s->he, r.p + r.pos, len, &s->pk, err);
        if (st == CG_OK) r.pos += len;
        if (st == CG_OK) st = cg_read_u32(&r, &len, "relinearisation key length", err);
        if (st == CG_OK && len != cg_reader_left(&r))
            st = cg_error_set(err, CG_ERR_FORMAT, "relinearisation key: %u bytes, %zu sent", len,
                              cg_reader_left(&r));
        if (st == CG_OK) st = cg_bfv_ksk_deserialize(s->he, r.p + r.pos, len, &s->rk, err);
    }
    cg_buf_free(&b);
    cg_buf_free(&one);
    return st;
}

static cg_status sess_alloc_cache(gen_sess *s, cg_error *err)
{
    size_t nct = (size_t)s->cfg.n_layer * s->H * s->max_blocks;
    s->kc = cg_calloc(nct, sizeof *s->kc);
    s->vc = cg_calloc(nct, sizeof *s->vc);
    s->k_appends = cg_calloc(nct, sizeof *s->k_appends);
    s->v_appends = cg_calloc(nct, sizeof *s->v_appends);
    if (!s->kc || !s->vc || !s->k_appends || !s->v_appends)
        return cg_error_set(err, CG_ERR_NOMEM, "KV cache");
    return CG_OK;
}

static void cache_clear(gen_sess *s)
{
    size_t nct = (size_t)s->cfg.n_layer * s->H * s->max_blocks;
    if (!s->kc) return;
    gen_free_cts(s->kc, nct);
    gen_free_cts(s->vc, nct);
    memset(s->k_appends, 0, nct * sizeof *s->k_appends);
    memset(s->v_appends, 0, nct * sizeof *s->v_appends);
}

/* ---- Share helpers ---------------------------------------------------------------- */

static cg_status trunc_exact(gen_sess *s, size_t n, uint64_t *x, unsigned shift, cg_error *err)
{
    return cg_mpc_trunc_exact(s->mpc, s->l, shift, n, x, x, err);
}

static void add_shares(gen_sess *s, size_t n, uint64_t *x, const uint64_t *y)
{
    for (size_t i = 0; i < n; i++) x[i] = (x[i] + y[i]) & s->mask;
}

/* ---- Attention with the encrypted cache ----------------------------------------- */

/* Coefficient layouts (see the top of the file). */
static void layout_kv(const gen_sess *s, int kv, size_t g, const uint64_t *src, int64_t *co)
{
    const size_t j = g % s->B;
    memset(co, 0, s->N * sizeof *co);
    for (size_t i = 0; i < s->dh; i++)
        co[kv == 0 ? j * s->dh + i : i * s->B + s->B - 1 - j] = gen_centre(s, src[i]);
}

static void layout_q(const gen_sess *s, const uint64_t *q, int64_t *co)
{
    memset(co, 0, s->N * sizeof *co);
    for (size_t i = 0; i < s->dh; i++) co[s->dh - 1 - i] = gen_centre(s, q[i]);
}

static void layout_p(const gen_sess *s, const uint64_t *p, size_t block, size_t len, int64_t *co)
{
    memset(co, 0, s->N * sizeof *co);
    for (size_t j = 0; j < s->B && block * s->B + j < len; j++)
        co[j] = gen_centre(s, p[block * s->B + j]);
}

/* Client: encrypt a layout. Server: add its share's layout to ct. */
static cg_status put_share(gen_sess *s, const int64_t *co, cg_bfv_plain *pt, cg_bfv_ct *ct,
                           cg_error *err)
{
    CG_TRY(gen_encode(s, co, pt, err));
    if (s->party == CG_CLIENT) return cg_bfv_encrypt_sk(s->he, &s->sk, pt, ct, err);
    return cg_bfv_add_plain(s->he, ct, pt, err);
}

static cg_bfv_ct *cache_slot(gen_sess *s, int kv, size_t layer, size_t h, size_t block,
                             uint32_t **appends)
{
    size_t idx = (layer * s->H + h) * s->max_blocks + block;
    if (appends) *appends = (kv == 0 ? s->k_appends : s->v_appends) + idx;
    return (kv == 0 ? s->kc : s->vc) + idx;
}

/* The attention's ciphertexts and share matrices for one call; items of the
 * parallel loops index into them (score items k run over (row, head, block)
 * in that order). */
typedef struct attn {
    size_t layer, pos0, rows, cols, n_sc;
    const uint64_t *qkv;
    uint64_t *sc, *pr, *o; /* (row, head) x cols; (row, head) x cols; rows x d */
    cg_bfv_ct *app, *qct, *sct, *pct, *oct, *rct;
    size_t *k_row, *k_head, *k_block, *rh_first; /* per score item; first item of (r, h) */
    uint64_t **rmask;
    cg_bfv_ct **rslot;
    uint32_t **rcount;
} attn;

/* Per-item scratch: a coefficient vector and a plaintext. */
typedef struct scratch {
    int64_t *co;
    uint64_t *vals;
    cg_bfv_plain pt;
} scratch;

static cg_status scratch_new(const gen_sess *s, scratch *w, cg_error *err)
{
    memset(w, 0, sizeof *w);
    w->co = cg_alloc(s->N * sizeof *w->co);
    w->vals = cg_alloc(s->N * sizeof *w->vals);
    if (w->co && w->vals) return CG_OK;
    cg_free(w->co);
    cg_free(w->vals);
    return cg_error_set(err, CG_ERR_NOMEM, "scratch");
}

static void scratch_free(scratch *w)
{
    cg_free(w->co);
    cg_free(w->vals);
    cg_bfv_plain_free(&w->pt);
}

/* k_t / v_t share of (row, head) into its cache layout: encrypted by the
 * client, added in the clear by the server. Item i = (r H + h) 2 + kv. */
static cg_status append_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    attn *a = ctx;
    const size_t r = i / (2 * s->H), h = (i / 2) % s->H, kv = i % 2;
    scratch w;
    CG_TRY(scratch_new(s, &w, err));
    layout_kv(s, (int)kv, a->pos0 + r, a->qkv + r * 3 * s->d + (kv + 1) * s->d + h * s->dh, w.co);
    cg_status st = put_share(s, w.co, &w.pt, &a->app[i], err);
    scratch_free(&w);
    return st;
}

static cg_status query_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    attn *a = ctx;
    const size_t r = i / s->H, h = i % s->H;
    scratch w;
    CG_TRY(scratch_new(s, &w, err));
    layout_q(s, a->qkv + r * 3 * s->d + h * s->dh, w.co);
    cg_status st = put_share(s, w.co, &w.pt, &a->qct[i], err);
    scratch_free(&w);
    return st;
}

/* Shares of the scores of one (row, head, block) from its product. */
static void take_scores(gen_sess *s, attn *a, size_t k, const uint64_t *vals)
{
    const size_t r = a->k_row[k], h = a->k_head[k], bl = a->k_block[k];
    for (size_t j = 0; j < s->B && bl * s->B + j <= a->pos0 + r; j++)
        a->sc[(r * s->H + h) * a->cols + bl * s->B + j] = vals[j * s->dh + s->dh - 1];
}

static cg_status score_item(gen_sess *s, void *ctx, size_t k, cg_error *err)
{
    attn *a = ctx;
    scratch w;
    CG_TRY(scratch_new(s, &w, err));
    cg_status st = CG_OK;
    if (s->party == CG_SERVER) {
        st = cg_bfv_multiply(s->he, cache_slot(s, 0, a->layer, a->k_head[k], a->k_block[k], NULL),
                             &a->qct[a->k_row[k] * s->H + a->k_head[k]], &a->sct[k], err);
        if (st == CG_OK) st = cg_bfv_relinearize(s->he, &s->rk, &a->sct[k], err);
        if (st == CG_OK) st = gen_mask(s, &a->sct[k], w.vals, err);
    } else {
        st = gen_decrypt(s, &a->sct[k], w.vals, err);
    }
    if (st == CG_OK) take_scores(s, a, k, w.vals);
    scratch_free(&w);
    return st;
}

static cg_status prob_item(gen_sess *s, void *ctx, size_t k, cg_error *err)
{
    attn *a = ctx;
    const size_t r = a->k_row[k], h = a->k_head[k];
    scratch w;
    CG_TRY(scratch_new(s, &w, err));
    layout_p(s, a->pr + (r * s->H + h) * a->cols, a->k_block[k], a->pos0 + r + 1, w.co);
    cg_status st = put_share(s, w.co, &w.pt, &a->pct[k], err);
    scratch_free(&w);
    return st;
}

/* Server: sum over blocks of V x p for (row, head) i, relinearised once,
 * masked; client: its share from the returned ciphertext. */
static cg_status output_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    attn *a = ctx;
    const size_t r = i / s->H, h = i % s->H;
    scratch w;
    CG_TRY(scratch_new(s, &w, err));
    cg_status st = CG_OK;
    cg_bfv_ct *acc = &a->oct[i];
    if (s->party == CG_SERVER) {
        cg_bfv_ct prod = {0};
        size_t k = a->rh_first[i];
        for (size_t bl = 0; st == CG_OK && bl <= (a->pos0 + r) / s->B; bl++, k++) {
            st = cg_bfv_multiply(s->he, cache_slot(s, 1, a->layer, h, bl, NULL), &a->pct[k],
                                 bl == 0 ? acc : &prod, err);
            if (st == CG_OK && bl > 0) st = cg_bfv_add(s->he, acc, &prod, acc, err);
        }
        cg_bfv_ct_free(&prod);
        if (st == CG_OK) st = cg_bfv_relinearize(s->he, &s->rk, acc, err);
        if (st == CG_OK) st = gen_mask(s, acc, w.vals, err);
    } else {
        st = gen_decrypt(s, acc, w.vals, err);
    }
    for (size_t j = 0; st == CG_OK && j < s->dh; j++)
        a->o[r * s->d + h * s->dh + j] = w.vals[j * s->B + s->B - 1];
    scratch_free(&w);
    return st;
}

/* Client: a refreshed cache ciphertext decrypted and encrypted afresh. */
static cg_status refresh_item(gen_sess *s, void *ctx, size_t i, cg_error *err)
{
    attn *a = ctx;
    scratch w;
    CG_TRY(scratch_new(s, &w, err));
    cg_status st = gen_decrypt(s, &a->rct[i], w.vals, err);
    for (size_t c = 0; st == CG_OK && c < s->N; c++) w.co[c] = gen_centre(s, w.vals[c]);
    cg_bfv_ct_free(&a->rct[i]);
    if (st == CG_OK) st = gen_encode(s, w.co, &w.pt, err);
    if (st == CG_OK) st = cg_bfv_encrypt_sk(s->he, &s->sk, &w.pt, &a->rct[i], err);
    scratch_free(&w);
    return st;
}

static void attn_free(attn *a, size_t n_app, size_t n_q, size_t n_rmax)
{
    gen_free_cts(a->app, n_app);
    gen_free_cts(a->qct, n_q);
    gen_free_cts(a->sct, a->n_sc);
    gen_free_cts(a->pct, a->n_sc);
    gen_free_cts(a->oct, n_q);
    gen_free_cts(a->rct, n_rmax);
    for (size_t i = 0; a->rmask && i < n_rmax; i++) cg_free(a->rmask[i]);
    cg_free(a->app), cg_free(a->qct), cg_free(a->sct), cg_free(a->pct), cg_free(a->oct);
    cg_free(a->rct), cg_free(a->rmask), cg_free(a->rslot), cg_free(a->rcount);
    cg_free(a->k_row), cg_free(a->k_head), cg_free(a->k_block), cg_free(a->rh_first);
    cg_free(a->sc), cg_free(a->pr);
}

/* rows new positions pos0.. with qkv shares (rows x 3d, scale s): appends k
 * and v to the cache, and returns o = softmax(q K^T) V shares (rows x d,
 * scale 2s; the caller truncates). */
static cg_status attention(gen_sess *s, size_t layer, size_t pos0, size_t rows,
                           const uint64_t *qkv, uint64_t *o, cg_error *err)
{
    const size_t N = s->N, H = s->H, B = s->B;
    const size_t cols = pos0 + rows, nb_max = (cols - 1) / B + 1;
    const size_t n_app = 2 * rows * H, n_q = rows * H, n_rmax = 2 * H * nb_max;
    attn a = {.layer = layer, .pos0 = pos0, .rows = rows, .cols = cols, .qkv = qkv, .o = o};
    for (size_t r = 0; r < rows; r++) a.n_sc += H * ((pos0 + r) / B + 1);
    a.app = cg_calloc(n_app, sizeof(cg_bfv_ct));
    a.qct = cg_calloc(n_q, sizeof(cg_bfv_ct));
    a.sct = cg_calloc(a.n_sc, sizeof(cg_bfv_ct));
    a.pct = cg_calloc(a.n_sc, sizeof(cg_bfv_ct));
    a.oct = cg_calloc(n_q, sizeof(cg_bfv_ct));
    a.rct = cg_calloc(n_rmax, sizeof(cg_bfv_ct));
    a.rmask = cg_calloc(n_rmax, sizeof(uint64_t *));
    a.rslot = cg_calloc(n_rmax, sizeof(cg_bfv_ct *));
    a.rcount = cg_calloc(n_rmax, sizeof(uint32_t *));
    a.k_row = cg_alloc(a.n_sc * sizeof(size_t));
    a.k_head = cg_alloc(a.n_sc * sizeof(size_t));
    a.k_block = cg_alloc(a.n_sc * sizeof(size_t));
    a.rh_first = cg_alloc(n_q * sizeof(size_t));
    a.sc = cg_calloc(n_q * cols, sizeof(uint64_t));
    a.pr = cg_calloc(n_q * cols, sizeof(uint64_t));
    size_t *row_len = cg_alloc(n_q * sizeof *row_len);
    scratch w = {0};
    uint32_t n_rf = 0;
    cg_buf msg;
    cg_buf_init(&msg);
    cg_status st = (a.app && a.qct && a.sct && a.pct && a.oct && a.rct && a.rmask && a.rslot &&
                    a.rcount && a.k_row && a.k_head && a.k_block && a.rh_first && a.sc && a.pr &&
                    row_len)
                       ? scratch_new(s, &w, err)
                       : cg_error_set(err, CG_ERR_NOMEM, "attention");
    if (st == CG_OK) {
        size_t k = 0;
        for (size_t r = 0; r < rows; r++)
            for (size_t h = 0; h < H; h++) {
                row_len[r * H + h] = pos0 + r + 1;
                a.rh_first[r * H + h] = k;
                for (size_t bl = 0; bl <= (pos0 + r) / B; bl++, k++)
                    a.k_row[k] = r, a.k_head[k] = h, a.k_block[k] = bl;
            }
    }

    /* 1. Append k_t, v_t: the client's shares encrypted in place, the
     *    server's added, then a masked add into the current block (a new
     *    block starts as the appended ciphertext itself). */
    gen_part_begin(s, CG_PART_KV_APPEND);
    if (st == CG_OK && s->party == CG_SERVER) st = gen_move_cts(s, CG_CLIENT, a.app, n_app, &msg, err);
    if (st == CG_OK) st = gen_parallel(s, n_app, append_item, &a, err);
    for (size_t i = 0; st == CG_OK && s->party == CG_SERVER && i < n_app; i++) {
        const size_t r = i / (2 * H), h = (i / 2) % H;
        uint32_t *cnt;
        cg_bfv_ct *slot = cache_slot(s, (int)(i % 2), layer, h, (pos0 + r) / B, &cnt);
        if (slot->data) {
            st = cg_bfv_add(s->he, slot, &a.app[i], slot, err);
        } else {
            *slot = a.app[i];
            memset(&a.app[i], 0, sizeof a.app[i]);
        }
        (*cnt)++;
    }
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_move_cts(s, CG_CLIENT, a.app, n_app, &msg, err);
    gen_part_end(s);

    /* 2. Scores: encrypted query times each K block, relinearised, masked. */
    gen_part_begin(s, CG_PART_QK);
    if (st == CG_OK && s->party == CG_SERVER) st = gen_move_cts(s, CG_CLIENT, a.qct, n_q, &msg, err);
    if (st == CG_OK) st = gen_parallel(s, n_q, query_item, &a, err);
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_move_cts(s, CG_CLIENT, a.qct, n_q, &msg, err);
    if (st == CG_OK && s->party == CG_SERVER) st = gen_parallel(s, a.n_sc, score_item, &a, err);
    if (st == CG_OK) st = gen_move_cts(s, CG_SERVER, a.sct, a.n_sc, &msg, err);
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_parallel(s, a.n_sc, score_item, &a, err);
    gen_part_end(s);

    /* 3. Lazy refresh: cache ciphertexts whose noise estimate (or the test
     *    knob) asks for it go to the client masked and flooded; it returns
     *    fresh encryptions, the server adds its mask back. */
    gen_part_begin(s, CG_PART_REFRESH);
    if (st == CG_OK && s->party == CG_SERVER) {
        for (size_t h = 0; st == CG_OK && h < H; h++)
            for (size_t bl = 0; st == CG_OK && bl < nb_max; bl++)
                for (int kv = 0; st == CG_OK && kv < 2; kv++) {
                    uint32_t *cnt;
                    cg_bfv_ct *slot = cache_slot(s, kv, layer, h, bl, &cnt);
                    if (!slot->data) continue;
                    bool due = s->req.refresh_every
                                   ? *cnt >= s->req.refresh_every
                                   : cg_bfv_noise_budget_estimate(s->he, slot) < CG_GEN_REFRESH_BUDGET;
                    if (!due) continue;
                    a.rslot[n_rf] = slot;
                    a.rcount[n_rf] = cnt;
                    a.rmask[n_rf] = cg_alloc(N * sizeof(uint64_t));
                    if (!a.rmask[n_rf]) st = cg_error_set(err, CG_ERR_NOMEM, "refresh");
                    if (st == CG_OK) st = cg_bfv_ct_copy(s->he, &a.rct[n_rf], slot, err);
                    if (st == CG_OK) st = gen_mask(s, &a.rct[n_rf], a.rmask[n_rf], err);
                    n_rf++;
                }
        if (st == CG_OK) st = gen_send_cts(s, &msg, a.rct, n_rf, err);
    } else if (st == CG_OK) {
        st = gen_recv_msg(s, &msg, n_rmax, err);
        cg_reader rd;
        cg_reader_init(&rd, msg.data, msg.len);
        if (st == CG_OK) st = cg_read_u32(&rd, &n_rf, "refresh count", err);
        if (st == CG_OK && n_rf > n_rmax)
            st = cg_error_set(err, CG_ERR_FORMAT, "%u refreshes for %zu cache ciphertexts", n_rf, n_rmax);
        if (st == CG_OK) {
            rd.pos = 0;
            st = gen_get_cts(s, &rd, a.rct, n_rf, err);
        }
        if (st == CG_OK) st = gen_parallel(s, n_rf, refresh_item, &a, err);
        if (st == CG_OK) st = gen_send_cts(s, &msg, a.rct, n_rf, err);
    }
    if (st == CG_OK && s->party == CG_SERVER) {
        gen_free_cts(a.rct, n_rf);
        st = gen_move_cts(s, CG_CLIENT, a.rct, n_rf, &msg, err);
        for (size_t i = 0; st == CG_OK && i < n_rf; i++) {
            for (size_t c = 0; c < N; c++) w.co[c] = gen_centre(s, a.rmask[i][c]);
            st = gen_encode(s, w.co, &w.pt, err);
            if (st == CG_OK) st = cg_bfv_add_plain(s->he, &a.rct[i], &w.pt, err);
            if (st == CG_OK) {
                cg_bfv_ct_free(a.rslot[i]);
                *a.rslot[i] = a.rct[i];
                memset(&a.rct[i], 0, sizeof a.rct[i]);
                *a.rcount[i] = 0;
            }
        }
    }
    s->rep.refreshes += n_rf;
    gen_part_end(s);

    /* 4. Softmax on shares: scale by 1/sqrt(dh), causal row lengths. */
    gen_part_begin(s, CG_PART_SOFTMAX);
    if (st == CG_OK) {
        const cg_fixed_score_scale k = cg_fixed_score_scaling(s->fx, s->score_shift, s->score_mul);
        st = trunc_exact(s, n_q * cols, a.sc, k.first_shift, err);
        if (st == CG_OK && k.mul != 0) {
            cg_mpc_mul_public(s->mpc, s->l, n_q * cols, a.sc, (uint64_t)k.mul, a.sc);
            st = trunc_exact(s, n_q * cols, a.sc, k.second_shift, err);
        }
    }
    if (st == CG_OK) st = cg_mpc_softmax(s->mpc, s->fx.act, n_q, cols, row_len, a.sc, a.pr, err);
    gen_part_end(s);

    /* 5. softmax . V: encrypted probabilities per block times the V blocks,
     *    summed, relinearised once, masked. */
    gen_part_begin(s, CG_PART_SV);
    if (st == CG_OK && s->party == CG_SERVER) st = gen_move_cts(s, CG_CLIENT, a.pct, a.n_sc, &msg, err);
    if (st == CG_OK) st = gen_parallel(s, a.n_sc, prob_item, &a, err);
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_move_cts(s, CG_CLIENT, a.pct, a.n_sc, &msg, err);
    if (st == CG_OK && s->party == CG_SERVER) st = gen_parallel(s, n_q, output_item, &a, err);
    if (st == CG_OK) st = gen_move_cts(s, CG_SERVER, a.oct, n_q, &msg, err);
    if (st == CG_OK && s->party == CG_CLIENT) st = gen_parallel(s, n_q, output_item, &a, err);
    gen_part_end(s);

    attn_free(&a, n_app, n_q, n_rmax);
    scratch_free(&w);
    cg_free(row_len);
    cg_buf_free(&msg);
    return st;
}

/* ---- Sampling ------------------------------------------------------------------------ */

/* Gumbel-max: logits / T + G on shares, G = -log(-log u) from the client's
 * combined seed, added to the client's share only (cg_fixed_sample is the
 * same in the clear). */
static cg_status gumbel_scores(gen_sess *s, uint64_t *z, cg_error *err)
{
    const size_t V = s->V;
    const unsigned sf = s->fx.act.frac_bits;
    const int64_t c = cg_fixed_inv_temperature(s->fx, s->req.temperature_milli);
    CG_TRY(trunc_exact(s, V, z, s->fx.weight_frac, err));
    cg_mpc_mul_public(s->mpc, s->l, V, z, (uint64_t)c, z);
    CG_TRY(trunc_exact(s, V, z, sf, err));
    if (s->party != CG_CLIENT) return CG_OK;
    int64_t *g = cg_alloc(V * sizeof *g);
    if (!g) return cg_error_set(err, CG_ERR_NOMEM, "sampling noise");
    cg_prg prg;
    cg_prg_init(&prg, s->sample_seed, s->rep.step);
    for (size_t i = 0; i < V; i++) {
        /* u in (0, 1) with 53 random bits, never 0 */
        double u = ((double)(cg_prg_u64(&prg) >> 11) + 0.5) * 0x1p-53;
        g[i] = (int64_t)llround(ldexp(-log(-log(u)), (int)sf));
        z[i] = (z[i] + (uint64_t)g[i]) & s->mask;
    }
    cg_prg_clear(&prg);
    if (s->opt && s->opt->on_noise) s->opt->on_noise(s->opt->on_noise_ctx, s->rep.step, g, V);
    cg_free(g);
    return CG_OK;
}

/* ---- One pass over new positions --------------------------------------------------- */

/* Runs positions pos0 .. pos0+rows-1 through the model (tokens: the client's,
 * NULL at the server), appending to the cache, and picks the next token
 * (written to *token on the client). */
static cg_status run_positions(gen_sess *s, const uint32_t *tokens, size_t pos0, size_t rows,
                               bool pick, uint32_t *token, cg_error *err)
{
    const size_t d = s->d, V = s->V;
    const cg_fixed_model *fm = s->fm; /* NULL at the client */
    const unsigned sf = s->fx.act.frac_bits, wf = s->fx.weight_frac;
    uint64_t *x = cg_calloc(rows * d, sizeof *x), *h = cg_calloc(rows * 4 * d, sizeof *h);
    uint64_t *qkv = cg_calloc(rows * 3 * d, sizeof *qkv), *u = cg_calloc(rows * 4 * d, sizeof *u);
    uint64_t *onehot = s->party == CG_CLIENT ? cg_calloc(rows * V, sizeof *onehot) : NULL;
    uint64_t *logits = cg_calloc(V, sizeof *logits);
    cg_status st = (x && h && qkv && u && logits && (onehot || s->party == CG_SERVER))
                       ? CG_OK
                       : cg_error_set(err, CG_ERR_NOMEM, "forward pass");
#define W(field) (fm ? fm->field : NULL)
    /* Embedding: the client's one-hot rows times the token table (server),
     * then the public position's embedding added by the server. */
    gen_part_begin(s, CG_PART_EMBEDDING);
    for (size_t r = 0; st == CG_OK && onehot && r < rows; r++) {
        if (tokens[r] >= V) st = cg_error_set(err, CG_ERR_ARG, "token %u >= vocab %zu", tokens[r], V);
        else onehot[r * V + tokens[r]] = 1;
    }
    if (st == CG_OK) st = gen_linear(s, W(emb), 1, d, NULL, V, d, rows, onehot, x, err);
    for (size_t r = 0; st == CG_OK && fm && r < rows; r++)
        for (size_t i = 0; i < d; i++)
            x[r * d + i] = (x[r * d + i] + (uint64_t)fm->pos[(pos0 + r) * d + i]) & s->mask;
    gen_part_end(s);
    for (size_t li = 0; st == CG_OK && li < s->cfg.n_layer; li++) {
        const cg_fixed_layer *L = fm ? &fm->layers[li] : NULL;
#define LW(field) (L ? L->field : NULL)
        gen_part_begin(s, CG_PART_LAYERNORM);
        st = cg_mpc_layernorm(s->mpc, s->fx.act, rows, d, x, h, err);
        gen_part_end(s);
        gen_part_begin(s, CG_PART_QKV);
        if (st == CG_OK) st = gen_linear(s, LW(qkv_w), d, 1, LW(qkv_b), d, 3 * d, rows, h, qkv, err);
        if (st == CG_OK) st = trunc_exact(s, rows * 3 * d, qkv, wf, err);
        gen_part_end(s);
        if (st == CG_OK) st = attention(s, li, pos0, rows, qkv, h, err);
        gen_part_begin(s, CG_PART_SV);
        if (st == CG_OK) st = trunc_exact(s, rows * d, h, sf, err);
        gen_part_end(s);
        gen_part_begin(s, CG_PART_ATTN_OUT);
        if (st == CG_OK) st = gen_linear(s, LW(proj_w), d, 1, LW(proj_b), d, d, rows, h, u, err);
        if (st == CG_OK) st = trunc_exact(s, rows * d, u, wf, err);
        if (st == CG_OK) add_shares(s, rows * d, x, u);
        gen_part_end(s);
        gen_part_begin(s, CG_PART_LAYERNORM);
        if (st == CG_OK) st = cg_mpc_layernorm(s->mpc, s->fx.act, rows, d, x, h, err);
        gen_part_end(s);
        gen_part_begin(s, CG_PART_MLP_UP);
        if (st == CG_OK) st = gen_linear(s, LW(fc_w), d, 1, LW(fc_b), d, 4 * d, rows, h, u, err);
        if (st == CG_OK) st = trunc_exact(s, rows * 4 * d, u, wf, err);
        gen_part_end(s);
        gen_part_begin(s, CG_PART_GELU);
        if (st == CG_OK) st = cg_mpc_gelu(s->mpc, s->fx.act, rows * 4 * d, u, h, err);
        gen_part_end(s);
        gen_part_begin(s, CG_PART_MLP_DOWN);
        if (st == CG_OK) st = gen_linear(s, LW(fc2_w), 4 * d, 1, LW(fc2_b), 4 * d, d, rows, h, u, err);
        if (st == CG_OK) st = trunc_exact(s, rows * d, u, wf, err);
        if (st == CG_OK) add_shares(s, rows * d, x, u);
        gen_part_end(s);
#undef LW
    }
    if (!pick) goto out;
    /* Only the last position's logits are needed. */
    gen_part_begin(s, CG_PART_LAYERNORM);
    if (st == CG_OK) st = cg_mpc_layernorm(s->mpc, s->fx.act, 1, d, x + (rows - 1) * d, h, err);
    gen_part_end(s);
    gen_part_begin(s, CG_PART_LM_HEAD);
    if (st == CG_OK) st = gen_linear(s, W(head_w), d, 1, W(head_b), d, V, 1, h, logits, err);
    gen_part_end(s);
    gen_part_begin(s, CG_PART_TOKEN);
    uint64_t idx = 0;
    if (st == CG_OK && s->req.temperature_milli) st = gumbel_scores(s, logits, err);
    if (st == CG_OK) st = cg_mpc_argmax_reveal(s->mpc, s->l, V, logits, &idx, err);
    if (st == CG_OK && s->party == CG_CLIENT) {
        if (idx >= V) st = cg_error_set(err, CG_ERR_FORMAT, "argmax gave %llu", (unsigned long long)idx);
        else *token = (uint32_t)idx;
    }
    gen_part_end(s);
out:
#undef W
    cg_free(x), cg_free(h), cg_free(qkv), cg_free(u), cg_free(onehot), cg_free(logits);
    return st;
}

/* Benchmarks: the cache of positions [0, fill) as fresh encryptions of
 * random values in (-1, 1), one ciphertext per block, K and V. */
static cg_status bench_fill(gen_sess *s, cg_error *err)
{
    const size_t fill = s->req.bench_fill, B = s->B, N = s->N;
    if (fill == 0) return CG_OK;
    const size_t nb = (fill + B - 1) / B, n = 2 * (size_t)s->cfg.n_layer * s->H * nb;
    cg_bfv_ct *cts = cg_calloc(n, sizeof *cts);
    int64_t *co = cg_alloc(N * sizeof *co);
    cg_bfv_plain pt = {0};
    cg_buf msg;
    cg_buf_init(&msg);
    cg_status st = cts && co ? CG_OK : cg_error_set(err, CG_ERR_NOMEM, "benchmark fill");
    if (st == CG_OK && s->party == CG_CLIENT) {
        cg_prg prg;
        cg_prg_init_random(&prg);
        for (size_t k = 0; st == CG_OK && k < n; k++) {
            const int kv = (int)(k % 2);
            const size_t bl = (k / 2) % nb;
            memset(co, 0, N * sizeof *co);
            for (size_t j = 0; j < B && bl * B + j < fill; j++)
                for (size_t i = 0; i < s->dh; i++) {
                    int64_t v = (int64_t)cg_prg_uniform(&prg, 1u << 13) - (1 << 12);
                    co[kv == 0 ? j * s->dh + i : i * B + B - 1 - j] = v;
                }
            st = gen_encode(s, co, &pt, err);
            if (st == CG_OK) st = cg_bfv_encrypt_sk(s->he, &s->sk, &pt, &cts[k], err);
        }
        cg_prg_clear(&prg);
    }
    if (st == CG_OK) st = gen_move_cts(s, CG_CLIENT, cts, n, &msg, err);
    for (size_t k = 0; st == CG_OK && s->party == CG_SERVER && k < n; k++) {
        const int kv = (int)(k % 2);
        const size_t bl = (k / 2) % nb, lh = k / 2 / nb;
        uint32_t *cnt;
        cg_bfv_ct *slot = cache_slot(s, kv, lh / s->H, lh % s->H, bl, &cnt);
        *slot = cts[k];
        memset(&cts[k], 0, sizeof cts[k]);
        *cnt = 0;
    }
    gen_free_cts(cts, n);
    cg_free(cts);
    cg_free(co);
    cg_bfv_plain_free(&pt);
    cg_buf_free(&msg);
    return st;
}

/* The schedule: prefill then one token per step (cache mode), or the whole
 * sequence again every step (baseline). Same numerics either way. */
static cg_status run_steps(gen_sess *s, const uint32_t *prompt, uint32_t *out, cg_error *err)
{
    const size_t m = s->req.prompt_len, n = s->req.new_tokens;
    uint32_t *seq = NULL;
    if (s->party == CG_CLIENT) {
        seq = cg_alloc((m + n) * sizeof *seq);
        if (!seq) return cg_error_set(err, CG_ERR_NOMEM, "token sequence");
        memcpy(seq, prompt, m * sizeof *seq);
    }
    cg_status st = bench_fill(s, err);
    const size_t base = s->req.bench_fill;
    for (size_t step = 0; st == CG_OK && step < n; step++) {
        uint64_t t0 = cg_now_ns();
        step_begin(s, step);
        uint32_t tok = 0;
        const size_t len = m + step; /* tokens known before this step */
        /* The rows of a prefill (or of a baseline step) go in chunks, so
         * memory stays bounded whatever the prompt length; the result is
         * the same, each row only reads the cache of earlier positions. */
        size_t first = 0;
        if (s->req.use_cache && step > 0) first = len - 1;
        else if (!s->req.use_cache && s->party == CG_SERVER) cache_clear(s);
        while (st == CG_OK && first < len) {
            size_t rows = len - first < CG_GEN_PREFILL_CHUNK ? len - first : CG_GEN_PREFILL_CHUNK;
            st = run_positions(s, seq ? seq + first : NULL, base + first, rows, first + rows == len,
                               &tok, err);
            first += rows;
        }
        if (st != CG_OK) break;
        if (seq) {
            seq[len] = tok;
            out[step] = tok;
        }
        s->rep.token = tok;
        step_end(s, base + len + 1, t0);
    }
    cg_free(seq);
    return st;
}

static cg_status start_mpc(gen_sess *s, cg_error *err)
{
    CG_TRY(cg_mpc_new(&s->mpc, s->ch, s->party, NULL, err));
    cg_mpc_set_exact(s->mpc, true);
    cg_chan_stats cs;
    cg_chan_get_stats(s->ch, &cs);
    s->setup = cs.total;
    return CG_OK;
}

cg_status cg_gen_client(cg_channel *ch, const cg_gen_request *req, const uint32_t *prompt,
                        uint32_t *out, const cg_gen_options *opt, cg_error *err)
{
    cg_error local = {0};
    if (!err) err = &local;
    if (!req || !prompt || !out || req->prompt_len == 0 || req->new_tokens == 0 ||
        memchr(req->he_preset, '\0', sizeof req->he_preset) == NULL)
        return cg_error_set(err, CG_ERR_ARG, "generation request: empty prompt, no tokens or bad preset");
    gen_sess s = {.party = CG_CLIENT, .ch = ch, .req = *req, .opt = opt,
                  .threads = opt && opt->threads > 0 ? opt->threads : 1, .setup_t0 = cg_now_ns()};
    cg_chan_reset_stats(ch);
    cg_status st = client_handshake(&s, err);
    for (size_t i = 0; st == CG_OK && i < req->prompt_len; i++)
        if (prompt[i] >= s.V)
            st = cg_error_set(err, CG_ERR_ARG, "prompt token %u >= vocab %zu", prompt[i], s.V);
    if (st == CG_OK) st = exchange_keys(&s, err);
    if (st == CG_OK) st = start_mpc(&s, err);
    if (st == CG_OK) st = run_steps(&s, prompt, out, err);
    if (st == CG_OK) st = cg_chan_flush(ch, err);
    sess_free(&s);
    return st;
}

cg_status cg_gen_server(cg_channel *ch, const cg_fixed_model *fm, const cg_gen_options *opt,
                        cg_error *err)
{
    cg_error local = {0};
    if (!err) err = &local; /* the refusal sent to the client needs a message */
    gen_sess s = {.party = CG_SERVER, .ch = ch, .fm = fm, .opt = opt,
                  .threads = opt && opt->threads > 0 ? opt->threads : 1, .setup_t0 = cg_now_ns()};
    cg_chan_reset_stats(ch);
    cg_status st = server_handshake(&s, err);
    if (st == CG_OK) st = exchange_keys(&s, err);
    if (st == CG_OK) st = start_mpc(&s, err);
    if (st == CG_OK) st = sess_alloc_cache(&s, err);
    if (st == CG_OK) st = run_steps(&s, NULL, NULL, err);
    if (st == CG_OK) st = cg_chan_flush(ch, err);
    sess_free(&s);
    return st;
}
