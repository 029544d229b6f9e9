/* Model layer tests: tokenizer against an independent Python
 * reference (fixtures), safetensors loading and rejection, and the float
 * forward pass against a naive reference and prefill-vs-decode. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cryptogen/model.h"

static const char *model_dir(void)
{
    const char *d = getenv("CG_MODEL_DIR");
    return d ? d : "models/default";
}

static int unhex(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

static void test_tokenizer_matches_reference(void **state)
{
    (void)state;
    cg_tokenizer *t;
    cg_error err = {0};
    assert_int_equal(cg_tokenizer_load_dir(&t, model_dir(), &err), CG_OK);
    assert_int_equal(cg_tokenizer_vocab_size(t), 50257);
    char path[4096];
    snprintf(path, sizeof path, "%s/bpe_cases.txt", getenv("CG_TEST_DATA") ? getenv("CG_TEST_DATA") : "tests/data");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int cases = 0;
    while (getline(&line, &cap, f) > 0) {
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        size_t hl = (size_t)(tab - line);
        char *text = malloc(hl / 2 + 1);
        for (size_t i = 0; i < hl / 2; i++) text[i] = (char)(unhex(line[2 * i]) * 16 + unhex(line[2 * i + 1]));
        uint32_t want[4096];
        size_t nw = 0;
        for (char *p = tab + 1; *p && *p != '\n';) {
            want[nw++] = (uint32_t)strtoul(p, &p, 10);
            if (*p == ',') p++;
        }
        uint32_t *ids;
        size_t n;
        assert_int_equal(cg_tokenizer_encode(t, text, hl / 2, &ids, &n, &err), CG_OK);
        if (n != nw || (n && memcmp(ids, want, n * 4) != 0)) {
            fprintf(stderr, "case %d (%.*s): %zu ids, want %zu\n", cases, (int)(hl / 2), text, n, nw);
            fail();
        }
        char *back;
        size_t bl;
        assert_int_equal(cg_tokenizer_decode(t, ids, n, &back, &bl, &err), CG_OK);
        assert_int_equal(bl, hl / 2);
        assert_memory_equal(back, text, bl);
        cg_free(back);
        cg_free(ids);
        free(text);
        cases++;
    }
    free(line);
    fclose(f);
    assert_true(cases > 100);
    /* arbitrary bytes, invalid UTF-8 included, round-trip exactly */
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int it = 0; it < 200; it++) {
        char buf[300];
        size_t len = cg_prg_uniform(&prg, sizeof buf);
        cg_prg_bytes(&prg, buf, len);
        if (it % 2) /* mostly ASCII with spaces: exercises the regex paths */
            for (size_t i = 0; i < len; i++) buf[i] = " aZ9'\n!\xc3\xa9"[(uint8_t)buf[i] % 10];
        uint32_t *ids;
        size_t n;
        char *back;
        size_t bl;
        assert_int_equal(cg_tokenizer_encode(t, buf, len, &ids, &n, &err), CG_OK);
        assert_int_equal(cg_tokenizer_decode(t, ids, n, &back, &bl, &err), CG_OK);
        assert_int_equal(bl, len);
        if (len) assert_memory_equal(back, buf, len);
        cg_free(ids);
        cg_free(back);
    }
    uint32_t bad = 50257;
    char *o;
    size_t ol;
    assert_int_equal(cg_tokenizer_decode(t, &bad, 1, &o, &ol, &err), CG_ERR_ARG);
    cg_tokenizer_free(t);
}

/* ---- safetensors ---------------------------------------------------------- */

static const cg_gpt2_config tiny = {.n_layer = 2, .n_head = 2, .n_embd = 8, .n_positions = 16, .vocab_size = 11,
                                    .ln_eps = 1e-5f};

typedef struct tensor_desc {
    char name[48];
    uint32_t shape[2];
    int dims;
    const float *data;
} tensor_desc;

static size_t describe(const cg_gpt2 *m, tensor_desc *t)
{
    const uint32_t d = m->cfg.n_embd, V = m->cfg.vocab_size, P = m->cfg.n_positions;
    size_t k = 0;
#define T(nm, r, c, dims_, ptr) (snprintf(t[k].name, sizeof t[k].name, "%s", nm), t[k].shape[0] = r, t[k].shape[1] = c, t[k].dims = dims_, t[k].data = ptr, k++)
    T("wte.weight", V, d, 2, m->wte);
    T("wpe.weight", P, d, 2, m->wpe);
    T("ln_f.weight", d, 0, 1, m->lnf_w);
    T("ln_f.bias", d, 0, 1, m->lnf_b);
    for (uint32_t l = 0; l < m->cfg.n_layer; l++) {
        const cg_gpt2_layer *L = &m->layers[l];
        char nm[48];
#define TL(s, r, c, dims_, ptr) (snprintf(nm, sizeof nm, "h.%u.%s", l, s), T(nm, r, c, dims_, ptr))
        TL("ln_1.weight", d, 0, 1, L->ln1_w);
        TL("ln_1.bias", d, 0, 1, L->ln1_b);
        TL("attn.c_attn.weight", d, 3 * d, 2, L->attn_w);
        TL("attn.c_attn.bias", 3 * d, 0, 1, L->attn_b);
        TL("attn.c_proj.weight", d, d, 2, L->proj_w);
        TL("attn.c_proj.bias", d, 0, 1, L->proj_b);
        TL("ln_2.weight", d, 0, 1, L->ln2_w);
        TL("ln_2.bias", d, 0, 1, L->ln2_b);
        TL("mlp.c_fc.weight", d, 4 * d, 2, L->fc_w);
        TL("mlp.c_fc.bias", 4 * d, 0, 1, L->fc_b);
        TL("mlp.c_proj.weight", 4 * d, d, 2, L->fc2_w);
        TL("mlp.c_proj.bias", d, 0, 1, L->fc2_b);
    }
    return k;
}

/* Writes m as F32 safetensors; `mutate` corrupts one aspect (0 = none). */
static void write_model(const cg_gpt2 *m, const char *dir, int mutate)
{
    tensor_desc t[64];
    size_t k = describe(m, t);
    char header[16384];
    size_t hl = 0, off = 0;
    float saved = 0;
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < k; i++) {
        size_t cnt = t[i].shape[0] * (t[i].dims == 2 ? t[i].shape[1] : 1), bytes = cnt * 4;
        const char *dtype = mutate == 2 && i == 3 ? "I64" : "F32";
        size_t b0 = off, b1 = off + bytes;
        if (mutate == 3 && i == 5) b0 = b0 - 8, b1 = b1 - 8;           /* overlap */
        if (mutate == 4 && i == k - 1) b1 += 4096;                      /* out of range */
        uint32_t s0 = t[i].shape[0] + (mutate == 5 && i == 6 ? 1 : 0); /* shape mismatch */
        if (mutate == 6 && i == 7) continue;                            /* missing tensor */
        if (mutate == 9 && i == 2) { /* infinity, put back once written */
            saved = ((float *)t[i].data)[1];
            ((float *)t[i].data)[1] = 1.0f / 0.0f;
        }
        if (t[i].dims == 2)
            hl += (size_t)snprintf(header + hl, sizeof header - hl,
                                   ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%u,%u],\"data_offsets\":[%zu,%zu]}",
                                   t[i].name, dtype, s0, t[i].shape[1], b0, b1);
        else
            hl += (size_t)snprintf(header + hl, sizeof header - hl,
                                   ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%u],\"data_offsets\":[%zu,%zu]}", t[i].name,
                                   dtype, s0, b0, b1);
        off += bytes;
    }
    hl += (size_t)snprintf(header + hl, sizeof header - hl, "}");
    if (mutate == 1) header[hl - 1] = '#'; /* bad JSON */
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t h64 = mutate == 7 ? (uint64_t)1 << 40 : hl;
    fwrite(&h64, 8, 1, f);
    fwrite(header, 1, hl, f);
    for (size_t i = 0; i < k; i++)
        fwrite(t[i].data, 4, t[i].shape[0] * (t[i].dims == 2 ? t[i].shape[1] : 1), f);
    fclose(f);
    if (mutate == 9) ((float *)t[2].data)[1] = saved;
    if (mutate == 8) { /* truncated data */
        if (truncate(path, (off_t)(8 + hl + off / 2)) != 0) fail();
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    /* A Hugging Face GPT-2 config's fields with the values implemented;
     * mutations 10-12 change one to a value that is not. */
    fprintf(f, "{\"model_type\": \"gpt2\", \"n_layer\": %u, \"n_head\": %u, \"n_embd\": %u, \"n_positions\": %u, "
               "\"vocab_size\": %u, \"layer_norm_epsilon\": 1e-5, \"activation_function\": \"%s\", "
               "\"scale_attn_weights\": true, \"scale_attn_by_inverse_layer_idx\": %s, \"n_inner\": null, "
               "\"tie_word_embeddings\": true, \"reorder_and_upcast_attn\": false}\n",
            m->cfg.n_layer - (mutate == 11 ? 1 : 0), m->cfg.n_head, m->cfg.n_embd, m->cfg.n_positions,
            m->cfg.vocab_size, mutate == 10 ? "gelu" : "gelu_new", mutate == 12 ? "true" : "false");
    fclose(f);
}

static void test_safetensors_roundtrip_and_rejection(void **state)
{
    (void)state;
    cg_gpt2 *m, *back;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &tiny, 42, &err), CG_OK);
    char dir[] = "/tmp/cg_model_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_model(m, dir, 0);
    assert_int_equal(cg_gpt2_load(&back, dir, &err), CG_OK);
    tensor_desc a[64], b[64];
    size_t k = describe(m, a);
    describe(back, b);
    for (size_t i = 0; i < k; i++)
        assert_memory_equal(a[i].data, b[i].data, 4 * a[i].shape[0] * (a[i].dims == 2 ? a[i].shape[1] : 1));
    cg_gpt2_free(back);
    const char *expect[] = {NULL, "invalid JSON", "unsupported dtype", "overlaps", "data_offsets", "shape",
                            "missing", "header length", "data_offsets", "not finite", "activation_function 'gelu'",
                            "config.json's n_layer is 1", "scale_attn_by_inverse_layer_idx"};
    for (int mut = 1; mut <= 12; mut++) {
        write_model(m, dir, mut);
        back = NULL;
        cg_error e = {0};
        assert_int_equal(cg_gpt2_load(&back, dir, &e), CG_ERR_FORMAT);
        assert_null(back);
        if (!strstr(e.msg, expect[mut])) {
            fprintf(stderr, "mutation %d: '%s'\n", mut, e.msg);
            fail();
        }
    }
    cg_gpt2_config badcfg = tiny;
    badcfg.n_head = 3;
    assert_int_equal(cg_gpt2_random(&back, &badcfg, 1, &err), CG_ERR_FORMAT);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    cg_gpt2_free(m);
}

/* ---- forward ---------------------------------------------------------------- */

/* Naive double-precision GPT-2 over the whole sequence (no cache). */
static void naive_logits(const cg_gpt2 *m, const uint32_t *tok, size_t T, double *out /* T x V */)
{
    const size_t d = m->cfg.n_embd, H = m->cfg.n_head, hd = d / H, V = m->cfg.vocab_size;
    double *x = calloc(T * d, 8), *h = calloc(T * d, 8), *qkv = calloc(T * 3 * d, 8), *a = calloc(T * d, 8),
           *f = calloc(T * 4 * d, 8);
#define LN(src, g, b, dst)                                                                                    \
    for (size_t t = 0; t < T; t++) {                                                                          \
        double mu = 0, var = 0;                                                                               \
        for (size_t i = 0; i < d; i++) mu += src[t * d + i];                                                  \
        mu /= (double)d;                                                                                      \
        for (size_t i = 0; i < d; i++) var += (src[t * d + i] - mu) * (src[t * d + i] - mu);                  \
        var /= (double)d;                                                                                     \
        for (size_t i = 0; i < d; i++) dst[t * d + i] = (src[t * d + i] - mu) / sqrt(var + 1e-5) * g[i] + b[i]; \
    }
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < d; i++) x[t * d + i] = m->wte[tok[t] * d + i] + m->wpe[t * d + i];
    for (size_t l = 0; l < m->cfg.n_layer; l++) {
        const cg_gpt2_layer *L = &m->layers[l];
        LN(x, L->ln1_w, L->ln1_b, h);
        for (size_t t = 0; t < T; t++)
            for (size_t o = 0; o < 3 * d; o++) {
                double s = L->attn_b[o];
                for (size_t i = 0; i < d; i++) s += h[t * d + i] * L->attn_w[i * 3 * d + o];
                qkv[t * 3 * d + o] = s;
            }
        for (size_t t = 0; t < T; t++)
            for (size_t hh = 0; hh < H; hh++) {
                double w[64], mx = -1e300, sum = 0;
                for (size_t u = 0; u <= t; u++) {
                    double s = 0;
                    for (size_t e = 0; e < hd; e++) s += qkv[t * 3 * d + hh * hd + e] * qkv[u * 3 * d + d + hh * hd + e];
                    w[u] = s / sqrt((double)hd);
                    if (w[u] > mx) mx = w[u];
                }
                for (size_t u = 0; u <= t; u++) sum += w[u] = exp(w[u] - mx);
                for (size_t e = 0; e < hd; e++) {
                    double s = 0;
                    for (size_t u = 0; u <= t; u++) s += w[u] / sum * qkv[u * 3 * d + 2 * d + hh * hd + e];
                    a[t * d + hh * hd + e] = s;
                }
            }
        for (size_t t = 0; t < T; t++)
            for (size_t o = 0; o < d; o++) {
                double s = L->proj_b[o];
                for (size_t i = 0; i < d; i++) s += a[t * d + i] * L->proj_w[i * d + o];
                x[t * d + o] += s;
            }
        LN(x, L->ln2_w, L->ln2_b, h);
        for (size_t t = 0; t < T; t++)
            for (size_t o = 0; o < 4 * d; o++) {
                double s = L->fc_b[o];
                for (size_t i = 0; i < d; i++) s += h[t * d + i] * L->fc_w[i * 4 * d + o];
                f[t * 4 * d + o] = 0.5 * s * (1 + tanh(sqrt(2 / M_PI) * (s + 0.044715 * s * s * s)));
            }
        for (size_t t = 0; t < T; t++)
            for (size_t o = 0; o < d; o++) {
                double s = L->fc2_b[o];
                for (size_t i = 0; i < 4 * d; i++) s += f[t * 4 * d + i] * L->fc2_w[i * d + o];
                x[t * d + o] += s;
            }
    }
    LN(x, m->lnf_w, m->lnf_b, h);
    for (size_t t = 0; t < T; t++)
        for (size_t v = 0; v < V; v++) {
            double s = 0;
            for (size_t i = 0; i < d; i++) s += h[t * d + i] * m->wte[v * d + i];
            out[t * V + v] = s;
        }
    free(x), free(h), free(qkv), free(a), free(f);
}

static void test_forward_matches_naive_and_decode(void **state)
{
    (void)state;
    cg_gpt2 *m;
    cg_error err = {0};
    cg_gpt2_config cfg = tiny;
    cfg.vocab_size = 300; /* > 256 so the tied head takes the threaded path */
    assert_int_equal(cg_gpt2_random(&m, &cfg, 7, &err), CG_OK);
    const size_t T = 12, V = cfg.vocab_size;
    uint32_t tok[12] = {1, 5, 299, 0, 7, 7, 42, 100, 3, 250, 9, 1};
    double *ref = malloc(T * V * 8);
    naive_logits(m, tok, T, ref);
    float *all = malloc(T * V * 4), *one = malloc(V * 4);
    cg_gpt2_state st;
    assert_int_equal(cg_gpt2_state_new(m, 16, &st, &err), CG_OK);
    assert_int_equal(cg_gpt2_forward(m, &st, tok, T, all, true, 2, &err), CG_OK);
    for (size_t i = 0; i < T * V; i++) assert_true(fabs(all[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i])));
    /* prefill 5, then decode one by one: same logits at every position */
    cg_gpt2_state_free(&st);
    assert_int_equal(cg_gpt2_state_new(m, 16, &st, &err), CG_OK);
    assert_int_equal(cg_gpt2_forward(m, &st, tok, 5, one, false, 1, &err), CG_OK);
    for (size_t v = 0; v < V; v++) assert_true(fabs(one[v] - all[4 * V + v]) <= 1e-5 * (1 + fabs(all[4 * V + v])));
    for (size_t t = 5; t < T; t++) {
        assert_int_equal(cg_gpt2_forward(m, &st, tok + t, 1, one, false, 2, &err), CG_OK);
        for (size_t v = 0; v < V; v++) assert_true(fabs(one[v] - all[t * V + v]) <= 1e-5 * (1 + fabs(all[t * V + v])));
    }
    /* past the cache, and bad tokens, are the caller's bad arguments (as in the emulator) */
    assert_int_equal(cg_gpt2_forward(m, &st, tok, 5, one, false, 1, &err), CG_ERR_ARG);
    uint32_t badtok = 300;
    assert_int_equal(cg_gpt2_forward(m, &st, &badtok, 1, one, false, 1, &err), CG_ERR_ARG);
    cg_gpt2_state_free(&st);
    free(ref), free(all), free(one);
    cg_gpt2_free(m);
}

typedef struct seen {
    size_t calls[8][16];
    size_t values;
} seen;

static void count_tensors(void *ctx, unsigned layer, const char *tensor, const float *x, size_t n)
{
    seen *s = ctx;
    static const char *names[] = {"residual", "ln1_out", "qkv", "attn_scores", "softmax", "attn_values",
                                  "attn_proj", "ln2_out", "gelu_in", "gelu_out", "mlp_out", "lnf_out", "logits"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(tensor, names[i]) == 0 && layer < 8) s->calls[layer][i]++;
    for (size_t i = 0; i < n; i++) s->values += isfinite(x[i]) ? 1 : 0;
}

static void test_observer_sees_every_tensor_and_changes_nothing(void **state)
{
    (void)state;
    cg_gpt2 *m;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &tiny, 3, &err), CG_OK);
    uint32_t tok[5] = {1, 2, 3, 4, 5};
    float a[11], b[11];
    cg_gpt2_state s1, s2;
    seen sn;
    memset(&sn, 0, sizeof sn);
    assert_int_equal(cg_gpt2_state_new(m, 5, &s1, &err), CG_OK);
    assert_int_equal(cg_gpt2_state_new(m, 5, &s2, &err), CG_OK);
    assert_int_equal(cg_gpt2_forward(m, &s1, tok, 5, a, false, 1, &err), CG_OK);
    assert_int_equal(cg_gpt2_forward_observed(m, &s2, tok, 5, b, false, 1, count_tensors, &sn, &err), CG_OK);
    for (int v = 0; v < 11; v++) assert_true(fabsf(a[v] - b[v]) <= 1e-6f * (1 + fabsf(a[v])));
    for (unsigned l = 0; l < tiny.n_layer; l++) {
        for (int i = 0; i < 11; i++)
            if (i != 3 && i != 4) assert_int_equal(sn.calls[l][i], 1);
        /* scores and softmax: one row per position and head */
        assert_int_equal(sn.calls[l][3], 5 * tiny.n_head);
        assert_int_equal(sn.calls[l][4], 5 * tiny.n_head);
    }
    assert_int_equal(sn.calls[tiny.n_layer][11], 1);
    assert_int_equal(sn.calls[tiny.n_layer][12], 1);
    cg_gpt2_state_free(&s1);
    cg_gpt2_state_free(&s2);
    cg_gpt2_free(m);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer_matches_reference),
        cmocka_unit_test(test_safetensors_roundtrip_and_rejection),
        cmocka_unit_test(test_forward_matches_naive_and_decode),
        cmocka_unit_test(test_observer_sees_every_tensor_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
