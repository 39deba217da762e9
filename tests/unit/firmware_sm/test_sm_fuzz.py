"""Property tests: no input sequence crashes or wedges the simulated Serial Modem board.

After any mix of command lines, garbage, control characters, quotes, data-mode entries,
terminators and silences, the board must still be alive: once its input is processed, leaving
data mode (or the dropped-input mode a failed send leaves), closing an open quote and ending a
partial line bring it back to where a probe command gets its exact answer.
"""

from __future__ import annotations

import io
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_ref.core.modem import DEFAULT_IMEI
from firmware_ref.dialects.sm.atparser import UINT16, AtParser, ParseError, cmd_type
from firmware_ref.dialects.sm.lines import grammar_ok
from firmware_ref.dialects.sm.table import filter_matches
from firmware_ref.testing import FirmwareHarness

PROBE = b"AT+CGSN=1\r"
PROBE_ANSWER = b'\r\n+CGSN: "' + DEFAULT_IMEI.encode() + b'"\r\n\r\nOK\r\n'
PAUSE = object()  # a silence longer than the data-mode time limit

# Commands that stay on this machine. Name resolution and blocking receives are left out: a
# fuzzed #XRECV=<h>,0,0,0 waits for data for ever, as the firmware does.
NAMES = [
    "#XSOCKET",
    "#XSSOCKET",
    "#XCLOSE",
    "#XSOCKETOPT",
    "#XSSOCKETOPT",
    "#XBIND",
    "#XLISTEN",
    "#XACCEPT",
    "#XSEND",
    "#XAPOLL",
    "#XRECVCFG",
    "#XSMVER",
    "#XSLMVER",
    "#XDATACTRL",
    "#XRESET",
    "#XSOCKETSELECT",
    "#X",
    "+CEREG",
    "+CGSN",
    "%CMNG",
    "+CMEE",
    "+NOPE",
    "&X",
    "E0",
    "E1",
    "",
]
FIXED = [
    b"AT#XSOCKET=1,2,0\r",
    b"AT#XSOCKET=1,1,0\r",
    b'AT#XCONNECT=0,"127.0.0.1",9\r',
    b"AT#XSEND=0,2,0\r",
    b"AT#XSEND=0,2,0,5\r",
    b'AT#XSEND=0,0,8192,"x"\r',
    b"AT#XAPOLL=,1,5\r",
    b"AT#XRECVCFG=,3\r",
    b"AT#XDATACTRL=50\r",
    b"AT#XRECV=0,0,64,0\r",  # MSG_DONTWAIT: never blocks
    b"AT#XRECVFROM=0,1,64,0,10\r",
    b"AT#XRECVCFG=0,1,1\r",
    b"AT#XCLOSE\r",
]

param = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.integers(min_value=-2, max_value=9).map(str),
    st.text(alphabet='abc,="\r\n\x08\x7f ()+-', max_size=12).map(lambda t: f'"{t}"'),
    st.sampled_from(["", " ", "(1,2)", "0x10", "1a", "+5", "abc", ",", "=", "00", "-0"]),
)
line = st.builds(
    lambda prefix, name, kind, params, end: (
        (prefix + name + kind + ",".join(params)).encode("latin-1") + end
    ),
    st.sampled_from(["AT", "at", "aT", " AT", "A", ""]),
    st.sampled_from(NAMES),
    st.sampled_from(["", "?", "=?", "=", "=?x", "??"]),
    st.lists(param, max_size=6),
    st.sampled_from([b"\r", b"\r\n", b"\n", b""]),
)
piece = st.one_of(
    line,
    line,
    st.sampled_from(FIXED),
    st.binary(max_size=48),
    st.sampled_from([b"+++", b"++", b'"', b"\x08", b"\x7f", b"\r", b"\n", b"\x00"]),
    st.just(PAUSE),
)


def recover(h: FirmwareHarness) -> bool:
    """Bring the board back to command mode; False when only gigabytes of data would."""
    fw = h.fw
    for _ in range(12):
        assert fw.wait_idle(30 + fw.datamode_time_limit / 1000), "board stopped taking input"
        if fw.datamode_remaining > 65536:
            # A fuzzed <data_len> (a negative one is ~4 GB): the firmware really waits for it.
            return False
        if fw.datamode_remaining:
            h.feed(bytes(fw.datamode_remaining))
            continue
        if fw.mode != "at":
            # Idle in data mode means the buffer was flushed after a silence; in the dropped-
            # input mode only the terminator counts.
            h.feed(b"+++")
            continue
        if fw.in_quotes:
            h.feed(b'"')
            continue
        if fw.line_pending:
            h.feed(b"\r")
            continue
        return True
    raise AssertionError("board did not settle")


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(piece, max_size=12))
def test_sm_board_survives_any_input(pieces):
    log = io.StringIO()
    with FirmwareHarness(timeout=30, online=True, dialect="sm", verbose=True, log_stream=log) as h:
        for p in pieces:
            if p is PAUSE:
                time.sleep(0.05)  # protocol silence: lets data mode flush what it holds
            else:
                h.feed(p)
        if recover(h):
            h.read_available()
            h.feed(PROBE)
            h.read_until(PROBE_ANSWER, timeout=30)
        assert h.fw.is_running
    # A model bug is caught and answered ERROR; it must never happen.
    assert "internal error" not in log.getvalue()
    assert "crashed" not in log.getvalue()


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_at_parser_is_total(data):
    line = b"AT#XFOO=" + data
    parser = AtParser(line)
    assert parser.count >= 1
    cmd_type(line)
    for i in range(parser.count + 2):
        for call in (lambda i=i: parser.num(i, UINT16), lambda i=i: parser.string(i, 128)):
            try:
                call()
            except ParseError as exc:
                assert exc.code < 0


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=40))
def test_grammar_and_matching_are_total(data):
    grammar_ok(data)
    grammar_ok(b"AT" + data)
    filter_matches(data, "AT#XSEND")
    filter_matches(b"AT#XSEND" + data, "AT#XSEND")
