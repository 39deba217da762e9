"""Golden transcripts of v2.0 data mode: silent entry, timer flushes, the +++ rule, exit OK."""

from __future__ import annotations

import queue
import threading
import time

import pytest

from firmware_ref.core.host import FirmwareConfig, min_time_limit
from firmware_ref.testing import FirmwareHarness, temporary_command

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


class Sink:
    """A data-mode handler: records chunks; can fail sends or hold them."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.exits = 0
        self.fail = False
        self.hold: threading.Event | None = None
        self.holding = threading.Event()

    def on_chunk(self, data: bytes) -> bool:
        self.chunks.put(data)
        if self.hold is not None:
            self.holding.set()
            assert self.hold.wait(10)
        return not self.fail

    def on_exit(self) -> None:
        self.exits += 1

    def handler(self, fw, cmd_type, params):
        fw.enter_data_mode(self.on_chunk, self.on_exit)

    def next(self, timeout: float = 10.0) -> bytes:
        return self.chunks.get(timeout=timeout)

    def empty(self) -> bool:
        return self.chunks.empty()


@pytest.fixture
def dm():
    sink = Sink()
    with temporary_command("AT#XQDATA", 900, sink.handler), FirmwareHarness() as h:
        yield h, sink


def enter(h, sink):
    h.feed(b"AT#XQDATA\r\n")
    h.assert_silent(0.1, settle=True)  # v2.0 enters data mode without a word
    assert h.fw.in_data_mode


def test_entry_is_silent_and_terminator_alone_exits_with_ok(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"+++")
    h.wait_output(OK)
    assert sink.empty()
    assert sink.exits == 1
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_data_then_terminator_in_one_flush_sends_data_then_exits(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b'hello\r\n\x00"world+++')
    h.wait_output(OK)
    assert sink.next() == b'hello\r\n\x00"world'
    assert sink.empty()


def test_terminator_followed_by_more_bytes_is_data(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"+++\r\n")
    assert sink.next() == b"+++\r\n"
    h.assert_silent(0.1, settle=True)
    assert h.fw.in_data_mode
    h.feed(b"+++")
    h.wait_output(OK)


def test_terminator_inside_data_is_data(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"a+++b")
    assert sink.next() == b"a+++b"
    h.feed(b"++")
    assert sink.next() == b"++"
    h.feed(b"+++")
    h.wait_output(OK)


def test_command_lines_are_data_in_data_mode(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"AT\r\n")
    assert sink.next() == b"AT\r\n"
    h.assert_silent(0.1, settle=True)
    h.feed(b"+++")
    h.wait_output(OK)


def test_each_silence_flushes_one_chunk(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"one")
    assert sink.next() == b"one"
    h.feed(b"two")
    assert sink.next() == b"two"
    h.feed(b"+++")
    h.wait_output(OK)


def test_bytes_in_the_same_write_as_the_command_overwrite_it(dm):
    """The bytes after the CRLF of one UART event go into at_buf before cmd_send runs
    (slm_at_host.c 900-905): "payload" overwrites "AT#XQDA", cmd_send parses "payloadTA" and
    answers ERROR, and the 7 bytes stay on the line editor (at_cmd_len survives cmd_send)."""
    h, sink = dm
    h.feed(b"AT#XQDATA\r\npayload")
    h.wait_output(ERROR)
    assert not h.fw.in_data_mode
    assert h.fw.line_pending
    h.feed(b"AT\r\n")  # "payloadAT"
    h.wait_output(ERROR)
    h.feed(b"AT\r\n")
    h.wait_output(OK)
    assert sink.empty()


def test_send_failure_exits_with_ok(dm):
    h, sink = dm
    enter(h, sink)
    sink.fail = True
    h.feed(b"doomed")
    h.wait_output(OK)
    assert sink.next() == b"doomed"
    assert not h.fw.in_data_mode
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_bytes_arriving_before_the_exit_reset_are_lost(dm):
    h, sink = dm
    enter(h, sink)
    sink.hold = threading.Event()
    h.feed(b"last+++")
    assert sink.holding.wait(10)
    h.feed(b"AT\r\n")  # arrives while the last chunk is being sent: lost in the reset
    sink.hold.set()
    h.wait_output(OK)
    h.assert_silent(0.2, settle=True)
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_buffer_full_flushes_before_the_timer(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"x" * 5000)
    assert sink.next() == b"x" * 4096  # free space fell below one UART buffer (256)
    assert sink.next() == b"x" * 904
    h.feed(b"+++")
    h.wait_output(OK)


def test_flush_splits_at_the_ring_buffer_wrap(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"a" * 3000)
    assert sink.next() == b"a" * 3000
    h.feed(b"b" * 2000)
    assert sink.next() == b"b" * 1096
    assert sink.next() == b"b" * 904
    h.feed(b"+++")
    h.wait_output(OK)


def test_terminator_split_by_the_wrap_is_missed(dm):
    h, sink = dm
    enter(h, sink)
    h.feed(b"a" * 4095)
    assert sink.next() == b"a" * 4095
    h.feed(b"+++")  # one "+" before the wrap point, two after
    assert sink.next() == b"+"
    assert sink.next() == b"++"
    assert h.fw.in_data_mode
    h.feed(b"+++")
    h.wait_output(OK)


def test_urcs_are_dropped_in_data_mode(dm):
    h, sink = dm
    enter(h, sink)
    h.fw.urc("+CEREG: 1")
    h.feed(b"+++")
    h.wait_output(OK)
    h.fw.urc("+CEREG: 5")
    h.wait_output(b"\r\n+CEREG: 5\r\n")


def test_second_registration_is_refused(dm):
    h, sink = dm
    enter(h, sink)
    with pytest.raises(Exception, match="already"):
        h.fw.enter_data_mode(sink.on_chunk, None)
    h.feed(b"+++")
    h.wait_output(OK)


def test_data_mode_can_be_entered_again(dm):
    h, sink = dm
    for i in range(3):
        enter(h, sink)
        h.feed(b"round%d+++" % i)
        h.wait_output(OK)
        assert sink.next() == b"round%d" % i


def test_time_limit_is_the_silence_needed(dm):
    h, sink = dm
    h.feed(b"AT#XDATACTRL=400\r\n")
    h.wait_output(OK)
    enter(h, sink)
    start = time.monotonic()
    h.feed(b"slow")
    assert sink.next() == b"slow"
    assert time.monotonic() - start >= 0.38
    h.feed(b"+++")
    h.wait_output(OK)


def test_datactrl_forms():
    with FirmwareHarness() as h:
        h.feed(b"AT#XDATACTRL?\r\n")
        h.wait_output(b"\r\n#XDATACTRL: 0,32\r\n" + OK)
        h.feed(b"AT#XDATACTRL=?\r\n")
        h.wait_output(b"\r\n#XDATACTRL=<time_limit>\r\n" + OK)
        h.feed(b"AT#XDATACTRL=31\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT#XDATACTRL=32\r\n")
        h.wait_output(OK)
        h.feed(b"AT#XDATACTRL?\r\n")
        h.wait_output(b"\r\n#XDATACTRL: 32,32\r\n" + OK)
        h.feed(b"AT#XDATACTRL=65535\r\n")
        h.wait_output(OK)
        h.feed(b"AT#XDATACTRL=65536\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT#XDATACTRL=-1\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT#XDATACTRL\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT#XDATACTRL=0\r\n")
        h.wait_output(OK)
        h.feed(b"AT#XDATACTRL?\r\n")
        h.wait_output(b"\r\n#XDATACTRL: 0,32\r\n" + OK)


def test_first_entry_computes_the_time_limit():
    sink = Sink()
    with temporary_command("AT#XQDATA", 900, sink.handler), FirmwareHarness() as h:
        enter(h, sink)
        h.feed(b"+++")
        h.wait_output(OK)
        h.feed(b"AT#XDATACTRL?\r\n")
        h.wait_output(b"\r\n#XDATACTRL: 32,32\r\n" + OK)


@pytest.mark.parametrize(("baud", "limit"), [(115200, 32), (9600, 276), (1000000, 12)])
def test_time_limit_follows_the_baud_rate(baud, limit):
    assert min_time_limit(baud) == limit
    with FirmwareHarness(FirmwareConfig(baud=baud)) as h:
        h.feed(b"AT#XDATACTRL?\r\n")
        h.wait_output(b"\r\n#XDATACTRL: 0,%d\r\n" % limit + OK)
