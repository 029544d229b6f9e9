/* Ferret silent correlated OT (Yang, Weng, Lan, Zhang, Wang, CCS 2020), the
 * semi-honest variant with regular noise, as a source of COTs for the
 * extension core (iknp.c) of an instance made with CG_OT_FERRET.
 *
 * One refill with parameters (n, k, t, h), n = t * 2^h, turns k + t*h base
 * COTs into n new ones under the instance's global Delta:
 *   - t single-point COTs (ferret_ggm.c): tree b is a GGM tree of 2^h leaves
 *     that the sender knows entirely; the receiver learns every leaf but one
 *     (position alpha_b, given by the choice bits of the tree's h base COTs)
 *     through h random OTs made from those base COTs, and gets the missing
 *     leaf xored with Delta. This is the noise e (weight t, one per block).
 *   - primal LPN with a local linear code: output row i is the noise row
 *     xored with 10 of the k other base COTs (positions from a public PRG):
 *     sender q_i = v_i ^ xor q_x[A_i], receiver t_i = w_i ^ xor t_x[A_i],
 *     b_i = e_i ^ xor b_x[A_i]; so t_i = q_i ^ b_i Delta.
 * Only the sender talks: t * (32 h + 16) bytes per refill. The last k + t*h
 * outputs are kept as the base of the next refill; the rest goes to a FIFO
 * stock that calls draw from, each COT once. The very first base comes from
 * IKNP (raw rows with random choices, before hashing).
 *
 * Two parameter sets, both from emp-ot (the Ferret authors' implementation,
 * emp-ot/ferret/constants.h), 128-bit security against the LPN attacks the
 * Ferret paper analyses: small (n = 649,728, k = 36,288, t = 1,269, h = 9)
 * and large (n = 10,608,640, k = 589,824, t = 1,295, h = 13). An instance
 * starts on the small set (about 10 MB) and moves to the large one (two
 * 170 MB output buffers) once it has used FE_SWITCH COTs, a call would take
 * it past that, or cg_ot_fill_ahead asks; the first large base is a whole
 * small refill. Both ends decide alike: they make the same calls. */
#ifndef CG_OT_FERRET_H
#define CG_OT_FERRET_H

#include "ot/ot_internal.h"

typedef struct fe_params {
    size_t n, k, t;
    unsigned h;
} fe_params;

extern const fe_params fe_small, fe_large;

/* COTs used before an instance's refills move to the large set. */
#define FE_SWITCH ((uint64_t)4 * 649728)
/* Nonzeros per LPN row. */
#define FE_D 10

static inline size_t fe_base_size(const fe_params *p) { return p->k + p->t * p->h; }

/* A buffer of one refill's output: rows and, on the receiver, choice bytes. */
typedef struct fe_buf {
    uint8_t *rows, *b;
    size_t cap;
} fe_buf;

/* Stock COTs [head, end) of pool buffer buf. */
typedef struct fe_seg {
    size_t buf, head, end;
} fe_seg;

struct ot_ferret {
    const fe_params *set; /* of the next refill; NULL before the first */
    bool go_large; /* the next refills are large whatever the use so far */
    /* The next refill's base: the last rows of the previous refill's
     * output (pool buffer base_buf), or the IKNP bootstrap's (boot). */
    const uint8_t *base, *base_b;
    size_t base_buf; /* SIZE_MAX: boot */
    fe_buf boot;
    /* Refills write into buffers of this pool, kept for the instance's
     * life: no copy into a stock, no regrowth, no fresh pages to fault in
     * after the first refills of a set. The stock is a FIFO of segments,
     * at most one per buffer, oldest first. */
    fe_buf *pool;
    size_t npool;
    fe_seg *seg;
    size_t nseg, len; /* segments; COTs in stock */
    uint64_t tweak;   /* next tweak of the GGM level OTs */
};

/* ---- ferret_ggm.c ----
 * Trees b0 .. b0 + nt - 1 of a refill: base holds the h base COTs of every
 * tree of the refill (q rows on the sender, t rows and choice bytes on the
 * receiver), v / w the trees' rows (tree b0's first), msg their messages
 * (32 h + 16 bytes per tree, tree b0's first). Tweaks depend on the tree
 * number only, so any split of a refill into calls gives the same bytes. */
typedef struct fe_ggm {
    ot_aes_key k0, k1;
    /* ot_ggm_level_vaes where available, else the AES-NI one */
    void (*level)(const ot_aes_key *, const ot_aes_key *, uint8_t *, size_t, uint8_t *);
} fe_ggm;
void fe_ggm_init(fe_ggm *g);
/* Sender: fresh seeds from prg, the leaves (low bit cleared) into v. */
void fe_ggm_send(cg_ot *ot, const fe_ggm *g, const fe_params *p, const uint8_t *base,
                 uint64_t tweak, size_t b0, size_t nt, cg_prg *prg, uint8_t *v, uint8_t *msg);
/* Receiver: every leaf of w, the punctured one being v's ^ Delta. */
void fe_ggm_recv(cg_ot *ot, const fe_ggm *g, const fe_params *p, const uint8_t *base,
                 const uint8_t *base_b, uint64_t tweak, size_t b0, size_t nt, const uint8_t *msg,
                 uint8_t *w);
/* A whole tree of 2^h leaves from its seed (nodes[0]), with the level sums
 * into sums (32 bytes per level; may be NULL). */
void fe_ggm_expand(const fe_ggm *g, unsigned h, uint8_t *nodes, uint8_t *sums);
/* The refill's traffic: a 16-byte header and the trees' message. */
static inline size_t fe_msg_size(const fe_params *p) { return 16 + p->t * (32 * (size_t)p->h + 16); }

/* ---- ferret_lpn.c ----
 * rows[i] ^= xor of the FE_D base rows that the public code picks for row
 * i (words 10 i .. 10 i + 9 of AES-CTR under a fixed key, each mapped to
 * [0, k) by multiply-shift). */
typedef struct fe_lpn_code {
    ot_aes_key key;
    void (*ctr)(const ot_aes_key *, uint64_t, uint8_t *, size_t); /* the instance's back-end */
    void (*offsets)(uint32_t *, size_t, uint32_t);                  /* AVX-512 or portable */
} fe_lpn_code;
/* w[j] = ((w[j] * k) >> 32) * 16, the table byte offset of a code word
 * (k < 2^28); the AVX-512 form (ferret_lpn_avx512.c) where the CPU has it. */
void fe_lpn_offsets_portable(uint32_t *w, size_t n, uint32_t k);
void fe_lpn_offsets_avx512(uint32_t *w, size_t n, uint32_t k);
void fe_lpn_code_init(fe_lpn_code *c, const cg_ot *ot);
/* Rows i0 .. i0 + cnt - 1 (rows points to row i0; i0 even) with a table
 * of k base rows. */
void fe_lpn_rows(const fe_lpn_code *c, size_t k, const uint8_t *base, uint8_t *rows, size_t i0,
                 size_t cnt);

/* ---- ferret.c ---- */
cg_status ot_ferret_new(cg_ot *ot, cg_error *err);
void ot_ferret_free(struct ot_ferret *fe);
/* The next count COTs (count <= CHUNK) into rows (16 bytes each) and, on the
 * receiver, their random choice bytes into b; refills as needed. */
cg_status ot_ferret_take(cg_ot *ot, size_t count, uint8_t *rows, uint8_t *b, cg_error *err);
/* The stock holds at least count COTs afterwards. */
cg_status ot_ferret_ensure(cg_ot *ot, size_t count, cg_error *err);
/* cg_ot_fill_ahead on a Ferret instance. */
cg_status ot_ferret_fill_ahead(cg_ot *ot, cg_error *err);
/* The extension core's two ends on Ferret COTs (see ot_extend_send). */
cg_status ot_ferret_extend_send(cg_ot *ot, size_t m, bool hash, ot_chunk_fn fn, void *ctx,
                                cg_error *err);
cg_status ot_ferret_extend_recv(cg_ot *ot, size_t m, bool hash, const ot_choice_src *cs,
                                ot_chunk_fn fn, void *ctx, cg_error *err);

#endif
