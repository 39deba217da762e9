"""`--port URL`: whatever SLM answers at a pyserial URL or device path, never flashed.

The port is locked like a found board: by the USB serial number of the device behind a local
path when the host lists one (so `--port /dev/ttyACM0` and `--board nrf9160dk` exclude each other),
else by the port itself.
"""

from __future__ import annotations

import pytest

from pytest_slm.hardware import lock_key_for, take_lock
from pytest_slm.settings import Settings
from pytest_slm.sources.base import BoardSource, OpenContext, Reached, register


@register
class PortSource(BoardSource):
    name = "port"
    priority = 10

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        return settings.port is not None and settings.hardware_map is None

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        super().__init__(settings, config)
        if settings.firmware or settings.flash == "always" or settings.flash_erase:
            raise pytest.UsageError(
                "--port talks to whatever answers there and never flashes; to flash, drop "
                "--port and let --board (with --board-id) find the board"
            )

    @property
    def real_hardware(self) -> bool:
        return not self.settings.board.simulated

    def open(self, ctx: OpenContext) -> Reached:
        settings = self.settings
        board = settings.board
        url = settings.port
        assert url is not None
        lock = take_lock(
            lock_key_for(settings.board_id, url),
            timeout=settings.lock_timeout,
            lock_dir=settings.lock_dir,
            progress=ctx.progress,
            note=f"pytest --port {url} (worker {ctx.worker})",
        )
        info = {"worker": ctx.worker, "port": url}
        if settings.board_id:
            info["board_id"] = settings.board_id
        return Reached(
            name=board.name,
            url=url,
            board=board,
            info=info,
            # The board file's features apply only to a board that was named; the suite reads
            # them from the registry by name.
            features=None,
            closers=[lock.release],
            ready_timeout=max(settings.ready_timeout, 0 if board.simulated else board.boot_timeout),
        )
