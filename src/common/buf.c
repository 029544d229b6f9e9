/* Growable output buffer, bounds-checked reader and bit packing. */
#include "cryptogen/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cg_buf_init(cg_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void cg_buf_free(cg_buf *b)
{
    cg_free(b->data);
    cg_buf_init(b);
}

void cg_buf_reset(cg_buf *b)
{
    if (b->data) cg_secure_zero(b->data, b->len);
    b->len = 0;
    b->failed = false;
}

bool cg_buf_reserve(cg_buf *b, size_t extra)
{
    if (b->failed) return false;
    if (extra > SIZE_MAX - b->len) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *d = cg_alloc(cap);
    if (!d) {
        b->failed = true;
        return false;
    }
    if (b->len) memcpy(d, b->data, b->len);
    cg_free(b->data);
    b->data = d;
    b->cap = cap;
    return true;
}

void cg_buf_put(cg_buf *b, const void *p, size_t n)
{
    if (!n || !cg_buf_reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_le(cg_buf *b, uint64_t v, int bytes)
{
    uint8_t t[8];
    for (int i = 0; i < bytes; i++) t[i] = (uint8_t)(v >> (8 * i));
    cg_buf_put(b, t, (size_t)bytes);
}

void cg_buf_put_u8(cg_buf *b, uint8_t v) { put_le(b, v, 1); }
void cg_buf_put_u16(cg_buf *b, uint16_t v) { put_le(b, v, 2); }
void cg_buf_put_u32(cg_buf *b, uint32_t v) { put_le(b, v, 4); }
void cg_buf_put_u64(cg_buf *b, uint64_t v) { put_le(b, v, 8); }

void cg_reader_init(cg_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = p ? len : 0;
    r->pos = 0;
}

size_t cg_reader_left(const cg_reader *r) { return r->len - r->pos; }

cg_status cg_read_bytes(cg_reader *r, void *out, size_t n, const char *what, cg_error *err)
{
    if (cg_reader_left(r) < n)
        return cg_error_set(err, CG_ERR_FORMAT, "truncated input: %s needs %zu bytes, %zu left",
                            what, n, cg_reader_left(r));
    if (n) memcpy(out, r->p + r->pos, n);
    r->pos += n;
    return CG_OK;
}

static cg_status read_le(cg_reader *r, uint64_t *v, int bytes, const char *what, cg_error *err)
{
    uint8_t t[8];
    CG_TRY(cg_read_bytes(r, t, (size_t)bytes, what, err));
    uint64_t x = 0;
    for (int i = bytes - 1; i >= 0; i--) x = (x << 8) | t[i];
    *v = x;
    return CG_OK;
}

cg_status cg_read_u8(cg_reader *r, uint8_t *v, const char *what, cg_error *err)
{
    uint64_t x;
    CG_TRY(read_le(r, &x, 1, what, err));
    *v = (uint8_t)x;
    return CG_OK;
}

cg_status cg_read_u16(cg_reader *r, uint16_t *v, const char *what, cg_error *err)
{
    uint64_t x;
    CG_TRY(read_le(r, &x, 2, what, err));
    *v = (uint16_t)x;
    return CG_OK;
}

cg_status cg_read_u32(cg_reader *r, uint32_t *v, const char *what, cg_error *err)
{
    uint64_t x;
    CG_TRY(read_le(r, &x, 4, what, err));
    *v = (uint32_t)x;
    return CG_OK;
}

cg_status cg_read_u64(cg_reader *r, uint64_t *v, const char *what, cg_error *err)
{
    return read_le(r, v, 8, what, err);
}

size_t cg_packed_size(size_t count, unsigned width)
{
    /* count * width bits, rounded up to bytes; callers bound count. */
    return (size_t)(((unsigned __int128)count * width + 7) / 8);
}

/* LSB-first bit packing, 64 bits at a time: value i occupies bits
 * [i width, (i + 1) width) of the little-endian byte string. Ciphertexts
 * are tens of MB per token, so a byte at a time was a serial bottleneck of
 * every message. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BUF_HOST_LE 1
#else
#define BUF_HOST_LE 0
#endif

static void store_le64(uint8_t *p, uint64_t v, size_t nbytes)
{
    if (BUF_HOST_LE && nbytes == 8) {
        memcpy(p, &v, 8); /* one store instead of eight */
        return;
    }
    for (size_t i = 0; i < nbytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t load_le64(const uint8_t *p, size_t nbytes)
{
    uint64_t v = 0;
    if (BUF_HOST_LE && nbytes == 8) {
        memcpy(&v, p, 8);
        return v;
    }
    for (size_t i = 0; i < nbytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void cg_pack_bits(uint8_t *out, const uint64_t *vals, size_t count, unsigned width)
{
    if (width == 64) {
        if (BUF_HOST_LE) memcpy(out, vals, 8 * count);
        else
            for (size_t i = 0; i < count; i++) store_le64(out + 8 * i, vals[i], 8);
        return;
    }
    const uint64_t mask = (1ull << width) - 1;
    uint64_t acc = 0;
    unsigned nacc = 0; /* valid low bits in acc, always < 64 */
    for (size_t i = 0; i < count; i++) {
        const uint64_t v = vals[i] & mask;
        acc |= v << nacc;
        const unsigned total = nacc + width;
        if (total >= 64) {
            store_le64(out, acc, 8);
            out += 8;
            acc = nacc ? v >> (64 - nacc) : 0;
            nacc = total - 64;
        } else {
            nacc = total;
        }
    }
    store_le64(out, acc, (nacc + 7) / 8);
}

void cg_unpack_bits(uint64_t *vals, const uint8_t *in, size_t count, unsigned width)
{
    if (width == 64) {
        if (BUF_HOST_LE) memcpy(vals, in, 8 * count);
        else
            for (size_t i = 0; i < count; i++) vals[i] = load_le64(in + 8 * i, 8);
        return;
    }
    const uint64_t mask = (1ull << width) - 1;
    size_t left = cg_packed_size(count, width);
    uint64_t acc = 0;
    unsigned nacc = 0; /* unread low bits in acc */
    for (size_t i = 0; i < count; i++) {
        uint64_t v = acc;
        if (nacc < width) {
            const size_t nb = left < 8 ? left : 8;
            const uint64_t next = load_le64(in, nb);
            in += nb;
            left -= nb;
            v |= next << nacc;
            const unsigned used = width - nacc; /* < 64: width < 64 here */
            acc = next >> used;
            nacc = (unsigned)(8 * nb) - used;
        } else {
            acc >>= width;
            nacc -= width;
        }
        vals[i] = v & mask;
    }
}

/* Random access (OT-extension receivers read one message of many): value
 * `index` without unpacking the rest. */
uint64_t cg_packed_get(const uint8_t *in, size_t len, size_t index, unsigned width)
{
    const uint64_t mask = width >= 64 ? ~0ull : (1ull << width) - 1;
    size_t bit = index * width, byte = bit / 8;
    unsigned sh = (unsigned)(bit % 8);
    if (sh + width <= 64 && byte + 8 <= len) return (load_le64(in + byte, 8) >> sh) & mask;
    /* Near the end of the buffer, or a value spanning nine bytes. */
    uint64_t v = 0;
    for (unsigned j = 0; j < width; j++) {
        size_t b = bit + j;
        v |= (uint64_t)((in[b / 8] >> (b % 8)) & 1u) << j;
    }
    return v;
}

void cg_buf_put_packed(cg_buf *b, const uint64_t *vals, size_t count, unsigned width)
{
    size_t nbytes = cg_packed_size(count, width);
    if (nbytes == 0 || !cg_buf_reserve(b, nbytes)) return;
    cg_pack_bits(b->data + b->len, vals, count, width);
    b->len += nbytes;
}

cg_status cg_read_packed(cg_reader *r, uint64_t *vals, size_t count, unsigned width,
                         const char *what, cg_error *err)
{
    if (width == 0 || width > 64)
        return cg_error_set(err, CG_ERR_FORMAT, "%s: bit width %u out of range", what, width);
    size_t nbytes = cg_packed_size(count, width);
    if (cg_reader_left(r) < nbytes)
        return cg_error_set(err, CG_ERR_FORMAT, "truncated input: %s needs %zu bytes, %zu left",
                            what, nbytes, cg_reader_left(r));
    cg_unpack_bits(vals, r->p + r->pos, count, width);
    r->pos += nbytes;
    return CG_OK;
}

cg_status cg_read_file(const char *path, size_t max, char **data, size_t *len, cg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cg_error_set(err, CG_ERR_IO, "cannot open %s", path);
    /* A cg_buf, so the result is cg_alloc'ed like everything else the
     * library hands out. At most max + 1 bytes are read: one past max tells
     * an oversized file without reading all of it. */
    const size_t limit = max < SIZE_MAX - 1 ? max + 1 : SIZE_MAX - 1;
    cg_buf b;
    cg_buf_init(&b);
    cg_status st = CG_OK;
    for (;;) {
        /* room to double what we have, plus the NUL */
        size_t want = b.len < 65536 ? 65536 : b.len;
        if (want > limit - b.len) want = limit - b.len;
        if (!cg_buf_reserve(&b, want + 1)) {
            st = cg_error_set(err, CG_ERR_NOMEM, "reading %s", path);
            break;
        }
        size_t got = fread(b.data + b.len, 1, want, f);
        b.len += got;
        if (b.len >= limit) { /* past max (limit is max + 1 unless max is absurd) */
            st = cg_error_set(err, CG_ERR_FORMAT, "%s is larger than %zu bytes", path, max);
            break;
        }
        if (got < want) {
            if (ferror(f)) st = cg_error_set(err, CG_ERR_IO, "cannot read %s", path);
            break;
        }
    }
    fclose(f);
    if (st != CG_OK) {
        cg_buf_free(&b);
        return st;
    }
    b.data[b.len] = '\0';
    *data = (char *)b.data;
    *len = b.len;
    return CG_OK;
}
