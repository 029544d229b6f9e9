/* Shared by `generate`, `demo` and `bench gen`: run the secure client with
 * streaming output and a summary, and the two local references (float
 * model, fixed-point emulator) for comparison. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/gen_client.h"

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
    bool print_text, status;
} stream_ctx;

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
    if (c->print_text) {
        char *txt = NULL;
        size_t tl = 0;
        cg_error err = {0};
        if (cg_tokenizer_decode(c->tok, &r->token, 1, &txt, &tl, &err) == CG_OK) {
            fwrite(txt, 1, tl, stdout);
            fflush(stdout);
            cg_free(txt);
        }
    }
    if (c->status) {
        char line[160];
        snprintf(line, sizeof line, "[%zu tokens, %.2f s/token, %.1f MB sent, %.1f MB received]",
                 r->step + 1, r->total_seconds, (double)s->sent / 1e6, (double)s->received / 1e6);
        if (c->print_text && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO))
            /* text and status share the terminal: status on the line below,
             * cursor back where the text goes on */
            fprintf(stderr, "\0337\n\033[K%s\0338", line);
        else
            fprintf(stderr, "\r\033[K%s", line);
    }
}

cg_status cli_secure_generate(cg_channel *ch, const cg_tokenizer *tok, const uint32_t *ids,
                              const cg_gen_request *req, int threads, bool print_text,
                              bool status, uint32_t *out, cli_gen_summary *sum, cg_error *err)
{
    memset(sum, 0, sizeof *sum);
    stream_ctx c = {tok, sum, print_text, status};
    cg_gen_options o = {.threads = threads, .on_step = on_step, .on_step_ctx = &c};
    cg_status st = cg_gen_client(ch, req, ids, out, &o, err);
    if (status) fprintf(stderr, "\n");
    return st;
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
    for (uint32_t i = 0; i < req->new_tokens; i++) fprintf(f, "%s%u", i ? ", " : "", tokens[i]);
    fprintf(f, "], \"text\": \"");
    for (const char *p = text; p && *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fprintf(f, "\", \"setup_seconds\": %.3f, \"eval_keys_and_setup_bytes_sent\": %llu, "
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
