/* The prefill's packed matrix product, known answers: X (rows x in) times a
 * weight matrix through the plan's layout (mi rows per ciphertext, the
 * weights table's blocks, the fused products) equals the naive product mod
 * t, for plans the cost model picks and for forced row counts; and the
 * plans keep every block inside the ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdbool.h>

#include "proto/proto_internal.h"

#define L_BITS 37

typedef struct fixture {
    cg_bfv_ctx *he;
    cg_bfv_sk sk;
    cg_bfv_pk pk;
    size_t N;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    cg_bfv_spec spec;
    cg_error err = {0};
    if (!f || cg_bfv_preset("test2048", &spec, &err) != CG_OK) return -1;
    spec.t = 1ull << L_BITS;
    if (cg_bfv_ctx_new(&f->he, &spec, &err) != CG_OK) return -1;
    if (cg_bfv_keygen(f->he, &f->sk, &f->pk, &err) != CG_OK) return -1;
    f->N = cg_bfv_n(f->he);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    cg_bfv_sk_free(&f->sk);
    cg_bfv_pk_free(&f->pk);
    cg_bfv_ctx_free(f->he);
    free(f);
    return 0;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Y = X W^T + b through the plan's ciphertexts, as linear.c computes it
 * (client encrypts, server multiplies and adds the bias, client decrypts). */
static void packed_product(const fixture *f, const gen_matrix *m, const gen_plan *p, size_t rows,
                           const uint64_t *x, uint64_t *y, const cg_bfv_galois_keys *gk)
{
    const uint64_t mask = (1ull << L_BITS) - 1;
    const size_t groups = (rows + p->mi - 1) / p->mi, N = f->N;
    cg_error err = {0};
    cg_bfv_ct *ins = calloc(groups * p->cin, sizeof *ins);
    cg_bfv_plain_ntt *blocks = calloc(p->cin * p->cout, sizeof *blocks);
    int64_t *co = calloc(N, sizeof *co);
    cg_bfv_plain pt = {0};
    assert_true(ins && blocks && co);
    assert_int_equal(cg_bfv_plain_alloc(f->he, &pt, &err), CG_OK);
    if (gk) {
        /* packed client inputs: G chunks per ciphertext at a + S k, expanded
         * by the server into the strided layout (linear.c's packed path) */
        assert_true(p->stride && rows == 1);
        const size_t G = gen_pack_chunks(p);
        for (size_t q = 0; q < gen_pack_cts(p); q++) {
            const size_t a0 = q * G, cnt = p->cin - a0 < G ? p->cin - a0 : G;
            memset(co, 0, N * sizeof *co);
            for (size_t a = a0; a < a0 + cnt; a++)
                for (size_t k = 0; k < p->ni && a * p->ni + k < m->in; k++)
                    co[a - a0 + p->stride * k] = (int64_t)x[a * p->ni + k];
            cg_bfv_ct packed = {0};
            assert_int_equal(cg_bfv_encode_coeff(f->he, co, N, &pt, &err), CG_OK);
            assert_int_equal(cg_bfv_encrypt_sk_packed(f->he, &f->sk, &pt, cg_bfv_expand_levels(cnt),
                                                      &packed, &err), CG_OK);
            assert_int_equal(cg_bfv_expand(f->he, gk, &packed, cnt, &ins[a0], &err), CG_OK);
            for (size_t a = a0; a < a0 + cnt; a++) assert_int_equal(cg_bfv_to_ntt(f->he, &ins[a], &err), CG_OK);
            cg_bfv_ct_free(&packed);
        }
    }
    for (size_t g = 0; g < groups && !gk; g++)
        for (size_t a = 0; a < p->cin; a++) {
            memset(co, 0, N * sizeof *co);
            for (size_t t = 0; t < p->mi && g * p->mi + t < rows; t++)
                for (size_t k = 0; k < p->ni && a * p->ni + k < m->in; k++)
                    co[gen_in_coeff(p, t, k)] = (int64_t)x[(g * p->mi + t) * m->in + a * p->ni + k];
            assert_int_equal(cg_bfv_encode_coeff(f->he, co, N, &pt, &err), CG_OK);
            assert_int_equal(cg_bfv_encrypt_sk(f->he, &f->sk, &pt, &ins[g * p->cin + a], &err), CG_OK);
            assert_int_equal(cg_bfv_to_ntt(f->he, &ins[g * p->cin + a], &err), CG_OK);
        }
    for (size_t c = 0; c < p->cout; c++)
        for (size_t a = 0; a < p->cin; a++)
            assert_int_equal(gen_encode_block(f->he, m, p, a, c, co, &blocks[c * p->cin + a], &err), CG_OK);
    const cg_bfv_ct **inp = calloc(p->cin, sizeof *inp);
    const cg_bfv_plain_ntt **wpp = calloc(p->cin, sizeof *wpp);
    assert_true(inp && wpp);
    for (size_t g = 0; g < groups; g++)
        for (size_t c = 0; c < p->cout; c++) {
            const size_t o_n = (c + 1) * p->no <= m->out ? p->no : m->out - c * p->no;
            cg_bfv_ct out = {0};
            for (size_t a = 0; a < p->cin; a++) {
                inp[a] = &ins[g * p->cin + a];
                wpp[a] = &blocks[c * p->cin + a];
            }
            assert_int_equal(cg_bfv_mac_plain(f->he, inp, wpp, p->cin, &out, &err), CG_OK);
            memset(co, 0, N * sizeof *co);
            for (size_t t = 0; t < p->mi && g * p->mi + t < rows; t++)
                for (size_t o = 0; o < o_n; o++) co[gen_out_coeff(p, t, o)] = m->b[c * p->no + o];
            assert_int_equal(cg_bfv_encode_coeff(f->he, co, N, &pt, &err), CG_OK);
            assert_int_equal(cg_bfv_add_plain(f->he, &out, &pt, &err), CG_OK);
            assert_int_equal(cg_bfv_from_ntt(f->he, &out, &err), CG_OK);
            assert_int_equal(cg_bfv_decrypt(f->he, &f->sk, &out, &pt, &err), CG_OK);
            for (size_t t = 0; t < p->mi && g * p->mi + t < rows; t++)
                for (size_t o = 0; o < o_n; o++)
                    y[(g * p->mi + t) * m->out + c * p->no + o] = pt.coeffs[gen_out_coeff(p, t, o)] & mask;
            cg_bfv_ct_free(&out);
        }
    free(inp);
    free(wpp);
    for (size_t i = 0; i < groups * p->cin; i++) cg_bfv_ct_free(&ins[i]);
    for (size_t i = 0; i < p->cin * p->cout; i++) cg_bfv_plain_ntt_free(&blocks[i]);
    cg_bfv_plain_free(&pt);
    free(ins);
    free(blocks);
    free(co);
}

/* One shape: random X (shares mod t) and W (signed, weight-sized), the
 * packed product against the naive one. */
/* want SIZE_MAX: the strided plan of packed inputs (one row), computed from
 * ciphertexts packed and expanded with gk when gk is given. */
static void check_plan_gk(const fixture *f, size_t in, size_t out, size_t rows, size_t want,
                          const gen_plan *forced, uint64_t seed, const cg_bfv_galois_keys *gk)
{
    const uint64_t mask = (1ull << L_BITS) - 1;
    int32_t *w = malloc(in * out * sizeof *w);
    int64_t *b = malloc(out * sizeof *b);
    uint64_t *x = malloc(rows * in * sizeof *x), *y = calloc(rows * out, sizeof *y);
    assert_true(w && b && x && y);
    for (size_t i = 0; i < in * out; i++) w[i] = (int32_t)(next_rand(&seed) % 4001) - 2000;
    for (size_t i = 0; i < out; i++) b[i] = (int64_t)(next_rand(&seed) % 100001) - 50000;
    for (size_t i = 0; i < rows * in; i++) x[i] = next_rand(&seed) & mask;
    /* W stored transposed (stride_in = out), like the embedding's view */
    const gen_matrix m = {.role = GEN_MAT_QKV, .in = in, .out = out, .stride_out = 1, .stride_in = out,
                          .w = w, .b = b};
    const bool strided = want == SIZE_MAX;
    const gen_plan p = forced      ? *forced
                       : strided ? gen_plan_packed(f->N, in, out, false)
                                 : gen_plan_rows(f->N, in, out, rows, want);
    assert_true(p.mi >= 1 && p.mi <= rows);
    if (want && !strided) assert_int_equal(p.mi, want < rows ? want : rows);
    assert_true(p.mi * p.ni * p.no <= f->N);
    assert_true(p.cin * p.ni >= in && p.cout * p.no >= out);
    if (strided) {
        assert_true(p.stride >= p.no && p.stride * p.ni <= f->N);
        assert_true((p.stride & (p.stride - 1)) == 0);
    }
    packed_product(f, &m, &p, rows, x, y, gk);
    for (size_t r = 0; r < rows; r++)
        for (size_t o = 0; o < out; o++) {
            uint64_t acc = (uint64_t)b[o];
            for (size_t i = 0; i < in; i++) acc += (uint64_t)(int64_t)w[i * out + o] * x[r * in + i];
            assert_int_equal(y[r * out + o], acc & mask);
        }
    free(w);
    free(b);
    free(x);
    free(y);
}

static void check_shape_gk(const fixture *f, size_t in, size_t out, size_t rows, size_t want,
                           uint64_t seed, const cg_bfv_galois_keys *gk)
{
    check_plan_gk(f, in, out, rows, want, NULL, seed, gk);
}

static void check_shape(const fixture *f, size_t in, size_t out, size_t rows, size_t want, uint64_t seed)
{
    check_shape_gk(f, in, out, rows, want, seed, NULL);
}

/* The strided layout against the naive product, from chunk-by-chunk
 * encryptions and from packed ones expanded by the server. */
static void test_strided_product_known_answers(void **state)
{
    const fixture *f = *state;
    const size_t shapes[][2] = {{96, 288}, {384, 96}, {40, 72}, {200, 30}, {1000, 64}};
    cg_bfv_galois_keys gk = {0};
    uint32_t elts[16];
    cg_error err = {0};
    const size_t ne = cg_bfv_expand_elts(f->he, 11, elts);
    assert_int_equal(cg_bfv_keygen_galois_elts(f->he, &f->sk, elts, ne, &gk, &err), CG_OK);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const gen_plan p = gen_plan_packed(f->N, shapes[k][0], shapes[k][1], false);
        assert_int_not_equal(p.stride, 0);
        check_shape_gk(f, shapes[k][0], shapes[k][1], 1, SIZE_MAX, 30 + k, NULL);
        check_shape_gk(f, shapes[k][0], shapes[k][1], 1, SIZE_MAX, 40 + k, &gk);
    }
    /* GPT-2 base's decode shapes at n = 8192 have a strided plan, one
     * packed ciphertext per input */
    const size_t gpt2[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}};
    for (size_t k = 0; k < sizeof gpt2 / sizeof gpt2[0]; k++) {
        const gen_plan p = gen_plan_packed(8192, gpt2[k][0], gpt2[k][1], false);
        assert_true(p.stride >= p.no && p.stride * p.ni <= 8192);
        assert_int_equal(gen_pack_cts(&p), 1);
    }
    cg_bfv_galois_free(&gk);
}

/* Dense replies: strided plans with n_i = 32 ... 1 values per leaf (so
 * strides up to n and up to n outputs per reply, up to 2^10 leaves from one
 * packed ciphertext) against the naive product, sent chunk by chunk and
 * packed and expanded; and the dense choice for GPT-2 base's decode shapes
 * at n = 8192 keeps the layout's invariants with fewer replies. */
static void test_dense_plans_known_answers(void **state)
{
    const fixture *f = *state;
    const size_t shapes[][2] = {{96, 288}, {200, 30}, {130, 2500}, {1000, 64}};
    cg_bfv_galois_keys gk = {0};
    uint32_t elts[16];
    cg_error err = {0};
    const size_t ne = cg_bfv_expand_elts(f->he, 11, elts);
    assert_int_equal(cg_bfv_keygen_galois_elts(f->he, &f->sk, elts, ne, &gk, &err), CG_OK);
    uint64_t seed = 60;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (size_t ni = 32; ni >= 1; ni /= 2) {
            const size_t in = shapes[k][0], out = shapes[k][1];
            const gen_plan p = gen_plan_strided(f->N, in, out, ni);
            assert_int_equal(p.ni, ni < in ? ni : in);
            assert_true(p.stride * p.ni <= f->N && 2 * p.stride * p.ni > f->N);
            assert_int_equal(p.no, p.stride < out ? p.stride : out);
            /* the largest shape one packed way only, the expansion is the slow part */
            if (in < 1000 || ni <= 2) check_plan_gk(f, in, out, 1, SIZE_MAX, &p, seed++, &gk);
            if (in < 1000 && ni >= 8) check_plan_gk(f, in, out, 1, SIZE_MAX, &p, seed++, NULL);
        }
    assert_int_equal(gen_plan_strided(f->N, 10, 10, 0).stride, 0);
    assert_int_equal(gen_plan_strided(f->N, 4 * f->N, 10, 2 * f->N).stride, 0);
    const size_t gpt2[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}};
    size_t fewer = 0;
    for (size_t k = 0; k < sizeof gpt2 / sizeof gpt2[0]; k++) {
        const gen_plan o = gen_plan_packed(8192, gpt2[k][0], gpt2[k][1], false);
        const gen_plan d = gen_plan_packed(8192, gpt2[k][0], gpt2[k][1], true);
        assert_true(d.stride >= d.no && d.stride * d.ni <= 8192 && (d.stride & (d.stride - 1)) == 0);
        assert_true(d.cin * d.ni >= gpt2[k][0] && d.cout * d.no >= gpt2[k][1]);
        assert_int_equal(gen_pack_cts(&d), 1);
        assert_true(cg_bfv_expand_levels(gen_pack_chunks(&d)) <= 8);
        assert_true(d.cout <= o.cout);
        fewer += d.cout < o.cout;
    }
    /* QKV and the LM head at least (9 and 50 replies instead of 18 and 99) */
    assert_true(fewer >= 2);
    assert_int_equal(gen_plan_packed(8192, 768, 50257, true).cout, 50);
    cg_bfv_galois_free(&gk);
}

static void test_packed_product_known_answers(void **state)
{
    const fixture *f = *state;
    /* several groups with a short last one, chunks and blocks cut unevenly */
    check_shape(f, 48, 80, 7, 3, 11);
    check_shape(f, 48, 80, 7, 7, 12);
    check_shape(f, 100, 30, 5, 2, 13);
    /* all rows in one group */
    check_shape(f, 64, 64, 4, 4, 14);
    /* the cost model's own choices */
    check_shape(f, 96, 288, 16, 0, 15);
    check_shape(f, 384, 96, 16, 0, 16);
    /* one row per ciphertext: the decode plan */
    check_shape(f, 40, 72, 3, 1, 17);
}

/* The one-row plan is the decode plan (the pre-encoded weights' cut), the
 * model's choice fits the ring for every count, and more rows than the
 * ring holds are capped. */
static void test_plans(void **state)
{
    (void)state;
    const size_t n = 8192;
    const size_t shapes[][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {50257, 768}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const size_t in = shapes[k][0], out = shapes[k][1];
        const gen_plan d = gen_plan_of(n, in, out), one = gen_plan_rows(n, in, out, 16, 1);
        assert_int_equal(d.mi, 1);
        assert_int_equal(one.ni, d.ni);
        assert_int_equal(one.no, d.no);
        assert_int_equal(one.mi, 1);
        for (size_t rows = 1; rows <= 16; rows++) {
            const gen_plan p = gen_plan_rows(n, in, out, rows, 0);
            assert_true(p.mi >= 1 && p.mi <= rows);
            assert_true(p.mi * p.ni * p.no <= n);
            assert_true(p.cin * p.ni >= in && p.cout * p.no >= out);
        }
        /* a 16-row chunk of GPT-2 base packs rows */
        assert_true(gen_plan_rows(n, in, out, 16, 0).mi > 1 || in > 10000);
    }
    const gen_plan big = gen_plan_rows(64, 8, 8, 1000, 500);
    assert_true(big.mi <= 64 && big.mi * big.ni * big.no <= 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_packed_product_known_answers, setup, teardown),
        cmocka_unit_test(test_plans),
        cmocka_unit_test_setup_teardown(test_dense_plans_known_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strided_product_known_answers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
