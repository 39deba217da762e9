"""UDP peers: echo, sink and source (send on demand, reply to whoever writes)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from .base import DEFAULT_TIMEOUT, Peer, norm_addr

_MAX_DATAGRAM = 65535


@dataclass(frozen=True)
class Datagram:
    data: bytes
    peer: tuple[str, int]
    at: float = field(default_factory=time.monotonic)


class DatagramServer(Peer):
    """One UDP socket served by one thread; subclasses implement _datagram(data, addr)."""

    transport = "udp"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datagrams: list[Datagram] = []
        #: Datagrams seen in total (connections counts distinct senders).
        self.datagrams_received = 0
        self._senders: set[tuple[str, int]] = set()

    def _open(self) -> socket.socket:
        return self._bind(socket.SOCK_DGRAM)

    def _serve(self, sock: socket.socket) -> None:
        while self.wait_readable(sock):
            try:
                data, addr = sock.recvfrom(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                # An ICMP error from an earlier send can surface here on some systems: a peer
                # that vanished, not a reason to stop serving.
                if self._stopping.is_set():
                    return
                self._record_error(f"recvfrom: {exc!r}")
                continue
            peer = norm_addr(addr)
            with self._cond:
                self.datagrams_received += 1
                self.bytes_received += len(data)
                if peer not in self._senders:
                    self._senders.add(peer)
                    self.connections += 1
                if self.record_data:
                    self.datagrams.append(Datagram(data, peer))
                self._cond.notify_all()
            try:
                self._datagram(sock, data, addr)
            except OSError as exc:
                if not self._stopping.is_set():
                    self._record_error(f"reply to {peer}: {exc!r}")

    def _datagram(self, sock: socket.socket, data: bytes, addr: Any) -> None:
        pass

    def _sendto(self, data: bytes, addr: Any) -> None:
        assert self._sock is not None, f"{self!r} is not started"
        # Counted first: once the other side holds the bytes, the counter already shows them.
        self._count(bytes_sent=len(data))
        self._sock.sendto(data, addr)

    # ----------------------------------------------------------------- records and waits

    @property
    def data(self) -> bytes:
        """All recorded datagrams' payloads, concatenated in arrival order."""
        with self._cond:
            return b"".join(d.data for d in self.datagrams)

    @property
    def peers(self) -> list[tuple[str, int]]:
        with self._cond:
            return [d.peer for d in self.datagrams]

    def wait_datagrams(self, n: int = 1, timeout: float = DEFAULT_TIMEOUT) -> list[Datagram]:
        """Wait until n datagrams have been recorded; return the first n."""
        return self.wait_until(
            lambda: self.datagrams[:n] if len(self.datagrams) >= n else None,
            timeout,
            what=f"{n} datagram(s) (have {len(self.datagrams)})",
        )

    def _reset_records(self) -> None:
        self.datagrams.clear()
        self.datagrams_received = 0
        self._senders.clear()


class UdpEcho(DatagramServer):
    """Sends every datagram back to its sender, unchanged."""

    kind = "udp_echo"

    def _datagram(self, sock: socket.socket, data: bytes, addr: Any) -> None:
        self._sendto(data, addr)


class UdpSink(DatagramServer):
    """Records every datagram (payload and sender) and never answers."""

    kind = "udp_sink"
    record_data = True


class UdpSource(DatagramServer):
    """Sends a payload to an address on demand (the board's bound UDP socket), and answers
    every datagram it receives with `reply` (when set). What arrives is recorded."""

    kind = "udp_source"
    record_data = True

    def __init__(self, reply: bytes | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reply = reply

    def _datagram(self, sock: socket.socket, data: bytes, addr: Any) -> None:
        if self.reply is not None:
            self._sendto(self.reply, addr)

    def send_to(self, host: str, port: int, payload: bytes) -> None:
        """One datagram from this peer's socket (so a reply comes back here and is recorded)."""
        self._sendto(payload, (host, port))
