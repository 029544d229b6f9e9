/* A relay between a client's and a server's socket that keeps a copy of
 * everything the server receives: the server's (or the network's) whole view
 * of the client, for the transcript tests over TCP and over TLS. */
#ifndef CG_TESTS_RELAY_FIXTURE_H
#define CG_TESTS_RELAY_FIXTURE_H

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct relay {
    int c, s;
    uint8_t *seen;
    size_t len, cap;
} relay;

static inline void *relay_main(void *arg)
{
    relay *r = arg;
    uint8_t buf[65536];
    struct pollfd p[2] = {{.fd = r->c, .events = POLLIN}, {.fd = r->s, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, 30000) <= 0) break;
        int from = (p[0].revents & (POLLIN | POLLHUP)) ? 0 : 1;
        ssize_t n = read(p[from].fd, buf, sizeof buf);
        if (n <= 0) break;
        /* MSG_NOSIGNAL: a party that has closed its end (the server after
         * its last message, while the client's TLS close_notify is still on
         * the way) ends the relay, not the test process with SIGPIPE. */
        ssize_t off = 0;
        while (off < n) {
            ssize_t w = send(p[1 - from].fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0) break;
            off += w;
        }
        /* Only what reached the server is its view: bytes a closed server
         * never got (that close_notify) would make two views' lengths
         * depend on which of the two the relay happened to see first. */
        if (from == 0 && off > 0) {
            if (r->len + (size_t)off > r->cap) {
                r->cap = (r->len + (size_t)off) * 2;
                uint8_t *grown = realloc(r->seen, r->cap);
                if (!grown) break;
                r->seen = grown;
            }
            memcpy(r->seen + r->len, buf, (size_t)off);
            r->len += (size_t)off;
        }
        if (off < n) break;
    }
    shutdown(r->c, SHUT_RDWR);
    shutdown(r->s, SHUT_RDWR);
    return NULL;
}

/* Two-sample chi-square statistic on the byte frequencies of two streams of
 * equal length n; *df gets its degrees of freedom (values seen, minus one). */
static inline double bytes_chi_square(const uint8_t *a, const uint8_t *b, size_t n, int *df)
{
    double ha[256] = {0}, hb[256] = {0}, chi = 0;
    for (size_t i = 0; i < n; i++) ha[a[i]]++, hb[b[i]]++;
    *df = -1;
    for (int k = 0; k < 256; k++)
        if (ha[k] + hb[k] > 0) {
            chi += (ha[k] - hb[k]) * (ha[k] - hb[k]) / (ha[k] + hb[k]);
            (*df)++;
        }
    return chi;
}

#endif
