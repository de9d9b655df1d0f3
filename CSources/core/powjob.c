/*
 * powjob.c: proof-of-work solve jobs. Heavy work runs on C threads, never
 * on the event loop: a job runs one search (the Equihash stamp, the
 * Argon2id puzzle or a hashcash mint) on its own pthread and reports back
 * on the loop thread. smtorp_pow_solve() is the same work on the caller's
 * thread.
 *
 * Untrusted input: none. Challenges, efforts and hashcash fields come from
 * the owner (who may have taken them from a peer, but they are only hashed
 * here, after the same argument checks as pow.c's).
 * Specs: the eqh96-5 stamp in smtorp_core.h; POSIX threads, pipe2(2),
 * pthread_sigmask; libevent 2.1 (loop thread only).
 *
 * Threads and memory. The only ways between the worker and the loop:
 *  - the wake pipe: the worker writes one byte, the loop's event on the
 *    read end drains it (the worker never touches libevent);
 *  - `attempts`, `signalled` and `cancel`, read and written with __atomic
 *    builtins on both sides;
 *  - `done`: the worker writes `result` and the solution, then stores
 *    done = 1 (release). The loop reads them only once it has loaded
 *    done == 1 (acquire) AND joined the thread: the join alone orders
 *    them; `done` tells the loop that the join will not wait for work.
 * Everything else in the job is the loop thread's alone, apart from the
 * copied params, written before pthread_create and read-only afterwards.
 *
 * Wake-ups are coalesced: a progress byte is written only when none is
 * pending (`signalled`, cleared by the loop before it drains the pipe)
 * and at least SMTORP_POW_JOB_PROGRESS_MS after the previous one. The end
 * always writes its byte, so the loop is woken after `done` is set even if
 * a progress byte was being drained at that moment.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define EQH_N SMTORP_EQUIHASH_DEFAULT_N
#define EQH_K SMTORP_EQUIHASH_DEFAULT_K
#define EQH_SEED_LEN (SMTORP_POW_EQUIHASH_CHALLENGE_LEN + 4) /* C || BE32(a) */
#define EQH_RAW_SOLUTION_LEN 72u  /* smtorp_equihash_solution_length(96, 5) */
#define EQH_SOLUTIONS_PER_SOLVE 8u
#define EQH_ATTEMPTS_MAX ((uint64_t)1 << 32) /* every 32-bit a, once       */
#define HASHCASH_DATE_MAX 12u                /* "YYMMDDhhmmss"              */

_Static_assert(SMTORP_POW_EQUIHASH_SOLUTION_LEN == 4 + EQH_RAW_SOLUTION_LEN,
               "stamp = BE32(a) || Equihash solution");
_Static_assert(SMTORP_POW_SOLUTION_MAX == SMTORP_HASHCASH_STAMP_MAX,
               "the longest solution is a hashcash stamp");
_Static_assert(SMTORP_EQUIHASH_THREADS_MAX == SMTORP_ARGON2_POW_THREADS_MAX,
               "one thread limit for both searches");

struct smtorp_pow_job {
    /* Owner's params; the pointers lead into the copies below. Written
     * before the thread starts, read-only afterwards. */
    smtorp_pow_job_params params;
    uint8_t challenge[SMTORP_ARGON2_POW_CHALLENGE_MAX];
    char resource[SMTORP_HASHCASH_STAMP_MAX + 1];
    char date[HASHCASH_DATE_MAX + 1];

    smtorp_pow_job_cb cb;
    void *arg;
    smtorp_wake wake;         /* worker -> loop (wake.c)                  */
    pthread_t thread;
    int thread_running;       /* loop thread: started and not joined yet  */
    int finished;             /* loop thread: the finished call was made  */
    int cancel_requested;     /* loop thread: smtorp_pow_job_cancel()     */
    uint64_t start_ms, end_ms;/* loop thread (end_ms once finished)       */
    uint64_t last_post_ms;    /* worker thread: last progress wake-up     */

    int cancel;               /* atomic: the searches' cancel flag        */
    int signalled;            /* atomic: a progress byte is pending       */
    uint64_t attempts;        /* atomic: completed work units             */
    int done;                 /* atomic (release/acquire): results below  */

    /* Written by the worker before `done`; read by the loop after `done`
     * and the join. */
    smtorp_work_result result;
    size_t solution_len;
    uint8_t solution[SMTORP_POW_SOLUTION_MAX];
};

/* ------------------------------------------------------------------ */
/* Argument checks (shared by the job and the synchronous solve)      */
/* ------------------------------------------------------------------ */

static int threads_ok(unsigned threads) {
    return threads >= 1 && threads <= SMTORP_EQUIHASH_THREADS_MAX;
}

/* The hashcash fields are checked by the mint itself, so that the rules
 * live in one place (pow.c): a dry run with the cancel flag already set
 * returns right after the mint's argument checks (the flag is read before
 * the first hash), SMTORP_WORK_CANCELLED meaning "all valid". */
static smtorp_work_result hashcash_args(const smtorp_pow_job_params *p) {
    if (p->resource == NULL) return SMTORP_WORK_INVALID_ARGUMENT;
    if (p->bits < 1 || p->bits > SMTORP_HASHCASH_BITS_MAX)
        return SMTORP_WORK_BAD_PARAMETERS;
    if (strnlen(p->resource, SMTORP_HASHCASH_STAMP_MAX + 1) >
            SMTORP_HASHCASH_STAMP_MAX ||
        (p->date != NULL &&
         strnlen(p->date, HASHCASH_DATE_MAX + 1) > HASHCASH_DATE_MAX))
        return SMTORP_WORK_MALFORMED;
    char scratch[SMTORP_HASHCASH_STAMP_MAX + 1];
    const int already_cancelled = 1;
    smtorp_work_result r =
        smtorp_hashcash_mint(p->bits, p->resource, p->date, NULL, scratch,
                             sizeof scratch, &already_cancelled);
    switch (r) {
    case SMTORP_WORK_CANCELLED:
        return SMTORP_WORK_OK;
    case SMTORP_WORK_BUFFER_TOO_SMALL:
        /* Our buffer holds the longest stamp: the resource is too long. */
        return SMTORP_WORK_MALFORMED;
    case SMTORP_WORK_OK: /* cannot be: the flag is read before any hash */
        return SMTORP_WORK_INVALID_ARGUMENT;
    case SMTORP_WORK_NO_MEMORY:
    case SMTORP_WORK_INVALID_ARGUMENT:
    case SMTORP_WORK_THREAD:
    case SMTORP_WORK_INSUFFICIENT_EFFORT:
    case SMTORP_WORK_BAD_PARAMETERS:
    case SMTORP_WORK_EXHAUSTED:
    case SMTORP_WORK_MALFORMED:
    case SMTORP_WORK_CRYPTO:
        return r;
    }
    return SMTORP_WORK_INVALID_ARGUMENT;
}

/* Everything the kind uses; SMTORP_WORK_OK when a solve can start. */
static smtorp_work_result params_check(const smtorp_pow_job_params *p) {
    if (p == NULL) return SMTORP_WORK_INVALID_ARGUMENT;
    switch (p->kind) {
    case SMTORP_POW_JOB_EQUIHASH:
        if (p->challenge == NULL ||
            p->challenge_len != SMTORP_POW_EQUIHASH_CHALLENGE_LEN ||
            !threads_ok(p->threads))
            return SMTORP_WORK_INVALID_ARGUMENT;
        return SMTORP_WORK_OK;
    case SMTORP_POW_JOB_ARGON2ID:
        if (p->challenge == NULL || p->challenge_len < 1 ||
            p->challenge_len > SMTORP_ARGON2_POW_CHALLENGE_MAX ||
            !threads_ok(p->threads))
            return SMTORP_WORK_INVALID_ARGUMENT;
        return SMTORP_WORK_OK;
    case SMTORP_POW_JOB_HASHCASH:
        return hashcash_args(p);
    }
    return SMTORP_WORK_INVALID_ARGUMENT; /* not a kind */
}

/* The solution length a kind always has; 0 when it varies (HASHCASH). */
static size_t fixed_solution_len(smtorp_pow_job_kind kind) {
    switch (kind) {
    case SMTORP_POW_JOB_EQUIHASH:
        return SMTORP_POW_EQUIHASH_SOLUTION_LEN;
    case SMTORP_POW_JOB_ARGON2ID:
        return SMTORP_POW_ARGON2ID_SOLUTION_LEN;
    case SMTORP_POW_JOB_HASHCASH:
        return 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The searches (worker thread, or the caller's for smtorp_pow_solve) */
/* ------------------------------------------------------------------ */

/* Where a search reports its work: the counter (atomic: the loop thread
 * reads it while the search runs) and, for a job, the job to wake. */
typedef struct work_meter {
    uint64_t *attempts;
    smtorp_pow_job *job; /* NULL for smtorp_pow_solve */
} work_meter;

static void job_post_progress(smtorp_pow_job *job);

static void meter_set(work_meter *m, uint64_t attempts) {
    __atomic_store_n(m->attempts, attempts, __ATOMIC_RELAXED);
    if (m->job != NULL) job_post_progress(m->job);
}

static int is_cancelled(const int *flag) {
    return flag != NULL && __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

static void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The Equihash solver's outcomes in this section's enum (the numbers of
 * shared meanings are equal; the rest cannot come from a solve whose
 * arguments this file built, and would be a bug here). */
static smtorp_work_result work_result_of(smtorp_pow_result r) {
    switch (r) {
    case SMTORP_POW_OK:
        return SMTORP_WORK_OK;
    case SMTORP_POW_NO_MEMORY:
        return SMTORP_WORK_NO_MEMORY;
    case SMTORP_POW_CANCELLED:
        return SMTORP_WORK_CANCELLED;
    case SMTORP_POW_THREAD:
        return SMTORP_WORK_THREAD;
    case SMTORP_POW_BAD_PARAMETERS:
        return SMTORP_WORK_BAD_PARAMETERS;
    case SMTORP_POW_NO_SOLUTION:
        return SMTORP_WORK_EXHAUSTED;
    case SMTORP_POW_INVALID_ARGUMENT:
    case SMTORP_POW_BAD_SEED:
    case SMTORP_POW_BAD_LENGTH:
    case SMTORP_POW_INDEX_OUT_OF_RANGE:
    case SMTORP_POW_DUPLICATE_INDEX:
    case SMTORP_POW_NONZERO_XOR:
    case SMTORP_POW_WRONG_ORDER:
        return SMTORP_WORK_INVALID_ARGUMENT;
    }
    return SMTORP_WORK_INVALID_ARGUMENT;
}

/* The eqh96-5 stamp (see smtorp_core.h): one solver, reused for every
 * attempt a, a + 1, ... until a candidate BE32(a) || S passes `effort`. */
static smtorp_work_result solve_equihash(
    const smtorp_pow_job_params *p, const int *cancel_flag, work_meter *meter,
    uint8_t out[SMTORP_POW_EQUIHASH_SOLUTION_LEN]) {
    smtorp_equihash_solver *solver = NULL;
    smtorp_pow_result pr =
        smtorp_equihash_solver_new(EQH_N, EQH_K, p->threads, &solver);
    if (pr != SMTORP_POW_OK) return work_result_of(pr);

    uint8_t seed[EQH_SEED_LEN];
    uint8_t solutions[EQH_SOLUTIONS_PER_SOLVE * EQH_RAW_SOLUTION_LEN];
    uint8_t candidate[SMTORP_POW_EQUIHASH_SOLUTION_LEN];
    uint8_t start[4];
    uint32_t a = 0;
    smtorp_work_result result = SMTORP_WORK_EXHAUSTED;
    if (smtorp_random_bytes(start, sizeof start) != SMTORP_OK) {
        result = SMTORP_WORK_CRYPTO;
        goto done;
    }
    memcpy(seed, p->challenge, SMTORP_POW_EQUIHASH_CHALLENGE_LEN);
    a = (uint32_t)start[0] << 24 | (uint32_t)start[1] << 16 |
        (uint32_t)start[2] << 8 | (uint32_t)start[3];

    for (uint64_t attempts = 0; attempts < EQH_ATTEMPTS_MAX; a++) {
        if (is_cancelled(cancel_flag)) {
            result = SMTORP_WORK_CANCELLED;
            goto done;
        }
        store_be32(seed + SMTORP_POW_EQUIHASH_CHALLENGE_LEN, a);
        size_t found = 0;
        pr = smtorp_equihash_solve(solver, seed, sizeof seed, solutions,
                                   EQH_SOLUTIONS_PER_SOLVE,
                                   EQH_RAW_SOLUTION_LEN, &found, NULL,
                                   cancel_flag, NULL);
        /* NO_SOLUTION: no nonce of this seed had one (never seen in
         * practice); like a solve whose candidates all fail, the next a
         * is the next attempt. */
        if (pr != SMTORP_POW_OK && pr != SMTORP_POW_NO_SOLUTION) {
            result = work_result_of(pr);
            goto done;
        }
        meter_set(meter, ++attempts);
        for (size_t i = 0; i < found; i++) {
            store_be32(candidate, a);
            memcpy(candidate + 4, solutions + i * EQH_RAW_SOLUTION_LEN,
                   EQH_RAW_SOLUTION_LEN);
            smtorp_work_result r = smtorp_pow_effort_check(
                candidate, sizeof candidate, p->challenge, p->challenge_len,
                p->effort);
            if (r == SMTORP_WORK_OK) {
                memcpy(out, candidate, sizeof candidate);
                result = SMTORP_WORK_OK;
                goto done;
            }
            if (r != SMTORP_WORK_INSUFFICIENT_EFFORT) {
                result = r;
                goto done;
            }
        }
    }
done:
    smtorp_equihash_solver_free(solver);
    return result;
}

static void argon2_progress(uint64_t tried, void *arg) {
    meter_set(arg, tried);
}

static smtorp_work_result solve_argon2id(
    const smtorp_pow_job_params *p, const int *cancel_flag, work_meter *meter,
    uint8_t out[SMTORP_POW_ARGON2ID_SOLUTION_LEN]) {
    uint8_t start[8];
    if (smtorp_random_bytes(start, sizeof start) != SMTORP_OK)
        return SMTORP_WORK_CRYPTO;
    uint64_t start_nonce = 0;
    for (int i = 0; i < 8; i++) start_nonce |= (uint64_t)start[i] << (8 * i);
    uint64_t nonce = 0;
    smtorp_work_result r = smtorp_argon2_pow_solve(
        p->challenge, p->challenge_len, p->effort,
        SMTORP_ARGON2_POW_DEFAULT_OPSLIMIT, SMTORP_ARGON2_POW_DEFAULT_MEMLIMIT,
        p->threads, start_nonce, &nonce, argon2_progress, cancel_flag, meter);
    if (r != SMTORP_WORK_OK) return r;
    /* The search reports its count only after the calling thread's own
     * evaluations, so the helpers' last ones can be missing (with several
     * threads a helper may even find the answer alone). Every nonce from
     * the start to the answer was evaluated, though: at least that many
     * (none at all for effort 0 and 1). Only this thread writes the meter. */
    uint64_t evaluated = nonce - start_nonce + 1;
    if (p->effort > 1 &&
        evaluated > __atomic_load_n(meter->attempts, __ATOMIC_RELAXED))
        __atomic_store_n(meter->attempts, evaluated, __ATOMIC_RELAXED);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(nonce >> (8 * i));
    return SMTORP_WORK_OK;
}

static smtorp_work_result solve_hashcash(const smtorp_pow_job_params *p,
                                         const int *cancel_flag,
                                         uint8_t *out, size_t cap,
                                         size_t *out_len) {
    char stamp[SMTORP_HASHCASH_STAMP_MAX + 1];
    smtorp_work_result r = smtorp_hashcash_mint(
        p->bits, p->resource, p->date, NULL, stamp, sizeof stamp, cancel_flag);
    if (r != SMTORP_WORK_OK) return r;
    size_t len = strlen(stamp);
    if (len > cap) return SMTORP_WORK_BUFFER_TOO_SMALL;
    memcpy(out, stamp, len);
    *out_len = len;
    return SMTORP_WORK_OK;
}

/* Runs the search of a checked `p`; the solution goes to out[0 .. cap)
 * and its length to *out_len, both only on success. */
static smtorp_work_result solve(const smtorp_pow_job_params *p,
                                const int *cancel_flag, work_meter *meter,
                                uint8_t *out, size_t cap, size_t *out_len) {
    *out_len = 0;
    const size_t fixed = fixed_solution_len(p->kind);
    if (fixed > cap) return SMTORP_WORK_BUFFER_TOO_SMALL;
    smtorp_work_result r = SMTORP_WORK_INVALID_ARGUMENT;
    switch (p->kind) {
    case SMTORP_POW_JOB_EQUIHASH:
        r = solve_equihash(p, cancel_flag, meter, out);
        break;
    case SMTORP_POW_JOB_ARGON2ID:
        r = solve_argon2id(p, cancel_flag, meter, out);
        break;
    case SMTORP_POW_JOB_HASHCASH:
        return solve_hashcash(p, cancel_flag, out, cap, out_len);
    }
    if (r == SMTORP_WORK_OK) *out_len = fixed;
    return r;
}

SMTORP_API smtorp_work_result smtorp_pow_solve(
    const smtorp_pow_job_params *params, uint8_t *solution_out, size_t cap,
    size_t *solution_len, const int *cancel_flag) {
    if (solution_len != NULL) *solution_len = 0;
    if (solution_out != NULL && cap > 0) memset(solution_out, 0, cap);
    if (solution_out == NULL || solution_len == NULL)
        return SMTORP_WORK_INVALID_ARGUMENT;
    smtorp_work_result r = params_check(params);
    if (r != SMTORP_WORK_OK) return r;
    uint64_t attempts = 0;
    work_meter meter = {.attempts = &attempts, .job = NULL};
    r = solve(params, cancel_flag, &meter, solution_out, cap, solution_len);
    if (r != SMTORP_WORK_OK) memset(solution_out, 0, cap);
    return r;
}

/* ------------------------------------------------------------------ */
/* Worker thread                                                      */
/* ------------------------------------------------------------------ */

/* Called by the search after each work unit. */
static void job_post_progress(smtorp_pow_job *job) {
    uint64_t now = smtorp_clock_monotonic_ms();
    if (now - job->last_post_ms < SMTORP_POW_JOB_PROGRESS_MS) return;
    job->last_post_ms = now;
    if (__atomic_exchange_n(&job->signalled, 1, __ATOMIC_SEQ_CST) == 0)
        smtorp_wake_post(&job->wake);
}

static void *job_main(void *arg) {
    smtorp_pow_job *job = arg;
    work_meter meter = {.attempts = &job->attempts, .job = job};
    size_t len = 0;
    smtorp_work_result r = solve(&job->params, &job->cancel, &meter,
                                 job->solution, sizeof job->solution, &len);
    job->result = r;
    job->solution_len = r == SMTORP_WORK_OK ? len : 0;
    __atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
    /* Unconditionally: see the header comment on coalescing. */
    __atomic_store_n(&job->signalled, 1, __ATOMIC_SEQ_CST);
    smtorp_wake_post(&job->wake);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Loop side                                                          */
/* ------------------------------------------------------------------ */

static void job_join(smtorp_pow_job *job) {
    if (!job->thread_running) return;
    pthread_join(job->thread, NULL);
    job->thread_running = 0;
}

static void job_wake(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    smtorp_pow_job *job = arg;
    /* Cleared before draining: a byte the worker writes from now on wakes
     * us again rather than being lost in this drain. */
    __atomic_store_n(&job->signalled, 0, __ATOMIC_SEQ_CST);
    smtorp_wake_drain(&job->wake);
    if (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) {
        /* The callback may free the job: touch nothing after it. */
        job->cb(job, 0, job->arg);
        return;
    }
    /* The worker has stored its results and at most writes its last byte
     * now: the join is immediate. */
    job_join(job);
    (void)event_del(job->wake.event);
    job->finished = 1;
    job->end_ms = smtorp_clock_monotonic_ms();
    if (job->cancel_requested && job->result != SMTORP_WORK_CANCELLED) {
        job->result = SMTORP_WORK_CANCELLED;
        job->solution_len = 0;
        memset(job->solution, 0, sizeof job->solution);
    }
    job->cb(job, 1, job->arg); /* may free the job: last statement */
}

static smtorp_result result_of_check(smtorp_work_result r) {
    switch (r) {
    case SMTORP_WORK_OK:
        return SMTORP_OK;
    case SMTORP_WORK_NO_MEMORY:
        return SMTORP_ERR_NO_MEMORY;
    case SMTORP_WORK_CRYPTO:
        return SMTORP_ERR_CRYPTO;
    case SMTORP_WORK_CANCELLED:
    case SMTORP_WORK_INVALID_ARGUMENT:
    case SMTORP_WORK_THREAD:
    case SMTORP_WORK_INSUFFICIENT_EFFORT:
    case SMTORP_WORK_BAD_PARAMETERS:
    case SMTORP_WORK_EXHAUSTED:
    case SMTORP_WORK_BUFFER_TOO_SMALL:
    case SMTORP_WORK_MALFORMED:
        return SMTORP_ERR_INVALID_ARGUMENT;
    }
    return SMTORP_ERR_INVALID_ARGUMENT;
}

/* The owner's params into job-owned copies (params already checked). */
static void job_copy_params(smtorp_pow_job *job,
                            const smtorp_pow_job_params *p) {
    job->params = *p;
    job->params.challenge = NULL;
    job->params.challenge_len = 0;
    job->params.resource = NULL;
    job->params.date = NULL;
    switch (p->kind) {
    case SMTORP_POW_JOB_EQUIHASH:
    case SMTORP_POW_JOB_ARGON2ID:
        memcpy(job->challenge, p->challenge, p->challenge_len);
        job->params.challenge = job->challenge;
        job->params.challenge_len = p->challenge_len;
        break;
    case SMTORP_POW_JOB_HASHCASH:
        /* Lengths bounded by params_check. */
        memcpy(job->resource, p->resource, strlen(p->resource) + 1);
        job->params.resource = job->resource;
        if (p->date != NULL) {
            memcpy(job->date, p->date, strlen(p->date) + 1);
            job->params.date = job->date;
        }
        break;
    }
}

/* Frees what _start set up, before or after the thread ran. */
static void job_release(smtorp_pow_job *job) {
    smtorp_wake_release(&job->wake);
    free(job);
}

SMTORP_API smtorp_result smtorp_pow_job_start(
    smtorp_loop *loop, const smtorp_pow_job_params *params,
    smtorp_pow_job_cb cb, void *arg, smtorp_pow_job **out) {
    if (out == NULL) return SMTORP_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (loop == NULL || loop->base == NULL || cb == NULL)
        return SMTORP_ERR_INVALID_ARGUMENT;
    smtorp_result r = result_of_check(params_check(params));
    if (r != SMTORP_OK) return r;

    smtorp_pow_job *job = calloc(1, sizeof *job);
    if (job == NULL) return SMTORP_ERR_NO_MEMORY;
    job->wake.fds[0] = job->wake.fds[1] = -1;
    job_copy_params(job, params);
    job->cb = cb;
    job->arg = arg;
    job->result = SMTORP_WORK_INVALID_ARGUMENT; /* until the end */

    r = smtorp_wake_init(&job->wake, loop, job_wake, job);
    if (r != SMTORP_OK) {
        int saved = errno;
        job_release(job);
        errno = saved;
        return r;
    }

    job->start_ms = smtorp_clock_monotonic_ms();
    job->last_post_ms = job->start_ms;
    int rc = smtorp_thread_start(&job->thread, job_main, job);
    if (rc != 0) {
        job_release(job);
        errno = rc;
        return SMTORP_ERR_SPAWN;
    }
    job->thread_running = 1;
    *out = job;
    return SMTORP_OK;
}

SMTORP_API smtorp_work_result smtorp_pow_job_result(
    const smtorp_pow_job *job) {
    if (job == NULL || !job->finished) return SMTORP_WORK_INVALID_ARGUMENT;
    return job->result;
}

SMTORP_API size_t smtorp_pow_job_solution(const smtorp_pow_job *job,
                                          uint8_t *out, size_t cap) {
    if (out != NULL && cap > 0) memset(out, 0, cap);
    if (job == NULL || out == NULL || !job->finished ||
        job->result != SMTORP_WORK_OK || job->solution_len > cap)
        return 0;
    memcpy(out, job->solution, job->solution_len);
    return job->solution_len;
}

SMTORP_API uint64_t smtorp_pow_job_attempts(const smtorp_pow_job *job) {
    if (job == NULL) return 0;
    return __atomic_load_n(&job->attempts, __ATOMIC_RELAXED);
}

SMTORP_API uint64_t smtorp_pow_job_elapsed_ms(const smtorp_pow_job *job) {
    if (job == NULL) return 0;
    uint64_t end = job->finished ? job->end_ms : smtorp_clock_monotonic_ms();
    return end - job->start_ms;
}

SMTORP_API void smtorp_pow_job_cancel(smtorp_pow_job *job) {
    if (job == NULL || job->finished) return;
    job->cancel_requested = 1;
    smtorp_pow_cancel(&job->cancel);
}

SMTORP_API void smtorp_pow_job_free(smtorp_pow_job *job) {
    if (job == NULL) return;
    if (job->thread_running) {
        smtorp_pow_cancel(&job->cancel);
        job_join(job);
    }
    /* event_free also removes the pending event: no callback after this. */
    job_release(job);
}
