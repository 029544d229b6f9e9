/* One decode linear layer's HE work under the packed plan and the dense
 * plan (PERFORMANCE.md, "Fuller replies"), at the paper set, t = 2^37,
 * 2 threads: the server's expansion of one packed ciphertext into cin
 * leaves, the cout fused products over the leaves, masking + flooding +
 * extraction of each reply (its bytes), and the client's reading and
 * decryption. Old and new alternate, best of REPS each. The products reuse
 * cin plaintexts for every row block (from cache; the real weights stream
 * cin x cout blocks in both plans). A measurement aid, not part of the
 * build (statuses checked loosely). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptogen/bfv.h"
#include "cryptogen/common.h"

#define REPS 5
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct plan {
    const char *name;
    size_t ni, no, S, cin, cout;
} plan;

typedef struct job {
    const cg_bfv_ctx *c;
    const cg_bfv_pk *pk;
    const cg_bfv_ct *leaves;
    const cg_bfv_plain_ntt *pts;
    const plan *p;
    cg_bfv_ct *outs;
    cg_buf *bufs;
    int ok;
} job;

static void products(void *ctx, size_t b, size_t e)
{
    job *j = ctx;
    const cg_bfv_ct **in = calloc(j->p->cin, sizeof *in);
    const cg_bfv_plain_ntt **w = calloc(j->p->cin, sizeof *w);
    cg_error err = {0};
    for (size_t a = 0; a < j->p->cin; a++) in[a] = &j->leaves[a], w[a] = &j->pts[a];
    for (size_t c = b; c < e; c++)
        if (cg_bfv_mac_plain(j->c, in, w, j->p->cin, &j->outs[c], &err) != CG_OK) j->ok = 0;
    free(in);
    free(w);
}

static void floods(void *ctx, size_t b, size_t e)
{
    job *j = ctx;
    cg_error err = {0};
    cg_bfv_plain mask = {0};
    uint32_t *pos = calloc(j->p->no, sizeof *pos);
    for (size_t k = 0; k < j->p->no; k++) pos[k] = (uint32_t)k;
    for (size_t c = b; c < e; c++) {
        if (cg_bfv_mask_and_flood(j->c, j->pk, &j->outs[c], 51, &mask, &err) != CG_OK) j->ok = 0;
        const unsigned d = cg_bfv_extract_drop_bits(j->c, &j->outs[c], 2 * 51 - 40);
        cg_buf_reset(&j->bufs[c]);
        if (cg_bfv_ct_serialize_extract(j->c, &j->outs[c], pos, j->p->no, d, &j->bufs[c], &err) != CG_OK) j->ok = 0;
    }
    cg_bfv_plain_free(&mask);
    free(pos);
}

typedef struct cjob {
    const cg_bfv_ctx *c;
    const cg_bfv_sk *sk;
    cg_buf *bufs;
    int ok;
} cjob;

static void decrypts(void *ctx, size_t b, size_t e)
{
    cjob *j = ctx;
    cg_error err = {0};
    cg_bfv_ct ct = {0};
    cg_bfv_plain pt = {0};
    for (size_t c = b; c < e; c++) {
        if (cg_bfv_ct_deserialize_any(j->c, j->bufs[c].data, j->bufs[c].len, &ct, &err) != CG_OK ||
            cg_bfv_decrypt(j->c, j->sk, &ct, &pt, &err) != CG_OK)
            j->ok = 0;
    }
    cg_bfv_ct_free(&ct);
    cg_bfv_plain_free(&pt);
}

int main(void)
{
    cg_error err = {0};
    cg_init(&err);
    cg_bfv_spec spec;
    cg_bfv_preset("paper", &spec, &err);
    spec.t = 1ull << 37;
    cg_bfv_ctx *c = NULL;
    cg_bfv_ctx_new(&c, &spec, &err);
    cg_bfv_set_threads(c, 2);
    cg_bfv_sk sk = {0};
    cg_bfv_pk pk = {0};
    cg_bfv_keygen(c, &sk, &pk, &err);
    uint32_t elts[16];
    const size_t ne = cg_bfv_expand_elts(c, 7, elts);
    cg_bfv_galois_keys gk = {0};
    cg_bfv_keygen_galois_elts(c, &sk, elts, ne, &gk, &err);
    const size_t n = 8192;
    /* GPT-2 base: QKV 768 -> 2304, LM head 768 -> 50257 (packed, dense) */
    const plan plans[] = {{"qkv packed", 64, 128, 128, 12, 18}, {"qkv dense", 32, 256, 256, 24, 9},
                          {"head packed", 16, 512, 512, 48, 99}, {"head dense", 8, 1024, 1024, 96, 50}};
    const size_t np = sizeof plans / sizeof plans[0];
    double best[4][4];
    size_t bytes[4] = {0};
    for (size_t i = 0; i < np; i++)
        for (int k = 0; k < 4; k++) best[i][k] = 1e9;
    int64_t *co = calloc(n, sizeof *co);
    cg_bfv_plain pt = {0};
    cg_bfv_plain_alloc(c, &pt, &err);
    cg_prg prg;
    cg_prg_init_random(&prg);
    int ok = 1;
    for (int r = 0; r < REPS; r++)
        for (size_t i = 0; i < np; i += 2)
            for (size_t v = i; v < i + 2; v++) { /* packed, then dense, alternating */
                const plan *p = &plans[v];
                /* the client's input and the blocks (weights ~2^11) */
                memset(pt.coeffs, 0, n * sizeof *pt.coeffs);
                for (size_t a = 0; a < p->cin; a++)
                    for (size_t k = 0; k < p->ni; k++) pt.coeffs[a + p->S * k] = cg_prg_uniform(&prg, 1ull << 37);
                cg_bfv_ct packed = {0};
                cg_bfv_encrypt_sk_packed(c, &sk, &pt, cg_bfv_expand_levels(p->cin), &packed, &err);
                cg_bfv_plain_ntt *pts = calloc(p->cin, sizeof *pts);
                for (size_t a = 0; a < p->cin; a++) {
                    for (size_t k = 0; k < n; k++) co[k] = (int64_t)cg_prg_uniform(&prg, 4001) - 2000;
                    cg_bfv_encode_coeff_ntt(c, co, n, cg_bfv_nq(c), &pts[a], &err);
                }
                cg_bfv_ct *leaves = calloc(p->cin, sizeof *leaves), *outs = calloc(p->cout, sizeof *outs);
                cg_buf *bufs = calloc(p->cout, sizeof *bufs);
                double t0 = now();
                if (cg_bfv_expand(c, &gk, &packed, p->cin, leaves, &err) != CG_OK) ok = 0;
                for (size_t a = 0; a < p->cin; a++) cg_bfv_to_ntt(c, &leaves[a], &err);
                double t1 = now();
                job j = {c, &pk, leaves, pts, p, outs, bufs, 1};
                cg_parallel_for(2, p->cout, products, &j);
                double t2 = now();
                cg_parallel_for(2, p->cout, floods, &j);
                double t3 = now();
                cjob cj = {c, &sk, bufs, 1};
                cg_parallel_for(2, p->cout, decrypts, &cj);
                double t4 = now();
                ok &= j.ok & cj.ok;
                const double d[4] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3};
                for (int k = 0; k < 4; k++)
                    if (d[k] < best[v][k]) best[v][k] = d[k];
                bytes[v] = 0;
                for (size_t o = 0; o < p->cout; o++) bytes[v] += bufs[o].len, cg_buf_free(&bufs[o]);
                for (size_t a = 0; a < p->cin; a++) cg_bfv_ct_free(&leaves[a]), cg_bfv_plain_ntt_free(&pts[a]);
                for (size_t o = 0; o < p->cout; o++) cg_bfv_ct_free(&outs[o]);
                free(leaves), free(outs), free(bufs), free(pts);
                cg_bfv_ct_free(&packed);
            }
    printf("{\"bench\": \"dense_plan_time\", \"threads\": 2, \"reps\": %d, \"ok\": %s, \"plans\": [\n", REPS,
           ok ? "true" : "false");
    for (size_t v = 0; v < np; v++) {
        const plan *p = &plans[v];
        const double cpu = best[v][0] + best[v][1] + best[v][2] + best[v][3];
        printf("  {\"plan\": \"%s\", \"ni\": %zu, \"no\": %zu, \"cin\": %zu, \"cout\": %zu, \"expand_s\": %.4f, "
               "\"products_s\": %.4f, \"flood_extract_s\": %.4f, \"client_decrypt_s\": %.4f, \"cpu_s\": %.4f, "
               "\"reply_bytes\": %zu, \"at_100mbps_s\": %.4f}%s\n",
               p->name, p->ni, p->no, p->cin, p->cout, best[v][0], best[v][1], best[v][2], best[v][3], cpu,
               bytes[v], cpu + (double)bytes[v] * 8 / 100e6, v + 1 < np ? "," : "");
    }
    printf("]}\n");
    return ok ? 0 : 1;
}
