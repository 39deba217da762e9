"""Network peers the board talks to: echo, sink and source servers (TCP, UDP, TLS, DTLS), the
connect-back client for the board's server role, and per-session test certificates.

The pytest fixtures live in `pytest_slm.peers.fixtures`; the options in `add_options`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_slm._lazy import lazy_exports

from .base import DEFAULT_TIMEOUT, HandshakeFailure, Peer, PeerTimeout, ipv6_available
from .options import PeerConfig, add_options

if TYPE_CHECKING:
    from .certs import PeerCerts
    from .dtls import DtlsEcho
    from .manifest import RemoteCerts, RemotePeer
    from .tcp import ConnectBack, ConnectionRecord, TcpEcho, TcpSink, TcpSource
    from .tls import TlsEcho
    from .udp import Datagram, UdpEcho, UdpSink, UdpSource

#: For `@pytest.mark.parametrize("tcp_echo", FAMILIES, indirect=True)`: test ids ipv4/ipv6.
FAMILIES = [pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")]

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

# The servers and certificates are imported on first use: the plug-in imports this package in
# every pytest process (for its options and fixtures). DTLS, which pulls in pyOpenSSL, is
# looked in last.
__getattr__, __dir__ = lazy_exports(
    __name__, __all__, (".tcp", ".udp", ".certs", ".tls", ".manifest", ".dtls")
)
