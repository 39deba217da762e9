"""The AT host at its boundaries, to the byte: line editing, the line buffer's exact length, quote
state after an overflow, and the framing of answers the modem gives through SLM.

Each case pins the answer at, below and above a limit, so a firmware change that moves a limit
by one, or frames a passed-through answer differently, turns the suite red. Raw bytes are read
from the transcript only where the framing itself is the subject.
"""

from __future__ import annotations

import pytest
from slmsuite import ERROR, accepted, refused

from pytest_slm.at.transcript import RX

# AT_MAX_CMD_LEN: 4096 bytes including the NUL, so 4095 stored characters, and the CR of the
# CRLF is stored before the LF ends the line: the longest line a host can send has 4094
# characters before its CRLF.
LONGEST = 4094
VERSION_PREFIX = "#XSLMVER: "


def _received(slm, mark) -> bytes:
    return b"".join(e.data for e in slm.transcript.entries(mark) if e.direction == RX)


def _version_line(fill: int) -> str:
    """An #XSLMVER line of exactly `fill` + 13 characters: its parameter is ignored."""
    return 'AT#XSLMVER="' + "x" * fill + '"'


# --------------------------------------------------------------------------- line editing


@pytest.mark.parametrize("control", ["\x08", "\x7f", "\x08\x08\x7f"], ids=["bs", "del", "three"])
def test_editing_bytes_at_the_start_of_a_line_are_harmless(slm, control):
    # Backspace and DEL on an empty line change nothing (the count stays at 0).
    result = slm.at(control + "AT#XSLMVER")
    assert result.lines[0].startswith(VERSION_PREFIX)


def test_backspace_removes_exactly_one_character(slm):
    accepted(slm, "ATX\x08")
    refused(slm, "ATXY\x08")
    version = slm.at("AT#XSLMVER").lines[0]
    accepted(slm, "AT#XSLMVEX\x7fR", [version])
    refused(slm, "AT#XSLMVERX\x7f\x7f")


def test_other_control_bytes_at_the_start_are_stored(slm):
    # Only BS and DEL edit: any other byte is part of the line, so the line is no command.
    refused(slm, "\x01AT")
    refused(slm, "\x1bAT")
    refused(slm, " AT")


# --------------------------------------------------------------------------- line buffer


def test_longest_line_is_accepted(slm):
    line = _version_line(LONGEST - 13)
    assert len(line) == LONGEST
    result = slm.at(line)
    assert result.lines[0].startswith(VERSION_PREFIX)


def test_one_below_the_longest_line_is_accepted(slm):
    result = slm.at(_version_line(LONGEST - 14))
    assert result.lines[0].startswith(VERSION_PREFIX)


def test_one_character_more_overflows_and_the_lf_is_left_on_the_line(slm):
    # 4095 characters: the CR is the 4096th byte and overflows the buffer (ERROR); the LF comes
    # after the overflowed line and is stored as the first character of the next one.
    line = _version_line(LONGEST + 1 - 13)
    result = slm.at(line, check=False)
    assert (result.lines, result.final) == ([], ERROR)
    refused(slm, "AT")  # "\nAT"
    accepted(slm, "AT")


def test_quote_state_after_an_overflowed_line(slm):
    # The overflow ends the line with a quote open; the quote state goes with it, so the
    # CRLF after the leftover characters ends a (bad) line instead of being quoted data.
    line = 'AT#XSLMVER="' + "x" * 5000
    result = slm.at(line, check=False)
    assert (result.lines, result.final) == ([], ERROR)
    slm.wait_urc("ERROR", match=lambda text: text == ERROR)
    accepted(slm, "AT")


def test_crlf_inside_quotes_does_not_end_the_line(slm):
    # Inside quotes CR and LF are data: the line ends at the CRLF after the closing quote,
    # and the string parameter (ignored by #XSLMVER) parses.
    result = slm.at('AT#XSLMVER="a\r\nb"')
    assert result.lines[0].startswith(VERSION_PREFIX)


# --------------------------------------------------------------------------- modem answers


def test_modem_answer_with_one_line_is_framed_like_slm_answers(slm):
    mark = slm.transcript.mark()
    result = slm.at("AT+CGMR")
    assert len(result.lines) == 1
    assert _received(slm, mark) == b"\r\n" + result.lines[0].encode() + b"\r\n\r\nOK\r\n"


def test_modem_answer_with_several_lines_has_no_blank_line_between_them(slm):
    # The modem's lines come as it wrote them; SLM adds one CRLF before the answer and one
    # before the final result (format_final_result), none between the lines.
    mark = slm.transcript.mark()
    result = slm.at("AT%CMNG=1")
    assert len(result.lines) >= 2, "the bring-up provisions several credentials"
    body = b"".join(line.encode() + b"\r\n" for line in result.lines)
    assert _received(slm, mark) == b"\r\n" + body + b"\r\nOK\r\n"


def test_modem_answer_without_information_lines(slm):
    mark = slm.transcript.mark()
    accepted(slm, "AT")
    assert _received(slm, mark) == b"\r\nOK\r\n"


def test_modem_error_is_one_framed_line(slm):
    mark = slm.transcript.mark()
    result = slm.at("AT+CFUN=99", check=False)
    assert (result.lines, result.final) == ([], ERROR)
    assert _received(slm, mark) == b"\r\nERROR\r\n"


def test_cmee_is_off_after_boot(slm):
    # SLM never sets +CMEE; the modem starts with 0: a failure is ERROR, not +CME ERROR.
    accepted(slm, "AT+CMEE?", ["+CMEE: 0"])
