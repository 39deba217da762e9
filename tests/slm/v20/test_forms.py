"""The read (`?`) and test (`=?`) forms the documentation says are not supported: ERROR.

Each runs on a socket whose type and role the command accepts, so the form is the only reason
to refuse. (The supported forms are tested with their commands.)
"""

from __future__ import annotations

import pytest
from slmsuite import free_port, refused

from pytest_slm.slm_types import Family, Role, SocketType


def _client(slm, request):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)


def _connected(slm, request):
    sink = request.getfixturevalue("tcp_sink")
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    slm.connect(sink.board_host, sink.port)


def _server(slm, request):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    slm.bind(free_port(Family.IPV4))
    slm.listen()


def _udp(slm, request):
    slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.CLIENT)


UNSUPPORTED = [
    ("#XSOCKETOPT", "?", _udp),
    ("#XSSOCKETOPT", "?", _udp),
    ("#XBIND", "?", _udp),
    ("#XBIND", "=?", _udp),
    ("#XCONNECT", "?", _client),
    ("#XCONNECT", "=?", _client),
    ("#XLISTEN", "?", _server),
    ("#XLISTEN", "=?", _server),
    ("#XACCEPT", "=?", _server),
    ("#XSEND", "?", _connected),
    ("#XSEND", "=?", _connected),
    ("#XRECV", "?", _connected),
    ("#XRECV", "=?", _connected),
    ("#XSENDTO", "?", _udp),
    ("#XSENDTO", "=?", _udp),
    ("#XRECVFROM", "?", _udp),
    ("#XRECVFROM", "=?", _udp),
    ("#XPOLL", "?", _udp),
    ("#XPOLL", "=?", _udp),
    ("#XGETADDRINFO", "?", _udp),
    ("#XGETADDRINFO", "=?", _udp),
]


@pytest.mark.parametrize(
    ("name", "form", "setup"), UNSUPPORTED,
    ids=[f"{n[2:]}{'-read' if f == '?' else '-test'}" for n, f, _ in UNSUPPORTED],
)
def test_unsupported_form_is_refused(slm, request, name, form, setup):
    setup(slm, request)
    refused(slm, f"AT{name}{form}")
    # The refusal changed nothing: the socket is still there and active.
    assert slm.sockets().active is not None


@pytest.mark.parametrize("form", ["?", "=?"], ids=["read", "test"])
def test_connect_forms_on_a_server_are_refused(slm, form):
    # The role check comes first: a server is refused whatever the form.
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    refused(slm, f"AT#XCONNECT{form}")
