/* The Ferret COT source (ferret.c, ferret_ggm.c): every raw COT satisfies
 * t = q ^ b Delta across the IKNP bootstrap and chained refills, no COT is
 * handed out twice, the stock accounting adds up, the move to the large
 * parameter set, every OT kind on Ferret instances (interleaved directions
 * with cg_ot_reserve), the traffic per COT, and a transcript check as for
 * IKNP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "ot_fixture.h"
#include "ot/ferret.h"

static cg_status do_new_ferret(cg_channel *ch, void *vctx)
{
    new_ctx *c = vctx;
    return cg_ot_new_kind(&c->ot, ch, c->role, c->otn, CG_OT_FERRET, NULL);
}

static void new_ferret_pair(ot_setup *o)
{
    new_pair_by(o, do_new_ferret, CG_OTN_KK13, CG_OTN_KK13);
    assert_int_equal(cg_ot_get_kind(o->s), CG_OT_FERRET);
}

static void setup_ferret(ot_setup *o)
{
    assert_int_equal(cg_chan_pair_new(&o->cs, &o->cr, NULL, NULL), CG_OK);
    new_ferret_pair(o);
}

/* Raw COTs straight from the stock. */
typedef struct {
    cg_ot *ot;
    size_t n;
    uint8_t *rows, *b;
} take_ctx;

static cg_status do_take(cg_channel *ch, void *vctx)
{
    (void)ch;
    take_ctx *c = vctx;
    for (size_t i = 0; i < c->n; i += CHUNK) {
        size_t cnt = c->n - i < CHUNK ? c->n - i : CHUNK;
        CG_TRY(ot_ferret_take(c->ot, cnt, c->rows + 16 * i, c->b ? c->b + i : NULL, NULL));
    }
    return CG_OK;
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

static void test_correlation_refills_and_no_reuse(void **state)
{
    (void)state;
    ot_setup o;
    setup_ferret(&o);
    /* Bootstrap, then three small refills (602,019 new COTs each). */
    size_t n = 1500000;
    take_ctx s = {o.s, n, cg_alloc(16 * n), NULL}, r = {o.r, n, cg_alloc(16 * n), cg_alloc(n)};
    cg_status sa, sb;
    run_two(o.cs, o.cr, do_take, &s, do_take, &r, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    size_t ones = 0;
    assert_true(o.s->delta[0] & 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t want[16];
        memcpy(want, s.rows + 16 * i, 16);
        assert_true(r.b[i] <= 1);
        if (r.b[i])
            for (int j = 0; j < 16; j++) want[j] ^= o.s->delta[j];
        assert_memory_equal(r.rows + 16 * i, want, 16);
        assert_int_equal(r.rows[16 * i] & 1, r.b[i]); /* the choice rides in the low bit */
        ones += r.b[i];
    }
    /* Choices look uniform (6 sigma). */
    assert_true(ones > n / 2 - 3700 && ones < n / 2 + 3700);
    /* Every COT once: no two rows alike (they are 128-bit pseudorandom). */
    qsort(s.rows, n, 16, cmp16);
    for (size_t i = 1; i < n; i++) assert_true(memcmp(s.rows + 16 * (i - 1), s.rows + 16 * i, 16) != 0);
    cg_ot_stats ss, rs;
    cg_ot_get_stats(o.s, &ss);
    cg_ot_get_stats(o.r, &rs);
    size_t base = fe_base_size(&fe_small), fresh = fe_small.n - base;
    assert_int_equal(ss.base_iknp, base);
    assert_int_equal(ss.refills, (n + fresh - 1) / fresh);
    assert_int_equal(ss.refills, rs.refills);
    /* Made (and bootstrapped) = drawn + in stock + each refill's base +
     * the next refill's base. */
    assert_int_equal(ss.cots_made + ss.base_iknp, n + ss.stock + base * (ss.refills + 1));
    assert_int_equal(rs.stock, ss.stock);
    assert_int_equal(ss.refill_bytes, ss.refills * fe_msg_size(&fe_small));
    cg_free(s.rows);
    cg_free(r.rows);
    cg_free(r.b);
    teardown_ot(&o);
}

static void test_every_kind_on_ferret(void **state)
{
    (void)state;
    ot_setup o;
    setup_ferret(&o);
    cg_prg prg;
    cg_prg_init_random(&prg);
    static const size_t sizes[] = {1, 7, 128, 1000, 40000, 70001};
    static const unsigned widths[] = {1, 17, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t w = 0; w < 3; w++)
            for (int kind = 0; kind < 3; kind++) run_case(&o, kind, sizes[i], widths[w], 2, &prg);
    /* Calls larger than a refill: the refills they need run before their
     * first chunk (a COT sender sends each chunk's corrections at once). */
    run_case(&o, 0, 1300000, 37, 2, &prg);
    run_case(&o, 3, 400000, 8, 16, &prg);
    /* a width per COT (cg_cot_send_w) */
    run_wcase(&o, 70001, 0, &prg);
    run_wcase(&o, 1, 0, &prg);
    static const unsigned Ns[] = {2, 3, 4, 16, 256};
    for (size_t k = 0; k < 5; k++) {
        run_case(&o, 3, 3000, 16, Ns[k], &prg);
        run_case(&o, 4, 5000, 8, Ns[k], &prg);
    }
    teardown_ot(&o);
}

/* Both directions interleaved as the mpc layer does it: each party begins
 * its receiver, serves its sender, ends its receiver; cg_ot_reserve first
 * (server's sender pair first) so that no _begin needs a refill. */
static cg_status do_pair(cg_channel *ch, void *vctx)
{
    pair_ctx *c = vctx;
    return cg_ot_pair_new_kind(&c->p, ch, c->party, CG_OTN_KK13, CG_OT_FERRET, NULL);
}

static cg_status do_both(cg_channel *ch, void *vctx)
{
    (void)ch;
    pair_ctx *c = vctx;
    for (size_t r = 0; r < 3; r++) {
        cg_ot *first = c->party == 0 ? c->p.send : c->p.recv;
        cg_ot *second = c->party == 0 ? c->p.recv : c->p.send;
        CG_TRY(cg_ot_reserve(first, c->n, 2, NULL));
        CG_TRY(cg_ot_reserve(second, c->n, 2, NULL));
        cg_ot_stats before;
        cg_ot_get_stats(c->p.recv, &before);
        CG_TRY(cg_cot_recv_begin(c->p.recv, c->n, 64, c->choice, c->out, NULL));
        CG_TRY(cg_cot_send(c->p.send, c->n, 64, c->delta, c->x0, NULL));
        CG_TRY(cg_cot_recv_end(c->p.recv, c->n, 64, c->choice, c->out, NULL));
        cg_ot_stats after;
        cg_ot_get_stats(c->p.recv, &after);
        if (after.refills != before.refills) return CG_ERR_STATE; /* reserve did its job */
    }
    return CG_OK;
}

static void test_interleaved_directions_with_reserve(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    cg_prg prg;
    cg_prg_init_random(&prg);
    size_t n = 400000; /* three calls of this cross refills in both directions */
    pair_ctx c[2];
    pair_ctx_init(c, n, &prg);
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

/* Past FE_SWITCH COTs the refills use the large set; its COTs work too. */
static void test_switch_to_large_set(void **state)
{
    (void)state;
    ot_setup o;
    setup_ferret(&o);
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (int i = 0; i < 3; i++) run_case(&o, 2, 1000000, 64, 2, &prg);
    cg_ot_stats s1;
    cg_ot_get_stats(o.s, &s1);
    assert_true(s1.cots_used >= FE_SWITCH);
    run_case(&o, 0, 2000000, 64, 2, &prg);
    cg_ot_stats s2, r2;
    cg_ot_get_stats(o.s, &s2);
    cg_ot_get_stats(o.r, &r2);
    assert_true(s2.refill_bytes >= fe_msg_size(&fe_large) + fe_msg_size(&fe_small));
    assert_true(s2.cots_made >= fe_large.n);
    assert_true(o.s->fe->set == &fe_large);
    assert_int_equal(s2.stock, r2.stock);
    teardown_ot(&o);
}

/* Traffic: per COT the receiver sends one bit (plus the header) once the
 * bootstrap is done; the sender the COT values and its refills. */
static void test_traffic_per_cot(void **state)
{
    (void)state;
    ot_setup o;
    setup_ferret(&o);
    cg_prg prg;
    cg_prg_init_random(&prg);
    run_case(&o, 2, 100, 64, 2, &prg); /* bootstrap and first refill */
    cg_chan_stats s0, r0, s1, r1;
    cg_chan_get_stats(o.cs, &s0);
    cg_chan_get_stats(o.cr, &r0);
    size_t n = 500000;
    run_case(&o, 2, n, 64, 2, &prg); /* ROT: no sender message but refills */
    cg_chan_get_stats(o.cs, &s1);
    cg_chan_get_stats(o.cr, &r1);
    uint64_t up = r1.total.bytes_sent - r0.total.bytes_sent;
    uint64_t down = s1.total.bytes_sent - s0.total.bytes_sent;
    assert_int_equal(up, 16 + (n + 7) / 8 + 0 * CHUNK); /* header and the d bits */
    assert_true(down <= fe_msg_size(&fe_small));       /* at most one refill */
    teardown_ot(&o);
}

static void test_transcript_hides_unchosen(void **state)
{
    (void)state;
    linked l;
    ot_setup o;
    link_start(&l, SIZE_MAX, SIZE_MAX, 20000);
    o = (ot_setup){l.cs, l.cr, NULL, NULL};
    new_ferret_pair(&o);
    cg_prg prg;
    cg_prg_init_random(&prg);
    batch bt[3] = {{.kind = 0, .n = 3000, .bits = 64},
                   {.kind = 1, .n = 3000, .bits = 64},
                   {.kind = 3, .n = 500, .bits = 64, .N = 16}};
    for (int k = 0; k < 3; k++) {
        batch_alloc(&bt[k], &prg);
        batch_run(&o, &bt[k]);
        batch_check(&bt[k]);
    }
    uint8_t delta[16];
    memcpy(delta, o.s->delta, 16);
    const proxy *px = logged_pair_stop(&l, &o, 3000 / 8);
    size_t checked = 0;
    for (size_t i = 0; i < bt[0].n; i++, checked++)
        assert_false(log_contains_u64(px, bt[0].a[i], 8));
    for (size_t i = 0; i < bt[1].n; i++, checked += 2) {
        assert_false(log_contains_u64(px, bt[1].a[i], 8));
        assert_false(log_contains_u64(px, bt[1].b[i], 8));
    }
    for (size_t i = 0; i < bt[2].n; i++)
        for (unsigned x = 0; x < bt[2].N; x++, checked++)
            assert_false(log_contains_u64(px, bt[2].a[i * bt[2].N + x], 8));
    assert_int_equal(checked, 3000 + 6000 + 500 * 16);
    /* Nor the global correlation, in either half. */
    assert_false(log_contains_u64(px, lo64(delta), 8));
    assert_false(log_contains_u64(px, lo64(delta + 8), 8));
    cg_free(l.px.log);
    for (int k = 0; k < 3; k++) batch_free(&bt[k]);
}

static void test_reserve_arguments(void **state)
{
    (void)state;
    cg_error e;
    assert_int_equal(cg_ot_reserve(NULL, 1, 2, &e), CG_ERR_ARG);
    ot_setup o;
    setup_ot(&o, NULL); /* IKNP: a no-op */
    assert_int_equal(cg_ot_reserve(o.s, 100, 2, &e), CG_OK);
    assert_int_equal(cg_ot_reserve(o.s, 100, 1, &e), CG_ERR_ARG);
    assert_int_equal(cg_ot_get_kind(o.s), CG_OT_IKNP);
    teardown_ot(&o);
}

static cg_status do_fill(cg_channel *ch, void *vctx)
{
    (void)ch;
    return cg_ot_fill_ahead(*(cg_ot **)vctx, NULL);
}

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* cg_ot_fill_ahead moves a fresh instance to the large set at once (one
 * small refill for the large base, one large refill) and fills the stock;
 * a second call with the stock above half does nothing. Then COTs past two
 * more large refills: each Delta-correlated, none twice, and the refills
 * write into the pool's two large buffers in turn (no third). */
static void test_fill_ahead_and_buffer_reuse(void **state)
{
    (void)state;
    ot_setup o;
    setup_ferret(&o);
    cg_status sa, sb;
    run_two(o.cs, o.cr, do_fill, &o.s, do_fill, &o.r, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    cg_ot_stats ss, rs;
    cg_ot_get_stats(o.s, &ss);
    cg_ot_get_stats(o.r, &rs);
    size_t fresh = fe_large.n - fe_base_size(&fe_large);
    assert_int_equal(ss.refills, 2);
    assert_int_equal(rs.refills, 2);
    assert_int_equal(ss.refill_bytes, fe_msg_size(&fe_small) + fe_msg_size(&fe_large));
    assert_true(o.s->fe->set == &fe_large && o.r->fe->set == &fe_large);
    assert_int_equal(ss.stock, rs.stock);
    assert_true(ss.stock >= fresh / 2);
    run_two(o.cs, o.cr, do_fill, &o.s, do_fill, &o.r, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    cg_ot_get_stats(o.s, &ss);
    assert_int_equal(ss.refills, 2);

    size_t n = ss.stock + fresh + 1000; /* two more large refills */
    take_ctx s = {o.s, n, cg_alloc(16 * n), NULL}, r = {o.r, n, cg_alloc(16 * n), cg_alloc(n)};
    assert_non_null(s.rows);
    assert_non_null(r.rows);
    run_two(o.cs, o.cr, do_take, &s, do_take, &r, &sa, &sb);
    assert_int_equal(sa, CG_OK);
    assert_int_equal(sb, CG_OK);
    uint64_t dl = lo64(o.s->delta), dh = lo64(o.s->delta + 8);
    uint64_t *key = cg_alloc(8 * n);
    for (size_t i = 0; i < n; i++) {
        uint64_t q[2], t[2], m = 0 - (uint64_t)(r.b[i] & 1u);
        memcpy(q, s.rows + 16 * i, 16);
        memcpy(t, r.rows + 16 * i, 16);
        if (r.b[i] > 1 || t[0] != (q[0] ^ (dl & m)) || t[1] != (q[1] ^ (dh & m))) fail();
        key[i] = q[0] ^ q[1];
    }
    qsort(key, n, 8, cmp64);
    for (size_t i = 1; i < n; i++)
        if (key[i] == key[i - 1]) fail();
    cg_ot_get_stats(o.s, &ss);
    assert_int_equal(ss.refills, 4);
    size_t large = 0;
    for (size_t i = 0; i < o.s->fe->npool; i++) large += o.s->fe->pool[i].cap >= fe_large.n;
    assert_int_equal(large, 2);
    cg_free(key);
    cg_free(s.rows);
    cg_free(r.rows);
    cg_free(r.b);
    teardown_ot(&o);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    if (!ot_supported_here()) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_correlation_refills_and_no_reuse),
        cmocka_unit_test(test_every_kind_on_ferret),
        cmocka_unit_test(test_interleaved_directions_with_reserve),
        cmocka_unit_test(test_traffic_per_cot),
        cmocka_unit_test(test_transcript_hides_unchosen),
        cmocka_unit_test(test_reserve_arguments),
        cmocka_unit_test(test_switch_to_large_set),
        cmocka_unit_test(test_fill_ahead_and_buffer_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
