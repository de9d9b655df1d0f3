#!/usr/bin/env python3
"""Benchmark (not a test): messages per second through the whole outbound
path — smtorp sendmail → queue → smtorp serve → Tor (private network on
loopback) → the receiving nodes' Maildirs — with 1 and with 10 destination
onions. Prints the figures; run after `swift build`:

    python3 scripts/bench-delivery.py [--messages 200]

All runs use the same private Tor network and sending node, one after the
other, so their ratios are meaningful on a noisy shared machine. The first
two go to nodes with proof of work off (the transport alone); the third to
one node that requires it at the default effort (eqh96-5 at 8), so that the
sender mints a stamp per message on its worker threads."""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "integration"))
import tornet  # noqa: E402
from conftest import BIN, Node  # noqa: E402
import subprocess  # noqa: E402


def external(client):
    return ["--tor-control", "127.0.0.1:%d" % client.control_port,
            "--tor-socks", "127.0.0.1:%d" % client.socks_port_extended]


def run(sender, receivers, total):
    sender.stop()
    for i in range(total):
        r = receivers[i % len(receivers)]
        msg = ("Subject: bench %d\r\n\r\n" % i + "x" * 5000 + "\r\n").encode()  # 5 KB, as FACTS' anchors
        subprocess.run([BIN, "sendmail", "--data-dir", sender.data_dir, r.address(r.mailboxes[0], full=True)],
                       input=msg, check=True, capture_output=True)
    before = sum(len(r.maildir_files(r.mailboxes[0])) for r in receivers)
    t0 = time.monotonic()
    sender.start()
    sender.wait_for_log(r"reachable as", deadline=120)
    t1 = time.monotonic()
    while sum(len(r.maildir_files(r.mailboxes[0])) for r in receivers) < before + total:
        if time.monotonic() - t1 > 600:
            raise SystemExit("timed out")
        time.sleep(0.05)
    t2 = time.monotonic()
    return total / (t2 - t1), t2 - t1, t1 - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="smtorp-bench-")
    net = tornet.TorNetwork(base_dir=os.path.join(base, "tornet"))
    net.start()
    try:
        names = ["s"] + ["r%d" % i for i in range(10)] + ["p"]
        clients = net.clients_named(*names)
        sender = Node(os.path.join(base, "s"), mailboxes=["s"], extra=external(clients[0])).start()
        receivers = [Node(os.path.join(base, n), mailboxes=[n], extra=external(c)).start()
                     for n, c in zip(names[1:-1], clients[1:-1])]
        pow_receiver = Node(os.path.join(base, "p"), mailboxes=["p"],
                            extra=external(clients[-1]) + ["--pow", "on"]).start()
        for r in receivers + [pow_receiver]:
            r.wait_for_log(r"reachable as", deadline=120)
        rows = []
        for label, targets in (("1 destination", receivers[:1]), ("10 destinations", receivers),
                               ("1 destination, POW", [pow_receiver])):
            rate, secs, startup = run(sender, targets, args.messages)
            rows.append((label, rate, secs, startup))
        print("messages of 5 KB through sendmail -> queue -> Tor -> Maildir (fsync), %d per run" % args.messages)
        for label, rate, secs, startup in rows:
            print("  %-19s %6.1f msg/s  (%5.1f s for the batch, sender ready in %.1f s)"
                  % (label + ":", rate, secs, startup))
        print("  ratio 10/1: %.2f" % (rows[1][1] / rows[0][1]))
        print("  ratio POW/no POW (1 destination, eqh96-5 effort 8, %d solver threads): %.2f"
              % (os.cpu_count() or 1, rows[2][1] / rows[0][1]))
        for node in [sender] + receivers + [pow_receiver]:
            node.stop()
    finally:
        net.stop()


if __name__ == "__main__":
    main()
