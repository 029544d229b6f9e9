/* cryptogen common layer: errors, memory, randomness, CPU features, threads,
 * bounds-checked byte buffers. Every other layer builds on this one. */
#ifndef CRYPTOGEN_COMMON_H
#define CRYPTOGEN_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

#define CG_VERSION_MAJOR 0
#define CG_VERSION_MINOR 1
#define CG_VERSION_PATCH 0
#define CG_VERSION_STRING "0.1.0"

/* ---- Errors ------------------------------------------------------------
 * Fallible functions return a cg_status (CG_OK == 0, errors < 0) and take a
 * cg_error * as their last argument (may be NULL) that receives a message.
 * The library never aborts or exits. */
typedef enum cg_status {
    CG_OK = 0,
    CG_ERR_ARG = -1,         /* bad argument from the caller */
    CG_ERR_NOMEM = -2,       /* allocation failed */
    CG_ERR_FORMAT = -3,      /* malformed, truncated or oversized input */
    CG_ERR_PARAM = -4,       /* insecure, unsupported or mismatched parameters */
    CG_ERR_IO = -5,          /* file or socket error */
    CG_ERR_PEER = -6,        /* the peer disconnected or misbehaved */
    CG_ERR_TIMEOUT = -7,     /* the peer stalled past the timeout */
    CG_ERR_CRYPTO = -8,      /* a cryptographic primitive failed */
    CG_ERR_UNSUPPORTED = -9, /* not available on this CPU / build */
    CG_ERR_STATE = -10,      /* object used in the wrong state */
    CG_ERR_RANGE = -11,      /* a value outside its documented range */
    CG_ERR_NOISE = -12,      /* ciphertext noise budget exhausted */
    CG_ERR_INTERNAL = -13    /* a bug: an invariant did not hold */
} cg_status;

#define CG_ERROR_MSG_LEN 256
typedef struct cg_error {
    cg_status code;
    char msg[CG_ERROR_MSG_LEN];
} cg_error;

/* Short name of a status ("CG_ERR_FORMAT"). */
const char *cg_status_name(cg_status s);
/* Records code and a printf-style message in err (if non-NULL); returns code
 * so that callers can write `return cg_error_set(err, CG_ERR_ARG, "...")`. */
cg_status cg_error_set(cg_error *err, cg_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cg_error_clear(cg_error *err);

/* Propagate a failing status. */
#define CG_TRY(expr)                                                                   \
    do {                                                                               \
        cg_status cg_try_status_ = (expr);                                             \
        if (cg_try_status_ != CG_OK) return cg_try_status_;                            \
    } while (0)

/* ---- Memory --------------------------------------------------------------
 * 64-byte aligned allocations (AVX-512 loads) that are zeroed on free.
 * Memory that did not come from cg_alloc (the stack, malloc) and held
 * secrets is wiped with cg_secure_zero; cg_free wipes what it owns. */
void *cg_alloc(size_t size);                /* aligned, uninitialised; NULL on failure */
void *cg_calloc(size_t count, size_t size); /* aligned, zeroed; checks overflow */
/* Wipes then frees; NULL is fine. Only for cg_alloc'ed blocks (anything else
 * corrupts the heap). Every plain buffer the library hands its caller to
 * release (cg_read_file's data, the tokenizer's ids and text) is cg_alloc'ed:
 * cg_free it, never free(). Objects have their own _free functions. */
void cg_free(void *p);
void cg_secure_zero(void *p, size_t n);     /* not optimised away */
/* Constant-time comparison of two byte strings: 0 when equal. */
int cg_ct_memcmp(const void *a, const void *b, size_t n);
/* size = a * b with overflow check; false on overflow. */
bool cg_mul_size(size_t a, size_t b, size_t *out);

/* ---- Randomness ------------------------------------------------------------
 * All randomness comes from the OS CSPRNG (libsodium's randombytes) or from a
 * cg_prg keyed by 32 bytes drawn from it. A cg_prg is a ChaCha20 stream:
 * deterministic given (seed, stream id), which lets one side send a 32-byte
 * seed instead of a uniform polynomial. Never reuse (seed, stream) for two
 * purposes. */
#define CG_SEED_BYTES 32
typedef struct cg_prg {
    uint8_t key[CG_SEED_BYTES];
    uint8_t nonce[12]; /* stream id (8 bytes), then block >> 32 (4 bytes) */
    uint64_t block;    /* 64-byte blocks used: ChaCha20's 32-bit counter is block & (2^32 - 1) */
    uint8_t buf[512];
    size_t buf_pos;
} cg_prg;

/* Initialises the library (libsodium); call once before use. Idempotent. */
cg_status cg_init(cg_error *err);
/* Bytes from the OS CSPRNG. */
void cg_random_bytes(void *out, size_t n);
/* Seeded PRG; stream_id separates independent streams from one seed. */
void cg_prg_init(cg_prg *prg, const uint8_t seed[CG_SEED_BYTES], uint64_t stream_id);
/* PRG with a fresh random seed. */
void cg_prg_init_random(cg_prg *prg);
void cg_prg_bytes(cg_prg *prg, void *out, size_t n);
uint64_t cg_prg_u64(cg_prg *prg);
/* Uniform in [0, bound) by rejection (no modulo bias); bound > 0. */
uint64_t cg_prg_uniform(cg_prg *prg, uint64_t bound);
/* Wipes the PRG state. */
void cg_prg_clear(cg_prg *prg);

/* ---- CPU features and SIMD back-end choice -------------------------------- */
enum {
    CG_CPU_AVX2 = 1u << 0,
    CG_CPU_AVX512F = 1u << 1,    /* with DQ, BW, VL */
    CG_CPU_AVX512IFMA = 1u << 2, /* 52-bit multiply-add */
    CG_CPU_AESNI = 1u << 3,
    CG_CPU_PCLMUL = 1u << 4,
    CG_CPU_BMI2 = 1u << 5
};
/* What this CPU supports, masked by the environment variable CG_SIMD
 * ("portable", "avx2", "avx512"): a way to force a slower path for tests and
 * benchmarks. */
unsigned cg_cpu_features(void);
/* What the CPU supports, ignoring CG_SIMD. */
unsigned cg_cpu_features_raw(void);

/* ---- Threads -------------------------------------------------------------- */
/* Calls fn(ctx, begin, end) over [0, n) split into contiguous chunks on up to
 * nthreads threads (the calling thread does one chunk). nthreads <= 1 runs
 * inline. Returns CG_ERR_NOMEM/CG_ERR_INTERNAL if threads cannot start, after
 * running the remaining work inline (so work is always done). */
typedef void (*cg_range_fn)(void *ctx, size_t begin, size_t end);
cg_status cg_parallel_for(int nthreads, size_t n, cg_range_fn fn, void *ctx);
/* Number of online CPUs. */
int cg_cpu_count(void);

/* ---- Time ----------------------------------------------------------------- */
uint64_t cg_now_ns(void); /* monotonic */

/* ---- Byte buffers ----------------------------------------------------------
 * cg_buf: growable output buffer; cg_reader: bounds-checked input cursor.
 * Integers are little-endian on the wire. */
typedef struct cg_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed: the content is incomplete */
} cg_buf;

void cg_buf_init(cg_buf *b);
void cg_buf_free(cg_buf *b); /* wipes */
void cg_buf_reset(cg_buf *b);
bool cg_buf_reserve(cg_buf *b, size_t extra);
void cg_buf_put(cg_buf *b, const void *p, size_t n);
void cg_buf_put_u8(cg_buf *b, uint8_t v);
void cg_buf_put_u16(cg_buf *b, uint16_t v);
void cg_buf_put_u32(cg_buf *b, uint32_t v);
void cg_buf_put_u64(cg_buf *b, uint64_t v);

typedef struct cg_reader {
    const uint8_t *p;
    size_t len;
    size_t pos;
} cg_reader;

void cg_reader_init(cg_reader *r, const void *p, size_t len);
size_t cg_reader_left(const cg_reader *r);
/* Each returns CG_ERR_FORMAT (with a message naming `what`) when fewer bytes
 * remain than requested; nothing is consumed in that case. */
cg_status cg_read_bytes(cg_reader *r, void *out, size_t n, const char *what, cg_error *err);
cg_status cg_read_u8(cg_reader *r, uint8_t *v, const char *what, cg_error *err);
cg_status cg_read_u16(cg_reader *r, uint16_t *v, const char *what, cg_error *err);
cg_status cg_read_u32(cg_reader *r, uint32_t *v, const char *what, cg_error *err);
cg_status cg_read_u64(cg_reader *r, uint64_t *v, const char *what, cg_error *err);

/* Reads a whole file (at most max bytes; larger is CG_ERR_FORMAT) into a
 * cg_alloc'ed, NUL-terminated buffer (*len excludes the NUL); cg_free it. */
cg_status cg_read_file(const char *path, size_t max, char **data, size_t *len, cg_error *err);

/* ---- JSON ------------------------------------------------------------------
 * A strict reader (json.c): the whole document becomes a tree of cg_json
 * values owned by the cg_json_doc. Nesting deeper than 64, duplicate keys
 * and trailing characters are errors (CG_ERR_FORMAT, the message naming
 * `what`), so hostile input stays bounded and has one meaning. */
typedef enum cg_json_type {
    CG_JSON_NULL,
    CG_JSON_BOOL,
    CG_JSON_NUM,
    CG_JSON_STR,
    CG_JSON_ARR,
    CG_JSON_OBJ
} cg_json_type;

typedef struct cg_json {
    cg_json_type type;
    bool b;
    double num;
    char *str;            /* UTF-8, NUL-terminated (may contain NUL: use len) */
    size_t len;           /* string length, or number of children */
    struct cg_json *kids; /* children (arrays, objects) */
    char **keys;          /* object keys, parallel to kids */
    size_t *key_lens;
} cg_json;

typedef struct cg_json_doc {
    cg_json root;
    void *arena; /* every allocation of the tree */
} cg_json_doc;

/* Parses len bytes; on failure *doc is left empty. */
cg_status cg_json_parse(const char *text, size_t len, cg_json_doc *doc, const char *what,
                        cg_error *err);
void cg_json_free(cg_json_doc *doc);
/* The value of key in an object, or NULL (also when obj is not an object). */
const cg_json *cg_json_get(const cg_json *obj, const char *key);

/* Bit packing of w-bit unsigned values (1 <= w <= 64), LSB first. */
size_t cg_packed_size(size_t count, unsigned width);
void cg_buf_put_packed(cg_buf *b, const uint64_t *vals, size_t count, unsigned width);
/* The same format into / from cg_packed_size(count, width) bytes the caller
 * has (OT corrections are packed in place, 64 bits at a time). */
void cg_pack_bits(uint8_t *out, const uint64_t *vals, size_t count, unsigned width);
void cg_unpack_bits(uint64_t *vals, const uint8_t *in, size_t count, unsigned width);
/* Value `index` of a packed buffer of len bytes (which must hold it). */
uint64_t cg_packed_get(const uint8_t *in, size_t len, size_t index, unsigned width);
cg_status cg_read_packed(cg_reader *r, uint64_t *vals, size_t count, unsigned width,
                         const char *what, cg_error *err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
