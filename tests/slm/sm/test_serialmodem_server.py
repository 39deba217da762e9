"""Serial Modem's server role: #XBIND, #XLISTEN, #XACCEPT and the accepted socket.

From app/src/sm_at_socket.c v2.0.0-preview1: do_listen (stream, bound, not secure; the socket
turns non-blocking), do_accept (`#XACCEPT: <h>,<cid>,"<ip>",<port>`, a new handle that is a
connected client socket), handle_at_listen's read form (`#XLISTEN: <h>,<cid>,<port>`).
The connect-back client must reach the board's address: `loopback_peers` in the board file.
"""

from __future__ import annotations

import pytest
from slmsuite import (
    LONG,
    accepted,
    board_address,
    families,
    feature,
    free_port,
    free_udp_port,
    ip_version,
    refused,
)

from pytest_slm.slm_types import Family, PollEvent, Role, SmSocket, SocketType

pytestmark = feature("loopback_peers")


@pytest.fixture
def listening(slm, request):
    family = getattr(request, "param", Family.IPV4)
    server = slm.socket_open(family, SocketType.STREAM, Role.SERVER).handle
    port = free_port(family)
    slm.bind(port)
    slm.listen()
    return family, board_address(slm, family), port, server


@pytest.mark.parametrize("listening", families(), indirect=True)
def test_accept_names_the_new_handle_and_the_peer(slm, connect_back, listening):
    family, address, port, server = listening
    client = connect_back(address, port, family=ip_version(family))
    got = slm.accept(LONG, handle=server)
    assert got.handle != server and got.cid == 0
    assert (got.ip, got.port) == client.local_address[:2]
    # The accepted socket is a connected client: data both ways on its own handle.
    assert slm.send(b"hello client", handle=got.handle) == 12
    assert client.recv_exactly(12) == b"hello client"
    client.send(b"hello board")
    assert slm.recv(LONG, handle=got.handle).data == b"hello board"


def test_accept_line_is_exact(slm, connect_back, listening):
    _, address, port, server = listening
    client = connect_back(address, port)
    slm.apoll(PollEvent.IN, handle=server)
    assert slm.wait_apoll(server, timeout=LONG) == PollEvent.IN
    ip, peer_port = client.local_address[:2]
    result = slm.at(f"AT#XACCEPT={server}")
    (line,) = result.lines
    handle = int(line.split(": ")[1].split(",")[0])
    assert line == f'#XACCEPT: {handle},0,"{ip}",{peer_port}'


def test_accept_with_no_client_waiting_is_refused_at_once(slm, listening):
    *_, server = listening
    result = slm.at(f"AT#XACCEPT={server}", check=False)
    assert (result.lines, result.final) == ([], "ERROR")
    # The listening socket does not block (nrf_fcntl O_NONBLOCK in do_listen).
    assert result.duration < 2.0


def test_listen_read_lists_the_listening_socket_and_port(slm, listening):
    _, _, port, server = listening
    accepted(slm, "AT#XLISTEN?", [f"#XLISTEN: {server},0,{port}"])


def test_the_accepted_socket_is_listed_as_a_client(slm, connect_back, listening):
    family, address, port, server = listening
    connect_back(address, port)
    got = slm.accept(LONG, handle=server)
    rows = {row.handle: row for row in slm.socket_list()}
    assert rows[server] == SmSocket(server, family, Role.SERVER, SocketType.STREAM, 0)
    assert rows[got.handle] == SmSocket(got.handle, family, Role.CLIENT, SocketType.STREAM, 0)


def test_two_clients_get_two_handles(slm, connect_back, listening):
    _, address, port, server = listening
    first = connect_back(address, port)
    a = slm.accept(LONG, handle=server)
    second = connect_back(address, port)
    b = slm.accept(LONG, handle=server)
    assert len({server, a.handle, b.handle}) == 3
    slm.send(b"to-first", handle=a.handle)
    slm.send(b"to-second", handle=b.handle)
    assert first.recv_exactly(8) == b"to-first"
    assert second.recv_exactly(9) == b"to-second"


def test_closing_the_accepted_socket_closes_the_client(slm, connect_back, listening):
    _, address, port, server = listening
    client = connect_back(address, port)
    got = slm.accept(LONG, handle=server)
    assert slm.close_socket(got.handle) == 0
    assert client.recv_until_closed() == b""
    # The listening socket stays.
    accepted(slm, "AT#XLISTEN?", [f"#XLISTEN: {server},0,{port}"])


def test_second_listen_on_the_same_socket_is_accepted(slm, listening):
    _, _, port, server = listening
    accepted(slm, f"AT#XLISTEN={server}")
    accepted(slm, "AT#XLISTEN?", [f"#XLISTEN: {server},0,{port}"])


def test_bind_to_a_port_in_use_is_refused(slm):
    port = free_port(Family.IPV4)
    first = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER).handle
    slm.bind(port, handle=first)
    slm.listen(handle=first)
    second = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER).handle
    refused(slm, f"AT#XBIND={second},{port}")


def test_udp_server_binds_and_answers_the_sender(slm, udp_source):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.SERVER).handle
    port = free_udp_port(Family.IPV4)
    slm.bind(port, handle=h)
    source = udp_source()
    source.send_to(board_address(slm, Family.IPV4), port, b"request")
    got = slm.recvfrom(LONG)
    assert got.data == b"request"
    slm.sendto(got.ip, got.port, b"response")
    (datagram,) = source.wait_datagrams(1)
    assert datagram.data == b"response"
