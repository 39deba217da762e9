"""A board from a labgrid lab: `--lg-place NAME`, `--lg-match TAG=VALUE` or `--lg-env FILE`.

The place is reserved and acquired through the lab's coordinator (`pytest_slm.labgrid.place`),
flashed from the exporter's machine when `--firmware` is given (`pytest_slm.labgrid.flash`), its
exported serial port handed to the session by URL, and the place released when the session
ends, fails or is interrupted. Which board the place holds (UART settings, features) comes from
its `board` tag, else `--board`.

labgrid's own pytest plugin, loaded whenever labgrid is installed, owns `--lg-env`,
`--lg-coordinator` and the other `--lg-*` options it declares; this source reads them and
declares only what labgrid does not (declaring an option twice stops pytest). Without labgrid
installed it declares `--lg-env`/`--lg-coordinator` itself so that using them says what to
install instead of "unrecognized arguments".
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from pytest_slm.boards import Board, BoardConfigError
from pytest_slm.labgrid.installed import INSTALL_HINT, labgrid_missing
from pytest_slm.settings import SIM_BOARD, Settings
from pytest_slm.sources.base import BoardSource, OpenContext, Reached, register

if TYPE_CHECKING:
    from pytest_slm.labgrid.place import HeldPlace

# The place client (`pytest_slm.labgrid.place`) is imported once this source is chosen: every
# pytest process imports this module to declare its options and ask whether it claims the run.


def _requested(config: pytest.Config) -> list[str]:
    given = [
        ("--lg-place", config.getoption("--lg-place", default=None)),
        ("--lg-match", config.getoption("--lg-match", default=None)),
        ("--lg-env", config.getoption("lg_env", default=None)),
    ]
    return [name for name, value in given if value]


@register
class LabgridSource(BoardSource):
    name = "labgrid"
    # Above a hardware map and --port, whose options it refuses next to its own; below twister,
    # which chose the board itself.
    priority = 25

    @classmethod
    def add_options(cls, group: pytest.OptionGroup) -> None:
        group.addoption(
            "--lg-place",
            default=None,
            metavar="NAME",
            help="take the board from this labgrid place: reserve and acquire it through the "
            "coordinator (waiting up to --lock-timeout while someone holds it), open its "
            "exported serial port, release it at the end",
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
            help="the place's serial port to use when it exports several (default: the only "
            "one, or the one named 'modem')",
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

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        return bool(_requested(config))

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        super().__init__(settings, config)
        given = _requested(config)
        if labgrid_missing():
            raise pytest.UsageError(f"{given[0]}: {INSTALL_HINT}")
        if len(given) > 1:
            raise pytest.UsageError(f"{' and '.join(given)} each choose the place: give one")
        for other, value in (
            ("--port", settings.port),
            ("--hardware-map", settings.hardware_map),
            ("--board-id", settings.board_id_given),
        ):
            if value:
                raise pytest.UsageError(f"{given[0]} and {other} both name the board: give one")
        from pytest_slm.labgrid.place import (
            DEFAULT_COORDINATOR,
            PlaceError,
            PlaceRequest,
            parse_match,
        )

        place = config.getoption("--lg-place", default=None)
        coordinator = config.getoption("lg_coordinator", default=None)
        env_file = config.getoption("lg_env", default=None)
        if env_file:
            place, env_coordinator = _place_from_env(config, env_file)
            coordinator = coordinator or env_coordinator
        try:
            match = parse_match(config.getoption("--lg-match", default=None) or [])
        except PlaceError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.request = PlaceRequest(
            coordinator=coordinator or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR,
            place=place,
            match=match,
            lock_timeout=settings.lock_timeout,
            port_name=config.getoption("--lg-port", default=None),
            sessions=settings.workers,
            lock_dir=settings.lock_dir,
        )
        self.expected = self._expected_board(dict(match))
        if not self.expected.simulated and not settings.peer_hosts and not settings.peer_url:
            raise pytest.UsageError(
                f"{given[0]} asks for a real board ({self.expected.name}), which cannot reach "
                "peers on this host's loopback: pass --peer-host ADDRESS (an address of this "
                "host the board can reach) or --peer-url URL (an slm-peer on a lab host)"
            )

    def _expected_board(self, match: dict[str, str]) -> Board:
        """The board this run expects before any place is seen: `--lg-match board=X`, else
        `--board` (the simulated board by default)."""
        name = match.get("board")
        if name is None:
            return self.settings.board
        try:
            return self.settings.registry.get(name)
        except BoardConfigError as exc:
            raise pytest.UsageError(f"--lg-match board={name}: {exc}") from None

    @property
    def real_hardware(self) -> bool:
        return not self.expected.simulated

    def open(self, ctx: OpenContext) -> Reached:
        from pytest_slm.labgrid.place import PlaceBusy, PlaceError, acquire_place

        request = replace(self.request, worker=ctx.worker)
        term = ReleaseOnTerm()
        term.install()
        try:
            held = acquire_place(request, ctx.progress)
        except PlaceBusy:
            term.remove()
            raise
        except PlaceError as exc:
            term.remove()
            raise pytest.UsageError(str(exc)) from None
        except BaseException:
            term.remove()
            raise
        try:
            board = self._board_of(held)
        except BaseException:
            try:
                held.release()
            finally:
                term.remove()
            raise
        settings = self.settings

        def flash(progress):
            from pytest_slm.labgrid.flash import flash_place

            return flash_place(
                held,
                board,
                settings.firmware,
                mode=settings.flash,
                runner=settings.runner,
                erase=settings.flash_erase,
                progress=progress,
            )

        return Reached(
            name=board.name,
            url=held.url,
            board=replace(board, uart=replace(board.uart, baudrate=held.serial.speed)),
            info={"worker": ctx.worker, "port": held.url, **held.info()},
            features=frozenset(board.features),
            closers=[term.remove, held.release],
            flash=flash if settings.firmware or settings.flash == "always" else None,
            ready_timeout=max(
                settings.ready_timeout, 0.0 if board.simulated else board.boot_timeout
            ),
        )

    def _board_of(self, held: HeldPlace) -> Board:
        settings = self.settings
        tagged = held.tags.get("board")
        given = settings.board.name
        if tagged and given not in (SIM_BOARD, tagged):
            raise pytest.UsageError(
                f"labgrid place {held.name} is tagged board={tagged}, but --board {given} was "
                "given: drop --board, or choose another place"
            )
        try:
            board = settings.registry.get(tagged or given)
        except BoardConfigError as exc:
            raise pytest.UsageError(f"labgrid place {held.name}: {exc}") from None
        if not board.simulated and not settings.peer_hosts and not settings.peer_url:
            raise pytest.UsageError(
                f"labgrid place {held.name} holds a real board ({board.name}), which cannot "
                "reach peers on this host's loopback: pass --peer-host ADDRESS or --peer-url URL"
            )
        return board


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
