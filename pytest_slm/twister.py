"""The bridge used when pytest-twister-harness is loaded (``--twister-harness``).

Under twister the board is the one twister reserved: its port, baud, platform, runner and probe
id come from the harness's DeviceConfig, and the harness flashes it (its ``launch()``). pytest-slm
then must not flash again, and must not read the UART through the harness: the harness's reader
is line based, drops blank lines and keeps partial lines back, which loses the data-mode prompt
and corrupts ``#XRECV`` payloads that contain or end without ``\\n``. So the session launches the
harness's device once, releases its port and reader (``disconnect()``, plus ``stop_reader()`` in
the API generation that has it), and opens the same port through ``pytest_slm.link`` by URL.

The harness is imported by nobody here: it needs a Zephyr tree to import, and everything needed is
on ``config.twister_harness_config`` and on the adapter object its ``device_object`` fixture hands
out. Both API generations are read: classic ``DeviceConfig.serial``/``baud`` and 2026
``DeviceConfig.serial_configs[]``.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_slm.boards import Board, BoardRegistry
from pytest_slm.processes import stop_process
from pytest_slm.settings import Settings

DEFAULT_BAUD = 115200


class TwisterBridgeError(Exception):
    """The harness's configuration cannot be used to reach the board."""


def is_active(config: pytest.Config) -> bool:
    """True when pytest-twister-harness is loaded and switched on for this run."""
    if hasattr(config, "twister_harness_config"):
        return True
    if getattr(config.option, "twister_harness", False):
        return True
    try:
        return bool(config.getini("twister_harness"))
    except ValueError:
        # The ini key exists only while the harness plugin is loaded.
        return False


@dataclass(frozen=True)
class HarnessTarget:
    """The board twister reserved, as pytest-slm needs it."""

    platform: str
    port: str
    baudrate: int = DEFAULT_BAUD
    serial_pty: str = ""
    runner: str = ""
    board_id: str = ""
    product: str = ""
    device_type: str = "hardware"
    build_dir: Path | None = None
    fixtures: tuple[str, ...] = ()
    extra_ports: tuple[str, ...] = ()

    def fixture_value(self, name: str) -> str | None:
        """``--twister-fixture name:value`` → value; ``name`` alone → ''."""
        for item in self.fixtures:
            key, _, value = item.partition(":")
            if key == name:
                return value
        return None

    def info(self) -> dict[str, str]:
        info = {"platform": self.platform, "port": self.port or self.serial_pty}
        if self.board_id:
            info["board_id"] = self.board_id
        if self.runner:
            info["runner"] = self.runner
        info["flashed_by"] = "pytest-twister-harness"
        return info


def _first(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        return values[0] if values else None
    return values


def serial_of(device_config: Any) -> tuple[str, int, str, tuple[str, ...]]:
    """(port, baud, serial_pty, extra ports) of a DeviceConfig of either API generation."""
    configs = getattr(device_config, "serial_configs", None)
    if configs:
        main, *rest = configs
        return (
            getattr(main, "port", "") or "",
            int(getattr(main, "baud", 0) or DEFAULT_BAUD),
            getattr(main, "serial_pty", "") or "",
            tuple(getattr(c, "port", "") or "" for c in rest),
        )
    return (
        getattr(device_config, "serial", "") or "",
        int(getattr(device_config, "baud", 0) or DEFAULT_BAUD),
        getattr(device_config, "serial_pty", "") or "",
        (),
    )


def target_from_device_config(device_config: Any) -> HarnessTarget:
    port, baud, serial_pty, extra = serial_of(device_config)
    build_dir = getattr(device_config, "build_dir", None)
    return HarnessTarget(
        platform=getattr(device_config, "platform", "") or "",
        port=port,
        baudrate=baud,
        serial_pty=serial_pty,
        runner=getattr(device_config, "runner", "") or "",
        board_id=str(getattr(device_config, "id", "") or ""),
        product=getattr(device_config, "product", "") or "",
        device_type=getattr(device_config, "type", "hardware") or "hardware",
        build_dir=Path(build_dir) if build_dir else None,
        fixtures=tuple(getattr(device_config, "fixtures", ()) or ()),
        extra_ports=extra,
    )


def target_from_options(config: pytest.Config) -> HarnessTarget:
    """The same, from the harness's command-line options, when its config object is missing."""
    opt = config.option
    serial = getattr(opt, "device_serial", None)
    extra: tuple[str, ...] = ()
    if isinstance(serial, list):
        extra = tuple(serial[1:])
    build_dir = getattr(opt, "build_dir", None)
    return HarnessTarget(
        platform=getattr(opt, "platform", None) or "",
        port=_first(serial) or "",
        baudrate=int(getattr(opt, "device_serial_baud", None) or DEFAULT_BAUD),
        serial_pty=getattr(opt, "device_serial_pty", None) or "",
        runner=getattr(opt, "runner", None) or "",
        board_id=getattr(opt, "device_id", None) or "",
        product=getattr(opt, "device_product", None) or "",
        device_type=getattr(opt, "device_type", None) or "hardware",
        build_dir=Path(build_dir) if build_dir else None,
        fixtures=tuple(getattr(opt, "fixtures", None) or ()),
        extra_ports=extra,
    )


def harness_target(config: pytest.Config) -> HarnessTarget:
    harness_config = getattr(config, "twister_harness_config", None)
    devices = getattr(harness_config, "devices", None)
    if devices:
        return target_from_device_config(devices[0])
    return target_from_options(config)


def resolve_board(target: HarnessTarget, registry: BoardRegistry) -> Board:
    """The registry board of twister's platform (``nrf9160dk/nrf9160/ns`` → ``nrf9160dk``)."""
    # The hardware-map module is imported once twister runs: the twister source asks
    # `is_active` in every pytest process.
    from pytest_slm.hwmap import board_for_platform

    board = board_for_platform(target.platform, registry) if target.platform else None
    if board is None:
        targets = ", ".join(sorted(b.zephyr_board for b in registry if b.zephyr_board))
        raise TwisterBridgeError(
            f"twister platform {target.platform or '(none: pass --platform)'} matches no board "
            f"of pytest-slm (their Zephyr targets: {targets}); add a board file with "
            f"zephyr_board: {target.platform} and --boards-dir"
        )
    return board


def release(adapter: Any) -> None:
    """Free the port and stop the line reader, in whichever API generation ``adapter`` has.

    The classic generation has no public reader stop: after ``disconnect()`` its thread only
    discards output of a closed port, so the port is ours. The 2026 generation's ``stop_reader()``
    joins its threads.
    """
    adapter.disconnect()
    stop_reader = getattr(adapter, "stop_reader", None)
    if callable(stop_reader):
        stop_reader()


def launch_and_release(adapter: Any) -> None:
    """Have the harness flash the board once (serial first, as it does), then let go of it."""
    connected = getattr(adapter, "is_device_connected", None)
    already = bool(connected()) if callable(connected) else False
    if not already:
        adapter.launch()
    release(adapter)


class SerialPtyProcess:
    """A ``--device-serial-pty`` script run the way the harness runs it: stdio on a pty master.

    The harness stops the script when it disconnects, so pytest-slm runs its own copy and opens
    the pty's slave end by path, like any port.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._fds: list[int] = []

    def start(self) -> str:
        master, slave = pty.openpty()
        self._fds = [master, slave]
        self.process = subprocess.Popen(
            re.split("[, ]", self.command), stdin=master, stdout=master, stderr=master
        )
        return os.ttyname(slave)

    def stop(self) -> None:
        stop_process(self.process)
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []


@dataclass
class TwisterBoard:
    """The reserved board, taken over from the harness: open ``url`` with ``board``'s UART."""

    board: Board
    url: str
    baudrate: int
    target: HarnessTarget
    closers: list[Any] = field(default_factory=list)

    def info(self) -> dict[str, str]:
        return {"board": self.board.name, **self.target.info()}

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def take_over(request: pytest.FixtureRequest, registry: BoardRegistry) -> TwisterBoard:
    """Launch the harness's device once (it flashes), release it, and say where to open it.

    Uses the session-scoped ``device_object`` fixture rather than ``dut``: ``dut`` follows
    ``--dut-scope`` and, at function scope, would flash again before every test.
    """
    config = request.config
    target = harness_target(config)
    if target.device_type != "hardware":
        raise TwisterBridgeError(
            f"--device-type={target.device_type}: pytest-slm tests boards over their UART; "
            "run the scenario on hardware (twister --device-testing)"
        )
    board = resolve_board(target, registry)
    adapter = request.getfixturevalue("device_object")
    launch_and_release(adapter)
    result = TwisterBoard(board=board, url=target.port, baudrate=target.baudrate, target=target)
    if target.serial_pty:
        pty_process = SerialPtyProcess(target.serial_pty)
        result.url = pty_process.start()
        result.closers.append(pty_process.stop)
    if not result.url:
        raise TwisterBridgeError("the harness names no serial port (--device-serial)")
    return result


def hardware_settings(taken: TwisterBoard, settings: Settings):
    """The hardware session's settings for the board the harness reserved and flashed.

    The port is given, so the hardware session never flashes (the harness did); the baud is
    twister's (hardware map ``baud``), the probe id names the board's lock.
    """
    from dataclasses import replace

    from pytest_slm.hardware import HardwareSettings

    hw = HardwareSettings.from_settings(settings, taken.board)
    hw.board = replace(taken.board, uart=replace(taken.board.uart, baudrate=taken.baudrate))
    hw.port = taken.url
    hw.board_id = taken.target.board_id or None
    hw.probe_id = None
    hw.firmware = None
    hw.flash = "never"
    hw.flash_erase = False
    return hw
