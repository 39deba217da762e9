"""`--board NAME` for a real board: found on this machine by its USB serial number, locked,
flashed when the image changed (see `pytest_slm.hardware`)."""

from __future__ import annotations

import pytest

from pytest_slm.hardware import HardwareSettings, reach_hardware
from pytest_slm.settings import Settings
from pytest_slm.sources.base import (
    BoardSource,
    OpenContext,
    Reached,
    SourceUnavailable,
    register,
)


@register
class HardwareSource(BoardSource):
    name = "hardware"
    priority = 5

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        return settings.port is None and not settings.board.simulated

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        super().__init__(settings, config)
        if settings.runner is None and settings.firmware and not settings.board.runner:
            raise pytest.UsageError(
                f"board {settings.board.name} has no default runner; choose one with --slm-runner"
            )

    def precheck(self) -> None:
        # Listing USB ports takes milliseconds; collecting the suite takes seconds. A board
        # that is not attached is said before the wait, not after it. (USB discovery is
        # imported here: every pytest process imports this module, most never for a board.)
        from pytest_slm.link.discovery import DiscoveryError, locate

        if self.settings.port is None:
            try:
                locate(self.settings.board, self.settings.board_id, probe_id=self.settings.probe_id)
            except DiscoveryError as exc:
                raise SourceUnavailable(f"{type(exc).__name__}: {exc}") from None

    def open(self, ctx: OpenContext) -> Reached:
        hw = HardwareSettings.from_settings(self.settings)
        hw.worker = ctx.worker
        return reach_hardware(hw, progress=ctx.progress, info={"worker": ctx.worker})
