"""Session bring-up against the simulated board on a pty: ready, offline, credentials, online,
modem identity; and no key material anywhere it could be read."""

from __future__ import annotations

import hashlib
import logging

import pytest
from hwsupport import NoCoverage

from pytest_slm import bringup
from pytest_slm.at.transcript import Transcript
from pytest_slm.bringup import (
    BringupError,
    Credential,
    CredentialType,
    RegistrationTimeout,
    bring_up,
    cereg_stat,
    describe_cereg,
)
from pytest_slm.dut import SlmDut

CA = (
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBszCCAVmgAwIBAgIUQk3sZ8bO0cmlHq0o9Jv1x3bBqS8wCgYIKoZIzj0EAwIw\n"
    "LzEtMCsGA1UEAwwkcHl0ZXN0LXNsbSB0ZXN0IENBIChub3QgZm9yIHByb2R1Y3Rp\n"
    "-----END CERTIFICATE-----\n"
)
KEY = (
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIBeQ7sVnXyqGf0cQ9hTuzLJm3WbY7kPv2ZJc6Qd1sS7loAoGCCqGSM49\n"
    "AwEHoUQDQgAE5mQjS1vPHx8xq3k2Jq7dJ9qHc0w1WkR0m8J2x9nQp4rTyVh6Lb0B\n"
    "-----END EC PRIVATE KEY-----\n"
)
PSK = "6e3f1c0d2a9b8c7d6e5f4a3b2c1d0e9f"
SECRETS = [CA, KEY, PSK] + [
    line for text in (CA, KEY) for line in text.splitlines() if "-----" not in line
]


def creds(tag=71434):
    return [
        Credential(tag, CredentialType.ROOT_CA, CA),
        Credential(tag, CredentialType.CLIENT_KEY, KEY),
        Credential(tag + 1, CredentialType.PSK, PSK),
    ]


@pytest.fixture
def board(sim_pty):
    dut = SlmDut.open(sim_pty, transcript=Transcript(label="sim"))
    yield dut
    dut.close()


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def test_bring_up_provisions_goes_online_and_reads_identity(board, caplog, tmp_path):
    said: list[str] = []
    caplog.set_level(logging.DEBUG)
    info = bring_up(board, creds(), attach_timeout=60, ready_timeout=30, progress=said.append)
    assert info.imei.isdigit() and len(info.imei) == 15
    assert info.modem_firmware.startswith("mfw_nrf91")
    assert info.slm_version == "2.0.0"
    assert cereg_stat(info.registration) in (1, 5)
    assert info.attach_seconds is not None and info.attach_seconds < 60
    # The modem's own hashes of what it stored are those of what we sent.
    listed = board.at("AT%CMNG=1").values("%CMNG")
    stored = {(row[0], row[1]): row[2] for row in listed}
    for cred in creds():
        assert (
            stored[(cred.sec_tag, int(cred.type))]
            == hashlib.sha256(cred.content.encode()).hexdigest().upper()
        )
    assert board.at("AT+CFUN?").value("+CFUN") == [1]
    sent = board.transcript.render()
    assert "AT+CFUN=4" in sent and "AT+CEREG=5" in sent and "AT+CFUN=1" in sent
    assert sent.index("AT+CFUN=4") < sent.index("AT%CMNG=0") < sent.index("AT+CFUN=1")
    assert 'AT%CMNG=0,71434,2,"<redacted>"' in sent
    sim_logs = "".join(p.read_text() for p in (tmp_path / "sim-logs").iterdir())
    assert "stored private key sec_tag 71434" in sim_logs
    assert_no_secrets(sent, "\n".join(said), caplog.text, repr(creds()), sim_logs)
    assert any("provisioning sec_tag 71434 type 2 (client_key)" in x for x in said)
    assert any(x.startswith("online after") and info.imei in x for x in said)


def test_a_credential_already_there_is_deleted_first(board):
    bring_up(board, creds(), attach_timeout=60)
    mark = board.transcript.mark()
    bring_up(board, creds(), attach_timeout=60)
    again = board.transcript.render(since=mark)
    assert "AT%CMNG=3,71434,0" in again and "AT%CMNG=3,71435,3" in again
    assert_no_secrets(again)


def test_no_registration_fails_with_the_last_report(sim_pty, monkeypatch):
    monkeypatch.setattr(bringup, "HEARTBEAT", 0.5)
    radio = NoCoverage(sim_pty)
    dut = SlmDut.open(radio.path)
    said: list[str] = []
    try:
        with pytest.raises(RegistrationTimeout) as info:
            bring_up(dut, creds(), attach_timeout=1.5, progress=said.append)
    finally:
        dut.close()
        radio.close()
    text = str(info.value)
    assert text.startswith(
        "no LTE registration after 1.5 s, last +CEREG: 2 (not registered, searching)"
    )
    assert "--attach-timeout" in text
    assert any(
        x.startswith("still waiting for LTE registration (")
        and "last +CEREG: 2 (not registered, searching)" in x
        for x in said
    )


def test_a_refused_credential_is_reported_without_its_content(board):
    # sec_tags from 2^31 up are the modem's own: it refuses to store anything there.
    reserved = 2147483648
    with pytest.raises(BringupError) as info:
        bring_up(board, [Credential(reserved, CredentialType.CLIENT_KEY, KEY)], attach_timeout=10)
    text = str(info.value)
    assert f"writing sec_tag {reserved} type 2 (client_key) failed: the board answered" in text
    assert "<redacted>" in text
    assert_no_secrets(text, board.transcript.render())


def test_a_quote_in_content_is_refused_before_sending(board):
    with pytest.raises(BringupError, match="holds a '\"'"):
        bring_up(board, [Credential(7, CredentialType.PSK_IDENTITY, 'a"b')], attach_timeout=10)
    assert 'a"b' not in board.transcript.render()


def test_silent_board_times_out_waiting_for_ready(tmp_path):
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    dut = SlmDut.open(os.ttyname(slave))
    try:
        with pytest.raises(bringup.AtTimeout, match="did not become ready within 1 s"):
            bring_up(dut, [], ready_timeout=1)
    finally:
        dut.close()
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize(
    ("line", "stat"),
    [
        ("+CEREG: 1", 1),
        ('+CEREG: 5,"0001","01A2B3C4",7', 5),
        ("+CEREG: 2", 2),
        ("+CEREG: ", None),
        ("+CGEV: ME PDN ACT 0", None),
    ],
)
def test_cereg_stat(line, stat):
    assert cereg_stat(line) == stat


def test_describe_cereg():
    assert describe_cereg(None) == "+CEREG: none"
    assert describe_cereg("+CEREG: 3") == "+CEREG: 3 (registration denied)"


def test_a_probe_answered_after_the_boot_banner_does_not_shift_later_answers():
    """The board boots while the first probe is on the wire and answers it after `Ready`,
    together with the client's resync probe."""
    import os
    import threading
    import tty

    master, slave = os.openpty()
    tty.setraw(slave)
    script = [
        (b"AT\r\n", b"Ready\r\n"),
        (b"AT+CFUN?\r\n", b"\r\nOK\r\n\r\n+CFUN: 4\r\n\r\nOK\r\n"),
        (b"AT\r\n", b"\r\nOK\r\n"),
        (b"AT+CFUN?\r\n", b"\r\n+CFUN: 4\r\n\r\nOK\r\n"),
    ]

    def play():
        got = b""
        for expected, reply in script:
            while expected not in got:
                got += os.read(master, 1024)
            got = got[got.index(expected) + len(expected) :]
            os.write(master, reply)

    player = threading.Thread(target=play, daemon=True)
    player.start()
    dut = SlmDut.open(os.ttyname(slave))
    try:
        bringup.wait_until_answering(dut, timeout=30)
        assert dut.at("AT+CFUN?").value("+CFUN") == [4]
    finally:
        dut.close()
        player.join(timeout=10)
        os.close(master)
        os.close(slave)
