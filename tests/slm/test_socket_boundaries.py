"""Socket commands at their boundaries: role checks against a peer that would answer, the count
a failed send prints before its ERROR, and every command that names a handle at the last of
the eight socket slots (and one past it).
"""

from __future__ import annotations

import pytest
from slmsuite import ERROR, accepted, refused

from pytest_slm.slm_types import MAX_SOCKETS, Family, Role, SocketInfo, SocketType

# The longest URL SLM takes (SLM_MAX_URL 128, the NUL included).
MAX_URL = 127


# --------------------------------------------------------------------------- roles


@pytest.mark.parametrize("role", [1, 2, 7], ids=["server", "role2", "role7"])
def test_connect_refuses_any_role_but_client_even_to_a_listening_peer(slm, tcp_sink, role):
    # The peer accepts connections: only the role check can refuse.
    assert slm.at(f"AT#XSOCKET=1,1,{role}").lines == ["#XSOCKET: 0,1,6"]
    refused(slm, f'AT#XCONNECT="{tcp_sink.board_host}",{tcp_sink.port}')
    refused(slm, "AT#XCONNECT?")


def test_connect_as_client_to_the_same_peer_succeeds(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    accepted(slm, f'AT#XCONNECT="{tcp_sink.board_host}",{tcp_sink.port}', ["#XCONNECT: 1"])


def test_role_is_checked_on_the_active_socket_after_a_select(slm, tcp_sink):
    client = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    server = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    refused(slm, f'AT#XCONNECT="{tcp_sink.board_host}",{tcp_sink.port}')
    slm.socket_select(client.handle)
    accepted(slm, f'AT#XCONNECT="{tcp_sink.board_host}",{tcp_sink.port}', ["#XCONNECT: 1"])
    slm.socket_select(server.handle)
    refused(slm, f'AT#XCONNECT="{tcp_sink.board_host}",{tcp_sink.port}')


@pytest.mark.parametrize("command", ["AT#XLISTEN", "AT#XACCEPT=1", "AT#XACCEPT?"])
def test_server_commands_refuse_a_bound_client(slm, command):
    # A bound TCP client could listen as far as the socket goes: only the role refuses.
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    slm.bind(0)
    refused(slm, command)


# --------------------------------------------------------------------------- failed sends


def test_failed_send_prints_the_count_before_its_error(slm):
    # An unconnected UDP socket has no destination: send() fails on the first byte, and the
    # count of bytes sent (none) still comes before the ERROR.
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    result = slm.at('AT#XSEND="hello"', check=False, timeout=45)
    assert (result.lines, result.final) == (["#XSEND: 0"], ERROR)


def test_sendto_that_cannot_resolve_prints_no_count(slm, udp_sink):
    # The name is resolved for the socket's family before the send loop: an IPv6 literal on an
    # IPv4 socket fails there, without a count.
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    refused(slm, f'AT#XSENDTO="::1",{udp_sink.port},"hello"')


def test_successful_send_counts_every_byte(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    accepted(slm, 'AT#XSEND="hello"', ["#XSEND: 5"])
    assert tcp_sink.wait_for(5) == b"hello"


# --------------------------------------------------------------------------- URL length


@pytest.mark.parametrize("length", [MAX_URL - 1, MAX_URL])
def test_getaddrinfo_tries_a_name_up_to_the_longest_url(slm, length):
    # At and below the limit the name is looked up (and not found): one #XGETADDRINFO line.
    result = slm.at(f'AT#XGETADDRINFO="{"a" * length}"', check=False, timeout=60)
    assert result.final == ERROR
    assert len(result.lines) == 1 and result.lines[0].startswith('#XGETADDRINFO: "')


def test_getaddrinfo_refuses_a_name_longer_than_the_longest_url(slm):
    # Above the limit the string does not fit the buffer: ERROR before any lookup.
    refused(slm, f'AT#XGETADDRINFO="{"a" * (MAX_URL + 1)}"')


# --------------------------------------------------------------------------- the last slot


def _fill(slm) -> list[int]:
    return [slm.socket_open(Family.IPV4, SocketType.DGRAM).handle for _ in range(MAX_SOCKETS)]


def test_select_reaches_the_last_slot_and_not_past_it(slm):
    handles = _fill(slm)
    last = handles[-1]
    assert last == MAX_SOCKETS - 1
    slm.socket_select(0)
    assert slm.socket_select(last) == SocketInfo(last, Family.IPV4, Role.CLIENT)
    refused(slm, f"AT#XSOCKETSELECT={last + 1}")
    assert slm.sockets().active == last


def test_poll_accepts_the_last_slot_and_refuses_one_past_it(slm):
    handles = _fill(slm)
    last = handles[-1]
    accepted(slm, f"AT#XPOLL=0,{last}")
    refused(slm, f"AT#XPOLL=0,{last + 1}")
    # Eight handles fill the list: the eighth is checked, a ninth is not read at all.
    accepted(slm, "AT#XPOLL=0," + ",".join(str(h) for h in handles))
    refused(slm, "AT#XPOLL=0," + ",".join(["0"] * (MAX_SOCKETS - 1) + [str(last + 1)]))
    accepted(slm, "AT#XPOLL=0," + ",".join(["0"] * MAX_SOCKETS + [str(last + 1)]))


def test_closing_the_last_slot_frees_it_for_the_next_open(slm):
    handles = _fill(slm)
    last = handles[-1]
    slm.socket_select(last)
    assert slm.socket_close() == 0
    listing = slm.sockets()
    assert listing.handles == handles[:-1]
    # The highest-ranked remaining socket (the one opened just before) becomes active.
    assert listing.active == handles[-2]
    reopened = slm.socket_open(Family.IPV4, SocketType.STREAM)
    assert reopened.handle == last
    refused(slm, "AT#XSOCKET=1,2,0")


def test_listing_shows_the_last_slot_with_the_highest_ranking(slm):
    handles = _fill(slm)
    listing = slm.sockets()
    assert listing.handles == handles
    rankings = [s.ranking for s in listing.sockets]
    assert rankings == sorted(rankings) and len(set(rankings)) == MAX_SOCKETS
    assert listing.active == handles[-1]
