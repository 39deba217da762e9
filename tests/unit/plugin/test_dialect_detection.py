"""Telling the firmware generations apart from their version answers (pytest_slm.dialects)."""

from __future__ import annotations

import pytest

from pytest_slm import dialects
from pytest_slm.at.result import AtResult


def board(**answers: tuple[list[str], str]):
    """An `at` callable answering version commands as a board would; others: ERROR."""

    def at(command: str) -> AtResult:
        lines, final = answers.get(command[3:], ([], "ERROR"))
        return AtResult(command=command, lines=lines, payloads=[], final=final, duration=0.0)

    return at


V20_BOARD = board(XSLMVER=(['#XSLMVER: "2.0.0"'], "OK"))
SM_BOARD = board(XSMVER=(['#XSMVER: "v2.0.0-preview1","3.1.99"'], "OK"))


def test_v20_is_detected_from_xslmver():
    found = dialects.detect(V20_BOARD)
    assert (found.dialect.name, found.version) == ("v20", "2.0.0")
    assert found.describe() == "SLM 2.0.0 (dialect v20)"


@pytest.mark.parametrize(
    "line, version",
    [
        ('#XSMVER: "v2.0.0-preview1","3.1.99"', "v2.0.0-preview1"),
        ('#XSMVER: "v2.1.0","3.2.0","acme-7"', "v2.1.0"),
        ("#XSMVER: 2.0.0,3.1.0", "2.0.0"),
    ],
)
def test_serial_modem_is_detected_from_xsmver(line, version):
    found = dialects.detect(board(XSMVER=([line], "OK")))
    assert (found.dialect.name, found.version) == ("sm", version)


def test_an_slm_outside_v20_is_one_clear_error():
    with pytest.raises(dialects.DialectError, match=r"SLM 2\.5\.0 .* no dialect"):
        dialects.detect(board(XSLMVER=(['#XSLMVER: "2.5.0","2.5.0"'], "OK")))


def test_a_board_answering_neither_is_one_clear_error():
    with pytest.raises(dialects.DialectError, match="neither #XSMVER nor #XSLMVER"):
        dialects.detect(board())


@pytest.mark.parametrize("requested, detected", [("sm", V20_BOARD), ("v20", SM_BOARD)])
def test_a_mismatch_with_the_option_names_both(requested, detected):
    found = dialects.detect(detected)
    expected = rf"--dialect {requested} .* but the board runs"
    with pytest.raises(dialects.DialectError, match=expected):
        dialects.resolve(requested, found)


@pytest.mark.parametrize("requested", ["auto", "v20"])
def test_auto_or_the_same_dialect_is_accepted(requested):
    assert dialects.resolve(requested, dialects.detect(V20_BOARD)).dialect.name == "v20"


def test_an_unknown_dialect_name_lists_the_choices():
    with pytest.raises(dialects.DialectError, match="auto, v20, sm"):
        dialects.get("slm25")
