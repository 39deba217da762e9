"""Modem-side commands: CFUN, CEREG and its notification, CGPADDR, CGSN, CGMR, %CMNG, resets."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from firmware_ref.core import modem_commands
from firmware_ref.core.host import FirmwareConfig
from firmware_ref.core.modem import DEFAULT_IMEI, ModemState
from firmware_ref.dialects.v20 import V20
from firmware_ref.testing import FirmwareHarness, at

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
CEREG_FULL = b'1,"0001","01A2B3C4",7'


@pytest.fixture
def h():
    with FirmwareHarness() as harness:
        yield harness


def test_cfun_read_set(h):
    h.feed(b"AT+CFUN?\r\n")
    h.wait_output(b"\r\n+CFUN: 0\r\n" + OK)
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.feed(b"AT+CFUN?\r\n")
    h.wait_output(b"\r\n+CFUN: 1\r\n" + OK)
    assert h.fw.modem.online
    h.feed(b"AT+CFUN=4\r\n")
    h.wait_output(OK)
    h.feed(b"AT+CFUN?\r\n")
    h.wait_output(b"\r\n+CFUN: 4\r\n" + OK)
    assert not h.fw.modem.online
    h.feed(b"AT+CFUN=0\r\n")
    h.wait_output(OK)


@pytest.mark.parametrize("line", [b"AT+CFUN=7", b"AT+CFUN", b'AT+CFUN="1"', b"AT+CFUN=-1"])
def test_cfun_rejects_bad_modes(h, line):
    h.feed(line + b"\r\n")
    h.wait_output(ERROR)


def test_online_boot():
    with FirmwareHarness(online=True) as h:
        h.feed(b"AT+CFUN?\r\n")
        h.wait_output(b"\r\n+CFUN: 1\r\n" + OK)


@pytest.mark.parametrize(
    ("n", "searching", "registered"),
    [
        (1, b"+CEREG: 2", b"+CEREG: 1"),
        (2, b'+CEREG: 2,"FFFE","FFFFFFFF",7', b"+CEREG: " + CEREG_FULL),
        (3, b'+CEREG: 2,"FFFE","FFFFFFFF",7', b"+CEREG: " + CEREG_FULL),
        (
            5,
            b'+CEREG: 2,"FFFE","FFFFFFFF",7',
            b"+CEREG: " + CEREG_FULL + b',,,"11100000","11100000"',
        ),
    ],
)
def test_cereg_notifications_follow_attach(h, n, searching, registered):
    h.feed(b"AT+CEREG=%d\r\n" % n)
    h.wait_output(OK)
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)  # the answer comes at once, the notifications later
    h.wait_output(b"\r\n" + searching + b"\r\n", timeout=10)
    h.wait_output(b"\r\n" + registered + b"\r\n", timeout=10)


def test_cgev_when_enabled(h):
    assert at(h, "AT+CGEREP=1") == OK
    assert at(h, "AT+CFUN=1") == OK
    h.wait_output(b"\r\n+CGEV: ME PDN ACT 0\r\n", timeout=10)
    h.feed(b"AT+CFUN=4\r\n")
    h.wait_output(OK)
    h.wait_output(b"\r\n+CGEV: ME DETACH\r\n", timeout=10)


def test_quick_detach_cancels_the_pending_registration(h):
    assert at(h, "AT+CEREG=1") == OK
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.feed(b"AT+CFUN=4\r\n")
    # "+CEREG: 2" may or may not slip in before the detach; "+CEREG: 1" must never come.
    out = h.read_until(b"\r\n+CEREG: 0\r\n", timeout=10)
    assert out.count(OK) == 1
    assert b"+CEREG: 1" not in out
    h.assert_silent(0.3, settle=True)
    h.feed(b"AT+CEREG?\r\n")
    h.wait_output(b"\r\n+CEREG: 1,0\r\n" + OK)


def test_no_cereg_notification_when_disabled(h):
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.assert_silent(0.5, settle=True)


def test_detach_notifies_not_registered(h):
    assert at(h, "AT+CEREG=1") == OK
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.wait_output(b"\r\n+CEREG: 2\r\n")
    h.wait_output(b"\r\n+CEREG: 1\r\n")
    h.feed(b"AT+CFUN=4\r\n")
    h.wait_output(OK)
    h.wait_output(b"\r\n+CEREG: 0\r\n")


def test_cereg_read(h):
    h.feed(b"AT+CEREG?\r\n")
    h.wait_output(b"\r\n+CEREG: 0,0\r\n" + OK)
    assert at(h, "AT+CEREG=2") == OK
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.read_until(b"\r\n+CEREG: " + CEREG_FULL + b"\r\n")
    h.feed(b"AT+CEREG?\r\n")
    h.wait_output(b"\r\n+CEREG: 2," + CEREG_FULL + b"\r\n" + OK)
    h.feed(b"AT+CEREG=9\r\n")
    h.wait_output(ERROR)


def test_cgpaddr():
    with FirmwareHarness(address="10.1.2.3", address6="2001:db8::7") as h:
        h.feed(b"AT+CGPADDR\r\n")
        h.wait_output(OK)  # no active context yet
        h.feed(b"AT+CFUN=1\r\n")
        h.wait_output(OK)
        line = b'\r\n+CGPADDR: 0,"10.1.2.3","2001:DB8:0:0:0:0:0:7"\r\n' + OK
        h.feed(b"AT+CGPADDR\r\n")
        h.wait_output(line)
        h.feed(b"AT+CGPADDR=0\r\n")
        h.wait_output(line)
        h.feed(b"AT+CGPADDR=1\r\n")
        h.wait_output(ERROR)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 else 1)
        total += v - 9 if v > 9 else v
    return total % 10 == 0


def test_cgsn_and_cgmr(h):
    assert re.fullmatch(r"\d{15}", DEFAULT_IMEI) and _luhn_ok(DEFAULT_IMEI)
    imei = DEFAULT_IMEI.encode()
    h.feed(b"AT+CGSN\r\n")
    h.wait_output(b"\r\n" + imei + b"\r\n" + OK)
    h.feed(b"AT+CGSN=1\r\n")
    h.wait_output(b'\r\n+CGSN: "' + imei + b'"\r\n' + OK)
    h.feed(b"AT+CGMR\r\n")
    h.wait_output(b"\r\nmfw_nrf9160_1.3.2\r\n" + OK)


def test_slmver(h):
    h.feed(b"AT#XSLMVER\r\n")
    h.wait_output(b'\r\n#XSLMVER: "2.0.0"\r\n' + OK)
    h.feed(b"AT#XSLMVER?\r\n")
    h.wait_output(ERROR)


def test_cheap_modem_commands(h):
    h.feed(b"AT+CMEE=1\r\n")
    h.wait_output(OK)
    h.feed(b'AT+CGDCONT=0,"IP","apn"\r\n')
    h.wait_output(OK)
    h.feed(b"AT+CGEREP=1\r\n")
    h.wait_output(OK)


KEY = b"-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----"


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).hexdigest().upper().encode()


def test_cmng_write_list_delete(h):
    """A modem answer of several lines gets one CRLF before it and one before OK, none between
    the lines (slm_at_host.c 797-800, format_final_result 688-752)."""
    assert at(h, "AT+CMEE=1") == OK
    h.feed(b'AT%CMNG=0,42,2,"' + KEY + b'"\r\n')
    h.wait_output(OK)
    h.feed(b'AT%CMNG=0,42,3,"0102abcd"\r\n')
    h.wait_output(OK)
    h.feed(b'AT%CMNG=0,7,0,"ca"\r\n')
    h.wait_output(OK)
    h.feed(b"AT%CMNG=1\r\n")
    h.wait_output(
        b'\r\n%CMNG: 7,0,"' + sha(b"ca") + b'"\r\n'
        b'%CMNG: 42,2,"' + sha(KEY) + b'"\r\n'
        b'%CMNG: 42,3,"' + sha(b"0102abcd") + b'"\r\n' + OK
    )
    h.feed(b"AT%CMNG=1,42,3\r\n")
    h.wait_output(b'\r\n%CMNG: 42,3,"' + sha(b"0102abcd") + b'"\r\n' + OK)
    h.feed(b"AT%CMNG=3,42,3\r\n")
    h.wait_output(OK)
    h.feed(b"AT%CMNG=3,42,3\r\n")
    h.wait_output(b"\r\n+CME ERROR: 513\r\n")
    h.feed(b"AT%CMNG=1,42\r\n")
    h.wait_output(b'\r\n%CMNG: 42,2,"' + sha(KEY) + b'"\r\n' + OK)


def test_cmng_refused_while_online(h):
    assert at(h, "AT+CMEE=1") == OK
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.feed(b'AT%CMNG=0,42,3,"00"\r\n')
    h.wait_output(b"\r\n+CME ERROR: 518\r\n")
    h.feed(b"AT%CMNG=3,42,3\r\n")
    h.wait_output(b"\r\n+CME ERROR: 518\r\n")
    h.feed(b"AT%CMNG=1\r\n")  # listing is allowed in any state
    h.wait_output(OK)
    h.feed(b"AT+CFUN=4\r\n")
    h.wait_output(OK)
    h.feed(b'AT%CMNG=0,42,3,"00"\r\n')
    h.wait_output(OK)


def test_cmng_plain_error_without_cmee(h):
    """+CMEE is 0 after boot: SLM v2.0 never sets it (no CMEE anywhere in
    applications/serial_lte_modem), so modem failures are a plain ERROR until the host asks."""
    assert at(h, "AT+CMEE?") == b"\r\n+CMEE: 0\r\n" + OK
    assert at(h, "AT%CMNG=3,1,1") == ERROR
    assert at(h, "AT+CMEE=1") == OK
    assert at(h, "AT%CMNG=3,1,1") == b"\r\n+CME ERROR: 513\r\n"
    assert at(h, "AT+CMEE=0") == OK
    assert at(h, "AT%CMNG=3,1,1") == ERROR


@pytest.mark.parametrize(
    "line",
    [b'AT%CMNG=0,1,9,"x"', b"AT%CMNG=0,1,1", b"AT%CMNG=7", b"AT%CMNG?", b'AT%CMNG=0,-1,1,"x"'],
)
def test_cmng_bad_forms(h, line):
    h.feed(line + b"\r\n")
    h.wait_output(ERROR)


def test_credentials_never_reach_the_log():
    log = io.StringIO()
    with FirmwareHarness(FirmwareConfig(verbose=True, log_stream=log)) as h:
        h.feed(b'AT%CMNG=0,42,2,"' + KEY + b'"\r\n')
        h.wait_output(OK)
        h.feed(b'AT%CMNG=0,42,0,"' + KEY + b'"\r\n')
        h.wait_output(OK)
        h.feed(b"AT%CMNG=2,42,0\r\n")  # reading a CA certificate back
        h.read_final()
        h.feed(b"AT%CMNG=1\r\n")
        h.read_final()
    text = log.getvalue()
    assert "AT%CMNG" in text  # the log is on, and saw the commands
    assert "TOPSECRET" not in text
    assert "PRIVATE KEY" not in text


def test_credentials_stay_out_of_the_log_even_when_the_line_is_malformed():
    log = io.StringIO()
    big = b"TOPSECRET" * 500  # longer than a command line: overflows
    with FirmwareHarness(FirmwareConfig(verbose=True, log_stream=log)) as h:
        h.feed(b'AT%CMNG=0,42,2,"' + big + b'"\r\n')
        h.wait_output(b"\r\nERROR\r\n")
        h.feed(b'"\r\n')
        h.read_final()
        h.feed(b' at%cmng=0,42,2,"' + KEY + b'"\r\n')
        h.read_final()
        h.feed(b'AT%CMNG=0,42,2,"' + KEY + b'",x\r\n')
        h.read_final()
    text = log.getvalue()
    assert "TOPSECRET" not in text
    assert "PRIVATE KEY" not in text


def test_credentials_survive_reset_but_state_does_not():
    modem = ModemState()
    with FirmwareHarness(modem=modem) as h:
        assert at(h, 'AT%CMNG=0,1,3,"00"') == OK
        assert at(h, "AT+CEREG=1") == OK
        h.feed(b"AT+CFUN=1\r\n")
        h.wait_output(OK)
        h.read_until(b"\r\n+CEREG: 1\r\n")
        h.feed(b"AT#XRESET\r\n")
        h.wait_output(OK + b"Ready\r\n")
        assert at(h, "AT+CFUN?") == b"\r\n+CFUN: 0\r\n" + OK
        assert at(h, "AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n" + OK
        assert at(h, "AT%CMNG=1") == b'\r\n%CMNG: 1,3,"' + sha(b"00") + b'"\r\n' + OK


def test_reset_runs_shutdown_and_boot_hooks():
    events = []

    def boot(fw):
        fw.state["probe"] = len(events)
        events.append("boot")

    def down(fw):
        events.append("shutdown")

    V20.on_boot(boot)
    V20.on_shutdown(down)
    try:
        with FirmwareHarness() as h:
            assert events == ["boot"]
            h.fw.state["junk"] = 1
            h.feed(b"AT#XRESET\r\n")
            h.wait_output(OK + b"Ready\r\n")
            assert events == ["boot", "shutdown", "boot"]
            assert h.fw.state == {"probe": 2} or "junk" not in h.fw.state
        assert events[-1] == "shutdown"
    finally:
        V20.remove_hook(boot)
        V20.remove_hook(down)


def test_a_reset_followed_by_another_command_in_one_write_never_runs(h):
    """Only the last command of one UART event runs (slm_at_host.c 900-905, 864-872): the
    AT#XRESET before it is overwritten in at_buf, so the board answers OK and does not reset."""
    h.feed(b"AT#XRESET\r\nAT\r\n")
    h.wait_output(OK)
    h.assert_silent(0.2, settle=True)


def test_pending_urc_timer_dies_with_a_reset(h, monkeypatch):
    # The searching report is due 30 s after CFUN=1 here, not 10 ms: with the real delay, a
    # test thread starved for 10 ms fed the reset after the report (once under load, on CI).
    monkeypatch.setattr(modem_commands, "SEARCH_DELAY_S", 30.0)
    assert at(h, "AT+CEREG=1") == OK
    h.feed(b"AT+CFUN=1\r\n")
    h.wait_output(OK)
    h.settle()  # the command's timers start once it is done
    pending = [t for t in h.fw._timers if t.is_alive()]
    assert len(pending) == 1
    h.feed(b"AT#XRESET\r\n")
    h.wait_output(OK + b"Ready\r\n")
    # The reset cancels it: the timer's thread ends now, not in 30 s.
    pending[0].join(h.timeout)
    assert not pending[0].is_alive()
    # And a timer that fired anyway belongs to the board before the reset: it prints nothing.
    pending[0].function()
    h.assert_silent(0.2, settle=True)
