"""The outbound queue over the private Tor network (issue 5): smtorp sendmail
queues durably, smtorp serve delivers; retries while the recipient is down;
exactly one bounce for a permanent failure; crash safety under SIGKILL; a
real MUA (mutt) through the sendmail interface."""
import os
import random
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, Node

DEADLINE = 180


def external(client):
    return ["--tor-control", "127.0.0.1:%d" % client.control_port,
            "--tor-socks", "127.0.0.1:%d" % client.socks_port_extended]


def wait_until(predicate, deadline=DEADLINE, what="condition"):
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.1)  # polling a file system condition, bounded by the deadline


@pytest.fixture(scope="module")
def pair(tor_network, tor_client, tmp_path_factory):
    qa, qb = tor_client("qalice", "qbob")
    base = tmp_path_factory.mktemp("queue")
    passwords = base / "passwords"
    subprocess.run([BIN, "passwd", str(passwords), "alice"], input=b"correct horse\n", check=True, capture_output=True)
    alice = Node(base / "alice", mailboxes=["alice"],
                 extra=external(qa) + ["--retry-min", "2", "--retry-max", "4", "--passwords", str(passwords),
                                       "--submission-listen", "127.0.0.1:0"]).start()
    # Proof of work on at bob, at effort 1 (one Equihash solve per
    # recipient) to keep the 200-message crash test quick: alice mints a
    # stamp per recipient for what bob's EHLO asks, across the kills too.
    bob = Node(base / "bob", mailboxes=["bob"], extra=external(qb) + ["--pow", "on", "--pow-eqh96-5", "1"]).start()
    alice.wait_for_log(r"reachable as", deadline=120)
    bob.wait_for_log(r"reachable as", deadline=120)
    yield alice, bob
    alice.stop()
    bob.stop()


def sendmail(node, *args, message):
    return subprocess.run([BIN, "sendmail", "--data-dir", node.data_dir, *args], input=message,
                          capture_output=True, timeout=60)


def queue_listing(node):
    return subprocess.run([BIN, "queue", "--data-dir", node.data_dir], capture_output=True, text=True).stdout


def queue_empty(node):
    d = os.path.join(node.data_dir, "queue", "msg")
    return not os.path.isdir(d) or not os.listdir(d)


def message(seq, to):
    return ("From: alice\nTo: %s\nSubject: queued %d\nX-Seq: %d\n\nbody %d\n.leading dot\n" % (to, seq, seq, seq)).encode()


def seqs(node, mailbox):
    found = []
    for f in node.maildir_files(mailbox):
        m = re.search(rb"X-Seq: (\d+)", open(f, "rb").read())
        if m:
            found.append(int(m.group(1)))
    return found


def test_sendmail_queues_durably_and_serve_delivers(pair):
    alice, bob = pair
    r = sendmail(alice, "-oi", "--", bob.address("bob", full=True), message=message(1, "bob"))
    assert r.returncode == 0, r.stderr
    wait_until(lambda: 1 in seqs(bob, "bob"), what="delivery to bob")
    wait_until(lambda: queue_empty(alice), what="the queue to empty")
    stored = open(bob.maildir_files("bob")[0], "rb").read()
    assert b"\r\n..leading dot" not in stored and b"\r\n.leading dot\r\n" in stored  # CRLF, unstuffed


def test_submission_with_auth_goes_through_the_queue_over_tor(pair):
    import smtplib
    alice, bob = pair
    line = alice.wait_for_log(r"submission listening on 127\.0\.0\.1:(\d+)")
    port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
    msg = ("From: Alice <%s>\r\nTo: %s\r\nSubject: submitted\r\nX-Seq: 77\r\n"
           "User-Agent: Tests/1.0\r\nDate: Sun, 29 Nov 2026 15:00:00 +0100\r\n"
           "Message-ID: <123@laptop.local>\r\n\r\nvia submission\r\n"
           % (alice.address("alice", full=True), bob.address("bob", full=True)))
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("laptop.local")
        s.login("alice", "correct horse")
        assert s.sendmail(alice.address("alice", full=True), [bob.address("bob", full=True)], msg) == {}
        code, text = s.docmd("MAIL FROM:<%s>" % alice.address("alice", full=True))
        s.docmd("RCPT TO:<%s>" % bob.address("bob", full=True))
        code, text = s.docmd("RCPT TO:<someone@example.com>")
        assert code == 550 and b"Mixing SMTorP and legacy recipients" in text, text
    wait_until(lambda: 77 in seqs(bob, "bob"), what="the submitted message at bob")
    stored = [open(f, "rb").read() for f in bob.maildir_files("bob") if b"X-Seq: 77" in open(f, "rb").read()][0]
    assert b"User-Agent" not in stored and b"laptop.local" not in stored
    assert b"Date: Sun, 29 Nov 2026 14:00:00 +0000" in stored


def test_a_stamp_minted_by_the_senders_device_is_carried_through_the_relay(pair):
    """The user's device mints the stamp (`smtorp pow mint`), the submission
    listener takes it with RCPT ... POW=, the queue carries it, and bob
    spends exactly that stamp: offered again to bob directly it is refused
    as already used."""
    import smtplib
    import ssl
    alice, bob = pair
    line = alice.wait_for_log(r"submission listening on 127\.0\.0\.1:(\d+)")
    port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
    rcpt = bob.address("bob", full=True)
    stamp = subprocess.run([BIN, "pow", "mint", rcpt, "--effort", "8"], capture_output=True, text=True,
                           check=True, timeout=120).stdout.strip()
    msg = "From: %s\r\nTo: %s\r\nSubject: carried\r\nX-Seq: 88\r\n\r\nwith my own stamp\r\n" % (
        alice.address("alice", full=True), rcpt)
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("laptop.local")
        s.login("alice", "correct horse")
        assert s.sendmail(alice.address("alice", full=True), [rcpt], msg, rcpt_options=["POW=" + stamp]) == {}
    wait_until(lambda: 88 in seqs(bob, "bob"), what="the message with the carried stamp at bob")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP_SSL("127.0.0.1", bob.port, context=ctx, timeout=30) as s:
        s.ehlo("client.example.onion")
        s.mail("carol@example.onion")
        code, text = s.rcpt(rcpt, options=["POW=" + stamp])
        assert (code, text) == (550, b"5.7.1 POW stamp refused: already used")


def queued_files(node):
    d = os.path.join(node.data_dir, "queue", "msg")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def test_legacy_or_mixed_recipients_are_refused(pair):
    alice, bob = pair
    before = queued_files(alice)  # an earlier test's message may still be leaving
    r = sendmail(alice, bob.address("bob"), "someone@example.com", message=message(2, "x"))
    assert r.returncode == 67
    assert b"mixing SMTorP and legacy recipients" in r.stderr
    assert queued_files(alice) <= before, "nothing new was queued"


def test_retry_while_the_recipient_is_down(pair):
    alice, bob = pair
    bob.stop()
    r = sendmail(alice, bob.address("bob", full=True), message=message(3, "bob"))
    assert r.returncode == 0
    alice.wait_for_log(r"queue: \S+ deferred for bob@", deadline=DEADLINE)
    listing = queue_listing(alice)
    assert "deferred" in listing and "bob@" in listing, listing
    print(listing)
    bob.start()
    bob.wait_for_log(r"reachable as", deadline=120)
    subprocess.run([BIN, "queue", "--data-dir", alice.data_dir, "--flush"], check=True, capture_output=True)
    wait_until(lambda: 3 in seqs(bob, "bob"), what="delivery after bob came back")
    wait_until(lambda: queue_empty(alice), what="the queue to empty")


def test_a_permanent_failure_produces_exactly_one_bounce(pair):
    alice, bob = pair
    before = len(alice.maildir_files("alice"))
    r = sendmail(alice, "-f", alice.address("alice", full=True), "nobody@" + bob.fingerprint_label + "." + bob.onion,
                 message=message(4, "nobody"))
    assert r.returncode == 0
    wait_until(lambda: queue_empty(alice), what="the failed message to leave the queue")
    bounces = [f for f in alice.maildir_files("alice") if b"Undelivered Mail Returned to Sender" in open(f, "rb").read()]
    assert len(alice.maildir_files("alice")) == before + 1 and len(bounces) == 1
    text = open(bounces[0], "rb").read()
    assert b"Status: 5.1.1" in text and b"Final-Recipient: rfc822; nobody@" in text
    # a restart re-scans the queue and produces nothing more
    alice.stop()
    alice.start()
    alice.wait_for_log(r"reachable as", deadline=120)
    assert len(alice.maildir_files("alice")) == before + 1


def test_crash_safety_200_messages_with_sigkills(pair):
    alice, bob = pair
    alice.stop()
    full = bob.address("bob", full=True)
    first = 1000
    for i in range(200):
        r = sendmail(alice, full, message=message(first + i, full))
        assert r.returncode == 0, r.stderr
    want = set(range(first, first + 200))
    kills = 0
    rng = random.Random(5)
    t0 = time.monotonic()
    alice.start()
    for threshold in sorted(rng.sample(range(10, 190), 4)):
        wait_until(lambda: len(want & set(seqs(bob, "bob"))) >= threshold, what="%d deliveries" % threshold)
        os.kill(alice.proc.pid, signal.SIGKILL)
        alice.proc.wait()
        kills += 1
        alice.start()
    wait_until(lambda: want <= set(seqs(bob, "bob")), deadline=600, what="all 200 messages")
    wait_until(lambda: queue_empty(alice), what="the queue to empty")
    elapsed = time.monotonic() - t0
    got = [s for s in seqs(bob, "bob") if s in want]
    duplicates = len(got) - len(set(got))
    print("crash test: 200 messages, %d SIGKILLs, all delivered, %d duplicates, %.1f s" % (kills, duplicates, elapsed))
    assert want <= set(got)


def test_mutt_sends_through_smtorp_sendmail(pair, tmp_path):
    alice, bob = pair
    if not shutil_which("mutt"):
        pytest.skip("mutt is not installed")  # scripts/setup.sh installs it
    muttrc = tmp_path / "muttrc"
    muttrc.write_text('set sendmail="%s sendmail --data-dir %s"\nset from="%s"\nset use_from=yes\n'
                      'set record=""\nset charset="utf-8"\n' % (BIN, alice.data_dir, alice.address("alice", full=True)))
    env = dict(os.environ, HOME=str(tmp_path), MAILRC="/dev/null")
    r = subprocess.run(["mutt", "-n", "-F", str(muttrc), "-s", "from mutt", "--", bob.address("bob", full=True)],
                       input=b"X-Seq line is in the body\nhello from mutt\n", capture_output=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: any(b"Subject: from mutt" in open(f, "rb").read() for f in bob.maildir_files("bob")),
               what="mutt's message at bob")


def shutil_which(name):
    import shutil
    return shutil.which(name)
