#!/usr/bin/env bash
# Builds and runs the C core's self-contained test program (Tests/c/core_test.c)
# against CSources/core/*.c, with real loopback sockets and real TLS.
#
#   bash scripts/test-c-core.sh                      # plain run
#   SMTORP_TEST_VALGRIND=1 bash scripts/test-c-core.sh   # under valgrind
#   CC=clang bash scripts/test-c-core.sh             # another compiler
#
# Needs: a C compiler, libevent 2.1 (+ openssl), OpenSSL 3, libsodium
# (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

cc="${CC:-cc}"
out="$(mktemp -d "${TMPDIR:-/tmp}/smtorp-c-core.XXXXXX")"
trap 'rm -rf "$out"' EXIT

# Same flags as the package build, plus -Werror: warnings fail the test.
"$cc" -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wno-unused-parameter -Werror \
  -fvisibility=hidden -I include \
  CSources/core/*.c Tests/c/core_test.c \
  -o "$out/core_test" \
  -lsodium -levent_openssl -levent_core -lssl -lcrypto

if [[ "${SMTORP_TEST_VALGRIND:-0}" == "1" ]]; then
  # Valgrind runs one thread at a time: timing between threads means nothing.
  SMTORP_TEST_SERIAL_THREADS=1 valgrind --quiet --error-exitcode=9 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --track-fds=no \
    "$out/core_test"
else
  "$out/core_test"
fi
