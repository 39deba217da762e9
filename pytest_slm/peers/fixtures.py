"""pytest fixtures for the peers. plugin.py does `from pytest_slm.peers.fixtures import *`.

Scopes:
  * echo servers (tcp/udp/tls/dtls) are session-scoped inside `peer_pool` (echo is stateless,
    and one server per session saves a handshake setup per test); the fixtures are
    function-scoped views that reset the counters before each test;
  * sinks and sources are new servers per test (a fresh port each time), so bytes a previous
    test's socket sends late can never land in this test's records;
  * connect_back clients are closed at the end of the test.

IP family: every peer fixture takes 4 by default; parametrize it indirectly to run over both,
`@pytest.mark.parametrize("tcp_echo", FAMILIES, indirect=True)`, or use the `*6` variants.
IPv6 fixtures skip when ::1 cannot be bound (or no IPv6 --peer-host was given).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from .base import DEFAULT_TIMEOUT, Peer, family_name, family_of, ipv6_available
from .options import PeerConfig

if TYPE_CHECKING:
    from .certs import PeerCerts
    from .manifest import RemoteCerts, RemotePeer
    from .tcp import ConnectBack, TcpSource
    from .udp import UdpSource

# The plug-in imports this module in every pytest process: the servers, the certificates
# (trustme, ssl) and the remote manifest are imported by the fixtures that use them.

__all__ = [
    "peer_config",
    "peer_certs",
    "peer_pool",
    "tcp_echo",
    "tcp_echo6",
    "udp_echo",
    "udp_echo6",
    "tls_echo",
    "tls_echo6",
    "dtls_echo",
    "dtls_echo6",
    "tcp_sink",
    "tcp_sink6",
    "udp_sink",
    "udp_sink6",
    "tcp_source",
    "udp_source",
    "connect_back",
]

LOCAL_ONLY_REASON = (
    "{what} needs a peer in this test process, which a remote slm-peer (--peer-url) cannot "
    "give: run without --peer-url (with --peer-host ADDRESS when the board is on a real network)"
)


class PeerPool:
    """Session-wide peers: echo servers started on first use, stopped at session end, and
    the knowledge of where peers bind and what address the board uses."""

    ECHO_KINDS = ("tcp_echo", "udp_echo", "tls_echo", "dtls_echo")

    def __init__(self, config: PeerConfig, certs: Any) -> None:
        self.config = config
        self.certs = certs
        self._peers: dict[tuple[str, socket.AddressFamily], Peer] = {}
        self._remote: dict[tuple[str, socket.AddressFamily], RemotePeer] | None = None
        if config.remote:
            from .manifest import remote_peers

            manifest, url_host = config.remote_manifest()
            self._remote = remote_peers(manifest, url_host, config.peer_hosts)

    @property
    def remote(self) -> bool:
        return self._remote is not None

    def require_local(self, what: str) -> None:
        if self.remote:
            pytest.skip(LOCAL_ONLY_REASON.format(what=what))

    def check_family(self, family: socket.AddressFamily) -> str:
        """Skip when this family cannot be served; return the board's address for it."""
        if family == socket.AF_INET6 and not self.remote and not ipv6_available():
            pytest.skip("IPv6 loopback (::1) is not available on this host")
        board = self.config.board_host(family)
        if board is None:
            pytest.skip(self.config.missing_board_host_reason(family))
        return board

    def new(self, cls: type[Peer], family: socket.AddressFamily, **kwargs: Any) -> Peer:
        """A started, unpooled peer of the given family (the caller stops it)."""
        board = self.check_family(family)
        if getattr(cls, "needs_certs", False):
            kwargs["certs"] = self.certs
        peer = cls(host=self.config.bind_host(family), family=family, board_host=board, **kwargs)
        return peer.start()

    def get(self, kind: str, family: Any = 4) -> Peer | RemotePeer:
        """The session's echo server of this kind and family (started on first use)."""
        fam = family_of(family)
        if self._remote is not None:
            self.check_family(fam)
            try:
                return self._remote[(kind, fam)]
            except KeyError:
                pytest.skip(
                    f"the slm-peer at {self.config.peer_url} does not serve {kind} over "
                    f"{family_name(fam)} (or no address for the board is known: --peer-host)"
                )
        key = (kind, fam)
        if key not in self._peers:
            self._peers[key] = self.new(_echo_class(kind), fam)
        return self._peers[key]

    def close(self) -> None:
        errors = []
        for peer in self._peers.values():
            try:
                peer.stop()
            except RuntimeError as exc:
                errors.append(str(exc))
        self._peers.clear()
        if errors:
            raise RuntimeError("; ".join(errors))


def _echo_class(kind: str) -> type[Peer]:
    if kind == "dtls_echo":
        from .dtls import DtlsEcho

        return DtlsEcho
    from .tcp import TcpEcho
    from .tls import TlsEcho
    from .udp import UdpEcho

    return {"tcp_echo": TcpEcho, "udp_echo": UdpEcho, "tls_echo": TlsEcho}[kind]


def _sink_class(kind: str) -> type[Peer]:
    from .tcp import TcpSink
    from .udp import UdpSink

    return {"tcp_sink": TcpSink, "udp_sink": UdpSink}[kind]


def _requested_family(request: pytest.FixtureRequest, default: Any = 4) -> socket.AddressFamily:
    """The family given by indirect parametrization (4, 6, "ipv4", ...), else default."""
    return family_of(getattr(request, "param", default))


# --------------------------------------------------------------------- session fixtures


@pytest.fixture(scope="session")
def peer_config(pytestconfig: pytest.Config) -> PeerConfig:
    """The peers' options, resolved (--peer-host, --peer-bind, --peer-url)."""
    return PeerConfig.from_pytest(pytestconfig)


@pytest.fixture(scope="session")
def peer_certs(peer_config: PeerConfig) -> PeerCerts | RemoteCerts:
    """The session's CA (`.ca_pem`, to provision with AT%CMNG), the server certificate the
    TLS/DTLS peers present (`.names`), and an unrelated CA (`.other_ca_pem`)."""
    from .certs import PeerCerts
    from .manifest import RemoteCerts

    if peer_config.remote:
        manifest, _ = peer_config.remote_manifest()
        return RemoteCerts(manifest["ca_pem"], manifest.get("names", []))
    return PeerCerts(names=peer_config.cert_names())


@pytest.fixture(scope="session")
def peer_pool(peer_config: PeerConfig, peer_certs: Any) -> Iterator[PeerPool]:
    pool = PeerPool(peer_config, peer_certs)
    try:
        yield pool
    finally:
        pool.close()


# --------------------------------------------------------------------- echo servers


def _echo_fixture(kind: str, fixed_family: int | None) -> Callable[..., Any]:
    def fixture(request: pytest.FixtureRequest, peer_pool: PeerPool) -> Any:
        family = family_of(fixed_family) if fixed_family else _requested_family(request)
        peer = peer_pool.get(kind, family)
        peer.reset()
        return peer

    suffix = "6" if fixed_family == 6 else ""
    fixture.__name__ = f"{kind}{suffix}"
    fixture.__doc__ = (
        f"The session's {kind.replace('_', ' ')} server "
        f"({'IPv6' if fixed_family == 6 else 'IPv4, or the family given indirectly'}): "
        ".board_host/.port for the board, counters reset for this test."
    )
    return pytest.fixture(fixture, name=fixture.__name__)


tcp_echo = _echo_fixture("tcp_echo", None)
tcp_echo6 = _echo_fixture("tcp_echo", 6)
udp_echo = _echo_fixture("udp_echo", None)
udp_echo6 = _echo_fixture("udp_echo", 6)
tls_echo = _echo_fixture("tls_echo", None)
tls_echo6 = _echo_fixture("tls_echo", 6)
dtls_echo = _echo_fixture("dtls_echo", None)
dtls_echo6 = _echo_fixture("dtls_echo", 6)


# --------------------------------------------------------------------- sinks


def _sink_fixture(kind: str, fixed_family: int | None) -> Callable[..., Any]:
    def fixture(request: pytest.FixtureRequest, peer_pool: PeerPool) -> Iterator[Peer]:
        peer_pool.require_local(kind)
        family = family_of(fixed_family) if fixed_family else _requested_family(request)
        peer = peer_pool.new(_sink_class(kind), family)
        try:
            yield peer
        finally:
            peer.stop()

    suffix = "6" if fixed_family == 6 else ""
    fixture.__name__ = f"{kind}{suffix}"
    fixture.__doc__ = (
        f"A fresh {kind.replace('_', ' ')} for this test: records exactly what arrives "
        "(.data, .records or .datagrams), .wait_for(nbytes or predicate, timeout)."
    )
    return pytest.fixture(fixture, name=fixture.__name__)


tcp_sink = _sink_fixture("tcp_sink", None)
tcp_sink6 = _sink_fixture("tcp_sink", 6)
udp_sink = _sink_fixture("udp_sink", None)
udp_sink6 = _sink_fixture("udp_sink", 6)


# --------------------------------------------------------------------- factories


@pytest.fixture
def tcp_source(request: pytest.FixtureRequest, peer_pool: PeerPool) -> Iterator[Callable]:
    """Factory: tcp_source(payload, close=True, family=4) -> a started TcpSource that sends
    payload to each client that connects, then half-closes (close=True) or keeps the connection
    open. Stopped at the end of the test."""
    from .tcp import TcpSource

    peer_pool.require_local("tcp_source")
    made: list[Peer] = []
    default = _requested_family(request)

    def make(payload: bytes, close: bool = True, family: Any = None) -> TcpSource:
        fam = family_of(family) if family is not None else default
        peer = peer_pool.new(TcpSource, fam, payload=payload, close=close)
        made.append(peer)
        return peer  # type: ignore[return-value]

    try:
        yield make
    finally:
        for peer in made:
            peer.stop()


@pytest.fixture
def udp_source(request: pytest.FixtureRequest, peer_pool: PeerPool) -> Iterator[Callable]:
    """Factory: udp_source(reply=None, family=4) -> a started UdpSource: .send_to(host, port,
    payload) sends to the board's UDP socket; a datagram it receives is recorded and answered
    with `reply` when set."""
    from .udp import UdpSource

    peer_pool.require_local("udp_source")
    made: list[Peer] = []
    default = _requested_family(request)

    def make(reply: bytes | None = None, family: Any = None) -> UdpSource:
        fam = family_of(family) if family is not None else default
        peer = peer_pool.new(UdpSource, fam, reply=reply)
        made.append(peer)
        return peer  # type: ignore[return-value]

    try:
        yield make
    finally:
        for peer in made:
            peer.stop()


@pytest.fixture
def connect_back(peer_pool: PeerPool) -> Iterator[Callable]:
    """Factory: connect_back(host, port, family=None, timeout=10, connect=True) -> a
    ConnectBack TCP client connected to the board's listening socket (#XLISTEN/#XACCEPT):
    .send(), .recv_exactly(n, timeout), .recv_until_closed(), .close(). Closed at teardown."""
    from .tcp import ConnectBack

    peer_pool.require_local("connect_back")
    made: list[ConnectBack] = []

    def make(
        host: str,
        port: int,
        family: Any = None,
        timeout: float = DEFAULT_TIMEOUT,
        connect: bool = True,
    ) -> ConnectBack:
        client = ConnectBack(host, port, family=family, timeout=timeout)
        made.append(client)
        return client.connect() if connect else client

    try:
        yield make
    finally:
        for client in made:
            client.close()
