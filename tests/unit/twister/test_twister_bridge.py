"""pytest_slm.twister reads both generations of the harness's configuration and lets go of its
port correctly; checked against the stand-in's own DeviceConfig and adapters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from twister_helpers import STANDIN

from pytest_slm.boards import BoardRegistry
from pytest_slm.twister import (
    HarnessTarget,
    SerialPtyProcess,
    TwisterBridgeError,
    harness_target,
    is_active,
    release,
    resolve_board,
    serial_of,
    target_from_device_config,
)


@pytest.fixture(scope="module")
def registry() -> BoardRegistry:
    return BoardRegistry.load()


def classic_config(**extra) -> SimpleNamespace:
    fields = dict(
        type="hardware",
        build_dir=Path("/b"),
        platform="nrf9160dk/nrf9160/ns",
        serial="/dev/ttyACM0",
        baud=115200,
        serial_pty="",
        runner="nrfjprog",
        id="000960123456",
        product="J-Link",
        fixtures=["lte_sim"],
    )
    fields.update(extra)
    return SimpleNamespace(**fields)


def test_classic_device_config() -> None:
    target = target_from_device_config(classic_config(baud=1000000))
    assert (target.port, target.baudrate, target.board_id) == (
        "/dev/ttyACM0",
        1000000,
        "000960123456",
    )
    assert (target.platform, target.runner, target.product) == (
        "nrf9160dk/nrf9160/ns",
        "nrfjprog",
        "J-Link",
    )
    assert target.fixture_value("lte_sim") == "" and target.fixture_value("x") is None


def test_2026_device_config_reads_serial_configs() -> None:
    uart = SimpleNamespace(port="/dev/ttyACM3", baud=921600, serial_pty="")
    second = SimpleNamespace(port="/dev/ttyACM5", baud=115200, serial_pty="")
    cfg = classic_config(serial="", serial_configs=[uart, second])
    assert serial_of(cfg) == ("/dev/ttyACM3", 921600, "", ("/dev/ttyACM5",))


def test_options_are_used_when_the_config_object_is_missing() -> None:
    option = SimpleNamespace(
        twister_harness=True,
        device_serial=["/dev/ttyACM1", "/dev/ttyACM2"],
        device_serial_baud=115200,
        platform="thingy91/nrf9160/ns",
        runner="nrfutil",
        device_id="1234",
        device_product="",
        device_serial_pty=None,
        device_type="hardware",
        build_dir="/b",
        fixtures=["echo:1.2.3.4"],
    )
    config = SimpleNamespace(option=option)
    target = harness_target(config)  # type: ignore[arg-type]
    assert target.port == "/dev/ttyACM1" and target.extra_ports == ("/dev/ttyACM2",)
    assert target.fixture_value("echo") == "1.2.3.4"


def test_activation() -> None:
    def config(option, ini=None):
        def getini(name):
            if ini is None:
                raise ValueError(name)
            return ini

        return SimpleNamespace(option=option, getini=getini)

    assert not is_active(config(SimpleNamespace()))
    assert not is_active(config(SimpleNamespace(twister_harness=False), ini=False))
    assert is_active(config(SimpleNamespace(twister_harness=True)))
    assert is_active(config(SimpleNamespace(twister_harness=False), ini=True))


@pytest.mark.parametrize(
    ("platform", "board"),
    [
        ("nrf9160dk/nrf9160/ns", "nrf9160dk"),
        ("thingy91_nrf9160_ns", "thingy91"),
        ("thingy91x/nrf9151/ns", "thingy91x"),
    ],
)
def test_platform_resolves_to_a_board(registry: BoardRegistry, platform: str, board: str) -> None:
    assert resolve_board(HarnessTarget(platform=platform, port="/dev/x"), registry).name == board


def test_unknown_platform_is_explained(registry: BoardRegistry) -> None:
    with pytest.raises(TwisterBridgeError, match="nrf52840dk/nrf52840 matches no board"):
        resolve_board(HarnessTarget(platform="nrf52840dk/nrf52840", port="/dev/x"), registry)


class RecordingAdapter:
    def __init__(self, with_stop_reader: bool) -> None:
        self.calls: list[str] = []
        if with_stop_reader:
            self.stop_reader = lambda: self.calls.append("stop_reader")

    def disconnect(self) -> None:
        self.calls.append("disconnect")


@pytest.mark.parametrize(
    ("generation", "expected"), [(False, ["disconnect"]), (True, ["disconnect", "stop_reader"])]
)
def test_release_per_generation(generation: bool, expected: list[str]) -> None:
    adapter = RecordingAdapter(generation)
    release(adapter)
    assert adapter.calls == expected


RELEASE_CHECK = """
import os, pty, sys, tty
sys.path.insert(0, {standin!r})
from pathlib import Path
from twister_harness.device.hardware_adapter import HardwareAdapter
from twister_harness.twister_harness_config import DeviceConfig, DeviceSerialConfig
from twister_harness import API_GENERATION
from pytest_slm.twister import launch_and_release

master, slave = os.openpty()
tty.setraw(slave)
path = os.ttyname(slave)
kw = (dict(serial_configs=[DeviceSerialConfig(port=path)]) if API_GENERATION == "2026"
      else dict(serial=path))
cfg = DeviceConfig(type="hardware", build_dir=Path({build!r}), flash_command=[{tool!r}], **kw)
adapter = HardwareAdapter(cfg)
launch_and_release(adapter)
assert not adapter.is_device_connected()
if API_GENERATION == "2026":
    assert not adapter.is_reader_started()
# the board keeps talking; the harness must not see it after the release
os.write(master, b"after release\\r\\n")
assert adapter.readlines() == []
print("released", API_GENERATION)
"""


@pytest.mark.parametrize("api", ["classic", "2026"])
def test_launch_and_release_on_the_stand_in(api: str, tmp_path: Path) -> None:
    tool = tmp_path / "flash.sh"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    script = RELEASE_CHECK.format(standin=str(STANDIN), build=str(tmp_path), tool=str(tool))
    env = dict(os.environ, TWISTER_HARNESS_STANDIN_API=api,
               ZEPHYR_BASE=str(STANDIN / "zephyr_base"))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"released {api}" in result.stdout


def test_serial_pty_script_is_run_on_a_pty_like_the_harness_does(tmp_path: Path) -> None:
    # The harness wires the script's stdio to a pty master and opens the slave by path.
    script = tmp_path / "echo.py"
    script.write_text(
        "import sys\nfor line in sys.stdin:\n    print('echo:' + line.strip(), flush=True)\n"
    )
    process = SerialPtyProcess(f"{sys.executable},{script}")
    path = process.start()
    try:
        import serial

        with serial.serial_for_url(path, timeout=10) as port:
            port.write(b"hello\n")
            got = port.read_until(b"echo:hello")
        assert got.endswith(b"echo:hello"), got
    finally:
        process.stop()
    assert process.process is not None and process.process.poll() is not None
