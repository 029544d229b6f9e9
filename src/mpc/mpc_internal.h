/* Internals shared by the mpc protocol files. */
#ifndef CG_MPC_INTERNAL_H
#define CG_MPC_INTERNAL_H

#include <string.h>

#include "cryptogen/mpc.h"
#include "cryptogen/ot.h"

/* The comparison's arithmetic last exchange material (mpc_dabit.c): per
 * element MPC_BUNDLE_BITS bits (r, rho, a, b) and MPC_BUNDLE_ARITH
 * arithmetic shares mod 2^64 (r, rho0 rho1, a, b, ab). */
#define MPC_BUNDLE_BITS 4
#define MPC_BUNDLE_ARITH 5
/* Secret shared bits made ahead, with their arithmetic shares: the daBits
 * (one bit, one share per entry) and the bundles (MPC_BUNDLE_BITS,
 * MPC_BUNDLE_ARITH); entries next .. have - 1 unused. */
typedef struct mpc_bitstock {
    uint8_t *bit;
    uint64_t *ar;
    size_t cap, have, next;
} mpc_bitstock;
#define MPC_DABIT_BITS 1
#define MPC_DABIT_ARITH 1

/* Wipes (the entries are secret) and frees; entries of nbit bits and nar
 * arithmetic shares. */
static inline void mpc_bitstock_free(mpc_bitstock *s, size_t nbit, size_t nar)
{
    if (s->bit) cg_secure_zero(s->bit, s->cap * nbit);
    if (s->ar) cg_secure_zero(s->ar, s->cap * nar * sizeof *s->ar);
    cg_free(s->bit);
    cg_free(s->ar);
    memset(s, 0, sizeof *s);
}

/* Product material made ahead (mpc_beaver.c), per kind and ring width:
 * entries next .. have - 1 unused, each of the kind's values in a row. */
enum { MPC_POOL_MUL, MPC_POOL_SQ, MPC_POOL_SEL, MPC_POOL_KINDS };
typedef struct mpc_pool {
    uint64_t *v;
    size_t per, cap, have, next; /* per: values per entry */
} mpc_pool;

/* Profiling state (cg_mpc_profile_*): a stack of sub-protocol names and
 * the counters at the last charge. */
#define MPC_PROF_DEPTH 8
typedef struct mpc_prof {
    bool on;
    char label[24];
    const char *stack[MPC_PROF_DEPTH];
    size_t depth;
    cg_chan_counters c0;
    uint64_t cs0, cr0, rs0, rr0; /* COTs drawn, refill bytes sent / received */
    cg_mpc_profile p;
} mpc_prof;

struct cg_mpc {
    cg_channel *ch;
    cg_party party;
    cg_ot_pair ot;
    cg_prg prg;
    bool failed; /* a call failed: the parties are out of step */
    bool exact;  /* every truncation adds the low-bit carry (cg_mpc_set_exact) */
    /* daBits made ahead (mpc_dabit.c), a pool per width of the arithmetic
     * shares: bits and arithmetic shares, entries next .. have - 1 unused */
    mpc_bitstock db[65]; /* daBits, per width of the arithmetic shares */
    mpc_bitstock bd[65]; /* bundles, per width of the results (mpc_arith_last's bits) */
    mpc_pool pool[MPC_POOL_KINDS][65]; /* product material per ring width (mpc_beaver.c) */
    bool pool_on; /* products may take it: set by the protocols that stocked theirs */
    mpc_prof *prof; /* NULL unless profiling was turned on */
    /* 0: each comparison picks its digit width (mpc_cmp.c); else the width
     * the comparisons use while it is set (the argmax's large levels) */
    unsigned cmp_digits;
};

static inline uint64_t mpc_mask(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }
/* A protocol's steps: the first failure jumps to its clean-up. */
#define MPC_STEP(call)                                                                         \
    do {                                                                                       \
        st = (call);                                                                           \
        if (st != CG_OK) goto done;                                                            \
    } while (0)
/* n words, at least one (so that an empty batch is not a failed allocation) */
static inline uint64_t *mpc_alloc_u64(size_t n) { return cg_alloc((n ? n : 1) * sizeof(uint64_t)); }

/* ---- The context (mpc_ctx.c) ---- */

/* A usable context (CG_ERR_STATE once a call failed) and a ring of
 * min_bits..64 bits (CG_ERR_PARAM); `what` names the caller in the message. */
cg_status mpc_check(cg_mpc *m, unsigned bits, unsigned min_bits, const char *what,
                    cg_error *err);
/* Records a failure so later calls refuse; returns st. */
cg_status mpc_fail(cg_mpc *m, cg_status st);

/* Ferret: stocks this party's sender with rows_send COTs and its receiver
 * with rows_recv (the server's sender pair first, as both ends must call
 * in the same order), so that receiver halves run before the peer serves
 * (mpc_cot_both, the comparison's triples and digit OTs) never wait on a
 * refill. A no-op on IKNP. */
cg_status mpc_ot_reserve(cg_mpc *m, size_t rows_send, size_t rows_recv, cg_error *err);

/* ---- Selects in one flight (mpc_rsel.c) ---- */

/* n random OTs each way made ahead, used in order from `used`. */
typedef struct {
    size_t n, used;
    uint64_t *r0, *r1; /* this party's sender's pairs */
    uint64_t *got;     /* this party's receiver's m_r */
    uint8_t *ch;       /* ... and its random choices r */
} mpc_rsel;
/* Makes the n random OTs each way (one flight). */
cg_status mpc_rsel_make(cg_mpc *m, size_t n, mpc_rsel *s, cg_error *err);
void mpc_rsel_free(mpc_rsel *s);
/* Shares of b[i] * d[i] (b XOR-shared bits, d additive shares) mod 2^w1
 * for the first n1 and mod 2^w2 for the next n2, in one flight each way. */
cg_status mpc_rsel_mul(cg_mpc *m, mpc_rsel *s, size_t n1, unsigned w1, size_t n2, unsigned w2,
                       const uint8_t *b, const uint64_t *d, uint64_t *out, cg_error *err);
/* Shares of w_i v_i for n candidates, w_i = [the XOR of both parties'
 * nb-bit shares mine[i] == pat[i]] (pat public, nb <= 7), v additive
 * shares mod 2^bits: one 1-of-2^nb OT of one bit (the server sends, its
 * row bit masked) and mpc_rsel_mul's products on random OTs made in the
 * same flight. The server sends its select words with its rows, the client
 * its words after reading them, so the client's words go out with the next
 * protocol's first message: no flight of their own when that protocol's
 * server needs its inputs only in its second flight (mpc_drelu_served). */
cg_status mpc_rsel_point(cg_mpc *m, size_t n, unsigned nb, const uint8_t *mine, const uint8_t *pat,
                         unsigned bits, const uint64_t *v, uint64_t *out, cg_error *err);
/* cg_mpc_drelu with every comparison's digit OTs sent by the server (none
 * moved to the client), so the server's shares are read only when it
 * answers the client's extension: about twice the digit-OT message bits
 * and AND triples of cg_mpc_drelu. */
cg_status mpc_drelu_served(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, uint8_t *out,
                           cg_error *err);
/* One COT batch in each direction at once: this party sends n_send COTs
 * with correlations delta (getting x0) and receives n_recv with its choice
 * bits (getting out), over Z_{2^bits}. */
cg_status mpc_cot_both(cg_mpc *m, unsigned bits, size_t n_send, const uint64_t *delta,
                       uint64_t *x0, size_t n_recv, uint8_t *choice, uint64_t *out,
                       cg_error *err);
/* mpc_cot_both with a ring width per COT (cg_cot_send_w): ws[i] for this
 * party's i-th sent COT, wr[i] for its i-th received one (the peer's ws).
 * The first rc_recv received COTs have random choices, written to choice
 * (no choice bits on Ferret; the peer's sender learns the count from
 * the receiver's call header). */
cg_status mpc_cot_both_w(cg_mpc *m, size_t n_send, const uint8_t *ws, const uint64_t *delta,
                         uint64_t *x0, size_t n_recv, const uint8_t *wr, size_t rc_recv,
                         uint8_t *choice, uint64_t *out, cg_error *err);
/* Scratch of one mpc_cot_both call: what this party sends (delta -> x0) and
 * what it receives (choice -> got). _alloc frees what it got on failure
 * (CG_ERR_NOMEM, the message naming `what`). */
typedef struct mpc_cot_bufs {
    uint64_t *delta, *x0, *got;
    uint8_t *choice;
} mpc_cot_bufs;
cg_status mpc_cot_bufs_alloc(mpc_cot_bufs *b, size_t n_send, size_t n_recv, const char *what,
                             cg_error *err);
void mpc_cot_bufs_free(mpc_cot_bufs *b);

/* Profiling: what passed since the last charge goes to the running
 * sub-protocol, then `name` runs until its pop (calls nest; the innermost
 * is charged). No-ops unless profiling is on. */
void mpc_prof_push(cg_mpc *m, const char *name);
void mpc_prof_pop(cg_mpc *m);

/* ---- daBits (mpc_dabit.c) ---- */

/* n unused daBits (this party's bit and arithmetic shares, mod 2^bits),
 * made first in one COT batch (bits wide) of at least 2^15 when fewer are
 * left; both parties take the same counts in the same order. */
cg_status mpc_dabits_take(cg_mpc *m, unsigned bits, size_t n, const uint8_t **bit,
                          const uint64_t **arith, cg_error *err);
/* Bundles as daBits (2^14 per refill, seven COTs each), with arithmetic
 * shares mod 2^bits: a pool per width, whose COTs are that wide. */
cg_status mpc_bundles_take(cg_mpc *m, unsigned bits, size_t n, const uint8_t **bit,
                           const uint64_t **ar, cg_error *err);
/* The last exchange of `rows` comparisons of q digits with arithmetic
 * results mod 2^bits: lt/eq as lt_tree leaves them before its last level
 * (blocks 0 and 1 of each row, or the only one); alt[i] = shares of row
 * i's [a < b] = lt_hi + (eq_hi & lt_lo) (the two exclusive), aor[i] =
 * shares of m0 OR m1 for the private bits priv (the server's m0, the
 * client's m1), all from one exchange on one bundle per row. */
cg_status mpc_arith_last(cg_mpc *m, unsigned bits, size_t rows, size_t q, const uint8_t *lt,
                         const uint8_t *eq, const uint8_t *priv, uint64_t *alt, uint64_t *aor,
                         cg_error *err);
/* B2A on daBits: out = shares mod 2^bits of the bits b, from one exchange
 * (each party sends its b xor r at once). */
cg_status mpc_b2a_open(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b, uint64_t *out,
                       cg_error *err);

/* ---- Product material (mpc_beaver.c) ---- */

/* n unused entries of a kind at a ring width (1..64), or NULL (taking
 * none) when fewer are in stock: the caller then runs the COT form. Both
 * parties take the same counts in the same order. Entries: MUL (a, b,
 * ab), SQ (a, a^2), SEL (u, [u], w, [u w]) with u a bit (XOR shares) and
 * the rest shares mod 2^bits. The pointer is valid until that pool's
 * next mpc_stock. */
const uint64_t *mpc_pool_get(cg_mpc *m, int kind, unsigned bits, size_t n);
/* Only while pool_on: a protocol that stocked its material turns it on for
 * its own products (LayerNorm, GELU, softmax), so that other callers' products do
 * not take what was made for the ones after them. */
/* Makes sure at least n unused entries of each request's kind and width
 * are in stock (requests of the same kind and width add up), all the
 * missing ones' COTs in one batch (one round trip up to 2^19 COTs each
 * way) at the widest width; nothing to make: no traffic. A kind and width
 * wanted more than 2^16 times is not made (those calls run the COT forms). */
typedef struct mpc_stock_req {
    int kind;
    unsigned bits;
    size_t n;
} mpc_stock_req;
cg_status mpc_stock(cg_mpc *m, size_t nreq, const mpc_stock_req *req, cg_error *err);
/* The material one LayerNorm of rows x cols (mpc_norm.c) and one GELU of
 * n elements (mpc_nonlin.c) use: req gets MPC_LN_REQS / MPC_GELU_REQS
 * requests. */
#define MPC_LN_REQS 4
#define MPC_GELU_REQS 3
cg_status mpc_layernorm_needs(cg_fxp f, size_t rows, size_t cols, mpc_stock_req *req,
                              cg_error *err);
void mpc_gelu_needs(cg_fxp f, size_t n, mpc_stock_req *req);
/* Softmax's (mpc_norm.c) for rows rows of total entries in all. */
#define MPC_SM_REQS 4
cg_status mpc_softmax_needs(cg_fxp f, size_t rows, size_t total, mpc_stock_req *req,
                            cg_error *err);
/* One exchange in which both parties send at once: segment k's sum[i] =
 * mine[i] + the peer's mine[i] mod 2^bits (bits = 1: XOR). */
typedef struct mpc_open_seg {
    unsigned bits;
    size_t n;
    const uint64_t *mine;
    uint64_t *sum;
} mpc_open_seg;
cg_status mpc_open_exchange(cg_mpc *m, size_t nseg, const mpc_open_seg *seg, cg_error *err);

/* ---- Arithmetic (mpc_arith.c) ---- */

/* cg_mpc_select(b, x) over bits and cg_mpc_square(y) over sq_bits <= bits
 * (y's shares mod 2^sq_bits) in one COT round trip: the square's COTs ride
 * in the select's batch at bits wide (their values reduced after), so the
 * two cost the round of one. sel and sq may not alias x or y. */
cg_status mpc_select_square(cg_mpc *m, unsigned bits, size_t n, const uint8_t *b,
                            const uint64_t *x, uint64_t *sel, unsigned sq_bits, const uint64_t *y,
                            uint64_t *sq, cg_error *err);

/* ---- Truncation (mpc_trunc.c) ---- */

/* cg_mpc_trunc without argument checks; shifts (if non-NULL) gives each
 * element its own shift in [1, bits - 3]. Exact when the context's exact
 * switch is on, else approximate. */
cg_status mpc_trunc_var(cg_mpc *m, unsigned bits, unsigned shift, const uint8_t *shifts, size_t n,
                        const uint64_t *x, uint64_t *out, cg_error *err);

/* mpc_trunc_var with the exactness chosen by the caller, from shares mod
 * 2^bits to shares mod 2^out_bits (out_bits >= bits) of the same signed
 * floor(x / 2^shift): a truncation that also extends the ring, at the cost
 * of a plain one. As there, |x| < 2^(bits - 2). */
cg_status mpc_trunc_impl(cg_mpc *m, unsigned bits, unsigned out_bits, unsigned shift,
                         const uint8_t *shifts, size_t n, const uint64_t *x, uint64_t *out,
                         bool exact, cg_error *err);
/* Two jobs that depend only on their inputs in one comparison batch:
 * dout[i*K + k] = shares of [x_i + c_k >= 0] (as mpc_drelu_offsets) and
 * tout = the exact truncations of t by per-element shifts in [1, bits - 3]
 * (as mpc_trunc_var); about a comparison's rounds fewer than the two
 * calls, which it falls back to when inexact or over a bundle batch. */
cg_status mpc_drelu_trunc(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, size_t K,
                          const uint64_t *c, uint8_t *dout, size_t nt, const uint8_t *shifts,
                          const uint64_t *t, uint64_t *tout, cg_error *err);
/* mpc_trunc_impl with per-element shifts and the context's exactness. */
cg_status mpc_trunc_lift(cg_mpc *m, unsigned bits, unsigned out_bits, const uint8_t *shifts,
                         size_t n, const uint64_t *x, uint64_t *out, cg_error *err);

/* ---- Comparisons (mpc_cmp.c) ---- */

/* K comparisons per element sharing the client's input: the server gives
 * K*n values (comparison k of element i at k*n + i), the client n; out[k*n +
 * i] = [a_ki < b_i] as boolean shares. One OT per digit for all K, so K
 * comparisons cost one's OTs plus K AND trees. 1 <= K <= 16. With K = 1
 * and 32 elements or more, the second half runs with the client as the
 * OT sender. */
cg_status mpc_less_than_multi(cg_mpc *m, unsigned w, size_t n, unsigned K, const uint64_t *mine,
                              uint8_t *out, cg_error *err);
/* Arithmetic results of single comparisons (the exact truncation's): alt
 * gets shares mod 2^bits of each [a < b], aor of priv's OR (the server's
 * bit or the client's, one per element), the tree's last level and both
 * conversions in one exchange (mpc_arith_last). */
typedef struct mpc_lt_arith {
    unsigned bits;
    const uint8_t *priv;
    uint64_t *alt, *aor;
    /* the server sends every digit OT, 3-bit digits, the tree's levels
     * before the last riding half round trips (mpc_lt_tree_pipe) */
    bool pipe;
} mpc_lt_arith;
/* Batches from this size on take mpc_lt_arith's pipe in the exact
 * truncations (mpc_cmp.c's split size: smaller ones go unsplit anyway) */
#define MPC_PIPE_MIN ((size_t)32)
cg_status mpc_less_than_arith(cg_mpc *m, unsigned w, size_t n, const uint64_t *mine,
                              const mpc_lt_arith *ar, cg_error *err);
/* out[k*n + i] = shares of [x_i + c_k >= 0] (signed, public c_k; x + c_k
 * must not wrap): K DReLUs at about the OT cost of one. From 32 elements
 * on, half of them add c_k on the client's side and have the client send
 * the 1-of-16 OTs, so both parties share the sender's work. */
cg_status mpc_drelu_multi(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, unsigned K,
                          const uint64_t *c, uint8_t *out, cg_error *err);
/* mpc_drelu_multi with narrow digits (3 bits unless cmp_digits says) whose
 * deeper AND tree costs no more rounds: the server sends every digit OT
 * and its first level's openings with the OT answers, and from then on
 * each message carries one level's openings and the next's
 * (mpc_lt_tree_pipe): a 24-bit comparison's 3 levels take fewer rounds
 * than 6-bit digits' 2 in a split batch, at under a third of the message
 * bits. The server does all the sender's hashing (8 rows per digit). */
cg_status mpc_drelu_multi_pipe(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x,
                               unsigned K, const uint64_t *c, uint8_t *out, cg_error *err);
/* Any number K >= 1 of thresholds on the same x, element-major: out[i*K +
 * k] = shares of [x_i + c_k >= 0]; each group of up to 16 shares one set of
 * digit OTs, and all groups run in one call. */
cg_status mpc_drelu_offsets(cg_mpc *m, unsigned bits, size_t n, const uint64_t *x, size_t K,
                            const uint64_t *c, uint8_t *out, cg_error *err);

/* ---- exp (mpc_nonlin.c) ---- */

/* cg_mpc_exp_neg; few_rounds: its thresholds on -x / ln2's product itself
 * and a B2A (two rounds fewer, about 2.6 KB more per element) instead of
 * an exact truncation and narrow thresholds. The same output. */
cg_status mpc_exp_neg(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, bool few_rounds,
                      uint64_t *out, cg_error *err);

/* ---- Reciprocal and rsqrt (mpc_recip.c) ---- */

/* The format checks of reciprocal, rsqrt, softmax and LayerNorm. */
cg_status mpc_check_fmt(cg_mpc *m, cg_fxp f, const char *what, cg_error *err);
/* out = trunc(a * b) by shift (a product of two shared vectors). */
cg_status mpc_mul_trunc(cg_mpc *m, unsigned l, unsigned shift, size_t n, const uint64_t *a,
                        const uint64_t *b, uint64_t *out, cg_error *err);
/* cg_mpc_recip / cg_mpc_rsqrt (sqrt_mode), with `extra` more fraction
 * bits in the result than x has (rsqrt only). */
cg_status mpc_recip_rsqrt(cg_mpc *m, cg_fxp f, size_t n, const uint64_t *x, uint64_t *out,
                          bool sqrt_mode, unsigned extra, cg_error *err);

/* ---- Lookup tables (mpc_lut.c) ---- */

/* cg_mpc_lut with T >= 1 tables (tables[t N + j], N = 2^in_bits) looked up
 * at the same index: out[i T + t] = shares of table t at x_i. One OT batch
 * of n T instances, one round. */
cg_status mpc_lut_multi(cg_mpc *m, unsigned in_bits, unsigned out_bits, size_t T,
                        const uint64_t *tables, size_t n, const uint64_t *x, uint64_t *out,
                        cg_error *err);

/* The chord lookup of reciprocal and rsqrt with its product: for public
 * tables A and D of 2^in_bits entries (mod 2^bits), shares of a = A[x],
 * d = D[x] and p = D[x] r for shared r, in one OT round trip both ways
 * (the server offers A, D and D r0, the client D r1) instead of a lookup
 * and a product. x as for mpc_lut_multi. */
cg_status mpc_lut_chord(cg_mpc *m, unsigned in_bits, unsigned bits, const uint64_t *A,
                        const uint64_t *D, size_t n, const uint64_t *x, const uint64_t *r,
                        uint64_t *a, uint64_t *d, uint64_t *p, cg_error *err);

/* ---- Row maxima (mpc_max.c) ---- */

/* Maxima of variable-length segments (segment r: len[r] >= 1 entries of v
 * from off[r]; v, of total entries, is overwritten): the tournament of
 * cg_mpc_row_max (the drop-in for softmax's own pairwise seg_max), its
 * comparisons on the differences' shares reduced mod 2^cmp_bits (2 <=
 * cmp_bits <= bits), which keep every sign when all differences within a
 * segment are below 2^(cmp_bits - 1) in magnitude. */
cg_status mpc_seg_max(cg_mpc *m, unsigned bits, unsigned cmp_bits, size_t rows, const size_t *len,
                      const size_t *off, size_t total, uint64_t *v, uint64_t *out, cg_error *err);

/* ---- Row maxima's fan plans (mpc_maxplan.c) ---- */

#define MPC_PLAN_MAX 10
/* The fans (2, 4 or 8) of the grouped levels of softmax's maxima over rows
 * of cnt[0..rows) entries left, the longest `most`, values of `bits` bits
 * compared on cmp_bits: as many levels as the fixed rule (four- and
 * eight-way, eight while at most fan8_max are left), the fewest estimated
 * bits at no more rounds. Returns the levels (0: the fixed rule). */
unsigned mpc_max_plan(size_t rows, const size_t *cnt, size_t most, unsigned bits,
                      unsigned cmp_bits, size_t fan8_max, unsigned *plan);

/* ---- Boolean protocols (mpc_bool.c) ---- */

/* n units of two random bit triples sharing b, (a[2u], b[u], c[2u]) and
 * (a[2u+1], b[u], c[2u+1]) with c = a & b as XOR shares, from one batch of
 * random OTs in each direction. _begin only sends (this party's receiver
 * end); _end reads the peer's _begin message and completes a and c. */
typedef struct mpc_triples {
    size_t n;
    uint8_t *a, *b, *c;
    uint64_t *v; /* the receiver end's outputs, until _end */
} mpc_triples;
cg_status mpc_triples_begin(cg_mpc *m, size_t n, mpc_triples *t, cg_error *err);
cg_status mpc_triples_end(cg_mpc *m, mpc_triples *t, cg_error *err);
void mpc_triples_free(mpc_triples *t); /* also after a failed _begin */
/* nu units of ANDs on XOR shares, each one or (two[u]) two ANDs sharing the
 * operand y[u]: z[2u + j] = x[2u + j] & y[u]; unit u uses the triples of
 * unit first + u. One exchange. */
cg_status mpc_and_units(cg_mpc *m, size_t nu, const uint8_t *two, const uint8_t *x,
                        const uint8_t *y, const mpc_triples *t, size_t first, uint8_t *z,
                        cg_error *err);
/* mpc_and_units' two halves, for callers that send the openings in their
 * own messages: _open writes this party's opened bits (at most
 * mpc_and_wire_bytes(nu) bytes; returns the length sent), _close takes both
 * parties' and writes z. The openings are 2 bits per unit and one more
 * per two[u]. */
static inline size_t mpc_and_wire_bytes(size_t nu) { return (3 * nu + 7) / 8; }
size_t mpc_and_open(size_t nu, const uint8_t *two, const uint8_t *x, const uint8_t *y,
                    const mpc_triples *t, size_t first, uint8_t *wire);
void mpc_and_close(const cg_mpc *m, size_t nu, const uint8_t *two, const mpc_triples *t,
                   size_t first, const uint8_t *wire, const uint8_t *peer, uint8_t *z);

/* ---- the comparison's AND tree (mpc_cmptree.c) ---- */

/* Rows of a comparison batch: half 0's K*n0 rows (row k*n0 + i), then
 * half 1's K*n1. Where the K values of an element agree on their low bits
 * (mpc_cmp.c's shared digits), a tree position made only of such digits
 * is the same in all K rows: it is computed in the element's k = 0 row
 * (mpc_prim_row) and copied to the others. */
typedef struct {
    size_t n0, n1;
    unsigned K;
} mpc_row_map;

static inline size_t mpc_prim_row(const mpc_row_map *rm, size_t r)
{
    size_t r0 = (size_t)rm->K * rm->n0;
    return r < r0 ? r % rm->n0 : r0 + (r - r0) % rm->n1;
}

/* One level of the tree: its blocks before it (sh: which are shared), its
 * AND units (one per pair of blocks and row, a shared pair's only in the
 * n0 + n1 first rows), its first triple and its openings' bytes. */
#define MPC_MAX_LEVELS 8 /* 64 digits at most */
typedef struct {
    size_t cnt, units, first, bytes;
    uint8_t sh[64];
} mpc_tree_level;

/* The levels from q blocks per row (sh0[d]: digit d shared) down to stop. */
size_t mpc_tree_plan(const mpc_row_map *rm, size_t q, const uint8_t *sh0, size_t stop,
                     mpc_tree_level *lv);
/* Combines per-digit shares (lt/eq[r*q + d], digit d from the least
 * significant) down to stop blocks per row: lt = lt_hi ^ (eq_hi & lt_lo),
 * eq = eq_hi & eq_lo, one exchange per level on the triples t (made with
 * the digit OTs); out[r] (if not NULL) gets row r's lt. */
cg_status mpc_lt_tree(cg_mpc *m, const mpc_row_map *rm, size_t q, const uint8_t *sh0,
                      uint8_t *lt, uint8_t *eq, const mpc_triples *t, size_t stop, uint8_t *out,
                      cg_error *err);
/* mpc_lt_tree (stop 1 or 2), for a batch whose digit OTs the server
 * sent alone (its shares fixed before them): it sends its first level's
 * openings behind its OT answers, and then each message carries one
 * level's openings and the next's, half a round trip per level. */
cg_status mpc_lt_tree_pipe(cg_mpc *m, const mpc_row_map *rm, size_t q, const uint8_t *sh0,
                           uint8_t *lt, uint8_t *eq, const mpc_triples *t, size_t stop,
                           uint8_t *out, cg_error *err);

#endif
