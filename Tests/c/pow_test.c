/*
 * pow_test.c: tests of pow.c (effort rule, Argon2id puzzle, hashcash v1):
 * known answers computed outside smtorp (Python hashlib for BLAKE2b and
 * SHA-1, the reference `argon2` CLI for Argon2id), solve -> verify, wrong
 * nonces and challenges refused, cancellation, and interoperation both ways
 * with the `hashcash` tool 1.22 (Debian package hashcash), corrupted stamps
 * refused by both.
 *
 * Untrusted input: none (every proof is made or corrupted here).
 * Specs: prints "ok - name" / "not ok - name: why" per check and a final
 * "N passed, M failed" line; exits non-zero when M > 0.
 * SMTORP_TEST_LIGHT=1 (valgrind runs) uses fewer and cheaper solves.
 *
 * Build and run with scripts/test-pow.sh.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "smtorp_core.h"
#include "check.h"

/* ------------------------------------------------------------------ */
/* Reporting                                                          */
/* ------------------------------------------------------------------ */

static int light;



/* ------------------------------------------------------------------ */
/* Effort                                                             */
/* ------------------------------------------------------------------ */

static void test_effort(void) {
    /* Boundaries of (uint64_t)h * effort <= 0xFFFFFFFF. */
    check(smtorp_pow_effort_ok(0xFFFFFFFFu, 0) &&
              smtorp_pow_effort_ok(0xFFFFFFFFu, 1),
          "effort 0 and 1 accept h = 0xFFFFFFFF", "");
    check(smtorp_pow_effort_ok(0, 0xFFFFFFFFu), "h = 0 passes any effort", "");
    check(smtorp_pow_effort_ok(1, 0xFFFFFFFFu) &&
              !smtorp_pow_effort_ok(2, 0xFFFFFFFFu),
          "effort 0xFFFFFFFF: h 1 passes, h 2 fails", "");
    check(smtorp_pow_effort_ok(0x7FFFFFFFu, 2) &&
              !smtorp_pow_effort_ok(0x80000000u, 2),
          "effort 2: 0x7FFFFFFF passes, 0x80000000 fails", "");
    /* 0xFFFFFFFF = 3 * 5 * 17 * 257 * 65537: exact products. */
    check(smtorp_pow_effort_ok(0x55555555u, 3) &&
              !smtorp_pow_effort_ok(0x55555556u, 3),
          "effort 3: h * 3 == 0xFFFFFFFF exactly passes, +1 fails", "");
    check(smtorp_pow_effort_ok(0x33333333u, 5) &&
              !smtorp_pow_effort_ok(0x33333334u, 5),
          "effort 5: 0x33333333 * 5 == 0xFFFFFFFF passes, +1 fails", "");
    check(smtorp_pow_effort_ok(65537u * 257u * 17u, 15) &&
              !smtorp_pow_effort_ok(65537u * 257u * 17u + 1, 15),
          "effort 15: 0x11111111 exact product passes, +1 fails", "");
    check(smtorp_pow_effort_ok(65537u, 65535u) &&
              !smtorp_pow_effort_ok(65538u, 65535u),
          "effort 65535: h 65537 exact, 65538 fails", "");
    check(smtorp_pow_effort_ok(0x00FFFFFFu, 256) &&
              !smtorp_pow_effort_ok(0x01000000u, 256),
          "effort 256: 0x00FFFFFF passes, 0x01000000 fails", "");

    /* Known answers: Python hashlib.blake2b(s + c, digest_size=32). */
    static const struct {
        const char *sol, *ch;
        uint32_t h;
    } kat[] = {{"", "", 0x0e5751c0u},
               {"solution", "challenge", 0x22eff971u}};
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t h = 1;
        smtorp_work_result r = smtorp_pow_effort_value(
            (const uint8_t *)kat[i].sol, strlen(kat[i].sol),
            (const uint8_t *)kat[i].ch, strlen(kat[i].ch), &h);
        check(r == SMTORP_WORK_OK && h == kat[i].h,
              "effort value: BLAKE2b-256 known answer", "#%zu got %08x", i,
              h);
    }
    uint8_t sol72[72];
    for (int i = 0; i < 72; i++) sol72[i] = (uint8_t)i;
    uint32_t h = 0;
    check(smtorp_pow_effort_value(sol72, 72, (const uint8_t *)"seed", 4,
                                  &h) == SMTORP_WORK_OK &&
              h == 0x44cfde82u,
          "effort value: 72-byte solution || seed known answer", "%08x", h);
    /* 0x44cfde82 * 3 = 0xCE6F9B86 <= max; * 4 > max. */
    check_work(smtorp_pow_effort_check(sol72, 72, (const uint8_t *)"seed",
                                         4, 3),
                 SMTORP_WORK_OK, "effort check: passes effort 3");
    check_work(smtorp_pow_effort_check(sol72, 72, (const uint8_t *)"seed",
                                         4, 4),
                 SMTORP_WORK_INSUFFICIENT_EFFORT,
                 "effort check: fails effort 4");
    check_work(smtorp_pow_effort_value(NULL, 3, NULL, 0, &h),
                 SMTORP_WORK_INVALID_ARGUMENT, "effort value: NULL with length");
    check_work(smtorp_pow_effort_value(NULL, 0, NULL, 0, NULL),
                 SMTORP_WORK_INVALID_ARGUMENT, "effort value: NULL output");
}

/* ------------------------------------------------------------------ */
/* Argon2id                                                           */
/* ------------------------------------------------------------------ */

static const uint8_t *CH = (const uint8_t *)"smtorp test challenge";
#define CH_LEN 21

static void test_argon2_kat(void) {
    /* The reference CLI: printf 'smtorp test challenge<LE64 nonce>' |
     * argon2 smtorp-pow-argon -id -t T -k KiB -p 1 -l 32 -r */
    static const struct {
        uint64_t nonce, ops;
        size_t mem;
        uint32_t h;
    } kat[] = {
        {0, 1, 1024 * 1024, 0xc6c9dcdbu},
        {1, 1, 1024 * 1024, 0x60a0c375u},
        {258, 1, 1024 * 1024, 0xd21e9766u},
        {0x0102030405060708ull, 1, 1024 * 1024, 0x76b7bb41u},
        {7, 2, 64 * 1024, 0xd5333d01u},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint32_t h = 0;
        smtorp_work_result r = smtorp_argon2_pow_value(
            CH, CH_LEN, kat[i].ops, kat[i].mem, kat[i].nonce, &h);
        check(r == SMTORP_WORK_OK && h == kat[i].h,
              "argon2 value: known answer of the reference argon2 CLI",
              "#%zu r=%d h=%08x want %08x", i, (int)r, h, kat[i].h);
    }
    /* Nonce 1 with the defaults: h = 0x60a0c375, passes effort 2 (h * 2 =
     * 0xC14186EA) and fails effort 3 (0x121E24A5F). */
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 2, 1, 1024 * 1024, 1),
                 SMTORP_WORK_OK, "argon2 verify: known nonce passes effort 2");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 3, 1, 1024 * 1024, 1),
                 SMTORP_WORK_INSUFFICIENT_EFFORT,
                 "argon2 verify: known nonce fails effort 3");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 1, 1, 1024 * 1024, 0),
                 SMTORP_WORK_OK, "argon2 verify: effort 1 accepts any nonce");

    /* Argument checks. */
    uint64_t nonce = 5;
    check_work(smtorp_argon2_pow_verify(NULL, 4, 2, 1, 1u << 20, 0),
                 SMTORP_WORK_INVALID_ARGUMENT, "argon2: NULL challenge");
    check_work(smtorp_argon2_pow_verify(CH, 0, 2, 1, 1u << 20, 0),
                 SMTORP_WORK_INVALID_ARGUMENT, "argon2: empty challenge");
    check_work(smtorp_argon2_pow_verify(CH, SMTORP_ARGON2_POW_CHALLENGE_MAX +
                                                  1,
                                          2, 1, 1u << 20, 0),
                 SMTORP_WORK_INVALID_ARGUMENT, "argon2: challenge too long");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 2, 0, 1u << 20, 0),
                 SMTORP_WORK_BAD_PARAMETERS, "argon2: opslimit 0");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 2, 9, 1u << 20, 0),
                 SMTORP_WORK_BAD_PARAMETERS, "argon2: opslimit above max");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 2, 1,
                                          4u * 1024 * 1024 + 1024, 0),
                 SMTORP_WORK_BAD_PARAMETERS, "argon2: memlimit above 4 MiB");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 2, 1, 4096, 0),
                 SMTORP_WORK_BAD_PARAMETERS, "argon2: memlimit below 8 KiB");
    check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 2, 1, 65536 + 1, 0),
                 SMTORP_WORK_BAD_PARAMETERS,
                 "argon2: memlimit not a multiple of 1024");
    check_work(smtorp_argon2_pow_solve(CH, CH_LEN, 2, 1, 1u << 20, 0, 0,
                                         &nonce, NULL, NULL, NULL),
                 SMTORP_WORK_INVALID_ARGUMENT, "argon2 solve: 0 threads");
    check(nonce == 0, "argon2 solve: output zeroed on failure", "%llu",
          (unsigned long long)nonce);
    check_work(smtorp_argon2_pow_solve(CH, CH_LEN, 2, 1, 1u << 20, 65, 0,
                                         &nonce, NULL, NULL, NULL),
                 SMTORP_WORK_INVALID_ARGUMENT, "argon2 solve: 65 threads");
    check_work(smtorp_argon2_pow_solve(CH, CH_LEN, 2, 1, 1u << 20, 1, 0,
                                         NULL, NULL, NULL, NULL),
                 SMTORP_WORK_INVALID_ARGUMENT, "argon2 solve: NULL output");
    check_work(smtorp_argon2_pow_solve(CH, CH_LEN, 1, 1, 1u << 20, 1, 77,
                                         &nonce, NULL, NULL, NULL),
                 SMTORP_WORK_OK, "argon2 solve: effort 1");
    check(nonce == 77, "argon2 solve: effort 1 answers start_nonce", "%llu",
          (unsigned long long)nonce);
}

static void count_progress(uint64_t tried, void *arg) {
    uint64_t *last = arg;
    if (tried > *last) *last = tried;
}

static void test_argon2_solve(void) {
    const uint64_t ops = 1;
    const size_t mem = light ? 64 * 1024 : 1024 * 1024;
    const uint32_t effort = light ? 8 : 32;

    /* The first passing nonce from 1000, found by scanning. */
    uint64_t first = 0;
    for (uint64_t n = 1000; n < 1000 + 100 * effort; n++) {
        uint32_t h;
        if (smtorp_argon2_pow_value(CH, CH_LEN, ops, mem, n, &h) !=
            SMTORP_WORK_OK)
            break;
        if (smtorp_pow_effort_ok(h, effort)) {
            first = n;
            break;
        }
    }
    check(first != 0, "argon2: a scan finds a passing nonce", "");

    const unsigned thread_counts[] = {1, 3};
    for (size_t t = 0; t < 2; t++) {
        uint64_t nonce = 0, last = 0;
        smtorp_work_result r = smtorp_argon2_pow_solve(
            CH, CH_LEN, effort, ops, mem, thread_counts[t], 1000, &nonce,
            count_progress, NULL, &last);
        char name[96];
        snprintf(name, sizeof name,
                 "argon2 solve (%u threads): first passing nonce",
                 thread_counts[t]);
        check(r == SMTORP_WORK_OK && nonce == first, name,
              "r=%d nonce=%llu want %llu", (int)r,
              (unsigned long long)nonce, (unsigned long long)first);
        /* Progress follows the caller's own evaluations: with more threads
         * (serialized under valgrind) the others may do all the work. */
        if (thread_counts[t] == 1)
            check(last >= 1 && last == nonce - 1000 + 1,
                  "argon2 solve: progress counts every evaluation",
                  "last %llu", (unsigned long long)last);
        check_work(smtorp_argon2_pow_verify(CH, CH_LEN, effort, ops, mem,
                                              nonce),
                     SMTORP_WORK_OK, "argon2: solved nonce verifies");
    }

    /* The nonces before `first` are wrong; a changed challenge, other
     * parameters or a higher effort refuse the proof (each with the exact
     * probability-1 reason computed by scanning). */
    if (first > 1000)
        check_work(smtorp_argon2_pow_verify(CH, CH_LEN, effort, ops, mem,
                                              first - 1),
                     SMTORP_WORK_INSUFFICIENT_EFFORT,
                     "argon2: wrong nonce -> INSUFFICIENT_EFFORT");
    uint32_t h_other = 0, h_ops = 0, h_true = 0;
    static const uint8_t other[CH_LEN + 1] = "smtorp test challengf";
    int ok = smtorp_argon2_pow_value(CH, CH_LEN, ops, mem, first, &h_true) ==
                 SMTORP_WORK_OK &&
             smtorp_argon2_pow_value(other, CH_LEN, ops, mem, first,
                                     &h_other) == SMTORP_WORK_OK &&
             smtorp_argon2_pow_value(CH, CH_LEN, ops + 1, mem, first,
                                     &h_ops) == SMTORP_WORK_OK;
    check(ok && h_other != h_true && h_ops != h_true,
          "argon2: challenge and opslimit change h", "");
    smtorp_work_result want_other = smtorp_pow_effort_ok(h_other, effort)
                                        ? SMTORP_WORK_OK
                                        : SMTORP_WORK_INSUFFICIENT_EFFORT;
    check_work(smtorp_argon2_pow_verify(other, CH_LEN, effort, ops, mem,
                                          first),
                 want_other, "argon2: other challenge judged on its own h");
    /* Effort far above what h supports must fail (h > 0 for this nonce
     * with overwhelming probability; then effort 0xFFFFFFFF needs h <= 1). */
    check(h_other > 1, "argon2: other challenge h > 1", "%08x", h_other);
    check_work(smtorp_argon2_pow_verify(other, CH_LEN, 0xFFFFFFFFu, ops,
                                          mem, first),
                 SMTORP_WORK_INSUFFICIENT_EFFORT,
                 "argon2: different challenge fails a high effort");
    if (h_true > 1)
        check_work(smtorp_argon2_pow_verify(CH, CH_LEN, 0xFFFFFFFFu, ops,
                                              mem, first),
                     SMTORP_WORK_INSUFFICIENT_EFFORT,
                     "argon2: solved nonce fails effort 0xFFFFFFFF");
}

typedef struct cancel_ctx {
    int flag;
    uint64_t calls;
} cancel_ctx;

static void cancel_after_three(uint64_t tried, void *arg) {
    cancel_ctx *c = arg;
    if (++c->calls == 3) smtorp_pow_cancel(&c->flag);
}

static void *cancel_later(void *arg) {
    usleep(light ? 300000 : 100000);
    smtorp_pow_cancel(arg);
    return NULL;
}

static void test_argon2_cancel(void) {
    const size_t mem = 64 * 1024;
    uint64_t nonce = 9;
    /* Effort 0xFFFFFFFF: only h <= 1 passes, never found in practice. */
    cancel_ctx c = {0, 0};
    smtorp_work_result r = smtorp_argon2_pow_solve(
        CH, CH_LEN, 0xFFFFFFFFu, 1, mem, 2, 0, &nonce, cancel_after_three,
        &c.flag, &c);
    check(r == SMTORP_WORK_CANCELLED && nonce == 0 && c.calls == 3,
          "argon2 solve: cancelled from progress", "r=%d calls=%llu", (int)r,
          (unsigned long long)c.calls);

    int flag = 0;
    pthread_t tid;
    if (pthread_create(&tid, NULL, cancel_later, &flag) == 0) {
        r = smtorp_argon2_pow_solve(CH, CH_LEN, 0xFFFFFFFFu, 1, mem, 3, 0,
                                    &nonce, NULL, &flag, NULL);
        pthread_join(tid, NULL);
        check_work(r, SMTORP_WORK_CANCELLED,
                     "argon2 solve: cancelled from another thread");
    }
    flag = 1;
    check_work(smtorp_argon2_pow_solve(CH, CH_LEN, 4, 1, mem, 1, 0, &nonce,
                                         NULL, &flag, NULL),
                 SMTORP_WORK_CANCELLED, "argon2 solve: flag already set");
}

/* ------------------------------------------------------------------ */
/* Hashcash                                                           */
/* ------------------------------------------------------------------ */

#define RESOURCE "smtorp-test@exampleexampleexa.onion"

/* Runs a shell command, returns its exit status (-1 if it did not exit). */
static int run_status(const char *cmd) {
    int st = system(cmd);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

/* The tool's verdict on `stamp` at 16 bits for RESOURCE: 0 valid, 1
 * invalid. -y: "valid" without a double-spend database. */
static int tool_check(const char *stamp) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "hashcash -cqy -b 16 -r '" RESOURCE "' '%s' >/dev/null 2>&1",
             stamp);
    return run_status(cmd);
}

static void test_hashcash_kat(void) {
    /* Minted by hashcash 1.22 (-b 20); zero bits by Python hashlib. */
    static const char *good =
        "1:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:"
        "000000000000000000000000000000000000000000001Pvl";
    static const struct {
        const char *stamp;
        unsigned bits;
        smtorp_work_result want;
    } kat[] = {
        {"1:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:"
         "000000000000000000000000000000000000000000001Pvl",
         20, SMTORP_WORK_OK},
        {"1:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:"
         "000000000000000000000000000000000000000000001PvA",
         4, SMTORP_WORK_INSUFFICIENT_EFFORT},
        {"1:21:261129:kat@example.onion::ceMhdXl9lCAOhrJX:"
         "000000000000000000000000000000000000000000001Pvl",
         0, SMTORP_WORK_INSUFFICIENT_EFFORT},
        {"1:20:261129:kau@example.onion::ceMhdXl9lCAOhrJX:"
         "000000000000000000000000000000000000000000001Pvl",
         0, SMTORP_WORK_INSUFFICIENT_EFFORT},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        unsigned bits = 99;
        smtorp_work_result r =
            smtorp_hashcash_check(kat[i].stamp, strlen(kat[i].stamp), &bits);
        check(r == kat[i].want && bits == kat[i].bits,
              "hashcash check: known answer (bits, verdict)",
              "#%zu r=%d bits=%u want %u", i, (int)r, bits, kat[i].bits);
    }
    static const char *malformed[] = {
        "",
        "0:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl",
        "1:20:261129:kat@example.onion:ceMhdXl9lCAOhrJX:1Pvl",
        "1:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl:x",
        "1:x:261129:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl",
        "1:020:261129:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl",
        "1:161:261129:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl",
        "1:20:26112:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl",
        "1:20:261129:::ceMhdXl9lCAOhrJX:1Pvl",
        "1:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:",
        "1:20:261129:kat example::ceMhdXl9lCAOhrJX:1Pvl",
        "1:20:261129:kat@example.onion::ceMhdXl9lCAOhrJX:1Pvl\n",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        unsigned bits = 99;
        smtorp_work_result r = smtorp_hashcash_check(
            malformed[i], strlen(malformed[i]), &bits);
        char name[64];
        snprintf(name, sizeof name, "hashcash check: malformed #%zu", i);
        check(r == SMTORP_WORK_MALFORMED && bits == 0, name, "r=%d bits=%u",
              (int)r, bits);
    }
    unsigned bits;
    check_work(smtorp_hashcash_check(good, strlen(good) - 1, &bits),
                 SMTORP_WORK_INSUFFICIENT_EFFORT,
                 "hashcash check: truncated by length");
    check_work(smtorp_hashcash_check(NULL, 3, &bits),
                 SMTORP_WORK_INVALID_ARGUMENT, "hashcash check: NULL stamp");

    /* Mint: a fixed date and rand give a deterministic stamp. */
    char out[256];
    smtorp_work_result r = smtorp_hashcash_mint(
        12, "kat@example.onion", "261129", "AAAAAAAAAAAAAAAA", out,
        sizeof out, NULL);
    unsigned got = 0;
    check(r == SMTORP_WORK_OK &&
              strncmp(out, "1:12:261129:kat@example.onion::AAAAAAAAAAAAAAAA:",
                      48) == 0 &&
              smtorp_hashcash_check(out, strlen(out), &got) ==
                  SMTORP_WORK_OK &&
              got >= 12,
          "hashcash mint: fixed fields, 12 bits", "r=%d out=%s got=%u",
          (int)r, out, got);
    char small[40];
    check_work(smtorp_hashcash_mint(8, "kat@example.onion", NULL, NULL,
                                      small, sizeof small, NULL),
                 SMTORP_WORK_BUFFER_TOO_SMALL, "hashcash mint: small buffer");
    check(small[0] == '\0', "hashcash mint: output empty on failure", "");
    check_work(smtorp_hashcash_mint(8, "a:b", NULL, NULL, out, sizeof out,
                                      NULL),
                 SMTORP_WORK_MALFORMED, "hashcash mint: ':' in resource");
    check_work(smtorp_hashcash_mint(8, "ab", "2611", NULL, out, sizeof out,
                                      NULL),
                 SMTORP_WORK_MALFORMED, "hashcash mint: bad date");
    check_work(smtorp_hashcash_mint(8, "ab", NULL, "a b", out, sizeof out,
                                      NULL),
                 SMTORP_WORK_MALFORMED, "hashcash mint: bad rand");
    check_work(smtorp_hashcash_mint(0, "ab", NULL, NULL, out, sizeof out,
                                      NULL),
                 SMTORP_WORK_BAD_PARAMETERS, "hashcash mint: 0 bits");
    int flag = 1;
    check_work(smtorp_hashcash_mint(30, "ab", NULL, NULL, out, sizeof out,
                                      &flag),
                 SMTORP_WORK_CANCELLED, "hashcash mint: cancelled");
}

/* Replaces the last character of the counter by one that makes OUR check
 * refuse the stamp (INSUFFICIENT_EFFORT); 0 if none does. */
static int corrupt(char *stamp) {
    size_t n = strlen(stamp);
    char orig = stamp[n - 1];
    static const char cand[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij";
    for (size_t i = 0; cand[i]; i++) {
        if (cand[i] == orig) continue;
        stamp[n - 1] = cand[i];
        unsigned bits;
        if (smtorp_hashcash_check(stamp, n, &bits) ==
            SMTORP_WORK_INSUFFICIENT_EFFORT)
            return 1;
    }
    return 0;
}

static void test_hashcash_interop(void) {
    if (run_status("command -v hashcash >/dev/null 2>&1") != 0) {
        check(0, "hashcash tool installed", "apt-get install -y hashcash");
        return;
    }
    /* Theirs -> ours. */
    int rounds = light ? 1 : 3;
    for (int i = 0; i < rounds; i++) {
        char stamp[512] = {0};
        FILE *p = popen("hashcash -mq -b 16 -r '" RESOURCE "'", "r");
        if (p == NULL || fgets(stamp, sizeof stamp, p) == NULL) {
            if (p) pclose(p);
            check(0, "hashcash -m produced a stamp", "");
            continue;
        }
        pclose(p);
        stamp[strcspn(stamp, "\r\n")] = '\0';
        unsigned bits = 0;
        smtorp_work_result r =
            smtorp_hashcash_check(stamp, strlen(stamp), &bits);
        check(r == SMTORP_WORK_OK && bits >= 16 &&
                  strncmp(stamp, "1:16:", 5) == 0,
              "hashcash interop: tool's stamp checks in ours (>= 16 bits)",
              "%s r=%d bits=%u", stamp, (int)r, bits);
        check(tool_check(stamp) == 0, "hashcash interop: tool accepts its own",
              "%s", stamp);
        if (corrupt(stamp)) {
            check(tool_check(stamp) == 1,
                  "hashcash interop: corrupted tool stamp refused by the tool",
                  "%s", stamp);
            check_work(smtorp_hashcash_check(stamp, strlen(stamp), &bits),
                         SMTORP_WORK_INSUFFICIENT_EFFORT,
                         "hashcash interop: corrupted tool stamp refused by ours");
        } else {
            check(0, "hashcash interop: stamp corrupted", "%s", stamp);
        }
    }
    /* Ours -> theirs. */
    for (int i = 0; i < rounds; i++) {
        char stamp[256];
        smtorp_work_result r = smtorp_hashcash_mint(
            16, RESOURCE, NULL, NULL, stamp, sizeof stamp, NULL);
        check_work(r, SMTORP_WORK_OK, "hashcash mint: 16 bits");
        if (r != SMTORP_WORK_OK) continue;
        int st = tool_check(stamp);
        check(st == 0, "hashcash interop: our stamp valid for hashcash -c",
              "%s exit %d", stamp, st);
        /* Without -y the tool cannot be sure (no double-spend database):
         * exit 2 "unchecked", still not 1 "invalid". With a database: 0. */
        char cmd[1024], db[] = "/tmp/smtorp-pow-test-db.XXXXXX";
        int fd = mkstemp(db);
        if (fd >= 0) {
            close(fd);
            unlink(db);
            snprintf(cmd, sizeof cmd,
                     "hashcash -cq -d -f '%s' -b 16 -r '" RESOURCE
                     "' '%s' >/dev/null 2>&1",
                     db, stamp);
            st = run_status(cmd);
            check(st == 0,
                  "hashcash interop: our stamp valid with a spend database",
                  "%s exit %d", stamp, st);
            st = run_status(cmd);
            check(st == 1, "hashcash interop: the tool sees the double spend",
                  "exit %d", st);
            unlink(db);
        }
        char wrong[1024];
        snprintf(wrong, sizeof wrong,
                 "hashcash -cqy -b 16 -r 'other@example.onion' '%s' "
                 ">/dev/null 2>&1",
                 stamp);
        check(run_status(wrong) == 1,
              "hashcash interop: the tool refuses another resource", "");
        if (corrupt(stamp)) {
            check(tool_check(stamp) == 1,
                  "hashcash interop: corrupted stamp of ours refused by the tool",
                  "%s", stamp);
            unsigned bits;
            check_work(smtorp_hashcash_check(stamp, strlen(stamp), &bits),
                         SMTORP_WORK_INSUFFICIENT_EFFORT,
                         "hashcash interop: corrupted stamp refused by ours");
        } else {
            check(0, "hashcash interop: stamp corrupted", "%s", stamp);
        }
    }
}

static void test_strings(void) {
    static const smtorp_work_result all[] = {
        SMTORP_WORK_OK,          SMTORP_WORK_NO_MEMORY,
        SMTORP_WORK_CANCELLED,   SMTORP_WORK_INVALID_ARGUMENT,
        SMTORP_WORK_THREAD,      SMTORP_WORK_INSUFFICIENT_EFFORT,
        SMTORP_WORK_BAD_PARAMETERS, SMTORP_WORK_EXHAUSTED,
        SMTORP_WORK_BUFFER_TOO_SMALL, SMTORP_WORK_MALFORMED,
        SMTORP_WORK_CRYPTO};
    size_t n = sizeof all / sizeof all[0];
    int distinct = 1;
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
            if (strcmp(smtorp_work_result_string(all[a]),
                       smtorp_work_result_string(all[b])) == 0)
                distinct = 0;
    check(distinct &&
              strcmp(smtorp_work_result_string((smtorp_work_result)99),
                     "unknown result") == 0,
          "work result strings distinct, unknown value handled", "");
    check((int)SMTORP_WORK_OK == (int)SMTORP_POW_OK &&
              (int)SMTORP_WORK_NO_MEMORY == (int)SMTORP_POW_NO_MEMORY &&
              (int)SMTORP_WORK_CANCELLED == (int)SMTORP_POW_CANCELLED &&
              (int)SMTORP_WORK_INVALID_ARGUMENT ==
                  (int)SMTORP_POW_INVALID_ARGUMENT &&
              (int)SMTORP_WORK_THREAD == (int)SMTORP_POW_THREAD,
          "shared meanings share numbers with smtorp_pow_result", "");
}

int main(void) {
    const char *l = getenv("SMTORP_TEST_LIGHT");
    light = l != NULL && strcmp(l, "1") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_strings();
    test_effort();
    test_argon2_kat();
    test_argon2_solve();
    test_argon2_cancel();
    test_hashcash_kat();
    test_hashcash_interop();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
