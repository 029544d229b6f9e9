/* TCP back-end of the channel: address parsing, listen/accept/connect. */
#include "net/chan_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct cg_listener {
    int fd;
    uint16_t port;
};

/* Splits "host:port" or "[v6]:port" into its parts. */
static cg_status split_host_port(const char *hp, char *host, size_t hostcap, char *port,
                                 size_t portcap, cg_error *err)
{
    if (!hp) return cg_error_set(err, CG_ERR_ARG, "address: NULL");
    const char *colon;
    const char *hstart = hp;
    size_t hlen;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':')
            return cg_error_set(err, CG_ERR_ARG, "address '%s': expected [v6]:port", hp);
        hstart = hp + 1;
        hlen = (size_t)(close - hstart);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon) return cg_error_set(err, CG_ERR_ARG, "address '%s': expected host:port", hp);
        hlen = (size_t)(colon - hp);
    }
    size_t plen = strlen(colon + 1);
    if (hlen == 0 || hlen >= hostcap || plen == 0 || plen >= portcap)
        return cg_error_set(err, CG_ERR_ARG, "address '%s': bad host or port", hp);
    memcpy(host, hstart, hlen);
    host[hlen] = 0;
    memcpy(port, colon + 1, plen + 1);
    for (size_t i = 0; i < plen; i++)
        if (port[i] < '0' || port[i] > '9')
            return cg_error_set(err, CG_ERR_ARG, "address '%s': port is not a number", hp);
    return CG_OK;
}

static cg_status resolve(const char *hp, bool passive, struct addrinfo **res, cg_error *err)
{
    char host[256], port[16];
    CG_TRY(split_host_port(hp, host, sizeof host, port, sizeof port, err));
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0) return cg_error_set(err, CG_ERR_IO, "resolve '%s': %s", hp, gai_strerror(rc));
    return CG_OK;
}

static void tune_socket(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}

cg_status cg_listen(cg_listener **out, const char *host_port, cg_error *err)
{
    if (!out) return cg_error_set(err, CG_ERR_ARG, "cg_listen: NULL output");
    *out = NULL;
    struct addrinfo *res;
    CG_TRY(resolve(host_port, true, &res, err));
    int fd = -1;
    int last_errno = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 16) == 0) break;
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return cg_error_set(err, CG_ERR_IO, "listen on '%s': %s", host_port, strerror(last_errno));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    uint16_t port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    cg_listener *l = cg_calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return cg_error_set(err, CG_ERR_NOMEM, "listener: out of memory");
    }
    l->fd = fd;
    l->port = port;
    *out = l;
    return CG_OK;
}

uint16_t cg_listener_port(const cg_listener *l) { return l ? l->port : 0; }

void cg_listener_close(cg_listener *l)
{
    if (!l) return;
    if (l->fd >= 0) close(l->fd);
    cg_free(l);
}

static uint32_t timeout_of(const cg_chan_options *opt)
{
    return opt && opt->timeout_ms ? opt->timeout_ms : 60000u;
}

cg_status cg_accept(cg_listener *l, cg_channel **ch, const cg_chan_options *opt, cg_error *err)
{
    return cg_accept_wait(l, timeout_of(opt), ch, opt, err);
}

cg_status cg_accept_wait(cg_listener *l, uint32_t wait_ms, cg_channel **ch,
                         const cg_chan_options *opt, cg_error *err)
{
    if (!l || !ch) return cg_error_set(err, CG_ERR_ARG, "cg_accept: NULL argument");
    *ch = NULL;
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    int r = poll(&p, 1, (int)wait_ms);
    if (r == 0) return cg_error_set(err, CG_ERR_TIMEOUT, "accept: no peer within %u ms", wait_ms);
    if (r < 0 && errno == EINTR) return cg_error_set(err, CG_ERR_TIMEOUT, "accept: interrupted");
    if (r < 0) return cg_error_set(err, CG_ERR_IO, "accept: poll: %s", strerror(errno));
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) return cg_error_set(err, CG_ERR_IO, "accept: %s", strerror(errno));
    tune_socket(fd);
    cg_status st = cg_chan_wrap_fd(ch, fd, opt, err);
    if (st != CG_OK) close(fd);
    return st;
}

/* Non-blocking connect bounded by the timeout. */
static int connect_one(const struct addrinfo *a, uint32_t timeout_ms, int *err_out)
{
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
        *err_out = errno;
        return -1;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
        *err_out = errno;
        close(fd);
        return -1;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r;
    do r = poll(&p, 1, (int)timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r <= 0) {
        *err_out = r == 0 ? ETIMEDOUT : errno;
        close(fd);
        return -1;
    }
    int so = 0;
    socklen_t sl = sizeof so;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0) {
        *err_out = so ? so : errno;
        close(fd);
        return -1;
    }
    return fd;
}

cg_status cg_connect(cg_channel **ch, const char *host_port, const cg_chan_options *opt,
                     cg_error *err)
{
    if (!ch) return cg_error_set(err, CG_ERR_ARG, "cg_connect: NULL output");
    *ch = NULL;
    struct addrinfo *res;
    CG_TRY(resolve(host_port, false, &res, err));
    int fd = -1, e = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) fd = connect_one(a, timeout_of(opt), &e);
    freeaddrinfo(res);
    if (fd < 0) {
        return cg_error_set(err, e == ETIMEDOUT ? CG_ERR_TIMEOUT : CG_ERR_IO, "connect '%s': %s",
                            host_port, strerror(e));
    }
    tune_socket(fd);
    /* TLS after wrapping: a CA-verified certificate must name this host. */
    cg_chan_options plain = opt ? *opt : (cg_chan_options){0};
    plain.tls = NULL;
    cg_status st = cg_chan_wrap_fd(ch, fd, &plain, err);
    if (st != CG_OK) {
        close(fd);
        return st;
    }
    if (opt && opt->tls) {
        char host[256], port[16];
        st = split_host_port(host_port, host, sizeof host, port, sizeof port, err);
        if (st == CG_OK) st = cg_net_tls_handshake(*ch, opt->tls, host, opt->handshake_timeout_ms, err);
        if (st != CG_OK) {
            cg_chan_free(*ch);
            *ch = NULL;
        }
    }
    return st;
}

cg_status cg_chan_tcp_pair_new(cg_channel **a, cg_channel **b, const cg_chan_options *opt,
                               cg_error *err)
{
    if (!a || !b) return cg_error_set(err, CG_ERR_ARG, "cg_chan_tcp_pair_new: NULL argument");
    *a = *b = NULL;
    if (opt && opt->tls)
        return cg_error_set(err, CG_ERR_ARG, "cg_chan_tcp_pair_new: TLS needs the two ends in two threads");
    cg_listener *l = NULL;
    CG_TRY(cg_listen(&l, "127.0.0.1:0", err));
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)cg_listener_port(l));
    /* The kernel completes the handshake into the listen backlog, so the
     * connect returns before the accept: no second thread needed. */
    cg_status st = cg_connect(a, addr, opt, err);
    if (st == CG_OK) st = cg_accept(l, b, opt, err);
    cg_listener_close(l);
    if (st != CG_OK) {
        cg_chan_free(*a);
        *a = NULL;
    }
    return st;
}

void cg_chan_peer_name(const cg_channel *ch, char *buf, size_t size)
{
    if (!size) return;
    snprintf(buf, size, "?");
    if (!ch) return;
    if (ch->fd < 0) {
        snprintf(buf, size, "in-process");
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN];
    if (getpeername(ch->fd, (struct sockaddr *)&ss, &sl) != 0) return;
    if (ss.ss_family == AF_UNIX) {
        snprintf(buf, size, "in-process");
    } else if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof host))
            snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host))
            snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    }
}
