/*
 * password.c: password hashing for the submission listener's password file
 * (libsodium's crypto_pwhash_str, Argon2id, RFC 9106).
 *
 * Untrusted input: the password, sent by a network client in AUTH PLAIN
 * (RFC 4616), and the hash string, read from the password file (a local
 * file the node's operator writes). libsodium parses the hash string and
 * compares in constant time; a malformed string is a mismatch.
 */
#include <string.h>

#include <sodium.h>

#include "smtorp_core.h"

/* Argon2id with libsodium's INTERACTIVE limits (2 passes, 64 MiB): about
 * 50-100 ms on a small board, paid once per AUTH. */
#define PASSWORD_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PASSWORD_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

SMTORP_API size_t smtorp_password_hash_size(void) {
    return crypto_pwhash_STRBYTES;
}

SMTORP_API smtorp_result smtorp_password_hash(const uint8_t *password,
                                              size_t length, char *out,
                                              size_t out_size) {
    if (out != NULL && out_size > 0)
        memset(out, 0, out_size);
    if (out == NULL || (password == NULL && length > 0))
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (out_size < crypto_pwhash_STRBYTES)
        return SMTORP_ERR_BUFFER_TOO_SMALL;
    if (length == 0 || length > crypto_pwhash_PASSWD_MAX)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (sodium_init() < 0)
        return SMTORP_ERR_CRYPTO;
    static const uint8_t empty = 0;
    if (crypto_pwhash_str(out, (const char *)(password ? password : &empty),
                          length, PASSWORD_OPSLIMIT, PASSWORD_MEMLIMIT) != 0) {
        memset(out, 0, out_size);
        return SMTORP_ERR_NO_MEMORY; /* libsodium fails only on memory */
    }
    return SMTORP_OK;
}

SMTORP_API int smtorp_password_verify(const char *hash, const uint8_t *password,
                                      size_t length) {
    if (hash == NULL || (password == NULL && length > 0))
        return 0;
    /* crypto_pwhash_str_verify reads at most crypto_pwhash_STRBYTES bytes
     * of `hash`, which must be NUL-terminated within them. */
    if (memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL)
        return 0;
    if (sodium_init() < 0)
        return 0;
    static const uint8_t empty = 0;
    return crypto_pwhash_str_verify(
               hash, (const char *)(password ? password : &empty), length) == 0;
}
