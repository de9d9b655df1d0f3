/*
 * loop.c: the event loop (a libevent 2.1 event_base), the shutdown-signal
 * handler (SIGTERM and SIGINT, delivered on the loop thread through
 * libevent's signal events), one-shot timers and clocks.
 *
 * Untrusted input: none. Signals are delivered by the kernel; libevent turns
 * them into ordinary callbacks on the loop thread, so the owner's handler may
 * do anything (it is not an async-signal context).
 * Specs: POSIX clock_gettime (CLOCK_MONOTONIC, CLOCK_REALTIME), sigaction.
 */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct smtorp_timer {
    struct event *event;
    smtorp_timer_cb cb;
    void *arg;
};

void smtorp_internal_ms_to_timeval(uint64_t milliseconds, struct timeval *tv) {
    tv->tv_sec = (time_t)(milliseconds / 1000u);
    tv->tv_usec = (suseconds_t)((milliseconds % 1000u) * 1000u);
}

/* ------------------------------------------------------------------ */
/* Loop                                                               */
/* ------------------------------------------------------------------ */

SMTORP_API smtorp_result smtorp_loop_new(smtorp_loop **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;

    /* A write to a socket the peer has closed must fail with EPIPE rather
     * than kill the process. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return SMTORP_ERR_EVENT;

    smtorp_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return SMTORP_ERR_NO_MEMORY;
    loop->base = event_base_new();
    if (loop->base == NULL) {
        free(loop);
        return SMTORP_ERR_EVENT;
    }
    *out = loop;
    return SMTORP_OK;
}

static void loop_remove_signals(smtorp_loop *loop) {
    if (loop->signal_term != NULL) {
        event_free(loop->signal_term);
        loop->signal_term = NULL;
    }
    if (loop->signal_int != NULL) {
        event_free(loop->signal_int);
        loop->signal_int = NULL;
    }
    loop->signal_cb = NULL;
    loop->signal_arg = NULL;
}

SMTORP_API void smtorp_loop_free(smtorp_loop *loop) {
    if (loop == NULL)
        return;
    loop_remove_signals(loop);
    smtorp_internal_process_loop_free(loop);
    if (loop->base != NULL)
        event_base_free(loop->base);
    free(loop);
}

SMTORP_API int smtorp_loop_run(smtorp_loop *loop) {
    if (loop == NULL || loop->base == NULL)
        return -1;
    /* event_base_dispatch: 0 after loopbreak/loopexit, 1 when no events
     * remain, -1 on error. */
    int r = event_base_dispatch(loop->base);
    return r < 0 ? -1 : 0;
}

SMTORP_API void smtorp_loop_stop(smtorp_loop *loop) {
    if (loop == NULL || loop->base == NULL)
        return;
    (void)event_base_loopbreak(loop->base);
}

/* ------------------------------------------------------------------ */
/* Shutdown signals                                                   */
/* ------------------------------------------------------------------ */

static void loop_signal_trampoline(evutil_socket_t signal_number, short what,
                                   void *arg) {
    (void)what;
    smtorp_loop *loop = arg;
    if (loop->signal_cb != NULL)
        loop->signal_cb((int)signal_number, loop->signal_arg);
}

SMTORP_API smtorp_result smtorp_loop_on_shutdown_signal(smtorp_loop *loop,
                                                        smtorp_signal_cb cb,
                                                        void *arg) {
    if (loop == NULL || loop->base == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (cb == NULL) {
        /* No handler: uninstall (the default dispositions come back). */
        loop_remove_signals(loop);
        return SMTORP_OK;
    }
    if (loop->signal_term == NULL) {
        struct event *term =
            evsignal_new(loop->base, SIGTERM, loop_signal_trampoline, loop);
        struct event *intr =
            evsignal_new(loop->base, SIGINT, loop_signal_trampoline, loop);
        if (term == NULL || intr == NULL) {
            if (term != NULL)
                event_free(term);
            if (intr != NULL)
                event_free(intr);
            return SMTORP_ERR_NO_MEMORY;
        }
        if (evsignal_add(term, NULL) != 0 || evsignal_add(intr, NULL) != 0) {
            event_free(term);
            event_free(intr);
            return SMTORP_ERR_EVENT;
        }
        loop->signal_term = term;
        loop->signal_int = intr;
    }
    loop->signal_cb = cb;
    loop->signal_arg = arg;
    return SMTORP_OK;
}

/* ------------------------------------------------------------------ */
/* Timers                                                             */
/* ------------------------------------------------------------------ */

static void timer_trampoline(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_timer *timer = arg;
    /* The callback may free the timer: touch nothing after it. */
    timer->cb(timer->arg);
}

SMTORP_API smtorp_result smtorp_timer_new(smtorp_loop *loop,
                                          smtorp_timer_cb cb, void *arg,
                                          smtorp_timer **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || cb == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    smtorp_timer *timer = calloc(1, sizeof *timer);
    if (timer == NULL)
        return SMTORP_ERR_NO_MEMORY;
    timer->cb = cb;
    timer->arg = arg;
    timer->event = evtimer_new(loop->base, timer_trampoline, timer);
    if (timer->event == NULL) {
        free(timer);
        return SMTORP_ERR_NO_MEMORY;
    }
    *out = timer;
    return SMTORP_OK;
}

SMTORP_API void smtorp_timer_free(smtorp_timer *timer) {
    if (timer == NULL)
        return;
    event_free(timer->event);
    free(timer);
}

SMTORP_API void smtorp_timer_start(smtorp_timer *timer,
                                   uint64_t milliseconds) {
    if (timer == NULL)
        return;
    struct timeval tv;
    smtorp_internal_ms_to_timeval(milliseconds, &tv);
    /* evtimer_add on a pending timer reschedules it. */
    (void)evtimer_add(timer->event, &tv);
}

SMTORP_API void smtorp_timer_stop(smtorp_timer *timer) {
    if (timer == NULL)
        return;
    (void)evtimer_del(timer->event);
}

/* ------------------------------------------------------------------ */
/* Clocks                                                             */
/* ------------------------------------------------------------------ */

SMTORP_API uint64_t smtorp_clock_monotonic_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0; /* cannot happen with CLOCK_MONOTONIC on Linux */
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

SMTORP_API int64_t smtorp_clock_unix_seconds(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (int64_t)time(NULL);
    return (int64_t)ts.tv_sec;
}
