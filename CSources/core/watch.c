/*
 * watch.c: a directory watch on the event loop (Linux inotify), so that the
 * queue runner hears of new or changed queue files at once instead of
 * reading the whole queue every second.
 *
 * The callback runs on the loop thread after one or more entries of the
 * directory were created, moved in or out, or removed (IN_CREATE,
 * IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE; link() and rename() are what the
 * queue writers use). Events are drained and coalesced: one call per wake.
 * If the kernel's event queue overflowed (IN_Q_OVERFLOW) the call still
 * comes: the owner rescans, which is all it does anyway.
 *
 * Untrusted input: none (kernel events about our own directory; their
 * names are not used).
 * Specs: inotify(7).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

struct smtorp_dir_watch {
    int fd;
    int wd;
    struct event *event;
    smtorp_dir_watch_cb cb;
    void *arg;
};

/* Room for a burst of events; more just come at the next read. */
#define WATCH_BUFFER_BYTES 4096

static void watch_readable(evutil_socket_t fd, short what, void *arg) {
    (void)what;
    smtorp_dir_watch *watch = arg;
    char buffer[WATCH_BUFFER_BYTES] __attribute__((aligned(__alignof__(struct inotify_event))));
    int any = 0;
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n > 0) {
            any = 1;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break; /* EAGAIN: drained */
    }
    if (any) watch->cb(watch->arg); /* may free the watch: last statement */
}

SMTORP_API void smtorp_dir_watch_free(smtorp_dir_watch *watch) {
    if (watch == NULL) return;
    if (watch->event != NULL) event_free(watch->event);
    if (watch->fd >= 0) close(watch->fd); /* removes the watch too */
    free(watch);
}

SMTORP_API smtorp_result smtorp_dir_watch_new(smtorp_loop *loop, const char *path,
                                              smtorp_dir_watch_cb cb, void *arg,
                                              smtorp_dir_watch **out) {
    if (out == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || path == NULL || cb == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    smtorp_dir_watch *watch = calloc(1, sizeof *watch);
    if (watch == NULL) return SMTORP_ERR_NO_MEMORY;
    watch->cb = cb;
    watch->arg = arg;
    watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch->fd < 0) {
        int saved = errno;
        smtorp_dir_watch_free(watch);
        errno = saved;
        return SMTORP_ERR_IO;
    }
    watch->wd = inotify_add_watch(watch->fd, path,
                                  IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR);
    if (watch->wd < 0) {
        int saved = errno;
        smtorp_dir_watch_free(watch);
        errno = saved;
        return SMTORP_ERR_IO;
    }
    watch->event = event_new(loop->base, watch->fd, EV_READ | EV_PERSIST, watch_readable, watch);
    if (watch->event == NULL) {
        smtorp_dir_watch_free(watch);
        return SMTORP_ERR_NO_MEMORY;
    }
    if (event_add(watch->event, NULL) != 0) {
        smtorp_dir_watch_free(watch);
        return SMTORP_ERR_EVENT;
    }
    *out = watch;
    return SMTORP_OK;
}
