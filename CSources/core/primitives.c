/*
 * primitives.c: the few cryptographic primitives the Swift layer needs for
 * node identity: random bytes, SHA3-256 (the v3 onion address checksum,
 * rend-spec-v3 §6) and the Ed25519 public key of a seed (the onion key).
 *
 * Untrusted input: none here beyond opaque byte strings that are only hashed.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "smtorp_core.h"

static int sodium_ready(void) {
    /* sodium_init() is idempotent and thread-safe; < 0 means unusable. */
    return sodium_init() >= 0;
}

SMTORP_API smtorp_result smtorp_random_bytes(uint8_t *out, size_t length) {
    if (out == NULL && length > 0) return SMTORP_ERR_INVALID_ARGUMENT;
    if (!sodium_ready()) return SMTORP_ERR_CRYPTO;
    randombytes_buf(out, length);
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_sha3_256(const uint8_t *data, size_t length,
                                         uint8_t out[32]) {
    if (out == NULL || (data == NULL && length > 0))
        return SMTORP_ERR_INVALID_ARGUMENT;
    sodium_memzero(out, 32);
    unsigned int out_len = 0;
    if (EVP_Digest(data, length, out, &out_len, EVP_sha3_256(), NULL) != 1 ||
        out_len != 32)
        return SMTORP_ERR_CRYPTO;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_ed25519_public_key(const uint8_t seed[32],
                                                   uint8_t out[32]) {
    if (seed == NULL || out == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    sodium_memzero(out, 32);
    if (!sodium_ready()) return SMTORP_ERR_CRYPTO;
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    int rc = crypto_sign_seed_keypair(out, sk, seed);
    sodium_memzero(sk, sizeof sk);
    return rc == 0 ? SMTORP_OK : SMTORP_ERR_CRYPTO;
}

SMTORP_API int32_t smtorp_process_id(void) { return (int32_t)getpid(); }

static void write_fd_all(int fd, const uint8_t *data, size_t length) {
    while (data != NULL && length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report a failed report */
        }
        data += n;
        length -= (size_t)n;
    }
}

SMTORP_API void smtorp_write_stderr(const uint8_t *data, size_t length) {
    write_fd_all(2, data, length);
}

SMTORP_API void smtorp_write_stdout(const uint8_t *data, size_t length) {
    write_fd_all(1, data, length);
}

SMTORP_API void smtorp_exit(int status) { exit(status); }
