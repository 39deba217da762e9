"""Fixtures for the Serial Modem dialect's golden tests: a booted ``sm`` board and real peers.

The peers are the v2.0 socket tests' own (``tests/unit/firmware/peer_fixtures.py``): one set of
loopback TCP, UDP, TLS and DTLS servers for every dialect.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "firmware"))

from peer_fixtures import (  # noqa: E402, F401  (fixtures: registered by being in this namespace)
    dtls_echo,
    pki,
    tcp_echo,
    tcp_echo6,
    tls_echo,
    tls_echo_client_auth,
    udp_echo,
    udp_echo6,
)
from socket_peers import Pki  # noqa: E402

from firmware_ref.testing import FirmwareHarness  # noqa: E402


@pytest.fixture
def sm(pki: Pki) -> Iterator[FirmwareHarness]:  # noqa: F811 (the pki fixture)
    """A Serial Modem board, online, with the suite's credentials in its modem."""
    with FirmwareHarness(online=True, timeout=10.0, dialect="sm") as h:
        pki.provision(h.fw)
        yield h


@pytest.fixture
def sm_offline() -> Iterator[FirmwareHarness]:
    with FirmwareHarness(online=False, timeout=10.0, dialect="sm") as h:
        yield h
