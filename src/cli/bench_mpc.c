/* `cryptogen bench mpc [--json] [--max N] [--tcp] [--op NAME] [--reps R]
 * [--otn kk13|split] [--size N]`: the
 * two-party protocols between two threads (one per party, each
 * single-threaded) over the in-process channel, or over a loopback TCP
 * connection with --tcp, at batch sizes 1, 3072 and 50257 (those <= --max;
 * --size adds one, e.g. a 64-row prefill's GELU at 196608;
 * --op keeps one protocol, e.g. for profiling), then the
 * row-shaped protocols (reciprocal, rsqrt, softmax, LayerNorm) at fixed
 * shapes in approximate and exact mode. Each protocol runs once first (its
 * time reported as first_call_ms), then --reps times (default 5), whose
 * median is the figure. Prints JSON: microseconds per element (median), payload
 * bytes per element in each direction and rounds (direction changes seen
 * by the server) per call, and each party's CPU time (median). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/opts.h"
#include "cli/values.h"
#include "cryptogen/mpc.h"

typedef enum { B_B2A, B_MUL, B_SQUARE, B_SELECT, B_AND, B_DRELU, B_RELU, B_TRUNC, B_ROWMAX,
               B_GELU, B_ARGMAX, B_EXP, B_TRUNCX, B_LUT, B_EXTEND, B_P2R, B_GELU_ACC, B_COUNT, B_RECIP = B_COUNT, B_RSQRT,
               B_SOFTMAX, B_LAYERNORM, B_BLOCK, B_ALL } bench_op;
/* NULL-terminated: also the choices of --op */
static const char *const op_names[B_ALL + 1] = {"b2a",  "mul",  "square", "select", "and",
                                            "drelu", "relu", "trunc", "row_max", "gelu",
                                            "argmax_reveal", "exp_neg", "trunc_exact",
                                            "lut8_37", "extend37_64", "prime29_to_ring37", "gelu_accurate",
                                            "recip", "rsqrt", "softmax", "layernorm", "block"};

static const cg_fxp FMT = {.ring_bits = 37, .frac_bits = 12};
/* The lookup table of the lut row: 256 entries of 37 bits (server's). */
static uint64_t LUT[256];
/* --otn: the contexts' 1-of-N OT construction (both parties the same). */
static cg_mpc_options mpc_opt;

typedef struct {
    cg_mpc *m;
    cg_channel *ch;
    cg_party party;
    bench_op op;
    size_t n, rows, cols;
    uint64_t *x, *y, *out;
    uint8_t *b, *bo;
    cg_status st;
    cg_error err;
    double cpu_ms; /* this party's thread CPU time in the last call */
} party_job;

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* The non-linear calls of one GPT-2-base decode block at length L =
 * BLOCK_L, one row, in src/proto/forward.c's order and sizes (d = 768, 12
 * heads of 64; w = s = 12, scores truncated by s + 3), each under the
 * profile label of the gen report's part it falls in; the step's Ferret
 * fill-ahead first. Values are random small shares: no call's traffic
 * depends on them. p->x holds 4d shares mod 2^l, p->y 4d mod 2^64. */
#define BLOCK_D 768
#define BLOCK_H 12
#define BLOCK_L 64
#define BLOCK_V 50257 /* the token's argmax over GPT-2's vocabulary, after the blocks */
static cg_status block_calls(party_job *p)
{
    cg_mpc *m = p->m;
    cg_error *e = &p->err;
    const size_t d = BLOCK_D, H = BLOCK_H, L = BLOCK_L;
    const unsigned l = FMT.ring_bits, s = FMT.frac_bits, w = 12;
    uint64_t *x = p->x, *x64 = p->y, *o = p->out, *res = p->x + 3 * d;
    cg_mpc_profile_label(m, "fill_ahead");
    CG_TRY(cg_mpc_ot_fill_ahead(m, e));
    cg_mpc_profile_label(m, "layernorm");
    CG_TRY(cg_mpc_prepare(m, FMT, 2, 1, d, 4 * d, H, L, e));
    CG_TRY(cg_mpc_layernorm_lifted(m, FMT, 1, d, x64, o, e));
    cg_mpc_profile_label(m, "qkv");
    CG_TRY(cg_mpc_trunc_exact(m, l, w, 3 * d, x, o, e));
    cg_mpc_profile_label(m, "softmax");
    CG_TRY(cg_mpc_trunc_exact(m, l, s + 3, H * L, x, o, e));
    CG_TRY(cg_mpc_softmax(m, FMT, H, L, NULL, x, o, e));
    cg_mpc_profile_label(m, "sv");
    CG_TRY(cg_mpc_trunc_exact(m, l, s, d, x, o, e));
    cg_mpc_profile_label(m, "attn_out");
    CG_TRY(cg_mpc_trunc_add_lift(m, l, w, d, x, res, x64, e));
    cg_mpc_profile_label(m, "layernorm");
    CG_TRY(cg_mpc_layernorm_lifted(m, FMT, 1, d, x64, o, e));
    cg_mpc_profile_label(m, "mlp_up");
    CG_TRY(cg_mpc_trunc_exact(m, l, w, 4 * d, x, o, e));
    cg_mpc_profile_label(m, "gelu");
    CG_TRY(cg_mpc_gelu(m, FMT, 4 * d, x, o, e));
    cg_mpc_profile_label(m, "mlp_down");
    CG_TRY(cg_mpc_trunc_add_lift(m, l, w, d, x, res, x64, e));
    cg_mpc_profile_label(m, NULL);
    return CG_OK;
}

static void *run_job(void *arg)
{
    party_job *p = arg;
    unsigned l = FMT.ring_bits;
    double cpu0 = thread_cpu_ms();
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
    case B_GELU_ACC: p->st = cg_mpc_gelu_accurate(p->m, FMT, p->n, p->x, p->out, &p->err); break;
    case B_ARGMAX: {
        uint64_t idx = 0;
        p->st = cg_mpc_argmax_reveal(p->m, l, p->n, p->x, &idx, &p->err);
        break;
    }
    case B_EXP: p->st = cg_mpc_exp_neg(p->m, FMT, p->n, p->x, p->out, &p->err); break;
    case B_TRUNCX:
        p->st = cg_mpc_trunc_exact(p->m, l, FMT.frac_bits, p->n, p->x, p->out, &p->err);
        break;
    case B_LUT:
        /* The index shares are the low 8 bits of x (any value is in range). */
        p->st = cg_mpc_lut(p->m, 8, l, p->party == CG_SERVER ? LUT : NULL, p->n, p->x, p->out,
                           &p->err);
        break;
    case B_EXTEND: p->st = cg_mpc_extend(p->m, l, 64, p->n, p->x, p->out, &p->err); break;
    case B_P2R: {
        /* What a slot-packed design (t = the paper's 29-bit prime) would pay
         * after every linear layer; our t = 2^37 design needs none. */
        const uint64_t P = 536903681;
        uint64_t *xp = malloc(p->n * sizeof *xp);
        if (!xp) {
            p->st = CG_ERR_NOMEM;
            break;
        }
        for (size_t i = 0; i < p->n; i++) xp[i] = p->x[i] % P;
        p->st = cg_mpc_prime_to_ring(p->m, P, l, p->n, xp, p->out, &p->err);
        free(xp);
        break;
    }
    case B_RECIP: p->st = cg_mpc_recip(p->m, FMT, p->n, p->x, p->out, &p->err); break;
    case B_RSQRT: p->st = cg_mpc_rsqrt(p->m, FMT, p->n, p->x, p->out, &p->err); break;
    case B_SOFTMAX:
        p->st = cg_mpc_softmax(p->m, FMT, p->rows, p->cols, NULL, p->x, p->out, &p->err);
        break;
    case B_LAYERNORM:
        p->st = cg_mpc_layernorm(p->m, FMT, p->rows, p->cols, p->x, p->out, &p->err);
        break;
    case B_BLOCK:
        if (p->n == BLOCK_V) {
            uint64_t idx = 0;
            cg_mpc_profile_label(p->m, "argmax");
            p->st = cg_mpc_argmax_reveal(p->m, l, p->n, p->x, &idx, &p->err);
        } else {
            p->st = block_calls(p);
        }
        break;
    default: p->st = CG_ERR_ARG; break;
    }
    p->cpu_ms = thread_cpu_ms() - cpu0;
    return NULL;
}

static void *setup_job(void *arg)
{
    party_job *p = arg;
    p->st = cg_mpc_new(&p->m, p->ch, p->party, &mpc_opt, &p->err);
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

static void free_party(party_job *p);

/* Shares of the secrets v (the server's share random). */
static void share_values(party_job *s, party_job *c, size_t n, const int64_t *v, cg_prg *prg)
{
    uint64_t mask = (1ull << FMT.ring_bits) - 1;
    for (size_t i = 0; i < n; i++) {
        s->x[i] = cg_prg_u64(prg) & mask;
        c->x[i] = ((uint64_t)v[i] - s->x[i]) & mask;
    }
}

/* One call of op on both parties: its wall time in microseconds, the
 * channel counters left in ss/sc and each party's CPU time in p->cpu_ms. */
static bool one_call(party_job *s, party_job *c, double *us, cg_chan_stats *ss, cg_chan_stats *sc)
{
    cg_chan_reset_stats(s->ch);
    cg_chan_reset_stats(c->ch);
    uint64_t t0 = cg_now_ns();
    if (!both(s, c, run_job)) return false;
    *us = (double)(cg_now_ns() - t0) * 1e-3;
    cg_chan_get_stats(s->ch, ss);
    cg_chan_get_stats(c->ch, sc);
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* op on both parties: one first call (timed on its own: it pays for the
 * memory the session has not touched yet), then `reps` calls whose median
 * is the figure; prints one JSON record. */
static const char *only_op; /* --op */
static int reps = 5;        /* --reps */

static bool timed(party_job *s, party_job *c, bench_op op, int exact, bool *first)
{
    if (only_op && strcmp(only_op, op_names[op]) != 0) return true;
    s->op = c->op = op;
    double first_us, wall[100], cpu_s[100], cpu_c[100];
    cg_chan_stats ss, sc;
    if (!one_call(s, c, &first_us, &ss, &sc)) return false;
    /* Bytes: the mean over the timed calls, so that Ferret's refills (in
     * some calls only) count amortised. */
    double sent_s = 0, sent_c = 0;
    for (int r = 0; r < reps; r++) {
        if (!one_call(s, c, &wall[r], &ss, &sc)) return false;
        cpu_s[r] = s->cpu_ms;
        cpu_c[r] = c->cpu_ms;
        sent_s += (double)ss.total.bytes_sent / reps;
        sent_c += (double)sc.total.bytes_sent / reps;
    }
    double us = median(wall, reps);
    size_t n = s->n;
    printf("%s\n {\"op\":\"%s\",\"n\":%zu,", *first ? "" : ",", op_names[op], n);
    if (op >= B_COUNT)
        printf("\"rows\":%zu,\"cols\":%zu,\"exact\":%s,\"ms_per_call\":%.2f,", s->rows, s->cols,
               exact ? "true" : "false", us * 1e-3);
    printf("\"us_per_elem\":%.3f,\"first_call_ms\":%.2f,"
           "\"bytes_per_elem_server_to_client\":%.1f,\"bytes_per_elem_client_to_server\":%.1f,"
           "\"rounds\":%llu,\"cpu_ms_server\":%.2f,\"cpu_ms_client\":%.2f}",
           us / (double)n, first_us * 1e-3, sent_s / (double)n, sent_c / (double)n,
           (unsigned long long)(ss.total.rounds > sc.total.rounds ? ss.total.rounds
                                                                   : sc.total.rounds),
           median(cpu_s, reps), median(cpu_c, reps));
    fflush(stdout);
    *first = false;
    return true;
}

/* The row-shaped protocols at the shapes of one GPT-2 layer, on realistic
 * values: softmax logits in +-8, LayerNorm inputs in +-8, reciprocal and
 * rsqrt inputs in [1, 1024). */
static bool bench_shaped(party_job *s, party_job *c, cg_prg *prg, bool *first)
{
    static const struct { bench_op op; size_t rows, cols; } shapes[] = {
        {B_RECIP, 1, 768}, {B_RSQRT, 1, 768}, {B_SOFTMAX, 12, 64},
        {B_SOFTMAX, 1, 512}, {B_LAYERNORM, 1, 768}};
    int64_t *v = cg_alloc(768 * sizeof *v);
    bool ok = v && alloc_party(s, 768, prg) && alloc_party(c, 768, prg);
    for (size_t k = 0; ok && k < sizeof shapes / sizeof shapes[0]; k++) {
        size_t n = shapes[k].rows * shapes[k].cols;
        for (size_t i = 0; i < n; i++) {
            double r = (double)cg_prg_uniform(prg, 1u << 20) / (double)(1u << 20);
            v[i] = cg_fxp_encode(FMT, shapes[k].op == B_RECIP || shapes[k].op == B_RSQRT
                                          ? 1.0 + 1023.0 * r
                                          : 16.0 * r - 8.0);
        }
        share_values(s, c, n, v, prg);
        s->n = c->n = n;
        s->rows = c->rows = shapes[k].rows;
        s->cols = c->cols = shapes[k].cols;
        for (int exact = 0; ok && exact < 2; exact++) {
            cg_mpc_set_exact(s->m, exact);
            cg_mpc_set_exact(c->m, exact);
            ok = timed(s, c, shapes[k].op, exact, first);
        }
    }
    cg_mpc_set_exact(s->m, false);
    cg_mpc_set_exact(c->m, false);
    cg_free(v);
    free_party(s);
    free_party(c);
    return ok;
}

/* --op block: the decode block's calls (block_calls), once to warm up,
 * then `reps` times with profiling on; prints the bytes per block each way
 * and rounds, per part and per part/sub-protocol (means over the reps);
 * then the same for the token's argmax over BLOCK_V logits (argmax). */
static bool bench_block(party_job *s, party_job *c, cg_prg *prg, bool *first, bool argmax)
{
    const size_t n = argmax ? BLOCK_V : 4 * BLOCK_D;
    bool ok = alloc_party(s, n, prg) && alloc_party(c, n, prg);
    s->n = c->n = n;
    for (size_t i = 0; ok && i < n; i++) { /* x64: shares mod 2^64 of values in +-8 */
        int64_t v = (int64_t)cg_prg_uniform(prg, 1u << 16) - (1 << 15);
        s->y[i] = cg_prg_u64(prg);
        c->y[i] = (uint64_t)v - s->y[i];
    }
    s->op = c->op = B_BLOCK;
    cg_mpc_set_exact(s->m, true);
    cg_mpc_set_exact(c->m, true);
    if (ok) ok = both(s, c, run_job);
    cg_mpc_profile_reset(s->m, true);
    cg_mpc_profile_reset(c->m, true);
    double wall[100];
    for (int r = 0; ok && r < reps; r++) {
        uint64_t t0 = cg_now_ns();
        ok = both(s, c, run_job);
        wall[r] = (double)(cg_now_ns() - t0) * 1e-6;
    }
    static cg_mpc_profile ps, pc;
    cg_mpc_profile_get(s->m, &ps);
    cg_mpc_profile_get(c->m, &pc);
    cg_mpc_profile_reset(s->m, false);
    cg_mpc_profile_reset(c->m, false);
    cg_mpc_set_exact(s->m, false);
    cg_mpc_set_exact(c->m, false);
    free_party(s);
    free_party(c);
    if (!ok) return false;
    /* Each entry from the server's counts (both parties have the same
     * entries in the same order: they make the same calls). */
    double tc = 0, ts = 0, tr = 0;
    for (size_t i = 0; i < ps.n; i++) {
        ts += (double)ps.e[i].bytes_sent / reps;
        tc += (double)ps.e[i].bytes_received / reps;
        tr += (double)ps.e[i].rounds / reps;
    }
    if (argmax)
        printf("%s\n {\"op\":\"argmax_reveal\",\"n\":%d,\"ring_bits\":%u,\"ms_per_call\":%.2f,"
               "\"bytes_client_to_server\":%.0f,\"bytes_server_to_client\":%.0f,\"rounds\":%.1f,\"sub\":[",
               *first ? "" : ",", BLOCK_V, FMT.ring_bits, median(wall, reps), tc, ts, tr);
    else
        printf("%s\n {\"op\":\"block\",\"d\":%d,\"heads\":%d,\"L\":%d,\"exact\":true,"
               "\"ms_per_block\":%.2f,\"bytes_client_to_server\":%.0f,\"bytes_server_to_client\":%.0f,"
               "\"rounds\":%.1f,\"sub\":[",
               *first ? "" : ",", BLOCK_D, BLOCK_H, BLOCK_L, median(wall, reps), tc, ts, tr);
    for (size_t i = 0; i < ps.n; i++) {
        const cg_mpc_prof_entry *a = &ps.e[i], *b = a;
        for (size_t j = 0; j < pc.n; j++)
            if (strcmp(pc.e[j].name, a->name) == 0) b = &pc.e[j];
        printf("%s\n  {\"name\":\"%s\",\"calls\":%.1f,\"bytes_client_to_server\":%.0f,"
               "\"bytes_server_to_client\":%.0f,\"rounds\":%.1f,\"cots_server_sends\":%.0f,"
               "\"cots_client_sends\":%.0f}",
               i ? "," : "", a->name, (double)a->calls / reps, (double)a->bytes_received / reps,
               (double)a->bytes_sent / reps,
               (double)(a->rounds > b->rounds ? a->rounds : b->rounds) / reps,
               (double)a->cots_sent / reps, (double)b->cots_sent / reps);
    }
    printf("]}");
    fflush(stdout);
    *first = false;
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
    uint64_t max = 50257, extra = 0;
    bool tcp = false, json = false;
    const char *otn_name = cli_otn_names[CG_OTN_KK13];
    const char *ot_name = cli_ot_names[CG_OT_IKNP];
    const cli_opt opts[] = {
        CLI_OPT_U64("max", 0, max, "N", 0, UINT64_MAX, "batch sizes 1, 3072 and 50257 up to N only"),
        CLI_OPT_U64("size", 0, extra, "N", 0, 1u << 24, "one more batch size (a prefill's, e.g. 196608)"),
        CLI_OPT_FLAG("tcp", 0, tcp, "loopback TCP instead of the in-process channel"),
        {.name = "op", .kind = CLI_CHOICE, .target = CLI_TARGET(const char *, only_op), .metavar = "NAME",
         .choices = op_names, .default_text = "all", .help = "run this protocol only"},
        CLI_OPT_INT("reps", 0, reps, "R", 1, 100, "timed calls after the first; their median is the figure"),
        CLI_OPT_CHOICE("otn", 0, otn_name, NULL, cli_otn_names, "1-of-N OT construction for N >= 8"),
        CLI_OPT_CHOICE("ot", 0, ot_name, NULL, cli_ot_names, "COT source of both parties"),
        CLI_OPT_FLAG("json", 0, json, "JSON output (the only format)"),
        {0},
    };
    const cli_command cmd = {
        .name = "bench mpc", .opts = opts,
        .about = "The two-party protocols between two threads (one per party, each\n"
                 "single-threaded) at batch sizes 1, 3072 and 50257, then the row-shaped ones\n"
                 "(reciprocal, rsqrt, softmax, LayerNorm) at one GPT-2 layer's shapes, approximate\n"
                 "and exact. Prints microseconds per element, bytes per element each way, rounds\n"
                 "and CPU time."};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    mpc_opt.otn = cli_otn_kind(otn_name);
    mpc_opt.ot = cli_ot_kind(ot_name);
    if (cg_init(NULL) != CG_OK) return 1;
    cg_channel *cs = NULL, *cc = NULL;
    if ((tcp ? cg_chan_tcp_pair_new(&cs, &cc, NULL, NULL) : cg_chan_pair_new(&cs, &cc, NULL, NULL)) != CG_OK) {
        fprintf(stderr, "bench mpc: cannot set up the %s channel\n", tcp ? "TCP" : "in-process");
        return 1;
    }
    party_job s = {.ch = cs, .party = CG_SERVER}, c = {.ch = cc, .party = CG_CLIENT};
    int rc = 1;
    if (!both(&s, &c, setup_job)) goto out;
    const size_t sizes[] = {1, 3072, 50257, (size_t)extra};
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int i = 0; i < 256; i++) LUT[i] = cg_prg_u64(&prg) & ((1ull << FMT.ring_bits) - 1);
    printf("{\"bench\":\"mpc\",");
    cli_print_machine_json(stdout);
    printf(",\"link\":\"%s\",\"ring_bits\":%u,\"frac_bits\":%u,\"ot\":\"%s\","
           "\"otn\":\"%s\",\"threads_per_party\":1,\"reps\":%d,\"results\":[",
           tcp ? "tcp_loopback" : "inproc", FMT.ring_bits, FMT.frac_bits, cli_ot_names[mpc_opt.ot],
           cli_otn_names[mpc_opt.otn], reps);
    bool first = true;
    if (only_op && strcmp(only_op, "block") == 0) {
        if (!bench_block(&s, &c, &prg, &first, false) || !bench_block(&s, &c, &prg, &first, true))
            goto out;
        printf("\n]}\n");
        rc = 0;
        goto out;
    }
    for (size_t si = 0; si < 4; si++) {
        size_t n = sizes[si];
        if (si < 3 ? n > max : n == 0) continue;
        if (!alloc_party(&s, n, &prg) || !alloc_party(&c, n, &prg)) goto out_free;
        s.n = c.n = n;
        for (int op = 0; op < B_COUNT; op++)
            if (!timed(&s, &c, (bench_op)op, 0, &first)) goto out_free;
        free_party(&s);
        free_party(&c);
    }
    if (!bench_shaped(&s, &c, &prg, &first)) goto out;
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
