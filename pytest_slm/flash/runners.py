"""The flash tools, driven through their command lines exactly as an engineer types them.

Each runner turns (board, image, probe id) into one or more commands; `run_commands` runs them,
streams their output as progress and turns a failure into a FlashError that quotes the output.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from pytest_slm.boards import RUNNERS, Board
from pytest_slm.flash.image import FirmwareImage

Progress = Callable[[str], None]

# While a tool is silent (erasing, verifying), say so this often so a CI log shows it is alive.
HEARTBEAT = 10.0
OUTPUT_TAIL = 60
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class FlashError(Exception):
    """Flashing failed; the message holds the command line and the tool's output."""

    def __init__(
        self,
        message: str,
        *,
        command: list[str] | None = None,
        output: str = "",
        returncode: int | None = None,
    ) -> None:
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
    # The probe's serial number as the tools take it (normalized: J-Link ids unpadded);
    # None lets the tool pick the only probe.
    probe_id: str | None
    # Erase the whole chip (or recover it from access protection) before programming.
    erase: bool = False


class Runner:
    name = ""

    def check(self, job: FlashJob, *, env: dict[str, str] | None = None) -> None:
        """Refuse early, with what to do, when the tool or the build cannot do this job."""

    def commands(self, job: FlashJob) -> list[list[str]]:
        raise NotImplementedError

    def cwd(self, job: FlashJob) -> Path | None:
        """Where the commands run (None: anywhere)."""
        return None

    def hint(self, job: FlashJob, output: str) -> str:
        """What to check when the tool failed with `output` (appended to the FlashError)."""
        return ""


def runners_offered(build_dir: Path) -> tuple[list[str], str | None]:
    """The runners a build's `zephyr/runners.yaml` offers, and its default flash runner.

    A sysbuild keeps the file in the default domain's own build directory (domains.yaml).
    """
    path = build_dir / "zephyr" / "runners.yaml"
    if not path.is_file() and (build_dir / "domains.yaml").is_file():
        domains = yaml.safe_load((build_dir / "domains.yaml").read_text(encoding="utf-8")) or {}
        default = domains.get("default") if isinstance(domains, dict) else None
        if default:
            path = build_dir / str(default) / "zephyr" / "runners.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FlashError(
            f"cannot read {path} to know which flash runners the build offers: {exc}"
        ) from None
    runners = data.get("runners") or []
    return [str(r) for r in runners], data.get("flash-runner")


def cmake_cache_value(build_dir: Path, key: str) -> str | None:
    try:
        text = (build_dir / "CMakeCache.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.split(":", 1)[0] == key:
            return value.strip()
    return None


def west_workspace(zephyr_base: Path) -> Path | None:
    """The west workspace (the directory holding `.west/`) that contains ZEPHYR_BASE."""
    for parent in [zephyr_base, *zephyr_base.parents]:
        if (parent / ".west").is_dir():
            return parent
    return None


def no_rebuild_flag(zephyr_base: Path) -> str:
    """`--no-rebuild` where the build's Zephyr has it (`--skip-rebuild` is deprecated there);
    `--skip-rebuild`, the only spelling, in older ones (NCS 2.x's Zephyr 3.0 to 3.6)."""
    run_common = zephyr_base / "scripts" / "west_commands" / "run_common.py"
    try:
        text = run_common.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "--skip-rebuild"
    return "--no-rebuild" if "'--rebuild'" in text or '"--rebuild"' in text else "--skip-rebuild"


class WestRunner(Runner):
    """`west flash` on the build directory: west reads zephyr/runners.yaml there to know the
    runner's arguments and which image to program, so a bare .hex is not enough for it.

    It runs from the build's own west workspace (outside one, `flash` is not a west command)
    and never rebuilds: a build directory copied from CI cannot re-run cmake, and a rebuild
    could flash another image than the one whose hash the flash cache records.
    """

    name = "west"

    def _zephyr_base(self, job: FlashJob) -> Path:
        build_dir = self._build_dir(job)
        base = cmake_cache_value(build_dir, "ZEPHYR_BASE")
        if not base:
            raise FlashError(
                f"west flash: {build_dir}/CMakeCache.txt names no ZEPHYR_BASE, so the west "
                "workspace the build came from is unknown. Flash the image with --slm-runner "
                "nrfutil or --slm-runner pyocd instead."
            )
        return Path(base)

    def _build_dir(self, job: FlashJob) -> Path:
        if job.image.build_dir is None:
            raise FlashError(
                f"west flashes a build directory, and {job.image.hex_path} is a bare .hex outside "
                "one (west needs the build's zephyr/runners.yaml or domains.yaml). Pass the "
                "build directory with --firmware, or flash the .hex with --slm-runner nrfutil "
                "or --slm-runner pyocd."
            )
        return job.image.build_dir

    def cwd(self, job: FlashJob) -> Path | None:
        base = self._zephyr_base(job)
        workspace = west_workspace(base)
        if workspace is None:
            raise FlashError(
                f"west flash: the build's ZEPHYR_BASE {base} is not inside a west workspace (no "
                ".west directory above it), and outside one `flash` is not a west command. Run "
                "on the machine that holds the NCS workspace the build came from, or flash the "
                "image with --slm-runner nrfutil or --slm-runner pyocd."
            )
        return workspace

    def runner_for(self, job: FlashJob) -> str | None:
        offered, default = runners_offered(self._build_dir(job))
        wanted = job.board.west_runner
        if wanted is None or wanted in offered:
            return wanted
        raise FlashError(
            f"west flash: the build {self._build_dir(job)} offers the runners "
            f"{', '.join(offered) or '(none)'} (zephyr/runners.yaml), not {wanted} that board "
            f"{job.board.name} names (west_runner). A build from an older NCS has no nrfutil "
            f"runner: set west_runner to one it offers in a --boards-dir board file, or flash "
            f"the image with --slm-runner nrfutil or --slm-runner pyocd."
        )

    def commands(self, job: FlashJob) -> list[list[str]]:
        build_dir = self._build_dir(job)
        runner = self.runner_for(job)
        cmd = [
            "west",
            "flash",
            "--build-dir",
            str(build_dir),
            no_rebuild_flag(self._zephyr_base(job)),
        ]
        if runner:
            cmd += ["--runner", runner]
        if job.probe_id:
            cmd += ["--dev-id", job.probe_id]
        if job.erase:
            # Runner options follow the runner's own: nrfjprog, nrfutil, jlink and pyocd all
            # take --erase for a full chip erase.
            cmd.append("--erase")
        return [cmd]


PYOCD_HINT = (
    "pyocd found no matching probe. Check: the SEGGER J-Link software is installed (pyocd drives "
    "J-Link OB probes through its DLL: https://www.segger.com/downloads/jlink/); the id is the "
    "probe's (--board-id; `pyocd list` shows them); the board is powered (nRF9160 DK: SW10 on "
    "nRF91); the udev rules let you open the probe (`pyocd list` as your user)."
)


class PyocdRunner(Runner):
    name = "pyocd"

    def commands(self, job: FlashJob) -> list[list[str]]:
        if not job.board.pyocd_target:
            raise FlashError(f"board {job.board.name} has no pyocd_target in its board file")
        # -W: fail at once when no probe matches; without it pyocd waits for one to appear.
        cmd = ["pyocd", "flash", "-W", "-t", job.board.pyocd_target]
        if job.probe_id:
            cmd += ["--uid", job.probe_id]
        if job.erase:
            cmd += ["--erase", "chip"]
        cmd.append(str(job.image.hex_path))
        return [cmd]

    def hint(self, job: FlashJob, output: str) -> str:
        if re.search(r"debug probe", output, re.I):
            return PYOCD_HINT
        return ""


NRFUTIL_INSTALL = (
    "pytest-slm needs nRF Util 7 or later, the standalone `nrfutil` binary with its `device` "
    "command: download it from https://www.nordicsemi.com/Products/Development-tools/nRF-Util, "
    "put it on PATH, then run `nrfutil install device`. The pip package `nrfutil` (6.x and "
    "older) is a different tool without `device`: `pip uninstall nrfutil` if it shadows it."
)


class NrfutilRunner(Runner):
    """`nrfutil device program` erases only the pages the image covers (the modem's settings
    and stored credentials elsewhere in flash survive), then a reset starts the new image.

    A board whose USB bridge runs MCUboot serial recovery (Thingy:91 X: `nrfutil_mode: mcuboot`)
    is programmed through the bridge with the build's `dfu_application.zip`."""

    name = "nrfutil"

    def check(self, job: FlashJob, *, env: dict[str, str] | None = None) -> None:
        try:
            proc = subprocess.run(
                ["nrfutil", "device", "--version"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                env=env,
                timeout=60,
            )
        except FileNotFoundError:
            raise FlashError(
                "nrfutil is not installed or not on PATH. " + NRFUTIL_INSTALL,
                command=["nrfutil", "device", "--version"],
            ) from None
        except subprocess.TimeoutExpired:
            raise FlashError(
                "`nrfutil device --version` did not answer within 60 s",
                command=["nrfutil", "device", "--version"],
            ) from None
        if proc.returncode != 0:
            raise FlashError(
                "this nrfutil has no `device` command. " + NRFUTIL_INSTALL,
                command=["nrfutil", "device", "--version"],
                output=proc.stdout + proc.stderr,
                returncode=proc.returncode,
            )
        if job.probe_id is None:
            raise FlashError(
                f"nrfutil needs the probe's serial number for board {job.board.name}: with "
                "more than one device attached it would program whichever it lists first. "
                "Give --board-id (or --probe-id for a board flashed through an external probe)"
            )

    def _firmware(self, job: FlashJob) -> Path:
        if job.board.nrfutil_mode != "mcuboot":
            return job.image.hex_path
        if job.image.build_dir is not None:
            for rel in ("dfu_application.zip", "zephyr/dfu_application.zip"):
                candidate = job.image.build_dir / rel
                if candidate.is_file():
                    return candidate
        raise FlashError(
            f"board {job.board.name} is programmed through its USB bridge by MCUboot serial "
            f"recovery, which takes the build's dfu_application.zip; {job.image.hex_path} has "
            "none next to it. Pass the build directory with --firmware."
        )

    def commands(self, job: FlashJob) -> list[list[str]]:
        select = ["--serial-number", job.probe_id] if job.probe_id else []
        if job.board.nrfutil_mode == "mcuboot":
            if job.erase:
                raise FlashError(
                    f"--flash-erase: board {job.board.name} is programmed by "
                    "MCUboot serial recovery, which cannot erase the chip; erase "
                    "it with an external J-Link on its debug connector"
                )
            return [
                [
                    "nrfutil",
                    "device",
                    "program",
                    "--firmware",
                    str(self._firmware(job)),
                    *select,
                    "--traits",
                    "mcuboot",
                ]
            ]
        commands = []
        mode = "ERASE_RANGES_TOUCHED_BY_FIRMWARE"
        if job.erase:
            # recover: a full erase that also lifts access protection.
            commands.append(["nrfutil", "device", "recover", *select])
            mode = "ERASE_ALL"
        return commands + [
            [
                "nrfutil",
                "device",
                "program",
                "--firmware",
                str(job.image.hex_path),
                *select,
                "--options",
                f"chip_erase_mode={mode}",
            ],
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


def _end_group(proc: subprocess.Popen) -> None:
    """Kill the tool and everything it started (`west` runs `nrfjprog`, which holds the probe)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        proc.kill()
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _CtrlCHeld:
    """Ctrl-C held back while a tool starts.

    A KeyboardInterrupt between the fork and the `try` that kills the tool's process group (a
    loaded host makes that window long) would leave the tool, and the probe it holds, running
    unowned, and the interpreter hung at exit on the reader thread's pipe. The held Ctrl-C is
    raised by `release()`, inside that `try`. Only the main thread gets KeyboardInterrupt, so
    elsewhere there is nothing to hold.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._previous: object = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._press)
            self._previous = signal.SIG_DFL if previous is None else previous

    def _press(self, signum: int, frame: object) -> None:
        self.pressed = True

    def release(self) -> None:
        previous, self._previous = self._previous, None
        if previous is None:
            return
        signal.signal(signal.SIGINT, previous)  # type: ignore[arg-type]
        if self.pressed:
            if callable(previous):
                previous(signal.SIGINT, None)  # Python's own handler raises KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def run_command(
    cmd: list[str],
    *,
    timeout: float,
    progress: Progress | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run one tool in its own process group; its combined output, or FlashError on a non-zero
    exit or timeout. On a timeout, a Ctrl-C or any error the whole group is killed."""
    group = (
        {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        if sys.platform == "win32"
        else {"start_new_session": True}
    )
    held = _CtrlCHeld()
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Nothing to read: west and nrfutil prompt for a probe when several are attached and
            # no id was given; with no terminal they fail instead of hanging the session.
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            **group,
        )
    except FileNotFoundError:
        held.release()
        raise FlashError(f"{cmd[0]} is not installed or not on PATH", command=cmd) from None
    except BaseException:
        held.release()
        raise
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
    output: list[str] = []
    started = time.monotonic()
    deadline = started + timeout
    finished = False
    try:
        reader.start()
        held.release()  # a Ctrl-C pressed meanwhile is raised here, where the group is killed
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _end_group(proc)
                raise FlashError(
                    f"{cmd[0]} did not finish within {timeout:g} s and was killed "
                    "with every process it started",
                    command=cmd,
                    output="\n".join(output),
                )
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
        finished = True
    finally:
        if not finished:
            _end_group(proc)
            proc.wait()
        proc.stdout.close()
        held.release()  # restores the handler if the loop never got to (a no-op otherwise)
    text = "\n".join(output)
    if returncode != 0:
        raise FlashError(
            f"{cmd[0]} failed (exit status {returncode})",
            command=cmd,
            output=text,
            returncode=returncode,
        )
    return text


def run_commands(
    commands: list[list[str]],
    *,
    timeout: float,
    progress: Progress | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run the commands one after the other, sharing one timeout; stop at the first failure."""
    deadline = time.monotonic() + timeout
    outputs = []
    for cmd in commands:
        if progress:
            progress(f"$ {shlex.join(cmd)}" + (f"  (in {cwd})" if cwd else ""))
        outputs.append(
            run_command(
                cmd,
                timeout=max(deadline - time.monotonic(), 1.0),
                progress=progress,
                env=env,
                cwd=cwd,
            )
        )
    return "\n".join(outputs)
