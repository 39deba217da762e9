"""Debian's ser2net, run for real: it exports a simulator's pty on loopback like a lab exports a
board's /dev/ttyACM0, over RFC 2217 (telnet with COM-port control) or raw TCP."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pytest_slm.peers.ports import unused_port
from pytest_slm.processes import stop_process

INSTALL_HINT = "ser2net is not installed (Debian/Ubuntu: apt-get install ser2net)"


def require_ser2net() -> str:
    """ser2net's path; skip without it, except in CI, where a missing ser2net is a failure."""
    path = shutil.which("ser2net")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{INSTALL_HINT}; .ci/apt-packages lists it, so CI must have it")
        pytest.skip(INSTALL_HINT)
    return path


def free_port() -> int:
    """A loopback port nobody listens on now, outside the kernel's ephemeral range."""
    return unused_port()


def ser2net_yaml(device: str, port: int, *, protocol: str = "rfc2217", baud: int = 115200) -> str:
    """A ser2net 4.x connection: accept on loopback, connect to `device` as a serial port.

    `local` ignores the modem-control lines (a pty has no carrier), `kickolduser` lets a new
    client take the port from a stale one, `mdns: false` keeps the daemon off the LAN.
    """
    accepter = {
        "rfc2217": f"telnet(rfc2217),tcp,127.0.0.1,{port}",
        "raw": f"tcp,127.0.0.1,{port}",
    }[protocol]
    return (
        "connection: &slm0\n"
        f"  accepter: {accepter}\n"
        f"  connector: serialdev,{device},{baud}n81,local\n"
        "  options:\n"
        "    kickolduser: true\n"
        "    mdns: false\n"
    )


class Ser2Net:
    """One ser2net process in the foreground, exporting one serial device."""

    def __init__(self, device: str, workdir: Path, *, protocol: str = "rfc2217") -> None:
        self.device = device
        self.protocol = protocol
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "ser2net.yaml"
        self.log = workdir / "ser2net.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.protocol == "raw":
            return f"socket://127.0.0.1:{self.port}"
        # A pty cannot raise DTR, so ser2net never acknowledges SET_CONTROL and pyserial would
        # time out opening the port; ign_set_control is pyserial's switch for such servers.
        return f"rfc2217://127.0.0.1:{self.port}?ign_set_control"

    def start(self, timeout: float = 30.0) -> str:
        binary = require_ser2net()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(ser2net_yaml(self.device, self.port, protocol=self.protocol))
        with open(self.log, "wb") as log:
            # -n: stay in the foreground; -d: log to stdout; -u: no UUCP lock files (not root).
            self.process = subprocess.Popen(
                [binary, "-n", "-d", "-u", "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_listening(timeout)
        return self.url

    def _wait_listening(self, timeout: float) -> None:
        # ser2net says nothing when its accepter is up; a refused connect is the only signal.
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"ser2net exited with {self.process.returncode}: {self.log_text()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                if time.monotonic() >= deadline:
                    self.stop()
                    raise RuntimeError(
                        f"ser2net did not listen on 127.0.0.1:{self.port} within {timeout:g} s: "
                        f"{self.log_text()}"
                    ) from None
                time.sleep(0.05)

    def boot_board(self, banner: bytes = b"Ready\r\n", timeout: float = 30.0) -> None:
        """Connect once and wait for the boot banner, like a lab board that has long been up.

        The simulator powers on when its pty is first opened, i.e. when ser2net first connects
        to it, and prints its banner a moment later; a client that sends a command within that
        moment meets the banner mid-command. A board in a rack booted long before anyone
        connects, and this makes the simulator that board.
        """
        deadline = time.monotonic() + timeout
        seen = b""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as conn:
            while banner not in seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(
                        f"no boot banner through ser2net within {timeout:g} s: "
                        f"got {seen!r}; {self.log_text()}"
                    )
                conn.settimeout(left)
                chunk = conn.recv(4096)
                if not chunk:
                    raise RuntimeError(f"ser2net closed the connection: {self.log_text()}")
                seen += chunk

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.process)
