/* A Ferret refill on the large set, timed by phase (docs/PERFORMANCE.md,
 * "Ferret throughput"): not part of the build. It links a build's ot
 * objects directly (they hold the internal names), so it builds against
 * this tree or an older one (main before stop 26 had the two-pass LPN,
 * fe_lpn_add / fe_lpn_flush; its ferret.h defines FE_WINDOW):
 *
 *   B=build/ci; gcc -O2 -Iinclude -Isrc scripts/ferret_refill_bench.c \
 *     $(find $B/src/ot $B/src/net $B/src/common -path '*_objs.dir*' -name '*.o') \
 *     -lsodium -lssl -lcrypto -lpthread -lm -o /tmp/refill_bench
 *   flock /work/notes/bench.lock /tmp/refill_bench 4
 *
 * (for the old tree, -I and B from that tree). Prints one party's phases
 * alone (a sender's trees: hashes, expansion, leaf sums; the expansion
 * alone; the LPN as the refill runs it), then both parties refilling at
 * once over the in-process channel: the first large refill (fresh buffers)
 * and the mean of `reps` more, wall and thread CPU seconds per party. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptogen/ot.h"
#include "ot/ferret.h"

static double now(void) { return (double)cg_now_ns() * 1e-9; }
static double cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    cg_channel *ch;
    cg_ot *ot;
    cg_ot_role role;
    int reps;
    double first, wall, cpu;
    cg_status st;
    cg_error err;
} party;

/* Draws the whole stock (counted as used, so the instance moves to the
 * large set as a session's would). */
static void drain(party *p)
{
    uint8_t *rows = cg_alloc(16 * CHUNK), *b = cg_alloc(CHUNK);
    while (p->ot->fe->len) {
        size_t k = p->ot->fe->len < CHUNK ? p->ot->fe->len : CHUNK;
        ot_ferret_take(p->ot, k, rows, p->role == CG_OT_RECEIVER ? b : NULL, &p->err);
        p->ot->stats.cots_used += k;
    }
    cg_free(rows);
    cg_free(b);
}

static void *party_main(void *a)
{
    party *p = a;
    if ((p->st = cg_ot_new_kind(&p->ot, p->ch, p->role, CG_OTN_KK13, CG_OT_FERRET, &p->err))) return NULL;
    struct ot_ferret *fe = p->ot->fe;
    while (fe->set != &fe_large) { /* small refills */
        if ((p->st = ot_ferret_ensure(p->ot, fe->len + 1, &p->err))) return NULL;
        drain(p);
    }
    for (int r = 0; r <= p->reps; r++) {
        double t0 = now(), c0 = cpu();
        if ((p->st = ot_ferret_ensure(p->ot, fe->len + 1, &p->err))) return NULL;
        double dt = now() - t0, dc = cpu() - c0;
        if (r == 0) {
            p->first = dt;
        } else {
            p->wall += dt / p->reps;
            p->cpu += dc / p->reps;
        }
        drain(p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 4;
    if (cg_init(NULL) != CG_OK) return 1;
    const fe_params *p = &fe_large;
    cg_ot ot;
    memset(&ot, 0, sizeof ot);
    bool vaes = ot_vaes_available();
    ot.tccr = vaes ? ot_tccr_vaes : ot_tccr_aesni;
    ot.ctr = vaes ? ot_aes_ctr_vaes : ot_aes_ctr_aesni;
    uint8_t key[16] = {1};
    ot_aes_expand_aesni(&ot.pi, key);
    cg_random_bytes(ot.delta, 16);
    ot.delta[0] |= 1;
    size_t N = (size_t)1 << p->h, per = 32 * (size_t)p->h + 16;
    uint8_t *base = cg_alloc(16 * fe_base_size(p)), *out = cg_alloc(16 * p->n), *msg = cg_alloc(per * p->t);
    cg_random_bytes(base, 16 * fe_base_size(p));
    memset(out, 0, 16 * p->n); /* pages touched before timing */
    fe_ggm g;
    fe_ggm_init(&g);
    cg_prg prg;
    cg_prg_init_random(&prg);
    double t0 = now();
    for (size_t b = 0; b < p->t; b++)
        fe_ggm_send(&ot, &g, p, base + 16 * p->k, 0, b, 1, &prg, out + 16 * N * b, msg + per * b);
    double t1 = now();
    for (size_t b = 0; b < p->t; b++) fe_ggm_expand(&g, p->h, out + 16 * N * b, msg);
    double t2 = now();
#ifdef FE_WINDOW /* the two-pass LPN of before, as its trees_and_lpn ran it */
    fe_lpn_work l;
    if (fe_lpn_init(&l, p, base, p->k / 2, NULL) != CG_OK) return 1;
    size_t wt = FE_WINDOW / N;
    for (size_t w0 = 0; w0 < p->t; w0 += wt) {
        size_t wn = p->t - w0 < wt ? p->t - w0 : wt;
        for (size_t b = w0; b < w0 + wn; b++) fe_lpn_add(&l, out + 16 * N * b, N * b, N);
        fe_lpn_flush(&l, out + 16 * N * w0);
    }
    fe_lpn_free(&l);
    const char *lpn = "two-pass";
#else
    fe_lpn_code c;
    fe_lpn_code_init(&c, &ot);
    for (size_t b = 0; b < p->t; b++) fe_lpn_rows(&c, p->k, base, out + 16 * N * b, N * b, N);
    const char *lpn = "one-pass";
#endif
    double t3 = now();
    printf("one party alone: trees %.3f s (expansion alone %.3f s), LPN (%s) %.3f s\n", t1 - t0,
           t2 - t1, lpn, t3 - t2);
    cg_free(base);
    cg_free(out);
    cg_free(msg);
    cg_channel *a, *b;
    if (cg_chan_pair_new(&a, &b, NULL, NULL) != CG_OK) return 1;
    party s = {.ch = a, .role = CG_OT_SENDER, .reps = reps}, r = {.ch = b, .role = CG_OT_RECEIVER, .reps = reps};
    pthread_t t;
    pthread_create(&t, NULL, party_main, &r);
    party_main(&s);
    pthread_join(t, NULL);
    if (s.st || r.st) {
        printf("failed: %s / %s\n", s.err.msg, r.err.msg);
        return 1;
    }
    printf("both parties: first large refill %.3f / %.3f s; then %.3f / %.3f s wall, %.3f / %.3f s CPU "
           "(sender / receiver, mean of %d) = %.1f M fresh COTs/s\n",
           s.first, r.first, s.wall, r.wall, s.cpu, r.cpu, reps,
           (double)(p->n - fe_base_size(p)) / 1e6 / (s.wall > r.wall ? s.wall : r.wall));
    cg_ot_free(s.ot);
    cg_ot_free(r.ot);
    cg_chan_free(a);
    cg_chan_free(b);
    return 0;
}
