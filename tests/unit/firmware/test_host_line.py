"""Golden transcripts of the AT host: line discipline, grammar check, dispatch, framing."""

from __future__ import annotations

import time

import pytest

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.host import UNPACED_RX_TIMEOUT_S, FirmwareConfig
from firmware_ref.core.parser import cmd_casecmp, cmd_type_get, grammar_ok
from firmware_ref.testing import FirmwareHarness, temporary_command

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
VERSION = b'\r\n#XSLMVER: "2.0.0"\r\n' + OK


@pytest.fixture
def h():
    with FirmwareHarness() as harness:
        yield harness


def test_boot_banner_has_no_leading_crlf():
    with FirmwareHarness(expect_ready=False) as h:
        h.wait_output(b"Ready\r\n")


def test_plain_at_is_ok(h):
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_command_names_are_case_insensitive(h):
    h.feed(b"at\r\n")
    h.wait_output(OK)
    h.feed(b"at#xslmver\r\n")
    h.wait_output(VERSION)
    h.feed(b"At+cFuN?\r\n")
    h.wait_output(b"\r\n+CFUN: 0\r\n" + OK)


def test_empty_line_is_error(h):
    h.feed(b"\r\n")
    h.wait_output(ERROR)


@pytest.mark.parametrize(
    "line",
    [
        b"AT&X",
        b" AT",
        b"A",
        b"AT+",
        b"AT#",
        b"ATE0",
        b"AT#XSLMVER?x",
        b"AT#XSLMVER=?5",
        b"AT#XSLMVER ",
        b"XAT",
    ],
)
def test_grammar_errors(h, line):
    h.feed(line + b"\r\n")
    h.wait_output(ERROR)
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_no_echo_and_lone_cr_never_ends_a_line(h):
    h.feed(b"AT\r")
    h.assert_silent(0.2, settle=True)
    h.feed(b"\n")
    h.wait_output(OK)


def test_lone_lf_is_stored_as_data(h):
    h.feed(b"\nAT\r\n")
    h.wait_output(ERROR)
    h.feed(b"AT\n\r\n")
    h.wait_output(ERROR)


def test_crlf_split_across_writes(h):
    for b in b"AT#XSLMVER\r\n":
        h.feed(bytes([b]))
    h.wait_output(VERSION)


def test_of_several_commands_in_one_write_only_the_last_runs(h):
    """A completed line only schedules cmd_send; the UART callback goes on storing the rest of
    the event into at_buf from index 0 (slm_at_host.c 900-905, 864-872), so cmd_send sees only
    the last line."""
    h.feed(b"AT\r\nAT+CFUN?\r\n\r\nAT#XSLMVER\r\n")
    h.wait_output(VERSION)
    h.assert_silent(0.2, settle=True)


def test_writes_within_the_rx_idle_time_are_one_event():
    # The second line reaches the UART before the line has been idle for the RX timeout: one
    # event, and at_buf holds only the last command (a long idle time makes the gap certain).
    with FirmwareHarness(FirmwareConfig(rx_timeout=1.0)) as h:
        h.feed(b"AT+CFUN?\r\n")
        time.sleep(0.02)
        h.feed(b"AT#XSLMVER\r\n")
        h.wait_output(VERSION)
        h.assert_silent(0.2, settle=True)


def test_writes_further_apart_than_the_rx_idle_time_are_two_events():
    with FirmwareHarness(FirmwareConfig(rx_timeout=UNPACED_RX_TIMEOUT_S)) as h:
        h.feed(b"AT+CFUN?\r\n")
        time.sleep(0.02)  # far beyond 0.2 ms plus the line time of 12 bytes at 115200 baud
        h.feed(b"AT#XSLMVER\r\n")
        h.wait_output(b"\r\n+CFUN: 0\r\n" + OK + VERSION)


def test_backspace_and_delete_edit_the_line(h):
    h.feed(b"AX\x08T\r\n")
    h.wait_output(OK)
    h.feed(b"ATT\x7f\r\n")
    h.wait_output(OK)
    h.feed(b"\x08\x08\x7fAT\r\n")  # deleting from an empty line is harmless
    h.wait_output(OK)


def test_backspace_works_inside_quotes(h):
    seen = []

    def handler(fw, cmd_type, params):
        seen.append(params.get_bytes(1))

    with temporary_command("AT#XQTEST", 900, handler):
        h.feed(b'AT#XQTEST="abX\x08c\x7fd"\r\n')
        h.wait_output(OK)
    assert seen == [b"abd"]


def test_crlf_inside_quotes_is_stored(h):
    seen = []

    def handler(fw, cmd_type, params):
        seen.append(params.get_bytes(1))

    with temporary_command("AT#XQTEST", 900, handler):
        h.feed(b'AT#XQTEST="line1\r\nline2\rx\ny"\r\n')
        h.wait_output(OK)
    assert seen == [b"line1\r\nline2\rx\ny"]


def test_unbalanced_quote_swallows_lines_until_closed(h):
    h.feed(b'AT#XSLMVER="abc\r\nAT\r\n')
    h.assert_silent(0.2, settle=True)
    h.feed(b'"\r\n')
    h.wait_output(VERSION)


def test_longest_line_that_fits(h):
    # 4095 stored characters: the CR counts, so 4094 visible ones.
    line = b'AT#XSLMVER="' + b"x" * (4094 - 13) + b'"'
    assert len(line) == 4094
    h.feed(line + b"\r\n")
    h.wait_output(VERSION)


def test_overflow_gives_error_at_once_then_rest_is_a_new_command(h):
    line = b"AT" + b"X" * 4094  # the 4096th character overflows
    h.feed(line)
    h.wait_output(ERROR)
    h.feed(b"\r\n")  # what follows the overflow is a new, empty, command
    h.wait_output(ERROR)
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_overflow_by_the_cr_leaves_the_lf_as_data(h):
    h.feed(b"AT" + b"X" * 4093 + b"\r\n")  # the CR is the 4096th character
    h.wait_output(ERROR)
    h.feed(b"AT\r\n")  # the stored LF makes this "\nAT"
    h.wait_output(ERROR)
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_overflow_resets_quote_state(h):
    """The overflow sends the line (slm_at_host.c 850-855) and the send clears inside_quotes
    (871): the CRLF after the 16 leftover characters ends a line although a quote was open."""
    h.feed(b'AT#XSLMVER="' + b"x" * 4100)
    h.wait_output(ERROR)
    h.feed(b"\r\n")  # the tail "xxxx" is a bad command
    h.wait_output(ERROR)
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_unknown_slm_command_is_error(h):
    h.feed(b"AT#XNOSUCHTHING=1\r\n")
    h.wait_output(ERROR)


def test_unknown_modem_command_is_error(h):
    h.feed(b"AT+NOSUCH?\r\n")
    h.wait_output(ERROR)


def test_prefix_match_allows_two_extra_characters(h):
    h.feed(b"AT#XSLMVERXY\r\n")  # like bare AT#XSENDTO running AT#XSEND
    h.wait_output(VERSION)
    h.feed(b"AT#XSLMVERXYZ\r\n")
    h.wait_output(ERROR)


def test_table_order_decides_prefix_matches(h):
    calls = []
    with (
        temporary_command("AT#XQQ", 900, lambda fw, t, p: calls.append("short")),
        temporary_command("AT#XQQA", 901, lambda fw, t, p: calls.append("long")),
    ):
        # One character longer than AT#XQQ, which comes first in the table: AT#XQQ runs.
        h.feed(b"AT#XQQA\r\n")
        h.wait_output(OK)
        # Three longer, and "A" is neither "=" nor "?": AT#XQQ no longer matches.
        h.feed(b"AT#XQQA=1\r\n")
        h.wait_output(OK)
    assert calls == ["short", "long"]


def test_command_types_reach_the_handler(h):
    seen = []

    def handler(fw, cmd_type, params):
        seen.append((cmd_type, params.valid_count()))

    with temporary_command("AT#XQTEST", 900, handler):
        for line in (b"AT#XQTEST", b"AT#XQTEST=", b"AT#XQTEST=1,2", b"AT#XQTEST?", b"AT#XQTEST=?"):
            h.feed(line + b"\r\n")
            h.wait_output(OK)
    assert seen == [
        (CmdType.SET, 1),
        (CmdType.SET, 1),
        (CmdType.SET, 3),
        (CmdType.READ, 1),
        (CmdType.TEST, 1),
    ]


def test_parse_error_never_reaches_the_handler(h):
    calls = []
    with temporary_command("AT#XQTEST", 900, lambda fw, t, p: calls.append(p)):
        h.feed(b"AT#XQTEST=abc\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT#XQTEST=" + b"1," * 41 + b"1\r\n")
        h.wait_output(ERROR)
    assert calls == []


def test_handler_error_and_crash_answer_error_and_the_board_lives_on(h):
    def refuse(fw, t, p):
        raise CommandError("no")

    def crash(fw, t, p):
        raise RuntimeError("bug")

    with temporary_command("AT#XQERR", 900, refuse), temporary_command("AT#XQBUG", 901, crash):
        h.feed(b"AT#XQERR\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT#XQBUG\r\n")
        h.wait_output(ERROR)
    h.feed(b"AT\r\n")
    h.wait_output(OK)


def test_info_lines_are_framed_with_crlf_before_and_after(h):
    def handler(fw, t, p):
        fw.respond("#XQTEST: 1")
        fw.respond("#XQTEST: 2")
        fw.write(b"raw")

    with temporary_command("AT#XQTEST", 900, handler):
        h.feed(b"AT#XQTEST\r\n")
        h.wait_output(b"\r\n#XQTEST: 1\r\n\r\n#XQTEST: 2\r\nraw" + OK)


def test_input_waits_while_a_handler_runs(h):
    import threading

    release = threading.Event()
    started = threading.Event()

    def slow(fw, t, p):
        started.set()
        assert release.wait(10)

    with temporary_command("AT#XQSLOW", 900, slow):
        h.feed(b"AT#XQSLOW\r\n")
        assert started.wait(10)
        h.feed(b"AT\r\n")  # held back like bytes behind RTS, not lost
        h.assert_silent(0.1)
        release.set()
        h.wait_output(OK + OK)


def test_urc_is_framed_and_forwarded_in_command_mode(h):
    h.fw.urc("+CGEV: ME PDN ACT 0")
    h.wait_output(b"\r\n+CGEV: ME PDN ACT 0\r\n")


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        (b"AT", True),
        (b"at", True),
        (b"AT+CFUN", True),
        (b"AT+CFUN?", True),
        (b"AT+CFUN=?", True),
        (b"AT+CFUN=", True),
        (b"AT+CFUN=1,2", True),
        (b'AT#XSEND="a b?c"', True),
        (b"AT%CMNG=1", True),
        (b"AT+CFUN?x", False),
        (b"AT+CFUN=?x", False),
        (b"AT+CFUN??", False),
        (b"AT+C_FUN", False),
        (b"AT+", False),
        (b"ATD", False),
        (b"", False),
        (b"A", False),
    ],
)
def test_grammar_table(line, ok):
    assert grammar_ok(line) is ok


def test_casecmp_rules():
    assert cmd_casecmp(b"AT#XSEND", "AT#XSEND")
    assert cmd_casecmp(b"at#xsend=1", "AT#XSEND")
    assert cmd_casecmp(b"AT#XSENDTO", "AT#XSEND")
    assert not cmd_casecmp(b"AT#XSENDTO=1", "AT#XSEND")
    assert cmd_casecmp(b"AT#XSENDTO=1", "AT#XSENDTO")
    assert not cmd_casecmp(b"AT#XSEN", "AT#XSEND")
    assert cmd_casecmp(b"AT#XSOCKET?", "AT#XSOCKET")
    assert not cmd_casecmp(b"AT#XSOCKETSELECT=1", "AT#XSOCKET")


def test_cmd_type_get():
    assert cmd_type_get(b"AT#XSOCKET=1") is CmdType.SET
    assert cmd_type_get(b"AT#XSOCKET") is CmdType.SET
    assert cmd_type_get(b"AT#XSOCKET?") is CmdType.READ
    assert cmd_type_get(b"AT#XSOCKET=?") is CmdType.TEST
    assert cmd_type_get(b"AT") is CmdType.SET
    assert cmd_type_get(b"AT#XSOCKET2") is None
