"""The private Tor network harness (tornet.py) against real tors: a throw-away onion on one
client reached from another through both SOCKS ports, and the exact SOCKS5 reply bytes Tor
gives for onions that are unpublished, malformed, unmapped or whose server is down (the
bytes smtorp's SOCKS error mapping is tested against). Run `pytest -s` to see timings."""
import sys
import time

import pytest

# conftest.py may already export the fixtures; importing them a second time here would
# make pytest build a second session network for this module.
if not hasattr(sys.modules.get("conftest"), "tor_network"):
    from tor_fixtures import *  # noqa: F401,F403

from tornet import (EchoServer, SocksError, alloc_port, echo_roundtrip, onion_address,
                    random_onion_address, socks_connect, wait_onion_published)


@pytest.fixture(scope="module")
def onion(tor_network, tor_client):
    """A throw-away onion on client alice: virtual port 25 -> an echo server, 26 -> a
    loopback port nobody listens on. Published (every upload acknowledged) and reached once
    from client bob (that first connect is timed)."""
    alice, bob = tor_client("alice", "bob")
    echo = EchoServer()
    closed_port = alloc_port()
    mark = alice.event_mark()
    t0 = time.monotonic()
    sid = alice.add_onion({25: echo.port, 26: closed_port})
    pub = wait_onion_published(alice, sid, deadline=30, since=mark)
    t_pub = time.monotonic() - t0
    s = socks_connect(bob.socks_port_extended, sid + ".onion", 25, timeout=30)
    t_conn = time.monotonic() - t0
    assert echo_roundtrip(s)
    s.close()
    usable = time.monotonic() - tor_network.started_at
    print("\n[tornet] network: infrastructure ready %.1f s, reloads %d; clients alice+bob %.1f s"
          % (tor_network.timings["infrastructure_ready"], tor_network.timings.get("reloads", 0),
             tor_network.timings.get("client_alice+bob_ready", 0.0)))
    print("[tornet] ADD_ONION -> all %d uploads acknowledged %.2f s, -> first SOCKS connect %.2f s"
          % (pub["uploads"], t_pub, t_conn))
    print("[tornet] network start -> usable (onion reached) %.1f s; RSS of all tors %.0f MiB"
          % (usable, tor_network.rss_kib() / 1024))
    yield {"sid": sid, "alice": alice, "bob": bob, "echo": echo}
    alice.del_onion(sid)
    echo.close()


def reply_of(port, host, dest_port=25, **kw):
    """The SOCKS5 reply byte for a CONNECT to host:dest_port (0 on success)."""
    try:
        socks_connect(port, host, dest_port, timeout=60, **kw).close()
        return 0
    except SocksError as e:
        return e.reply


@pytest.mark.parametrize("kind", ["plain", "extended"])
def test_onion_echo_roundtrip(onion, kind):
    bob = onion["bob"]
    port = bob.socks_port if kind == "plain" else bob.socks_port_extended
    s = socks_connect(port, onion["sid"] + ".onion", 25, timeout=30)
    try:
        assert echo_roundtrip(s, b"EHLO tornet\r\n" * 100)
    finally:
        s.close()


@pytest.mark.parametrize("prefix", ["mail.", "a.b.", "MAIL."])
def test_onion_labels_before_address_ignored(onion, prefix):
    s = socks_connect(onion["bob"].socks_port_extended, prefix + onion["sid"] + ".onion", 25,
                      timeout=30)
    try:
        assert echo_roundtrip(s)
    finally:
        s.close()


def test_onion_upper_case(onion):
    host = (onion["sid"] + ".onion").upper()
    assert reply_of(onion["bob"].socks_port_extended, host) == 0x00


def test_socks_username_password(onion):
    s = socks_connect(onion["bob"].socks_port, onion["sid"] + ".onion", 25,
                      username="isolation-1", password="x", timeout=30)
    try:
        assert echo_roundtrip(s)
    finally:
        s.close()


def test_onion_reached_from_its_own_host(onion):
    """The client hosting the onion can reach it too (smtorp's loopback case)."""
    s = socks_connect(onion["alice"].socks_port_extended, onion["sid"] + ".onion", 25, timeout=30)
    try:
        assert echo_roundtrip(s)
    finally:
        s.close()


@pytest.mark.parametrize("kind,expected", [("extended", 0xF0), ("plain", 0x04)])
def test_unpublished_onion(tor_client, kind, expected):
    bob = tor_client("bob")
    port = bob.socks_port if kind == "plain" else bob.socks_port_extended
    t0 = time.monotonic()
    assert reply_of(port, random_onion_address() + ".onion") == expected
    print("\n[tornet] unpublished onion via %s port: 0x%02x after %.2f s"
          % (kind, expected, time.monotonic() - t0))


@pytest.mark.parametrize("kind,expected", [("extended", 0xF6), ("plain", 0x01)])
@pytest.mark.parametrize("host", [
    "a" * 56 + ".onion",                                  # right length, bad checksum
    "abc.onion",                                          # too short
    "not-base32-" + "a" * 45 + ".onion",                  # 56 characters, not base32
    onion_address(bytes(range(32))) + ".onion",           # good checksum, not an ed25519 point
], ids=["bad-checksum", "too-short", "not-base32", "bad-pubkey"])
def test_malformed_onion(tor_client, kind, expected, host):
    bob = tor_client("bob")
    port = bob.socks_port if kind == "plain" else bob.socks_port_extended
    assert reply_of(port, host) == expected


@pytest.mark.parametrize("kind", ["plain", "extended"])
def test_onion_virtual_port_not_mapped(onion, kind):
    bob = onion["bob"]
    port = bob.socks_port if kind == "plain" else bob.socks_port_extended
    assert reply_of(port, onion["sid"] + ".onion", 27) == 0x05


@pytest.mark.parametrize("kind", ["plain", "extended"])
def test_onion_local_server_down(onion, kind):
    bob = onion["bob"]
    port = bob.socks_port if kind == "plain" else bob.socks_port_extended
    assert reply_of(port, onion["sid"] + ".onion", 26) == 0x01


def test_network_shape(tor_network):
    """Every tor listens on 127.0.0.1 only, below the ephemeral port range, and names only
    our own authority."""
    for node in tor_network.nodes():
        with open(node.torrc) as f:
            torrc = f.read()
        assert "TestingTorNetwork 1" in torrc
        assert "__OwningControllerProcess" in torrc
        assert all(a.fingerprint in torrc for a in tor_network.authorities)
        for p in node.ports.values():
            assert 1024 < p < 32768
    assert len(tor_network.authorities) + len(tor_network.relays) >= 4
