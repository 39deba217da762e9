"""Golden transcripts: #XLISTEN and #XACCEPT, the fd pool shared with accepted peers, and the
v2.0 copy-semantics quirks around fd_peer."""

from __future__ import annotations

import socket

import pytest
from socket_peers import connect_to, local_port

from firmware_ref.dialects.v20 import sockets
from firmware_ref.testing import ERROR, OK, at, info


def listening(h, op: int = 1) -> None:
    assert at(h, f"AT#XSOCKET={op},1,1").endswith(OK)
    assert at(h, "AT#XBIND=0") == OK
    assert at(h, "AT#XLISTEN") == OK


def recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_accept_send_recv(harness) -> None:
    listening(harness)
    client = connect_to(harness, 0)
    # Doc: #XACCEPT: 2,"192.168.0.2"; here the peer is the next free fd on loopback.
    assert at(harness, "AT#XACCEPT=60") == info('#XACCEPT: 1,"127.0.0.1"') + OK
    # v2.0 prints #XTCPACCEPT for the read form (the doc says #XACCEPT).
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 1") + OK
    assert at(harness, 'AT#XSEND="to client"') == info("#XSEND: 9") + OK
    assert recv_exact(client, 9) == b"to client"
    client.sendall(b"to server")
    assert at(harness, "AT#XRECV=5") == b"\r\n#XRECV: 9\r\nto server" + OK
    client.close()
    assert at(harness, "AT#XRECV=5") == OK  # the peer closed: plain OK
    # The peer fd is not a socket record: it cannot be selected or polled.
    assert at(harness, "AT#XSOCKETSELECT=1") == ERROR
    assert at(harness, "AT#XPOLL=0,1") == ERROR


def test_accept_ipv6(harness) -> None:
    listening(harness, op=2)
    client = connect_to(harness, 0, socket.AF_INET6)
    assert at(harness, "AT#XACCEPT=5") == info('#XACCEPT: 1,"::1"') + OK
    client.close()


def test_accept_read_without_peer(harness) -> None:
    listening(harness)
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 0") + OK


def test_accept_timeout_is_error(harness) -> None:
    listening(harness)
    assert at(harness, "AT#XACCEPT=1") == ERROR


def test_accept_zero_blocks_until_a_client_comes(harness) -> None:
    listening(harness)
    harness.feed(b"AT#XACCEPT=0\r\n")
    harness.assert_silent(0.2)
    client = connect_to(harness, 0)
    assert harness.read_final() == info('#XACCEPT: 1,"127.0.0.1"') + OK
    client.close()


def test_accept_negative_timeout_takes_a_pending_client(harness) -> None:
    listening(harness)
    client = connect_to(harness, 0)
    assert at(harness, "AT#XACCEPT=-1") == info('#XACCEPT: 1,"127.0.0.1"') + OK
    client.close()


def test_blocking_accept_honours_so_rcvtimeo(harness) -> None:
    listening(harness)
    assert at(harness, "AT#XSOCKETOPT=1,20,1") == OK
    assert at(harness, "AT#XACCEPT=0") == ERROR


def test_second_accept_overwrites_the_peer_and_leaks_the_first(harness) -> None:
    listening(harness)
    first = connect_to(harness, 0)
    assert at(harness, "AT#XACCEPT=5") == info('#XACCEPT: 1,"127.0.0.1"') + OK
    second = connect_to(harness, 0)
    assert at(harness, "AT#XACCEPT=5") == info('#XACCEPT: 2,"127.0.0.1"') + OK
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 2") + OK
    at(harness, 'AT#XSEND="2nd"')
    assert recv_exact(second, 3) == b"2nd"
    # fd 1 stays used: the next socket gets fd 3.
    assert at(harness, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 3,2,17") + OK
    # Opening fd 3 dropped the copy that held fd_peer, so closing the server now closes no
    # peer at all: fds 1 and 2 both leak until reset.
    at(harness, "AT#XSOCKETSELECT=0")
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    assert sorted(sockets.state(harness.fw).fds.used()) == [1, 2, 3]
    first.close()
    second.close()


def test_select_loses_the_accepted_peer(harness) -> None:
    listening(harness)
    client = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")
    # Even re-selecting the same socket copies the record, which never held fd_peer.
    assert at(harness, "AT#XSOCKETSELECT=0") == info("#XSOCKETSELECT: 0,1,1") + OK
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 0") + OK
    assert at(harness, 'AT#XSEND="x"') == ERROR  # "No connection": no #XSEND line
    assert at(harness, "AT#XRECV=1") == ERROR
    client.close()


def test_opening_another_socket_loses_the_peer(harness) -> None:
    listening(harness)
    client = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")
    assert at(harness, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 2,2,17") + OK
    at(harness, "AT#XSOCKETSELECT=0")
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 0") + OK
    client.close()


def test_accepted_peers_exhaust_the_fd_pool(harness) -> None:
    listening(harness)
    client = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")  # fd 1
    for fd in range(2, 8):
        assert at(harness, "AT#XSOCKET=1,2,0") == info(f"#XSOCKET: {fd},2,17") + OK
    # 7 records, but the peer holds the 8th fd: socket() fails with ENFILE.
    assert at(harness, "AT#XSOCKET=1,2,0") == ERROR
    assert at(harness, "AT#XSOCKET?") == OK  # the open path reset the active socket
    client.close()


def test_accept_with_a_full_fd_pool(harness) -> None:
    listening(harness)
    for _ in range(7):
        at(harness, "AT#XSOCKET=1,2,0")
    at(harness, "AT#XSOCKETSELECT=0")
    client = connect_to(harness, 0)
    assert at(harness, "AT#XACCEPT=5") == ERROR
    assert at(harness, "AT#XACCEPT?") == info("#XTCPACCEPT: 0") + OK
    client.close()


def test_close_server_closes_only_the_remembered_peer(harness) -> None:
    listening(harness)
    first = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")
    second = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    assert sockets.state(harness.fw).fds.used() == [1]
    first.close()
    second.close()


def test_close_server_closes_its_peer(harness) -> None:
    listening(harness)
    client = connect_to(harness, 0)
    at(harness, "AT#XACCEPT=5")
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    client.settimeout(5)
    assert client.recv(1) == b""
    assert sockets.state(harness.fw).fds.used() == []
    client.close()


def test_send_and_recv_on_server_without_peer(harness) -> None:
    listening(harness)
    assert at(harness, 'AT#XSEND="x"') == ERROR
    assert at(harness, "AT#XRECV=1") == ERROR
    # Empty data still needs the peer (the target check comes first).
    assert at(harness, 'AT#XSEND=""') == ERROR


def test_listen_without_bind_uses_the_pdp_address(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,1")
    assert at(harness, "AT#XLISTEN") == OK
    assert local_port(harness, 0) != 0
    client = connect_to(harness, 0)
    assert at(harness, "AT#XACCEPT=5") == info('#XACCEPT: 1,"127.0.0.1"') + OK
    client.close()


def test_listen_role_and_type(harness) -> None:
    assert at(harness, "AT#XLISTEN") == ERROR  # no socket: role client
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XLISTEN") == ERROR  # client
    at(harness, "AT#XSOCKET=1,2,1")
    assert at(harness, "AT#XLISTEN") == ERROR  # UDP cannot listen
    at(harness, "AT#XSOCKET=1,1,1")
    assert at(harness, "AT#XLISTEN?") == ERROR
    assert at(harness, "AT#XLISTEN=?") == ERROR
    # Parameters are not read at all.
    assert at(harness, "AT#XLISTEN=5") == OK
    assert at(harness, "AT#XLISTEN") == OK  # listening again is harmless in the stack


def test_accept_role_and_state(harness) -> None:
    assert at(harness, "AT#XACCEPT=1") == ERROR  # no socket
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XACCEPT=1") == ERROR
    assert at(harness, "AT#XACCEPT?") == ERROR  # role checked for every form
    at(harness, "AT#XSOCKET=1,1,1")
    assert at(harness, "AT#XACCEPT=1") == ERROR  # not listening: POLLHUP, no POLLIN
    assert at(harness, "AT#XACCEPT=0") == ERROR  # accept(): EINVAL
    assert at(harness, "AT#XACCEPT=?") == ERROR
    at(harness, "AT#XSOCKET=1,2,1")
    assert at(harness, "AT#XACCEPT=0") == ERROR  # UDP: EOPNOTSUPP


@pytest.mark.parametrize(
    "command",
    [
        "AT#XACCEPT",
        "AT#XACCEPT=",
        'AT#XACCEPT="5"',
        "AT#XACCEPT=a",
        "AT#XACCEPT=2147483648",
        "AT#XACCEPT=0x5",
    ],
)
def test_accept_bad_input(harness, command: str) -> None:
    listening(harness)
    assert at(harness, command) == ERROR


def test_udp_server_receives_and_answers_with_sendto(harness) -> None:
    at(harness, "AT#XSOCKET=1,2,1")
    at(harness, "AT#XBIND=0")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(5)
    client.sendto(b"hi server", ("127.0.0.1", local_port(harness, 0)))
    assert at(harness, "AT#XRECVFROM=5") == b'\r\n#XRECVFROM: 9,"127.0.0.1"\r\nhi server' + OK
    port = client.getsockname()[1]
    assert at(harness, f'AT#XSENDTO="127.0.0.1",{port},"hi client"') == info("#XSENDTO: 9") + OK
    assert client.recv(100) == b"hi client"
    client.close()
