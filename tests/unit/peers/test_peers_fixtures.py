"""The fixtures as a suite uses them, in an inner pytest run (pytester; see conftest.inner)."""


INNER_TESTS = r'''
import socket
import ssl

import pytest

from pytest_slm.peers import FAMILIES
from pytest_slm.peers.dtls import DtlsClient

SEEN = {}


def test_tcp_echo(tcp_echo):
    assert tcp_echo.board_host == "127.0.0.1" and tcp_echo.host == "127.0.0.1"
    with socket.create_connection((tcp_echo.board_host, tcp_echo.port), timeout=10) as s:
        s.sendall(b"hello")
        assert s.recv(5) == b"hello"
    tcp_echo.wait_closed(1)
    SEEN["port"] = tcp_echo.port


def test_echo_is_session_scoped_with_fresh_counters(tcp_echo):
    assert tcp_echo.port == SEEN["port"]
    assert tcp_echo.connections == 0 and tcp_echo.bytes_sent == 0


@pytest.mark.parametrize("udp_echo", FAMILIES, indirect=True)
def test_udp_echo_both_families(udp_echo):
    with socket.socket(udp_echo.family, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(b"dgram", (udp_echo.board_host, udp_echo.port))
        assert s.recvfrom(100)[0] == b"dgram"


def test_tcp_echo6(tcp_echo6):
    assert tcp_echo6.board_host == "::1" and tcp_echo6.family == socket.AF_INET6


def test_tls_echo(tls_echo, peer_certs):
    assert "BEGIN CERTIFICATE" in peer_certs.ca_pem and "PRIVATE" not in peer_certs.ca_pem
    ctx = peer_certs.client_context()
    with socket.create_connection(tls_echo.address, timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"secret")
            assert s.recv(6) == b"secret"


def test_dtls_echo(dtls_echo, peer_certs):
    with DtlsClient(dtls_echo.board_host, dtls_echo.port, ca_pem=peer_certs.ca_pem) as c:
        c.send(b"datagram")
        assert c.recv() == b"datagram"


def test_sinks_are_fresh_per_test(tcp_sink, udp_sink):
    with socket.create_connection(tcp_sink.address, timeout=10) as s:
        s.sendall(b"to sink")
    assert tcp_sink.wait_for(nbytes=7) == b"to sink"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"to udp sink", udp_sink.address)
    assert udp_sink.wait_datagrams(1)[0].data == b"to udp sink"
    SEEN["sink"] = tcp_sink.port


def test_sink_again(tcp_sink):
    assert tcp_sink.port != SEEN["sink"] and tcp_sink.data == b""


def test_sources(tcp_source, udp_source):
    src = tcp_source(b"payload")
    with socket.create_connection(src.address, timeout=10) as s:
        assert s.recv(100) == b"payload"
    u = udp_source(reply=b"ok")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(b"hi", u.address)
        assert s.recvfrom(100)[0] == b"ok"


def test_connect_back(connect_back):
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = connect_back("127.0.0.1", server.getsockname()[1])
        conn, _ = server.accept()
        with conn:
            conn.sendall(b"abc")
            assert client.recv_exactly(3) == b"abc"
'''

OVERRIDE_TESTS = r'''
import socket


def test_board_host_override(tcp_echo, udp_sink, peer_certs):
    assert tcp_echo.board_host == "10.9.8.7"
    assert udp_sink.board_host == "10.9.8.7"
    assert tcp_echo.host == "0.0.0.0"
    assert "10.9.8.7" in peer_certs.names
    # The test process still reaches the peer itself over loopback.
    with socket.create_connection(tcp_echo.address, timeout=10) as s:
        s.sendall(b"x")
        assert s.recv(1) == b"x"


def test_no_ipv6_peer_host(tcp_echo6):
    pass
'''


def test_fixtures_serve_a_suite(inner, inner_args):
    inner.makepyfile(test_inner=INNER_TESTS)
    result = inner.runpytest(*inner_args)
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 10


def test_peer_host_changes_board_host(inner, inner_args):
    inner.makepyfile(test_override=OVERRIDE_TESTS)
    result = inner.runpytest(*inner_args, "--peer-host", "10.9.8.7")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*no ipv6 --peer-host given*--peer-host with an ipv6 address*"])


def test_options_have_help(inner, inner_args):
    result = inner.runpytest(*inner_args, "--help")
    result.stdout.fnmatch_lines(
        ["*--peer-host=ADDRESS*", "*--peer-bind=ADDRESS*", "*--peer-url=URL*"]
    )
