"""End-to-end tests of the receiving node: a real `smtorp serve` on loopback
against real clients (swaks, Python smtplib, openssl s_client, raw TLS
sockets). Issue 2's "must show" items 2, 3, 5, 6 and 7 live here."""
import os
import re
import signal
import smtplib
import socket
import subprocess

import pytest

from conftest import Node, read_reply, stored_body, tls_connect, tls_context, BIN

MESSAGE = (
    "From: Sender <sender@example.net>\r\n"
    "To: Alice <alice@example.onion>\r\n"
    "Subject: hello over SMTorP\r\n"
    "Message-ID: <1@example.net>\r\n"
    "\r\n"
    "First line.\r\n"
    ".A line starting with a dot (dot-stuffed on the wire).\r\n"
    "..Two dots.\r\n"
    "\r\n"
    "Last line.\r\n"
)


def stuffed(text):
    """Dot-stuffs message text for sending raw after DATA (RFC 5321 4.5.2)."""
    return "".join("." + l if l.startswith(".") else l for l in text.splitlines(keepends=True))


def only_file(node, mailbox):
    files = node.maildir_files(mailbox)
    assert len(files) == 1, (files, "".join(node.log))
    return files[0]


def check_received(header, node):
    """The whole header has exactly this shape: the onion, the protocol, an
    id and a UTC date; so no IP address, host name (not even the client's
    EHLO argument) or local time zone can be in it."""
    text = header.decode()
    rx = (r"Received: by %s with ESMTPS id [a-z2-7]{16};\r\n"
          r"\t(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n\Z"
          % re.escape(node.onion))
    assert re.match(rx, text), text


def test_swaks_tls_on_connect_delivers(node):
    r = subprocess.run(
        ["swaks", "--tls-on-connect", "--server", "127.0.0.1", "--port", str(node.port),
         "--from", "sender@example.net", "--to", node.address("alice", full=True),
         "--helo", "client.example", "--data", "-"],
        # swaks ends the data with its own CRLF before ".": give it the
        # message without its last CRLF so what it sends is exactly MESSAGE.
        input=MESSAGE.encode()[:-2], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    header, body = stored_body(only_file(node, "alice"))
    assert body == MESSAGE.encode()
    check_received(header, node)
    assert b"client.example" not in header
    assert node.maildir_files("bob") == []


def test_python_smtplib_smtp_ssl_delivers(node):
    with smtplib.SMTP_SSL("127.0.0.1", node.port, context=tls_context(), timeout=30) as s:
        code, caps = s.ehlo()
        assert code == 250
        for ext in (b"PIPELINING", b"SIZE 10240000", b"8BITMIME", b"ENHANCEDSTATUSCODES",
                    b"SMTPUTF8", b"CHUNKING"):
            assert ext in caps, caps
        assert b"STARTTLS" not in caps
        refused = s.sendmail("sender@example.net", [node.address("bob"), node.address("alice")],
                             MESSAGE.encode())
        assert refused == {}
    for mailbox in ("alice", "bob"):
        header, body = stored_body(only_file(node, mailbox))
        assert body == MESSAGE.encode()
        check_received(header, node)


def test_cleartext_client_gets_no_greeting_and_nothing_is_stored(node):
    with socket.create_connection(("127.0.0.1", node.port), timeout=20) as s:
        s.sendall(b"EHLO cleartext.example\r\nMAIL FROM:<a@b.example>\r\n")
        received = b""
        while True:  # until the server closes (the event), bounded by the socket timeout
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:  # closed with our bytes unread: also a close
                break
            if not chunk:
                break
            received += chunk
    assert b"220" not in received
    node.wait_for_log(r"TLS handshake failed")
    assert node.all_stored() == []


def s_client(port, *flags):
    return subprocess.run(
        ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-crlf", "-brief", "-ign_eof", *flags],
        input=b"QUIT\n", capture_output=True, timeout=30)


def test_tls_1_1_is_refused_1_2_and_1_3_work(node):
    old = s_client(node.port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    out = (old.stdout + old.stderr).decode(errors="replace")
    assert old.returncode != 0
    assert "protocol version" in out, out  # the server's alert, not a client-side refusal
    assert "220 " not in out
    for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        r = s_client(node.port, flag)
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert "Protocol version: " + name in out, out
        assert "220 " + node.onion + " ESMTP" in out, out
        assert "221 2.0.0" in out, out


RELAY_TRICKS = [
    "user@other.example",
    "alice@other.example",
    "alice%other.example@{onion}",
    "alice!other.example@{onion}",
    "\"alice@other.example\"@{onion}",
    "\"alice\"@{onion}",
    "@route.example:alice@{onion}",
    "@{onion}:alice@other.example",
    "alice@[127.0.0.1]",
    "alice@{onion}.other.example",
    "alice@aaaaaaaaaaaaaaaa.{onion}",
]


def test_relay_attempts_are_refused_and_nothing_is_stored(node):
    for i in range(0, len(RELAY_TRICKS), 5):  # stay below the per-session error limit
        with smtplib.SMTP_SSL("127.0.0.1", node.port, context=tls_context(), timeout=30) as s:
            s.ehlo("relay.example")
            assert s.mail("spammer@other.example")[0] == 250
            for rcpt in RELAY_TRICKS[i:i + 5]:
                code, text = s.docmd("RCPT TO:<%s>" % rcpt.format(onion=node.onion))
                assert (code, text[:5]) == (550, b"5.7.1"), (rcpt, code, text)
            code, text = s.docmd("DATA")
            assert code == 503, (code, text)
    assert node.all_stored() == []


def test_unknown_local_mailbox_is_550_5_1_1(node):
    with smtplib.SMTP_SSL("127.0.0.1", node.port, context=tls_context(), timeout=30) as s:
        s.ehlo()
        s.mail("a@b.example")
        code, text = s.docmd("RCPT TO:<mallory@%s>" % node.onion)
        assert (code, text[:5]) == (550, b"5.1.1")


def transcript(node, payload):
    """Sends `payload` in ONE write and returns every reply until the server
    closes the connection."""
    with tls_connect(node.port) as s:
        s.sendall(payload)
        f = s.makefile("rb")
        replies = []
        while True:
            try:
                replies.append(read_reply(f))
            except AssertionError:
                break
        return replies


def test_whole_pipelined_transaction_in_one_write_is_answered_in_order(node):
    rcpt = node.address("alice")
    payload = ("EHLO pipeline.example\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<%s>\r\n"
               "RCPT TO:<nobody@other.example>\r\nDATA\r\n%s.\r\nQUIT\r\n" % (rcpt, stuffed(MESSAGE))).encode()
    replies = transcript(node, payload)
    assert [c for c, _ in replies] == [220, 250, 250, 250, 550, 354, 250, 221], replies
    assert replies[4][1][0].startswith("550 5.7.1")
    assert replies[6][1][0].startswith("250 2.0.0")
    _, body = stored_body(only_file(node, "alice"))
    assert body == MESSAGE.encode()


def test_bdat_chunking_in_one_write_and_in_pieces(node):
    rcpt = node.address("bob")
    data = MESSAGE.encode()
    first, second = data[:40], data[40:]
    payload = (b"EHLO chunk.example\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<" + rcpt.encode() + b">\r\n"
               + b"BDAT %d\r\n" % len(first) + first + b"BDAT %d LAST\r\n" % len(second) + second
               + b"QUIT\r\n")
    replies = transcript(node, payload)
    assert [c for c, _ in replies] == [220, 250, 250, 250, 250, 250, 221], replies
    assert replies[4][1][0] == "250 2.0.0 %d octets received" % len(first)
    _, body = stored_body(only_file(node, "bob"))
    assert body == data  # BDAT data is stored exactly as sent: no dot handling


def test_sigkill_right_after_250_keeps_the_message(tmp_path):
    node = Node(tmp_path / "n").start()
    try:
        body = (MESSAGE + "x" * 998 + "\r\n") * 1 + "".join("line %d\r\n" % i for i in range(50000))
        with tls_connect(node.port) as s:
            f = s.makefile("rb")
            read_reply(f)
            s.sendall(b"EHLO k.example\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                      % node.address("alice").encode())
            assert [read_reply(f)[0] for _ in range(4)] == [250, 250, 250, 354]
            s.sendall(stuffed(body).encode() + b".\r\n")
            code, lines = read_reply(f)
            os.kill(node.proc.pid, signal.SIGKILL)  # at once, before anything else
            assert code == 250, lines
        node.proc.wait()
        node.start()
        _, stored = stored_body(only_file(node, "alice"))
        assert stored == body.encode()
        assert node.maildir_files("alice", "tmp") == []
    finally:
        node.stop()


def test_transfer_cut_off_before_the_final_dot_is_nowhere(tmp_path):
    node = Node(tmp_path / "n").start()
    try:
        # 1: the client goes away mid-message.
        s = tls_connect(node.port)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO c.example\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                  % node.address("alice").encode())
        assert [read_reply(f)[0] for _ in range(4)] == [250, 250, 250, 354]
        s.sendall(stuffed(MESSAGE).encode())  # no final dot
        f.close()
        s.close()
        node.wait_for_log(r"connection \d+ ended by the peer")
        assert node.all_stored() == []
        # 2: the server is killed mid-message and restarted.
        s = tls_connect(node.port)
        f = s.makefile("rb")
        read_reply(f)
        s.sendall(b"EHLO c.example\r\nMAIL FROM:<s@example.net>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                  % node.address("alice").encode())
        assert [read_reply(f)[0] for _ in range(4)] == [250, 250, 250, 354]
        s.sendall(stuffed(MESSAGE).encode())
        os.kill(node.proc.pid, signal.SIGKILL)
        node.proc.wait()
        s.close()
        node.start()
        assert node.all_stored() == []
    finally:
        node.stop()


def test_sigterm_stops_cleanly(tmp_path):
    node = Node(tmp_path / "n").start()
    assert node.stop(signal.SIGTERM) == 0
    node.wait_for_log(r"shutting down")


def test_address_is_stable_across_restarts(tmp_path):
    a = Node(tmp_path / "n")
    b = Node(tmp_path / "n")
    assert a.full_address == b.full_address
    assert len(a.onion) == 62 and a.onion.endswith(".onion")
    assert len(a.fingerprint_label) == 52
    st = os.stat(tmp_path / "n")
    assert st.st_mode & 0o777 == 0o700
    for name in ("onion_ed25519_seed", "tls_key.pem", "tls_cert.pem"):
        assert os.stat(tmp_path / "n" / name).st_mode & 0o777 == 0o600


def test_fingerprint_label_matches_openssl(tmp_path):
    import base64
    import hashlib
    n = Node(tmp_path / "n")
    pub = subprocess.run(["openssl", "x509", "-in", str(tmp_path / "n" / "tls_cert.pem"), "-pubkey", "-noout"],
                         check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True).stdout
    expected = base64.b32encode(hashlib.sha256(der).digest()).decode().rstrip("=").lower()
    assert n.fingerprint_label == expected


def test_bad_configuration_is_a_clear_error(tmp_path):
    conf = tmp_path / "smtorp.conf"
    conf.write_text("data_directory = %s\nmailbox = alice\nmax_recipients = lots\n" % (tmp_path / "d"))
    r = subprocess.run([BIN, "serve", "--config", str(conf)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 78
    assert "line 3" in r.stderr and "max_recipients" in r.stderr
    conf.write_text("colour = blue\n")
    r = subprocess.run([BIN, "serve", "--config", str(conf)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 78 and "unknown setting `colour`" in r.stderr
    r = subprocess.run([BIN, "serve", "--frobnicate"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 64 and "unknown option --frobnicate" in r.stderr
    r = subprocess.run([BIN, "serve", "--data-dir", str(tmp_path / "d"), "--listen", "nowhere"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 64 and "listen" in r.stderr


def test_help_and_version():
    r = subprocess.run([BIN, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("smtorp ")
    r = subprocess.run([BIN, "pow", "bench", "--seconds", "0.2"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "eqh96-5" in r.stdout and "a2id-1m" in r.stdout and "hc1" in r.stdout, r.stdout
    for bad in ("0", "0.0000", "600.001", "1e1", "-1", ".", "2s"):
        r = subprocess.run([BIN, "pow", "bench", "--seconds", bad], capture_output=True, text=True)
        assert r.returncode == 64 and "--seconds takes" in r.stderr, bad
    for cmd in ("serve", "address", "init", "check", "send", "sendmail", "queue", "contacts", "passwd", "pow"):
        r = subprocess.run([BIN, cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith("usage: smtorp " + cmd)
