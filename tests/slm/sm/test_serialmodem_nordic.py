"""What Nordic's own pytest for Serial Modem checks (app/pytest/test_serialmodem.py in
ncs-serial-modem, added after v2.0.0-preview1), done here with exact answers.

Nordic's `test_ppp` (PPP through scripts run with sudo, pinging google.com) needs a real board
and the internet: out of this suite's scope (sockets), and not possible on loopback.
"""

from __future__ import annotations

import pytest
from slmsuite import LONG, accepted

from pytest_slm.bringup import go_online
from pytest_slm.slm_types import Family, SocketType


def test_at_answers_ok(slm):
    accepted(slm, "AT")


def test_xsmver_names_the_version(slm):
    (line,) = slm.at("AT#XSMVER").lines
    assert line.startswith(f'#XSMVER: "{slm.firmware_version}",')


def test_xreset_reboots_with_ready_and_the_modem_comes_back(slm):
    accepted(slm, "AT#XRESET")
    assert slm.wait_urc("Ready", timeout=30) == "Ready"
    slm.reset_state()
    go_online(slm, attach_timeout=180.0)
    accepted(slm, "AT")


def test_tcp_socket_as_nordic_drives_it(slm, tcp_echo):
    # test_tcp: XSOCKET, XCONNECT "#XCONNECT: 0,1", XSEND in string and hex modes, XRECV,
    # XCLOSE "#XCLOSE: 0,0" (against an echo peer instead of example.com).
    result = slm.at("AT#XSOCKET=1,1,0")
    assert result.lines == ["#XSOCKET: 0,1,6"]
    accepted(slm, f'AT#XCONNECT=0,"{tcp_echo.board_host}",{tcp_echo.port}', ["#XCONNECT: 0,1"])
    request = b"HEAD / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
    for part in (
        b"HEAD / HTTP/1.1",
        b"\r\n",
        b"Host: example.com",
        b"\r\n",
        b"Connection: close",
        b"\r\n",
        b"\r\n",
    ):
        if b"\r" in part:
            accepted(slm, f'AT#XSEND=0,1,0,"{part.hex()}"', [f"#XSEND: 0,0,{len(part)}"])
        else:
            accepted(slm, f'AT#XSEND=0,0,0,"{part.decode()}"', [f"#XSEND: 0,0,{len(part)}"])
    got = b""
    while len(got) < len(request):
        got += slm.recv(LONG, handle=0, data_len=1024).data
    assert got == request
    accepted(slm, "AT#XCLOSE=0", ["#XCLOSE: 0,0"])


@pytest.mark.parametrize("family", [Family.IPV4])
def test_cgev_pdn_activation_is_reported_when_asked(slm, family):
    # The `connected` fixture: AT+CGEREP=1, then AT+CFUN=1 until "+CGEV: ME PDN ACT".
    slm.at("AT+CFUN=4", timeout=30)
    slm.drain_urcs()
    accepted(slm, "AT+CGEREP=1")
    try:
        slm.at("AT+CFUN=1", timeout=30)
        line = slm.wait_urc("+CGEV: ME PDN ACT", timeout=180)
        assert line.startswith("+CGEV: ME PDN ACT ")
    finally:
        slm.at("AT+CGEREP=0", check=False)
        go_online(slm, attach_timeout=180.0)
    slm.socket_open(family, SocketType.DGRAM)
