"""Serial Modem: every socket command's parameters, their ranges and the answers to bad ones.

Sources: app/src/sm_at_socket.c v2.0.0-preview1 (the handle_at_* set cases, do_socket_open,
do_secure_socket_open, do_listen, do_accept) and sm_at_host.c (handle_at_datactrl). A refused
command answers `ERROR` and nothing else, and leaves no socket behind.
"""

from __future__ import annotations

import pytest
from slmsuite import SEC_TAG, accepted, refused

from pytest_slm.slm_types import (
    MAX_SOCKETS,
    SM_RECV_BUFFER,
    Family,
    Role,
    SocketType,
)

# A handle no socket has: the handle namespace is the modem's fds (0..7).
NO_SUCH = 7


def _no_socket_left(slm) -> None:
    accepted(slm, "AT#XSOCKET?")
    accepted(slm, "AT#XSSOCKET?")


# ------------------------------------------------------------------------------- #XSOCKET


@pytest.mark.parametrize(
    "family, type_, proto",
    [(1, 1, 6), (1, 2, 17), (2, 1, 6), (2, 2, 17)],
    ids=["ipv4-tcp", "ipv4-udp", "ipv6-tcp", "ipv6-udp"],
)
@pytest.mark.parametrize("role", [0, 1], ids=["client", "server"])
def test_xsocket_opens_each_family_type_and_role(slm, family, type_, proto, role):
    result = slm.at(f"AT#XSOCKET={family},{type_},{role}")
    (line,) = result.lines
    handle = int(line.split(": ")[1].split(",")[0])
    assert line == f"#XSOCKET: {handle},{type_},{proto}"
    accepted(slm, "AT#XSOCKET?", [f"#XSOCKET: {handle},{family},{role},{type_},0"])


@pytest.mark.parametrize(
    "params",
    [
        "0,1,0",  # family AF_UNSPEC: -ENOTSUP
        "4,1,0",  # no such family
        "1,0,0",  # type 0
        "1,4,0",  # no such type
        "3,1,0",  # the packet family needs the raw type
        "3,2,0",
        "2,3,0",
        "1,1,0,11",  # cid above 10
        "1,1,0,65535",
        "1,1",  # role missing
        "1",
        "",
        '"1",1,0',  # a string where a number goes
        "1,1,x",
        "-1,1,0",
        "1,1,0,-1",
    ],
)
def test_xsocket_bad_parameters_are_refused_and_open_nothing(slm, params):
    refused(slm, f"AT#XSOCKET={params}")
    _no_socket_left(slm)


@pytest.mark.parametrize("cid", [1, 5, 10])
def test_xsocket_on_an_inactive_pdn_is_refused(slm, cid):
    # bind_to_pdn: sm_util_pdn_id_get fails for a cid no +CGDCONT/CGACT made active.
    refused(slm, f"AT#XSOCKET=1,1,0,{cid}")
    _no_socket_left(slm)


def test_xsocket_with_cid_0_is_the_default_pdn(slm):
    result = slm.at("AT#XSOCKET=1,2,0,0")
    (line,) = result.lines
    handle = int(line.split(": ")[1].split(",")[0])
    accepted(slm, "AT#XSOCKET?", [f"#XSOCKET: {handle},1,0,2,0"])


def test_xsocket_ninth_socket_is_refused(slm):
    handles = [slm.socket_open(Family.IPV4, SocketType.DGRAM).handle for _ in range(MAX_SOCKETS)]
    assert sorted(handles) == list(range(MAX_SOCKETS))
    refused(slm, "AT#XSOCKET=1,2,0")
    refused(slm, f"AT#XSSOCKET=1,1,0,{SEC_TAG}")
    assert len(slm.socket_list()) == MAX_SOCKETS


def test_a_closed_handle_is_reused(slm):
    first = slm.socket_open(Family.IPV4, SocketType.STREAM)
    assert slm.close_socket(first.handle) == 0
    assert slm.socket_open(Family.IPV4, SocketType.STREAM).handle == first.handle


# ------------------------------------------------------------------------------ #XSSOCKET


@pytest.mark.parametrize(
    "family, type_, proto",
    [(1, 1, 258), (1, 2, 273), (2, 1, 258), (2, 2, 273)],
    ids=["ipv4-tls", "ipv4-dtls", "ipv6-tls", "ipv6-dtls"],
)
@pytest.mark.parametrize("verify", ["", ",0", ",1", ",2"], ids=["default", "none", "opt", "req"])
def test_xssocket_opens_tls_and_dtls(slm, family, type_, proto, verify):
    result = slm.at(f"AT#XSSOCKET={family},{type_},0,{SEC_TAG}{verify}")
    (line,) = result.lines
    handle = int(line.split(": ")[1].split(",")[0])
    assert line == f"#XSSOCKET: {handle},{type_},{proto}"
    accepted(slm, "AT#XSSOCKET?", [f"#XSSOCKET: {handle},{family},0,{type_},{SEC_TAG},0"])
    # A secure socket is not a plain one.
    accepted(slm, "AT#XSOCKET?")


@pytest.mark.parametrize(
    "params",
    [
        f"3,1,0,{SEC_TAG}",  # packet family
        f"0,1,0,{SEC_TAG}",
        f"1,3,0,{SEC_TAG}",  # raw type
        f"1,0,0,{SEC_TAG}",
        "1,1,0",  # sec_tag missing
        "1,1",
        f"1,1,0,{SEC_TAG},2,11",  # cid above 10
        f'1,1,0,"{SEC_TAG}"',
        f"1,1,0,{SEC_TAG},x",
    ],
)
def test_xssocket_bad_parameters_are_refused_and_open_nothing(slm, params):
    refused(slm, f"AT#XSSOCKET={params}")
    _no_socket_left(slm)


# -------------------------------------------------------------------------------- #XCLOSE


def test_xclose_answers_handle_and_result(slm):
    opened = slm.socket_open(Family.IPV4, SocketType.STREAM)
    accepted(slm, f"AT#XCLOSE={opened.handle}", [f"#XCLOSE: {opened.handle},0"])
    _no_socket_left(slm)


def test_xclose_without_a_handle_closes_every_socket_in_order(slm):
    handles = [slm.socket_open(Family.IPV4, SocketType.DGRAM).handle for _ in range(3)]
    tls = slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG).handle
    expected = [f"#XCLOSE: {h},0" for h in sorted([*handles, tls])]
    accepted(slm, "AT#XCLOSE", expected)
    _no_socket_left(slm)


def test_xclose_with_nothing_open_answers_ok_alone(slm):
    accepted(slm, "AT#XCLOSE")


@pytest.mark.parametrize("params", [str(NO_SUCH), "8", "65536", '"0"', "x"])
def test_xclose_of_a_handle_that_is_not_open_is_refused(slm, params):
    refused(slm, f"AT#XCLOSE={params}")


def test_xclose_of_handle_minus_one_closes_nothing_and_answers_ok(slm):
    # find_socket(-1) matches a free slot (its fd is INVALID_SOCKET, -1), and do_socket_close
    # returns 0 for it without a #XCLOSE line.
    opened = slm.socket_open(Family.IPV4, SocketType.STREAM)
    accepted(slm, "AT#XCLOSE=-1")
    assert [s.handle for s in slm.socket_list()] == [opened.handle]


# ---------------------------------------------------- commands on a handle that is not open

NO_SOCKET_COMMANDS = [
    f"AT#XSOCKETOPT={NO_SUCH},0,20",
    f"AT#XSOCKETOPT={NO_SUCH},1,20,5",
    f"AT#XSSOCKETOPT={NO_SUCH},0,5",
    f"AT#XSSOCKETOPT={NO_SUCH},1,5,0",
    f"AT#XBIND={NO_SUCH},4000",
    f'AT#XCONNECT={NO_SUCH},"127.0.0.1",4000',
    f'AT#XSEND={NO_SUCH},0,0,"x"',
    f'AT#XSEND={NO_SUCH},1,0,"78"',
    f"AT#XSEND={NO_SUCH},2,0",
    f"AT#XRECV={NO_SUCH},0,0,1",
    f'AT#XSENDTO={NO_SUCH},0,0,"127.0.0.1",4000,"x"',
    f"AT#XRECVFROM={NO_SUCH},0,0,1",
    f"AT#XLISTEN={NO_SUCH}",
    f"AT#XACCEPT={NO_SUCH}",
    f"AT#XAPOLL={NO_SUCH},1,1",
    f"AT#XAPOLL={NO_SUCH},0",
    f"AT#XRECVCFG={NO_SUCH},1",
]


@pytest.mark.parametrize("command", NO_SOCKET_COMMANDS, ids=lambda c: c[3:].split("=")[0] + c[-6:])
def test_commands_on_a_handle_that_is_not_open_are_refused(slm, command):
    refused(slm, command)


@pytest.mark.parametrize(
    "command",
    [
        "AT#XBIND=",
        "AT#XCONNECT=",
        "AT#XSEND=",
        "AT#XRECV=",
        "AT#XSENDTO=",
        "AT#XRECVFROM=",
        "AT#XLISTEN=",
        "AT#XACCEPT=",
        "AT#XSOCKETOPT=",
        "AT#XSSOCKETOPT=",
    ],
)
def test_commands_with_an_empty_handle_are_refused(slm, command):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    refused(slm, command)


# ---------------------------------------------------------------------- per-command ranges


@pytest.fixture
def tcp(slm):
    return slm.socket_open(Family.IPV4, SocketType.STREAM).handle


@pytest.fixture
def udp(slm):
    return slm.socket_open(Family.IPV4, SocketType.DGRAM).handle


@pytest.mark.parametrize(
    "params",
    [
        '{h},3,0,"x"',  # mode 3
        "{h},0,0",  # string mode without data
        "{h},1,0",  # hex mode without data
        '{h},1,0,"zz"',  # not hex
        '{h},1,0,""',  # no hex digit: hex2bin gives 0 bytes
        "{h},0",  # flags missing
        "{h}",
        '{h},x,0,"a"',
    ],
)
def test_xsend_bad_parameters_are_refused(slm, tcp, params):
    refused(slm, "AT#XSEND=" + params.format(h=tcp))


@pytest.mark.parametrize(
    "params",
    [
        "{h},2,0,0,1",  # mode 2 is send-only
        "{h},3,0,1",
        "{h},0,0",  # timeout missing
        "{h},0",
        "{h}",
        f"{{h}},0,0,1,{SM_RECV_BUFFER + 1}",  # data_len past sm_data_buf: -ENOBUFS
        "{h},0,0,1,65535",
        "{h},0,0,x",
    ],
)
@pytest.mark.parametrize("command", ["XRECV", "XRECVFROM"])
def test_xrecv_and_xrecvfrom_bad_parameters_are_refused(slm, tcp, command, params):
    refused(slm, f"AT#{command}=" + params.format(h=tcp))


@pytest.mark.parametrize(
    "params",
    [
        '{h},3,0,"127.0.0.1",4000,"x"',
        '{h},0,0,"127.0.0.1",4000',  # string mode without data
        '{h},1,0,"127.0.0.1",4000,"7g"',  # not hex
        '{h},0,0,"127.0.0.1"',  # port missing
        "{h},0,0",
        '{h},0,0,127,4000,"x"',  # url not a string
        '{h},0,0,"127.0.0.1",x,"x"',
    ],
)
def test_xsendto_bad_parameters_are_refused(slm, udp, params):
    refused(slm, "AT#XSENDTO=" + params.format(h=udp))


@pytest.mark.parametrize(
    "params",
    [
        "{h},2,20",  # op 2
        "{h},0,1",  # no such option
        "{h},0,99",
        "{h},1,3,1",  # SO_TYPE is not in the table
        "{h},0",  # name missing
        "{h}",
        "{h},x,20",
        "{h},1,20,x",
    ],
)
def test_xsocketopt_bad_parameters_are_refused(slm, tcp, params):
    refused(slm, "AT#XSOCKETOPT=" + params.format(h=tcp))


@pytest.mark.parametrize("params", ["{h},0,5", "{h},1,5,0", "{h},0,2"])
def test_xssocketopt_on_a_plain_socket_is_refused(slm, tcp, params):
    refused(slm, "AT#XSSOCKETOPT=" + params.format(h=tcp))


@pytest.fixture
def tls(slm):
    return slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG).handle


@pytest.mark.parametrize(
    "params",
    [
        "{h},2,5,0",  # op 2
        "{h},0,1",  # no such option
        "{h},0,99",
        "{h},1,3,1",  # the cipher suite list is not in the table
        "{h},1,5",  # set without a value
        "{h},0",
        "{h},1,5,x",
    ],
)
def test_xssocketopt_bad_parameters_are_refused(slm, tls, params):
    refused(slm, "AT#XSSOCKETOPT=" + params.format(h=tls))


@pytest.mark.parametrize("params", ["{h}", "{h},x", '{h},"4000"'])
def test_xbind_bad_parameters_are_refused(slm, tcp, params):
    refused(slm, "AT#XBIND=" + params.format(h=tcp))


@pytest.mark.parametrize(
    "params",
    ["{h}", '{h},"127.0.0.1"', "{h},127,4000", '{h},"127.0.0.1",x'],
)
def test_xconnect_bad_parameters_are_refused(slm, tcp, params):
    refused(slm, "AT#XCONNECT=" + params.format(h=tcp))


def test_xlisten_on_udp_is_refused(slm, udp):
    slm.bind(4001, handle=udp)
    refused(slm, f"AT#XLISTEN={udp}")


def test_xlisten_on_an_unbound_tcp_socket_is_refused(slm, tcp):
    # do_listen: local_port 0 -> -EOPNOTSUPP.
    refused(slm, f"AT#XLISTEN={tcp}")


def test_xlisten_on_tls_is_refused(slm, tls):
    refused(slm, f"AT#XLISTEN={tls}")


@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_xaccept_on_a_socket_that_does_not_listen_is_refused(slm, request, kind):
    handle = request.getfixturevalue(kind)
    refused(slm, f"AT#XACCEPT={handle}")


@pytest.mark.parametrize(
    "params",
    [
        "{h},2",  # op 2
        "{h},1,2",  # POLLPRI is not offered
        "{h},1,8",
        "{h},1,16",
        "{h},1,32",
        "{h},1,7",
        ",2",
        ",1,2",
        "{h}",
        "{h},x",
    ],
)
def test_xapoll_bad_parameters_are_refused(slm, tcp, params):
    refused(slm, "AT#XAPOLL=" + params.format(h=tcp))


@pytest.mark.parametrize("events", [0, 1, 4, 5])
@pytest.mark.parametrize("target", ["{h}", ""], ids=["socket", "all"])
def test_xapoll_accepts_each_documented_event_set(slm, tcp, events, target):
    accepted(slm, f"AT#XAPOLL={target.format(h=tcp)},1,{events}")
    # The read form lists the requested events without the ones libmodem always returns.
    accepted(slm, "AT#XAPOLL?", [f"#XAPOLL: {tcp},{events}"])


@pytest.mark.parametrize(
    "params",
    [
        "{h},4",  # flags past 3
        "{h},8",
        "{h},1,2",  # hex_mode 2
        "{h},2,1",  # hex with data-mode reception: refused
        "{h},3,1",
        ",2,1",
        "{h}",
        "{h},x",
        ",4",
    ],
)
def test_xrecvcfg_bad_parameters_are_refused(slm, tcp, params):
    refused(slm, "AT#XRECVCFG=" + params.format(h=tcp))
    accepted(slm, "AT#XRECVCFG?")


@pytest.mark.parametrize("flags, hex_mode", [(1, 0), (1, 1), (2, 0), (3, 0)])
def test_xrecvcfg_read_lists_what_was_set(slm, tcp, flags, hex_mode):
    accepted(slm, f"AT#XRECVCFG={tcp},{flags},{hex_mode}")
    accepted(slm, "AT#XRECVCFG?", [f"#XRECVCFG: {tcp},{flags},{hex_mode}"])
    accepted(slm, f"AT#XRECVCFG={tcp},0")
    accepted(slm, "AT#XRECVCFG?")


def test_xrecvcfg_for_all_applies_to_sockets_opened_later(slm, tcp):
    accepted(slm, "AT#XRECVCFG=,1,1")
    later = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    accepted(slm, "AT#XRECVCFG?", [f"#XRECVCFG: {tcp},1,1", f"#XRECVCFG: {later},1,1"])


def test_xapoll_for_all_applies_to_sockets_opened_later(slm, tcp):
    accepted(slm, "AT#XAPOLL=,1,5")
    # Unconnected TCP sockets: no event fires, so no notification can mix into the read form.
    later = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    accepted(slm, "AT#XAPOLL?", [f"#XAPOLL: {tcp},5", f"#XAPOLL: {later},5"])
    accepted(slm, "AT#XAPOLL=,0")
    accepted(slm, "AT#XAPOLL?")


@pytest.mark.parametrize(
    "params",
    ['"localhost",3', '"localhost",-1', '"localhost",1,1', "@host", '"localhost",x'],
)
def test_xgetaddrinfo_bad_parameters_are_refused(slm, params):
    refused(slm, f"AT#XGETADDRINFO={params}")


def test_xdatactrl_below_the_minimum_is_refused(slm):
    limits = slm.datactrl_read()
    refused(slm, f"AT#XDATACTRL={limits.minimum - 1}")
    assert slm.datactrl_read() == limits


def test_xdatactrl_sets_and_reads_back(slm):
    limits = slm.datactrl_read()
    try:
        accepted(slm, f"AT#XDATACTRL={limits.minimum + 100}")
        assert slm.datactrl_read().current == limits.minimum + 100
        assert slm.datactrl_read().minimum == limits.minimum
    finally:
        slm.datactrl(limits.current or limits.minimum)


@pytest.mark.parametrize("params", ["", "x", "65536"])
def test_xdatactrl_bad_parameters_are_refused(slm, params):
    refused(slm, f"AT#XDATACTRL={params}")
