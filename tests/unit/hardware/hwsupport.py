"""Helpers shared by the hardware tests (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

import os
import re
import select
import threading
import tty
from pathlib import Path

from pytest_slm.link import SerialPort

FAKES_BIN = Path(__file__).resolve().parents[2] / "fakes" / "bin"

# A real Intel HEX image: an extended-address record, one data record, end of file.
HEX_IMAGE = ":020000040000FA\n:10000000000004200D0100001501000017010000AE\n:00000001FF\n"


def west_flash_argv(
    build_dir: Path | str, *extra: str, runner: str = "nrfjprog", dev_id: str = "960012345"
) -> list[str]:
    """What a flash runs through west (by default the fake DK's: nrfjprog, its probe's id)."""
    return [
        "west",
        "flash",
        "--build-dir",
        str(build_dir),
        "--no-rebuild",
        "--runner",
        runner,
        "--dev-id",
        dev_id,
        *extra,
    ]


def make_workspace(top: Path, rebuild_option: bool = True) -> Path:
    """A west workspace as `west flash` needs it: `.west/`, and a Zephyr whose west commands
    either know `--rebuild/--no-rebuild` (Zephyr 3.7 and later) or only `--skip-rebuild`."""
    (top / ".west").mkdir(parents=True, exist_ok=True)
    (top / ".west" / "config").write_text("[manifest]\npath = nrf\n")
    commands = top / "zephyr" / "scripts" / "west_commands"
    commands.mkdir(parents=True, exist_ok=True)
    # Only the line the runner looks for: whether the option exists in this Zephyr.
    (commands / "run_common.py").write_text(
        "rebuild_group.add_argument('--rebuild')\n"
        if rebuild_option
        else "group.add_argument('--skip-rebuild')\n"
    )
    return top


def write_cmake_cache(build: Path, zephyr_base: Path, source: Path) -> None:
    (build / "CMakeCache.txt").write_text(
        f"ZEPHYR_BASE:PATH={zephyr_base}\nAPPLICATION_SOURCE_DIR:PATH={source}\n"
    )


def make_build_dir(
    root: Path,
    runners: tuple[str, ...] = ("nrfjprog", "nrfutil", "jlink", "pyocd"),
    image: str = HEX_IMAGE,
    workspace: Path | None = None,
    rebuild_option: bool = True,
) -> Path:
    """A finished `west build` directory as far as flashing is concerned, made in a west
    workspace (`<root>/../ncs` unless given) by a CI machine: its sources are not here."""
    if workspace is None:
        workspace = make_workspace(root.parent / "ncs", rebuild_option)
    (root / "zephyr").mkdir(parents=True, exist_ok=True)
    write_cmake_cache(root, workspace / "zephyr", Path("/ci/ncs/nrf/applications/slm"))
    (root / "zephyr" / "runners.yaml").write_text(
        "# Available runners configured by board.cmake.\nrunners:\n"
        + "".join(f"- {r}\n" for r in runners)
        + f"\nflash-runner: {runners[0]}\n"
    )
    (root / "zephyr" / "merged.hex").write_text(image)
    return root


def dk_ports(
    usb_serial: str,
    first_acm: int = 0,
    by_id_dir: Path | None = None,
    interfaces: tuple[int, ...] = (0, 2, 4),
    bus: str = "1-3",
) -> list[SerialPort]:
    """The serial ports a J-Link OB shows on Linux: one CDC ACM per VCOM, interfaces 0, 2, 4."""
    ports = []
    for n, iface in enumerate(interfaces):
        by_id = None
        if by_id_dir is not None:
            by_id = str(by_id_dir / f"usb-SEGGER_J-Link_{usb_serial}-if{iface:02d}")
        ports.append(
            SerialPort(
                device=f"/dev/ttyACM{first_acm + n}",
                serial_number=usb_serial,
                interface=iface,
                by_id=by_id,
                vid=0x1366,
                pid=0x1055,
                manufacturer="SEGGER",
                product="J-Link",
                description="J-Link - CDC",
            )
        )
    return ports


class PtyRelay:
    """A pty standing between the client and slm-sim's pty, copying bytes both ways: what a
    USB serial port is to the UART behind it. Subclasses rewrite the board's lines.

    Only whole lines reach the client (the simulator sends nothing else during bring-up), so a
    rewrite never sees half a line.
    """

    def __init__(self, sim_path: str) -> None:
        self.sim = os.open(sim_path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.sim)
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rewrite(self, line: bytes) -> bytes:
        return line

    def _run(self) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([self.sim, self.master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                if self.master in ready:
                    os.write(self.sim, os.read(self.master, 4096))
                if self.sim in ready:
                    pending += os.read(self.sim, 4096)
                    *lines, pending = pending.split(b"\n")
                    if lines:
                        os.write(self.master, b"".join(self.rewrite(x) + b"\n" for x in lines))
            except OSError:
                return

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=10)
        # Closing the master is a cable pulled out: the client's reads of the slave now fail.
        for fd in (self.master, self._slave, self.sim, self._stop_r, self._stop_w):
            os.close(fd)


class NoCoverage(PtyRelay):
    """A radio with no cell in reach: the modem keeps searching. Registration reports from the
    simulator (`+CEREG: 1...`, and the read form `+CEREG: <n>,1...`) reach the client as stat
    2, searching, without location."""

    _URC = re.compile(rb"^\+CEREG: [15](,.*)?$")
    _READ = re.compile(rb"^\+CEREG: (\d),[15](,.*)?$")

    def rewrite(self, line: bytes) -> bytes:
        body = line.rstrip(b"\r")
        if self._URC.match(body):
            return b"+CEREG: 2" + line[len(body) :]
        match = self._READ.match(body)
        if match:
            return b"+CEREG: " + match.group(1) + b",2" + line[len(body) :]
        return line


class UsbCable:
    """The board's USB port under a by-id link; `reenumerate()` kills the port the host holds
    and brings up a new node under the same link, as a probe does when it resets."""

    def __init__(self, sim_path: str, link: Path) -> None:
        self.sim_path = sim_path
        self.link = link
        self.relay = PtyRelay(sim_path)
        self._point_link()

    def _point_link(self) -> None:
        tmp = self.link.with_name(self.link.name + ".new")
        tmp.symlink_to(self.relay.path)
        os.replace(tmp, self.link)

    def reenumerate(self) -> None:
        self.relay.close()
        self.relay = PtyRelay(self.sim_path)
        self._point_link()

    def close(self) -> None:
        self.relay.close()
