"""The socket bookkeeping of SLM v2.0.x (``slm_at_socket.c``), kept per boot in ``fw.state``.

``socks`` is the firmware's 8-record array in slot order; ``sock`` is the *active socket held
as a struct copy*, which is the source of several v2.0 quirks: an accepted peer (``fd_peer``)
exists only in the copy, so re-selecting any socket or opening another one loses it (the fd
stays used: it leaks until reset). Handles come from ``fds``, the Zephyr fd table of 8 shared
with accepted peers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from firmware_ref.net import Endpoint, FdTable
from firmware_ref.net.security import SessionCache

INVALID_SOCKET = -1
INVALID_SEC_TAG = -1
AF_UNSPEC = 0
ROLE_CLIENT = 0
ROLE_SERVER = 1
MAX_SOCKET_COUNT = 8  # SLM_MAX_SOCKET_COUNT

STATE_KEY = "sockets"


@dataclass
class SockRecord:
    """``struct slm_socket``."""

    fd: int = INVALID_SOCKET
    type: int = 0
    role: int = ROLE_CLIENT
    family: int = AF_UNSPEC
    sec_tag: int = INVALID_SEC_TAG
    fd_peer: int = INVALID_SOCKET
    ranking: int = 0

    def copy(self) -> SockRecord:
        return dataclasses.replace(self)

    def reset(self) -> None:
        """``INIT_SOCKET``: everything but ``type`` goes back to its initial value."""
        self.fd = INVALID_SOCKET
        self.role = ROLE_CLIENT
        self.family = AF_UNSPEC
        self.sec_tag = INVALID_SEC_TAG
        self.fd_peer = INVALID_SOCKET
        self.ranking = 0


@dataclass
class SocketState:
    socks: list[SockRecord] = field(
        default_factory=lambda: [SockRecord() for _ in range(MAX_SOCKET_COUNT)]
    )
    sock: SockRecord = field(default_factory=SockRecord)
    # socket_ranking: starts at 1 and grows on every successful open.
    next_ranking: int = 1
    fds: FdTable[Endpoint] = field(default_factory=FdTable)
    # The globals udp_url/udp_port of #XSENDTO (cleared only when data mode exits).
    udp_url: str = ""
    udp_port: int = 0
    # The modem's TLS session cache (TLS_SESSION_CACHE / _PURGE); it lives until reset.
    tls_sessions: SessionCache = field(default_factory=SessionCache)

    def free_slot(self) -> int | None:
        for i, rec in enumerate(self.socks):
            if rec.fd == INVALID_SOCKET:
                return i
        return None

    def record(self, fd: int) -> SockRecord | None:
        if fd == INVALID_SOCKET:
            return None
        for rec in self.socks:
            if rec.fd == fd:
                return rec
        return None

    def opened(self) -> list[SockRecord]:
        """Open records in slot order (how the select listing and XPOLL walk them)."""
        return [rec for rec in self.socks if rec.fd != INVALID_SOCKET]

    def add_active(self) -> None:
        """Store the freshly opened active socket in the first free slot with its ranking."""
        slot = self.free_slot()
        assert slot is not None  # checked before the open started
        self.sock.ranking = self.next_ranking
        self.next_ranking += 1
        self.socks[slot] = self.sock.copy()

    def highest_ranked(self) -> SockRecord | None:
        best: SockRecord | None = None
        for rec in self.socks:
            if rec.fd != INVALID_SOCKET and (best is None or rec.ranking > best.ranking):
                best = rec
        return best

    def close_all(self) -> None:
        for ep in self.fds.drain():
            ep.close()
        for rec in self.socks:
            rec.reset()
        self.sock.reset()
