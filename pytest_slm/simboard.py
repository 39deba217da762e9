"""Start and stop the simulated board (`slm-sim`) as a child process."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_slm.processes import stop_process

# Run the simulator through the interpreter running pytest, so it works from a source checkout
# or a venv whose scripts directory is not on PATH. The child itself asks Linux to end it with
# its parent (PR_SET_PDEATHSIG), so that a pytest killed by a CI timeout leaves no simulator
# holding a pty; if the parent is already gone by then, it does not start at all. This is done
# after exec, not in a preexec_fn: Python code between fork and exec in a process with other
# threads (gRPC's, once labgrid has been used) can deadlock or abort the child.
_LAUNCH = """
import os, sys
parent = int(sys.argv.pop(1))
if sys.platform.startswith("linux"):
    import ctypes, signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit(0)
from firmware_ref.cli import main
sys.exit(main(sys.argv[1:]))
"""


class SimulatorError(RuntimeError):
    pass


class SimulatorProcess:
    """One `slm-sim` process; `start()` returns the pyserial URL its first stdout line names."""

    def __init__(self, args: list[str] | None = None, *, log_dir: str | Path | None = None) -> None:
        self.args = list(args or ["--pty"])
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.gettempdir())
        self.process: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self.log_path: Path | None = None

    def start(self, timeout: float = 30.0) -> str:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="slm-sim-", suffix=".log", dir=self.log_dir)
        self.log_path = Path(name)
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH, str(os.getpid()), *self.args],
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        self.url = self._first_line(timeout)
        return self.url

    def _first_line(self, timeout: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        line = b""
        try:
            while not line.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    stop_process(self.process)
                    raise SimulatorError(
                        f"slm-sim {' '.join(self.args)} printed no URL within {timeout:g} s"
                        f"{self._log_tail()}"
                    )
                chunk = os.read(self.process.stdout.fileno(), 1)
                if not chunk:
                    code = self.process.wait(timeout=5)
                    raise SimulatorError(
                        f"slm-sim {' '.join(self.args)} exited with {code} before printing its"
                        f" URL{self._log_tail()}"
                    )
                line += chunk
        finally:
            selector.close()
        return line.decode().strip()

    def _log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return ("\n  simulator log:\n    " + "\n    ".join(text)) if text else ""

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> SimulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def host_allows_raw_sockets() -> bool:
    """Whether this host lets us (and so a simulator we start) open packet sockets: the
    simulated modem's raw sockets are host raw sockets, which need root or CAP_NET_RAW."""
    family = getattr(socket, "AF_PACKET", None)
    if family is None:
        return False
    try:
        socket.socket(family, socket.SOCK_RAW).close()
    except OSError:
        return False
    return True
