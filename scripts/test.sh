#!/usr/bin/env bash
# The test command of the README: sets everything up and runs every test.
#   1. C core tests (real sockets and TLS on loopback)
#   2. Swift unit tests (state machines, parsers, golden transcripts)
#   3. the smtorp binary as Embedded Swift, fully static (the product;
#      keeps the code inside the Embedded subset), and for comparison the
#      normal static build; both print their size
#   4. figures: idle RSS, proof-of-work and delivery benchmarks
#   5. integration tests against the Embedded binary with real clients
#      (swaks, Python smtplib, openssl s_client, mutt, hashcash, tor)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== C core tests"
bash scripts/test-c-core.sh
echo "== Equihash kernel tests (libequihash as an independent oracle)"
bash scripts/test-equihash.sh | tail -n 3
echo "== Argon2id, effort and hashcash kernel tests (the hashcash tool as an independent peer)"
bash scripts/test-pow.sh | tail -n 3

echo "== build"
swift build --product smtorp 2>&1 | tail -n 3

echo "== Swift unit tests"
if ! swift test > .build/swift-test.log 2>&1; then
  tail -n 60 .build/swift-test.log
  echo "swift test failed" >&2
  exit 1
fi
grep -E "with [0-9]+ failures|Test run with" .build/swift-test.log | tail -n 3
echo "== proof-of-work vectors of the spec, checked independently (Python)"
python3 scripts/check-pow-vectors.py | tail -n 1

echo "== static release binary (normal Swift, for comparison)"
bash scripts/build-static.sh

echo "== the smtorp binary as Embedded Swift, fully static (the product)"
bash scripts/build-embedded.sh

echo "== figures (benchmarks print; they do not pass or fail on speed)"
bash scripts/measure-rss.sh .build/dist/smtorp
bash scripts/measure-rss.sh .build/embedded/smtorp
bash scripts/bench-pow.sh
.build/embedded/smtorp pow bench --seconds 1
rm -f .build/tor-timings.txt
python3 scripts/bench-delivery.py --messages 100

echo "== integration tests, against the Embedded binary"
SMTORP_BIN="$PWD/.build/embedded/smtorp" python3 -m pytest -q Tests/integration
echo "== QR output, against the debug build (the static builds have no libqrencode)"
SMTORP_BIN="$(swift build --show-bin-path)/smtorp" python3 -m pytest -q Tests/integration/test_identity.py -k qr
