"""Real loopback peers and helpers for the simulated board's socket tests.

Every peer binds port 0 on loopback and runs in daemon threads that stop with the fixture. The
TLS and DTLS peers use a per-session trustme CA; a second, unrelated CA plays the wrong anchor.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import threading
from dataclasses import dataclass, field

import trustme
from OpenSSL import SSL

from firmware_ref.core.modem import Credential
from firmware_ref.dialects.v20 import sockets
from firmware_ref.testing import FirmwareHarness

SEC_TAG = 16842753  # the doc's example tag
WRONG_CA_TAG = 16842754
CLIENT_CERT_TAG = 16842755


class Peer:
    """A background server: ``port`` to connect to, ``received`` for what it got."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.received = bytearray()
        self.peers: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()

    def _spawn(self, fn, *args) -> None:
        t = threading.Thread(target=fn, args=args, daemon=True)
        self._threads.append(t)
        t.start()

    def _record(self, data: bytes, peer: str) -> None:
        with self._cond:
            self.received += data
            self.peers.append(peer)
            self._cond.notify_all()

    def wait_received(self, size: int, timeout: float = 5.0) -> bytes:
        """Block until the peer has received at least ``size`` bytes in total."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.received) >= size, timeout):
                raise AssertionError(f"peer got {bytes(self.received)!r}, wanted {size} bytes")
            return bytes(self.received)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)


class TcpEcho(Peer):
    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        super().__init__(host)
        self.tls = tls
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.handshake_errors: list[str] = []
        self._spawn(self._accept_loop)

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, conn, addr[0])
        self.sock.close()

    def _serve(self, conn: socket.socket, peer: str) -> None:
        conn.settimeout(0.1)
        if self.tls is not None:
            try:
                conn.settimeout(5)
                conn = self.tls.wrap_socket(conn, server_side=True)
                conn.settimeout(0.1)
            except (ssl.SSLError, OSError) as exc:
                self.handshake_errors.append(str(exc))
                conn.close()
                return
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                except OSError:
                    return
                if not data:
                    return
                self._record(data, peer)
                try:
                    conn.sendall(data)
                except OSError:
                    return


class UdpEcho(Peer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._spawn(self._loop)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self._record(data, addr[0])
            self.sock.sendto(data, addr)
        self.sock.close()


class DtlsEcho(Peer):
    """A DTLS 1.2 echo server (pyOpenSSL, memory BIOs, one connection per client address)."""

    def __init__(self, ctx: SSL.Context, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.ctx = ctx
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.handshake_errors: list[str] = []
        self._conns: dict[tuple, SSL.Connection] = {}
        self._spawn(self._loop)

    def _flush(self, conn: SSL.Connection, addr: tuple) -> None:
        while True:
            try:
                out = conn.bio_read(65536)
            except SSL.WantReadError:
                return
            self.sock.sendto(out, addr)

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        while not self._stop.is_set():
            if not sel.select(0.1):
                continue
            try:
                datagram, addr = self.sock.recvfrom(65536)
            except OSError:
                return
            conn = self._conns.get(addr)
            if conn is None:
                conn = SSL.Connection(self.ctx, None)
                conn.set_accept_state()
                # Memory BIOs cannot report a path MTU; without one OpenSSL refuses to start.
                conn.set_ciphertext_mtu(1400)
                self._conns[addr] = conn
            conn.bio_write(datagram)
            try:
                while True:
                    data = conn.recv(65536)
                    self._record(data, addr[0])
                    conn.send(data)
                    self._flush(conn, addr)
            except SSL.WantReadError:
                self._flush(conn, addr)
            except SSL.ZeroReturnError:
                self._flush(conn, addr)
                del self._conns[addr]
            except SSL.Error as exc:
                self.handshake_errors.append(repr(exc))
                self._flush(conn, addr)
                del self._conns[addr]
        self.sock.close()


@dataclass
class Pki:
    ca: trustme.CA
    wrong_ca: trustme.CA
    server: trustme.LeafCert
    client: trustme.LeafCert
    names: list[str] = field(default_factory=list)

    def server_tls(self, require_client: bool = False) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(ctx)
        if require_client:
            self.ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def server_dtls(self) -> SSL.Context:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        ctx = SSL.Context(SSL.DTLS_METHOD)
        ctx.set_options(SSL.OP_NO_QUERY_MTU)
        chain = self.server.cert_chain_pems
        ctx.use_certificate(x509.load_pem_x509_certificate(chain[0].bytes()))
        key = load_pem_private_key(self.server.private_key_pem.bytes(), password=None)
        ctx.use_privatekey(key)  # type: ignore[arg-type]
        return ctx

    def provision(self, fw) -> None:
        """What ``AT%CMNG`` would have stored on the modem."""
        creds = fw.modem.credentials
        creds[(SEC_TAG, 0)] = Credential(self.ca.cert_pem.bytes())
        creds[(WRONG_CA_TAG, 0)] = Credential(self.wrong_ca.cert_pem.bytes())
        creds[(CLIENT_CERT_TAG, 0)] = Credential(self.ca.cert_pem.bytes())
        creds[(CLIENT_CERT_TAG, 1)] = Credential(self.client.cert_chain_pems[0].bytes())
        creds[(CLIENT_CERT_TAG, 2)] = Credential(self.client.private_key_pem.bytes())


def recv_result(h: FirmwareHarness, line: str, timeout: float | None = None):
    """Run an #XRECV/#XRECVFROM and split its answer into (header, payload, final).

    The payload is exactly <n> bytes after the header line (test data never contains a final
    result code, so reading through the final result is safe).
    """
    out = h.command(line, timeout)
    if not out.startswith(b"\r\n#XRECV"):
        return b"", b"", out
    end = out.index(b"\r\n", 2) + 2
    header = out[:end]
    size = int(header.split(b":")[1].split(b",")[0])
    return header, out[end : end + size], out[end + size :]


def local_port(h: FirmwareHarness, fd: int) -> int:
    """The host port behind a handle (white-box: the AT interface cannot tell it)."""
    return sockets.state(h.fw).fds.get(fd).local_port()


def connect_to(h: FirmwareHarness, fd: int, family: int = socket.AF_INET) -> socket.socket:
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    return socket.create_connection((host, local_port(h, fd)), timeout=5)
