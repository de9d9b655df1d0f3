#!/usr/bin/env python3
"""A private Tor network on 127.0.0.1 for the smtorp integration tests.

`TorNetwork` starts directory authorities (default 1) and relays (default 4,
the smallest mix seen to carry onion services here), then any number of
client tors, each with a plain SocksPort, an `ExtendedErrors` SocksPort and a
cookie-authenticated ControlPort.  Nothing ever talks to the public Tor
network: every torrc names our own `DirAuthority` lines (so tor adds no
public fallbacks), `TestingTorNetwork 1`, and binds to 127.0.0.1 only.  Every
tor carries `__OwningControllerProcess <our pid>`, so it exits on its own if
this Python process dies.

Readiness is polled on each tor's control port under a deadline (bootstrap
100 %, the full consensus with every relay flagged HSDir, and for clients
enough directory info plus an established circuit), never awaited with a
fixed sleep.  See /work/shared/FACTS.md, "A private Tor network on loopback".

Also here: a tiny control-port client (`Controller`), a raw SOCKS5 client
(`socks_connect`, raising `SocksError` carrying the reply byte),
`wait_onion_published` (every HS_DESC upload of a service acknowledged) and
`onion_address` (a well-formed v3 address from a real ed25519 key).

Command line:
    python3 tornet.py up --clients alice,bob --state FILE   # run until SIGTERM/SIGINT
    python3 tornet.py selftest                              # start, check, print timings
"""

import argparse
import atexit
import base64
import binascii
import collections
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref

__all__ = [
    "TorNetwork", "TorNode", "TorClient", "Controller", "ControlError", "SocksError",
    "TorNetworkError", "socks_connect", "wait_onion_published", "onion_address",
    "random_onion_address", "ed25519_public_key", "EchoServer", "echo_roundtrip", "alloc_port",
]

TOR = os.environ.get("TOR_BIN", "tor")
TOR_GENCERT = os.environ.get("TOR_GENCERT_BIN", "tor-gencert")
POLL = 0.2            # pause between two readiness polls (under an overall deadline)
STOP_GRACE = 4.0      # seconds between SIGTERM and SIGKILL in stop()
# Voting interval, vote delay, dist delay in seconds, initial == regular (FACTS: the onion
# service time period is 24 voting intervals, so it must not change after the first consensus).
VOTING = (10, 2, 2)
# Seconds from authority launch to its first voting boundary (TestingV3AuthVotingStartOffset):
# the vote is 4 s earlier and must already hold the relays' descriptors (they arrive about
# 1 s after launch); the default wall-clock alignment put it 0-10 s away at random.
FIRST_CONSENSUS_AFTER = float(os.environ.get("TORNET_FIRST_CONSENSUS_AFTER", "8"))
# Also wait for every authority/relay to report bootstrap 100 % before starting clients
# (about 1-2 s more; holding the full consensus was enough in every run here).
INFRA_NEEDS_BOOTSTRAP = bool(int(os.environ.get("TORNET_INFRA_NEEDS_BOOTSTRAP", "0")))
RELOAD_EVERY = 3.0    # seconds between two SIGNAL RELOADs to a node lagging behind the consensus
DEBUG = bool(os.environ.get("TORNET_DEBUG"))   # print readiness polls to stderr


class TorNetworkError(Exception):
    """The network (or one tor) failed to start, died, or missed a deadline."""


class ControlError(Exception):
    """A control-port command got an error reply (4xx/5xx); `.code` and `.text` hold it."""

    def __init__(self, code, text):
        super().__init__("%s %s" % (code, text))
        self.code = code
        self.text = text


class SocksError(Exception):
    """A SOCKS5 exchange failed. `.reply` is the REP byte of the proxy's reply (an int),
    or None when the proxy closed or misbehaved before sending one; `.stage` says where."""

    def __init__(self, reply, stage, detail=""):
        what = "no reply" if reply is None else "reply 0x%02x" % reply
        super().__init__("SOCKS5 %s at %s%s" % (what, stage, (": " + detail) if detail else ""))
        self.reply = reply
        self.stage = stage


# --------------------------------------------------------------------------------------------
# Ports

_claimed_ports = set()
_claimed_lock = threading.Lock()
PORT_LOW, PORT_HIGH = 10000, 32000     # below the ephemeral range 32768-60999


def _bindable(port):
    """True when `port` can be bound on 127.0.0.1 right now (a plain bind test)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


class PortAllocator:
    """Hands out ports from a random base upwards, each checked bindable on 127.0.0.1 and
    never handed out twice by this process.  Two concurrent runs start at independent
    random bases, and a port another run already holds fails the bind test."""

    def __init__(self, low=PORT_LOW, high=PORT_HIGH):
        self.low, self.high = low, high
        self.cursor = random.randrange(low, high)

    def rebase(self):
        """Jump to a fresh random base (after a bind conflict)."""
        self.cursor = random.randrange(self.low, self.high)

    def get(self):
        """Return one free port."""
        for _ in range(self.high - self.low):
            p = self.cursor
            self.cursor = self.cursor + 1 if self.cursor + 1 < self.high else self.low
            with _claimed_lock:
                if p in _claimed_ports:
                    continue
                if _bindable(p):
                    _claimed_ports.add(p)
                    return p
        raise TorNetworkError("no free port in %d-%d" % (self.low, self.high))


_default_alloc = None


def alloc_port():
    """One free loopback port below 32768 (for test listeners such as an echo server)."""
    global _default_alloc
    if _default_alloc is None:
        _default_alloc = PortAllocator()
    return _default_alloc.get()


# --------------------------------------------------------------------------------------------
# Control port client

class Reply:
    """One control-port reply: `.code` (int, from the final line) and `.lines`, a list of
    (code, sep, text, data) with data the dot-decoded block after a `+` line, else None."""

    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][0])

    @property
    def text(self):
        """Text of the first line (for an event: 'HS_DESC UPLOADED ...')."""
        return self.lines[0][2]

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, [l[2] for l in self.lines])


class Controller:
    """A minimal Tor control-port client (control-spec.txt).

    A reader thread splits what tor sends into replies to our commands and asynchronous
    `650` events; events are kept in `.events` (a list, append-only) and can be awaited with
    `wait_event`.  Commands are serialised; each waits for its reply under a timeout."""

    def __init__(self, port, cookie_path=None, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(None)
        self._rfile = self.sock.makefile("rb")
        self._cmd_lock = threading.Lock()
        self._cond = threading.Condition()
        self._replies = collections.deque()
        self.events = []
        self.closed = False
        self.timeout = timeout
        self._thread = threading.Thread(target=self._reader, name="tor-control-%d" % port,
                                        daemon=True)
        self._thread.start()
        if cookie_path is not None:
            with open(cookie_path, "rb") as f:
                cookie = f.read()
            self.command("AUTHENTICATE " + binascii.hexlify(cookie).decode())

    # -- plumbing
    def _reader(self):
        """Reader thread: split the stream into replies (to the command queue) and 650 events."""
        lines = []
        try:
            while True:
                raw = self._rfile.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if len(line) < 4:
                    continue
                code, sep, text = line[:3], line[3], line[4:]
                data = None
                if sep == "+":
                    block = []
                    while True:
                        raw = self._rfile.readline()
                        if not raw:
                            break
                        d = raw.decode("utf-8", "replace").rstrip("\r\n")
                        if d == ".":
                            break
                        block.append(d[1:] if d.startswith("..") else d)
                    data = "\n".join(block)
                lines.append((code, sep, text, data))
                if sep == " ":
                    reply = Reply(lines)
                    lines = []
                    with self._cond:
                        if code == "650":
                            self.events.append(reply)
                        else:
                            self._replies.append(reply)
                        self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()

    def command(self, line, timeout=None):
        """Send one command line, return its `Reply`; raise ControlError on 4xx/5xx."""
        timeout = self.timeout if timeout is None else timeout
        with self._cmd_lock:
            if self.closed:
                raise ControlError(0, "control connection closed")
            self.sock.sendall(line.encode() + b"\r\n")
            end = time.monotonic() + timeout
            with self._cond:
                while not self._replies:
                    left = end - time.monotonic()
                    if self.closed:
                        raise ControlError(0, "control connection closed awaiting reply to %r"
                                           % line.split(" ")[0])
                    if left <= 0:
                        # A late reply would be taken for the next command's: give up on
                        # this connection.
                        self.close()
                        raise ControlError(0, "no reply to %r within %ss" % (line.split(" ")[0],
                                                                            timeout))
                    self._cond.wait(left)
                reply = self._replies.popleft()
        if reply.code >= 400:
            raise ControlError(reply.code, " ".join(l[2] for l in reply.lines))
        return reply

    def close(self):
        """Close the connection (onions it added without Flags=Detach go away with it)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- commands
    def getinfo(self, *keys):
        """GETINFO keys... -> {key: value} (multi-line values come from `+` data blocks)."""
        reply = self.command("GETINFO " + " ".join(keys))
        out = {}
        for code, sep, text, data in reply.lines:
            if "=" not in text:
                continue
            k, v = text.split("=", 1)
            out[k] = data if sep == "+" else v
        return out

    def signal(self, name):
        """SIGNAL name (RELOAD, NEWNYM, ...)."""
        self.command("SIGNAL " + name)

    def set_events(self, *names):
        """SETEVENTS names... (replaces the current subscription)."""
        self.command("SETEVENTS " + " ".join(names))

    def add_onion(self, ports, key="NEW:ED25519-V3", flags=()):
        """ADD_ONION key Flags=... Port=virt,target ... -> (service_id, private_key or None).

        `ports` maps virtual port -> target ("127.0.0.1:2525" or a port number)."""
        parts = ["ADD_ONION", key]
        if flags:
            parts.append("Flags=" + ",".join(flags))
        for virt, target in ports.items():
            if isinstance(target, int):
                target = "127.0.0.1:%d" % target
            parts.append("Port=%d,%s" % (virt, target))
        info = {}
        for _c, _s, text, _d in self.command(" ".join(parts)).lines:
            if "=" in text:
                k, v = text.split("=", 1)
                info[k] = v
        return info["ServiceID"], info.get("PrivateKey")

    def del_onion(self, service_id):
        """DEL_ONION service_id."""
        self.command("DEL_ONION " + service_id)

    # -- events
    def wait_event(self, predicate, timeout, since=0):
        """Wait until predicate(events[since:]) returns something truthy; return it.
        Raise TorNetworkError at the deadline or if the connection closes."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                got = predicate(self.events[since:])
                if got:
                    return got
                left = end - time.monotonic()
                if left <= 0:
                    raise TorNetworkError("event not seen within %ss" % timeout)
                if self.closed:
                    raise TorNetworkError("control connection closed while waiting for an event")
                self._cond.wait(min(left, 1.0))


def _connect_controller(node, deadline_at):
    """Connect and authenticate to `node`'s control port, retrying until the monotonic
    `deadline_at`; raise TorNetworkError if the tor process exits first."""
    last = None
    while True:
        node.check_alive()
        if os.path.exists(node.cookie_path):
            try:
                return Controller(node.control_port, node.cookie_path, timeout=5.0)
            except (OSError, ControlError) as e:
                last = e
        if time.monotonic() >= deadline_at:
            raise TorNetworkError("%s: control port %d not usable: %s\n%s"
                                  % (node.name, node.control_port, last, node.log_tail()))
        time.sleep(POLL)


# --------------------------------------------------------------------------------------------
# Nodes

class TorNode:
    """One tor process: `.name`, `.role` ('authority', 'relay' or 'client'), `.data_dir`,
    `.control_port`, `.cookie_path`, `.pid`, `.fingerprint` (relays), `.torrc`."""

    role_name = "node"

    def __init__(self, net, name, role=None):
        role = role or self.role_name
        self.net = net
        self.name = name
        self.role = role
        self.data_dir = os.path.join(net.base_dir, name)
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        self.torrc = os.path.join(self.data_dir, "torrc")
        self.cookie_path = os.path.join(self.data_dir, "control_auth_cookie")
        self.log_path = os.path.join(self.data_dir, "notice.log")
        self.proc = None
        self.fingerprint = None
        self.ports = {}
        self.ready_at = None
        self._ctl = None

    @property
    def pid(self):
        """Process id of the running tor (None before launch)."""
        return self.proc.pid if self.proc else None

    @property
    def control_port(self):
        """ControlPort on 127.0.0.1."""
        return self.ports.get("control")

    def alloc_ports(self):
        """Give this node fresh ports (see subclasses for which)."""
        self.ports = {"control": self.net.ports.get()}

    def common_lines(self):
        """torrc lines every node gets."""
        lines = [
            "TestingTorNetwork 1",
            "DataDirectory %s" % self.data_dir,
            "ControlPort 127.0.0.1:%d" % self.control_port,
            "CookieAuthentication 1",
            "CookieAuthFile %s" % self.cookie_path,
            "ShutdownWaitLength 0",
            "ClientUseIPv6 0",
            "GeoIPFile /dev/null",
            "GeoIPv6File /dev/null",
            "__OwningControllerProcess %d" % os.getpid(),
            "Log notice file %s" % self.log_path,
            "SafeLogging 0",
            "RunAsDaemon 0",
        ]
        return lines + self.net.dirauthority_lines()

    def role_lines(self):
        """torrc lines specific to the role."""
        return []

    def write_torrc(self):
        """(Re)write the torrc from the current ports and authority list."""
        with open(self.torrc, "w") as f:
            f.write("# written by tornet.py\n")
            f.write("\n".join(self.common_lines() + self.role_lines()) + "\n")

    def launch(self):
        """Write the torrc and start tor (in its own session, stdout/stderr to a file)."""
        self.write_torrc()
        if os.path.exists(self.cookie_path):
            os.unlink(self.cookie_path)
        out = open(os.path.join(self.data_dir, "stdout.log"), "ab")
        try:
            self.proc = subprocess.Popen([TOR, "-f", self.torrc, "--defaults-torrc",
                                          self.net.empty_file, "--hush"],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True)
        finally:
            out.close()
        self.net._register(self)

    def check_alive(self):
        """Raise TorNetworkError (with the log tail) if this tor has exited."""
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
            raise TorNetworkError("%s: tor exited (rc=%s)\n%s" % (self.name, rc, self.log_tail()))

    def bind_failed(self):
        """True if the tor exited because one of its ports was taken."""
        if self.proc is None or self.proc.poll() is None:
            return False
        tail = self.log_tail(4000)
        return "Address already in use" in tail or "Could not bind" in tail

    def log_tail(self, n=2500):
        """Last `n` characters of notice.log and stdout.log (for error messages)."""
        out = []
        for p in (self.log_path, os.path.join(self.data_dir, "stdout.log")):
            try:
                with open(p, "rb") as f:
                    f.seek(0, 2)
                    f.seek(max(0, f.tell() - n))
                    out.append("--- %s\n%s" % (p, f.read().decode("utf-8", "replace")))
            except OSError:
                pass
        return "\n".join(out)

    def controller(self, timeout=10.0):
        """A new authenticated `Controller` on this tor's control port (caller closes it)."""
        return Controller(self.control_port, self.cookie_path, timeout=timeout)

    def ctl(self, deadline_at=None):
        """A shared, cached controller used for polling (reconnects if closed)."""
        if self._ctl is None or self._ctl.closed:
            self._ctl = _connect_controller(self, deadline_at or time.monotonic() + 10)
        return self._ctl

    def close_ctl(self):
        """Close the cached polling controller."""
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None

    def stop(self, grace=STOP_GRACE):
        """Stop this one tor (SIGTERM, then SIGKILL after `grace` seconds)."""
        self.close_ctl()
        if getattr(self, "events", None) is not None:
            self.events.close()
            self.events = None
        p = self.proc
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def rss_kib(self):
        """Resident memory of this tor in KiB (0 if not running)."""
        try:
            with open("/proc/%d/status" % self.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, TypeError):
            pass
        return 0

    def state(self):
        """JSON-able description (for the state file)."""
        d = {"name": self.name, "role": self.role, "pid": self.pid, "data_dir": self.data_dir,
             "torrc": self.torrc, "log": self.log_path, "control_port": self.control_port,
             "cookie_path": self.cookie_path}
        names = {"or": "or_port", "dir": "dir_port", "socks": "socks_port",
                 "socks_ext": "socks_port_extended"}
        d.update({names[k]: v for k, v in self.ports.items() if k != "control"})
        if self.fingerprint:
            d["fingerprint"] = self.fingerprint
        return d


class TorRelay(TorNode):
    """A non-exit relay (also the base of authorities)."""

    role_name = "relay"

    def alloc_ports(self):
        self.ports = {"control": self.net.ports.get(), "or": self.net.ports.get()}

    def role_lines(self):
        return [
            "Nickname %s" % self.name,
            "SocksPort 0",
            "ORPort 127.0.0.1:%d" % self.ports["or"],
            "Address 127.0.0.1",
            "AssumeReachable 1",
            "ExitRelay 0",
            "ExitPolicy reject *:*",
            "MaxConsensusAgeForDiffs 2 minutes",
            "ServerDNSResolvConfFile %s" % self.net.resolv_conf,
            "ServerDNSDetectHijacking 0",
            "ServerDNSTestAddresses",
            "ContactInfo tornet test network",
        ]

    def make_identity(self):
        """Create the relay keys now and read the identity fingerprint (tor --list-fingerprint)."""
        out = subprocess.run([TOR, "--list-fingerprint", "--DataDirectory", self.data_dir,
                              "--ORPort", "127.0.0.1:%d" % self.ports["or"], "--Nickname", self.name,
                              "--defaults-torrc", self.net.empty_file, "-f", self.net.empty_file,
                              "--hush"], capture_output=True, text=True, timeout=60)
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == self.name:
                self.fingerprint = "".join(parts[1:])
                return self.fingerprint
        raise TorNetworkError("%s: tor --list-fingerprint failed:\n%s%s"
                              % (self.name, out.stdout, out.stderr))


class TorAuthority(TorRelay):
    """A v3 directory authority (also a relay)."""

    role_name = "authority"

    def alloc_ports(self):
        self.ports = {"control": self.net.ports.get(), "or": self.net.ports.get(),
                      "dir": self.net.ports.get()}
        self.v3ident = None

    def make_keys(self):
        """tor-gencert (identity + signing key + certificate) and the relay identity."""
        keys = os.path.join(self.data_dir, "keys")
        if os.path.isdir(keys):
            shutil.rmtree(keys)
        os.makedirs(keys, mode=0o700)
        out = subprocess.run([TOR_GENCERT, "--create-identity-key", "-m", "12",
                              "-a", "127.0.0.1:%d" % self.ports["dir"], "--passphrase-fd", "0"],
                             cwd=keys, input="tornet-passphrase\n", capture_output=True, text=True,
                             timeout=120)
        cert = os.path.join(keys, "authority_certificate")
        if out.returncode != 0 or not os.path.exists(cert):
            raise TorNetworkError("%s: tor-gencert failed:\n%s%s" % (self.name, out.stdout, out.stderr))
        with open(cert) as f:
            for line in f:
                if line.startswith("fingerprint "):
                    self.v3ident = line.split()[1].strip()
        self.make_identity()

    def dirauthority_line(self):
        """The DirAuthority line every torrc of the network carries for this authority."""
        return "DirAuthority %s orport=%d no-v2 v3ident=%s 127.0.0.1:%d %s" % (
            self.name, self.ports["or"], self.v3ident, self.ports["dir"], self.fingerprint)

    def role_lines(self):
        iv, vd, dd = VOTING
        return super().role_lines() + [
            "DirPort 127.0.0.1:%d" % self.ports["dir"],
            "AuthoritativeDirectory 1",
            "V3AuthoritativeDirectory 1",
            "TestingDirAuthVoteHSDir *",
            "TestingV3AuthInitialVotingInterval %d" % iv,
            "TestingV3AuthInitialVoteDelay %d" % vd,
            "TestingV3AuthInitialDistDelay %d" % dd,
            "V3AuthVotingInterval %d" % iv,
            "V3AuthVoteDelay %d" % vd,
            "V3AuthDistDelay %d" % dd,
            "V3AuthNIntervalsValid 2",
            "TestingV3AuthVotingStartOffset %d" % self.net.voting_offset,
        ]


class TorClient(TorNode):
    """A client tor: `.socks_port` (plain), `.socks_port_extended` (ExtendedErrors),
    `.control_port`, `.cookie_path`, `.data_dir`, `.pid`.

    Once ready it keeps one control connection subscribed to HS_DESC (`.events`), which
    `wait_onion_published` reads, so uploads are seen whichever connection added the onion."""

    events = None
    role_name = "client"

    @property
    def socks_port(self):
        """Plain SocksPort on 127.0.0.1."""
        return self.ports.get("socks")

    @property
    def socks_port_extended(self):
        """SocksPort with the ExtendedErrors flag (0xF0-0xF7 replies for onions)."""
        return self.ports.get("socks_ext")

    def alloc_ports(self):
        self.ports = {"control": self.net.ports.get(), "socks": self.net.ports.get(),
                      "socks_ext": self.net.ports.get()}

    def role_lines(self):
        return [
            "SocksPort 127.0.0.1:%d" % self.ports["socks"],
            "SocksPort 127.0.0.1:%d ExtendedErrors" % self.ports["socks_ext"],
        ]

    def open_events(self):
        """Open the HS_DESC event connection."""
        self.events = self.controller()
        self.events.set_events("HS_DESC")

    def event_mark(self):
        """Index of the next HS_DESC event (pass as `since` to wait_onion_published)."""
        return len(self.events.events) if self.events else 0

    def add_onion(self, ports, key="NEW:ED25519-V3", flags=("DiscardPK",)):
        """ADD_ONION on the client's long-lived event connection (so the onion lives until
        `del_onion` or stop) -> service id. `ports` maps virtual port -> target."""
        sid, _ = self.events.add_onion(ports, key=key, flags=flags)
        return sid

    def del_onion(self, service_id):
        """DEL_ONION on the event connection."""
        self.events.del_onion(service_id)


# --------------------------------------------------------------------------------------------
# The network

_live_networks = weakref.WeakSet()


def _stop_all_at_exit():
    """atexit hook: stop every network still alive in this process."""
    for net in list(_live_networks):
        try:
            net.stop()
        except Exception:
            pass


atexit.register(_stop_all_at_exit)


class TorNetwork:
    """A private Tor network on 127.0.0.1.

    net = TorNetwork(authorities=1, relays=4); alice = net.add_client("alice"); net.start()
    ... net.stop()   (or `with TorNetwork() as net:`)

    `base_dir` holds one data directory per tor (a fresh temporary directory by default; it
    is kept after stop() unless `remove_data=True`). `timings` records seconds from start()
    to: keys made, infrastructure ready (every authority/relay holds the full consensus),
    clients ready."""

    def __init__(self, authorities=1, relays=4, base_dir=None, remove_data=False):
        if authorities < 1:
            raise ValueError("need at least one authority")
        if authorities + relays < 4:
            raise ValueError("onion services need at least 4 relays in total (FACTS)")
        self.n_authorities = authorities
        self.n_relays = relays
        self._own_dir = base_dir is None
        self.base_dir = os.path.abspath(str(base_dir)) if base_dir else tempfile.mkdtemp(prefix="tornet-")
        os.makedirs(self.base_dir, exist_ok=True)
        self.remove_data = remove_data
        self.ports = PortAllocator()
        self.authorities = []
        self.relays = []
        self.clients = collections.OrderedDict()
        self.timings = {}
        self.started = False
        self.stopped = False
        self.started_at = None    # time.monotonic() when start() began
        self.voting_offset = 0    # TestingV3AuthVotingStartOffset, set by start()
        self._procs = []
        self._lock = threading.RLock()
        self.empty_file = os.path.join(self.base_dir, "empty-torrc")
        open(self.empty_file, "w").close()
        self.resolv_conf = os.path.join(self.base_dir, "resolv.conf")
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver 127.0.0.1\n")
        _live_networks.add(self)

    # -- bookkeeping
    def _register(self, node):
        """Remember a launched process so stop() reaps it."""
        self._procs.append((node.name, node.proc))

    def dirauthority_lines(self):
        """DirAuthority lines for every torrc (our authorities only)."""
        return [a.dirauthority_line() for a in self.authorities]

    @property
    def infrastructure(self):
        """Authorities and relays."""
        return self.authorities + self.relays

    def nodes(self):
        """Every node (authorities, relays, clients)."""
        return self.infrastructure + list(self.clients.values())

    # -- start
    def start(self, deadline=90):
        """Start authorities and relays, wait until each holds the full consensus, then start
        the clients added so far and wait until they are ready. Raise TorNetworkError (after
        stopping everything) if that takes longer than `deadline` seconds."""
        if self.started:
            return self
        if self.stopped:
            raise TorNetworkError("a stopped TorNetwork cannot be started again; make a new one")
        t0 = self._t0 = self.started_at = time.monotonic()
        end = t0 + deadline
        try:
            self._start_infrastructure(end, t0)
            self.timings["infrastructure_ready"] = time.monotonic() - t0
            self.started = True
            pending = [c for c in self.clients.values() if c.proc is None]
            if pending:
                self._start_clients(pending, end)
            self.timings["clients_ready"] = time.monotonic() - t0
        except BaseException:
            self.stop()
            raise
        return self

    def _start_infrastructure(self, end, t0):
        """Make authority keys, launch authorities then relays (new ports on a bind
        conflict), and wait for the full consensus everywhere."""
        # Authorities first: their ports are in every other torrc, so a bind conflict on an
        # authority is resolved (new ports, new keys) before anything else is written.
        for attempt in range(5):
            self.authorities = [TorAuthority(self, "auth%d" % i) for i in range(self.n_authorities)]
            for a in self.authorities:
                a.alloc_ports()
            self.relays = [TorRelay(self, "relay%d" % i) for i in range(self.n_relays)]
            errors = []

            def keys(a):
                try:
                    a.make_keys()
                except Exception as e:      # reported below
                    errors.append(e)
            threads = [threading.Thread(target=keys, args=(a,)) for a in self.authorities]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if errors:
                raise errors[0]
            self.timings["keys"] = time.monotonic() - t0
            # Put the first voting boundary FIRST_CONSENSUS_AFTER seconds from now instead of
            # at the next wall-clock multiple of the interval (0-10 s away, often too soon
            # for the relays' descriptors, so the first full consensus came one interval
            # later). The offset is constant, so the schedule never shifts afterwards.
            self.voting_offset = int(time.time() + FIRST_CONSENSUS_AFTER + 0.999) % VOTING[0]
            for a in self.authorities:
                a.launch()
            if self._await_control(self.authorities, end):
                break
            for a in self.authorities:
                a.stop(grace=1)
            self.ports.rebase()
        else:
            raise TorNetworkError("authorities could not bind their ports")
        for r in self.relays:
            r.alloc_ports()
        for attempt in range(5):
            for r in self.relays:
                if r.proc is None:
                    r.launch()
            failed = [r for r in self.relays if not self._await_control([r], end)]
            if not failed:
                break
            self.ports.rebase()
            for r in failed:
                r.alloc_ports()
                r.proc = None
        else:
            raise TorNetworkError("relays could not bind their ports")
        self._wait_consensus(end)

    def _await_control(self, nodes, end):
        """Wait until each node's control port answers. False if one died of a bind conflict
        (caller picks new ports), TorNetworkError for any other failure."""
        for n in nodes:
            try:
                n.ctl(end)
            except TorNetworkError:
                if n.bind_failed():
                    return False
                raise
        return True

    def _consensus_status(self, node):
        """(bootstrapped, relays in its consensus, relays flagged HSDir) for one node."""
        ctl = node.ctl()
        info = ctl.getinfo("status/bootstrap-phase")
        boot = "PROGRESS=100" in info.get("status/bootstrap-phase", "")
        try:
            ns = ctl.getinfo("ns/all").get("ns/all") or ""
        except ControlError:
            ns = ""
        routers = hsdirs = 0
        for line in ns.splitlines():
            if line.startswith("r "):
                routers += 1
            elif line.startswith("s ") and "HSDir" in line.split():
                hsdirs += 1
        return boot, routers, hsdirs

    def _wait_consensus(self, end):
        """Poll every authority and relay until it is bootstrapped and its consensus lists
        every relay with the HSDir flag; nudge laggards with SIGNAL RELOAD."""
        total = len(self.infrastructure)
        some_full = False
        last_reload = {}
        while True:
            missing = []
            for n in self.infrastructure:
                n.check_alive()
                boot, routers, hsdirs = self._consensus_status(n)
                full = routers == total and hsdirs == total
                some_full = some_full or full
                if full and (boot or not INFRA_NEEDS_BOOTSTRAP):
                    if n.ready_at is None:
                        n.ready_at = time.monotonic()
                        self.timings["%s_ready" % n.name] = n.ready_at - self._t0
                else:
                    n.ready_at = None
                    missing.append((n, boot, full, routers, hsdirs))
            now = time.monotonic()
            if DEBUG:
                print("tornet %.1f: waiting for %s" % (now - self._t0, " ".join(
                    "%s(boot=%s,routers=%d,hsdir=%d)" % (n.name, b, r, h)
                    for n, b, _f, r, h in missing)), file=sys.stderr)
            if not missing:
                for n in self.infrastructure:
                    n.close_ctl()
                return
            # Once some node holds the full consensus, a node still without it is most likely
            # in its download back-off after the authority's early 404s: reset that back-off
            # with SIGNAL RELOAD (FACTS), at once and every RELOAD_EVERY seconds while it lags.
            if some_full:
                for n, _b, full, _r, _h in missing:
                    if not full and now - last_reload.get(n.name, -1e9) >= RELOAD_EVERY:
                        n.ctl().signal("RELOAD")
                        last_reload[n.name] = now
                        self.timings["reloads"] = self.timings.get("reloads", 0) + 1
            if now >= end:
                raise TorNetworkError("no full consensus within the deadline: %s" % ", ".join(
                    "%s(boot=%s routers=%d hsdir=%d)" % (n.name, b, r, h)
                    for n, b, _f, r, h in missing))
            time.sleep(POLL)

    def _start_clients(self, clients, end):
        """Launch clients (new ports on a bind conflict) and wait until each has bootstrapped,
        has enough directory info and an established circuit; then open its event connection."""
        for attempt in range(5):
            for c in clients:
                if c.proc is None:
                    c.alloc_ports()
                    c.launch()
            failed = [c for c in clients if not self._await_control([c], end)]
            if not failed:
                break
            self.ports.rebase()
            for c in failed:
                c.proc = None
        else:
            raise TorNetworkError("clients could not bind their ports")
        while True:
            waiting = []
            for c in clients:
                if c.ready_at is not None:
                    continue
                c.check_alive()
                info = c.ctl().getinfo("status/bootstrap-phase", "status/enough-dir-info",
                                       "status/circuit-established")
                if ("PROGRESS=100" in info.get("status/bootstrap-phase", "")
                        and info.get("status/enough-dir-info") == "1"
                        and info.get("status/circuit-established") == "1"):
                    c.ready_at = time.monotonic()
                    c.close_ctl()
                    c.open_events()
                else:
                    waiting.append((c, info))
            if not waiting:
                return
            if time.monotonic() >= end:
                raise TorNetworkError("clients not ready within the deadline: %s" % "; ".join(
                    "%s %s" % (c.name, i) for c, i in waiting))
            time.sleep(POLL)

    def add_client(self, name, deadline=60):
        """Add a client tor named `name` and return its TorClient. Before start() it is only
        recorded (start() starts it); afterwards it is started now and awaited."""
        return self.add_clients(name, deadline=deadline)[0]

    def add_clients(self, *names, deadline=60):
        """Add several clients at once (started in parallel if the network runs) -> list."""
        with self._lock:
            taken = set(self.clients) | {n.name for n in self.infrastructure}
            for name in names:
                if not name or not all(ch.isalnum() or ch in "-_" for ch in name):
                    raise ValueError("client name %r: letters, digits, '-' and '_' only" % name)
                if name in taken or names.count(name) > 1:
                    raise ValueError("node %r exists" % name)
            new = [TorClient(self, name) for name in names]
            for c in new:
                self.clients[c.name] = c
            if self.started:
                t0 = time.monotonic()
                try:
                    self._start_clients(new, t0 + deadline)
                except BaseException:
                    for c in new:
                        c.stop()
                        del self.clients[c.name]
                    raise
                self.timings["client_%s_ready" % "+".join(names)] = time.monotonic() - t0
            return new

    def client(self, name, deadline=60):
        """The client called `name`, added (and started if the network runs) on first use."""
        return self.clients_named(name, deadline=deadline)[0]

    def clients_named(self, *names, deadline=60):
        """The clients called `names`; missing ones are added together (in parallel)."""
        with self._lock:
            missing = [n for n in dict.fromkeys(names) if n not in self.clients]
            if missing:
                self.add_clients(*missing, deadline=deadline)
            return [self.clients[n] for n in names]

    # -- stop
    def stop(self):
        """SIGTERM every tor, SIGKILL whatever is left after a few seconds, reap them all.
        Data directories stay unless remove_data=True. Safe to call repeatedly."""
        with self._lock:
            for n in self.nodes():
                n.close_ctl()
                if isinstance(n, TorClient) and n.events is not None:
                    n.events.close()
                    n.events = None
            procs = [p for _n, p in self._procs if p.poll() is None]
            for p in procs:
                try:
                    p.send_signal(signal.SIGTERM)
                except OSError:
                    pass
            end = time.monotonic() + STOP_GRACE
            for p in procs:
                try:
                    p.wait(max(0.01, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            for p in procs:
                if p.poll() is None:
                    try:
                        p.kill()
                    except OSError:
                        pass
                    p.wait()
            self._procs = []
            if self.started_at is not None:
                self.stopped = True
            self.started = False
            if self.remove_data and os.path.isdir(self.base_dir):
                shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        """Last resort: kill whatever tor is left (stop() is the proper way)."""
        try:
            for _n, p in getattr(self, "_procs", []):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        except Exception:
            pass

    # -- info
    def rss_kib(self):
        """Sum of resident memory of every tor, KiB."""
        return sum(n.rss_kib() for n in self.nodes())

    def state(self):
        """JSON-able description of the whole network (the `up` state file)."""
        return {
            "base_dir": self.base_dir,
            "owner_pid": os.getpid(),
            "authorities": [n.state() for n in self.authorities],
            "relays": [n.state() for n in self.relays],
            "clients": {name: c.state() for name, c in self.clients.items()},
            "timings": self.timings,
        }



# --------------------------------------------------------------------------------------------
# Onion services

def wait_onion_published(client, service_id, deadline=30, since=0, min_uploaded=2):
    """Wait until the onion `service_id` (hosted by `client`) is published: both of its
    descriptors (current and next time period, told apart by the blinded key in UPLOAD
    events) were sent, every UPLOAD to an HSDir was answered (UPLOADED or FAILED), and at
    least `min_uploaded` were UPLOADED. Events before index `since` are ignored (see
    TorClient.event_mark). Return {'uploads', 'uploaded', 'failed', 'seconds'}; raise
    TorNetworkError at the deadline."""
    sid = service_id[:-6] if service_id.endswith(".onion") else service_id
    t0 = time.monotonic()

    def published(events):
        uploads = collections.Counter()
        answered = collections.Counter()
        descids = set()
        ok = failed = 0
        for ev in events:
            f = ev.text.split()
            if len(f) < 5 or f[0] != "HS_DESC" or f[2] != sid:
                continue
            hsdir = f[4].split("~")[0].split("=")[0]
            if f[1] == "UPLOAD":
                uploads[hsdir] += 1
                if len(f) > 5:
                    descids.add(f[5])
            elif f[1] == "UPLOADED":
                answered[hsdir] += 1
                ok += 1
            elif f[1] == "FAILED":
                answered[hsdir] += 1
                failed += 1
        pending = sum(max(0, uploads[h] - answered[h]) for h in uploads)
        if len(descids) >= 2 and pending == 0 and ok >= min_uploaded:
            return {"uploads": sum(uploads.values()), "uploaded": ok, "failed": failed,
                    "seconds": time.monotonic() - t0}
        return None

    try:
        return client.events.wait_event(published, deadline, since=since)
    except TorNetworkError:
        seen = [e.text for e in client.events.events[since:] if sid in e.text]
        raise TorNetworkError("onion %s not published within %ss; events: %s"
                              % (sid, deadline, seen))


# ed25519 (RFC 8032) public key from a seed, enough to make a valid v3 address: Tor rejects
# onion addresses whose 32 bytes are not a valid ed25519 point ("bad pubkey").
_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_BY = 4 * pow(5, _P - 2, _P) % _P
_BX = None


def _recover_x(y, sign):
    """x coordinate of the ed25519 point with this y and sign bit."""
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if x & 1 != sign:
        x = _P - x
    return x


def _pt_add(a, b):
    """Add two ed25519 points in extended coordinates."""
    (X1, Y1, Z1, T1), (X2, Y2, Z2, T2) = a, b
    A = (Y1 - X1) * (Y2 - X2) % _P
    B = (Y1 + X1) * (Y2 + X2) % _P
    C = 2 * T1 * T2 * _D % _P
    Dd = 2 * Z1 * Z2 % _P
    E, F, G, H = B - A, Dd - C, Dd + C, B + A
    return (E * F % _P, G * H % _P, F * G % _P, E * H % _P)


def ed25519_public_key(seed):
    """The 32-byte ed25519 public key for a 32-byte seed (RFC 8032, pure Python)."""
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    bx = _recover_x(_BY, 0)
    q = (0, 1, 1, 0)
    p = (bx, _BY, 1, bx * _BY % _P)
    while a:
        if a & 1:
            q = _pt_add(q, p)
        p = _pt_add(p, p)
        a >>= 1
    zi = pow(q[2], _P - 2, _P)
    x, y = q[0] * zi % _P, q[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def onion_address(pubkey):
    """v3 onion address (56 base32 characters, without '.onion') for a 32-byte ed25519 key:
    base32(pubkey | SHA3-256('.onion checksum' | pubkey | 0x03)[:2] | 0x03), lower case."""
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return base64.b32encode(pubkey + checksum + b"\x03").decode().lower()


def random_onion_address():
    """A well-formed v3 onion address (valid key and checksum) that nobody publishes."""
    return onion_address(ed25519_public_key(os.urandom(32)))


# --------------------------------------------------------------------------------------------
# SOCKS5

def _recv_exact(sock, n, stage):
    """Read exactly n bytes or raise SocksError(None, stage)."""
    buf = b""
    while len(buf) < n:
        try:
            chunk = sock.recv(n - len(buf))
        except socket.timeout:
            raise SocksError(None, stage, "timeout")
        except OSError as e:
            raise SocksError(None, stage, str(e))
        if not chunk:
            raise SocksError(None, stage, "connection closed after %d bytes" % len(buf))
        buf += chunk
    return buf


def socks_connect(port, host, dest_port, username=None, password=None, timeout=60,
                  proxy_host="127.0.0.1"):
    """Open a TCP stream to host:dest_port through the SOCKS5 proxy at proxy_host:port
    (RFC 1928, ATYP 3 domain name; RFC 1929 username/password if `username` is given).
    Return the connected socket (timeout still set), or raise SocksError whose `.reply` is
    the proxy's REP byte (0x04 host unreachable, 0xF0 onion descriptor not found, ...)."""
    sock = socket.create_connection((proxy_host, port), timeout=timeout)
    try:
        method = 0x02 if username is not None else 0x00
        sock.sendall(bytes([5, 1, method]))
        ver, chosen = _recv_exact(sock, 2, "method selection")
        if ver != 5 or chosen != method:
            raise SocksError(None, "method selection", "proxy chose method 0x%02x" % chosen)
        if method == 0x02:
            u = username.encode() if isinstance(username, str) else username
            p = (password or "").encode() if isinstance(password or "", str) else password
            sock.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
            _v, status = _recv_exact(sock, 2, "authentication")
            if status != 0:
                raise SocksError(status, "authentication")
        if isinstance(host, str):
            try:
                h = host.encode("ascii")      # sent exactly as given (case, labels, junk)
            except UnicodeEncodeError:
                h = host.encode("idna")
        else:
            h = host
        sock.sendall(bytes([5, 1, 0, 3, len(h)]) + h + dest_port.to_bytes(2, "big"))
        ver, rep, _rsv, atyp = _recv_exact(sock, 4, "connect reply")
        alen = {1: 4, 4: 16}.get(atyp)
        if alen is None and atyp == 3:
            alen = _recv_exact(sock, 1, "connect reply address")[0]
        if rep != 0:
            raise SocksError(rep, "connect")
        if alen is None:
            raise SocksError(None, "connect reply", "address type %d" % atyp)
        _recv_exact(sock, alen + 2, "connect reply address")
        return sock
    except BaseException:
        sock.close()
        raise


# --------------------------------------------------------------------------------------------
# A tiny TCP echo server (what the throw-away onion points at)

class EchoServer:
    """Echoes every byte back, one thread per connection, on 127.0.0.1:`.port`."""

    def __init__(self, port=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(20):
            self.port = port or alloc_port()
            try:
                self.sock.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if port:
                    raise
        self.sock.listen(16)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        """Accept loop (one thread per connection)."""
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        """Echo until the peer closes."""
        with c:
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        return
                    c.sendall(d)
            except OSError:
                return

    def close(self):
        """Stop accepting."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def echo_roundtrip(sock, payload=None):
    """Send `payload` on `sock` and return what comes back (same length)."""
    payload = payload or os.urandom(16).hex().encode()
    sock.sendall(payload)
    got = b""
    while len(got) < len(payload):
        d = sock.recv(65536)
        if not d:
            break
        got += d
    return got == payload


# --------------------------------------------------------------------------------------------
# CLI

def _write_state(net, path):
    """Write the network state as JSON, atomically (rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(net.state(), f, indent=2)
    os.replace(tmp, path)


def cmd_up(args):
    """`up`: start, write the state file, run until SIGTERM/SIGINT, then stop everything."""
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda *_: stop.set())
    net = TorNetwork(authorities=args.authorities, relays=args.relays, base_dir=args.base_dir,
                     remove_data=args.remove_data)
    try:
        for name in [c for c in (args.clients or "").split(",") if c]:
            net.add_client(name)
        net.start(deadline=args.deadline)
        if args.state:
            _write_state(net, os.path.abspath(args.state))
        print("tornet up in %.1f s: %s" % (net.timings["clients_ready"], json.dumps(
            {n: {"socks_port": c.socks_port, "socks_port_extended": c.socks_port_extended,
                 "control_port": c.control_port} for n, c in net.clients.items()})), flush=True)
        while not stop.is_set():
            stop.wait(1.0)
            for n in net.nodes():
                if n.proc.poll() is not None:
                    print("tornet: %s exited (rc=%s), stopping" % (n.name, n.proc.returncode),
                          file=sys.stderr, flush=True)
                    return 1
        return 0
    finally:
        net.stop()
        if args.state and os.path.exists(args.state):
            os.unlink(args.state)


def selftest(rounds=1, verbose=True):
    """Start a network with clients alice and bob, publish a throw-away onion on alice,
    reach it from bob, check the SOCKS replies for unpublished and malformed onions, print
    timings, stop. Return a dict of timings."""
    say = print if verbose else (lambda *a, **k: None)
    results = {}
    t0 = time.monotonic()
    net = TorNetwork()
    try:
        alice = net.add_client("alice")
        bob = net.add_client("bob")
        net.start()
        results.update(net.timings)
        say("network: keys %.1f s, infrastructure %.1f s, clients %.1f s"
            % (net.timings["keys"], net.timings["infrastructure_ready"], net.timings["clients_ready"]))
        with EchoServer() as echo:
            for i in range(rounds):
                mark = alice.event_mark()
                ta = time.monotonic()
                sid = alice.add_onion({25: echo.port})
                pub = wait_onion_published(alice, sid, 30, since=mark)
                tp = time.monotonic() - ta
                s = socks_connect(bob.socks_port_extended, sid + ".onion", 25, timeout=30)
                tc = time.monotonic() - ta
                ok = echo_roundtrip(s)
                s.close()
                say("onion %d: published (%d/%d uploads acked) %.2f s, first connect %.2f s, echo %s"
                    % (i, pub["uploaded"], pub["uploads"], tp, tc, ok))
                results.setdefault("publish", []).append(tp)
                results.setdefault("connect", []).append(tc)
                if i == 0:
                    results["start_to_usable"] = time.monotonic() - t0
                    say("start to usable: %.1f s" % results["start_to_usable"])
        for port, label in ((bob.socks_port_extended, "extended"), (bob.socks_port, "plain")):
            tu = time.monotonic()
            try:
                socks_connect(port, random_onion_address() + ".onion", 25, timeout=60).close()
                rep = 0
            except SocksError as e:
                rep = e.reply
            say("unpublished onion via %s port: reply 0x%02x in %.2f s"
                % (label, rep if rep is not None else 0xff, time.monotonic() - tu))
            try:
                socks_connect(port, "x" * 56 + ".onion", 25, timeout=30).close()
                rep = 0
            except SocksError as e:
                rep = e.reply
            say("malformed onion via %s port: reply 0x%02x" % (label, rep if rep is not None else 0xff))
        results["rss_mib"] = net.rss_kib() / 1024
        say("memory (RSS of all tors): %.0f MiB" % results["rss_mib"])
    finally:
        net.stop()
        shutil.rmtree(net.base_dir, ignore_errors=True)
    return results


def main(argv=None):
    """Command-line entry point (`up`, `selftest`)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a network and keep it running until SIGTERM/SIGINT")
    up.add_argument("--clients", default="", help="comma-separated client names")
    up.add_argument("--state", help="write a JSON state file here (removed on exit)")
    up.add_argument("--authorities", type=int, default=1)
    up.add_argument("--relays", type=int, default=4)
    up.add_argument("--base-dir", help="data directories here (default: a new temp dir)")
    up.add_argument("--remove-data", action="store_true", help="delete data dirs on exit")
    up.add_argument("--deadline", type=float, default=90)
    st = sub.add_parser("selftest", help="start, publish and reach an onion, print timings")
    st.add_argument("--rounds", type=int, default=1, help="throw-away onions to time")
    args = ap.parse_args(argv)
    if args.cmd == "up":
        return cmd_up(args)
    selftest(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
