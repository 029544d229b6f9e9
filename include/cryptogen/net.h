/* cryptogen net layer: the two-party channel.
 *
 * A cg_channel is a framed, buffered, bidirectional byte pipe between the two
 * parties with explicit flush. Writes are buffered until cg_chan_flush (or
 * until a read, which flushes first, so a party never waits for an answer
 * to a message it has not sent). Every read is exact-length and bounded by
 * a timeout; a peer that disconnects, stalls or sends a malformed frame gives
 * an error, never a crash or a hang.
 *
 * Accounting: bytes sent/received and rounds (a round = a change of direction:
 * this party receives after having sent) are counted in total and per phase;
 * callers name the phase (e.g. "gelu", "qkv") with cg_chan_set_phase.
 *
 * Back-ends: in-process pair (two threads of one process, for tests) and TCP
 * (IPv4/IPv6 "host:port"). Optional link shaping adds one-way latency and a
 * bandwidth cap on the sending side to simulate LAN/WAN on one machine.
 *
 * A channel is used by one thread at a time. While a send is blocked because
 * the peer is not reading, incoming data is buffered, so two parties that
 * both send before receiving do not deadlock. Shaping stamps each frame with
 * its arrival time on the sender's monotonic clock and the receiver waits
 * for it, so it is meaningful only between processes of one machine; a
 * receiver without shaping of its own ignores stamps (a peer cannot make a
 * server sleep).
 *
 * TLS: with cg_chan_options.tls the frames travel inside TLS 1.3 (see the
 * TLS section below); the API above is unchanged. */
#ifndef CRYPTOGEN_NET_H
#define CRYPTOGEN_NET_H

#include "cryptogen/common.h"

#ifdef __cplusplus
extern "C" {
#endif
/* What this header declares is the library's API; the rest is hidden. */
#pragma GCC visibility push(default)

typedef struct cg_channel cg_channel;

#define CG_CHAN_MAX_PHASES 32
#define CG_CHAN_PHASE_NAME 24

typedef struct cg_chan_counters {
    uint64_t bytes_sent;
    uint64_t bytes_received;
    uint64_t rounds;   /* direction changes seen by this party */
    uint64_t messages; /* flushed frames */
} cg_chan_counters;

typedef struct cg_chan_stats {
    cg_chan_counters total;
    size_t nphases;
    char phase_name[CG_CHAN_MAX_PHASES][CG_CHAN_PHASE_NAME];
    cg_chan_counters phase[CG_CHAN_MAX_PHASES];
} cg_chan_stats;

typedef struct cg_link_shape {
    uint32_t one_way_latency_us; /* 0 = none */
    uint64_t bandwidth_bps;      /* bits per second; 0 = unlimited */
} cg_link_shape;

/* TLS 1.3 (OpenSSL's libssl) under the frames: a server configuration holds
 * a certificate and its key, a client configuration what it trusts (a pin
 * or a CA file). A configuration is immutable once made and may be shared by
 * many channels and threads. */
typedef struct cg_tls_config cg_tls_config;

typedef struct cg_chan_options {
    uint32_t timeout_ms;   /* max wait for any read; 0 = default (60 s) */
    size_t max_frame;      /* largest frame accepted; 0 = default (1 GiB) */
    cg_link_shape shape;   /* optional shaping of this party's sends; a receiver
                              honours the peer's delivery stamps only when its
                              own shaping is on (tests and benchmarks) */
    const cg_tls_config *tls; /* NULL: plaintext; else accept/connect/wrap run a
                                 TLS handshake in this configuration's role */
    uint32_t handshake_timeout_ms; /* bound on the whole TLS handshake; 0 = 10 s */
} cg_chan_options;

/* Two connected in-process endpoints (party 0 and party 1). */
cg_status cg_chan_pair_new(cg_channel **a, cg_channel **b, const cg_chan_options *opt,
                           cg_error *err);
/* TCP. listen: binds host:port ("[::1]:7000", "127.0.0.1:0"); accept waits for
 * one peer. The listener is separate so a server can accept many clients. */
typedef struct cg_listener cg_listener;
cg_status cg_listen(cg_listener **l, const char *host_port, cg_error *err);
uint16_t cg_listener_port(const cg_listener *l); /* the bound port (after ":0") */
cg_status cg_accept(cg_listener *l, cg_channel **ch, const cg_chan_options *opt, cg_error *err);
/* Like cg_accept, but waits at most wait_ms for a peer (CG_ERR_TIMEOUT, also
 * when a signal interrupts the wait) while the channel gets opt's timeout:
 * lets a server loop check for shutdown between peers. */
cg_status cg_accept_wait(cg_listener *l, uint32_t wait_ms, cg_channel **ch,
                         const cg_chan_options *opt, cg_error *err);
void cg_listener_close(cg_listener *l);
cg_status cg_connect(cg_channel **ch, const char *host_port, const cg_chan_options *opt,
                     cg_error *err);

/* Two ends of a loopback TCP connection in this process (benchmarks and
 * tests of the TCP path): a connected, b accepted. Plaintext only (a TLS
 * handshake needs both ends running at once). */
cg_status cg_chan_tcp_pair_new(cg_channel **a, cg_channel **b, const cg_chan_options *opt,
                               cg_error *err);

void cg_chan_free(cg_channel *ch); /* closes (unflushed sends are dropped); NULL is fine */

/* The peer's address as "HOST:PORT" ("[HOST]:PORT" for IPv6), for logs;
 * "in-process" for a channel pair, "?" when the socket cannot tell. */
void cg_chan_peer_name(const cg_channel *ch, char *buf, size_t size);

/* Wraps a connected stream socket: on success the channel owns fd, on failure
 * the caller still does. Used by the TCP code and by tests and fuzzers that
 * inject raw bytes. */
cg_status cg_chan_wrap_fd(cg_channel **ch, int fd, const cg_chan_options *opt, cg_error *err);

/* ---- TLS (src/net/tls.c, tls_cert.c) ----
 * TLS 1.3 only. A pin is the lowercase hex SHA-256 of the server
 * certificate's DER encoding (64 characters). */
#define CG_TLS_PIN_HEX 64
typedef struct cg_tls_cert cg_tls_cert; /* a certificate and its private key */

/* A fresh self-signed certificate (EC P-256, SHA-256 signature, names
 * localhost, 127.0.0.1 and ::1) valid for `days` days, held in memory. */
cg_status cg_tls_self_signed(cg_tls_cert **out, unsigned days, cg_error *err);
void cg_tls_cert_free(cg_tls_cert *c);
void cg_tls_cert_pin(const cg_tls_cert *c, char pin[CG_TLS_PIN_HEX + 1]);
/* Writes the certificate and the key as PEM; the key file gets mode 0600. */
cg_status cg_tls_cert_write_pem(const cg_tls_cert *c, const char *cert_file, const char *key_file,
                                cg_error *err);
/* The pin of the first certificate in a PEM file. */
cg_status cg_tls_pin_of_file(const char *cert_file, char pin[CG_TLS_PIN_HEX + 1], cg_error *err);

cg_status cg_tls_server_new(cg_tls_config **out, const cg_tls_cert *cert, cg_error *err);
cg_status cg_tls_server_new_pem(cg_tls_config **out, const char *cert_file, const char *key_file,
                                cg_error *err);
/* Exactly one of pin (hex, case-insensitive) and ca_file: with a pin the
 * server's certificate must hash to it (nothing else is checked: the pin is
 * the trust); with a CA file the chain must verify to it and the certificate
 * must name the host connected to. */
cg_status cg_tls_client_new(cg_tls_config **out, const char *pin, const char *ca_file, cg_error *err);
void cg_tls_config_free(cg_tls_config *c);

/* Runs the TLS handshake on a channel nothing has been sent or received on
 * yet (cg_accept without .tls, then this in a worker: a slow peer does not
 * hold up the accept loop). Bounded by timeout_ms (0 = 10 s). A plaintext
 * peer is told apart: a plaintext client gets a TLS alert it reports as
 * "the peer speaks TLS", and a TLS client meeting a plaintext server is
 * told the server did not answer in TLS. */
cg_status cg_chan_handshake(cg_channel *ch, const cg_tls_config *cfg, uint32_t timeout_ms,
                            cg_error *err);
/* Waits at most wait_ms for the peer's first bytes (CG_ERR_TIMEOUT if none;
 * they stay unread): lets a server hold a session slot only for a client
 * that has started talking. */
cg_status cg_chan_wait_data(cg_channel *ch, uint32_t wait_ms, cg_error *err);

typedef struct cg_chan_tls_info {
    bool tls;          /* false: plaintext */
    char version[16];  /* "TLSv1.3" */
    char cipher[64];   /* e.g. "TLS_AES_256_GCM_SHA384" */
    uint64_t handshake_ns;              /* the handshake's wall time */
    uint64_t wire_sent, wire_received;  /* bytes on the socket, handshake,
                                           record and frame headers included */
} cg_chan_tls_info;
void cg_chan_get_tls_info(const cg_channel *ch, cg_chan_tls_info *out);

/* Buffered write of n bytes; sent at the next flush or read. */
cg_status cg_chan_send(cg_channel *ch, const void *p, size_t n, cg_error *err);
cg_status cg_chan_flush(cg_channel *ch, cg_error *err);
/* Exact-length read of n bytes (flushes pending writes first). */
cg_status cg_chan_recv(cg_channel *ch, void *p, size_t n, cg_error *err);

/* Length-prefixed message helpers: the receiver gives the exact expected
 * length (or a maximum); a mismatch is CG_ERR_FORMAT. */
cg_status cg_chan_send_msg(cg_channel *ch, const void *p, size_t n, cg_error *err);
cg_status cg_chan_recv_msg(cg_channel *ch, void *p, size_t expected, cg_error *err);
/* Sends b's contents as one length-prefixed message (as cg_chan_send_msg).
 * A buffer marked failed (an allocation failed, so its content is
 * incomplete) is CG_ERR_NOMEM and nothing is sent: the channel stays usable.
 * Every length-prefixed message built in a cg_buf goes out this way. */
cg_status cg_chan_send_buf(cg_channel *ch, const cg_buf *b, cg_error *err);
/* Receives a message of at most max bytes into a new cg_buf. */
cg_status cg_chan_recv_msg_buf(cg_channel *ch, cg_buf *out, size_t max, cg_error *err);

/* Accounting: bytes are the payload bytes given to cg_chan_send and taken
 * by cg_chan_recv (a message's 8-byte length prefix included); the 12-byte
 * header of each frame on the wire is not counted. A frame is one flush of
 * the send buffer, or one piece of a large send; messages count frames
 * sent. Rounds count receives of n > 0 bytes that follow a send. */
void cg_chan_set_phase(cg_channel *ch, const char *name); /* NULL = no phase */
void cg_chan_get_stats(const cg_channel *ch, cg_chan_stats *out);
void cg_chan_reset_stats(cg_channel *ch);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
