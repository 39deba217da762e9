"""Golden transcripts: #XBIND, #XCONNECT, #XSEND (string and data mode) and #XRECV over TCP."""

from __future__ import annotations

import socket
import threading

import pytest
from socket_peers import TcpEcho, connect_to, local_port, recv_result

from firmware_ref.testing import ERROR, OK, at, info
from pytest_slm.peers.ports import unused_port


def connected(h, peer: TcpEcho, url: str = "127.0.0.1", op: int = 1) -> None:
    assert at(h, f"AT#XSOCKET={op},1,0").endswith(OK)
    assert at(h, f'AT#XCONNECT="{url}",{peer.port}') == info("#XCONNECT: 1") + OK


# ---------------------------------------------------------------------------- #XCONNECT


def test_connect_send_recv_doc_examples(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    assert at(harness, 'AT#XSEND="Test TCP"') == info("#XSEND: 8") + OK
    assert tcp_echo.wait_received(8) == b"Test TCP"
    # Doc: "#XRECV: 7 / Test OK"; the bytes follow the header raw, with no CRLF of their own.
    assert at(harness, "AT#XRECV=10") == b"\r\n#XRECV: 8\r\nTest TCP" + OK


def test_connect_by_name_and_ipv6(harness, tcp_echo, tcp_echo6) -> None:
    connected(harness, tcp_echo, url="localhost")
    connected(harness, tcp_echo6, url="::1", op=2)
    assert at(harness, 'AT#XSEND="v6"') == info("#XSEND: 2") + OK
    assert at(harness, "AT#XRECV=5") == b"\r\n#XRECV: 2\r\nv6" + OK
    assert tcp_echo6.peers == ["::1"]


def test_connect_refused(harness) -> None:
    port = unused_port()
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{port}') == ERROR
    # The socket stays open and active.
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,1,0") + OK


def test_connect_udp_sets_default_peer(harness, udp_echo) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{udp_echo.port}') == info("#XCONNECT: 1") + OK
    assert at(harness, 'AT#XSEND="ping"') == info("#XSEND: 4") + OK
    assert at(harness, "AT#XRECV=5") == b"\r\n#XRECV: 4\r\nping" + OK


@pytest.mark.parametrize(
    "command",
    [
        "AT#XCONNECT",
        "AT#XCONNECT=",
        'AT#XCONNECT="127.0.0.1"',  # missing port
        'AT#XCONNECT="127.0.0.1",',
        "AT#XCONNECT=127.0.0.1,80",  # unquoted
        "AT#XCONNECT=1,80",  # integer URL
        'AT#XCONNECT="127.0.0.1",65536',
        'AT#XCONNECT="127.0.0.1",-1',
        'AT#XCONNECT="127.0.0.1",0x50',
        'AT#XCONNECT="127.0.0.1","80"',
        'AT#XCONNECT="127.0.0.1",99999999999999999999',
        'AT#XCONNECT="' + "a" * 128 + '",80',  # 127 characters at most
        'AT#XCONNECT="nonexistent.invalid",80',
        'AT#XCONNECT="::1",80',  # no IPv6 address for an IPv4 socket
        "AT#XCONNECT?",
        "AT#XCONNECT=?",
    ],
)
def test_connect_bad_input(harness, command: str) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, command) == ERROR


def test_connect_needs_client_role_and_socket(harness, tcp_echo) -> None:
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}') == ERROR  # none active
    at(harness, "AT#XSOCKET=1,1,1")
    # The role check comes first: even the read and test forms fail for a server.
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}') == ERROR
    assert at(harness, "AT#XCONNECT?") == ERROR


def test_connect_offline(offline_harness) -> None:
    assert at(offline_harness, 'AT#XCONNECT="127.0.0.1",80') == ERROR


# ---------------------------------------------------------------------------- #XBIND


def test_bind(harness) -> None:
    port = unused_port(kind=socket.SOCK_DGRAM)
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, f"AT#XBIND={port}") == OK
    assert local_port(harness, 0) == port
    # Bound once: a second bind fails in the stack.
    assert at(harness, "AT#XBIND=0") == ERROR


def test_bind_uses_the_pdp_address(harness) -> None:
    harness.fw.modem.address = "127.0.0.2"
    at(harness, "AT#XSOCKET=1,2,1")
    assert at(harness, "AT#XBIND=0") == OK
    st = __import__("firmware_ref.core.sockio", fromlist=["state"]).state(harness.fw)
    assert st.fds.get(0).sock.getsockname()[0] == "127.0.0.2"
    at(harness, "AT#XSOCKET=2,2,1")
    assert at(harness, "AT#XBIND=0") == OK
    assert st.fds.get(1).sock.getsockname()[0] == "::1"


@pytest.mark.parametrize(
    "command",
    [
        "AT#XBIND",
        "AT#XBIND=",
        "AT#XBIND=65536",
        "AT#XBIND=-1",
        'AT#XBIND="1234"',
        "AT#XBIND=0x10",
        "AT#XBIND=a",
        "AT#XBIND?",
        "AT#XBIND=?",
    ],
)
def test_bind_bad_input(harness, command: str) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, command) == ERROR


def test_bind_without_socket_or_address(harness) -> None:
    assert at(harness, "AT#XBIND=0") == ERROR
    at(harness, "AT#XSOCKET=1,3,0")  # AF_PACKET cannot bind to an IP address
    assert at(harness, "AT#XBIND=0") == ERROR
    harness.fw.modem.address = ""
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XBIND=0") == ERROR


# ---------------------------------------------------------------------------- #XSEND


def test_send_empty_string_sends_nothing(harness) -> None:
    # The send loop never runs for 0 bytes, so no socket is needed at all.
    assert at(harness, 'AT#XSEND=""') == info("#XSEND: 0") + OK


def test_send_max_payload(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    data = "x" * 1252
    assert at(harness, f'AT#XSEND="{data}"') == info("#XSEND: 1252") + OK
    assert tcp_echo.wait_received(1252) == data.encode()
    assert at(harness, f'AT#XSEND="{data}y"') == ERROR


@pytest.mark.parametrize(
    "command",
    [
        "AT#XSEND=abc",  # unquoted
        "AT#XSEND=123",  # an integer where a string is expected
        "AT#XSEND=,",  # empty parameter
        "AT#XSEND?",
        "AT#XSEND=?",
    ],
)
def test_send_bad_input(harness, tcp_echo, command: str) -> None:
    connected(harness, tcp_echo)
    assert at(harness, command) == ERROR


def test_send_extra_parameter_ignored(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    assert at(harness, 'AT#XSEND="ab",1') == info("#XSEND: 2") + OK


def test_send_unconnected_prints_count_then_error(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, 'AT#XSEND="abc"') == info("#XSEND: 0") + ERROR
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, 'AT#XSEND="abc"') == info("#XSEND: 0") + ERROR


def test_send_without_active_socket_waits_out_the_poll(harness, fast_send_poll) -> None:
    # fd -1 is skipped by poll(), so the 30 s POLLOUT wait (shortened here) expires.
    assert at(harness, 'AT#XSEND="abc"') == info("#XSEND: 0") + ERROR


def test_send_data_mode(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1)  # v2.0 enters data mode without a word
    payload = b'bin\r\n\x00"\x08\x7f+'
    harness.feed(payload)
    assert tcp_echo.wait_received(len(payload)) == payload
    harness.feed(b"+++")
    harness.wait_output(OK)
    assert at(harness, "AT#XRECV=5") == b"\r\n#XRECV: %d\r\n" % len(payload) + payload + OK


def test_send_data_mode_with_equals_and_no_data(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    harness.feed(b"AT#XSEND=\r\n")
    harness.assert_silent(0.1)
    harness.feed(b"hello+++")
    harness.wait_output(OK)
    assert tcp_echo.wait_received(5) == b"hello"


def test_send_data_mode_failure_exits_with_ok(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")  # never connected: every send fails
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1)
    harness.feed(b"lost")
    harness.wait_output(OK)  # v2.0 answers OK, not ERROR, on a data-mode send failure
    assert at(harness, "AT") == OK


# ---------------------------------------------------------------------------- #XRECV


def test_recv_timeout_is_error(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    assert at(harness, "AT#XRECV=1") == ERROR


def test_recv_blocking_forms_return_pending_data(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    for timeout in ("0", "-1"):
        at(harness, 'AT#XSEND="abc"')
        tcp_echo.wait_received(3)
        assert at(harness, f"AT#XRECV={timeout}") == b"\r\n#XRECV: 3\r\nabc" + OK
        tcp_echo.received.clear()


def test_recv_blocking_waits_for_data(harness) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{server.getsockname()[1]}')
    conn, _ = server.accept()
    harness.feed(b"AT#XRECV=0\r\n")
    harness.assert_silent(0.2)
    conn.sendall(b"late")
    assert harness.read_final() == b"\r\n#XRECV: 4\r\nlate" + OK
    conn.close()
    server.close()


def test_recv_peer_closed_is_plain_ok(harness) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{server.getsockname()[1]}')
    conn, _ = server.accept()
    conn.close()
    # recv() returning 0: no #XRECV line and no "closed" notification.
    assert at(harness, "AT#XRECV=5") == OK
    assert at(harness, "AT#XRECV=0") == OK
    server.close()


def test_recv_cap_tcp_ipv4(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.05)
    harness.feed(b"z" * 1500)
    tcp_echo.wait_received(1500)
    harness.feed(b"+++")
    harness.wait_output(OK)
    got = b""
    sizes = []
    while len(got) < 1500:
        header, payload, final = recv_result(harness, "AT#XRECV=5")
        assert final == OK
        sizes.append(len(payload))
        got += payload
    assert got == b"z" * 1500
    assert max(sizes) == 1240


def test_recv_cap_tcp_ipv6(harness, tcp_echo6) -> None:
    connected(harness, tcp_echo6, url="::1", op=2)
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.05)
    harness.feed(b"q" * 1300)
    tcp_echo6.wait_received(1300)
    harness.feed(b"+++")
    harness.wait_output(OK)
    sizes = []
    total = 0
    while total < 1300:
        _h, payload, _f = recv_result(harness, "AT#XRECV=5")
        sizes.append(len(payload))
        total += len(payload)
    assert max(sizes) == 1220


@pytest.mark.parametrize(
    "command",
    [
        "AT#XRECV",
        "AT#XRECV=",
        'AT#XRECV="1"',
        "AT#XRECV=a",
        "AT#XRECV=2147483648",
        "AT#XRECV=0x1",
        "AT#XRECV?",
        "AT#XRECV=?",
    ],
)
def test_recv_bad_input(harness, tcp_echo, command: str) -> None:
    connected(harness, tcp_echo)
    assert at(harness, command) == ERROR


def test_recv_extra_parameter_ignored(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    at(harness, 'AT#XSEND="x"')
    tcp_echo.wait_received(1)
    # v2.0 has no <flags>: AT#XRECV=10,0 ignores the 0.
    assert at(harness, "AT#XRECV=10,0") == b"\r\n#XRECV: 1\r\nx" + OK


def test_recv_unconnected_and_no_socket(harness) -> None:
    assert at(harness, "AT#XRECV=0") == ERROR  # recv(-1): EBADF
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XRECV=1") == ERROR  # poll: POLLHUP without POLLIN
    assert at(harness, "AT#XRECV=0") == ERROR  # ENOTCONN


def test_recv_so_rcvtimeo_bounds_a_blocking_recv(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    assert at(harness, "AT#XSOCKETOPT=1,20,1") == OK
    assert at(harness, "AT#XRECV=0", timeout=5) == ERROR


def test_blocking_recv_wakes_on_reset(harness, tcp_echo) -> None:
    connected(harness, tcp_echo)
    harness.feed(b"AT#XRECV=0\r\n")
    harness.assert_silent(0.1)
    done = threading.Event()

    def reset() -> None:
        harness.fw.request_reset()
        harness.fw.close(timeout=5)
        done.set()

    threading.Thread(target=reset, daemon=True).start()
    assert done.wait(5), "a blocked XRECV kept the board from shutting down"


def test_connect_to_local_server(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,1")
    at(harness, "AT#XBIND=0")
    at(harness, "AT#XLISTEN")
    client = connect_to(harness, 0)
    assert at(harness, "AT#XACCEPT=5") == info('#XACCEPT: 1,"127.0.0.1"') + OK
    client.close()
