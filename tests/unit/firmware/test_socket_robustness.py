"""Closed peers, double connects, raw sockets, and random input: every answer is OK or ERROR
and the board keeps answering."""

from __future__ import annotations

import random
import re
import socket
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from socket_peers import connect_to

from firmware_ref.testing import ERROR, OK, FirmwareHarness, at, info


def reset_by_peer(conn: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0) so the board's next send fails at once."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_send_to_a_reset_client_connection(harness) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{server.getsockname()[1]}')
    conn, _ = server.accept()
    reset_by_peer(conn)
    assert at(harness, 'AT#XSEND="after reset"') == info("#XSEND: 0") + ERROR
    assert at(harness, "AT#XRECV=1") in (OK, ERROR)  # EOF or ECONNRESET, never a hang
    server.close()


def test_send_to_a_reset_accepted_peer(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,1")
    at(harness, "AT#XBIND=0")
    at(harness, "AT#XLISTEN")
    client = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")
    reset_by_peer(client)
    assert at(harness, 'AT#XSEND="gone"') == info("#XSEND: 0") + ERROR
    # The peer stays remembered until the server is closed.
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 1") + OK


def test_connect_twice(harness, tcp_echo) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}') == info("#XCONNECT: 1") + OK
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}') == ERROR  # EISCONN


def test_raw_socket_without_a_destination(harness) -> None:
    # Addresses no other traffic goes to: the raw socket sees every packet sent to them.
    harness.fw.modem.address = "127.0.0.43"
    harness.fw.modem.address6 = ""
    assert at(harness, "AT#XSOCKET=1,3,0") == info("#XSOCKET: 0,3,0") + OK
    # AF_PACKET has no addresses: connect and sendto cannot resolve, bind has no address.
    assert at(harness, 'AT#XCONNECT="127.0.0.1",1') == ERROR
    assert at(harness, 'AT#XSENDTO="127.0.0.1",1,"x"') == ERROR
    assert at(harness, "AT#XBIND=1") == ERROR
    assert at(harness, "AT#XRECV=1") == ERROR


_COMMANDS = [
    "AT#XSOCKET",
    "AT#XSSOCKET",
    "AT#XSOCKETSELECT",
    "AT#XSOCKETOPT",
    "AT#XSSOCKETOPT",
    "AT#XBIND",
    "AT#XLISTEN",
    "AT#XACCEPT?",
]
# Parameters built from the pieces the parser distinguishes. Quotes stay balanced and there is
# no CR/LF (line framing is the host's business: an open quote swallows the terminator), and no
# blocking forms (commands with timeouts are left out).
_params = st.lists(
    st.one_of(
        st.integers(min_value=-(2**40), max_value=2**40).map(str),
        st.sampled_from(["", '""', '"NULL"', '"x"', "a", "0x1", "(1,2)", " 1", "1 ", "+5"]),
        st.text(alphabet="0123456789,a-", max_size=8),
    ),
    max_size=7,
).map(",".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=st.sampled_from(_COMMANDS), tail=st.sampled_from(["=", "?", "=?", ""]), params=_params
)
def test_random_parameters_never_break_the_board(command: str, tail: str, params: str) -> None:
    line = command + (tail + params if tail == "=" else tail if not command.endswith("?") else "")
    with FirmwareHarness(online=True, timeout=5.0) as h:
        out = h.command(line)
        assert re.search(rb"\r\n(OK|ERROR)\r\n$", out), out
        assert h.command("AT") == OK


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _icmp_echo_request(src: str, dst: str, ident: int, payload: bytes) -> bytes:
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + payload
    icmp = icmp[:2] + struct.pack("!H", _checksum(icmp)) + icmp[4:]
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(icmp),
        0,
        0,
        64,
        1,
        0,
        socket.inet_aton(src),
        socket.inet_aton(dst),
    )
    return header + icmp


def _device_address() -> str:
    # Another run of this test on the same host (a parallel worker, another checkout) pings
    # from its own device address: its replies must not reach this board's raw socket.
    return f"127.{random.randrange(1, 255)}.{random.randrange(1, 255)}.{random.randrange(2, 255)}"


def _loopback_traffic(megabytes: int) -> None:
    """Push bulk TCP through loopback, as the other tests on a shared host do meanwhile."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname()) as sender:
            receiver, _ = server.accept()
            with receiver:
                block = b"x" * (1 << 20)
                for _ in range(megabytes):
                    sender.sendall(block[: 1 << 19])
                    sender.sendall(block[: 1 << 19])
                    left = 1 << 20
                    while left:
                        left -= len(receiver.recv(left))


def _ping(harness, traffic_mb: int = 0) -> None:
    # The raw socket carries whole IP packets: an ICMP echo request goes out, and the reply
    # addressed to the device's PDP address comes back on the same socket.
    device = _device_address()
    ident = random.randrange(1, 0xFFFF)
    harness.fw.modem.address = device
    harness.fw.modem.address6 = ""
    assert at(harness, "AT#XSOCKET=1,3,0") == info("#XSOCKET: 0,3,0") + OK
    _loopback_traffic(traffic_mb)
    packet = _icmp_echo_request(device, "127.0.0.1", ident, b"slm-raw-ping")
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1)
    harness.feed(packet)
    harness.assert_silent(0.1)
    harness.feed(b"+++")
    harness.wait_output(OK)
    out = at(harness, "AT#XRECVFROM=5")
    header = b'\r\n#XRECVFROM: %d,""\r\n' % len(packet)
    assert out.startswith(header) and out.endswith(OK)
    reply = out[len(header) : -len(OK)]
    assert socket.inet_ntoa(reply[12:16]) == "127.0.0.1"
    assert socket.inet_ntoa(reply[16:20]) == device
    assert reply[20] == 0  # echo reply
    assert reply[24:26] == struct.pack("!H", ident) and reply[28:] == b"slm-raw-ping"
    assert at(harness, "AT#XPOLL=0") == OK


def test_raw_socket_ping(harness) -> None:
    _ping(harness)


def test_raw_socket_ping_with_other_traffic_on_loopback(harness) -> None:
    # Megabytes of other loopback traffic between the socket's opening and its first poll
    # must not crowd the echo reply out of its receive buffer.
    _ping(harness, traffic_mb=16)
