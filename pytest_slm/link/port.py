"""Opening a board's UART with its settings, and waiting for a port that re-enumerates."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import serial

from pytest_slm.boards import UartSettings

# How often a missing port is looked for again. The kernel creates the device node and udev the
# by-id link without any notification pyserial can wait on, so this is a bounded poll.
POLL_INTERVAL = 0.1


class PortTimeout(Exception):
    """The port did not appear (or could not be opened) in time."""


def is_local_device(url: str) -> bool:
    """True for a device node (`/dev/ttyACM0`, `COM7`), False for pyserial URLs (`socket://`)."""
    return "://" not in url


def open_serial(url: str, uart: UartSettings, *, timeout: float = 0.1) -> serial.SerialBase:
    """Any pyserial URL, opened with the board's baud rate and flow control, DTR as the board says.

    DTR (and RTS) are set before the port opens so they are asserted from the first moment: the
    DK's interface MCU keeps the nRF91's UART lines tri-stated until the host raises DTR.
    """
    port = serial.serial_for_url(
        url, do_not_open=True, baudrate=uart.baudrate, rtscts=uart.rtscts, timeout=timeout
    )
    port.dtr = uart.dtr
    port.rts = True
    port.open()
    return port


def wait_for_port(
    find: Callable[[], str | None],
    timeout: float,
    *,
    deadline: float | None = None,
    progress: Callable[[str], None] | None = None,
    what: str = "the board's serial port",
) -> str:
    """Call `find` until it names a port that exists; raise PortTimeout at `deadline`
    (a `time.monotonic()` value; default `timeout` seconds from now).

    `timeout` is what the messages quote: the wait the caller asked for, even when part of it
    was spent before this call (one deadline shared by several steps is computed once, by the
    caller, and never again from a remainder).
    """
    if deadline is None:
        deadline = time.monotonic() + timeout
    announced = False
    while True:
        path = find()
        if path is not None and (not is_local_device(path) or os.path.exists(path)):
            if announced and progress:
                progress(f"{what} is back: {path}")
            return path
        if time.monotonic() >= deadline:
            raise PortTimeout(f"{what} did not come back within {timeout:g} s")
        if not announced and progress:
            progress(f"waiting up to {timeout:g} s for {what} to come back (USB re-enumeration)")
            announced = True
        time.sleep(POLL_INTERVAL)


def open_when_present(
    find: Callable[[], str | None],
    uart: UartSettings,
    timeout: float,
    *,
    deadline: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, serial.SerialBase]:
    """Wait for the port, then open it; a node that vanishes or is not yet accessible
    (udev applies permissions just after creating it) is retried until the deadline."""
    if deadline is None:
        deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            path = wait_for_port(find, timeout, deadline=deadline, progress=progress)
            return path, open_serial(path, uart)
        except PortTimeout:
            if last is None:
                raise
            break
        except (serial.SerialException, OSError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    raise PortTimeout(f"the board's serial port could not be opened within {timeout:g} s: {last}")
