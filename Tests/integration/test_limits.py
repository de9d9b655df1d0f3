"""Every named limit of the receiving session, driven past its value over a
real TLS connection to a running node; the exact reply and enhanced code are
checked (the Swift unit tests check the same in memory)."""
import pytest

from conftest import Node, read_reply, tls_connect


@pytest.fixture(scope="module")
def small_node(tmp_path_factory):
    n = Node(tmp_path_factory.mktemp("limits") / "n",
             mailboxes=["alice"] + ["m%d" % i for i in range(101)],
             extra=["--max-message-size", "4096", "--command-timeout", "2", "--data-timeout", "3"]).start()
    yield n
    n.stop()


class Session:
    def __init__(self, node):
        self.sock = tls_connect(node.port)
        self.f = self.sock.makefile("rb")
        self.node = node
        assert read_reply(self.f)[0] == 220

    def cmd(self, line):
        self.sock.sendall(line if isinstance(line, bytes) else line.encode() + b"\r\n")
        return read_reply(self.f)

    def close(self):
        self.sock.close()


def first(reply):
    code, lines = reply
    return code, lines[0][4:9]


def opened(node):
    s = Session(node)
    assert s.cmd("EHLO limits.example")[0] == 250
    assert s.cmd("MAIL FROM:<s@example.net>")[0] == 250
    return s


def test_command_line_longer_than_512(small_node):
    s = Session(small_node)
    assert first(s.cmd("NOOP " + "x" * 505)) == (250, "2.0.0")  # 512 with CRLF: allowed
    assert first(s.cmd("NOOP " + "x" * 506)) == (500, "5.5.2")  # 513: refused
    assert first(s.cmd("NOOP")) == (250, "2.0.0")              # and the session goes on
    s.close()


def test_local_part_longer_than_64(small_node):
    s = opened(small_node)
    assert first(s.cmd("RCPT TO:<%s@%s>" % ("a" * 65, small_node.onion))) == (501, "5.1.3")
    s.close()


def test_domain_longer_than_255(small_node):
    s = opened(small_node)
    # A 255-octet domain cannot fit a 256-octet path, so the domain limit is
    # reached through the path limit too: 251 is allowed (path 255), 256 is not.
    ok = ".".join(["d" * 63] * 3 + ["d" * 59])
    assert len(ok) == 251
    assert first(s.cmd("RCPT TO:<a@%s>" % ok)) == (550, "5.7.1")  # allowed length, not ours
    long = ".".join(["d" * 63] * 4) + "d"
    assert len(long) == 256
    assert first(s.cmd("RCPT TO:<a@%s>" % long)) == (501, "5.1.3")
    s.close()


def test_path_longer_than_256(small_node):
    s = opened(small_node)
    # 64 + 1 + 190 + 2 brackets = 257 octets of path
    domain = ".".join(["p" * 63, "p" * 63, "p" * 62])
    assert len("<" + "a" * 64 + "@" + domain + ">") == 257
    assert first(s.cmd("RCPT TO:<%s@%s>" % ("a" * 64, domain))) == (501, "5.1.3")
    s.close()


def test_more_than_100_recipients(small_node):
    s = opened(small_node)
    # 101 distinct recipients (a repeated recipient is stored once, not counted twice)
    s.sock.sendall(b"".join(b"RCPT TO:<m%d@%s>\r\n" % (i, small_node.onion.encode())
                            for i in range(101)))  # pipelined
    replies = [read_reply(s.f) for _ in range(101)]
    assert all(first(r) == (250, "2.1.5") for r in replies[:100])
    assert first(replies[100]) == (452, "4.5.3")
    s.close()


def test_declared_size_over_the_maximum(small_node):
    s = Session(small_node)
    s.cmd("EHLO limits.example")
    assert first(s.cmd("MAIL FROM:<s@example.net> SIZE=4097")) == (552, "5.3.4")
    assert first(s.cmd("MAIL FROM:<s@example.net> SIZE=4096")) == (250, "2.1.0")
    s.close()


def test_message_over_the_maximum(small_node):
    s = opened(small_node)
    s.cmd("RCPT TO:<alice@%s>" % small_node.onion)
    assert s.cmd("DATA")[0] == 354
    s.sock.sendall(("y" * 78 + "\r\n").encode() * 60 + b".\r\n")  # 4800 octets
    assert first(read_reply(s.f)) == (552, "5.3.4")
    assert small_node.all_stored() == []
    s.close()


def test_text_line_longer_than_1000(small_node):
    s = opened(small_node)
    s.cmd("RCPT TO:<alice@%s>" % small_node.onion)
    assert s.cmd("DATA")[0] == 354
    s.sock.sendall(b"z" * 999 + b"\r\n.\r\n")  # 1001 octets with CRLF
    assert first(read_reply(s.f)) == (554, "5.6.0")
    assert small_node.all_stored() == []
    s.close()


def test_bdat_over_the_maximum(small_node):
    s = opened(small_node)
    s.cmd("RCPT TO:<alice@%s>" % small_node.onion)
    assert first(s.cmd(b"BDAT 5000 LAST\r\n" + b"b" * 5000)) == (552, "5.3.4")
    assert first(s.cmd("NOOP")) == (250, "2.0.0")  # the 5000 octets were consumed, not parsed
    assert small_node.all_stored() == []
    s.close()


def test_command_timeout(small_node):
    s = Session(small_node)
    # --command-timeout 2: the server speaks first; the socket's deadline bounds the wait.
    assert first(read_reply(s.f)) == (421, "4.4.2")
    assert s.f.read() == b""
    s.close()


def test_data_timeout(small_node):
    s = opened(small_node)
    s.cmd("RCPT TO:<alice@%s>" % small_node.onion)
    assert s.cmd("DATA")[0] == 354
    s.sock.sendall(b"Subject: half a message\r\n")
    assert first(read_reply(s.f)) == (421, "4.4.2")  # after --data-timeout 3
    assert s.f.read() == b""
    assert small_node.all_stored() == []
    s.close()


def test_too_many_protocol_errors_closes(small_node):
    s = Session(small_node)
    for _ in range(9):
        assert first(s.cmd("BOGUS")) == (500, "5.5.1")
    code, lines = s.cmd("BOGUS")
    assert code == 500
    assert first(read_reply(s.f)) == (421, "4.7.0")
    assert s.f.read() == b""
    s.close()
