"""The TCP server role on every dialect (shared API): bind, listen, accept, talk, close.

Needs the peers on the board's network (`loopback_peers`), as the connect-back client dials
the board's own address.
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
)

from pytest_slm import AtError
from pytest_slm.slm_types import Family, Role, SocketType

pytestmark = feature("loopback_peers")


@pytest.mark.parametrize("family", families())
def test_accept_a_client_and_talk_both_ways(slm, connect_back, family):
    slm.socket_open(family, SocketType.STREAM, Role.SERVER)
    port = free_port(family)
    slm.bind(port)
    slm.listen()
    client = connect_back(board_address(slm, family), port, family=ip_version(family))
    accepted = slm.accept(LONG)
    assert accepted.ip == client.local_address[0]
    assert slm.send(b"hello client") == 12
    assert client.recv_exactly(12) == b"hello client"
    client.send(bytes(range(256)))
    data = b""
    while len(data) < 256:
        got = slm.recv(LONG)
        assert got.data
        data += got.data
    assert data == bytes(range(256))


def test_accept_with_no_client_times_out_with_an_error(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    slm.bind(free_port(Family.IPV4))
    slm.listen()
    expect_timeout(slm.accept, SHORT, at_timeout=20.0, lasting=SHORT)


def test_listen_on_udp_is_refused(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.SERVER)
    slm.bind(free_udp_port(Family.IPV4))
    with pytest.raises(AtError):
        slm.listen()
