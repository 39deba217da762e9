"""The board registry: what differs between boards, read from YAML files.

The plugin ships one file per supported board (`pytest_slm/board_files/*.yaml`, mirrored in the
repository's `boards/`); a lab adds or overrides boards with `--boards-dir DIR`. Code never
branches on a board's name: everything board-specific is a field here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

RUNNERS = ("west", "pyocd", "nrfutil")


class BoardConfigError(Exception):
    """A board file is malformed, or a board that was asked for does not exist."""


@dataclass(frozen=True)
class UartSettings:
    baudrate: int = 115200
    rtscts: bool = False
    # DKs tri-state the UART until the host asserts DTR, so it is on unless a board says not.
    dtr: bool = True


@dataclass(frozen=True)
class UsbMatch:
    """How to find the board's SLM port among the host's USB serial ports."""

    # Regular expression over the USB serial number the port reports (pyserial's `serial_number`).
    serial: str
    # Which of the device's serial interfaces, counted from 0 in USB interface order.
    vcom: int = 0
    # True when that USB serial number is also the id the flash tools take (J-Link OB, CMSIS-DAP
    # bridges); False when flashing goes through a separate probe (Thingy:91 with an external
    # J-Link), so --board-id names the probe and cannot select the port.
    probe_is_usb_serial: bool = True
    # What the probe reports as the kit's board version (`nrfutil device list`: PCA10153), to
    # tell apart kits whose serial numbers share a prefix (nRF9161 DK and nRF5340 DK: 1050...).
    board_version: str | None = None

    def matches(self, usb_serial: str | None) -> bool:
        return usb_serial is not None and re.search(self.serial, usb_serial) is not None


@dataclass(frozen=True)
class Board:
    name: str
    description: str = ""
    simulated: bool = False
    zephyr_board: str | None = None
    pyocd_target: str | None = None
    runner: str | None = None
    # The external probe that flashes this very board (a lab's own board file for a Thingy:91
    # names its J-Link here, so no --probe-id is needed).
    probe_id: str | None = None
    west_runner: str | None = None
    # How nRF Util programs the board: `jlink` (a .hex through the J-Link, default) or `mcuboot`
    # (MCUboot serial recovery through the USB bridge, with the build's dfu_application.zip).
    nrfutil_mode: str = "jlink"
    uart: UartSettings = field(default_factory=UartSettings)
    usb: UsbMatch | None = None
    flash_timeout: float = 300.0
    boot_timeout: float = 60.0
    features: frozenset[str] = frozenset()
    source: Path | None = None
    # The firmware generations that build for this board (`pytest_slm.dialects` names); empty
    # when the file does not say.
    dialects: tuple[str, ...] = ()

    def has_feature(self, feature: str) -> bool:
        return feature in self.features

    @property
    def serial_settings(self) -> dict[str, Any]:
        """Keyword arguments for opening the board's UART (`SlmDut.open`, `open_serial`)."""
        return {
            "baudrate": self.uart.baudrate,
            "rtscts": self.uart.rtscts,
            "dtr": self.uart.dtr,
        }


_TOP_KEYS = {
    "name",
    "description",
    "simulated",
    "zephyr_board",
    "pyocd_target",
    "runner",
    "probe_id",
    "west_runner",
    "nrfutil_mode",
    "uart",
    "usb",
    "timeouts",
    "features",
    "dialects",
}


def _section(data: dict, key: str, allowed: set[str], where: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise BoardConfigError(f"{where}: '{key}' must be a mapping")
    unknown = set(value) - allowed
    if unknown:
        raise BoardConfigError(f"{where}: unknown key(s) in '{key}': {', '.join(sorted(unknown))}")
    return value


def parse_board(data: Any, source: Path | None = None) -> Board:
    """Build a Board from one file's parsed YAML; every mistake names the file and the key."""
    where = str(source) if source else "<board>"
    if not isinstance(data, dict):
        raise BoardConfigError(f"{where}: a board file must be a mapping")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        # Typos (`rtscst`) would otherwise silently fall back to defaults on a lab's board.
        raise BoardConfigError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    name = data.get("name") or (source.stem if source else None)
    if not name or not isinstance(name, str):
        raise BoardConfigError(f"{where}: 'name' is missing")
    uart = _section(data, "uart", {"baudrate", "rtscts", "dtr"}, where)
    usb = _section(data, "usb", {"serial", "vcom", "probe_is_usb_serial", "board_version"}, where)
    timeouts = _section(data, "timeouts", {"flash", "boot"}, where)
    simulated = bool(data.get("simulated", False))
    runner = data.get("runner")
    if runner is not None and runner not in RUNNERS:
        raise BoardConfigError(
            f"{where}: runner must be one of {', '.join(RUNNERS)}, not {runner!r}"
        )
    nrfutil_mode = str(data.get("nrfutil_mode", "jlink"))
    if nrfutil_mode not in ("jlink", "mcuboot"):
        raise BoardConfigError(
            f"{where}: nrfutil_mode must be jlink or mcuboot, not {nrfutil_mode!r}"
        )
    if not simulated and not usb:
        raise BoardConfigError(f"{where}: a hardware board needs a 'usb' section to be found")
    usb_match = None
    if usb:
        if "serial" not in usb:
            raise BoardConfigError(f"{where}: 'usb.serial' (a regular expression) is missing")
        try:
            re.compile(usb["serial"])
        except re.error as exc:
            raise BoardConfigError(f"{where}: 'usb.serial' is not a valid regex: {exc}") from None
        usb_match = UsbMatch(
            serial=str(usb["serial"]),
            vcom=int(usb.get("vcom", 0)),
            probe_is_usb_serial=bool(usb.get("probe_is_usb_serial", True)),
            board_version=None if usb.get("board_version") is None else str(usb["board_version"]),
        )
    features = data.get("features") or []
    if not isinstance(features, list):
        raise BoardConfigError(f"{where}: 'features' must be a list")
    board_dialects = data.get("dialects") or []
    if not isinstance(board_dialects, list):
        raise BoardConfigError(f"{where}: 'dialects' must be a list (v20, sm)")
    return Board(
        name=name,
        description=str(data.get("description", "")),
        simulated=simulated,
        zephyr_board=data.get("zephyr_board"),
        pyocd_target=data.get("pyocd_target"),
        runner=runner,
        probe_id=None if data.get("probe_id") is None else str(data["probe_id"]),
        west_runner=data.get("west_runner"),
        nrfutil_mode=nrfutil_mode,
        uart=UartSettings(
            baudrate=int(uart.get("baudrate", 115200)),
            rtscts=bool(uart.get("rtscts", False)),
            dtr=bool(uart.get("dtr", True)),
        ),
        usb=usb_match,
        flash_timeout=float(timeouts.get("flash", 300)),
        boot_timeout=float(timeouts.get("boot", 60)),
        features=frozenset(str(f) for f in features),
        source=source,
        dialects=tuple(str(d) for d in board_dialects),
    )


def _safe_load(text: str) -> Any:
    # Every pytest process loads the board files: libyaml's parser, where PyYAML was built with
    # it, takes a tenth of the pure-Python one's time. A text it refuses is parsed again by the
    # pure-Python parser, whose error shows the offending line.
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def load_board_file(path: Path) -> Board:
    try:
        data = _safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BoardConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_board(data, path)


def builtin_board_files() -> list[Path]:
    root = resources.files("pytest_slm.board_files")
    return sorted(Path(str(entry)) for entry in root.iterdir() if entry.name.endswith(".yaml"))


class BoardRegistry:
    """Every known board by name; later sources override earlier ones (a lab's own files win)."""

    def __init__(self, boards: Iterable[Board] = ()) -> None:
        self._boards: dict[str, Board] = {}
        for board in boards:
            self._boards[board.name] = board

    @classmethod
    def load(cls, extra_dirs: Iterable[str | Path] = ()) -> BoardRegistry:
        files = builtin_board_files()
        for directory in extra_dirs:
            path = Path(directory).expanduser()
            if not path.is_dir():
                raise BoardConfigError(f"--boards-dir {directory}: no such directory")
            files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")))
        return cls(load_board_file(f) for f in files)

    def __contains__(self, name: str) -> bool:
        return name in self._boards

    def __iter__(self):
        return iter(sorted(self._boards.values(), key=lambda b: (b.simulated, b.name)))

    def __len__(self) -> int:
        return len(self._boards)

    @property
    def names(self) -> list[str]:
        return [board.name for board in self]

    def get(self, name: str) -> Board:
        try:
            return self._boards[name]
        except KeyError:
            raise BoardConfigError(
                f"unknown board {name!r}; known boards: {', '.join(self.names)} "
                "(add your own with --boards-dir)"
            ) from None
