/*
 * check.h: the reporting shared by the C test programs (TAP-like lines
 * "ok - name" / "not ok - name: why", counted for the summary each program
 * prints at its end as "N passed, M failed").
 */
#ifndef SMTORP_TEST_CHECK_H
#define SMTORP_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

#include "smtorp_core.h"

static int passed, failed;

/* Counts one check; prints the reason (printf-style) when it failed. */
static inline void check(int condition, const char *name, const char *fmt, ...) {
    if (condition) {
        passed++;
        printf("ok - %s\n", name);
        return;
    }
    failed++;
    printf("not ok - %s: ", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* A check that a proof-of-work call returned `want`, naming both. */
static inline void check_work(smtorp_work_result got, smtorp_work_result want,
                              const char *name) {
    check(got == want, name, "got %d (%s), want %d (%s)", (int)got,
          smtorp_work_result_string(got), (int)want,
          smtorp_work_result_string(want));
}

#endif
