"""Options and configuration of the harness; loaded with ``-p twister_harness.plugin``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twister_harness.constants import API_GENERATION, GEN_2026
from twister_harness.twister_harness_config import TwisterHarnessConfig

pytest_plugins = ("twister_harness.fixtures",)

_DEVICE_TYPES = ("native", "qemu", "hardware", "unit", "custom")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("Twister harness")
    group.addoption(
        "--twister-harness",
        action="store_true",
        default=False,
        help="Activate Twister harness plugin.",
    )
    parser.addini("twister_harness", "Activate Twister harness plugin", type="bool")
    group.addoption(
        "--base-timeout",
        type=float,
        default=60.0,
        help="Set base timeout (in seconds) used during monitoring if some "
        "operations are finished in a finite amount of time.",
    )
    group.addoption(
        "--flash-timeout",
        type=float,
        default=60.0,
        help="Set timeout for device flashing (in seconds).",
    )
    group.addoption("--build-dir", metavar="PATH", help="Directory with built application.")
    group.addoption("--device-type", choices=_DEVICE_TYPES, help="Choose type of device.")
    group.addoption(
        "--platform", help="Name of used platform (qemu_x86, nrf52840dk/nrf52840, ...)."
    )
    if API_GENERATION == GEN_2026:
        group.addoption(
            "--device-serial",
            action="append",
            help="Serial device; repeat it for more UARTs of the same board.",
        )
    else:
        group.addoption("--device-serial", help="Serial device for accessing the board.")
    group.addoption(
        "--device-serial-baud",
        type=int,
        default=115200,
        help="Serial device baud rate (default 115200).",
    )
    group.addoption("--runner", help="Use the specified west runner (pyocd, nrfjprog, etc.).")
    group.addoption(
        "--runner-params", action="append", help="Use the specified west runner params."
    )
    group.addoption(
        "--device-id", help="ID of connected hardware device (for example 000682459367)."
    )
    group.addoption("--device-product", help="Product name of connected hardware device.")
    group.addoption("--device-serial-pty", help="Script for controlling pseudoterminal.")
    group.addoption(
        "--flash-before", type=bool, help="Flash device before attaching to serial port."
    )
    group.addoption(
        "--west-flash-extra-args", help="Extend parameters for west flash, comma separated."
    )
    if API_GENERATION == GEN_2026:
        # Both came in 2025: the classic generation NCS 2.x ships has neither.
        group.addoption("--flash-command", help="Use a custom flash script, comma separated.")
    group.addoption("--pre-script", metavar="PATH", help="Script executed before flashing.")
    group.addoption("--post-script", metavar="PATH", help="Script executed after closing serial.")
    group.addoption("--post-flash-script", metavar="PATH", help="Script executed after flashing.")
    group.addoption(
        "--dut-scope",
        choices=("function", "class", "module", "package", "session"),
        help="Override default scope of the dut, unlaunched_dut and shell fixtures.",
    )
    group.addoption(
        "--twister-fixture",
        action="append",
        dest="fixtures",
        metavar="FIXTURE",
        default=[],
        help="Twister fixture supported by this platform.",
    )
    group.addoption("--extra-test-args", help="Additional test arguments for native binaries.")
    if API_GENERATION == GEN_2026:
        group.addoption(
            "--required-build",
            action="append",
            default=[],
            metavar="PATH",
            help="Build directories of required applications.",
        )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help"):
        return
    if not (config.getoption("twister_harness") or config.getini("twister_harness")):
        return
    _normalize_paths(config)
    _validate_options(config)
    config.twister_harness_config = TwisterHarnessConfig.create(config)  # type: ignore[attr-defined]


def _validate_options(config: pytest.Config) -> None:
    # Plain exceptions, as upstream raises them (pytest shows an internal error, not a usage one).
    if not config.option.build_dir:
        raise Exception("--build-dir has to be provided")
    if not Path(config.option.build_dir).is_dir():
        raise Exception(f"Provided --build-dir does not exist: {config.option.build_dir}")
    if not config.option.device_type:
        raise Exception("--device-type has to be provided")



def _normalize_paths(config: pytest.Config) -> None:
    for name in ("build_dir", "pre_script", "post_script", "post_flash_script"):
        value = getattr(config.option, name)
        if value:
            setattr(
                config.option,
                name,
                str(Path(os.path.expandvars(os.path.expanduser(value))).resolve()),
            )
