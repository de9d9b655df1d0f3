/*
 * powjob_test.c: tests of powjob.c (proof-of-work solve jobs): jobs of each
 * kind on a real smtorp_loop, their solutions checked with the verifiers of
 * equihash.c and pow.c (and refused once corrupted), progress and finished
 * callbacks on the loop thread only, finished exactly once, cancel and free
 * of running jobs (no callback afterwards, no thread or descriptor left),
 * worker threads that block SIGTERM and SIGINT, argument errors refused
 * without a thread, and smtorp_pow_solve() for each kind.
 *
 * Untrusted input: none (every proof is made or corrupted here).
 * Specs: prints "ok - name" / "not ok - name: why" per check, "# ..."
 * timing notes, and a final "N passed, M failed" line; exits non-zero when
 * M > 0. Never sleeps: every wait is the loop running against a deadline
 * timer. SMTORP_TEST_LIGHT=1 (valgrind runs) uses cheaper efforts and
 * longer deadlines.
 *
 * Build and run with scripts/test-pow.sh.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtorp_core.h"
#include "check.h"

/* ------------------------------------------------------------------ */
/* Reporting                                                          */
/* ------------------------------------------------------------------ */

static int light;



/* ------------------------------------------------------------------ */
/* Process state read from /proc: threads, descriptors, signal masks  */
/* ------------------------------------------------------------------ */

/* The value of `key` ("Threads:", "SigBlk:") in a /proc status file, in
 * `base`; -1 when missing. */
static long long proc_status_value(const char *path, const char *key,
                                   int base) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    char line[256];
    long long value = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0) {
            value = strtoll(line + klen, NULL, base);
            break;
        }
    }
    fclose(f);
    return value;
}

static long thread_count(void) {
    return (long)proc_status_value("/proc/self/status", "Threads:", 10);
}

/* The thread count once it is `want`, or after `ms` whatever it is then.
 * A joined thread can still be counted for a moment: pthread_join returns
 * when the kernel clears the thread's tid, slightly before the task leaves
 * the thread group. This polls for that event with a deadline. */
static long threads_settled(long want, uint64_t ms) {
    const uint64_t until = smtorp_clock_monotonic_ms() + ms;
    long n = thread_count();
    while (n != want && smtorp_clock_monotonic_ms() < until) {
        sched_yield();
        n = thread_count();
    }
    return n;
}

static long fd_count(void) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) return -1;
    long n = 0;
    while (readdir(d) != NULL) n++;
    closedir(d);
    return n;
}

/* 1 when every thread other than the calling (main) one blocks SIGTERM
 * and SIGINT; *others = how many there were. */
static int other_threads_block_shutdown_signals(int *others) {
    *others = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return 0;
    int all_block = 1;
    const long self = (long)getpid(); /* the main thread's tid */
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long tid = atol(e->d_name);
        if (tid <= 0 || tid == self) continue; /* ".", "..", the loop's */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
        long long mask = proc_status_value(path, "SigBlk:", 16);
        if (mask < 0) continue; /* the thread ended meanwhile */
        (*others)++;
        unsigned long long m = (unsigned long long)mask;
        if (!(m & (1ull << (SIGTERM - 1))) || !(m & (1ull << (SIGINT - 1))))
            all_block = 0;
    }
    closedir(d);
    return all_block;
}

/* ------------------------------------------------------------------ */
/* Loop driving                                                       */
/* ------------------------------------------------------------------ */

static smtorp_loop *L;
static smtorp_timer *deadline;
static pthread_t loop_thread;
static int timed_out;
static int pending; /* jobs whose finished call has not come yet */

static uint64_t wait_ms(void) { return light ? 600000 : 60000; }

static void deadline_cb(void *arg) {
    (void)arg;
    timed_out = 1;
    smtorp_loop_stop(L);
}

/* Runs the loop until a callback stops it; 0 when the deadline came first. */
static int run_loop(uint64_t ms) {
    timed_out = 0;
    smtorp_timer_start(deadline, ms);
    int rc = smtorp_loop_run(L);
    smtorp_timer_stop(deadline);
    return rc == 0 && !timed_out;
}

/* Runs the loop for `ms` (to see that nothing more arrives). */
static void idle_loop(uint64_t ms) { (void)run_loop(ms); }

/* What a job's callbacks saw. */
typedef struct watch {
    int progress, finished, off_thread, after_end;
    uint64_t last_progress_ms, min_gap_ms;
    uint64_t attempts_seen;
    int attempts_went_back;
    int cancel_at_progress; /* cancel in this progress call (0: never)  */
    int stop_at_progress;   /* stop the loop in this one (0: never)     */
    int check_sigmask;      /* look at the threads' masks in progress 1 */
    int sigmask_ok, sigmask_threads;
    int free_on_finish;
    uint64_t cancel_ms, finish_ms;
    smtorp_work_result result;
    uint8_t solution[SMTORP_POW_SOLUTION_MAX];
    size_t solution_len;
    uint64_t attempts, elapsed;
} watch;

static void watch_init(watch *w) {
    memset(w, 0, sizeof *w);
    w->min_gap_ms = UINT64_MAX;
    w->result = SMTORP_WORK_INVALID_ARGUMENT;
}

static void on_job(smtorp_pow_job *job, int finished, void *arg) {
    watch *w = arg;
    if (!pthread_equal(pthread_self(), loop_thread)) w->off_thread++;
    if (w->finished) {
        w->after_end++;
        return;
    }
    uint64_t now = smtorp_clock_monotonic_ms();
    uint64_t attempts = smtorp_pow_job_attempts(job);
    if (attempts < w->attempts_seen) w->attempts_went_back = 1;
    w->attempts_seen = attempts;
    if (!finished) {
        if (w->progress > 0 && now - w->last_progress_ms < w->min_gap_ms)
            w->min_gap_ms = now - w->last_progress_ms;
        w->last_progress_ms = now;
        w->progress++;
        if (w->check_sigmask && w->progress == 1)
            w->sigmask_ok =
                other_threads_block_shutdown_signals(&w->sigmask_threads);
        if (w->cancel_at_progress == w->progress) {
            w->cancel_ms = now;
            smtorp_pow_job_cancel(job);
        }
        if (w->stop_at_progress == w->progress) smtorp_loop_stop(L);
        return;
    }
    w->finished++;
    w->finish_ms = now;
    w->result = smtorp_pow_job_result(job);
    w->solution_len =
        smtorp_pow_job_solution(job, w->solution, sizeof w->solution);
    w->attempts = attempts;
    w->elapsed = smtorp_pow_job_elapsed_ms(job);
    if (w->free_on_finish) smtorp_pow_job_free(job);
    if (--pending == 0) smtorp_loop_stop(L);
}

static smtorp_pow_job *start_job(const smtorp_pow_job_params *p, watch *w,
                                 const char *name) {
    smtorp_pow_job *job = NULL;
    smtorp_result r = smtorp_pow_job_start(L, p, on_job, w, &job);
    check(r == SMTORP_OK && job != NULL, name, "%s",
          smtorp_result_string(r));
    if (r == SMTORP_OK) pending++;
    return job;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                         */
/* ------------------------------------------------------------------ */

#define RESOURCE "alice@example.onion"

static uint8_t C[SMTORP_POW_EQUIHASH_CHALLENGE_LEN];
static uint8_t long_challenge[SMTORP_ARGON2_POW_CHALLENGE_MAX + 1];

static smtorp_pow_job_params equihash_params(uint32_t effort,
                                             unsigned threads) {
    smtorp_pow_job_params p = {.kind = SMTORP_POW_JOB_EQUIHASH,
                               .challenge = C,
                               .challenge_len = sizeof C,
                               .effort = effort,
                               .threads = threads};
    return p;
}

static smtorp_pow_job_params argon2_params(uint32_t effort,
                                           unsigned threads) {
    smtorp_pow_job_params p = {.kind = SMTORP_POW_JOB_ARGON2ID,
                               .challenge = C,
                               .challenge_len = sizeof C,
                               .effort = effort,
                               .threads = threads};
    return p;
}

static smtorp_pow_job_params hashcash_params(unsigned bits,
                                             const char *date) {
    smtorp_pow_job_params p = {.kind = SMTORP_POW_JOB_HASHCASH,
                               .bits = bits,
                               .resource = RESOURCE,
                               .date = date};
    return p;
}

/* ------------------------------------------------------------------ */
/* Checks of a solution                                               */
/* ------------------------------------------------------------------ */

/* eqh96-5: Equihash over C || a and the effort over the whole stamp. */
static smtorp_pow_result equihash_stamp_verify(const uint8_t *challenge,
                                               const uint8_t *sol) {
    uint8_t seed[SMTORP_POW_EQUIHASH_CHALLENGE_LEN + 4];
    memcpy(seed, challenge, SMTORP_POW_EQUIHASH_CHALLENGE_LEN);
    memcpy(seed + SMTORP_POW_EQUIHASH_CHALLENGE_LEN, sol, 4);
    return smtorp_equihash_verify(96, 5, seed, sizeof seed, sol + 4,
                                  SMTORP_POW_EQUIHASH_SOLUTION_LEN - 4);
}

static void check_equihash_solution(const uint8_t *sol, size_t len,
                                    uint32_t effort, const char *what) {
    char name[160];
    snprintf(name, sizeof name, "%s: 76-byte stamp", what);
    check(len == SMTORP_POW_EQUIHASH_SOLUTION_LEN, name, "len %zu", len);
    if (len != SMTORP_POW_EQUIHASH_SOLUTION_LEN) return;
    smtorp_pow_result v = equihash_stamp_verify(C, sol);
    snprintf(name, sizeof name, "%s: Equihash (96,5) verifies on C || a",
             what);
    check(v == SMTORP_POW_OK, name, "%s", smtorp_pow_result_string(v));
    snprintf(name, sizeof name, "%s: effort %u holds", what, effort);
    check_work(smtorp_pow_effort_check(sol, len, C, sizeof C, effort),
               SMTORP_WORK_OK, name);

    uint8_t other[sizeof C];
    memcpy(other, C, sizeof C);
    other[7] ^= 0x01;
    v = equihash_stamp_verify(other, sol);
    snprintf(name, sizeof name, "%s: refused for a changed challenge byte",
             what);
    check(v != SMTORP_POW_OK, name, "verified");
    uint8_t bad[SMTORP_POW_EQUIHASH_SOLUTION_LEN];
    memcpy(bad, sol, sizeof bad);
    bad[3] ^= 0x01; /* another attempt number a */
    v = equihash_stamp_verify(C, bad);
    snprintf(name, sizeof name, "%s: refused with another a", what);
    check(v != SMTORP_POW_OK, name, "verified");
    memcpy(bad, sol, sizeof bad);
    bad[40] ^= 0x10; /* an index */
    v = equihash_stamp_verify(C, bad);
    snprintf(name, sizeof name, "%s: refused with a changed index", what);
    check(v != SMTORP_POW_OK, name, "verified");
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void check_argon2_solution(const uint8_t *sol, size_t len,
                                  uint32_t effort, const char *what) {
    char name[160];
    snprintf(name, sizeof name, "%s: 8-byte nonce", what);
    check(len == SMTORP_POW_ARGON2ID_SOLUTION_LEN, name, "len %zu", len);
    if (len != SMTORP_POW_ARGON2ID_SOLUTION_LEN) return;
    snprintf(name, sizeof name, "%s: smtorp_argon2_pow_verify at effort %u",
             what, effort);
    check_work(smtorp_argon2_pow_verify(C, sizeof C, effort,
                                        SMTORP_ARGON2_POW_DEFAULT_OPSLIMIT,
                                        SMTORP_ARGON2_POW_DEFAULT_MEMLIMIT,
                                        le64(sol)),
               SMTORP_WORK_OK, name);
}

static void check_hashcash_solution(const uint8_t *sol, size_t len,
                                    unsigned bits, const char *what) {
    char stamp[SMTORP_POW_SOLUTION_MAX + 1];
    char name[160];
    snprintf(name, sizeof name, "%s: stamp without NUL", what);
    check(len > 0 && len <= SMTORP_POW_SOLUTION_MAX &&
              memchr(sol, '\0', len) == NULL,
          name, "len %zu", len);
    if (len == 0 || len > SMTORP_POW_SOLUTION_MAX) return;
    memcpy(stamp, sol, len);
    stamp[len] = '\0';
    unsigned got = 0;
    smtorp_work_result r = smtorp_hashcash_check(stamp, len, &got);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "1:%u:", bits);
    snprintf(name, sizeof name, "%s: smtorp_hashcash_check, >= %u bits",
             what, bits);
    check(r == SMTORP_WORK_OK && got >= bits &&
              strncmp(stamp, prefix, strlen(prefix)) == 0 &&
              strstr(stamp, ":" RESOURCE "::") != NULL,
          name, "%s r=%d bits=%u", stamp, (int)r, got);
}

/* ------------------------------------------------------------------ */
/* Argument errors                                                    */
/* ------------------------------------------------------------------ */

typedef struct bad_case {
    const char *name;
    smtorp_pow_job_params params;
    smtorp_work_result solve_result;
} bad_case;

static void test_bad_params(void) {
    static char long_resource[600];
    memset(long_resource, 'r', sizeof long_resource - 1);
    const bad_case cases[] = {
        {"equihash challenge of 31 bytes",
         {.kind = SMTORP_POW_JOB_EQUIHASH, .challenge = C,
          .challenge_len = 31, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"equihash challenge of 33 bytes",
         {.kind = SMTORP_POW_JOB_EQUIHASH, .challenge = long_challenge,
          .challenge_len = 33, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"equihash NULL challenge",
         {.kind = SMTORP_POW_JOB_EQUIHASH, .challenge = NULL,
          .challenge_len = 32, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"equihash threads 0",
         {.kind = SMTORP_POW_JOB_EQUIHASH, .challenge = C,
          .challenge_len = 32, .threads = 0},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"equihash threads THREADS_MAX + 1",
         {.kind = SMTORP_POW_JOB_EQUIHASH, .challenge = C,
          .challenge_len = 32, .threads = SMTORP_EQUIHASH_THREADS_MAX + 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"argon2id empty challenge",
         {.kind = SMTORP_POW_JOB_ARGON2ID, .challenge = C,
          .challenge_len = 0, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"argon2id challenge CHALLENGE_MAX + 1",
         {.kind = SMTORP_POW_JOB_ARGON2ID, .challenge = long_challenge,
          .challenge_len = sizeof long_challenge, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"argon2id threads 0",
         {.kind = SMTORP_POW_JOB_ARGON2ID, .challenge = C,
          .challenge_len = 32, .threads = 0},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"hashcash bits 0",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 0, .resource = RESOURCE},
         SMTORP_WORK_BAD_PARAMETERS},
        {"hashcash bits BITS_MAX + 1",
         {.kind = SMTORP_POW_JOB_HASHCASH,
          .bits = SMTORP_HASHCASH_BITS_MAX + 1, .resource = RESOURCE},
         SMTORP_WORK_BAD_PARAMETERS},
        {"hashcash NULL resource",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 8, .resource = NULL},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"hashcash empty resource",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 8, .resource = ""},
         SMTORP_WORK_MALFORMED},
        {"hashcash ':' in resource",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 8, .resource = "a:b"},
         SMTORP_WORK_MALFORMED},
        {"hashcash resource longer than a stamp",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 8,
          .resource = long_resource},
         SMTORP_WORK_MALFORMED},
        {"hashcash bad date",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 8, .resource = RESOURCE,
          .date = "2611"},
         SMTORP_WORK_MALFORMED},
        {"hashcash over-long date",
         {.kind = SMTORP_POW_JOB_HASHCASH, .bits = 8, .resource = RESOURCE,
          .date = "2611290000001"},
         SMTORP_WORK_MALFORMED},
        {"kind 0",
         {.kind = (smtorp_pow_job_kind)0, .challenge = C,
          .challenge_len = 32, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
        {"kind 4",
         {.kind = (smtorp_pow_job_kind)4, .challenge = C,
          .challenge_len = 32, .threads = 1},
         SMTORP_WORK_INVALID_ARGUMENT},
    };
    const long threads_before = thread_count(), fds_before = fd_count();
    watch w;
    watch_init(&w);
    char name[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smtorp_pow_job *job = (smtorp_pow_job *)&w; /* must become NULL */
        smtorp_result r =
            smtorp_pow_job_start(L, &cases[i].params, on_job, &w, &job);
        snprintf(name, sizeof name, "start refuses %s", cases[i].name);
        check(r == SMTORP_ERR_INVALID_ARGUMENT && job == NULL, name,
              "%s, job %p", smtorp_result_string(r), (void *)job);
        uint8_t sol[SMTORP_POW_SOLUTION_MAX];
        size_t len = 99;
        smtorp_work_result s = smtorp_pow_solve(&cases[i].params, sol,
                                                sizeof sol, &len, NULL);
        snprintf(name, sizeof name, "solve refuses %s", cases[i].name);
        check(s == cases[i].solve_result && len == 0, name,
              "%s (want %s), len %zu", smtorp_work_result_string(s),
              smtorp_work_result_string(cases[i].solve_result), len);
    }

    smtorp_pow_job_params good = equihash_params(1, 1);
    smtorp_pow_job *job = (smtorp_pow_job *)&w;
    check(smtorp_pow_job_start(L, NULL, on_job, &w, &job) ==
                  SMTORP_ERR_INVALID_ARGUMENT &&
              job == NULL,
          "start refuses NULL params", "");
    job = (smtorp_pow_job *)&w;
    check(smtorp_pow_job_start(L, &good, NULL, &w, &job) ==
                  SMTORP_ERR_INVALID_ARGUMENT &&
              job == NULL,
          "start refuses a NULL callback", "");
    job = (smtorp_pow_job *)&w;
    check(smtorp_pow_job_start(NULL, &good, on_job, &w, &job) ==
                  SMTORP_ERR_INVALID_ARGUMENT &&
              job == NULL,
          "start refuses a NULL loop", "");
    check(smtorp_pow_job_start(L, &good, on_job, &w, NULL) ==
              SMTORP_ERR_INVALID_ARGUMENT,
          "start refuses a NULL out", "");

    uint8_t sol[SMTORP_POW_SOLUTION_MAX];
    size_t len = 99;
    check_work(smtorp_pow_solve(NULL, sol, sizeof sol, &len, NULL),
               SMTORP_WORK_INVALID_ARGUMENT, "solve refuses NULL params");
    check_work(smtorp_pow_solve(&good, NULL, sizeof sol, &len, NULL),
               SMTORP_WORK_INVALID_ARGUMENT, "solve refuses a NULL output");
    check_work(smtorp_pow_solve(&good, sol, sizeof sol, NULL, NULL),
               SMTORP_WORK_INVALID_ARGUMENT, "solve refuses a NULL length");
    memset(sol, 0xAA, sizeof sol);
    uint64_t t0 = smtorp_clock_monotonic_ms();
    smtorp_work_result s = smtorp_pow_solve(
        &good, sol, SMTORP_POW_EQUIHASH_SOLUTION_LEN - 1, &len, NULL);
    check(s == SMTORP_WORK_BUFFER_TOO_SMALL && len == 0 && sol[0] == 0 &&
              smtorp_clock_monotonic_ms() - t0 < 1000,
          "solve: equihash into 75 bytes is refused before any work", "%s",
          smtorp_work_result_string(s));

    check(thread_count() == threads_before && fd_count() == fds_before,
          "refused arguments start no thread and keep no descriptor",
          "threads %ld -> %ld, fds %ld -> %ld", threads_before,
          thread_count(), fds_before, fd_count());
    check(w.progress == 0 && w.finished == 0,
          "refused arguments never call back", "");

    /* NULL everywhere is harmless. */
    smtorp_pow_job_cancel(NULL);
    smtorp_pow_job_free(NULL);
    check(smtorp_pow_job_result(NULL) == SMTORP_WORK_INVALID_ARGUMENT &&
              smtorp_pow_job_solution(NULL, sol, sizeof sol) == 0 &&
              smtorp_pow_job_attempts(NULL) == 0 &&
              smtorp_pow_job_elapsed_ms(NULL) == 0,
          "NULL job: getters answer nothing, cancel and free are no-ops", "");
}

/* ------------------------------------------------------------------ */
/* Jobs on the loop                                                   */
/* ------------------------------------------------------------------ */

static void test_equihash_job(void) {
    const uint32_t effort = 4;
    const unsigned threads = light ? 1 : 2;
    /* The owner's challenge buffer is overwritten right after the start:
     * the job must have copied it (the solution is checked against C). */
    uint8_t owner[sizeof C];
    memcpy(owner, C, sizeof C);
    smtorp_pow_job_params p = equihash_params(effort, threads);
    p.challenge = owner;
    watch w;
    watch_init(&w);
    smtorp_pow_job *job = start_job(&p, &w, "equihash job: started");
    memset(owner, 0xEE, sizeof owner);
    if (job == NULL) return;
    uint8_t early[SMTORP_POW_SOLUTION_MAX];
    check(smtorp_pow_job_result(job) == SMTORP_WORK_INVALID_ARGUMENT &&
              smtorp_pow_job_solution(job, early, sizeof early) == 0,
          "equihash job: no result or solution before the end", "");

    int in_time = run_loop(wait_ms());
    check(in_time && w.finished == 1,
          "equihash job: finished before the deadline",
          "finished %d, timed out %d", w.finished, timed_out);
    check_work(w.result, SMTORP_WORK_OK, "equihash job: result OK");
    check_equihash_solution(w.solution, w.solution_len, effort,
                            "equihash job");
    check(w.attempts > 0 && !w.attempts_went_back,
          "equihash job: attempts > 0, never going back", "attempts %llu",
          (unsigned long long)w.attempts);
    check(w.off_thread == 0, "equihash job: callbacks on the loop thread",
          "%d off the loop thread", w.off_thread);
    printf("# equihash job, effort %u, %u thread(s): %llu ms, %llu "
           "attempts, %d progress calls\n",
           effort, threads, (unsigned long long)w.elapsed,
           (unsigned long long)w.attempts, w.progress);

    /* Nothing more comes, and the end is frozen. */
    idle_loop(2 * SMTORP_POW_JOB_PROGRESS_MS + 50);
    check(w.finished == 1 && w.after_end == 0,
          "equihash job: finished exactly once, nothing after it",
          "finished %d, after %d", w.finished, w.after_end);
    check(smtorp_pow_job_elapsed_ms(job) == w.elapsed &&
              smtorp_pow_job_attempts(job) == w.attempts &&
              smtorp_pow_job_result(job) == SMTORP_WORK_OK,
          "equihash job: elapsed, attempts and result frozen after the end",
          "");
    uint8_t small[SMTORP_POW_EQUIHASH_SOLUTION_LEN - 1];
    check(smtorp_pow_job_solution(job, small, sizeof small) == 0,
          "equihash job: a too-small buffer gets no solution", "");
    smtorp_pow_job_cancel(job); /* after the end: a no-op */
    check(smtorp_pow_job_result(job) == SMTORP_WORK_OK,
          "equihash job: cancel after the end changes nothing", "");
    smtorp_pow_job_free(job);
}

/* A job that will not finish: progress comes every ~200 ms on the loop
 * thread, from worker threads that block the shutdown signals; a cancel in
 * the second progress call ends it soon with CANCELLED. */
static void test_equihash_progress_and_cancel(void) {
    smtorp_pow_job_params p = equihash_params(1u << 30, 2);
    watch w;
    watch_init(&w);
    w.cancel_at_progress = 2;
    w.check_sigmask = 1;
    smtorp_pow_job *job = start_job(&p, &w, "hard equihash job: started");
    if (job == NULL) return;
    int in_time = run_loop(wait_ms());
    check(in_time && w.finished == 1,
          "hard equihash job: finished after the cancel",
          "finished %d, progress %d", w.finished, w.progress);
    check_work(w.result, SMTORP_WORK_CANCELLED,
               "hard equihash job: result CANCELLED");
    check(w.solution_len == 0, "hard equihash job: no solution", "");
    check(w.progress == 2, "hard equihash job: progress calls until cancel",
          "%d", w.progress);
    check(w.off_thread == 0,
          "hard equihash job: every callback on the loop thread (pthread_self)",
          "%d off the loop thread", w.off_thread);
    check(w.min_gap_ms >= SMTORP_POW_JOB_PROGRESS_MS / 2,
          "hard equihash job: progress coalesced (~200 ms apart)",
          "min gap %llu ms", (unsigned long long)w.min_gap_ms);
    check(w.attempts > 0 && !w.attempts_went_back,
          "hard equihash job: attempts > 0, never going back", "%llu",
          (unsigned long long)w.attempts);
    check(w.sigmask_ok && w.sigmask_threads >= 1,
          "hard equihash job: worker threads block SIGTERM and SIGINT",
          "%d thread(s), ok %d", w.sigmask_threads, w.sigmask_ok);
    uint64_t latency = w.finish_ms - w.cancel_ms;
    check(latency < (light ? 20000u : 1000u),
          "hard equihash job: cancel answered quickly", "%llu ms",
          (unsigned long long)latency);
    printf("# hard equihash job: cancel to finished call %llu ms, %llu "
           "attempts in %llu ms, min progress gap %llu ms\n",
           (unsigned long long)latency, (unsigned long long)w.attempts,
           (unsigned long long)w.elapsed, (unsigned long long)w.min_gap_ms);
    smtorp_pow_job_free(job);
}

/* Free while the job runs: from outside a callback after the first
 * progress call, and at once after start, for each kind. */
static void test_free_running(void) {
    const long threads_before = threads_settled(1, 1000);
    const long fds_before = fd_count();
    smtorp_pow_job_params p = equihash_params(1u << 30, 1);
    watch w;
    watch_init(&w);
    w.stop_at_progress = 1;
    smtorp_pow_job *job = start_job(&p, &w, "free running: started");
    if (job == NULL) return;
    int in_time = run_loop(wait_ms());
    check(in_time && w.progress == 1 && thread_count() > threads_before,
          "free running: first progress call, the worker is running",
          "progress %d threads %ld", w.progress, thread_count());
    uint64_t t0 = smtorp_clock_monotonic_ms();
    smtorp_pow_job_free(job);
    pending--;
    uint64_t free_ms = smtorp_clock_monotonic_ms() - t0;
    long threads_after = threads_settled(threads_before, 1000);
    check(threads_after == threads_before && fd_count() == fds_before,
          "free running: thread joined and pipe closed by free",
          "threads %ld -> %ld, fds %ld -> %ld", threads_before,
          threads_after, fds_before, fd_count());
    idle_loop(2 * SMTORP_POW_JOB_PROGRESS_MS + 50);
    check(w.progress == 1 && w.finished == 0,
          "free running: no callback after free", "progress %d finished %d",
          w.progress, w.finished);
    printf("# free of a running equihash job: %llu ms\n",
           (unsigned long long)free_ms);

    const smtorp_pow_job_params kinds[] = {
        equihash_params(1u << 30, 2), argon2_params(1u << 30, 2),
        hashcash_params(SMTORP_HASHCASH_BITS_MAX, NULL)};
    const char *names[] = {"equihash", "argon2id", "hashcash"};
    for (size_t i = 0; i < 3; i++) {
        watch_init(&w);
        char name[160];
        snprintf(name, sizeof name, "free at once: %s started", names[i]);
        job = start_job(&kinds[i], &w, name);
        if (job == NULL) continue;
        smtorp_pow_job_free(job);
        pending--;
        idle_loop(SMTORP_POW_JOB_PROGRESS_MS / 2);
        snprintf(name, sizeof name,
                 "free at once: %s leaves no thread, descriptor or callback",
                 names[i]);
        threads_after = threads_settled(threads_before, 1000);
        check(threads_after == threads_before && fd_count() == fds_before &&
                  w.progress == 0 && w.finished == 0,
              name, "threads %ld fds %ld progress %d finished %d",
              threads_after, fd_count(), w.progress, w.finished);
    }
}

/* Cancel right after start (before the loop runs) for each kind. */
static void test_cancel_at_once(void) {
    const smtorp_pow_job_params kinds[] = {
        equihash_params(1u << 30, 1), argon2_params(1u << 30, 2),
        hashcash_params(SMTORP_HASHCASH_BITS_MAX, NULL)};
    const char *names[] = {"equihash", "argon2id", "hashcash"};
    for (size_t i = 0; i < 3; i++) {
        watch w;
        watch_init(&w);
        char name[160];
        snprintf(name, sizeof name, "cancel at once: %s started", names[i]);
        smtorp_pow_job *job = start_job(&kinds[i], &w, name);
        if (job == NULL) continue;
        smtorp_pow_job_cancel(job);
        smtorp_pow_job_cancel(job); /* twice is fine */
        int in_time = run_loop(light ? 60000 : 5000);
        snprintf(name, sizeof name,
                 "cancel at once: %s finished once with CANCELLED, no "
                 "solution",
                 names[i]);
        check(in_time && w.finished == 1 &&
                  w.result == SMTORP_WORK_CANCELLED && w.solution_len == 0 &&
                  w.off_thread == 0,
              name, "in time %d finished %d result %s", in_time, w.finished,
              smtorp_work_result_string(w.result));
        smtorp_pow_job_free(job);
    }
}

static void test_argon2_job(void) {
    const uint32_t effort = 4;
    smtorp_pow_job_params p = argon2_params(effort, 2);
    watch w;
    watch_init(&w);
    w.free_on_finish = 1; /* frees itself in the finished call */
    smtorp_pow_job *job = start_job(&p, &w, "argon2id job: started");
    if (job == NULL) return;
    int in_time = run_loop(wait_ms());
    check(in_time && w.finished == 1,
          "argon2id job: finished before the deadline", "finished %d",
          w.finished);
    check_work(w.result, SMTORP_WORK_OK, "argon2id job: result OK");
    check_argon2_solution(w.solution, w.solution_len, effort, "argon2id job");
    check(w.attempts >= 1 && w.off_thread == 0,
          "argon2id job: evaluations counted, callbacks on the loop thread",
          "attempts %llu off %d", (unsigned long long)w.attempts,
          w.off_thread);
    printf("# argon2id job, effort %u, 2 threads: %llu ms, %llu "
           "evaluations\n",
           effort, (unsigned long long)w.elapsed,
           (unsigned long long)w.attempts);
}

static void test_hashcash_job(void) {
    const unsigned bits = 12;
    smtorp_pow_job_params p = hashcash_params(bits, NULL);
    watch w;
    watch_init(&w);
    smtorp_pow_job *job = start_job(&p, &w, "hashcash job: started");
    if (job == NULL) return;
    int in_time = run_loop(wait_ms());
    check(in_time && w.finished == 1,
          "hashcash job: finished before the deadline", "finished %d",
          w.finished);
    check_work(w.result, SMTORP_WORK_OK, "hashcash job: result OK");
    check_hashcash_solution(w.solution, w.solution_len, bits,
                            "hashcash job");
    printf("# hashcash job, %u bits: %llu ms\n", bits,
           (unsigned long long)w.elapsed);
    smtorp_pow_job_free(job);
}

/* Three jobs of different kinds at once, each reporting to its own arg. */
static void test_jobs_at_once(void) {
    smtorp_pow_job_params p[3] = {equihash_params(2, 1),
                                  argon2_params(light ? 2 : 8, 1),
                                  hashcash_params(14, "261129")};
    watch w[3];
    smtorp_pow_job *job[3];
    for (int i = 0; i < 3; i++) {
        watch_init(&w[i]);
        job[i] = start_job(&p[i], &w[i], "jobs at once: started");
    }
    int in_time = run_loop(wait_ms());
    check(in_time && w[0].finished == 1 && w[1].finished == 1 &&
              w[2].finished == 1,
          "jobs at once: all three finished", "%d %d %d", w[0].finished,
          w[1].finished, w[2].finished);
    check_equihash_solution(w[0].solution, w[0].solution_len, 2,
                            "jobs at once, equihash");
    check_argon2_solution(w[1].solution, w[1].solution_len,
                          light ? 2 : 8, "jobs at once, argon2id");
    /* One thread: attempts = the nonces from the random start to the
     * answer, so the one before the answer (if it was tried) failed. */
    if (w[1].solution_len == SMTORP_POW_ARGON2ID_SOLUTION_LEN) {
        smtorp_work_result before =
            w[1].attempts >= 2
                ? smtorp_argon2_pow_verify(
                      C, sizeof C, light ? 2 : 8,
                      SMTORP_ARGON2_POW_DEFAULT_OPSLIMIT,
                      SMTORP_ARGON2_POW_DEFAULT_MEMLIMIT,
                      le64(w[1].solution) - 1)
                : SMTORP_WORK_INSUFFICIENT_EFFORT;
        check(w[1].attempts >= 1 && before == SMTORP_WORK_INSUFFICIENT_EFFORT,
              "jobs at once, argon2id: the first passing nonce from the "
              "start, attempts counted",
              "attempts %llu, nonce - 1: %s",
              (unsigned long long)w[1].attempts,
              smtorp_work_result_string(before));
    }
    check_hashcash_solution(w[2].solution, w[2].solution_len, 14,
                            "jobs at once, hashcash");
    check(w[2].solution_len > 12 &&
              memcmp(w[2].solution, "1:14:261129:", 12) == 0,
          "jobs at once, hashcash: the given date is used", "");
    for (int i = 0; i < 3; i++) smtorp_pow_job_free(job[i]);
}

/* ------------------------------------------------------------------ */
/* Synchronous solves                                                 */
/* ------------------------------------------------------------------ */

static void test_solve_sync(void) {
    uint8_t sol[SMTORP_POW_SOLUTION_MAX];
    size_t len = 0;
    const uint32_t eq_effort = light ? 2 : 4;
    smtorp_pow_job_params p = equihash_params(eq_effort, 2);
    uint64_t t0 = smtorp_clock_monotonic_ms();
    check_work(smtorp_pow_solve(&p, sol, sizeof sol, &len, NULL),
               SMTORP_WORK_OK, "solve: equihash OK");
    printf("# solve: equihash effort %u, 2 threads: %llu ms\n", eq_effort,
           (unsigned long long)(smtorp_clock_monotonic_ms() - t0));
    check_equihash_solution(sol, len, eq_effort, "solve equihash");

    p = argon2_params(4, 1);
    check_work(smtorp_pow_solve(&p, sol, sizeof sol, &len, NULL),
               SMTORP_WORK_OK, "solve: argon2id OK");
    check_argon2_solution(sol, len, 4, "solve argon2id");

    /* Effort 1: any nonce; the longest challenge is accepted. */
    p = argon2_params(1, 1);
    p.challenge = long_challenge;
    p.challenge_len = SMTORP_ARGON2_POW_CHALLENGE_MAX;
    check_work(smtorp_pow_solve(&p, sol, SMTORP_POW_ARGON2ID_SOLUTION_LEN,
                                &len, NULL),
               SMTORP_WORK_OK,
               "solve: argon2id, longest challenge, effort 1, exact buffer");
    check(len == SMTORP_POW_ARGON2ID_SOLUTION_LEN &&
              smtorp_argon2_pow_verify(
                  long_challenge, SMTORP_ARGON2_POW_CHALLENGE_MAX, 1,
                  SMTORP_ARGON2_POW_DEFAULT_OPSLIMIT,
                  SMTORP_ARGON2_POW_DEFAULT_MEMLIMIT,
                  le64(sol)) == SMTORP_WORK_OK,
          "solve: argon2id effort 1 nonce verifies", "len %zu", len);

    p = hashcash_params(12, NULL);
    check_work(smtorp_pow_solve(&p, sol, sizeof sol, &len, NULL),
               SMTORP_WORK_OK, "solve: hashcash OK");
    check_hashcash_solution(sol, len, 12, "solve hashcash");
    memset(sol, 0xAA, sizeof sol);
    check_work(smtorp_pow_solve(&p, sol, 10, &len, NULL),
               SMTORP_WORK_BUFFER_TOO_SMALL,
               "solve: hashcash stamp into 10 bytes");
    check(len == 0 && sol[0] == 0 && sol[9] == 0 && sol[10] == 0xAA,
          "solve: output zeroed (only cap bytes) on failure", "");

    /* A cancel flag already set: CANCELLED, nothing written. */
    const int cancelled = 1;
    const smtorp_pow_job_params kinds[] = {
        equihash_params(1u << 30, 1), argon2_params(1u << 30, 1),
        hashcash_params(SMTORP_HASHCASH_BITS_MAX, NULL)};
    const char *names[] = {"solve: equihash cancelled",
                           "solve: argon2id cancelled",
                           "solve: hashcash cancelled"};
    for (size_t i = 0; i < 3; i++) {
        len = 99;
        smtorp_work_result r =
            smtorp_pow_solve(&kinds[i], sol, sizeof sol, &len, &cancelled);
        check(r == SMTORP_WORK_CANCELLED && len == 0, names[i], "%s len %zu",
              smtorp_work_result_string(r), len);
    }
}

int main(void) {
    const char *l = getenv("SMTORP_TEST_LIGHT");
    light = l != NULL && strcmp(l, "1") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (smtorp_random_bytes(C, sizeof C) != SMTORP_OK ||
        smtorp_random_bytes(long_challenge, sizeof long_challenge) !=
            SMTORP_OK ||
        smtorp_loop_new(&L) != SMTORP_OK ||
        smtorp_timer_new(L, deadline_cb, NULL, &deadline) != SMTORP_OK) {
        printf("not ok - set-up\n0 passed, 1 failed\n");
        return 1;
    }
    loop_thread = pthread_self();
    uint64_t t0 = smtorp_clock_monotonic_ms();

    test_bad_params();
    test_equihash_job();
    test_equihash_progress_and_cancel();
    test_free_running();
    test_cancel_at_once();
    test_argon2_job();
    test_hashcash_job();
    test_jobs_at_once();
    test_solve_sync();

    smtorp_timer_free(deadline);
    smtorp_loop_free(L);
    printf("# total %llu ms\n",
           (unsigned long long)(smtorp_clock_monotonic_ms() - t0));
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
