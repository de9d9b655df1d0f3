/*
 * process.c: child processes (smtorp's managed tor): fork and exec with a
 * clean descriptor table and signal state, exec failures reported through a
 * close-on-exec pipe, and exits reaped on the loop thread from a SIGCHLD
 * event.
 *
 * Untrusted input: none. The program, its arguments and the log path come
 * from the owner; the child's output goes to the log file and is never read
 * here.
 * Specs: POSIX fork/execv/waitpid/sigaction/pthread_sigmask; Linux
 * prctl(PR_SET_PDEATHSIG), close_range(2), pidfd_open(2).
 *
 * Between fork and exec the child calls async-signal-safe functions only
 * (the parent may have other threads: any lock they held is frozen in the
 * child). Every descriptor it needs is opened by the parent beforehand, so
 * a failure there is reported precisely and the child has nothing to
 * allocate. All signals are blocked across fork: otherwise a signal landing
 * in the child before exec would run libevent's handler there, which writes
 * into the loop's signal pipe shared with the parent (a SIGTERM meant for
 * the child would shut us down).
 *
 * Reaping: SIGCHLD wakes the loop; each live child is polled with
 * waitpid(pid, WNOHANG), never waitpid(-1), so children of other parts of
 * the program are left alone. SIGCHLD coexists with the shutdown signals of
 * loop.c: libevent multiplexes any number of signal events on one base.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The exec-error pipe's fd in the child while it runs (0-2 are stdio). */
#define CHILD_ERROR_FD 3
/* Descriptors the child moves its inputs to before placing them, above
 * anything it will dup2 onto. */
#define CHILD_SCRATCH_FD 10
/* smtorp_process_wait polls at this step when pidfd_open is missing. */
#define WAIT_POLL_MS 5

struct smtorp_process {
    smtorp_loop *loop;           /* NULL once the loop is gone */
    pid_t pid;
    int running;                 /* not reaped yet */
    int wait_status;             /* once reaped */
    int detached;                /* freed by the owner while running */
    smtorp_process_exit_cb cb;
    void *arg;
    struct smtorp_process *next; /* loop->processes, while running */
};

/* ------------------------------------------------------------------ */
/* The loop's list of live children                                   */
/* ------------------------------------------------------------------ */

static void process_unlink(smtorp_process *process) {
    if (process->loop == NULL)
        return;
    smtorp_process **link = &process->loop->processes;
    while (*link != NULL && *link != process)
        link = &(*link)->next;
    if (*link == process)
        *link = process->next;
    process->next = NULL;
}

/* Records the exit of a reaped child. */
static void process_exited(smtorp_process *process, int wait_status) {
    process->running = 0;
    process->wait_status = wait_status;
    process_unlink(process);
}

/* Reaps `process` if it has exited: 1 when it has (or is gone), else 0. */
static int process_try_reap(smtorp_process *process) {
    int status = 0;
    pid_t r;
    do {
        r = waitpid(process->pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0) {
        /* ECHILD: someone else reaped it (a waitpid(-1) elsewhere in the
         * program). It is gone; the status is lost. */
        status = 0;
    }
    process_exited(process, status);
    return 1;
}

static void process_sigchld_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_loop *loop = arg;
    /* One SIGCHLD may stand for several exits. A callback may free any
     * process or spawn new ones, so the scan starts over after each. */
    for (;;) {
        smtorp_process *exited = NULL;
        for (smtorp_process *p = loop->processes; p != NULL; p = p->next) {
            if (process_try_reap(p)) { /* unlinks p: stop iterating */
                exited = p;
                break;
            }
        }
        if (exited == NULL)
            return;
        if (exited->detached) {
            free(exited);
        } else if (exited->cb != NULL) {
            exited->cb(exited, exited->wait_status, exited->arg);
        }
    }
}

void smtorp_internal_process_loop_free(smtorp_loop *loop) {
    if (loop->signal_child != NULL) {
        event_free(loop->signal_child);
        loop->signal_child = NULL;
    }
    smtorp_process *p = loop->processes;
    loop->processes = NULL;
    while (p != NULL) {
        smtorp_process *next = p->next;
        p->next = NULL;
        p->loop = NULL; /* still running; nobody will reap it now */
        if (p->detached)
            free(p);
        p = next;
    }
}

static smtorp_result process_install_sigchld(smtorp_loop *loop) {
    if (loop->signal_child != NULL)
        return SMTORP_OK;
    struct event *ev =
        evsignal_new(loop->base, SIGCHLD, process_sigchld_cb, loop);
    if (ev == NULL)
        return SMTORP_ERR_NO_MEMORY;
    if (evsignal_add(ev, NULL) != 0) {
        event_free(ev);
        return SMTORP_ERR_EVENT;
    }
    loop->signal_child = ev;
    return SMTORP_OK;
}

/* ------------------------------------------------------------------ */
/* Spawning                                                           */
/* ------------------------------------------------------------------ */

/* The child, from fork to exec. Async-signal-safe calls only; never
 * returns. */
static __attribute__((noreturn)) void child_exec(
    const char *path, const char *const *argv, int null_fd, int log_fd,
    int error_fd, pid_t parent, long max_fd) {
    int saved;

    /* Dies with the thread that forked it. If the parent is already gone
     * (the race before prctl), leave at once. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(127);
    /* Its own process group: a terminal's ^C goes to us, and we stop the
     * child in our own order. */
    (void)setpgid(0, 0);

    /* Default dispositions (exec keeps ignored ones: SIGPIPE is ignored by
     * smtorp_loop_new) and an empty mask (the parent blocked everything
     * around fork). */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; s++)
        (void)sigaction(s, &sa, NULL); /* EINVAL for KILL, STOP, RT: fine */

    /* Move the inputs above the stdio range first, so that placing one can
     * never overwrite another (the parent may run with 0-2 closed, and
     * then its open() calls returned them). */
    int want_log = log_fd >= 0;
    null_fd = fcntl(null_fd, F_DUPFD_CLOEXEC, CHILD_SCRATCH_FD);
    if (want_log)
        log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, CHILD_SCRATCH_FD);
    error_fd = fcntl(error_fd, F_DUPFD_CLOEXEC, CHILD_SCRATCH_FD);
    if (null_fd < 0 || error_fd < 0 || (want_log && log_fd < 0))
        goto fail;
    if (dup2(null_fd, 0) < 0)
        goto fail;
    if (want_log && (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0))
        goto fail;
    if (dup2(error_fd, CHILD_ERROR_FD) < 0 ||
        fcntl(CHILD_ERROR_FD, F_SETFD, FD_CLOEXEC) != 0)
        goto fail;
    error_fd = CHILD_ERROR_FD;

    /* Everything else goes: the loop's epoll and signal pipe, listening and
     * client sockets, other children's pipes. */
    {
        int closed = 0;
#ifdef SYS_close_range
        closed = syscall(SYS_close_range, (unsigned)CHILD_ERROR_FD + 1,
                         ~0u, 0u) == 0;
#endif
        for (long fd = CHILD_ERROR_FD + 1; !closed && fd < max_fd; fd++)
            (void)close((int)fd);
    }

    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    execv(path, (char *const *)argv);
fail:
    saved = errno;
    if (error_fd >= 0) {
        ssize_t w;
        do {
            w = write(error_fd, &saved, sizeof saved);
        } while (w < 0 && errno == EINTR);
    }
    _exit(127);
}

SMTORP_API smtorp_result smtorp_process_spawn(smtorp_loop *loop,
                                              const char *path,
                                              const char *const *argv,
                                              const char *log_path,
                                              smtorp_process_exit_cb cb,
                                              void *arg,
                                              smtorp_process **out) {
    if (out == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || path == NULL || path[0] == '\0' ||
        argv == NULL || argv[0] == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;

    smtorp_result r = process_install_sigchld(loop);
    if (r != SMTORP_OK)
        return r;

    int null_fd = -1, log_fd = -1, pipe_fds[2] = {-1, -1};
    int saved_errno = 0;
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) {
        r = SMTORP_ERR_IO;
        goto fail;
    }
    if (log_path != NULL) {
        log_fd = open(log_path,
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY,
                      0600);
        if (log_fd < 0) {
            r = SMTORP_ERR_IO;
            goto fail;
        }
    }
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        r = SMTORP_ERR_IO;
        goto fail;
    }
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536)
        max_fd = 65536; /* the fallback loop only: close_range needs none */
    pid_t parent = getpid();

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(path, argv, null_fd, log_fd, pipe_fds[1], parent, max_fd);
    saved_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        errno = saved_errno;
        r = SMTORP_ERR_SPAWN;
        goto fail;
    }

    /* The write end closes on exec: EOF means exec succeeded; an int is
     * exec's (or the child set-up's) errno. */
    close(pipe_fds[1]);
    pipe_fds[1] = -1;
    int child_errno = 0;
    size_t got = 0;
    while (got < sizeof child_errno) {
        ssize_t n = read(pipe_fds[0], (char *)&child_errno + got,
                         sizeof child_errno - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got > 0) {
        /* The child is on its way to _exit(127): reap it here, so that
         * nothing is left behind. */
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        saved_errno = got == sizeof child_errno ? child_errno : EIO;
        r = SMTORP_ERR_SPAWN;
        goto fail;
    }
    close(pipe_fds[0]);
    close(null_fd);
    if (log_fd >= 0)
        close(log_fd);

    /* Allocated only now: the child never sees this memory (a child whose
     * exec fails exits with nothing of ours on its heap). */
    smtorp_process *process = calloc(1, sizeof *process);
    if (process == NULL) {
        (void)kill(pid, SIGKILL);
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        errno = ENOMEM;
        return SMTORP_ERR_NO_MEMORY;
    }
    process->loop = loop;
    process->pid = pid;
    process->running = 1;
    process->cb = cb;
    process->arg = arg;
    process->next = loop->processes;
    loop->processes = process;
    *out = process;
    return SMTORP_OK;

fail:
    if (saved_errno == 0)
        saved_errno = errno;
    if (null_fd >= 0)
        close(null_fd);
    if (log_fd >= 0)
        close(log_fd);
    if (pipe_fds[0] >= 0)
        close(pipe_fds[0]);
    if (pipe_fds[1] >= 0)
        close(pipe_fds[1]);
    errno = saved_errno;
    return r;
}

/* ------------------------------------------------------------------ */
/* Queries and control                                                */
/* ------------------------------------------------------------------ */

SMTORP_API int32_t smtorp_process_pid(const smtorp_process *process) {
    return process == NULL ? 0 : (int32_t)process->pid;
}

SMTORP_API int smtorp_process_is_running(const smtorp_process *process) {
    return process != NULL && process->running;
}

SMTORP_API int smtorp_process_exit_status(const smtorp_process *process) {
    return process == NULL || process->running ? 0 : process->wait_status;
}

SMTORP_API smtorp_result smtorp_process_signal(smtorp_process *process,
                                              int signal_number) {
    /* Only an unreaped child: until waitpid collects it its pid cannot be
     * reused, so the signal cannot hit a stranger. */
    if (process == NULL || !process->running || signal_number < 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    if (kill(process->pid, signal_number) != 0)
        return SMTORP_ERR_INVALID_ARGUMENT;
    return SMTORP_OK;
}

SMTORP_API void smtorp_process_free(smtorp_process *process) {
    if (process == NULL)
        return;
    if (process->running && process->loop != NULL) {
        /* Stays on the loop's list: reaped (and freed) when it exits. */
        process->detached = 1;
        process->cb = NULL;
        process->arg = NULL;
        return;
    }
    process_unlink(process);
    free(process);
}

SMTORP_API int smtorp_process_wait(smtorp_process *process,
                                   uint64_t milliseconds) {
    if (process == NULL)
        return 0;
    if (!process->running)
        return 1;
    uint64_t deadline = smtorp_clock_monotonic_ms() + milliseconds;
    int pidfd = -1;
#ifdef SYS_pidfd_open
    /* A pidfd becomes readable when the child exits: no polling. */
    pidfd = (int)syscall(SYS_pidfd_open, process->pid, 0);
#endif
    for (;;) {
        if (process_try_reap(process))
            break;
        uint64_t now = smtorp_clock_monotonic_ms();
        if (now >= deadline)
            break;
        uint64_t left = deadline - now;
        if (pidfd >= 0) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN, .revents = 0};
            (void)poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        } else {
            uint64_t step = left < WAIT_POLL_MS ? left : WAIT_POLL_MS;
            struct timespec ts = {.tv_sec = 0,
                                  .tv_nsec = (long)step * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return !process->running;
}
