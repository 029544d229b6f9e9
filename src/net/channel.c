/* The two-party channel: one implementation over a stream socket, used both
 * for the in-process pair (a Unix socketpair) and for TCP.
 *
 * Wire format: a sequence of frames, each a 12-byte header
 *   u32 payload length (1..max_frame) | u64 deliver-at time (CLOCK_MONOTONIC ns, 0 = now)
 * then the payload. Frames are a transport detail: cg_chan_recv reads an exact
 * byte count that may span frames. The deliver-at time implements link shaping
 * on the sender's side: the sender stamps when the frame would arrive over the
 * simulated link and the receiver does not hand the bytes out before then.
 * (Meaningful only when both ends share a clock, i.e. on one machine.)
 *
 * Deadlock freedom: while a write is blocked because the peer is not reading,
 * we keep reading whatever the peer sends into the receive buffer, so two
 * parties that both send large messages before receiving never block forever.
 *
 * TLS (tls.c): the same frames inside TLS records; the socket reads and
 * writes below go through io_read/io_writev, which pick the byte pipe. */
#include "net/chan_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 60000u
#define DEFAULT_MAX_FRAME ((size_t)1 << 30)
#define SEND_BUF_CAP ((size_t)1 << 20)
#define RECV_CHUNK ((size_t)1 << 16)
#define DIRECT_READ_MIN ((size_t)1 << 14)
#define FRAME_HEADER 12u
/* While a write is blocked we buffer the peer's data up to this much; beyond
 * it we stop reading (a peer cannot make us buffer without bound). */
#define RECV_BUFFER_MAX ((size_t)1 << 31)
/* The largest frame the header can describe. */
#define WIRE_FRAME_MAX ((size_t)UINT32_MAX)

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32le(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void sleep_until_ns(uint64_t t)
{
    for (;;) {
        uint64_t now = cg_now_ns();
        if (now >= t) return;
        uint64_t d = t - now;
        struct timespec ts = {(time_t)(d / 1000000000ull), (long)(d % 1000000000ull)};
        nanosleep(&ts, NULL);
    }
}

cg_status cg_chan_wrap_fd(cg_channel **out, int fd, const cg_chan_options *opt, cg_error *err)
{
    if (!out) return cg_error_set(err, CG_ERR_ARG, "cg_chan_wrap_fd: NULL output");
    *out = NULL;
    if (fd < 0) return cg_error_set(err, CG_ERR_ARG, "cg_chan_wrap_fd: bad descriptor");
    cg_channel *ch = cg_calloc(1, sizeof *ch);
    if (!ch) return cg_error_set(err, CG_ERR_NOMEM, "channel: out of memory");
    ch->fd = fd;
    ch->timeout_ms = opt && opt->timeout_ms ? opt->timeout_ms : DEFAULT_TIMEOUT_MS;
    ch->max_frame = opt && opt->max_frame ? opt->max_frame : DEFAULT_MAX_FRAME;
    if (ch->max_frame > WIRE_FRAME_MAX) ch->max_frame = WIRE_FRAME_MAX;
    if (opt) ch->shape = opt->shape;
    ch->sbuf_cap = SEND_BUF_CAP < ch->max_frame ? SEND_BUF_CAP : ch->max_frame;
    ch->sbuf = cg_alloc(FRAME_HEADER + ch->sbuf_cap);
    ch->phase = -1;
    cg_buf_init(&ch->rbuf);
    if (!ch->sbuf) {
        cg_free(ch);
        return cg_error_set(err, CG_ERR_NOMEM, "channel: out of memory");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        cg_free(ch->sbuf);
        cg_free(ch);
        return cg_error_set(err, CG_ERR_IO, "channel: fcntl: %s", strerror(errno));
    }
    if (opt && opt->tls) {
        cg_status st = cg_net_tls_handshake(ch, opt->tls, NULL, opt->handshake_timeout_ms, err);
        if (st != CG_OK) {
            ch->fd = -1; /* the caller keeps the descriptor on failure */
            cg_chan_free(ch);
            return st;
        }
    }
    *out = ch;
    return CG_OK;
}

cg_status cg_chan_pair_new(cg_channel **a, cg_channel **b, const cg_chan_options *opt,
                           cg_error *err)
{
    if (!a || !b) return cg_error_set(err, CG_ERR_ARG, "cg_chan_pair_new: NULL output");
    *a = *b = NULL;
    if (opt && opt->tls)
        return cg_error_set(err, CG_ERR_ARG, "cg_chan_pair_new: TLS needs the two ends in two threads");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return cg_error_set(err, CG_ERR_IO, "socketpair: %s", strerror(errno));
    /* Bigger kernel buffers mean fewer wake-ups for bulk transfers. */
    int sz = 4 << 20;
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    cg_status st = cg_chan_wrap_fd(a, sv[0], opt, err);
    if (st != CG_OK) {
        close(sv[0]);
        close(sv[1]);
        return st;
    }
    st = cg_chan_wrap_fd(b, sv[1], opt, err);
    if (st != CG_OK) {
        cg_chan_free(*a);
        *a = NULL;
        close(sv[1]);
        return st;
    }
    return CG_OK;
}

void cg_chan_free(cg_channel *ch)
{
    if (!ch) return;
    cg_net_tls_close(ch);
    if (ch->fd >= 0) close(ch->fd);
    cg_free(ch->sbuf);
    cg_buf_free(&ch->rbuf);
    cg_free(ch);
}

/* Records the first fatal error: after a failure the stream position is
 * unknown, so every later call reports the same error. */
static cg_status fail(cg_channel *ch, cg_error *err, cg_status code, const char *fmt,
                      const char *detail)
{
    if (ch->failed == CG_OK) ch->failed = code;
    return cg_error_set(err, code, fmt, detail);
}

static cg_status check_failed(cg_channel *ch, cg_error *err)
{
    if (ch->failed != CG_OK)
        return cg_error_set(err, ch->failed, "channel: unusable after an earlier error (%s)",
                            cg_status_name(ch->failed));
    return CG_OK;
}

static cg_chan_counters *phase_counters(cg_channel *ch)
{
    return ch->phase >= 0 ? &ch->stats.phase[ch->phase] : NULL;
}

/* The byte pipe: the socket itself, or TLS over it. Returns the bytes moved
 * (> 0), 0 when it would block (wait for *want), or a negative status (the
 * channel's first failure is recorded). */
static ssize_t io_read(cg_channel *ch, void *p, size_t n, short *want, cg_error *err)
{
    ssize_t r;
    if (ch->ssl) {
        r = cg_net_tls_read(ch, p, n, want, err);
    } else {
        do r = read(ch->fd, p, n);
        while (r < 0 && errno == EINTR);
        if (r > 0) ch->wire_received += (uint64_t)r;
        else if (r == 0) r = cg_error_set(err, CG_ERR_PEER, "channel: peer closed the connection");
        else if (errno == EAGAIN || errno == EWOULDBLOCK) *want = POLLIN, r = 0;
        else if (errno == ECONNRESET || errno == EPIPE)
            r = cg_error_set(err, CG_ERR_PEER, "channel: peer reset: %s", strerror(errno));
        else r = cg_error_set(err, CG_ERR_IO, "channel: read: %s", strerror(errno));
    }
    if (r < 0 && ch->failed == CG_OK) ch->failed = (cg_status)r;
    return r;
}

static ssize_t io_writev(cg_channel *ch, struct iovec *iov, int iovcnt, short *want, cg_error *err)
{
    ssize_t w;
    if (ch->ssl) {
        w = cg_net_tls_writev(ch, iov, iovcnt, want, err);
    } else {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        do w = sendmsg(ch->fd, &mh, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w > 0) ch->wire_sent += (uint64_t)w;
        else if (w == 0 || errno == EAGAIN || errno == EWOULDBLOCK) *want = POLLOUT, w = 0;
        else if (errno == EPIPE || errno == ECONNRESET)
            w = cg_error_set(err, CG_ERR_PEER, "channel: peer closed the connection");
        else w = cg_error_set(err, CG_ERR_IO, "channel: write: %s", strerror(errno));
    }
    if (w < 0 && ch->failed == CG_OK) ch->failed = (cg_status)w;
    return w;
}

/* Reads whatever the socket has (without blocking) into the receive buffer.
 * Returns CG_OK with *got = 0 if nothing was available (then *want is what
 * to wait for). */
static cg_status drain_socket(cg_channel *ch, size_t *got, short *want, cg_error *err)
{
    *got = 0;
    /* Compact consumed bytes away before growing. */
    if (ch->rpos > 0 && ch->rpos == ch->rbuf.len) {
        ch->rbuf.len = 0;
        ch->rpos = 0;
    } else if (ch->rpos > (ch->rbuf.cap >> 1)) {
        memmove(ch->rbuf.data, ch->rbuf.data + ch->rpos, ch->rbuf.len - ch->rpos);
        ch->rbuf.len -= ch->rpos;
        ch->rpos = 0;
    }
    if (!cg_buf_reserve(&ch->rbuf, RECV_CHUNK)) {
        return fail(ch, err, CG_ERR_NOMEM, "channel: %s", "receive buffer out of memory");
    }
    ssize_t r = io_read(ch, ch->rbuf.data + ch->rbuf.len, ch->rbuf.cap - ch->rbuf.len, want, err);
    if (r < 0) return (cg_status)r;
    ch->rbuf.len += (size_t)r;
    *got = (size_t)r;
    return CG_OK;
}

/* Waits until the socket is readable (and, if want_write, writable). */
static cg_status wait_fd(cg_channel *ch, short events, short *revents, cg_error *err)
{
    struct pollfd p = {.fd = ch->fd, .events = events};
    for (;;) {
        int r = poll(&p, 1, (int)(ch->timeout_ms > INT32_MAX ? INT32_MAX : ch->timeout_ms));
        if (r > 0) {
            *revents = p.revents;
            return CG_OK;
        }
        if (r == 0)
            return fail(ch, err, CG_ERR_TIMEOUT, "channel: %s", "peer stalled past the timeout");
        if (errno == EINTR) continue;
        return fail(ch, err, CG_ERR_IO, "channel: poll: %s", strerror(errno));
    }
}

/* Writes all iov bytes, draining incoming data while the peer is not reading. */
static cg_status write_all(cg_channel *ch, struct iovec *iov, int iovcnt, cg_error *err)
{
    for (;;) {
        while (iovcnt > 0 && iov->iov_len == 0) {
            iov++;
            iovcnt--;
        }
        short want = POLLOUT;
        ssize_t w = 0;
        if (iovcnt > 0) {
            w = io_writev(ch, iov, iovcnt, &want, err);
        } else if (!ch->ssl) {
            return CG_OK;
        } else { /* TLS: the records made from the iov must leave too */
            int r = cg_net_tls_push(ch, &want, err);
            if (r == 1) return CG_OK;
            if (r < 0 && ch->failed == CG_OK) ch->failed = (cg_status)r;
            w = r;
        }
        if (w < 0) return (cg_status)w;
        if (w > 0) {
            size_t left = (size_t)w;
            while (left > 0) {
                size_t take = left < iov->iov_len ? left : iov->iov_len;
                iov->iov_base = (uint8_t *)iov->iov_base + take;
                iov->iov_len -= take;
                left -= take;
                if (iov->iov_len == 0) {
                    iov++;
                    iovcnt--;
                }
            }
            continue;
        }
        short rev = 0;
        bool may_drain = ch->rbuf.len - ch->rpos < RECV_BUFFER_MAX;
        CG_TRY(wait_fd(ch, may_drain ? (short)(want | POLLIN) : want, &rev, err));
        if ((rev & POLLIN) && may_drain) {
            size_t got;
            short ignored;
            CG_TRY(drain_socket(ch, &got, &ignored, err));
        } else if ((rev & (POLLERR | POLLHUP)) && !(rev & POLLOUT)) {
            return fail(ch, err, CG_ERR_PEER, "channel: %s", "peer closed the connection");
        }
    }
}

static bool shaped(const cg_channel *ch)
{
    return ch->shape.one_way_latency_us != 0 || ch->shape.bandwidth_bps != 0;
}

/* Deliver-at stamp for a frame of `len` payload bytes under this party's
 * shaping. With a bandwidth cap the sender first sleeps until the simulated
 * link has finished the previous frame (pacing), so stamps never run far
 * ahead of real time and the receiver waits at most one frame's
 * transmission time plus the latency. */
static uint64_t shape_frame(cg_channel *ch, size_t len)
{
    const cg_link_shape *s = &ch->shape;
    if (!shaped(ch)) return 0;
    uint64_t now = cg_now_ns();
    if (ch->link_free_ns > now) {
        sleep_until_ns(ch->link_free_ns);
        now = cg_now_ns();
    }
    uint64_t tx = 0;
    if (s->bandwidth_bps) {
        /* Seconds = bits / bps; long double avoids overflow. */
        long double ns = (long double)(len + FRAME_HEADER) * 8.0L * 1e9L / (long double)s->bandwidth_bps;
        tx = (uint64_t)ns;
    }
    ch->link_free_ns = now + tx;
    return ch->link_free_ns + (uint64_t)s->one_way_latency_us * 1000u;
}

static cg_status send_frame(cg_channel *ch, uint8_t *header, const void *payload, size_t len,
                            cg_error *err)
{
    put_u32le(header, (uint32_t)len);
    put_u64le(header + 4, shape_frame(ch, len));
    struct iovec iov[2] = {{header, FRAME_HEADER}, {(void *)payload, len}};
    CG_TRY(write_all(ch, iov, 2, err));
    ch->stats.total.messages++;
    cg_chan_counters *pc = phase_counters(ch);
    if (pc) pc->messages++;
    return CG_OK;
}

cg_status cg_chan_flush(cg_channel *ch, cg_error *err)
{
    if (!ch) return cg_error_set(err, CG_ERR_ARG, "cg_chan_flush: NULL channel");
    CG_TRY(check_failed(ch, err));
    if (ch->sbuf_len == 0) return CG_OK;
    uint8_t header[FRAME_HEADER];
    cg_status st = send_frame(ch, header, ch->sbuf + FRAME_HEADER, ch->sbuf_len, err);
    cg_secure_zero(ch->sbuf + FRAME_HEADER, ch->sbuf_len);
    ch->sbuf_len = 0;
    return st;
}

static void count_sent(cg_channel *ch, size_t n)
{
    ch->stats.total.bytes_sent += n;
    cg_chan_counters *pc = phase_counters(ch);
    if (pc) pc->bytes_sent += n;
    if (n) ch->sent_since_recv = true;
}

cg_status cg_chan_send(cg_channel *ch, const void *p, size_t n, cg_error *err)
{
    if (!ch || (!p && n)) return cg_error_set(err, CG_ERR_ARG, "cg_chan_send: NULL argument");
    CG_TRY(check_failed(ch, err));
    count_sent(ch, n);
    const uint8_t *src = p;
    if (n >= ch->sbuf_cap) {
        /* Large writes go straight from the caller's memory. */
        CG_TRY(cg_chan_flush(ch, err));
        /* Shaped links pace frame by frame: keep frames small there. */
        size_t limit = shaped(ch) ? ch->sbuf_cap : ch->max_frame;
        while (n > 0) {
            size_t len = n < limit ? n : limit;
            uint8_t header[FRAME_HEADER];
            CG_TRY(send_frame(ch, header, src, len, err));
            src += len;
            n -= len;
        }
        return CG_OK;
    }
    while (n > 0) {
        size_t room = ch->sbuf_cap - ch->sbuf_len;
        size_t take = n < room ? n : room;
        memcpy(ch->sbuf + FRAME_HEADER + ch->sbuf_len, src, take);
        ch->sbuf_len += take;
        src += take;
        n -= take;
        if (ch->sbuf_len == ch->sbuf_cap) CG_TRY(cg_chan_flush(ch, err));
    }
    return CG_OK;
}

/* Makes at least `need` unread bytes available in rbuf (need <= a few KiB). */
static cg_status fill(cg_channel *ch, size_t need, cg_error *err)
{
    while (ch->rbuf.len - ch->rpos < need) {
        size_t got;
        short want = POLLIN;
        CG_TRY(drain_socket(ch, &got, &want, err));
        if (got == 0) {
            short rev = 0;
            CG_TRY(wait_fd(ch, want, &rev, err));
        }
    }
    return CG_OK;
}

cg_status cg_chan_wait_data(cg_channel *ch, uint32_t wait_ms, cg_error *err)
{
    if (!ch) return cg_error_set(err, CG_ERR_ARG, "cg_chan_wait_data: NULL channel");
    CG_TRY(check_failed(ch, err));
    const uint32_t saved = ch->timeout_ms;
    ch->timeout_ms = wait_ms ? wait_ms : 1;
    cg_status st = fill(ch, 1, err);
    ch->timeout_ms = saved;
    return st;
}

/* The first frame header is where a plaintext end meets a TLS peer: a TLS
 * alert (a TLS server refusing us, see tls.c) or a ClientHello (a TLS
 * client at a plaintext server; a plaintext frame's stamp bytes 5 and 9 are
 * not 0x01 and 0x03 unless shaped, and then only by a 2^-16 chance). */
static cg_status check_tls_peer(cg_channel *ch, cg_status st, cg_error *err)
{
    const uint8_t *h = ch->rbuf.data + ch->rpos;
    const size_t have = ch->rbuf.len - ch->rpos;
    if (ch->got_frame || ch->ssl || have < 5 || h[1] != 0x03) return st;
    if (st != CG_OK && h[0] == 0x15)
        return cg_error_set(err, CG_ERR_PEER, "channel: the server speaks TLS and this client does not "
                            "(pass --tls-pin or --tls-ca)");
    if (st == CG_OK && h[0] == 0x16 && h[2] <= 0x04 && h[5] == 0x01 && h[9] == 0x03)
        return fail(ch, err, CG_ERR_PEER, "channel: %s", "the client speaks TLS and this server does not "
                    "(serve with --tls-cert and --tls-key)");
    return st;
}

static cg_status next_frame(cg_channel *ch, cg_error *err)
{
    CG_TRY(check_tls_peer(ch, fill(ch, FRAME_HEADER, err), err));
    const bool first = !ch->got_frame;
    ch->got_frame = true;
    const uint8_t *h = ch->rbuf.data + ch->rpos;
    uint32_t len = get_u32le(h);
    uint64_t deliver = get_u64le(h + 4);
    ch->rpos += FRAME_HEADER;
    if (len == 0 || len > ch->max_frame) {
        char why[64];
        snprintf(why, sizeof why, "%u bytes (max %zu)", len, ch->max_frame);
        /* The peer's very first bytes are not a frame: it speaks something
         * else (an HTTP server, another service on that port). */
        if (first)
            return fail(ch, err, CG_ERR_FORMAT, "channel: the peer is not a cryptogen server or client (its "
                        "first bytes are not a cryptogen frame: length field %s)", why);
        return fail(ch, err, CG_ERR_FORMAT, "channel: bad frame length %s", why);
    }
    /* Stamps are honoured only by a receiver shaping its own link (tests,
     * benchmarks): otherwise a peer could make us sleep. */
    if (deliver && shaped(ch)) {
        uint64_t now = cg_now_ns();
        /* A stamp beyond the timeout is a stall (or garbage): do not sleep on it. */
        if (deliver > now && deliver - now > (uint64_t)ch->timeout_ms * 1000000ull)
            return fail(ch, err, CG_ERR_TIMEOUT, "channel: %s",
                        "frame delivery time beyond the timeout");
        sleep_until_ns(deliver);
    }
    ch->frame_left = len;
    return CG_OK;
}

/* Reads exactly n bytes straight from the socket into dst. */
static cg_status read_direct(cg_channel *ch, uint8_t *dst, size_t n, cg_error *err)
{
    while (n > 0) {
        short want = POLLIN;
        ssize_t r = io_read(ch, dst, n, &want, err);
        if (r < 0) return (cg_status)r;
        if (r > 0) {
            dst += r;
            n -= (size_t)r;
            continue;
        }
        short rev = 0;
        CG_TRY(wait_fd(ch, want, &rev, err));
    }
    return CG_OK;
}

cg_status cg_chan_recv(cg_channel *ch, void *p, size_t n, cg_error *err)
{
    if (!ch || (!p && n)) return cg_error_set(err, CG_ERR_ARG, "cg_chan_recv: NULL argument");
    CG_TRY(check_failed(ch, err));
    CG_TRY(cg_chan_flush(ch, err));
    if (n == 0) return CG_OK;
    if (ch->sent_since_recv) {
        ch->sent_since_recv = false;
        ch->stats.total.rounds++;
        cg_chan_counters *pc = phase_counters(ch);
        if (pc) pc->rounds++;
    }
    uint8_t *dst = p;
    size_t want = n;
    while (want > 0) {
        if (ch->frame_left == 0) CG_TRY(next_frame(ch, err));
        size_t avail = ch->rbuf.len - ch->rpos;
        size_t limit = want < ch->frame_left ? want : ch->frame_left;
        if (avail > 0) {
            size_t take = avail < limit ? avail : limit;
            memcpy(dst, ch->rbuf.data + ch->rpos, take);
            ch->rpos += take;
            dst += take;
            want -= take;
            ch->frame_left -= take;
        } else if (limit >= DIRECT_READ_MIN) {
            CG_TRY(read_direct(ch, dst, limit, err));
            dst += limit;
            want -= limit;
            ch->frame_left -= limit;
        } else {
            CG_TRY(fill(ch, 1, err));
        }
    }
    ch->stats.total.bytes_received += n;
    cg_chan_counters *pc = phase_counters(ch);
    if (pc) pc->bytes_received += n;
    return CG_OK;
}

cg_status cg_chan_send_msg(cg_channel *ch, const void *p, size_t n, cg_error *err)
{
    uint8_t len[8];
    put_u64le(len, (uint64_t)n);
    CG_TRY(cg_chan_send(ch, len, sizeof len, err));
    return cg_chan_send(ch, p, n, err);
}

cg_status cg_chan_send_buf(cg_channel *ch, const cg_buf *b, cg_error *err)
{
    if (!ch || !b) return cg_error_set(err, CG_ERR_ARG, "cg_chan_send_buf: NULL argument");
    /* A buffer whose allocation failed is missing content the peer would
     * read as a whole message: refuse it before anything is sent. */
    if (b->failed)
        return cg_error_set(err, CG_ERR_NOMEM, "channel: message incomplete (its buffer ran out of memory)");
    return cg_chan_send_msg(ch, b->data, b->len, err);
}

static cg_status recv_len(cg_channel *ch, uint64_t *len, cg_error *err)
{
    uint8_t b[8];
    CG_TRY(cg_chan_recv(ch, b, sizeof b, err));
    *len = get_u64le(b);
    return CG_OK;
}

cg_status cg_chan_recv_msg(cg_channel *ch, void *p, size_t expected, cg_error *err)
{
    if (!ch || (!p && expected))
        return cg_error_set(err, CG_ERR_ARG, "cg_chan_recv_msg: NULL argument");
    uint64_t len;
    CG_TRY(recv_len(ch, &len, err));
    if (len != expected) {
        char why[64];
        snprintf(why, sizeof why, "%llu bytes, expected %zu", (unsigned long long)len, expected);
        return fail(ch, err, CG_ERR_FORMAT, "channel: message of %s", why);
    }
    return cg_chan_recv(ch, p, expected, err);
}

cg_status cg_chan_recv_msg_buf(cg_channel *ch, cg_buf *out, size_t max, cg_error *err)
{
    if (!ch || !out) return cg_error_set(err, CG_ERR_ARG, "cg_chan_recv_msg_buf: NULL argument");
    uint64_t len;
    CG_TRY(recv_len(ch, &len, err));
    if (len > max) {
        char why[64];
        snprintf(why, sizeof why, "%llu bytes, max %zu", (unsigned long long)len, max);
        return fail(ch, err, CG_ERR_FORMAT, "channel: message of %s", why);
    }
    cg_buf_reset(out);
    if (!cg_buf_reserve(out, (size_t)len))
        return fail(ch, err, CG_ERR_NOMEM, "channel: %s", "message buffer out of memory");
    CG_TRY(cg_chan_recv(ch, out->data, (size_t)len, err));
    out->len = (size_t)len;
    return CG_OK;
}
