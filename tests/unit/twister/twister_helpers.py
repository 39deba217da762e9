"""Running pytest under the pytest-twister-harness stand-in, with boards on real ptys."""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
import threading
import tty
from pathlib import Path

STANDIN = Path(__file__).parent / "standin"


class PtyBoard:
    """A board on a real pty: answers each expected input with fixed bytes, from a thread."""

    def __init__(self, script: dict[bytes, bytes]) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self.script = dict(script)
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                self.received += os.read(self.master, 4096)
            except OSError:
                return
            for trigger, answer in list(self.script.items()):
                if trigger in self.received:
                    del self.received[: self.received.index(trigger) + len(trigger)]
                    os.write(self.master, answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self._slave)


def twister_flash_argv(build_dir: Path, api: str) -> list[str]:
    """The west command line twister's harness flashes the stand-in DK with (its `api`:
    "classic" asks for --skip-rebuild, the newer one for --no-rebuild)."""
    rebuild = "--skip-rebuild" if api == "classic" else "--no-rebuild"
    return [
        "flash",
        rebuild,
        "--build-dir",
        str(build_dir),
        "--runner",
        "nrfjprog",
        "--",
        "--dev-id",
        "000960123456",
    ]


def fake_tool(directory: Path, name: str) -> Path:
    """A stand-in flash tool (west, nrfutil, ...) that records its argv and succeeds."""
    directory.mkdir(parents=True, exist_ok=True)
    tool = directory / name
    log = directory / f"{name}.argv"
    tool.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"print({name!r} + ': flashed (stand-in)')\n",
        encoding="utf-8",
    )
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return log


def harness_env(bin_dir: Path, api: str) -> dict[str, str]:
    """The environment twister gives its pytest child: the harness on PYTHONPATH."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(STANDIN), path) if p)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["TWISTER_HARNESS_STANDIN_API"] = api
    # The harness cannot be imported without a Zephyr tree; this one holds what it imports.
    env["ZEPHYR_BASE"] = str(STANDIN / "zephyr_base")
    # The child must not inherit an xdist worker's identity from a parent run.
    for key in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(key, None)
    return env


def run_pytest(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600):
    """pytest in a child process, as twister runs it; returns the CompletedProcess."""
    # The "hardware" twister reserves here is slm-sim on a pty: it shares this host's loopback
    # with the peers, which a real board would not (pytest-slm then insists on --peer-host).
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, "--peer-host=127.0.0.1"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
