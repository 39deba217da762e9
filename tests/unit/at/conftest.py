"""A scripted board on a real pseudo-terminal: the client under test opens the pty's slave end
exactly as it opens a board's UART, and the test plays the board on the master end."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
import tty
from collections.abc import Iterator

import pytest

from pytest_slm.at import AtClient
from pytest_slm.dut import SlmDut


class ScriptedBoard:
    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self.received = bytearray()
        self._threads: list[threading.Thread] = []

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def expect(self, data: bytes, timeout: float = 10.0) -> bytes:
        """Wait until the client has written `data` (consumed up to its end)."""
        deadline = time.monotonic() + timeout
        while data not in self.received:
            left = deadline - time.monotonic()
            if left <= 0:
                got = bytes(self.received)
                raise AssertionError(f"the client never wrote {data!r}; got {got!r}")
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                self.received.extend(os.read(self.master, 4096))
        end = self.received.index(data) + len(data)
        consumed = bytes(self.received[:end])
        del self.received[:end]
        return consumed

    def script(self, *steps: tuple[bytes, bytes]) -> threading.Thread:
        """Play the board in the background: for each step, wait for the bytes, then answer."""

        def play() -> None:
            for expected, reply in steps:
                try:
                    self.expect(expected)
                    self.send(reply)
                except (AssertionError, OSError) as exc:
                    self.script_error = exc
                    return

        self.script_error: BaseException | None = None
        thread = threading.Thread(target=play, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def close(self) -> None:
        """Idempotent: a test may pull the cable (close) before the fixture's teardown does.
        The numbers are forgotten, since a second os.close would hit whatever file reused them."""
        for thread in self._threads:
            thread.join(timeout=10)
        fds, (self.master, self._slave) = (self.master, self._slave), (-1, -1)
        for fd in fds:
            if fd >= 0:
                os.close(fd)


@pytest.fixture
def board() -> Iterator[ScriptedBoard]:
    scripted = ScriptedBoard()
    yield scripted
    scripted.close()


@pytest.fixture
def client(board: ScriptedBoard) -> Iterator[AtClient]:
    dut = SlmDut.open(board.path, timeout=5.0)
    yield dut
    dut.close()


class SimBoard:
    """The simulated board in this process, on a real pty, with a TCP echo peer beside it."""

    def __init__(self, **config) -> None:
        from firmware_ref.core.host import FirmwareConfig
        from firmware_ref.transport import Board, PtyTransport

        self.stop = threading.Event()
        self.board = Board(FirmwareConfig(online=True, **config))
        self.transport = PtyTransport(self.board, self.stop)
        self._serve = threading.Thread(target=self.transport.serve, daemon=True)
        self._serve.start()
        self.echo = socket.create_server(("127.0.0.1", 0))
        self.echo_port = self.echo.getsockname()[1]
        self.echoed = bytearray()
        self._echo_thread = threading.Thread(target=self._echo_loop, daemon=True)
        self._echo_thread.start()

    def _echo_loop(self) -> None:
        try:
            conn, _ = self.echo.accept()
        except OSError:
            return
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                self.echoed.extend(data)

    def wait_echoed(self, size: int, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.echoed) < size and time.monotonic() < deadline:
            time.sleep(0.01)
        return bytes(self.echoed)

    def close(self) -> None:
        self.stop.set()
        self._serve.join(timeout=5)
        self.echo.close()


@pytest.fixture
def sim() -> Iterator[SimBoard]:
    board = SimBoard()
    yield board
    board.close()


@pytest.fixture
def sim_dut(sim: SimBoard) -> Iterator[SlmDut]:
    dut = SlmDut.open(sim.transport.path, timeout=10.0)
    dut.wait_ready(timeout=10)
    yield dut
    dut.close()
