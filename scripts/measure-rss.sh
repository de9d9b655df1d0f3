#!/usr/bin/env bash
# Prints the idle resident memory of `smtorp serve` (tor off, so only smtorp
# itself is measured): started in a fresh data directory, measured once it
# logs that it listens, then stopped. Usage: measure-rss.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/dist/smtorp}"
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" serve --data-dir "$dir/node" --listen 127.0.0.1:0 --mailbox alice --tor off 2>"$dir/log" &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$dir/log" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on" "$dir/log" || { echo "smtorp did not start" >&2; exit 1; }
echo "idle RSS of smtorp serve ($bin): $(grep VmRSS /proc/$pid/status | awk '{print $2, $3}')"
