"""#XSOCKET, #XSSOCKET and #XSOCKETSELECT: opening, closing, listing, ranking, the active socket."""

from __future__ import annotations

import pytest
from slmsuite import (
    EMPTY_SEC_TAG,
    SEC_TAG,
    documented,
    feature,
    known_deviation,
    refused,
)

from pytest_slm.at.errors import AtError
from pytest_slm.at.transcript import RX
from pytest_slm.slm_types import (
    MAX_SOCKETS,
    Family,
    ListedSocket,
    OpenedSocket,
    PeerVerify,
    Proto,
    Role,
    SocketInfo,
    SocketList,
    SocketType,
)

PROTOCOL = {SocketType.STREAM: Proto.TCP, SocketType.DGRAM: Proto.UDP, SocketType.RAW: Proto.IP}
SECURE_PROTOCOL = {SocketType.STREAM: Proto.TLS_1_2, SocketType.DGRAM: Proto.DTLS_1_2}
NO_SEC_TAG = -1


def _marks(family, type_):
    marks = []
    if family == Family.IPV6:
        marks.append(feature("ipv6"))
    if type_ == SocketType.RAW:
        marks.append(feature("raw_sockets"))
    return marks


def _plain_cases():
    for family in (Family.IPV4, Family.IPV6):
        for type_ in SocketType:
            for role in Role:
                yield pytest.param(
                    family, type_, role,
                    id=f"{family.name.lower()}-{type_.name.lower()}-{role.name.lower()}",
                    marks=_marks(family, type_),
                )


def _secure_cases():
    for family in (Family.IPV4, Family.IPV6):
        for type_ in (SocketType.STREAM, SocketType.DGRAM):
            for role in Role:
                for verify in (None, *PeerVerify):
                    marks = [feature("tls" if type_ == SocketType.STREAM else "dtls")]
                    if family == Family.IPV6:
                        marks.append(feature("ipv6"))
                    verify_id = "default" if verify is None else verify.name.lower()
                    yield pytest.param(
                        family, type_, role, verify,
                        id=f"{family.name.lower()}-{type_.name.lower()}-{role.name.lower()}"
                        f"-verify_{verify_id}",
                        marks=marks,
                    )


# --------------------------------------------------------------------------- #XSOCKET


@pytest.mark.parametrize(("family", "type_", "role"), list(_plain_cases()))
def test_open_every_combination(slm, family, type_, role):
    opened = slm.socket_open(family, type_, role)
    # Nothing is open after the reset, and handles are the lowest free descriptor.
    assert opened == OpenedSocket(0, type_, PROTOCOL[type_])
    # A raw socket is a packet-family client whatever was asked.
    listed_family = Family.PACKET if type_ == SocketType.RAW else family
    listed_role = Role.CLIENT if type_ == SocketType.RAW else role
    assert slm.socket_read() == SocketInfo(0, listed_family, listed_role)
    listing = slm.sockets()
    assert listing.active == 0
    assert [(s.handle, s.family, s.role, s.type, s.sec_tag) for s in listing.sockets] == [
        (0, listed_family, listed_role, type_, NO_SEC_TAG)
    ]
    assert listing.sockets[0].ranking >= 1


def test_open_extra_parameter_is_ignored(slm):
    result = slm.at("AT#XSOCKET=1,2,0,5")
    assert result.lines == ["#XSOCKET: 0,2,17"]


def test_close_answers_closed_and_clears_the_active_socket(slm):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    result = slm.at("AT#XSOCKET=0")
    assert result.lines == ['#XSOCKET: 0,"closed"']
    assert slm.socket_read() is None
    assert slm.sockets() == SocketList([], None)


def test_close_with_no_socket_answers_plain_ok(slm):
    assert slm.socket_close() is None


def test_close_frees_the_handle_for_the_next_open(slm):
    first = slm.socket_open(Family.IPV4, SocketType.DGRAM)
    second = slm.socket_open(Family.IPV4, SocketType.DGRAM)
    assert (first.handle, second.handle) == (0, 1)
    slm.socket_select(first.handle)
    assert slm.socket_close() == 0
    assert slm.socket_open(Family.IPV4, SocketType.STREAM).handle == 0


def test_read_with_no_socket_prints_nothing(slm):
    assert slm.at("AT#XSOCKET?").lines == []
    assert slm.at("AT#XSSOCKET?").lines == []


def test_read_follows_the_active_socket(slm):
    tcp = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    udp = slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.CLIENT)
    assert slm.socket_read() == SocketInfo(udp.handle, Family.IPV4, Role.CLIENT)
    slm.socket_select(tcp.handle)
    assert slm.socket_read() == SocketInfo(tcp.handle, Family.IPV4, Role.SERVER)
    # The secure read form reports the active socket, secure or not.
    assert slm.ssocket_read() == SocketInfo(tcp.handle, Family.IPV4, Role.SERVER)


def test_test_form(slm):
    assert slm.socket_test() == "(0,1,2),(1,2,3),(0,1)"


def test_test_form_exact_bytes(slm):
    # v2.0 prints this line without its own CRLF: the OK's leading CRLF ends it.
    mark = slm.transcript.mark()
    slm.at("AT#XSOCKET=?")
    received = b"".join(e.data for e in slm.transcript.entries(mark) if e.direction == RX)
    assert received == b"\r\n#XSOCKET: (0,1,2),(1,2,3),(0,1)\r\nOK\r\n"


def _fill(slm) -> list[int]:
    handles = []
    for index in range(MAX_SOCKETS):
        type_ = SocketType.STREAM if index % 2 else SocketType.DGRAM
        handles.append(slm.socket_open(Family.IPV4, type_).handle)
    return handles


def test_eight_sockets_open_the_ninth_is_refused(slm):
    handles = _fill(slm)
    assert handles == list(range(MAX_SOCKETS))
    before = slm.sockets()
    assert before.handles == handles
    assert before.active == handles[-1]
    refused(slm, "AT#XSOCKET=1,1,0")
    refused(slm, "AT#XSOCKET=2,2,0")
    # The refusal comes before anything changes: same sockets, same active one.
    assert slm.sockets() == before


@known_deviation("v2.0", "a failed open answers ERROR, not the documented negative handle")
def test_ninth_socket_prints_a_negative_handle(slm):
    _fill(slm)
    result = slm.at("AT#XSOCKET=1,1,0", check=False)
    negative = [line for line in result.lines if line.startswith("#XSOCKET: -")]
    documented(bool(negative), True, deviation=False, what=f"{result.lines + [result.final]}")


def test_ninth_secure_socket_is_refused(slm, sec_tags):
    _fill(slm)
    refused(slm, f"AT#XSSOCKET=1,1,0,{SEC_TAG}")


@pytest.mark.parametrize("command", [
    "AT#XSOCKET=1,9,0", "AT#XSOCKET=1", "AT#XSOCKET=2,1,", "AT#XSSOCKET=1,1,2,1",
    "AT#XSSOCKET=1,1,0", "AT#XSSOCKET=1,3,0,1",
])
def test_failed_open_leaves_no_active_socket(slm, command):
    kept = slm.socket_open(Family.IPV4, SocketType.STREAM)
    # The open path forgets the active socket before it parses <type>: the record stays listed
    # but nothing is active until a select.
    refused(slm, command)
    listing = slm.sockets()
    assert listing.handles == [kept.handle]
    assert listing.active is None
    assert slm.socket_read() is None
    assert slm.socket_select(kept.handle) == SocketInfo(kept.handle, Family.IPV4, Role.CLIENT)


def test_role_is_stored_unchecked(slm):
    # v2.0 does not range-check <role> of #XSOCKET: it is stored, and client/server commands
    # then refuse the socket.
    assert slm.at("AT#XSOCKET=1,1,7").lines == ["#XSOCKET: 0,1,6"]
    assert slm.socket_read() == SocketInfo(0, Family.IPV4, 7)
    refused(slm, 'AT#XCONNECT="127.0.0.1",7')
    refused(slm, "AT#XLISTEN")


# --------------------------------------------------------------------------- #XSSOCKET


@pytest.mark.parametrize(("family", "type_", "role", "verify"), list(_secure_cases()))
def test_secure_open_every_combination(slm, sec_tags, family, type_, role, verify):
    opened = slm.ssocket_open(family, type_, role, SEC_TAG, verify)
    assert opened == OpenedSocket(0, type_, SECURE_PROTOCOL[type_])
    assert slm.ssocket_read() == SocketInfo(0, family, role)
    listing = slm.sockets()
    assert listing.active == 0
    assert [(s.handle, s.family, s.role, s.type, s.sec_tag) for s in listing.sockets] == [
        (0, family, role, type_, SEC_TAG)
    ]


def test_secure_open_with_an_unprovisioned_tag_still_opens(slm):
    # The tag is only looked at during the handshake.
    assert slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, EMPTY_SEC_TAG) == (
        OpenedSocket(0, SocketType.STREAM, Proto.TLS_1_2)
    )


def test_secure_close_prints_xsocket(slm, sec_tags):
    slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG)
    result = slm.at("AT#XSSOCKET=0")
    assert result.lines == ['#XSOCKET: 0,"closed"']
    assert slm.sockets() == SocketList([], None)


def test_secure_close_with_no_socket_answers_plain_ok(slm):
    assert slm.ssocket_close() is None


def test_secure_sec_tag_above_int32_is_listed_as_stored(slm):
    # <sec_tag> is parsed as unsigned 32-bit and kept in a signed int.
    assert slm.at("AT#XSSOCKET=1,1,0,4294967295").lines == ["#XSSOCKET: 0,1,258"]
    assert slm.sockets().get(0).sec_tag == -1


@known_deviation("v2.0", "the test line has no comma before <sec-tag> and no <hostname_verify>")
def test_secure_test_form(slm):
    documented(
        slm.ssocket_test(),
        "(0,1,2),(1,2),<sec_tag>,<peer_verify>,<hostname_verify>",
        deviation="(0,1,2),(1,2),(0,1)<sec-tag>,<peer_verify>",
        what="#XSSOCKET=?",
    )


# --------------------------------------------------------------------------- #XSOCKETSELECT


def test_listing_rows_rankings_and_active(slm, sec_tags):
    udp = slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.CLIENT)
    server = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    tls = slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG)
    listing = slm.sockets()
    first = listing.sockets[0].ranking
    assert listing == SocketList(
        [
            ListedSocket(udp.handle, Family.IPV4, Role.CLIENT, SocketType.DGRAM, -1, first),
            ListedSocket(server.handle, Family.IPV4, Role.SERVER, SocketType.STREAM, -1, first + 1),
            ListedSocket(tls.handle, Family.IPV4, Role.CLIENT, SocketType.STREAM, SEC_TAG,
                         first + 2),
        ],
        active=tls.handle,
    )


def test_listing_with_no_socket_is_plain_ok(slm):
    assert slm.at("AT#XSOCKETSELECT?").lines == []


def test_select_answers_handle_family_role_and_keeps_rankings(slm):
    a = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    b = slm.socket_open(Family.IPV6, SocketType.DGRAM, Role.CLIENT)
    rankings = [s.ranking for s in slm.sockets().sockets]
    assert slm.socket_select(a.handle) == SocketInfo(a.handle, Family.IPV4, Role.SERVER)
    listing = slm.sockets()
    assert listing.active == a.handle
    assert [s.ranking for s in listing.sockets] == rankings
    assert slm.socket_select(b.handle) == SocketInfo(b.handle, Family.IPV6, Role.CLIENT)
    assert slm.sockets().active == b.handle
    # Selecting the active socket again is allowed.
    assert slm.socket_select(b.handle) == SocketInfo(b.handle, Family.IPV6, Role.CLIENT)


def test_close_makes_the_highest_ranked_socket_active(slm):
    a, b, c = (slm.socket_open(Family.IPV4, SocketType.DGRAM).handle for _ in range(3))
    # The most recently opened socket wins, not the most recently selected one.
    slm.socket_select(b)
    slm.socket_select(a)
    assert slm.socket_close() == 0
    assert slm.sockets().active == c
    assert slm.socket_read() == SocketInfo(c, Family.IPV4, Role.CLIENT)
    assert slm.socket_close() == 0
    assert slm.sockets().active == b
    assert slm.socket_close() == 0
    assert slm.sockets() == SocketList([], None)


def test_reopened_socket_ranks_above_older_ones(slm):
    a = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    b = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.socket_select(a)
    slm.socket_close()
    c = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    assert c == a  # the lowest free handle is reused
    listing = slm.sockets()
    assert listing.get(c).ranking > listing.get(b).ranking
    slm.socket_select(b)
    slm.socket_close()
    assert slm.sockets().active == c


@pytest.mark.parametrize("command", [
    pytest.param("AT#XSOCKETSELECT=-1", id="negative"),
    pytest.param("AT#XSOCKETSELECT=7", id="not-open"),
    pytest.param("AT#XSOCKETSELECT", id="missing"),
    pytest.param("AT#XSOCKETSELECT=", id="empty"),
    pytest.param("AT#XSOCKETSELECT=a", id="unquoted"),
    pytest.param('AT#XSOCKETSELECT="0"', id="wrong-type"),
    pytest.param("AT#XSOCKETSELECT=2147483648", id="overflow"),
    pytest.param("AT#XSOCKETSELECT=99999999999999999999", id="overflow-int64"),
])
def test_select_refused(slm, command):
    opened = slm.socket_open(Family.IPV4, SocketType.DGRAM)
    refused(slm, command)
    # A refused select leaves the active socket alone.
    assert slm.sockets().active == opened.handle


def test_select_extra_parameter_is_ignored(slm):
    a = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    assert slm.at(f"AT#XSOCKETSELECT={a},5").lines == [f"#XSOCKETSELECT: {a},1,0"]


@known_deviation("v2.0", "the test form answers OK; the doc says it is not supported")
def test_select_test_form_is_not_supported(slm):
    result = slm.at("AT#XSOCKETSELECT=?", check=False)
    documented(
        (result.lines, result.final), ([], "ERROR"), deviation=([], "OK"),
        what="AT#XSOCKETSELECT=?",
    )


def test_secure_open_refusals_leave_other_sockets(slm, sec_tags):
    kept = slm.socket_open(Family.IPV4, SocketType.DGRAM)
    with pytest.raises(AtError):
        slm.ssocket_open(Family.IPV4, SocketType.RAW, Role.CLIENT, SEC_TAG)
    assert slm.sockets().handles == [kept.handle]


def test_failed_open_takes_no_ranking(slm):
    first = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    refused(slm, "AT#XSOCKET=1,9,0")
    refused(slm, "AT#XSSOCKET=1,1,2,1")
    second = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    listing = slm.sockets()
    assert listing.get(second).ranking == listing.get(first).ranking + 1
