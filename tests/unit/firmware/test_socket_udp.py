"""Golden transcripts: #XSENDTO (string and data mode, stale udp_url) and #XRECVFROM."""

from __future__ import annotations

import socket

import pytest
from socket_peers import local_port, recv_result

from firmware_ref.testing import ERROR, OK, at, info


def test_sendto_recvfrom_doc_examples(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    assert (
        at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"Test UDP"')
        == info("#XSENDTO: 8") + OK
    )
    assert udp_echo.wait_received(8) == b"Test UDP"
    # Doc: #XRECVFROM: 7,"192.168.1.100"; v2.0 prints no port.
    assert at(harness, "AT#XRECVFROM=10") == b'\r\n#XRECVFROM: 8,"127.0.0.1"\r\nTest UDP' + OK


def test_sendto_by_name_and_ipv6(harness, udp_echo, udp_echo6) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, f'AT#XSENDTO="localhost",{udp_echo.port},"a"') == info("#XSENDTO: 1") + OK
    assert at(harness, "AT#XRECVFROM=5") == b'\r\n#XRECVFROM: 1,"127.0.0.1"\r\na' + OK
    at(harness, "AT#XSOCKET=2,2,0")
    assert at(harness, f'AT#XSENDTO="::1",{udp_echo6.port},"six"') == info("#XSENDTO: 3") + OK
    assert at(harness, "AT#XRECVFROM=5") == b'\r\n#XRECVFROM: 3,"::1"\r\nsix' + OK


def test_sendto_empty_data_sends_nothing(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},""') == info("#XSENDTO: 0") + OK


def test_recvfrom_empty_datagram_is_plain_ok(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"x"')
    at(harness, "AT#XRECVFROM=5")
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"", ("127.0.0.1", local_port(harness, 0)))
    assert at(harness, "AT#XRECVFROM=5") == OK
    sender.sendto(b"", ("127.0.0.1", local_port(harness, 0)))
    assert at(harness, "AT#XRECV=5") == OK
    sender.close()


def test_recvfrom_timeouts(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"one"')
    udp_echo.wait_received(3)
    assert at(harness, "AT#XRECVFROM=0") == b'\r\n#XRECVFROM: 3,"127.0.0.1"\r\none' + OK
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"two"')
    udp_echo.wait_received(6)
    assert at(harness, "AT#XRECVFROM=-1") == b'\r\n#XRECVFROM: 3,"127.0.0.1"\r\ntwo' + OK
    assert at(harness, "AT#XRECVFROM=1") == ERROR  # nothing left: the poll expires


@pytest.mark.parametrize(
    ("op", "peer", "command", "header"),
    [
        (1, "127.0.0.1", "AT#XRECVFROM=5", b'\r\n#XRECVFROM: 1252,"127.0.0.1"\r\n'),
        (1, "127.0.0.1", "AT#XRECV=5", b"\r\n#XRECV: 1252\r\n"),
        (2, "::1", "AT#XRECV=5", b"\r\n#XRECV: 1232\r\n"),
        (2, "::1", "AT#XRECVFROM=5", b'\r\n#XRECVFROM: 1232,"::1"\r\n'),
    ],
)
def test_udp_receive_is_capped(harness, op, peer, command, header) -> None:
    """A 1400-byte datagram yields the modem's per-call cap: 1252 bytes over IPv4, 1232 over
    IPv6 (the 1280-byte MTU less the headers)."""
    at(harness, f"AT#XSOCKET={op},2,0")
    at(harness, "AT#XBIND=0")
    family = socket.AF_INET if op == 1 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_DGRAM) as sender:
        sender.sendto(b"u" * 1400, (peer, local_port(harness, 0)))
        got_header, payload, final = recv_result(harness, command)
    assert got_header == header
    assert payload == b"u" * (1252 if op == 1 else 1232) and final == OK


def test_recvfrom_on_tcp_reports_the_peer(harness, tcp_echo) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    at(harness, 'AT#XSEND="t"')
    tcp_echo.wait_received(1)
    assert at(harness, "AT#XRECVFROM=5") == b'\r\n#XRECVFROM: 1,"127.0.0.1"\r\nt' + OK


@pytest.mark.parametrize(
    "command",
    [
        "AT#XSENDTO",  # bare: matches AT#XSEND... only when 2 chars longer; this one is
        "AT#XSENDTO=",
        'AT#XSENDTO="127.0.0.1"',
        'AT#XSENDTO="127.0.0.1",',
        'AT#XSENDTO=127.0.0.1,1,"x"',
        'AT#XSENDTO="127.0.0.1",65536,"x"',
        'AT#XSENDTO="127.0.0.1",-1,"x"',
        'AT#XSENDTO="127.0.0.1",0x10,"x"',
        'AT#XSENDTO="127.0.0.1",9,x',
        'AT#XSENDTO="127.0.0.1",9,1',
        'AT#XSENDTO="' + "h" * 128 + '",9,"x"',
        'AT#XSENDTO="nonexistent.invalid",9,"x"',
        'AT#XSENDTO="127.0.0.1",9,"' + "d" * 1253 + '"',
        "AT#XSENDTO?",
        "AT#XSENDTO=?",
    ],
)
def test_sendto_bad_input(harness, command: str) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    if command == "AT#XSENDTO":
        # A bare AT#XSENDTO is only 2 characters longer than AT#XSEND, so it is taken for
        # AT#XSEND and enters data mode (v2.0 prefix-matching quirk).
        harness.feed(b"AT#XSENDTO\r\n")
        harness.assert_silent(0.1)
        harness.feed(b"+++")
        assert harness.read_final() == OK
        return
    assert at(harness, command) == ERROR


@pytest.mark.parametrize(
    "command",
    [
        "AT#XRECVFROM",
        "AT#XRECVFROM=",
        'AT#XRECVFROM="1"',
        "AT#XRECVFROM=2147483648",
        "AT#XRECVFROM?",
        "AT#XRECVFROM=?",
    ],
)
def test_recvfrom_bad_input(harness, udp_echo, command: str) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"x"')
    assert at(harness, command) == ERROR


def test_recvfrom_without_socket(harness) -> None:
    assert at(harness, "AT#XRECVFROM=0") == ERROR


def test_sendto_without_socket(harness, fast_send_poll) -> None:
    # sock.fd is -1: poll() skips it, the (shortened) 30 s POLLOUT wait expires.
    assert at(harness, 'AT#XSENDTO="127.0.0.1",9,"x"') == info("#XSENDTO: 0") + ERROR


def test_sendto_data_mode(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    harness.feed(f'AT#XSENDTO="127.0.0.1",{udp_echo.port}\r\n'.encode())
    harness.assert_silent(0.1)
    harness.feed(b"datagram")
    assert udp_echo.wait_received(8) == b"datagram"
    harness.feed(b"+++")
    harness.wait_output(OK)
    assert at(harness, "AT#XRECVFROM=5") == b'\r\n#XRECVFROM: 8,"127.0.0.1"\r\ndatagram' + OK
    # Data mode exit cleared udp_url: a plain XSEND data mode on the unconnected socket
    # now fails its first send and leaves with OK.
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1)
    harness.feed(b"nowhere")
    harness.wait_output(OK)
    assert udp_echo.received == b"datagram"


def test_stale_udp_url_after_sendto_with_data(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"first"')
    udp_echo.wait_received(5)
    # v2.0 quirk: XSEND data mode on an unconnected UDP socket goes to the stale udp_url.
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1)
    harness.feed(b"second")
    assert udp_echo.wait_received(11) == b"firstsecond"
    harness.feed(b"+++")
    harness.wait_output(OK)


def test_sendto_bad_port_still_stores_the_url(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    at(harness, 'AT#XSENDTO="nonexistent.invalid",1,"x"')  # ERROR, but the URL is stored
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"a"')
    udp_echo.wait_received(1)
    # The URL is parsed into udp_url before the port fails: "localhost" with the old port.
    assert at(harness, 'AT#XSENDTO="localhost",70000,"b"') == ERROR
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1)
    harness.feed(b"c")
    assert udp_echo.wait_received(2) == b"ac"
    harness.feed(b"+++")
    harness.wait_output(OK)


def test_sendto_on_connected_tcp_goes_to_the_peer(harness, tcp_echo) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    assert at(harness, 'AT#XSENDTO="127.0.0.1",1,"tcp"') == info("#XSENDTO: 3") + OK
    assert tcp_echo.wait_received(3) == b"tcp"


def test_sendto_offline(offline_harness) -> None:
    assert at(offline_harness, 'AT#XSENDTO="127.0.0.1",9,"x"') == ERROR


def test_udp_socket_binds_the_device_address_not_every_interface(harness) -> None:
    # A datagram to another address of the host must not reach the board's socket.
    import socket as host_socket

    with host_socket.socket(host_socket.AF_INET, host_socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(5)
        at(harness, "AT#XSOCKET=1,2,0")
        at(harness, f'AT#XSENDTO="127.0.0.1",{peer.getsockname()[1]},"hi"')
        data, (source, port) = peer.recvfrom(100)
        assert (data, source) == (b"hi", "127.0.0.1")
        peer.sendto(b"stranger", ("127.0.0.9", port))
        peer.sendto(b"device", ("127.0.0.1", port))
    assert at(harness, "AT#XRECVFROM=5") == info('#XRECVFROM: 6,"127.0.0.1"') + b"device" + OK
    assert at(harness, "AT#XPOLL=0") == OK
