/* `cryptogen bench he [--json] [--sets a,b] [--threads N]`: median timings of
 * the BFV operations for the three reference parameter sets. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/alloc_count.h"
#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/opts.h"
#include "cryptogen/bfv.h"

#define MAX_REPS 201

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_state {
    cg_bfv_ctx *ctx;
    cg_bfv_sk sk;
    cg_bfv_pk pk;
    cg_bfv_ksk rk;
    cg_bfv_galois_keys gk;
    cg_bfv_plain pt, pt2;
    cg_bfv_plain_ntt ptn;
    cg_bfv_ct ct, ct2, ctn, out;
    int64_t *vals;
    uint64_t *poly;
    /* COLD_SETS x COLD_K distinct inputs (past the last-level cache on the
     * larger sets); each repetition takes the next set */
    cg_bfv_ct *cold_cts;
    cg_bfv_plain_ntt *cold_pts;
    size_t cold_turn;
    cg_error err;
} bench_state;

typedef void (*op_fn)(bench_state *s);

/* Median of repetitions, at most ~0.4 s or MAX_REPS per operation; *allocs:
 * allocator calls per timed repetition (after the warm-up call). */
static double median_us(bench_state *s, op_fn fn, double *allocs)
{
    uint64_t t[MAX_REPS];
    size_t reps = 0;
    uint64_t start = cg_now_ns();
    fn(s); /* warm-up */
    const uint64_t a0 = cli_alloc_count();
    while (reps < MAX_REPS && (reps < 5 || cg_now_ns() - start < 400000000ull)) {
        uint64_t a = cg_now_ns();
        fn(s);
        t[reps++] = cg_now_ns() - a;
    }
    *allocs = (double)(cli_alloc_count() - a0) / (double)reps;
    qsort(t, reps, sizeof t[0], cmp_u64);
    return (double)t[reps / 2] / 1000.0;
}

static void op_ntt_fwd(bench_state *s) { cg_ntt_forward(cg_bfv_q_ntt(s->ctx, 0), s->poly); }
static void op_ntt_inv(bench_state *s) { cg_ntt_inverse(cg_bfv_q_ntt(s->ctx, 0), s->poly); }
static void op_enc_pk(bench_state *s) { cg_bfv_encrypt_pk(s->ctx, &s->pk, &s->pt, &s->out, &s->err); }
static void op_enc_sk(bench_state *s) { cg_bfv_encrypt_sk(s->ctx, &s->sk, &s->pt, &s->out, &s->err); }
static void op_dec(bench_state *s) { cg_bfv_decrypt(s->ctx, &s->sk, &s->ct, &s->pt2, &s->err); }
static void op_encode(bench_state *s)
{
    cg_bfv_encode_batch(s->ctx, s->vals, cg_bfv_n(s->ctx), &s->pt2, &s->err);
}
static void op_decode(bench_state *s) { cg_bfv_decode_batch(s->ctx, &s->pt, s->vals, &s->err); }
static void op_add(bench_state *s) { cg_bfv_add(s->ctx, &s->ct, &s->ct2, &s->out, &s->err); }
static void op_mul_plain(bench_state *s) { cg_bfv_mul_plain(s->ctx, &s->ctn, &s->ptn, &s->out, &s->err); }
static void op_plain_to_ntt(bench_state *s)
{
    cg_bfv_plain_to_ntt(s->ctx, &s->pt, cg_bfv_nq(s->ctx), &s->ptn, &s->err);
}
static void op_mul(bench_state *s) { cg_bfv_multiply(s->ctx, &s->ct, &s->ct2, &s->out, &s->err); }
static void op_mul_relin(bench_state *s)
{
    cg_bfv_multiply(s->ctx, &s->ct, &s->ct2, &s->out, &s->err);
    cg_bfv_relinearize(s->ctx, &s->rk, &s->out, &s->err);
}
static void op_rotate(bench_state *s) { cg_bfv_rotate_rows(s->ctx, &s->gk, &s->ct, 1, &s->out, &s->err); }
static void op_mod_switch(bench_state *s)
{
    cg_bfv_ct_copy(s->ctx, &s->out, &s->ct, &s->err);
    cg_bfv_mod_switch_down(s->ctx, &s->out, &s->err);
}
static void op_copy(bench_state *s) { cg_bfv_ct_copy(s->ctx, &s->out, &s->ct, &s->err); }
static void op_add_inplace(bench_state *s) { cg_bfv_add_inplace(s->ctx, &s->out, &s->ct2, &s->err); }
static void op_mac16(bench_state *s)
{
    const cg_bfv_ct *cts[16];
    const cg_bfv_plain_ntt *pts[16];
    for (int i = 0; i < 16; i++) {
        cts[i] = &s->ctn;
        pts[i] = &s->ptn;
    }
    cg_bfv_mac_plain(s->ctx, cts, pts, 16, &s->out, &s->err);
}
#define COLD_K 48
#define COLD_SETS 2
/* A fused product as in a linear layer: 48 inputs per output, every input
 * read from memory (not the cache) */
static void op_mac48_cold(bench_state *s)
{
    const cg_bfv_ct *cts[COLD_K];
    const cg_bfv_plain_ntt *pts[COLD_K];
    const size_t base = (s->cold_turn++ % COLD_SETS) * COLD_K;
    for (int i = 0; i < COLD_K; i++) {
        cts[i] = &s->cold_cts[base + i];
        pts[i] = &s->cold_pts[base + i];
    }
    cg_bfv_mac_plain(s->ctx, cts, pts, COLD_K, &s->out, &s->err);
}

static bool cold_setup(bench_state *s)
{
    s->cold_cts = calloc(COLD_SETS * COLD_K, sizeof *s->cold_cts);
    s->cold_pts = calloc(COLD_SETS * COLD_K, sizeof *s->cold_pts);
    if (!s->cold_cts || !s->cold_pts) return false;
    for (size_t i = 0; i < COLD_SETS * COLD_K; i++)
        if (cg_bfv_ct_copy(s->ctx, &s->cold_cts[i], &s->ctn, &s->err) ||
            cg_bfv_plain_to_ntt(s->ctx, &s->pt, cg_bfv_nq(s->ctx), &s->cold_pts[i], &s->err))
            return false;
    return true;
}

static void cold_free(bench_state *s)
{
    for (size_t i = 0; s->cold_cts && i < COLD_SETS * COLD_K; i++) cg_bfv_ct_free(&s->cold_cts[i]);
    for (size_t i = 0; s->cold_pts && i < COLD_SETS * COLD_K; i++) cg_bfv_plain_ntt_free(&s->cold_pts[i]);
    free(s->cold_cts);
    free(s->cold_pts);
}

static void op_mask_flood(bench_state *s)
{
    cg_bfv_ct_copy(s->ctx, &s->out, &s->ct, &s->err);
    cg_bfv_mask_and_flood(s->ctx, &s->pk, &s->out, 40, &s->pt2, &s->err);
}

/* A product's reply as in a session: NTT form, 56 statistical bits. */
static void op_mask_flood_ntt(bench_state *s)
{
    cg_bfv_ct_copy(s->ctx, &s->out, &s->ctn, &s->err);
    cg_bfv_mask_and_flood(s->ctx, &s->pk, &s->out, 56, &s->pt2, &s->err);
}

static int run_set(const char *name, int threads, bool json, bool first)
{
    bench_state s = {0};
    cg_bfv_spec spec;
    if (cg_bfv_preset(name, &spec, &s.err) != CG_OK || cg_bfv_ctx_new(&s.ctx, &spec, &s.err) != CG_OK) {
        fprintf(stderr, "bench he: %s: %s\n", name, s.err.msg);
        return 1;
    }
    cg_bfv_set_threads(s.ctx, threads);
    const size_t n = cg_bfv_n(s.ctx);
    int step = 1;
    cg_prg prg;
    cg_prg_init_random(&prg);
    s.vals = malloc(n * sizeof *s.vals);
    s.poly = cg_alloc(n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) {
        s.vals[i] = (int64_t)cg_prg_uniform(&prg, cg_bfv_t(s.ctx));
        s.poly[i] = cg_prg_uniform(&prg, cg_bfv_q_ntt(s.ctx, 0)->mod.value);
    }
    if (cg_bfv_keygen(s.ctx, &s.sk, &s.pk, &s.err) || cg_bfv_keygen_relin(s.ctx, &s.sk, &s.rk, &s.err) ||
        cg_bfv_keygen_galois(s.ctx, &s.sk, &step, 1, false, &s.gk, &s.err) ||
        cg_bfv_encode_batch(s.ctx, s.vals, n, &s.pt, &s.err) ||
        cg_bfv_encrypt_pk(s.ctx, &s.pk, &s.pt, &s.ct, &s.err) ||
        cg_bfv_encrypt_pk(s.ctx, &s.pk, &s.pt, &s.ct2, &s.err) ||
        cg_bfv_ct_copy(s.ctx, &s.ctn, &s.ct, &s.err) ||
        cg_bfv_plain_to_ntt(s.ctx, &s.pt, cg_bfv_nq(s.ctx), &s.ptn, &s.err) ||
        cg_bfv_to_ntt(s.ctx, &s.ctn, &s.err) || !cold_setup(&s)) {
        fprintf(stderr, "bench he: set-up failed: %s\n", s.err.msg);
        return 1;
    }
    struct {
        const char *name;
        op_fn fn;
    } ops[] = {
        {"ntt_forward_one_prime", op_ntt_fwd}, {"ntt_inverse_one_prime", op_ntt_inv},
        {"encrypt_pk", op_enc_pk},             {"encrypt_sk", op_enc_sk},
        {"decrypt", op_dec},                   {"batch_encode", op_encode},
        {"batch_decode", op_decode},           {"add", op_add},
        {"plain_to_ntt", op_plain_to_ntt},     {"mul_plain_ntt", op_mul_plain},
        {"multiply", op_mul},                  {"multiply_relinearize", op_mul_relin},
        {"rotate_rows_1", op_rotate},          {"mod_switch_down_incl_copy", op_mod_switch},
        {"copy", op_copy},                     {"add_inplace", op_add_inplace},
        {"mac_plain_16", op_mac16},            {"mask_and_flood_40_incl_copy", op_mask_flood},
        {"mask_and_flood_56_ntt_incl_copy", op_mask_flood_ntt},
        {"mac_plain_48_cold", op_mac48_cold},
    };
    const size_t nops = sizeof ops / sizeof ops[0];
    double us[32], al[32];
    for (size_t i = 0; i < nops; i++) us[i] = median_us(&s, ops[i].fn, &al[i]);
    /* serialized sizes */
    cg_buf b;
    cg_buf_init(&b);
    size_t sz_pk_ct, sz_sk_ct, sz_pk, sz_rk, sz_gk, sz_ct1;
    cg_bfv_ct_serialize(s.ctx, &s.ct, &b, &s.err);
    sz_pk_ct = b.len;
    cg_buf_reset(&b);
    cg_bfv_encrypt_sk(s.ctx, &s.sk, &s.pt, &s.out, &s.err);
    cg_bfv_ct_serialize(s.ctx, &s.out, &b, &s.err);
    sz_sk_ct = b.len;
    cg_buf_reset(&b);
    cg_bfv_pk_serialize(s.ctx, &s.pk, &b, &s.err);
    sz_pk = b.len;
    cg_buf_reset(&b);
    cg_bfv_ksk_serialize(s.ctx, &s.rk, &b, &s.err);
    sz_rk = b.len;
    cg_buf_reset(&b);
    cg_bfv_galois_serialize(s.ctx, &s.gk, &b, &s.err);
    sz_gk = b.len;
    cg_buf_reset(&b);
    cg_bfv_ct_copy(s.ctx, &s.out, &s.ct, &s.err);
    cg_bfv_mod_switch_to(s.ctx, &s.out, 1, &s.err);
    cg_bfv_ct_serialize(s.ctx, &s.out, &b, &s.err);
    sz_ct1 = b.len;
    cg_buf_free(&b);
    const cg_ntt_table *nt = cg_bfv_q_ntt(s.ctx, 0);
    /* per multiply-add: terms x 2 polynomials x primes x n */
    const double madds = 2.0 * (double)cg_bfv_nq(s.ctx) * (double)n;
    double ns16 = 0, ns48 = 0;
    for (size_t i = 0; i < nops; i++) {
        if (ops[i].fn == op_mac16) ns16 = us[i] * 1000.0 / (16 * madds);
        if (ops[i].fn == op_mac48_cold) ns48 = us[i] * 1000.0 / (COLD_K * madds);
    }
    if (json) {
        printf("%s    {\"set\": \"%s\", \"n\": %zu, \"log2_qp\": %.1f, \"t\": %llu, \"q_primes\": %zu, "
               "\"ntt_backend\": \"%s\", \"ntt_prime_bits\": %u, \"threads\": %d,\n      \"us\": {",
               first ? "" : ",\n", name, n, cg_bfv_log2_qp(s.ctx), (unsigned long long)cg_bfv_t(s.ctx),
               cg_bfv_nq(s.ctx), cg_ntt_backend_name(nt->backend), nt->mod.bits, threads);
        for (size_t i = 0; i < nops; i++) printf("%s\"%s\": %.1f", i ? ", " : "", ops[i].name, us[i]);
        printf("},\n      \"allocs_per_op\": {");
        for (size_t i = 0; i < nops; i++) printf("%s\"%s\": %.2f", i ? ", " : "", ops[i].name, al[i]);
        printf("},\n      \"ns_per_multiply_add\": {\"mac_plain_16\": %.3f, \"mac_plain_48_cold\": %.3f}", ns16,
               ns48);
        printf(",\n      \"bytes\": {\"ct_pk\": %zu, \"ct_sk_seeded\": %zu, \"ct_one_prime\": %zu, "
               "\"public_key\": %zu, \"relin_key\": %zu, \"galois_key_one\": %zu}}",
               sz_pk_ct, sz_sk_ct, sz_ct1, sz_pk, sz_rk, sz_gk);
    } else {
        printf("%s: n=%zu log2(QP)=%.1f t=%llu ntt=%s\n", name, n, cg_bfv_log2_qp(s.ctx),
               (unsigned long long)cg_bfv_t(s.ctx), cg_ntt_backend_name(nt->backend));
        for (size_t i = 0; i < nops; i++)
            printf("  %-31s %10.1f us %8.2f allocs\n", ops[i].name, us[i], al[i]);
        printf("  ns per multiply-add: mac_plain_16 %.3f, mac_plain_48_cold %.3f\n", ns16, ns48);
        printf("  bytes: ct %zu, seeded ct %zu, one-prime ct %zu, pk %zu, relin %zu, galois(1) %zu\n",
               sz_pk_ct, sz_sk_ct, sz_ct1, sz_pk, sz_rk, sz_gk);
    }
    cold_free(&s);
    free(s.vals);
    cg_free(s.poly);
    cg_bfv_ct_free(&s.ct);
    cg_bfv_ct_free(&s.ct2);
    cg_bfv_ct_free(&s.ctn);
    cg_bfv_ct_free(&s.out);
    cg_bfv_plain_free(&s.pt);
    cg_bfv_plain_free(&s.pt2);
    cg_bfv_plain_ntt_free(&s.ptn);
    cg_bfv_ksk_free(&s.rk);
    cg_bfv_galois_free(&s.gk);
    cg_bfv_sk_free(&s.sk);
    cg_bfv_pk_free(&s.pk);
    cg_bfv_ctx_free(s.ctx);
    return 0;
}

#define SETS_MAX 128 /* --sets is split in a buffer of this size */

/* --sets: names of BFV presets, comma-separated. */
static bool check_sets(const char *value, char *why, size_t why_size)
{
    if (strlen(value) >= SETS_MAX) {
        snprintf(why, why_size, "is longer than %d characters", SETS_MAX - 1);
        return false;
    }
    for (const char *p = value;;) {
        size_t len = strcspn(p, ",");
        char name[SETS_MAX];
        snprintf(name, sizeof name, "%.*s", (int)len, p);
        cg_bfv_spec spec;
        cg_error err = {0};
        if (cg_bfv_preset(name, &spec, &err) != CG_OK) {
            snprintf(why, why_size, "names an unknown parameter set '%s'", name);
            return false;
        }
        if (p[len] == '\0') return true;
        p += len + 1;
    }
}

int cg_bench_he(int argc, char **argv)
{
    bool json = false;
    int threads = 1;
    const char *set_list = "n4096,paper,n16384";
    const cli_opt opts[] = {
        CLI_OPT_FLAG("json", 0, json, "print JSON instead of a table"),
        CLI_OPT_INT("threads", 0, threads, "N", 1, INT_MAX, "threads of the BFV operations"),
        CLI_OPT_CHECKED("sets", 0, set_list, "A,B", check_sets, "parameter sets to measure, comma-separated"),
        {0},
    };
    const cli_command cmd = {.name = "bench he", .opts = opts,
                             .about = "Median timings of the BFV operations and serialized sizes, for each\n"
                                      "parameter set."};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    char sets[SETS_MAX];
    snprintf(sets, sizeof sets, "%s", set_list);
    if (json)
    {
        printf("{\"bench\": \"he\", \"version\": \"%s\", ", CG_VERSION_STRING);
        cli_print_machine_json(stdout);
        printf(", \"threads\": %d, \"simd\": \"%s\", \"poly_kernel\": \"%s\", \"sets\": [\n", threads,
               (cg_cpu_features() & CG_CPU_AVX512IFMA) ? "avx512ifma" : "portable",
               cg_poly_ifma_available() ? "avx512ifma" : cg_poly_avx2_available() ? "avx2" : "portable");
    }
    bool first = true;
    for (char *tok = strtok(sets, ","); tok; tok = strtok(NULL, ",")) {
        if (run_set(tok, threads, json, first)) return 1;
        first = false;
        fflush(stdout);
    }
    if (json) printf("\n]}\n");
    return 0;
}
