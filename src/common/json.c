/* Strict recursive-descent JSON parser with depth and size limits (common.h). */
#include "cryptogen/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct parser {
    const char *p, *end, *start;
    const char *what;
    cg_error *err;
    /* allocations are chained so one free releases everything */
    void **blocks;
    size_t nblocks, cap;
    cg_status st;
} parser;

static void *palloc(parser *ps, size_t n)
{
    if (ps->nblocks == ps->cap) {
        size_t nc = ps->cap ? ps->cap * 2 : 64;
        void **b = realloc(ps->blocks, nc * sizeof *b);
        if (!b) return NULL;
        ps->blocks = b;
        ps->cap = nc;
    }
    void *m = calloc(1, n ? n : 1);
    if (m) ps->blocks[ps->nblocks++] = m;
    return m;
}

typedef struct key_ref {
    const char *p;
    size_t len;
} key_ref;

static int key_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, m);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* A repeated key makes the meaning depend on which copy a reader picks (a
 * classic parser-differential trick), so it is an error. Sorting keeps this
 * O(n log n) for vocab.json's 50,257 keys. */
static bool has_duplicate_key(char *const *keys, const size_t *lens, size_t n)
{
    key_ref *r = malloc(n * sizeof *r);
    if (!r) return true; /* refuse rather than accept unchecked */
    for (size_t i = 0; i < n; i++) r[i] = (key_ref){keys[i], lens[i]};
    qsort(r, n, sizeof *r, key_cmp);
    bool dup = false;
    for (size_t i = 1; i < n && !dup; i++) dup = key_cmp(&r[i - 1], &r[i]) == 0;
    free(r);
    return dup;
}

static bool fail(parser *ps, const char *msg)
{
    if (ps->st == CG_OK)
        ps->st = cg_error_set(ps->err, CG_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s", ps->what,
                              (size_t)(ps->p - ps->start), msg);
    return false;
}

static void ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static bool parse_hex4(parser *ps, uint32_t *v)
{
    if (ps->end - ps->p < 4) return fail(ps, "short \\u escape");
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0) return fail(ps, "bad \\u escape");
        x = x * 16 + (uint32_t)h;
    }
    ps->p += 4;
    *v = x;
    return true;
}

static bool parse_string(parser *ps, char **out, size_t *outlen)
{
    ps->p++; /* opening quote */
    const char *s = ps->p;
    /* escapes never expand: the raw length bounds the decoded length */
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\\') ps->p++;
        ps->p++;
    }
    if (ps->p >= ps->end) return fail(ps, "unterminated string");
    const size_t raw = (size_t)(ps->p - s);
    char *o = palloc(ps, raw + 1);
    if (!o) return fail(ps, "out of memory");
    size_t k = 0;
    for (const char *q = s; q < ps->p;) {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) {
            ps->p = q;
            return fail(ps, "control character in string");
        }
        if (c != '\\') {
            o[k++] = (char)c;
            q++;
            continue;
        }
        q++;
        char e = *q++;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            const char *save = ps->p;
            ps->p = q;
            uint32_t cp;
            if (!parse_hex4(ps, &cp)) return false;
            if (cp >= 0xd800 && cp < 0xdc00) {
                uint32_t lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') return fail(ps, "lone surrogate");
                ps->p += 2;
                if (!parse_hex4(ps, &lo) || lo < 0xdc00 || lo >= 0xe000) return fail(ps, "bad surrogate pair");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return fail(ps, "lone surrogate");
            }
            q = ps->p;
            ps->p = save;
            k += put_utf8(o + k, cp);
            break;
        }
        default: ps->p = q; return fail(ps, "bad escape");
        }
    }
    o[k] = '\0';
    ps->p++; /* closing quote */
    *out = o;
    *outlen = k;
    return true;
}

static bool parse_value(parser *ps, cg_json *v, int depth);

static bool parse_container(parser *ps, cg_json *v, int depth, bool obj)
{
    ps->p++;
    size_t cap = 8, n = 0;
    cg_json *kids = malloc(cap * sizeof *kids);
    char **keys = obj ? malloc(cap * sizeof *keys) : NULL;
    size_t *klens = obj ? malloc(cap * sizeof *klens) : NULL;
    if (!kids || (obj && (!keys || !klens))) {
        free(kids);
        free(keys);
        free(klens);
        return fail(ps, "out of memory");
    }
    bool ok = true;
    ws(ps);
    if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
        ps->p++;
    } else {
        for (;;) {
            if (n == cap) {
                cap *= 2;
                cg_json *nk = realloc(kids, cap * sizeof *kids);
                if (nk) kids = nk;
                if (obj) {
                    char **nkeys = realloc(keys, cap * sizeof *keys);
                    if (nkeys) keys = nkeys;
                    size_t *nl = realloc(klens, cap * sizeof *klens);
                    if (nl) klens = nl;
                    if (!nkeys || !nl) nk = NULL;
                }
                if (!nk) {
                    ok = fail(ps, "out of memory");
                    break;
                }
            }
            ws(ps);
            if (obj) {
                if (ps->p >= ps->end || *ps->p != '"') {
                    ok = fail(ps, "expected a key");
                    break;
                }
                if (!(ok = parse_string(ps, &keys[n], &klens[n]))) break;
                ws(ps);
                if (ps->p >= ps->end || *ps->p != ':') {
                    ok = fail(ps, "expected ':'");
                    break;
                }
                ps->p++;
            }
            if (!(ok = parse_value(ps, &kids[n], depth + 1))) break;
            n++;
            ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == (obj ? '}' : ']')) {
                ps->p++;
                break;
            }
            ok = fail(ps, "expected ',' or a closing bracket");
            break;
        }
    }
    if (ok && obj && n > 1 && has_duplicate_key(keys, klens, n)) ok = fail(ps, "duplicate key in an object");
    /* move the children into the arena */
    cg_json *ak = palloc(ps, n * sizeof *ak);
    char **akeys = obj ? palloc(ps, n * sizeof *akeys) : NULL;
    size_t *aklens = obj ? palloc(ps, n * sizeof *aklens) : NULL;
    if (ak) memcpy(ak, kids, n * sizeof *ak);
    if (akeys) memcpy(akeys, keys, n * sizeof *akeys);
    if (aklens) memcpy(aklens, klens, n * sizeof *aklens);
    free(kids);
    free(keys);
    free(klens);
    if (!ak || (obj && (!akeys || !aklens))) return fail(ps, "out of memory");
    v->type = obj ? CG_JSON_OBJ : CG_JSON_ARR;
    v->kids = ak;
    v->keys = akeys;
    v->key_lens = aklens;
    v->len = n;
    return ok;
}

static bool parse_value(parser *ps, cg_json *v, int depth)
{
    if (depth > MAX_DEPTH) return fail(ps, "nested too deeply");
    ws(ps);
    if (ps->p >= ps->end) return fail(ps, "unexpected end");
    memset(v, 0, sizeof *v);
    char c = *ps->p;
    if (c == '{') return parse_container(ps, v, depth, true);
    if (c == '[') return parse_container(ps, v, depth, false);
    if (c == '"') {
        v->type = CG_JSON_STR;
        return parse_string(ps, &v->str, &v->len);
    }
    if (ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0) {
        v->type = CG_JSON_BOOL;
        v->b = true;
        ps->p += 4;
        return true;
    }
    if (ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0) {
        v->type = CG_JSON_BOOL;
        ps->p += 5;
        return true;
    }
    if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0) {
        v->type = CG_JSON_NULL;
        ps->p += 4;
        return true;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t k = 0;
        while (ps->p < ps->end && k < sizeof buf - 1 &&
               (strchr("+-.eE", *ps->p) || (*ps->p >= '0' && *ps->p <= '9')))
            buf[k++] = *ps->p++;
        buf[k] = '\0';
        char *endp;
        v->num = strtod(buf, &endp);
        if (endp != buf + k || !isfinite(v->num)) return fail(ps, "bad number");
        v->type = CG_JSON_NUM;
        return true;
    }
    return fail(ps, "unexpected character");
}

cg_status cg_json_parse(const char *text, size_t len, cg_json_doc *doc, const char *what, cg_error *err)
{
    parser ps = {.p = text, .end = text + len, .start = text, .what = what, .err = err, .st = CG_OK};
    memset(doc, 0, sizeof *doc);
    bool ok = parse_value(&ps, &doc->root, 0);
    if (ok) {
        ws(&ps);
        if (ps.p != ps.end) ok = fail(&ps, "trailing characters");
    }
    /* the arena is the list of blocks, prefixed by its length */
    doc->arena = malloc(sizeof(size_t) + ps.nblocks * sizeof(void *));
    if (doc->arena) {
        memcpy(doc->arena, &ps.nblocks, sizeof(size_t));
        if (ps.nblocks) memcpy((char *)doc->arena + sizeof(size_t), ps.blocks, ps.nblocks * sizeof(void *));
    } else {
        for (size_t i = 0; i < ps.nblocks; i++) free(ps.blocks[i]);
        ok = ok && fail(&ps, "out of memory");
    }
    free(ps.blocks);
    if (!ok) {
        cg_json_free(doc);
        return ps.st != CG_OK ? ps.st : cg_error_set(err, CG_ERR_FORMAT, "%s: invalid JSON", what);
    }
    return CG_OK;
}

void cg_json_free(cg_json_doc *doc)
{
    if (doc->arena) {
        size_t n;
        memcpy(&n, doc->arena, sizeof n);
        void **blocks = (void **)((char *)doc->arena + sizeof(size_t));
        for (size_t i = 0; i < n; i++) free(blocks[i]);
        free(doc->arena);
    }
    memset(doc, 0, sizeof *doc);
}

const cg_json *cg_json_get(const cg_json *obj, const char *key)
{
    if (!obj || obj->type != CG_JSON_OBJ) return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < obj->len; i++)
        if (obj->key_lens[i] == kl && memcmp(obj->keys[i], key, kl) == 0) return &obj->kids[i];
    return NULL;
}
