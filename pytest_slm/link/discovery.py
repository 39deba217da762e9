"""Finding a board's SLM port from the USB serial ports the host sees.

A probe (J-Link OB, CMSIS-DAP bridge) exposes several serial interfaces under one USB serial
number; the board file says which of them (the VCOM index, in USB interface order) carries the
SLM UART. ttyACM numbers move when boards are plugged and re-enumerate, so the port is named by
its `/dev/serial/by-id` link whenever the host has one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_slm.boards import Board, BoardRegistry

BY_ID_DIR = Path("/dev/serial/by-id")

# pyserial's `location`: `1-3:1.2` on Linux and macOS (configuration.interface), `1-3:x.2` on
# Windows, where the configuration is not known.
_LOCATION_INTERFACE = re.compile(r":(?:\d+|x)\.(\d+)$")
_BY_ID_INTERFACE = re.compile(r"-if(\d+)(?:-port\d+)?$")


class DiscoveryError(Exception):
    """No port, or more than one, matches the board asked for."""


@dataclass(frozen=True)
class SerialPort:
    """One serial port of the host, with what identifies the USB device behind it."""

    device: str
    serial_number: str | None = None
    interface: int | None = None
    by_id: str | None = None
    vid: int | None = None
    pid: int | None = None
    manufacturer: str | None = None
    product: str | None = None
    description: str = ""

    @property
    def path(self) -> str:
        """The name to open: the by-id link survives renumbering, the device node may not."""
        return self.by_id or self.device

    def describe(self) -> str:
        ident = f"SER={self.serial_number}" if self.serial_number else "no USB serial number"
        where = f" if{self.interface:02d}" if self.interface is not None else ""
        what = " ".join(p for p in (self.manufacturer, self.product) if p) or self.description
        return f"{self.path} ({ident}{where}{', ' + what if what else ''})"


PortLister = Callable[[], list[SerialPort]]


def normalize_id(identifier: str) -> str:
    """J-Link serial numbers appear zero-padded over USB (`000960012345`) and bare in tools."""
    ident = identifier.strip()
    if ident.isdigit():
        return ident.lstrip("0") or "0"
    return ident.upper()


def _by_id_links(directory: Path) -> dict[str, str]:
    """Resolved device node -> by-id link."""
    links: dict[str, str] = {}
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return links
    for entry in entries:
        try:
            links[os.path.realpath(entry)] = str(entry)
        except OSError:
            continue
    return links


def _interface_of(location: str | None, by_id: str | None) -> int | None:
    if location:
        match = _LOCATION_INTERFACE.search(location)
        if match:
            return int(match.group(1))
    if by_id:
        match = _BY_ID_INTERFACE.search(by_id)
        if match:
            return int(match.group(1))
    return None


def system_ports(by_id_dir: Path = BY_ID_DIR) -> list[SerialPort]:
    """The host's serial ports, from pyserial's listing joined with /dev/serial/by-id."""
    from serial.tools import list_ports

    links = _by_id_links(by_id_dir)
    ports = []
    for info in list_ports.comports():
        by_id = links.get(os.path.realpath(info.device))
        ports.append(
            SerialPort(
                device=info.device,
                serial_number=info.serial_number,
                interface=_interface_of(info.location, by_id),
                by_id=by_id,
                vid=info.vid,
                pid=info.pid,
                manufacturer=info.manufacturer,
                product=info.product,
                description=info.description or "",
            )
        )
    return ports


_lister_override: PortLister | None = None


def use_port_lister(lister: PortLister | None) -> PortLister | None:
    """Replace where ports are listed (None: the host's); returns the previous override.

    The seam for tests and for labs whose ports are not local USB devices (e.g. a lister that
    asks a remote exporter): everything below lists ports through `current_lister()`.
    """
    global _lister_override
    previous, _lister_override = _lister_override, lister
    return previous


def current_lister() -> PortLister:
    return _lister_override if _lister_override is not None else system_ports


@dataclass(frozen=True)
class Candidate:
    """A device matching a board: all its serial interfaces and the one picked for SLM."""

    usb_serial: str
    ports: tuple[SerialPort, ...]
    port: SerialPort | None

    @property
    def probe_id(self) -> str:
        return normalize_id(self.usb_serial)

    def describe(self) -> str:
        if self.port is None:
            return f"{self.usb_serial}: only {len(self.ports)} serial port(s), VCOM missing"
        return f"{self.usb_serial}: {self.port.describe()}"


def _vcom_order(port: SerialPort) -> tuple:
    # USB interface order is VCOM order; hosts that report no interface number fall back to the
    # device name, which is how the kernel numbers a device's ports too.
    return (port.interface is None, port.interface or 0, port.device)


def candidates(board: Board, ports: Iterable[SerialPort]) -> list[Candidate]:
    """Every USB device whose serial number matches the board, grouped, with its SLM VCOM."""
    if board.usb is None:
        return []
    groups: dict[str, list[SerialPort]] = {}
    for port in ports:
        if board.usb.matches(port.serial_number):
            groups.setdefault(port.serial_number or "", []).append(port)
    found = []
    for usb_serial, members in sorted(groups.items()):
        members.sort(key=_vcom_order)
        vcom = board.usb.vcom
        found.append(
            Candidate(usb_serial, tuple(members), members[vcom] if vcom < len(members) else None)
        )
    return found


@dataclass(frozen=True)
class Located:
    board: Board
    port: str
    # What the flash tools take as the probe's serial number (None: let the tool pick).
    probe_id: str | None
    candidate: Candidate | None = None

    @property
    def board_id(self) -> str:
        """The board's own id (its USB serial number, normalized): what it is locked by."""
        if self.candidate is not None:
            return self.candidate.probe_id
        return normalize_id(self.probe_id or self.port)


BoardVersions = Callable[[], dict[str, str]]


def nrfutil_board_versions() -> dict[str, str]:
    """Normalized serial number -> board version (PCA number) of every kit nRF Util lists; empty
    when nRF Util 7+ is not installed or does not answer."""
    import json
    import shutil
    import subprocess

    if shutil.which("nrfutil") is None:
        return {}
    try:
        proc = subprocess.run(["nrfutil", "device", "list", "--json", "--skip-overhead"],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    versions: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        # --skip-overhead prints {"devices": [...]}; without it the list is in an info message.
        devices = message.get("devices") or (message.get("data") or {}).get("devices") or []
        for device in devices:
            version = (device.get("devkit") or {}).get("boardVersion")
            if device.get("serialNumber") and version:
                versions[normalize_id(str(device["serialNumber"]))] = str(version)
    return versions


def locate(
    board: Board,
    board_id: str | None = None,
    lister: PortLister | None = None,
    *,
    probe_id: str | None = None,
    board_versions: BoardVersions | None = None,
) -> Located:
    """The one attached board of this kind (or the one with `board_id`) and its SLM port.

    `board_id` names the board by its USB serial number. A board flashed through a separate
    probe (Thingy:91) takes the probe from `probe_id` or its board file; an id that matches none
    of its bridges is taken as the probe's, the way `--board-id` named it before `--probe-id`.
    """
    if board.simulated:
        raise DiscoveryError(f"board {board.name!r} is simulated: there is no port to find")
    ports = (lister or current_lister())()
    found = candidates(board, ports)
    wanted = normalize_id(board_id) if board_id else None
    assert board.usb is not None
    matching = found
    if wanted is not None:
        matching = [c for c in found if c.probe_id == wanted]
        if not matching and not board.usb.probe_is_usb_serial and probe_id is None:
            probe_id, matching = board_id, found
    versions: dict[str, str] = {}
    if len(matching) > 1 and board.usb.board_version and wanted is None:
        # A serial-number prefix is shared by kits with the same interface MCU: ask the probes
        # what board they sit on, and keep the ones that are (or may be) this kind.
        versions = (board_versions or nrfutil_board_versions)()
        matching = [c for c in matching
                    if versions.get(c.probe_id) in (None, board.usb.board_version)]
    if len(matching) == 1 and matching[0].port is not None:
        chosen = matching[0]
        if board.usb.probe_is_usb_serial:
            probe = chosen.probe_id
        else:
            probe = probe_id or board.probe_id
        return Located(board, chosen.port.path, normalize_id(probe) if probe else None, chosen)
    raise DiscoveryError(_explain(board, board_id, matching, found, ports, versions))


def usb_serial_of(port: str, lister: PortLister | None = None) -> str | None:
    """The USB serial number of the device behind a local port path, if the host lists it."""
    real = os.path.realpath(port)
    for listed in (lister or current_lister())():
        names = (listed.device, listed.by_id or listed.device)
        if real in {os.path.realpath(name) for name in names}:
            return listed.serial_number
    return None


def _explain(
    board: Board,
    board_id: str | None,
    matching: list[Candidate],
    found: list[Candidate],
    ports: list[SerialPort],
    versions: dict[str, str] | None = None,
) -> str:
    assert board.usb is not None
    named = f"{board.name} with probe {board_id}" if board_id else board.name
    want = named if board_id else f"a {board.name}"
    lines: list[str] = []
    if len(matching) > 1:
        lines.append(
            f"{len(matching)} boards could be {want}; name one with --board-id "
            "(or give the port with --port):"
        )
        if board.usb.board_version:
            lines.append(
                f"  (serial numbers matching {board.usb.serial!s} are shared with other kits; "
                f"a {board.name} reports board version {board.usb.board_version}"
                + ("" if versions else ": install nRF Util 7+ to let pytest-slm ask the probes")
                + ")"
            )
        lines += [f"  {c.describe()}"
                  + (f" [board version {versions[c.probe_id]}]"
                     if versions and c.probe_id in versions else "")
                  for c in matching]
    elif len(matching) == 1:
        c = matching[0]
        lines.append(
            f"found {want} ({c.usb_serial}) but it has {len(c.ports)} serial port(s) and the "
            f"board file wants VCOM {board.usb.vcom}:"
        )
        lines += [f"  {p.describe()}" for p in c.ports]
    else:
        lines.append(
            f"no {named} is attached (looked for USB serial numbers matching "
            f"'{board.usb.serial}'); is it plugged in and powered? Serial ports seen:"
        )
        if found:
            lines.append("  boards of this kind with other ids:")
            lines += [f"    {c.describe()}" for c in found]
        if ports:
            lines += [f"  {p.describe()}" for p in sorted(ports, key=lambda p: p.device)]
        else:
            lines.append("  (none)")
    return "\n".join(lines)


def attached(
    registry: BoardRegistry, lister: PortLister | None = None
) -> list[tuple[Board, Candidate]]:
    """Every attached device any known board file matches (for --list-boards)."""
    ports = (lister or current_lister())()
    return [
        (board, c) for board in registry if not board.simulated for c in candidates(board, ports)
    ]


def find_port_again(located: Located, lister: PortLister | None = None) -> str | None:
    """The board's port now, after a re-enumeration may have renamed it; None while it is gone."""
    if located.candidate is None:
        return located.port if os.path.exists(located.port) else None
    board = located.board
    usb_serial = located.candidate.usb_serial
    for c in candidates(board, (lister or current_lister())()):
        if c.usb_serial == usb_serial and c.port is not None:
            return c.port.path
    return None
