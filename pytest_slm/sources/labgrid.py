"""A board from a labgrid lab: `--lg-place NAME`, `--lg-match TAG=VALUE` or `--lg-env FILE`.

The place is reserved and acquired through the lab's coordinator (`pytest_slm.labgrid.place`),
its exported serial port opened by URL, the modem brought up like any board's, and the place
released when the session ends, fails or is interrupted. Which board the place holds (UART
settings, features) comes from its `board` tag, else `--board`.

labgrid's own pytest plugin, loaded whenever labgrid is installed, owns `--lg-env`,
`--lg-coordinator` and the other `--lg-*` options it declares; this module reads them and
declares only what labgrid does not (declaring an option twice stops pytest). Without labgrid
installed it declares `--lg-env`/`--lg-coordinator` itself so that using them says what to
install instead of "unrecognized arguments".
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pytest_slm.labgrid.place import (
    DEFAULT_COORDINATOR,
    INSTALL_HINT,
    HeldPlace,
    PlaceBusy,
    PlaceError,
    PlaceRequest,
    acquire_place,
    labgrid_missing,
    parse_match,
)

SIM_BOARD = "sim"


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--lg-place",
        default=None,
        metavar="NAME",
        help="take the board from this labgrid place: reserve and acquire it through the "
        "coordinator (waiting up to --lock-timeout while someone holds it), open its exported "
        "serial port, release it at the end",
    )
    group.addoption(
        "--lg-match",
        action="append",
        default=[],
        metavar="TAG=VALUE",
        help="take any labgrid place whose tags include these (e.g. board=nrf9160dk; "
        "repeatable); with -n N each worker takes a different place",
    )
    group.addoption(
        "--lg-port",
        default=None,
        metavar="NAME",
        help="the place's serial port to use when it exports several (default: the only one, "
        "or the one named 'modem')",
    )
    if labgrid_missing():
        group.addoption(
            "--lg-env",
            dest="lg_env",
            default=None,
            metavar="FILE",
            help=f"labgrid environment file naming a RemotePlace ({INSTALL_HINT})",
        )
        group.addoption(
            "--lg-coordinator",
            dest="lg_coordinator",
            default=None,
            metavar="HOST:PORT",
            help=f"labgrid coordinator address ({INSTALL_HINT})",
        )


def requested(config: pytest.Config) -> bool:
    """Whether this run takes its board from labgrid."""
    return bool(
        config.getoption("--lg-place")
        or config.getoption("--lg-match")
        or config.getoption("lg_env", default=None)
    )


@dataclass(frozen=True)
class LabgridSettings:
    request: PlaceRequest
    # The board the place holds when its tags do not say (`--board`).
    board: str


def settings_from_config(config: pytest.Config, worker: str, sessions: int) -> LabgridSettings:
    """Check the labgrid options against each other and the rest; UsageError on a conflict."""
    if labgrid_missing():
        raise pytest.UsageError(f"--lg-place/--lg-match/--lg-env: {INSTALL_HINT}")
    place = config.getoption("--lg-place")
    match_values = config.getoption("--lg-match")
    env_file = config.getoption("lg_env", default=None)
    given = [
        name
        for name, value in (
            ("--lg-place", place),
            ("--lg-match", match_values),
            ("--lg-env", env_file),
        )
        if value
    ]
    if len(given) > 1:
        raise pytest.UsageError(f"{' and '.join(given)} each choose the place: give one")
    for other in ("--port", "--hardware-map"):
        if config.getoption(other, default=None):
            raise pytest.UsageError(f"{given[0]} and {other} both name the board: give one")
    coordinator = config.getoption("lg_coordinator", default=None)
    if env_file:
        place, env_coordinator = _place_from_env(config, env_file)
        coordinator = coordinator or env_coordinator
    coordinator = coordinator or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR
    try:
        match = parse_match(match_values) if match_values else ()
    except PlaceError as exc:
        raise pytest.UsageError(str(exc)) from None
    request = PlaceRequest(
        coordinator=coordinator,
        place=place,
        match=match,
        lock_timeout=config.getoption("--lock-timeout"),
        port_name=config.getoption("--lg-port"),
        worker=worker,
        sessions=sessions,
    )
    return LabgridSettings(request=request, board=config.getoption("--board"))


def _place_from_env(config: pytest.Config, path: str) -> tuple[str, str | None]:
    """The RemotePlace of a labgrid environment (labgrid's own plugin has loaded it already
    when it is active) and its coordinator_address option."""
    from labgrid import Environment
    from labgrid.exceptions import InvalidConfigError
    from labgrid.remote.client import find_any_role_with_place

    env = None
    try:
        from labgrid.pytestplugin.hooks import LABGRID_ENV_KEY

        env = config.stash.get(LABGRID_ENV_KEY, None)
    except ImportError:
        pass
    try:
        env = env or Environment(config_file=path)
    except (InvalidConfigError, OSError) as exc:
        raise pytest.UsageError(f"--lg-env {path}: {exc}") from None
    _role, place = find_any_role_with_place(env.config.get_targets())
    if place is None:
        raise pytest.UsageError(
            f"--lg-env {path}: no target has a RemotePlace; pytest-slm takes boards from a "
            "labgrid coordinator (targets: {main: {resources: {RemotePlace: {name: PLACE}}}})"
        )
    return place, env.config.get_option("coordinator_address", None)


def acquire(settings: LabgridSettings, progress: Callable[[str], None]) -> HeldPlace:
    """The place, held; a place that stays busy or cannot be used is one clear error."""
    try:
        return acquire_place(settings.request, progress)
    except PlaceBusy:
        raise
    except PlaceError as exc:
        raise pytest.UsageError(str(exc)) from None


def board_name(held: HeldPlace, settings: LabgridSettings) -> str:
    tagged = held.tags.get("board")
    if tagged and settings.board not in (SIM_BOARD, tagged):
        raise pytest.UsageError(
            f"labgrid place {held.name} is tagged board={tagged}, but --board {settings.board} "
            "was given: drop --board, or choose another place"
        )
    return tagged or settings.board


class ReleaseOnTerm:
    """While a place is held, SIGTERM (a CI job's timeout, `kill`) ends the run like Ctrl-C,
    so pytest tears the session down and the place is released rather than left acquired."""

    def __init__(self) -> None:
        self._previous = None
        self._installed = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return  # someone else decides what SIGTERM does
        self._previous = signal.signal(signal.SIGTERM, self._on_term)
        self._installed = True

    @staticmethod
    def _on_term(signum, frame) -> None:
        raise KeyboardInterrupt("SIGTERM")

    def remove(self) -> None:
        if self._installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous or signal.SIG_DFL)
            self._installed = False


def open_board_session(config: pytest.Config, credentials: list, worker: str, sessions: int):
    """The session's board from a labgrid place: acquire, open, bring up; the place is released
    when the session closes, and at once when any step before that fails."""
    from pytest_slm import bringup, hardware
    from pytest_slm.at.transcript import Transcript
    from pytest_slm.boards import BoardConfigError
    from pytest_slm.dut import SlmDut
    from pytest_slm.flash import FirmwareError
    from pytest_slm.labgrid.flash import flash_place
    from pytest_slm.session import BoardSession

    settings = settings_from_config(config, worker, sessions)
    progress = hardware.terminal_progress(config)
    term = ReleaseOnTerm()
    term.install()
    try:
        held = acquire(settings, progress)
    except BaseException:
        term.remove()
        raise
    session = None
    try:
        name = board_name(held, settings)
        try:
            board = hardware.registry_from_config(config).get(name)
        except BoardConfigError as exc:
            raise pytest.UsageError(f"labgrid place {held.name}: {exc}") from None
        try:
            outcome = flash_place(
                held,
                board,
                config.getoption("--firmware", default=None),
                mode=config.getoption("slm_flash", default="auto"),
                runner=config.getoption("--slm-runner", default=None),
                progress=progress,
            )
        except FirmwareError as exc:
            raise pytest.UsageError(str(exc)) from None
        if not outcome.flashed:
            progress(f"not flashing: {outcome.reason}")
        uart = board.uart
        dut = SlmDut.open(
            held.url,
            baudrate=held.serial.speed or uart.baudrate,
            rtscts=uart.rtscts,
            dtr=uart.dtr,
            transcript=Transcript(label=f"{name} {held.name} {held.url}"),
        )
        info = {
            "worker": worker,
            "port": held.url,
            **held.info(),
            "flashed": "yes" if outcome.flashed else f"no ({outcome.reason})",
        }
        if outcome.image is not None:
            info["image"] = str(outcome.image.hex_path)
            info["image_sha256"] = outcome.image.sha256
        session = BoardSession(
            name=name, url=held.url, dut=dut, info=info, features=frozenset(board.features)
        )
        session.on_close(term.remove)
        session.on_close(held.release)
        ready = max(
            config.getoption("--ready-timeout"), 0.0 if board.simulated else board.boot_timeout
        )
        bringup.wait_until_answering(dut, ready, progress=progress)
        modem = bringup.bring_up(
            dut,
            credentials,
            attach_timeout=config.getoption("--attach-timeout"),
            ready_timeout=None,
            progress=progress,
        )
    except BaseException:
        if session is not None:
            session.close()
        else:
            try:
                held.release()
            finally:
                term.remove()
        raise
    session.info.update(modem.as_dict())
    return session
