/* `cryptogen bench ot`: base OT and OT extension throughput between two
 * threads (one per party, each single-threaded) over the in-process channel
 * and over loopback TCP. Prints JSON. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/opts.h"
#include "cli/values.h"
#include "cryptogen/ot.h"

typedef enum { OP_SETUP, OP_COT, OP_RCOT, OP_ROT, OP_OT, OP_OTN } bench_op;

typedef struct {
    cg_channel *ch;
    cg_ot *ot;
    cg_ot_role role;
    cg_otn_kind otn;
    cg_ot_kind kind;
    bench_op op;
    size_t n;
    unsigned bits, N;
    uint64_t *a, *b;
    uint8_t *choice;
    cg_status st;
    cg_error err;
    double cpu_s; /* this party's thread CPU time in the last run */
} bench_party;

/* Thread CPU time: on a busy machine (both parties and other jobs sharing
 * the cores) it tells each party's work apart from waiting for a core. */
static double thread_cpu_s(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return 0;
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void *party_main(void *arg)
{
    bench_party *p = arg;
    bool snd = p->role == CG_OT_SENDER;
    double c0 = thread_cpu_s();
    switch (p->op) {
    case OP_SETUP: p->st = cg_ot_new_kind(&p->ot, p->ch, p->role, p->otn, p->kind, &p->err); break;
    case OP_COT:
        p->st = snd ? cg_cot_send(p->ot, p->n, p->bits, p->a, p->b, &p->err)
                    : cg_cot_recv(p->ot, p->n, p->bits, p->choice, p->a, &p->err);
        break;
    case OP_RCOT: /* random choices: the sender's call is cg_cot_send's */
        p->st = snd ? cg_cot_send(p->ot, p->n, p->bits, p->a, p->b, &p->err)
                    : cg_cot_recv_rc(p->ot, p->n, p->bits, p->choice, p->a, &p->err);
        break;
    case OP_ROT:
        p->st = snd ? cg_rot_send(p->ot, p->n, p->bits, p->a, p->b, &p->err)
                    : cg_rot_recv(p->ot, p->n, p->bits, p->choice, p->a, &p->err);
        break;
    case OP_OT:
        p->st = snd ? cg_ot_send(p->ot, p->n, p->bits, p->a, p->b, &p->err)
                    : cg_ot_recv(p->ot, p->n, p->bits, p->choice, p->a, &p->err);
        break;
    case OP_OTN:
        p->st = snd ? cg_otn_send(p->ot, p->n, p->N, p->bits, p->a, &p->err)
                    : cg_otn_recv(p->ot, p->n, p->N, p->bits, p->choice, p->a, &p->err);
        break;
    }
    p->cpu_s = thread_cpu_s() - c0;
    return NULL;
}

/* Runs one operation on both parties; returns seconds, or -1 on failure. */
static double run_once(bench_party *s, bench_party *r, bench_op op)
{
    s->op = r->op = op;
    pthread_t t;
    uint64_t t0 = cg_now_ns();
    if (pthread_create(&t, NULL, party_main, r) != 0) return -1;
    party_main(s);
    pthread_join(t, NULL);
    double dt = (double)(cg_now_ns() - t0) * 1e-9;
    if (s->st != CG_OK || r->st != CG_OK) {
        fprintf(stderr, "bench ot: %s / %s\n", s->st != CG_OK ? s->err.msg : "ok",
                r->st != CG_OK ? r->err.msg : "ok");
        return -1;
    }
    return dt;
}

/* Steady state: a first untimed run grows the channel's buffers (first-touch
 * page faults), the second is timed. */
static double run_both(bench_party *s, bench_party *r, bench_op op)
{
    if (op != OP_SETUP && run_once(s, r, op) < 0) return -1;
    return run_once(s, r, op);
}


typedef struct {
    double setup_ms, first_cot_ms, cot_per_s, rot_per_s, ot_per_s, otn16_per_s;
    double cot_bytes_per_ot;
    /* Bits per OT of the timed COT (64-bit) and ROT (1-bit) batches: receiver
     * to sender (up) and back (down), Ferret's refills included. */
    double cot_bits_up, cot_bits_down, rot_bits_up, rot_bits_down;
    /* CPU time per COT of the timed COT batch, each party's thread. */
    double cot_cpu_ns_send, cot_cpu_ns_recv;
    /* Steady state: COT batches after the timed one, over at least 2^25
     * COTs (three of Ferret's large refills), all refills included. */
    double steady_per_s, steady_bits_up, steady_refill_bits;
    size_t steady_cots;
    cg_ot_stats send_stats; /* the sender's counters at the end */
} results;

/* Bits per OT each way over a timed run on the receiver's channel. */
static void bits_per_ot(cg_channel *cr, size_t n, double *up, double *down)
{
    cg_chan_stats st;
    cg_chan_get_stats(cr, &st);
    *up = 8.0 * (double)st.total.bytes_sent / (double)n;
    *down = 8.0 * (double)st.total.bytes_received / (double)n;
}

static int bench_link(cg_channel *cs, cg_channel *cr, size_t n, size_t n_otn, cg_otn_kind otn,
                      cg_ot_kind kind, results *res)
{
    bench_party s = {.ch = cs, .role = CG_OT_SENDER, .otn = otn, .kind = kind, .bits = 64, .N = 16};
    bench_party r = {.ch = cr, .role = CG_OT_RECEIVER, .otn = otn, .kind = kind, .bits = 64, .N = 16};
    size_t rows = n_otn * 16 > n ? n_otn * 16 : n;
    s.a = cg_calloc(rows, 8);
    s.b = cg_calloc(n, 8);
    r.a = cg_calloc(n, 8);
    r.choice = cg_calloc(n, 1);
    int rc = 1;
    if (!s.a || !s.b || !r.a || !r.choice) goto out;
    /* Touch every page before timing; random inputs. */
    memset(s.b, 0, n * 8);
    memset(r.a, 0, n * 8);
    cg_random_bytes(s.a, rows * 8);
    cg_random_bytes(r.choice, n);
    for (size_t i = 0; i < n; i++) r.choice[i] &= 1;
    double dt = run_both(&s, &r, OP_SETUP);
    if (dt < 0) goto out;
    res->setup_ms = dt * 1e3;
    s.n = r.n = n;
    /* The first batch also runs Ferret's IKNP bootstrap and first refills. */
    if ((dt = run_once(&s, &r, OP_COT)) < 0) goto out;
    res->first_cot_ms = dt * 1e3;
    cg_chan_reset_stats(cr);
    if ((dt = run_once(&s, &r, OP_COT)) < 0) goto out;
    res->cot_per_s = (double)n / dt;
    res->cot_cpu_ns_send = 1e9 * s.cpu_s / (double)n;
    res->cot_cpu_ns_recv = 1e9 * r.cpu_s / (double)n;
    cg_chan_stats st;
    cg_chan_get_stats(cr, &st);
    res->cot_bytes_per_ot = (double)(st.total.bytes_sent + st.total.bytes_received) / (double)n;
    bits_per_ot(cr, n, &res->cot_bits_up, &res->cot_bits_down);
    {
        size_t reps = ((size_t)1 << 25) / n + (((size_t)1 << 25) % n != 0);
        cg_ot_stats f0, f1;
        cg_ot_get_stats(s.ot, &f0);
        cg_chan_reset_stats(cr);
        double total = 0;
        for (size_t i = 0; i < reps; i++) {
            if ((dt = run_once(&s, &r, OP_COT)) < 0) goto out;
            total += dt;
        }
        cg_ot_get_stats(s.ot, &f1);
        double down;
        res->steady_cots = reps * n;
        res->steady_per_s = (double)res->steady_cots / total;
        bits_per_ot(cr, res->steady_cots, &res->steady_bits_up, &down);
        res->steady_refill_bits = 8.0 * (double)(f1.refill_bytes - f0.refill_bytes) / (double)res->steady_cots;
    }
    s.bits = r.bits = 1;
    if (run_once(&s, &r, OP_ROT) < 0) goto out;
    cg_chan_reset_stats(cr);
    if ((dt = run_once(&s, &r, OP_ROT)) < 0) goto out;
    res->rot_per_s = (double)n / dt;
    bits_per_ot(cr, n, &res->rot_bits_up, &res->rot_bits_down);
    s.bits = r.bits = 64;
    if ((dt = run_both(&s, &r, OP_OT)) < 0) goto out;
    res->ot_per_s = (double)n / dt;
    s.n = r.n = n_otn;
    s.bits = r.bits = 2; /* the millionaire protocol's (lt, eq) messages */
    for (size_t i = 0; i < n_otn; i++) r.choice[i] = (uint8_t)(r.choice[i] * 7 + i) & 15;
    if ((dt = run_both(&s, &r, OP_OTN)) < 0) goto out;
    res->otn16_per_s = (double)n_otn / dt;
    cg_ot_get_stats(s.ot, &res->send_stats);
    rc = 0;
out:
    cg_ot_free(s.ot);
    cg_ot_free(r.ot);
    cg_free(s.a);
    cg_free(s.b);
    cg_free(r.a);
    cg_free(r.choice);
    return rc;
}

/* Bits per COT on the wire, each way (up: receiver to sender), for
 * chosen- and random-choice 64-bit COTs: "whole" from the instances' set-up
 * (base OTs, Ferret's bootstrap and every refill) to the end of 2^25 COTs
 * in batches of n, "steady" over the batches after the first 2^24. */
typedef struct {
    double whole_up, whole_down, steady_up, steady_down;
    size_t cots, steady_cots;
} bits_res;

static int bench_bits(size_t n, cg_otn_kind otn, cg_ot_kind kind, bench_op op, bits_res *out)
{
    cg_channel *cs, *cr;
    if (cg_chan_pair_new(&cs, &cr, NULL, NULL) != CG_OK) return 1;
    bench_party s = {.ch = cs, .role = CG_OT_SENDER, .otn = otn, .kind = kind, .bits = 64, .n = n};
    bench_party r = {.ch = cr, .role = CG_OT_RECEIVER, .otn = otn, .kind = kind, .bits = 64, .n = n};
    s.a = cg_calloc(n, 8);
    s.b = cg_calloc(n, 8);
    r.a = cg_calloc(n, 8);
    r.choice = cg_calloc(n, 1);
    int rc = 1;
    const size_t total = (size_t)1 << 25, half = total / 2;
    cg_chan_stats a0, a1;
    if (!s.a || !s.b || !r.a || !r.choice || run_once(&s, &r, OP_SETUP) < 0) goto out;
    cg_random_bytes(s.a, n * 8);
    for (size_t i = 0; i < n; i++) r.choice[i] = (uint8_t)(i * 0x9e37u >> 7) & 1;
    memset(out, 0, sizeof *out);
    memset(&a0, 0, sizeof a0);
    bool steady = false;
    for (size_t done = 0; done < total; done += n) {
        if (done >= half && !steady) {
            cg_chan_get_stats(cr, &a0);
            steady = true;
        }
        if (run_once(&s, &r, op) < 0) goto out;
        out->cots += n;
        if (steady) out->steady_cots += n;
    }
    cg_chan_get_stats(cr, &a1);
    if (!steady) out->steady_cots = out->cots; /* one batch: a0 is still zero */
    out->whole_up = 8.0 * (double)a1.total.bytes_sent / (double)out->cots;
    out->whole_down = 8.0 * (double)a1.total.bytes_received / (double)out->cots;
    out->steady_up = 8.0 * (double)(a1.total.bytes_sent - a0.total.bytes_sent) / (double)out->steady_cots;
    out->steady_down = 8.0 * (double)(a1.total.bytes_received - a0.total.bytes_received) /
                       (double)out->steady_cots;
    rc = 0;
out:
    cg_ot_free(s.ot);
    cg_ot_free(r.ot);
    cg_free(s.a);
    cg_free(s.b);
    cg_free(r.a);
    cg_free(r.choice);
    cg_chan_free(cs);
    cg_chan_free(cr);
    return rc;
}

static void print_bits(const char *name, const bits_res *b, int last)
{
    /* "generation": both ways less the 64-bit correction every COT over
     * Z_{2^64} sends whatever its source (the bits per COT). */
    printf("      \"%s\": {\"cots\": %zu, \"whole\": {\"up\": %.4f, \"down\": %.4f, \"total\": %.4f, "
           "\"generation\": %.4f}, \"steady_cots\": %zu, \"steady\": {\"up\": %.4f, \"down\": %.4f, "
           "\"total\": %.4f, \"generation\": %.4f}}%s\n",
           name, b->cots, b->whole_up, b->whole_down, b->whole_up + b->whole_down,
           b->whole_up + b->whole_down - 64, b->steady_cots, b->steady_up, b->steady_down,
           b->steady_up + b->steady_down, b->steady_up + b->steady_down - 64, last ? "" : ",");
}

static void print_results(const char *name, const results *r, int last)
{
    const cg_ot_stats *f = &r->send_stats;
    printf("    \"%s\": {\"base_ot_setup_ms\": %.2f, \"first_cot_batch_ms\": %.1f, "
           "\"cot64_per_s\": %.0f, \"rot1_per_s\": %.0f, \"chosen_ot64_per_s\": %.0f, "
           "\"otn16_2bit_per_s\": %.0f, \"cot64_bytes_per_ot\": %.2f, "
           "\"cot64_bits_up_per_ot\": %.3f, \"cot64_bits_down_per_ot\": %.3f, "
           "\"rot1_bits_up_per_ot\": %.3f, \"rot1_bits_down_per_ot\": %.3f, "
           "\"cot64_cpu_ns_per_ot_sender\": %.1f, \"cot64_cpu_ns_per_ot_receiver\": %.1f, "
           "\"cot64_steady\": {\"cots\": %zu, \"per_s\": %.0f, \"bits_up_per_ot\": %.3f, "
           "\"refill_bits_per_ot\": %.3f}, "
           "\"sender\": {\"cots_used\": %llu, \"cots_made\": %llu, \"refills\": %llu, "
           "\"base_iknp\": %llu, \"refill_bytes\": %llu, \"refill_bits_per_cot_made\": %.3f}}%s\n",
           name, r->setup_ms, r->first_cot_ms, r->cot_per_s, r->rot_per_s, r->ot_per_s,
           r->otn16_per_s, r->cot_bytes_per_ot, r->cot_bits_up, r->cot_bits_down, r->rot_bits_up,
           r->rot_bits_down, r->cot_cpu_ns_send, r->cot_cpu_ns_recv, r->steady_cots, r->steady_per_s,
           r->steady_bits_up, r->steady_refill_bits, (unsigned long long)f->cots_used, (unsigned long long)f->cots_made,
           (unsigned long long)f->refills, (unsigned long long)f->base_iknp,
           (unsigned long long)f->refill_bytes,
           f->cots_made ? 8.0 * (double)f->refill_bytes / (double)f->cots_made : 0.0,
           last ? "" : ",");
}

int cg_bench_ot(int argc, char **argv)
{
    static const char *const links[] = {"inproc", "tcp", "both", NULL};
    static const char *const kinds[] = {"iknp", "ferret", "both", NULL};
    const char *kind = "both";
    const char *otn_name = cli_otn_names[CG_OTN_KK13];
    uint64_t n_opt = 1u << 23, n_otn_opt = 1u << 18, latency_us = 0;
    double mbps = 0;
    const char *link = "both";
    bool json = false;
    const cli_opt opts[] = {
        CLI_OPT_U64("n", 0, n_opt, "N", 1, (uint64_t)1 << 32, "OTs per COT, ROT and chosen-message batch"),
        CLI_OPT_U64("n-otn", 0, n_otn_opt, "N", 1, (uint64_t)1 << 32, "1-of-16 OTs per batch, at most --n"),
        CLI_OPT_CHOICE("link", 0, link, NULL, links, "in-process channel, loopback TCP, or both"),
        CLI_OPT_U64("latency-us", 0, latency_us, "US", 0, UINT32_MAX,
                    "one-way latency added to both parties' sends"),
        CLI_OPT_DOUBLE("mbps", 0, mbps, "MBIT", 0, 1e6,
                       "bandwidth of both parties' sends in Mbit/s, 0 for unshaped"),
        CLI_OPT_CHOICE("otn", 0, otn_name, NULL, cli_otn_names, "1-of-N OT construction for N >= 8"),
        CLI_OPT_CHOICE("ot", 0, kind, NULL, kinds, "COT source: IKNP, Ferret, or both side by side"),
        CLI_OPT_FLAG("json", 0, json, "JSON output (the only format)"),
        {0},
    };
    const cli_command cmd = {.name = "bench ot", .opts = opts,
                             .about = "Base OT and OT extension throughput between two threads (one per\n"
                                      "party, each single-threaded) over the in-process channel and\n"
                                      "loopback TCP."};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (n_otn_opt > n_opt)
        return cli_usage_error(&cmd, "--n-otn %llu is above --n %llu", (unsigned long long)n_otn_opt,
                               (unsigned long long)n_opt);
    size_t n = (size_t)n_opt, n_otn = (size_t)n_otn_opt;
    const cg_otn_kind otn = cli_otn_kind(otn_name);
    bool do_inproc = strcmp(link, "tcp") != 0, do_tcp = strcmp(link, "inproc") != 0;
    cg_chan_options link_opt = {.shape = {.one_way_latency_us = (uint32_t)latency_us,
                                          .bandwidth_bps = (uint64_t)(mbps * 1e6)}};
    /* [kind][link]: IKNP first, then Ferret, each on the links asked for. */
    results res[2][2];
    memset(res, 0, sizeof res);
    bool do_kind[2] = {strcmp(kind, "ferret") != 0, strcmp(kind, "iknp") != 0};
    cg_channel *a, *b;
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        if (!do_kind[k]) continue;
        if (do_inproc) {
            if (cg_chan_pair_new(&a, &b, &link_opt, NULL) != CG_OK) return 1;
            rc = bench_link(a, b, n, n_otn, otn, (cg_ot_kind)k, &res[k][0]);
            cg_chan_free(a);
            cg_chan_free(b);
            if (rc) return rc;
        }
        if (do_tcp) {
            if (cg_chan_tcp_pair_new(&a, &b, &link_opt, NULL) != CG_OK) return 1;
            rc = bench_link(a, b, n, n_otn, otn, (cg_ot_kind)k, &res[k][1]);
            cg_chan_free(a);
            cg_chan_free(b);
            if (rc) return rc;
        }
    }
    /* Bytes do not depend on the link: the in-process channel only. */
    bits_res bits[2][2];
    for (int k = 0; k < 2; k++)
        for (int m = 0; do_kind[k] && m < 2; m++)
            if (bench_bits(n, otn, (cg_ot_kind)k, m ? OP_RCOT : OP_COT, &bits[k][m])) return 1;
    printf("{\n  \"bench\": \"ot\",\n  ");
    cli_print_machine_json(stdout);
    printf(",\n  \"aes\": \"%s\",\n  \"otn\": \"%s\",\n  \"n\": %zu,\n  \"n_otn\": %zu,\n"
           "  \"threads_per_party\": 1,\n  \"shape\": {\"one_way_latency_us\": %u, \"bandwidth_bps\": %llu}",
           cg_ot_backend(), cli_otn_names[otn], n, n_otn,
           (unsigned)link_opt.shape.one_way_latency_us,
           (unsigned long long)link_opt.shape.bandwidth_bps);
    /* "links" is IKNP's (as before the OT kinds), "ferret_links" Ferret's. */
    for (int k = 0; k < 2; k++) {
        if (!do_kind[k]) continue;
        printf(",\n  \"%s\": {\n", k == 0 ? "links" : "ferret_links");
        if (do_inproc) print_results("inproc", &res[k][0], !do_tcp);
        if (do_tcp) print_results("tcp_loopback", &res[k][1], 1);
        printf("  }");
    }
    /* cot64 batches of --n: chosen choices (cg_cot_recv) against random
     * ones (cg_cot_recv_rc). */
    printf(",\n  \"bits_per_cot\": {\n");
    for (int k = 0, first = 1; k < 2; k++) {
        if (!do_kind[k]) continue;
        printf("%s    \"%s\": {\n", first ? "" : ",\n", k ? "ferret" : "iknp");
        print_bits("chosen", &bits[k][0], 0);
        print_bits("random_choice", &bits[k][1], 1);
        printf("    }");
        first = 0;
    }
    printf("\n  }\n}\n");
    return 0;
}
