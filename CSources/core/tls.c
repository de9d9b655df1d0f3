/*
 * tls.c: TLS contexts (OpenSSL 3.0), the self-signed identity generator and
 * SPKI fingerprints.
 *
 * Untrusted input: the PEM files named by the caller (they may be missing,
 * truncated or hostile; OpenSSL parses them) and, through
 * smtorp_internal_x509_spki_sha256, a peer's certificate received during a
 * handshake (already parsed by OpenSSL; we only re-encode its public key).
 * Specs: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 7525 / BCP 195 (cipher
 * policy: ECDHE + AEAD only), RFC 5280 (X.509 v3 profile: basicConstraints,
 * keyUsage, extendedKeyUsage, subjectKeyIdentifier), RFC 7469 section 2.4
 * (SPKI fingerprint = hash of the DER SubjectPublicKeyInfo).
 *
 * Every OpenSSL failure path clears the thread's OpenSSL error queue: stale
 * entries there would make a later SSL_get_error() on an unrelated
 * connection report SSL_ERROR_SSL.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* TLS 1.2 only: ECDHE for forward secrecy, AEAD ciphers only. TLS 1.3 uses
 * OpenSSL's default suites, which are all AEAD with (EC)DHE. */
static const char tls12_cipher_list[] =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256";
static const char tls_groups[] = "X25519:P-256:P-384";

/* ------------------------------------------------------------------ */
/* Contexts                                                           */
/* ------------------------------------------------------------------ */

static SSL_CTX *tls_common_ctx_new(int is_server) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL)
        return NULL;
    uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                       SSL_OP_NO_TICKET;
    if (is_server)
        options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, options);
    /* Small boards: give record buffers back while idle. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, 0) != 1 || /* 0: highest (1.3) */
        SSL_CTX_set_cipher_list(ctx, tls12_cipher_list) != 1 ||
        SSL_CTX_set1_groups_list(ctx, tls_groups) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* No session resumption at all: no cache, and with TLS 1.3 no tickets
     * (SSL_OP_NO_TICKET alone only makes 1.3 tickets stateful). */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (is_server && SSL_CTX_set_num_tickets(ctx, 0) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static smtorp_result tls_context_wrap(SSL_CTX *ssl_ctx, int is_server,
                                      smtorp_tls_context **out) {
    smtorp_tls_context *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        SSL_CTX_free(ssl_ctx);
        return SMTORP_ERR_NO_MEMORY;
    }
    ctx->ssl_ctx = ssl_ctx;
    ctx->is_server = is_server;
    *out = ctx;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_tls_server_context_new(
    const char *certificate_path, const char *key_path,
    smtorp_tls_context **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (certificate_path == NULL || key_path == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;

    SSL_CTX *ssl_ctx = tls_common_ctx_new(1);
    if (ssl_ctx == NULL) {
        ERR_clear_error();
        return SMTORP_ERR_TLS_CONTEXT;
    }
    if (SSL_CTX_use_certificate_chain_file(ssl_ctx, certificate_path) != 1) {
        SSL_CTX_free(ssl_ctx);
        ERR_clear_error();
        return SMTORP_ERR_TLS_CERTIFICATE;
    }
    if (SSL_CTX_use_PrivateKey_file(ssl_ctx, key_path, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ssl_ctx) != 1) {
        SSL_CTX_free(ssl_ctx);
        ERR_clear_error();
        return SMTORP_ERR_TLS_KEY;
    }
    return tls_context_wrap(ssl_ctx, 1, out);
}

SMTORP_API smtorp_result smtorp_tls_client_context_new(
    smtorp_tls_context **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    SSL_CTX *ssl_ctx = tls_common_ctx_new(0);
    if (ssl_ctx == NULL) {
        ERR_clear_error();
        return SMTORP_ERR_TLS_CONTEXT;
    }
    /* No CA verification: the caller pins the server's SPKI fingerprint. */
    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
    return tls_context_wrap(ssl_ctx, 0, out);
}

SMTORP_API void smtorp_tls_context_free(smtorp_tls_context *ctx) {
    if (ctx == NULL)
        return;
    /* SSL objects hold their own reference to the SSL_CTX, so connections
     * still open keep working. */
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

/* ------------------------------------------------------------------ */
/* SPKI fingerprints                                                  */
/* ------------------------------------------------------------------ */

smtorp_result smtorp_internal_x509_spki_sha256(X509 *certificate,
                                               uint8_t out[32]) {
    memset(out, 0, 32);
    if (certificate == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    X509_PUBKEY *spki = X509_get_X509_PUBKEY(certificate);
    if (spki == NULL) {
        ERR_clear_error();
        return SMTORP_ERR_TLS_CERTIFICATE;
    }
    unsigned char *der = NULL;
    int der_length = i2d_X509_PUBKEY(spki, &der);
    if (der_length <= 0 || der == NULL) {
        ERR_clear_error();
        return SMTORP_ERR_TLS_CERTIFICATE;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    int ok = EVP_Digest(der, (size_t)der_length, digest, &digest_length,
                        EVP_sha256(), NULL);
    OPENSSL_free(der);
    if (ok != 1 || digest_length != 32) {
        ERR_clear_error();
        return SMTORP_ERR_CRYPTO;
    }
    memcpy(out, digest, 32);
    OPENSSL_cleanse(digest, sizeof digest);
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_tls_certificate_spki_sha256(
    const char *certificate_path, uint8_t out[32]) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    memset(out, 0, 32);
    if (certificate_path == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    BIO *bio = BIO_new_file(certificate_path, "r");
    if (bio == NULL) {
        ERR_clear_error();
        return SMTORP_ERR_TLS_CERTIFICATE;
    }
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (cert == NULL) {
        ERR_clear_error();
        return SMTORP_ERR_TLS_CERTIFICATE;
    }
    smtorp_result r = smtorp_internal_x509_spki_sha256(cert, out);
    X509_free(cert);
    return r;
}

/* ------------------------------------------------------------------ */
/* Identity generation                                                */
/* ------------------------------------------------------------------ */

/* 1 if `path` exists (any type, dangling symlinks included), 0 if not,
 * -1 if that cannot be told (errno set). */
static int tls_path_exists(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0)
        return 1;
    return errno == ENOENT ? 0 : -1;
}

/* Writes `data` to `final_path` durably and exclusively (fs.c:
 * "<final_path>.tmp", fsync, link without ever replacing, fsync of the
 * directory); nothing is left behind on failure. */
static smtorp_result tls_write_exclusive(const char *final_path,
                                         const void *data, size_t length) {
    size_t path_length = strlen(final_path);
    if (path_length > PATH_MAX - 5)
        return SMTORP_ERR_INVALID_ARGUMENT;
    char tmp_path[PATH_MAX];
    memcpy(tmp_path, final_path, path_length);
    memcpy(tmp_path + path_length, ".tmp", 5);
    const uint8_t *part = data;
    return smtorp_fs_write_durable(tmp_path, final_path, &part, &length, 1);
}

static int tls_add_extension(X509 *cert, int nid, const char *value) {
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    if (ext == NULL)
        return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

/* Builds the key and certificate and returns both as PEM in memory BIOs. */
static smtorp_result tls_make_identity(const char *common_name, BIO **key_pem,
                                       BIO **cert_pem) {
    smtorp_result result = SMTORP_ERR_CRYPTO;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    BIGNUM *serial = NULL;
    BIO *kb = NULL, *cb = NULL;
    *key_pem = NULL;
    *cert_pem = NULL;

    key = EVP_EC_gen("P-256");
    cert = X509_new();
    serial = BN_new();
    if (key == NULL || cert == NULL || serial == NULL)
        goto done;

    /* 128 random bits, top bit set so the length is fixed; BIGNUMs are
     * non-negative, so the DER INTEGER is positive (RFC 5280 4.1.2.2). */
    if (X509_set_version(cert, 2) != 1 ||
        BN_rand(serial, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) == NULL)
        goto done;
    if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(cert), 20 * 365 + 5, 0, NULL) ==
            NULL)
        goto done;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)common_name, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(cert, name) != 1 ||
        X509_set_pubkey(cert, key) != 1)
        goto done;
    if (!tls_add_extension(cert, NID_basic_constraints, "critical,CA:FALSE") ||
        !tls_add_extension(cert, NID_key_usage, "critical,digitalSignature") ||
        !tls_add_extension(cert, NID_ext_key_usage, "serverAuth,clientAuth") ||
        !tls_add_extension(cert, NID_subject_key_identifier, "hash"))
        goto done;
    if (X509_sign(cert, key, EVP_sha256()) <= 0)
        goto done;

    kb = BIO_new(BIO_s_secmem());
    cb = BIO_new(BIO_s_mem());
    if (kb == NULL || cb == NULL) {
        result = SMTORP_ERR_NO_MEMORY;
        goto done;
    }
    if (PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cb, cert) != 1)
        goto done;
    *key_pem = kb;
    *cert_pem = cb;
    kb = cb = NULL;
    result = SMTORP_OK;

done:
    BIO_free(kb);
    BIO_free(cb);
    BN_free(serial);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (result != SMTORP_OK)
        ERR_clear_error();
    return result;
}

SMTORP_API smtorp_result smtorp_tls_generate_identity(
    const char *key_path, const char *certificate_path,
    const char *common_name) {
    if (key_path == NULL || certificate_path == NULL || common_name == NULL ||
        key_path[0] == '\0' || certificate_path[0] == '\0' ||
        common_name[0] == '\0' || strcmp(key_path, certificate_path) == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;

    int key_exists = tls_path_exists(key_path);
    int cert_exists = tls_path_exists(certificate_path);
    if (key_exists < 0 || cert_exists < 0)
        return SMTORP_ERR_IO;
    if (key_exists || cert_exists)
        return SMTORP_ERR_EXISTS;

    BIO *key_pem = NULL, *cert_pem = NULL;
    smtorp_result r = tls_make_identity(common_name, &key_pem, &cert_pem);
    if (r != SMTORP_OK)
        return r;

    char *data = NULL;
    long length = BIO_get_mem_data(key_pem, &data);
    if (length <= 0 || data == NULL) {
        r = SMTORP_ERR_CRYPTO;
        goto done;
    }
    r = tls_write_exclusive(key_path, data, (size_t)length);
    if (r != SMTORP_OK)
        goto done;

    data = NULL;
    length = BIO_get_mem_data(cert_pem, &data);
    if (length <= 0 || data == NULL) {
        r = SMTORP_ERR_CRYPTO;
    } else {
        r = tls_write_exclusive(certificate_path, data, (size_t)length);
    }
    if (r != SMTORP_OK) {
        int saved = errno;
        /* created by this call: leave nothing behind */
        if (smtorp_fs_remove_durable(key_path) != SMTORP_OK) { /* nothing more to do */ }
        errno = saved;
    }

done:
    BIO_free(key_pem); /* secure-heap BIO: cleansed on free */
    BIO_free(cert_pem);
    ERR_clear_error();
    return r;
}
