#!/usr/bin/env bash
# A benchmark, not a test: prints figures, asserts nothing. Builds
# Tests/c/pow_bench.c with CSources/core/equihash.c (-O2, as a release
# build would) and runs it: Equihash solve time and peak memory at the
# default (n, k), ours with 1 and 2 threads against libequihash 1.0.6, in
# interleaved child processes; verify time per proof, ours against
# libequihash; Argon2id (libsodium, opslimit 1, 1 and 4 MiB) per evaluation.
#
#   bash scripts/bench-pow.sh                 # default (n, k), 9 seeds each
#   bash scripts/bench-pow.sh --seeds 15      # more seeds
#   bash scripts/bench-pow.sh --survey        # also other (n, k): the default's why
#
# Needs: a C compiler, libsodium, libequihash-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

cc="${CC:-cc}"
out="$(mktemp -d "${TMPDIR:-/tmp}/smtorp-pow-bench.XXXXXX")"
trap 'rm -rf "$out"' EXIT

if [[ ! -f /usr/include/equihash.h ]]; then
  echo "libequihash-dev is missing: apt-get install -y libequihash-dev" >&2
  exit 2
fi

"$cc" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Wno-unused-parameter -Werror \
  -fvisibility=hidden -I include \
  CSources/core/equihash.c Tests/c/pow_bench.c \
  -o "$out/pow_bench" \
  -lequihash -lsodium -lpthread

"$out/pow_bench" "$@"
