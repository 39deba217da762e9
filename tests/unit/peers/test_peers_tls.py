import socket
import ssl

import pytest

from pytest_slm.peers import TlsEcho


def tls_connect(peer, ctx, server_hostname):
    raw = socket.create_connection(peer.address, timeout=10)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_hostname)
    except BaseException:
        raw.close()
        raise


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk
        buf += chunk
    return buf


def test_tls_echo_with_trusted_ca(certs, family):
    host = "::1" if family == 6 else "127.0.0.1"
    with TlsEcho(certs, family=family) as echo:
        for name in ("localhost", host, "peer.test"):
            with tls_connect(echo, certs.client_context(), name) as s:
                assert s.version() == "TLSv1.2"
                payload = bytes(range(256)) * 64
                s.sendall(payload)
                assert recv_exactly(s, len(payload)) == payload
        echo.wait_closed(3)
        assert echo.handshakes == 3
        assert echo.bytes_sent == 3 * 256 * 64
        assert echo.handshake_errors == [] and echo.errors == []


def test_tls_echo_wrong_ca_fails_and_is_recorded(certs):
    with TlsEcho(certs) as echo:
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            tls_connect(echo, certs.client_context("other"), "localhost")
        failure = echo.wait_handshake_error()
        assert failure.reason == "TLSV1_ALERT_UNKNOWN_CA"
        assert failure.peer[0] == "127.0.0.1"
        assert echo.handshakes == 0


def test_tls_echo_hostname_mismatch(certs):
    with TlsEcho(certs) as echo:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            tls_connect(echo, certs.client_context(), "not-the-peer.example")
        assert echo.wait_handshake_error().reason == "SSLV3_ALERT_BAD_CERTIFICATE"


def test_tls_echo_plain_tcp_client_is_a_handshake_failure(certs):
    with TlsEcho(certs) as echo:
        with socket.create_connection(echo.address, timeout=10) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            failure = echo.wait_handshake_error()
        assert failure.reason in ("HTTP_REQUEST", "WRONG_VERSION_NUMBER")
        # and the server carries on
        with tls_connect(echo, certs.client_context(), "localhost") as s:
            s.sendall(b"ok")
            assert recv_exactly(s, 2) == b"ok"
        assert echo.errors == []


def test_tls_client_vanishing_mid_handshake(certs):
    with TlsEcho(certs) as echo:
        s = socket.create_connection(echo.address, timeout=10)
        s.close()
        assert echo.wait_handshake_error().peer[0] == "127.0.0.1"
        assert echo.errors == []


def test_tls_stop_during_handshake_joins_threads(certs):
    echo = TlsEcho(certs).start()
    s = socket.create_connection(echo.address, timeout=10)  # never says hello
    echo.wait_connections(1)
    echo.stop()
    s.close()
    assert echo.handshake_errors == []  # a stop is not the client's failure
