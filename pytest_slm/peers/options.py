"""Command-line options of the peers, and their resolution into a PeerConfig."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any

from .base import any_address, family_name, ip_literal_family, loopback


def add_options(group: Any) -> None:
    """Declare the peers' options on a pytest option group (plugin.py calls this)."""
    group.addoption(
        "--peer-host",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=(
            "address the board must use to reach the peers in this process (a real board on "
            "LTE cannot reach loopback). Peers then listen on that address when this host "
            "holds it, else on all interfaces. Give it once per "
            "family for IPv4 and IPv6 (an IPv4 and an IPv6 literal); a host name serves both. "
            "It is also added to the TLS/DTLS server certificate. Default: loopback."
        ),
    )
    group.addoption(
        "--peer-bind",
        action="append",
        default=[],
        metavar="ADDRESS",
        help=(
            "local address the peers bind to (once per family). Default: loopback, or all "
            "interfaces (0.0.0.0 / ::) when --peer-host is given."
        ),
    )
    group.addoption(
        "--peer-url",
        default=None,
        metavar="URL",
        help=(
            "use an slm-peer already running on a lab host instead of starting peers here: "
            "tcp://HOST:PORT (its --control-port, which returns its manifest) or the path of "
            "the manifest it wrote with --manifest. Only echo peers are used remotely; tests "
            "needing a sink, source or connect-back are skipped."
        ),
    )


def _is_local_address(host: str, family: socket.AddressFamily) -> bool:
    """True when this host holds `host` (a bind to it succeeds)."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


@dataclass
class PeerConfig:
    """The peers' options, resolved. Defaults describe a local loopback run."""

    peer_hosts: list[str] = field(default_factory=list)
    bind_hosts: list[str] = field(default_factory=list)
    peer_url: str | None = None

    @classmethod
    def from_pytest(cls, config: Any) -> PeerConfig:
        # getoption(default=...) keeps the fixtures usable when the options were not declared.
        return cls(
            peer_hosts=list(config.getoption("peer_host", default=None) or []),
            bind_hosts=list(config.getoption("peer_bind", default=None) or []),
            peer_url=config.getoption("peer_url", default=None),
        )

    _manifest: tuple[dict[str, Any], str | None] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def remote(self) -> bool:
        return bool(self.peer_url)

    def remote_manifest(self) -> tuple[dict[str, Any], str | None]:
        """The --peer-url manifest and the host its URL names, fetched once per session."""
        if self._manifest is None:
            from .manifest import fetch_manifest

            assert self.peer_url, "no --peer-url"
            self._manifest = fetch_manifest(self.peer_url)
        return self._manifest

    def board_host(self, family: socket.AddressFamily) -> str | None:
        """What the board uses for a peer of this family: the --peer-host of that family (or a
        host name), None when --peer-host was given but not for this family, else loopback."""
        if not self.peer_hosts:
            return loopback(family)
        for host in self.peer_hosts:
            lit = ip_literal_family(host)
            if lit is None or lit == family:
                return host.strip("[]")
        return None

    def bind_host(self, family: socket.AddressFamily) -> str:
        """Where the peers listen: --peer-bind; else no wider than the --peer-host needs (its
        loopback or its own address when it is one of this host's); all interfaces only for a
        host name or an address this host does not hold (a NAT's)."""
        for host in self.bind_hosts:
            if ip_literal_family(host) == family:
                return host.strip("[]")
        if not self.peer_hosts:
            return loopback(family)
        board_host = self.board_host(family)
        if board_host is None:
            # No board reaches a peer of this family: nothing to widen for.
            return loopback(family)
        if ip_literal_family(board_host) == family:
            address = ipaddress.ip_address(board_host)
            if address.is_loopback or _is_local_address(board_host, family):
                return board_host
        return any_address(family)

    def missing_board_host_reason(self, family: socket.AddressFamily) -> str:
        return (
            f"no {family_name(family)} --peer-host given (have {self.peer_hosts}): add "
            f"--peer-host with an {family_name(family)} address the board can reach"
        )

    def cert_names(self) -> list[str]:
        return list(self.peer_hosts)
