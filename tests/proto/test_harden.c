/* Security hardening (issue 15): the server decides the parameter set, the
 * sampling noise never reaches the client, the flooding is sized for the
 * whole session from public facts only, and the session's limits. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/proto.h"
#include "proto/fixed_fixture.h"
#include "proto/he_fixture.h"
#include "proto/noise_fixture.h"
#include "proto/proto_internal.h"
#include "proto/session_fixture.h"

static cg_gpt2 *tiny_model(void)
{
    cg_gpt2_config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 32, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 7, &err), CG_OK);
    return m;
}

/* ---- Finding 2: the server decides the parameter set ------------------------------ */

static void test_allow_list(void **state)
{
    (void)state;
    cg_error err = {0};
    assert_int_equal(cg_gen_preset_allowed(NULL, false, "paper", &err), CG_OK);
    assert_int_equal(cg_gen_preset_allowed(NULL, false, "n4096", &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "allowed: paper"));
    assert_int_equal(cg_gen_preset_allowed("paper,n16384", false, "n16384", &err), CG_OK);
    assert_int_equal(cg_gen_preset_allowed("paper,n16384", false, "n1638", &err), CG_ERR_PARAM);
    assert_int_equal(cg_gen_preset_allowed("paper,n16384", false, "", &err), CG_ERR_PARAM);
    /* listed but insecure: refused unless the test-only switch is on */
    assert_int_equal(cg_gen_preset_allowed("paper,test2048", false, "test2048", &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "insecure"));
    assert_int_equal(cg_gen_preset_allowed("paper,test2048", true, "test2048", &err), CG_OK);
    /* a listed name that is no set at all */
    assert_int_equal(cg_gen_preset_allowed("paper,nope", false, "nope", &err), CG_ERR_PARAM);
}

/* A client asking for test2048 is refused in the handshake, with a message
 * naming the allowed sets, before it sends any key. */
static void test_insecure_preset_refused(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t prompt[2] = {1, 2};
    uint32_t out[1];
    cg_gen_request req = {.he_preset = "test2048", .use_cache = true, .prompt_len = 2, .new_tokens = 1};
    const cg_gen_options co = {.threads = 1};
    cg_gen_options so = {.threads = 1};
    outcome r = run_session(fm, &so, &req, &co, prompt, out);
    fprintf(stderr, "refusal: %s\n", r.cerr.msg);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_int_not_equal(r.server, CG_OK);
    assert_non_null(strstr(r.cerr.msg, "test2048"));
    assert_non_null(strstr(r.cerr.msg, "allowed: paper"));
    assert_true(r.client_sent < 200); /* the request only: no keys */
    /* listed by the operator, still refused as insecure */
    so.allow_presets = "paper,test2048";
    r = run_session(fm, &so, &req, &co, prompt, out);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_non_null(strstr(r.cerr.msg, "insecure"));
    /* a secure set the server does not list */
    memcpy(req.he_preset, "n4096", 6);
    so.allow_presets = NULL;
    r = run_session(fm, &so, &req, &co, prompt, out);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_non_null(strstr(r.cerr.msg, "not allowed"));
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* ---- Finding 1: only the token reaches the client --------------------------------- */

/* Sampling at T = 0.8, twice with the same prompt: the client's hook is
 * never called (it has no noise to give), the server's noise differs from
 * session to session, and with the test-only fixed seed the token is the
 * emulator's replay with the server's noise. */
static void test_client_never_sees_noise(void **state)
{
    (void)state;
    cg_gpt2 *m = tiny_model();
    cg_error err = {0};
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const size_t V = fm->cfg.vocab_size;
    const uint32_t prompt[2] = {11, 12};
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2,
                          .new_tokens = 1, .temperature_milli = 800};
    noise_log client = {.V = V, .noise = calloc(4 * V, sizeof(int64_t))};
    noise_log server = {.V = V, .noise = calloc(4 * V, sizeof(int64_t))};
    assert_non_null(client.noise);
    assert_non_null(server.noise);
    const cg_gen_options co = {.threads = 1, .on_noise = keep_noise, .on_noise_ctx = &client};
    cg_gen_options so = {.threads = 1, .on_noise = keep_noise, .on_noise_ctx = &server};
    uint32_t tok[3];
    for (int i = 0; i < 2; i++) {
        outcome r = run_session(fm, &so, &req, &co, prompt, &tok[i]);
        assert_int_equal(r.client, CG_OK);
        assert_int_equal(r.server, CG_OK);
    }
    assert_int_equal(client.calls, 0);
    assert_int_equal(server.calls, 2);
    assert_memory_not_equal(server.noise, server.noise + V, V * sizeof(int64_t));
    /* the fixed seed (tests only): the choice replays in the clear */
    static const uint8_t seed[32] = {42};
    so.test_noise_seed = seed;
    outcome r = run_session(fm, &so, &req, &co, prompt, &tok[2]);
    assert_int_equal(r.client, CG_OK);
    assert_int_equal(server.calls, 3);
    cg_fixed_state st;
    assert_int_equal(cg_fixed_state_new(fm, 3, &st, &err), CG_OK);
    int64_t *lg = malloc(V * sizeof *lg), *z = malloc(V * sizeof *z);
    assert_int_equal(cg_fixed_forward(fm, &st, prompt, 2, lg, false, 1, &err), CG_OK);
    assert_int_equal(tok[2], cg_fixed_sample(fm, lg, V, 800, server.noise + 2 * V, z));
    cg_fixed_state_free(&st);
    free(lg);
    free(z);
    free(client.noise);
    free(server.noise);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* ---- Findings 3, 5: flooding and memory sized for the whole session -------------- */

/* The public shapes of a session of GPT-2 base on the paper's ring, as both
 * parties derive them in the handshake (no keys needed). */
static gen_sess gpt2_base_session(size_t prompt, size_t new_tokens, size_t block)
{
    gen_sess s = {.party = CG_SERVER};
    s.cfg = (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                             .vocab_size = 50257, .ln_eps = 1e-5f};
    s.req = (cg_gen_request){.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)prompt,
                             .new_tokens = (uint32_t)new_tokens, .block_positions = (uint32_t)block};
    s.N = 8192, s.d = 768, s.H = 12, s.dh = 64, s.V = 50257;
    cg_error err = {0};
    assert_int_equal(kv_layout_init(&s.kv, s.N, s.dh, block, &err), CG_OK);
    return s;
}

static void test_flood_bits_grow_with_the_session(void **state)
{
    (void)state;
    gen_sess one = gpt2_base_session(1, 1, 0), full = gpt2_base_session(1, 1023, 0);
    const uint64_t n1 = gen_returned_cts(&one), nL = gen_returned_cts(&full);
    fprintf(stderr, "GPT-2 base: %llu ciphertexts for one token (flood %u bits), %llu for L = 1024 (flood %u bits)\n",
            (unsigned long long)n1, gen_flood_bits(&one), (unsigned long long)nL, gen_flood_bits(&full));
    assert_true(nL > 1000 * n1 / 2);
    /* 40 bits per session, not per coefficient: ceil(log2(m) / 2) more */
    const double m = (double)nL * 8192.0;
    assert_int_equal(gen_flood_bits(&full), 40 + (unsigned)ceil(0.5 * log2(m)));
    assert_true(gen_flood_bits(&full) >= 55 && gen_flood_bits(&full) <= 60);
    assert_true(gen_flood_bits(&one) < gen_flood_bits(&full));
}

/* The count is the plans' own: a forced prefill cut (2 rows per ciphertext
 * over 3 rows) returns more than 3 x the one-row plan's count for the
 * projection (24, not 18), and the decode plans of packed and dense
 * sessions are counted as they are (the LM head's 99, 50 and max's 25, not the block
 * layout's 74); the server refuses to return more than this count
 * (bridge.c), so every session test checks it end to end. */
static void test_flood_count_follows_the_plans(void **state)
{
    (void)state;
    gen_sess s = gpt2_base_session(3, 1, 0);
    s.req.prefill_rows = 2;
    const gen_matrix proj = gen_matrix_of(&s.cfg, NULL, GEN_MAT_ATTN_OUT, 0);
    const gen_matrix head = gen_matrix_of(&s.cfg, NULL, GEN_MAT_LM_HEAD, 0);
    assert_int_equal(gen_linear_returned(&s, &proj, 3), 24);
    assert_int_equal(3 * gen_plan_of(s.N, proj.in, proj.out).cout, 18);
    assert_int_equal(gen_linear_returned(&s, &head, 1), 74);
    s.pack = true;
    assert_int_equal(gen_linear_returned(&s, &head, 1), 99);
    s.dense = true;
    assert_int_equal(gen_linear_returned(&s, &head, 1), 50);
    s.dense = GEN_DENSE_MAX; /* n_i = 4: 2048 outputs per reply */
    assert_int_equal(gen_linear_returned(&s, &head, 1), 25);
    /* a whole session: the dense one returns fewer, the max one fewer still */
    gen_sess a = gpt2_base_session(1, 8, 0), b = gpt2_base_session(1, 8, 0), c = gpt2_base_session(1, 8, 0);
    a.pack = b.pack = c.pack = true;
    b.dense = GEN_DENSE_ON;
    c.dense = GEN_DENSE_MAX;
    assert_true(gen_returned_cts(&b) < gen_returned_cts(&a));
    assert_true(gen_returned_cts(&c) < gen_returned_cts(&b));
}

/* The packed-inputs byte a client asks for: dense max (3) only with dense
 * replies and packed inputs; the server reads nothing above 3 (session.c)
 * and the client nothing above what it asked. */
static void test_dense_max_request_byte(void **state)
{
    (void)state;
    cg_gen_request q = {.dense_replies = true, .dense_max = true};
    assert_int_equal(gen_asked_pack(&q), 0);
    q.pack_inputs = true;
    assert_int_equal(gen_asked_pack(&q), 3);
    q.dense_replies = false;
    assert_int_equal(gen_asked_pack(&q), 1);
    q.dense_replies = true, q.dense_max = false;
    assert_int_equal(gen_asked_pack(&q), 2);
}

/* A fresh encryption of small values at the first 64 coefficients. */
static void encrypt_small(const he_fixture *f, int64_t base, cg_bfv_ct *ct, cg_bfv_plain *pt)
{
    cg_error err = {0};
    const size_t n = cg_bfv_n(f->c);
    int64_t *v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < 64; i++) v[i] = base + (int64_t)i * 37;
    if (!pt->coeffs) assert_int_equal(cg_bfv_plain_alloc(f->c, pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encode_coeff(f->c, v, n, pt, &err), CG_OK);
    assert_int_equal(cg_bfv_encrypt_sk(f->c, &f->sk, pt, ct, &err), CG_OK);
    free(v);
}

/* Masks and floods ct with `bits`, checks that the shares add up to what ct
 * held, and gives the relative noise (log2 of noise / Q) before and after. */
static void flood_and_check(const he_fixture *f, cg_bfv_ct *ct, unsigned bits, double *rel_before,
                            double *rel_after)
{
    cg_error err = {0};
    const size_t n = cg_bfv_n(f->c);
    const uint64_t mask = (1ull << 37) - 1;
    cg_bfv_plain want = {0}, got = {0}, r = {0};
    assert_int_equal(cg_bfv_plain_alloc(f->c, &want, &err), CG_OK);
    assert_int_equal(cg_bfv_plain_alloc(f->c, &got, &err), CG_OK);
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &want, &err), CG_OK);
    double noise, budget;
    assert_int_equal(cg_bfv_noise_measure(f->c, &f->sk, ct, &noise, &budget, &err), CG_OK);
    *rel_before = noise - cg_bfv_log2_q(f->c, ct->level);
    /* the flood's floor: `bits` above the bound of what it hides (the
     * estimate and the encryption of zero's), relative to the top Q */
    const double z = cg_bfv_fresh_noise_estimate(f->c, true), e = ct->noise_log2;
    const double floor = (e > z ? e : z) + log2(1.0 + exp2(-fabs(e - z))) + bits -
                         cg_bfv_log2_q(f->c, cg_bfv_nq(f->c));
    const cg_status st = cg_bfv_mask_and_flood(f->c, &f->pk, ct, bits, &r, &err);
    if (st != CG_OK) fprintf(stderr, "flood: %s\n", err.msg);
    assert_int_equal(st, CG_OK);
    assert_int_equal(cg_bfv_noise_measure(f->c, &f->sk, ct, &noise, &budget, &err), CG_OK);
    *rel_after = noise - cg_bfv_log2_q(f->c, ct->level);
    if (*rel_after < floor - 1.0) fprintf(stderr, "flood: 2^%.1f below its floor 2^%.1f\n", *rel_after, floor);
    assert_true(*rel_after >= floor - 1.0);
    assert_true(budget > 0);
    assert_int_equal(cg_bfv_decrypt(f->c, &f->sk, ct, &got, &err), CG_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal((got.coeffs[i] + r.coeffs[i]) & mask, want.coeffs[i] & mask);
    cg_bfv_plain_free(&want);
    cg_bfv_plain_free(&got);
    cg_bfv_plain_free(&r);
}

/* The widest returned products of GPT-2 base at L = 1024 still decrypt after
 * the session's flooding, and leave at the same two primes as before (so
 * the server's replies keep their size): the attention output (a V block of
 * 128 appends times fresh probabilities, eight blocks summed) and the
 * embedding (the most input chunks, at the public weight bound). */
static void test_flood_fits_at_1024(void **state)
{
    (void)state;
    gen_sess full = gpt2_base_session(1, 1023, 0);
    const unsigned bits = gen_flood_bits(&full);
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    cg_bfv_ct a = {0}, b = {0}, prod = {0};
    cg_bfv_plain pt = {0};
    encrypt_small(&f, -900, &a, &pt);
    encrypt_small(&f, 300, &b, &pt);
    a.noise_log2 += log2(128.0); /* the estimate of 128 appended positions */
    assert_int_equal(cg_bfv_multiply(f.c, &a, &b, &prod, &err), CG_OK);
    assert_int_equal(cg_bfv_relinearize(f.c, &f.rk, &prod, &err), CG_OK);
    prod.noise_log2 += log2(8.0); /* eight blocks summed */
    double before, after;
    flood_and_check(&f, &prod, bits, &before, &after);
    fprintf(stderr, "attention output at L = 1024: %u flood bits, relative noise 2^%.1f -> 2^%.1f, %zu primes\n",
            bits, before, after, prod.level);
    assert_int_equal(prod.level, 2);
    /* the embedding: the most chunks of any matrix, every block at the bound */
    const gen_matrix em = gen_matrix_of(&full.cfg, NULL, GEN_MAT_EMBED, 0);
    const gen_plan p = gen_plan_of(full.N, em.in, em.out);
    cg_bfv_plain_ntt w = {0};
    assert_int_equal(cg_bfv_plain_to_ntt(f.c, &pt, cg_bfv_nq(f.c), &w, &err), CG_OK);
    w.norm_log2 = GEN_WEIGHT_BOUND_LOG2;
    assert_int_equal(cg_bfv_to_ntt(f.c, &b, &err), CG_OK);
    const cg_bfv_ct **cts = calloc(p.cin, sizeof *cts);
    const cg_bfv_plain_ntt **pts = calloc(p.cin, sizeof *pts);
    assert_non_null(cts);
    assert_non_null(pts);
    for (size_t i = 0; i < p.cin; i++) cts[i] = &b, pts[i] = &w;
    cg_bfv_ct lin = {0};
    assert_int_equal(cg_bfv_mac_plain(f.c, cts, pts, p.cin, &lin, &err), CG_OK);
    flood_and_check(&f, &lin, bits, &before, &after);
    fprintf(stderr, "embedding output (%zu chunks): relative noise 2^%.1f -> 2^%.1f, %zu primes\n", p.cin,
            before, after, lin.level);
    assert_int_equal(lin.level, 2);
    free(cts);
    free(pts);
    cg_bfv_plain_ntt_free(&w);
    cg_bfv_plain_free(&pt);
    cg_bfv_ct_free(&a);
    cg_bfv_ct_free(&b);
    cg_bfv_ct_free(&prod);
    cg_bfv_ct_free(&lin);
    he_teardown(&f);
}

/* ---- Finding 7: the flood on a linear layer's output ------------------------------- */

/* A linear output as linear.c makes it (a fresh encryption times a weight
 * block at the public bound, plus a bias) flooded with 60 bits: the
 * returned noise must sit 60 bits above the hidden bound, not merely above
 * the mod-switch rounding (which alone raises a linear output's measured
 * noise by ~70 bits and so cannot be the test). */
static void test_linear_output_flooded(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    const size_t n = cg_bfv_n(f.c);
    enum { IN = 32, OUT = 32 };
    int32_t wts[OUT * IN];
    for (size_t i = 0; i < OUT * IN; i++) wts[i] = (int32_t)(i % 17) - 8; /* small weights */
    const gen_matrix m = {.in = IN, .out = OUT, .stride_out = IN, .stride_in = 1, .w = wts};
    const gen_plan p = gen_plan_of(n, IN, OUT);
    int64_t *scratch = calloc(n, sizeof *scratch);
    assert_non_null(scratch);
    cg_bfv_plain pt = {0};
    cg_bfv_plain_ntt blk = {0};
    assert_int_equal(gen_encode_block(f.c, &m, &p, 0, 0, scratch, &blk, &err), CG_OK);
    cg_bfv_ct x = {0}, y = {0};
    encrypt_small(&f, 5, &x, &pt);
    assert_int_equal(cg_bfv_to_ntt(f.c, &x, &err), CG_OK);
    assert_int_equal(cg_bfv_mul_plain(f.c, &x, &blk, &y, &err), CG_OK);
    double before, after;
    flood_and_check(&f, &y, 60, &before, &after); /* checks the floor */
    fprintf(stderr, "linear output: relative noise 2^%.1f -> 2^%.1f\n", before, after);
    free(scratch);
    cg_bfv_plain_free(&pt);
    cg_bfv_plain_ntt_free(&blk);
    cg_bfv_ct_free(&x);
    cg_bfv_ct_free(&y);
    he_teardown(&f);
}

/* ---- Finding 4: the server's estimates come from public facts ---------------------- */

typedef struct sender {
    gen_sess *s;
    cg_bfv_ct *cts;
    size_t n;
    cg_status st;
} sender;

static void *send_main(void *arg)
{
    sender *j = arg;
    cg_error err = {0};
    j->st = gen_send_cts(j->s, j->cts, j->n, &err);
    if (j->st == CG_OK) j->st = cg_chan_flush(j->s->ch, &err);
    return NULL;
}

/* Two ciphertexts, one with the honest header and one whose header says 0
 * (what a client writing 0 sends): the server's estimates, and after a
 * product with a weight block and the flooding the level and header of what
 * it sends back, are the same. Weight blocks of very different sizes give
 * the same estimate too (the public bound). */
static void test_client_estimate_ignored(void **state)
{
    (void)state;
    he_fixture f;
    he_setup(&f);
    cg_error err = {0};
    cg_channel *a = NULL, *b = NULL;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, &err), CG_OK);
    gen_sess cs = {.party = CG_CLIENT, .ch = a, .he = f.c, .N = cg_bfv_n(f.c)};
    gen_sess ss = {.party = CG_SERVER, .ch = b, .he = f.c, .N = cg_bfv_n(f.c)};
    cg_buf_init(&cs.msg);
    cg_buf_init(&ss.msg);
    cg_bfv_ct sent[2] = {{0}}, got[2] = {{0}};
    cg_bfv_plain pt = {0};
    encrypt_small(&f, 77, &sent[0], &pt);
    assert_int_equal(cg_bfv_ct_copy(f.c, &sent[1], &sent[0], &err), CG_OK);
    sent[1].noise_log2 = 0;
    sender j = {.s = &cs, .cts = sent, .n = 2};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_main, &j), 0);
    assert_int_equal(gen_recv_cts(&ss, got, 2, &err), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(j.st, CG_OK);
    const double fresh = cg_bfv_fresh_noise_estimate(f.c, false);
    assert_true(got[0].noise_log2 == fresh && got[1].noise_log2 == fresh);
    /* weight blocks: all 1, and all 2^20 */
    const size_t n = cg_bfv_n(f.c);
    static int32_t small[16 * 16], large[16 * 16];
    for (size_t i = 0; i < 16 * 16; i++) small[i] = 1, large[i] = 1 << 20;
    const gen_plan p = gen_plan_of(n, 16, 16);
    int64_t *scratch = calloc(n, sizeof *scratch);
    assert_non_null(scratch);
    cg_bfv_plain_ntt blk[2] = {{0}};
    const gen_matrix ms = {.in = 16, .out = 16, .stride_out = 16, .stride_in = 1, .w = small};
    const gen_matrix ml = {.in = 16, .out = 16, .stride_out = 16, .stride_in = 1, .w = large};
    assert_int_equal(gen_encode_block(f.c, &ms, &p, 0, 0, scratch, &blk[0], &err), CG_OK);
    assert_int_equal(gen_encode_block(f.c, &ml, &p, 0, 0, scratch, &blk[1], &err), CG_OK);
    assert_true(blk[0].norm_log2 == blk[1].norm_log2);
    /* what the server sends back for each: same level, same header */
    cg_buf out[2];
    for (int k = 0; k < 2; k++) {
        cg_bfv_ct y = {0};
        cg_bfv_plain r = {0};
        assert_int_equal(cg_bfv_to_ntt(f.c, &got[k], &err), CG_OK);
        assert_int_equal(cg_bfv_mul_plain(f.c, &got[k], &blk[k], &y, &err), CG_OK);
        assert_int_equal(cg_bfv_mask_and_flood(f.c, &f.pk, &y, 52, &r, &err), CG_OK);
        cg_buf_init(&out[k]);
        assert_int_equal(cg_bfv_ct_serialize(f.c, &y, &out[k], &err), CG_OK);
        cg_bfv_ct_free(&y);
        cg_bfv_plain_free(&r);
    }
    assert_int_equal(out[0].len, out[1].len);
    assert_memory_equal(out[0].data, out[1].data, 4 + 2 + 2 + 32 + 3 + 4); /* the header */
    for (int k = 0; k < 2; k++) {
        cg_buf_free(&out[k]);
        cg_bfv_ct_free(&sent[k]);
        cg_bfv_ct_free(&got[k]);
        cg_bfv_plain_ntt_free(&blk[k]);
    }
    free(scratch);
    cg_bfv_plain_free(&pt);
    cg_buf_free(&cs.msg);
    cg_buf_free(&ss.msg);
    cg_chan_free(a);
    cg_chan_free(b);
    he_teardown(&f);
}

/* ---- Finding 5 (protocol part): block floor, working memory in the budget ----------- */

static void test_block_floor_and_working_memory(void **state)
{
    (void)state;
    /* GPT-2 base at L = 1024 with 4 positions per block: the attention's
     * working memory alone is far beyond an 8 GiB budget */
    gen_sess small = gpt2_base_session(1024 - 16, 16, 4), dflt = gpt2_base_session(1024 - 16, 16, 0);
    cg_error err = {0};
    cg_bfv_spec spec;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << 37;
    assert_int_equal(cg_bfv_ctx_new(&small.he, &spec, &err), CG_OK);
    dflt.he = small.he;
    const double ws = (double)gen_working_bytes(&small), wd = (double)gen_working_bytes(&dflt);
    fprintf(stderr, "GPT-2 base, L = 1024: working memory %.1f GB at 4 positions per block, %.1f GB at 128\n",
            ws / 1e9, wd / 1e9);
    assert_true(ws > 8.0 * (1u << 30));
    assert_true(wd < ws / 4);
    /* a 512-token prompt's batch embedding holds one batch of buckets'
     * queries and replies, or its product to the positions, at once
     * (embed.c), not all 2 x 512 + 64 buckets' (2 x 1088): counted */
    gen_sess longp = gpt2_base_session(512, 1, 0);
    longp.he = small.he;
    const double we = (double)gen_working_bytes(&longp);
    const uint64_t ects = gen_embed_working_cts(&longp, 512);
    const double floor_bytes = (double)ects * 2.0 * (double)cg_bfv_nq(small.he) * 8192.0 * 8.0;
    fprintf(stderr, "GPT-2 base, 512-token prompt: working memory %.1f GB (embedding %llu ciphertexts, %.1f GB)\n",
            we / 1e9, (unsigned long long)ects, floor_bytes / 1e9);
    assert_true(ects > 0 && ects < 2 * 1088);
    assert_true(we >= floor_bytes);
    cg_bfv_ctx_free(small.he);
    /* end to end: a block of 2 is refused; a budget the cache fits but the
     * working memory does not is refused, naming both */
    cg_gpt2 *m = tiny_model();
    cg_fixed_model *fm = fixed_model_of(m, cg_fixed_default());
    const uint32_t prompt[2] = {1, 2};
    uint32_t out[1];
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = 2, .new_tokens = 1,
                          .block_positions = 2};
    const cg_gen_options co = {.threads = 1};
    cg_gen_options so = {.threads = 1};
    outcome r = run_session(fm, &so, &req, &co, prompt, out);
    fprintf(stderr, "block 2: %s\n", r.cerr.msg);
    assert_int_not_equal(r.client, CG_OK);
    assert_non_null(strstr(r.cerr.msg, "at least 4"));
    req.block_positions = 4;
    /* the cache: 1 layer x 2 heads x 1 block x K, V x 2 polys x 4 primes x 8192 x 8 bytes */
    so.max_cache_bytes = 2ull * 2 * 2 * 4 * 8192 * 8 + 4096;
    r = run_session(fm, &so, &req, &co, prompt, out);
    fprintf(stderr, "budget: %s\n", r.cerr.msg);
    assert_int_equal(r.client, CG_ERR_PARAM);
    assert_non_null(strstr(r.cerr.msg, "working memory"));
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

/* Prompt rows per pass: the request's, the default for 0, refused above the
 * maximum, and halved by the server until its budget holds the largest pass
 * (a 512-token GPT-2 base prompt: 64 rows need more than 32, 32 more than 16). */
static void test_chunk_lowered_to_fit(void **state)
{
    (void)state;
    gen_sess s = gpt2_base_session(512, 1, 0);
    s.attn = CG_ATTN_SPLIT;
    cg_error err = {0};
    cg_bfv_spec spec;
    assert_int_equal(cg_bfv_preset("paper", &spec, &err), CG_OK);
    spec.t = 1ull << 37;
    assert_int_equal(cg_bfv_ctx_new(&s.he, &spec, &err), CG_OK);
    assert_int_equal(gen_fit_memory(&s, &err), CG_OK);
    assert_int_equal(s.chunk, GEN_PREFILL_CHUNK);
    s.req.prefill_chunk = GEN_PREFILL_CHUNK_MAX + 1;
    assert_int_equal(gen_fit_memory(&s, &err), CG_ERR_ARG);
    uint64_t work[3];
    const size_t rows[3] = {64, 32, 16};
    for (int i = 0; i < 3; i++) {
        s.chunk = rows[i];
        work[i] = gen_working_bytes(&s);
    }
    fprintf(stderr, "GPT-2 base, 512-token prompt: working memory %.2f / %.2f / %.2f GB at 64 / 32 / 16 rows\n",
            work[0] / 1e9, work[1] / 1e9, work[2] / 1e9);
    assert_true(work[0] > work[1] && work[1] > work[2]);
    /* the cache of 512 positions plus the 32-row pass fits, the 64-row pass not */
    s.chunk = 0;
    s.req.prefill_chunk = 64;
    cg_gen_options o = {.max_cache_bytes = 1ull << 50};
    s.opt = &o;
    assert_int_equal(gen_fit_memory(&s, &err), CG_OK);
    assert_int_equal(s.chunk, 64);
    /* K and V of 513 positions (5 blocks of 128), and split attention's shares */
    const uint64_t blocks = kv_blocks_for(&s.kv, 513), nq = cg_bfv_nq(s.he);
    assert_int_equal(blocks, 5);
    const uint64_t cache = 2ull * 12 * 12 * blocks * 2 * nq * 8192 * 8 + 2ull * 12 * 12 * blocks * (128 * 64 + nq * 8192) * 8;
    o.max_cache_bytes = cache + work[1];
    assert_int_equal(gen_fit_memory(&s, &err), CG_OK);
    assert_int_equal(s.chunk, 32);
    o.max_cache_bytes = cache + work[1] - 1;
    assert_int_equal(gen_fit_memory(&s, &err), CG_OK);
    assert_int_equal(s.chunk, 16);
    o.max_cache_bytes = cache / 2; /* the cache alone does not fit: refused, whatever the rows */
    assert_int_equal(gen_fit_memory(&s, &err), CG_ERR_PARAM);
    assert_non_null(strstr(err.msg, "working memory"));
    cg_bfv_ctx_free(s.he);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allow_list),
        cmocka_unit_test(test_insecure_preset_refused),
        cmocka_unit_test(test_client_never_sees_noise),
        cmocka_unit_test(test_flood_bits_grow_with_the_session),
        cmocka_unit_test(test_flood_count_follows_the_plans),
        cmocka_unit_test(test_dense_max_request_byte),
        cmocka_unit_test(test_flood_fits_at_1024),
        cmocka_unit_test(test_linear_output_flooded),
        cmocka_unit_test(test_client_estimate_ignored),
        cmocka_unit_test(test_block_floor_and_working_memory),
        cmocka_unit_test(test_chunk_lowered_to_fit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
