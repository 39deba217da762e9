"""``slm-sim --dialect sm`` as a user runs it: the version command tells the dialects apart."""

from __future__ import annotations

import sys

import pytest
import test_cli
from test_cli import Sim, read_exact

from firmware_ref.dialects.sm.version import release


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch):
    # This interpreter's firmware_ref, not whichever slm-sim comes first on PATH.
    monkeypatch.setattr(
        test_cli, "_command", lambda *args: [sys.executable, "-m", "firmware_ref.cli", *args]
    )
    made: list[Sim] = []

    def make(*args: str) -> Sim:
        s = Sim(*args)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def test_sm_answers_smver_and_not_slmver(sim) -> None:
    board = sim("--listen", "127.0.0.1:0", "--dialect", "sm", "--online")
    rel = release()
    with board.open() as port:
        read_exact(port, b"Ready\r\n")
        port.write(b"AT#XSMVER\r")
        read_exact(
            port, f'\r\n#XSMVER: "{rel.sm_version}","{rel.ncs_version}"\r\n\r\nOK\r\n'.encode()
        )
        port.write(b"AT#XSLMVER\r")
        read_exact(port, b"\r\nERROR\r\n")
        port.write(b"AT#XSOCKET=1,2,0\r")
        read_exact(port, b"\r\n#XSOCKET: 0,2,17\r\n\r\nOK\r\n")


def test_v20_answers_slmver_and_not_smver(sim) -> None:
    board = sim("--pty", "--dialect", "v20")
    with board.open() as port:
        read_exact(port, b"Ready\r\n")
        port.write(b"AT#XSLMVER\r\n")
        read_exact(port, b'\r\n#XSLMVER: "2.0.0"\r\n\r\nOK\r\n')
        port.write(b"AT#XSMVER\r\n")
        read_exact(port, b"\r\nERROR\r\n")
