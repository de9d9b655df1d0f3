/*
 * primitives.c: the few cryptographic primitives the Swift layer needs for
 * node identity: random bytes, SHA3-256 (the v3 onion address checksum,
 * rend-spec-v3 §6) and the Ed25519 public key of a seed (the onion key).
 *
 * Untrusted input: none here beyond opaque byte strings that are only hashed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
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

SMTORP_API smtorp_result smtorp_hmac_sha256(const uint8_t *key,
                                            size_t key_length,
                                            const uint8_t *message,
                                            size_t message_length,
                                            uint8_t out[32]) {
    if (out == NULL || (key == NULL && key_length > 0) ||
        (message == NULL && message_length > 0))
        return SMTORP_ERR_INVALID_ARGUMENT;
    sodium_memzero(out, 32);
    unsigned int out_len = 0;
    static const uint8_t empty = 0;
    if (HMAC(EVP_sha256(), key ? key : &empty, (int)key_length,
             message ? message : &empty, message_length, out, &out_len) == NULL ||
        out_len != 32)
        return SMTORP_ERR_CRYPTO;
    return SMTORP_OK;
}

static smtorp_result digest(const EVP_MD *md, const uint8_t *data,
                            size_t length, uint8_t *out, unsigned int size) {
    if (out == NULL || (data == NULL && length > 0))
        return SMTORP_ERR_INVALID_ARGUMENT;
    sodium_memzero(out, size);
    unsigned int out_len = 0;
    static const uint8_t empty = 0;
    if (EVP_Digest(data ? data : &empty, length, out, &out_len, md, NULL) != 1 ||
        out_len != size)
        return SMTORP_ERR_CRYPTO;
    return SMTORP_OK;
}

SMTORP_API smtorp_result smtorp_sha512(const uint8_t *data, size_t length,
                                       uint8_t out[64]) {
    return digest(EVP_sha512(), data, length, out, 64);
}

SMTORP_API smtorp_result smtorp_sha256(const uint8_t *data, size_t length,
                                       uint8_t out[32]) {
    return digest(EVP_sha256(), data, length, out, 32);
}

SMTORP_API int smtorp_constant_time_equal(const uint8_t *a, const uint8_t *b,
                                          size_t length) {
    if (length == 0) return 1;
    if (a == NULL || b == NULL) return 0;
    return CRYPTO_memcmp(a, b, length) == 0;
}

SMTORP_API int smtorp_ed25519_is_valid_public_key(const uint8_t public_key[32]) {
    if (public_key == NULL || !sodium_ready()) return 0;
    return crypto_core_ed25519_is_valid_point(public_key) == 1;
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

/* glibc calls every .init_array function with (argc, argv, envp), in static
 * and dynamic executables alike (the Swift runtime captures CommandLine the
 * same way on Linux). The pointers stay valid for the life of the process. */
static int captured_argc;
static const char *const *captured_argv;

static void capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc > 0 && argv != NULL) {
        captured_argc = argc;
        captured_argv = (const char *const *)argv;
    }
}

__attribute__((section(".init_array"), used))
static void (*const capture_arguments_entry)(int, char **, char **) = capture_arguments;

SMTORP_API const char *const *smtorp_arguments(size_t *count) {
    if (count != NULL) *count = captured_argv != NULL ? (size_t)captured_argc : 0;
    return captured_argv;
}

SMTORP_API smtorp_result smtorp_find_program(const char *name, char *out,
                                             size_t out_size) {
    if (out != NULL && out_size > 0) out[0] = '\0';
    if (name == NULL || name[0] == '\0' || out == NULL || out_size == 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    size_t name_len = strlen(name);
    if (strchr(name, '/') != NULL) {
        if (name_len + 1 > out_size) return SMTORP_ERR_BUFFER_TOO_SMALL;
        memcpy(out, name, name_len + 1);
        return SMTORP_OK;
    }
    const char *path = getenv("PATH");
    if (path == NULL || path[0] == '\0') path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t dir_len = end ? (size_t)(end - path) : strlen(path);
        if (dir_len > 0 && dir_len + 1 + name_len + 1 <= out_size) {
            memcpy(out, path, dir_len);
            out[dir_len] = '/';
            memcpy(out + dir_len + 1, name, name_len + 1);
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
                return SMTORP_OK;
        }
        if (end == NULL) break;
        path = end + 1;
    }
    out[0] = '\0';
    return SMTORP_ERR_SPAWN;
}

SMTORP_API unsigned smtorp_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}
