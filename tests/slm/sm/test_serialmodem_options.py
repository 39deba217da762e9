"""Serial Modem's #XSOCKETOPT: every option of sm_sockopt.h, its values and its answers.

sockopt_get prints `#XSOCKETOPT: <h>,<value>` (the timeouts in whole seconds, from the timeval),
sockopt_set answers OK alone; an option outside at_sockopt_to_sockopt's table is -ENOTSUP. The
set-only options (doc/app/at_socket.rst: REUSEADDR, BINDTOPDN, RAI) are refused by the modem on
a get.
"""

from __future__ import annotations

import pytest
from slmsuite import accepted, refused

from pytest_slm.slm_types import Family, SmSockOpt, SocketType


@pytest.fixture
def tcp(slm):
    return slm.socket_open(Family.IPV4, SocketType.STREAM).handle


@pytest.fixture
def tcp6(slm):
    return slm.socket_open(Family.IPV6, SocketType.STREAM).handle


@pytest.mark.parametrize("name", [SmSockOpt.RCVTIMEO, SmSockOpt.SNDTIMEO], ids=["rcv", "snd"])
@pytest.mark.parametrize("seconds", [0, 1, 30, 600])
def test_timeouts_read_back_in_seconds(slm, tcp, name, seconds):
    accepted(slm, f"AT#XSOCKETOPT={tcp},1,{int(name)},{seconds}")
    accepted(slm, f"AT#XSOCKETOPT={tcp},0,{int(name)}", [f"#XSOCKETOPT: {tcp},{seconds}"])


def test_send_timeout_starts_at_30_seconds(slm, tcp):
    # do_socket_open sets SO_SNDTIMEO to SOCKET_SEND_TMO_SEC.
    accepted(slm, f"AT#XSOCKETOPT={tcp},0,21", [f"#XSOCKETOPT: {tcp},30"])


@pytest.mark.parametrize(
    "name",
    [SmSockOpt.SILENCE_ALL, SmSockOpt.IP_ECHO_REPLY],
    ids=lambda n: n.name,
)
@pytest.mark.parametrize("value", [0, 1])
def test_flag_options_read_back(slm, tcp, name, value):
    accepted(slm, f"AT#XSOCKETOPT={tcp},1,{int(name)},{value}")
    accepted(slm, f"AT#XSOCKETOPT={tcp},0,{int(name)}", [f"#XSOCKETOPT: {tcp},{value}"])


@pytest.mark.parametrize(
    "name",
    [SmSockOpt.IPV6_ECHO_REPLY, SmSockOpt.IPV6_DELAYED_ADDR_REFRESH],
    ids=lambda n: n.name,
)
@pytest.mark.parametrize("value", [0, 1])
def test_ipv6_flag_options_read_back(slm, tcp6, name, value):
    accepted(slm, f"AT#XSOCKETOPT={tcp6},1,{int(name)},{value}")
    accepted(slm, f"AT#XSOCKETOPT={tcp6},0,{int(name)}", [f"#XSOCKETOPT: {tcp6},{value}"])


@pytest.mark.parametrize("value", [0, 1, 60, 135])
def test_tcp_server_session_timeout_in_range(slm, tcp, value):
    accepted(slm, f"AT#XSOCKETOPT={tcp},1,55,{value}")
    accepted(slm, f"AT#XSOCKETOPT={tcp},0,55", [f"#XSOCKETOPT: {tcp},{value}"])


@pytest.mark.parametrize("value", [136, -1])
def test_tcp_server_session_timeout_out_of_range_is_refused(slm, tcp, value):
    refused(slm, f"AT#XSOCKETOPT={tcp},1,55,{value}")


@pytest.mark.parametrize("value", [1, 2, 3, 4, 5])
def test_rai_takes_each_documented_value(slm, value):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    accepted(slm, f"AT#XSOCKETOPT={h},1,61,{value}")


@pytest.mark.parametrize("value", [0, 6])
def test_rai_outside_the_documented_values_is_refused(slm, value):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    refused(slm, f"AT#XSOCKETOPT={h},1,61,{value}")


@pytest.mark.parametrize("value", [0, 1])
def test_reuseaddr_is_set(slm, tcp, value):
    accepted(slm, f"AT#XSOCKETOPT={tcp},1,2,{value}")


@pytest.mark.parametrize(
    "name", [SmSockOpt.REUSEADDR, SmSockOpt.BINDTOPDN, SmSockOpt.RAI], ids=lambda n: n.name
)
def test_set_only_options_refuse_a_get(slm, tcp, name):
    refused(slm, f"AT#XSOCKETOPT={tcp},0,{int(name)}")


@pytest.mark.parametrize("name", [20, 21, 30, 31, 55])
def test_set_without_a_value_sets_zero(slm, tcp, name):
    # handle_at_socketopt: "some options don't require a value" -> value stays 0.
    accepted(slm, f"AT#XSOCKETOPT={tcp},1,{name}")
    accepted(slm, f"AT#XSOCKETOPT={tcp},0,{name}", [f"#XSOCKETOPT: {tcp},0"])


def test_options_belong_to_their_socket(slm):
    a = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    b = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    slm.setopt(SmSockOpt.RCVTIMEO, 7, handle=a)
    slm.setopt(SmSockOpt.RCVTIMEO, 9, handle=b)
    assert (slm.getopt(SmSockOpt.RCVTIMEO, handle=a), slm.getopt(SmSockOpt.RCVTIMEO, handle=b)) == (
        7,
        9,
    )
