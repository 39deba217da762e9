"""The lib/at_cmd_parser model: every class of parameter the handlers meet."""

from __future__ import annotations

import pytest

from firmware_ref.core.errors import CommandError
from firmware_ref.core.params import INT64_MAX, INT64_MIN, ParamError, Params
from firmware_ref.testing import FirmwareHarness


def p(line: str | bytes) -> Params:
    return Params.parse(line)


def test_param_error_is_a_command_error():
    assert issubclass(ParamError, CommandError)


def test_name_is_index_zero_and_counts():
    params = p("AT#XSOCKET=1,1,0")
    assert params.valid_count() == 4
    assert params.name == "AT#XSOCKET"
    assert [params.get_int(i) for i in (1, 2, 3)] == [1, 1, 0]
    assert params.type_of(0) == "string"
    assert params.type_of(4) is None


@pytest.mark.parametrize("line", ["AT#XSOCKET", "AT#XSOCKET=", "AT#XSOCKET?", "AT#XSOCKET=?", "AT"])
def test_no_parameters(line):
    assert p(line).valid_count() == 1


def test_missing_parameter_fails_the_getter():
    params = p("AT#XSOCKET=1")
    with pytest.raises(ParamError):
        params.get_ushort(2)
    with pytest.raises(ParamError):
        params.get_string(2, 128)


def test_empty_parameters_count_but_fail_every_getter():
    params = p("AT#XSOCKET=1,,0")
    assert params.valid_count() == 4
    assert params.type_of(2) == "empty"
    for getter in (params.get_int, params.get_uint, params.get_ushort, params.get_string):
        with pytest.raises(ParamError):
            getter(2)
    assert p("AT#XFOO=,1").type_of(1) == "empty"


@pytest.mark.parametrize(
    "line",
    [
        "AT#XFOO=abc",
        "AT#XFOO=1,abc",
        "AT#XFOO=0x10",
        "AT#XFOO=1a",
        "AT#XFOO=192.168.0.1",
        "AT#XFOO=1,  2",
        "AT#XFOO=  1",
        "AT#XFOO=+5",
        "AT#XFOO=1,#2",
        'AT#XFOO="abc',
        'AT#XFOO="a"b',
    ],
)
def test_malformed_lines_fail_to_parse(line):
    with pytest.raises(ParamError):
        p(line)


def test_strtoll_numbers():
    params = p("AT#XFOO=-5,007,0,2147483647,-2147483648")
    assert [params.get_int(i) for i in range(1, 6)] == [-5, 7, 0, 2147483647, -2147483648]


@pytest.mark.parametrize(
    ("value", "ushort", "int32", "uint32"),
    [
        (0, True, True, True),
        (65535, True, True, True),
        (65536, False, True, True),
        (-1, False, True, False),
        (2147483647, False, True, True),
        (2147483648, False, False, True),
        (-2147483648, False, True, False),
        (-2147483649, False, False, False),
        (4294967295, False, False, True),
        (4294967296, False, False, False),
    ],
)
def test_getter_ranges(value, ushort, int32, uint32):
    params = p(f"AT#XFOO={value}")
    for getter, ok in (
        (params.get_ushort, ushort),
        (params.get_int, int32),
        (params.get_uint, uint32),
    ):
        if ok:
            assert getter(1) == value
        else:
            with pytest.raises(ParamError):
                getter(1)


def test_overflow_saturates_then_fails_range_checks():
    params = p("AT#XFOO=99999999999999999999999,-99999999999999999999999")
    assert params.items[1].value == INT64_MAX
    assert params.items[2].value == INT64_MIN
    for i in (1, 2):
        for getter in (params.get_int, params.get_uint, params.get_ushort):
            with pytest.raises(ParamError):
                getter(i)


def test_extra_parameters_are_kept_for_handlers_to_ignore():
    params = p("AT#XSOCKET=1,1,0,5")
    assert params.valid_count() == 5
    assert params.get_int(3) == 0


def test_one_whitespace_before_a_parameter_is_skipped():
    params = p("AT#XFOO= 1, 2,\t3")
    assert [params.get_int(i) for i in (1, 2, 3)] == [1, 2, 3]


def test_space_between_number_and_comma_makes_an_extra_empty_parameter():
    params = p("AT#XFOO=1 ,2")
    assert [params.type_of(i) for i in (1, 2, 3)] == ["int", "empty", "int"]


def test_trailing_comma_is_tolerated_and_not_counted():
    params = p("AT#XSOCKET=1,1,0,")
    assert params.valid_count() == 4


def test_equals_is_a_separator_too():
    params = p("AT#XFOO=1=2")
    assert params.valid_count() == 3
    assert params.get_int(2) == 2


def test_arrays_parse_but_fail_scalar_getters():
    params = p("AT#XFOO=(1,2,3),4")
    assert params.type_of(1) == "array"
    assert params.get_array(1) == (1, 2, 3)
    assert params.get_int(2) == 4
    with pytest.raises(ParamError):
        params.get_int(1)
    with pytest.raises(ParamError):
        params.get_string(1)


def test_strings_are_raw_between_quotes():
    params = p(b'AT#XSEND="a,b=c\r\n\x01\xff (x)"')
    assert params.get_bytes(1) == b"a,b=c\r\n\x01\xff (x)"
    assert params.get_string(1) == "a,b=c\r\n\x01\xff (x)"
    assert p('AT#XFOO=""').get_string(1) == ""


def test_string_must_fit_its_buffer_with_a_nul():
    assert p('AT#XFOO="' + "h" * 127 + '"').get_string(1, 128) == "h" * 127
    with pytest.raises(ParamError):
        p('AT#XFOO="' + "h" * 128 + '"').get_string(1, 128)


def test_types_do_not_convert():
    params = p('AT#XFOO="5",5')
    with pytest.raises(ParamError):
        params.get_int(1)
    with pytest.raises(ParamError):
        params.get_string(2)


def test_parameter_limit_is_42_slots_including_the_name():
    assert p("AT#XFOO=" + ",".join(["1"] * 40)).valid_count() == 41
    with pytest.raises(ParamError, match="E2BIG"):
        p("AT#XFOO=" + ",".join(["1"] * 41))
    with pytest.raises(ParamError, match="E2BIG"):
        p("AT#XFOO=" + ",".join(["1"] * 100))


def test_lone_sign_loops_into_e2big():
    with pytest.raises(ParamError):
        p("AT#XFOO=-")


def test_clac_lookalike_rereads_the_line_as_one_string():
    params = p("AT#XFOO=1,AT+CFUN")
    assert params.get_string(0) == "AT#XFOO=1,AT+CFUN"
    assert params.get_int(1) == 1


def test_nul_ends_the_line():
    params = p(b"AT#XFOO=1\x00,garbage")
    assert params.valid_count() == 2


def test_getters_reject_bad_indexes():
    params = p("AT#XFOO=1")
    for i in (-1, 2, 99):
        with pytest.raises(ParamError):
            params.get_int(i)


# End to end through the host, with AT#XDATACTRL (an unsigned short, minimum 32 at 115200).
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("100", OK),
        (" 100", OK),  # one space is skipped
        ("  100", ERROR),  # two are not
        ("100,", OK),  # trailing comma
        ("100,5", OK),  # extra parameter ignored
        ('100,"x",(1,2),', OK),
        ("", ERROR),  # missing
        (",100", ERROR),  # empty
        ("+100", ERROR),
        ("0x10", ERROR),
        ("100a", ERROR),
        ('"100"', ERROR),  # quoted number
        ("(100)", ERROR),  # array
        ("abc", ERROR),  # unquoted string
        ("65535", OK),
        ("65536", ERROR),  # out of range
        ("99999999999999999999999", ERROR),  # overflow
        ("-1", ERROR),
        ("100 ", OK),  # a space is skipped even at the end
        ("100 x", ERROR),
        ("1=100", ERROR),  # "=" separates: parameter 1 is 1, below the minimum
    ],
)
def test_parameter_classes_through_the_host(value, answer):
    with FirmwareHarness() as h:
        h.feed(b"AT#XDATACTRL=" + value.encode() + b"\r\n")
        h.wait_output(answer)
