/*
 * pow_bench.c: a benchmark (not a test: it prints figures, asserts
 * nothing) of the proof-of-work kernels, side by side in one run on a
 * shared, noisy machine: runs are interleaved, figures are medians, and
 * ratios are taken per seed.
 *
 *  - Equihash solve at (n, k): ours with 1 and 2 threads against
 *    libequihash 1.0.6's solve(), every solve in a fresh child process
 *    (fork + exec of this program) so that its peak memory is the child's
 *    ru_maxrss minus that of an idle child (same binary, same libraries);
 *    the solve time is taken inside the child (ours: solver_new + solve +
 *    free, as libequihash allocates inside solve()).
 *  - Equihash verify per proof, ours against libequihash's verify().
 *  - Argon2id (libsodium crypto_pwhash_argon2id, opslimit 1, one lane) at
 *    1 MiB and 4 MiB per evaluation.
 *  - "no SIMD": ours with every hash through libsodium one at a time, the
 *    path of a CPU without AVX2 (an ARM board, say).
 *  - With --survey: ours (1 thread, with and without SIMD) and libequihash
 *    at several (n, k), the measurements behind the default.
 *
 * Untrusted input: none.
 * Specs: none. Build and run with scripts/bench-pow.sh.
 */
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <equihash.h>
#include <sodium.h>

#include "smtorp_core.h"
#include "../../CSources/core/equihash_internal.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *values, int count) {
    double sorted[256];
    if (count <= 0 || count > 256) return 0;
    memcpy(sorted, values, (size_t)count * sizeof *sorted);
    qsort(sorted, (size_t)count, sizeof *sorted, compare_double);
    return count % 2 ? sorted[count / 2]
                     : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
}

static void bench_seed(int index, uint8_t seed[32]) {
    char text[40];
    snprintf(text, sizeof text, "smtorp-pow-benchmark-seed-%06d", index);
    memcpy(seed, text, 32);
}

/* ------------------------------------------------------------------ */
/* Child side: one solve, report "seconds nonce solutions" on stdout   */
/* ------------------------------------------------------------------ */

static int child_main(int argc, char **argv) {
    if (sodium_init() < 0) return 3;
    const char *who = argv[2];
    if (strcmp(who, "idle") == 0) {
        printf("0 0 0\n");
        return 0;
    }
    if (argc < 7) return 2;
    unsigned threads = (unsigned)atoi(argv[3]);
    unsigned n = (unsigned)atoi(argv[4]), k = (unsigned)atoi(argv[5]);
    uint8_t seed[32];
    bench_seed(atoi(argv[6]), seed);
    size_t len = smtorp_equihash_solution_length(n, k);
    uint8_t solutions[16 * 600];
    size_t found = 0;
    double t0 = now_seconds();
    if (strcmp(who, "ours") == 0 || strcmp(who, "ours-scalar") == 0) {
        /* ours-scalar: every hash through libsodium, one at a time (the
         * path of a CPU without AVX2, e.g. an ARM board). */
        smtorp_equihash_set_simd(strcmp(who, "ours") == 0);
        smtorp_equihash_solver *solver = NULL;
        if (smtorp_equihash_solver_new(n, k, threads, &solver) !=
            SMTORP_POW_OK)
            return 4;
        smtorp_pow_result r = smtorp_equihash_solve(
            solver, seed, 32, solutions, 16, len, &found, NULL, NULL, NULL);
        smtorp_equihash_solver_free(solver);
        if (r != SMTORP_POW_OK) return 5;
    } else {
        if (solve(n, k, seed, 32, solutions, len) != 1) return 6;
        found = 1;
    }
    double t1 = now_seconds();
    uint32_t nonce = (uint32_t)solutions[0] << 24 |
                     (uint32_t)solutions[1] << 16 |
                     (uint32_t)solutions[2] << 8 | solutions[3];
    printf("%.6f %u %zu\n", t1 - t0, nonce, found);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Parent side                                                        */
/* ------------------------------------------------------------------ */

typedef struct run {
    double seconds;
    unsigned nonce;
    unsigned solutions;
    long maxrss_kb;
    int ok;
} run;

static char self_path[4096];

static run run_child(const char *who, unsigned threads, unsigned n,
                     unsigned k, int seed) {
    run result = {0, 0, 0, 0, 0};
    int fds[2];
    if (pipe(fds) != 0) return result;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return result;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char a_threads[16], a_n[16], a_k[16], a_seed[16];
        snprintf(a_threads, sizeof a_threads, "%u", threads);
        snprintf(a_n, sizeof a_n, "%u", n);
        snprintf(a_k, sizeof a_k, "%u", k);
        snprintf(a_seed, sizeof a_seed, "%d", seed);
        char *args[] = {self_path, "--child", (char *)who, a_threads,
                        a_n,       a_k,       a_seed,      NULL};
        execv(self_path, args);
        _exit(127);
    }
    close(fds[1]);
    char buf[128] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 &&
           (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)r;
    close(fds[0]);
    int status = 0;
    struct rusage usage;
    memset(&usage, 0, sizeof usage);
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
        sscanf(buf, "%lf %u %u", &result.seconds, &result.nonce,
               &result.solutions) == 3)
        result.ok = 1;
    result.maxrss_kb = usage.ru_maxrss;
    return result;
}

typedef struct contender {
    const char *label;
    const char *who;
    unsigned threads;
    double seconds[64];
    double rss_mb[64];
    double nonces[64];
    double solutions[64];
    int count, failures;
} contender;

static double idle_rss_kb(void) {
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = (double)run_child("idle", 1, 0, 0, 0).maxrss_kb;
    return median(v, 5);
}

/* Interleaved: for each seed, every contender once, in rotating order. */
static void solve_round(contender *c, int n_contenders, unsigned n,
                        unsigned k, int seeds, int seed_base,
                        double idle_kb) {
    for (int s = 0; s < seeds; s++) {
        for (int j = 0; j < n_contenders; j++) {
            contender *x = &c[(j + s) % n_contenders];
            run r = run_child(x->who, x->threads, n, k, seed_base + s);
            if (!r.ok) {
                x->failures++;
                continue;
            }
            x->seconds[x->count] = r.seconds;
            x->rss_mb[x->count] = ((double)r.maxrss_kb - idle_kb) / 1024.0;
            /* Both start at nonce 2 and stop at the first with a solution. */
            x->nonces[x->count] = (double)r.nonce - 1.0;
            x->solutions[x->count] = r.solutions;
            x->count++;
        }
    }
}

static void minmax(const double *v, int n, double *lo, double *hi) {
    *lo = *hi = n > 0 ? v[0] : 0;
    for (int i = 1; i < n; i++) {
        if (v[i] < *lo) *lo = v[i];
        if (v[i] > *hi) *hi = v[i];
    }
}

static double mean(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n > 0 ? s / n : 0;
}

static void report_solves(const contender *c, int n_contenders) {
    for (int j = 0; j < n_contenders; j++) {
        const contender *x = &c[j];
        double lo, hi, rlo, rhi;
        minmax(x->seconds, x->count, &lo, &hi);
        minmax(x->rss_mb, x->count, &rlo, &rhi);
        printf("  %-24s %9.1f ms  [%7.1f .. %7.1f]  %6.1f MB [%5.1f .. %5.1f]"
               "  %4.2f  %4.2f%s\n",
               x->label, median(x->seconds, x->count) * 1e3, lo * 1e3,
               hi * 1e3, median(x->rss_mb, x->count), rlo, rhi,
               mean(x->nonces, x->count), mean(x->solutions, x->count),
               x->failures ? "  (failures!)" : "");
    }
}

/* Per-seed ratio a / b (runs of the same seed), then the median. */
static double paired_ratio(const contender *a, const contender *b) {
    double r[64];
    int n = a->count < b->count ? a->count : b->count;
    for (int i = 0; i < n; i++) r[i] = a->seconds[i] / b->seconds[i];
    return median(r, n);
}

static void solve_table_header(void) {
    printf("  %-24s %9s  %-21s %-23s %6s %6s\n", "", "median",
           "[min .. max]", "peak RSS [min .. max]", "nonces", "proofs");
}

/* ------------------------------------------------------------------ */
/* Verify and Argon2id                                                */
/* ------------------------------------------------------------------ */

static void bench_verify(unsigned n, unsigned k) {
    enum { SEEDS = 8, REPS = 31, LOOPS = 40 };
    size_t len = smtorp_equihash_solution_length(n, k);
    uint8_t proofs[SEEDS * 16][600], seeds[SEEDS * 16][32];
    int count = 0;
    smtorp_equihash_solver *solver = NULL;
    if (smtorp_equihash_solver_new(n, k, 1, &solver) != SMTORP_POW_OK) return;
    for (int s = 0; s < SEEDS; s++) {
        uint8_t seed[32], out[16 * 600];
        size_t found = 0;
        bench_seed(1000 + s, seed);
        if (smtorp_equihash_solve(solver, seed, 32, out, 16, len, &found,
                                  NULL, NULL, NULL) != SMTORP_POW_OK)
            continue;
        for (size_t i = 0; i < found && count < SEEDS * 16; i++, count++) {
            memcpy(proofs[count], out + i * len, len);
            memcpy(seeds[count], seed, 32);
        }
    }
    smtorp_equihash_solver_free(solver);
    double ours[REPS], theirs[REPS];
    int bad_ours = 0, bad_theirs = 0;
    for (int rep = 0; rep < REPS; rep++) {
        double t0 = now_seconds();
        for (int l = 0; l < LOOPS; l++)
            for (int i = 0; i < count; i++)
                bad_ours += smtorp_equihash_verify(n, k, seeds[i], 32,
                                                   proofs[i], len) !=
                            SMTORP_POW_OK;
        double t1 = now_seconds();
        for (int l = 0; l < LOOPS; l++)
            for (int i = 0; i < count; i++)
                bad_theirs += verify(n, k, seeds[i], 32, proofs[i], len) != 1;
        double t2 = now_seconds();
        ours[rep] = (t1 - t0) / (LOOPS * count) * 1e6;
        theirs[rep] = (t2 - t1) / (LOOPS * count) * 1e6;
    }
    double mo = median(ours, REPS), mt = median(theirs, REPS);
    printf("Verify (%u,%u), per proof, median of %d batches of %d "
           "verifications (%d distinct proofs):\n",
           n, k, REPS, LOOPS * count, count);
    printf("  ours (full checks)        %7.2f us\n", mo);
    printf("  libequihash verify()      %7.2f us   (final XOR only)\n", mt);
    printf("  ratio libequihash/ours    %7.2f x   %s\n", mt / mo,
           bad_ours || bad_theirs ? "(SOME PROOFS FAILED)" : "");
}

static void bench_argon2id(void) {
    enum { REPS = 41 };
    const size_t limits[2] = {1u << 20, 4u << 20};
    double t[2][REPS];
    uint8_t out[32], salt[crypto_pwhash_argon2id_SALTBYTES];
    memset(salt, 0x5a, sizeof salt);
    const char *password = "smtorp proof of work benchmark";
    int failures = 0;
    for (int rep = 0; rep < REPS; rep++) {
        for (int m = 0; m < 2; m++) {
            double t0 = now_seconds();
            if (crypto_pwhash_argon2id(out, sizeof out, password,
                                       strlen(password), salt, 1, limits[m],
                                       crypto_pwhash_argon2id_ALG_ARGON2ID13) !=
                0)
                failures++;
            t[m][rep] = (now_seconds() - t0) * 1e3;
        }
    }
    printf("Argon2id (libsodium crypto_pwhash_argon2id, opslimit 1, one "
           "lane), per evaluation, median of %d:\n", REPS);
    printf("  1 MiB                     %7.3f ms\n", median(t[0], REPS));
    printf("  4 MiB                     %7.3f ms%s\n", median(t[1], REPS),
           failures ? "  (FAILURES)" : "");
}

/* ------------------------------------------------------------------ */
/* Main                                                               */
/* ------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr,
            "usage: pow_bench [--seeds N] [--survey]\n"
            "  --seeds N   seeds per solver at the default (n, k) (9)\n"
            "  --survey    also ours (1 thread) and libequihash at other (n, k)\n");
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argc, argv);
    int seeds = 9, survey = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            seeds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--survey") == 0) {
            survey = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (seeds < 1 || seeds > 64) seeds = 9;
    if (sodium_init() < 0) return 1;
    ssize_t l = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (l <= 0) return 1;
    self_path[l] = 0;

    const unsigned n = SMTORP_EQUIHASH_DEFAULT_N, k = SMTORP_EQUIHASH_DEFAULT_K;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0) load[0] = -1;
    printf("PoW benchmark: %ld CPUs online, load average %.2f at start\n\n",
           cpus, load[0]);

    double idle_kb = idle_rss_kb();
    contender c[4] = {
        {.label = "ours, 1 thread", .who = "ours", .threads = 1},
        {.label = "ours, 2 threads", .who = "ours", .threads = 2},
        {.label = "libequihash solve()", .who = "lib", .threads = 1},
        {.label = "ours, 1 thr, no SIMD", .who = "ours-scalar", .threads = 1},
    };
    solve_round(c, 4, n, k, seeds, 0, idle_kb);
    printf("Equihash solve at the default (%u,%u), %d seeds each, "
           "interleaved, one child process per solve\n",
           n, k, seeds);
    printf("(peak RSS = child ru_maxrss - idle child's %.1f MB; nonces = "
           "mean tried; proofs = mean returned)\n",
           idle_kb / 1024.0);
    solve_table_header();
    report_solves(c, 4);
    printf("  layout: smtorp_equihash_memory_bytes(%u,%u) = %.1f MB\n", n, k,
           (double)smtorp_equihash_memory_bytes(n, k) / (1024.0 * 1024.0));
    printf("  speed-up, median of per-seed ratios: libequihash/ours(1 "
           "thread) %.1f x, libequihash/ours(2 threads) %.1f x, "
           "ours 1/2 threads %.2f x\n",
           paired_ratio(&c[2], &c[0]), paired_ratio(&c[2], &c[1]),
           paired_ratio(&c[0], &c[1]));
    printf("  without SIMD hashing (libsodium, one hash at a time): "
           "libequihash/ours %.1f x, SIMD speed-up %.2f x\n",
           paired_ratio(&c[2], &c[3]), paired_ratio(&c[3], &c[0]));
    printf("  memory ratio (median RSS): libequihash/ours(1 thread) %.1f x, "
           "libequihash/ours(2 threads) %.1f x\n\n",
           median(c[2].rss_mb, c[2].count) / median(c[0].rss_mb, c[0].count),
           median(c[2].rss_mb, c[2].count) / median(c[1].rss_mb, c[1].count));

    bench_verify(n, k);
    printf("\n");
    bench_argon2id();

    if (survey) {
        static const unsigned params[][2] = {{60, 4}, {90, 5}, {96, 5},
                                             {102, 5}, {108, 5}, {100, 4}};
        int survey_seeds = seeds < 5 ? seeds : 5;
        printf("\nSurvey (%d seeds each, interleaved; ours with 1 thread)\n",
               survey_seeds);
        for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
            unsigned sn = params[p][0], sk = params[p][1];
            contender s[3] = {
                {.label = "ours, 1 thread", .who = "ours", .threads = 1},
                {.label = "libequihash solve()", .who = "lib", .threads = 1},
                {.label = "ours, 1 thr, no SIMD", .who = "ours-scalar",
                 .threads = 1},
            };
            solve_round(s, 3, sn, sk, survey_seeds, 100, idle_kb);
            printf("(%u,%u): proof %zu bytes, list 2^%u, layout %.1f MB, "
                   "libequihash/ours %.1f x\n",
                   sn, sk, smtorp_equihash_solution_length(sn, sk),
                   sn / (sk + 1) + 1,
                   (double)smtorp_equihash_memory_bytes(sn, sk) /
                       (1024.0 * 1024.0),
                   paired_ratio(&s[1], &s[0]));
            report_solves(s, 3);
        }
    }
    return 0;
}
