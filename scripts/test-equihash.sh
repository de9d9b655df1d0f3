#!/usr/bin/env bash
# Builds and runs the Equihash tests (Tests/c/equihash_test.c) against
# CSources/core/equihash.c, with libequihash 1.0.6 as an independent oracle
# (linked only into this test program, never into the core).
#
#   bash scripts/test-equihash.sh                        # plain run
#   SMTORP_TEST_VALGRIND=1 bash scripts/test-equihash.sh # under valgrind
#   CC=clang bash scripts/test-equihash.sh               # another compiler
#
# Needs: a C compiler, libsodium, libequihash-dev (apt-get install -y
# libequihash-dev), valgrind for the valgrind run.
set -euo pipefail
cd "$(dirname "$0")/.."

cc="${CC:-cc}"
out="$(mktemp -d "${TMPDIR:-/tmp}/smtorp-equihash.XXXXXX")"
trap 'rm -rf "$out"' EXIT

if [[ ! -f /usr/include/equihash.h ]]; then
  echo "libequihash-dev is missing: apt-get install -y libequihash-dev" >&2
  exit 2
fi

# Same flags as the core build, plus -Werror: warnings fail the test.
"$cc" -std=c11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror \
  -fvisibility=hidden -I include \
  CSources/core/equihash.c Tests/c/equihash_test.c \
  -o "$out/equihash_test" \
  -lequihash -lsodium -lpthread

if [[ "${SMTORP_TEST_VALGRIND:-0}" == "1" ]]; then
  # Light mode: skips the oracle's slow solver at the default (n, k) and the
  # timing goals (valgrind is ~50x slower); everything else runs.
  SMTORP_TEST_LIGHT=1 valgrind --quiet --error-exitcode=9 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    --track-fds=no "$out/equihash_test"
else
  "$out/equihash_test"
fi
