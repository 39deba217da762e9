"""Golden transcripts: Serial Modem's host loop and generic commands.

Sources (nrfconnect/ncs-serial-modem v2.0.0-preview1): app/src/sm_at_host.c
(cmd_rx_handler 1200-1345, cmd_grammar_check 873, cmd_send 1126, sm_at_cb_wrapper 1605,
handle_at_datactrl 2082), app/src/sm_at_commands.c (handle_at_smver 70-84, ATE0/ATE1 306-322),
app/Kconfig (CONFIG_SM_CR_TERMINATION default, SM_AT_ECHO_MAX_LEN 4096).
"""

from __future__ import annotations

import io

import pytest
from smtools import ERROR, OK, at, info

from firmware_ref.dialects.sm.version import release
from firmware_ref.testing import FirmwareHarness


def test_version_command(sm) -> None:
    # sm_at_commands.c:79: "#XSMVER: %s,%s" with SM_VERSION and NCS_VERSION_STRING stringified.
    rel = release()
    assert at(sm, "AT#XSMVER") == info(f'#XSMVER: "{rel.sm_version}","{rel.ncs_version}"') + OK
    assert rel.sm_version == "v2.0.0-preview1"


def test_slm_version_command_is_not_serial_modem(sm) -> None:
    # No custom filter for AT#XSLMVER: the line goes to the modem, which does not know it.
    assert at(sm, "AT#XSLMVER") == ERROR


@pytest.mark.parametrize("form", ["AT#XSMVER?", "AT#XSMVER=?"])
def test_version_read_and_test_forms_fail(sm, form: str) -> None:
    # handle_at_smver returns -EINVAL for anything but SET (sm_at_commands.c:72).
    assert at(sm, form) == ERROR


def test_cr_ends_a_line_and_lf_is_noise(sm) -> None:
    # sm_at_host.c:1262 (CR termination); an LF with nothing buffered is dropped (1207).
    sm.feed(b"AT\r\n\nAT\r")
    assert sm.read_final() == OK
    assert sm.read_final() == OK
    sm.assert_silent(0.2, settle=True)


def test_lf_alone_does_not_end_a_line(sm) -> None:
    sm.feed(b"AT\n")
    sm.assert_silent(0.2, settle=True)
    # The LF is part of the line now: "AT\n" fails the grammar check.
    sm.feed(b"\r")
    assert sm.read_final() == ERROR


def test_bytes_before_at_are_ignored(sm) -> None:
    # Nothing is buffered until "A" then "T" (sm_at_host.c:1207-1212).
    sm.feed(b"xyz\x00\xffAT\r")
    assert sm.read_final() == OK


def test_a_repeated_a_restarts_nothing(sm) -> None:
    # "AAT": the second A is not T, so the buffer is dropped, and "T" alone is dropped too.
    sm.feed(b"AAT\r")
    sm.assert_silent(0.2, settle=True)
    assert at(sm, "at") == OK


def test_backspace_is_stored_after_deleting(sm) -> None:
    # sm_at_host.c:1236-1252 then 1276-1286: BS removes the previous byte and is then written
    # into the buffer itself, so an edited line fails the grammar check.
    sm.feed(b"AT+CGSNX\x08\r")
    assert sm.read_final() == ERROR


def test_quoted_cr_does_not_end_the_line(sm) -> None:
    sm.feed(b'AT#XGETADDRINFO="a\rb"\r')
    # The quoted CR is kept; the name is not resolvable by the host resolver.
    assert sm.read_final() == info('#XGETADDRINFO: "EAI_UNKNOWN"') + ERROR


def test_overflow_answers_error_at_once(sm) -> None:
    # at_buf grows to AT_BUF_MAX_SIZE 8192; at 8190 buffered bytes the next byte is ERROR
    # (sm_at_host.c:1214-1220) and the line is forgotten.
    sm.feed(b"AT+" + b"A" * 8187)
    sm.assert_silent(0.1, settle=True)
    sm.feed(b"B")
    assert sm.read_final() == ERROR
    sm.feed(b"\r")
    sm.assert_silent(0.1, settle=True)
    assert at(sm, "AT") == OK


def test_longest_line_is_dispatched(sm) -> None:
    # 8189 bytes and CR: dispatched (to the modem, which does not know the command).
    sm.feed(b"AT+" + b"A" * 8186 + b"\r")
    assert sm.read_final() == ERROR
    assert at(sm, "AT") == OK


@pytest.mark.parametrize(
    "line",
    ["AT&XSOCKET=1,1,0", "AT#", "AT#X SOCKET", "AT#XSMVER??", "AT#XSMVER=??", "ATE2", "ATX"],
)
def test_grammar_errors(sm, line: str) -> None:
    # cmd_grammar_check (sm_at_host.c:873-961) answers ERROR (cmd_send 1149-1154).
    assert at(sm, line) == ERROR


def test_echo(sm) -> None:
    # ATE1/ATE0 (sm_at_commands.c:306-322); every received byte is echoed (1296-1316).
    sm.feed(b"ATE1\r")
    assert sm.read_final() == OK
    sm.feed(b"zAT\r")
    assert sm.read_final() == b"zAT\r" + OK
    sm.feed(b"ATE0\r")
    assert sm.read_final() == b"ATE0\r" + OK
    assert at(sm, "AT") == OK


def test_custom_command_names_match_whole(sm) -> None:
    # The custom filter is the whole command name: AT#XSMVERX is not AT#XSMVER.
    assert at(sm, "AT#XSMVERX") == ERROR
    assert at(sm, "at#xsmver").startswith(b'\r\n#XSMVER: "')


def test_malformed_parameters_fail_before_the_handler(sm) -> None:
    # at_parser_cmd_count_get fails (EBADMSG) in sm_at_cb_wrapper (sm_at_host.c:1615).
    assert at(sm, "AT#XSOCKET=1 1,0") == ERROR
    assert at(sm, 'AT#XSOCKET="1"x,1') == ERROR
    assert at(sm, "AT#XSOCKET?") == OK  # nothing open: an empty list


def test_datactrl(sm) -> None:
    # handle_at_datactrl (sm_at_host.c:2082-2111): 0 until data mode computed it; the minimum
    # is 256 bytes at 115200 baud (22 ms) plus 10 ms.
    assert at(sm, "AT#XDATACTRL?") == info("#XDATACTRL: 0,32") + OK
    assert at(sm, "AT#XDATACTRL=?") == info("#XDATACTRL=<time_limit>") + OK
    assert at(sm, "AT#XDATACTRL=31") == ERROR
    assert at(sm, "AT#XDATACTRL=0") == ERROR
    assert at(sm, "AT#XDATACTRL=65536") == ERROR
    assert at(sm, "AT#XDATACTRL=100") == OK
    assert at(sm, "AT#XDATACTRL?") == info("#XDATACTRL: 100,32") + OK


def test_reset_reboots_after_ok(sm) -> None:
    assert at(sm, "AT#XRESET") == OK
    sm.wait_output(b"Ready\r\n")
    assert at(sm, "AT#XRESET?") == ERROR


def test_modem_commands_pass_through(sm) -> None:
    out = at(sm, "AT+CGSN=1")
    assert out.startswith(b'\r\n+CGSN: "') and out.endswith(OK)
    assert at(sm, "AT+CFUN?") == info("+CFUN: 1") + OK


def test_urcs_wait_for_data_mode_to_end(sm) -> None:
    # Modem notifications go to the URC buffer (notification_handler -> urc_send) and leave
    # only when the host is idle in command mode (send_urcs from idle_work): after the data-mode
    # exit answer, not dropped.
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, "AT+CEREG=5") == OK
    assert at(sm, "AT+CFUN=4") == OK
    assert sm.read_until(b"\r\n+CEREG: 0") == b"\r\n+CEREG: 0"
    sm.read_until(b"\r\n")
    # Both lines in one piece: data mode is entered before the first notification is due.
    sm.feed(b"AT+CFUN=1\rAT#XSEND=0,2,0\r")
    assert sm.read_final() == OK
    assert sm.read_final() == OK
    assert sm.fw.mode == "data"
    sm.assert_silent(0.3)  # registration happens meanwhile; nothing may interrupt data mode
    sm.feed(b"+++")
    out = sm.read_until(b"\r\n+CEREG: 1") + sm.read_until(b"\r\n")
    frames = out.split(b"\r\n\r\n")
    assert frames[0] == b"\r\n#XDATAMODE: 0"
    assert [f.split(b",")[0] for f in frames[1:]] == [b"+CEREG: 2", b"+CEREG: 1"]
    assert out.endswith(b"\r\n")


def test_credentials_never_reach_the_log() -> None:
    log = io.StringIO()
    secret = "-----BEGIN CERTIFICATE-----\r\nMIIsecretsecret\r\n-----END CERTIFICATE-----"
    with FirmwareHarness(dialect="sm", verbose=True, log_stream=log) as h:
        assert at(h, f'AT%CMNG=0,42,0,"{secret}"') == OK
    assert "MIIsecretsecret" not in log.getvalue()
    assert "%CMNG" in log.getvalue()
