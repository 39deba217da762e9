"""Property tests of the Serial Modem parser: total on any input.

That no input crashes or wedges the Serial Modem board is the shared host fuzz harness's
(tests/unit/firmware/test_fuzz_host.py, parametrized per dialect).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_ref.dialects.sm.atparser import UINT16, AtParser, ParseError, cmd_type
from firmware_ref.dialects.sm.lines import grammar_ok
from firmware_ref.dialects.sm.table import filter_matches


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
