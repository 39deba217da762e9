"""Fixtures for the Serial Modem dialect's golden tests: a booted ``sm`` board and real peers.

The peers are the v2.0 socket tests' own (``tests/unit/firmware/socket_peers.py``): one set of
loopback TCP, UDP, TLS and DTLS servers for every dialect.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "firmware"))

from socket_peers import DtlsEcho, Pki, TcpEcho, UdpEcho  # noqa: E402

from firmware_ref.testing import FirmwareHarness  # noqa: E402


@pytest.fixture(scope="session")
def pki() -> Pki:
    ca = trustme.CA()
    names = ["localhost", "127.0.0.1", "::1"]
    return Pki(
        ca=ca,
        wrong_ca=trustme.CA(),
        server=ca.issue_cert(*names),
        client=ca.issue_cert("device.example"),
        names=names,
    )


@pytest.fixture
def sm(pki: Pki) -> Iterator[FirmwareHarness]:
    """A Serial Modem board, online, with the suite's credentials in its modem."""
    with FirmwareHarness(online=True, timeout=10.0, dialect="sm") as h:
        pki.provision(h.fw)
        yield h


@pytest.fixture
def sm_offline() -> Iterator[FirmwareHarness]:
    with FirmwareHarness(online=False, timeout=10.0, dialect="sm") as h:
        yield h


@pytest.fixture
def tcp_echo() -> Iterator[TcpEcho]:
    peer = TcpEcho()
    yield peer
    peer.stop()


@pytest.fixture
def tcp_echo6() -> Iterator[TcpEcho]:
    peer = TcpEcho("::1")
    yield peer
    peer.stop()


@pytest.fixture
def udp_echo() -> Iterator[UdpEcho]:
    peer = UdpEcho()
    yield peer
    peer.stop()


@pytest.fixture
def tls_echo(pki: Pki) -> Iterator[TcpEcho]:
    peer = TcpEcho(tls=pki.server_tls())
    yield peer
    peer.stop()


@pytest.fixture
def dtls_echo(pki: Pki) -> Iterator[DtlsEcho]:
    peer = DtlsEcho(pki.server_dtls())
    yield peer
    peer.stop()
