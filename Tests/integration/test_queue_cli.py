"""`smtorp queue` (like mailq) and `smtorp sendmail` error paths, without tor:
a node with tor off and no SOCKS port keeps its mail queued."""
import re
import subprocess

from conftest import BIN, Node

ONION = "hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iu63yid.onion"


def test_queue_lists_and_removes(tmp_path):
    node = Node(tmp_path / "n", mailboxes=["alice"])
    r = subprocess.run([BIN, "sendmail", "--data-dir", node.data_dir, "-t"],
                       input=b"To: Bob <bob@%s>\nBcc: carol@%s\nSubject: q\n\nhello\n" % (ONION.encode(), ONION.encode()),
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    listing = subprocess.run([BIN, "queue", "--data-dir", node.data_dir], capture_output=True, text=True).stdout
    assert "bob@" + ONION in listing and "carol@" + ONION in listing and "pending" in listing, listing
    qid = re.search(r"^([0-9a-v]{26})\s", listing, re.M).group(1)
    stored = open(tmp_path / "n" / "queue" / "msg" / qid, "rb").read()
    assert b"Bcc" not in stored and b"\r\nhello\r\n" in stored  # Bcc removed, CRLF
    r = subprocess.run([BIN, "queue", "--data-dir", node.data_dir, "--remove", qid], capture_output=True, text=True)
    assert r.returncode == 0 and "removed" in r.stdout
    listing = subprocess.run([BIN, "queue", "--data-dir", node.data_dir], capture_output=True, text=True).stdout
    assert qid not in listing


def test_sendmail_refuses_bad_input_clearly(tmp_path):
    node = Node(tmp_path / "n", mailboxes=["alice"])
    r = subprocess.run([BIN, "sendmail", "--data-dir", node.data_dir], input="Subject: x\n\nno recipients\n",
                       capture_output=True, text=True)
    assert r.returncode == 64 and "no recipients" in r.stderr
    r = subprocess.run([BIN, "sendmail", "--data-dir", node.data_dir, "bob@abcdefghijklmnop.onion"],
                       input="x\n", capture_output=True, text=True)
    assert r.returncode == 67 and "version 2 onion" in r.stderr
    r = subprocess.run([BIN, "sendmail", "--data-dir", node.data_dir, "-bp"], input="", capture_output=True, text=True)
    assert r.returncode == 64 and "unknown sendmail option -bp" in r.stderr
