/* The TLS options of serve and generate, and the in-process pair of the demo
 * and the benchmark. */
#include <stdio.h>
#include <string.h>

#include "cli/tls_opts.h"

bool cli_check_pin(const char *value, char *why, size_t why_size)
{
    size_t n = strspn(value, "0123456789abcdefABCDEF");
    if (n == CG_TLS_PIN_HEX && value[n] == 0) return true;
    snprintf(why, why_size, "is not %d hex digits (the SHA-256 of the server certificate)", CG_TLS_PIN_HEX);
    return false;
}

int cli_tls_server(const cli_command *cmd, const cli_tls *t, cg_tls_config **cfg)
{
    *cfg = NULL;
    if (t->insecure && (t->cert || t->key))
        return cli_usage_error(cmd, "--insecure-plaintext excludes --tls-cert and --tls-key");
    if (t->insecure) return CLI_PARSED;
    if (!t->cert || !t->key)
        return cli_usage_error(cmd, "give --tls-cert FILE and --tls-key FILE (or --insecure-plaintext "
                                    "for plain TCP); 'cryptogen tls-cert --out DIR' makes a pair");
    cg_error err = {0};
    if (cg_tls_server_new_pem(cfg, t->cert, t->key, &err) != CG_OK) {
        fprintf(stderr, "cryptogen %s: %s\n", cmd->name, err.msg);
        return 1;
    }
    return CLI_PARSED;
}

int cli_tls_client(const cli_command *cmd, const cli_tls *t, cg_tls_config **cfg)
{
    *cfg = NULL;
    if ((t->pin != NULL) + (t->ca != NULL) + t->insecure != 1)
        return cli_usage_error(cmd, "give exactly one of --tls-pin HEX, --tls-ca FILE and --insecure-plaintext");
    if (t->insecure) return CLI_PARSED;
    cg_error err = {0};
    if (cg_tls_client_new(cfg, t->pin, t->ca, &err) != CG_OK) {
        fprintf(stderr, "cryptogen %s: %s\n", cmd->name, err.msg);
        return 1;
    }
    return CLI_PARSED;
}

cg_status cli_tls_loopback(bool plain, cg_tls_config **server, cg_tls_config **client, cg_error *err)
{
    *server = *client = NULL;
    if (plain) return CG_OK;
    cg_tls_cert *cert = NULL;
    char pin[CG_TLS_PIN_HEX + 1];
    CG_TRY(cg_tls_self_signed(&cert, 1, err));
    cg_tls_cert_pin(cert, pin);
    cg_status st = cg_tls_server_new(server, cert, err);
    cg_tls_cert_free(cert);
    if (st == CG_OK) st = cg_tls_client_new(client, pin, NULL, err);
    if (st != CG_OK) {
        cg_tls_config_free(*server);
        *server = NULL;
    }
    return st;
}
