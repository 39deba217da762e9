"""DTLS 1.2 echo over one UDP socket (pyOpenSSL), and a DTLS client for checking it.

The server demultiplexes datagrams by sender address. Each sender gets its own pyOpenSSL
Connection over memory BIOs, so one socket and one thread serve any number of concurrent and
sequential clients. A new sender first goes through a stateless cookie exchange
(DTLSv1_listen, HelloVerifyRequest with an HMAC of its address), so spoofed or abandoned
ClientHellos cost no state. Retransmission is OpenSSL's: the loop sleeps until the nearest
DTLSv1_get_timeout() and then calls DTLSv1_handle_timeout().
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from OpenSSL import SSL, crypto

from .base import DEFAULT_TIMEOUT, Peer, PeerTimeout, family_of, log, norm_addr
from .certs import PeerCerts

DTLS1_2_VERSION = 0xFEFD
_MAX_DATAGRAM = 65535
_HEADER = 13  # DTLS record header: type, version(2), epoch(2), sequence(6), length(2)

#: Fits a DTLS record into one IPv6 minimum-MTU packet, so a handshake flight crosses LTE links
#: and tunnels without IP fragmentation.
DEFAULT_MTU = 1200


def _split_records(buf: bytes) -> list[bytes]:
    """Cut the memory BIO's output back into DTLS records (a memory BIO glues datagrams)."""
    out, i = [], 0
    while i + _HEADER <= len(buf):
        end = i + _HEADER + int.from_bytes(buf[i + 11 : i + 13], "big")
        out.append(buf[i:end])
        i = end
    if i < len(buf):
        out.append(buf[i:])
    return out


def _pack(records: list[bytes], mtu: int) -> list[bytes]:
    """Group whole records into datagrams of at most mtu bytes (a record is never split)."""
    datagrams: list[bytes] = []
    current = b""
    for rec in records:
        if current and len(current) + len(rec) > mtu:
            datagrams.append(current)
            current = b""
        current += rec
    if current:
        datagrams.append(current)
    return datagrams


def _is_client_hello(data: bytes) -> bool:
    # handshake record (22), epoch 0, first handshake message of type client_hello (1)
    return len(data) > _HEADER and data[0] == 22 and data[3:5] == b"\0\0" and data[_HEADER] == 1


def _reason(exc: BaseException) -> str:
    """OpenSSL's reason string ('tlsv1 alert unknown ca') from a pyOpenSSL error."""
    if isinstance(exc, SSL.Error) and exc.args and isinstance(exc.args[0], list) and exc.args[0]:
        entry = exc.args[0][-1]
        if isinstance(entry, tuple) and entry:
            return str(entry[-1])
    return str(exc) or type(exc).__name__


def _flush(conn: SSL.Connection, send: Any, mtu: int) -> int:
    chunks = []
    while True:
        try:
            chunks.append(conn.bio_read(_MAX_DATAGRAM))
        except SSL.WantReadError:
            break
    sent = 0
    for datagram in _pack(_split_records(b"".join(chunks)), mtu):
        send(datagram)
        sent += len(datagram)
    return sent


@dataclass
class _Session:
    conn: SSL.Connection
    peer: tuple[str, int]
    addr: Any
    established: bool = False
    started: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)


class DtlsEcho(Peer):
    """DTLS 1.2 echo: each application datagram comes back to its sender, encrypted.

    Counters: .connections (clients past the cookie exchange), .handshakes (completed),
    .bytes_received/.bytes_sent (application bytes), .handshake_errors (with OpenSSL's reason,
    e.g. 'tlsv1 alert unknown ca' when the client does not trust our CA).
    """

    kind = "dtls_echo"
    transport = "dtls"
    needs_certs = True

    def __init__(
        self,
        certs: PeerCerts,
        mtu: int = DEFAULT_MTU,
        handshake_timeout: float = 60.0,
        idle_timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.certs = certs
        self.mtu = mtu
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.handshakes = 0
        self.cookie_exchanges = 0
        #: Clients that ended with close_notify.
        self.closed = 0
        self._secret = os.urandom(32)
        self._sessions: dict[Any, _Session] = {}
        self.context = self._make_context()

    # ----------------------------------------------------------------- setup

    def _make_context(self) -> SSL.Context:
        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_min_proto_version(DTLS1_2_VERSION)
        ctx.set_max_proto_version(DTLS1_2_VERSION)
        # Memory BIOs cannot report a path MTU: keep ours (set per connection).
        ctx.set_options(SSL.OP_NO_QUERY_MTU)
        self.certs.configure_server(ctx)
        ctx.set_cookie_generate_callback(self._cookie)
        ctx.set_cookie_verify_callback(self._cookie_ok)
        return ctx

    def _cookie(self, conn: SSL.Connection) -> bytes:
        peer = conn.get_app_data()
        return hmac.new(self._secret, repr(peer).encode(), hashlib.sha256).digest()[:16]

    def _cookie_ok(self, conn: SSL.Connection, cookie: bytes) -> bool:
        return hmac.compare_digest(cookie, self._cookie(conn))

    def _new_conn(self, addr: Any) -> SSL.Connection:
        conn = SSL.Connection(self.context, None)
        conn.set_accept_state()
        conn.set_ciphertext_mtu(self.mtu)
        conn.set_app_data(norm_addr(addr))
        return conn

    def _open(self) -> socket.socket:
        return self._bind(socket.SOCK_DGRAM)

    # ----------------------------------------------------------------- loop

    def _serve(self, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            readable = self.wait_readable(sock, self._next_timeout())
            if self._stopping.is_set():
                return
            if readable:
                try:
                    data, addr = sock.recvfrom(_MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as exc:
                    self._record_error(f"recvfrom: {exc!r}")
                    continue
                try:
                    self._datagram(sock, data, addr)
                except Exception as exc:  # noqa: BLE001 - one bad client never stops the server
                    self._record_error(f"datagram from {norm_addr(addr)}: {exc!r}")
                    self._sessions.pop(addr, None)
            try:
                self._timers(sock)
            except Exception as exc:  # noqa: BLE001 - as above
                self._record_error(f"timers: {exc!r}")

    def _next_timeout(self) -> float | None:
        now = time.monotonic()
        deadlines = []
        for s in self._sessions.values():
            if s.established:
                deadlines.append(s.last_seen + self.idle_timeout - now)
            else:
                deadlines.append(s.started + self.handshake_timeout - now)
                t = s.conn.DTLSv1_get_timeout()
                if t is not None:
                    deadlines.append(t)
        return max(0.0, min(deadlines)) if deadlines else None

    def _timers(self, sock: socket.socket) -> None:
        now = time.monotonic()
        for addr, s in list(self._sessions.items()):
            if s.established:
                if now - s.last_seen >= self.idle_timeout:
                    del self._sessions[addr]
                continue
            if now - s.started >= self.handshake_timeout:
                del self._sessions[addr]
                self._handshake_failed(s.peer, "handshake timeout", "no handshake progress")
                continue
            t = s.conn.DTLSv1_get_timeout()
            if t is not None and t <= 0:
                try:
                    s.conn.DTLSv1_handle_timeout()
                except SSL.Error as exc:
                    del self._sessions[addr]
                    self._handshake_failed(s.peer, _reason(exc), str(exc))
                    continue
                self._flush(sock, s.conn, addr)

    def _flush(self, sock: socket.socket, conn: SSL.Connection, addr: Any) -> int:
        try:
            return _flush(conn, lambda d: sock.sendto(d, addr), self.mtu)
        except OSError as exc:
            if not self._stopping.is_set():
                self._record_error(f"sendto {norm_addr(addr)}: {exc!r}")
            return 0

    def _datagram(self, sock: socket.socket, data: bytes, addr: Any) -> None:
        session = self._sessions.get(addr)
        if session is not None and session.established and _is_client_hello(data):
            # The same address starts over (a board reusing its local port for a new socket).
            del self._sessions[addr]
            session = None
        if session is None:
            self._listen(sock, data, addr)
            return
        session.last_seen = time.monotonic()
        session.conn.bio_write(data)
        if not session.established:
            self._handshake(sock, session)
        if session.established:
            self._echo(sock, session)

    def _listen(self, sock: socket.socket, data: bytes, addr: Any) -> None:
        # A fresh Connection per datagram from an unknown sender: nothing one sender leaves in
        # a memory BIO can reach the next one, and a failed exchange leaves no state behind.
        listener = self._new_conn(addr)
        listener.bio_write(data)
        try:
            listener.DTLSv1_listen()
        except SSL.WantReadError:
            # A HelloVerifyRequest went out, or the datagram was not a ClientHello.
            if self._flush(sock, listener, addr):
                self._count(cookie_exchanges=1)
            return
        except SSL.Error as exc:
            self._record_error(f"DTLSv1_listen from {norm_addr(addr)}: {_reason(exc)}")
            return
        # The cookie checked out: this Connection carries on as the sender's session.
        session = _Session(listener, norm_addr(addr), addr)
        self._sessions[addr] = session
        self._count(connections=1)
        log.info("%s %s:%s: session from %s", self.kind, self.host, self.port, session.peer)
        self._handshake(sock, session)

    def _handshake(self, sock: socket.socket, session: _Session) -> None:
        try:
            session.conn.do_handshake()
        except SSL.WantReadError:
            self._flush(sock, session.conn, session.addr)
            return
        except SSL.Error as exc:
            self._flush(sock, session.conn, session.addr)  # the alert, if one was produced
            self._sessions.pop(session.addr, None)
            self._handshake_failed(session.peer, _reason(exc), str(exc))
            return
        self._flush(sock, session.conn, session.addr)
        session.established = True
        self._count(handshakes=1)

    def _echo(self, sock: socket.socket, session: _Session) -> None:
        while True:
            try:
                data = session.conn.recv(_MAX_DATAGRAM)
            except SSL.WantReadError:
                break
            except SSL.ZeroReturnError:
                # close_notify: answer it and forget the client.
                try:
                    session.conn.shutdown()
                except SSL.Error:
                    pass
                self._flush(sock, session.conn, session.addr)
                self._sessions.pop(session.addr, None)
                self._count(closed=1)
                return
            except SSL.Error as exc:
                self._flush(sock, session.conn, session.addr)
                self._sessions.pop(session.addr, None)
                self._record_error(f"session {session.peer}: {_reason(exc)}")
                return
            self._count(bytes_received=len(data), bytes_sent=len(data))
            session.conn.send(data)
            self._flush(sock, session.conn, session.addr)

    # ----------------------------------------------------------------- state

    @property
    def sessions(self) -> int:
        """Clients currently known (handshaking or established)."""
        with self._cond:
            return len(self._sessions)

    def _reset_records(self) -> None:
        self.handshakes = 0
        self.cookie_exchanges = 0
        self.closed = 0

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "names": list(self.certs.names)}


class DtlsClient:
    """A DTLS 1.2 client over a connected UDP socket, driven step by step from the caller's
    thread (memory BIOs, OpenSSL's retransmission timers). For tests and lab checks."""

    def __init__(
        self,
        host: str,
        port: int,
        ca_pem: str | bytes | None = None,
        family: Any = None,
        timeout: float = DEFAULT_TIMEOUT,
        mtu: int = DEFAULT_MTU,
        context: SSL.Context | None = None,
    ) -> None:
        from .base import ip_literal_family

        self.host, self.port, self.timeout, self.mtu = host, port, timeout, mtu
        fam = family_of(family) if family is not None else (
            ip_literal_family(host) or socket.AF_INET
        )
        if context is None:
            context = SSL.Context(SSL.DTLS_METHOD)
            context.set_min_proto_version(DTLS1_2_VERSION)
            context.set_max_proto_version(DTLS1_2_VERSION)
            context.set_options(SSL.OP_NO_QUERY_MTU)
            if ca_pem is not None:
                pem = ca_pem.encode() if isinstance(ca_pem, str) else ca_pem
                cert = crypto.load_certificate(crypto.FILETYPE_PEM, pem)
                context.get_cert_store().add_cert(cert)
                context.set_verify(SSL.VERIFY_PEER, None)
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.connect((host, port))
        self.conn = SSL.Connection(context, None)
        self.conn.set_connect_state()
        self.conn.set_ciphertext_mtu(mtu)

    def _flush(self) -> None:
        _flush(self.conn, self.sock.send, self.mtu)

    def _pump(self, deadline: float, what: str) -> None:
        """Wait for one datagram (or a retransmission timer) and feed it to OpenSSL."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PeerTimeout(f"DTLS client {self.host}:{self.port}: timed out during {what}")
        t = self.conn.DTLSv1_get_timeout()
        self.sock.settimeout(min(remaining, t) if t is not None else remaining)
        try:
            data = self.sock.recv(_MAX_DATAGRAM)
        except TimeoutError:
            self.conn.DTLSv1_handle_timeout()
            self._flush()
            return
        self.conn.bio_write(data)

    def handshake(self, timeout: float | None = None) -> DtlsClient:
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                self.conn.do_handshake()
            except SSL.WantReadError:
                self._flush()
                self._pump(deadline, "the handshake")
                continue
            except SSL.Error:
                self._flush()  # let the server see our alert
                raise
            self._flush()
            return self

    def send(self, data: bytes) -> None:
        self.conn.send(data)
        self._flush()

    def recv(self, timeout: float | None = None) -> bytes:
        """One application datagram."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            try:
                return self.conn.recv(_MAX_DATAGRAM)
            except SSL.WantReadError:
                self._flush()
                self._pump(deadline, "recv")

    def close(self) -> None:
        try:
            self.conn.shutdown()
            self._flush()
        except (SSL.Error, OSError):
            pass
        self.sock.close()

    def __enter__(self) -> DtlsClient:
        return self.handshake()

    def __exit__(self, *exc: object) -> None:
        self.close()
