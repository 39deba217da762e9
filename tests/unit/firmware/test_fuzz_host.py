"""Property tests: no input sequence crashes or wedges the simulated board, in any dialect.

After any mix of command lines, garbage, control characters, quotes, data-mode entries,
terminators and silences, the board must still be alive: once its input is processed, leaving
data mode (or the dropped-input mode a failed Serial Modem send leaves), closing an open quote
and ending a partial line bring it back to where a probe command gets its exact answer. One
harness serves every dialect; a `Fuzzed` names what differs (its commands, its line end).
The v2.0 parser's own properties follow; the Serial Modem parser's are in
tests/unit/firmware_sm/test_sm_fuzz.py.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_ref.core.modem import DEFAULT_IMEI
from firmware_ref.core.params import ParamError, Params
from firmware_ref.core.parser import cmd_casecmp, cmd_type_get, grammar_ok
from firmware_ref.testing import FirmwareHarness, temporary_command

PAUSE = object()  # a silence longer than the data-mode time limit


@dataclass(frozen=True)
class Fuzzed:
    """What the fuzz harness needs to know of one dialect."""

    dialect: str
    end: bytes  # the line end the firmware takes for a command
    names: tuple[str, ...]  # commands that stay on this machine
    fixed: tuple[bytes, ...] = ()  # whole lines that reach deeper states than random ones
    online: bool = False
    setup: Callable[[], AbstractContextManager[object]] = nullcontext


def _data_handler(fw, cmd_type, params):
    fw.enter_data_mode(lambda data: not data.startswith(b"FAIL"), None)


# SLM v2.0: the board is offline, so socket commands answer ERROR without touching the host's
# stack; a test-only command enters data mode (#XSEND would need a connected socket).
V20 = Fuzzed(
    dialect="v20",
    end=b"\r\n",
    names=(
        "#XSOCKET", "#XSSOCKET", "#XSOCKETSELECT", "#XSOCKETOPT", "#XSSOCKETOPT", "#XSEND",
        "#XRECV", "#XPOLL", "#XSLMVER", "#XDATACTRL", "#XRESET", "#XQDATA", "#XQDAT", "#X",
        "+CEREG", "+CGSN", "+CGMR", "%CMNG", "+CGPADDR", "+CMEE", "+NOPE", "&X", "E0", "",
    ),
    setup=lambda: temporary_command("AT#XQDATA", 900, _data_handler),
)  # fmt: skip
# Serial Modem: online, with real sockets. Name resolution and blocking receives are left out:
# a fuzzed #XRECV=<h>,0,0,0 waits for data for ever, as the firmware does.
SM = Fuzzed(
    dialect="sm",
    end=b"\r",
    names=(
        "#XSOCKET", "#XSSOCKET", "#XCLOSE", "#XSOCKETOPT", "#XSSOCKETOPT", "#XBIND", "#XLISTEN",
        "#XACCEPT", "#XSEND", "#XAPOLL", "#XRECVCFG", "#XSMVER", "#XSLMVER", "#XDATACTRL",
        "#XRESET", "#XSOCKETSELECT", "#X", "+CEREG", "+CGSN", "%CMNG", "+CMEE", "+NOPE", "&X",
        "E0", "E1", "",
    ),
    fixed=(
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
    ),
    online=True,
)  # fmt: skip

param = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=-2, max_value=9).map(str),
    st.text(alphabet='abc,="\r\n\x08\x7f ()+-', max_size=12).map(lambda t: f'"{t}"'),
    st.sampled_from(["", " ", "  ", "(1,2)", "0x10", "1a", "+5", "abc", ",", "=", "00", "-0"]),
)


def pieces(fuzzed: Fuzzed) -> st.SearchStrategy[list[object]]:
    line = st.builds(
        lambda prefix, name, kind, params, end: (
            (prefix + name + kind + ",".join(params)).encode("latin-1") + end
        ),
        st.sampled_from(["AT", "at", "aT", " AT", "A", ""]),
        st.sampled_from(fuzzed.names),
        st.sampled_from(["", "?", "=?", "=", "=?x", "??"]),
        st.lists(param, max_size=6),
        st.sampled_from([b"\r\n", b"\r", b"\n", b"", b"\r\n\r\n"]),
    )
    piece = st.one_of(
        line,
        line,
        *([st.sampled_from(fuzzed.fixed)] if fuzzed.fixed else []),
        st.binary(max_size=48),
        st.sampled_from([b"+++", b"++", b'"', b"\x08", b"\x7f", b"\r", b"\n", b"\r\n", b"\x00"]),
        st.just(PAUSE),
    )
    return st.lists(piece, max_size=12)


def recover(h: FirmwareHarness, end: bytes) -> bool:
    """Bring the board back to command mode; False when only gigabytes of data would."""
    fw = h.fw
    for _ in range(12):
        # A fuzzed AT#XDATACTRL may have set a data-mode flush time of up to 65.5 s.
        assert fw.wait_idle(30 + fw.datamode_time_limit / 1000), "board stopped taking input"
        # Serial Modem's data mode may wait for a <data_len> (SLM v2.0's has none).
        remaining = getattr(fw, "datamode_remaining", 0)
        if remaining > 65536:
            # A fuzzed <data_len> (a negative one is ~4 GB): the firmware really waits for it.
            return False
        if remaining:
            h.feed(bytes(remaining))
            continue
        if fw.in_data_mode:
            # Idle in data mode means the buffer was flushed after a silence, so this +++ is
            # a flush of its own: the terminator. In the dropped-input mode only it counts.
            h.feed(b"+++")
            continue
        if fw.in_quotes:
            h.feed(b'"')
            continue
        if fw.line_pending:
            h.feed(end)
            continue
        return True
    raise AssertionError("board did not settle")


@pytest.mark.parametrize("fuzzed", [V20, SM], ids=lambda f: f.dialect)
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_board_survives_any_input(fuzzed: Fuzzed, data: st.DataObject) -> None:
    log = io.StringIO()
    with (
        fuzzed.setup(),
        FirmwareHarness(
            timeout=30,
            online=fuzzed.online,
            dialect=fuzzed.dialect,
            verbose=True,
            log_stream=log,
        ) as h,
    ):
        for p in data.draw(pieces(fuzzed), label="pieces"):
            if p is PAUSE:
                time.sleep(0.05)  # protocol silence: lets data mode flush what it holds
            else:
                h.feed(p)
        if recover(h, fuzzed.end):
            h.read_available()
            h.feed(b"AT+CGSN=1" + fuzzed.end)
            h.read_until(b'\r\n+CGSN: "' + DEFAULT_IMEI.encode() + b'"\r\n\r\nOK\r\n', timeout=30)
        assert h.fw.is_running
    # A model bug is caught and answered ERROR; it must never happen.
    assert "internal error" not in log.getvalue()
    assert "crashed" not in log.getvalue()


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
