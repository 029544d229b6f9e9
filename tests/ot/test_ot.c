/* Tests for the ot layer: AES and hash against independent references, the
 * transposition against a naive one, base OT keys, every derived OT's
 * correlation on random inputs and edge sizes, a transcript check that the
 * receiver never sees unchosen messages or correlations, and error paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/ot.h"
#include "ot/ot_internal.h"

/* ---------------- primitives ---------------- */

static void test_aes_known_answer(void **state)
{
    (void)state;
    /* FIPS-197 appendix C.1. */
    uint8_t key[16], pt[16], ct[16];
    static const uint8_t want[16] = {0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30,
                                     0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a};
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
        pt[i] = (uint8_t)(i * 0x11);
    }
    ot_aes_key k;
    ot_aes_expand_aesni(&k, key);
    ot_aes_ecb_aesni(&k, pt, ct, 1);
    assert_memory_equal(ct, want, 16);
    /* FIPS-197 appendix A.1 key expansion: last round key of 2b7e1516... */
    static const uint8_t key2[16] = {0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
                                     0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c};
    static const uint8_t rk10[16] = {0xd0, 0x14, 0xf9, 0xa8, 0xc9, 0xee, 0x25, 0x89,
                                     0xe1, 0x3f, 0x0c, 0xc8, 0xb6, 0x63, 0x0c, 0xa6};
    ot_aes_expand_aesni(&k, key2);
    assert_memory_equal(k.rk + 160, rk10, 16);

    /* Batched ECB (8 in flight + tail) equals one block at a time; CTR equals
     * ECB of the counter blocks. */
    enum { NB = 21 };
    uint8_t in[NB * 16], out[NB * 16], one[16], ctr[NB * 16];
    cg_random_bytes(in, sizeof in);
    ot_aes_ecb_aesni(&k, in, out, NB);
    for (int b = 0; b < NB; b++) {
        ot_aes_ecb_aesni(&k, in + 16 * b, one, 1);
        assert_memory_equal(one, out + 16 * b, 16);
    }
    uint64_t c0 = 0xfffffffffffffff5ull;
    ot_aes_ctr_aesni(&k, c0, ctr, NB);
    for (int b = 0; b < NB; b++) {
        uint8_t blk[16] = {0};
        uint64_t c = c0 + (uint64_t)b;
        memcpy(blk, &c, 8);
        ot_aes_ecb_aesni(&k, blk, one, 1);
        assert_memory_equal(one, ctr + 16 * b, 16);
    }
}

/* tccr(t, x) = pi(sigma(x) ^ t) ^ sigma(x), sigma(L || R) = (L ^ R || L),
 * L the high 64 bits: recomputed with plain integers and one-block AES. */
static void ref_tccr(const ot_aes_key *pi, const uint8_t x[16], uint64_t tlo, uint64_t thi,
                     uint8_t out[16])
{
    uint64_t lo, hi;
    memcpy(&lo, x, 8);
    memcpy(&hi, x + 8, 8);
    uint64_t slo = hi, shi = hi ^ lo;
    uint8_t s[16], b[16], e[16];
    memcpy(s, &slo, 8);
    memcpy(s + 8, &shi, 8);
    uint64_t blo = slo ^ tlo, bhi = shi ^ thi;
    memcpy(b, &blo, 8);
    memcpy(b + 8, &bhi, 8);
    ot_aes_ecb_aesni(pi, b, e, 1);
    for (int i = 0; i < 16; i++) out[i] = e[i] ^ s[i];
}

static void test_tccr_matches_reference(void **state)
{
    (void)state;
    uint8_t key[16];
    cg_random_bytes(key, 16);
    ot_aes_key pi;
    ot_aes_expand_aesni(&pi, key);
    enum { N = 19 };
    uint8_t x[N * 16], mask[16], out[N * 16], ref[16], xm[16];
    cg_random_bytes(x, sizeof x);
    cg_random_bytes(mask, 16);
    ot_tccr_aesni(&pi, x, mask, out, N, 1000, 7);
    for (int i = 0; i < N; i++) {
        for (int t = 0; t < 16; t++) xm[t] = x[16 * i + t] ^ mask[t];
        ref_tccr(&pi, xm, 1000 + (uint64_t)i, 7, ref);
        assert_memory_equal(ref, out + 16 * i, 16);
    }
    ot_tccr_aesni(&pi, x, NULL, out, N, 5, 0);
    ref_tccr(&pi, x + 16 * 3, 8, 0, ref);
    assert_memory_equal(ref, out + 16 * 3, 16);
    uint64_t tlo[N], thi[N];
    for (int i = 0; i < N; i++) {
        tlo[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
        thi[i] = (uint64_t)(N - i);
    }
    ot_tccr_tweaks_aesni(&pi, x, tlo, thi, out, N);
    for (int i = 0; i < N; i++) {
        ref_tccr(&pi, x + 16 * i, tlo[i], thi[i], ref);
        assert_memory_equal(ref, out + 16 * i, 16);
    }
    ot_tccr_multi_aesni(&pi, x, out, N, 42, 1);
    for (int i = 0; i < N; i++) {
        ref_tccr(&pi, x, 42, 1 + (uint64_t)i, ref);
        assert_memory_equal(ref, out + 16 * i, 16);
    }
}

/* The VAES back-end gives the same bytes as AES-NI, tails included. */
static void test_vaes_matches_aesni(void **state)
{
    (void)state;
    if (!ot_vaes_available()) {
        fprintf(stderr, "  (no VAES/AVX-512 here or CG_SIMD forces a narrower path: AES-NI only)\n");
        return;
    }
    uint8_t key[16], mask[16];
    cg_random_bytes(key, 16);
    cg_random_bytes(mask, 16);
    ot_aes_key k;
    ot_aes_expand_aesni(&k, key);
    size_t sizes[] = {0, 1, 15, 16, 17, 33, 64, 100, 1024};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        uint8_t *x = cg_alloc(16 * n + 16), *a = cg_alloc(16 * n + 16), *b = cg_alloc(16 * n + 16);
        cg_random_bytes(x, 16 * n);
        ot_aes_ctr_aesni(&k, 0xfffffffffffffff0ull, a, n);
        ot_aes_ctr_vaes(&k, 0xfffffffffffffff0ull, b, n);
        if (n) assert_memory_equal(a, b, 16 * n);
        ot_tccr_aesni(&k, x, mask, a, n, 77, 3);
        ot_tccr_vaes(&k, x, mask, b, n, 77, 3);
        if (n) assert_memory_equal(a, b, 16 * n);
        ot_tccr_aesni(&k, x, NULL, a, n, 0xfffffffffffffffaull, 0);
        ot_tccr_vaes(&k, x, NULL, b, n, 0xfffffffffffffffaull, 0);
        if (n) assert_memory_equal(a, b, 16 * n);
        cg_free(x);
        cg_free(a);
        cg_free(b);
    }
}

static void test_transpose(void **state)
{
    (void)state;
    size_t shapes[][2] = {{16, 16}, {128, 128}, {128, 1024}, {32, 48}, {48, 64}, {256, 1024}, {128, 1u << 15}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], bytes = rows * cols / 8;
        uint8_t *in = cg_alloc(bytes), *a = cg_alloc(bytes), *b = cg_alloc(bytes), *c = cg_calloc(1, bytes);
        cg_random_bytes(in, bytes);
        ot_transpose_portable(in, a, rows, cols);
        ot_transpose_sse2(in, b, rows, cols);
        uint8_t *d = cg_alloc(bytes);
        if (cg_cpu_features_raw() & CG_CPU_AVX2) ot_transpose_avx2(in, d, rows, cols);
        else memcpy(d, a, bytes); /* no AVX2 here: nothing more to compare */
        for (size_t r = 0; r < rows; r++)
            for (size_t col = 0; col < cols; col++) {
                unsigned bit = (in[r * cols / 8 + col / 8] >> (col % 8)) & 1u;
                c[col * rows / 8 + r / 8] |= (uint8_t)(bit << (r % 8));
            }
        assert_memory_equal(a, c, bytes);
        assert_memory_equal(b, c, bytes);
        assert_memory_equal(d, c, bytes);
        cg_free(d);
        cg_free(in);
        cg_free(a);
        cg_free(b);
        cg_free(c);
    }
}

static void test_pack_matches_common(void **state)
{
    (void)state;
    cg_prg prg;
    cg_prg_init_random(&prg);
    enum { MAXN = 301 };
    uint64_t vals[MAXN], back[MAXN], ref[MAXN];
    uint8_t mine[MAXN * 8 + 8];
    for (unsigned w = 1; w <= 64; w++)
        /* n >= 1: cg_buf_put_packed(count 0) on an empty cg_buf passes NULL to
         * memset (UBSan), a common-layer issue reported separately. */
        for (size_t n = 1; n <= MAXN; n += (n < 20 ? 1 : 47)) {
            cg_prg_bytes(&prg, vals, sizeof vals);
            size_t len = cg_packed_size(n, w);
            memset(mine, 0xaa, sizeof mine);
            ot_pack(mine, vals, n, w);
            assert_int_equal(mine[len], 0xaa); /* nothing written past the end */
            cg_buf b;
            cg_buf_init(&b);
            cg_buf_put_packed(&b, vals, n, w);
            assert_int_equal(b.len, len);
            if (len) assert_memory_equal(mine, b.data, len);
            cg_reader rd;
            cg_reader_init(&rd, b.data, b.len);
            assert_int_equal(cg_read_packed(&rd, ref, n, w, "ref", NULL), CG_OK);
            ot_unpack(back, mine, n, w);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(back[i], vals[i] & mask_of(w));
                assert_int_equal(back[i], ref[i]);
                /* one value read alone, including the buffer's last bytes */
                assert_int_equal(ot_packed_get(mine, len, i, w), back[i]);
            }
            cg_buf_free(&b);
        }
}

/* ---------------- two-party harness ---------------- */

typedef cg_status (*party_fn)(cg_channel *ch, void *ctx);
typedef struct {
    party_fn fn;
    cg_channel *ch;
    void *ctx;
    cg_status st;
} party_job;

static void *party_thread(void *arg)
{
    party_job *j = arg;
    j->st = j->fn(j->ch, j->ctx);
    return NULL;
}

/* Runs a (on channel end 0) and b (end 1) concurrently. */
static void run_two(cg_channel *ca, cg_channel *cb, party_fn a, void *actx, party_fn b, void *bctx,
                    cg_status *sa, cg_status *sb)
{
    party_job jb = {b, cb, bctx, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, party_thread, &jb), 0);
    *sa = a(ca, actx);
    pthread_join(t, NULL);
    *sb = jb.st;
}

typedef struct {
    cg_ot *ot;
    cg_ot_role role;
    cg_otn_kind otn;
} new_ctx;

static cg_status do_new(cg_channel *ch, void *vctx)
{
    new_ctx *c = vctx;
    return cg_ot_new(&c->ot, ch, c->role, c->otn, NULL);
}

typedef struct {
    cg_channel *cs, *cr; /* sender's and receiver's channel ends */
    cg_ot *s, *r;
} ot_setup;

/* A sender and a receiver of the given 1-of-N kind over a new channel pair. */
static void setup_ot_kind(ot_setup *o, const cg_chan_options *opt, cg_otn_kind otn)
{
    assert_int_equal(cg_chan_pair_new(&o->cs, &o->cr, opt, NULL), CG_OK);
    new_ctx a = {NULL, CG_OT_SENDER, otn}, b = {NULL, CG_OT_RECEIVER, otn};
    cg_status sa, sb;
    run_two(o->cs, o->cr, do_new, &a, do_new, &b, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    o->s = a.ot;
    o->r = b.ot;
    assert_int_equal(cg_ot_get_role(o->s), CG_OT_SENDER);
    assert_int_equal(cg_ot_get_role(o->r), CG_OT_RECEIVER);
}

static void setup_ot(ot_setup *o, const cg_chan_options *opt)
{
    setup_ot_kind(o, opt, CG_OTN_KK13);
}

static void teardown_ot(ot_setup *o)
{
    cg_ot_free(o->s);
    cg_ot_free(o->r);
    cg_chan_free(o->cs);
    cg_chan_free(o->cr);
}

/* Arguments and results of one batch call on both sides. */
typedef struct {
    cg_ot *s, *r;
    int kind; /* 0 cot, 1 ot, 2 rot, 3 otn, 4 otn with messages from a callback */
    size_t n, filled;
    bool fill_bad; /* the callback was called out of order or beyond n */
    unsigned bits, N;
    uint64_t *a, *b; /* sender: delta/x0, m0/m1, r0/r1, msgs/- */
    uint8_t *choice;
    uint64_t *out;
    cg_error serr, rerr;
} batch;

/* cg_otn_send_fn's callback: hands out rows of b->a and notes calls that
 * are not in order, contiguous and within n (checked after the run, not
 * asserted in the sender's thread). */
static void fill_rows(void *ctx, size_t first, size_t count, uint64_t *out)
{
    batch *b = ctx;
    if (first != b->filled || count == 0 || count > b->n - first) {
        b->fill_bad = true;
        return;
    }
    memcpy(out, b->a + first * b->N, count * b->N * sizeof *out);
    b->filled += count;
}

static cg_status batch_sender(cg_channel *ch, void *vctx)
{
    (void)ch;
    batch *b = vctx;
    switch (b->kind) {
    case 4: return cg_otn_send_fn(b->s, b->n, b->N, b->bits, fill_rows, b, &b->serr);
    case 0: return cg_cot_send(b->s, b->n, b->bits, b->a, b->b, &b->serr);
    case 1: return cg_ot_send(b->s, b->n, b->bits, b->a, b->b, &b->serr);
    case 2: return cg_rot_send(b->s, b->n, b->bits, b->a, b->b, &b->serr);
    default: return cg_otn_send(b->s, b->n, b->N, b->bits, b->a, &b->serr);
    }
}

static cg_status batch_receiver(cg_channel *ch, void *vctx)
{
    (void)ch;
    batch *b = vctx;
    switch (b->kind) {
    case 0: return cg_cot_recv(b->r, b->n, b->bits, b->choice, b->out, &b->rerr);
    case 1: return cg_ot_recv(b->r, b->n, b->bits, b->choice, b->out, &b->rerr);
    case 2: return cg_rot_recv(b->r, b->n, b->bits, b->choice, b->out, &b->rerr);
    default: return cg_otn_recv(b->r, b->n, b->N, b->bits, b->choice, b->out, &b->rerr);
    }
}

static void batch_alloc(batch *b, cg_prg *prg)
{
    size_t rows = b->kind >= 3 ? b->n * b->N : b->n;
    b->a = cg_calloc(rows + 1, 8);
    b->b = cg_calloc(b->n + 1, 8);
    b->choice = cg_calloc(b->n + 1, 1);
    b->out = cg_calloc(b->n + 1, 8);
    cg_prg_bytes(prg, b->a, rows * 8);
    cg_prg_bytes(prg, b->b, b->n * 8);
    for (size_t i = 0; i < b->n; i++)
        b->choice[i] = (uint8_t)(b->kind >= 3 ? cg_prg_uniform(prg, b->N) : cg_prg_u64(prg) & 1);
}

static void batch_free(batch *b)
{
    cg_free(b->a);
    cg_free(b->b);
    cg_free(b->choice);
    cg_free(b->out);
}

static void batch_run(ot_setup *o, batch *b)
{
    b->s = o->s;
    b->r = o->r;
    cg_status sa, sb;
    run_two(o->cs, o->cr, batch_sender, b, batch_receiver, b, &sa, &sb);
    if (sa != CG_OK) fprintf(stderr, "sender: %s\n", b->serr.msg);
    if (sb != CG_OK) fprintf(stderr, "receiver: %s\n", b->rerr.msg);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    if (b->kind == 4) {
        assert_false(b->fill_bad);
        assert_int_equal(b->filled, b->n);
    }
}

static void batch_check(const batch *b)
{
    uint64_t m = mask_of(b->bits);
    size_t differ = 0;
    for (size_t i = 0; i < b->n; i++) {
        unsigned c = b->choice[i];
        uint64_t want;
        switch (b->kind) {
        case 0: /* a = delta, b = x0 */
            assert_true(b->b[i] <= m);
            want = (b->b[i] + (c ? b->a[i] : 0)) & m;
            break;
        case 1: want = (c ? b->b[i] : b->a[i]) & m; break;
        case 2:
            assert_true(b->a[i] <= m && b->b[i] <= m);
            want = c ? b->b[i] : b->a[i];
            differ += b->a[i] != b->b[i];
            break;
        default: want = b->a[i * b->N + c] & m; break;
        }
        assert_int_equal(b->out[i], want);
    }
    /* Random OT pads are independent: 64-bit pairs never collide in practice. */
    if (b->kind == 2 && b->bits == 64) assert_int_equal(differ, b->n);
}

static uint8_t base_k2[OT_BASE_OTS][2][16], base_k1[OT_BASE_OTS][16], base_choice[OT_BASE_OTS / 8];

static cg_status base_sender(cg_channel *ch, void *ctx)
{
    (void)ctx;
    return ot_baseot_send(ch, base_k2, NULL);
}

static cg_status base_receiver(cg_channel *ch, void *ctx)
{
    (void)ctx;
    return ot_baseot_recv(ch, base_choice, base_k1, NULL);
}

static void test_base_ot(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    cg_random_bytes(base_choice, sizeof base_choice);
    cg_status sa, sb;
    run_two(a, b, base_sender, NULL, base_receiver, NULL, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    for (size_t j = 0; j < OT_BASE_OTS; j++) {
        unsigned c = (base_choice[j / 8] >> (j % 8)) & 1u;
        assert_memory_equal(base_k1[j], base_k2[j][c], 16);
        assert_memory_not_equal(base_k1[j], base_k2[j][1 - c], 16);
    }
    cg_chan_stats st;
    cg_chan_get_stats(b, &st);
    /* One point one way, 128 the other. */
    assert_int_equal(st.total.bytes_sent, 128 * 32);
    assert_int_equal(st.total.bytes_received, 32);
    cg_chan_free(a);
    cg_chan_free(b);
}

static void run_case(ot_setup *o, int kind, size_t n, unsigned bits, unsigned N, cg_prg *prg)
{
    batch b = {.kind = kind, .n = n, .bits = bits, .N = N};
    batch_alloc(&b, prg);
    batch_run(o, &b);
    batch_check(&b);
    batch_free(&b);
}

static void test_cot_rot_ot_sizes_and_widths(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    size_t sizes[] = {0, 1, 2, 127, 128, 129, 1000};
    unsigned widths[] = {1, 2, 7, 8, 31, 37, 63, 64};
    for (int kind = 0; kind < 3; kind++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++)
                run_case(&o, kind, sizes[s], widths[w], 0, &prg);
    /* Several chunks, including a partial last one. */
    run_case(&o, 0, 100003, 64, 0, &prg);
    run_case(&o, 0, 70001, 37, 0, &prg);
    run_case(&o, 1, 70001, 64, 0, &prg);
    run_case(&o, 2, 65536, 64, 0, &prg);
    teardown_ot(&o);
}

typedef struct {
    cg_ot *s, *r;
    uint64_t r0[300], r1[300], out[300];
    uint8_t choice[300];
} rrand_ctx;

static cg_status rrand_sender(cg_channel *ch, void *v)
{
    (void)ch;
    rrand_ctx *c = v;
    return cg_rot_send(c->s, 300, 20, c->r0, c->r1, NULL);
}

static cg_status rrand_receiver(cg_channel *ch, void *v)
{
    (void)ch;
    rrand_ctx *c = v;
    return cg_rot_recv_random(c->r, 300, 20, c->choice, c->out, NULL);
}

static cg_status setup_otn_job(cg_channel *ch, void *v)
{
    (void)ch;
    return cg_ot_setup_otn(v, NULL);
}

/* Exact traffic of a COT batch, and the random-choice ROT. */
static void test_cot_traffic_and_random_choice_rot(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    cg_chan_reset_stats(o.cr);
    size_t n = 40000; /* two chunks: 32768 + 7232 (padded to 7296) */
    run_case(&o, 0, n, 13, 0, &prg);
    cg_chan_stats st;
    cg_chan_get_stats(o.cr, &st);
    assert_int_equal(st.total.bytes_sent, 16 + 16 * (32768 + 7296));
    assert_int_equal(st.total.bytes_received, cg_packed_size(32768, 13) + cg_packed_size(7232, 13));
    assert_int_equal(st.total.rounds, 1);

    /* 1-of-N over three batches is still one round trip once KK13's 256
     * base OTs have run (cg_ot_setup_otn; a second call is a no-op). */
    for (int rep = 0; rep < 2; rep++) {
        cg_status s1, s2;
        cg_chan_reset_stats(o.cr);
        run_two(o.cs, o.cr, setup_otn_job, o.s, setup_otn_job, o.r, &s1, &s2);
        assert_int_equal(s1, CG_OK);
        assert_int_equal(s2, CG_OK);
        cg_chan_get_stats(o.cr, &st);
        if (rep == 1) assert_int_equal(st.total.bytes_sent + st.total.bytes_received, 0);
        else assert_true(st.total.bytes_sent > 0);
    }
    cg_chan_reset_stats(o.cr);
    run_case(&o, 3, 9000, 3, 16, &prg);
    cg_chan_get_stats(o.cr, &st);
    assert_int_equal(st.total.rounds, 1);
    assert_int_equal(st.total.bytes_received, 2 * cg_packed_size(4096 * 16, 3) + cg_packed_size(808 * 16, 3));
    /* KK13: a 16-byte header and one 256-bit row per instance, per batch
     * padded to a multiple of 128 instances. */
    assert_int_equal(st.total.bytes_sent, 16 + 32 * (4096 + 4096 + 896));

    rrand_ctx *c = cg_calloc(1, sizeof *c);
    c->s = o.s;
    c->r = o.r;
    cg_status sa, sb;
    run_two(o.cs, o.cr, rrand_sender, c, rrand_receiver, c, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    size_t ones = 0;
    for (int i = 0; i < 300; i++) {
        assert_true(c->choice[i] <= 1);
        ones += c->choice[i];
        assert_int_equal(c->out[i], c->choice[i] ? c->r1[i] : c->r0[i]);
    }
    assert_true(ones > 0 && ones < 300);
    cg_free(c);
    teardown_ot(&o);
}

static void test_otn(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    cg_prg prg;
    cg_prg_init_random(&prg);
    unsigned Ns[] = {2, 3, 16, 17, 256};
    unsigned widths[] = {1, 2, 8, 64};
    for (size_t a = 0; a < sizeof Ns / sizeof Ns[0]; a++)
        for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
            run_case(&o, 3, 1, widths[w], Ns[a], &prg);
            run_case(&o, 3, 300, widths[w], Ns[a], &prg);
        }
    run_case(&o, 3, 0, 8, 16, &prg);
    /* More than one batch. */
    run_case(&o, 3, 9000, 2, 16, &prg);
    /* Messages from a callback, batch by batch, on both constructions. */
    run_case(&o, 4, 9000, 6, 16, &prg);
    run_case(&o, 4, 300, 8, 4, &prg);
    run_case(&o, 4, 0, 8, 16, &prg);
    teardown_ot(&o);
}

/* The AES-NI back-end end to end (this machine may default to VAES). */
static void test_aesni_backend_end_to_end(void **state)
{
    (void)state;
    const char *old = getenv("CG_SIMD");
    char *saved = old ? strdup(old) : NULL;
    setenv("CG_SIMD", "avx2", 1);
    assert_string_not_equal(cg_ot_backend(), "vaes");
    ot_setup o;
    setup_ot(&o, NULL);
    if (saved) {
        setenv("CG_SIMD", saved, 1);
        free(saved);
    } else {
        unsetenv("CG_SIMD");
    }
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int kind = 0; kind < 4; kind++) run_case(&o, kind, 5000, 29, 16, &prg);
    teardown_ot(&o);
}

/* Party 0 and party 1 each hold a pair; COTs both ways on one channel. */
typedef struct {
    int party;
    cg_ot_pair p;
    size_t n;
    uint64_t *delta, *x0, *out;
    uint8_t *choice;
} pair_ctx;

static cg_status pair_party(cg_channel *ch, void *vctx)
{
    pair_ctx *c = vctx;
    CG_TRY(cg_ot_pair_new(&c->p, ch, c->party, CG_OTN_KK13, NULL));
    /* Party 0 sends first; party 1 receives first. */
    for (int step = 0; step < 2; step++) {
        bool sending = (step == 0) == (c->party == 0);
        if (sending) CG_TRY(cg_cot_send(c->p.send, c->n, 40, c->delta, c->x0, NULL));
        else CG_TRY(cg_cot_recv(c->p.recv, c->n, 40, c->choice, c->out, NULL));
    }
    return CG_OK;
}

static void test_pair_both_directions(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    pair_ctx c[2];
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int k = 0; k < 2; k++) {
        c[k].party = k;
        c[k].n = 5000;
        c[k].delta = cg_alloc(5000 * 8);
        c[k].x0 = cg_alloc(5000 * 8);
        c[k].out = cg_alloc(5000 * 8);
        c[k].choice = cg_alloc(5000);
        cg_prg_bytes(&prg, c[k].delta, 5000 * 8);
        for (int i = 0; i < 5000; i++) c[k].choice[i] = (uint8_t)(cg_prg_u64(&prg) & 1);
    }
    cg_status sa, sb;
    run_two(a, b, pair_party, &c[0], pair_party, &c[1], &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    uint64_t m = mask_of(40);
    for (int k = 0; k < 2; k++) {
        pair_ctx *s = &c[k], *r = &c[1 - k];
        for (int i = 0; i < 5000; i++)
            assert_int_equal(r->out[i], (s->x0[i] + (r->choice[i] ? s->delta[i] : 0)) & m);
    }
    for (int k = 0; k < 2; k++) {
        cg_ot_pair_free(&c[k].p);
        assert_null(c[k].p.send);
        cg_free(c[k].delta);
        cg_free(c[k].x0);
        cg_free(c[k].out);
        cg_free(c[k].choice);
    }
    cg_chan_free(a);
    cg_chan_free(b);
}

/* A random sequence of calls in both directions over loopback TCP, each
 * party holding a cg_ot_pair: state (counters, tweaks) carries across calls. */
typedef struct {
    int party;
    cg_ot_pair p;
} tcp_pair_ctx;

static cg_status tcp_pair_setup(cg_channel *ch, void *v)
{
    tcp_pair_ctx *c = v;
    return cg_ot_pair_new(&c->p, ch, c->party, CG_OTN_KK13, NULL);
}

typedef struct {
    cg_listener *l;
    cg_channel *ch;
    cg_status st;
} acc_job;

static void *acc_thread(void *v)
{
    acc_job *j = v;
    j->st = cg_accept(j->l, &j->ch, NULL, NULL);
    return NULL;
}

static void test_random_mixed_calls_over_tcp(void **state)
{
    (void)state;
    cg_listener *l;
    assert_int_equal(cg_listen(&l, "127.0.0.1:0", NULL), CG_OK);
    acc_job j = {l, NULL, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acc_thread, &j), 0);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)cg_listener_port(l));
    cg_channel *ch[2];
    assert_int_equal(cg_connect(&ch[1], addr, NULL, NULL), CG_OK);
    pthread_join(t, NULL);
    assert_int_equal(j.st, CG_OK);
    ch[0] = j.ch;
    cg_listener_close(l);

    tcp_pair_ctx pc[2] = {{0, {0}}, {1, {0}}};
    cg_status s0, s1;
    run_two(ch[0], ch[1], tcp_pair_setup, &pc[0], tcp_pair_setup, &pc[1], &s0, &s1);
    assert_int_equal(s0, CG_OK);
    assert_int_equal(s1, CG_OK);

    cg_prg prg;
    cg_prg_init_random(&prg);
    static const unsigned Ns[] = {2, 4, 16, 100, 256};
    for (int op = 0; op < 24; op++) {
        int dir = (int)(cg_prg_u64(&prg) & 1); /* which party sends */
        batch b = {.kind = (int)cg_prg_uniform(&prg, 4),
                   .n = (size_t)cg_prg_uniform(&prg, 3000),
                   .bits = 1 + (unsigned)cg_prg_uniform(&prg, 64),
                   .N = Ns[cg_prg_uniform(&prg, 5)]};
        if (b.kind == 3 && b.N == 256) b.n /= 8;
        batch_alloc(&b, &prg);
        b.s = pc[dir].p.send;
        b.r = pc[1 - dir].p.recv;
        run_two(ch[dir], ch[1 - dir], batch_sender, &b, batch_receiver, &b, &s0, &s1);
        assert_int_equal(s0, CG_OK);
        assert_int_equal(s1, CG_OK);
        batch_check(&b);
        batch_free(&b);
    }
    for (int k = 0; k < 2; k++) {
        cg_ot_pair_free(&pc[k].p);
        cg_chan_free(ch[k]);
    }
}

/* ---------------- a recording / faulty link ---------------- */

/* Forwards bytes between two socket ends; records what goes to the receiver
 * side; can cut the link or flip one byte after a given count. */
typedef struct {
    int to_sender, to_receiver; /* proxy's ends */
    uint8_t *log;
    size_t log_len, log_cap;
    size_t cut_after;  /* bytes towards the receiver; SIZE_MAX = never */
    size_t flip_at;    /* SIZE_MAX = never */
} proxy;

static void *proxy_thread(void *arg)
{
    proxy *p = arg;
    uint8_t buf[65536];
    struct pollfd fds[2] = {{p->to_sender, POLLIN, 0}, {p->to_receiver, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, 20000) <= 0) break;
        int stop = 0;
        for (int k = 0; k < 2 && !stop; k++) {
            if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(fds[k].fd, buf, sizeof buf);
            if (r <= 0) {
                stop = 1;
                break;
            }
            if (k == 0) {
                size_t keep = (size_t)r;
                if (p->log_len + keep > p->cut_after) {
                    keep = p->cut_after - p->log_len;
                    stop = 1;
                }
                for (size_t i = 0; i < keep; i++)
                    if (p->log_len + i == p->flip_at) buf[i] ^= 0xff;
                if (p->log_len + keep <= p->log_cap) memcpy(p->log + p->log_len, buf, keep);
                p->log_len += keep;
                size_t off = 0;
                while (off < keep) {
                    ssize_t w = send(p->to_receiver, buf + off, keep - off, MSG_NOSIGNAL);
                    if (w <= 0) break;
                    off += (size_t)w;
                }
            } else {
                size_t off = 0;
                while (off < (size_t)r) {
                    ssize_t w = send(p->to_sender, buf + off, (size_t)r - off, MSG_NOSIGNAL);
                    if (w <= 0) break;
                    off += (size_t)w;
                }
            }
        }
        if (stop) break;
    }
    close(p->to_sender);
    close(p->to_receiver);
    return NULL;
}

typedef struct {
    proxy px;
    pthread_t th;
    cg_channel *cs, *cr;
} linked;

static void link_start(linked *l, size_t cut_after, size_t flip_at, uint32_t timeout_ms)
{
    int s[2], r[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, r), 0);
    memset(&l->px, 0, sizeof l->px);
    l->px.to_sender = s[1];
    l->px.to_receiver = r[1];
    l->px.log_cap = 64u << 20;
    l->px.log = cg_alloc(l->px.log_cap);
    l->px.cut_after = cut_after;
    l->px.flip_at = flip_at;
    cg_chan_options opt = {.timeout_ms = timeout_ms};
    assert_int_equal(cg_chan_wrap_fd(&l->cs, s[0], &opt, NULL), CG_OK);
    assert_int_equal(cg_chan_wrap_fd(&l->cr, r[0], &opt, NULL), CG_OK);
    assert_int_equal(pthread_create(&l->th, NULL, proxy_thread, &l->px), 0);
}

static void link_stop(linked *l)
{
    cg_chan_free(l->cs);
    cg_chan_free(l->cr);
    pthread_join(l->th, NULL);
}

static bool log_contains_u64(const proxy *p, uint64_t v, unsigned bytes)
{
    uint8_t pat[8];
    memcpy(pat, &v, 8);
    return memmem(p->log, p->log_len, pat, bytes) != NULL;
}

/* A sender / receiver pair over a link that logs what the receiver gets. */
static void logged_pair_start(linked *l, ot_setup *o)
{
    link_start(l, SIZE_MAX, SIZE_MAX, 20000);
    *o = (ot_setup){l->cs, l->cr, NULL, NULL};
    new_ctx a = {NULL, CG_OT_SENDER, CG_OTN_KK13}, b = {NULL, CG_OT_RECEIVER, CG_OTN_KK13};
    cg_status sa, sb;
    run_two(o->cs, o->cr, do_new, &a, do_new, &b, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    o->s = a.ot;
    o->r = b.ot;
}

/* Frees the pair, stops the link and returns its log, checked to hold more
 * than min_len bytes and, as a positive control, to contain what is in it. */
static const proxy *logged_pair_stop(linked *l, ot_setup *o, size_t min_len)
{
    cg_ot_free(o->s);
    cg_ot_free(o->r);
    link_stop(l);
    const proxy *px = &l->px;
    assert_true(px->log_len > min_len && px->log_len <= px->log_cap);
    uint64_t present;
    memcpy(&present, px->log + px->log_len / 2, 8);
    assert_true(log_contains_u64(px, present, 8));
    return px;
}

static void test_transcript_hides_unchosen(void **state)
{
    (void)state;
    linked l;
    ot_setup o;
    logged_pair_start(&l, &o);
    cg_prg prg;
    cg_prg_init_random(&prg);
    batch bt[3] = {{.kind = 0, .n = 3000, .bits = 64},
                   {.kind = 1, .n = 3000, .bits = 64},
                   {.kind = 3, .n = 500, .bits = 64, .N = 16}};
    for (int k = 0; k < 3; k++) {
        batch_alloc(&bt[k], &prg);
        batch_run(&o, &bt[k]);
        batch_check(&bt[k]);
    }
    const proxy *px = logged_pair_stop(&l, &o, 3000 * 16);
    size_t checked = 0;
    for (size_t i = 0; i < bt[0].n; i++, checked++) /* COT correlations */
        assert_false(log_contains_u64(px, bt[0].a[i], 8));
    for (size_t i = 0; i < bt[1].n; i++, checked += 2) { /* neither message in clear */
        assert_false(log_contains_u64(px, bt[1].a[i], 8));
        assert_false(log_contains_u64(px, bt[1].b[i], 8));
    }
    for (size_t i = 0; i < bt[2].n; i++)
        for (unsigned x = 0; x < bt[2].N; x++, checked++)
            assert_false(log_contains_u64(px, bt[2].a[i * bt[2].N + x], 8));
    assert_int_equal(checked, 3000 + 6000 + 500 * 16);
    cg_free(l.px.log);
    for (int k = 0; k < 3; k++) batch_free(&bt[k]);
}

/* The 1-of-N OT, both constructions (KK13 for N >= 8 by default, the
 * log2 N-row one on CG_OTN_SPLIT instances): N in {2, 4, 8, 16, 100, 256},
 * widths 1, 8, 37, 64, random choices, n = 1 and 1000 (results against the
 * messages), then over a logging link: no message the receiver did not
 * choose appears in the clear in what the receiver gets. */
static void test_otn_grid_and_transcript(void **state)
{
    (void)state;
    static const unsigned Ns[] = {2, 4, 8, 16, 100, 256}, widths[] = {1, 8, 37, 64};
    static const size_t ns[] = {1, 1000};
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int split = 0; split < 2; split++) {
        ot_setup o;
        setup_ot_kind(&o, NULL, split ? CG_OTN_SPLIT : CG_OTN_KK13);
        for (size_t a = 0; a < 6; a++)
            for (size_t w = 0; w < 4; w++)
                for (size_t k = 0; k < 2; k++) run_case(&o, 3, ns[k], widths[w], Ns[a], &prg);
        teardown_ot(&o);
    }

    linked l;
    ot_setup t;
    logged_pair_start(&l, &t);
    /* Small n for N = 256 keeps the transcript search quick. */
    batch bt[4] = {{.kind = 3, .n = 300, .bits = 64, .N = 2},
                   {.kind = 3, .n = 300, .bits = 64, .N = 4},
                   {.kind = 3, .n = 300, .bits = 64, .N = 16},
                   {.kind = 3, .n = 20, .bits = 64, .N = 256}};
    for (int k = 0; k < 4; k++) {
        batch_alloc(&bt[k], &prg);
        batch_run(&t, &bt[k]);
        batch_check(&bt[k]);
    }
    const proxy *px = logged_pair_stop(&l, &t, 0);
    size_t checked = 0;
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < bt[k].n; i++)
            for (unsigned x = 0; x < bt[k].N; x++) {
                if (x == bt[k].choice[i]) continue;
                assert_false(log_contains_u64(px, bt[k].a[i * bt[k].N + x], 8));
                checked++;
            }
    assert_int_equal(checked, 300 * 1 + 300 * 3 + 300 * 15 + 20 * 255);
    cg_free(l.px.log);
    for (int k = 0; k < 4; k++) batch_free(&bt[k]);
}

static void test_setup_and_argument_errors(void **state)
{
    (void)state;
    ot_setup o;
    setup_ot(&o, NULL);
    uint64_t v[4] = {0};
    uint8_t c[4] = {0, 1, 2, 0};
    cg_error err;
    assert_int_equal(cg_cot_recv(o.s, 1, 8, c, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_send(o.r, 1, 8, v, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_send(o.s, 1, 0, v, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_cot_send(o.s, 1, 65, v, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_cot_recv(o.r, 3, 8, c, v, &err), CG_ERR_RANGE);
    assert_int_equal(cg_otn_recv(o.r, 4, 2, 8, c, v, &err), CG_ERR_RANGE);
    assert_int_equal(cg_otn_send(o.s, 1, 1, 8, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_otn_send(o.s, 1, 257, 8, v, &err), CG_ERR_ARG);
    assert_int_equal(cg_otn_send_fn(o.s, 1, 16, 8, NULL, NULL, &err), CG_ERR_ARG);
    assert_int_equal(cg_ot_send(o.s, 1, 8, NULL, v, &err), CG_ERR_ARG);
    /* None of those touched the channel: the instance still works. */
    cg_prg prg;
    cg_prg_init_random(&prg);
    run_case(&o, 0, 10, 8, 0, &prg);
    /* A begun split COT blocks every other call on its instance, and its
     * end must name the same batch. */
    uint8_t c1[1] = {1};
    assert_int_equal(cg_cot_recv_end(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_begin(o.r, 1, 8, c1, v, &err), CG_OK);
    assert_int_equal(cg_cot_recv(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv(o.r, 1, 16, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_end(o.r, 2, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_end(o.r, 1, 9, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv_end(o.r, 1, 8, 8, c1, v, &err), CG_ERR_STATE);
    teardown_ot(&o);
    /* The same for a begun 1-of-N OT (the split construction: no base OTs
     * to wait for). */
    setup_ot_kind(&o, NULL, CG_OTN_SPLIT);
    assert_int_equal(cg_otn_recv_begin(o.r, 1, 16, 8, c1, v, &err), CG_OK);
    assert_int_equal(cg_cot_recv(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv_end(o.r, 1, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv_end(o.r, 1, 8, 8, c1, v, &err), CG_ERR_STATE);
    assert_int_equal(cg_otn_recv_end(o.r, 2, 16, 8, c1, v, &err), CG_ERR_STATE);
    teardown_ot(&o);
    assert_int_equal(cg_ot_new(NULL, NULL, CG_OT_SENDER, CG_OTN_KK13, &err), CG_ERR_ARG);
}

/* Mismatched calls: the sender sees a header that does not match. */
static void test_mismatched_calls(void **state)
{
    (void)state;
    ot_setup o;
    cg_chan_options opt = {.timeout_ms = 3000};
    setup_ot(&o, &opt);
    cg_prg prg;
    cg_prg_init_random(&prg);
    batch b = {.kind = 0, .n = 100, .bits = 32};
    batch_alloc(&b, &prg);
    b.s = o.s;
    b.r = o.r;
    /* Receiver asks for 16-bit COTs, sender offers 32-bit. */
    b.bits = 32;
    cg_status ss = CG_OK, sr = CG_OK;
    {
        batch rb = b;
        rb.bits = 16;
        party_job jr = {batch_receiver, o.cr, &rb, CG_OK};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, party_thread, &jr), 0);
        ss = batch_sender(o.cs, &b);
        /* The failed sender hangs up; the receiver then sees the peer gone. */
        cg_chan_free(o.cs);
        o.cs = NULL;
        pthread_join(t, NULL);
        sr = jr.st;
    }
    assert_int_equal(ss, CG_ERR_FORMAT);
    assert_int_equal(sr, CG_ERR_PEER);
    /* Both instances refuse further use. */
    assert_int_equal(cg_cot_send(o.s, 1, 8, b.a, b.b, NULL), CG_ERR_STATE);
    assert_int_equal(cg_cot_recv(o.r, 1, 8, b.choice, b.out, NULL), CG_ERR_STATE);
    batch_free(&b);
    teardown_ot(&o);
}

/* Faults on the link during set-up and during an extension. */
static void run_faulty(size_t cut_after, size_t flip_at, cg_status *set_s, cg_status *set_r,
                       cg_status *ext_s, cg_status *ext_r)
{
    linked l;
    link_start(&l, cut_after, flip_at, 1000);
    new_ctx a = {NULL, CG_OT_SENDER, CG_OTN_KK13}, b = {NULL, CG_OT_RECEIVER, CG_OTN_KK13};
    run_two(l.cs, l.cr, do_new, &a, do_new, &b, set_s, set_r);
    *ext_s = *ext_r = CG_OK;
    if (*set_s == CG_OK && *set_r == CG_OK) {
        ot_setup o = {l.cs, l.cr, a.ot, b.ot};
        cg_prg prg;
        cg_prg_init_random(&prg);
        batch bt = {.kind = 1, .n = 50000, .bits = 64, .s = a.ot, .r = b.ot};
        batch_alloc(&bt, &prg);
        /* Whoever fails first hangs up so that the other one is not left waiting. */
        party_job jr = {batch_receiver, o.cr, &bt, CG_OK};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, party_thread, &jr), 0);
        *ext_s = batch_sender(o.cs, &bt);
        pthread_join(t, NULL);
        *ext_r = jr.st;
        batch_free(&bt);
    }
    cg_ot_free(a.ot);
    cg_ot_free(b.ot);
    link_stop(&l);
    cg_free(l.px.log);
}

static void test_disconnect_and_corruption(void **state)
{
    (void)state;
    cg_status s1, r1, s2, r2;
    /* Towards the receiver go the base-OT points (one 12+4096-byte frame),
     * then the extension's ciphertext frames. Cut inside the points: */
    run_faulty(20, SIZE_MAX, &s1, &r1, &s2, &r2);
    assert_int_equal(r1, CG_ERR_PEER);
    /* Cut in the middle of the ciphertexts: */
    run_faulty(12 + 4096 + 200000, SIZE_MAX, &s1, &r1, &s2, &r2);
    assert_int_equal(s1, CG_OK);
    assert_int_equal(r1, CG_OK);
    assert_int_equal(r2, CG_ERR_PEER);
    /* The top byte of the first ciphertext frame's length flipped: oversized frame. */
    run_faulty(SIZE_MAX, 12 + 4096 + 3, &s1, &r1, &s2, &r2);
    assert_int_equal(s1, CG_OK);
    assert_int_equal(r1, CG_OK);
    assert_int_equal(r2, CG_ERR_FORMAT);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!(cg_cpu_features_raw() & CG_CPU_AESNI)) {
        fprintf(stderr, "no AES-NI: the ot layer is unsupported on this CPU\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aes_known_answer),
        cmocka_unit_test(test_tccr_matches_reference),
        cmocka_unit_test(test_vaes_matches_aesni),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_pack_matches_common),
        cmocka_unit_test(test_base_ot),
        cmocka_unit_test(test_cot_rot_ot_sizes_and_widths),
        cmocka_unit_test(test_cot_traffic_and_random_choice_rot),
        cmocka_unit_test(test_otn),
        cmocka_unit_test(test_aesni_backend_end_to_end),
        cmocka_unit_test(test_pair_both_directions),
        cmocka_unit_test(test_random_mixed_calls_over_tcp),
        cmocka_unit_test(test_transcript_hides_unchosen),
        cmocka_unit_test(test_otn_grid_and_transcript),
        cmocka_unit_test(test_setup_and_argument_errors),
        cmocka_unit_test(test_mismatched_calls),
        cmocka_unit_test(test_disconnect_and_corruption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
