"""Property tests: no input sequence crashes or wedges the simulated board.

After any mix of lines, garbage, control characters, quotes, data-mode entries and terminators,
the board must still be alive: once the input is processed, leaving data mode (silence, then
``+++``), closing an open quote and ending a partial line bring it back to a state where a
probe command gets its exact answer.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_ref.core.modem import DEFAULT_IMEI
from firmware_ref.core.params import ParamError, Params
from firmware_ref.core.parser import cmd_casecmp, cmd_type_get, grammar_ok
from firmware_ref.testing import FirmwareHarness, temporary_command

PROBE = b"AT+CGSN=1\r\n"
PROBE_ANSWER = b'\r\n+CGSN: "' + DEFAULT_IMEI.encode() + b'"\r\n\r\nOK\r\n'
PAUSE = object()  # a silence longer than the data-mode time limit

# Commands that stay on this machine: everything here fails fast or works without a network
# (the board is offline, so socket commands answer ERROR without touching the host's stack).
NAMES = [
    "#XSOCKET",
    "#XSSOCKET",
    "#XSOCKETSELECT",
    "#XSOCKETOPT",
    "#XSSOCKETOPT",
    "#XSEND",
    "#XRECV",
    "#XPOLL",
    "#XSLMVER",
    "#XDATACTRL",
    "#XRESET",
    "#XQDATA",
    "#XQDAT",
    "#X",
    "+CEREG",
    "+CGSN",
    "+CGMR",
    "%CMNG",
    "+CGPADDR",
    "+CMEE",
    "+NOPE",
    "&X",
    "E0",
    "",
]

param = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(alphabet='abc,="\r\n\x08\x7f ()+-', max_size=12).map(lambda t: f'"{t}"'),
    st.sampled_from(["", " ", "  ", "(1,2)", "0x10", "1a", "+5", "abc", ",", "="]),
)
line = st.builds(
    lambda prefix, name, kind, params, end: (
        (prefix + name + kind + ",".join(params)).encode("latin-1") + end
    ),
    st.sampled_from(["AT", "at", "aT", " AT", "A", ""]),
    st.sampled_from(NAMES),
    st.sampled_from(["", "?", "=?", "=", "=?x", "??"]),
    st.lists(param, max_size=6),
    st.sampled_from([b"\r\n", b"\r", b"\n", b"", b"\r\n\r\n"]),
)
piece = st.one_of(
    line,
    line,
    st.binary(max_size=48),
    st.sampled_from([b"+++", b"++", b'"', b"\x08", b"\x7f", b"\r", b"\n", b"\r\n", b"\x00"]),
    st.just(PAUSE),
)


def _data_handler(fw, cmd_type, params):
    fw.enter_data_mode(lambda data: not data.startswith(b"FAIL"), None)


def recover(h: FirmwareHarness) -> None:
    fw = h.fw
    for _ in range(10):
        # A fuzzed AT#XDATACTRL may have set a data-mode flush time of up to 65.5 s.
        assert fw.wait_idle(30 + fw.datamode_time_limit / 1000), "board stopped taking input"
        if fw.in_data_mode:
            # Idle in data mode means the buffer was flushed after a silence, so this +++ is
            # a flush of its own: the terminator.
            h.feed(b"+++")
            continue
        if fw.in_quotes:
            h.feed(b'"')
            continue
        if fw.line_pending:
            h.feed(b"\r\n")
            continue
        return
    raise AssertionError("board did not settle")


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(piece, max_size=12))
def test_board_survives_any_input(pieces):
    with (
        temporary_command("AT#XQDATA", 900, _data_handler),
        FirmwareHarness(timeout=30) as h,
    ):
        for p in pieces:
            if p is PAUSE:
                time.sleep(0.05)  # protocol silence: lets data mode flush what it holds
            else:
                h.feed(p)
        recover(h)
        h.read_available()
        h.feed(PROBE)
        h.read_until(PROBE_ANSWER, timeout=30)
        assert h.fw.is_running


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_parser_fails_only_with_param_error(data):
    line = b"AT#XFOO=" + data
    try:
        params = Params.parse(line)
    except ParamError:
        return
    assert 1 <= params.valid_count() <= 41
    for i in range(params.valid_count() + 1):
        for getter in (params.get_int, params.get_uint, params.get_ushort, params.get_string):
            try:
                getter(i)
            except ParamError:
                pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40))
def test_grammar_and_matching_are_total(data):
    grammar_ok(data)
    cmd_type_get(data)
    cmd_casecmp(data, "AT#XSEND")
    cmd_casecmp(b"AT" + data, "AT#XSEND")
