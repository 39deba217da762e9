"""The TCP server role: #XBIND, #XLISTEN, #XACCEPT, and traffic on the accepted peer.

The connect-back client must reach the board's own address, which only works where the peers
share the board's network (the simulated board on loopback): `loopback_peers` in the board file.
"""

from __future__ import annotations

import pytest
from slmsuite import (
    LONG,
    SHORT,
    board_address,
    documented,
    families,
    feature,
    free_port,
    free_udp_port,
    ip_version,
    known_deviation,
    reboot,
    recv_exactly,
    refused,
)

from pytest_slm.at.errors import AtError
from pytest_slm.slm_types import Accepted, Family, Received, Role, SocketInfo, SocketType

pytestmark = feature("loopback_peers")


@pytest.fixture
def listening(slm, request):
    """Open, bind and listen a TCP server of the parametrized family: (family, address, port)."""
    family = getattr(request, "param", Family.IPV4)
    opened = slm.socket_open(family, SocketType.STREAM, Role.SERVER)
    address = board_address(slm, family)
    port = free_port(family)
    slm.bind(port)
    slm.listen()
    return family, address, port, opened.handle


@pytest.fixture
def leaks_a_descriptor(slm):
    """v2.0 forgets an accepted peer without closing it (a second accept, a select): only a
    reboot gets the descriptor back, and later tests count on every handle being free."""
    yield
    reboot(slm)


@pytest.mark.parametrize("listening", families(), indirect=True)
def test_accept_with_timeout_and_talk_both_ways(slm, connect_back, listening):
    family, address, port, server = listening
    client = connect_back(address, port, family=ip_version(family))
    accepted = slm.accept(LONG)
    assert accepted == Accepted(server + 1, client.local_address[0])
    assert slm.send(b"hello client") == 12
    assert client.recv_exactly(12) == b"hello client"
    client.send(b"hello board")
    assert recv_exactly(slm, 11) == b"hello board"
    # The listening socket stays the active one; the peer is not a listed socket.
    assert slm.socket_read() == SocketInfo(server, family, Role.SERVER)
    assert slm.sockets().handles == [server]


def test_accept_without_timeout_blocks_until_a_client_is_there(slm, connect_back, listening):
    _, address, port, server = listening
    client = connect_back(address, port)
    # Timeout 0 skips the poll: accept() blocks, and a queued connection answers at once.
    assert slm.accept(0, at_timeout=30.0) == Accepted(server + 1, client.local_address[0])


def test_server_receives_until_the_client_closes(slm, connect_back, listening):
    _, address, port, _ = listening
    client = connect_back(address, port)
    slm.accept(LONG)
    client.send(b"last words")
    client.close()
    assert recv_exactly(slm, 10) == b"last words"
    assert slm.recv(LONG) == Received(b"", None)


def test_closing_the_server_closes_the_peer(slm, connect_back, listening):
    _, address, port, _ = listening
    client = connect_back(address, port)
    slm.accept(LONG)
    assert slm.socket_close() == 0
    assert client.recv_until_closed() == b""


def test_second_accept_serves_the_newer_client(slm, connect_back, listening, leaks_a_descriptor):
    _, address, port, server = listening
    first = connect_back(address, port)
    assert slm.accept(LONG).handle == server + 1
    second = connect_back(address, port)
    assert slm.accept(LONG) == Accepted(server + 2, second.local_address[0])
    slm.send(b"to the second")
    assert second.recv_exactly(13) == b"to the second"
    second.send(b"from the second")
    assert recv_exactly(slm, 15) == b"from the second"
    assert first.bytes_received == 0


@known_deviation("v2.0", "#XACCEPT? prints #XTCPACCEPT: instead of the documented #XACCEPT:")
def test_accept_read_names_the_peer(slm, connect_back, listening):
    _, address, port, server = listening
    connect_back(address, port)
    accepted = slm.accept(LONG)
    lines = slm.at("AT#XACCEPT?").lines
    documented(
        lines, [f"#XACCEPT: {accepted.handle}"], deviation=[f"#XTCPACCEPT: {accepted.handle}"],
        what="AT#XACCEPT?",
    )


@known_deviation("v2.0", "#XACCEPT? prints #XTCPACCEPT: instead of the documented #XACCEPT:")
def test_accept_read_without_peer(slm, listening):
    lines = slm.at("AT#XACCEPT?").lines
    documented(lines, ["#XACCEPT: 0"], deviation=["#XTCPACCEPT: 0"], what="AT#XACCEPT?")


def test_accept_refused_on_a_peer_handle(slm, connect_back, listening):
    _, address, port, server = listening
    connect_back(address, port)
    peer = slm.accept(LONG).handle
    # Accepted peers are not socket records: they cannot be selected or polled.
    refused(slm, f"AT#XSOCKETSELECT={peer}")
    refused(slm, f"AT#XPOLL=0,{peer}")


def test_listen_extra_parameter_is_ignored(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    slm.bind(free_port(Family.IPV4))
    assert slm.at("AT#XLISTEN=5").lines == []


def test_listen_on_a_udp_server_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.SERVER)
    slm.bind(free_udp_port(Family.IPV4))
    refused(slm, "AT#XLISTEN")


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.name.lower())
def test_bind_any_role(slm, role):
    slm.socket_open(Family.IPV4, SocketType.DGRAM, role)
    slm.bind(free_udp_port(Family.IPV4))


def test_bind_a_port_in_use_is_refused(slm):
    port = free_port(Family.IPV4)
    first = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER).handle
    slm.bind(port)
    slm.listen()
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    with pytest.raises(AtError):
        slm.bind(port)
    slm.socket_select(first)


@feature("raw_sockets")
def test_bind_a_raw_socket_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.RAW)
    refused(slm, "AT#XBIND=0")


def test_listing_is_in_slot_order_not_handle_order(slm, connect_back, leaks_a_descriptor):
    first = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    server = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER).handle
    address, port = board_address(slm, Family.IPV4), free_port(Family.IPV4)
    slm.bind(port)
    slm.listen()
    slm.socket_select(first)
    slm.socket_close()
    # The server is active again (highest ranking); its accepted peer takes the freed handle,
    # so the next socket gets a higher handle but the freed first slot.
    connect_back(address, port)
    assert slm.accept(LONG).handle == first
    newest = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    assert newest > server
    assert slm.sockets().handles == [newest, server]


def test_selecting_the_server_forgets_its_peer(slm, connect_back, listening, leaks_a_descriptor):
    # The accepted peer lives only in the active-socket copy: re-selecting the server, even
    # itself, drops it, and the server has no connection to send on.
    _, address, port, server = listening
    client = connect_back(address, port)
    slm.accept(LONG)
    slm.socket_select(server)
    refused(slm, 'AT#XSEND="lost"')
    refused(slm, f"AT#XRECV={SHORT}")
    assert client.bytes_received == 0
