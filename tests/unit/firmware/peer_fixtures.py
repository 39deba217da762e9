"""Loopback peers as fixtures, shared by every dialect's golden socket tests (the conftests of
tests/unit/firmware and tests/unit/firmware_sm import them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from socket_peers import DtlsEcho, Pki, TcpEcho, UdpEcho


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
def udp_echo6() -> Iterator[UdpEcho]:
    peer = UdpEcho("::1")
    yield peer
    peer.stop()


@pytest.fixture
def tls_echo(pki: Pki) -> Iterator[TcpEcho]:
    peer = TcpEcho(tls=pki.server_tls())
    yield peer
    peer.stop()


@pytest.fixture
def tls_echo_client_auth(pki: Pki) -> Iterator[TcpEcho]:
    peer = TcpEcho(tls=pki.server_tls(require_client=True))
    yield peer
    peer.stop()


@pytest.fixture
def dtls_echo(pki: Pki) -> Iterator[DtlsEcho]:
    peer = DtlsEcho(pki.server_dtls())
    yield peer
    peer.stop()
