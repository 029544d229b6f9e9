/* Two-party arithmetic protocols: server and client run in two threads over
 * the in-process channel; every result is reconstructed and compared with
 * the same arithmetic done in the clear, on random inputs and range edges. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cryptogen/mpc.h"

enum { N = 1000 };

typedef struct party_job {
    cg_party party;
    cg_channel *ch;
    unsigned l;
    /* inputs: this party's shares */
    uint64_t x[N], y[N], c[N];
    uint8_t bits[N];
    /* outputs */
    uint64_t mul[N], sq[N], sc[N], b2a[N], opened[N], relu[N];
    uint8_t gt[N], drelu[N], and_[N];
    uint64_t tx[N], tz[N]; /* truncation input (|x| < 2^(l-2)) and output */
    cg_status st;
    cg_error err;
} party_job;

static void *run_party(void *arg)
{
    party_job *j = arg;
    cg_mpc m;
    j->st = cg_mpc_init(&m, j->ch, j->party, &j->err);
    if (j->st == CG_OK) j->st = cg_mpc_mul(&m, N, j->l, j->x, j->y, j->mul, &j->err);
    if (j->st == CG_OK) j->st = cg_mpc_square(&m, N, j->l, j->x, j->sq, &j->err);
    if (j->st == CG_OK)
        j->st = cg_mpc_mul_server_const(&m, N, j->l, j->party == CG_SERVER ? j->c : NULL, j->x, j->sc, &j->err);
    if (j->st == CG_OK) j->st = cg_mpc_b2a(&m, N, j->l, j->bits, j->b2a, &j->err);
    if (j->st == CG_OK) j->st = cg_mpc_open(&m, N, j->l, j->x, j->opened, &j->err);
    if (j->st == CG_OK) j->st = cg_mpc_and(&m, N, j->bits, j->bits, j->and_, &j->err);
    if (j->st == CG_OK) /* server compares its y share with the client's y share */
        j->st = cg_mpc_millionaire(&m, N, j->l, j->y, j->gt, &j->err);
    if (j->st == CG_OK && j->l >= 2) j->st = cg_mpc_drelu(&m, N, j->l, j->x, j->drelu, &j->err);
    if (j->st == CG_OK && j->l >= 2) j->st = cg_mpc_relu(&m, N, j->l, j->x, j->relu, &j->err);
    if (j->st == CG_OK && j->l >= 13) j->st = cg_mpc_trunc(&m, N, j->l, 7, j->tx, j->tz, &j->err);
    cg_mpc_free(&m);
    return NULL;
}

static void run_width(unsigned l)
{
    const uint64_t mk = l == 64 ? UINT64_MAX : (1ull << l) - 1;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    party_job *s = calloc(1, sizeof *s), *c = calloc(1, sizeof *c);
    s->party = CG_SERVER, s->ch = a, s->l = l;
    c->party = CG_CLIENT, c->ch = b, c->l = l;
    cg_prg prg;
    cg_prg_init_random(&prg);
    uint64_t x[N], y[N], k[N];
    uint8_t bit[N];
    int64_t tx_clear[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = cg_prg_u64(&prg) & mk;
        y[i] = cg_prg_u64(&prg) & mk;
        k[i] = cg_prg_u64(&prg) & mk;
        bit[i] = (uint8_t)(cg_prg_u64(&prg) & 1);
    }
    /* edges: 0, 1, -1 (max), the most negative value, both operands extreme */
    x[0] = 0, x[1] = 1, x[2] = mk, x[3] = (mk >> 1) + 1, x[4] = mk >> 1, y[2] = mk, y[3] = mk;
    for (size_t i = 0; i < N; i++) {
        s->x[i] = cg_prg_u64(&prg) & mk;
        c->x[i] = (x[i] - s->x[i]) & mk;
        s->y[i] = cg_prg_u64(&prg) & mk;
        c->y[i] = (y[i] - s->y[i]) & mk;
        s->c[i] = k[i];
        if (l >= 13) { /* truncation input: |t| < 2^(l-2), edges included */
            uint64_t lim = 1ull << (l - 2);
            int64_t t = (int64_t)(cg_prg_u64(&prg) % (2 * lim - 1)) - (int64_t)(lim - 1);
            if (i == 6) t = (int64_t)lim - 1;
            if (i == 7) t = -(int64_t)lim + 1;
            if (i == 8) t = -1;
            if (i == 9) t = 0;
            tx_clear[i] = t;
            s->tx[i] = cg_prg_u64(&prg) & mk;
            c->tx[i] = ((uint64_t)t - s->tx[i]) & mk;
        }
        if (i == 5) { /* equal shares: the comparison must say "not greater" */
            s->y[i] = c->y[i];
            y[i] = (s->y[i] + c->y[i]) & mk;
        }
        s->bits[i] = (uint8_t)(cg_prg_u64(&prg) & 1);
        c->bits[i] = s->bits[i] ^ bit[i];
    }
    pthread_t t1, t2;
    pthread_create(&t1, NULL, run_party, s);
    pthread_create(&t2, NULL, run_party, c);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    if (s->st || c->st) fprintf(stderr, "server: %s / client: %s\n", s->err.msg, c->err.msg);
    assert_int_equal(s->st, CG_OK);
    assert_int_equal(c->st, CG_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(((s->mul[i] + c->mul[i]) & mk) == ((x[i] * y[i]) & mk));
        assert_true(((s->sq[i] + c->sq[i]) & mk) == ((x[i] * x[i]) & mk));
        assert_true(((s->sc[i] + c->sc[i]) & mk) == ((k[i] * x[i]) & mk));
        assert_true(((s->b2a[i] + c->b2a[i]) & mk) == bit[i]);
        assert_true(s->opened[i] == x[i] && c->opened[i] == x[i]);
        assert_int_equal(s->and_[i] ^ c->and_[i], bit[i]); /* b & b = b */
        assert_int_equal(s->gt[i] ^ c->gt[i], s->y[i] > c->y[i]);
        if (l >= 2) {
            const bool neg = (x[i] >> (l - 1)) & 1;
            assert_int_equal(s->drelu[i] ^ c->drelu[i], !neg);
            assert_true(((s->relu[i] + c->relu[i]) & mk) == (neg ? 0 : x[i]));
        }
        if (l >= 13) { /* floor(t / 2^7), or one less */
            int64_t want = tx_clear[i] >> 7;
            uint64_t got = (s->tz[i] + c->tz[i]) & mk;
            int64_t g = (int64_t)(got << (64 - l)) >> (64 - l);
            assert_true(g == want || g == want - 1);
        }
    }
    cg_chan_free(a);
    cg_chan_free(b);
    free(s);
    free(c);
}

static void test_arith_protocols_all_widths(void **state)
{
    (void)state;
    const unsigned widths[] = {1, 13, 37, 63, 64};
    for (size_t i = 0; i < 5; i++) run_width(widths[i]);
}

static void *client_then_quit(void *arg)
{
    cg_channel *ch = arg;
    cg_mpc m;
    if (cg_mpc_init(&m, ch, CG_CLIENT, NULL) == CG_OK) cg_mpc_free(&m);
    cg_chan_free(ch); /* the peer disappears before the multiplication */
    return NULL;
}

static void test_peer_disconnect_is_an_error(void **state)
{
    (void)state;
    cg_channel *a, *b;
    cg_chan_options o = {.timeout_ms = 2000};
    assert_int_equal(cg_chan_pair_new(&a, &b, &o, NULL), CG_OK);
    pthread_t t;
    pthread_create(&t, NULL, client_then_quit, b);
    cg_mpc m;
    cg_error err = {0};
    assert_int_equal(cg_mpc_init(&m, a, CG_SERVER, &err), CG_OK);
    pthread_join(t, NULL);
    uint64_t x[4] = {1, 2, 3, 4}, z[4];
    assert_int_not_equal(cg_mpc_mul(&m, 4, 32, x, x, z, &err), CG_OK);
    assert_int_equal(cg_mpc_mul(&m, 4, 65, x, x, z, &err), CG_ERR_ARG);
    cg_mpc_free(&m);
    cg_chan_free(a);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arith_protocols_all_widths),
        cmocka_unit_test(test_peer_disconnect_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
