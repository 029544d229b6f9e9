/* The transcript test of test_gen.c (the server's view does not depend on
 * the prompt) run again over the TLS channel: between the two parties sits
 * a relay that records what the network carries to the server. For two
 * prompts of the same length, that ciphertext has the same length, its
 * bytes cannot be told apart by a chi-square test on byte frequencies, and
 * the bytes and rounds the server decrypts per component are the same. */
#include <math.h>
#include <poll.h>
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
    bool tls;
} view;

static void view_step(void *ctx, const cg_gen_step_report *r)
{
    view *v = ctx;
    for (int p = 0; p < CG_PART_COUNT; p++) {
        v->part_received[p] += r->bytes_received[p];
        v->part_rounds[p] += r->rounds[p];
    }
}

typedef struct server_job {
    int fd;
    const cg_fixed_model *fm;
    const cg_tls_config *tls;
    view *v;
    cg_status st;
} server_job;

static void *server_main(void *arg)
{
    server_job *j = arg;
    cg_error err = {0};
    cg_channel *ch = NULL;
    cg_chan_options opt = {.tls = j->tls};
    j->st = cg_chan_wrap_fd(&ch, j->fd, &opt, &err);
    if (j->st == CG_OK) {
        cg_chan_tls_info info;
        cg_chan_get_tls_info(ch, &info);
        j->v->tls = info.tls;
        cg_gen_options o = {.threads = 1, .on_step = view_step, .on_step_ctx = j->v};
        j->st = cg_gen_server(ch, j->fm, &o, &err);
    }
    cg_chan_free(ch);
    return NULL;
}

static void server_view_of(const cg_fixed_model *fm, const cg_tls_config *srv, const cg_tls_config *cli,
                           const uint32_t *prompt, size_t m, view *v)
{
    int cs[2], ss[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cs), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ss), 0);
    relay r = {.c = cs[1], .s = ss[1]};
    pthread_t tr, ts;
    assert_int_equal(pthread_create(&tr, NULL, relay_main, &r), 0);
    server_job j = {.fd = ss[0], .fm = fm, .tls = srv, .v = v};
    assert_int_equal(pthread_create(&ts, NULL, server_main, &j), 0);
    cg_channel *c = NULL;
    cg_error err = {0};
    cg_chan_options opt = {.tls = cli};
    assert_int_equal(cg_chan_wrap_fd(&c, cs[0], &opt, &err), CG_OK);
    cg_gen_request req = {.he_preset = "paper", .use_cache = true, .prompt_len = (uint32_t)m,
                          .new_tokens = 2, .block_positions = 4};
    uint32_t out[2];
    cg_gen_options o = {.threads = 1};
    assert_int_equal(cg_gen_client(c, &req, prompt, out, &o, &err), CG_OK);
    pthread_join(ts, NULL);
    assert_int_equal(j.st, CG_OK);
    cg_chan_free(c);
    pthread_join(tr, NULL);
    close(cs[1]);
    close(ss[1]);
    v->bytes = r.seen;
    v->len = r.len;
}

static void test_server_view_independent_of_prompt_tls(void **state)
{
    (void)state;
    cg_gpt2_config cfg = {.n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 64,
                          .vocab_size = 300, .ln_eps = 1e-5f};
    cg_gpt2 *m = NULL;
    cg_fixed_model *fm = NULL;
    cg_error err = {0};
    assert_int_equal(cg_gpt2_random(&m, &cfg, 7, &err), CG_OK);
    assert_int_equal(cg_fixed_model_new(&fm, m, cg_fixed_default(), &err), CG_OK);
    cg_tls_cert *cert = NULL;
    cg_tls_config *srv = NULL, *cli = NULL;
    char pin[CG_TLS_PIN_HEX + 1];
    assert_int_equal(cg_tls_self_signed(&cert, 1, &err), CG_OK);
    cg_tls_cert_pin(cert, pin);
    assert_int_equal(cg_tls_server_new(&srv, cert, &err), CG_OK);
    assert_int_equal(cg_tls_client_new(&cli, pin, NULL, &err), CG_OK);
    const uint32_t pa[3] = {1, 2, 3}, pb[3] = {299, 150, 0};
    view a = {0}, b = {0};
    server_view_of(fm, srv, cli, pa, 3, &a);
    server_view_of(fm, srv, cli, pb, 3, &b);
    assert_true(a.tls && b.tls);
    assert_int_equal(a.len, b.len);
    assert_true(a.len > 100000);
    assert_memory_equal(a.part_received, b.part_received, sizeof a.part_received);
    assert_memory_equal(a.part_rounds, b.part_rounds, sizeof a.part_rounds);
    int df;
    const double chi = bytes_chi_square(a.bytes, b.bytes, a.len, &df);
    fprintf(stderr, "network view over TLS: %zu bytes, chi-square %.1f on %d degrees of freedom\n", a.len, chi, df);
    assert_true(chi < (double)df + 7.5 * sqrt(2.0 * df));
    assert_true(memcmp(a.bytes, b.bytes, a.len) != 0);
    /* The network carries the handshake and the record overhead on top. */
    uint64_t payload = 0;
    for (int p = 0; p < CG_PART_COUNT; p++) payload += a.part_received[p];
    assert_true(a.len > payload);
    free(a.bytes);
    free(b.bytes);
    cg_tls_config_free(cli);
    cg_tls_config_free(srv);
    cg_tls_cert_free(cert);
    cg_fixed_model_free(fm);
    cg_gpt2_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_view_independent_of_prompt_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
