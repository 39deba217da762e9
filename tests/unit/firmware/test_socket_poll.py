"""Golden transcripts: #XPOLL (milliseconds, POLLIN only, "0x%08x" revents)."""

from __future__ import annotations

import socket
import time

import pytest
from socket_peers import local_port

from firmware_ref.testing import ERROR, OK, at, info

READABLE = '"0x00000001"'


def udp_sockets(h, count: int) -> list[int]:
    """Open ``count`` bound UDP sockets; returns their host ports."""
    ports = []
    for fd in range(count):
        at(h, "AT#XSOCKET=1,2,0")
        at(h, "AT#XBIND=0")
        ports.append(local_port(h, fd))
    return ports


def poke(port: int, data: bytes = b"!") -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(data, ("127.0.0.1", port))
    s.close()


def test_poll_doc_examples(harness) -> None:
    ports = udp_sockets(harness, 2)
    poke(ports[0])
    poke(ports[1])
    assert at(harness, "AT#XPOLL=2000,0") == info(f"#XPOLL: 0,{READABLE}") + OK
    assert at(harness, "AT#XPOLL=2000,1") == info(f"#XPOLL: 1,{READABLE}") + OK
    assert (
        at(harness, "AT#XPOLL=2000") == info(f"#XPOLL: 0,{READABLE}", f"#XPOLL: 1,{READABLE}") + OK
    )


def test_poll_without_data_times_out_with_plain_ok(harness) -> None:
    udp_sockets(harness, 2)
    assert at(harness, "AT#XPOLL=0") == OK
    start = time.monotonic()
    assert at(harness, "AT#XPOLL=300,0,1") == OK
    assert time.monotonic() - start >= 0.25


def test_poll_waits_for_data(harness) -> None:
    ports = udp_sockets(harness, 1)
    harness.feed(b"AT#XPOLL=5000\r\n")
    harness.assert_silent(0.1)
    poke(ports[0])
    assert harness.read_final() == info(f"#XPOLL: 0,{READABLE}") + OK


def test_poll_forever_returns_when_data_is_pending(harness) -> None:
    ports = udp_sockets(harness, 2)
    poke(ports[1])
    assert at(harness, "AT#XPOLL=-1") == info(f"#XPOLL: 1,{READABLE}") + OK
    assert at(harness, "AT#XPOLL=-5,1") == info(f"#XPOLL: 1,{READABLE}") + OK


def test_poll_lists_in_the_given_order_with_duplicates(harness) -> None:
    ports = udp_sockets(harness, 3)
    poke(ports[0])
    poke(ports[2])
    assert (
        at(harness, "AT#XPOLL=0,2,1,0,2")
        == info(f"#XPOLL: 2,{READABLE}", f"#XPOLL: 0,{READABLE}", f"#XPOLL: 2,{READABLE}") + OK
    )


def test_poll_ignores_a_ninth_handle(harness) -> None:
    ports = udp_sockets(harness, 1)
    poke(ports[0])
    # Eight handles are read; the ninth (not even a socket) is never looked at.
    assert at(harness, "AT#XPOLL=0,0,0,0,0,0,0,0,0,9") == info(*[f"#XPOLL: 0,{READABLE}"] * 8) + OK


def test_poll_listening_socket_with_pending_client(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,1")
    at(harness, "AT#XBIND=0")
    at(harness, "AT#XLISTEN")
    assert at(harness, "AT#XPOLL=0") == OK
    client = socket.create_connection(("127.0.0.1", local_port(harness, 0)), timeout=5)
    assert at(harness, "AT#XPOLL=2000") == info(f"#XPOLL: 0,{READABLE}") + OK
    client.close()


def test_poll_reports_error_bits_beyond_pollin(harness) -> None:
    # An unconnected TCP socket: the stack reports POLLHUP even though only POLLIN was asked.
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XPOLL=0") == info('#XPOLL: 0,"0x00000010"') + OK


def test_poll_with_no_sockets(harness) -> None:
    assert at(harness, "AT#XPOLL=0") == OK
    assert at(harness, "AT#XPOLL=100") == OK


@pytest.mark.parametrize(
    "command",
    [
        "AT#XPOLL",
        "AT#XPOLL=",
        "AT#XPOLL=0,5",  # not an opened socket
        "AT#XPOLL=0,-1",
        "AT#XPOLL=0,0,,1",  # empty handle
        'AT#XPOLL="0"',
        'AT#XPOLL=0,"0"',
        "AT#XPOLL=2147483648",
        "AT#XPOLL=0x10",
        "AT#XPOLL?",
        "AT#XPOLL=?",
    ],
)
def test_poll_bad_input(harness, command: str) -> None:
    udp_sockets(harness, 1)
    assert at(harness, command) == ERROR


def test_poll_does_not_consume_data(harness) -> None:
    ports = udp_sockets(harness, 1)
    poke(ports[0], b"kept")
    assert at(harness, "AT#XPOLL=1000") == info(f"#XPOLL: 0,{READABLE}") + OK
    assert at(harness, "AT#XRECV=1") == b"\r\n#XRECV: 4\r\nkept" + OK
    assert at(harness, "AT#XPOLL=0") == OK
