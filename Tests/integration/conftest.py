"""Fixtures for the integration tests: a real `smtorp serve` process on
loopback, started in a fresh data directory, awaited by reading its log for
the "listening on" line (with a deadline, never a sleep), and stopped by pid.
"""
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from tor_fixtures import *  # noqa: F401,F403  the shared private Tor network

BIN = os.environ.get("SMTORP_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", ".build", "debug", "smtorp")
DEADLINE = 20.0


class Node:
    """One smtorp node process with its own data directory."""

    def __init__(self, data_dir, mailboxes=("alice", "bob"), extra=()):
        self.data_dir = str(data_dir)
        self.mailboxes = list(mailboxes)
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.log = []
        self._cond = threading.Condition()
        out = subprocess.run([BIN, "address", "--data-dir", self.data_dir, self.mailboxes[0]],
                             check=True, capture_output=True, text=True).stdout.split()
        self.full_address, self.short_address, self.onion = out
        self.fingerprint_label = self.full_address.split("@")[1].split(".")[0]

    def start(self):
        args = [BIN, "serve", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
                "--log-level", "debug"]
        if not any(a.startswith("--tor") for a in self.extra):
            args += ["--tor", "off"]  # loopback only: never try the public Tor network
        if "--pow" not in self.extra:
            # Proof of work is on by default in smtorp; tests of the SMTP
            # session talk to the node with plain clients (swaks, smtplib,
            # openssl) that mint no stamps. test_pow.py, the Tor end-to-end
            # and round-trip tests run with it on.
            args += ["--pow", "off"]
        for m in self.mailboxes:
            args += ["--mailbox", m]
        args += self.extra
        self.log = []
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self.reader.start()
        line = self.wait_for_log(r"listening on 127\.0\.0\.1:(\d+)")
        self.port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line).group(1))
        return self

    def _read(self, proc):
        for line in proc.stderr:
            with self._cond:
                self.log.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_log(self, pattern, deadline=DEADLINE, start=0):
        end = time.monotonic() + deadline
        rx = re.compile(pattern)
        with self._cond:
            i = start
            while True:
                while i < len(self.log):
                    if rx.search(self.log[i]):
                        return self.log[i]
                    i += 1
                if self.proc.poll() is not None and i >= len(self.log) and not self.reader.is_alive():
                    # exited, and every line it wrote has been read (EOF)
                    raise AssertionError("smtorp exited (%s) before %r:\n%s"
                                         % (self.proc.returncode, pattern, "".join(self.log)))
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %r within %ss:\n%s" % (pattern, deadline, "".join(self.log)))
                self._cond.wait(min(left, 0.2))

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def address(self, mailbox, full=False):
        return mailbox + "@" + (self.fingerprint_label + "." + self.onion if full else self.onion)

    def maildir_files(self, mailbox, sub="new"):
        d = os.path.join(self.data_dir, "Maildir", mailbox, sub)
        if not os.path.isdir(d):
            return []
        return sorted(os.path.join(d, f) for f in os.listdir(d))

    def all_stored(self):
        root = os.path.join(self.data_dir, "Maildir")
        found = []
        for dirpath, _, files in os.walk(root):
            found += [os.path.join(dirpath, f) for f in files]
        return found


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path / "node").start()
    yield n
    n.stop()


def tls_context():
    """A client context that accepts the node's self-signed certificate
    (pinning by fingerprint is the SMTorP client's job, tested elsewhere)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_connect(port, timeout=DEADLINE):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return tls_context().wrap_socket(raw)


def read_reply(sock_file):
    """Reads one (possibly multi-line) SMTP reply; returns (code, [lines])."""
    lines = []
    while True:
        line = sock_file.readline()
        if not line:
            raise AssertionError("connection closed while reading a reply; got %r" % lines)
        line = line.decode().rstrip("\r\n")
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return int(line[:3]), lines


def stored_body(path):
    """The stored message without the Received header smtorp prepends."""
    data = open(path, "rb").read()
    assert data.startswith(b"Received: by "), data[:200]
    first, _, rest = data.partition(b"\r\n")
    assert rest.startswith(b"\t"), "Received header must fold onto one continuation line"
    _, _, body = rest.partition(b"\r\n")
    return first + b"\r\n" + rest.split(b"\r\n", 1)[0] + b"\r\n", body


def pytest_terminal_summary(terminalreporter):
    """Print the Tor timings the end-to-end tests recorded (for the notes)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "tor-timings.txt")
    if os.path.exists(path):
        terminalreporter.write_sep("-", "Tor timings")
        for line in open(path):
            terminalreporter.write_line(line.rstrip())
