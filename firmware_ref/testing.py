"""In-memory harness for golden-transcript tests of the simulated firmware.

    with FirmwareHarness() as h:          # boots SLM v2.0 (dialect="v20"); banner consumed
        h.feed(b"AT\\r\\n")
        h.wait_output(b"\\r\\nOK\\r\\n")      # exact bytes, next in the stream

``FirmwareHarness(dialect="sm")`` boots another dialect (a folder of ``firmware_ref/dialects``).
All waits are on a condition variable with a timeout; nothing sleeps to synchronise.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from firmware_ref.core.dialect import Dialect, Handler, get_dialect
from firmware_ref.core.host import ERROR as ERROR  # re-exported for golden tests
from firmware_ref.core.host import OK as OK
from firmware_ref.core.host import FirmwareConfig, make_firmware
from firmware_ref.core.modem import ModemState

T = TypeVar("T")

_FINAL = re.compile(rb"\r\n(OK|ERROR|\+CME ERROR: \d+|\+CMS ERROR: \d+)\r\n")


class HarnessTimeout(AssertionError):
    pass


class FirmwareHarness:
    """A ``Firmware`` whose UART output is collected in memory.

    ``unread`` is what the firmware wrote and no ``wait_*``/``read_*`` call has consumed yet.
    """

    def __init__(
        self,
        config: FirmwareConfig | None = None,
        *,
        modem: ModemState | None = None,
        dialect: Dialect | str | None = None,
        expect_ready: bool = True,
        timeout: float = 10.0,
        **config_kwargs: object,
    ) -> None:
        if config is None:
            config = FirmwareConfig(**config_kwargs)  # type: ignore[arg-type]
        self.timeout = timeout
        self._cond = threading.Condition()
        self._out = bytearray()
        self._pos = 0
        self.fw = make_firmware(self._collect, config, modem=modem, dialect=dialect)
        self.fw.start()
        if expect_ready:
            self.wait_output(self.fw.dialect.banner)

    # -- plumbing

    def _collect(self, data: bytes) -> None:
        with self._cond:
            self._out += data
            self._cond.notify_all()

    def close(self) -> None:
        self.fw.close()

    def __enter__(self) -> FirmwareHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def output(self) -> bytes:
        """Everything written since boot."""
        with self._cond:
            return bytes(self._out)

    @property
    def unread(self) -> bytes:
        with self._cond:
            return bytes(self._out[self._pos :])

    def _wait(
        self, ready: Callable[[bytearray, int], T | None], timeout: float | None, what: str
    ) -> T:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while True:
                result = ready(self._out, self._pos)
                if result is not None:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    unread = bytes(self._out[self._pos :])
                    raise HarnessTimeout(f"timed out waiting for {what}; unread: {unread!r}")
                self._cond.wait(left)

    # -- input

    def feed(self, data: bytes) -> None:
        self.fw.feed(data)

    # -- output

    def wait_output(self, expected: bytes, timeout: float | None = None) -> bytes:
        """Wait until ``len(expected)`` bytes are unread, assert they are exactly ``expected``,
        and consume them."""

        def ready(out: bytearray, pos: int) -> bytes | None:
            if len(out) - pos >= len(expected):
                return bytes(out[pos : pos + len(expected)])
            if bytes(out[pos:]) != expected[: len(out) - pos]:
                return bytes(out[pos:])  # already diverged: fail now, not at the timeout
            return None

        got = self._wait(ready, timeout, repr(expected))
        if got != expected:
            raise AssertionError(f"expected {expected!r}\n     got {got!r}\nunread {self.unread!r}")
        with self._cond:
            self._pos += len(expected)
        return got

    def read_until(self, marker: bytes, timeout: float | None = None) -> bytes:
        """Consume and return unread output up to and including ``marker``."""

        def ready(out: bytearray, pos: int) -> int | None:
            i = out.find(marker, pos)
            return None if i < 0 else i + len(marker)

        end = self._wait(ready, timeout, repr(marker))
        with self._cond:
            data = bytes(self._out[self._pos : end])
            self._pos = end
        return data

    def read_final(self, timeout: float | None = None) -> bytes:
        """Consume and return unread output through the next final result code."""

        def ready(out: bytearray, pos: int) -> int | None:
            m = _FINAL.search(bytes(out), pos)
            return None if m is None else m.end()

        end = self._wait(ready, timeout, "a final result")
        with self._cond:
            data = bytes(self._out[self._pos : end])
            self._pos = end
        return data

    def command(self, line: bytes | str, timeout: float | None = None) -> bytes:
        """Send ``line`` + CRLF and return everything through the final result."""
        if isinstance(line, str):
            line = line.encode("latin-1")
        self.feed(line + b"\r\n")
        return self.read_final(timeout)

    def read_available(self) -> bytes:
        with self._cond:
            data = bytes(self._out[self._pos :])
            self._pos = len(self._out)
        return data

    def settle(self, timeout: float | None = None) -> None:
        """Wait until the firmware has processed everything fed so far and waits for input."""
        if not self.fw.wait_idle(self.timeout if timeout is None else timeout):
            raise HarnessTimeout(f"firmware still busy; unread: {self.unread!r}")

    def assert_silent(self, duration: float, *, settle: bool = False) -> None:
        """Nothing new may arrive for ``duration`` s (a protocol silence, not a sync sleep).

        With ``settle=True`` the silence starts once the firmware has processed all input fed
        so far (never while a handler blocks: that would wait for the handler)."""
        if settle:
            self.settle()
        deadline = time.monotonic() + duration
        with self._cond:
            while True:
                if len(self._out) > self._pos:
                    raise AssertionError(f"unexpected output: {bytes(self._out[self._pos :])!r}")
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)


@contextmanager
def temporary_command(
    name: str, order: int, handler: Handler, dialect: Dialect | str | None = None
) -> Iterator[None]:
    """Register an extra own-command handler in ``dialect`` (default v20) during a test."""
    d = dialect if isinstance(dialect, Dialect) else get_dialect(dialect)
    d.command(name, order)(handler)
    try:
        yield
    finally:
        d.unregister(name)


__all__ = ["FirmwareHarness", "HarnessTimeout", "temporary_command"]


def info(*lines: str) -> bytes:
    """Information lines as the firmware frames them: each as "\r\n<line>\r\n"."""
    return b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)


def at(harness: FirmwareHarness, line: str, timeout: float | None = None) -> bytes:
    """One command line through `harness`; everything the board answered up to its final."""
    return harness.command(line, timeout)
