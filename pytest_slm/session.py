"""The session pipeline: reach the board through its source, then the same steps for every board.

source.open (find, lock, start) -> flash if the source offers it and the image changed -> open
the UART (waiting for a port that re-enumerates) -> wait for the firmware to answer -> bring the
modem online -> provision the suite's credentials -> tests. Whatever fails, or a Ctrl-C, closes
the port and releases what the source took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from pytest_slm import bringup, dialects
from pytest_slm.at.errors import LinkError
from pytest_slm.at.transcript import Transcript
from pytest_slm.boards import Board
from pytest_slm.bringup import Credential, ModemInfo
from pytest_slm.settings import DEFAULT_READY_TIMEOUT, SIM_BOARD, Settings
from pytest_slm.sources.base import OpenContext, Progress, Reached

if TYPE_CHECKING:
    from pytest_slm.dut import SlmDut

__all__ = [
    "SIM_BOARD",
    "BoardSession",
    "Opened",
    "add_options",
    "open_board_session",
    "open_reached",
    "session_info",
]


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
        "socket://host:port, rfc2217://host:port, a pty path), locked like a found board; "
        "no flashing",
    )
    group.addoption(
        "--sim-baud",
        type=int,
        default=None,
        metavar="N",
        help="pace the simulated board's UART as N baud would, and have its firmware believe N"
        " (default: unpaced, its firmware configured at 1000000 baud, the fastest SLM offers)",
    )
    group.addoption(
        "--sim-latency",
        default=None,
        metavar="DURATION",
        help="emulate a cellular link on the simulated board: every network round trip "
        "(connect, DNS, data to and from a peer) takes DURATION (600ms, 0.6s; default: loopback "
        "speed)",
    )
    group.addoption(
        "--sim-jitter",
        default=None,
        metavar="DURATION",
        help="with --sim-latency: each round trip varies by up to DURATION either way "
        "(e.g. 100ms; default 0)",
    )
    group.addoption(
        "--dialect",
        default=dialects.AUTO,
        choices=dialects.CHOICES,
        help="the firmware generation the board must run: auto (default: detected at bring-up "
        "from #XSLMVER / #XSMVER), v20 (SLM of NCS v2.0.x) or sm (Serial Modem, "
        "ncs-serial-modem); with --board sim it picks the simulator's dialect; a board running "
        "another one is an error at session start",
    )
    group.addoption(
        "--ready-timeout",
        type=float,
        default=DEFAULT_READY_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the board to answer AT after opening its port (default "
        f"{DEFAULT_READY_TIMEOUT:g}; a board file's boot timeout wins when longer)",
    )


@dataclass
class BoardSession:
    """The board a test session runs against, opened and ready."""

    name: str
    url: str
    dut: SlmDut
    info: dict[str, str] = field(default_factory=dict)
    # What the bring-up provisioned: role ("ca", "wrong_ca", "empty") -> sec_tag.
    sec_tags: dict[str, int] = field(default_factory=dict)
    # What this board can do (board file `features:`), None when no board file describes it.
    features: frozenset[str] | None = None
    # The board's registry entry, as the session used it (UART settings, features).
    board: Board | None = None
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


@dataclass
class Opened:
    """A reached board after the common steps: flashed (or not), open, online."""

    url: str
    dut: SlmDut
    modem: ModemInfo
    flash: object | None  # FlashOutcome when the source offered a flash step


def open_reached(
    reached: Reached,
    credentials: Sequence[Credential],
    *,
    attach_timeout: float,
    progress: Progress,
    transcript: Transcript | None = None,
    dialect: str = dialects.AUTO,
) -> Opened:
    """Flash (if offered), open, wait for the firmware, bring up. Releases nothing: the caller
    releases `reached` when this raises."""
    # Imported here, not at the top: every pytest process imports this module for its options.
    from pytest_slm.dut import SlmDut
    from pytest_slm.link import open_when_present

    say = progress
    outcome = reached.flash(say) if reached.flash is not None else None
    board = reached.board
    transcript = transcript or Transcript(label=f"{reached.name} {reached.url}")
    find = reached.find_port or (lambda: reached.url)
    # One deadline for the port to return and the firmware to answer: a board file's boot time
    # counts from the flash, not from the port's return.
    timeout = reached.ready_timeout
    deadline = time.monotonic() + timeout
    dut: SlmDut | None = None
    try:
        while True:
            url, port = open_when_present(
                find, board.uart, timeout, deadline=deadline, progress=say
            )
            dut = SlmDut(port, transcript=transcript)
            if reached.may_reenumerate:
                say(
                    f"opened {url} ({board.uart.baudrate} baud, "
                    f"{'RTS/CTS' if board.uart.rtscts else 'no flow control'}, DTR "
                    f"{'on' if board.uart.dtr else 'off'})"
                )
            try:
                bringup.wait_until_answering(
                    dut, max(deadline - time.monotonic(), 0.1), progress=say
                )
                break
            except LinkError:
                # The probe re-enumerated after we opened the port (a reset lands a moment
                # after the flash tool exits): the node we hold is dead, a new one is coming.
                dut.close()
                dut = None
                if not reached.may_reenumerate or time.monotonic() >= deadline:
                    raise
                say(
                    "the port went away while waiting for SLM (USB re-enumeration); "
                    "opening it again"
                )
        modem = bringup.bring_up(
            dut,
            credentials,
            attach_timeout=attach_timeout,
            ready_timeout=None,
            progress=say,
            dialect=dialect,
        )
    except BaseException:
        if dut is not None:
            dut.close()
        raise
    return Opened(url, dut, modem, outcome)


def session_info(reached: Reached, opened: Opened) -> dict[str, str]:
    """What the report says about the board: the source's facts, the flash, the modem."""
    info = dict(reached.info)
    if reached.may_reenumerate:
        info["port"] = opened.url
    outcome = opened.flash
    if outcome is not None:
        info["flashed"] = "yes" if outcome.flashed else f"no ({outcome.reason})"
        if outcome.image is not None:
            info["image"] = str(outcome.image.hex_path)
            info["image_sha256"] = outcome.image.sha256
    info.update(opened.modem.as_dict())
    return {k: str(v) for k, v in info.items()}


def open_board_session(
    settings: Settings,
    ctx: OpenContext,
    credentials: Sequence[Credential] = (),
) -> BoardSession:
    """Reach the board through the run's source and bring it online with `credentials`."""
    assert settings.source is not None, "settings_from_config chooses the source"
    reached = settings.source.open(ctx)
    try:
        opened = open_reached(
            reached,
            list(credentials),
            attach_timeout=settings.attach_timeout,
            progress=ctx.progress,
            dialect=settings.dialect,
        )
    except BaseException:
        reached.release()
        raise
    session = BoardSession(
        name=reached.name,
        url=opened.url,
        dut=opened.dut,
        info=session_info(reached, opened),
        features=reached.features,
        board=reached.board,
        sec_tags=settings.sec_tags(),
    )
    session.on_close(reached.release)
    return session
