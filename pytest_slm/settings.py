"""The session's settings: every pytest-slm option, parsed and checked once at configure time.

`pytest_configure` builds one `Settings` from the command line and stores it on the config; the
session, the board sources and the flash step read it from there and never touch `config`
again. A bad option or a contradiction between options is a `pytest.UsageError` raised here,
before collection, so pytest exits with its usage-error status (4) and one message instead of
one error per test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_slm.boards import Board, BoardConfigError, BoardRegistry
from pytest_slm.bringup import DEFAULT_ATTACH_TIMEOUT, DEFAULT_SEC_TAG

if TYPE_CHECKING:
    from pytest_slm.sources.base import BoardSource

SIM_BOARD = "sim"
DEFAULT_LOCK_TIMEOUT = 600.0
DEFAULT_READY_TIMEOUT = 30.0
SETTINGS_KEY = pytest.StashKey["Settings"]()


@dataclass
class Settings:
    """What this run was asked to do, typed and validated."""

    registry: BoardRegistry
    # The --board entry (the simulated board by default).
    board: Board
    port: str | None = None
    # The probe id as typed, and normalized (`000960012345` -> `960012345`) for every key.
    board_id_given: str | None = None
    # The external probe that flashes a board without its own (Thingy:91), as typed.
    probe_id: str | None = None
    firmware: str | None = None
    runner: str | None = None
    flash: str = "auto"
    flash_erase: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    attach_timeout: float = DEFAULT_ATTACH_TIMEOUT
    ready_timeout: float = DEFAULT_READY_TIMEOUT
    sec_tag: int = DEFAULT_SEC_TAG
    sim_baud: int | None = None
    # --sim-latency / --sim-jitter in seconds (the simulator's emulated network round trip).
    sim_latency: float = 0.0
    sim_jitter: float = 0.0
    hardware_map: Path | None = None
    peer_hosts: tuple[str, ...] = ()
    peer_url: str | None = None
    twister: bool = False
    # --dialect: `auto` (detect at bring-up) or a `pytest_slm.dialects` name the board must run.
    dialect: str = "auto"
    # This process's pytest-xdist worker (`master` without xdist) and how many the run has.
    worker: str = "master"
    workers: int = 1
    # Private directories for tests; None means the user's cache and lock directories.
    cache_dir: Path | None = None
    lock_dir: Path | None = None
    # The board source chosen for this run (set by `choose_source` at configure time).
    source: BoardSource | None = field(default=None, repr=False)

    @property
    def board_id(self) -> str | None:
        # Every pytest process builds Settings; the USB discovery module only a real board needs.
        from pytest_slm.link import normalize_id

        return normalize_id(self.board_id_given) if self.board_id_given else None

    @property
    def board_name(self) -> str:
        return self.board.name

    def sec_tags(self) -> dict[str, int]:
        """The sec_tags the suite owns: its CA in --sec-tag, an unrelated CA in the next one (the
        wrong-CA tests), and one more left empty (a tag holding no credential)."""
        return {"ca": self.sec_tag, "wrong_ca": self.sec_tag + 1, "empty": self.sec_tag + 5}


def _opt(config: pytest.Config, name: str, default: Any = None) -> Any:
    # default= keeps settings buildable where an option group is not declared (the peers').
    return config.getoption(name, default=default)


def registry_from_config(config: pytest.Config) -> BoardRegistry:
    try:
        return BoardRegistry.load(_opt(config, "--boards-dir") or [])
    except BoardConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def _positive(value: float | None, option: str) -> None:
    if value is not None and value <= 0:
        raise pytest.UsageError(f"{option} must be a positive number of seconds, not {value:g}")


def _duration(text: str | None, option: str) -> float:
    """`600ms`, `0.6s` or `0.6` (seconds): the simulator's own syntax, checked here so that a
    typo is a usage error at configure time, not a simulator that dies at session start."""
    if text is None:
        return 0.0
    # The simulator's network package is imported only when the option is given.
    from firmware_ref.net.latency import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise pytest.UsageError(
            f"{option} {text!r}: give a duration of zero or more, e.g. 600ms or 0.6s"
        ) from None


def settings_from_config(config: pytest.Config) -> Settings:
    """Parse and check every option; raises pytest.UsageError with what to change."""
    registry = registry_from_config(config)
    try:
        board = registry.get(_opt(config, "--board", SIM_BOARD) or SIM_BOARD)
    except BoardConfigError as exc:
        raise pytest.UsageError(f"--board: {exc}") from None
    board_id = _opt(config, "--board-id")
    if board_id is not None and not board_id.strip():
        raise pytest.UsageError("--board-id is empty; give the probe's serial number")
    hardware_map = _opt(config, "--hardware-map")
    settings = Settings(
        registry=registry,
        board=board,
        port=_opt(config, "--port"),
        board_id_given=board_id.strip() if board_id else None,
        probe_id=(_opt(config, "--probe-id") or "").strip() or None,
        firmware=_opt(config, "--firmware"),
        runner=_opt(config, "--slm-runner"),
        flash=_opt(config, "slm_flash", "auto"),
        flash_erase=bool(_opt(config, "slm_flash_erase", False)),
        lock_timeout=_opt(config, "--lock-timeout", DEFAULT_LOCK_TIMEOUT),
        attach_timeout=_opt(config, "--attach-timeout", DEFAULT_ATTACH_TIMEOUT),
        ready_timeout=_opt(config, "--ready-timeout", DEFAULT_READY_TIMEOUT),
        sec_tag=_opt(config, "--sec-tag", DEFAULT_SEC_TAG),
        sim_baud=_opt(config, "--sim-baud"),
        sim_latency=_duration(_opt(config, "--sim-latency"), "--sim-latency"),
        sim_jitter=_duration(_opt(config, "--sim-jitter"), "--sim-jitter"),
        hardware_map=Path(hardware_map).expanduser() if hardware_map else None,
        peer_hosts=tuple(_opt(config, "peer_host") or ()),
        peer_url=_opt(config, "peer_url"),
        cache_dir=_env_path("PYTEST_SLM_CACHE_DIR"),
        dialect=_opt(config, "--dialect", "auto") or "auto",
    )
    settings.worker, settings.workers = xdist_position(config)
    _positive(settings.lock_timeout, "--lock-timeout")
    _positive(settings.attach_timeout, "--attach-timeout")
    _positive(settings.ready_timeout, "--ready-timeout")
    if settings.sim_baud is not None and settings.sim_baud <= 0:
        raise pytest.UsageError(f"--sim-baud must be a positive baud rate, not {settings.sim_baud}")
    if settings.sim_jitter and not settings.sim_latency:
        raise pytest.UsageError("--sim-jitter varies the round trip of --sim-latency; give both")
    if settings.sim_latency and not (settings.port is None and settings.board.simulated):
        raise pytest.UsageError(
            "--sim-latency shapes the simulated board pytest-slm starts; it cannot slow down "
            f"{settings.port or settings.board.name} (for --port, start slm-sim --latency yourself)"
        )
    if not 0 <= settings.sec_tag <= 2147483647 - 5:
        raise pytest.UsageError(f"--sec-tag {settings.sec_tag}: a sec_tag is 0 to 2147483642")
    if settings.flash == "always" and not settings.firmware:
        raise pytest.UsageError("--flash always needs --firmware (a .hex or a build directory)")
    if settings.flash_erase and not settings.firmware:
        raise pytest.UsageError(
            "--flash-erase erases the board before flashing --firmware; give --firmware too"
        )
    if settings.flash_erase and settings.flash == "never":
        raise pytest.UsageError("--flash-erase and --flash never contradict each other")
    allowed = settings.board.dialects
    if settings.dialect != "auto" and allowed and settings.dialect not in allowed:
        raise pytest.UsageError(
            f"--dialect {settings.dialect}: the board file of {settings.board.name} lists only "
            f"{', '.join(allowed)} (dialects:)"
        )
    from pytest_slm.sources.base import choose_source

    settings.source = choose_source(settings, config)
    if settings.source.real_hardware and not settings.peer_hosts and not settings.peer_url:
        # The peers default to loopback, which a board on LTE cannot reach: every network test
        # would time out one by one.
        raise pytest.UsageError(
            f"a real board ({settings.source.describe()}) cannot reach "
            "peers on this host's loopback: pass --peer-host ADDRESS (an address of this host "
            "the board can reach over its network, once per IP family) or --peer-url URL (an "
            "slm-peer running on a lab host)"
        )
    return settings


def xdist_position(config: pytest.Config) -> tuple[str, int]:
    """This process's xdist worker id and the run's worker count, read from pytest's config:
    never from PYTEST_XDIST_WORKER*, which a pytest started by a test inherits from the outer
    run's worker although it runs no xdist of its own."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return "master", 1
    return str(workerinput.get("workerid", "gw0")), max(1, int(workerinput.get("workercount", 1)))


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings (built at configure time; built now for a config that skipped it)."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        settings = settings_from_config(config)
        config.stash[SETTINGS_KEY] = settings
    return settings
