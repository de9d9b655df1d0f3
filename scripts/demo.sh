#!/usr/bin/env bash
# The README's "main job": sets everything up, starts an smtorp node on
# loopback (implicit TLS, mailboxes alice and bob), delivers one message to
# alice's full SMTorP address with a real client (swaks), shows where it
# landed, and stops the node. (Delivery between two nodes over a private Tor
# network replaces the loopback client once Tor integration lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== building smtorp"
swift build --product smtorp 2>&1 | tail -n 1
bin="$(swift build --show-bin-path)/smtorp"

run=$(mktemp -d /tmp/smtorp-demo.XXXXXX)
node_pid=""
cleanup() {
  [[ -n "$node_pid" ]] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT

echo "== the node's addresses"
"$bin" address --data-dir "$run/node" alice
mapfile -t addresses < <("$bin" address --data-dir "$run/node" alice)
full=${addresses[0]}

echo "== starting the node"
"$bin" serve --data-dir "$run/node" --listen 127.0.0.1:0 --mailbox alice --mailbox bob \
  2> >(tee "$run/node.log" >&2) &
node_pid=$!
for _ in $(seq 1 200); do
  grep -q "listening on" "$run/node.log" 2>/dev/null && break
  kill -0 "$node_pid" 2>/dev/null || { echo "node exited" >&2; exit 1; }
  sleep 0.1   # polling the log, bounded by the loop count
done
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$run/node.log" | head -n1)
[[ -n "$port" ]] || { echo "the node did not start" >&2; exit 1; }

echo "== delivering a message to $full with swaks (TLS from the first byte)"
printf 'From: demo <demo@example.net>\r\nTo: %s\r\nSubject: hello from the smtorp demo\r\n\r\nIt works.\r\n' "$full" |
  swaks --tls-on-connect --server 127.0.0.1 --port "$port" --from demo@example.net --to "$full" \
        --data - --hide-informational

echo "== where it landed"
file=$(ls "$run/node/Maildir/alice/new/"*)
echo "$file"
cat "$file"
echo "== stopping the node"
kill -TERM "$node_pid"
wait "$node_pid" || true
node_pid=""
echo "== done"
