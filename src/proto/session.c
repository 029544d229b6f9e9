/* A secure-generation session, both parties in lockstep (docs/PROTOCOL.md):
 * the handshake (the client's request against the server's model), the
 * client's keys, the two-party context, then the steps: the prefill and one
 * token per step (cache mode), or the whole sequence again every step (the
 * baseline). Same numerics either way. */
#include <string.h>

#include <sodium.h>

#include "proto/proto_internal.h"

#define GEN_MAGIC 0x4e454743u /* "CGEN" */

/* Evaluation keys are well under this (1.1 MB for the paper's set). */
#define GEN_MAX_KEYS_BYTES (64u << 20)

static void sess_free(gen_sess *s)
{
    kv_cache_free(&s->cache);
    gen_stock_free(s);
    kv_shares_free(&s->shares);
    cg_mpc_free(s->mpc);
    cg_bfv_sk_free(&s->sk);
    cg_bfv_pk_free(&s->pk);
    cg_bfv_ksk_free(&s->rk);
    cg_bfv_galois_free(&s->pack_gk);
    cg_bfv_ctx_free(s->he);
    cg_buf_free(&s->msg);
    sodium_memzero(s, sizeof *s); /* the sampling seeds and key pointers */
}

/* ---- Handshake ------------------------------------------------------------------ */

/* The server alone decides the parameter set: its allow-list, and never a
 * set flagged insecure outside tests (whatever hides the weights in the
 * returned ciphertexts rests on RLWE at these parameters). */
cg_status cg_gen_preset_allowed(const char *allow, bool allow_insecure, const char *name,
                                cg_error *err)
{
    cg_error local = {0};
    if (!err) err = &local;
    if (!allow) allow = "paper";
    const size_t len = name ? strlen(name) : 0;
    bool listed = false;
    for (const char *p = allow; len && *p && !listed;) {
        const char *end = strchr(p, ',');
        const size_t k = end ? (size_t)(end - p) : strlen(p);
        listed = k == len && memcmp(p, name, len) == 0;
        p += end ? k + 1 : k;
    }
    if (!listed)
        return cg_error_set(err, CG_ERR_PARAM, "parameter set '%s' is not allowed by this server (allowed: %s)",
                            name ? name : "", allow);
    cg_bfv_spec spec;
    CG_TRY(cg_bfv_preset(name, &spec, err));
    if (spec.insecure_for_tests && !allow_insecure)
        return cg_error_set(err, CG_ERR_PARAM,
                            "parameter set '%s' is insecure (above the 128-bit bound) and refused "
                            "(allowed: %s)", name, allow);
    return CG_OK;
}

/* Everything both sides derive from the public configuration, checked so
 * that a peer's numbers cannot make the layout overlap. */
static cg_status agree_shapes(gen_sess *s, cg_error *err)
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
    /* a shift (0 for d_head = 1) or a multiplier, not both */
    if (s->score_shift > 8 || (s->score_shift != 0 && s->score_mul != 0) || s->score_mul < 0 ||
        s->score_mul > (1 << 20))
        return cg_error_set(err, CG_ERR_PARAM, "bad attention scale");
    s->mask = (1ull << s->l) - 1;
    cg_bfv_spec spec;
    CG_TRY(cg_bfv_preset(s->req.he_preset, &spec, err));
    spec.t = 1ull << s->l;
    CG_TRY(cg_bfv_ctx_new(&s->he, &spec, err));
    cg_bfv_set_threads(s->he, s->threads);
    s->N = cg_bfv_n(s->he);
    if (s->req.block_positions != 0 && s->req.block_positions < GEN_MIN_BLOCK)
        return cg_error_set(err, CG_ERR_ARG, "%u positions per cache ciphertext: at least %u (or 0 for the most)",
                            s->req.block_positions, GEN_MIN_BLOCK);
    CG_TRY(kv_layout_init(&s->kv, s->N, s->dh, s->req.block_positions, err));
    if (s->pack && s->attn == CG_ATTN_SPLIT) kv_layout_strided(&s->kv, s->l); /* kv_pack.h */
    const cg_gen_request *q = &s->req;
    if (q->prompt_len < 1 || q->new_tokens < 1 ||
        (uint64_t)q->bench_fill + q->prompt_len + q->new_tokens > s->cfg.n_positions)
        return cg_error_set(err, CG_ERR_ARG,
                            "the prompt (%u tokens) and %u new tokens%s do not fit the model's context of "
                            "%u positions: shorten the prompt or ask for fewer tokens (-n)",
                            q->prompt_len, q->new_tokens, q->bench_fill ? " after the benchmark fill" : "",
                            s->cfg.n_positions);
    if (q->temperature_milli && (q->temperature_milli < 100 || q->temperature_milli > 100000))
        return cg_error_set(err, CG_ERR_ARG, "temperature %.3f outside [0.1, 100]",
                            q->temperature_milli / 1000.0);
    if (q->bench_fill && !q->use_cache)
        return cg_error_set(err, CG_ERR_ARG, "a benchmark fill needs the cache mode");
    if (q->prefill_rows > 4096)
        return cg_error_set(err, CG_ERR_ARG, "%u prefill rows per ciphertext (at most 4096)", q->prefill_rows);
    if (!cg_otn_kind_valid(q->otn))
        return cg_error_set(err, CG_ERR_PARAM, "unknown 1-of-N OT kind %d", (int)q->otn);
    if (!cg_ot_kind_valid(q->ot))
        return cg_error_set(err, CG_ERR_PARAM, "unknown OT kind %d", (int)q->ot);
    if (s->party == CG_SERVER) CG_TRY(gen_fit_memory(s, err)); /* the client has it from the reply */
    gen_flood_init(s);
    return CG_OK;
}

/* Client: the attention kind the server chose, which must be the one asked
 * for unless the client left it to the server. */
static cg_status read_attention(gen_sess *s, cg_reader *r, cg_error *err)
{
    uint8_t a = 0;
    CG_TRY(cg_read_u8(r, &a, "attention kind", err));
    const cg_gen_attention asked = s->opt ? s->opt->attention : CG_ATTN_DEFAULT;
    if (a != CG_ATTN_CTCT && a != CG_ATTN_SPLIT)
        return cg_error_set(err, CG_ERR_FORMAT, "server chose attention kind %u", a);
    if (asked != CG_ATTN_DEFAULT && a != asked)
        return cg_error_set(err, CG_ERR_PARAM, "server chose %s attention, not %s",
                            cg_gen_attention_name((cg_gen_attention)a), cg_gen_attention_name(asked));
    s->attn = (cg_gen_attention)a;
    return CG_OK;
}

/* Server: the kind a client asked for (`asked`) against the one it accepts. */
static cg_status choose_attention(gen_sess *s, uint8_t asked, cg_error *err)
{
    const cg_gen_attention allow = s->opt ? s->opt->attention : CG_ATTN_DEFAULT;
    if (asked > CG_ATTN_SPLIT) return cg_error_set(err, CG_ERR_PARAM, "unknown attention kind %u", asked);
    if (allow != CG_ATTN_DEFAULT && asked != CG_ATTN_DEFAULT && asked != allow)
        return cg_error_set(err, CG_ERR_PARAM, "%s attention is not allowed by this server (it runs %s only)",
                            cg_gen_attention_name((cg_gen_attention)asked), cg_gen_attention_name(allow));
    s->attn = asked != CG_ATTN_DEFAULT ? (cg_gen_attention)asked
              : allow != CG_ATTN_DEFAULT ? allow : CG_ATTN_SPLIT;
    return CG_OK;
}

static cg_status client_handshake(gen_sess *s, cg_error *err)
{
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    cg_buf_put_u32(b, GEN_MAGIC);
    cg_buf_put_u16(b, CG_GEN_VERSION);
    cg_buf_put(b, s->req.he_preset, sizeof s->req.he_preset);
    cg_buf_put_u8(b, s->req.use_cache);
    cg_buf_put_u32(b, s->req.prompt_len);
    cg_buf_put_u32(b, s->req.new_tokens);
    cg_buf_put_u32(b, s->req.block_positions);
    cg_buf_put_u32(b, s->req.bench_fill);
    cg_buf_put_u32(b, s->req.temperature_milli);
    cg_buf_put_u32(b, s->req.refresh_every);
    cg_buf_put_u8(b, (uint8_t)s->req.otn);
    cg_buf_put_u8(b, (uint8_t)s->req.ot);
    cg_buf_put_u32(b, s->req.prefill_rows);
    cg_buf_put_u32(b, s->req.prefill_chunk);
    cg_buf_put_u8(b, (uint8_t)(s->opt ? s->opt->attention : CG_ATTN_DEFAULT));
    cg_buf_put_u8(b, gen_asked_pack(&s->req)); /* 2: dense replies, 3: dense max */
    CG_TRY(cg_chan_send_buf(s->ch, b, err));
    cg_reader r;
    uint8_t ok = 0;
    /* A busy server may first say that the session is queued (any number
     * of times, each a complete message); then comes the reply. */
    for (;;) {
        cg_buf_reset(b);
        CG_TRY(cg_chan_recv_msg_buf(s->ch, b, 4096, err));
        cg_reader_init(&r, b->data, b->len);
        CG_TRY(cg_read_u8(&r, &ok, "handshake status", err));
        if (ok != GEN_REPLY_QUEUED) break;
        uint32_t busy = 0, slots = 0;
        CG_TRY(cg_read_u32(&r, &busy, "sessions running", err));
        CG_TRY(cg_read_u32(&r, &slots, "session slots", err));
        if (cg_reader_left(&r) != 0) return cg_error_set(err, CG_ERR_FORMAT, "bytes after a queue notice");
        gen_progress(s, CG_PHASE_QUEUED, busy, slots);
    }
    if (ok > 1) return cg_error_set(err, CG_ERR_FORMAT, "handshake status %u", ok);
    if (!ok) {
        char reason[256] = {0};
        size_t n = cg_reader_left(&r) < sizeof reason - 1 ? cg_reader_left(&r) : sizeof reason - 1;
        cg_read_bytes(&r, reason, n, "reason", err);
        return cg_error_set(err, CG_ERR_PARAM, "server refused: %s", reason);
    }
    uint32_t v[5];
    uint8_t fx[4], pack = 0;
    uint64_t mul = 0;
    for (int i = 0; i < 5; i++) CG_TRY(cg_read_u32(&r, &v[i], "model shape", err));
    for (int i = 0; i < 4; i++) CG_TRY(cg_read_u8(&r, &fx[i], "fixed-point format", err));
    CG_TRY(cg_read_u64(&r, &mul, "attention scale", err));
    char chosen[sizeof s->req.he_preset]; /* the server's set: today the one asked for */
    CG_TRY(cg_read_bytes(&r, chosen, sizeof chosen, "parameter set", err));
    chosen[sizeof chosen - 1] = '\0';
    if (strcmp(chosen, s->req.he_preset) != 0)
        return cg_error_set(err, CG_ERR_PARAM, "server chose parameter set '%s', not '%s'", chosen,
                            s->req.he_preset);
    CG_TRY(read_attention(s, &r, err));
    CG_TRY(cg_read_u8(&r, &pack, "packed inputs", err));
    if (pack > gen_asked_pack(&s->req))
        return cg_error_set(err, CG_ERR_FORMAT, "server answered packed inputs %u unasked", pack);
    s->pack = pack != 0, s->dense = pack > 1 ? (uint8_t)(pack - 1) : GEN_DENSE_OFF;
    uint32_t chunk = 0;
    CG_TRY(cg_read_u32(&r, &chunk, "prompt rows per pass", err));
    if (chunk < 1 || chunk > gen_asked_chunk(&s->req))
        return cg_error_set(err, CG_ERR_FORMAT, "server answered %u prompt rows per pass", chunk);
    s->chunk = chunk;
    CG_TRY(cg_read_bytes(&r, s->embed_key, sizeof s->embed_key, "embedding hash key", err));
    if (cg_reader_left(&r) != 0)
        return cg_error_set(err, CG_ERR_FORMAT, "%zu bytes after the handshake reply", cg_reader_left(&r));
    s->cfg = (cg_gpt2_config){.n_layer = v[0], .n_head = v[1], .n_embd = v[2],
                              .n_positions = v[3], .vocab_size = v[4], .ln_eps = 1e-5f};
    s->fx = (cg_fixed_config){.act = {.ring_bits = fx[0], .frac_bits = fx[1]}, .weight_frac = fx[2]};
    s->score_shift = fx[3];
    s->score_mul = (int64_t)mul;
    return agree_shapes(s, err);
}

/* Tells the client why, then ends the session with st. */
static cg_status refuse(gen_sess *s, cg_status st, cg_error *err)
{
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    cg_buf_put_u8(b, 0);
    cg_buf_put(b, err->msg, strlen(err->msg));
    cg_error ignore = {0};
    if (cg_chan_send_buf(s->ch, b, &ignore) == CG_OK) cg_chan_flush(s->ch, &ignore);
    return st;
}

static cg_status read_request(gen_sess *s, cg_error *err)
{
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    CG_TRY(cg_chan_recv_msg_buf(s->ch, b, 4096, err));
    cg_reader r;
    cg_reader_init(&r, b->data, b->len);
    uint32_t magic = 0;
    uint16_t ver = 0;
    uint8_t cache = 0, otn = 0, ot = 0, attention = 0, pack = 0;
    cg_gen_request *q = &s->req;
    CG_TRY(cg_read_u32(&r, &magic, "magic", err));
    CG_TRY(cg_read_u16(&r, &ver, "version", err));
    if (magic != GEN_MAGIC || ver != CG_GEN_VERSION)
        return cg_error_set(err, CG_ERR_FORMAT, "client speaks version %u of %08x; this server %u",
                            ver, magic, CG_GEN_VERSION);
    CG_TRY(cg_read_bytes(&r, q->he_preset, sizeof q->he_preset, "preset", err));
    CG_TRY(cg_read_u8(&r, &cache, "mode", err));
    CG_TRY(cg_read_u32(&r, &q->prompt_len, "prompt length", err));
    CG_TRY(cg_read_u32(&r, &q->new_tokens, "token count", err));
    CG_TRY(cg_read_u32(&r, &q->block_positions, "block size", err));
    CG_TRY(cg_read_u32(&r, &q->bench_fill, "benchmark fill", err));
    CG_TRY(cg_read_u32(&r, &q->temperature_milli, "temperature", err));
    CG_TRY(cg_read_u32(&r, &q->refresh_every, "refresh knob", err));
    CG_TRY(cg_read_u8(&r, &otn, "1-of-N OT kind", err));
    CG_TRY(cg_read_u8(&r, &ot, "OT kind", err));
    CG_TRY(cg_read_u32(&r, &q->prefill_rows, "prefill rows", err));
    CG_TRY(cg_read_u32(&r, &q->prefill_chunk, "prompt rows per pass", err));
    CG_TRY(cg_read_u8(&r, &attention, "attention kind", err));
    CG_TRY(cg_read_u8(&r, &pack, "packed inputs", err));
    if (pack > 3) return cg_error_set(err, CG_ERR_FORMAT, "packed inputs %u", pack);
    q->pack_inputs = pack != 0, q->dense_replies = pack >= 2, q->dense_max = pack == 3;
    if (cg_reader_left(&r) != 0)
        return cg_error_set(err, CG_ERR_FORMAT, "%zu bytes after the request", cg_reader_left(&r));
    q->he_preset[sizeof q->he_preset - 1] = '\0';
    q->use_cache = cache != 0;
    q->otn = (cg_otn_kind)otn;
    q->ot = (cg_ot_kind)ot;
    return choose_attention(s, attention, err);
}

static cg_status server_handshake(gen_sess *s, cg_error *err)
{
    cg_status st = read_request(s, err);
    if (st != CG_OK) return st == CG_ERR_FORMAT || st == CG_ERR_PARAM ? refuse(s, st, err) : st;
    s->cfg = s->fm->cfg;
    s->fx = s->fm->fx;
    s->score_shift = s->fm->score_shift;
    s->score_mul = s->fm->score_mul;
    gen_pack_decide(s); /* before agree_shapes: the flood bits use the plans, as on the client */
    st = cg_gen_preset_allowed(s->opt ? s->opt->allow_presets : NULL,
                               s->opt && s->opt->allow_insecure, s->req.he_preset, err);
    if (st == CG_OK) st = agree_shapes(s, err);
    if (st != CG_OK) return refuse(s, st, err);
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    cg_buf_put_u8(b, 1);
    cg_buf_put_u32(b, s->cfg.n_layer);
    cg_buf_put_u32(b, s->cfg.n_head);
    cg_buf_put_u32(b, s->cfg.n_embd);
    cg_buf_put_u32(b, s->cfg.n_positions);
    cg_buf_put_u32(b, s->cfg.vocab_size);
    cg_buf_put_u8(b, s->fx.act.ring_bits);
    cg_buf_put_u8(b, s->fx.act.frac_bits);
    cg_buf_put_u8(b, s->fx.weight_frac);
    cg_buf_put_u8(b, (uint8_t)s->score_shift);
    cg_buf_put_u64(b, (uint64_t)s->score_mul);
    cg_buf_put(b, s->req.he_preset, sizeof s->req.he_preset); /* the set chosen */
    cg_buf_put_u8(b, (uint8_t)s->attn);
    cg_buf_put_u8(b, (uint8_t)(s->pack + s->dense));
    cg_buf_put_u32(b, (uint32_t)s->chunk);
    /* Public and fresh per session, drawn after the request: the batch
     * embedding's bucket bound then holds for any prompt (embed.c). */
    cg_random_bytes(s->embed_key, sizeof s->embed_key);
    cg_buf_put(b, s->embed_key, sizeof s->embed_key);
    /* The sampling noise is the server's alone (semi-honest server): the
     * client sees only the token, never the noise. */
    if (s->opt && s->opt->test_noise_seed)
        memcpy(s->sample_seed, s->opt->test_noise_seed, sizeof s->sample_seed);
    else
        cg_random_bytes(s->sample_seed, sizeof s->sample_seed);
    return cg_chan_send_buf(s->ch, b, err);
}

/* ---- Keys and the two-party context --------------------------------------------- */

/* A length-prefixed serialised key in b. */
static void put_key(cg_buf *b, const cg_buf *key)
{
    cg_buf_put_u32(b, (uint32_t)key->len);
    cg_buf_put(b, key->data, key->len);
}

/* Client: fresh keys; the public and relinearisation keys go to the server. */
static cg_status send_keys(gen_sess *s, cg_error *err)
{
    cg_buf one;
    cg_buf_init(&one);
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    cg_status st = cg_bfv_keygen(s->he, &s->sk, &s->pk, err);
    if (st == CG_OK) st = cg_bfv_keygen_relin(s->he, &s->sk, &s->rk, err);
    if (st == CG_OK) st = cg_bfv_pk_serialize(s->he, &s->pk, &one, err);
    if (st == CG_OK) {
        put_key(b, &one);
        cg_buf_reset(&one);
        st = cg_bfv_ksk_serialize(s->he, &s->rk, &one, err);
    }
    if (st == CG_OK) put_key(b, &one);
    if (st == CG_OK && s->pack) cg_buf_reset(&one), st = gen_pack_keys_make(s, &one, err);
    if (st == CG_OK && s->pack) put_key(b, &one);
    if (st == CG_OK) st = cg_chan_send_buf(s->ch, b, err);
    cg_buf_free(&one);
    return st;
}

static cg_status receive_keys(gen_sess *s, cg_error *err)
{
    cg_buf *b = &s->msg;
    cg_buf_reset(b);
    CG_TRY(cg_chan_recv_msg_buf(s->ch, b, GEN_MAX_KEYS_BYTES, err));
    cg_reader r;
    cg_reader_init(&r, b->data, b->len);
    uint32_t len = 0;
    CG_TRY(cg_read_u32(&r, &len, "public key length", err));
    if (len > cg_reader_left(&r)) return cg_error_set(err, CG_ERR_FORMAT, "public key truncated");
    CG_TRY(cg_bfv_pk_deserialize(s->he, r.p + r.pos, len, &s->pk, err));
    r.pos += len;
    CG_TRY(cg_read_u32(&r, &len, "relinearisation key length", err));
    if (s->pack ? len > cg_reader_left(&r) : len != cg_reader_left(&r))
        return cg_error_set(err, CG_ERR_FORMAT, "relinearisation key: %u bytes, %zu sent", len,
                            cg_reader_left(&r));
    CG_TRY(cg_bfv_ksk_deserialize(s->he, r.p + r.pos, len, &s->rk, err));
    if (!s->pack) return CG_OK;
    r.pos += len;
    CG_TRY(cg_read_u32(&r, &len, "expansion key length", err));
    if (len != cg_reader_left(&r))
        return cg_error_set(err, CG_ERR_FORMAT, "expansion keys: %u bytes, %zu sent", len, cg_reader_left(&r));
    return gen_pack_keys_read(s, r.p + r.pos, len, err);
}

static cg_status start_mpc(gen_sess *s, cg_error *err)
{
    const cg_mpc_options mo = {.otn = s->req.otn, .ot = s->req.ot};
    CG_TRY(cg_mpc_new(&s->mpc, s->ch, s->party, &mo, err));
    cg_mpc_set_exact(s->mpc, true);
    CG_TRY(cg_mpc_ot_fill_ahead(s->mpc, err)); /* Ferret's first big refill: not in the token choice */
    s->setup = gen_channel_totals(s);
    gen_progress(s, CG_PHASE_BASE_OT, 1, 1);
    return CG_OK;
}

/* ---- Steps ----------------------------------------------------------------------- */

/* Benchmarks: the cache of positions [0, fill) as fresh encryptions of
 * random values in (-1, 1), one ciphertext per block, K and V, item k in
 * (layer, head, block, kind) order. */
typedef struct fill_job {
    size_t blocks, fill;
    uint64_t seed[4]; /* the client's: random values, never sent */
} fill_job;

static void fill_layout(const gen_sess *s, const void *ctx, size_t k, uint64_t *co)
{
    const fill_job *f = ctx;
    const size_t block = (k / 2) % f->blocks, B = s->kv.block;
    cg_prg prg;
    cg_prg_init(&prg, (const uint8_t *)f->seed, k);
    memset(co, 0, s->N * sizeof *co);
    for (size_t pos = block * B; pos < (block + 1) * B && pos < f->fill; pos++)
        for (size_t i = 0; i < s->dh; i++) {
            const size_t at = k % 2 == KV_KEY ? kv_key_coeff(&s->kv, pos % B, i)
                                              : kv_value_coeff(&s->kv, pos % B, i);
            co[at] = (cg_prg_uniform(&prg, 1u << 13) - (1u << 12)) & s->mask;
        }
    cg_prg_clear(&prg);
}

static cg_status bench_fill(gen_sess *s, cg_error *err)
{
    fill_job f = {.fill = s->req.bench_fill};
    if (f.fill == 0) return CG_OK;
    f.blocks = kv_blocks_for(&s->kv, f.fill);
    const size_t n = 2 * (size_t)s->cfg.n_layer * s->H * f.blocks;
    cg_bfv_ct *cts = gen_alloc_cts(n);
    if (!cts) return cg_error_set(err, CG_ERR_NOMEM, "benchmark fill");
    cg_status st;
    if (s->party == CG_CLIENT) {
        cg_random_bytes(f.seed, sizeof f.seed);
        st = gen_shares_to_he(s, n, fill_layout, &f, cts, err);
        if (st == CG_OK) st = gen_send_cts(s, cts, n, err);
    } else {
        st = gen_recv_cts(s, cts, n, err);
        for (size_t k = 0; st == CG_OK && k < n; k++) {
            const size_t lh = k / 2 / f.blocks;
            const kv_ref r = {.kind = (kv_kind)(k % 2), .layer = lh / s->H, .head = lh % s->H,
                              .block = (k / 2) % f.blocks};
            if (s->attn == CG_ATTN_SPLIT) st = cg_bfv_to_ntt(s->he, &cts[k], err);
            if (st == CG_OK) kv_cache_replace(&s->cache, r, &cts[k]);
        }
    }
    /* split: the shares of the filled positions (zero: only the timing of a
     * fill is meaningful) take their room in both parties' share stores */
    uint64_t *zero = s->attn == CG_ATTN_SPLIT ? cg_calloc(s->dh, sizeof *zero) : NULL;
    if (st == CG_OK && s->attn == CG_ATTN_SPLIT && !zero) st = cg_error_set(err, CG_ERR_NOMEM, "fill");
    for (size_t k = 0; st == CG_OK && zero && k < 2 * s->cfg.n_layer * s->H * f.fill; k++)
        st = kv_shares_put(&s->shares, (kv_kind)(k % 2), k / 2 / f.fill / s->H, k / 2 / f.fill % s->H,
                           k / 2 % f.fill, zero, err);
    cg_free(zero);
    /* split server: its K blocks as plaintexts, as the steps before would
     * have left them (decode re-encodes only the block an append changed) */
    if (st == CG_OK && s->attn == CG_ATTN_SPLIT && s->party == CG_SERVER)
        st = kv_split_warm(&s->shares, s->he, s->l, KV_KEY, f.blocks, err);
    gen_free_cts(cts, n);
    cg_free(cts);
    return st;
}

/* Split attention: each party's plaintext shares, room for the whole
 * session (blocks are allocated as positions arrive). */
static cg_status init_shares(gen_sess *s, cg_error *err)
{
    if (s->attn != CG_ATTN_SPLIT) return CG_OK;
    const size_t len = (size_t)s->req.bench_fill + s->req.prompt_len + s->req.new_tokens;
    return kv_shares_init(&s->shares, &s->kv, s->cfg.n_layer, s->H, kv_blocks_for(&s->kv, len), err);
}

static cg_status run_steps(gen_sess *s, const uint32_t *prompt, uint32_t *out, cg_error *err)
{
    const size_t m = s->req.prompt_len, n = s->req.new_tokens, base = s->req.bench_fill;
    uint32_t *seq = NULL;
    if (s->party == CG_CLIENT) {
        seq = cg_alloc((m + n) * sizeof *seq);
        if (!seq) return cg_error_set(err, CG_ERR_NOMEM, "token sequence");
        memcpy(seq, prompt, m * sizeof *seq);
    }
    cg_status st = init_shares(s, err);
    if (st == CG_OK) st = bench_fill(s, err);
    bool stop = false;
    for (size_t step = 0; st == CG_OK && step < n; step++) {
        const uint64_t t0 = cg_now_ns();
        gen_step_begin(s, step);
        if (step > 0) {
            /* The client says whether it wants this step (a stop condition
             * met ends the session); it sends first in every step anyway, so
             * the byte adds no round. */
            uint8_t go = !stop;
            st = s->party == CG_CLIENT ? cg_chan_send(s->ch, &go, 1, err) : cg_chan_recv(s->ch, &go, 1, err);
            if (st == CG_OK && go > 1) st = cg_error_set(err, CG_ERR_FORMAT, "step flag %u", go);
            if (st != CG_OK || !go) break;
            /* Ferret: a low stock is refilled between tokens, not inside a layer */
            if ((st = cg_mpc_ot_fill_ahead(s->mpc, err)) != CG_OK) break;
        }
        uint32_t tok = 0;
        const size_t len = m + step; /* tokens known before this step */
        /* The rows of a prefill (or of a baseline step) go in chunks, so
         * memory stays bounded whatever the prompt length; the result is
         * the same, each row only reads the cache of earlier positions. */
        size_t first = 0;
        if (s->req.use_cache && step > 0) first = len - 1;
        else if (!s->req.use_cache && s->party == CG_SERVER) kv_cache_clear(&s->cache);
        if (step == 0) { /* prefill: progress per layer pass */
            s->prefill_done = s->prefill_positions_done = 0;
            s->prefill_total = s->cfg.n_layer * ((len + s->chunk - 1) / s->chunk);
        }
        st = gen_embed_pass(s, seq ? seq + first : NULL, base + first, len - first, err);
        while (st == CG_OK && first < len) {
            const size_t rows = len - first < s->chunk ? len - first : s->chunk;
            st = gen_forward(s, seq ? seq + first : NULL, base + first, rows, first + rows == len,
                             &tok, err);
            first += rows;
            s->prefill_positions_done = first;
        }
        gen_embed_pass_end(s);
        s->prefill_total = 0;
        if (st != CG_OK) break;
        if (seq) {
            seq[len] = tok;
            out[step] = tok;
            stop = s->opt && s->opt->stop && s->opt->stop(s->opt->stop_ctx, out, step + 1);
            if (stop)
                for (size_t i = step + 1; i < n; i++) out[i] = CG_GEN_STOPPED;
        }
        s->rep.token = tok;
        gen_step_end(s, base + len + 1, t0);
    }
    cg_free(seq);
    return st;
}

/* ---- Entry points ------------------------------------------------------------------ */

cg_status cg_gen_server_notify_queued(cg_channel *ch, uint32_t busy, uint32_t slots, cg_error *err)
{
    if (!ch) return cg_error_set(err, CG_ERR_ARG, "cg_gen_server_notify_queued: NULL channel");
    cg_buf b;
    cg_buf_init(&b);
    cg_buf_put_u8(&b, GEN_REPLY_QUEUED);
    cg_buf_put_u32(&b, busy);
    cg_buf_put_u32(&b, slots);
    cg_status st = cg_chan_send_buf(ch, &b, err);
    if (st == CG_OK) st = cg_chan_flush(ch, err);
    cg_buf_free(&b);
    return st;
}

cg_status cg_gen_client(cg_channel *ch, const cg_gen_request *req, const uint32_t *prompt,
                        uint32_t *out, const cg_gen_options *opt, cg_error *err)
{
    cg_error local = {0};
    if (!err) err = &local;
    if (!ch || !req || !prompt || !out || req->prompt_len == 0 || req->new_tokens == 0 ||
        memchr(req->he_preset, '\0', sizeof req->he_preset) == NULL ||
        !cg_otn_kind_valid(req->otn) || !cg_ot_kind_valid(req->ot))
        return cg_error_set(err, CG_ERR_ARG,
                            "generation request: empty prompt, no tokens, bad preset or OT kind");
    gen_sess s = {.party = CG_CLIENT, .ch = ch, .req = *req, .opt = opt,
                  .threads = opt && opt->threads > 0 ? opt->threads : 1, .setup_t0 = cg_now_ns()};
    cg_buf_init(&s.msg);
    cg_chan_reset_stats(ch);
    cg_status st = client_handshake(&s, err);
    for (size_t i = 0; st == CG_OK && i < req->prompt_len; i++)
        if (prompt[i] >= s.V)
            st = cg_error_set(err, CG_ERR_ARG, "prompt token %u >= vocab %zu", prompt[i], s.V);
    if (st == CG_OK) gen_progress(&s, CG_PHASE_HANDSHAKE, 1, 1);
    if (st == CG_OK) st = send_keys(&s, err);
    if (st == CG_OK) gen_progress(&s, CG_PHASE_KEYS, 1, 1);
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
    if (!ch || !fm) return cg_error_set(err, CG_ERR_ARG, "cg_gen_server: NULL argument");
    gen_sess s = {.party = CG_SERVER, .ch = ch, .fm = fm, .opt = opt,
                  .threads = opt && opt->threads > 0 ? opt->threads : 1, .setup_t0 = cg_now_ns()};
    cg_buf_init(&s.msg);
    cg_chan_reset_stats(ch);
    cg_status st = server_handshake(&s, err);
    if (st == CG_OK) gen_progress(&s, CG_PHASE_HANDSHAKE, 1, 1);
    if (st == CG_OK) st = receive_keys(&s, err);
    if (st == CG_OK) gen_progress(&s, CG_PHASE_KEYS, 1, 1);
    if (st == CG_OK) st = start_mpc(&s, err);
    if (st == CG_OK)
        st = kv_cache_init(&s.cache, &s.kv, s.cfg.n_layer, s.H,
                           kv_blocks_for(&s.kv, (size_t)s.req.bench_fill + s.req.prompt_len + s.req.new_tokens),
                           err);
    if (st == CG_OK) st = run_steps(&s, NULL, NULL, err);
    if (st == CG_OK) st = cg_chan_flush(ch, err);
    sess_free(&s);
    return st;
}
