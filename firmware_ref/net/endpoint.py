"""One modem socket, backed by a real host socket (plus TLS or DTLS state when secure).

Every host socket is non-blocking; blocking calls are modelled with ``poll`` in short slices so
that a reset (``stopping``) always wakes them. Errors surface as ``NetError`` carrying the errno
the modem library would report.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from firmware_ref.net import latency
from firmware_ref.net.errors import NetError
from firmware_ref.net.security import (
    SecurityConfig,
    SecurityError,
    dtls_context,
    hostname_matches,
    peer_certificate,
    tls_context,
)

# Zephyr numbering, as printed by the firmware.
AF_INET = 1
AF_INET6 = 2
AF_PACKET = 3
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3

# Zephyr's poll bits are the same values as Linux's for these six.
POLLIN = 0x1
POLLPRI = 0x2
POLLOUT = 0x4
POLLERR = 0x8
POLLHUP = 0x10
POLLNVAL = 0x20
_POLL_MASK = 0x3F

_HOST_FAMILY = {AF_INET: socket.AF_INET, AF_INET6: socket.AF_INET6, AF_PACKET: socket.AF_PACKET}
_SLICE = 0.1  # longest uninterruptible wait: how fast a reset wakes a blocked command
_DTLS_MTU = 1400
_DATAGRAM_MAX = 65535
_ETH_P_ALL = 0x0003

Credentials = Mapping[tuple[int, int], object]


def _timeval(seconds: int) -> bytes:
    return struct.pack("@ll", seconds, 0)


class Endpoint:
    """A plain TCP, UDP or raw socket."""

    def __init__(self, family: int, kind: int, sock: socket.socket) -> None:
        self.family = family
        self.kind = kind
        self.sock: socket.socket = sock
        self.sock.setblocking(False)
        self.closed = False
        # Modem-only socket options (no host equivalent): name -> stored value.
        self.modem_options: dict[int, int | str] = {}
        # SO_RCVTIMEO in seconds, applied by blocking receives (0 = none).
        self.rcvtimeo = 0
        # With an emulated round trip: when what the host socket holds reaches the modem, and
        # which share of a round trip that takes (the downlink's half for data; a whole one for
        # an answer to something that went out at once: a handshake flight, a SYN-ACK).
        self.visible_at: float | None = None
        self.downlink_share = 0.5
        # The uplink: sends on their way to the peer (latency.Uplink), the host socket shared
        # with it, and a delivery's failure, reported by the next call as a stack reports an
        # asynchronous error.
        self._uplink: latency.Uplink | None = None
        self._io = threading.Lock()
        self._uplink_errno = 0
        # The device's address for this family: where an unbound datagram socket binds.
        self.local_ip: str | None = None

    # -- plumbing -------------------------------------------------------------------------------

    def fileno(self) -> int:
        try:
            return self.sock.fileno()
        except OSError:
            return -1

    def _call(self, fn: Callable, *args):
        if self.closed:
            raise NetError(errno.EBADF)
        try:
            return fn(*args)
        except (BlockingIOError, InterruptedError):
            raise NetError(errno.EAGAIN) from None
        except OSError as exc:
            raise NetError.from_os(exc) from None

    def _pending(self) -> bool:
        """Decrypted bytes already buffered above the host socket."""
        return False

    def poll_now(self, events: int) -> int:
        # One look at the descriptor: another thread (a command closing the socket, a TLS wrap
        # replacing it) may take it away between two, and poll() refuses -1.
        fd = self.fileno()
        if self.closed or fd < 0:
            return POLLNVAL
        revents = POLLIN if events & POLLIN and self._pending() else 0
        poller = select.poll()
        poller.register(fd, events | POLLIN)
        arrived = 0
        for _fd, ev in poller.poll(0):
            arrived |= ev
        if self._in_flight(arrived):
            arrived &= ~(POLLIN | POLLHUP | POLLERR)
        return (revents | (arrived & (events | POLLHUP | POLLERR | POLLNVAL))) & _POLL_MASK

    def _in_flight(self, arrived: int) -> bool:
        """True while what the peer sent is still on its way (an emulated round trip)."""
        if not arrived & (POLLIN | POLLHUP | POLLERR):
            self.visible_at = None
            return False
        conditions = latency.current()
        if not conditions.active:
            return False
        now = time.monotonic()
        if self.visible_at is None:
            self.visible_at = now + conditions.round_trip() * self.downlink_share
        return now < self.visible_at

    def _gate(self) -> None:
        """A receive before the data's round trip is over finds nothing yet."""
        if (
            latency.current().active
            and not self._pending()
            and self.poll_now(POLLIN) & (POLLIN | POLLHUP | POLLERR) == 0
        ):
            raise NetError(errno.EAGAIN)

    def wait(self, events: int, timeout: float | None, stopping: threading.Event) -> int:
        """Block until ``events`` (or an error condition); 0 when ``timeout`` seconds pass."""
        return poll_endpoints([self], events, timeout, stopping)[0]

    # -- socket calls ---------------------------------------------------------------------------

    def sockaddr(self, ip: str, port: int) -> tuple:
        return (ip, port, 0, 0) if self.family == AF_INET6 else (ip, port)

    def bind(self, ip: str, port: int) -> None:
        self._call(self.sock.bind, self.sockaddr(ip, port))

    def is_bound(self) -> bool:
        try:
            name = self.sock.getsockname()
        except OSError:
            return False
        return isinstance(name, tuple) and len(name) >= 2 and name[1] != 0

    def local_port(self) -> int:
        try:
            return int(self.sock.getsockname()[1])
        except (OSError, IndexError, TypeError, ValueError):
            return 0

    def connect(
        self, addr: tuple, stopping: threading.Event, creds: Credentials | None = None
    ) -> None:
        if self.kind == SOCK_STREAM:
            if self.peer_ip():
                # CPython's connect_ex reports EISCONN as success; the stack does not.
                raise NetError(errno.EISCONN)
            latency.wait_round_trip(stopping)  # SYN out, SYN-ACK (or RST) back
            if stopping.is_set():
                raise NetError(errno.EINTR, "interrupted by reset")
            rc = self._call(self.sock.connect_ex, addr)
            if rc == errno.EINPROGRESS:
                # The kernel's own SYN retries bound this wait, as the modem's stack does.
                self.wait(POLLOUT, None, stopping)
                rc = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc:
                raise NetError(rc)
        else:
            self._bind_to_device()
            self._call(self.sock.connect, addr)
        self._after_connect(addr, stopping, creds or {})

    def _bind_to_device(self) -> None:
        """An unbound datagram socket takes the device's address (the host would take all)."""
        if self.kind == SOCK_DGRAM and self.local_ip and not self.is_bound():
            self.bind(self.local_ip, 0)

    def _after_connect(self, addr: tuple, stopping: threading.Event, creds: Credentials) -> None:
        """Where secure sockets run their handshake."""

    def listen(self, backlog: int) -> None:
        self._call(self.sock.listen, backlog)
        self.downlink_share = 1.0  # the peer's SYN, our SYN-ACK (at once), its ACK

    def accept(self, stopping: threading.Event, creds: Credentials | None = None):
        """One pending connection (the caller waited for POLLIN): ``(endpoint, peer_ip)``."""
        self._gate()
        conn, addr = self._call(self.sock.accept)
        child = type(self)(self.family, self.kind, conn)
        return child, str(addr[0])

    def send(self, data: bytes) -> int:
        if self._uplink_delays(addressed=False):
            return self._send_later(data, self.sock.send)
        return int(self._call(self.sock.send, data))

    def sendto(self, data: bytes, addr: tuple) -> int:
        self._bind_to_device()
        if self._uplink_delays(addressed=True):
            return self._send_later(data, lambda chunk: self.sock.sendto(chunk, addr))
        return int(self._call(self.sock.sendto, data, addr))

    # -- the uplink (an emulated round trip) ----------------------------------------------------

    def _uplink_delays(self, *, addressed: bool = False) -> bool:
        """Whether this send goes on the uplink: with an emulated round trip, on a socket that
        can send now. Anything the host would refuse at once (closed, not connected, reset by
        the peer) takes the direct path, so that the modem reports it as before. A datagram
        without an address (`send`, not `sendto`) needs a connected socket as much as a stream
        does: unconnected, the host refuses it with EDESTADDRREQ."""
        if not latency.current().active or self.closed or self.fileno() < 0:
            return False
        self._raise_uplink_error()
        if not addressed and not self.peer_ip():
            return False
        poller = select.poll()
        poller.register(self.fileno(), select.POLLOUT)
        return not any(ev & (select.POLLERR | select.POLLHUP) for _fd, ev in poller.poll(0))

    def _raise_uplink_error(self) -> None:
        code, self._uplink_errno = self._uplink_errno, 0
        if code:
            raise NetError(code)

    def _send_later(self, data: bytes, send: Callable[[bytes], int]) -> int:
        data = bytes(data)
        if self._uplink is None:
            self._uplink = latency.Uplink()
        self._uplink.send_later(lambda: self._deliver(data, send))
        return len(data)

    def _deliver(self, data: bytes, send: Callable[[bytes], object]) -> None:
        """On the uplink's thread: hand the whole of ``data`` to the host socket."""
        view = memoryview(data)
        while view:
            with self._io:
                if self.fileno() < 0:
                    return
                try:
                    sent = send(bytes(view))
                except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                    sent = None
                except ssl.SSLWantReadError:
                    sent = None
                except ssl.SSLError:
                    self._uplink_errno = errno.ECONNRESET
                    return
                except OSError as exc:
                    self._uplink_errno = NetError.from_os(exc).errno
                    return
            if isinstance(sent, bytes):  # TLS: close_notify already received
                self._uplink_errno = errno.EPIPE
                return
            if sent is None:
                # The host's send buffer is full: the peer has not read yet.
                select.select([], [self.fileno()], [], _SLICE)
                continue
            view = view[int(sent) :]

    def _after_uplink(self, action: Callable[[], None]) -> None:
        """``action`` at once, or after the sends still on the uplink (a close, an alert)."""
        if self._uplink is not None and self._uplink.pending():
            self._uplink.after_pending(action)
        else:
            action()

    def recv(self, size: int, flags: int = 0) -> bytes:
        """``flags``: the host's (``socket.MSG_PEEK``), on a plain socket only."""
        self._gate()
        return bytes(self._call(self.sock.recv, size, flags))

    def recvfrom_addr(self, size: int, flags: int = 0) -> tuple[bytes, tuple]:
        """A datagram and the host's address tuple of its sender (plain sockets only)."""
        self._gate()
        data, addr = self._call(self.sock.recvfrom, size, flags)
        return bytes(data), addr

    def recvfrom(self, size: int) -> tuple[bytes, str]:
        if self.kind == SOCK_STREAM:
            data = self.recv(size)
            return data, self.peer_ip()
        data, addr = self.recvfrom_addr(size)
        ip = addr[0] if self.family in (AF_INET, AF_INET6) and addr else ""
        return data, str(ip)

    def peer_ip(self) -> str:
        if self.family not in (AF_INET, AF_INET6):
            return ""
        try:
            return str(self.sock.getpeername()[0])
        except (OSError, IndexError, TypeError):
            return ""

    # -- options --------------------------------------------------------------------------------

    def set_int_option(self, level: int, name: int, value: int) -> None:
        self._call(self.sock.setsockopt, level, name, value)

    def get_int_option(self, level: int, name: int) -> int:
        return int(self._call(self.sock.getsockopt, level, name))

    def set_timeout_option(self, name: int, seconds: int) -> None:
        try:
            self._call(self.sock.setsockopt, socket.SOL_SOCKET, name, _timeval(seconds))
        except struct.error:
            raise NetError(errno.EDOM) from None
        if name == socket.SO_RCVTIMEO:
            self.rcvtimeo = max(0, self.get_timeout_option(name))

    def get_timeout_option(self, name: int) -> int:
        raw = self._call(self.sock.getsockopt, socket.SOL_SOCKET, name, struct.calcsize("@ll"))
        sec, usec = struct.unpack("@ll", raw)
        # The firmware prints tv_sec only; the host may have rounded to a tick.
        return int(sec + (1 if usec >= 500_000 else 0))

    def pending_error(self) -> int:
        return self.get_int_option(socket.SOL_SOCKET, socket.SO_ERROR)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        # What is still on the uplink reaches the peer before the end of the stream does.
        self._after_uplink(self._close_host)

    def _close_host(self) -> None:
        with self._io:
            try:
                self.sock.close()
            except OSError:
                pass


def _handshake_deadline(cfg: SecurityConfig) -> float:
    return time.monotonic() + cfg.handshake_limit


class TlsEndpoint(Endpoint):
    """TLS 1.2 over TCP with Python's ``ssl``; the handshake runs inside ``connect``."""

    def __init__(
        self, family: int, kind: int, sock: socket.socket, security: SecurityConfig | None = None
    ) -> None:
        super().__init__(family, kind, sock)
        self.security = security or SecurityConfig(sec_tag=-1, peer_verify=0)
        self.tls: ssl.SSLSocket | None = None

    def _pending(self) -> bool:
        with self._io:
            return self.tls is not None and self.tls.pending() > 0

    def _handshake(self, tls: ssl.SSLSocket, stopping: threading.Event) -> None:
        deadline = _handshake_deadline(self.security)
        waited = 0  # peer flights waited for (each paid its round trip)
        self.downlink_share = 1.0  # our flights go out at once: each answer pays both ways
        try:
            self._handshake_flights(tls, stopping, deadline, waited)
        finally:
            self.downlink_share = 0.5

    def _handshake_flights(
        self, tls: ssl.SSLSocket, stopping: threading.Event, deadline: float, waited: int
    ) -> None:
        while True:
            try:
                tls.do_handshake()
                if not tls.server_side:
                    # OpenSSL reads a flight loopback already delivered without asking us to
                    # wait: charge the round trips a client's TLS 1.2 handshake takes anyway
                    # (two flights, one when the session is resumed).
                    for _ in range((1 if tls.session_reused else 2) - waited):
                        latency.wait_round_trip(stopping)
                return
            except ssl.SSLWantReadError:
                # Our flight is out: the peer's answer to it pays its own round trip, even if
                # loopback already delivered it.
                self.visible_at = None
                waited += 1
                events = POLLIN
            except ssl.SSLWantWriteError:
                events = POLLOUT
            except (ssl.SSLError, OSError) as exc:
                raise NetError(errno.ECONNABORTED, f"TLS handshake failed: {exc}") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.wait(events, remaining, stopping):
                raise NetError(errno.ETIMEDOUT, "TLS handshake timed out")

    def _after_connect(self, addr: tuple, stopping: threading.Event, creds: Credentials) -> None:
        cfg = self.security
        caching = bool(cfg.session_cache) and cfg.sessions is not None
        key = cfg.cache_key(creds, addr) if caching else ()
        cached = cfg.sessions.get(key) if caching and cfg.sessions is not None else None
        try:
            ctx = cached[0] if cached is not None else tls_context(cfg, creds)
        except SecurityError as exc:
            self._abort()
            raise NetError(errno.ECONNABORTED, str(exc)) from None
        tls = ctx.wrap_socket(
            self.sock,
            server_hostname=cfg.hostname or None,
            do_handshake_on_connect=False,
            session=cached[1] if cached is not None else None,
        )
        self.sock = tls
        try:
            self._handshake(tls, stopping)
        except NetError:
            self._abort()
            raise
        self.tls = tls
        if caching and cfg.sessions is not None:
            cfg.sessions.put(key, ctx, tls.session)

    def _abort(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def accept(self, stopping: threading.Event, creds: Credentials | None = None):
        self._gate()
        conn, addr = self._call(self.sock.accept)
        child = TlsEndpoint(self.family, self.kind, conn, self.security)
        try:
            ctx = tls_context(self.security, creds or {})
            tls = ctx.wrap_socket(child.sock, server_side=True, do_handshake_on_connect=False)
            child.sock = tls
            child._handshake(tls, stopping)
        except (SecurityError, NetError, ssl.SSLError, OSError) as exc:
            child.close()
            raise NetError(errno.ECONNABORTED, str(exc)) from None
        child.tls = tls
        return child, str(addr[0])

    def _tls_call(self, fn: Callable, *args):
        if self.closed:
            raise NetError(errno.EBADF)
        if self.tls is None:
            raise NetError(errno.ENOTCONN)
        try:
            return fn(*args)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            raise NetError(errno.EAGAIN) from None
        except ssl.SSLZeroReturnError:
            return b""
        except ssl.SSLError as exc:
            raise NetError(errno.ECONNRESET, str(exc)) from None
        except OSError as exc:
            raise NetError.from_os(exc) from None

    def send(self, data: bytes) -> int:
        if self.tls is not None and self._uplink_delays():
            return self._send_later(data, self.tls.send)
        with self._io:
            sent = self._tls_call(lambda: self.tls.send(data))  # type: ignore[union-attr]
        if isinstance(sent, bytes):  # close_notify already received: nothing more goes out
            raise NetError(errno.EPIPE)
        return int(sent)

    def sendto(self, data: bytes, addr: tuple) -> int:
        # A TLS socket has one peer: the address is ignored, as on a connected TCP socket.
        return self.send(data)

    def recv(self, size: int) -> bytes:
        self._gate()
        self._raise_uplink_error()
        with self._io:  # the uplink's thread may be writing to the same TLS connection
            return bytes(self._tls_call(lambda: self.tls.recv(size)))  # type: ignore[union-attr]


class DtlsEndpoint(Endpoint):
    """DTLS 1.2 over a connected UDP socket, with pyOpenSSL on memory BIOs."""

    def __init__(
        self, family: int, kind: int, sock: socket.socket, security: SecurityConfig | None = None
    ) -> None:
        super().__init__(family, kind, sock)
        self.security = security or SecurityConfig(sec_tag=-1, peer_verify=0)
        self.conn = None  # OpenSSL.SSL.Connection once the handshake is done

    def _pending(self) -> bool:
        return self.conn is not None and self.conn.pending() > 0

    def _flush(self, conn) -> None:
        from OpenSSL import SSL

        while True:
            try:
                datagram = conn.bio_read(_DATAGRAM_MAX)
            except SSL.WantReadError:
                return
            if not datagram:
                return
            if self.conn is not None and self._uplink_delays():
                self._send_later(datagram, self.sock.send)
            elif self._uplink is not None and self._uplink.pending():
                # An ack or an alert must not overtake the data still on the uplink.
                self._uplink.after_pending(lambda d=datagram: self._deliver(d, self.sock.send))
            else:
                self._call(self.sock.send, datagram)

    def _feed(self, conn) -> None:
        """Move one datagram from the socket into OpenSSL (EAGAIN when there is none)."""
        self._gate()
        conn.bio_write(self._call(self.sock.recv, _DATAGRAM_MAX))

    def _after_connect(self, addr: tuple, stopping: threading.Event, creds: Credentials) -> None:
        from OpenSSL import SSL

        cfg = self.security
        try:
            ctx = dtls_context(cfg, creds)
        except SecurityError as exc:
            raise NetError(errno.ECONNABORTED, str(exc)) from None
        conn = SSL.Connection(ctx, None)
        conn.set_connect_state()
        conn.set_ciphertext_mtu(_DTLS_MTU)
        if cfg.hostname and not _is_ip(cfg.hostname):
            conn.set_tlsext_host_name(cfg.hostname.encode("ascii", "replace"))
        self.downlink_share = 1.0  # our flights go out at once: each answer pays both ways
        try:
            self._dtls_handshake(conn, stopping)
        finally:
            self.downlink_share = 0.5
        if cfg.check_hostname:
            cert = peer_certificate(conn)
            if cert is None or not hostname_matches(cert, cfg.hostname or ""):
                raise NetError(errno.ECONNABORTED, "DTLS peer certificate does not match hostname")
        self.conn = conn

    def _dtls_handshake(self, conn, stopping: threading.Event) -> None:
        from OpenSSL import SSL

        deadline = _handshake_deadline(self.security)
        while True:
            try:
                conn.do_handshake()
                self._flush(conn)
                break
            except SSL.WantReadError:
                self._flush(conn)
                self.visible_at = None  # the answer to this flight pays its own round trip
            except SSL.Error as exc:
                # Send our alert (bad certificate...) before giving up, as a real stack does.
                try:
                    self._flush(conn)
                except NetError:
                    pass
                raise NetError(errno.ECONNABORTED, f"DTLS handshake failed: {exc}") from None
            now = time.monotonic()
            if now >= deadline:
                raise NetError(errno.ETIMEDOUT, "DTLS handshake timed out")
            retransmit = conn.DTLSv1_get_timeout()
            step = min(deadline - now, retransmit if retransmit is not None else 1.0)
            if self.wait(POLLIN, step, stopping):
                try:
                    self._feed(conn)
                except NetError as exc:
                    if exc.errno != errno.EAGAIN:
                        raise
            else:
                conn.DTLSv1_handle_timeout()
                self._flush(conn)

    def send(self, data: bytes) -> int:
        from OpenSSL import SSL

        conn = self._require_conn()
        try:
            sent = conn.send(data)
        except SSL.Error as exc:
            raise NetError(errno.ECONNRESET, str(exc)) from None
        self._flush(conn)
        return int(sent)

    def sendto(self, data: bytes, addr: tuple) -> int:
        return self.send(data)

    def recv(self, size: int) -> bytes:
        from OpenSSL import SSL

        conn = self._require_conn()
        self._gate()
        while True:
            try:
                data = conn.recv(size)
            except SSL.WantReadError:
                self._flush(conn)
                self._feed(conn)  # EAGAIN here ends the attempt; the caller waits again
                continue
            except SSL.ZeroReturnError:
                return b""
            except SSL.Error as exc:
                raise NetError(errno.ECONNRESET, str(exc)) from None
            self._flush(conn)
            return bytes(data)

    def recvfrom(self, size: int) -> tuple[bytes, str]:
        return self.recv(size), self.peer_ip()

    def _require_conn(self):
        if self.closed:
            raise NetError(errno.EBADF)
        if self.conn is None:
            raise NetError(errno.ENOTCONN)
        return self.conn

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None and not self.closed:
            try:
                conn.shutdown()
                self._flush(conn)
            except Exception:  # noqa: BLE001 - a polite close_notify is best effort
                pass
        super().close()


class RawEndpoint(Endpoint):
    """The modem's AF_PACKET socket: whole IP packets in and out of the PDN.

    The host stands in with an IPPROTO_RAW socket per IP version for sending (the destination
    is the packet's own) and a packet socket on the loopback interface for receiving, which
    keeps the IP packets addressed to the device's PDP addresses (``local_addresses``).

    Loopback carries every test's traffic on this host, so the kernel filters (a socket filter
    attached before the socket is bound): a packet socket that took all of it would fill its
    receive buffer between two polls and drop the very packets addressed to the device.
    """

    def __init__(self, family: int, kind: int, sock: socket.socket) -> None:
        super().__init__(family, kind, sock)
        self._local: tuple[str, ...] = ()
        self._queue: list[bytes] = []
        self._senders: dict[int, socket.socket] = {}

    @property
    def local_addresses(self) -> tuple[str, ...]:
        return self._local

    @local_addresses.setter
    def local_addresses(self, addresses: tuple[str, ...]) -> None:
        self._local = tuple(addresses)
        if self.closed:
            return
        _attach_filter(self.sock, self._local)
        try:
            self.sock.bind(("lo", _ETH_P_ALL))
        except OSError as exc:
            raise NetError.from_os(exc) from None
        # Bound once; a later change of addresses only swaps the filter. What queued under the
        # old one is re-checked by _wanted.

    def _wanted(self, packet: bytes) -> bool:
        import ipaddress

        if len(packet) >= 20 and packet[0] >> 4 == 4:
            dst = str(ipaddress.IPv4Address(packet[16:20]))
        elif len(packet) >= 40 and packet[0] >> 4 == 6:
            dst = str(ipaddress.IPv6Address(packet[24:40]))
        else:
            return False
        return any(_same_ip(dst, mine) for mine in self.local_addresses)

    def _drain(self) -> None:
        if self.closed:
            return
        while True:
            try:
                packet, addr = self.sock.recvfrom(_DATAGRAM_MAX)
            except OSError:
                return
            # addr: (ifname, proto, pkttype, hatype, hwaddr); keep what the host received,
            # not loopback's copy of what was sent.
            if len(addr) > 2 and addr[2] == socket.PACKET_HOST and self._wanted(packet):
                self._queue.append(bytes(packet))

    def _pending(self) -> bool:
        self._drain()
        return bool(self._queue)

    def poll_now(self, events: int) -> int:
        if self.closed:
            return POLLNVAL
        revents = POLLIN if events & POLLIN and self._pending() else 0
        return revents | (events & POLLOUT)

    def recv(self, size: int) -> bytes:
        if self.closed:
            raise NetError(errno.EBADF)
        if not self._pending():
            raise NetError(errno.EAGAIN)
        return self._queue.pop(0)[:size]

    def recvfrom(self, size: int) -> tuple[bytes, str]:
        return self.recv(size), ""

    def send(self, data: bytes) -> int:
        import ipaddress

        if self.closed:
            raise NetError(errno.EBADF)
        version = data[0] >> 4 if data else 0
        if version == 4 and len(data) >= 20:
            family, dst = socket.AF_INET, str(ipaddress.IPv4Address(data[16:20]))
        elif version == 6 and len(data) >= 40:
            family, dst = socket.AF_INET6, str(ipaddress.IPv6Address(data[24:40]))
        else:
            raise NetError(errno.EINVAL, "not an IPv4 or IPv6 packet")
        sender = self._senders.get(family)
        if sender is None:
            try:
                sender = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
            except OSError as exc:
                raise NetError.from_os(exc) from None
            sender.setblocking(False)
            self._senders[family] = sender
        addr = (dst, 0) if family == socket.AF_INET else (dst, 0, 0, 0)
        return int(self._call(sender.sendto, data, addr))

    def sendto(self, data: bytes, addr: tuple) -> int:
        return self.send(data)

    def close(self) -> None:
        for sender in self._senders.values():
            sender.close()
        self._senders.clear()
        super().close()


# Classic BPF (linux/filter.h) for the raw socket's kernel-side filter.
_SO_ATTACH_FILTER = 26
_BPF_LD_W_ABS = 0x20
_BPF_LD_B_ABS = 0x30
_BPF_JEQ_K = 0x15
_BPF_RSH_K = 0x74
_BPF_RET_K = 0x06
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4
_PACKET_HOST = 0


def _filter_program(addresses: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """Accept packets the host received (not loopback's copy of what was sent) whose IP
    destination is one of ``addresses``; drop everything else in the kernel."""
    import ipaddress

    v4 = [ipaddress.ip_address(a).packed for a in addresses if ":" not in a]
    v6 = [ipaddress.ip_address(a).packed for a in addresses if ":" in a]
    accept: list[tuple[int, int, int, int]] = [(_BPF_RET_K, 0, 0, 0xFFFFFFFF)]
    drop: list[tuple[int, int, int, int]] = [(_BPF_RET_K, 0, 0, 0)]

    def match(offset: int, packed: bytes) -> list[tuple[int, int, int, int]]:
        # Compare word by word; a mismatch jumps past the rest to "try the next address".
        words = [int.from_bytes(packed[i : i + 4], "big") for i in range(0, len(packed), 4)]
        code: list[tuple[int, int, int, int]] = []
        for index, word in enumerate(words):
            left = len(words) - index - 1  # words still to compare after this one
            code.append((_BPF_LD_W_ABS, 0, 0, offset + 4 * index))
            # on match: continue (last word: jump over the "no match" skip to accept)
            code.append((_BPF_JEQ_K, 0, 2 * left + 1, word))
        return code

    def block(offset: int, addrs: list[bytes]) -> list[tuple[int, int, int, int]]:
        # Each address: its compare run, then "matched: jump to accept". A mismatch lands on
        # the next address; after the last, drop.
        code: list[tuple[int, int, int, int]] = []
        for packed in addrs:
            run = match(offset, packed)
            code += run + [("JA", 0, 0, 0)]
        code += drop
        return code

    v4_code = block(16, v4)
    v6_code = block(24, v6)
    program: list[tuple[int, int, int, int]] = [
        (_BPF_LD_W_ABS, 0, 0, _SKF_AD_PKTTYPE),
        (_BPF_JEQ_K, 0, 0, _PACKET_HOST),  # jf patched below: to the final drop
        (_BPF_LD_B_ABS, 0, 0, 0),
        (_BPF_RSH_K, 0, 0, 4),
        (_BPF_JEQ_K, 0, len(v4_code), 4),
    ]
    program += v4_code
    program += [(_BPF_JEQ_K, 0, len(v6_code), 6)]
    program += v6_code
    program += drop + accept
    size = len(program)
    final_drop, final_accept = size - 2, size - 1
    resolved: list[tuple[int, int, int, int]] = []
    for pc, (code, jt, jf, k) in enumerate(program):
        if code == "JA":
            resolved.append((0x05, 0, 0, final_accept - pc - 1))  # BPF_JMP|BPF_JA
            continue
        if pc == 1:
            jf = final_drop - pc - 1
        resolved.append((code, jt, jf, k))
    return resolved


def _attach_filter(sock: socket.socket, addresses: Sequence[str]) -> None:
    import ctypes

    program = _filter_program(addresses)
    raw = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = struct.pack("@HP", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)


def _same_ip(a: str, b: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def open_endpoint(family: int, kind: int, security: SecurityConfig | None = None) -> Endpoint:
    """``socket()``: a new host socket of the modem's family and type."""
    host_family = _HOST_FAMILY.get(family)
    if host_family is None:
        raise NetError(errno.EAFNOSUPPORT)
    try:
        if kind == SOCK_STREAM:
            sock = socket.socket(host_family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        elif kind == SOCK_DGRAM:
            sock = socket.socket(host_family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        elif kind == SOCK_RAW:
            # Cooked packet socket: IP packets without a link header, on loopback only. Protocol
            # 0 receives nothing until setting local_addresses filters it and binds it.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
            return RawEndpoint(family, kind, sock)
        else:
            raise NetError(errno.EPROTOTYPE)
    except PermissionError:
        raise NetError(errno.EPERM, "raw sockets need CAP_NET_RAW on this host") from None
    except OSError as exc:
        raise NetError.from_os(exc) from None
    if security is None:
        return Endpoint(family, kind, sock)
    if kind == SOCK_STREAM:
        return TlsEndpoint(family, kind, sock, security)
    return DtlsEndpoint(family, kind, sock, security)


def poll_endpoints(
    endpoints: Sequence[Endpoint],
    events: int,
    timeout: float | None,
    stopping: threading.Event,
) -> list[int]:
    """``poll()`` over several sockets; ``timeout`` in seconds, None for ever.

    Raises NetError(EINTR) when ``stopping`` is set (the board is resetting).
    """
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        revents = [ep.poll_now(events) for ep in endpoints]
        if any(revents):
            return revents
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            return revents
        if stopping.is_set():
            raise NetError(errno.EINTR, "interrupted by reset")
        step = _SLICE if deadline is None else min(_SLICE, deadline - now)
        in_flight = [t for ep in endpoints if (t := ep.visible_at) is not None and t > now]
        if in_flight:
            # The kernel would report the held-back data at once: sleep until it lands.
            stopping.wait(max(0.0, min(step, min(in_flight) - now)))
            continue
        poller = select.poll()
        for ep in endpoints:
            fd = ep.fileno()
            if fd >= 0:
                poller.register(fd, events)
        if endpoints:
            poller.poll(max(0, int(step * 1000)) or 1)
        else:
            stopping.wait(step)
