"""TLS 1.2 echo: Python's ssl server with a trustme-issued certificate."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from .certs import PeerCerts
from .tcp import ConnectionRecord, TcpEcho

#: A client that connects and then says nothing must not hold a thread forever.
HANDSHAKE_TIMEOUT = 60.0


class TlsEcho(TcpEcho):
    """TCP echo behind a TLS 1.2 handshake. Failed handshakes (wrong CA at the client, hostname
    mismatch, a client that vanished) land in .handshake_errors with OpenSSL's reason."""

    kind = "tls_echo"
    transport = "tls"
    needs_certs = True

    def __init__(
        self,
        certs: PeerCerts,
        context: ssl.SSLContext | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.certs = certs
        self.context = context if context is not None else certs.server_context()
        self.handshake_timeout = handshake_timeout
        self.handshakes = 0

    def _wrap(self, conn: socket.socket, record: ConnectionRecord) -> Any:
        tls = self.context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        # wrap_socket() took over conn's descriptor: stop() must now shut the TLS socket down.
        # Under the lock, and after a last look at _stopping: a stop() that snapshotted the
        # sockets before this swap would otherwise never wake this thread's handshake.
        with self._cond:
            self._sockets.discard(conn)
            if self._stopping.is_set():
                tls.close()
                return None
            self._sockets.add(tls)
        try:
            tls.settimeout(self.handshake_timeout)
            tls.do_handshake()
            tls.settimeout(None)
        except (ssl.SSLError, OSError) as exc:
            if self._stopping.is_set():
                return None
            reason = getattr(exc, "reason", None) or type(exc).__name__
            self._handshake_failed(record.peer, str(reason), str(exc))
            self._drop(tls)
            return None
        self._count(handshakes=1)
        return tls

    def _drop(self, tls: ssl.SSLSocket) -> None:
        with self._cond:
            self._sockets.discard(tls)
        try:
            tls.close()
        except OSError:
            pass

    def _reset_records(self) -> None:
        super()._reset_records()
        self.handshakes = 0

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "names": list(self.certs.names)}
