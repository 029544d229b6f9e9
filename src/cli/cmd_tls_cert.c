/* `cryptogen tls-cert --out DIR [--days N]`: a self-signed certificate and
 * its key for `serve --tls-cert DIR/cert.pem --tls-key DIR/key.pem`; prints
 * the pin clients pass as `generate --tls-pin`. */
#include <stdio.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cryptogen/net.h"

int cg_cmd_tls_cert(int argc, char **argv)
{
    const char *out = NULL;
    int days = 365;
    const cli_opt opts[] = {
        CLI_OPT_STRING("out", 0, out, "DIR", "write DIR/cert.pem and DIR/key.pem (an existing directory)"),
        CLI_OPT_INT("days", 0, days, "N", 1, 3650, "validity in days"),
        {0},
    };
    const cli_command cmd = {
        .name = "tls-cert",
        .synopsis = "--out DIR [--days N]",
        .about = "Makes a self-signed TLS certificate (EC P-256, names localhost, 127.0.0.1, ::1)\n"
                 "and its key for serve --tls-cert/--tls-key, and prints its pin (the SHA-256 of\n"
                 "the certificate) for generate --tls-pin. The key file is readable by you only.",
        .opts = opts};
    int parsed = cli_parse(&cmd, argc, argv, NULL);
    if (parsed != CLI_PARSED) return parsed;
    if (!out) return cli_usage_error(&cmd, "--out DIR is required");
    cg_error err = {0};
    cg_tls_cert *c = NULL;
    char crt[4096], key[4096], pin[CG_TLS_PIN_HEX + 1];
    snprintf(crt, sizeof crt, "%s/cert.pem", out);
    snprintf(key, sizeof key, "%s/key.pem", out);
    if (cg_tls_self_signed(&c, (unsigned)days, &err) != CG_OK ||
        cg_tls_cert_write_pem(c, crt, key, &err) != CG_OK) {
        fprintf(stderr, "cryptogen tls-cert: %s\n", err.msg);
        cg_tls_cert_free(c);
        return 1;
    }
    cg_tls_cert_pin(c, pin);
    cg_tls_cert_free(c);
    printf("%s\n", pin);
    fprintf(stderr, "cryptogen tls-cert: wrote %s and %s; clients pass --tls-pin %s\n", crt, key, pin);
    return 0;
}
