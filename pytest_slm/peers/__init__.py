"""Network peers the board talks to: echo, sink and source servers (TCP, UDP, TLS, DTLS), the
connect-back client for the board's server role, and per-session test certificates.

The pytest fixtures live in `pytest_slm.peers.fixtures`; the options in `add_options`.
"""

from __future__ import annotations

import pytest

from .base import DEFAULT_TIMEOUT, HandshakeFailure, Peer, PeerTimeout, ipv6_available
from .certs import PeerCerts
from .manifest import RemoteCerts, RemotePeer
from .options import PeerConfig, add_options
from .tcp import ConnectBack, ConnectionRecord, TcpEcho, TcpSink, TcpSource
from .tls import TlsEcho
from .udp import Datagram, UdpEcho, UdpSink, UdpSource

#: For `@pytest.mark.parametrize("tcp_echo", FAMILIES, indirect=True)`: test ids ipv4/ipv6.
FAMILIES = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]


def __getattr__(name: str):
    # DTLS pulls in pyOpenSSL: loaded on first use only.
    if name == "DtlsEcho":
        from .dtls import DtlsEcho

        return DtlsEcho
    raise AttributeError(name)


__all__ = [
    "DEFAULT_TIMEOUT",
    "FAMILIES",
    "ConnectBack",
    "ConnectionRecord",
    "Datagram",
    "DtlsEcho",
    "HandshakeFailure",
    "Peer",
    "PeerCerts",
    "PeerConfig",
    "PeerTimeout",
    "RemoteCerts",
    "RemotePeer",
    "TcpEcho",
    "TcpSink",
    "TcpSource",
    "TlsEcho",
    "UdpEcho",
    "UdpSink",
    "UdpSource",
    "add_options",
    "ipv6_available",
]
