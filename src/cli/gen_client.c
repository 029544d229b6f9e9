/* Shared by `generate`, `demo` and `bench gen`: run the secure client with
 * streaming output and a summary, and the two local references (float
 * model, fixed-point emulator) for comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/gen_client.h"
#include "cli/json_out.h"
#include "cli/status.h"

static void loopback_step(void *ctx, const cg_gen_step_report *r)
{
    ((cli_loopback *)ctx)->last = *r;
}

static void *loopback_main(void *arg)
{
    cli_loopback *lb = arg;
    cg_channel *ch = NULL;
    lb->st = cg_accept(lb->l, &ch, &lb->copt, &lb->err);
    if (lb->st == CG_OK) {
        cg_gen_options o = {.threads = lb->threads, .weights = lb->ws, .on_step = loopback_step,
                            .on_step_ctx = lb};
        lb->st = cg_gen_server(ch, lb->fm, &o, &lb->err);
    }
    cg_chan_free(ch);
    return NULL;
}

cg_status cli_loopback_start(cli_loopback *lb, const cg_fixed_model *fm, const cg_gen_weights *ws,
                             int threads, const cg_chan_options *copt, cg_error *err)
{
    memset(lb, 0, sizeof *lb);
    *lb = (cli_loopback){.fm = fm, .ws = ws, .copt = *copt, .threads = threads};
    CG_TRY(cg_listen(&lb->l, "127.0.0.1:0", err));
    snprintf(lb->addr, sizeof lb->addr, "127.0.0.1:%u", (unsigned)cg_listener_port(lb->l));
    if (pthread_create(&lb->thread, NULL, loopback_main, lb) != 0) {
        cg_listener_close(lb->l);
        lb->l = NULL;
        return cg_error_set(err, CG_ERR_NOMEM, "server thread");
    }
    lb->running = true;
    return CG_OK;
}

cg_status cli_loopback_join(cli_loopback *lb, cg_error *err)
{
    if (lb->running) pthread_join(lb->thread, NULL);
    lb->running = false;
    cg_listener_close(lb->l);
    lb->l = NULL;
    if (lb->st != CG_OK && err) *err = lb->err;
    return lb->st;
}

typedef struct stream_ctx {
    const cg_tokenizer *tok;
    cli_gen_summary *sum;
    const cli_output *o;
    cli_status status;
    bool text_started; /* the prompt is on stdout: a shared terminal takes no status line now */
    bool shared_tty;
    size_t printed;    /* bytes of sum->text on stdout */
    size_t text_cap;
    bool stopped;
    bool oom;
} stream_ctx;

/* Bytes at the end of the text that could begin the stop string: held back
 * until the next token decides. */
static size_t held_back(const stream_ctx *c)
{
    const char *stop = c->o->stop_string;
    if (c->stopped || !stop || !*stop) return 0;
    const size_t n = c->sum->text_len, k = strlen(stop);
    for (size_t h = k - 1 < n ? k - 1 : n; h > 0; h--)
        if (memcmp(c->sum->text + n - h, stop, h) == 0) return h;
    return 0;
}

static bool append_text(stream_ctx *c, const char *p, size_t n)
{
    cli_gen_summary *s = c->sum;
    if (s->text_len + n + 1 > c->text_cap) {
        size_t cap = 2 * (s->text_len + n + 1) + 64;
        char *t = realloc(s->text, cap);
        if (!t) return false;
        s->text = t;
        c->text_cap = cap;
    }
    memcpy(s->text + s->text_len, p, n);
    s->text_len += n;
    s->text[s->text_len] = '\0';
    return true;
}

/* After each token, before on_step: the text so far and the stop conditions. */
static bool on_token(void *ctx, const uint32_t *tokens, size_t n)
{
    stream_ctx *c = ctx;
    c->sum->tokens = n;
    if (c->stopped) return !c->o->hide_stop;
    const uint32_t t = tokens[n - 1];
    if (c->o->stop_at_eos && t == CLI_GPT2_EOS) {
        c->stopped = true;
        c->sum->stop_reason = "end-of-text";
        return !c->o->hide_stop;
    }
    char *txt = NULL;
    size_t tl = 0;
    cg_error err = {0};
    if (cg_tokenizer_decode(c->tok, &t, 1, &txt, &tl, &err) == CG_OK) {
        const size_t before = c->sum->text_len;
        if (!append_text(c, txt, tl)) c->oom = true;
        cg_free(txt);
        const char *stop = c->o->stop_string;
        if (!c->oom && stop && *stop) {
            size_t k = strlen(stop), from = before >= k ? before - k + 1 : 0;
            char *hit = strstr(c->sum->text + from, stop);
            if (hit) {
                c->sum->text_len = (size_t)(hit - c->sum->text);
                c->sum->text[c->sum->text_len] = '\0';
                c->stopped = true;
                c->sum->stop_reason = "stop string";
            }
        }
    }
    return c->stopped && !c->o->hide_stop;
}

static void print_text(stream_ctx *c, bool all)
{
    const size_t end = c->sum->text_len - (all ? 0 : held_back(c));
    if (end > c->printed) {
        fwrite(c->sum->text + c->printed, 1, end - c->printed, stdout);
        c->printed = end;
    }
    fflush(stdout);
}

static const char *phase_name(cg_gen_phase p)
{
    switch (p) {
    case CG_PHASE_QUEUED: return "queued";
    case CG_PHASE_HANDSHAKE: return "handshake";
    case CG_PHASE_KEYS: return "keys";
    case CG_PHASE_BASE_OT: return "base_ot";
    case CG_PHASE_PREFILL: return "prefill";
    }
    return "?";
}

static void on_progress(void *ctx, const cg_gen_progress *p)
{
    stream_ctx *c = ctx;
    if (c->o->progress == CLI_PROGRESS_JSON) {
        fprintf(stderr,
                "{\"event\": \"progress\", \"phase\": \"%s\", \"done\": %zu, \"total\": %zu, "
                "\"positions_done\": %zu, \"positions_total\": %zu, \"seconds\": %.3f, \"bytes_sent\": %llu, "
                "\"bytes_received\": %llu}\n",
                phase_name(p->phase), p->done, p->total, p->positions_done, p->positions_total, p->seconds,
                (unsigned long long)p->sent, (unsigned long long)p->received);
        fflush(stderr);
        return;
    }
    const double mb = (double)(p->sent + p->received) / 1e6;
    switch (p->phase) {
    case CG_PHASE_QUEUED:
        cli_status_show(&c->status, "[the server is busy (%zu of %zu sessions): queued, waiting for a free session... %.0f s]",
                        p->done, p->total, p->seconds);
        break;
    case CG_PHASE_HANDSHAKE:
        cli_status_show(&c->status, "[connected; sending evaluation keys... %.1f s]", p->seconds);
        break;
    case CG_PHASE_KEYS:
        cli_status_show(&c->status, "[keys sent (%.1f MB); base OTs... %.1f s]", mb, p->seconds);
        break;
    case CG_PHASE_BASE_OT:
        cli_status_show(&c->status, "[set up (%.1f MB, %.1f s); prefill of %u prompt tokens...]", mb, p->seconds,
                        c->sum->prompt_len);
        break;
    case CG_PHASE_PREFILL:
        cli_status_show(&c->status, "[prefill: %zu/%zu layer passes, %zu/%zu positions, %.1f s, %.1f MB]",
                        p->done, p->total, p->positions_done, p->positions_total, p->seconds, mb);
        break;
    }
}

static void on_step(void *ctx, const cg_gen_step_report *r)
{
    stream_ctx *c = ctx;
    cli_gen_summary *s = c->sum;
    if (r->step == 0) {
        s->setup_seconds = r->setup_seconds;
        s->setup_sent = r->setup_sent;
        s->setup_received = r->setup_received;
        s->prefill_seconds = r->total_seconds;
    } else {
        s->decode_seconds += r->total_seconds;
        s->decode_steps++;
    }
    s->sent += r->total_sent;
    s->received += r->total_received;
    s->rounds += r->total_rounds;
    s->last = *r;
    if (r->step > 0)
        for (int p = 0; p < CG_PART_COUNT; p++) s->decode_parts[p] += r->seconds[p];
    if (c->o->print_text) {
        if (!c->text_started) {
            cli_status_clear(&c->status);
            fwrite(c->o->prompt, 1, c->o->prompt_len, stdout);
            c->text_started = true;
        }
        print_text(c, false);
    }
    if (c->o->progress == CLI_PROGRESS_JSON) {
        fprintf(stderr,
                "{\"event\": \"token\", \"step\": %zu, \"token\": %u, \"seconds\": %.3f, \"bytes_sent\": %llu, "
                "\"bytes_received\": %llu, \"rounds\": %llu}\n",
                r->step, r->token, r->total_seconds, (unsigned long long)r->total_sent,
                (unsigned long long)r->total_received, (unsigned long long)r->total_rounds);
        fflush(stderr);
    } else if (!(c->shared_tty && c->text_started)) {
        /* the text is elsewhere (a file, a pipe): the status line keeps its own line */
        cli_status_show(&c->status, "[%zu tokens, %.2f s/token, %.1f MB sent, %.1f MB received]", r->step + 1,
                        r->total_seconds, (double)s->sent / 1e6, (double)s->received / 1e6);
    }
}

cg_status cli_secure_generate(cg_channel *ch, const cg_tokenizer *tok, const uint32_t *ids,
                              const cg_gen_request *req, int threads, const cli_output *o,
                              uint32_t *out, cli_gen_summary *sum, cg_error *err)
{
    memset(sum, 0, sizeof *sum);
    sum->prompt_len = req->prompt_len;
    stream_ctx c = {.tok = tok, .sum = sum, .o = o, .shared_tty = o->print_text && cli_stdout_shares_terminal()};
    cli_status_init(&c.status, o->progress == CLI_PROGRESS_LINE);
    cli_status_show(&c.status, "[connected; waiting for the server (a busy one queues new sessions)...]");
    cg_gen_options opt = {.threads = threads, .on_step = on_step, .on_step_ctx = &c,
                          .on_progress = on_progress, .on_progress_ctx = &c,
                          .stop = on_token, .stop_ctx = &c, .attention = o->attention};
    cg_status st = cg_gen_client(ch, req, ids, out, &opt, err);
    cli_status_done(&c.status);
    if (st == CG_OK && c.oom) st = cg_error_set(err, CG_ERR_NOMEM, "generated text");
    if (st == CG_OK && o->print_text) print_text(&c, true);
    return st;
}

cg_status cli_apply_stops(const cg_tokenizer *tok, const cli_output *o, const uint32_t *tokens, size_t n,
                          cli_gen_summary *sum, cg_error *err)
{
    memset(sum, 0, sizeof *sum);
    stream_ctx c = {.tok = tok, .sum = sum, .o = o};
    for (size_t i = 0; i < n && !on_token(&c, tokens, i + 1); i++) {}
    if (c.oom) return cg_error_set(err, CG_ERR_NOMEM, "generated text");
    if (!sum->text && !append_text(&c, "", 0)) return cg_error_set(err, CG_ERR_NOMEM, "generated text");
    return CG_OK;
}

void cli_gen_summary_free(cli_gen_summary *s)
{
    free(s->text);
    s->text = NULL;
}

cg_status cli_local_generate(const cg_gpt2 *m, const cg_fixed_model *fm, const uint32_t *ids,
                             size_t nids, size_t n, int threads, uint32_t *out, cg_error *err)
{
    const size_t V = m->cfg.vocab_size;
    cg_status st;
    if (fm) {
        cg_fixed_state fs;
        int64_t *lg = malloc(V * sizeof *lg);
        if (!lg) return cg_error_set(err, CG_ERR_NOMEM, "logits");
        st = cg_fixed_state_new(fm, nids + n, &fs, err);
        if (st != CG_OK) {
            free(lg);
            return st;
        }
        st = cg_fixed_forward(fm, &fs, ids, nids, lg, false, threads, err);
        for (size_t i = 0; st == CG_OK && i < n; i++) {
            out[i] = cg_fixed_argmax(lg, V);
            if (i + 1 < n) st = cg_fixed_forward(fm, &fs, &out[i], 1, lg, false, threads, err);
        }
        cg_fixed_state_free(&fs);
        free(lg);
        return st;
    }
    cg_gpt2_state gs;
    float *lg = malloc(V * sizeof *lg);
    if (!lg) return cg_error_set(err, CG_ERR_NOMEM, "logits");
    st = cg_gpt2_state_new(m, nids + n, &gs, err);
    if (st != CG_OK) {
        free(lg);
        return st;
    }
    st = cg_gpt2_forward(m, &gs, ids, nids, lg, false, threads, err);
    for (size_t i = 0; st == CG_OK && i < n; i++) {
        uint32_t best = 0;
        for (uint32_t v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        out[i] = best;
        if (i + 1 < n) st = cg_gpt2_forward(m, &gs, &out[i], 1, lg, false, threads, err);
    }
    cg_gpt2_state_free(&gs);
    free(lg);
    return st;
}

void cli_print_summary_json(FILE *f, const cli_gen_summary *s, const cg_gen_request *req,
                            const uint32_t *tokens, const char *text)
{
    fprintf(f, "{\"mode\": \"%s\", \"preset\": \"%s\", \"prompt_tokens\": %u, \"new_tokens\": %u, ",
            req->use_cache ? "cache" : "baseline", req->he_preset, req->prompt_len, req->new_tokens);
    fprintf(f, "\"tokens\": [");
    for (size_t i = 0; i < s->tokens; i++) fprintf(f, "%s%u", i ? ", " : "", tokens[i]);
    fprintf(f, "], \"text\": ");
    cli_json_string(f, text ? text : "");
    fprintf(f, ", \"stop_reason\": ");
    cli_json_string(f, s->stop_reason);
    fprintf(f, ", \"setup_seconds\": %.3f, \"eval_keys_and_setup_bytes_sent\": %llu, "
               "\"prefill_seconds\": %.3f, \"time_to_first_token_seconds\": %.3f, "
               "\"decode_seconds_per_token\": %.3f, "
               "\"bytes_sent\": %llu, \"bytes_received\": %llu, \"rounds\": %llu, "
               "\"decode_parts_seconds_per_token\": {",
            s->setup_seconds, (unsigned long long)s->setup_sent, s->prefill_seconds,
            s->setup_seconds + s->prefill_seconds, s->decode_steps ? s->decode_seconds / (double)s->decode_steps : 0.0,
            (unsigned long long)s->sent, (unsigned long long)s->received,
            (unsigned long long)s->rounds);
    for (int p = 0; p < CG_PART_COUNT; p++)
        fprintf(f, "%s\"%s\": %.4f", p ? ", " : "", cg_gen_part_name((cg_gen_part)p),
                s->decode_steps ? s->decode_parts[p] / (double)s->decode_steps : 0.0);
    fprintf(f, "}}\n");
}

void cli_print_summary_text(FILE *f, const cli_gen_summary *s)
{
    fprintf(f, "setup (keys %.1f MB, base OTs): %.2f s; prefill: %.2f s (first token after %.2f s); "
               "decode: %.2f s/token over %zu tokens\n",
            (double)s->setup_sent / 1e6, s->setup_seconds, s->prefill_seconds,
            s->setup_seconds + s->prefill_seconds,
            s->decode_steps ? s->decode_seconds / (double)s->decode_steps : 0.0, s->decode_steps);
    fprintf(f, "traffic: %.1f MB sent, %.1f MB received, %llu rounds in all\n", (double)s->sent / 1e6,
            (double)s->received / 1e6, (unsigned long long)s->rounds);
    if (s->decode_steps) {
        fprintf(f, "per decoded token, seconds:");
        for (int p = 0; p < CG_PART_COUNT; p++)
            fprintf(f, " %s %.3f", cg_gen_part_name((cg_gen_part)p),
                    s->decode_parts[p] / (double)s->decode_steps);
        fprintf(f, "\n");
    }
}
