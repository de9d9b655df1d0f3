"""Node identity against real programs: the onion name smtorp derives from its
key equals the one a real tor reports for the same key (ADD_ONION on a tor
started with DisableNetwork 1, so nothing leaves the machine); QR codes decode
back (zbarimg) to exactly the address or mailto: URI; `smtorp init` creates a
private data directory."""
import base64
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OfflineTor:
    """A tor with DisableNetwork 1: enough for ADD_ONION, reaches nobody."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtorp-tor-")
        os.chmod(self.dir, 0o700)
        self.port = free_port()
        with open(os.path.join(self.dir, "torrc"), "w") as f:
            f.write("DataDirectory %s/data\nDisableNetwork 1\nSocksPort 0\n"
                    "ControlPort 127.0.0.1:%d\nCookieAuthentication 1\n"
                    "GeoIPFile /dev/null\nGeoIPv6File /dev/null\n__OwningControllerProcess %d\n"
                    "Log notice file %s/notice.log\n" % (self.dir, self.port, os.getpid(), self.dir))
        self.proc = subprocess.Popen(["tor", "-f", os.path.join(self.dir, "torrc")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:  # wait for the control port (the event), with a deadline
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                break
            except OSError:
                assert self.proc.poll() is None, "tor exited"
                assert time.monotonic() < deadline, "tor's control port never opened"
                time.sleep(0.05)
        self.f = self.sock.makefile("rb")
        cookie = open(os.path.join(self.dir, "data", "control_auth_cookie"), "rb").read()
        assert self.cmd("AUTHENTICATE " + cookie.hex()) == ["250 OK"]

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        out = []
        while True:
            l = self.f.readline().decode().rstrip("\r\n")
            out.append(l)
            if l[3] == " ":
                return out

    def service_id(self, blob):
        reply = self.cmd("ADD_ONION ED25519-V3:%s Flags=DiscardPK Port=25,127.0.0.1:9" % blob)
        assert reply[-1] == "250 OK", reply
        sid = reply[0].split("=", 1)[1]
        assert self.cmd("DEL_ONION " + sid) == ["250 OK"]
        return sid

    def close(self):
        self.sock.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def tor():
    t = OfflineTor()
    yield t
    t.close()


def tor_blob(seed):
    """Tor's expanded key (rend-spec-v3 / RFC 8032 5.1.5), computed here
    independently of smtorp."""
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 63
    h[31] |= 64
    return base64.b64encode(bytes(h)).decode()


def smtorp_onion(data_dir):
    out = subprocess.run([BIN, "address", "--data-dir", str(data_dir)], check=True,
                         capture_output=True, text=True).stdout.split()
    return out[-1]


def test_onion_name_matches_real_tor_for_several_keys(tor, tmp_path):
    seeds = [bytes(32), bytes(range(32)), os.urandom(32), os.urandom(32)]
    for i, seed in enumerate(seeds):
        d = tmp_path / ("n%d" % i)
        d.mkdir(mode=0o700)
        (d / "onion_ed25519_seed").write_bytes(seed)
        os.chmod(d / "onion_ed25519_seed", 0o600)
        ours = smtorp_onion(d)
        assert tor.service_id(tor_blob(seed)) + ".onion" == ours
    # And for a node whose key smtorp generated itself.
    d = tmp_path / "fresh"
    subprocess.run([BIN, "init", "--data-dir", str(d), "--mailbox", "alice"], check=True, capture_output=True)
    assert tor.service_id(tor_blob((d / "onion_ed25519_seed").read_bytes())) + ".onion" == smtorp_onion(d)


def test_a_flipped_checksum_bit_is_refused(tor, tmp_path):
    sid = tor.service_id(tor_blob(os.urandom(32)))
    raw = bytearray(base64.b32decode(sid.upper()))
    raw[32] ^= 0x01  # one bit of the checksum
    flipped = base64.b32encode(bytes(raw)).decode().lower()
    ok = subprocess.run([BIN, "check", "alice@%s.onion" % sid], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("smtorp alice@%s.onion" % sid)
    bad = subprocess.run([BIN, "check", "alice@%s.onion" % flipped], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "[onion-checksum]" in bad.stdout, bad.stdout
    # tor agrees that the name is not a valid onion service name
    reply = tor.cmd("HSFETCH %s" % flipped)
    assert reply[0].startswith("5"), reply


def test_init_creates_a_private_data_directory(tmp_path):
    d = tmp_path / "node"
    r = subprocess.run([BIN, "init", "--data-dir", str(d), "--mailbox", "Alice"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "created node" in r.stdout and "address:     alice@" in r.stdout
    assert os.stat(d).st_mode & 0o777 == 0o700
    for name in ("onion_ed25519_seed", "tls_key.pem", "tls_cert.pem", "smtorp.conf"):
        assert os.stat(d / name).st_mode & 0o777 == 0o600, name
    assert "mailbox = alice" in (d / "smtorp.conf").read_text()
    seed = (d / "onion_ed25519_seed").read_bytes()
    r2 = subprocess.run([BIN, "init", "--data-dir", str(d)], capture_output=True, text=True)
    assert r2.returncode == 0 and "node exists" in r2.stdout
    assert (d / "onion_ed25519_seed").read_bytes() == seed  # never replaced


def zbar(path):
    r = subprocess.run(["zbarimg", "--nodbus", "-q", "--raw", str(path)], capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().rstrip("\n")


def test_qr_png_decodes_to_exactly_the_address_and_the_mailto_uri(tmp_path):
    d = tmp_path / "node"
    subprocess.run([BIN, "init", "--data-dir", str(d), "--mailbox", "alice"], check=True, capture_output=True)
    full = subprocess.run([BIN, "address", "--data-dir", str(d), "alice"], check=True,
                          capture_output=True, text=True).stdout.split()[0]
    png, svg = tmp_path / "a.png", tmp_path / "a.svg"
    r = subprocess.run([BIN, "address", "--data-dir", str(d), "alice", "--qr-png", str(png), "--qr-svg", str(svg)],
                       capture_output=True, text=True)
    if r.returncode == 1 and "built without libqrencode" in r.stderr:
        # The static builds (build-static.sh, build-embedded.sh): Debian has no static libqrencode.
        pytest.skip("this smtorp has no QR support: " + r.stderr.strip())
    assert r.returncode == 0, r.stderr
    assert zbar(png) == full
    assert svg.read_text().startswith("<?xml") and "<path" in svg.read_text()
    r = subprocess.run([BIN, "address", "--data-dir", str(d), "alice", "--mailto", "--subject", "Hi & bye",
                        "--qr-png", str(png)], capture_output=True, text=True)
    uri = r.stdout.strip()
    assert uri == "mailto:%s?subject=Hi%%20%%26%%20bye" % full
    assert zbar(png) == uri
    r = subprocess.run([BIN, "address", "--data-dir", str(d), "alice", "--short", "--qr"],
                       capture_output=True, text=True)
    lines = r.stdout.splitlines()
    assert lines[0] == full.split("@")[0] + "@" + full.split(".", 1)[1]
    assert any("▀" in l or "▄" in l for l in lines[1:])
