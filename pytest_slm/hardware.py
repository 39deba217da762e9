"""Real silicon: the options and the session steps for a board on the desk.

`pytest --board nrf9160dk` does what a firmware engineer does by hand: find the DK by its probe's
serial number, take the board lock, flash the image unless the board already holds it, wait for
the port to come back, open the UART with the board's settings, wait for SLM, provision the
suite's credentials and bring the modem onto LTE. `session.py` calls `open_hardware_board`;
everything board-specific comes from the board file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_slm import bringup
from pytest_slm.at import LinkError
from pytest_slm.at.transcript import Transcript
from pytest_slm.boards import RUNNERS, Board, BoardConfigError, BoardRegistry
from pytest_slm.bringup import DEFAULT_ATTACH_TIMEOUT, DEFAULT_SEC_TAG, Credential, ModemInfo
from pytest_slm.dut import SlmDut
from pytest_slm.flash import FLASH_MODES, FlashCache, FlashOutcome, flash_board
from pytest_slm.link import (
    BoardLock,
    Located,
    attached,
    find_port_again,
    is_local_device,
    locate,
    normalize_id,
    open_when_present,
)

log = logging.getLogger("pytest_slm.hardware")

Progress = Callable[[str], None]
DEFAULT_LOCK_TIMEOUT = 600.0


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--boards-dir", action="append", default=[], metavar="DIR",
        help="also read board files (*.yaml) from DIR; a file naming a known board replaces "
        "it (repeatable)",
    )
    group.addoption(
        "--list-boards", action="store_true", default=False,
        help="list the known boards and the ones attached now, then exit",
    )
    group.addoption(
        "--board-id", default=None, metavar="SERIAL",
        help="the probe serial number of the board to use (J-Link SN, e.g. 960012345); "
        "needed when several boards of the --board kind are attached",
    )
    group.addoption(
        "--firmware", default=None, metavar="PATH",
        help="SLM image to flash: a .hex, or a Zephyr build directory (its zephyr/merged.hex "
        "is used; west needs the build directory)",
    )
    group.addoption(
        "--slm-runner", default=None, choices=RUNNERS, metavar="{" + ",".join(RUNNERS) + "}",
        help="flash tool (default: the board file's runner). Named --slm-runner because "
        "pytest-twister-harness owns --runner",
    )
    group.addoption(
        "--flash", default="auto", choices=FLASH_MODES, dest="slm_flash",
        help="auto (default): flash unless this board already holds this image (remembered "
        "across sessions); always; never",
    )
    group.addoption(
        "--lock-timeout", type=float, default=DEFAULT_LOCK_TIMEOUT, metavar="SECONDS",
        help="how long to wait for a board another session holds before failing "
        f"(default {DEFAULT_LOCK_TIMEOUT:g})",
    )
    group.addoption(
        "--attach-timeout", type=float, default=DEFAULT_ATTACH_TIMEOUT, metavar="SECONDS",
        help="how long the modem may take to register on LTE (+CEREG 1 or 5) "
        f"(default {DEFAULT_ATTACH_TIMEOUT:g})",
    )
    group.addoption(
        "--sec-tag", type=int, default=DEFAULT_SEC_TAG, metavar="N",
        help=f"sec_tag the suite provisions its CA into (default {DEFAULT_SEC_TAG}, one the "
        "suite owns)",
    )


def registry_from_config(config: pytest.Config) -> BoardRegistry:
    try:
        return BoardRegistry.load(config.getoption("--boards-dir") or [])
    except BoardConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def list_boards_text(registry: BoardRegistry, lister=None) -> str:
    rows = ["known boards:"]
    for board in registry:
        where = f"  [{board.source}]" if board.source else ""
        detail = board.zephyr_board or "simulated"
        runner = f", runner {board.runner}" if board.runner else ""
        rows.append(f"  {board.name:<11} {detail}{runner}{where}")
        if board.description:
            rows.append(f"  {'':<11} {board.description}")
    found = attached(registry, lister)
    rows.append("")
    if not found:
        rows.append("attached now: none")
    else:
        rows.append("attached now:")
        for board, cand in found:
            port = cand.port.path if cand.port else "(VCOM missing)"
            rows.append(f"  {board.name:<11} --board-id {cand.probe_id:<14} {port}")
    return "\n".join(rows)


def cmdline_main(config: pytest.Config) -> int | None:
    """`--list-boards`: print and exit before any collection, as `--fixtures` does."""
    if not config.getoption("--list-boards"):
        return None
    print(list_boards_text(registry_from_config(config)))
    return 0


def terminal_progress(config: pytest.Config) -> Progress:
    """Progress lines on the terminal even while output is captured, and in the log."""

    def say(message: str) -> None:
        log.info(message)
        reporter = config.pluginmanager.getplugin("terminalreporter")
        capman = config.pluginmanager.getplugin("capturemanager")
        if reporter is None:
            return
        if capman is not None:
            with capman.global_and_fixture_disabled():
                reporter.write_line(f"[slm] {message}")
        else:
            reporter.write_line(f"[slm] {message}")

    return say


@dataclass
class HardwareSettings:
    board: Board
    port: str | None = None
    board_id: str | None = None
    firmware: str | None = None
    runner: str | None = None
    flash: str = "auto"
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    attach_timeout: float = DEFAULT_ATTACH_TIMEOUT
    ready_timeout: float | None = None
    sec_tag: int = DEFAULT_SEC_TAG
    cache_dir: Path | None = None
    lock_dir: Path | None = None

    @classmethod
    def from_config(cls, config: pytest.Config, registry: BoardRegistry | None = None,
                    board_name: str | None = None) -> HardwareSettings:
        registry = registry or registry_from_config(config)
        name = board_name or config.getoption("--board")
        try:
            board = registry.get(name)
        except BoardConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
        return cls(
            board=board,
            port=config.getoption("--port"),
            board_id=config.getoption("--board-id"),
            firmware=config.getoption("--firmware"),
            runner=config.getoption("--slm-runner"),
            flash=config.getoption("slm_flash"),
            lock_timeout=config.getoption("--lock-timeout"),
            attach_timeout=config.getoption("--attach-timeout"),
            sec_tag=config.getoption("--sec-tag"),
        )


def hardware_board(config: pytest.Config) -> Board | None:
    """The --board's entry when it is real hardware, None for a simulated board."""
    try:
        board = registry_from_config(config).get(config.getoption("--board"))
    except BoardConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return None if board.simulated else board


def suite_sec_tags(config: pytest.Config) -> dict[str, int]:
    """The sec_tags the suite owns: its CA in --sec-tag, an unrelated CA in the next one (the
    wrong-CA tests), and one more left empty (a tag holding no credential)."""
    base = config.getoption("--sec-tag")
    return {"ca": base, "wrong_ca": base + 1, "empty": base + 5}


def suite_credentials(
    config: pytest.Config, ca_pem: str | None, other_ca_pem: str | None = None
) -> list[Credential]:
    """The suite's CA certificate in the --sec-tag slot, an unrelated CA in the next one."""
    tags = suite_sec_tags(config)
    root_ca = bringup.CredentialType.ROOT_CA
    credentials = []
    if ca_pem:
        credentials.append(Credential(tags["ca"], root_ca, ca_pem))
    if other_ca_pem:
        credentials.append(Credential(tags["wrong_ca"], root_ca, other_ca_pem))
    return credentials


def open_from_config(
    config: pytest.Config,
    credentials: Iterable[Credential] = (),
    *,
    transcript: Transcript | None = None,
) -> HardwareBoard:
    """`open_hardware_board` with everything taken from the command line."""
    settings = HardwareSettings.from_config(config)
    ready = config.getoption("--ready-timeout", default=None)
    # The board file knows how long its boot takes after a flash; a longer --ready-timeout wins.
    settings.ready_timeout = max(ready or 0.0, settings.board.boot_timeout)
    return open_hardware_board(settings, credentials, progress=terminal_progress(config),
                               transcript=transcript)


def lock_key_for(probe_id: str | None, port: str | None) -> str:
    """One lock per physical board, whichever way it was reached (--board, --port, a hardware
    map): by probe serial number when known, else by the port's real path."""
    if probe_id:
        return f"id-{normalize_id(probe_id)}"
    if port and is_local_device(port):
        return "port-" + os.path.realpath(port)
    return f"port-{port}"


@dataclass
class HardwareBoard:
    """An opened, online real board; `close()` closes the UART and releases the lock."""

    board: Board
    url: str
    dut: SlmDut
    probe_id: str | None
    flash: FlashOutcome
    modem: ModemInfo
    lock: BoardLock
    info: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        try:
            self.dut.close()
        finally:
            self.lock.release()


def open_hardware_board(
    settings: HardwareSettings,
    credentials: Iterable[Credential] = (),
    *,
    progress: Progress | None = None,
    transcript: Transcript | None = None,
    lister=None,
) -> HardwareBoard:
    """Find, lock, flash, open, attach and provision; everything is released on failure."""
    board = settings.board
    say = progress or (lambda message: None)
    if board.simulated:
        raise pytest.UsageError(f"board {board.name} is simulated; it has no hardware to open")
    located: Located | None = None
    if settings.port:
        if settings.firmware or settings.flash == "always":
            raise pytest.UsageError(
                "--port talks to whatever answers there and never flashes; to flash, drop "
                "--port and let --board (with --board-id) find the board"
            )
        url, probe_id = settings.port, settings.board_id
    else:
        located = locate(board, settings.board_id, lister=lister)
        url, probe_id = located.port, located.probe_id
        say(f"found {board.name} (probe {probe_id or '?'}) at {url}")
    lock = BoardLock(
        lock_key_for(probe_id, url), timeout=settings.lock_timeout, lock_dir=settings.lock_dir,
        progress=say, holder_note=f"pytest --board {board.name} (worker "
        f"{os.environ.get('PYTEST_XDIST_WORKER', 'master')})",
    ).acquire()
    dut: SlmDut | None = None
    try:
        outcome = flash_board(
            board, settings.firmware, probe_id=probe_id,
            mode="never" if settings.port else settings.flash, runner=settings.runner,
            cache=FlashCache(settings.cache_dir) if settings.cache_dir else None,
            progress=say,
        )
        if not outcome.flashed:
            say(f"not flashing: {outcome.reason}")
        ready_timeout = settings.ready_timeout or board.boot_timeout
        transcript = transcript or Transcript(label=f"{board.name} {url}")

        def find() -> str | None:
            return find_port_again(located, lister=lister) if located else url

        deadline = time.monotonic() + ready_timeout
        while True:
            url, port = open_when_present(
                find, board.uart, max(deadline - time.monotonic(), 0.1), progress=say
            )
            dut = SlmDut(port, transcript=transcript)
            say(f"opened {url} ({board.uart.baudrate} baud, "
                f"{'RTS/CTS' if board.uart.rtscts else 'no flow control'}, DTR "
                f"{'on' if board.uart.dtr else 'off'})")
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
                if time.monotonic() >= deadline:
                    raise
                say("the port went away while waiting for SLM (USB re-enumeration); "
                    "opening it again")
        modem = bringup.bring_up(
            dut, credentials, attach_timeout=settings.attach_timeout, ready_timeout=None,
            progress=say,
        )
    except BaseException:
        if dut is not None:
            dut.close()
        lock.release()
        raise
    info: dict[str, Any] = {
        "board": board.name,
        "port": url,
        "probe_id": probe_id or "",
        "flashed": "yes" if outcome.flashed else f"no ({outcome.reason})",
    }
    if outcome.image is not None:
        info["image"] = str(outcome.image.hex_path)
        info["image_sha256"] = outcome.image.sha256
    info.update(modem.as_dict())
    return HardwareBoard(board, url, dut, probe_id, outcome, modem, lock,
                         {k: str(v) for k, v in info.items()})
