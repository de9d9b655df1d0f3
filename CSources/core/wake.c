/*
 * wake.c: the two pieces every worker thread of the C core needs (the
 * proof-of-work solve jobs, the password checks): a wake-up from the worker
 * to the loop thread, and a thread that takes no signals.
 *
 * The wake-up is a non-blocking pipe whose read end an event of the loop
 * watches: the worker only writes a byte (write(2) is async-signal- and
 * thread-safe, and the worker never touches libevent); the loop's callback
 * drains the pipe and reads the worker's results, published with atomics
 * before the byte.
 *
 * Untrusted input: none.
 * Specs: pipe2(2), pthread_sigmask(3).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

/* Bytes read per drain call; the pipe holds few. */
#define WAKE_DRAIN_CHUNK 64u

SMTORP_INTERNAL smtorp_result smtorp_wake_init(smtorp_wake *wake, smtorp_loop *loop,
                                               event_callback_fn cb, void *arg) {
    wake->fds[0] = wake->fds[1] = -1;
    wake->event = NULL;
    if (pipe2(wake->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        int saved = errno;
        wake->fds[0] = wake->fds[1] = -1;
        errno = saved;
        return SMTORP_ERR_IO;
    }
    wake->event = event_new(loop->base, wake->fds[0], EV_READ | EV_PERSIST, cb, arg);
    if (wake->event == NULL) {
        smtorp_wake_release(wake);
        return SMTORP_ERR_NO_MEMORY;
    }
    if (event_add(wake->event, NULL) != 0) {
        smtorp_wake_release(wake);
        return SMTORP_ERR_EVENT;
    }
    return SMTORP_OK;
}

SMTORP_INTERNAL void smtorp_wake_post(smtorp_wake *wake) {
    const uint8_t byte = 1;
    while (write(wake->fds[1], &byte, 1) < 0 && errno == EINTR) {
    }
}

SMTORP_INTERNAL void smtorp_wake_drain(smtorp_wake *wake) {
    uint8_t sink[WAKE_DRAIN_CHUNK];
    for (;;) {
        ssize_t n = read(wake->fds[0], sink, sizeof sink);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        return; /* EAGAIN: empty (no EOF: the write end is ours) */
    }
}

SMTORP_INTERNAL void smtorp_wake_release(smtorp_wake *wake) {
    if (wake->event != NULL) event_free(wake->event); /* removes it too */
    wake->event = NULL;
    for (int i = 0; i < 2; i++) {
        if (wake->fds[i] >= 0) close(wake->fds[i]);
        wake->fds[i] = -1;
    }
}

SMTORP_INTERNAL int smtorp_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg) {
    /* The thread inherits the mask in force at pthread_create: block every
     * signal around it, so that not even the thread's first instruction can
     * take a signal meant for the loop (threads it starts inherit the same
     * mask in turn). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
