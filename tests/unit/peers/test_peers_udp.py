import socket

import pytest

from pytest_slm.peers import UdpEcho, UdpSink, UdpSource


def udp_client(peer) -> socket.socket:
    s = socket.socket(peer.family, socket.SOCK_DGRAM)
    s.settimeout(10)
    return s


def test_udp_echo(family):
    with UdpEcho(family=family) as echo, udp_client(echo) as c:
        for payload in (bytes(range(256)), b"\x00", b"x" * 1400):
            c.sendto(payload, echo.address)
            data, addr = c.recvfrom(65535)
            assert data == payload
            assert addr[:2] == echo.address
        assert echo.datagrams_received == 3
        assert echo.connections == 1  # one distinct sender
        assert echo.bytes_sent == 256 + 1 + 1400


def test_udp_sink_records_datagrams_and_senders(family):
    with UdpSink(family=family) as sink, udp_client(sink) as a, udp_client(sink) as b:
        a.sendto(b"one", sink.address)
        sink.wait_datagrams(1)
        b.sendto(b"\xfftwo", sink.address)
        first, second = sink.wait_datagrams(2)
        host = sink.address[0]
        assert (first.data, first.peer) == (b"one", (host, a.getsockname()[1]))
        assert (second.data, second.peer) == (b"\xfftwo", (host, b.getsockname()[1]))
        assert sink.data == b"one\xfftwo"
        assert sink.wait_for(nbytes=7) == b"one\xfftwo"
        assert sink.bytes_sent == 0
        sink.reset()
        assert sink.datagrams == [] and sink.data == b""


def test_udp_source_sends_on_demand_and_replies():
    with UdpSource(reply=b"pong") as src, udp_client(src) as board:
        board.bind(("127.0.0.1", 0))
        src.send_to(*board.getsockname(), b"unsolicited")
        data, addr = board.recvfrom(100)
        assert (data, addr) == (b"unsolicited", src.address)
        board.sendto(b"ping", src.address)
        assert board.recvfrom(100) == (b"pong", src.address)
        assert src.wait_datagrams(1)[0].data == b"ping"


def test_udp_source_without_reply_stays_silent():
    with UdpSource() as src, udp_client(src) as board:
        board.sendto(b"ping", src.address)
        src.wait_datagrams(1)
        board.settimeout(0.2)
        with pytest.raises(TimeoutError):
            board.recvfrom(100)
