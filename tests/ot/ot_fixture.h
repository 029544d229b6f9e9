/* Shared by the ot tests: two parties in two threads, a sender / receiver
 * pair, one batch call of any kind on both ends with its check against the
 * plaintext relation, and a link through a proxy that records what the
 * receiver gets and can cut or corrupt it. Include after <cmocka.h>. */
#ifndef CG_TEST_OT_FIXTURE_H
#define CG_TEST_OT_FIXTURE_H

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/ot.h"
#include "ot/ot_internal.h"

/* False (with a note) on a CPU without AES-NI, where the layer is
 * unsupported and an ot test program has nothing to test. */
static inline bool ot_supported_here(void)
{
    if (cg_cpu_features_raw() & CG_CPU_AESNI) return true;
    fprintf(stderr, "no AES-NI: the ot layer is unsupported on this CPU\n");
    return false;
}

/* ---------------- two-party harness ---------------- */

typedef cg_status (*party_fn)(cg_channel *ch, void *ctx);
typedef struct {
    party_fn fn;
    cg_channel *ch;
    void *ctx;
    cg_status st;
} party_job;

static inline void *party_thread(void *arg)
{
    party_job *j = arg;
    j->st = j->fn(j->ch, j->ctx);
    return NULL;
}

/* Runs a (on channel end 0) and b (end 1) concurrently. */
static inline void run_two(cg_channel *ca, cg_channel *cb, party_fn a, void *actx, party_fn b, void *bctx,
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

static inline cg_status do_new(cg_channel *ch, void *vctx)
{
    new_ctx *c = vctx;
    return cg_ot_new(&c->ot, ch, c->role, c->otn, NULL);
}

typedef struct {
    cg_channel *cs, *cr; /* sender's and receiver's channel ends */
    cg_ot *s, *r;
} ot_setup;

/* A sender on o->cs and a receiver on o->cr, each made by `make` (do_new
 * or a test's own) with its 1-of-N kind. */
static inline void new_pair_by(ot_setup *o, party_fn make, cg_otn_kind s_otn, cg_otn_kind r_otn)
{
    new_ctx a = {NULL, CG_OT_SENDER, s_otn}, b = {NULL, CG_OT_RECEIVER, r_otn};
    cg_status sa, sb;
    run_two(o->cs, o->cr, make, &a, make, &b, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    o->s = a.ot;
    o->r = b.ot;
}

static inline void new_pair(ot_setup *o, cg_otn_kind otn) { new_pair_by(o, do_new, otn, otn); }

/* A sender and a receiver of the given 1-of-N kind over a new channel pair. */
static inline void setup_ot_kind(ot_setup *o, const cg_chan_options *opt, cg_otn_kind otn)
{
    assert_int_equal(cg_chan_pair_new(&o->cs, &o->cr, opt, NULL), CG_OK);
    new_pair(o, otn);
    assert_int_equal(cg_ot_get_role(o->s), CG_OT_SENDER);
    assert_int_equal(cg_ot_get_role(o->r), CG_OT_RECEIVER);
}

static inline void setup_ot(ot_setup *o, const cg_chan_options *opt)
{
    setup_ot_kind(o, opt, CG_OTN_KK13);
}

static inline void teardown_ot(ot_setup *o)
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
static inline void fill_rows(void *ctx, size_t first, size_t count, uint64_t *out)
{
    batch *b = ctx;
    if (first != b->filled || count == 0 || count > b->n - first) {
        b->fill_bad = true;
        return;
    }
    memcpy(out, b->a + first * b->N, count * b->N * sizeof *out);
    b->filled += count;
}

static inline cg_status batch_sender(cg_channel *ch, void *vctx)
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

static inline cg_status batch_receiver(cg_channel *ch, void *vctx)
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

static inline void batch_alloc(batch *b, cg_prg *prg)
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

static inline void batch_free(batch *b)
{
    cg_free(b->a);
    cg_free(b->b);
    cg_free(b->choice);
    cg_free(b->out);
}

static inline void batch_run(ot_setup *o, batch *b)
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

/* ---------------- COTs with a width per instance ---------------- */

typedef struct {
    cg_ot *s, *r;
    size_t n;
    uint8_t *w, *choice;
    uint64_t *delta, *x0, *out;
} wbatch;

static inline cg_status wbatch_sender(cg_channel *ch, void *v)
{
    (void)ch;
    wbatch *b = v;
    return cg_cot_send_w(b->s, b->n, b->w, b->delta, b->x0, NULL);
}

static inline cg_status wbatch_receiver(cg_channel *ch, void *v)
{
    (void)ch;
    wbatch *b = v;
    CG_TRY(cg_cot_recv_w_begin(b->r, b->n, b->w, b->choice, b->out, NULL));
    return cg_cot_recv_w_end(b->r, b->n, b->w, b->choice, b->out, NULL);
}

/* n COTs of random widths in [1, 64] (max_w 0) or all max_w wide, checked
 * against out = x0 + c delta mod 2^w_i with x0 and out inside the width;
 * returns the bytes the receiver got. */
static inline uint64_t run_wcase(ot_setup *o, size_t n, unsigned max_w, cg_prg *prg)
{
    wbatch b = {o->s, o->r, n, cg_calloc(n + 1, 1), cg_calloc(n + 1, 1), cg_calloc(n + 1, 8),
                cg_calloc(n + 1, 8), cg_calloc(n + 1, 8)};
    for (size_t i = 0; i < n; i++) {
        b.w[i] = (uint8_t)(max_w ? max_w : 1 + cg_prg_uniform(prg, 64));
        b.choice[i] = (uint8_t)(cg_prg_u64(prg) & 1);
        b.delta[i] = cg_prg_u64(prg);
    }
    cg_chan_stats st;
    cg_chan_reset_stats(o->cr);
    cg_status sa, sb;
    run_two(o->cs, o->cr, wbatch_sender, &b, wbatch_receiver, &b, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    cg_chan_get_stats(o->cr, &st);
    for (size_t i = 0; i < n; i++) {
        uint64_t mask = b.w[i] >= 64 ? ~0ull : (1ull << b.w[i]) - 1;
        assert_int_equal(b.x0[i] & ~mask, 0);
        assert_int_equal(b.out[i] & ~mask, 0);
        assert_int_equal(b.out[i], (b.x0[i] + (b.choice[i] ? b.delta[i] : 0)) & mask);
    }
    cg_free(b.w), cg_free(b.choice), cg_free(b.delta), cg_free(b.x0), cg_free(b.out);
    return st.total.bytes_received;
}

/* One batch call where the sender is to fail: it hangs up once it returns,
 * so that the receiver (rb, in a second thread) sees the peer gone rather
 * than waiting. */
static inline void batch_run_hang_up(ot_setup *o, batch *sb, batch *rb, cg_status *ss, cg_status *sr)
{
    party_job jr = {batch_receiver, o->cr, rb, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, party_thread, &jr), 0);
    *ss = batch_sender(o->cs, sb);
    cg_chan_free(o->cs);
    o->cs = NULL;
    pthread_join(t, NULL);
    *sr = jr.st;
}

static inline void batch_check(const batch *b)
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

static inline void run_case(ot_setup *o, int kind, size_t n, unsigned bits, unsigned N, cg_prg *prg)
{
    batch b = {.kind = kind, .n = n, .bits = bits, .N = N};
    batch_alloc(&b, prg);
    batch_run(o, &b);
    batch_check(&b);
    batch_free(&b);
}

/* ---------------- COTs both ways between two pair holders ---------------- */

/* Party 0 and party 1 each hold a cg_ot_pair; party k's sender COTs go to
 * party 1 - k's receiver, n of them each way, from random deltas and
 * choices. */
typedef struct {
    int party;
    cg_ot_pair p;
    size_t n;
    uint64_t *delta, *x0, *out;
    uint8_t *choice;
} pair_ctx;

static inline void pair_ctx_init(pair_ctx c[2], size_t n, cg_prg *prg)
{
    for (int k = 0; k < 2; k++) {
        c[k] = (pair_ctx){.party = k, .n = n};
        c[k].delta = cg_alloc(8 * n);
        c[k].x0 = cg_alloc(8 * n);
        c[k].out = cg_alloc(8 * n);
        c[k].choice = cg_alloc(n);
        cg_prg_bytes(prg, c[k].delta, 8 * n);
        for (size_t i = 0; i < n; i++) c[k].choice[i] = (uint8_t)(cg_prg_u64(prg) & 1);
    }
}

/* Each receiver holds x0 + choice * delta (mod 2^bits) of the other's sender. */
static inline void pair_ctx_check(const pair_ctx c[2], unsigned bits)
{
    const uint64_t m = mask_of(bits);
    for (int k = 0; k < 2; k++) {
        const pair_ctx *s = &c[k], *r = &c[1 - k];
        for (size_t i = 0; i < s->n; i++)
            assert_int_equal(r->out[i], (s->x0[i] + (r->choice[i] ? s->delta[i] : 0)) & m);
    }
}

static inline void pair_ctx_free(pair_ctx c[2])
{
    for (int k = 0; k < 2; k++) {
        cg_ot_pair_free(&c[k].p);
        assert_null(c[k].p.send);
        cg_free(c[k].delta);
        cg_free(c[k].x0);
        cg_free(c[k].out);
        cg_free(c[k].choice);
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

static inline void *proxy_thread(void *arg)
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

static inline void link_start(linked *l, size_t cut_after, size_t flip_at, uint32_t timeout_ms)
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

static inline void link_stop(linked *l)
{
    cg_chan_free(l->cs);
    cg_chan_free(l->cr);
    pthread_join(l->th, NULL);
}

static inline bool log_contains_u64(const proxy *p, uint64_t v, unsigned bytes)
{
    uint8_t pat[8];
    memcpy(pat, &v, 8);
    return memmem(p->log, p->log_len, pat, bytes) != NULL;
}

/* A sender / receiver pair over a link that logs what the receiver gets. */
static inline void logged_pair_start(linked *l, ot_setup *o)
{
    link_start(l, SIZE_MAX, SIZE_MAX, 20000);
    *o = (ot_setup){l->cs, l->cr, NULL, NULL};
    new_pair(o, CG_OTN_KK13);
}

/* Frees the pair, stops the link and returns its log, checked to hold more
 * than min_len bytes and, as a positive control, to contain what is in it. */
static inline const proxy *logged_pair_stop(linked *l, ot_setup *o, size_t min_len)
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

#endif
