/* `cryptogen bench mpc [--json] [--max N]`: the two-party protocols between
 * two threads (one per party, each single-threaded) over the in-process
 * channel, at batch sizes 1, 3072 and 50257 (those <= --max). Prints JSON:
 * microseconds per element, payload bytes per element in each direction and
 * rounds (direction changes seen by the server) per call. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cryptogen/mpc.h"

typedef enum { B_B2A, B_MUL, B_SQUARE, B_SELECT, B_AND, B_DRELU, B_RELU, B_TRUNC, B_ROWMAX,
               B_GELU, B_ARGMAX, B_EXP, B_COUNT } bench_op;
static const char *const op_names[B_COUNT] = {"b2a",  "mul",  "square", "select", "and",
                                              "drelu", "relu", "trunc", "row_max", "gelu",
                                              "argmax_reveal", "exp_neg"};

static const cg_fxp FMT = {.ring_bits = 37, .frac_bits = 12};

typedef struct {
    cg_mpc *m;
    cg_channel *ch;
    cg_party party;
    bench_op op;
    size_t n;
    uint64_t *x, *y, *out;
    uint8_t *b, *bo;
    cg_status st;
    cg_error err;
} party_job;

static void *run_job(void *arg)
{
    party_job *p = arg;
    unsigned l = FMT.ring_bits;
    switch (p->op) {
    case B_B2A: p->st = cg_mpc_b2a(p->m, l, p->n, p->b, p->out, &p->err); break;
    case B_MUL: p->st = cg_mpc_mul(p->m, l, p->n, p->x, p->y, p->out, &p->err); break;
    case B_SQUARE: p->st = cg_mpc_square(p->m, l, p->n, p->x, p->out, &p->err); break;
    case B_SELECT: p->st = cg_mpc_select(p->m, l, p->n, p->b, p->x, p->out, &p->err); break;
    case B_AND: p->st = cg_mpc_and(p->m, p->n, p->b, p->b, p->bo, &p->err); break;
    case B_DRELU: p->st = cg_mpc_drelu(p->m, l, p->n, p->x, p->bo, &p->err); break;
    case B_RELU: p->st = cg_mpc_relu(p->m, l, p->n, p->x, p->out, &p->err); break;
    case B_TRUNC: p->st = cg_mpc_trunc(p->m, l, FMT.frac_bits, p->n, p->x, p->out, &p->err); break;
    case B_ROWMAX: p->st = cg_mpc_row_max(p->m, l, 1, p->n, p->x, p->out, &p->err); break;
    case B_GELU: p->st = cg_mpc_gelu(p->m, FMT, p->n, p->x, p->out, &p->err); break;
    case B_ARGMAX: {
        uint64_t idx = 0;
        p->st = cg_mpc_argmax_reveal(p->m, l, p->n, p->x, &idx, &p->err);
        break;
    }
    case B_EXP: p->st = cg_mpc_exp_neg(p->m, FMT, p->n, p->x, p->out, &p->err); break;
    default: p->st = CG_ERR_ARG; break;
    }
    return NULL;
}

static void *setup_job(void *arg)
{
    party_job *p = arg;
    p->st = cg_mpc_new(&p->m, p->ch, p->party, 1, &p->err);
    return NULL;
}

static bool both(party_job *s, party_job *c, void *(*fn)(void *))
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, c) != 0) return false;
    fn(s);
    pthread_join(t, NULL);
    if (s->st != CG_OK || c->st != CG_OK) {
        fprintf(stderr, "bench mpc: %s / %s\n", s->st ? s->err.msg : "ok", c->st ? c->err.msg : "ok");
        return false;
    }
    return true;
}

static bool alloc_party(party_job *p, size_t n, cg_prg *prg)
{
    p->x = cg_alloc(n * sizeof(uint64_t));
    p->y = cg_alloc(n * sizeof(uint64_t));
    p->out = cg_alloc(n * sizeof(uint64_t));
    p->b = cg_alloc(n);
    p->bo = cg_alloc(n);
    if (!p->x || !p->y || !p->out || !p->b || !p->bo) return false;
    /* Shares of small fixed-point values (|x| < 8) so truncation's range holds. */
    uint64_t mask = (1ull << FMT.ring_bits) - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = cg_prg_u64(prg);
        p->x[i] = p->party == CG_SERVER ? v & mask : (uint64_t)((int64_t)(v % 65536) - 32768) & mask;
        p->y[i] = cg_prg_u64(prg) & mask;
        p->b[i] = (uint8_t)(v >> 63);
    }
    return true;
}

static void free_party(party_job *p)
{
    cg_free(p->x);
    cg_free(p->y);
    cg_free(p->out);
    cg_free(p->b);
    cg_free(p->bo);
}

int cg_bench_mpc(int argc, char **argv)
{
    size_t max = 50257;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) max = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "usage: cryptogen bench mpc [--json] [--max N]\n");
            return 2;
        }
    }
    if (cg_init(NULL) != CG_OK) return 1;
    cg_channel *cs = NULL, *cc = NULL;
    if (cg_chan_pair_new(&cs, &cc, NULL, NULL) != CG_OK) return 1;
    party_job s = {.ch = cs, .party = CG_SERVER}, c = {.ch = cc, .party = CG_CLIENT};
    int rc = 1;
    if (!both(&s, &c, setup_job)) goto out;
    const size_t sizes[] = {1, 3072, 50257};
    cg_prg prg;
    cg_prg_init_random(&prg);
    printf("{\"bench\":\"mpc\",\"ring_bits\":%u,\"frac_bits\":%u,\"ot\":\"IKNP\",\"threads_per_party\":1,"
           "\"results\":[",
           FMT.ring_bits, FMT.frac_bits);
    bool first = true;
    for (size_t si = 0; si < 3; si++) {
        size_t n = sizes[si];
        if (n > max) continue;
        if (!alloc_party(&s, n, &prg) || !alloc_party(&c, n, &prg)) goto out_free;
        for (int op = 0; op < B_COUNT; op++) {
            s.op = c.op = (bench_op)op;
            s.n = c.n = n;
            cg_chan_reset_stats(cs);
            cg_chan_reset_stats(cc);
            uint64_t t0 = cg_now_ns();
            if (!both(&s, &c, run_job)) goto out_free;
            double us = (double)(cg_now_ns() - t0) * 1e-3;
            cg_chan_stats ss, sc;
            cg_chan_get_stats(cs, &ss);
            cg_chan_get_stats(cc, &sc);
            printf("%s\n {\"op\":\"%s\",\"n\":%zu,\"us_per_elem\":%.3f,"
                   "\"bytes_per_elem_server_to_client\":%.1f,\"bytes_per_elem_client_to_server\":%.1f,"
                   "\"rounds\":%llu}",
                   first ? "" : ",", op_names[op], n, us / (double)n,
                   (double)ss.total.bytes_sent / (double)n, (double)sc.total.bytes_sent / (double)n,
                   (unsigned long long)(ss.total.rounds > sc.total.rounds ? ss.total.rounds
                                                                           : sc.total.rounds));
            fflush(stdout);
            first = false;
        }
        free_party(&s);
        free_party(&c);
    }
    printf("\n]}\n");
    rc = 0;
    goto out;
out_free:
    free_party(&s);
    free_party(&c);
out:
    cg_mpc_free(s.m);
    cg_mpc_free(c.m);
    cg_chan_free(cs);
    cg_chan_free(cc);
    return rc;
}
