"""DeviceConfig and TwisterHarnessConfig, built from the command line like the real plugin."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from twister_harness.constants import API_GENERATION, GEN_2026
from twister_harness.helpers.domains_helper import get_default_domain_name

logger = logging.getLogger(__name__)


@dataclass
class DeviceSerialConfig:
    """One UART of a board (2026 generation: ``DeviceConfig.serial_configs``)."""

    port: str = ""
    baud: int = 115200
    serial_pty: str = ""


@dataclass
class DeviceConfig:
    type: str
    build_dir: Path
    base_timeout: float = 60.0
    flash_timeout: float = 60.0
    platform: str = ""
    # Classic generation: one UART.  The 2026 generation leaves these empty and fills
    # serial_configs instead, so code that reads only `serial` breaks there, as it would upstream.
    serial: str = ""
    baud: int = 115200
    serial_pty: str = ""
    serial_configs: list[DeviceSerialConfig] = field(default_factory=list)
    runner: str = ""
    runner_params: list[str] = field(default_factory=list)
    id: str = ""
    product: str = ""
    flash_before: bool = False
    west_flash_extra_args: list[str] = field(default_factory=list)
    flash_command: list[str] | str = ""
    name: str = ""
    pre_script: Path | None = None
    post_script: Path | None = None
    post_flash_script: Path | None = None
    fixtures: list[str] = field(default_factory=list)
    extra_test_args: str = ""
    app_build_dir: Path | None = None

    def __post_init__(self) -> None:
        # Sysbuild builds keep the application under <build>/<domain>; without domains.yaml the
        # build dir is the application's own.
        domains = Path(self.build_dir) / "domains.yaml"
        if domains.exists():
            self.app_build_dir = Path(self.build_dir) / get_default_domain_name(domains)
        elif self.app_build_dir is None:
            self.app_build_dir = self.build_dir


@dataclass
class TwisterHarnessConfig:
    devices: list[DeviceConfig] = field(default_factory=list)

    @classmethod
    def create(cls, config: pytest.Config) -> TwisterHarnessConfig:
        opt = config.option
        build_dir = _absolute(opt.build_dir)
        # As upstream: comma-separated values split like one CSV row, and options that were not
        # given passed on as None (platform, runner, id, ...), not as "".
        extra = opt.west_flash_extra_args
        flash_command = getattr(opt, "flash_command", None)
        common = dict(
            type=opt.device_type,
            build_dir=build_dir,
            base_timeout=opt.base_timeout,
            flash_timeout=opt.flash_timeout,
            platform=opt.platform,
            runner=opt.runner,
            runner_params=[w.strip() for w in opt.runner_params or []],
            id=opt.device_id,
            product=opt.device_product,
            flash_before=bool(opt.flash_before),
            west_flash_extra_args=_csv_row(extra),
            flash_command=_csv_row(flash_command),
            pre_script=_path_or_none(opt.pre_script),
            post_script=_path_or_none(opt.post_script),
            post_flash_script=_path_or_none(opt.post_flash_script),
            fixtures=opt.fixtures,
            extra_test_args=opt.extra_test_args,
        )
        if API_GENERATION == GEN_2026:
            ports = list(opt.device_serial or [])
            serial_configs = [
                DeviceSerialConfig(port=p, baud=opt.device_serial_baud) for p in ports
            ]
            if opt.device_serial_pty:
                serial_configs[:1] = [
                    DeviceSerialConfig(
                        port="", baud=opt.device_serial_baud, serial_pty=opt.device_serial_pty
                    )
                ]
            device = DeviceConfig(serial_configs=serial_configs, **common)
        else:
            device = DeviceConfig(
                serial=opt.device_serial,
                baud=opt.device_serial_baud,
                serial_pty=opt.device_serial_pty,
                **common,
            )
        return cls(devices=[device])


def _csv_row(value: str | None) -> list[str]:
    if not value:
        return []
    return [w.strip() for w in next(csv.reader([value]))]


def _absolute(value: str | Path) -> Path:
    import os

    return Path(os.path.expandvars(os.path.expanduser(str(value)))).resolve()


def _path_or_none(value: str | None) -> Path | None:
    return _absolute(value) if value else None
