/* GPT-2 byte-level BPE: vocab.json + merges.txt, the GPT-2 pre-tokenisation
 * regex implemented by hand over generated Unicode tables, rank-ordered
 * merges. Bytes that are not valid UTF-8 are single "other" characters, so
 * any byte string round-trips exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cryptogen/model.h"
#include "model/unicode_tables.h"

/* Open-addressing map from byte strings to uint32 values. */
typedef struct smap {
    size_t cap, n;
    const char **keys;
    size_t *lens;
    uint32_t *vals;
} smap;

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static bool smap_init(smap *m, size_t expect)
{
    m->cap = 16;
    while (m->cap < expect * 2) m->cap *= 2;
    m->n = 0;
    m->keys = calloc(m->cap, sizeof *m->keys);
    m->lens = calloc(m->cap, sizeof *m->lens);
    m->vals = calloc(m->cap, sizeof *m->vals);
    return m->keys && m->lens && m->vals;
}

static void smap_free(smap *m)
{
    free(m->keys);
    free(m->lens);
    free(m->vals);
}

/* Returns false if the key already exists (value left as is). */
static bool smap_put(smap *m, const char *k, size_t n, uint32_t v)
{
    size_t i = fnv(k, n) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->lens[i] == n && memcmp(m->keys[i], k, n) == 0) return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = k;
    m->lens[i] = n;
    m->vals[i] = v;
    m->n++;
    return true;
}

static bool smap_get(const smap *m, const char *k, size_t n, uint32_t *v)
{
    size_t i = fnv(k, n) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->lens[i] == n && memcmp(m->keys[i], k, n) == 0) {
            *v = m->vals[i];
            return true;
        }
        i = (i + 1) & (m->cap - 1);
    }
    return false;
}

struct cg_tokenizer {
    cg_json_doc vocab_doc;
    char *merges_text;
    size_t vocab_size;
    const char **id_str; /* token strings (byte-level unicode, UTF-8) */
    size_t *id_len;
    smap vocab, ranks;
    char byte_enc[256][3]; /* UTF-8 of the char standing for each byte */
    uint8_t byte_enc_len[256];
    int16_t byte_dec[512]; /* code point -> byte, -1 if none */
};

static void make_byte_maps(cg_tokenizer *t)
{
    /* GPT-2: printable bytes map to themselves, the rest to 256 + k */
    int n = 0;
    for (int i = 0; i < 512; i++) t->byte_dec[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        unsigned cp = keep ? (unsigned)b : 256u + (unsigned)n++;
        t->byte_dec[cp] = (int16_t)b;
        if (cp < 0x80) {
            t->byte_enc[b][0] = (char)cp;
            t->byte_enc_len[b] = 1;
        } else {
            t->byte_enc[b][0] = (char)(0xc0 | (cp >> 6));
            t->byte_enc[b][1] = (char)(0x80 | (cp & 0x3f));
            t->byte_enc_len[b] = 2;
        }
    }
}

void cg_tokenizer_free(cg_tokenizer *t)
{
    if (!t) return;
    cg_json_free(&t->vocab_doc);
    cg_free(t->merges_text);
    free(t->id_str);
    free(t->id_len);
    smap_free(&t->vocab);
    smap_free(&t->ranks);
    free(t);
}

size_t cg_tokenizer_vocab_size(const cg_tokenizer *t) { return t->vocab_size; }

static cg_status load_vocab(cg_tokenizer *t, const char *text, size_t len, cg_error *err)
{
    CG_TRY(cg_json_parse(text, len, &t->vocab_doc, "vocab.json", err));
    const cg_json *r = &t->vocab_doc.root;
    if (r->type != CG_JSON_OBJ || r->len == 0 || r->len > 1000000)
        return cg_error_set(err, CG_ERR_FORMAT, "vocab.json: expected an object of tokens");
    t->vocab_size = r->len;
    t->id_str = calloc(r->len, sizeof *t->id_str);
    t->id_len = calloc(r->len, sizeof *t->id_len);
    if (!t->id_str || !t->id_len || !smap_init(&t->vocab, r->len))
        return cg_error_set(err, CG_ERR_NOMEM, "vocabulary");
    for (size_t i = 0; i < r->len; i++) {
        const cg_json *v = &r->kids[i];
        if (v->type != CG_JSON_NUM || v->num < 0 || v->num >= (double)r->len || v->num != (double)(uint32_t)v->num)
            return cg_error_set(err, CG_ERR_FORMAT, "vocab.json: token %zu has a bad id", i);
        uint32_t id = (uint32_t)v->num;
        if (t->id_str[id] || r->key_lens[i] == 0)
            return cg_error_set(err, CG_ERR_FORMAT, "vocab.json: id %u repeated or empty token", id);
        t->id_str[id] = r->keys[i];
        t->id_len[id] = r->key_lens[i];
        if (!smap_put(&t->vocab, r->keys[i], r->key_lens[i], id))
            return cg_error_set(err, CG_ERR_FORMAT, "vocab.json: token repeated");
    }
    return CG_OK;
}

static cg_status load_merges(cg_tokenizer *t, char *text, size_t len, cg_error *err)
{
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    if (!smap_init(&t->ranks, lines)) return cg_error_set(err, CG_ERR_NOMEM, "merges");
    uint32_t rank = 0;
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        if (le > p && le[-1] == '\r') le[-1] = '\0', le--;
        size_t n = (size_t)(le - p);
        if (n > 0 && !(p[0] == '#' && rank == 0)) {
            char *sp = memchr(p, ' ', n);
            if (!sp || sp == p || sp == le - 1 || memchr(sp + 1, ' ', (size_t)(le - sp - 1)))
                return cg_error_set(err, CG_ERR_FORMAT, "merges.txt: line %u is not two tokens", rank + 1);
            smap_put(&t->ranks, p, n, rank); /* key "A B"; a repeat keeps the first rank */
            rank++;
        }
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    return CG_OK;
}

cg_status cg_tokenizer_load(cg_tokenizer **out, const char *vocab_json, const char *merges_txt, cg_error *err)
{
    *out = NULL;
    cg_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return cg_error_set(err, CG_ERR_NOMEM, "tokenizer");
    make_byte_maps(t);
    char *vtext = NULL;
    size_t vlen = 0, mlen = 0;
    cg_status st = cg_read_file(vocab_json, 64u << 20, &vtext, &vlen, err);
    if (st == CG_OK) st = load_vocab(t, vtext, vlen, err);
    cg_free(vtext);
    if (st == CG_OK) st = cg_read_file(merges_txt, 64u << 20, &t->merges_text, &mlen, err);
    if (st == CG_OK) st = load_merges(t, t->merges_text, mlen, err);
    /* every byte must have a token of its own, or some input cannot be encoded */
    for (int b = 0; b < 256 && st == CG_OK; b++) {
        uint32_t id;
        if (!smap_get(&t->vocab, t->byte_enc[b], t->byte_enc_len[b], &id))
            st = cg_error_set(err, CG_ERR_FORMAT, "vocab.json lacks the token for byte %d", b);
    }
    if (st != CG_OK) {
        cg_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CG_OK;
}

cg_status cg_tokenizer_load_dir(cg_tokenizer **t, const char *dir, cg_error *err)
{
    char v[4096], m[4096];
    if (snprintf(v, sizeof v, "%s/vocab.json", dir) >= (int)sizeof v ||
        snprintf(m, sizeof m, "%s/merges.txt", dir) >= (int)sizeof m)
        return cg_error_set(err, CG_ERR_ARG, "path too long");
    return cg_tokenizer_load(t, v, m, err);
}

/* ---- pre-tokenisation -------------------------------------------------------- */

enum { C_OTHER, C_LETTER, C_NUMBER, C_SPACE };

static bool in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0])
            hi = mid;
        else if (cp > r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* Decodes one UTF-8 character at s (len > 0): its length and code point;
 * an invalid byte is a character of its own with cp = UINT32_MAX. */
static size_t utf8_char(const uint8_t *s, size_t len, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > len) {
        *cp = UINT32_MAX;
        return 1;
    }
    uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1fu) : n == 3 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = UINT32_MAX;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3fu);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[n] || v > 0x10ffff || (v >= 0xd800 && v < 0xe000)) {
        *cp = UINT32_MAX;
        return 1;
    }
    *cp = v;
    return n;
}

static int char_class(uint32_t cp)
{
    if (cp == UINT32_MAX) return C_OTHER;
    if (in_ranges(uni_space, uni_space_count, cp)) return C_SPACE;
    if (in_ranges(uni_letter, uni_letter_count, cp)) return C_LETTER;
    if (in_ranges(uni_number, uni_number_count, cp)) return C_NUMBER;
    return C_OTHER;
}

typedef struct uchar {
    size_t off, len;
    uint32_t cp;
    int cls;
} uchar;

/* Length in characters of the piece starting at character i (GPT-2 regex:
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+). */
static size_t next_piece(const uchar *c, size_t n, size_t i)
{
    if (c[i].cp == '\'' && i + 1 < n) {
        uint32_t a = c[i + 1].cp, b = i + 2 < n ? c[i + 2].cp : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    size_t j = i + (c[i].cp == ' ' && i + 1 < n && c[i + 1].cls != C_SPACE ? 1 : 0);
    if (j < n && c[j].cls != C_SPACE) {
        const int cls = c[j].cls;
        size_t k = j;
        while (k < n && c[k].cls == cls) k++;
        return k - i;
    }
    /* whitespace run */
    size_t k = i;
    while (k < n && c[k].cls == C_SPACE) k++;
    if (k < n && k - i > 1) return k - i - 1; /* leave the last one to join the next word */
    return k - i;
}

/* BPE over one piece's byte-level symbols; appends ids. */
static cg_status bpe_piece(const cg_tokenizer *t, const uint8_t *bytes, size_t nb, uint32_t **ids, size_t *n,
                           size_t *cap, cg_error *err)
{
    /* symbols are spans of the encoded string */
    char *enc = malloc(nb * 2 + 1);
    size_t *st = malloc((nb + 1) * sizeof *st), *ln = malloc((nb + 1) * sizeof *ln);
    char *key = malloc(nb * 2 + 2);
    if (!enc || !st || !ln || !key) {
        free(enc), free(st), free(ln), free(key);
        return cg_error_set(err, CG_ERR_NOMEM, "tokenizer");
    }
    size_t el = 0, ns = nb;
    for (size_t i = 0; i < nb; i++) {
        st[i] = el;
        ln[i] = t->byte_enc_len[bytes[i]];
        memcpy(enc + el, t->byte_enc[bytes[i]], ln[i]);
        el += ln[i];
    }
    for (;;) {
        uint32_t best = UINT32_MAX, r;
        size_t at = 0;
        for (size_t i = 0; i + 1 < ns; i++) {
            memcpy(key, enc + st[i], ln[i]);
            key[ln[i]] = ' ';
            memcpy(key + ln[i] + 1, enc + st[i + 1], ln[i + 1]);
            if (smap_get(&t->ranks, key, ln[i] + 1 + ln[i + 1], &r) && r < best) {
                best = r;
                at = i;
            }
        }
        if (best == UINT32_MAX) break;
        /* merge every occurrence of that pair, left to right */
        const size_t la = ln[at], lb = ln[at + 1];
        char pa[1024], pb[1024];
        if (la > sizeof pa || lb > sizeof pb) break;
        memcpy(pa, enc + st[at], la);
        memcpy(pb, enc + st[at + 1], lb);
        size_t w = 0;
        for (size_t i = 0; i < ns;) {
            if (i + 1 < ns && ln[i] == la && ln[i + 1] == lb && memcmp(enc + st[i], pa, la) == 0 &&
                memcmp(enc + st[i + 1], pb, lb) == 0) {
                st[w] = st[i];
                ln[w] = la + lb; /* spans are adjacent in enc */
                i += 2;
            } else {
                st[w] = st[i];
                ln[w] = ln[i];
                i++;
            }
            w++;
        }
        ns = w;
    }
    cg_status res = CG_OK;
    for (size_t i = 0; i < ns && res == CG_OK; i++) {
        uint32_t id;
        if (!smap_get(&t->vocab, enc + st[i], ln[i], &id)) {
            res = cg_error_set(err, CG_ERR_FORMAT, "merge result missing from the vocabulary");
            break;
        }
        if (*n == *cap) {
            /* cg_alloc'ed, as the caller frees it with cg_free */
            size_t nc = *cap ? *cap * 2 : 64;
            uint32_t *ni = cg_calloc(nc, sizeof *ni);
            if (!ni) {
                res = cg_error_set(err, CG_ERR_NOMEM, "tokenizer");
                break;
            }
            if (*n) memcpy(ni, *ids, *n * sizeof *ni);
            cg_free(*ids);
            *ids = ni;
            *cap = nc;
        }
        (*ids)[(*n)++] = id;
    }
    free(enc), free(st), free(ln), free(key);
    return res;
}

cg_status cg_tokenizer_encode(const cg_tokenizer *t, const char *text, size_t len, uint32_t **ids, size_t *n,
                              cg_error *err)
{
    *ids = NULL;
    *n = 0;
    size_t cap = 0;
    uchar *c = malloc((len + 1) * sizeof *c);
    if (!c) return cg_error_set(err, CG_ERR_NOMEM, "tokenizer");
    size_t nc = 0;
    for (size_t off = 0; off < len;) {
        uint32_t cp;
        size_t l = utf8_char((const uint8_t *)text + off, len - off, &cp);
        c[nc++] = (uchar){off, l, cp, char_class(cp)};
        off += l;
    }
    cg_status st = CG_OK;
    for (size_t i = 0; i < nc && st == CG_OK;) {
        size_t k = next_piece(c, nc, i);
        size_t b0 = c[i].off, b1 = c[i + k - 1].off + c[i + k - 1].len;
        st = bpe_piece(t, (const uint8_t *)text + b0, b1 - b0, ids, n, &cap, err);
        i += k;
    }
    free(c);
    if (st != CG_OK) {
        cg_free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return st;
}

cg_status cg_tokenizer_decode(const cg_tokenizer *t, const uint32_t *ids, size_t n, char **out, size_t *len,
                              cg_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= t->vocab_size) return cg_error_set(err, CG_ERR_ARG, "token id %u outside the vocabulary", ids[i]);
        total += t->id_len[ids[i]];
    }
    char *o = cg_alloc(total + 1);
    if (!o) return cg_error_set(err, CG_ERR_NOMEM, "decode");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = (const uint8_t *)t->id_str[ids[i]];
        size_t l = t->id_len[ids[i]];
        for (size_t j = 0; j < l;) {
            uint32_t cp;
            size_t cl = utf8_char(s + j, l - j, &cp);
            if (cp >= 512 || t->byte_dec[cp] < 0) {
                cg_free(o);
                return cg_error_set(err, CG_ERR_FORMAT, "token %u is not byte-level", ids[i]);
            }
            o[k++] = (char)t->byte_dec[cp];
            j += cl;
        }
    }
    o[k] = '\0';
    *out = o;
    *len = k;
    return CG_OK;
}
