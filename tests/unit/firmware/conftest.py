"""Fixtures for the simulated board's socket tests: a booted board and real loopback peers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from peer_fixtures import (  # noqa: F401  (fixtures: registered by being in this namespace)
    dtls_echo,
    pki,
    tcp_echo,
    tcp_echo6,
    tls_echo,
    tls_echo_client_auth,
    udp_echo,
    udp_echo6,
)
from socket_peers import Pki

from firmware_ref.core import sockio
from firmware_ref.testing import FirmwareHarness


@pytest.fixture
def harness(pki: Pki) -> Iterator[FirmwareHarness]:  # noqa: F811 (the pki fixture)
    with FirmwareHarness(online=True, timeout=10.0) as h:
        pki.provision(h.fw)
        yield h


@pytest.fixture
def offline_harness() -> Iterator[FirmwareHarness]:
    with FirmwareHarness(online=False, timeout=10.0) as h:
        yield h


@pytest.fixture
def fast_send_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 30 s POLLOUT wait of the send loop, shortened for tests that expire it."""
    monkeypatch.setattr(sockio, "SEND_POLL_TIMEOUT", 0.3)
