/* The TLS options shared by serve, generate and the commands that run both
 * parties in one process (demo, bench gen). TLS is the default; plain TCP
 * needs --insecure-plaintext on both sides. */
#ifndef CG_CLI_TLS_OPTS_H
#define CG_CLI_TLS_OPTS_H

#include "cli/opts.h"
#include "cryptogen/net.h"

typedef struct cli_tls {
    const char *cert, *key; /* serve */
    const char *pin, *ca;   /* generate */
    bool insecure;          /* --insecure-plaintext */
} cli_tls;

#define CLI_TLS_SERVER_OPTS(t)                                                                        \
    CLI_OPT_STRING("tls-cert", 0, (t).cert, "FILE", "the server's TLS certificate (PEM, chain allowed)"), \
    CLI_OPT_STRING("tls-key", 0, (t).key, "FILE", "the certificate's private key (PEM)"),             \
    CLI_OPT_FLAG("insecure-plaintext", 0, (t).insecure,                                               \
                 "plain TCP, no TLS: only with clients that pass it too (tests, trusted links)")
#define CLI_TLS_CLIENT_OPTS(t)                                                                         \
    CLI_OPT_CHECKED("tls-pin", 0, (t).pin, "HEX", cli_check_pin,                                       \
                    "trust the server whose certificate has this SHA-256 (cryptogen tls-cert prints it)"), \
    CLI_OPT_STRING("tls-ca", 0, (t).ca, "FILE", "trust server certificates this CA file verifies"),     \
    CLI_OPT_FLAG("insecure-plaintext", 0, (t).insecure,                                                \
                 "plain TCP, no TLS: only with a server that passes it too (tests, trusted links)")

bool cli_check_pin(const char *value, char *why, size_t why_size);

/* The server's / client's TLS configuration from the options: CLI_PARSED with
 * *cfg set (NULL for --insecure-plaintext), 2 after a usage error, 1 after
 * printing why the certificate, key or CA file could not be used. */
int cli_tls_server(const cli_command *cmd, const cli_tls *t, cg_tls_config **cfg);
int cli_tls_client(const cli_command *cmd, const cli_tls *t, cg_tls_config **cfg);

/* Both ends of one process's loopback channel: an ephemeral self-signed
 * certificate for the server, pinned by the client. Both NULL when plain. */
cg_status cli_tls_loopback(bool plain, cg_tls_config **server, cg_tls_config **client, cg_error *err);

#endif
