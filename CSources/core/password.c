/*
 * password.c: password hashing for the submission listener's password file
 * (libsodium's crypto_pwhash_str, Argon2id, RFC 9106).
 *
 * Untrusted input: the password, sent by a network client in AUTH PLAIN
 * (RFC 4616), and the hash string, read from the password file (a local
 * file the node's operator writes). libsodium parses the hash string and
 * compares in constant time; a malformed string is a mismatch.
 *
 * A check also runs on a worker thread (smtorp_password_check_start), so
 * that the event loop keeps serving while it costs its 64 MiB.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

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

/* ------------------------------------------------------------------ */
/* The check on a worker thread                                       */
/* ------------------------------------------------------------------ */

/*
 * A verification costs 64 MiB and tens of milliseconds: on the loop thread
 * it would stall every other connection. smtorp_password_check_start runs
 * it on a thread of its own that only writes one byte into a pipe when it
 * is done; the loop's event for the pipe's read end joins the thread and
 * calls the owner. The owner runs one check at a time (the memory of one
 * evaluation is the bound a small board can afford).
 */
struct smtorp_password_check {
    smtorp_wake wake;
    pthread_t thread;
    int thread_running;
    char hash[crypto_pwhash_STRBYTES];
    uint8_t *password;  /* a copy, wiped and freed with the check */
    size_t length;
    int matches;        /* written by the worker before its byte */
    smtorp_password_check_cb cb;
    void *arg;
};

static void *password_check_main(void *arg) {
    struct smtorp_password_check *check = arg;
    int matches = smtorp_password_verify(check->hash, check->password, check->length);
    __atomic_store_n(&check->matches, matches, __ATOMIC_RELEASE);
    smtorp_wake_post(&check->wake);
    return NULL;
}

static void password_check_join(struct smtorp_password_check *check) {
    if (!check->thread_running) return;
    pthread_join(check->thread, NULL);
    check->thread_running = 0;
}

static void password_check_wake(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct smtorp_password_check *check = arg;
    smtorp_wake_drain(&check->wake);
    password_check_join(check); /* the worker has written: immediate */
    (void)event_del(check->wake.event);
    int matches = __atomic_load_n(&check->matches, __ATOMIC_ACQUIRE);
    check->cb(check, matches, check->arg); /* may free: last statement */
}

SMTORP_API void smtorp_password_check_free(smtorp_password_check *check) {
    if (check == NULL) return;
    password_check_join(check);
    smtorp_wake_release(&check->wake);
    if (check->password != NULL) {
        sodium_memzero(check->password, check->length);
        free(check->password);
    }
    sodium_memzero(check->hash, sizeof check->hash);
    free(check);
}

SMTORP_API smtorp_result smtorp_password_check_start(
    smtorp_loop *loop, const char *hash, const uint8_t *password,
    size_t length, smtorp_password_check_cb cb, void *arg,
    smtorp_password_check **out) {
    if (out == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || cb == NULL || hash == NULL ||
        (password == NULL && length > 0) || length > crypto_pwhash_PASSWD_MAX)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (memchr(hash, '\0', crypto_pwhash_STRBYTES) == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;

    struct smtorp_password_check *check = calloc(1, sizeof *check);
    if (check == NULL) return SMTORP_ERR_NO_MEMORY;
    check->wake.fds[0] = check->wake.fds[1] = -1;
    check->cb = cb;
    check->arg = arg;
    strcpy(check->hash, hash); /* fits: NUL within STRBYTES, checked above */
    check->length = length;
    check->password = malloc(length > 0 ? length : 1);
    if (check->password == NULL) {
        smtorp_password_check_free(check);
        return SMTORP_ERR_NO_MEMORY;
    }
    if (length > 0) memcpy(check->password, password, length);

    smtorp_result r = smtorp_wake_init(&check->wake, loop, password_check_wake, check);
    if (r != SMTORP_OK) {
        int saved = errno;
        smtorp_password_check_free(check);
        errno = saved;
        return r;
    }
    int rc = smtorp_thread_start(&check->thread, password_check_main, check);
    if (rc != 0) {
        smtorp_password_check_free(check);
        errno = rc;
        return SMTORP_ERR_SPAWN;
    }
    check->thread_running = 1;
    *out = check;
    return SMTORP_OK;
}
