import os
import socket
import time

import pytest
from OpenSSL import SSL

from pytest_slm.peers.dtls import DtlsClient, DtlsEcho, _pack, _split_records


@pytest.fixture
def dtls(certs):
    with DtlsEcho(certs) as echo:
        yield echo
    assert echo.errors == []


def test_dtls_echo_sequential_clients(dtls, certs):
    payloads = [bytes(range(256)), b"\x00", os.urandom(1000), b"last"]
    for _ in range(5):
        with DtlsClient(*dtls.address, ca_pem=certs.ca_pem) as c:
            assert c.conn.get_protocol_version_name() == "DTLSv1.2"
            for p in payloads:
                c.send(p)
                assert c.recv() == p
    dtls.wait_until(lambda: dtls.closed == 5, what="5 close_notify")
    assert dtls.handshakes == 5 and dtls.connections == 5
    assert dtls.cookie_exchanges == 5
    assert dtls.bytes_sent == dtls.bytes_received == 5 * sum(map(len, payloads))
    assert dtls.sessions == 0


def test_dtls_echo_concurrent_clients(dtls, certs):
    clients = [DtlsClient(*dtls.address, ca_pem=certs.ca_pem).handshake() for _ in range(4)]
    try:
        for round_ in range(3):
            for i, c in enumerate(clients):
                c.send(b"client %d round %d" % (i, round_))
            for i, c in enumerate(clients):
                assert c.recv() == b"client %d round %d" % (i, round_)
        assert dtls.sessions == 4
    finally:
        for c in clients:
            c.close()


def test_dtls_echo_ipv6(certs, family):
    with DtlsEcho(certs, family=family) as echo:
        with DtlsClient(*echo.address, ca_pem=certs.ca_pem) as c:
            c.send(b"v%d" % family)
            assert c.recv() == b"v%d" % family


def test_dtls_wrong_ca_fails_and_is_recorded(dtls, certs):
    c = DtlsClient(*dtls.address, ca_pem=certs.other_ca_pem)
    with pytest.raises(SSL.Error, match="certificate verify failed"):
        c.handshake()
    c.close()
    failure = dtls.wait_handshake_error()
    assert failure.reason == "tlsv1 alert unknown ca"
    assert dtls.handshakes == 0
    dtls.wait_until(lambda: dtls.sessions == 0, what="the failed session dropped")


def test_dtls_client_hello_without_cookie_keeps_no_state(dtls, certs):
    c = DtlsClient(*dtls.address, ca_pem=certs.ca_pem)
    try:
        with pytest.raises(SSL.WantReadError):
            c.conn.do_handshake()
        c._flush()  # the first ClientHello
        c.sock.settimeout(10)
        reply = c.sock.recv(2048)
        assert reply[0] == 22 and reply[13] == 3  # handshake record: HelloVerifyRequest
        assert dtls.sessions == 0 and dtls.connections == 0
    finally:
        c.close()


def without_sequence(datagram):
    return [r[:5] + r[11:] for r in _split_records(datagram)]


def test_dtls_server_retransmits_its_flight(dtls, certs):
    c = DtlsClient(*dtls.address, ca_pem=certs.ca_pem)
    try:
        c.sock.settimeout(10)
        with pytest.raises(SSL.WantReadError):
            c.conn.do_handshake()
        c._flush()
        c.conn.bio_write(c.sock.recv(2048))  # HelloVerifyRequest
        with pytest.raises(SSL.WantReadError):
            c.conn.do_handshake()
        c._flush()  # ClientHello with the cookie
        first = without_sequence(c.sock.recv(65535))  # ServerHello...ServerHelloDone
        # Say nothing: the server's own timer must send the flight again (same records, new
        # record sequence numbers).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            again = c.sock.recv(65535)
            if without_sequence(again) == first:
                c.conn.bio_write(again)
                break
        else:
            pytest.fail("the server never retransmitted its flight")
        c.handshake()  # still completes
        c.send(b"after retransmission")
        assert c.recv() == b"after retransmission"
    finally:
        c.close()


def test_dtls_garbage_and_restarts_from_same_port(dtls, certs):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as junk:
        junk.sendto(b"\x17\xfe\xfd" + b"\x00" * 20, dtls.address)
        junk.sendto(b"not dtls at all", dtls.address)
        # a truncated ClientHello
        junk.sendto(b"\x16\xfe\xfd" + bytes(10) + b"\x00\x05\x01\x00\x00\x00\x00", dtls.address)
    first = DtlsClient(*dtls.address, ca_pem=certs.ca_pem).handshake()
    port = first.sock.getsockname()[1]
    first.send(b"one")
    assert first.recv() == b"one"
    first.sock.close()  # vanish without close_notify
    second = DtlsClient(*dtls.address, ca_pem=certs.ca_pem)
    second.sock.close()
    second.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    second.sock.bind(("127.0.0.1", port))
    second.sock.connect(dtls.address)
    with second:
        second.send(b"two")
        assert second.recv() == b"two"
    assert dtls.handshakes == 2
    assert dtls.cookie_exchanges == 2  # junk earns no HelloVerifyRequest


def test_record_framing_helpers():
    rec = lambda n: bytes([22, 0xFE, 0xFD, 0, 0]) + bytes(6) + n.to_bytes(2, "big") + bytes(n)  # noqa: E731
    buf = rec(10) + rec(500) + rec(900)
    assert _split_records(buf) == [rec(10), rec(500), rec(900)]
    assert _pack(_split_records(buf), 1200) == [rec(10) + rec(500), rec(900)]
