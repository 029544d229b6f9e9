/* The TLS channel: a pinned handshake carries frames both ways (echo of
 * uneven sizes, both ends sending megabytes at once), a wrong pin and an
 * untrusted CA are refused, a CA file works, a plaintext end meeting a TLS
 * end gets a clear error either way round, and a silent peer is bounded by
 * the handshake deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/net.h"

typedef struct server {
    cg_listener *l;
    cg_chan_options opt;
    int echo;      /* 1: echo length-prefixed messages until length ~0 */
    int recv_one;  /* 1: a plaintext server that tries to read one message */
    cg_status st;
    cg_error err;
    char addr[64];
    pthread_t th;
} server;

static void *server_main(void *arg)
{
    server *s = arg;
    cg_channel *ch = NULL;
    s->st = cg_accept(s->l, &ch, &s->opt, &s->err);
    while (s->st == CG_OK && s->echo) {
        uint64_t n;
        if ((s->st = cg_chan_recv(ch, &n, sizeof n, &s->err)) != CG_OK || n == UINT64_MAX) break;
        uint8_t *b = cg_alloc(n ? n : 1);
        s->st = cg_chan_recv(ch, b, n, &s->err);
        if (s->st == CG_OK) s->st = cg_chan_send(ch, b, n, &s->err);
        if (s->st == CG_OK) s->st = cg_chan_flush(ch, &s->err);
        cg_free(b);
    }
    if (s->st == CG_OK && s->recv_one) {
        uint8_t b[8];
        s->st = cg_chan_recv(ch, b, sizeof b, &s->err);
    }
    cg_chan_free(ch);
    return NULL;
}

/* Listens on a free loopback port and runs fn(s) in a thread that
 * accepts with s->opt. */
static void server_run(server *s, void *(*fn)(void *))
{
    cg_error err = {0};
    assert_int_equal(cg_listen(&s->l, "127.0.0.1:0", &err), CG_OK);
    snprintf(s->addr, sizeof s->addr, "127.0.0.1:%u", (unsigned)cg_listener_port(s->l));
    assert_int_equal(pthread_create(&s->th, NULL, fn, s), 0);
}

static void server_start(server *s, const cg_tls_config *tls)
{
    s->opt.timeout_ms = 10000;
    s->opt.tls = tls;
    server_run(s, server_main);
}

static cg_status server_join(server *s)
{
    pthread_join(s->th, NULL);
    cg_listener_close(s->l);
    return s->st;
}

static cg_tls_cert *cert;
static cg_tls_config *srv_cfg;
static char pin[CG_TLS_PIN_HEX + 1];

static int setup(void **state)
{
    (void)state;
    cg_error err = {0};
    if (cg_tls_self_signed(&cert, 1, &err) != CG_OK) return -1;
    cg_tls_cert_pin(cert, pin);
    return cg_tls_server_new(&srv_cfg, cert, &err) == CG_OK && strlen(pin) == CG_TLS_PIN_HEX ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cg_tls_config_free(srv_cfg);
    cg_tls_cert_free(cert);
    return 0;
}

/* Echo round trips of uneven sizes through the TLS channel. */
static void echo_through(cg_channel *ch)
{
    cg_prg prg;
    cg_prg_init_random(&prg);
    size_t sizes[] = {0, 1, 11, 12, 13, 16383, 16384, 16385, (1u << 20) + 3, 3000000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *out = cg_alloc(n + 1), *in = cg_alloc(n + 1);
        cg_prg_bytes(&prg, out, n);
        uint64_t len = n;
        assert_int_equal(cg_chan_send(ch, &len, sizeof len, NULL), CG_OK);
        assert_int_equal(cg_chan_send(ch, out, n, NULL), CG_OK);
        assert_int_equal(cg_chan_recv(ch, in, n, NULL), CG_OK);
        assert_memory_equal(in, out, n);
        cg_free(out);
        cg_free(in);
    }
    uint64_t stop = UINT64_MAX;
    assert_int_equal(cg_chan_send(ch, &stop, sizeof stop, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(ch, NULL), CG_OK);
}

/* A client pinned to the test certificate (*cli, the caller's to free)
 * connects to s: cg_connect's status. */
static cg_status connect_pinned(const server *s, const char *pin_hex, int timeout_ms, cg_tls_config **cli,
                                cg_channel **ch, cg_error *err)
{
    assert_int_equal(cg_tls_client_new(cli, pin_hex, NULL, err), CG_OK);
    cg_chan_options opt = {.timeout_ms = timeout_ms, .tls = *cli};
    *ch = NULL;
    return cg_connect(ch, s->addr, &opt, err);
}

static void test_pinned_handshake_and_echo(void **state)
{
    (void)state;
    server s = {.echo = 1};
    server_start(&s, srv_cfg);
    cg_tls_config *cli = NULL;
    cg_error err = {0};
    cg_channel *ch;
    assert_int_equal(connect_pinned(&s, pin, 10000, &cli, &ch, &err), CG_OK);
    cg_chan_tls_info info;
    cg_chan_get_tls_info(ch, &info);
    assert_true(info.tls);
    assert_string_equal(info.version, "TLSv1.3");
    assert_true(info.cipher[0] != 0);
    assert_true(info.handshake_ns > 0);
    echo_through(ch);
    cg_chan_stats st;
    cg_chan_get_stats(ch, &st);
    cg_chan_get_tls_info(ch, &info);
    /* Records cost bytes: the wire carries more than the payload. */
    assert_true(info.wire_sent > st.total.bytes_sent);
    assert_true(info.wire_received > st.total.bytes_received);
    cg_chan_free(ch);
    assert_int_equal(server_join(&s), CG_OK);
    /* A pin in upper case is the same pin. */
    char upper[CG_TLS_PIN_HEX + 1];
    for (size_t i = 0; i <= CG_TLS_PIN_HEX; i++) upper[i] = (char)(pin[i] >= 'a' ? pin[i] - 32 : pin[i]);
    cg_tls_config *cli2 = NULL;
    assert_int_equal(cg_tls_client_new(&cli2, upper, NULL, &err), CG_OK);
    cg_tls_config_free(cli2);
    cg_tls_config_free(cli);
}

/* Both ends send megabytes before reading: TLS keeps the channel's
 * deadlock freedom (a blocked write drains the socket). */
typedef struct bulk {
    cg_channel *ch;
    size_t n;
    cg_status st;
} bulk;

static void *bulk_main(void *arg)
{
    bulk *b = arg;
    uint8_t *buf = cg_calloc(1, b->n);
    b->st = cg_chan_send(b->ch, buf, b->n, NULL);
    if (b->st == CG_OK) b->st = cg_chan_recv(b->ch, buf, b->n, NULL);
    cg_free(buf);
    return NULL;
}

static void *accept_main(void *arg)
{
    server *s = arg;
    cg_channel *ch = NULL;
    s->st = cg_accept(s->l, &ch, &s->opt, &s->err);
    if (s->st == CG_OK) {
        bulk b = {.ch = ch, .n = 24u << 20};
        bulk_main(&b);
        s->st = b.st;
    }
    cg_chan_free(ch);
    return NULL;
}

static void test_simultaneous_large_sends(void **state)
{
    (void)state;
    server s = {.opt = {.timeout_ms = 20000, .tls = srv_cfg}};
    server_run(&s, accept_main);
    cg_error err = {0};
    cg_tls_config *cli = NULL;
    cg_channel *ch;
    assert_int_equal(connect_pinned(&s, pin, 20000, &cli, &ch, &err), CG_OK);
    bulk b = {.ch = ch, .n = 24u << 20};
    bulk_main(&b);
    assert_int_equal(b.st, CG_OK);
    assert_int_equal(server_join(&s), CG_OK);
    cg_chan_free(ch);
    cg_tls_config_free(cli);
}

static void test_wrong_pin_refused(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, srv_cfg);
    char bad[CG_TLS_PIN_HEX + 1];
    memcpy(bad, pin, sizeof bad);
    bad[10] = bad[10] == '0' ? '1' : '0';
    cg_tls_config *cli = NULL;
    cg_error err = {0};
    cg_channel *ch;
    assert_int_equal(connect_pinned(&s, bad, 10000, &cli, &ch, &err), CG_ERR_PEER);
    assert_null(ch);
    assert_non_null(strstr(err.msg, "does not match the pin"));
    assert_int_not_equal(server_join(&s), CG_OK);
    cg_tls_config_free(cli);
    /* Malformed pins and a pin with a CA file are argument errors. */
    assert_int_equal(cg_tls_client_new(&cli, "abc", NULL, &err), CG_ERR_ARG);
    bad[3] = 'g';
    assert_int_equal(cg_tls_client_new(&cli, bad, NULL, &err), CG_ERR_ARG);
    assert_int_equal(cg_tls_client_new(&cli, pin, "x.pem", &err), CG_ERR_ARG);
    assert_int_equal(cg_tls_client_new(&cli, NULL, NULL, &err), CG_ERR_ARG);
}

/* PEM files: the server from files, the pin of the file, the client
 * trusting the certificate as its CA file; another CA is refused. */
static void test_pem_files_and_ca(void **state)
{
    (void)state;
    char dir[] = "/tmp/cg_tls_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char crt[64], key[64], other[64];
    snprintf(crt, sizeof crt, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(other, sizeof other, "%s/other.pem", dir);
    cg_error err = {0};
    assert_int_equal(cg_tls_cert_write_pem(cert, crt, key, &err), CG_OK);
    char fpin[CG_TLS_PIN_HEX + 1];
    assert_int_equal(cg_tls_pin_of_file(crt, fpin, &err), CG_OK);
    assert_string_equal(fpin, pin);
    cg_tls_config *pem_srv = NULL, *cli = NULL, *cli_other = NULL;
    assert_int_equal(cg_tls_server_new_pem(&pem_srv, crt, key, &err), CG_OK);
    assert_int_equal(cg_tls_server_new_pem(&cli, "/nonexistent.pem", key, &err), CG_ERR_FORMAT);
    assert_int_equal(cg_tls_client_new(&cli, NULL, crt, &err), CG_OK);
    server s = {.echo = 1};
    server_start(&s, pem_srv);
    cg_chan_options opt = {.timeout_ms = 10000, .tls = cli};
    cg_channel *ch = NULL;
    assert_int_equal(cg_connect(&ch, s.addr, &opt, &err), CG_OK);
    echo_through(ch);
    cg_chan_free(ch);
    assert_int_equal(server_join(&s), CG_OK);
    /* A CA that did not sign the server's certificate. */
    cg_tls_cert *c2 = NULL;
    assert_int_equal(cg_tls_self_signed(&c2, 1, &err), CG_OK);
    assert_int_equal(cg_tls_cert_write_pem(c2, other, key, &err), CG_OK);
    assert_int_equal(cg_tls_client_new(&cli_other, NULL, other, &err), CG_OK);
    server s2 = {0};
    server_start(&s2, pem_srv);
    opt.tls = cli_other;
    assert_int_equal(cg_connect(&ch, s2.addr, &opt, &err), CG_ERR_PEER);
    assert_non_null(strstr(err.msg, "not trusted"));
    assert_int_not_equal(server_join(&s2), CG_OK);
    cg_tls_cert_free(c2);
    cg_tls_config_free(cli_other);
    cg_tls_config_free(cli);
    cg_tls_config_free(pem_srv);
    unlink(crt);
    unlink(key);
    unlink(other);
    rmdir(dir);
}

/* A plaintext client at a TLS server, and a TLS client at a plaintext server. */
static void test_plaintext_meets_tls(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, srv_cfg);
    cg_chan_options opt = {.timeout_ms = 10000};
    cg_channel *ch = NULL;
    cg_error err = {0};
    assert_int_equal(cg_connect(&ch, s.addr, &opt, &err), CG_OK);
    uint8_t req[40] = {1};
    assert_int_equal(cg_chan_send_msg(ch, req, sizeof req, &err), CG_OK);
    uint8_t b[8];
    assert_int_equal(cg_chan_recv(ch, b, sizeof b, &err), CG_ERR_PEER);
    assert_non_null(strstr(err.msg, "the server speaks TLS"));
    cg_chan_free(ch);
    assert_int_equal(server_join(&s), CG_ERR_PEER);
    assert_non_null(strstr(s.err.msg, "does not speak TLS"));

    server p = {.recv_one = 1};
    server_start(&p, NULL);
    cg_tls_config *cli = NULL;
    assert_int_equal(connect_pinned(&p, pin, 10000, &cli, &ch, &err), CG_ERR_PEER);
    assert_non_null(strstr(err.msg, "without a TLS answer"));
    assert_int_equal(server_join(&p), CG_ERR_PEER);
    assert_non_null(strstr(p.err.msg, "the client speaks TLS"));
    cg_tls_config_free(cli);
}

/* A client that connects and says nothing is dropped at the handshake
 * deadline; a client whose server never answers gives up at its own. */
static void test_handshake_timeout(void **state)
{
    (void)state;
    server s = {.opt = {.handshake_timeout_ms = 200}};
    server_start(&s, srv_cfg);
    cg_error err = {0};
    cg_channel *silent = NULL;
    cg_chan_options plain = {.timeout_ms = 10000};
    assert_int_equal(cg_connect(&silent, s.addr, &plain, &err), CG_OK);
    assert_int_equal(server_join(&s), CG_ERR_TIMEOUT);
    cg_chan_free(silent);

    /* The listener's backlog completes TCP, nobody runs TLS behind it. */
    cg_listener *l = NULL;
    assert_int_equal(cg_listen(&l, "127.0.0.1:0", &err), CG_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)cg_listener_port(l));
    cg_tls_config *cli = NULL;
    assert_int_equal(cg_tls_client_new(&cli, pin, NULL, &err), CG_OK);
    cg_chan_options opt = {.timeout_ms = 10000, .tls = cli, .handshake_timeout_ms = 200};
    cg_channel *ch = NULL;
    assert_int_equal(cg_connect(&ch, addr, &opt, &err), CG_ERR_TIMEOUT);
    cg_listener_close(l);
    cg_tls_config_free(cli);
}

/* The deferred handshake a server runs in a worker, then the wait for the
 * client's first bytes: a client that completes TLS and stays silent is
 * timed out; one that talks is served. */
typedef struct hs_job {
    cg_channel *ch;
    const cg_tls_config *cfg;
    int talk; /* send a message after the handshake */
    cg_status st;
} hs_job;

static void *client_hs_main(void *arg)
{
    hs_job *j = arg;
    j->st = cg_chan_handshake(j->ch, j->cfg, 5000, NULL);
    if (j->st == CG_OK && j->talk) {
        j->st = cg_chan_send_msg(j->ch, "hi", 2, NULL);
        if (j->st == CG_OK) j->st = cg_chan_flush(j->ch, NULL);
    }
    return NULL;
}

static void test_deferred_handshake_and_first_bytes(void **state)
{
    (void)state;
    cg_error err = {0};
    cg_tls_config *cli = NULL;
    assert_int_equal(cg_tls_client_new(&cli, pin, NULL, &err), CG_OK);
    cg_channel *a = NULL, *b = NULL;
    cg_chan_options opt = {.tls = cli};
    assert_int_equal(cg_chan_tcp_pair_new(&a, &b, &opt, &err), CG_ERR_ARG);
    assert_int_equal(cg_chan_pair_new(&a, &b, &opt, &err), CG_ERR_ARG);
    for (int talk = 0; talk < 2; talk++) {
        assert_int_equal(cg_chan_tcp_pair_new(&a, &b, NULL, &err), CG_OK);
        hs_job j = {.ch = a, .cfg = cli, .talk = talk};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, client_hs_main, &j), 0);
        assert_int_equal(cg_chan_handshake(b, srv_cfg, 5000, &err), CG_OK);
        pthread_join(th, NULL);
        assert_int_equal(j.st, CG_OK);
        /* A second handshake on a channel in use is refused. */
        assert_int_equal(cg_chan_handshake(b, srv_cfg, 5000, &err), CG_ERR_STATE);
        if (talk) {
            assert_int_equal(cg_chan_wait_data(b, 5000, &err), CG_OK);
            char buf[3] = {0};
            assert_int_equal(cg_chan_recv_msg(b, buf, 2, &err), CG_OK);
            assert_string_equal(buf, "hi");
        } else {
            assert_int_equal(cg_chan_wait_data(b, 100, &err), CG_ERR_TIMEOUT);
        }
        cg_chan_free(a);
        cg_chan_free(b);
    }
    cg_tls_config_free(cli);
}

/* A TLS peer that goes away: sending is an error, not a SIGPIPE. */
static void test_peer_gone(void **state)
{
    (void)state;
    server s = {0};
    server_start(&s, srv_cfg);
    cg_tls_config *cli = NULL;
    cg_error err = {0};
    cg_channel *ch;
    assert_int_equal(connect_pinned(&s, pin, 10000, &cli, &ch, &err), CG_OK);
    assert_int_equal(server_join(&s), CG_OK); /* the server closed its end */
    uint8_t *big = cg_calloc(1, 8u << 20);
    cg_status st = cg_chan_send(ch, big, 8u << 20, &err);
    if (st == CG_OK) st = cg_chan_flush(ch, &err);
    assert_int_equal(st, CG_ERR_PEER);
    cg_free(big);
    cg_chan_free(ch);
    cg_tls_config_free(cli);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pinned_handshake_and_echo),
        cmocka_unit_test(test_simultaneous_large_sends),
        cmocka_unit_test(test_wrong_pin_refused),
        cmocka_unit_test(test_pem_files_and_ca),
        cmocka_unit_test(test_plaintext_meets_tls),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_deferred_handshake_and_first_bytes),
        cmocka_unit_test(test_peer_gone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
