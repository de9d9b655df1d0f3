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

/** The event loop: one libevent base plus the shutdown-signal handler. */
struct smtorp_loop {
    struct event_base *base;
    struct event *signal_term;   /* SIGTERM, NULL until installed */
    struct event *signal_int;    /* SIGINT, NULL until installed  */
    smtorp_signal_cb signal_cb;
    void *signal_arg;
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

#endif /* SMTORP_CORE_INTERNAL_H */
