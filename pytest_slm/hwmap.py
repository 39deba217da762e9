"""Twister hardware maps: the boards of a lab as a pool, one board per pytest(-xdist) worker.

A lab that already runs twister describes its boards in a hardware map (``twister
--generate-hardware-map``, then the platforms filled in by hand). ``--hardware-map FILE`` reads the
same file, so one description serves both tools. Each connected entry becomes a pool member;
every session (each pytest-xdist worker runs its own) claims the first free member with the board
lock of ``pytest_slm.link``, the same lock a single-board session takes, so two pytest runs, or a
pytest run and an xdist sibling, never share a board.

An entry's ``platform`` is a twister platform (``nrf9160dk/nrf9160/ns``); it is mapped to a board
of the registry through the board's ``zephyr_board``. A platform that names a registry board
directly (``sim``) is taken as that board, which is how a map lists simulators behind ptys or
``socket://`` ports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_slm.boards import Board, BoardRegistry
from pytest_slm.hardware import lock_key_for
from pytest_slm.link import normalize_id
from pytest_slm.link.lock import POLL_INTERVAL, BoardBusy, BoardLock
from pytest_slm.settings import Settings

DEFAULT_BAUD = 115200


class HardwareMapError(Exception):
    """The hardware map is malformed, or no entry fits what this run asked for."""


@dataclass(frozen=True)
class HardwareMapEntry:
    """One board of a twister hardware map, with twister's field names and defaults."""

    index: int
    platforms: tuple[str, ...]
    serial: str = ""
    id: str = ""
    baud: int = DEFAULT_BAUD
    product: str = ""
    runner: str = ""
    connected: bool = True
    fixtures: tuple[str, ...] = ()
    runner_params: tuple[str, ...] = ()
    serial_pty: str = ""
    probe_id: str = ""
    flash_timeout: float | None = None
    flash_before: bool = False
    notes: str = ""

    @property
    def platform(self) -> str:
        return self.platforms[0]

    @property
    def lock_key(self) -> str:
        # The key a `--board X --board-id N` or `--port URL` session takes for the same board, so
        # a hardware-map run and a plain run never share it. Like twister, entries with one id
        # (several platforms or UARTs of one board) are one board.
        return lock_key_for(self.id or None, self.serial)

    @property
    def fixture_names(self) -> frozenset[str]:
        """Twister matches only the part before ':' (``echo_server:192.0.2.10:7``)."""
        return frozenset(f.split(":", 1)[0] for f in self.fixtures)

    def describe(self) -> str:
        ident = f"id {self.id}" if self.id else "no id"
        return f"hardware-map entry {self.index} ({self.platform}, {ident}, {self.serial})"


def _as_list(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # Twister accepts "a b" as well as a YAML list for platforms sharing one board.
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise HardwareMapError(f"{where}: '{key}' must be a string or a list of strings")


def parse_entry(data: Any, index: int, source: str = "<hardware map>") -> HardwareMapEntry:
    where = f"{source}: entry {index}"
    if not isinstance(data, dict):
        raise HardwareMapError(f"{where}: each entry must be a mapping")
    platforms = _as_list(data.get("platform"), where, "platform")
    if not platforms:
        raise HardwareMapError(f"{where}: 'platform' is missing")
    serial = data.get("serial") or ""
    serial_pty = data.get("serial_pty") or ""
    if not serial and not serial_pty:
        raise HardwareMapError(f"{where}: needs 'serial' (a port or pyserial URL) or 'serial_pty'")
    # Twister's newer maps spell the rate serial_baud; older ones baud.
    baud = data.get("serial_baud", data.get("baud")) or DEFAULT_BAUD
    try:
        baud = int(baud)
    except (TypeError, ValueError):
        raise HardwareMapError(f"{where}: baud {baud!r} is not a number") from None
    flash_timeout = data.get("flash_timeout")
    return HardwareMapEntry(
        index=index,
        platforms=platforms,
        serial=str(serial),
        id="" if data.get("id") is None else str(data["id"]),
        baud=baud,
        product=str(data.get("product") or ""),
        runner=str(data.get("runner") or ""),
        connected=bool(data.get("connected", True)),
        fixtures=_as_list(data.get("fixtures"), where, "fixtures"),
        runner_params=_as_list(data.get("runner_params"), where, "runner_params"),
        serial_pty=str(serial_pty),
        probe_id="" if data.get("probe_id") is None else str(data["probe_id"]),
        flash_timeout=None if flash_timeout is None else float(flash_timeout),
        flash_before=bool(data.get("flash_before", False)),
        notes=str(data.get("notes") or ""),
    )


def parse_hardware_map(data: Any, source: str = "<hardware map>") -> list[HardwareMapEntry]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise HardwareMapError(f"{source}: a hardware map is a YAML list of boards")
    return [parse_entry(item, i, source) for i, item in enumerate(data)]


def load_hardware_map(path: str | Path) -> list[HardwareMapEntry]:
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HardwareMapError(f"--hardware-map {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HardwareMapError(f"{path}: not valid YAML: {exc}") from None
    return parse_hardware_map(data, str(path))


def _hwmv1(target: str) -> str:
    """``nrf9160dk/nrf9160/ns`` as twister spelled it before hardware model v2."""
    return target.replace("/", "_")


def board_for_platform(platform: str, registry: BoardRegistry) -> Board | None:
    """The registry board a twister platform names, by Zephyr target or by board name."""
    wanted = platform.strip()
    for board in registry:
        if board.zephyr_board and wanted in (board.zephyr_board, _hwmv1(board.zephyr_board)):
            return board
    if wanted in registry:
        return registry.get(wanted)
    return None


def entry_board(entry: HardwareMapEntry, registry: BoardRegistry) -> Board:
    for platform in entry.platforms:
        board = board_for_platform(platform, registry)
        if board is not None:
            return board
    known = ", ".join(
        sorted({b.zephyr_board for b in registry if b.zephyr_board} | set(registry.names))
    )
    raise HardwareMapError(
        f"{entry.describe()}: platform {' '.join(entry.platforms)} matches no board "
        f"(known: {known}; a lab adds boards with --boards-dir)"
    )


@dataclass
class Claim:
    """A pool member held by this session until release()."""

    entry: HardwareMapEntry
    board: Board
    lock: BoardLock
    worker: str = "master"
    info: dict[str, str] = field(default_factory=dict)
    _pty_path: str = field(default="", init=False, repr=False)
    _pty_process: Any = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """Where to open the board: the entry's port, or the pty of its serial_pty script."""
        if self.entry.serial or not self.entry.serial_pty:
            return self.entry.serial
        if self._pty_process is None:
            # Imported here: twister.py maps platforms with this module's board_for_platform.
            from pytest_slm.twister import SerialPtyProcess

            process = SerialPtyProcess(self.entry.serial_pty)
            self._pty_path = process.start()
            self._pty_process = process
        return self._pty_path

    @property
    def baudrate(self) -> int:
        return self.entry.baud

    def release(self) -> None:
        try:
            if self._pty_process is not None:
                self._pty_process.stop()
                self._pty_process = None
        finally:
            self.lock.release()


class BoardPool:
    """The connected entries of a hardware map that fit this run."""

    def __init__(
        self,
        entries: Iterable[HardwareMapEntry],
        registry: BoardRegistry,
        *,
        board: str | None = None,
        fixtures: Iterable[str] = (),
    ) -> None:
        wanted_fixtures = frozenset(fixtures)
        self.registry = registry
        self.members: list[tuple[HardwareMapEntry, Board]] = []
        entries = [e for e in entries if e.connected]
        # A probe that flashes another entry's board (the DK wired to a Thingy:91's debug
        # connector) is that entry's tool, not a board under test.
        programmers = {
            normalize_id(e.probe_id)
            for e in entries
            if e.probe_id and normalize_id(e.probe_id) != normalize_id(e.id or "-")
        }
        self.programmers: list[HardwareMapEntry] = []
        for entry in entries:
            if entry.id and normalize_id(entry.id) in programmers:
                self.programmers.append(entry)
                continue
            resolved = entry_board(entry, registry)
            if board is not None and resolved.name != board:
                continue
            if not wanted_fixtures <= entry.fixture_names:
                continue
            self.members.append((entry, resolved))

    def __len__(self) -> int:
        return len(self.members)

    def claim(
        self,
        *,
        worker: str = "master",
        timeout: float = 600.0,
        lock_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Claim:
        """Hold the first free member, trying the worker's own slot first.

        gw0 starts at member 0, gw1 at member 1, ...: with as many boards as workers each worker
        gets its own board at once, and the lock settles any overlap (a second pytest run, a
        board in use by someone else).
        """
        if not self.members:
            raise HardwareMapError("the hardware map has no connected board that fits this run")
        start = worker_index(worker) % len(self.members)
        order = self.members[start:] + self.members[:start]
        deadline = time.monotonic() + timeout
        announced = False
        note = f"pytest-slm worker {worker}"
        while True:
            for entry, board in order:
                lock = BoardLock(entry.lock_key, timeout=0, lock_dir=lock_dir, holder_note=note)
                try:
                    lock.acquire()
                except BoardBusy:
                    continue
                if announced and progress:
                    progress(f"{entry.describe()} is ours now")
                return Claim(
                    entry=entry,
                    board=board,
                    lock=lock,
                    worker=worker,
                    info=claim_info(entry, board, worker),
                )
            # Said before the deadline check: on a loaded host one pass over the locks may
            # outlast a short --lock-timeout, and the wait must still be announced.
            if not announced and progress and timeout > 0:
                announced = True
                progress(
                    f"all {len(order)} boards of the hardware map are in use; waiting up to "
                    f"{timeout:g} s for one (--lock-timeout)"
                )
            if time.monotonic() >= deadline:
                busy = "; ".join(
                    f"{e.describe()}: {BoardLock(e.lock_key, lock_dir=lock_dir).holder()}"
                    for e, _ in order
                )
                raise BoardBusy(
                    f"every board of the hardware map is in use ({busy}); gave up after "
                    f"--lock-timeout {timeout:g} s"
                )
            # Same hand-over poll as BoardLock itself: flock offers nothing to block on for a set.
            time.sleep(POLL_INTERVAL)


def claim_info(entry: HardwareMapEntry, board: Board, worker: str) -> dict[str, str]:
    """What the report shows about where a session ran."""
    info = {
        "worker": worker,
        "board": board.name,
        "platform": entry.platform,
        "port": entry.serial,
        "hardware_map_entry": str(entry.index),
    }
    if entry.id:
        info["board_id"] = entry.id
    if entry.runner:
        info["runner"] = entry.runner
    return info


def worker_index(worker: str) -> int:
    """0 for ``master`` and ``gw0``, n for ``gwN``."""
    digits = worker[2:] if worker.startswith("gw") else ""
    return int(digits) if digits.isdigit() else 0


def load_pool(
    path: str | Path,
    registry: BoardRegistry,
    *,
    board: str | None = None,
    fixtures: Sequence[str] = (),
    workers: int = 1,
) -> BoardPool:
    """The pool of a ``--hardware-map`` for this run, checked against its ``workers``."""
    pool = BoardPool(load_hardware_map(path), registry, board=board, fixtures=fixtures)
    if not pool:
        what = f" for --board {board}" if board else ""
        raise HardwareMapError(f"--hardware-map {path}: no connected board{what}")
    if workers > len(pool):
        # Each session keeps its board until it ends, so surplus workers would only wait out
        # --lock-timeout and then fail; say so before any test runs.
        raise HardwareMapError(
            f"-n {workers} needs {workers} boards but --hardware-map {path} has {len(pool)} "
            f"connected{' ' + board if board else ''}; use -n {len(pool)} or fewer"
        )
    return pool


def hardware_settings(claim: Claim, settings: Settings):
    """The hardware session's settings for a claimed real board.

    A local port (``/dev/...``) means the board sits on this machine: it is found by its ``id``
    (its USB serial number: a DK's J-Link, a Thingy:91's bridge) and flashed through
    ``probe_id`` when the map names a separate probe, like ``--board X --board-id ID
    --probe-id P``. A URL (``rfc2217://`` to a lab host's ser2net) is opened as given and never
    flashed, like ``--port``.
    """
    from dataclasses import replace

    from pytest_slm.hardware import HardwareSettings
    from pytest_slm.link import is_local_device

    board = claim.board
    hw = HardwareSettings.from_settings(settings, board)
    hw.board = replace(board, uart=replace(board.uart, baudrate=claim.baudrate))
    hw.board_id = claim.entry.id or None
    hw.probe_id = claim.entry.probe_id or None
    url = claim.url
    findable = board.usb is not None and (hw.board_id or hw.probe_id)
    hw.port = None if (is_local_device(url) and findable) else url
    if claim.entry.flash_timeout:
        hw.board = replace(hw.board, flash_timeout=claim.entry.flash_timeout)
    # The claim holds the board's lock already.
    hw.held_locks = frozenset({claim.entry.lock_key})
    return hw
