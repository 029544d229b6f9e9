/* TLS 1.3 under the channel's frames: the handshake (with the pin check and
 * a clear error when one side is plaintext) and the non-blocking byte pipe
 * channel.c reads and writes through once a channel speaks TLS.
 *
 * Telling plaintext from TLS: a TLS client's first byte is 0x16 (a handshake
 * record). A TLS server that sees anything else answers with a TLS alert
 * record and closes; a plaintext client reads that alert as "the peer speaks
 * TLS" (channel.c). A plaintext server that gets a ClientHello as its first
 * frame closes (channel.c), and the TLS client, having read nothing, says the
 * server did not answer in TLS. */
#include "net/chan_internal.h"
#include "net/tls_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#define DEFAULT_HANDSHAKE_MS 10000u
#define RECORD_MAX 16384u
/* Plaintext encrypted per call, and the ciphertext waiting beyond which a
 * writer waits for the socket. */
#define OUT_CHUNK ((size_t)1 << 18)
#define OUT_HIGH ((size_t)1 << 18)

static cg_status ssl_error(cg_error *err, cg_status code, const char *what)
{
    char buf[160] = "connection lost";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return cg_error_set(err, code, "TLS: %s: %s", what, buf);
}

/* The socket under the SSL. Writes do not go to the socket: the records
 * collect in ch->tls_out and cg_net_tls_push sends them, many records per system
 * call (one send per 16 KiB record made TLS three times slower than plain
 * TCP on messages of a few hundred KB) and with MSG_NOSIGNAL (a peer gone
 * away is an error, not a SIGPIPE that ends the process). Reads go to the
 * socket, with OpenSSL's read-ahead taking many records per read. One method
 * per channel, freed with it: no global state. */
static cg_status wait_until(int fd, short events, uint64_t deadline, const char *what, cg_error *err);

static int sock_write(BIO *b, const char *p, int n)
{
    cg_channel *ch = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    cg_buf_put(&ch->tls_out, p, (size_t)n);
    return ch->tls_out.failed ? -1 : n;
}

static int sock_read(BIO *b, char *p, int n)
{
    cg_channel *ch = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = read(ch->fd, p, (size_t)n);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
    if (r == 0) BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    return (int)r;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    if (cmd == BIO_CTRL_FLUSH) return 1;
    if (cmd == BIO_CTRL_EOF) return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    return 0;
}

static BIO *socket_bio(cg_channel *ch)
{
    ch->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cryptogen socket");
    if (!ch->bio_method || !BIO_meth_set_write(ch->bio_method, sock_write) ||
        !BIO_meth_set_read(ch->bio_method, sock_read) || !BIO_meth_set_ctrl(ch->bio_method, sock_ctrl))
        return NULL;
    BIO *b = BIO_new(ch->bio_method);
    if (!b) return NULL;
    BIO_set_data(b, ch);
    BIO_set_init(b, 1);
    return b;
}

static void free_bio_method(cg_channel *ch)
{
    BIO_meth_free(ch->bio_method);
    ch->bio_method = NULL;
    cg_buf_free(&ch->tls_out);
    ch->tls_out_pos = 0;
}

int cg_net_tls_push(cg_channel *ch, short *want, cg_error *err)
{
    while (ch->tls_out_pos < ch->tls_out.len) {
        ssize_t w = send(ch->fd, ch->tls_out.data + ch->tls_out_pos, ch->tls_out.len - ch->tls_out_pos, MSG_NOSIGNAL);
        if (w > 0) {
            ch->tls_out_pos += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = POLLOUT;
            return 0;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return cg_error_set(err, CG_ERR_PEER, "channel: peer closed the connection");
        return cg_error_set(err, CG_ERR_IO, "channel: write: %s", strerror(errno));
    }
    /* Sent records are ciphertext: the buffer is reused without wiping. */
    ch->tls_out.len = 0;
    ch->tls_out_pos = 0;
    return 1;
}

/* The handshake's writes: everything out before the deadline. */
static cg_status push_all(cg_channel *ch, uint64_t deadline, cg_error *err)
{
    for (;;) {
        short want = POLLOUT;
        int r = cg_net_tls_push(ch, &want, err);
        if (r < 0) return (cg_status)r;
        if (r == 1) return CG_OK;
        CG_TRY(wait_until(ch->fd, want, deadline, "handshake", err));
    }
}

/* Waits for events on fd until the deadline (monotonic ns). */
static cg_status wait_until(int fd, short events, uint64_t deadline, const char *what, cg_error *err)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        uint64_t now = cg_now_ns();
        if (now >= deadline) return cg_error_set(err, CG_ERR_TIMEOUT, "TLS: %s: no progress before the handshake deadline", what);
        int ms = (int)((deadline - now + 999999u) / 1000000u);
        int r = poll(&p, 1, ms);
        if (r > 0) return CG_OK;
        if (r < 0 && errno != EINTR) return cg_error_set(err, CG_ERR_IO, "TLS: poll: %s", strerror(errno));
    }
}

/* A plaintext client at a TLS server: a fatal protocol_version alert (in a
 * TLS 1.2 record header, as servers send before a version is agreed), then
 * an orderly close after reading what the client sent (closing with unread
 * data would reset the connection and could lose the alert). */
static void refuse_plaintext(int fd)
{
    static const uint8_t alert[7] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46};
    (void)!send(fd, alert, sizeof alert, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    uint8_t sink[4096];
    const uint64_t until = cg_now_ns() + 1000000000ull;
    for (size_t total = 0; total < (1u << 20) && cg_now_ns() < until;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r <= 0) break;
        total += (size_t)r;
    }
}

static bool pin_matches(const cg_tls_config *cfg, X509 *x)
{
    uint8_t md[32];
    return x && cg_net_tls_cert_sha256(x, md) && CRYPTO_memcmp(md, cfg->pin, sizeof md) == 0;
}

/* Pinned clients: the server certificate is trusted iff it hashes to the
 * pin; the chain above it (if any) and its names do not matter. */
static int pin_verify(int preverify_ok, X509_STORE_CTX *xs)
{
    (void)preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    cg_channel *ch = SSL_get_app_data(ssl);
    const cg_tls_config *cfg = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (X509_STORE_CTX_get_error_depth(xs) > 0) return 1;
    if (!pin_matches(cfg, X509_STORE_CTX_get_current_cert(xs))) {
        ch->pin_mismatch = true;
        X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;
}

/* CA-verified clients check the host name (or address) connected to. */
static bool set_host(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1) return true;
    ERR_clear_error();
    return SSL_set1_host(ssl, host) == 1;
}

static cg_status handshake_failed(cg_channel *ch, SSL *ssl, const cg_tls_config *cfg, cg_error *err)
{
    if (ch->pin_mismatch) {
        ERR_clear_error();
        return cg_error_set(err, CG_ERR_PEER, "TLS: the server's certificate does not match the pin");
    }
    if (!cfg->server && BIO_number_read(SSL_get_rbio(ssl)) == 0) {
        ERR_clear_error();
        return cg_error_set(err, CG_ERR_PEER,
                            "TLS: the server closed the connection without a TLS answer "
                            "(a plaintext server? it needs --tls-cert and --tls-key)");
    }
    long vr = SSL_get_verify_result(ssl);
    if (!cfg->server && vr != X509_V_OK) {
        ERR_clear_error();
        return cg_error_set(err, CG_ERR_PEER, "TLS: the server's certificate is not trusted: %s",
                            X509_verify_cert_error_string(vr));
    }
    return ssl_error(err, CG_ERR_PEER, "handshake");
}

cg_status cg_net_tls_handshake(cg_channel *ch, const cg_tls_config *cfg, const char *host,
                               uint32_t timeout_ms, cg_error *err)
{
    if (!ch || !cfg) return cg_error_set(err, CG_ERR_ARG, "cg_chan_handshake: NULL argument");
    if (ch->ssl || ch->got_frame || ch->rbuf.len || ch->stats.total.bytes_sent || ch->failed)
        return cg_error_set(err, CG_ERR_STATE, "TLS: the handshake must come first on a channel");
    const uint64_t t0 = cg_now_ns();
    const uint64_t deadline = t0 + (uint64_t)(timeout_ms ? timeout_ms : DEFAULT_HANDSHAKE_MS) * 1000000ull;
    cg_status st = CG_OK;
    if (cfg->server) {
        uint8_t first = 0;
        ssize_t r;
        st = wait_until(ch->fd, POLLIN, deadline, "waiting for the client", err);
        while (st == CG_OK && (r = recv(ch->fd, &first, 1, MSG_PEEK)) <= 0) {
            if (r == 0) st = cg_error_set(err, CG_ERR_PEER, "TLS: the client closed before its handshake");
            else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                st = wait_until(ch->fd, POLLIN, deadline, "waiting for the client", err);
            else st = cg_error_set(err, CG_ERR_IO, "TLS: recv: %s", strerror(errno));
        }
        if (st == CG_OK && first != 0x16) {
            refuse_plaintext(ch->fd);
            st = cg_error_set(err, CG_ERR_PEER, "TLS: the client does not speak TLS "
                              "(a plaintext client? it needs --tls-pin or --tls-ca)");
        }
        if (st != CG_OK) {
            ch->failed = st;
            return st;
        }
    }
    SSL *ssl = SSL_new(cfg->ctx);
    BIO *bio = ssl ? socket_bio(ch) : NULL;
    if (!bio) {
        SSL_free(ssl);
        free_bio_method(ch);
        ch->failed = CG_ERR_CRYPTO;
        return ssl_error(err, CG_ERR_CRYPTO, "new connection");
    }
    SSL_set_bio(ssl, bio, bio);
    SSL_set_app_data(ssl, ch);
    if (!cfg->server && cfg->pinned) SSL_set_verify(ssl, SSL_VERIFY_PEER, pin_verify);
    if (!cfg->server && !cfg->pinned && host && !set_host(ssl, host)) {
        SSL_free(ssl);
        free_bio_method(ch);
        ch->failed = CG_ERR_ARG;
        return ssl_error(err, CG_ERR_ARG, "host name to verify");
    }
    for (;;) {
        ERR_clear_error();
        int r = cfg->server ? SSL_accept(ssl) : SSL_connect(ssl);
        int e = SSL_get_error(ssl, r);
        st = push_all(ch, deadline, err);
        if (st != CG_OK) break;
        if (r == 1) break;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            st = wait_until(ch->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "handshake", err);
        else if (e == SSL_ERROR_SYSCALL && errno == EINTR)
            continue;
        else
            st = handshake_failed(ch, ssl, cfg, err);
        if (st != CG_OK) break;
    }
    /* A pin is checked once more after the handshake, in case the verify
     * callback was not called on the leaf. */
    if (st == CG_OK && !cfg->server && cfg->pinned && !pin_matches(cfg, SSL_get0_peer_certificate(ssl))) {
        ch->pin_mismatch = true;
        st = handshake_failed(ch, ssl, cfg, err);
    }
    if (st != CG_OK) {
        SSL_free(ssl);
        free_bio_method(ch);
        ERR_clear_error();
        ch->failed = st;
        return st;
    }
    ch->ssl = ssl;
    ch->handshake_ns = cg_now_ns() - t0;
    return CG_OK;
}

cg_status cg_chan_handshake(cg_channel *ch, const cg_tls_config *cfg, uint32_t timeout_ms, cg_error *err)
{
    return cg_net_tls_handshake(ch, cfg, NULL, timeout_ms, err);
}

/* What an SSL_read/SSL_write that did not move bytes means. */
static ssize_t io_result(cg_channel *ch, int r, short *want, cg_error *err)
{
    int e = SSL_get_error(ch->ssl, r);
    int sys = errno;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return 0;
    }
    if (e == SSL_ERROR_SYSCALL && sys == EINTR) {
        *want = POLLIN | POLLOUT;
        return 0;
    }
    cg_status st;
    if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && (sys == 0 || sys == EPIPE || sys == ECONNRESET)) ||
        (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        ERR_clear_error();
        st = cg_error_set(err, CG_ERR_PEER, "channel: peer closed the connection");
    } else if (e == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        st = cg_error_set(err, CG_ERR_IO, "channel: TLS socket: %s", strerror(sys));
    } else {
        st = ssl_error(err, CG_ERR_PEER, "channel");
    }
    return (ssize_t)st;
}

ssize_t cg_net_tls_read(cg_channel *ch, void *p, size_t n, short *want, cg_error *err)
{
    size_t got = 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(ch->ssl, p, n, &got);
    if (r == 1) return (ssize_t)got;
    return io_result(ch, r, want, err);
}

ssize_t cg_net_tls_writev(cg_channel *ch, const struct iovec *iov, int iovcnt, short *want,
                          cg_error *err)
{
    /* Records already made go out first; above OUT_HIGH of them waiting,
     * the caller waits for the socket (and drains the peer meanwhile). */
    if (ch->tls_out_pos < ch->tls_out.len) {
        int r = cg_net_tls_push(ch, want, err);
        if (r < 0) return r;
        if (ch->tls_out.len - ch->tls_out_pos >= OUT_HIGH) {
            *want = POLLOUT;
            return 0;
        }
    }
    if (ch->tls_out_pos > 0) { /* keep the buffer bounded: unsent records to the front */
        memmove(ch->tls_out.data, ch->tls_out.data + ch->tls_out_pos, ch->tls_out.len - ch->tls_out_pos);
        ch->tls_out.len -= ch->tls_out_pos;
        ch->tls_out_pos = 0;
    }
    /* A small piece (a frame header) goes into one record with what follows
     * it, not into a 12-byte record of its own. */
    uint8_t tmp[RECORD_MAX];
    const void *p = iov[0].iov_base;
    size_t n = iov[0].iov_len < OUT_CHUNK ? iov[0].iov_len : OUT_CHUNK;
    if (iovcnt > 1 && n < RECORD_MAX) {
        memcpy(tmp, p, n);
        for (int i = 1; i < iovcnt && n < RECORD_MAX; i++) {
            size_t take = iov[i].iov_len < RECORD_MAX - n ? iov[i].iov_len : RECORD_MAX - n;
            memcpy(tmp + n, iov[i].iov_base, take);
            n += take;
        }
        p = tmp;
    }
    size_t wrote = 0;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write_ex(ch->ssl, p, n, &wrote);
    if (p == tmp) cg_secure_zero(tmp, n);
    if (r != 1) return io_result(ch, r, want, err);
    int pr = cg_net_tls_push(ch, want, err); /* one try now; the rest later */
    if (pr < 0) return pr;
    return (ssize_t)wrote;
}

void cg_net_tls_close(cg_channel *ch)
{
    if (!ch->ssl) return;
    /* Best effort, never waits: the peer learns of an orderly close. */
    if (!ch->failed && SSL_shutdown(ch->ssl) >= 0) {
        short want;
        (void)cg_net_tls_push(ch, &want, NULL);
    }
    SSL_free(ch->ssl);
    free_bio_method(ch);
    ERR_clear_error();
    ch->ssl = NULL;
}

void cg_chan_get_tls_info(const cg_channel *ch, cg_chan_tls_info *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!ch) return;
    out->wire_sent = ch->wire_sent;
    out->wire_received = ch->wire_received;
    if (!ch->ssl) return;
    out->tls = true;
    snprintf(out->version, sizeof out->version, "%s", SSL_get_version(ch->ssl));
    snprintf(out->cipher, sizeof out->cipher, "%s", SSL_get_cipher_name(ch->ssl));
    out->handshake_ns = ch->handshake_ns;
    out->wire_sent = BIO_number_written(SSL_get_wbio(ch->ssl));
    out->wire_received = BIO_number_read(SSL_get_rbio(ch->ssl));
}
