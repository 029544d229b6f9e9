/* TLS configurations and certificates: the server's certificate (from PEM
 * files or a fresh self-signed one in memory), the client's trust (a pin or a
 * CA file), and pins. TLS 1.3 only, no session tickets (every session is a
 * full handshake; resumption would only save a round trip per session). */
#include "net/tls_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* The last OpenSSL error as text (its queue is per thread). */
static cg_status ossl_fail(cg_error *err, cg_status code, const char *what)
{
    char buf[160] = "no detail";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return cg_error_set(err, code, "TLS: %s: %s", what, buf);
}

bool cg_net_tls_cert_sha256(X509 *x, uint8_t out[32])
{
    unsigned len = 0;
    return X509_digest(x, EVP_sha256(), out, &len) == 1 && len == 32;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = 0;
}

void cg_tls_cert_free(cg_tls_cert *c)
{
    if (!c) return;
    X509_free(c->x509);
    EVP_PKEY_free(c->key);
    cg_free(c);
}

void cg_tls_cert_pin(const cg_tls_cert *c, char pin[CG_TLS_PIN_HEX + 1])
{
    uint8_t md[32];
    if (!c || !cg_net_tls_cert_sha256(c->x509, md)) {
        pin[0] = 0;
        return;
    }
    to_hex(md, sizeof md, pin);
}

static bool add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (!e) return false;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1;
}

cg_status cg_tls_self_signed(cg_tls_cert **out, unsigned days, cg_error *err)
{
    if (!out || days == 0) return cg_error_set(err, CG_ERR_ARG, "cg_tls_self_signed: bad argument");
    *out = NULL;
    cg_tls_cert *c = cg_calloc(1, sizeof *c);
    if (!c) return cg_error_set(err, CG_ERR_NOMEM, "TLS certificate: out of memory");
    /* The key and the serial come from OpenSSL's generator: the key must live
     * in OpenSSL's objects anyway, and libssl draws its own handshake
     * randomness there too. */
    c->key = EVP_EC_gen("P-256");
    c->x509 = X509_new();
    X509_NAME *name = NULL;
    bool ok = c->key && c->x509 && X509_set_version(c->x509, 2) == 1;
    if (ok) {
        ASN1_INTEGER *sn = X509_get_serialNumber(c->x509);
        BIGNUM *bn = BN_new();
        ok = bn && BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 && BN_to_ASN1_INTEGER(bn, sn);
        BN_free(bn);
    }
    /* Valid from an hour ago: clocks of the two machines may differ a little. */
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(c->x509), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(c->x509), (long)days * 86400L);
    ok = ok && (name = X509_get_subject_name(c->x509)) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"cryptogen", -1, -1, 0) == 1 &&
         X509_set_issuer_name(c->x509, name) == 1 && X509_set_pubkey(c->x509, c->key) == 1;
    ok = ok && add_ext(c->x509, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") &&
         add_ext(c->x509, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(c->x509, NID_ext_key_usage, "serverAuth");
    ok = ok && X509_sign(c->x509, c->key, EVP_sha256()) > 0;
    if (!ok) {
        cg_tls_cert_free(c);
        return ossl_fail(err, CG_ERR_CRYPTO, "self-signed certificate");
    }
    *out = c;
    return CG_OK;
}

cg_status cg_tls_cert_write_pem(const cg_tls_cert *c, const char *cert_file, const char *key_file,
                                cg_error *err)
{
    if (!c || !cert_file || !key_file) return cg_error_set(err, CG_ERR_ARG, "cg_tls_cert_write_pem: NULL argument");
    FILE *f = fopen(cert_file, "w");
    if (!f) return cg_error_set(err, CG_ERR_IO, "cannot write %s: %s", cert_file, strerror(errno));
    int ok = PEM_write_X509(f, c->x509);
    if (fclose(f) != 0 || !ok) return ossl_fail(err, CG_ERR_IO, cert_file);
    /* The key is created unreadable to others, not chmod-ed afterwards. */
    int fd = open(key_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return cg_error_set(err, CG_ERR_IO, "cannot write %s: %s", key_file, strerror(errno));
    if (fchmod(fd, 0600) != 0) { /* an existing file keeps its mode otherwise */
        close(fd);
        return cg_error_set(err, CG_ERR_IO, "cannot restrict %s: %s", key_file, strerror(errno));
    }
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return cg_error_set(err, CG_ERR_IO, "cannot write %s: %s", key_file, strerror(errno));
    }
    ok = PEM_write_PrivateKey(f, c->key, NULL, NULL, 0, NULL, NULL);
    if (fclose(f) != 0 || !ok) return ossl_fail(err, CG_ERR_IO, key_file);
    return CG_OK;
}

cg_status cg_tls_pin_of_file(const char *cert_file, char pin[CG_TLS_PIN_HEX + 1], cg_error *err)
{
    if (!cert_file || !pin) return cg_error_set(err, CG_ERR_ARG, "cg_tls_pin_of_file: NULL argument");
    pin[0] = 0;
    FILE *f = fopen(cert_file, "r");
    if (!f) return cg_error_set(err, CG_ERR_IO, "cannot open %s: %s", cert_file, strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    uint8_t md[32];
    if (!x) return ossl_fail(err, CG_ERR_FORMAT, cert_file);
    bool ok = cg_net_tls_cert_sha256(x, md);
    X509_free(x);
    if (!ok) return ossl_fail(err, CG_ERR_CRYPTO, "certificate digest");
    to_hex(md, sizeof md, pin);
    return CG_OK;
}

static cg_status new_config(cg_tls_config **out, bool server, cg_error *err)
{
    cg_tls_config *c = cg_calloc(1, sizeof *c);
    if (!c) return cg_error_set(err, CG_ERR_NOMEM, "TLS configuration: out of memory");
    c->server = server;
    c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c->ctx || SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c->ctx, TLS1_3_VERSION) != 1) {
        cg_tls_config_free(c);
        return ossl_fail(err, CG_ERR_CRYPTO, "context");
    }
    /* Writes never block (tls.c collects the records and sends them); reads
     * take whatever the socket has, many records at a time. */
    SSL_CTX_set_read_ahead(c->ctx, 1);
    SSL_CTX_set_default_read_buffer_len(c->ctx, (size_t)1 << 18);
    if (server) SSL_CTX_set_num_tickets(c->ctx, 0);
    SSL_CTX_set_app_data(c->ctx, c); /* the pin, for tls.c's verify callback */
    *out = c;
    return CG_OK;
}

void cg_tls_config_free(cg_tls_config *c)
{
    if (!c) return;
    SSL_CTX_free(c->ctx);
    cg_free(c);
}

static cg_status server_check_key(cg_tls_config *c, cg_error *err)
{
    if (SSL_CTX_check_private_key(c->ctx) != 1) {
        cg_tls_config_free(c);
        return ossl_fail(err, CG_ERR_ARG, "the key does not match the certificate");
    }
    return CG_OK;
}

cg_status cg_tls_server_new(cg_tls_config **out, const cg_tls_cert *cert, cg_error *err)
{
    if (!out || !cert) return cg_error_set(err, CG_ERR_ARG, "cg_tls_server_new: NULL argument");
    *out = NULL;
    cg_tls_config *c;
    CG_TRY(new_config(&c, true, err));
    if (SSL_CTX_use_certificate(c->ctx, cert->x509) != 1 || SSL_CTX_use_PrivateKey(c->ctx, cert->key) != 1) {
        cg_tls_config_free(c);
        return ossl_fail(err, CG_ERR_CRYPTO, "server certificate");
    }
    CG_TRY(server_check_key(c, err));
    *out = c;
    return CG_OK;
}

cg_status cg_tls_server_new_pem(cg_tls_config **out, const char *cert_file, const char *key_file,
                                cg_error *err)
{
    if (!out || !cert_file || !key_file) return cg_error_set(err, CG_ERR_ARG, "cg_tls_server_new_pem: NULL argument");
    *out = NULL;
    cg_tls_config *c;
    CG_TRY(new_config(&c, true, err));
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cert_file) != 1) {
        cg_tls_config_free(c);
        return ossl_fail(err, CG_ERR_FORMAT, cert_file);
    }
    if (SSL_CTX_use_PrivateKey_file(c->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        cg_tls_config_free(c);
        return ossl_fail(err, CG_ERR_FORMAT, key_file);
    }
    CG_TRY(server_check_key(c, err));
    *out = c;
    return CG_OK;
}

static bool parse_pin(const char *s, uint8_t out[32])
{
    if (strlen(s) != CG_TLS_PIN_HEX) return false;
    for (size_t i = 0; i < 32; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            int ch = tolower((unsigned char)s[2 * i + (size_t)k]);
            int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
            if (d < 0) return false;
            v = v * 16 + d;
        }
        out[i] = (uint8_t)v;
    }
    return true;
}

cg_status cg_tls_client_new(cg_tls_config **out, const char *pin, const char *ca_file, cg_error *err)
{
    if (!out) return cg_error_set(err, CG_ERR_ARG, "cg_tls_client_new: NULL output");
    *out = NULL;
    if ((pin != NULL) == (ca_file != NULL))
        return cg_error_set(err, CG_ERR_ARG, "TLS client: give exactly one of a pin and a CA file");
    uint8_t md[32];
    if (pin && !parse_pin(pin, md))
        return cg_error_set(err, CG_ERR_ARG, "TLS pin '%s' is not %d hex digits (a SHA-256)", pin,
                            CG_TLS_PIN_HEX);
    cg_tls_config *c;
    CG_TRY(new_config(&c, false, err));
    if (pin) {
        c->pinned = true;
        memcpy(c->pin, md, sizeof md);
        /* The check itself is tls.c's verify callback. */
    } else if (SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
        cg_tls_config_free(c);
        return ossl_fail(err, CG_ERR_FORMAT, ca_file);
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    *out = c;
    return CG_OK;
}
