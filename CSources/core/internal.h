/*
 * internal.h: private declarations shared by the files of the C core
 * (loop.c, tls.c, conn.c, ...). Nothing here is exported: the build uses
 * -fvisibility=hidden and these symbols carry no SMTORP_API.
 *
 * Untrusted input: none directly; see the individual .c files.
 * Specs: none; this is glue around libevent 2.1 and OpenSSL 3.0.
 */
#ifndef SMTORP_CORE_INTERNAL_H
#define SMTORP_CORE_INTERNAL_H

/* libevent's event-config.h defines _GNU_SOURCE; these must come first so
 * that fd_set and friends are declared consistently. */
#include <sys/types.h>
#include <sys/time.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netdb.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "smtorp_core.h"

#define SMTORP_INTERNAL __attribute__((visibility("hidden")))

#include <pthread.h>

/* wake.c: a wake-up from a worker thread to the loop thread (a pipe whose
 * read end an event of the loop watches), and a thread that blocks every
 * signal. */
typedef struct smtorp_wake {
    int fds[2];          /* [0] the loop's end, [1] the worker's; -1 if none */
    struct event *event; /* EV_READ | EV_PERSIST on fds[0]                  */
} smtorp_wake;
/* SMTORP_OK, _IO (no pipe, errno set), _NO_MEMORY or _EVENT; on failure
 * nothing is left to release. `cb` runs on the loop thread. */
SMTORP_INTERNAL smtorp_result smtorp_wake_init(smtorp_wake *wake, smtorp_loop *loop,
                                               event_callback_fn cb, void *arg);
/* Worker thread: one byte into the pipe. */
SMTORP_INTERNAL void smtorp_wake_post(smtorp_wake *wake);
/* Loop thread: reads everything the pipe holds. */
SMTORP_INTERNAL void smtorp_wake_drain(smtorp_wake *wake);
/* Loop thread: frees the event and closes the pipe (idempotent). */
SMTORP_INTERNAL void smtorp_wake_release(smtorp_wake *wake);
/* pthread_create with every signal blocked in the new thread; pthread's
 * error number (0 on success). */
SMTORP_INTERNAL int smtorp_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/** The event loop: one libevent base plus the shutdown-signal handler. */
struct smtorp_loop {
    struct event_base *base;
    struct event *signal_term;   /* SIGTERM, NULL until installed */
    struct event *signal_int;    /* SIGINT, NULL until installed  */
    smtorp_signal_cb signal_cb;
    void *signal_arg;
    /* process.c: SIGCHLD (NULL until the first spawn) and the children not
     * reaped yet. */
    struct event *signal_child;
    struct smtorp_process *processes;
};

/** A TLS context: an OpenSSL SSL_CTX configured by tls.c. */
struct smtorp_tls_context {
    SSL_CTX *ssl_ctx;
    int is_server;
};

/** SHA-256 over the DER SubjectPublicKeyInfo of `certificate`.
 *  `out` is zeroed first. Clears the OpenSSL error queue on failure. */
SMTORP_INTERNAL smtorp_result smtorp_internal_x509_spki_sha256(
    X509 *certificate, uint8_t out[32]);

/** Converts milliseconds to a struct timeval. */
SMTORP_INTERNAL void smtorp_internal_ms_to_timeval(uint64_t milliseconds,
                                                   struct timeval *tv);

/* ------------------------------------------------------------------ */
/* SOCKS5 client handshake (socks.c), driven by conn.c                */
/* ------------------------------------------------------------------ */

struct evbuffer;

/** The client side of one SOCKS5 handshake: the requests (built up front)
 *  and what it waits for. */
typedef struct smtorp_socks_client smtorp_socks_client;

/** What one step of the handshake came to. */
typedef enum smtorp_socks_step {
    SMTORP_SOCKS_STEP_WAIT = 0,      /* more bytes from the proxy needed   */
    SMTORP_SOCKS_STEP_OPEN = 1,      /* the tunnel is open                 */
    SMTORP_SOCKS_STEP_FAILED = 2,    /* *error: smtorp_conn_socks_error()  */
    SMTORP_SOCKS_STEP_NO_MEMORY = 3  /* a request could not be queued      */
} smtorp_socks_step;

/** Validates the arguments and builds the requests (username and password
 *  both non-NULL, or both ignored). */
SMTORP_INTERNAL smtorp_result smtorp_internal_socks_client_new(
    const char *username, const char *password, const char *host,
    uint16_t port, smtorp_socks_client **out);
/** Frees the client, wiping the credentials. NULL is fine. */
SMTORP_INTERNAL void smtorp_internal_socks_client_free(
    smtorp_socks_client *client);
/** The TCP connection to the proxy is up: queues the greeting. */
SMTORP_INTERNAL smtorp_result smtorp_internal_socks_client_start(
    smtorp_socks_client *client, struct evbuffer *output);
/** Consumes the proxy's replies from `input` (only them: bytes after the
 *  CONNECT reply stay there) and queues the next request on `output`.
 *  `at_eof`: the proxy has closed, so a reply still incomplete is final. */
SMTORP_INTERNAL smtorp_socks_step smtorp_internal_socks_client_receive(
    smtorp_socks_client *client, struct evbuffer *input,
    struct evbuffer *output, int at_eof, int *error);

/** conn.c: turns a fresh cleartext outgoing conn (to the proxy, nothing
 *  delivered yet) into a SOCKS one: it runs `socks` (owned by the conn from
 *  now on, also on failure) before READY, then starts TLS with `tls` and
 *  `server_name` (copied) when `tls` is non-NULL. */
SMTORP_INTERNAL smtorp_result smtorp_internal_conn_attach_socks(
    smtorp_conn *conn, smtorp_socks_client *socks, smtorp_tls_context *tls,
    const char *server_name);

/* ------------------------------------------------------------------ */
/* Child processes (process.c)                                        */
/* ------------------------------------------------------------------ */

/** Called by smtorp_loop_free(): drops the SIGCHLD event and detaches the
 *  processes not reaped yet from the loop. */
SMTORP_INTERNAL void smtorp_internal_process_loop_free(smtorp_loop *loop);

#endif /* SMTORP_CORE_INTERNAL_H */
