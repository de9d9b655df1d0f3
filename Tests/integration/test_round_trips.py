"""Fewest round trips (issue 5): a counting SOCKS5 proxy between a sending
node and a receiving node counts the direction changes of one delivery.

With TLS from the first byte, EHLO sent in the client's first flight after
its handshake, PIPELINING and CHUNKING, one message with two recipients is:

    C: ClientHello                      S: ServerHello ... Finished
    C: Finished, EHLO                   S: 220 greeting, 250 EHLO reply
    C: MAIL, RCPT, RCPT, BDAT LAST + body, QUIT
    S: 250, 250, 250, 250 queued, 221

so at most 3 direction changes after the TLS handshake (SMTP with STARTTLS
needs about 8). The proxy parses TLS record types: it holds the server's
bytes that follow the handshake until the client's second encrypted record
(its EHLO) has arrived, so the count reflects what each side waited for and
not a race inside the proxy; a client that waited for the greeting would
never send that record and the test would fail at the deadline. No tor is
needed: the proxy connects straight to the receiving node's listener."""
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import BIN, Node


class CountingProxy:
    """SOCKS5 (RFC 1928/1929) server relaying every CONNECT to one local
    port and recording the flights of each connection."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = []  # one list of (direction, nbytes) per connection
        self.requests = []     # (username, host) per connection
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read(s, n):
        out = b""
        while len(out) < n:
            chunk = s.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    def _serve(self, c):
        r = self._read
        ver, nmethods = r(c, 2)
        methods = r(c, nmethods)
        assert 2 in methods
        c.sendall(b"\x05\x02")
        _, ulen = r(c, 2)
        user = r(c, ulen)
        plen = r(c, 1)[0]
        r(c, plen)
        c.sendall(b"\x01\x00")
        _, cmd, _, atyp = r(c, 4)
        host = r(c, r(c, 1)[0]).decode()
        r(c, 2)
        with self.lock:
            self.requests.append((user.decode(), host))
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        c.sendall(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        flights = []
        with self.lock:
            self.connections.append(flights)
        state = {"client_app_records": 0, "held": [], "buffer": b""}
        cond = threading.Condition()

        def note(direction, n):
            with cond:
                if flights and flights[-1][0] == direction:
                    flights[-1] = (direction, flights[-1][1] + n)
                else:
                    flights.append((direction, n))

        def client_to_server():
            try:
                while True:
                    data = c.recv(65536)
                    if not data:
                        break
                    note("C", len(data))
                    upstream.sendall(data)
                    buf = state["buffer"] + data
                    while len(buf) >= 5:  # TLS record headers: type, version, length
                        length = struct.unpack(">H", buf[3:5])[0]
                        if len(buf) < 5 + length:
                            break
                        if buf[0] == 0x17:
                            with cond:
                                state["client_app_records"] += 1
                                cond.notify_all()
                        buf = buf[5 + length:]
                    state["buffer"] = buf
            except OSError:
                pass
            finally:
                try:
                    upstream.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        def server_to_client():
            try:
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    with cond:
                        # after the client's Finished (1st encrypted record),
                        # hold the server's bytes until its 2nd (EHLO)
                        if state["client_app_records"] == 1:
                            cond.wait_for(lambda: state["client_app_records"] >= 2, timeout=10)
                    note("S", len(data))
                    c.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        t1 = threading.Thread(target=client_to_server, daemon=True)
        t2 = threading.Thread(target=server_to_client, daemon=True)
        t1.start()
        t2.start()
        t1.join()
        t2.join()
        c.close()
        upstream.close()

    def close(self):
        self.sock.close()


def wait_until(predicate, deadline=60, what="condition"):
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.05)


@pytest.fixture
def setup(tmp_path):
    # Proof of work on: stamps are minted before the connection, so they
    # cost no round trip.
    bob = Node(tmp_path / "bob", mailboxes=["bob", "carol"], extra=["--pow", "on"]).start()
    proxy = CountingProxy(bob.port)
    alice = Node(tmp_path / "alice", mailboxes=["alice"],
                 extra=["--tor", "off", "--tor-socks", "127.0.0.1:%d" % proxy.port]).start()
    alice.stop()  # queue first, then start, so every message is due at once
    yield alice, bob, proxy
    alice.stop()
    bob.stop()
    proxy.close()


def sendmail(node, *rcpts, seq):
    msg = ("Subject: rt %d\r\nX-Seq: %d\r\n\r\nbody %d\r\n" % (seq, seq, seq)).encode()
    r = subprocess.run([BIN, "sendmail", "--data-dir", node.data_dir, *rcpts], input=msg, capture_output=True)
    assert r.returncode == 0, r.stderr


def test_one_message_two_recipients_takes_three_direction_changes(setup):
    alice, bob, proxy = setup
    sendmail(alice, bob.address("bob", full=True), bob.address("carol", full=True), seq=1)
    alice.start()
    wait_until(lambda: bob.maildir_files("bob") and bob.maildir_files("carol"), what="delivery")
    alice.wait_for_log(r"queue: \S+ done, removed")  # the connection ended (221 read, closed)
    flights = list(proxy.connections[0])
    # The client's TLS close_notify after the 221 (one encrypted alert
    # record: 24 octets, two at most) is teardown: nobody waits for it.
    if flights[-1][0] == "C" and flights[-1][1] <= 48:
        flights.pop()
    after_handshake = len(flights) - 3  # C hello / S handshake / C finished+EHLO
    print("flights:", flights, "-> direction changes after the TLS handshake:", after_handshake)
    assert [d for d, _ in flights[:3]] == ["C", "S", "C"]
    assert after_handshake <= 3, flights
    assert sum("POW stamp accepted" in line for line in bob.log) == 2, "".join(bob.log)
    user, host = proxy.requests[0]
    assert host == bob.onion and user == bob.onion[:-6]  # only the onion, isolation per destination


def test_several_messages_to_one_onion_share_one_connection(setup):
    alice, bob, proxy = setup
    for i in range(5):
        sendmail(alice, bob.address("bob", full=True), seq=10 + i)
    alice.start()
    wait_until(lambda: len(bob.maildir_files("bob")) == 5, what="5 deliveries")
    assert len(proxy.connections) == 1, proxy.requests
    assert sum("POW stamp accepted" in line for line in bob.log) == 5, "".join(bob.log)
    flights = proxy.connections[0]
    print("5 messages, one connection, flights:", len(flights))
    # handshake (3) + greeting/EHLO reply + one round trip per message
    assert len(flights) <= 3 + 1 + 2 * 5 + 1
