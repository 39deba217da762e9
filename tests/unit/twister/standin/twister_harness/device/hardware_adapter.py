"""HardwareAdapter: flash with west (or a flash command), then hand out the UART's lines."""

from __future__ import annotations

import logging
import subprocess

from twister_harness.constants import API_GENERATION, GEN_2026
from twister_harness.device.device_adapter import DeviceAdapter
from twister_harness.exceptions import TwisterHarnessException, TwisterHarnessTimeoutException

logger = logging.getLogger(__name__)


class HardwareAdapter(DeviceAdapter):
    def generate_command(self) -> None:
        cfg = self.device_config
        if cfg.flash_command:
            script, *rest = cfg.flash_command
            command = [script, "--build-dir", str(cfg.build_dir)]
            if cfg.id:
                command += ["--board-id", cfg.id]
            self.command = command + rest
            return
        no_rebuild = "--no-rebuild" if API_GENERATION == GEN_2026 else "--skip-rebuild"
        command = [self.west, "flash", no_rebuild, "--build-dir", str(cfg.build_dir)]
        base_args: list[str] = []
        extra_args: list[str] = list(cfg.west_flash_extra_args)
        if cfg.runner:
            command += ["--runner", cfg.runner]
            # As upstream: the hardware map's runner_params first, then the probe selection.
            extra_args += cfg.runner_params
            base, extra = self._runner_args()
            base_args += base
            extra_args += extra
        command += base_args
        if extra_args:
            command += ["--", *extra_args]
        self.command = command

    def _runner_args(self) -> tuple[list[str], list[str]]:
        runner, board_id = self.device_config.runner, self.device_config.id
        if not board_id:
            return [], []
        nordic = (
            "nrf" in runner if API_GENERATION == GEN_2026 else runner in ("nrfjprog", "nrfutil")
        )
        if runner == "pyocd":
            return [], ["--board-id", board_id]
        if nordic:
            return [], ["--dev-id", board_id]
        if runner == "jlink":
            return ["--dev-id", board_id], []
        return [], []

    def _device_launch(self) -> None:
        # Serial first, so the boot lines are not lost, unless the port vanishes while flashing.
        if self.device_config.flash_before:
            self._flash_and_run()
            self.connect()
        else:
            self.connect()
            self._flash_and_run()

    def _flash_and_run(self) -> None:
        cfg = self.device_config
        log_path = cfg.build_dir / "device.log"
        logger.info("Flashing device %s", cfg.id)
        process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env
        )
        try:
            stdout, _ = process.communicate(timeout=cfg.flash_timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            process.communicate()
            raise TwisterHarnessTimeoutException(
                f"Timeout occurred ({cfg.flash_timeout}s) during flashing."
            ) from exc
        with open(log_path, "ab") as log:
            log.write(stdout or b"")
        if process.returncode != 0:
            raise TwisterHarnessException(f"Could not flash device {cfg.id}")

    def _close_device(self) -> None:
        """Nothing to stop on hardware; the real adapter runs the post script here."""
