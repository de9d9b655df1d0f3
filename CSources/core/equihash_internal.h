/*
 * equihash_internal.h: private hooks of equihash.c for the tests and the
 * benchmark (compiled into the same program). Nothing here is exported.
 *
 * Untrusted input: none.
 * Specs: none.
 */
#ifndef SMTORP_EQUIHASH_INTERNAL_H
#define SMTORP_EQUIHASH_INTERNAL_H

#include "smtorp_core.h"

#ifndef SMTORP_INTERNAL
#define SMTORP_INTERNAL __attribute__((visibility("hidden")))
#endif

/** How many times this solver outgrew its list margins (each time it grew
 *  its tables by a quarter and redid that nonce). 0 is the expected value. */
SMTORP_INTERNAL unsigned smtorp_equihash_solver_regrows(
    const smtorp_equihash_solver *solver);

/** Lets the solver hash four indices at once with AVX2 when the CPU has it
 *  (enabled, the default) or always one at a time with libsodium (0), so
 *  that tests and benchmarks can run both. Not thread-safe: call it while
 *  no solve runs. */
SMTORP_INTERNAL void smtorp_equihash_set_simd(int enabled);

#endif /* SMTORP_EQUIHASH_INTERNAL_H */
