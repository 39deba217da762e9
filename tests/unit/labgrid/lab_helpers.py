"""A two-machine labgrid lab on loopback: a real coordinator, a real exporter publishing
simulators' ptys (through ser2net, started by the exporter as for any RawSerialPort), places made
with labgrid-client. Every process listens on a port the kernel picked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_slm.labgrid.place import connected
from pytest_slm.peers.ports import unused_port
from pytest_slm.processes import stop_process

READY_TIMEOUT = 60.0


def require_labgrid() -> None:
    """labgrid and ser2net, or a skip (a failure in CI, whose setup installs both)."""
    missing = []
    try:
        import labgrid  # noqa: F401
    except ImportError:
        missing.append("labgrid (pip install -e '.[test]')")
    if not any(Path(d, "ser2net").exists() for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
        missing.append("ser2net (apt-get install ser2net)")
    if missing:
        message = "labgrid lab needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; the CI setup installs them")
        pytest.skip(message)


class LoggedProcess:
    """A child whose output goes to a log file through a reader thread (so it never blocks on
    a full pipe) that also sets an event when a wanted line appears."""

    def __init__(self, argv: list[str], log: Path, cwd: Path, ready: str) -> None:
        self.argv = argv
        self.log = log
        self.cwd = cwd
        self.ready = re.compile(ready)
        self.match: re.Match[str] | None = None
        self._seen = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = READY_TIMEOUT) -> re.Match[str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._seen.wait(timeout) or self.match is None:
            self.stop()
            raise RuntimeError(
                f"{' '.join(self.argv)} did not print /{self.ready.pattern}/ within {timeout:g} s:"
                f"\n{self.text()}"
            )
        return self.match

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with open(self.log, "a", encoding="utf-8") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                if self.match is None:
                    self.match = self.ready.search(line)
                    if self.match:
                        self._seen.set()
        self._seen.set()  # exited: start() reports it

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        stop_process(self.process)
        if self._reader is not None:
            self._reader.join(timeout=10)


# labgrid's exporter starts ser2net on labgrid.util.get_free_port(), a port from the kernel's
# ephemeral range released before ser2net binds it; on a host busy with other tests' connections
# that port is sometimes taken meanwhile, ser2net keeps running without its accepter and the
# place's port refuses every connection. The real exporter, given ports the kernel never hands
# out by itself.
_EXPORTER = """
import runpy, sys
import labgrid.util, labgrid.util.helper
from pytest_slm.peers.ports import unused_port
labgrid.util.get_free_port = labgrid.util.helper.get_free_port = lambda: unused_port("0.0.0.0")
sys.argv[0] = "labgrid-exporter"
runpy.run_module("labgrid.remote.exporter", run_name="__main__", alter_sys=True)
"""


def labgrid_client(
    address: str, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`labgrid-client -x ADDRESS ARGS...`, the lab engineer's tool."""
    result = subprocess.run(
        [sys.executable, "-m", "labgrid.remote.client", "-x", address, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"labgrid-client {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result


class Lab:
    """Coordinator + one exporter ("lab-host-1") publishing one pty per group."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.coordinator: LoggedProcess | None = None
        self.exporter: LoggedProcess | None = None
        self.address = ""
        self.exporter_name = "lab-host-1"

    def start_coordinator(self) -> str:
        # The coordinator keeps places.yaml in its working directory: one per test.
        self.coordinator = LoggedProcess(
            [sys.executable, "-m", "labgrid.remote.coordinator", "-l", "127.0.0.1:0"],
            self.workdir / "coordinator.log",
            self.workdir,
            r"listening on 127\.0\.0\.1:(\d+)",
        )
        port = self.coordinator.start().group(1)
        self.address = f"127.0.0.1:{port}"
        return self.address

    def start_exporter(self, ports: dict[str, str]) -> None:
        """Export `group -> device` as RawSerialPort "modem" (the exporter runs ser2net for it
        once a place acquires it) and wait until the coordinator lists them available."""
        config = self.workdir / "exporter.yaml"
        config.write_text(
            "".join(
                f"{group}:\n  modem:\n    cls: RawSerialPort\n    port: {device}\n"
                "    speed: 115200\n"
                for group, device in ports.items()
            ),
            encoding="utf-8",
        )
        self.exporter = LoggedProcess(
            [
                sys.executable,
                "-c",
                _EXPORTER,
                "-c",
                self.address,
                "-n",
                self.exporter_name,
                "--hostname",
                "127.0.0.1",
                str(config),
            ],
            self.workdir / "exporter.log",
            self.workdir,
            r"exporter name: ",
        )
        self.exporter.start()
        self.wait_for_resources(set(ports))

    def wait_for_resources(self, groups: set[str], timeout: float = READY_TIMEOUT) -> None:
        """Until the coordinator shows each group's serial port available (event-driven: the
        client wakes on each resource update)."""
        import time

        with connected(self.address) as client:
            deadline = time.monotonic() + timeout

            def ready() -> bool:
                exported = client.session.resources.get(self.exporter_name, {})
                return all(
                    any(r.avail for r in exported.get(group, {}).values()) for group in groups
                )

            while not ready():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(
                        f"exporter did not publish {sorted(groups)} within {timeout:g} s:\n"
                        f"{self.exporter.text() if self.exporter else ''}"
                    )
                client.run(client.session.wait_changed(left))

    def create_place(self, name: str, group: str, **tags: str) -> None:
        labgrid_client(self.address, "-p", name, "create")
        labgrid_client(self.address, "-p", name, "add-match", f"{self.exporter_name}/{group}/*")
        if tags:
            labgrid_client(
                self.address, "-p", name, "set-tags", *(f"{k}={v}" for k, v in tags.items())
            )

    def place(self, name: str):
        with connected(self.address) as client:
            return client.session.places[name]

    def logs(self) -> str:
        return "".join(
            f"\n--- {p.log.name} ---\n{p.text()}"
            for p in (self.coordinator, self.exporter)
            if p is not None
        )

    def stop(self) -> None:
        for process in (self.exporter, self.coordinator):
            if process is not None:
                process.stop()


def assert_all_free(lab: Lab) -> None:
    """No place acquired and no reservation queued, as the coordinator itself reports it."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    with connected(lab.address) as client:
        held = {n: p.acquired for n, p in client.session.places.items() if p.acquired}
        reply = client.run(client.session.stub.GetReservations(pb2.GetReservationsRequest()))
    assert held == {}, f"{held}{lab.logs()[-3000:]}"
    assert [(r.owner, r.token) for r in reply.reservations] == []


class Sshd:
    """A real OpenSSH server on loopback standing for the exporter's machine: labgrid reaches an
    exporter's host with `ssh HOST` (its SSH manager) to copy files and run tools there.

    The client side is the real ssh too, given this server's port, key and host key through a
    config file by an `ssh` wrapper first on PATH (labgrid runs plain `ssh HOST`). Commands run
    through it see `session_env` (e.g. PATH with the fake flash tools)."""

    def __init__(self, workdir: Path, session_env: dict[str, str]) -> None:
        self.workdir = workdir
        self.session_env = session_env
        self.process: LoggedProcess | None = None
        self.bin = workdir / "bin"

    def start(self) -> None:
        import getpass
        import shutil

        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not Path(sshd).exists() or shutil.which("ssh") is None:
            message = "openssh-server and openssh-client (apt-get install openssh-server)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message + " are listed in .ci/apt-packages, so CI must have them")
            pytest.skip("flashing through a place needs " + message)
        if os.geteuid() != 0:
            pytest.skip("a private sshd on loopback needs root here")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.workdir / name)],
                check=True,
                timeout=60,
            )
        (self.workdir / "authorized_keys").write_text((self.workdir / "client_key.pub").read_text())
        port = unused_port()
        env = " ".join(f"{k}={v}" for k, v in self.session_env.items())
        config = self.workdir / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {self.workdir / 'host_key'}\n"
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}\n"
            f"PidFile {self.workdir / 'sshd.pid'}\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"PermitRootLogin prohibit-password\nSetEnv {env}\n"
        )
        # sshd refuses to start without its privilege-separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.process = LoggedProcess(
            [sshd, "-D", "-e", "-f", str(config)],
            self.workdir / "sshd.log",
            self.workdir,
            r"Server listening on 127\.0\.0\.1 port",
        )
        self.process.start()
        host_key = (self.workdir / "host_key.pub").read_text().split()
        (self.workdir / "known_hosts").write_text(
            f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n"
        )
        client = self.workdir / "ssh_config"
        client.write_text(
            f"Host 127.0.0.1\n  Port {port}\n  User {getpass.getuser()}\n"
            f"  IdentityFile {self.workdir / 'client_key'}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.workdir / 'known_hosts'}\n  BatchMode yes\n"
        )
        self.bin.mkdir(exist_ok=True)
        wrapper = self.bin / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {client} "$@"\n')
        wrapper.chmod(0o755)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
