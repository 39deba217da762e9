"""The flash tools, driven through their command lines exactly as an engineer types them.

Each runner turns (board, image, probe id) into one or more commands; `run_commands` runs them,
streams their output as progress and turns a failure into a FlashError that quotes the output.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pytest_slm.boards import RUNNERS, Board
from pytest_slm.flash.image import FirmwareImage

Progress = Callable[[str], None]

# While a tool is silent (erasing, verifying), say so this often so a CI log shows it is alive.
HEARTBEAT = 10.0
OUTPUT_TAIL = 60
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class FlashError(Exception):
    """Flashing failed; the message holds the command line and the tool's output."""

    def __init__(self, message: str, *, command: list[str] | None = None, output: str = "",
                 returncode: int | None = None) -> None:
        self.command = command
        self.output = output
        self.returncode = returncode
        text = message
        if command:
            text += f"\n  $ {shlex.join(command)}"
        if output.strip():
            tail = output.strip().splitlines()[-OUTPUT_TAIL:]
            text += "\n  tool output:\n" + "\n".join("    " + line for line in tail)
        super().__init__(text)


@dataclass(frozen=True)
class FlashJob:
    board: Board
    image: FirmwareImage
    # The probe's serial number as the tools take it; None lets the tool pick the only probe.
    probe_id: str | None


class Runner:
    name = ""

    def commands(self, job: FlashJob) -> list[list[str]]:
        raise NotImplementedError


class WestRunner(Runner):
    """`west flash` on the build directory: west reads zephyr/runners.yaml there to know the
    runner's arguments and which image to program, so a bare .hex is not enough for it."""

    name = "west"

    def commands(self, job: FlashJob) -> list[list[str]]:
        if job.image.build_dir is None:
            raise FlashError(
                f"west flashes a build directory, and {job.image.hex_path} is a bare .hex outside "
                "one (west needs the build's zephyr/runners.yaml or domains.yaml). Pass the "
                "build directory with --firmware, or flash the .hex with --slm-runner nrfutil "
                "or --slm-runner pyocd."
            )
        cmd = ["west", "flash", "--build-dir", str(job.image.build_dir)]
        if job.board.west_runner:
            cmd += ["--runner", job.board.west_runner]
        if job.probe_id:
            cmd += ["--dev-id", job.probe_id]
        return [cmd]


class PyocdRunner(Runner):
    name = "pyocd"

    def commands(self, job: FlashJob) -> list[list[str]]:
        if not job.board.pyocd_target:
            raise FlashError(f"board {job.board.name} has no pyocd_target in its board file")
        cmd = ["pyocd", "flash", "-t", job.board.pyocd_target]
        if job.probe_id:
            cmd += ["--uid", job.probe_id]
        cmd.append(str(job.image.hex_path))
        return [cmd]


class NrfutilRunner(Runner):
    """`nrfutil device program` erases only the pages the image covers (the modem's settings
    and stored credentials elsewhere in flash survive), then a reset starts the new image."""

    name = "nrfutil"

    def commands(self, job: FlashJob) -> list[list[str]]:
        select = ["--serial-number", job.probe_id] if job.probe_id else []
        return [
            ["nrfutil", "device", "program", "--firmware", str(job.image.hex_path), *select,
             "--options", "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE"],
            ["nrfutil", "device", "reset", *select],
        ]


_RUNNERS: dict[str, type[Runner]] = {r.name: r for r in (WestRunner, PyocdRunner, NrfutilRunner)}
assert set(_RUNNERS) == set(RUNNERS)


def get_runner(name: str) -> Runner:
    try:
        return _RUNNERS[name]()
    except KeyError:
        raise FlashError(
            f"unknown flash runner {name!r}; use one of {', '.join(RUNNERS)}"
        ) from None


def _pump(stream, lines: queue.Queue) -> None:
    """Split the tool's output on CR as well as LF: progress bars redraw with bare CRs."""
    pending = b""
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        parts = _LINE_BREAK.split(pending + chunk)
        pending = parts.pop()
        for part in parts:
            lines.put(part.decode("utf-8", "replace"))
    if pending:
        lines.put(pending.decode("utf-8", "replace"))
    lines.put(None)


def run_command(cmd: list[str], *, timeout: float, progress: Progress | None = None,
                env: dict[str, str] | None = None) -> str:
    """Run one tool; its combined output, or FlashError on a non-zero exit or timeout."""
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            # Nothing to read: west and nrfutil prompt for a probe when several are attached and
            # no id was given; with no terminal they fail instead of hanging the session.
            stdin=subprocess.DEVNULL, env=env,
        )
    except FileNotFoundError:
        raise FlashError(f"{cmd[0]} is not installed or not on PATH", command=cmd) from None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    reader.start()
    output: list[str] = []
    started = time.monotonic()
    deadline = started + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise FlashError(f"{cmd[0]} did not finish within {timeout:g} s and was killed",
                                 command=cmd, output="\n".join(output))
            try:
                line = lines.get(timeout=min(left, HEARTBEAT))
            except queue.Empty:
                if progress:
                    progress(f"{cmd[0]}: still working ({time.monotonic() - started:.0f} s)")
                continue
            if line is None:
                break
            output.append(line)
            if progress and line.strip():
                progress(f"{cmd[0]}: {line.strip()}")
        returncode = proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    text = "\n".join(output)
    if returncode != 0:
        raise FlashError(f"{cmd[0]} failed (exit status {returncode})", command=cmd,
                         output=text, returncode=returncode)
    return text


def run_commands(commands: list[list[str]], *, timeout: float, progress: Progress | None = None,
                 env: dict[str, str] | None = None) -> str:
    """Run the commands one after the other, sharing one timeout; stop at the first failure."""
    deadline = time.monotonic() + timeout
    outputs = []
    for cmd in commands:
        if progress:
            progress(f"$ {shlex.join(cmd)}")
        outputs.append(run_command(cmd, timeout=max(deadline - time.monotonic(), 1.0),
                                   progress=progress, env=env))
    return "\n".join(outputs)
