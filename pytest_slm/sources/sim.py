"""The built-in simulated board: `slm-sim --pty`, started for the session and stopped after it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_slm import dialects
from pytest_slm.settings import SIM_BOARD, Settings
from pytest_slm.sources.base import BoardSource, OpenContext, Reached, register


@register
class SimulatorSource(BoardSource):
    name = "sim"
    priority = 0

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        return settings.port is None and settings.board.simulated

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        super().__init__(settings, config)
        if settings.board.name != SIM_BOARD:
            raise pytest.UsageError(
                f"--board {settings.board.name}: pytest-slm starts only the built-in simulated "
                f"board '{SIM_BOARD}'; reach another simulator with --port"
            )
        if settings.firmware or settings.board_id_given:
            raise pytest.UsageError(
                f"--board {settings.board.name} is the simulated board: --firmware and "
                "--board-id need a real --board (nrf9160dk, ...)"
            )

    @property
    def real_hardware(self) -> bool:
        return False

    def open(self, ctx: OpenContext) -> Reached:
        # Imported here: every pytest process imports this module (a source declares its options
        # and is asked whether it claims the run); the simulator's firmware model only a session.
        from firmware_ref.core.host import UNPACED_UART_BAUD
        from pytest_slm.simboard import SimulatorProcess, host_allows_raw_sockets

        # Not --online: the simulated modem attaches through the same bring-up a board does.
        args = ["--pty"]
        if self.settings.dialect != dialects.AUTO:
            args += dialects.get(self.settings.dialect).sim_args
        # The rate the simulated firmware believes its UART runs at, stated rather than left to
        # slm-sim's default, so the port below opens at the same: a pty's rate means nothing,
        # and the data-mode client reads the board's wire time from the port (DataMode.baud).
        uart_baud = self.settings.sim_baud or UNPACED_UART_BAUD
        if self.settings.sim_baud:
            args += ["--baud", str(self.settings.sim_baud)]
        args += ["--uart-baud", str(uart_baud)]
        if self.settings.sim_latency:
            args += ["--latency", f"{self.settings.sim_latency!r}"]
            args += ["--jitter", f"{self.settings.sim_jitter!r}"]
        simulator = SimulatorProcess(args)
        url = simulator.start()
        board = replace(
            self.settings.board, uart=replace(self.settings.board.uart, baudrate=uart_baud)
        )
        features = set(board.features)
        if host_allows_raw_sockets():
            features.add("raw_sockets")
        return Reached(
            name=board.name,
            url=url,
            board=board,
            info={"worker": ctx.worker},
            features=frozenset(features),
            closers=[simulator.stop],
            ready_timeout=self.settings.ready_timeout,
        )
