/* `cryptogen serve --model DIR --listen HOST:PORT [--threads N]
 *  [--max-sessions K] [--session-memory MB]`: loads and quantises the model
 * once, then serves clients, up to K at a time, each in its own thread with
 * its own keys and cache. A session that fails (disconnect, stall, garbage)
 * is logged and ends alone; SIGINT/SIGTERM stop accepting and wait for the
 * running sessions.
 *
 * Every connection first gets a thread of its own (at most MAX_WAITING at
 * once) that runs the TLS handshake and waits for the client's first bytes,
 * both within --handshake-timeout; only then does it take a session slot, so
 * clients that connect and say nothing cannot hold the slots. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/model_dir.h"
#include "cli/range_check.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/tls_opts.h"
#include "cli/values.h"
#include "cryptogen/proto.h"

/* Connections in their handshake or waiting for a slot; more wait in the
 * listen backlog. */
#define MAX_WAITING 64

static volatile sig_atomic_t stop_requested;

/* The first SIGINT/SIGTERM stops accepting and lets the sessions finish; a
 * second one ends the process at once. */
static void on_signal(int sig)
{
    (void)sig;
    if (stop_requested) {
        static const char msg[] = "cryptogen serve: second signal, exiting without waiting\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    stop_requested = 1;
}

/* Log lines: UTC time to the millisecond, then the message. */
__attribute__((format(printf, 1, 2))) static void serve_log(const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ ", ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line); /* one write per line: sessions log from their own threads */
}

typedef struct serve_state {
    const cg_fixed_model *fm;
    const cg_gen_weights *ws;
    int threads;
    uint64_t max_cache;
    const cg_tls_config *tls;
    uint32_t handshake_ms;
    int max_sessions;
    const char *allow_presets;
    cg_gen_attention attention; /* the kinds allowed (DEFAULT: both) */
    bool refuse_pack, refuse_dense, refuse_dense_max;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int active;
    int waiting; /* connections not yet in a session */
} serve_state;

typedef struct session {
    serve_state *srv;
    cg_channel *ch;
    unsigned long id;
    size_t steps;
    char peer[64];
} session;

static void count_step(void *ctx, const cg_gen_step_report *r)
{
    session *s = ctx;
    (void)r;
    s->steps++;
}

/* The handshake and the first bytes within the deadline, then a slot. */
static bool admit(session *s)
{
    serve_state *srv = s->srv;
    cg_error err = {0};
    uint64_t t0 = cg_now_ns();
    cg_status st = srv->tls ? cg_chan_handshake(s->ch, srv->tls, srv->handshake_ms, &err) : CG_OK;
    if (st == CG_OK) {
        uint64_t spent_ms = (cg_now_ns() - t0) / 1000000u;
        uint32_t left = spent_ms < srv->handshake_ms ? srv->handshake_ms - (uint32_t)spent_ms : 1;
        st = cg_chan_wait_data(s->ch, left, &err);
        if (st == CG_ERR_TIMEOUT)
            cg_error_set(&err, st, "no request within the handshake timeout (%u ms)", srv->handshake_ms);
    }
    pthread_mutex_lock(&srv->lock);
    if (st == CG_OK && srv->active >= srv->max_sessions && !stop_requested) {
        const int busy = srv->active;
        pthread_mutex_unlock(&srv->lock);
        serve_log("connection %lu (%s): waiting for a free session (%d of %d busy)", s->id, s->peer, busy,
                  srv->max_sessions);
        /* the client shows it: a queued session is not a dead server */
        st = cg_gen_server_notify_queued(s->ch, (uint32_t)busy, (uint32_t)srv->max_sessions, &err);
        pthread_mutex_lock(&srv->lock);
    }
    while (st == CG_OK && srv->active >= srv->max_sessions && !stop_requested) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&srv->changed, &srv->lock, &ts);
    }
    if (st == CG_OK && stop_requested) st = cg_error_set(&err, CG_ERR_STATE, "the server is stopping");
    srv->waiting--;
    if (st == CG_OK) srv->active++;
    pthread_cond_broadcast(&srv->changed);
    pthread_mutex_unlock(&srv->lock);
    if (st != CG_OK) {
        serve_log("connection %lu (%s): dropped before its session: %s", s->id, s->peer, err.msg);
        return false;
    }
    cg_chan_tls_info info;
    cg_chan_get_tls_info(s->ch, &info);
    serve_log("session %lu: accepted from %s (%s)", s->id, s->peer, info.tls ? info.version : "plaintext");
    return true;
}

static void *session_main(void *arg)
{
    session *s = arg;
    if (!admit(s)) {
        cg_chan_free(s->ch);
        free(s);
        return NULL;
    }
    cg_error err = {0};
    uint64_t t0 = cg_now_ns();
    cg_gen_options o = {.threads = s->srv->threads, .max_cache_bytes = s->srv->max_cache,
                        .weights = s->srv->ws, .allow_presets = s->srv->allow_presets,
                        .on_step = count_step, .on_step_ctx = s, .attention = s->srv->attention,
                        .refuse_pack_inputs = s->srv->refuse_pack,
                        .refuse_dense_replies = s->srv->refuse_dense,
                        .refuse_dense_max = s->srv->refuse_dense_max};
    cg_status st = cg_gen_server(s->ch, s->srv->fm, &o, &err);
    double secs = (double)(cg_now_ns() - t0) * 1e-9;
    if (st == CG_OK)
        serve_log("session %lu: done, %zu steps in %.1f s", s->id, s->steps, secs);
    else
        serve_log("session %lu: ended after %zu steps (%.1f s): %s", s->id, s->steps, secs, err.msg);
    cg_chan_free(s->ch);
    serve_state *srv = s->srv;
    free(s);
    pthread_mutex_lock(&srv->lock);
    srv->active--;
    pthread_cond_broadcast(&srv->changed);
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

int cg_cmd_serve(int argc, char **argv)
{
    char model_buf[4096];
    const char *dir = cli_default_model_dir(model_buf, sizeof model_buf), *listen_at = NULL, *shape = NULL, *allow = "paper";
    const char *attention = cli_attention_names[0];
    static const char *const on_off[] = {"off", "on", NULL};
    const char *pack = on_off[1];
    static const char *const dense_modes[] = {"off", "on", "max", NULL};
    const char *dense = dense_modes[1];
    uint64_t seed = 1;
    int threads = 1, max_sessions = 4;
    /* MB counts are shifted into bytes: at most 2^40 MB keeps that in 64 bits */
    uint64_t mem_mb = 8192, weights_mb = 2048, timeout_s = 60, handshake_s = 10;
    cli_tls tls = {0};
    const char *calib = NULL;
    double margin = CG_RANGE_MARGIN;
    uint64_t calib_tokens = 0;
    const cli_opt opts[] = {
        CLI_OPT_STRING("listen", 0, listen_at, "HOST:PORT", "address to serve on (port 0: any free port)"),
        CLI_OPT_STRING("model", 0, dir, "DIR", "model directory"),
        CLI_OPT_CHECKED("random", 0, shape, "SHAPE", cli_check_shape,
                        "serve random weights of this shape instead, "
                        "gpt2-base or layers,heads,width,vocab,positions"),
        CLI_OPT_U64("seed", 0, seed, "S", 0, UINT64_MAX, "seed of --random's weights"),
        CLI_OPT_INT("threads", 0, threads, "N", 1, INT_MAX, "threads per session"),
        CLI_OPT_INT("max-sessions", 0, max_sessions, "K", 1, INT_MAX, "sessions served at once"),
        CLI_OPT_U64("session-memory", 0, mem_mb, "MB", 0, (uint64_t)1 << 40,
                    "refuse a session whose cache could exceed this, 0 for no limit"),
        CLI_OPT_U64("weights-memory", 0, weights_mb, "MB", 0, (uint64_t)1 << 40,
                    "memory for weights pre-encoded for HE at start-up; the rest are encoded per use"),
        CLI_OPT_STRING("allow-presets", 0, allow, "LIST",
                       "BFV parameter sets clients may use, comma-separated (insecure sets never)"),
        CLI_OPT_U64("timeout", 0, timeout_s, "S", 1, 86400, "a client silent this long ends its session"),
        CLI_OPT_U64("handshake-timeout", 0, handshake_s, "S", 1, 3600,
                    "a connection must finish TLS and send its request within this, or is dropped"),
        CLI_OPT_STRING("calibration", 0, calib, "FILE",
                       "text for the load-time range check (default: the default model's "
                       "calibration.txt)"),
        CLI_OPT_DOUBLE("margin", 0, margin, "M", 1.0, 1e6, "safety margin of the range check"),
        CLI_OPT_U64("calibration-tokens", 0, calib_tokens, "N", 0, UINT64_MAX,
                    "range check on the first N tokens (0: all; --random: 16)"),
        CLI_OPT_CHOICE("attention", 0, attention, NULL, cli_attention_names,
                       "attention kinds clients may use: default allows both (split for a client that "
                       "leaves it to the server), ctct or split only that one"),
        CLI_OPT_CHOICE("pack-inputs", 0, pack, NULL, on_off,
                       "on: accept clients' packed inputs and pre-encode the decode weights for them "
                       "(other clients' are encoded per use); off: refuse them"),
        CLI_OPT_CHOICE("dense-replies", 0, dense, NULL, dense_modes,
                       "with --pack-inputs on: accept clients' dense replies and pre-encode the decode "
                       "weights in their plans (packed clients without them: encoded per use); off: refuse; "
                       "max: accept clients' dense max too and pre-encode its plans (on answers them on)"),
        CLI_TLS_SERVER_OPTS(tls),
        {0},
    };
    const cli_command cmd = {
        .name = "serve",
        .synopsis = "--listen HOST:PORT (--tls-cert FILE --tls-key FILE | --insecure-plaintext) [options]",
        .about = "Loads and quantises the model once, then serves secure generation to clients,\n"
                 "each session in its own thread with its own keys and cache. A failing session\n"
                 "ends alone; SIGINT or SIGTERM stop accepting and wait for the running ones.",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (!listen_at) return cli_usage_error(&cmd, "--listen HOST:PORT is required");
    for (const char *p = allow; *p;) { /* every listed set must be one a session may use */
        char name[32];
        const size_t k = strcspn(p, ",");
        snprintf(name, sizeof name, "%.*s", (int)(k < sizeof name - 1 ? k : sizeof name - 1), p);
        cg_error why = {0};
        if (k >= sizeof name || cg_gen_preset_allowed(allow, false, name, &why) != CG_OK)
            return cli_usage_error(&cmd, "--allow-presets: %s", why.msg[0] ? why.msg : "name too long");
        p += p[k] ? k + 1 : k;
    }
    cg_tls_config *tls_cfg = NULL;
    if ((parsed = cli_tls_server(&cmd, &tls, &tls_cfg)) != CLI_PARSED) return parsed;
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_listener *l = NULL;
    cg_gpt2_config rcfg;
    if (shape && !cli_parse_shape(shape, &rcfg))
        return cli_usage_error(&cmd, "--random '%s' is not a valid shape", shape);
    cg_range_report rep = {0};
    size_t ntok = 0;
    cg_fixed_config fx = cg_fixed_default();
    if (shape && calib_tokens == 0) calib_tokens = 16; /* random weights: ranges barely move */
    /* never silently wrong: a model beyond the format's ranges is refused */
    if ((shape ? cg_gpt2_random(&m, &rcfg, seed, &err) : cg_gpt2_load(&m, dir, &err)) != CG_OK ||
        cli_range_check(m, shape ? NULL : dir, calib, margin, (size_t)calib_tokens, &fx, &rep,
                        &ntok, &err) != CG_OK ||
        cg_fixed_model_new(&fm, m, fx, &err) != CG_OK ||
        cg_listen(&l, listen_at, &err) != CG_OK) {
        fprintf(stderr, "cryptogen serve: %s\n", err.msg);
        cg_range_report_free(&rep);
        cg_fixed_model_free(fm);
        cg_gpt2_free(m);
        cg_tls_config_free(tls_cfg);
        return 1;
    }
    {
        const cg_range_item *w = &rep.items[rep.worst];
        char where[24] = "final layer";
        if (w->layer < m->cfg.n_layer) snprintf(where, sizeof where, "layer %u", w->layer);
        serve_log("cryptogen serve: range check passed on %zu calibration tokens (margin %g; "
                  "closest: %s, %s at %.0f %% of its bound)",
                  ntok, margin, where, w->quantity, 100.0 * w->needed / w->limit);
        if (fx.weight_frac != cg_fixed_default().weight_frac)
            serve_log("cryptogen serve: a linear layer's output exceeds the bound at weight fraction "
                      "%u: serving with weight fraction %u (bound %g; the weights' rounding error "
                      "doubles per bit)",
                      cg_fixed_default().weight_frac, fx.weight_frac,
                      ldexp(1.0, (int)fx.act.ring_bits - 2 - (int)fx.act.frac_bits - (int)fx.weight_frac));
    }
    cg_range_report_free(&rep);
    cg_gpt2_free(m); /* the quantised copy is all a session needs */
    cg_gen_weights *ws = NULL;
    const bool pack_on = strcmp(pack, "on") == 0, dense_on = pack_on && strcmp(dense, "off") != 0;
    const bool dense_max = dense_on && strcmp(dense, "max") == 0;
    if ((dense_max  ? cg_gen_weights_new_dense_max
         : dense_on ? cg_gen_weights_new_dense
         : pack_on ? cg_gen_weights_new_packed
                   : cg_gen_weights_new)(&ws, fm, "paper", (uint64_t)weights_mb << 20, threads, &err) != CG_OK) {
        fprintf(stderr, "cryptogen serve: %s\n", err.msg);
        cg_listener_close(l);
        cg_fixed_model_free(fm);
        cg_tls_config_free(tls_cfg);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    serve_state srv = {.fm = fm, .ws = ws, .threads = threads, .max_cache = (uint64_t)mem_mb << 20,
                       .tls = tls_cfg, .handshake_ms = (uint32_t)(handshake_s * 1000),
                       .max_sessions = max_sessions,
                       .allow_presets = allow,
                       .attention = (cg_gen_attention)cli_attention_kind(attention),
                       .refuse_pack = !pack_on, .refuse_dense = !dense_on, .refuse_dense_max = !dense_max,
                       .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    uint64_t all_bytes = 0;
    if (cg_gen_weights_size(&fm->cfg, "paper", &all_bytes, &err) == CG_OK &&
        cg_gen_weights_bytes(ws) < all_bytes)
        serve_log("cryptogen serve: the weights need %.0f MB pre-encoded, --weights-memory allows "
                  "%llu MB: %.0f MB are pre-encoded (largest matrices first), the rest is encoded per "
                  "use, which costs time in every linear layer",
                  (double)all_bytes / 1e6, (unsigned long long)weights_mb,
                  (double)cg_gen_weights_bytes(ws) / 1e6);
    serve_log("cryptogen serve: %s on port %u (%s, %d sessions at most, %.0f MB of pre-encoded weights)",
            shape ? "random weights" : dir, (unsigned)cg_listener_port(l),
            tls_cfg ? "TLS 1.3" : "PLAINTEXT TCP", max_sessions, (double)cg_gen_weights_bytes(ws) / 1e6);
    unsigned long next_id = 1;
    while (!stop_requested) {
        pthread_mutex_lock(&srv.lock);
        while (srv.waiting >= MAX_WAITING && !stop_requested) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&srv.changed, &srv.lock, &ts);
        }
        pthread_mutex_unlock(&srv.lock);
        if (stop_requested) break;
        cg_channel *ch = NULL;
        cg_chan_options copt = {.timeout_ms = (uint32_t)(timeout_s * 1000)};
        cg_status st = cg_accept_wait(l, 500, &ch, &copt, &err);
        if (st == CG_ERR_TIMEOUT) continue;
        if (st != CG_OK) {
            serve_log("cryptogen serve: %s", err.msg);
            continue;
        }
        session *s = calloc(1, sizeof *s);
        pthread_t t;
        if (!s) {
            cg_chan_free(ch);
            continue;
        }
        *s = (session){.srv = &srv, .ch = ch, .id = next_id++};
        cg_chan_peer_name(ch, s->peer, sizeof s->peer);
        pthread_mutex_lock(&srv.lock);
        srv.waiting++;
        pthread_mutex_unlock(&srv.lock);
        if (pthread_create(&t, NULL, session_main, s) != 0) {
            serve_log("connection %lu (%s): no thread", s->id, s->peer);
            cg_chan_free(ch);
            free(s);
            pthread_mutex_lock(&srv.lock);
            srv.waiting--;
            pthread_mutex_unlock(&srv.lock);
            continue;
        }
        pthread_detach(t);
    }
    cg_listener_close(l);
    pthread_mutex_lock(&srv.lock);
    if (srv.active)
        serve_log("cryptogen serve: stopping, waiting for %d sessions (a second signal exits at once)",
                  srv.active);
    while (srv.active || srv.waiting) pthread_cond_wait(&srv.changed, &srv.lock);
    pthread_mutex_unlock(&srv.lock);
    serve_log("cryptogen serve: stopped");
    cg_tls_config_free(tls_cfg);
    cg_gen_weights_free(ws);
    cg_fixed_model_free(fm);
    return 0;
}
