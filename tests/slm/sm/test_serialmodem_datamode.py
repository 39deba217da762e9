"""Serial Modem's data mode: entered with OK, left with `#XDATAMODE: <status>`.

From app/src/sm_at_host.c v2.0.0-preview1: enter_datamode (the command answers OK), raw_rx_handler
(the terminator is matched anywhere in the stream, byte by byte, across writes; with
`<data_len>` exactly that many bytes are taken and data mode ends by itself), exit_datamode
(`#XDATAMODE: 0`), and handle_at_datactrl. doc/app/sm_data_mode.rst.
"""

from __future__ import annotations

import pytest
from slmsuite import LONG, accepted, nothing_more, refused

from pytest_slm.slm_types import Family, SocketType


@pytest.fixture
def sink(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    return tcp_sink


def test_entry_answers_ok_and_the_terminator_answers_xdatamode_0(slm, sink):
    h = slm.current
    slm.enter_data_mode(f"AT#XSEND={h},2,0")
    slm.write_data(b"payload")
    slm.write_data(b"+++")
    assert slm.wait_urc("#XDATAMODE:", timeout=LONG) == "#XDATAMODE: 0"
    assert sink.wait_for(7) == b"payload"


@pytest.mark.parametrize("split", [1, 2], ids=["+|++", "++|+"])
def test_the_terminator_is_found_across_writes(slm, sink, split):
    h = slm.current
    slm.enter_data_mode(f"AT#XSEND={h},2,0")
    slm.write_data(b"abc" + b"+" * split)
    slm.write_data(b"+" * (3 - split))
    assert slm.wait_urc("#XDATAMODE:", timeout=LONG) == "#XDATAMODE: 0"
    assert sink.wait_for(3) == b"abc"
    nothing_more(slm, sink, b"abc")


def test_the_terminator_in_the_middle_ends_data_mode_there(slm, sink):
    h = slm.current
    slm.enter_data_mode(f"AT#XSEND={h},2,0")
    # What follows the terminator is back in command mode: `AT` answers OK.
    slm.write_data(b"before+++AT\r")
    assert slm.wait_urc("#XDATAMODE:", timeout=LONG) == "#XDATAMODE: 0"
    # The AT typed after the terminator is answered as a command no one is waiting for.
    assert slm.wait_urc("OK", timeout=LONG) == "OK"
    assert sink.wait_for(6) == b"before"
    nothing_more(slm, sink, b"before")


def test_a_partial_terminator_is_data(slm, sink):
    with slm.data_mode() as dm:
        dm.write(b"a++b+")
        dm.quiet()
        dm.write(b"c")
    assert sink.wait_for(6) == b"a++b+c"


def test_data_len_takes_exactly_that_many_bytes(slm, sink):
    h = slm.current
    slm.enter_data_mode(f"AT#XSEND={h},2,0,5")
    slm.write_data(b"12345")
    assert slm.wait_urc("#XDATAMODE:", timeout=LONG) == "#XDATAMODE: 0"
    assert sink.wait_for(5) == b"12345"
    accepted(slm, "AT")


def test_data_len_mode_ignores_the_terminator(slm, sink):
    h = slm.current
    slm.enter_data_mode(f"AT#XSEND={h},2,0,6")
    slm.write_data(b"+++++")
    slm.write_data(b"+")
    assert slm.wait_urc("#XDATAMODE:", timeout=LONG) == "#XDATAMODE: 0"
    assert sink.wait_for(6) == b"++++++"


def test_data_mode_to_a_sendto_target(slm, udp_sink):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    with slm.data_mode(sendto=(udp_sink.board_host, udp_sink.port), handle=h) as dm:
        dm.write(b"datagram")
    (datagram,) = udp_sink.wait_datagrams(1)
    assert datagram.data == b"datagram"


def test_commands_are_not_taken_in_data_mode(slm, sink):
    with slm.data_mode() as dm:
        dm.write(b"AT#XCLOSE\r\n")
    assert sink.wait_for(11) == b"AT#XCLOSE\r\n"
    assert len(slm.socket_list()) == 1


def test_a_second_entry_while_in_data_mode_is_data(slm, sink):
    h = slm.current
    with slm.data_mode() as dm:
        dm.write(f"AT#XSEND={h},2,0\r".encode())
    assert sink.wait_for(15) == f"AT#XSEND={h},2,0\r".encode()


def test_datactrl_read_has_current_and_minimum(slm):
    limits = slm.datactrl_read()
    assert limits.minimum > 0
    assert limits.current in (0, limits.minimum) or limits.current > limits.minimum


def test_datactrl_test_form(slm):
    assert slm.datactrl_test() == "#XDATACTRL=<time_limit>"


def test_a_longer_time_limit_holds_data_until_it_passes(slm, sink):
    limits = slm.datactrl_read()
    slm.datactrl(limits.minimum + 400)
    try:
        with slm.data_mode() as dm:
            assert dm.time_limit_ms == limits.minimum + 400
            dm.write(b"held")
        assert sink.wait_for(4) == b"held"
    finally:
        slm.datactrl(limits.current or limits.minimum)


def test_data_mode_on_an_unconnected_tcp_socket_fails_and_reports_it(slm):
    h = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    slm.enter_data_mode(f"AT#XSEND={h},2,0")
    slm.write_data(b"lost")
    # The send fails: the board prints the terminator and drops input until it gets one back.
    assert slm.exit_data_mode(timeout=LONG) is False
    accepted(slm, "AT")


def test_xsend_mode_2_on_a_closed_handle_does_not_enter(slm):
    h = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    slm.close_socket(h)
    refused(slm, f"AT#XSEND={h},2,0")
    accepted(slm, "AT")
