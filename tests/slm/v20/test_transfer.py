"""TCP and UDP clients end to end: #XCONNECT, #XSEND, #XRECV, #XSENDTO, #XRECVFROM, #XBIND.

Payloads are checked byte for byte at the far end (sinks record exactly what arrived) and on
the way back (sources send exactly what the test gives them).
"""

from __future__ import annotations

import pytest
from slmsuite import (
    LONG,
    SHORT,
    board_address,
    expect_timeout,
    families,
    feature,
    free_port,
    free_udp_port,
    ip_version,
    nothing_more,
    peer,
    recv_exactly,
    refused,
)

from pytest_slm.at.errors import AtError
from pytest_slm.slm_types import (
    MAX_STRING_PAYLOAD,
    RECVFROM_MAX,
    Family,
    Received,
    ReceivedFrom,
    Role,
    SendMode,
    SocketType,
    recv_max,
)

ALL_BYTES = bytes(range(256))


def tcp_client(slm, request, family, kind="tcp_echo"):
    server = peer(request, kind, family)
    slm.socket_open(family, SocketType.STREAM, Role.CLIENT)
    slm.connect(server.board_host, server.port)
    return server


def udp_client(slm, request, family, kind="udp_echo"):
    server = peer(request, kind, family)
    slm.socket_open(family, SocketType.DGRAM, Role.CLIENT)
    slm.connect(server.board_host, server.port)
    return server


# --------------------------------------------------------------------------- clients


@pytest.mark.parametrize("family", families())
def test_tcp_client_echo(slm, request, family):
    tcp_client(slm, request, family)
    assert slm.send(b"Test TCP") == 8
    assert slm.recv(LONG) == Received(b"Test TCP", 8)


@pytest.mark.parametrize("family", families())
def test_udp_client_connected_echo(slm, request, family):
    udp_client(slm, request, family)
    assert slm.send(b"Test UDP") == 8
    assert slm.recv(LONG) == Received(b"Test UDP", 8)


@pytest.mark.parametrize("family", families())
def test_udp_sendto_recvfrom(slm, request, family):
    echo = peer(request, "udp_echo", family)
    slm.socket_open(family, SocketType.DGRAM, Role.CLIENT)
    assert slm.sendto(echo.board_host, echo.port, b"Test UDP") == 8
    assert slm.recvfrom(LONG) == ReceivedFrom(b"Test UDP", 8, echo.board_host)


@pytest.mark.parametrize("family", families())
def test_udp_sendto_reaches_the_peer_exactly(slm, request, family):
    sink = peer(request, "udp_sink", family)
    slm.socket_open(family, SocketType.DGRAM, Role.CLIENT)
    assert slm.sendto(sink.board_host, sink.port, b"one") == 3
    assert slm.sendto(sink.board_host, sink.port, b"two!") == 4
    assert [d.data for d in sink.wait_datagrams(2)] == [b"one", b"two!"]


@feature("loopback_peers")
@pytest.mark.parametrize("family", families())
def test_udp_bound_socket_receives_from_a_peer(slm, request, udp_source, family):
    port = free_udp_port(family)
    source = udp_source(family=ip_version(family))
    slm.socket_open(family, SocketType.DGRAM, Role.SERVER)
    slm.bind(port)
    source.send_to(board_address(slm, family), port, b"hello board")
    assert slm.recvfrom(LONG) == ReceivedFrom(b"hello board", 11, source.board_host)
    # The answer goes back to the sender's address and port.
    assert slm.sendto(source.board_host, source.port, b"hello peer") == 10
    assert [d.data for d in source.wait_datagrams(1)] == [b"hello peer"]


@feature("loopback_peers")
def test_connect_to_a_closed_port_is_refused(slm):
    port = free_port(Family.IPV4)
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    refused(slm, f'AT#XCONNECT="127.0.0.1",{port}')


def test_connect_to_an_unresolvable_name_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    refused(slm, 'AT#XCONNECT="nonexistent.invalid",80')


def test_connect_extra_parameter_is_ignored(slm, tcp_echo):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    result = slm.at(f'AT#XCONNECT="{tcp_echo.board_host}",{tcp_echo.port},1')
    assert result.lines == ["#XCONNECT: 1"]


# --------------------------------------------------------------------------- send sizes


@pytest.mark.parametrize("size", [0, 1, MAX_STRING_PAYLOAD], ids=lambda s: f"{s}B")
def test_string_send_sizes(slm, tcp_sink, size):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    payload = bytes(0x61 + i % 26 for i in range(size))
    assert slm.send(payload, SendMode.STRING) == size
    if size:
        assert tcp_sink.wait_for(size) == payload
    nothing_more(slm, tcp_sink, payload)


def test_string_send_over_the_maximum_is_refused(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    refused(slm, 'AT#XSEND="' + "x" * (MAX_STRING_PAYLOAD + 1) + '"')
    nothing_more(slm, tcp_sink)


def test_sendto_over_the_maximum_is_refused(slm, udp_sink):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    refused(
        slm,
        f'AT#XSENDTO="{udp_sink.board_host}",{udp_sink.port},"' + "x" * (MAX_STRING_PAYLOAD + 1)
        + '"',
    )
    assert slm.sendto(udp_sink.board_host, udp_sink.port, b"after") == 5
    assert [d.data for d in udp_sink.wait_datagrams(1)] == [b"after"]


@pytest.mark.parametrize("size", [MAX_STRING_PAYLOAD + 1, 4096, 12000], ids=lambda s: f"{s}B")
@pytest.mark.parametrize("family", families())
def test_datamode_send_large(slm, request, family, size):
    sink = tcp_client(slm, request, family, kind="tcp_sink")
    payload = (ALL_BYTES * (size // 256 + 1))[:size]
    assert slm.send(payload, SendMode.DATAMODE) == size
    assert sink.wait_for(size) == payload
    nothing_more(slm, sink, payload)


def test_datamode_sendto_large(slm, udp_sink):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    payload = (ALL_BYTES * 20)[:5000]
    assert slm.sendto(udp_sink.board_host, udp_sink.port, payload, SendMode.DATAMODE) == 5000
    # Each flushed chunk is one datagram; together they are the payload, in order.
    assert udp_sink.wait_for(5000) == payload


# --------------------------------------------------------------------------- integrity


SPECIAL = [
    pytest.param(b"\r", id="cr"),
    pytest.param(b"\n", id="lf"),
    pytest.param(b"a\r\nb", id="crlf"),
    pytest.param(b"\x00", id="nul"),
    pytest.param(b"a\x00b", id="nul-inside"),
    pytest.param(b'say "hi"', id="quote"),
    pytest.param(b"\x08\x7f", id="bs-del"),
    pytest.param(b"+++", id="terminator-alone"),
    pytest.param(b"ab+++cd", id="terminator-inside"),
    pytest.param(b"data+++", id="terminator-at-end"),
    pytest.param(b"+++\r\n", id="terminator-crlf"),
    pytest.param(b"AT\r\n", id="at-command"),
    pytest.param(b"#XRECV: 5\r\n", id="header-lookalike"),
]


@pytest.mark.parametrize("mode", [SendMode.AUTO, SendMode.DATAMODE], ids=["auto", "datamode"])
@pytest.mark.parametrize("payload", SPECIAL)
def test_special_bytes_round_trip(slm, request, payload, mode):
    tcp_client(slm, request, Family.IPV4)
    assert slm.send(payload, mode) == len(payload)
    assert recv_exactly(slm, len(payload)) == payload


@pytest.mark.parametrize("payload", [b"a\r\nb", b"\r\n\r\n", b"x\ry"], ids=["crlf", "2crlf", "cr"])
def test_string_form_carries_cr_lf_inside_quotes(slm, tcp_sink, payload):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    assert slm.send(payload, SendMode.STRING) == len(payload)
    assert tcp_sink.wait_for(len(payload)) == payload


def test_string_form_backspace_edits_inside_quotes(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    # The line editor deletes a character on BS and DEL, inside quotes too.
    assert slm.at('AT#XSEND="ab\x08c\x7fd"').lines == ["#XSEND: 2"]
    assert tcp_sink.wait_for(2) == b"ad"


@pytest.mark.parametrize("family", families())
def test_all_byte_values_tcp(slm, request, family):
    tcp_client(slm, request, family)
    payload = ALL_BYTES + ALL_BYTES[::-1]
    assert slm.send(payload) == 512
    assert recv_exactly(slm, 512) == payload


@pytest.mark.parametrize("family", families())
def test_all_byte_values_udp(slm, request, family):
    echo = peer(request, "udp_echo", family)
    slm.socket_open(family, SocketType.DGRAM)
    assert slm.sendto(echo.board_host, echo.port, ALL_BYTES) == 256
    assert slm.recvfrom(LONG) == ReceivedFrom(ALL_BYTES, 256, echo.board_host)


# --------------------------------------------------------------------------- receive sizes


@pytest.mark.parametrize("extra", [0, 1, 300], ids=["max", "max+1", "max+300"])
@pytest.mark.parametrize("family", families())
def test_tcp_recv_is_capped_per_call_and_keeps_the_remainder(slm, tcp_source, family, extra):
    cap = recv_max(family, SocketType.STREAM)
    payload = (ALL_BYTES * 10)[: cap + extra]
    source = tcp_source(payload, close=False, family=ip_version(family))
    slm.socket_open(family, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    slm.poll(LONG * 1000, [0])
    assert slm.recv(LONG) == Received(payload[:cap], cap)
    if extra:
        assert recv_exactly(slm, extra) == payload[cap:]
    # Nothing is left to read. The source sent only `payload`, and all of it has been read: a
    # byte more could only be one the board kept twice, already in its buffer, so a poll that
    # does not wait at all sees it (a 1 s #XRECV would prove no more, at any latency).
    assert slm.poll(0, [0]) == []


@pytest.mark.parametrize("family", families())
def test_tcp_recv_one_byte(slm, tcp_source, family):
    source = tcp_source(b"\x00", close=False, family=ip_version(family))
    slm.socket_open(family, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    assert slm.recv(LONG) == Received(b"\x00", 1)


@pytest.mark.parametrize("size", ["max", "max+1"])
@pytest.mark.parametrize("family", families())
def test_udp_recvfrom_cap(slm, request, family, size):
    echo = peer(request, "udp_echo", family)
    cap = RECVFROM_MAX[family]
    payload = (ALL_BYTES * 10)[: cap + (size == "max+1")]
    slm.socket_open(family, SocketType.DGRAM)
    # One datagram either way (one data-mode chunk), echoed whole; one read takes `cap` of it.
    slm.sendto(echo.board_host, echo.port, payload, SendMode.DATAMODE)
    assert slm.recvfrom(LONG) == ReceivedFrom(payload[:cap], cap, echo.board_host)


@pytest.mark.parametrize("family", families())
def test_udp_recv_cap(slm, request, family):
    udp_client(slm, request, family)
    cap = recv_max(family, SocketType.DGRAM)
    payload = bytes(0x61 + i % 26 for i in range(cap))
    assert slm.send(payload, SendMode.STRING) == cap
    assert slm.recv(LONG) == Received(payload, cap)


# --------------------------------------------------------------------------- timeouts, EOF


def test_recvfrom_timeout_is_error(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    slm.bind(free_udp_port(Family.IPV4))
    expect_timeout(slm.recvfrom, SHORT, lasting=SHORT)


def test_recv_after_peer_close_is_plain_ok(slm, tcp_source):
    source = tcp_source(b"abc", close=True)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    assert recv_exactly(slm, 3) == b"abc"
    # End of stream: no #XRECV line at all, just OK; and again on the next read.
    assert slm.recv(LONG) == Received(b"", None)
    assert slm.recv(LONG) == Received(b"", None)


@feature("loopback_peers")
def test_recvfrom_empty_datagram_is_plain_ok(slm, udp_source):
    port = free_udp_port(Family.IPV4)
    source = udp_source()
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    slm.bind(port)
    source.send_to(board_address(slm, Family.IPV4), port, b"")
    assert slm.recvfrom(LONG) == ReceivedFrom(b"", None, None)
    source.send_to(board_address(slm, Family.IPV4), port, b"next")
    assert slm.recvfrom(LONG) == ReceivedFrom(b"next", 4, source.board_host)


def test_recv_extra_parameter_is_ignored(slm, tcp_source):
    source = tcp_source(b"xyz", close=False)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    slm.poll(LONG * 1000, [0])
    result = slm.at(f"AT#XRECV={LONG},0")
    assert (result.lines, result.payloads) == (["#XRECV: 3"], [b"xyz"])


def test_recv_blocking_returns_waiting_data(slm, tcp_source):
    source = tcp_source(b"blocking", close=False)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    slm.poll(LONG * 1000, [0])
    assert slm.recv(0, at_timeout=30.0) == Received(b"blocking", 8)


def test_recv_exact_framing(slm, tcp_source):
    source = tcp_source(b"Test OK", close=False)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    slm.poll(LONG * 1000, [0])
    mark = slm.transcript.mark()
    slm.recv(LONG)
    received = b"".join(e.data for e in slm.transcript.entries(mark) if e.direction == "<")
    # The header line, the raw bytes with no CRLF of their own, then the final result.
    assert received == b"\r\n#XRECV: 7\r\nTest OK\r\nOK\r\n"


# --------------------------------------------------------------------------- wrong type/role


def test_send_on_unconnected_udp_fails(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    with pytest.raises(AtError):
        slm.send(b"nowhere", SendMode.STRING)


# A receive timeout of 0 skips the poll (socket_poll returns at once for timeout <= 0,
# slm_at_socket.c 937) and goes straight to the recv that has no socket; 1 would first wait out
# a second polling nothing.
@pytest.mark.parametrize("command", [
    "AT#XRECV=0", "AT#XRECVFROM=0", "AT#XBIND=0", 'AT#XCONNECT="127.0.0.1",7', "AT#XLISTEN",
    "AT#XACCEPT=1",
])
def test_socket_commands_without_a_socket_are_refused(slm, command):
    refused(slm, command)


def test_tcp_server_without_peer_refuses_send_and_recv(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    refused(slm, 'AT#XSEND="x"')
    refused(slm, "AT#XRECV=1")
    refused(slm, 'AT#XCONNECT="127.0.0.1",7')


def test_client_refuses_listen_and_accept(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    refused(slm, "AT#XLISTEN")
    refused(slm, "AT#XACCEPT=1")
    refused(slm, "AT#XACCEPT?")


@feature("loopback_peers")
@pytest.mark.parametrize("family", families())
def test_bound_udp_socket_sends_from_its_port(slm, request, family):
    sink = peer(request, "udp_sink", family)
    port = free_udp_port(family)
    slm.socket_open(family, SocketType.DGRAM)
    slm.bind(port)
    slm.sendto(sink.board_host, sink.port, b"from my port")
    (datagram,) = sink.wait_datagrams(1)
    assert (datagram.data, datagram.peer) == (b"from my port", (board_address(slm, family), port))


@feature("loopback_peers")
def test_bound_tcp_client_connects_from_its_port(slm, tcp_sink):
    port = free_port(Family.IPV4)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.bind(port)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    tcp_sink.wait_connections(1)
    assert tcp_sink.peers == [(board_address(slm, Family.IPV4), port)]


def test_second_connect_on_a_connected_tcp_socket_is_refused(slm, tcp_echo):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_echo.board_host, tcp_echo.port)
    refused(slm, f'AT#XCONNECT="{tcp_echo.board_host}",{tcp_echo.port}')
    # The first connection is still the one in use.
    assert slm.send(b"still") == 5
    assert recv_exactly(slm, 5) == b"still"
