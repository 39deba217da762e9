"""DeviceAdapter: the object behind the ``dut`` fixtures, in the generation the env var picks.

Classic (mid-2023 .. Zephyr 4.3): one UART; ``readline(timeout=None, print_output=True)``;
``connect()``; ``is_device_running()``; ``readlines_until`` raises the harness timeout exception.
2026: a list of connections; every read takes ``connection_index`` first; ``connect(retry_s=0)``;
``start_reader()``/``stop_reader()``/``is_reader_started()``; ``readlines_until`` raises
``AssertionError``.  Callers that pass keywords work with both, which is the point of the contract.
"""

from __future__ import annotations

import abc
import logging
import os
import pty
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

from twister_harness.constants import API_GENERATION, GEN_2026
from twister_harness.device.serial_line_reader import SerialLineReader
from twister_harness.exceptions import TwisterHarnessException, TwisterHarnessTimeoutException
from twister_harness.twister_harness_config import DeviceConfig, DeviceSerialConfig

logger = logging.getLogger(__name__)


def serial_configs_of(device_config: DeviceConfig) -> list[DeviceSerialConfig]:
    if API_GENERATION == GEN_2026:
        return list(device_config.serial_configs)
    return [
        DeviceSerialConfig(
            port=device_config.serial,
            baud=device_config.baud,
            serial_pty=device_config.serial_pty,
        )
    ]


class _AdapterBase(abc.ABC):
    _west: str | None = None

    def __init__(self, device_config: DeviceConfig) -> None:
        self.device_config = device_config
        self.base_timeout: float = device_config.base_timeout
        self.command: list[str] = []
        self.handler_log_path = Path(device_config.build_dir) / "handler.log"
        self._serial_configs = serial_configs_of(device_config)
        self._readers = [
            SerialLineReader(self._log_path(i), self.base_timeout)
            for i in range(max(1, len(self._serial_configs)))
        ]
        self._log_files = [r.log_path for r in self._readers]
        self._pty_processes: dict[int, subprocess.Popen[bytes]] = {}

    def _log_path(self, index: int) -> Path:
        if index == 0:
            return self.handler_log_path
        return Path(self.device_config.build_dir) / f"handler_{index}.log"

    @property
    def env(self) -> dict[str, str]:
        return os.environ.copy()

    @property
    def west(self) -> str:
        if self._west is None:
            self._west = shutil.which("west")
            if self._west is None:
                raise TwisterHarnessException("west not found")
        return self._west

    # -- lifecycle ------------------------------------------------------------------------
    def launch(self) -> None:
        self.close()
        if not self.command:
            self.generate_command()
        self._start_readers()
        self._device_launch()

    def close(self) -> None:
        self.disconnect()
        self._close_device()
        self._stop_readers()
        for reader in self._readers:
            reader.reset()

    def disconnect(self) -> None:
        for reader in self._readers:
            reader.close()
        # Like the real adapter, the serial-pty script does not outlive the connection.
        self._stop_serial_pty()

    def _connect_all(self) -> None:
        for index, (config, reader) in enumerate(
            zip(self._serial_configs, self._readers, strict=False)
        ):
            port = self._start_serial_pty(index, config.serial_pty) or config.port
            reader.open(port, config.baud)

    def _start_serial_pty(self, index: int, script: str) -> str | None:
        """Run the script with its stdio on a pty master; the port is the slave's path."""
        if not script:
            return None
        master, slave = pty.openpty()
        self._pty_processes[index] = subprocess.Popen(
            re.split("[, ]", script), stdin=master, stdout=master, stderr=master
        )
        return os.ttyname(slave)

    def _stop_serial_pty(self) -> None:
        for process in self._pty_processes.values():
            process.terminate()
            process.communicate(timeout=self.base_timeout)
        self._pty_processes.clear()

    def _start_readers(self) -> None:
        for reader in self._readers:
            reader.start()

    def _stop_readers(self) -> None:
        for reader in self._readers:
            reader.stop(self.base_timeout)

    def is_device_connected(self) -> bool:
        return self._readers[0].is_connected()

    def clear_buffer(self) -> None:
        for reader in self._readers:
            reader.readlines()

    def initialize_log_files(self, test_name: str = "") -> None:
        for path in self._log_files:
            with open(path, "a+") as log:
                log.write(f"\n==== Test {test_name} started at {datetime.now()} ====\n")

    # -- shared read logic ----------------------------------------------------------------
    def _readline(self, index: int, timeout: float | None, print_output: bool) -> str:
        line = self._reader(index).readline(timeout or self.base_timeout)
        if print_output:
            logger.debug("#: %s", line)
        return line

    def _readlines(self, index: int, print_output: bool) -> list[str]:
        lines = self._reader(index).readlines()
        if print_output:
            for line in lines:
                logger.debug("#: %s", line)
        return lines

    def _readlines_until(
        self,
        index: int,
        regex: str | None,
        num_of_lines: int | None,
        timeout: float | None,
        print_output: bool,
        timeout_error: type[Exception],
    ) -> list[str]:
        if not regex and not num_of_lines:
            return self._readlines(index, print_output)
        pattern = re.compile(regex) if regex else None
        timeout = timeout or self.base_timeout
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = f'line "{regex}"' if regex else "expected number of lines"
                raise timeout_error(f"Did not find {what} within {timeout} seconds")
            try:
                line = self._readline(index, min(remaining, 0.1), print_output)
            except TwisterHarnessTimeoutException:
                continue
            lines.append(line)
            if pattern is not None and pattern.search(line):
                return lines
            if num_of_lines and len(lines) == num_of_lines:
                return lines

    def _reader(self, index: int) -> SerialLineReader:
        if index >= len(self._readers):
            raise TwisterHarnessException(f"Connection index {index} is out of range.")
        return self._readers[index]

    def _write(self, data: bytes, index: int) -> None:
        self._reader(index).write(data)

    # -- device specific ------------------------------------------------------------------
    @abc.abstractmethod
    def generate_command(self) -> None: ...

    @abc.abstractmethod
    def _device_launch(self) -> None: ...

    @abc.abstractmethod
    def _close_device(self) -> None: ...


if API_GENERATION == GEN_2026:

    class DeviceAdapter(_AdapterBase):
        def connect(self, retry_s: int = 0) -> None:
            deadline = time.monotonic() + retry_s
            while True:
                try:
                    self._connect_all()
                    return
                except Exception:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.5)  # the port re-enumerates after a USB-CDC flash

        def readline(self, connection_index: int = 0, **kwargs) -> str:
            return self._readline(
                connection_index, kwargs.get("timeout"), kwargs.get("print_output", True)
            )

        def readlines(self, connection_index: int = 0, **kwargs) -> list[str]:
            return self._readlines(connection_index, kwargs.get("print_output", True))

        def readlines_until(self, connection_index: int = 0, **kwargs) -> list[str]:
            return self._readlines_until(
                connection_index,
                kwargs.get("regex"),
                kwargs.get("num_of_lines"),
                kwargs.get("timeout"),
                kwargs.get("print_output", True),
                AssertionError,
            )

        def write(self, data: bytes, connection_index: int = 0) -> None:
            self._write(data, connection_index)

        def start_reader(self) -> None:
            self._start_readers()

        def stop_reader(self) -> None:
            self._stop_readers()

        def is_reader_started(self) -> bool:
            return self._readers[0].is_running()

else:

    class DeviceAdapter(_AdapterBase):  # type: ignore[no-redef]
        def connect(self) -> None:
            if not self.is_device_running():
                raise TwisterHarnessException("Cannot connect to not launched device.")
            self._connect_all()

        def readline(self, timeout: float | None = None, print_output: bool = True) -> str:
            return self._readline(0, timeout, print_output)

        def readlines(self, print_output: bool = True) -> list[str]:
            return self._readlines(0, print_output)

        def readlines_until(
            self,
            regex: str | None = None,
            num_of_lines: int | None = None,
            timeout: float | None = None,
            print_output: bool = True,
        ) -> list[str]:
            return self._readlines_until(
                0, regex, num_of_lines, timeout, print_output, TwisterHarnessTimeoutException
            )

        def write(self, data: bytes) -> None:
            self._write(data, 0)

        def is_device_running(self) -> bool:
            return self._readers[0].is_running()
