"""Proof of work over the wire (docs/spec.md §5), against a real `smtorp
serve` with POW required, driven by Python's smtplib (a real peer that knows
nothing of SMTorP) and the `hashcash` tool (Debian's hashcash 1.22):

- the EHLO reply announces POW; a RCPT without a stamp gets 450 4.7.0 with
  the requirements;
- a stamp minted by `smtorp pow mint` is accepted and the message delivered;
  the same stamp is refused with 550 5.7.1 in a new transaction, and again
  after the node restarts (the spent-nonce store is durable);
- a stamp minted by `hashcash -m` is accepted as an hc1 stamp, and smtorp's
  own hc1 stamps pass `hashcash -c`;
- `smtorp pow check` says why a stamp is refused.
"""
import smtplib
import ssl
import subprocess

import pytest

from conftest import BIN, DEADLINE, Node

MESSAGE = b"From: carol@example.onion\r\nSubject: pow\r\n\r\nHello.\r\n"


def client(node):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP_SSL("127.0.0.1", node.port, context=ctx, timeout=DEADLINE)
    s.ehlo("client.example.onion")
    return s


def mint(address, *args):
    out = subprocess.run([BIN, "pow", "mint", address, *args], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def pow_node(tmp_path):
    # hc1 from 2^10 (still deprecated since 2026-01-01, so doubled since).
    n = Node(tmp_path / "n", mailboxes=["alice"], extra=["--pow", "on", "--pow-hc1", "1024"]).start()
    yield n
    n.stop()


def announced(node):
    s = client(node)
    line = [l for l in s.ehlo_resp.decode().splitlines() if l.startswith("POW ")]
    s.quit()
    assert len(line) == 1, s.ehlo_resp
    return dict(offer.split("=") for offer in line[0].split()[1:])


def test_no_stamp_gets_450_with_the_requirements(pow_node):
    offers = announced(pow_node)
    assert list(offers)[:2] == ["eqh96-5", "a2id-1m"] and offers["eqh96-5"] == "8"
    s = client(pow_node)
    s.mail("carol@example.onion")
    code, text = s.rcpt(pow_node.address("alice"))
    assert code == 450
    assert text.decode() == ("4.7.0 POW required: eqh96-5 effort 8, a2id-1m effort 2, hc1 effort %s"
                             % offers["hc1"])
    s.quit()
    assert pow_node.all_stored() == []


def test_minted_stamp_is_accepted_and_its_replay_refused_also_after_restart(pow_node):
    alice = pow_node.address("alice")
    stamp = mint(alice)
    assert stamp.startswith("1:eqh96-5:8:")
    s = client(pow_node)
    s.mail("carol@example.onion")
    assert s.rcpt(alice, options=["POW=" + stamp])[0] == 250
    assert s.data(MESSAGE)[0] == 250
    s.mail("carol@example.onion")
    code, text = s.rcpt(alice, options=["POW=" + stamp])
    assert (code, text.decode()) == (550, "5.7.1 POW stamp refused: already used")
    s.quit()
    assert len(pow_node.maildir_files("alice")) == 1

    pow_node.stop()
    pow_node.start()
    s = client(pow_node)
    s.mail("carol@example.onion")
    code, text = s.rcpt(alice, options=["POW=" + stamp])
    assert (code, text.decode()) == (550, "5.7.1 POW stamp refused: already used")
    # A stamp for somebody else is forged; a fresh one for alice is fine.
    code, text = s.rcpt(alice, options=["POW=" + mint("bob@" + pow_node.onion)])
    assert (code, text.decode()) == (550, "5.7.1 POW stamp refused: stamp is for another recipient")
    assert s.rcpt(alice, options=["POW=" + mint(alice, "--algorithm", "a2id-1m")])[0] == 250
    s.quit()


def test_hashcash_tool_stamps_are_accepted_as_hc1(pow_node):
    alice = pow_node.address("alice")
    effort = int(announced(pow_node)["hc1"])
    bits = effort.bit_length() - 1
    assert 1 << bits == effort
    weak = subprocess.run(["hashcash", "-mq", "-b", str(bits - 1), alice], check=True,
                          capture_output=True, text=True).stdout.strip()
    token = subprocess.run(["hashcash", "-mq", "-b", str(bits), alice], check=True,
                           capture_output=True, text=True).stdout.strip()
    assert token.startswith("1:%d:" % bits)
    s = client(pow_node)
    s.mail("carol@example.onion")
    code, text = s.rcpt(alice, options=["POW=" + weak])
    assert code == 450 and text.decode().startswith("4.7.0 POW effort below %d;" % effort)
    assert s.rcpt(alice, options=["POW=" + token])[0] == 250
    assert s.data(MESSAGE)[0] == 250
    s.mail("carol@example.onion")
    assert s.rcpt(alice, options=["POW=" + token])[0] == 550
    s.quit()


def test_smtorp_hc1_stamps_pass_hashcash_check(tmp_path):
    resource = "alice@" + Node(tmp_path / "n").onion
    token = mint(resource, "--algorithm", "hc1", "--effort", "65536")
    assert token.startswith("1:16:")
    ok = subprocess.run(["hashcash", "-cqy", "-b", "16", "-r", resource, token])
    assert ok.returncode == 0
    # The tool refuses it for another resource, and at more bits than it has
    # (unless it happens to carry them: 1 chance in 2^8).
    other = subprocess.run(["hashcash", "-cqy", "-b", "16", "-r", "bob@" + resource.split("@")[1], token])
    assert other.returncode != 0
    # smtorp's own checker agrees.
    out = subprocess.run([BIN, "pow", "check", token, "--for", resource, "--algorithm", "hc1",
                          "--effort", "65536"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    out = subprocess.run([BIN, "pow", "check", token, "--for", resource, "--algorithm", "hc1",
                          "--effort", str(1 << 24)], capture_output=True, text=True)
    assert out.returncode == 1 and "POW effort below 16777216" in out.stdout


def test_pow_check_names_the_reason(tmp_path):
    onion = Node(tmp_path / "n").onion
    stamp = mint("alice@" + onion)
    fields = stamp.split(":")
    fields[6] = ("b" if fields[6][0] == "a" else "a") + fields[6][1:]
    broken = ":".join(fields)
    cases = [
        (stamp, "bob@" + onion, "stamp is for another recipient"),
        (broken, "alice@" + onion, "invalid solution"),
        ("1:eqh96-5:8:x", "alice@" + onion, "stamp syntax"),
    ]
    for text, rcpt, reason in cases:
        out = subprocess.run([BIN, "pow", "check", text, "--for", rcpt], capture_output=True, text=True)
        assert out.returncode == 1 and reason in out.stdout, (reason, out.stdout)
    assert subprocess.run([BIN, "pow", "check", stamp, "--for", "alice@" + onion]).returncode == 0
