/* `cryptogen bench gen [--shape gpt2-base|L,H,D,V,P] [--prefix P]
 *   [--lengths 64,128,256,512] [--mode cache,baseline] [--baseline-max L]
 *   [--threads T] [--rtt-ms X] [--mbps Y] [--attention split,ctct]
 *   [--pack-inputs off|on] [--dense-replies off|on|max] [--json]`
 *
 * Per-token decode latency at total length L, for one transformer block and
 * for the whole model, with the paper's per-component rows. A server thread
 * and the client run in this process over loopback TCP (optionally shaped).
 * Timing uses a one-layer model of the requested width with random weights:
 * the block figures are that layer's rows, the whole-model figure is
 * n_layer x block + embedding + final LayerNorm + LM head + token choice
 * (stated in the output). Cache mode reaches length L by filling positions 0..L-2 with
 * encryptions of random values (bench_fill, see proto.h) and then decoding
 * the token at position L-1; baseline mode runs all L positions again, as
 * the comparison system does for every token. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/gen_client.h"
#include "cli/opts.h"
#include "cli/tls_opts.h"
#include "cli/values.h"

typedef struct client_rec {
    cg_gen_step_report last;
} client_rec;

/* --channel: the server's and the client's TLS configurations (NULL: plain). */
typedef struct bench_channel {
    const cg_tls_config *server, *client;
    cg_chan_tls_info info; /* the client's, after the last session */
} bench_channel;

static void client_step(void *ctx, const cg_gen_step_report *r)
{
    ((client_rec *)ctx)->last = *r;
}

/* One session: returns the client's and the server's report of its step 0. */
static cg_status run_one(const cg_fixed_model *fm, const cg_gen_weights *ws, const cg_gen_request *req,
                         const uint32_t *prompt, int threads, const cg_chan_options *copt,
                         bench_channel *bc, cg_gen_attention attention, cg_gen_step_report *client,
                         cg_gen_step_report *server, cg_error *err)
{
    cli_loopback lb;
    cg_chan_options o_srv = *copt, o_cli = *copt;
    o_srv.tls = bc->server;
    o_cli.tls = bc->client;
    CG_TRY(cli_loopback_start(&lb, fm, ws, threads, &o_srv, err));
    cg_channel *ch = NULL;
    client_rec rec = {0};
    cg_status st = cg_connect(&ch, lb.addr, &o_cli, err);
    uint32_t *out = calloc(req->new_tokens, sizeof *out);
    if (st == CG_OK && !out) st = cg_error_set(err, CG_ERR_NOMEM, "tokens");
    if (st == CG_OK) {
        cg_gen_options o = {.threads = threads, .on_step = client_step, .on_step_ctx = &rec,
                            .attention = attention};
        st = cg_gen_client(ch, req, prompt, out, &o, err);
    }
    cg_chan_get_tls_info(ch, &bc->info);
    cg_chan_free(ch);
    cg_error serr = {0};
    if (cli_loopback_join(&lb, &serr) != CG_OK && st == CG_OK) {
        *err = serr;
        st = lb.st;
    }
    free(out);
    *client = rec.last;
    *server = lb.last;
    return st;
}

static const cg_gen_part block_parts[] = {CG_PART_LAYERNORM, CG_PART_QKV,     CG_PART_KV_APPEND,
                                          CG_PART_QK,        CG_PART_SOFTMAX, CG_PART_SV,
                                          CG_PART_ATTN_OUT,  CG_PART_MLP_UP,  CG_PART_GELU,
                                          CG_PART_MLP_DOWN,  CG_PART_REFRESH};
#define NBLOCK (sizeof block_parts / sizeof block_parts[0])

static const cg_gen_part outside_parts[] = {CG_PART_EMBEDDING, CG_PART_FINAL_NORM, CG_PART_LM_HEAD,
                                            CG_PART_TOKEN};

/* Parts as a JSON object: {part: {seconds, bytes each way, rounds,
 * cpu_seconds}} from the client's report (sent = client to server;
 * cpu_seconds: the whole process's, so both parties' here). */
static void print_part_list(const cg_gen_step_report *c, const cg_gen_part *parts, size_t np, double per)
{
    printf("{");
    for (size_t i = 0; i < np; i++) {
        const cg_gen_part p = parts[i];
        printf("%s\"%s\": {\"seconds\": %.4f, \"bytes_client_to_server\": %.0f, "
               "\"bytes_server_to_client\": %.0f, \"rounds\": %.0f, \"cpu_seconds\": %.4f}",
               i ? ", " : "", cg_gen_part_name(p), c->seconds[p] * per, (double)c->bytes_sent[p] * per,
               (double)c->bytes_received[p] * per, (double)c->rounds[p] * per, c->cpu_seconds[p] * per);
    }
    printf("}");
}

static void print_parts(const cg_gen_step_report *c, double per) { print_part_list(c, block_parts, NBLOCK, per); }

/* Outside the block: embedding, final LayerNorm, head and token choice,
 * once per pass whatever the number of layers. */
static double outside_seconds(const cg_gen_step_report *c)
{
    return c->seconds[CG_PART_EMBEDDING] + c->seconds[CG_PART_FINAL_NORM] + c->seconds[CG_PART_LM_HEAD] +
           c->seconds[CG_PART_TOKEN];
}

static void print_result(const char *mode, size_t L, const cg_gen_step_report *c,
                         const cg_gen_step_report *s, const cg_chan_tls_info *ti, unsigned n_layer,
                         bool first)
{
    double blk = 0;
    uint64_t bs = 0, br = 0, rounds = 0;
    for (size_t i = 0; i < NBLOCK; i++) {
        blk += c->seconds[block_parts[i]];
        bs += c->bytes_sent[block_parts[i]];
        br += c->bytes_received[block_parts[i]];
        rounds += c->rounds[block_parts[i]];
    }
    printf("%s    {\"mode\": \"%s\", \"attention\": \"%s\", \"L\": %zu, \"block\": {\"seconds\": %.3f, \"bytes_client_to_server\": %llu, "
           "\"bytes_server_to_client\": %llu, \"rounds\": %llu, \"parts_seconds\": {",
           first ? "" : ",\n", mode, cg_gen_attention_name((cg_gen_attention)c->attention), L, blk, (unsigned long long)bs, (unsigned long long)br,
           (unsigned long long)rounds);
    for (size_t i = 0; i < NBLOCK; i++)
        printf("%s\"%s\": %.4f", i ? ", " : "", cg_gen_part_name(block_parts[i]), c->seconds[block_parts[i]]);
    printf("}, \"parts\": ");
    print_parts(c, 1.0);
    printf("}, \"embedding_seconds\": %.3f, \"final_layernorm_seconds\": %.3f, \"lm_head_seconds\": %.3f, "
           "\"token_seconds\": %.3f, "
           "\"whole_model_seconds\": %.3f, \"whole_model_bytes_client_to_server\": %llu, "
           "\"whole_model_bytes_server_to_client\": %llu, \"server_cache_bytes_per_layer\": %llu, "
           "\"server_cache_bytes_whole_model\": %llu, \"client_share_bytes_per_layer\": %llu, "
           "\"server_share_bytes_per_layer\": %llu",
           c->seconds[CG_PART_EMBEDDING], c->seconds[CG_PART_FINAL_NORM], c->seconds[CG_PART_LM_HEAD],
           c->seconds[CG_PART_TOKEN], n_layer * blk + outside_seconds(c),
           (unsigned long long)((c->total_sent - bs) + (uint64_t)n_layer * bs),
           (unsigned long long)((c->total_received - br) + (uint64_t)n_layer * br),
           (unsigned long long)s->cache_bytes, (unsigned long long)(s->cache_bytes * n_layer),
           (unsigned long long)c->share_bytes, (unsigned long long)s->share_bytes);
    /* once per token, outside the blocks: embedding, final LayerNorm, LM head, token choice */
    printf(", \"outside_block_parts\": ");
    print_part_list(c, outside_parts, sizeof outside_parts / sizeof outside_parts[0], 1.0);
    /* The whole session's socket bytes (handshake, records, frame headers):
     * set beside the payload counts to see the channel's overhead. */
    printf(", \"setup\": {\"seconds\": %.3f, \"bytes_client_to_server\": %llu, "
           "\"bytes_server_to_client\": %llu}", c->setup_seconds, (unsigned long long)c->setup_sent,
           (unsigned long long)c->setup_received);
    printf(", \"channel\": {\"tls\": %s, \"cipher\": \"%s\", \"handshake_ms\": %.2f, "
           "\"session_wire_bytes_client_to_server\": %llu, \"session_wire_bytes_server_to_client\": %llu}}",
           ti->tls ? "true" : "false", ti->cipher, (double)ti->handshake_ns * 1e-6,
           (unsigned long long)ti->wire_sent, (unsigned long long)ti->wire_received);
    fflush(stdout);
}

/* The real prefill of `tokens` prompt tokens through a model of `layers`
 * layers (embedding, every block, final LayerNorm, head, token choice), as
 * the top-level "prefill" object: step 0 of a session with one new token,
 * per-layer block parts (their sum over the layers / layers). */
static cg_status print_prefill(const cg_fixed_model *fm, const cg_gen_weights *ws, size_t tokens,
                               uint32_t rows, const uint32_t *prompt, int threads,
                               const cg_chan_options *copt, bench_channel *bc, const cg_gen_request *kinds,
                               cg_error *err)
{
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)tokens,
                          .new_tokens = 1, .otn = kinds->otn, .ot = kinds->ot, .prefill_rows = rows,
                          .prefill_chunk = kinds->prefill_chunk, .pack_inputs = kinds->pack_inputs,
                          .dense_replies = kinds->dense_replies, .dense_max = kinds->dense_max};
    cg_gen_step_report c = {0}, s = {0};
    CG_TRY(run_one(fm, ws, &req, prompt, threads, copt, bc, CG_ATTN_DEFAULT, &c, &s, err));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const unsigned layers = fm->cfg.n_layer;
    const double per = 1.0 / layers;
    double blk = 0, lin = 0;
    for (size_t i = 0; i < NBLOCK; i++) blk += c.seconds[block_parts[i]];
    lin = c.seconds[CG_PART_QKV] + c.seconds[CG_PART_ATTN_OUT] + c.seconds[CG_PART_MLP_UP] +
          c.seconds[CG_PART_MLP_DOWN];
    printf("{\"tokens\": %zu, \"layers\": %u, \"rows_per_ciphertext\": \"%s\", \"setup_seconds\": %.3f, "
           "\"whole_model_seconds\": %.3f, \"time_to_first_token_seconds\": %.3f, "
           "\"bytes_client_to_server\": %llu, \"bytes_server_to_client\": %llu, \"rounds\": %llu, "
           "\"peak_rss_bytes\": %lld, \"outside_block_seconds\": %.3f, \"block\": {\"seconds\": %.3f, "
           "\"linear_seconds\": %.3f, \"parts\": ",
           tokens, layers, rows == 0 ? "cost model" : rows == 1 ? "1 (one-row plan)" : "forced",
           c.setup_seconds, c.total_seconds, c.setup_seconds + c.total_seconds,
           (unsigned long long)c.total_sent, (unsigned long long)c.total_received,
           (unsigned long long)c.total_rounds, (long long)ru.ru_maxrss * 1024, outside_seconds(&c),
           blk * per, lin * per);
    print_parts(&c, per);
    printf("}, \"outside_block_parts\": ");
    print_part_list(&c, outside_parts, sizeof outside_parts / sizeof outside_parts[0], 1.0);
    printf(", \"rows_requested\": %u, \"first_token\": %u, \"whole_model_cpu_seconds\": %.3f}", rows, c.token,
           c.total_cpu_seconds);
    fflush(stdout);
    return CG_OK;
}

/* The pre-encoding that matches the request's decode layout (packed, dense
 * or dense max strided blocks, or plain blocks). */
typedef cg_status (*weights_fn)(cg_gen_weights **, const cg_fixed_model *, const char *, uint64_t, int,
                                cg_error *);
static weights_fn weights_for(const cg_gen_request *q)
{
    return q->dense_max ? cg_gen_weights_new_dense_max
           : q->dense_replies ? cg_gen_weights_new_dense
           : q->pack_inputs   ? cg_gen_weights_new_packed
                              : cg_gen_weights_new;
}

/* --prefill: "prefill" for the first rows-per-ciphertext value and
 * "prefill_other_rows" for the others, on a model of `layers` layers (the
 * one-layer model itself when layers is 1). */
static cg_status run_prefills(const cg_gpt2_config *one, const cg_fixed_model *fm1, const cg_gen_weights *ws1,
                              size_t tokens, unsigned layers, const char *rows_list, const uint32_t *prompt,
                              int threads, const cg_chan_options *copt, bench_channel *bc,
                              const cg_gen_request *kinds, cg_error *err)
{
    uint32_t *rows = NULL;
    size_t nr = 0;
    if (tokens + 1 > one->n_positions)
        return cg_error_set(err, CG_ERR_ARG, "--prefill %zu: needs %zu positions (the shape has %u)", tokens,
                            tokens + 1, one->n_positions);
    if (!cli_parse_ids(rows_list, &rows, &nr)) return cg_error_set(err, CG_ERR_NOMEM, "--prefill-rows");
    cg_gpt2_config cfg = *one;
    cfg.n_layer = layers;
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_gen_weights *ws = NULL;
    cg_status st = CG_OK;
    if (layers != 1) {
        st = cg_gpt2_random(&m, &cfg, 1, err);
        if (st == CG_OK) st = cg_fixed_model_new(&fm, m, cg_fixed_default(), err);
        /* the prefill's packed layers encode their blocks per use; only the
         * head (one row) reads pre-encoded ones: the two V x d tables fit in
         * 2.5 GB, the layers' blocks would only raise the peak RSS */
        if (st == CG_OK) st = weights_for(kinds)(&ws, fm, "paper", (uint64_t)5 << 29, threads, err);
    }
    for (size_t i = 0; st == CG_OK && i < nr; i++) {
        printf(i == 0 ? " \"prefill\": " : i == 1 ? ",\n \"prefill_other_rows\": [" : ",\n   ");
        st = print_prefill(fm ? fm : fm1, fm ? ws : ws1, tokens, rows[i], prompt, threads, copt, bc, kinds, err);
        fprintf(stderr, "bench gen: prefill of %zu tokens, %u layers, rows %u done\n", tokens, layers, rows[i]);
    }
    if (st == CG_OK) printf("%s,\n", nr > 1 ? "]" : "");
    cg_gen_weights_free(ws);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
    cg_free(rows);
    return st;
}

/* --attention: "split", "ctct" or both in the order given, comma-separated. */
static bool check_attentions(const char *value, char *why, size_t why_size)
{
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        if (!((len == 5 && strncmp(p, "split", 5) == 0) || (len == 4 && strncmp(p, "ctct", 4) == 0))) {
            snprintf(why, why_size, "is not a comma-separated list of split and ctct");
            return false;
        }
        if (p[len] == '\0') return true;
        p += len + 1;
    }
}

/* --mode: "cache", "baseline" or both, comma-separated. */
static bool check_modes(const char *value, char *why, size_t why_size)
{
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        if (!((len == 5 && strncmp(p, "cache", 5) == 0) || (len == 8 && strncmp(p, "baseline", 8) == 0))) {
            snprintf(why, why_size, "is not cache, baseline or cache,baseline");
            return false;
        }
        if (p[len] == '\0') return true;
        p += len + 1;
    }
}

int cg_bench_gen(int argc, char **argv)
{
    const char *shape = "gpt2-base", *lengths = "64,128,256,512", *modes = "cache,baseline";
    const char *attentions = "split";
    uint64_t prefix = 64, baseline_max = 128;
    int threads = 2;
    double rtt_ms = 0, mbps = 0;
    bool json = false;
    uint64_t prefill = 0, prefill_layers = 0, prefill_chunk = 0;
    const char *prefill_rows = "0";
    const char *otn = cli_otn_names[CG_OTN_KK13];
    static const char *const channels[] = {"tls", "plaintext", NULL};
    const char *channel = channels[0];
    const char *ot = cli_ot_names[CG_OT_IKNP];
    static const char *const on_off[] = {"off", "on", NULL};
    const char *pack = on_off[0];
    static const char *const dense_modes[] = {"off", "on", "max", NULL};
    const char *dense = dense_modes[0];
    const cli_opt opts[] = {
        CLI_OPT_CHECKED("shape", 0, shape, "SHAPE", cli_check_shape,
                        "model shape: gpt2-base|gpt2-medium|gpt2-large|gpt2-xl|distilgpt2 or layers,heads,width,vocab,positions"),
        CLI_OPT_CHECKED("lengths", 0, lengths, "L,L,...", cli_check_ids,
                        "total lengths L to decode the last token of, each in [2, positions]"),
        CLI_OPT_CHECKED("mode", 0, modes, "MODES", check_modes, "cache, baseline or both, comma-separated"),
        CLI_OPT_CHECKED("attention", 0, attentions, "KINDS", check_attentions,
                        "attention kinds, each length and mode run in each in turn: split, ctct or both"),
        CLI_OPT_U64("baseline-max", 0, baseline_max, "L", 0, UINT64_MAX,
                    "measure baseline mode up to this length only: it re-runs all L positions"),
        CLI_OPT_U64("prefix", 0, prefix, "P", 0, UINT64_MAX, "a prompt length recorded in the JSON"),
        CLI_OPT_INT("threads", 0, threads, "T", 1, INT_MAX, "threads of each party"),
        CLI_OPT_DOUBLE("rtt-ms", 0, rtt_ms, "X", 0, 1e6, "round-trip time added to the loopback link, ms"),
        CLI_OPT_DOUBLE("mbps", 0, mbps, "Y", 0, 1e6,
                       "bandwidth of the loopback link in Mbit/s, 0 for unshaped"),
        CLI_OPT_CHOICE("otn", 0, otn, NULL, cli_otn_names, "1-of-N OT construction of both parties"),
        CLI_OPT_CHOICE("channel", 0, channel, NULL, channels,
                       "TLS 1.3 (an ephemeral certificate, pinned) or plain TCP under the protocol"),
        CLI_OPT_CHOICE("ot", 0, ot, NULL, cli_ot_names, "COT source of both parties"),
        CLI_OPT_U64("prefill", 0, prefill, "N", 0, UINT64_MAX,
                    "also run the real prefill of N prompt tokens through the whole model and print "
                    "it as \"prefill\" (time to first token)"),
        CLI_OPT_U64("prefill-layers", 0, prefill_layers, "K", 0, 1000,
                    "layers of the prefill's model (0: the shape's; fewer gives block figures quickly)"),
        CLI_OPT_CHECKED("prefill-rows", 0, prefill_rows, "R,R,...", cli_check_ids,
                        "prompt rows per ciphertext in the prefill's linear layers, each run in turn "
                        "(0: the cost model, 1: one row per ciphertext)"),
        CLI_OPT_U64("prefill-chunk", 0, prefill_chunk, "C", 0, CG_GEN_PREFILL_CHUNK_MAX,
                    "prompt rows per prefill pass, also the baseline's (0: the protocol's default, 64)"),
        CLI_OPT_CHOICE("pack-inputs", 0, pack, NULL, on_off,
                       "decode linear layers: the client packs each input into one ciphertext and the "
                       "server expands it (Galois keys sent once; the weights pre-encoded to match)"),
        CLI_OPT_CHOICE("dense-replies", 0, dense, NULL, dense_modes,
                       "with --pack-inputs on: plans with fewer values per expanded chunk and more "
                       "outputs per reply (fewer replies, more key switches; weights pre-encoded to match); "
                       "max: the fewest-bytes plans"),
        CLI_OPT_FLAG("json", 0, json, "JSON output (the only format)"),
        {0},
    };
    const cli_command cmd = {
        .name = "bench gen",
        .about = "Per-token decode latency at total length L, for one transformer block and for\n"
                 "the whole model, per component. A server thread and the client run over\n"
                 "loopback TCP (optionally shaped) with a one-layer model of the requested width\n"
                 "and random weights; the whole-model figure is n_layer x block + embedding +\n"
                 "final LayerNorm + LM head + token choice.",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    cg_gpt2_config cfg;
    uint32_t *ls = NULL;
    size_t nl = 0;
    if (!cli_parse_shape(shape, &cfg) || !cli_parse_ids(lengths, &ls, &nl)) {
        fprintf(stderr, "cryptogen bench gen: out of memory\n");
        cg_free(ls);
        return 1;
    }
    for (size_t i = 0; i < nl; i++)
        if (ls[i] < 2 || ls[i] > cfg.n_positions) {
            const uint32_t bad = ls[i];
            cg_free(ls);
            return cli_usage_error(&cmd, "--lengths: %u is outside [2, %u] (the shape's positions)", bad,
                                   cfg.n_positions);
        }
    const unsigned full_layers = cfg.n_layer;
    cfg.n_layer = 1;
    bool want_cache = strstr(modes, "cache") != NULL, want_base = strstr(modes, "baseline") != NULL;
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_gen_weights *ws = NULL;
    cg_tls_config *tls_srv = NULL, *tls_cli = NULL;
    int rc = 1;
    if (cg_gpt2_random(&m, &cfg, 1, &err) != CG_OK ||
        cg_fixed_model_new(&fm, m, cg_fixed_default(), &err) != CG_OK ||
        cli_tls_loopback(strcmp(channel, "plaintext") == 0, &tls_srv, &tls_cli, &err) != CG_OK)
        goto done;
    bench_channel bc = {.server = tls_srv, .client = tls_cli};
    uint64_t t0 = cg_now_ns();
    const bool pack_on = strcmp(pack, "on") == 0, dense_on = pack_on && strcmp(dense, "off") != 0;
    const bool dense_max = dense_on && strcmp(dense, "max") == 0;
    const cg_gen_request kinds = {.otn = cli_otn_kind(otn), .ot = cli_ot_kind(ot),
                                  .prefill_chunk = (uint32_t)prefill_chunk, .pack_inputs = pack_on,
                                  .dense_replies = dense_on, .dense_max = dense_max};
    if (weights_for(&kinds)(&ws, fm, "paper", (uint64_t)6 << 30, threads, &err) != CG_OK) goto done;
    double encode_s = (double)(cg_now_ns() - t0) * 1e-9;
    cg_chan_options copt = {.timeout_ms = 3600000,
                            .shape = {.one_way_latency_us = (uint32_t)(rtt_ms * 500.0),
                                      .bandwidth_bps = (uint64_t)(mbps * 1e6)}};
    printf("{\"bench\": \"gen\", ");
    cli_print_machine_json(stdout);
    printf(", \"pack_inputs\": %s, \"dense_replies\": %s, \"dense_max\": %s, \"prefill_chunk\": %u",
           pack_on ? "true" : "false", dense_on ? "true" : "false", dense_max ? "true" : "false",
           prefill_chunk ? (unsigned)prefill_chunk : (unsigned)CG_GEN_PREFILL_CHUNK_DEFAULT);
    printf(", \"channel\": \"%s\", \"ot\": \"%s\", \"otn\": \"%s\", \"shape\": {\"n_layer\": %u, \"n_head\": %u, \"n_embd\": %u, "
           "\"vocab\": %u, \"positions\": %u}, \"prefix\": %lu, \"threads\": %d, "
           "\"link\": {\"rtt_ms\": %.1f, \"mbps\": %.1f}, \"he_preset\": \"paper\", "
           "\"server_weight_encoding_seconds\": %.2f, \"server_weight_bytes_one_layer_plus_embeddings\": %llu,\n"
           " \"method\": \"one-layer model of this width, random weights; whole model = n_layer x block + "
           "embedding + final LayerNorm + LM head + token (the final LayerNorm is not part of the block); cache mode builds the length-L state by filling positions 0..L-2 "
           "with encryptions of random values, then decodes position L-1; baseline runs all L positions "
           "through the prefill path, as the cache-less system does every token; prefill (with --prefill) "
           "is a real session's step 0 on a model of prefill.layers layers, not extrapolated\",\n",
           channel, ot, otn,
           full_layers, cfg.n_head, cfg.n_embd, cfg.vocab_size, cfg.n_positions, (unsigned long)prefix, threads,
           rtt_ms, mbps, encode_s, (unsigned long long)cg_gen_weights_bytes(ws));
    fflush(stdout);
    bool first = true;
    uint32_t *prompt = calloc(cfg.n_positions, sizeof *prompt);
    if (!prompt) goto done;
    for (size_t i = 0; i < cfg.n_positions; i++) prompt[i] = (uint32_t)((i * 7919u + 13u) % cfg.vocab_size);
    if (prefill && run_prefills(&cfg, fm, ws, prefill, prefill_layers ? (unsigned)prefill_layers : full_layers,
                                prefill_rows, prompt, threads, &copt, &bc, &kinds, &err) != CG_OK) {
        printf("}\n");
        free(prompt);
        goto done;
    }
    /* --attention, in the order given (side by side at each length) */
    cg_gen_attention kinds_run[2];
    size_t n_kinds = 0;
    for (const char *a = attentions; *a && n_kinds < 2;) {
        kinds_run[n_kinds++] = strncmp(a, "ctct", 4) == 0 ? CG_ATTN_CTCT : CG_ATTN_SPLIT;
        a += strcspn(a, ",");
        a += *a == ',';
    }
    printf(" \"results\": [\n");
    for (size_t i = 0; i < nl; i++) {
        const size_t L = ls[i];
        for (int mode = 0; mode < 2; mode++)
            for (size_t k = 0; k < n_kinds; k++) {
                if ((mode == 0 && !want_cache) || (mode == 1 && !want_base)) continue;
                if (mode == 1 && L > baseline_max) {
                    if (k == 0)
                        printf("%s    {\"mode\": \"baseline\", \"L\": %zu, \"measured\": false, "
                               "\"why\": \"above --baseline-max %lu\"}",
                               first ? "" : ",\n", L, (unsigned long)baseline_max);
                    first = false;
                    continue;
                }
                cg_gen_request req = {.he_preset = "paper", .use_cache = mode == 0, .new_tokens = 1,
                                      .otn = cli_otn_kind(otn), .ot = cli_ot_kind(ot),
                                      .pack_inputs = pack_on, .dense_replies = dense_on,
                                      .dense_max = dense_max, .prefill_chunk = (uint32_t)prefill_chunk};
                if (mode == 0) {
                    req.bench_fill = (uint32_t)(L - 1);
                    req.prompt_len = 1;
                } else {
                    req.prompt_len = (uint32_t)L;
                }
                cg_gen_step_report c = {0}, s = {0};
                struct rusage ru;
                if (run_one(fm, ws, &req, prompt, threads, &copt, &bc, kinds_run[k], &c, &s, &err) != CG_OK) {
                    printf("\n]}\n");
                    goto done;
                }
                getrusage(RUSAGE_SELF, &ru);
                print_result(mode == 0 ? "cache" : "baseline", L, &c, &s, &bc.info, full_layers, first);
                fprintf(stderr, "bench gen: %s %s L=%zu done (peak RSS %ld MB)\n",
                        mode == 0 ? "cache" : "baseline", cg_gen_attention_name(kinds_run[k]), L,
                        ru.ru_maxrss / 1024);
                first = false;
            }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\n], \"peak_rss_bytes_both_parties_and_weights\": %lld}\n", (long long)ru.ru_maxrss * 1024);
    free(prompt);
    rc = 0;
done:
    if (rc) fprintf(stderr, "cryptogen bench gen: %s\n", err.msg);
    cg_free(ls);
    cg_gen_weights_free(ws);
    cg_tls_config_free(tls_srv);
    cg_tls_config_free(tls_cli);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
    return rc;
}
