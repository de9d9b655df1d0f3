#!/usr/bin/env bash
# The README's "main job": two smtorp nodes, alice and bob, exchange mail over
# a private Tor network on loopback.
#
#   1. sets everything up (packages, build)
#   2. starts a private Tor network (1 directory authority, 4 relays, one
#      client tor per node; Tests/integration/tornet.py) — nothing leaves
#      127.0.0.1 and nothing can reach the public Tor network
#   3. starts both nodes; each publishes its onion service through its tor
#   4. alice sends a message to bob's full address (with the fingerprint label)
#   5. shows where it landed in bob's Maildir, then stops everything
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== building smtorp"
swift build --product smtorp 2>&1 | tail -n 1
bin="$(swift build --show-bin-path)/smtorp"

run=$(mktemp -d /tmp/smtorp-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT

# Waits (with a deadline) for a pattern in a log file.
wait_for() {  # file pattern seconds
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    if ((SECONDS > deadline)); then echo "timed out waiting for '$2' in $1" >&2; tail -n 20 "$1" >&2; exit 1; fi
    sleep 0.2
  done
}

echo "== starting a private Tor network on 127.0.0.1 (about 20 s)"
python3 Tests/integration/tornet.py up --clients alice,bob --state "$run/tornet.json" \
  --base-dir "$run/tornet" >"$run/tornet.log" 2>&1 &
pids+=($!)
wait_for "$run/tornet.log" "tornet up" 120
port() { python3 -c "import json,sys; print(json.load(open('$run/tornet.json'))['clients']['$1']['$2'])"; }

for name in bob alice; do
  echo "== starting node $name (its tor: control port $(port $name control_port))"
  "$bin" init --data-dir "$run/$name" --mailbox "$name" | sed 's/^/   /'
  "$bin" serve --data-dir "$run/$name" --listen 127.0.0.1:0 \
    --tor-control "127.0.0.1:$(port $name control_port)" \
    --tor-socks "127.0.0.1:$(port $name socks_port_extended)" 2>"$run/$name.log" &
  pids+=($!)
done
for name in bob alice; do
  wait_for "$run/$name.log" "reachable as" 180
  echo "== node $name is published:"
  grep -E "authenticated to tor|onion service added|HS_DESC UPLOADED|onion service published|reachable as|proof of work required" \
    "$run/$name.log" | sed 's/^/   /'
done

bob_full=$("$bin" address --data-dir "$run/bob" bob | head -n 1)
alice_full=$("$bin" address --data-dir "$run/alice" alice | head -n 1)
echo "== alice ($alice_full)"
echo "   sends to bob ($bob_full) over Tor"
printf 'From: Alice <%s>\r\nTo: Bob <%s>\r\nSubject: hello over SMTorP\r\n\r\nHi Bob, this went through onion services only.\r\n' \
  "$alice_full" "$bob_full" |
  "$bin" send --data-dir "$run/alice" --tor-socks "127.0.0.1:$(port alice socks_port_extended)" \
    --from "$alice_full" --to "$bob_full" 2>&1 | sed 's/^/   /'

echo "== bob checked alice's proof of work (a stamp per recipient, minted on her worker threads)"
grep -E "POW stamp" "$run/bob.log" | sed 's/^/   /'
echo "== where it landed"
file=$(ls "$run/bob/Maildir/bob/new/"*)
echo "   $file"
sed 's/^/   | /' "$file"
echo "== stopping the nodes and the Tor network"
