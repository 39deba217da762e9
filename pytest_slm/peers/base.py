"""What every peer shares: lifecycle, addresses, counters, event waits and background threads."""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger("pytest_slm.peers")

T = TypeVar("T")

#: Generous by design: the suite runs on loaded 2-core CI machines.
DEFAULT_TIMEOUT = 10.0


class PeerTimeout(AssertionError):
    """A wait on a peer ran out of time. An AssertionError so pytest reports it as a failure."""


def family_of(value: Any) -> socket.AddressFamily:
    """Accept 4, 6, "ipv4", "ipv6", "4", "6" or an AddressFamily; return AF_INET or AF_INET6."""
    if isinstance(value, socket.AddressFamily):
        if value in (socket.AF_INET, socket.AF_INET6):
            return value
    elif isinstance(value, int) and value in (4, 6):
        return socket.AF_INET if value == 4 else socket.AF_INET6
    elif isinstance(value, str):
        key = value.lower().removeprefix("ipv")
        if key in ("4", "6"):
            return socket.AF_INET if key == "4" else socket.AF_INET6
    raise ValueError(f"not an IP family: {value!r} (use 4, 6, 'ipv4' or 'ipv6')")


def family_name(family: socket.AddressFamily) -> str:
    return "ipv6" if family == socket.AF_INET6 else "ipv4"


def loopback(family: socket.AddressFamily) -> str:
    return "::1" if family == socket.AF_INET6 else "127.0.0.1"


def any_address(family: socket.AddressFamily) -> str:
    return "::" if family == socket.AF_INET6 else "0.0.0.0"


def ip_literal_family(host: str) -> socket.AddressFamily | None:
    """AF_INET/AF_INET6 when host is an IP literal, None for a host name."""
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return socket.AF_INET6 if addr.version == 6 else socket.AF_INET


_ipv6_cache: bool | None = None


def ipv6_available() -> bool:
    """True when this host can bind ::1 (containers often run without IPv6)."""
    global _ipv6_cache
    if _ipv6_cache is None:
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.bind(("::1", 0))
            _ipv6_cache = True
        except OSError:
            _ipv6_cache = False
    return _ipv6_cache


def norm_addr(addr: tuple) -> tuple[str, int]:
    """(host, port) from an AF_INET or AF_INET6 address tuple (drops flowinfo and scope id)."""
    return (addr[0], addr[1])


def _wait_readable(objs: list[Any], timeout: float | None) -> list[Any]:
    """The readable subset of objs (anything with fileno()). poll() where the system has it:
    select() fails on descriptors above FD_SETSIZE, which a long session can reach."""
    if not hasattr(select, "poll"):
        return select.select(objs, [], [], timeout)[0]
    poller = select.poll()
    by_fd = {}
    for obj in objs:
        fd = obj.fileno()
        by_fd[fd] = obj
        poller.register(fd, select.POLLIN)
    events = poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999)))
    # POLLHUP/POLLERR count as readable: the next recv() reports what happened.
    return [by_fd[fd] for fd, _ in events if fd in by_fd]


@dataclass(frozen=True)
class HandshakeFailure:
    """A TLS/DTLS handshake the peer saw fail: who, and why (OpenSSL's reason, e.g.
    'TLSV1_ALERT_UNKNOWN_CA' or 'tlsv1 alert unknown ca'), plus the full message."""

    peer: tuple[str, int]
    reason: str
    message: str
    at: float = field(default_factory=time.monotonic)


class Peer:
    """Base of every server: bind on start(), serve in background threads, stop() joins them.

    Subclasses implement _open() (create and bind the socket, return it) and _serve(sock)
    (the main loop, run in a thread; it must return once self._stopping is set, which
    self.wait_readable() makes easy). All shared state lives under self._cond, and every change
    notifies it, so tests wait on events rather than sleeping.
    """

    kind = "peer"
    transport = "tcp"
    # Recording peers (sinks, sources) keep every byte in `self.data`; echoes only count them,
    # so a long echo session does not hold every byte in memory.
    record_data = False

    def __init__(
        self,
        host: str | None = None,
        port: int = 0,
        family: Any = 4,
        board_host: str | None = None,
    ) -> None:
        self.family = family_of(family)
        self.host = host if host is not None else loopback(self.family)
        self.port = port
        self._board_host = board_host
        self._cond = threading.Condition(threading.RLock())
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._started = False
        self._sock: socket.socket | None = None
        # A socketpair whose read end becomes readable forever once stop() writes to it:
        # every select() in every thread of this peer wakes on it.
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self.connections = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.handshake_errors: list[HandshakeFailure] = []
        self.errors: list[str] = []

    # ----------------------------------------------------------------- addresses

    @property
    def board_host(self) -> str:
        """The address the board must use to reach this peer (--peer-host, else the bound host,
        or loopback when bound to all interfaces)."""
        if self._board_host:
            return self._board_host
        if self.host in ("0.0.0.0", "::", ""):
            return loopback(self.family)
        return self.host

    @board_host.setter
    def board_host(self, value: str | None) -> None:
        self._board_host = value

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) this process uses to reach the peer itself."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else loopback(self.family)
        return (host, self.port)

    @property
    def family_name(self) -> str:
        return family_name(self.family)

    def describe(self) -> dict[str, Any]:
        """One manifest entry (see manifest.py)."""
        return {
            "service": self.kind,
            "transport": self.transport,
            "family": self.family_name,
            "host": self.host,
            "port": self.port,
        }

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} {self.family_name} {self.host}:{self.port} {state}>"

    # ----------------------------------------------------------------- lifecycle

    @property
    def running(self) -> bool:
        return self._started and not self._stopping.is_set()

    def start(self) -> Peer:
        if self._started:
            raise RuntimeError(f"{self!r} already started")
        self._wake_r, self._wake_w = socket.socketpair()
        try:
            sock = self._open()
        except BaseException:
            self._wake_r.close()
            self._wake_w.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._started = True
        self._spawn(self._serve_guarded, sock, name="serve")
        log.debug("%r started", self)
        return self

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Stop serving, close every socket and join every thread. Idempotent."""
        if not self._started or self._stopping.is_set():
            return
        self._stopping.set()
        try:
            assert self._wake_w is not None
            self._wake_w.send(b"x")
        except OSError:
            pass
        with self._cond:
            socks = list(self._sockets)
        for s in socks:
            # Wakes a thread blocked in recv()/sendall() on a connection that is still open.
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        # Re-read the list until it settles: the accept thread may spawn a connection thread
        # while it is being joined (that thread sees the wake-up socket and returns at once).
        while True:
            with self._cond:
                pending = [t for t in self._threads if t.is_alive()]
            if not pending or time.monotonic() >= deadline:
                break
            for t in pending:
                t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        for s in socks + [self._sock, self._wake_r, self._wake_w]:
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        with self._cond:
            self._cond.notify_all()
        if alive:
            raise RuntimeError(f"{self!r}: threads did not stop: {alive}")
        log.debug("%r stopped", self)

    def __enter__(self) -> Peer:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- for subclasses

    def _open(self) -> socket.socket:
        raise NotImplementedError

    def _serve(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def _bind(self, type_: int) -> socket.socket:
        sock = socket.socket(self.family, type_)
        try:
            if type_ == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.family == socket.AF_INET6:
                # Keeps an IPv6 peer IPv6-only, so "::" and "0.0.0.0" peers can share a port.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        return sock

    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> threading.Thread:
        t = threading.Thread(
            target=target, args=args, name=f"{type(self).__name__}-{self.port}-{name}", daemon=True
        )
        with self._cond:
            # Drop finished threads so a long session does not accumulate them.
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
        t.start()
        return t

    def _serve_guarded(self, sock: socket.socket) -> None:
        self._guard(self._serve, sock)

    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        """Run fn; a peer that vanishes or misbehaves must never kill the server thread
        noisily, but what happened is kept in self.errors for a test to look at."""
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - recorded, see docstring
            if not self._stopping.is_set():
                self._record_error(f"{fn.__name__}: {type(exc).__name__}: {exc}")

    def _handshake_failed(self, peer: tuple[str, int], reason: str, message: str) -> None:
        log.info("%s %s:%s: handshake with %s failed: %s", self.kind, self.host, self.port,
                 peer, reason)
        with self._cond:
            self.handshake_errors.append(HandshakeFailure(peer, reason, message))
            self._cond.notify_all()

    def _record_error(self, text: str) -> None:
        log.debug("%r: %s", self, text)
        with self._cond:
            self.errors.append(text)
            self._cond.notify_all()

    def _track(self, s: socket.socket) -> None:
        with self._cond:
            self._sockets.add(s)

    def _untrack(self, s: socket.socket) -> None:
        with self._cond:
            self._sockets.discard(s)
        try:
            s.close()
        except OSError:
            pass

    def wait_readable(self, sock: Any, timeout: float | None = None) -> bool:
        """Block until sock is readable (True) or the peer is stopping / timeout (False)."""
        if self._stopping.is_set():
            return False
        ready = _wait_readable([sock, self._wake_r], timeout)
        if self._stopping.is_set():
            return False
        return sock in ready

    def _count(self, **deltas: int) -> None:
        with self._cond:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)
            self._cond.notify_all()

    # ----------------------------------------------------------------- waits

    def wait_until(
        self, predicate: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, what: str = ""
    ) -> T:
        """Wait until predicate() is truthy (checked under the peer's lock each time its state
        changes); return its value, or raise PeerTimeout naming `what`."""
        with self._cond:
            result = self._cond.wait_for(predicate, timeout)
            if not result:
                raise PeerTimeout(
                    f"{self!r}: timed out after {timeout:.1f}s waiting for "
                    f"{what or getattr(predicate, '__name__', 'condition')}"
                    f" (connections={self.connections}, received={self.bytes_received},"
                    f" sent={self.bytes_sent}, errors={self.errors[-3:]},"
                    f" handshake_errors={[h.reason for h in self.handshake_errors[-3:]]})"
                )
            return result

    def wait_for(
        self,
        nbytes: int | None = None,
        predicate: Callable[[Peer], Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Any:
        """Wait until at least `nbytes` payload bytes have arrived, or until predicate(self) is
        truthy. Returns what was recorded (self.data) for a recording peer, True for an echo, or
        the predicate's value."""
        if (nbytes is None) == (predicate is None):
            raise TypeError("wait_for() takes exactly one of nbytes or predicate")
        if predicate is not None:
            return self.wait_until(lambda: predicate(self), timeout, what="predicate")

        def enough() -> Any:
            if self.bytes_received < nbytes:
                return None
            return self.data if self.record_data else True

        return self.wait_until(enough, timeout, what=f"{nbytes} bytes")

    def wait_connections(self, n: int = 1, timeout: float = DEFAULT_TIMEOUT) -> int:
        return self.wait_until(
            lambda: self.connections if self.connections >= n else 0,
            timeout,
            what=f"{n} connection(s)",
        )

    def wait_handshake_error(self, timeout: float = DEFAULT_TIMEOUT) -> HandshakeFailure:
        return self.wait_until(
            lambda: self.handshake_errors[-1] if self.handshake_errors else None,
            timeout,
            what="a handshake failure",
        )

    def reset(self) -> None:
        """Forget counters and records (a session-scoped peer reused by the next test)."""
        with self._cond:
            self.connections = 0
            self.bytes_received = 0
            self.bytes_sent = 0
            self.handshake_errors.clear()
            self.errors.clear()
            self._reset_records()
            self._cond.notify_all()

    def _reset_records(self) -> None:
        pass
