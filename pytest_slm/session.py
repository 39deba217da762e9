"""The session pipeline: pick the board, start or open it, and bring it to the state tests expect.

pick the board (`--board`, default `sim`; `--port` overrides) -> lock -> flash if the image
changed -> open the UART -> wait for `Ready` or probe with `AT` -> bring the modem online ->
provision the suite's credentials -> tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from pytest_slm.at.transcript import Transcript
from pytest_slm.dut import SlmDut
from pytest_slm.simboard import SimulatorProcess

SIM_BOARD = "sim"


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--board",
        default=SIM_BOARD,
        metavar="NAME",
        help="board to test: sim (the simulated board, default), nrf9160dk, nrf9161dk, "
        "nrf9151dk, thingy91, thingy91x, or one from --boards-dir",
    )
    group.addoption(
        "--port",
        default=None,
        metavar="URL",
        help="talk to whatever SLM answers at this pyserial URL (/dev/ttyACM0, "
        "socket://host:port, rfc2217://host:port, a pty path); no flashing",
    )
    group.addoption(
        "--sim-baud",
        type=int,
        default=None,
        metavar="N",
        help="pace the simulated board's UART as N baud would (default: unpaced)",
    )
    group.addoption(
        "--ready-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the board to answer AT after opening its port (default 30)",
    )


@dataclass
class BoardSession:
    """The board a test session runs against, opened and ready."""

    name: str
    url: str
    dut: SlmDut
    info: dict[str, str] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        errors: list[BaseException] = []
        for closer in [self.dut.close, *reversed(self._closers)]:
            try:
                closer()
            except Exception as exc:  # every closer runs even if one fails
                errors.append(exc)
        self._closers.clear()
        if errors:
            raise errors[0]


def worker_id() -> str:
    """The pytest-xdist worker running this session, `master` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


def open_board_session(config: pytest.Config) -> BoardSession:
    board = config.getoption("--board")
    port = config.getoption("--port")
    ready_timeout = config.getoption("--ready-timeout")
    closers: list[Callable[[], None]] = []
    if port:
        url = port
    elif board == SIM_BOARD:
        args = ["--pty", "--online"]
        baud = config.getoption("--sim-baud")
        if baud:
            args += ["--baud", str(baud)]
        simulator = SimulatorProcess(args)
        url = simulator.start()
        closers.append(simulator.stop)
    else:
        raise pytest.UsageError(f"--board {board}: real boards are not wired in yet")
    try:
        dut = SlmDut.open(url, transcript=Transcript(label=f"{board} {url}"))
    except Exception:
        for closer in closers:
            closer()
        raise
    session = BoardSession(name=board, url=url, dut=dut, info={"worker": worker_id()})
    for closer in closers:
        session.on_close(closer)
    try:
        dut.wait_ready(timeout=ready_timeout)
    except Exception:
        session.close()
        raise
    return session
