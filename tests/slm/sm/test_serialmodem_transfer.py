"""Serial Modem: sending and receiving, byte for byte, in string, hex and data mode.

Formats from app/src/sm_at_socket.c v2.0.0-preview1: do_send (`#XSEND: <h>,<result_type>,
<size>`), do_sendto, do_recv (`#XRECV: <h>,<mode>,<size>` then the data), do_recvfrom
(`#XRECVFROM: <h>,<mode>,<size>,"<ip>",<port>`), data_send_hex (hex digits, upper or lower case
as bin2hex prints them), and the data-mode paths of handle_at_send / handle_at_sendto.
"""

from __future__ import annotations

import pytest
from slmsuite import (
    LONG,
    SHORT,
    accepted,
    families,
    feature,
    ip_version,
    loopback,
    nothing_more,
    peer,
    refused,
)

from pytest_slm.slm_types import (
    SM_HEX_MAX,
    Family,
    Role,
    SendMode,
    Sent,
    SocketMode,
    SocketType,
)

ALL_BYTES = bytes(range(256))


def _tcp(slm, request, family=Family.IPV4, kind="tcp_echo"):
    server = peer(request, kind, family)
    slm.socket_open(family, SocketType.STREAM)
    slm.connect(server.board_host, server.port)
    return server


def _recv_exactly(slm, size: int, **kwargs) -> bytes:
    data = b""
    while len(data) < size:
        got = slm.recv(LONG, **kwargs)
        assert got.data, f"end of stream after {len(data)} of {size} bytes"
        data += got.data
    assert len(data) == size
    return data


@pytest.mark.parametrize("family", families())
def test_tcp_string_send_answers_handle_type_and_size(slm, request, family):
    _tcp(slm, request, family)
    h = slm.current
    accepted(slm, f'AT#XSEND={h},0,0,"Test TCP"', [f"#XSEND: {h},0,8"])
    result = slm.at(f"AT#XRECV={h},0,0,{LONG}")
    assert result.lines == [f"#XRECV: {h},0,8"] and result.payloads == [b"Test TCP"]


@pytest.mark.parametrize("family", families())
def test_tcp_hex_send_and_hex_receive(slm, request, family):
    _tcp(slm, request, family)
    h = slm.current
    accepted(slm, f'AT#XSEND={h},1,0,"48656C6C6F"', [f"#XSEND: {h},0,5"])
    result = slm.at(f"AT#XRECV={h},1,0,{LONG}")
    assert result.lines == [f"#XRECV: {h},1,5"]
    assert result.payloads[0].lower() == b"48656c6c6f"


@pytest.mark.parametrize("size", [1, 2, 100, 700, SM_HEX_MAX], ids=lambda s: f"{s}B")
def test_every_byte_value_survives_hex_mode_both_ways(slm, request, size):
    _tcp(slm, request)
    payload = (ALL_BYTES * (size // 256 + 1))[:size]
    assert slm.send_hex(payload) == size
    assert _recv_exactly(slm, size, mode=SocketMode.HEX) == payload


def test_hex_send_over_the_buffer_is_refused(slm, request):
    # bin_data[1400]: hex2bin of more gives 0 -> -EINVAL.
    _tcp(slm, request, kind="tcp_sink")
    refused(slm, f'AT#XSEND={slm.current},1,0,"' + "00" * (SM_HEX_MAX + 1) + '"')


@pytest.mark.parametrize("text", ["0A", "0a", "aBcD"])
def test_hex_digits_of_either_case_are_taken(slm, request, text):
    sink = _tcp(slm, request, kind="tcp_sink")
    accepted(
        slm, f'AT#XSEND={slm.current},1,0,"{text}"', [f"#XSEND: {slm.current},0,{len(text) // 2}"]
    )
    assert sink.wait_for(len(text) // 2) == bytes.fromhex(text)


@pytest.mark.parametrize("text, data", [("4", b"\x04"), ("abc", b"\x0a\xbc")])
def test_odd_length_hex_gets_a_leading_zero_nibble(slm, request, text, data):
    # Zephyr's hex2bin: an odd count of digits reads as if a 0 came first.
    sink = _tcp(slm, request, kind="tcp_sink")
    h = slm.current
    accepted(slm, f'AT#XSEND={h},1,0,"{text}"', [f"#XSEND: {h},0,{len(data)}"])
    assert sink.wait_for(len(data)) == data


def test_empty_string_send_sends_nothing(slm, request):
    sink = _tcp(slm, request, kind="tcp_sink")
    accepted(slm, f'AT#XSEND={slm.current},0,0,""', [f"#XSEND: {slm.current},0,0"])
    nothing_more(slm, sink)


@pytest.mark.parametrize("size", [1, 255, 1024, 4095, 4096, 10000], ids=lambda s: f"{s}B")
def test_data_len_mode_carries_every_byte_including_the_terminator(slm, request, size):
    sink = _tcp(slm, request, kind="tcp_sink")
    payload = (b"+++" + ALL_BYTES) * (size // 259 + 1)
    payload = payload[:size]
    slm.send_exact(payload)
    assert sink.wait_for(size) == payload
    nothing_more(slm, sink, payload)


@pytest.mark.parametrize("size", [1, 1000, 4096], ids=lambda s: f"{s}B")
def test_tcp_echo_of_binary_data_through_data_len_and_recv(slm, request, size):
    _tcp(slm, request)
    payload = (ALL_BYTES * (size // 256 + 1))[:size]
    slm.send(payload, SendMode.DATAMODE)
    assert _recv_exactly(slm, size) == payload


def test_recv_data_len_limits_each_read(slm, request):
    _tcp(slm, request)
    slm.send(b"0123456789")
    first = slm.recv(LONG, data_len=4)
    assert (first.data, first.size) == (b"0123", 4)
    assert _recv_exactly(slm, 6) == b"456789"


def test_recv_peek_flag_leaves_the_data_queued(slm, request):
    _tcp(slm, request)
    slm.send(b"peekaboo")
    # MSG_PEEK (2): the same bytes come again on the next read.
    assert _recv_exactly(slm, 8, flags=2) == b"peekaboo"
    assert _recv_exactly(slm, 8) == b"peekaboo"


def test_recv_times_out_with_error(slm, request):
    _tcp(slm, request, kind="tcp_sink")
    refused(slm, f"AT#XRECV={slm.current},0,0,{SHORT}")


def test_recv_dontwait_flag_does_not_block(slm, request):
    # MSG_DONTWAIT (64) with a long timeout: nothing queued answers ERROR at once.
    _tcp(slm, request, kind="tcp_sink")
    result = slm.at(f"AT#XRECV={slm.current},0,64,{LONG}", check=False)
    assert (result.lines, result.final) == ([], "ERROR")
    assert result.duration < LONG / 2


def test_recv_after_the_peer_closed_answers_ok_without_data(slm, request, tcp_source):
    source = tcp_source(b"bye", close=True)
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(source.board_host, source.port)
    assert _recv_exactly(slm, 3) == b"bye"
    # do_recv: 0 bytes (end of stream) prints no header, and the command answers OK.
    accepted(slm, f"AT#XRECV={slm.current},0,0,{LONG}")


@pytest.mark.parametrize("family", families())
def test_udp_sendto_and_recvfrom_name_the_peer(slm, request, family):
    echo = peer(request, "udp_echo", family)
    h = slm.socket_open(family, SocketType.DGRAM).handle
    accepted(
        slm,
        f'AT#XSENDTO={h},0,0,"{echo.board_host}",{echo.port},"Test UDP"',
        [f"#XSENDTO: {h},0,8"],
    )
    got = slm.recvfrom(LONG)
    assert (got.data, got.size, got.port) == (b"Test UDP", 8, echo.port)
    assert got.ip == loopback(family)


def test_udp_hex_sendto_and_hex_recvfrom(slm, udp_echo):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    sent = slm.sendto_string(udp_echo.board_host, udp_echo.port, ALL_BYTES[:200], hex_mode=True)
    assert sent == Sent(h, 0, 200)
    got = slm.recvfrom(LONG, mode=SocketMode.HEX)
    assert got.data == ALL_BYTES[:200] and got.size == 200


def test_udp_datagram_boundaries_are_kept(slm, udp_echo):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    for text in (b"one", b"second", b"3"):
        slm.sendto(udp_echo.board_host, udp_echo.port, text)
        assert slm.recvfrom(LONG).data == text


def test_udp_recvfrom_data_len_truncates_the_datagram(slm, udp_echo):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    slm.sendto(udp_echo.board_host, udp_echo.port, b"0123456789")
    got = slm.recvfrom(LONG, data_len=4)
    assert (got.data, got.size) == (b"0123", 4)
    # The rest of a datagram is gone: the next read waits for a new one.
    refused(slm, f"AT#XRECVFROM={slm.current},0,0,{SHORT}")


@pytest.mark.parametrize("size", [1, 512, 1400], ids=lambda s: f"{s}B")
def test_udp_sendto_data_len_carries_binary(slm, udp_sink, size):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    payload = (b"+++" + ALL_BYTES) * 6
    payload = payload[:size]
    slm.send_exact(payload, handle=h, sendto=(udp_sink.board_host, udp_sink.port))
    (datagram,) = udp_sink.wait_datagrams(1)
    assert datagram.data == payload


def test_udp_connected_socket_sends_with_xsend(slm, udp_echo):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.connect(udp_echo.board_host, udp_echo.port)
    accepted(slm, f'AT#XSEND={h},0,0,"connected"', [f"#XSEND: {h},0,9"])
    # A connected UDP socket reads with #XRECV too.
    assert slm.recv(LONG).data == b"connected"


def test_udp_recvfrom_times_out_with_error(slm):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.bind(0, handle=h)
    refused(slm, f"AT#XRECVFROM={h},0,0,{SHORT}")


def test_two_sockets_keep_their_data_apart(slm, request):
    echo_a = peer(request, "tcp_echo", Family.IPV4)
    a = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    slm.connect(echo_a.board_host, echo_a.port, handle=a)
    b = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    udp = request.getfixturevalue("udp_echo")
    slm.sendto(udp.board_host, udp.port, b"to-b", handle=b)
    slm.send(b"to-a", handle=a)
    assert slm.recv(LONG, handle=a).data == b"to-a"
    assert slm.recvfrom(LONG, handle=b).data == b"to-b"


def test_send_on_an_unconnected_tcp_socket_is_refused(slm):
    h = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    result = slm.at(f'AT#XSEND={h},0,0,"x"', check=False)
    # do_send prints how much it sent (0) before the error result.
    assert (result.lines, result.final) == ([f"#XSEND: {h},0,0"], "ERROR")


def test_connect_to_a_closed_port_is_refused(slm, request):
    from slmsuite import free_port

    slm.socket_open(Family.IPV4, SocketType.STREAM)
    refused(slm, f'AT#XCONNECT={slm.current},"127.0.0.1",{free_port(Family.IPV4)}')


def test_connect_to_an_unresolvable_name_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    refused(slm, f'AT#XCONNECT={slm.current},"no-such-host.invalid",80')


def test_role_server_socket_connects_like_a_client(slm, tcp_echo):
    # The role is only recorded (AT#XSOCKET? shows it); connect does not check it.
    h = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER).handle
    slm.connect(tcp_echo.board_host, tcp_echo.port)
    assert slm.send(b"x") == 1
    assert slm.recv(LONG, handle=h).data == b"x"


@feature("loopback_peers")
@pytest.mark.parametrize("family", families())
def test_bound_udp_socket_receives_from_a_source(slm, udp_source, family):
    from slmsuite import board_address, free_udp_port

    h = slm.socket_open(family, SocketType.DGRAM).handle
    port = free_udp_port(family)
    slm.bind(port, handle=h)
    source = udp_source(family=ip_version(family))
    source.send_to(board_address(slm, family), port, b"inbound")
    got = slm.recvfrom(LONG)
    assert got.data == b"inbound" and got.port == source.port
