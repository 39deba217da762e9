"""Behaviour every dialect shares, through SlmDut's shared API only: what goes in comes out.

These tests never spell a command: `socket_open`, `connect`, `send`, `recv`, `sendto`,
`recvfrom`, `close_socket`, `getaddrinfo` and `data_mode` map onto SLM v2.0's active socket or
Serial Modem's handles (pytest_slm.dut / pytest_slm.dut_sm). A wrong byte, a lost byte or a
refusal fails them on either firmware.
"""

from __future__ import annotations

import pytest
from slmsuite import LONG, SHORT, expect_timeout, families, free_port, loopback, peer

from pytest_slm import AtError, ResolveError
from pytest_slm.slm_types import Family, SendMode, SocketType

ALL_BYTES = bytes(range(256))


def _echo(slm, request, family, kind="tcp_echo"):
    server = peer(request, kind, family)
    slm.socket_open(family, SocketType.STREAM)
    slm.connect(server.board_host, server.port)
    return server


def _recv_exactly(slm, size: int) -> bytes:
    data = b""
    while len(data) < size:
        got = slm.recv(LONG)
        assert got.data, f"end of stream after {len(data)} of {size} bytes"
        data += got.data
    assert len(data) == size, f"{len(data) - size} bytes more than the {size} sent"
    return data


@pytest.mark.parametrize("family", families())
@pytest.mark.parametrize(
    "payload",
    [b"x", b"Hello, modem!", b"a" * 1000, ALL_BYTES, ALL_BYTES * 8, b"+++" * 40 + b"\r\n" * 30],
    ids=["1B", "text", "1000B", "all-bytes", "2048B", "terminators"],
)
def test_tcp_echo_returns_exactly_what_was_sent(slm, request, family, payload):
    _echo(slm, request, family)
    assert slm.send(payload) == len(payload)
    assert _recv_exactly(slm, len(payload)) == payload


@pytest.mark.parametrize("family", families())
def test_tcp_sink_gets_every_byte_once(slm, request, family):
    sink = _echo(slm, request, family, kind="tcp_sink")
    payload = (ALL_BYTES * 12)[:3000]
    slm.send(payload)
    assert sink.wait_for(len(payload)) == payload


@pytest.mark.parametrize("family", families())
@pytest.mark.parametrize(
    "payload", [b"dgram", ALL_BYTES[32:127], b"z" * 700], ids=["5B", "95B", "700B"]
)
def test_udp_echo_returns_the_datagram_and_names_the_peer(slm, request, family, payload):
    echo = peer(request, "udp_echo", family)
    slm.socket_open(family, SocketType.DGRAM)
    assert slm.sendto(echo.board_host, echo.port, payload) == len(payload)
    got = slm.recvfrom(LONG)
    assert (got.data, got.size, got.ip) == (payload, len(payload), loopback(family))


def test_udp_binary_datagram_through_data_mode(slm, udp_sink):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    payload = ALL_BYTES[:200]
    slm.sendto(udp_sink.board_host, udp_sink.port, payload, SendMode.DATAMODE)
    (datagram,) = udp_sink.wait_datagrams(1)
    assert datagram.data == payload


def test_recv_with_nothing_to_read_times_out_with_an_error(slm, request):
    _echo(slm, request, Family.IPV4, kind="tcp_sink")
    expect_timeout(slm.recv, SHORT, lasting=SHORT)


def test_connect_to_a_port_nobody_listens_on_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    with pytest.raises(AtError):
        slm.connect("127.0.0.1", free_port(Family.IPV4))


def test_connect_to_a_name_that_does_not_resolve_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    with pytest.raises(AtError):
        slm.connect("no-such-host.invalid", 80)


def test_close_reports_success_and_the_socket_is_gone(slm, request):
    _echo(slm, request, Family.IPV4)
    assert slm.close_socket() == 0
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    assert slm.close_socket() == 0


def test_the_peer_sees_the_close(slm, request):
    sink = _echo(slm, request, Family.IPV4, kind="tcp_sink")
    slm.send(b"last words")
    assert sink.wait_for(10) == b"last words"
    slm.close_socket()
    assert sink.wait_closed()


def test_end_of_stream_reads_as_no_data(slm, tcp_source):
    source = tcp_source(b"bye", close=True)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    assert _recv_exactly(slm, 3) == b"bye"
    got = slm.recv(LONG)
    assert (got.data, got.size) == (b"", None)


def test_getaddrinfo_resolves_localhost(slm):
    assert "127.0.0.1" in slm.getaddrinfo("localhost")


def test_getaddrinfo_of_a_numeric_address_is_itself(slm):
    assert slm.getaddrinfo("127.0.0.1") == ["127.0.0.1"]


def test_getaddrinfo_of_an_unknown_name_says_why(slm):
    with pytest.raises(ResolveError) as info:
        slm.getaddrinfo("no-such-host.invalid")
    assert info.value.gai_reason


def test_data_mode_carries_what_is_written(slm, request):
    sink = _echo(slm, request, Family.IPV4, kind="tcp_sink")
    with slm.data_mode() as dm:
        dm.write(b"first chunk;")
        dm.quiet()
        dm.write(b"second chunk")
    assert sink.wait_for(24) == b"first chunk;second chunk"
    assert not slm.in_data_mode
