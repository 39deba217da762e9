"""Flashing a board: the runners (west, pyocd, nrfutil) and the skip-if-unchanged cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_slm._lazy import lazy_exports

if TYPE_CHECKING:
    from pytest_slm.boards import Board
    from pytest_slm.flash.cache import FlashCache, FlashRecord, default_cache_dir
    from pytest_slm.flash.image import FirmwareError, FirmwareImage, resolve_firmware, sha256_of
    from pytest_slm.flash.runners import (
        FlashError,
        FlashJob,
        NrfutilRunner,
        PyocdRunner,
        Runner,
        WestRunner,
        get_runner,
        run_command,
        run_commands,
    )

FLASH_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class FlashOutcome:
    flashed: bool
    reason: str
    image: FirmwareImage | None = None
    runner: str | None = None
    duration: float = 0.0
    output: str = ""


def board_key(board: Board, probe_id: str | None) -> str:
    """What the flash cache is keyed by: the board kind and its probe's serial number, as the
    probe reports it whatever way it was typed (`000960012345` and `960012345` are one board)."""
    from pytest_slm.link.discovery import normalize_id

    return f"{board.name}-{normalize_id(probe_id)}" if probe_id else board.name


def flash_board(
    board: Board,
    firmware: str | None,
    *,
    probe_id: str | None,
    mode: str = "auto",
    runner: str | None = None,
    cache: FlashCache | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    erase: bool = False,
) -> FlashOutcome:
    """Program `firmware` onto the board unless mode or the cache says it is not needed."""
    from pytest_slm.flash.cache import FlashCache
    from pytest_slm.flash.image import resolve_firmware
    from pytest_slm.flash.runners import FlashError, FlashJob, get_runner, run_commands
    from pytest_slm.link.discovery import normalize_id

    if mode not in FLASH_MODES:
        raise FlashError(f"--flash must be one of {', '.join(FLASH_MODES)}, not {mode!r}")
    if mode == "never":
        return FlashOutcome(False, "--flash never")
    if not firmware:
        if mode == "always":
            raise FlashError("--flash always needs --firmware (a .hex or a build directory)")
        return FlashOutcome(False, "no --firmware given: using what the board runs now")
    image = resolve_firmware(firmware)
    runner_name = runner or board.runner
    if not runner_name:
        raise FlashError(f"board {board.name} has no default runner; choose one with --slm-runner")
    cache = cache if cache is not None else FlashCache()
    probe_id = normalize_id(probe_id) if probe_id else None
    key = board_key(board, probe_id)
    if mode == "auto" and not erase and cache.holds(key, image.sha256):
        return FlashOutcome(
            False, f"{key} already holds image {image.short_hash}", image, runner_name
        )
    tool = get_runner(runner_name)
    job = FlashJob(board, image, probe_id, erase=erase)
    tool.check(job, env=env)
    commands = tool.commands(job)
    cwd = tool.cwd(job)
    if progress:
        progress(f"flashing {key} with {runner_name}: {image.hex_path} ({image.short_hash})")
    # Until the new record is written the board's content is unknown: a flash that fails or is
    # interrupted halfway must not leave the old record claiming the old image is still there.
    cache.forget(key)
    started = time.monotonic()
    try:
        output = run_commands(
            commands, timeout=timeout or board.flash_timeout, progress=progress, env=env, cwd=cwd
        )
    except FlashError as exc:
        hint = tool.hint(job, exc.output)
        if hint:
            raise FlashError(f"{exc}\n  {hint}") from None
        raise
    cache.record(key, image.sha256, str(image.hex_path), runner_name)
    duration = time.monotonic() - started
    if progress:
        progress(f"flashed {key} in {duration:.1f} s")
    return FlashOutcome(True, "flashed", image, runner_name, duration, output)


__all__ = [
    "FLASH_MODES",
    "FirmwareError",
    "FirmwareImage",
    "FlashCache",
    "FlashError",
    "FlashJob",
    "FlashOutcome",
    "FlashRecord",
    "NrfutilRunner",
    "PyocdRunner",
    "Runner",
    "WestRunner",
    "board_key",
    "default_cache_dir",
    "flash_board",
    "get_runner",
    "resolve_firmware",
    "run_command",
    "run_commands",
    "sha256_of",
]

# Every pytest process imports this package for FLASH_MODES (the --flash option): the image,
# cache and runner modules are imported by flash_board or when one of their names is first used.
__getattr__, __dir__ = lazy_exports(
    __name__,
    __all__,
    ("pytest_slm.flash.cache", "pytest_slm.flash.image", "pytest_slm.flash.runners"),
)
