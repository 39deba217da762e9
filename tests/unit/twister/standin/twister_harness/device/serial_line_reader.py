"""The harness's view of a UART: a thread that turns bytes into lines.

This is the behaviour pytest-slm must not rely on, so it is reproduced exactly: a line exists only
once its ``\\n`` arrives, trailing CR/LF is stripped, blank lines are dropped, bytes after the last
``\\n`` (a data-mode prompt, a raw ``#XRECV`` payload) stay invisible, and while disconnected the
device's output is thrown away.
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

import serial

from twister_harness.exceptions import TwisterHarnessException, TwisterHarnessTimeoutException

logger = logging.getLogger(__name__)

# How long one blocking read may wait, so the thread notices disconnect and stop requests.
_READ_SLICE_S = 0.05


class SerialLineReader:
    def __init__(self, log_path: Path, timeout: float) -> None:
        self.log_path = log_path
        self.timeout = timeout
        self.queue: queue.Queue[str] = queue.Queue()
        self._port: serial.Serial | None = None
        self._port_lock = threading.Lock()
        self._partial = bytearray()
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        # Set by open(), close() and stop(), so a disconnected reader blocks instead of polling.
        self._state_changed = threading.Event()

    # -- connection -------------------------------------------------------------------------
    def open(self, port: str, baud: int) -> None:
        if self.is_connected():
            return
        # The real adapter uses serial.Serial, not serial_for_url: it takes device paths only.
        handle = serial.Serial(
            port,
            baudrate=baud,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            bytesize=serial.EIGHTBITS,
            timeout=_READ_SLICE_S,
        )
        handle.flush()
        handle.reset_input_buffer()
        handle.reset_output_buffer()
        with self._port_lock:
            self._port = handle
            self._partial.clear()
        self._state_changed.set()

    def close(self) -> None:
        with self._port_lock:
            handle, self._port = self._port, None
            self._partial.clear()
        self._state_changed.set()
        if handle is not None:
            handle.close()

    def is_connected(self) -> bool:
        handle = self._port
        return handle is not None and handle.is_open

    def write(self, data: bytes) -> None:
        handle = self._port
        if handle is None or not handle.is_open:
            raise TwisterHarnessException("Cannot write to not connected device.")
        handle.write(data)

    # -- reader thread ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._running.set()
        self._thread = threading.Thread(target=self._run, name="twister-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._running.clear()
        self._state_changed.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("Reader thread did not terminate within timeout")
        self._thread = None

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._running.is_set()

    def reset(self) -> None:
        self.queue = queue.Queue()
        self._partial.clear()

    def _run(self) -> None:
        with open(self.log_path, "a+", encoding="utf-8", errors="replace") as log:
            while self._running.is_set():
                with self._port_lock:
                    handle = self._port
                    if handle is None:
                        chunk = b""
                    else:
                        try:
                            chunk = handle.read(max(1, min(2048, handle.in_waiting)))
                        except (OSError, TypeError, serial.SerialException):
                            chunk = b""
                if handle is None:
                    self._state_changed.wait()
                    self._state_changed.clear()
                    continue
                if not chunk:
                    continue
                self._partial.extend(chunk)
                while (idx := self._partial.find(b"\n")) >= 0:
                    raw = bytes(self._partial[: idx + 1])
                    del self._partial[: idx + 1]
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    if line.strip():
                        self.queue.put(line)
                        log.write(line + "\n")
                        log.flush()

    # -- reading lines ----------------------------------------------------------------------
    def readline(self, timeout: float | None = None) -> str:
        timeout = timeout or self.timeout
        if not self.is_connected() and self.queue.empty():
            raise TwisterHarnessException("No connection to the device and no more data to read.")
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty as exc:
            raise TwisterHarnessTimeoutException(
                f"Read from device timeout occurred ({timeout}s)"
            ) from exc

    def readlines(self) -> list[str]:
        lines = []
        while True:
            try:
                lines.append(self.queue.get_nowait())
            except queue.Empty:
                return lines
