#!/usr/bin/env bash
# Builds and runs the proof-of-work tests against CSources/core/*.c:
# Tests/c/pow_test.c (effort rule, Argon2id puzzle, hashcash v1, with the
# `hashcash` tool 1.22 as the interoperability oracle, run as a process),
# then Tests/c/powjob_test.c (solve jobs on worker threads reporting to a
# real event loop).
#
#   bash scripts/test-pow.sh                        # plain run
#   SMTORP_TEST_VALGRIND=1 bash scripts/test-pow.sh # under valgrind
#   CC=clang bash scripts/test-pow.sh               # another compiler
#
# Needs: a C compiler, libsodium, OpenSSL, libevent (the core), the
# hashcash tool (apt-get install -y hashcash), valgrind for the valgrind run.
# Each program prints "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

cc="${CC:-cc}"
out="$(mktemp -d "${TMPDIR:-/tmp}/smtorp-pow.XXXXXX")"
trap 'rm -rf "$out"' EXIT

if ! command -v hashcash >/dev/null 2>&1; then
  echo "the hashcash tool is missing: apt-get install -y hashcash" >&2
  exit 2
fi

# Same flags as the core build, plus -Werror: warnings fail the test.
for test in pow_test powjob_test; do
  "$cc" -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror \
    -fvisibility=hidden -I include \
    CSources/core/*.c "Tests/c/$test.c" \
    -o "$out/$test" \
    -lsodium -levent_openssl -levent_core -lssl -lcrypto -lpthread
done

for test in pow_test powjob_test; do
  if [[ "${SMTORP_TEST_VALGRIND:-0}" == "1" ]]; then
    # Light mode: cheaper parameters and efforts, fewer interop rounds,
    # longer deadlines (valgrind is ~50x slower); everything else runs.
    SMTORP_TEST_LIGHT=1 valgrind --quiet --error-exitcode=9 --leak-check=full \
      --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
      --track-fds=no "$out/$test"
  else
    "$out/$test"
  fi
done
