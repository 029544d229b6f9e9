/* Private parts of the TLS configuration, shared by tls.c and tls_cert.c. */
#ifndef CG_NET_TLS_INTERNAL_H
#define CG_NET_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cryptogen/net.h"

struct cg_tls_cert {
    X509 *x509;
    EVP_PKEY *key;
};

struct cg_tls_config {
    SSL_CTX *ctx;
    bool server;
    bool pinned;      /* client: trust is the pin below, not a CA */
    uint8_t pin[32];  /* SHA-256 of the server certificate's DER */
};

/* The SHA-256 of a certificate's DER encoding. */
bool cg_net_tls_cert_sha256(X509 *x, uint8_t out[32]);

#endif
