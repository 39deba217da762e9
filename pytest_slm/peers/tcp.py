"""TCP peers: echo, sink, source, and the connect-back client for the board's server role."""

from __future__ import annotations

import itertools
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from .base import DEFAULT_TIMEOUT, Peer, PeerTimeout, family_of, ip_literal_family, log

_RECV_SIZE = 65536

#: Errors that only mean "the other side went away": never a server failure.
_GONE = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, TimeoutError)


@dataclass
class ConnectionRecord:
    """One accepted connection: who it came from, what it sent (for peers that record), and
    whether it has ended."""

    id: int
    peer: tuple[str, int]
    data: bytearray = field(default_factory=bytearray)
    closed: bool = False
    opened_at: float = field(default_factory=time.monotonic)


class StreamServer(Peer):
    """Accepts TCP connections, one thread per connection running self._handle(conn, record)."""

    transport = "tcp"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.records: list[ConnectionRecord] = []
        self._ids = itertools.count(1)

    def _open(self) -> socket.socket:
        sock = self._bind(socket.SOCK_STREAM)
        sock.listen(16)
        return sock

    def _serve(self, sock: socket.socket) -> None:
        while self.wait_readable(sock):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            except OSError as exc:
                if self._stopping.is_set():
                    return
                # Out of descriptors, typically: keep serving once some are free again, and
                # back off meanwhile rather than spin on a listening socket that stays readable.
                self._record_error(f"accept: {exc!r}")
                self._stopping.wait(0.1)
                continue
            # Echo replies go out at once instead of waiting on Nagle and the client's delayed
            # ACK (40 ms a round trip otherwise, which would skew latency measurements).
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            record = ConnectionRecord(next(self._ids), (addr[0], addr[1]))
            log.info("%s %s:%s: connection from %s", self.kind, self.host, self.port, record.peer)
            self._track(conn)
            with self._cond:
                self.records.append(record)
                self.connections += 1
                self._cond.notify_all()
            self._spawn(self._connection, conn, record, name=f"conn{record.id}")

    def _connection(self, conn: socket.socket, record: ConnectionRecord) -> None:
        wrapped: Any = conn
        try:
            wrapped = self._wrap(conn, record)
            if wrapped is not None:
                self._handle(wrapped, record)
        except _GONE:
            pass
        except OSError as exc:
            if not self._stopping.is_set():
                self._record_error(f"connection {record.id} from {record.peer}: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - a server thread never dies loudly
            if not self._stopping.is_set():
                self._record_error(f"connection {record.id} from {record.peer}: {exc!r}")
        finally:
            with self._cond:
                record.closed = True
                self._cond.notify_all()
            self._untrack(conn)
            if wrapped is not conn and wrapped is not None:
                self._untrack(wrapped)

    def _wrap(self, conn: socket.socket, record: ConnectionRecord) -> Any:
        """Hook for TLS: returns the object to talk through, or None to drop the connection."""
        return conn

    def _handle(self, conn: Any, record: ConnectionRecord) -> None:
        raise NotImplementedError

    def _readable(self, conn: Any) -> bool:
        # Data already decrypted inside an SSL object never shows up in select().
        pending = getattr(conn, "pending", None)
        if pending is not None and pending():
            return True
        return self.wait_readable(conn)

    def _recv(self, conn: Any) -> bytes:
        """Next chunk from conn, b"" on end of stream or stop."""
        if not self._readable(conn):
            return b""
        try:
            return conn.recv(_RECV_SIZE)
        except ssl.SSLZeroReturnError:
            return b""
        except ssl.SSLWantReadError:
            # A partial TLS record: select() said readable, the rest has not arrived yet.
            return self._recv(conn)

    def _got(self, record: ConnectionRecord, data: bytes) -> None:
        with self._cond:
            self.bytes_received += len(data)
            if self.record_data:
                record.data += data
            self._cond.notify_all()

    # ----------------------------------------------------------------- records and waits

    @property
    def data(self) -> bytes:
        """Everything recorded so far, all connections in the order they were accepted."""
        with self._cond:
            return b"".join(bytes(r.data) for r in self.records)

    @property
    def peers(self) -> list[tuple[str, int]]:
        with self._cond:
            return [r.peer for r in self.records]

    def wait_closed(self, n: int = 1, timeout: float = DEFAULT_TIMEOUT) -> list[ConnectionRecord]:
        """Wait until at least n accepted connections have ended; return the ended ones."""

        def closed() -> list[ConnectionRecord] | None:
            done = [r for r in self.records if r.closed]
            return done if len(done) >= n else None

        return self.wait_until(closed, timeout, what=f"{n} closed connection(s)")

    def _reset_records(self) -> None:
        self.records = [r for r in self.records if not r.closed]
        for r in self.records:
            r.data.clear()


class TcpEcho(StreamServer):
    """Sends back every byte it receives, on as many concurrent connections as arrive."""

    kind = "tcp_echo"

    def _handle(self, conn: Any, record: ConnectionRecord) -> None:
        while data := self._recv(conn):
            self._got(record, data)
            # Counted first: once the client holds the bytes, the counter already shows them.
            self._count(bytes_sent=len(data))
            conn.sendall(data)


class TcpSink(StreamServer):
    """Records exactly what arrives, per connection, and never sends a byte."""

    kind = "tcp_sink"
    record_data = True

    def _handle(self, conn: Any, record: ConnectionRecord) -> None:
        while data := self._recv(conn):
            self._got(record, data)


class TcpSource(StreamServer):
    """Sends `payload` to every client that connects, then closes its side (close=True, the
    board sees end of stream after the payload) or keeps the connection open (close=False) until
    the client closes. What the client sends is recorded, as a sink would."""

    kind = "tcp_source"
    record_data = True

    def __init__(self, payload: bytes = b"", *, close: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.payload = bytes(payload)
        self.close_after_send = close
        self._conns: dict[int, Any] = {}

    def _handle(self, conn: Any, record: ConnectionRecord) -> None:
        with self._cond:
            self._conns[record.id] = conn
        try:
            if self.payload:
                self._count(bytes_sent=len(self.payload))
                conn.sendall(self.payload)
            if self.close_after_send:
                # Half-close, then keep reading: a full close() with unread input would send a
                # RST, and a RST can discard the payload before the board has read it.
                conn.shutdown(socket.SHUT_WR)
            while data := self._recv(conn):
                self._got(record, data)
        finally:
            with self._cond:
                self._conns.pop(record.id, None)

    def send(self, data: bytes, connection: int = -1, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Send more bytes on an open connection (default: the latest one; waits for one)."""
        def pick() -> Any:
            if not self._conns:
                return None
            if connection == -1:
                return self._conns[max(self._conns)]
            return self._conns.get(connection)

        conn = self.wait_until(pick, timeout, what="an open connection to send on")
        self._count(bytes_sent=len(data))
        conn.sendall(data)


class ConnectBack:
    """A TCP client the test drives, for the board's server role (#XLISTEN / #XACCEPT):
    connect to the board's address and port, send, receive exactly n bytes, close."""

    def __init__(
        self,
        host: str,
        port: int,
        family: Any = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        if family is None:
            family = ip_literal_family(host) or socket.AF_INET
        self.family = family_of(family)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.bytes_sent = 0
        self.bytes_received = 0
        self._buffer = bytearray()

    def connect(self, timeout: float | None = None) -> ConnectBack:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        sock.settimeout(timeout if timeout is not None else self.timeout)
        try:
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        return self

    @property
    def local_address(self) -> tuple[str, int]:
        assert self.sock is not None, "not connected"
        addr = self.sock.getsockname()
        return (addr[0], addr[1])

    def send(self, data: bytes) -> None:
        assert self.sock is not None, "not connected"
        self.sock.sendall(data)
        self.bytes_sent += len(data)

    def recv_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly n bytes, or PeerTimeout (with what did arrive) / EOFError on early close."""
        assert self.sock is not None, "not connected"
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while len(self._buffer) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimeout(
                    f"connect-back to {self.host}:{self.port}: wanted {n} bytes, got "
                    f"{len(self._buffer)}: {bytes(self._buffer[:64])!r}"
                )
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(max(n - len(self._buffer), _RECV_SIZE))
            except TimeoutError:
                continue
            if not chunk:
                raise EOFError(
                    f"connect-back to {self.host}:{self.port}: closed after "
                    f"{len(self._buffer)} of {n} bytes: {bytes(self._buffer[:64])!r}"
                )
            self.bytes_received += len(chunk)
            self._buffer += chunk
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    def recv_until_closed(self, timeout: float | None = None) -> bytes:
        """Everything until the board closes the connection (PeerTimeout if it does not)."""
        assert self.sock is not None, "not connected"
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimeout(
                    f"connect-back to {self.host}:{self.port}: not closed by the board; got "
                    f"{len(self._buffer)} bytes"
                )
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(_RECV_SIZE)
            except TimeoutError:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                out = bytes(self._buffer)
                self._buffer.clear()
                return out
            self.bytes_received += len(chunk)
            self._buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self) -> ConnectBack:
        if self.sock is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self.sock is not None else "closed"
        return f"<ConnectBack {self.host}:{self.port} {state}>"
