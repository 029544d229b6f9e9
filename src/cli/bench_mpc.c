/* `cryptogen bench mpc [--json] [--l BITS]`: the two-party protocols at batch
 * sizes 1, 3072 and 50257, both parties in one process (two threads over the
 * in-process channel): microseconds per element, bytes per element each way,
 * rounds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cryptogen/mpc.h"

typedef enum { P_MUL, P_B2A, P_MILLIONAIRE, P_DRELU, P_RELU, P_TRUNC, P_COUNT } proto_id;
static const char *names[P_COUNT] = {"mul", "b2a", "millionaire", "drelu", "relu", "trunc"};

typedef struct job {
    cg_mpc *m;
    proto_id p;
    size_t n;
    unsigned l;
    uint64_t *x, *y, *z;
    uint8_t *b;
    cg_status st;
    uint64_t ns;
    cg_chan_stats stats;
} job;

static void *run(void *arg)
{
    job *j = arg;
    cg_error err;
    cg_chan_reset_stats(j->m->ch);
    uint64_t t0 = cg_now_ns();
    switch (j->p) {
    case P_MUL: j->st = cg_mpc_mul(j->m, j->n, j->l, j->x, j->y, j->z, &err); break;
    case P_B2A: j->st = cg_mpc_b2a(j->m, j->n, j->l, j->b, j->z, &err); break;
    case P_MILLIONAIRE: j->st = cg_mpc_millionaire(j->m, j->n, j->l, j->x, j->b, &err); break;
    case P_DRELU: j->st = cg_mpc_drelu(j->m, j->n, j->l, j->x, j->b, &err); break;
    case P_RELU: j->st = cg_mpc_relu(j->m, j->n, j->l, j->x, j->z, &err); break;
    default: j->st = cg_mpc_trunc(j->m, j->n, j->l, 12, j->x, j->z, &err); break;
    }
    cg_chan_flush(j->m->ch, &err);
    j->ns = cg_now_ns() - t0;
    cg_chan_get_stats(j->m->ch, &j->stats);
    return NULL;
}

typedef struct setup_job {
    cg_mpc *m;
    cg_channel *ch;
    cg_party party;
    cg_status st;
} setup_job;

static void *setup(void *arg)
{
    setup_job *s = arg;
    s->st = cg_mpc_init(s->m, s->ch, s->party, NULL);
    return NULL;
}

int cg_bench_mpc(int argc, char **argv)
{
    bool json = false;
    unsigned l = 37;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--l") == 0 && i + 1 < argc) l = (unsigned)atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: cryptogen bench mpc [--json] [--l BITS]\n");
            return 2;
        }
    }
    cg_channel *a, *b;
    cg_mpc ms, mc;
    if (cg_chan_pair_new(&a, &b, NULL, NULL) != CG_OK) return 1;
    setup_job ss = {.m = &ms, .ch = a, .party = CG_SERVER}, sc = {.m = &mc, .ch = b, .party = CG_CLIENT};
    pthread_t t1, t2;
    uint64_t t0 = cg_now_ns();
    pthread_create(&t1, NULL, setup, &ss);
    pthread_create(&t2, NULL, setup, &sc);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    if (ss.st || sc.st) return 1;
    const double setup_ms = (double)(cg_now_ns() - t0) / 1e6;
    const size_t sizes[3] = {1, 3072, 50257};
    const size_t maxn = 50257;
    uint64_t *buf = calloc(6 * maxn, 8);
    uint8_t *bits = calloc(2 * maxn, 1);
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_prg_bytes(&prg, buf, 6 * maxn * 8);
    for (size_t i = 0; i < 2 * maxn; i++) bits[i] &= 1;
    const uint64_t mk = (1ull << l) - 1;
    for (size_t i = 0; i < 6 * maxn; i++) buf[i] &= mk >> 3; /* small values: trunc's precondition */
    if (json) printf("{\"bench\": \"mpc\", \"ring_bits\": %u, \"ot_setup_ms\": %.1f, \"link\": \"inproc\", \"results\": [\n", l, setup_ms);
    bool first = true;
    for (int p = 0; p < P_COUNT; p++)
        for (int k = 0; k < 3; k++) {
            size_t n = sizes[k];
            job js = {.m = &ms, .p = p, .n = n, .l = l, .x = buf, .y = buf + maxn, .z = buf + 2 * maxn, .b = bits};
            job jc = {.m = &mc, .p = p, .n = n, .l = l, .x = buf + 3 * maxn, .y = buf + 4 * maxn, .z = buf + 5 * maxn, .b = bits + maxn};
            pthread_create(&t1, NULL, run, &js);
            pthread_create(&t2, NULL, run, &jc);
            pthread_join(t1, NULL);
            pthread_join(t2, NULL);
            if (js.st || jc.st) {
                fprintf(stderr, "bench mpc: %s failed\n", names[p]);
                return 1;
            }
            double us = (double)(js.ns > jc.ns ? js.ns : jc.ns) / 1000.0;
            if (json)
                printf("%s  {\"protocol\": \"%s\", \"n\": %zu, \"us_per_elem\": %.3f, \"total_ms\": %.2f, "
                       "\"bytes_per_elem_server_to_client\": %.1f, \"bytes_per_elem_client_to_server\": %.1f, "
                       "\"rounds\": %llu}",
                       first ? "" : ",\n", names[p], n, us / (double)n, us / 1000.0,
                       (double)js.stats.total.bytes_sent / (double)n, (double)jc.stats.total.bytes_sent / (double)n,
                       (unsigned long long)(js.stats.total.rounds > jc.stats.total.rounds ? js.stats.total.rounds
                                                                                          : jc.stats.total.rounds));
            else
                printf("%-12s n=%-6zu %9.3f us/elem  %9.2f ms  S->C %8.1f B/elem  C->S %8.1f B/elem  rounds %llu\n",
                       names[p], n, us / (double)n, us / 1000.0, (double)js.stats.total.bytes_sent / (double)n,
                       (double)jc.stats.total.bytes_sent / (double)n,
                       (unsigned long long)(js.stats.total.rounds > jc.stats.total.rounds ? js.stats.total.rounds
                                                                                          : jc.stats.total.rounds));
            first = false;
        }
    if (json) printf("\n]}\n");
    cg_mpc_free(&ms);
    cg_mpc_free(&mc);
    cg_chan_free(a);
    cg_chan_free(b);
    free(buf);
    free(bits);
    return 0;
}
