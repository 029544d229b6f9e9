/* Random-choice COTs (cg_cot_recv_rc, cg_cot_recv_mix_begin,
 * cg_cot_recv_w_mix_begin, cg_rot_recv_random) on IKNP and Ferret: every output satisfies the COT
 * relation with the choices handed out, the choices are 0/1 and balanced,
 * calls chain across refills and mix with chosen-choice calls, no COT is
 * used twice, and on Ferret the receiver sends nothing per random-choice
 * COT (its header only) and a bit per chosen one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "ot_fixture.h"
#include "ot/ferret.h"

static cg_status do_new_kind(cg_channel *ch, void *vctx, cg_ot_kind kind)
{
    new_ctx *c = vctx;
    return cg_ot_new_kind(&c->ot, ch, c->role, c->otn, kind, NULL);
}
static cg_status do_new_ferret(cg_channel *ch, void *v) { return do_new_kind(ch, v, CG_OT_FERRET); }
static cg_status do_new_iknp(cg_channel *ch, void *v) { return do_new_kind(ch, v, CG_OT_IKNP); }

static void setup_kind(ot_setup *o, cg_ot_kind kind)
{
    assert_int_equal(cg_chan_pair_new(&o->cs, &o->cr, NULL, NULL), CG_OK);
    new_pair_by(o, kind == CG_OT_FERRET ? do_new_ferret : do_new_iknp, CG_OTN_KK13, CG_OTN_KK13);
    assert_int_equal(cg_ot_get_kind(o->s), kind);
}

/* One call each end: mode 0 COT (rc), 1 COT with widths, the first half
 * random and the rest chosen, 2 ROT (cg_rot_recv_random), 3 chosen COT,
 * 4 COT, the first third random and the rest chosen. */
typedef struct {
    cg_ot *s, *r;
    int mode;
    size_t n;
    unsigned bits;
    uint8_t *w, *choice;
    uint64_t *delta, *x0, *out;
} rc_call;

static cg_status rc_sender(cg_channel *ch, void *v)
{
    (void)ch;
    rc_call *c = v;
    switch (c->mode) {
    case 1: return cg_cot_send_w(c->s, c->n, c->w, c->delta, c->x0, NULL);
    case 2: return cg_rot_send(c->s, c->n, c->bits, c->x0, c->delta, NULL); /* r0, r1 */
    default: return cg_cot_send(c->s, c->n, c->bits, c->delta, c->x0, NULL);
    }
}

static cg_status rc_receiver(cg_channel *ch, void *v)
{
    (void)ch;
    rc_call *c = v;
    switch (c->mode) {
    case 0: return cg_cot_recv_rc(c->r, c->n, c->bits, c->choice, c->out, NULL);
    case 1:
        CG_TRY(cg_cot_recv_w_mix_begin(c->r, c->n, c->w, c->n / 2, c->choice, c->out, NULL));
        return cg_cot_recv_w_end(c->r, c->n, c->w, c->choice, c->out, NULL);
    case 4:
        CG_TRY(cg_cot_recv_mix_begin(c->r, c->n, c->bits, c->n / 3, c->choice, c->out, NULL));
        return cg_cot_recv_end(c->r, c->n, c->bits, c->choice, c->out, NULL);
    case 2: return cg_rot_recv_random(c->r, c->n, c->bits, c->choice, c->out, NULL);
    default: return cg_cot_recv(c->r, c->n, c->bits, c->choice, c->out, NULL);
    }
}

/* Runs one call and checks it; the sender's x0 (r0 for ROT) are appended
 * to seen (64-bit values: all distinct unless a COT were reused). Returns
 * the bytes the receiver sent. */
static uint64_t run_rc(ot_setup *o, int mode, size_t n, cg_prg *prg, uint64_t *seen, size_t *nseen)
{
    rc_call c = {o->s, o->r, mode, n, 64, cg_calloc(n + 1, 1), cg_calloc(n + 1, 1),
                 cg_calloc(n + 1, 8), cg_calloc(n + 1, 8), cg_calloc(n + 1, 8)};
    cg_prg_bytes(prg, c.delta, 8 * n);
    for (size_t i = 0; i < n; i++) {
        c.w[i] = (uint8_t)(mode == 1 ? 1 + cg_prg_uniform(prg, 64) : 64);
        size_t rc = mode == 1 ? n / 2 : mode == 4 ? n / 3 : mode == 3 ? 0 : n;
        c.choice[i] = i >= rc ? (uint8_t)(cg_prg_u64(prg) & 1) : 7; /* random: overwritten */
    }
    cg_chan_stats before, after;
    cg_chan_get_stats(o->cr, &before);
    cg_status sa, sb;
    run_two(o->cs, o->cr, rc_sender, &c, rc_receiver, &c, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    cg_chan_get_stats(o->cr, &after);
    size_t ones = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t mask = mask_of(c.w[i]);
        assert_true(c.choice[i] <= 1);
        ones += c.choice[i];
        if (mode == 2)
            assert_int_equal(c.out[i], c.choice[i] ? c.delta[i] : c.x0[i]);
        else
            assert_int_equal(c.out[i], (c.x0[i] + (c.choice[i] ? c.delta[i] : 0)) & mask);
        if (c.w[i] == 64) seen[(*nseen)++] = c.x0[i];
    }
    if (n >= 10000) assert_true(ones > n / 2 - 3 * n / 100 && ones < n / 2 + 3 * n / 100);
    cg_free(c.w), cg_free(c.choice), cg_free(c.delta), cg_free(c.x0), cg_free(c.out);
    return after.total.bytes_sent - before.total.bytes_sent;
}

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Calls of every mode, mixed with chosen ones, across several refills. */
static void chain(cg_ot_kind kind)
{
    ot_setup o;
    setup_kind(&o, kind);
    cg_prg prg;
    cg_prg_init_random(&prg);
    static const size_t sizes[] = {1, 1000, 70001, 400000, 300000, 500000};
    size_t cap = 0;
    for (size_t i = 0; i < 6; i++) cap += 5 * sizes[i];
    uint64_t *seen = cg_alloc(8 * cap);
    size_t nseen = 0;
    for (size_t i = 0; i < 6; i++)
        for (int mode = 0; mode < 5; mode++) run_rc(&o, (mode + (int)i) % 5, sizes[i], &prg, seen, &nseen);
    qsort(seen, nseen, 8, cmp64);
    for (size_t i = 1; i < nseen; i++) assert_true(seen[i - 1] != seen[i]);
    if (kind == CG_OT_FERRET) {
        cg_ot_stats s;
        cg_ot_get_stats(o.s, &s);
        assert_true(s.refills >= 3);
    }
    cg_free(seen);
    teardown_ot(&o);
}

static void test_chain_ferret(void **state)
{
    (void)state;
    chain(CG_OT_FERRET);
}

static void test_chain_iknp(void **state)
{
    (void)state;
    chain(CG_OT_IKNP);
}

/* The correction bytes of a Ferret call of n COTs whose first rc are
 * random: per chunk, a bit per chosen COT. */
static uint64_t d_bytes(size_t n, size_t rc)
{
    uint64_t t = 0;
    for (size_t b = 0; b < n; b += CHUNK) {
        size_t e = n - b < CHUNK ? n : b + CHUNK, s = rc > b ? (rc < e ? rc : e) : b;
        t += (e - s + 7) / 8;
    }
    return t;
}

/* Receiver's bytes: on Ferret the header (and the random choices' count)
 * only for random choices, against the header and a bit per COT for
 * chosen ones; on IKNP the same for both. */
static void test_traffic(void **state)
{
    (void)state;
    cg_prg prg;
    cg_prg_init_random(&prg);
    size_t n = 200001;
    uint64_t *seen = cg_alloc(8 * n);
    for (int k = 0; k < 2; k++) {
        ot_setup o;
        setup_kind(&o, k ? CG_OT_FERRET : CG_OT_IKNP);
        size_t ns = 0;
        run_rc(&o, 3, 1000, &prg, seen, &ns); /* the bootstrap and first refill */
        uint64_t got[5] = {0};
        for (int rep = 0; rep < 2; rep++)
            for (int mode = 0; mode < 5; mode++) {
                ns = 0;
                got[mode] = run_rc(&o, mode, n, &prg, seen, &ns);
            }
        if (k) {
            assert_int_equal(got[0], 24);
            assert_int_equal(got[2], 24);
            assert_int_equal(got[1], 24 + d_bytes(n, n / 2));
            assert_int_equal(got[4], 24 + d_bytes(n, n / 3));
            assert_int_equal(got[3], 16 + d_bytes(n, 0));
        } else {
            for (int mode = 0; mode < 5; mode++)
                if (mode != 1) assert_int_equal(got[mode], got[3] + (mode != 3 ? 8 : 0));
            assert_true(got[3] >= 16 * n);
        }
        teardown_ot(&o);
    }
    cg_free(seen);
}

/* Interleaved directions as the mpc layer runs them: each party begins its
 * random-choice receiver, serves its sender, ends the receiver. */
static cg_status do_pair(cg_channel *ch, void *vctx)
{
    pair_ctx *c = vctx;
    return cg_ot_pair_new_kind(&c->p, ch, c->party, CG_OTN_KK13, CG_OT_FERRET, NULL);
}

static cg_status do_both(cg_channel *ch, void *vctx)
{
    (void)ch;
    pair_ctx *c = vctx;
    cg_ot *first = c->party == 0 ? c->p.send : c->p.recv;
    cg_ot *second = c->party == 0 ? c->p.recv : c->p.send;
    CG_TRY(cg_ot_reserve(first, c->n, 2, NULL));
    CG_TRY(cg_ot_reserve(second, c->n, 2, NULL));
    CG_TRY(cg_cot_recv_mix_begin(c->p.recv, c->n, 64, c->n, c->choice, c->out, NULL));
    CG_TRY(cg_cot_send(c->p.send, c->n, 64, c->delta, c->x0, NULL));
    return cg_cot_recv_end(c->p.recv, c->n, 64, c->choice, c->out, NULL);
}

static void test_interleaved(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    cg_prg prg;
    cg_prg_init_random(&prg);
    pair_ctx c[2];
    pair_ctx_init(c, 300000, &prg);
    cg_status s0, s1;
    run_two(a, b, do_pair, &c[0], do_pair, &c[1], &s0, &s1);
    assert_int_equal(s0, CG_OK);
    assert_int_equal(s1, CG_OK);
    run_two(a, b, do_both, &c[0], do_both, &c[1], &s0, &s1);
    assert_int_equal(s0, CG_OK);
    assert_int_equal(s1, CG_OK);
    pair_ctx_check(c, 64);
    pair_ctx_free(c);
    cg_chan_free(a);
    cg_chan_free(b);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_ferret),
        cmocka_unit_test(test_chain_iknp),
        cmocka_unit_test(test_traffic),
        cmocka_unit_test(test_interleaved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
