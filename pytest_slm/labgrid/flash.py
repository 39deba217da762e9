"""Flashing a board through its labgrid place: the flash tool runs where the probe is.

On an nRF DK the UART and the debug probe are one USB device (the J-Link OB), so the machine that
exports the board's serial port is the machine with its probe. labgrid offers the means to work
there: `ManagedFile` copies the image to that host (into labgrid's per-user cache, over SSH and
rsync, skipped when the file is already visible there through NFS), and a network resource's
`wrap_command` runs a command on it through labgrid's shared SSH connection. The command is the
one pytest-slm runs for a board on the desk (`pytest_slm.flash.runners`), with the copied image's
path and the probe's serial number from the place's `board_id` tag.

`--flash auto` cannot trust this machine's flash cache for a place other machines also flash, so
a place is flashed whenever `--firmware` is given (unless `--flash never`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pytest_slm.boards import Board
from pytest_slm.flash import FlashError, FlashJob, FlashOutcome, get_runner, resolve_firmware
from pytest_slm.flash.runners import run_commands
from pytest_slm.labgrid.place import HeldPlace, PlaceError
from pytest_slm.link import normalize_id

Progress = Callable[[str], None]


def flash_place(
    held: HeldPlace,
    board: Board,
    firmware: str | None,
    *,
    mode: str = "auto",
    runner: str | None = None,
    erase: bool = False,
    progress: Progress | None = None,
) -> FlashOutcome:
    """Program `firmware` onto the board of `held` from the machine its serial port is on."""
    say = progress or (lambda message: None)
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
    if runner_name == "west":
        raise FlashError(
            "west flashes a build directory on the machine that runs it, and a labgrid place is "
            f"flashed from {held.serial.exporter}'s machine: pass --slm-runner nrfutil or "
            "--slm-runner pyocd, which program the .hex there"
        )
    tool = get_runner(runner_name)
    resource = held.network_resource()
    tagged = held.tags.get("board_id")
    probe_id = normalize_id(tagged) if tagged else None
    where = f"{resource.host} (exporter {held.serial.exporter})"
    say(f"copying {image.hex_path} ({image.short_hash}) to {where} for place {held.name}")
    from labgrid.driver.exception import ExecutionError
    from labgrid.util.managedfile import ManagedFile

    managed = ManagedFile(str(image.hex_path), resource)
    try:
        managed.sync_to_resource()
    except (ExecutionError, OSError) as exc:
        raise PlaceError(
            f"could not copy {image.hex_path} to {where} for place {held.name} (labgrid reaches "
            f"it with ssh and rsync as the exporter's hostname names it): {exc}"
        ) from None
    remote = replace(image, hex_path=Path(managed.get_remote_path()), build_dir=None)
    job = FlashJob(board, remote, probe_id, erase)
    commands = [resource.wrap_command(cmd) for cmd in tool.commands(job)]
    say(
        f"flashing place {held.name} ({board.name}, probe {probe_id or 'the only one'}) with "
        f"{runner_name} on {where}"
    )
    started = time.monotonic()
    output = run_commands(commands, timeout=board.flash_timeout, progress=say)
    duration = time.monotonic() - started
    say(f"flashed place {held.name} in {duration:.1f} s")
    return FlashOutcome(True, "flashed", image, runner_name, duration, output)
