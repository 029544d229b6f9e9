/* The server's view of one session, for the transcript tests (plain, split
 * attention, TLS): a relay between the two parties' sockets keeps what the
 * network carries to the server, the server's step reports what it
 * decrypted; two prompts of the same length must give views alike. */
#ifndef CG_TESTS_VIEW_FIXTURE_H
#define CG_TESTS_VIEW_FIXTURE_H

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cryptogen/proto.h"
#include "proto/relay_fixture.h"

typedef struct view {
    uint8_t *bytes; /* what the network carried to the server */
    size_t len;
    uint64_t part_received[CG_PART_COUNT]; /* what the server decrypted */
    uint64_t part_rounds[CG_PART_COUNT];
    int attention; /* the kind the server's steps report */
    bool tls;
    bool pack_inputs; /* in: the client asks for packed inputs */
    bool dense_replies; /* in: and for dense replies */
    bool dense_max;     /* in: and for the fewest-bytes plans */
} view;

static inline void view_step(void *ctx, const cg_gen_step_report *r)
{
    view *v = ctx;
    v->attention = r->attention;
    for (int p = 0; p < CG_PART_COUNT; p++) {
        v->part_received[p] += r->bytes_received[p];
        v->part_rounds[p] += r->rounds[p];
    }
}

typedef struct view_job {
    int fd;
    const cg_fixed_model *fm;
    const cg_tls_config *tls; /* NULL: plain socket */
    cg_gen_attention attention;
    view *v;
    cg_status st;
} view_job;

static inline void *view_server_main(void *arg)
{
    view_job *j = arg;
    cg_error err = {0};
    cg_channel *ch = NULL;
    cg_chan_options opt = {.tls = j->tls};
    j->st = cg_chan_wrap_fd(&ch, j->fd, &opt, &err);
    if (j->st == CG_OK) {
        cg_chan_tls_info info;
        cg_chan_get_tls_info(ch, &info);
        j->v->tls = info.tls;
        cg_gen_options o = {.threads = 1, .attention = j->attention, .on_step = view_step,
                            .on_step_ctx = j->v};
        j->st = cg_gen_server(ch, j->fm, &o, &err);
    }
    cg_chan_free(ch);
    return NULL;
}

/* One session of `fresh` new tokens after the m-token prompt, both parties
 * asking for `attention` (DEFAULT: the server's choice), over TLS when srv
 * and cli are given; *v gets the server's view (v->bytes is the caller's to
 * free). */
static inline void server_view_of(const cg_fixed_model *fm, const cg_tls_config *srv,
                                  const cg_tls_config *cli, cg_gen_attention attention,
                                  const uint32_t *prompt, size_t m, uint32_t fresh, view *v)
{
    int cs[2], ss[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cs), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ss), 0);
    relay r = {.c = cs[1], .s = ss[1]};
    pthread_t tr, ts;
    assert_int_equal(pthread_create(&tr, NULL, relay_main, &r), 0);
    view_job j = {.fd = ss[0], .fm = fm, .tls = srv, .attention = attention, .v = v};
    assert_int_equal(pthread_create(&ts, NULL, view_server_main, &j), 0);
    cg_channel *c = NULL;
    cg_error err = {0};
    cg_chan_options opt = {.tls = cli};
    assert_int_equal(cg_chan_wrap_fd(&c, cs[0], &opt, &err), CG_OK);
    const cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)m,
                                .new_tokens = fresh, .block_positions = 4,
                                .pack_inputs = v->pack_inputs, .dense_replies = v->dense_replies,
                                .dense_max = v->dense_max};
    uint32_t out[8];
    assert_true(fresh <= 8);
    cg_gen_options o = {.threads = 1, .attention = attention};
    assert_int_equal(cg_gen_client(c, &req, prompt, out, &o, &err), CG_OK);
    pthread_join(ts, NULL);
    assert_int_equal(j.st, CG_OK);
    if (attention != CG_ATTN_DEFAULT) assert_int_equal(v->attention, attention);
    cg_chan_free(c);
    pthread_join(tr, NULL);
    close(cs[1]);
    close(ss[1]);
    v->bytes = r.seen;
    v->len = r.len;
}

/* Two views of prompts of the same length: the same bytes and rounds per
 * component at the server, the same number of bytes on the wire, and byte
 * streams a two-sample chi-square test on byte frequencies cannot tell
 * apart (yet not the same bytes). */
static inline void assert_views_alike(const view *a, const view *b, const char *what)
{
    assert_int_equal(a->len, b->len);
    assert_true(a->len > 100000);
    assert_memory_equal(a->part_received, b->part_received, sizeof a->part_received);
    assert_memory_equal(a->part_rounds, b->part_rounds, sizeof a->part_rounds);
    int df;
    const double chi = bytes_chi_square(a->bytes, b->bytes, a->len, &df);
    /* p ~ 1e-6 for df = 255 is about 375; the same bytes would give 0 */
    fprintf(stderr, "%s: %zu bytes, chi-square %.1f on %d degrees of freedom\n", what, a->len, chi, df);
    assert_true(chi < (double)df + 7.5 * sqrt(2.0 * df));
    assert_true(memcmp(a->bytes, b->bytes, a->len) != 0);
}

/* The transcript test: sessions of prompts pa and pb (m tokens each, then
 * `fresh` new ones) with the request options of `asked` (pack_inputs,
 * dense_replies) give the server views alike. */
static inline void assert_prompt_hidden(const cg_fixed_model *fm, cg_gen_attention attention,
                                        const uint32_t *pa, const uint32_t *pb, size_t m,
                                        uint32_t fresh, view asked, const char *what)
{
    view a = asked, b = asked;
    server_view_of(fm, NULL, NULL, attention, pa, m, fresh, &a);
    server_view_of(fm, NULL, NULL, attention, pb, m, fresh, &b);
    assert_views_alike(&a, &b, what);
    free(a.bytes);
    free(b.bytes);
}

#endif
