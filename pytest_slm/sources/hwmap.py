"""`--hardware-map FILE`: the lab's boards as a pool; each session (xdist worker) claims one.

The map is read and checked at configure time (a malformed map, or more workers than boards,
is a usage error before any test runs); the claim happens when the session starts.
"""

from __future__ import annotations

import pytest

from pytest_slm.hardware import reach_hardware
from pytest_slm.settings import SIM_BOARD, Settings
from pytest_slm.sources.base import BoardSource, OpenContext, Reached, register

# `pytest_slm.hwmap` (the map's parser and the pool's locks) is imported once this source is
# chosen: every pytest process imports this module to declare --hardware-map.


@register
class HardwareMapSource(BoardSource):
    name = "hardware-map"
    priority = 20

    @classmethod
    def add_options(cls, group: pytest.OptionGroup) -> None:
        group.addoption(
            "--hardware-map",
            default=None,
            metavar="FILE",
            help="twister hardware-map YAML listing the lab's boards (id, platform, runner, "
            "serial, baud, connected, fixtures); the connected entries form a pool and each "
            "session, i.e. each pytest-xdist worker, claims a different one",
        )

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        return settings.hardware_map is not None

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        super().__init__(settings, config)
        if settings.port:
            raise pytest.UsageError("--port and --hardware-map both name the board: give one")
        if settings.board_id_given or settings.probe_id:
            raise pytest.UsageError(
                "--board-id/--probe-id and --hardware-map both name the board: the map's "
                "id and probe_id fields say which board is which"
            )
        from pytest_slm import hwmap

        board = settings.board.name
        assert settings.hardware_map is not None
        try:
            self.pool = hwmap.load_pool(
                settings.hardware_map,
                settings.registry,
                board=None if board == SIM_BOARD else board,
                workers=settings.workers,
            )
        except hwmap.HardwareMapError as exc:
            raise pytest.UsageError(str(exc)) from None

    @property
    def real_hardware(self) -> bool:
        return any(not board.simulated for _, board in self.pool.members)

    def describe(self) -> str:
        return f"the boards of --hardware-map {self.settings.hardware_map}"

    def open(self, ctx: OpenContext) -> Reached:
        from pytest_slm import hwmap

        settings = self.settings
        claim = self.pool.claim(
            worker=ctx.worker,
            timeout=settings.lock_timeout,
            lock_dir=settings.lock_dir,
            progress=ctx.progress,
        )
        try:
            if claim.board.simulated:
                # A simulator the map lists runs elsewhere: open it like --port.
                return Reached(
                    name=claim.board.name,
                    url=claim.url,
                    board=claim.board,
                    info=dict(claim.info),
                    closers=[claim.release],
                    ready_timeout=settings.ready_timeout,
                )
            hw = hwmap.hardware_settings(claim, settings)
            hw.worker = ctx.worker
            reached = reach_hardware(hw, progress=ctx.progress, info=dict(claim.info))
        except BaseException:
            claim.release()
            raise
        reached.closers.insert(0, claim.release)
        return reached
