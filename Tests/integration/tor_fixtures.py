"""pytest fixtures for a private Tor network on loopback (see tornet.py).

Use with `from tor_fixtures import *` (in conftest.py, or in a test module run alone):

    def test_x(tor_network, tor_client):
        alice, bob = tor_client("alice", "bob")   # started together on first use
        ...

`tor_network` (session scope): one `tornet.TorNetwork` (1 authority + 4 relays) for the
whole test run, started on first use and stopped (every tor SIGTERMed, then SIGKILLed) at
session end. Its data directories stay under pytest's tmp dir for inspection
(`tor_network.base_dir`, one sub-directory per tor with torrc and notice.log).

`tor_client` (session scope): a function `tor_client(name, *more)`. It returns the client
tor called `name` (a `tornet.TorClient` with .socks_port, .socks_port_extended,
.control_port, .cookie_path, .data_dir, .pid, .add_onion(), .controller()), starting it
and waiting until it has built a circuit if it does not exist yet; with several names it
returns a list, starting the missing ones in parallel. The same name gives the same tor
for the rest of the session.

Environment: TORNET_RELAYS (default 4), TORNET_AUTHORITIES (default 1),
TORNET_START_DEADLINE (seconds, default 90).
"""
import os

import pytest

import tornet

__all__ = ["tor_network", "tor_client"]


@pytest.fixture(scope="session")
def tor_network(tmp_path_factory):
    """The session's private Tor network (a started tornet.TorNetwork)."""
    net = tornet.TorNetwork(authorities=int(os.environ.get("TORNET_AUTHORITIES", "1")),
                            relays=int(os.environ.get("TORNET_RELAYS", "4")),
                            base_dir=tmp_path_factory.mktemp("tornet"))
    try:
        net.start(deadline=float(os.environ.get("TORNET_START_DEADLINE", "90")))
        # For the notes: how long the network took (printed at the end of the run).
        timings = os.path.join(os.path.dirname(__file__), "..", "..", ".build", "tor-timings.txt")
        os.makedirs(os.path.dirname(timings), exist_ok=True)
        with open(timings, "a") as f:
            f.write("private network start to relays holding the consensus: %.2f s\n"
                    % net.timings.get("infrastructure_ready", float("nan")))
        yield net
    finally:
        net.stop()


@pytest.fixture(scope="session")
def tor_client(tor_network):
    """`tor_client(name, *more)` -> TorClient (or a list for several names), created on
    first use and shared for the session."""

    def get(name, *more):
        if more:
            return tor_network.clients_named(name, *more)
        return tor_network.client(name)

    return get
