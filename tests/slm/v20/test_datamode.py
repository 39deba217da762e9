"""Data mode (#XSEND / #XSENDTO without data) and #XDATACTRL.

v2.0 enters data mode silently, flushes what it buffered after the line has been idle for the
time limit, and takes `+++` as the terminator only when it ends such a flushed chunk.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from slmsuite import documented, known_deviation, nothing_more, refused

from pytest_slm.at.errors import AtError
from pytest_slm.at.transcript import RX
from pytest_slm.slm_types import DataCtrl, Family, SocketType

STANDARD_BAUDS = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000)


# 256 bytes of UART time plus 10 ms (behaviour file section 4).
def minimum_time_limit(baud: int) -> int:
    return 256 * 10 * 1000 // baud + 10


def received_since(slm, mark: int) -> bytes:
    return b"".join(e.data for e in slm.transcript.entries(mark) if e.direction == RX)


@pytest.fixture
def sink(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    # Tests here enter data mode by hand, which does not clear a remembered #XSENDTO address as
    # data_mode() does; the board object knows whether one may be set (an #XSENDTO since the
    # last data-mode exit in this boot), and clearing costs a data-mode entry and exit.
    if slm._target_may_be_stale():
        slm.clear_sendto_target()
    return tcp_sink


@pytest.fixture
def restore_datactrl(slm):
    yield
    # 0: the minimum is computed again at the next entry, as after boot.
    slm.datactrl(0)


def test_entry_is_silent_and_exit_says_ok(slm, sink):
    mark = slm.transcript.mark()
    slm.enter_data_mode("AT#XSEND")
    assert received_since(slm, mark) == b""
    mark = slm.transcript.mark()
    assert slm.exit_data_mode() is True
    assert received_since(slm, mark) == b"\r\nOK\r\n"
    nothing_more(slm, sink)


def test_empty_parameter_enters_data_mode(slm, sink):
    with slm.data_mode("AT#XSEND=") as dm:
        dm.write(b"via empty")
    assert sink.wait_for(9) == b"via empty"


def test_terminator_alone_sends_nothing(slm, sink):
    with slm.data_mode() as dm:
        dm.write_raw(b"+++")
        dm.wait_left()
    nothing_more(slm, sink)


def test_data_followed_by_the_terminator(slm, sink):
    with slm.data_mode() as dm:
        dm.write_raw(b"hello+++")
        dm.wait_left()
    nothing_more(slm, sink, b"hello")


def test_data_then_silence_then_terminator(slm, sink):
    with slm.data_mode() as dm:
        dm.write(b"first ")
        dm.write(b"second")
    nothing_more(slm, sink, b"first second")


@pytest.mark.parametrize("payload", [
    pytest.param(b"ab+++cd", id="inside"),
    pytest.param(b"+++\r\n", id="followed-by-crlf"),
    pytest.param(b"+++++x", id="five-plus"),
    pytest.param(b"AT\r\nAT#XSOCKET=0\r\n", id="at-commands"),
])
def test_terminator_not_at_the_end_of_a_chunk_is_data(slm, sink, payload):
    with slm.data_mode() as dm:
        dm.write_raw(payload)
    nothing_more(slm, sink, payload)


def test_data_mode_leaves_cleanly_when_the_body_raises(slm, sink):
    with pytest.raises(RuntimeError), slm.data_mode() as dm:
        dm.write(b"partial")
        raise RuntimeError("test body failed")
    assert not slm.in_data_mode
    nothing_more(slm, sink, b"partial")


def test_sendto_data_mode(slm, udp_sink):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    with slm.data_mode(sendto=(udp_sink.board_host, udp_sink.port)) as dm:
        dm.write(b"datagram")
    assert [d.data for d in udp_sink.wait_datagrams(1)] == [b"datagram"]


def test_sendto_data_mode_refused_without_port(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    refused(slm, 'AT#XSENDTO="127.0.0.1"')
    assert not slm.in_data_mode


@known_deviation("v2.0", "a failed send in data mode ends it with OK; the doc says ERROR")
def test_send_failure_in_data_mode_answers_error(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    if slm._target_may_be_stale():  # a remembered #XSENDTO address would give it a target
        slm.clear_sendto_target()
    slm.enter_data_mode("AT#XSEND")
    mark = slm.transcript.mark()
    # An unconnected UDP socket has nowhere to send.
    slm.write_data(b"nowhere")
    assert slm.wait_data_mode_left(10.0)
    answer = received_since(slm, mark)
    with contextlib.suppress(AtError):
        slm.at("AT")
    documented(answer, b"\r\nERROR\r\n", deviation=b"\r\nOK\r\n", what="end of data mode")


@known_deviation("v2.0", "#XSEND data mode after an #XSENDTO with data still sends to the "
                 "#XSENDTO address (cleared only when data mode exits)")
def test_send_data_mode_after_sendto_goes_to_the_connected_peer(slm, udp_sink, udp_echo):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    slm.connect(udp_sink.board_host, udp_sink.port)
    slm.sendto(udp_echo.board_host, udp_echo.port, b"elsewhere")
    slm.enter_data_mode("AT#XSEND")
    slm.write_data(b"to the peer")
    slm.exit_data_mode()
    slm.send(b"<end>")
    udp_sink.wait_for(predicate=lambda s: b"<end>" in [d.data for d in s.datagrams])
    documented(
        [d.data for d in udp_sink.datagrams], [b"to the peer", b"<end>"], deviation=[b"<end>"],
        what="datagrams at the connected peer",
    )


# --------------------------------------------------------------------------- #XDATACTRL


def test_datactrl_read_reports_the_minimum(slm):
    # The board's UART speed is not known here (a pty or a TCP bridge may sit in between):
    # the minimum must be the formula's value for one of the standard speeds.
    limits = slm.datactrl_read()
    assert limits.minimum in {minimum_time_limit(baud) for baud in STANDARD_BAUDS}


def test_datactrl_set_and_read_back(slm, restore_datactrl):
    minimum = slm.datactrl_read().minimum
    for value in (minimum, minimum + 1, 1000, 65535):
        slm.datactrl(value)
        assert slm.datactrl_read() == DataCtrl(value, minimum)


def test_datactrl_zero_is_recomputed_at_the_next_entry(slm, sink, restore_datactrl):
    minimum = slm.datactrl_read().minimum
    slm.datactrl(0)
    assert slm.datactrl_read() == DataCtrl(0, minimum)
    with slm.data_mode() as dm:
        dm.write(b"x")
    assert slm.datactrl_read() == DataCtrl(minimum, minimum)


@pytest.mark.parametrize("value", ["below-minimum", "65536", "-1", '"100"', "abc", ""])
def test_datactrl_refused(slm, restore_datactrl, value):
    minimum = slm.datactrl_read().minimum
    slm.datactrl(minimum + 5)
    if value == "below-minimum":
        value = str(minimum - 1)
    refused(slm, f"AT#XDATACTRL={value}")
    assert slm.datactrl_read().current == minimum + 5


def test_datactrl_test_form(slm):
    assert slm.datactrl_test() == "#XDATACTRL=<time_limit>"


def test_longer_time_limit_keeps_a_paused_terminator_as_data(slm, sink, restore_datactrl):
    # 400 ms: four times the pause below, and ten times the minimum at 115200 baud (32 ms).
    slm.datactrl(400)
    with slm.data_mode() as dm:
        dm.write_raw(b"+++")
        # Well inside the 400 ms limit: the chunk is still open, so `+++` did not end it.
        time.sleep(0.1)
        dm.write_raw(b"x")
    nothing_more(slm, sink, b"+++x")


@pytest.mark.parametrize("payload", [
    pytest.param(b"+" * 3000 + b"x", id="long-plus-run"),
    pytest.param(b"x" * 100 + b"+" * 9, id="plus-run-at-the-end"),
    pytest.param(b"+" * 7, id="only-plus"),
    pytest.param(b"x" * 2045 + b"+++" + b"y" * 2045 + b"+++", id="plus-at-chunk-ends"),
    pytest.param(b"z" * 4093 + b"+++" + b"w" * 10, id="plus-at-the-ring-wrap"),
])
def test_terminator_sequences_inside_large_data(slm, sink, payload):
    with slm.data_mode() as dm:
        dm.write(payload)
    assert sink.wait_for(len(payload)) == payload
    nothing_more(slm, sink, payload)
