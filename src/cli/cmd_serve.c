/* `cryptogen serve --model DIR --listen HOST:PORT [--threads N]
 *  [--max-sessions K] [--session-memory MB]`: loads and quantises the model
 * once, then serves clients, up to K at a time, each in its own thread with
 * its own keys and cache. A session that fails (disconnect, stall, garbage)
 * is logged and ends alone; SIGINT/SIGTERM stop accepting and wait for the
 * running sessions. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/values.h"
#include "cryptogen/proto.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct serve_state {
    const cg_fixed_model *fm;
    const cg_gen_weights *ws;
    int threads;
    uint64_t max_cache;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int active;
} serve_state;

typedef struct session {
    serve_state *srv;
    cg_channel *ch;
    unsigned long id;
    size_t steps;
} session;

static void count_step(void *ctx, const cg_gen_step_report *r)
{
    session *s = ctx;
    (void)r;
    s->steps++;
}

static void *session_main(void *arg)
{
    session *s = arg;
    cg_error err = {0};
    uint64_t t0 = cg_now_ns();
    cg_gen_options o = {.threads = s->srv->threads, .max_cache_bytes = s->srv->max_cache,
                        .weights = s->srv->ws,
                        .on_step = count_step, .on_step_ctx = s};
    cg_status st = cg_gen_server(s->ch, s->srv->fm, &o, &err);
    double secs = (double)(cg_now_ns() - t0) * 1e-9;
    if (st == CG_OK)
        fprintf(stderr, "session %lu: done, %zu steps in %.1f s\n", s->id, s->steps, secs);
    else
        fprintf(stderr, "session %lu: ended after %zu steps (%.1f s): %s\n", s->id, s->steps, secs,
                err.msg);
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
    const char *dir = "models/default", *listen_at = NULL, *shape = NULL;
    unsigned long seed = 1;
    int threads = 1, max_sessions = 4;
    unsigned long mem_mb = 8192, weights_mb = 2048, timeout_s = 600;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) listen_at = argv[++i];
        else if (strcmp(argv[i], "--random") == 0 && i + 1 < argc) shape = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-sessions") == 0 && i + 1 < argc) max_sessions = atoi(argv[++i]);
        else if (strcmp(argv[i], "--session-memory") == 0 && i + 1 < argc) mem_mb = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--weights-memory") == 0 && i + 1 < argc) weights_mb = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) timeout_s = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: cryptogen serve [--model DIR] --listen HOST:PORT [--threads N] "
                            "[--max-sessions K] [--session-memory MB] [--weights-memory MB]\n"
                            "                      [--timeout S (a client silent this long ends its session)]\n"
                            "                      [--random SHAPE --seed S]\n");
            return 2;
        }
    }
    if (!listen_at || threads < 1 || max_sessions < 1 || timeout_s < 1 || timeout_s > 86400) {
        fprintf(stderr, "cryptogen serve: need --listen HOST:PORT, threads >= 1, max-sessions >= 1\n");
        return 2;
    }
    cg_error err = {0};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_listener *l = NULL;
    cg_gpt2_config rcfg;
    if (shape && !cli_parse_shape(shape, &rcfg)) {
        fprintf(stderr, "cryptogen serve: --random wants gpt2-base or layers,heads,width,vocab,positions\n");
        return 2;
    }
    if ((shape ? cg_gpt2_random(&m, &rcfg, seed, &err) : cg_gpt2_load(&m, dir, &err)) != CG_OK ||
        cg_fixed_model_new(&fm, m, cg_fixed_default(), &err) != CG_OK ||
        cg_listen(&l, listen_at, &err) != CG_OK) {
        fprintf(stderr, "cryptogen serve: %s\n", err.msg);
        cg_fixed_model_free(fm);
        cg_gpt2_free(m);
        return 1;
    }
    cg_gpt2_free(m); /* the quantised copy is all a session needs */
    cg_gen_weights *ws = NULL;
    if (cg_gen_weights_new(&ws, fm, "paper", (uint64_t)weights_mb << 20, threads, &err) != CG_OK) {
        fprintf(stderr, "cryptogen serve: %s\n", err.msg);
        cg_listener_close(l);
        cg_fixed_model_free(fm);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    serve_state srv = {.fm = fm, .ws = ws, .threads = threads, .max_cache = (uint64_t)mem_mb << 20,
                       .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER};
    fprintf(stderr, "cryptogen serve: %s on port %u (%d sessions at most, %.0f MB of pre-encoded weights)\n",
            shape ? "random weights" : dir, (unsigned)cg_listener_port(l), max_sessions,
            (double)cg_gen_weights_bytes(ws) / 1e6);
    unsigned long next_id = 1;
    while (!stop_requested) {
        pthread_mutex_lock(&srv.lock);
        while (srv.active >= max_sessions && !stop_requested) {
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
            fprintf(stderr, "cryptogen serve: %s\n", err.msg);
            continue;
        }
        session *s = calloc(1, sizeof *s);
        pthread_t t;
        if (!s) {
            cg_chan_free(ch);
            continue;
        }
        *s = (session){.srv = &srv, .ch = ch, .id = next_id++};
        pthread_mutex_lock(&srv.lock);
        srv.active++;
        pthread_mutex_unlock(&srv.lock);
        fprintf(stderr, "session %lu: accepted\n", s->id);
        if (pthread_create(&t, NULL, session_main, s) != 0) {
            fprintf(stderr, "session %lu: no thread\n", s->id);
            cg_chan_free(ch);
            free(s);
            pthread_mutex_lock(&srv.lock);
            srv.active--;
            pthread_mutex_unlock(&srv.lock);
            continue;
        }
        pthread_detach(t);
    }
    cg_listener_close(l);
    pthread_mutex_lock(&srv.lock);
    if (srv.active) fprintf(stderr, "cryptogen serve: stopping, waiting for %d sessions\n", srv.active);
    while (srv.active) pthread_cond_wait(&srv.changed, &srv.lock);
    pthread_mutex_unlock(&srv.lock);
    fprintf(stderr, "cryptogen serve: stopped\n");
    cg_gen_weights_free(ws);
    cg_fixed_model_free(fm);
    return 0;
}
