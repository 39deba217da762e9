"""The stand-in behaves like pytest-twister-harness where pytest-slm depends on it.

Each case runs pytest in a child process with ``-p twister_harness.plugin --twister-harness``, as
twister does, for both API generations, with a scripted board on a real pty behind
``--device-serial`` and a recording ``west`` on PATH. The child also loads pytest-slm (its entry
point), which checks that the two plugins' options and fixtures do not collide.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from twister_helpers import fake_tool, harness_env, run_pytest, twister_flash_argv

INNER = """
import inspect

import pytest

from twister_harness import API_GENERATION
from twister_harness.exceptions import TwisterHarnessException, TwisterHarnessTimeoutException

CLASSIC = API_GENERATION == "classic"


def test_config_and_api_shape(dut, twister_harness_config, request):
    cfg = twister_harness_config.devices[0]
    assert cfg.platform == "nrf9160dk/nrf9160/ns"
    assert cfg.id == "000960123456" and cfg.runner == "nrfjprog"
    assert cfg.fixtures == ["lte_sim", "echo_server:192.0.2.10:7"]
    if CLASSIC:
        assert cfg.serial == request.config.option.device_serial and cfg.baud == 115200
        assert list(inspect.signature(dut.readline).parameters) == ["timeout", "print_output"]
        assert dut.is_device_running() and not hasattr(dut, "stop_reader")
    else:
        assert cfg.serial == "" and cfg.serial_configs[0].port.startswith("/dev/")
        assert list(inspect.signature(dut.readline).parameters) == ["connection_index", "kwargs"]
        assert dut.is_reader_started() and hasattr(dut, "stop_reader")
    assert dut.is_device_connected()


def test_lines_blank_lines_and_partial_lines(dut):
    dut.write(b"PING\\r\\n")
    # blank lines between the two lines are dropped; CR/LF are stripped
    assert dut.readlines_until(regex="line two", timeout=20) == ["line one", "line two"]
    # the bytes after the last newline are not a line yet
    with pytest.raises(TwisterHarnessTimeoutException):
        dut.readline(timeout=0.5)
    dut.write(b"MORE\\r\\n")
    assert dut.readline(timeout=20) == "partial-no-newline end"
    expected = TwisterHarnessTimeoutException if CLASSIC else AssertionError
    with pytest.raises(expected):
        dut.readlines_until(regex="never", timeout=0.3)
    assert dut.readlines_until() == []


def test_disconnect_drops_output_and_blocks_writes(dut):
    dut.disconnect()
    dut.disconnect()  # idempotent
    assert not dut.is_device_connected()
    with pytest.raises(TwisterHarnessException):
        dut.write(b"PING\\r\\n")
    with pytest.raises(TwisterHarnessException):
        dut.readline(timeout=0.2)
"""


@pytest.mark.parametrize("api", ["classic", "2026"])
def test_standin_generations(api: str, tmp_path: Path, pty_board) -> None:
    board = pty_board(
        {
            b"PING\r\n": b"\r\nline one\r\n\r\n\r\nline two\r\npartial-no-newline",
            b"MORE\r\n": b" end\r\n",
        }
    )
    bin_dir = tmp_path / "bin"
    argv_log = fake_tool(bin_dir, "west")
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER), encoding="utf-8")
    result = run_pytest(
        [
            "-p",
            "twister_harness.plugin",
            "--twister-harness",
            "--device-type=hardware",
            f"--device-serial={board.path}",
            "--platform=nrf9160dk/nrf9160/ns",
            f"--build-dir={build_dir}",
            "--runner=nrfjprog",
            "--device-id=000960123456",
            "--twister-fixture=lte_sim",
            "--twister-fixture=echo_server:192.0.2.10:7",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_inner.py",
        ],
        harness_env(bin_dir, api),
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
    # function-scoped dut: one flash per test, with twister's exact command line
    flashes = [json.loads(line) for line in argv_log.read_text().splitlines()]
    assert flashes == [twister_flash_argv(build_dir, api)] * 3
    # the reader logs what it saw, without the blank lines
    log = (build_dir / "handler.log").read_text()
    assert "line one\nline two\npartial-no-newline end\n" in log


def test_an_installed_harness_without_zephyr_base_stops_pytest_before_pytest_slm_runs(
    tmp_path: Path,
) -> None:
    """Like the real one, the harness reads ZEPHYR_BASE when it is imported: with the plugin
    installed (auto-loaded) and ZEPHYR_BASE unset, every pytest run fails before any plugin's
    hooks, ours included. docs/real-boards.md says so and gives `-p no:twister_harness`."""
    env = harness_env(tmp_path, "classic")
    env.pop("ZEPHYR_BASE")
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    broken = run_pytest(
        ["-p", "twister_harness.plugin", "-p", "no:cacheprovider", "test_x.py"],
        env,
        tmp_path,
        timeout=120,
    )
    assert broken.returncode != 0
    assert "KeyError: 'ZEPHYR_BASE'" in broken.stdout + broken.stderr
    fine = run_pytest(["-p", "no:cacheprovider", "test_x.py"], env, tmp_path, timeout=120)
    assert fine.returncode == 0, fine.stdout + fine.stderr


def test_flash_command_order_follows_upstream(tmp_path: Path) -> None:
    """`west flash --no-rebuild --build-dir B --runner R -- <runner_params> --dev-id ID`."""
    code = (
        "from pathlib import Path\n"
        "from twister_harness.device.hardware_adapter import HardwareAdapter\n"
        "from twister_harness.twister_harness_config import DeviceConfig\n"
        f"cfg = DeviceConfig(type='hardware', build_dir=Path({str(tmp_path)!r}), serial='/dev/x',"
        " runner='nrfutil', id='000960123456', runner_params=['--softreset'])\n"
        "adapter = HardwareAdapter(cfg)\n"
        "adapter.generate_command()\n"
        "print(adapter.command[1:])\n"
    )
    (tmp_path / "west").write_text("#!/bin/sh\n")
    (tmp_path / "west").chmod(0o755)
    env = harness_env(tmp_path, "2026")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == str(
        [
            "flash",
            "--no-rebuild",
            "--build-dir",
            str(tmp_path),
            "--runner",
            "nrfutil",
            "--",
            "--softreset",
            "--dev-id",
            "000960123456",
        ]
    ), out.stderr
