/* GPT-2 checkpoints: config.json, memory-mapped safetensors with every
 * header field validated, random-weight models. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cryptogen/model.h"

cg_gpt2_config cg_gpt2_base_config(void)
{
    return (cg_gpt2_config){.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                            .vocab_size = 50257, .ln_eps = 1e-5f};
}

cg_status cg_gpt2_named_config(const char *name, cg_gpt2_config *cfg, cg_error *err)
{
    /* OpenAI's and Hugging Face's GPT-2 family (head size 64 throughout; XL's
     * 25 heads make a width of 1,600, not a power of two) */
    static const struct {
        const char *name;
        uint32_t layers, heads, width;
    } sizes[] = {{"gpt2-base", 12, 12, 768},  {"gpt2", 12, 12, 768},
                 {"gpt2-medium", 24, 16, 1024}, {"gpt2-large", 36, 20, 1280},
                 {"gpt2-xl", 48, 25, 1600},   {"distilgpt2", 6, 12, 768}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(name, sizes[i].name) == 0) {
            *cfg = cg_gpt2_base_config();
            cfg->n_layer = sizes[i].layers;
            cfg->n_head = sizes[i].heads;
            cfg->n_embd = sizes[i].width;
            return CG_OK;
        }
    return cg_error_set(err, CG_ERR_ARG,
                        "'%s' is not gpt2-base, gpt2-medium, gpt2-large, gpt2-xl or distilgpt2", name);
}

cg_status cg_gpt2_config_check(const cg_gpt2_config *c, cg_error *err)
{
    if (c->n_layer < 1 || c->n_layer > 128 || c->n_head < 1 || c->n_head > 256 || c->n_embd < 1 ||
        c->n_embd > 16384 || c->n_positions < 1 || c->n_positions > 65536 || c->vocab_size < 1 ||
        c->vocab_size > 1000000)
        return cg_error_set(err, CG_ERR_FORMAT, "model configuration out of range");
    if (c->n_embd % c->n_head)
        return cg_error_set(err, CG_ERR_FORMAT, "n_embd %u is not a multiple of n_head %u", c->n_embd,
                            c->n_head);
    if (!(c->ln_eps > 0 && c->ln_eps < 1)) return cg_error_set(err, CG_ERR_FORMAT, "layer_norm_epsilon");
    return CG_OK;
}

static cg_status get_u32(const cg_json *root, const char *key, const char *alt, uint32_t *out, cg_error *err)
{
    const cg_json *v = cg_json_get(root, key);
    if (!v && alt) v = cg_json_get(root, alt);
    if (!v || v->type != CG_JSON_NUM || v->num < 0 || v->num > 4294967295.0 || v->num != floor(v->num))
        return cg_error_set(err, CG_ERR_FORMAT, "config.json: '%s' missing or not a non-negative integer", key);
    *out = (uint32_t)v->num;
    return CG_OK;
}

/* Fields of a Hugging Face GPT-2 config.json that would change the model's
 * function: a value other than the one implemented is refused by name
 * rather than computed differently in silence. */
static cg_status check_unsupported(const cg_json *root, uint32_t n_embd, cg_error *err)
{
    const cg_json *v = cg_json_get(root, "model_type");
    if (v && (v->type != CG_JSON_STR || strcmp(v->str, "gpt2") != 0))
        return cg_error_set(err, CG_ERR_FORMAT, "config.json: model_type '%s' is not supported (only gpt2)",
                            v->type == CG_JSON_STR ? v->str : "?");
    v = cg_json_get(root, "activation_function");
    if (v && (v->type != CG_JSON_STR ||
              (strcmp(v->str, "gelu_new") != 0 && strcmp(v->str, "gelu_pytorch_tanh") != 0)))
        return cg_error_set(err, CG_ERR_FORMAT,
                            "config.json: activation_function '%s' is not implemented (gelu_new or "
                            "gelu_pytorch_tanh, GELU's tanh form)",
                            v->type == CG_JSON_STR ? v->str : "?");
    static const struct {
        const char *key;
        bool want;
    } flags[] = {{"scale_attn_weights", true},
                 {"scale_attn_by_inverse_layer_idx", false},
                 {"add_cross_attention", false},
                 {"tie_word_embeddings", true}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        v = cg_json_get(root, flags[i].key);
        if (v && (v->type != CG_JSON_BOOL || v->b != flags[i].want))
            return cg_error_set(err, CG_ERR_FORMAT, "config.json: %s other than %s is not implemented",
                                flags[i].key, flags[i].want ? "true" : "false");
    }
    v = cg_json_get(root, "n_inner");
    if (v && v->type != CG_JSON_NULL && (v->type != CG_JSON_NUM || v->num != 4.0 * n_embd))
        return cg_error_set(err, CG_ERR_FORMAT,
                            "config.json: n_inner other than 4 x n_embd (%u) is not implemented", 4 * n_embd);
    return CG_OK;
}

static cg_status parse_config(const char *path, cg_gpt2_config *c, cg_error *err)
{
    char *text = NULL;
    size_t len = 0;
    CG_TRY(cg_read_file(path, 1 << 20, &text, &len, err));
    cg_json_doc doc;
    cg_status st = cg_json_parse(text, len, &doc, "config.json", err);
    cg_free(text);
    if (st != CG_OK) return st;
    *c = (cg_gpt2_config){0};
    if (st == CG_OK) st = get_u32(&doc.root, "n_layer", "num_hidden_layers", &c->n_layer, err);
    if (st == CG_OK) st = get_u32(&doc.root, "n_head", "num_attention_heads", &c->n_head, err);
    if (st == CG_OK) st = get_u32(&doc.root, "n_embd", "hidden_size", &c->n_embd, err);
    if (st == CG_OK) st = get_u32(&doc.root, "n_positions", "max_position_embeddings", &c->n_positions, err);
    if (st == CG_OK) st = get_u32(&doc.root, "vocab_size", NULL, &c->vocab_size, err);
    if (st == CG_OK) {
        const cg_json *e = cg_json_get(&doc.root, "layer_norm_epsilon");
        c->ln_eps = e && e->type == CG_JSON_NUM ? (float)e->num : 1e-5f;
        st = cg_gpt2_config_check(c, err);
    }
    if (st == CG_OK) st = check_unsupported(&doc.root, c->n_embd, err);
    cg_json_free(&doc);
    return st;
}

/* Tensor table of a GPT-2 model: name suffix and expected shape. */
typedef struct want {
    char name[64];
    uint32_t rows, cols; /* cols == 0: a vector of `rows` */
    const float **dst;
} want;

static size_t build_wants(cg_gpt2 *m, want *w)
{
    const cg_gpt2_config *c = &m->cfg;
    const uint32_t d = c->n_embd;
    size_t k = 0;
#define W(nm, r, cc, ptr) (snprintf(w[k].name, sizeof w[k].name, "%s", nm), w[k].rows = (r), w[k].cols = (cc), w[k].dst = (ptr), k++)
    W("wte.weight", c->vocab_size, d, &m->wte);
    W("wpe.weight", c->n_positions, d, &m->wpe);
    W("ln_f.weight", d, 0, &m->lnf_w);
    W("ln_f.bias", d, 0, &m->lnf_b);
    for (uint32_t l = 0; l < c->n_layer; l++) {
        cg_gpt2_layer *L = &m->layers[l];
        char nm[64];
#define WL(suffix, r, cc, ptr) (snprintf(nm, sizeof nm, "h.%u.%s", l, suffix), W(nm, r, cc, ptr))
        WL("ln_1.weight", d, 0, &L->ln1_w);
        WL("ln_1.bias", d, 0, &L->ln1_b);
        WL("attn.c_attn.weight", d, 3 * d, &L->attn_w);
        WL("attn.c_attn.bias", 3 * d, 0, &L->attn_b);
        WL("attn.c_proj.weight", d, d, &L->proj_w);
        WL("attn.c_proj.bias", d, 0, &L->proj_b);
        WL("ln_2.weight", d, 0, &L->ln2_w);
        WL("ln_2.bias", d, 0, &L->ln2_b);
        WL("mlp.c_fc.weight", d, 4 * d, &L->fc_w);
        WL("mlp.c_fc.bias", 4 * d, 0, &L->fc_b);
        WL("mlp.c_proj.weight", 4 * d, d, &L->fc2_w);
        WL("mlp.c_proj.bias", d, 0, &L->fc2_b);
#undef WL
    }
#undef W
    return k;
}

static size_t want_count(const cg_gpt2 *m, const want *w, size_t i)
{
    (void)m;
    return (size_t)w[i].rows * (w[i].cols ? w[i].cols : 1);
}

static cg_status alloc_model(cg_gpt2 **out, const cg_gpt2_config *cfg, want **wants, size_t *nw,
                             cg_error *err)
{
    CG_TRY(cg_gpt2_config_check(cfg, err));
    cg_gpt2 *m = calloc(1, sizeof *m);
    want *w = m ? calloc(4 + 12 * (size_t)cfg->n_layer, sizeof *w) : NULL;
    if (m) m->layers = calloc(cfg->n_layer, sizeof *m->layers);
    if (!m || !w || !m->layers) {
        if (m) free(m->layers);
        free(m);
        free(w);
        return cg_error_set(err, CG_ERR_NOMEM, "model");
    }
    m->cfg = *cfg;
    size_t k = build_wants(m, w), total = 0;
    for (size_t i = 0; i < k; i++) total += want_count(m, w, i);
    size_t bytes;
    if (!cg_mul_size(total, sizeof(float), &bytes) || !(m->storage = malloc(bytes))) {
        free(m->layers);
        free(m);
        free(w);
        return cg_error_set(err, CG_ERR_NOMEM, "model weights (%zu floats)", total);
    }
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        *w[i].dst = m->storage + off;
        off += want_count(m, w, i);
    }
    *out = m;
    *wants = w;
    *nw = k;
    return CG_OK;
}

void cg_gpt2_free(cg_gpt2 *m)
{
    if (!m) return;
    free(m->storage);
    free(m->layers);
    free(m);
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

cg_status cg_gpt2_load_files(cg_gpt2 **out, const char *config_path, const char *weights_path, cg_error *err)
{
    *out = NULL;
    cg_gpt2_config cfg;
    CG_TRY(parse_config(config_path, &cfg, err));
    int fd = open(weights_path, O_RDONLY);
    if (fd < 0) return cg_error_set(err, CG_ERR_IO, "cannot open %s", weights_path);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || sb.st_size < 8) {
        close(fd);
        return cg_error_set(err, CG_ERR_FORMAT, "%s: too short for a safetensors file", weights_path);
    }
    const size_t fsize = (size_t)sb.st_size;
    const uint8_t *map = mmap(NULL, fsize, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return cg_error_set(err, CG_ERR_IO, "cannot map %s", weights_path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | map[i];
    cg_status st = CG_OK;
    if (hlen > 100u << 20 || hlen > fsize - 8)
        st = cg_error_set(err, CG_ERR_FORMAT, "safetensors header length %llu does not fit the file",
                          (unsigned long long)hlen);
    cg_json_doc doc = {0};
    if (st == CG_OK) st = cg_json_parse((const char *)map + 8, (size_t)hlen, &doc, "safetensors header", err);
    if (st == CG_OK && doc.root.type != CG_JSON_OBJ)
        st = cg_error_set(err, CG_ERR_FORMAT, "safetensors header is not an object");
    cg_gpt2 *m = NULL;
    want *w = NULL;
    size_t nw = 0;
    if (st == CG_OK) st = alloc_model(&m, &cfg, &w, &nw, err);
    /* Formed only once hlen is known to fit: a pointer past the mapping is
     * undefined behaviour even if never read. */
    const uint8_t *data = st == CG_OK ? map + 8 + hlen : map;
    const size_t dlen = st == CG_OK ? fsize - 8 - (size_t)hlen : 0;
    /* every tensor in the header: valid dtype/shape/offsets, no overlap */
    size_t nt = st == CG_OK ? doc.root.len : 0;
    uint64_t (*spans)[2] = nt ? calloc(nt, sizeof *spans) : NULL;
    size_t nspans = 0;
    bool *found = w ? calloc(nw, sizeof *found) : NULL;
    if (st == CG_OK && ((nt && !spans) || !found)) st = cg_error_set(err, CG_ERR_NOMEM, "loader");
    for (size_t i = 0; i < nt && st == CG_OK; i++) {
        const char *name = doc.root.keys[i];
        const cg_json *t = &doc.root.kids[i];
        if (strcmp(name, "__metadata__") == 0) continue;
        const cg_json *dt = cg_json_get(t, "dtype"), *sh = cg_json_get(t, "shape"),
                      *of = cg_json_get(t, "data_offsets");
        if (!dt || dt->type != CG_JSON_STR || !sh || sh->type != CG_JSON_ARR || !of || of->type != CG_JSON_ARR ||
            of->len != 2 || of->kids[0].type != CG_JSON_NUM || of->kids[1].type != CG_JSON_NUM) {
            st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s': missing dtype, shape or data_offsets", name);
            break;
        }
        unsigned esize = strcmp(dt->str, "F32") == 0 ? 4 : (strcmp(dt->str, "F16") == 0 || strcmp(dt->str, "BF16") == 0) ? 2 : 0;
        if (!esize) {
            st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s': unsupported dtype %s", name, dt->str);
            break;
        }
        uint64_t count = 1;
        for (size_t d = 0; d < sh->len && st == CG_OK; d++) {
            double v = sh->kids[d].num;
            if (sh->kids[d].type != CG_JSON_NUM || v < 0 || v != floor(v) || v > 1e12 || count > (1ull << 40))
                st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s': bad shape", name);
            else
                count *= (uint64_t)v;
        }
        if (st != CG_OK) break;
        double b0 = of->kids[0].num, b1 = of->kids[1].num;
        if (b0 < 0 || b1 < b0 || b1 > (double)dlen || b0 != floor(b0) || b1 != floor(b1) ||
            (uint64_t)(b1 - b0) != count * esize) {
            st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s': data_offsets [%.0f, %.0f] outside the %zu-byte data or not matching its shape",
                              name, b0, b1, dlen);
            break;
        }
        const uint64_t beg = (uint64_t)b0, end = (uint64_t)b1;
        for (size_t s = 0; s < nspans && st == CG_OK; s++)
            if (beg < spans[s][1] && spans[s][0] < end)
                st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s' overlaps another tensor", name);
        if (st != CG_OK) break;
        spans[nspans][0] = beg;
        spans[nspans][1] = end;
        nspans++;
        const char *base = strncmp(name, "transformer.", 12) == 0 ? name + 12 : name;
        if (strcmp(base, "lm_head.weight") == 0) continue; /* tied: wte is used */
        unsigned long layer_no;
        if (sscanf(base, "h.%lu.", &layer_no) == 1 && layer_no >= cfg.n_layer) {
            st = cg_error_set(err, CG_ERR_FORMAT,
                              "tensor '%s' belongs to layer %lu, but config.json's n_layer is %u", name,
                              layer_no, cfg.n_layer);
            break;
        }
        size_t wi = nw;
        for (size_t j = 0; j < nw; j++)
            if (strcmp(w[j].name, base) == 0) wi = j;
        if (wi == nw) continue; /* attn.bias masks and other extras are ignored */
        if (found[wi]) {
            st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s' appears twice", name);
            break;
        }
        bool shape_ok = w[wi].cols ? (sh->len == 2 && sh->kids[0].num == w[wi].rows && sh->kids[1].num == w[wi].cols)
                                   : (sh->len == 1 && sh->kids[0].num == w[wi].rows);
        if (!shape_ok) {
            st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s': shape does not match the configuration", name);
            break;
        }
        float *dst = (float *)*w[wi].dst;
        const uint8_t *src = data + beg;
        for (uint64_t e = 0; e < count; e++) {
            if (esize == 4) {
                memcpy(&dst[e], src + 4 * e, 4);
            } else {
                uint16_t h = (uint16_t)(src[2 * e] | (src[2 * e + 1] << 8));
                if (dt->str[0] == 'B') {
                    uint32_t bits = (uint32_t)h << 16;
                    memcpy(&dst[e], &bits, 4);
                } else {
                    dst[e] = half_to_float(h);
                }
            }
        }
        for (uint64_t e = 0; e < count; e++)
            if (!isfinite(dst[e])) {
                st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s': element %llu is not finite", name,
                                  (unsigned long long)e);
                break;
            }
        if (st != CG_OK) break;
        found[wi] = true;
    }
    for (size_t j = 0; j < nw && st == CG_OK; j++)
        if (!found[j]) st = cg_error_set(err, CG_ERR_FORMAT, "tensor '%s' is missing", w[j].name);
    free(spans);
    free(found);
    free(w);
    cg_json_free(&doc);
    munmap((void *)map, fsize);
    if (st != CG_OK) {
        cg_gpt2_free(m);
        return st;
    }
    *out = m;
    return CG_OK;
}

cg_status cg_gpt2_load(cg_gpt2 **out, const char *dir, cg_error *err)
{
    char c[4096], w[4096];
    if (snprintf(c, sizeof c, "%s/config.json", dir) >= (int)sizeof c ||
        snprintf(w, sizeof w, "%s/model.safetensors", dir) >= (int)sizeof w)
        return cg_error_set(err, CG_ERR_ARG, "model directory path too long");
    return cg_gpt2_load_files(out, c, w, err);
}

cg_status cg_gpt2_random(cg_gpt2 **out, const cg_gpt2_config *cfg, uint64_t seed, cg_error *err)
{
    *out = NULL;
    cg_gpt2 *m;
    want *w;
    size_t nw;
    CG_TRY(alloc_model(&m, cfg, &w, &nw, err));
    uint8_t key[CG_SEED_BYTES] = {0};
    memcpy(key, &seed, sizeof seed);
    cg_prg prg;
    cg_prg_init(&prg, key, 0x6770743272616e64ull);
    for (size_t i = 0; i < nw; i++) {
        float *dst = (float *)*w[i].dst;
        const size_t cnt = want_count(m, w, i);
        const bool is_ln_w = strstr(w[i].name, "ln_") && strstr(w[i].name, ".weight");
        const bool is_bias = strstr(w[i].name, ".bias") != NULL;
        for (size_t e = 0; e < cnt; e++) {
            /* uniform with std 0.02 (range +-0.0346); LayerNorm gains near 1 */
            double u = (double)(cg_prg_u64(&prg) >> 11) / 9007199254740992.0 * 2 - 1;
            dst[e] = is_ln_w ? (float)(1.0 + 0.1 * u) : is_bias ? (float)(0.01 * u) : (float)(0.0346 * u);
        }
    }
    free(w);
    *out = m;
    return CG_OK;
}
