"""End-to-end tests of the mail submission listener (RFC 6409) of a real
`smtorp serve` (flags --passwords, --submission-listen,
--submission-require-tls) with Python smtplib and raw sockets: AUTH PLAIN in
cleartext on loopback, delivery to the node's own mailbox with the header
cleaned, the mixing rule's exact reply, a wrong password, STARTTLS then AUTH
where TLS is required, and no command injected before STARTTLS surviving it.

The password file holds Argon2id hashes made with libsodium's
crypto_pwhash_str (what `PasswordFile.entry` writes) for the passwords below.
"""
import base64
import os
import re
import smtplib
import socket

import pytest

from conftest import DEADLINE, Node, read_reply, tls_context

ALICE_PASSWORD = "correct horse battery staple"
PASSWORDS = (
    "# user:crypto_pwhash_str\n"
    "alice:$argon2id$v=19$m=65536,t=2,p=1$Dnd/VfrUX9RniLCfKV9AAA$I4cVaIcksXwUHgCgUmxXgmX0b+HuYUhRVsHkR10DGPA\n"
)
# A valid v3 onion name of some other node (the recipient is only queued).
REMOTE = "carol@hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iu63yid.onion"
MIXING = (b"5.7.1 Mixing SMTorP and legacy recipients in one message is refused "
          b"(legacy recipients could not reply to all)")
LEGACY = b"5.7.1 legacy (non-onion) recipients need a smarthost, none is configured"

MESSAGE = (
    "Received: from laptop.home (192.168.1.7) by mail.home.example\r\n"
    "\tfor <bob@example>; Sun, 29 Nov 2026 14:05:09 +0100\r\n"
    "From: Alice <alice@node>\r\n"
    "To: Bob <bob@node>\r\n"
    "Subject: cleaned on the way\r\n"
    "Date: Sun, 29 Nov 2026 08:05:09 -0500\r\n"
    "Message-ID: <4f1c.77@laptop.home.example>\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0)\r\n"
    " Gecko/20100101 Thunderbird/128.0\r\n"
    "X-Mailer: Something 1.0\r\n"
    "\r\n"
    "Body line one.\r\n"
    "Received: this line is body, not header\r\n"
)


class SubmissionNode(Node):
    """A node with the submission listener on a free loopback port."""

    def start(self):
        super().start()
        line = self.wait_for_log(r"submission listening on 127\.0\.0\.1:(\d+)")
        self.submission_port = int(re.search(r"submission listening on 127\.0\.0\.1:(\d+)", line).group(1))
        return self


def start_node(tmp_path, *extra):
    path = tmp_path / "passwords"
    path.write_text(PASSWORDS)
    os.chmod(path, 0o600)
    return SubmissionNode(tmp_path / "node", mailboxes=("alice", "bob"),
                          extra=["--passwords", str(path), "--submission-listen", "127.0.0.1:0", *extra]).start()


@pytest.fixture
def submission_node(tmp_path):
    n = start_node(tmp_path)
    yield n
    n.stop()


@pytest.fixture
def tls_required_node(tmp_path):
    n = start_node(tmp_path, "--submission-require-tls")
    yield n
    n.stop()


def connect(node):
    smtp = smtplib.SMTP("127.0.0.1", node.submission_port, local_hostname="mua.example", timeout=DEADLINE)
    smtp.ehlo()
    return smtp


def only_file(node, mailbox):
    files = node.maildir_files(mailbox)
    assert len(files) == 1, (files, "".join(node.log))
    return open(files[0], "rb").read()


def test_login_in_cleartext_on_loopback_and_deliver_cleaned(submission_node):
    node = submission_node
    smtp = connect(node)
    assert smtp.has_extn("starttls")
    assert smtp.esmtp_features["auth"].strip() == "PLAIN"
    assert smtp.login("alice", ALICE_PASSWORD)[0] == 235
    refused = smtp.sendmail(node.address("alice"), [node.address("bob")], MESSAGE.encode())
    assert refused == {}
    smtp.quit()

    stored = only_file(node, "bob")
    header, _, body = stored.partition(b"\r\n\r\n")
    header += b"\r\n"
    # The node's own trace field, naming AUTH (RFC 3848 "ESMTPA") and nothing
    # about the sender's machine; the MUA's Received is gone.
    assert re.match(rb"Received: by %s with ESMTPA id [a-z2-7]{16};\r\n\t" % re.escape(node.onion.encode()), header)
    assert header.count(b"Received:") == 1
    assert b"laptop" not in header and b"192.168" not in header
    assert b"User-Agent" not in header and b"Thunderbird" not in header and b"X-Mailer" not in header
    assert b"\r\nDate: Sun, 29 Nov 2026 13:05:09 +0000\r\n" in header
    assert b"\r\nMessage-ID: <4f1c.77@%s>\r\n" % node.onion.encode() in header
    assert b"\r\nSubject: cleaned on the way\r\n" in header
    assert body == b"Body line one.\r\nReceived: this line is body, not header\r\n"
    log = "".join(node.log)
    assert "AUTH PLAIN as alice accepted" in log
    assert ALICE_PASSWORD not in log


def test_mixed_and_legacy_recipients_refused_with_the_exact_reply(submission_node):
    node = submission_node
    smtp = connect(node)
    smtp.login("alice", ALICE_PASSWORD)
    assert smtp.mail(node.address("alice"))[0] == 250
    assert smtp.rcpt(REMOTE)[0] == 250
    assert smtp.rcpt(node.address("bob"))[0] == 250
    assert smtp.rcpt("dave@example.org") == (550, MIXING)
    smtp.rset()
    assert smtp.mail(node.address("alice"))[0] == 250
    assert smtp.rcpt("dave@example.org") == (550, LEGACY)
    assert smtp.rcpt("nobody@" + node.onion)[0] == 550
    smtp.quit()


def test_wrong_password_gives_535_and_mail_needs_auth(submission_node):
    smtp = connect(submission_node)
    with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
        smtp.login("alice", "not the password")
    assert raised.value.smtp_code == 535
    assert raised.value.smtp_error == b"5.7.8 Authentication credentials invalid"
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp.login("mallory", ALICE_PASSWORD)
    assert smtp.mail(submission_node.address("alice")) == (530, b"5.7.0 Authentication required")
    smtp.quit()
    assert "not the password" not in "".join(submission_node.log)


def test_starttls_then_auth_when_tls_is_required(tls_required_node):
    node = tls_required_node
    smtp = connect(node)
    assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
    plain = base64.b64encode(b"\0alice\0" + ALICE_PASSWORD.encode()).decode()
    assert smtp.docmd("AUTH", "PLAIN " + plain) == (
        538, b"5.7.11 Encryption required for requested authentication mechanism")
    assert smtp.mail(node.address("alice"))[0] == 530
    assert smtp.starttls(context=tls_context())[0] == 220
    smtp.ehlo()
    assert not smtp.has_extn("starttls")
    assert smtp.esmtp_features["auth"].strip() == "PLAIN"
    assert smtp.login("alice", ALICE_PASSWORD)[0] == 235
    assert smtp.sendmail(node.address("alice"), [node.address("bob", full=True)], MESSAGE.encode()) == {}
    smtp.quit()
    assert re.match(rb"Received: by %s with ESMTPSA id " % re.escape(node.onion.encode()), only_file(node, "bob"))


def test_commands_injected_before_starttls_are_discarded(tls_required_node):
    """RFC 3207 section 4 (CVE-2011-0411): a command sent in the same packet
    as STARTTLS is never executed, and no greeting follows the handshake."""
    node = tls_required_node
    raw = socket.create_connection(("127.0.0.1", node.submission_port), timeout=DEADLINE)
    f = raw.makefile("rb")
    assert read_reply(f)[0] == 220
    raw.sendall(b"EHLO mua.example\r\n")
    assert read_reply(f)[0] == 250
    raw.sendall(b"STARTTLS\r\nRSET\r\nNOOP injected\r\n")
    assert read_reply(f) == (220, ["220 2.0.0 Ready to start TLS"])
    tls = tls_context().wrap_socket(raw)
    t = tls.makefile("rb")
    tls.sendall(b"EHLO mua.example\r\n")
    code, lines = read_reply(t)
    # The first reply under TLS answers this EHLO: no greeting, and nothing
    # for the injected RSET or NOOP.
    assert code == 250 and lines[0] == "250-" + node.onion, lines
    assert "250 AUTH PLAIN" in lines
    tls.sendall(b"NOOP\r\n")
    assert read_reply(t) == (250, ["250 2.0.0 Ok"])
    tls.sendall(b"QUIT\r\n")
    assert read_reply(t)[0] == 221
    tls.close()


def test_password_checks_run_off_the_event_loop(submission_node):
    """Six AUTH attempts at once (each an Argon2id check of 64 MiB, run one
    at a time on a worker thread) do not stall the node: a NOOP on another
    connection is answered before the last verdict, and every verdict is
    right."""
    def connect():
        s = socket.create_connection(("127.0.0.1", submission_node.submission_port), timeout=DEADLINE)
        f = s.makefile("rb")
        assert read_reply(f)[0] == 220
        s.sendall(b"EHLO laptop.local\r\n")
        assert read_reply(f)[0] == 250
        return s, f

    auths = [connect() for _ in range(6)]
    other, other_file = connect()
    good = base64.b64encode(b"\0alice\0" + ALICE_PASSWORD.encode()).decode()
    bad = base64.b64encode(b"\0alice\0wrong").decode()
    for i, (s, _) in enumerate(auths):
        s.sendall(("AUTH PLAIN %s\r\n" % (good if i == 0 else bad)).encode())
    other.sendall(b"NOOP\r\n")
    assert read_reply(other_file)[0] == 250
    # The NOOP was answered; the last AUTH verdict cannot have come yet:
    # six checks one after the other take far longer than a NOOP.
    auths[-1][0].setblocking(False)
    try:
        early = auths[-1][0].recv(1)
    except BlockingIOError:
        early = b""
    auths[-1][0].setblocking(True)
    assert early == b"", "the last AUTH was answered before the NOOP: checks block the loop"
    codes = [read_reply(f)[0] for _, f in auths]
    assert codes == [235, 535, 535, 535, 535, 535]
    for s, _ in auths + [(other, other_file)]:
        s.close()
