/* Tests for the channel: round trips over the in-process pair and loopback TCP,
 * exact counters, error paths (peer close, stall, malformed frames), shaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cryptogen/net.h"

/* The peer echoes messages: u64 length, then the payload, until length ~0. */
static void *echo_peer(void *arg)
{
    cg_channel *ch = arg;
    cg_status st = CG_OK;
    for (;;) {
        uint64_t n;
        if ((st = cg_chan_recv(ch, &n, sizeof n, NULL)) != CG_OK) break;
        if (n == UINT64_MAX) break;
        uint8_t *b = cg_alloc(n ? n : 1);
        st = cg_chan_recv(ch, b, n, NULL);
        if (st == CG_OK) st = cg_chan_send(ch, b, n, NULL);
        if (st == CG_OK) st = cg_chan_flush(ch, NULL);
        cg_free(b);
        if (st != CG_OK) break;
    }
    return (void *)(intptr_t)st;
}

static void round_trips(cg_channel *a, cg_channel *b)
{
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, echo_peer, b), 0);
    size_t sizes[] = {0, 1, 3, 1000, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, (3u << 20) + 5, 17, 0};
    cg_prg prg;
    cg_prg_init_random(&prg);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] + 8; k++) {
        size_t n = k < sizeof sizes / sizeof sizes[0] ? sizes[k] : (size_t)cg_prg_uniform(&prg, 200000);
        uint8_t *out = cg_alloc(n + 1), *in = cg_alloc(n + 1);
        cg_prg_bytes(&prg, out, n);
        uint64_t len = n;
        /* Send the payload in uneven pieces to exercise buffering. */
        assert_int_equal(cg_chan_send(a, &len, sizeof len, NULL), CG_OK);
        size_t off = 0;
        while (off < n) {
            size_t piece = 1 + (size_t)cg_prg_uniform(&prg, 70000);
            if (piece > n - off) piece = n - off;
            assert_int_equal(cg_chan_send(a, out + off, piece, NULL), CG_OK);
            off += piece;
        }
        /* Receive also in pieces. */
        off = 0;
        while (off < n) {
            size_t piece = 1 + (size_t)cg_prg_uniform(&prg, 50000);
            if (piece > n - off) piece = n - off;
            assert_int_equal(cg_chan_recv(a, in + off, piece, NULL), CG_OK);
            off += piece;
        }
        assert_memory_equal(in, out, n);
        cg_free(out);
        cg_free(in);
    }
    uint64_t stop = UINT64_MAX;
    assert_int_equal(cg_chan_send(a, &stop, sizeof stop, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    void *ret;
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, CG_OK);
}

static void test_pair_round_trips(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    round_trips(a, b);
    cg_chan_free(a);
    cg_chan_free(b);
}

typedef struct {
    cg_listener *l;
    cg_channel *ch;
    cg_status st;
} accept_job;

static void *accept_thread(void *arg)
{
    accept_job *j = arg;
    j->st = cg_accept(j->l, &j->ch, NULL, NULL);
    return NULL;
}

/* A client connects to l at addr while a thread accepts: *c, *s the two ends. */
static void connect_accepted(cg_listener *l, const char *addr, const cg_chan_options *opt, cg_channel **c,
                             cg_channel **s)
{
    accept_job j = {l, NULL, CG_OK};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, accept_thread, &j), 0);
    assert_int_equal(cg_connect(c, addr, opt, NULL), CG_OK);
    pthread_join(th, NULL);
    assert_int_equal(j.st, CG_OK);
    *s = j.ch;
}

static void tcp_round_trips(const char *listen_addr, const char *host_fmt)
{
    cg_listener *l;
    cg_error err;
    assert_int_equal(cg_listen(&l, listen_addr, &err), CG_OK);
    assert_true(cg_listener_port(l) != 0);
    char addr[64];
    snprintf(addr, sizeof addr, host_fmt, (unsigned)cg_listener_port(l));
    cg_channel *c, *s;
    connect_accepted(l, addr, NULL, &c, &s);
    round_trips(c, s);
    cg_chan_free(c);
    cg_chan_free(s);
    cg_listener_close(l);
}

static void test_tcp_round_trips_ipv4(void **state)
{
    (void)state;
    tcp_round_trips("127.0.0.1:0", "127.0.0.1:%u");
}

static void test_tcp_round_trips_ipv6(void **state)
{
    (void)state;
    cg_listener *l;
    cg_error err;
    cg_status st = cg_listen(&l, "[::1]:0", &err);
    if (st != CG_OK) {
        /* A host without IPv6 loopback: the address must still parse (the
         * failure is the OS's, not a format error). */
        assert_int_equal(st, CG_ERR_IO);
        fprintf(stderr, "  (no IPv6 loopback here: %s)\n", err.msg);
        return;
    }
    cg_listener_close(l);
    tcp_round_trips("[::1]:0", "[::1]:%u");
}

static void test_tcp_errors(void **state)
{
    (void)state;
    cg_listener *l;
    assert_int_equal(cg_listen(&l, "127.0.0.1:0", NULL), CG_OK);
    cg_chan_options opt = {.timeout_ms = 100};
    cg_channel *c, *s;
    /* Nobody connects: accept times out. */
    assert_int_equal(cg_accept(l, &c, &opt, NULL), CG_ERR_TIMEOUT);
    assert_null(c);
    /* A peer that goes away: PEER on read. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)cg_listener_port(l));
    connect_accepted(l, addr, &opt, &c, &s);
    uint8_t x[8] = {0};
    assert_int_equal(cg_chan_recv(c, x, 8, NULL), CG_ERR_TIMEOUT);
    cg_chan_free(s);
    cg_chan_free(c);
    connect_accepted(l, addr, &opt, &c, &s);
    assert_int_equal(cg_chan_send(s, x, 3, NULL), CG_OK);
    cg_chan_free(s);
    assert_int_equal(cg_chan_recv(c, x, 8, NULL), CG_ERR_PEER);
    cg_chan_free(c);
    uint16_t port = cg_listener_port(l);
    cg_listener_close(l);
    /* Nobody listens any more: connection refused. */
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    assert_int_equal(cg_connect(&c, addr, &opt, NULL), CG_ERR_IO);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    cg_listener *l;
    cg_channel *c;
    assert_int_equal(cg_listen(&l, "127.0.0.1", NULL), CG_ERR_ARG);
    assert_int_equal(cg_listen(&l, "[::1:80", NULL), CG_ERR_ARG);
    assert_int_equal(cg_connect(&c, "127.0.0.1:x1", NULL, NULL), CG_ERR_ARG);
    assert_int_equal(cg_connect(&c, ":80", NULL, NULL), CG_ERR_ARG);
}

/* Both parties send a lot before either receives: must not deadlock. */
typedef struct {
    cg_channel *ch;
    size_t n;
    uint8_t seed;
    cg_status st;
} swap_job;

static void *swap_thread(void *arg)
{
    swap_job *j = arg;
    uint8_t *out = cg_alloc(j->n), *in = cg_alloc(j->n);
    for (size_t i = 0; i < j->n; i++) out[i] = (uint8_t)(i * 7 + j->seed);
    j->st = cg_chan_send(j->ch, out, j->n, NULL);
    if (j->st == CG_OK) j->st = cg_chan_recv(j->ch, in, j->n, NULL);
    if (j->st == CG_OK)
        for (size_t i = 0; i < j->n; i++)
            if (in[i] != (uint8_t)(i * 7 + (j->seed ^ 1))) {
                j->st = CG_ERR_INTERNAL;
                break;
            }
    cg_free(out);
    cg_free(in);
    return NULL;
}

static void test_simultaneous_large_sends(void **state)
{
    (void)state;
    cg_channel *a, *b;
    cg_chan_options opt = {.timeout_ms = 20000};
    assert_int_equal(cg_chan_pair_new(&a, &b, &opt, NULL), CG_OK);
    swap_job ja = {a, 24u << 20, 0, CG_OK}, jb = {b, 24u << 20, 1, CG_OK};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, swap_thread, &jb), 0);
    swap_thread(&ja);
    pthread_join(t, NULL);
    assert_int_equal(ja.st, CG_OK);
    assert_int_equal(jb.st, CG_OK);
    cg_chan_free(a);
    cg_chan_free(b);
}

/* A scripted exchange with known byte, round and message counts. */
static void *counter_peer(void *arg)
{
    cg_channel *b = arg;
    uint8_t buf[100];
    cg_chan_set_phase(b, "one");
    cg_status st = cg_chan_recv(b, buf, 15, NULL); /* no send before: not a round */
    if (st == CG_OK) st = cg_chan_send(b, buf, 7, NULL);
    cg_chan_set_phase(b, "two");
    if (st == CG_OK) st = cg_chan_recv(b, buf, 3, NULL); /* round 1 */
    if (st == CG_OK) st = cg_chan_recv(b, buf, 4, NULL); /* same direction: no round */
    if (st == CG_OK) st = cg_chan_send_msg(b, buf, 9, NULL);
    if (st == CG_OK) st = cg_chan_flush(b, NULL);
    return (void *)(intptr_t)st;
}

static void test_counters_exact(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, counter_peer, b), 0);
    uint8_t buf[100] = {0};
    cg_chan_set_phase(a, "one");
    assert_int_equal(cg_chan_send(a, buf, 10, NULL), CG_OK);
    assert_int_equal(cg_chan_send(a, buf, 5, NULL), CG_OK);
    assert_int_equal(cg_chan_recv(a, buf, 7, NULL), CG_OK); /* round 1, flushes 1 message */
    cg_chan_set_phase(a, "two");
    assert_int_equal(cg_chan_send(a, buf, 3, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    assert_int_equal(cg_chan_send(a, buf, 4, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK); /* empty flush: no message */
    assert_int_equal(cg_chan_recv_msg(a, buf, 9, NULL), CG_OK); /* round 2 */
    void *ret;
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, CG_OK);

    cg_chan_stats sa, sb;
    cg_chan_get_stats(a, &sa);
    cg_chan_get_stats(b, &sb);
    assert_int_equal(sa.total.bytes_sent, 22);
    assert_int_equal(sa.total.bytes_received, 7 + 8 + 9);
    assert_int_equal(sa.total.rounds, 2);
    assert_int_equal(sa.total.messages, 3);
    assert_int_equal(sa.nphases, 2);
    assert_string_equal(sa.phase_name[0], "one");
    assert_string_equal(sa.phase_name[1], "two");
    assert_int_equal(sa.phase[0].bytes_sent, 15);
    assert_int_equal(sa.phase[0].bytes_received, 7);
    assert_int_equal(sa.phase[0].rounds, 1);
    assert_int_equal(sa.phase[0].messages, 1);
    assert_int_equal(sa.phase[1].bytes_sent, 7);
    assert_int_equal(sa.phase[1].bytes_received, 17);
    assert_int_equal(sa.phase[1].rounds, 1);
    assert_int_equal(sa.phase[1].messages, 2);

    assert_int_equal(sb.total.bytes_sent, 7 + 17);
    assert_int_equal(sb.total.bytes_received, 22);
    assert_int_equal(sb.total.rounds, 1);
    /* b's 7 bytes flushed by its receive in phase "two", then the message. */
    assert_int_equal(sb.total.messages, 2);
    assert_int_equal(sb.phase[0].bytes_sent, 7);
    assert_int_equal(sb.phase[0].rounds, 0);
    assert_int_equal(sb.phase[1].rounds, 1);
    assert_int_equal(sb.phase[1].bytes_received, 7);
    assert_int_equal(sb.phase[1].messages, 2);

    cg_chan_reset_stats(a);
    cg_chan_get_stats(a, &sa);
    assert_int_equal(sa.total.bytes_sent, 0);
    assert_int_equal(sa.nphases, 0);
    cg_chan_free(a);
    cg_chan_free(b);
}

static void test_peer_close(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    uint8_t x[16] = {1};
    assert_int_equal(cg_chan_send(b, x, 10, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(b, NULL), CG_OK);
    cg_chan_free(b);
    cg_error err;
    /* Ten bytes are there; the next six never come. */
    assert_int_equal(cg_chan_recv(a, x, 16, &err), CG_ERR_PEER);
    assert_int_equal(err.code, CG_ERR_PEER);
    /* The channel stays failed. */
    assert_int_equal(cg_chan_recv(a, x, 1, NULL), CG_ERR_PEER);
    cg_chan_free(a);

    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    cg_chan_free(b);
    uint8_t *big = cg_calloc(1, 8u << 20);
    cg_status st = cg_chan_send(a, big, 8u << 20, NULL);
    if (st == CG_OK) st = cg_chan_flush(a, NULL);
    assert_int_equal(st, CG_ERR_PEER);
    cg_free(big);
    cg_chan_free(a);
}

static void test_timeout(void **state)
{
    (void)state;
    cg_channel *a, *b;
    cg_chan_options opt = {.timeout_ms = 150};
    assert_int_equal(cg_chan_pair_new(&a, &b, &opt, NULL), CG_OK);
    uint8_t x[4];
    cg_error err;
    uint64_t t0 = cg_now_ns();
    assert_int_equal(cg_chan_recv(a, x, 4, &err), CG_ERR_TIMEOUT);
    assert_true(cg_now_ns() - t0 >= 100000000ull);
    /* A frame header that arrives without its payload is a stall too. */
    assert_int_equal(cg_chan_send(b, x, 4, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(b, NULL), CG_OK);
    uint8_t y[8];
    assert_int_equal(cg_chan_recv(a, y, 8, NULL), CG_ERR_TIMEOUT);
    cg_chan_free(a);
    cg_chan_free(b);
}

/* Raw bytes from a socketpair into a channel (shaping on or off). */
static cg_status recv_raw_shaped(const uint8_t *bytes, size_t n, size_t max_frame, size_t want,
                                 bool shaped, cg_error *err)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], bytes, n), (ssize_t)n);
    close(sv[1]);
    cg_chan_options opt = {.timeout_ms = 2000, .max_frame = max_frame,
                           .shape = {.one_way_latency_us = shaped ? 1 : 0}};
    cg_channel *ch;
    assert_int_equal(cg_chan_wrap_fd(&ch, sv[0], &opt, NULL), CG_OK);
    uint8_t buf[64];
    cg_status st = cg_chan_recv(ch, buf, want, err);
    cg_chan_free(ch);
    return st;
}

static cg_status recv_raw(const uint8_t *bytes, size_t n, size_t max_frame, size_t want,
                          cg_error *err)
{
    return recv_raw_shaped(bytes, n, max_frame, want, false, err);
}

static void test_malformed_frames(void **state)
{
    (void)state;
    cg_error err;
    /* Length 100 with max 64. */
    uint8_t oversized[12 + 100] = {100, 0, 0, 0};
    assert_int_equal(recv_raw(oversized, sizeof oversized, 64, 4, &err), CG_ERR_FORMAT);
    /* Zero-length frame. */
    uint8_t empty[12] = {0};
    assert_int_equal(recv_raw(empty, sizeof empty, 64, 4, &err), CG_ERR_FORMAT);
    /* Truncated header, then EOF. */
    uint8_t half[5] = {4, 0, 0, 0, 0};
    assert_int_equal(recv_raw(half, sizeof half, 64, 4, &err), CG_ERR_PEER);
    /* A good frame of 4 bytes. */
    uint8_t good[16] = {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    assert_int_equal(recv_raw(good, sizeof good, 64, 4, &err), CG_OK);
    /* Delivery stamp far in the future: with shaping on, refused, not slept
     * on; without (every real server), ignored: a peer cannot delay us. */
    uint8_t future[16] = {4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 1, 2, 3, 4};
    assert_int_equal(recv_raw_shaped(future, sizeof future, 64, 4, true, &err), CG_ERR_TIMEOUT);
    assert_int_equal(recv_raw(future, sizeof future, 64, 4, &err), CG_OK);
    /* A stamp 1 s ahead (inside recv_raw's 2 s timeout) is not waited for either. */
    uint64_t soon = cg_now_ns() + 1000000000ull;
    for (int i = 0; i < 8; i++) future[4 + i] = (uint8_t)(soon >> (8 * i));
    assert_int_equal(recv_raw(future, sizeof future, 64, 4, &err), CG_OK);
    assert_true(cg_now_ns() < soon);

    /* Length-prefixed messages of the wrong size. */
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    uint8_t m[32] = {0};
    assert_int_equal(cg_chan_send_msg(a, m, 20, NULL), CG_OK);
    assert_int_equal(cg_chan_send_msg(a, m, 20, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    cg_buf buf;
    cg_buf_init(&buf);
    assert_int_equal(cg_chan_recv_msg_buf(b, &buf, 32, NULL), CG_OK);
    assert_int_equal(buf.len, 20);
    assert_int_equal(cg_chan_recv_msg(b, m, 19, &err), CG_ERR_FORMAT);
    cg_chan_free(a);
    cg_chan_free(b);
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    assert_int_equal(cg_chan_send_msg(a, m, 20, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    assert_int_equal(cg_chan_recv_msg_buf(b, &buf, 19, &err), CG_ERR_FORMAT);
    cg_buf_free(&buf);
    cg_chan_free(a);
    cg_chan_free(b);
}

static void *pong_peer(void *arg)
{
    cg_channel *ch = arg;
    uint8_t x[8];
    cg_status st = CG_OK;
    for (int i = 0; i < 5 && st == CG_OK; i++) {
        st = cg_chan_recv(ch, x, 8, NULL);
        if (st == CG_OK) st = cg_chan_send(ch, x, 8, NULL);
    }
    if (st == CG_OK) st = cg_chan_flush(ch, NULL);
    return (void *)(intptr_t)st;
}

static void *send_big_thread(void *arg)
{
    cg_channel *ch = arg;
    size_t n = 5000000;
    uint8_t *buf = cg_calloc(1, n);
    cg_status st = cg_chan_send(ch, buf, n, NULL);
    if (st == CG_OK) st = cg_chan_flush(ch, NULL);
    cg_free(buf);
    return (void *)(intptr_t)st;
}

static void test_shaping_latency_and_bandwidth(void **state)
{
    (void)state;
    cg_chan_options opt = {.timeout_ms = 10000, .shape = {.one_way_latency_us = 20000}};
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, &opt, NULL), CG_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pong_peer, b), 0);
    uint8_t x[8] = {0};
    uint64_t t0 = cg_now_ns();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(cg_chan_send(a, x, 8, NULL), CG_OK);
        assert_int_equal(cg_chan_recv(a, x, 8, NULL), CG_OK);
    }
    uint64_t dt = cg_now_ns() - t0;
    void *ret;
    pthread_join(th, &ret);
    assert_int_equal((int)(intptr_t)ret, CG_OK);
    /* Ten one-way trips of 20 ms each: a lower bound only. */
    assert_true(dt >= 200000000ull);
    cg_chan_free(a);
    cg_chan_free(b);

    /* 80 Mbit/s: 1 MB takes at least 100 ms. */
    cg_chan_options bw = {.timeout_ms = 10000, .shape = {.bandwidth_bps = 80000000ull}};
    assert_int_equal(cg_chan_pair_new(&a, &b, &bw, NULL), CG_OK);
    size_t n = 1000000;
    uint8_t *buf = cg_calloc(1, n);
    t0 = cg_now_ns();
    assert_int_equal(cg_chan_send(a, buf, n, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    assert_int_equal(cg_chan_recv(b, buf, n, NULL), CG_OK);
    dt = cg_now_ns() - t0;
    assert_true(dt >= 100000000ull);
    cg_free(buf);
    cg_chan_free(a);
    cg_chan_free(b);

    /* A transfer longer than the timeout still goes through: 5 MB at
     * 80 Mbit/s is 500 ms against a 400 ms timeout, paced frame by frame
     * (about 105 ms per 1 MiB frame). */
    cg_chan_options slow = {.timeout_ms = 400, .shape = {.bandwidth_bps = 80000000ull}};
    assert_int_equal(cg_chan_pair_new(&a, &b, &slow, NULL), CG_OK);
    n = 5000000;
    buf = cg_calloc(1, n);
    t0 = cg_now_ns();
    pthread_t sender;
    assert_int_equal(pthread_create(&sender, NULL, send_big_thread, a), 0);
    assert_int_equal(cg_chan_recv(b, buf, n, NULL), CG_OK);
    void *sret;
    pthread_join(sender, &sret);
    assert_int_equal((int)(intptr_t)sret, CG_OK);
    assert_true(cg_now_ns() - t0 >= 500000000ull);
    cg_free(buf);
    cg_chan_free(a);
    cg_chan_free(b);
}

/* The in-process loopback TCP pair: one message each way, then a close
 * reads as a disconnect on the other end. */
static void test_tcp_pair_new(void **state)
{
    (void)state;
    cg_channel *a = NULL, *b = NULL;
    cg_error err = {0};
    assert_int_equal(cg_chan_tcp_pair_new(&a, &b, NULL, &err), CG_OK);
    char buf[6] = {0};
    assert_int_equal(cg_chan_send_msg(a, "hello", 5, &err), CG_OK);
    assert_int_equal(cg_chan_flush(a, &err), CG_OK);
    assert_int_equal(cg_chan_recv_msg(b, buf, 5, &err), CG_OK);
    assert_string_equal(buf, "hello");
    assert_int_equal(cg_chan_send_msg(b, "world", 5, &err), CG_OK);
    assert_int_equal(cg_chan_flush(b, &err), CG_OK);
    assert_int_equal(cg_chan_recv_msg(a, buf, 5, &err), CG_OK);
    assert_string_equal(buf, "world");
    cg_chan_free(a);
    assert_int_not_equal(cg_chan_recv_msg(b, buf, 5, &err), CG_OK);
    cg_chan_free(b);
    assert_int_not_equal(cg_chan_tcp_pair_new(NULL, &b, NULL, &err), CG_OK);
}

/* A cg_buf whose allocation failed is refused before anything is sent; the
 * channel stays usable and the peer sees only the next, whole message. */
static void test_send_buf_refuses_failed(void **state)
{
    (void)state;
    cg_channel *a, *b;
    assert_int_equal(cg_chan_pair_new(&a, &b, NULL, NULL), CG_OK);
    cg_buf bad, good, got;
    cg_buf_init(&bad);
    cg_buf_init(&good);
    cg_buf_init(&got);
    cg_buf_put(&bad, "abc", 3);
    assert_false(cg_buf_reserve(&bad, SIZE_MAX)); /* marks it failed */
    assert_true(bad.failed);
    cg_error err = {0};
    assert_int_equal(cg_chan_send_buf(a, &bad, &err), CG_ERR_NOMEM);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    cg_chan_stats st;
    cg_chan_get_stats(a, &st);
    assert_int_equal(st.total.bytes_sent, 0);
    assert_int_equal(st.total.messages, 0);
    cg_buf_put(&good, "good", 4);
    assert_int_equal(cg_chan_send_buf(a, &good, NULL), CG_OK);
    assert_int_equal(cg_chan_flush(a, NULL), CG_OK);
    assert_int_equal(cg_chan_recv_msg_buf(b, &got, 100, NULL), CG_OK);
    assert_int_equal(got.len, 4);
    assert_memory_equal(got.data, "good", 4);
    cg_chan_get_stats(b, &st);
    assert_int_equal(st.total.bytes_received, 8 + 4); /* length prefix + body, nothing else */
    assert_int_equal(cg_chan_send_buf(a, NULL, NULL), CG_ERR_ARG);
    cg_buf_free(&bad);
    cg_buf_free(&good);
    cg_buf_free(&got);
    cg_chan_free(a);
    cg_chan_free(b);
}

int main(void)
{
    if (cg_init(NULL) != CG_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_round_trips),
        cmocka_unit_test(test_tcp_round_trips_ipv4),
        cmocka_unit_test(test_tcp_pair_new),
        cmocka_unit_test(test_tcp_round_trips_ipv6),
        cmocka_unit_test(test_tcp_errors),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_simultaneous_large_sends),
        cmocka_unit_test(test_counters_exact),
        cmocka_unit_test(test_send_buf_refuses_failed),
        cmocka_unit_test(test_peer_close),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_shaping_latency_and_bandwidth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
