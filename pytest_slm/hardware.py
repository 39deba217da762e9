"""Real silicon: the options and the session steps for a board on the desk.

`pytest --board nrf9160dk` does what a firmware engineer does by hand: find the DK by its probe's
serial number, take the board lock, flash the image unless the board already holds it, wait for
the port to come back, open the UART with the board's settings, wait for SLM, provision the
suite's credentials and bring the modem onto LTE. The board sources (`pytest_slm.sources`) call
`reach_hardware` (find, lock, offer the flash step) and the session does the rest;
`open_hardware_board` is both in one call. Everything board-specific comes from the board file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_slm import bringup
from pytest_slm.boards import RUNNERS, Board, BoardRegistry
from pytest_slm.bringup import DEFAULT_ATTACH_TIMEOUT, DEFAULT_SEC_TAG, Credential, ModemInfo
from pytest_slm.flash import FLASH_MODES
from pytest_slm.settings import DEFAULT_LOCK_TIMEOUT, Settings, registry_from_config, settings_of
from pytest_slm.sources.base import Reached

if TYPE_CHECKING:
    from pytest_slm.at.transcript import Transcript
    from pytest_slm.dut import SlmDut
    from pytest_slm.flash import FlashOutcome
    from pytest_slm.link import BoardLock, Located

# Every pytest process imports this module for its options (the plug-in declares them): the
# link, flash and session steps are imported where a board is reached, not here.

log = logging.getLogger("pytest_slm.hardware")

Progress = Callable[[str], None]


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--boards-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="also read board files (*.yaml) from DIR; a file naming a known board replaces "
        "it (repeatable)",
    )
    group.addoption(
        "--list-boards",
        action="store_true",
        default=False,
        help="list the known boards and the ones attached now, then exit",
    )
    group.addoption(
        "--board-id",
        default=None,
        metavar="SERIAL",
        help="the probe serial number of the board to use (J-Link SN, e.g. 960012345); "
        "needed when several boards of the --board kind are attached",
    )
    group.addoption(
        "--probe-id",
        default=None,
        metavar="SERIAL",
        help="serial number of the external probe that flashes a board without its own "
        "(Thingy:91: the J-Link on its debug connector); --board-id then names the board's "
        "USB bridge (THINGY91_...)",
    )
    group.addoption(
        "--firmware",
        default=None,
        metavar="PATH",
        help="SLM image to flash: a .hex, or a Zephyr build directory (its zephyr/merged.hex "
        "is used; west needs the build directory)",
    )
    group.addoption(
        "--slm-runner",
        default=None,
        choices=RUNNERS,
        metavar="{" + ",".join(RUNNERS) + "}",
        help="flash tool (default: the board file's runner). Named --slm-runner because "
        "pytest-twister-harness owns --runner",
    )
    group.addoption(
        "--flash",
        default="auto",
        choices=FLASH_MODES,
        dest="slm_flash",
        help="auto (default): flash unless this board already holds this image (remembered "
        "across sessions); always; never",
    )
    group.addoption(
        "--flash-erase",
        action="store_true",
        default=False,
        dest="slm_flash_erase",
        help="erase the whole chip (or recover it from access protection) before flashing "
        "--firmware: for boards that hold other images or are protected. Also erases the "
        "modem's stored credentials",
    )
    group.addoption(
        "--lock-timeout",
        type=float,
        default=DEFAULT_LOCK_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for a board another session holds before failing "
        f"(default {DEFAULT_LOCK_TIMEOUT:g})",
    )
    group.addoption(
        "--attach-timeout",
        type=float,
        default=DEFAULT_ATTACH_TIMEOUT,
        metavar="SECONDS",
        help="how long the modem may take to register on LTE (+CEREG 1 or 5) "
        f"(default {DEFAULT_ATTACH_TIMEOUT:g})",
    )
    group.addoption(
        "--sec-tag",
        type=int,
        default=DEFAULT_SEC_TAG,
        metavar="N",
        help=f"sec_tag the suite provisions its CA into (default {DEFAULT_SEC_TAG}, one the "
        "suite owns)",
    )


def list_boards_text(registry: BoardRegistry, lister=None) -> str:
    from pytest_slm.link import attached

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


def suite_sec_tags(config: pytest.Config) -> dict[str, int]:
    """The sec_tags the suite owns (see `Settings.sec_tags`)."""
    return settings_of(config).sec_tags()


def suite_credentials(
    sec_tags: dict[str, int], ca_pem: str | None, other_ca_pem: str | None = None
) -> list[Credential]:
    """The suite's CA certificate in its sec_tag, an unrelated CA in the wrong-CA one."""
    root_ca = bringup.CredentialType.ROOT_CA
    credentials = []
    if ca_pem:
        credentials.append(Credential(sec_tags["ca"], root_ca, ca_pem))
    if other_ca_pem:
        credentials.append(Credential(sec_tags["wrong_ca"], root_ca, other_ca_pem))
    return credentials


@dataclass
class HardwareSettings:
    """What reaching one real board needs; built from `Settings` by the sources."""

    board: Board
    # Open this port as given (never flashed) instead of finding the board.
    port: str | None = None
    # The board's own id: the USB serial number it is found by (DK: the J-Link's; Thingy:91: the
    # bridge's). For a board flashed through a separate probe, an id that is not the bridge's
    # is taken as the probe's (what --board-id meant for a Thingy:91 before --probe-id).
    board_id: str | None = None
    # The id the flash tools select the probe by, when it is not the board's own id.
    probe_id: str | None = None
    firmware: str | None = None
    runner: str | None = None
    flash: str = "auto"
    flash_erase: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    attach_timeout: float = DEFAULT_ATTACH_TIMEOUT
    ready_timeout: float | None = None
    sec_tag: int = DEFAULT_SEC_TAG
    cache_dir: Path | None = None
    lock_dir: Path | None = None
    worker: str = "master"
    # Lock keys this process already holds for the board (a hardware-map claim).
    held_locks: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings, board: Board | None = None) -> HardwareSettings:
        board = board or settings.board
        return cls(
            board=board,
            port=settings.port,
            board_id=settings.board_id_given,
            probe_id=settings.probe_id,
            firmware=settings.firmware,
            runner=settings.runner,
            flash=settings.flash,
            flash_erase=settings.flash_erase,
            lock_timeout=settings.lock_timeout,
            attach_timeout=settings.attach_timeout,
            # The board file knows how long its boot takes after a flash; a longer
            # --ready-timeout wins.
            ready_timeout=max(settings.ready_timeout, board.boot_timeout),
            sec_tag=settings.sec_tag,
            cache_dir=settings.cache_dir,
            lock_dir=settings.lock_dir,
        )


def lock_key_for(board_id: str | None, port: str | None, lister=None) -> str:
    """One lock per physical board, whichever way it was reached (--board, --port, a hardware
    map): for a local port, by the USB serial number of the device behind it when the host lists
    one (a Thingy:91's bridge, whatever --board-id named); else by the board's id; else by the
    port itself."""
    from pytest_slm.link import is_local_device, normalize_id, usb_serial_of

    if port and is_local_device(port):
        usb_serial = usb_serial_of(port, lister)
        if usb_serial:
            return f"id-{normalize_id(usb_serial)}"
    if board_id:
        return f"id-{normalize_id(board_id)}"
    if port and is_local_device(port):
        return "port-" + os.path.realpath(port)
    return f"port-{port}"


def take_lock(
    key: str, *, timeout: float, lock_dir: Path | None, progress: Progress, note: str
) -> BoardLock:
    from pytest_slm.link import BoardLock

    return BoardLock(
        key, timeout=timeout, lock_dir=lock_dir, progress=progress, holder_note=note
    ).acquire()


@dataclass
class HardwareBoard:
    """An opened, online real board; `close()` closes the UART and releases its locks."""

    board: Board
    url: str
    dut: SlmDut
    probe_id: str | None
    flash: FlashOutcome | None
    modem: ModemInfo
    reached: Reached
    info: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        try:
            self.dut.close()
        finally:
            self.reached.release()


def reach_hardware(
    settings: HardwareSettings,
    *,
    progress: Progress | None = None,
    lister=None,
    info: dict[str, str] | None = None,
) -> Reached:
    """Find the board (or take --port as given), lock it, and offer the flash step."""
    from pytest_slm.flash import FlashCache, flash_board
    from pytest_slm.link import find_port_again, locate, normalize_id

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
        url = settings.port
        probe_id = settings.probe_id or settings.board_id
        keys = [lock_key_for(settings.board_id, url, lister)]
    else:
        located = locate(board, settings.board_id, probe_id=settings.probe_id, lister=lister)
        url, probe_id = located.port, located.probe_id
        if probe_id == located.board_id:
            ident = f"probe {probe_id}"
        else:
            ident = f"board {located.board_id}, probe {probe_id or '?'}"
        say(f"found {board.name} ({ident}) at {url}")
        keys = [f"id-{located.board_id}"]
        if probe_id and normalize_id(probe_id) != located.board_id:
            # The external programmer (often a DK) is held too, so that no session takes it for
            # a board under test while it flashes this one.
            keys.append(f"id-{normalize_id(probe_id)}")
    note = f"pytest --board {board.name} (worker {settings.worker})"
    reached = Reached(
        name=board.name,
        url=url,
        board=board,
        features=board.features,
        ready_timeout=settings.ready_timeout or board.boot_timeout,
        may_reenumerate=True,
    )
    try:
        for key in keys:
            if key in settings.held_locks:
                continue
            lock = take_lock(
                key,
                timeout=settings.lock_timeout,
                lock_dir=settings.lock_dir,
                progress=say,
                note=note,
            )
            reached.on_release(lock.release)
    except BaseException:
        reached.release()
        raise
    reached.info = {
        **(info or {}),
        "board": board.name,
        "port": url,
        "probe_id": probe_id or "",
    }
    if located is not None:
        reached.info["board_id"] = located.board_id

    def flash(say: Progress) -> FlashOutcome:
        outcome = flash_board(
            board,
            settings.firmware,
            probe_id=probe_id,
            mode="never" if settings.port else settings.flash,
            runner=settings.runner,
            erase=settings.flash_erase,
            cache=FlashCache(settings.cache_dir) if settings.cache_dir else None,
            progress=say,
        )
        if not outcome.flashed:
            say(f"not flashing: {outcome.reason}")
        return outcome

    reached.flash = flash
    if located is not None:
        reached.find_port = lambda: find_port_again(located, lister=lister)
    return reached


def open_hardware_board(
    settings: HardwareSettings,
    credentials: Iterable[Credential] = (),
    *,
    progress: Progress | None = None,
    transcript: Transcript | None = None,
    lister=None,
) -> HardwareBoard:
    """Find, lock, flash, open, attach and provision; everything is released on failure."""
    from pytest_slm.session import open_reached, session_info

    say = progress or (lambda message: None)
    reached = reach_hardware(settings, progress=say, lister=lister)
    try:
        opened = open_reached(
            reached,
            list(credentials),
            attach_timeout=settings.attach_timeout,
            progress=say,
            transcript=transcript,
        )
    except BaseException:
        reached.release()
        raise
    return HardwareBoard(
        settings.board,
        opened.url,
        opened.dut,
        reached.info["probe_id"] or None,
        opened.flash,
        opened.modem,
        reached,
        session_info(reached, opened),
    )
