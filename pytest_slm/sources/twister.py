"""Under pytest-twister-harness: the board twister reserved and the harness flashed, taken over
byte-exact (see `pytest_slm.twister`)."""

from __future__ import annotations

import pytest

from pytest_slm import twister
from pytest_slm.hardware import reach_hardware
from pytest_slm.settings import Settings
from pytest_slm.sources.base import BoardSource, OpenContext, Reached, register


@register
class TwisterSource(BoardSource):
    name = "twister"
    priority = 30

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        return twister.is_active(config)

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        super().__init__(settings, config)
        for given, option in (
            (settings.port, "--port"),
            (settings.hardware_map, "--hardware-map"),
            (settings.firmware, "--firmware"),
        ):
            if given:
                raise pytest.UsageError(
                    f"{option} with --twister-harness: twister reserves, flashes and names the "
                    "board (--device-serial, --build-dir); drop it"
                )

    def open(self, ctx: OpenContext) -> Reached:
        if ctx.request is None:
            raise RuntimeError("the twister source needs the session fixture's request")
        try:
            taken = twister.take_over(ctx.request, self.settings.registry)
        except twister.TwisterBridgeError as exc:
            raise pytest.UsageError(str(exc)) from None
        try:
            hw = twister.hardware_settings(taken, self.settings)
            hw.worker = ctx.worker
            reached = reach_hardware(
                hw, progress=ctx.progress, info={"worker": ctx.worker, **taken.info()}
            )
        except BaseException:
            taken.close()
            raise
        reached.closers.insert(0, taken.close)
        return reached
