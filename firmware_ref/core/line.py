"""Line disciplines: how command-mode bytes become command lines.

The host hands a discipline one UART receive event at a time (``feed_event``: the bytes one
``UART_RX_RDY`` callback carries) and runs the command it returns. A dialect names a factory
``(fw) -> LineDiscipline``; subclasses override what differs.

``CrLfLines`` is SLM v2.0's ``cmd_rx_handler`` (``slm_at_host.c`` 807-877) with the default
CONFIG_SLM_CR_LF_TERMINATION, modelled on the firmware's own ``at_buf`` array because the C code
shows its contents in odd places:

* a completed line only schedules ``cmd_send`` (a work item); the UART callback keeps feeding the
  rest of the event into ``at_buf`` from index 0 (``slm_at_host.c`` 900-905, 871-872), so when
  ``cmd_send`` finally runs it parses whatever ``at_buf`` holds then: of several commands in one
  event only the last runs, and bytes after it overwrite its first characters;
* ``at_cmd_len`` survives ``cmd_send`` and data mode (only ``uart_receive`` runs, 154-156), so a
  partial line continues with the next event;
* the modem's answer to a passed-through command is written into ``at_buf``
  (``nrf_modem_at_cmd(at_buf, ...)``, 785) and data mode's ring buffer lives in it (177), so a
  partial line that outlives either continues on top of those bytes;
* an overflow drops the rest of the event (``return -1``, 873-875 and 902-903).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AT_MAX_CMD_LEN = 4096  # at_buf, NUL included

_BS = 0x08
_DEL = 0x7F
_CR = 0x0D
_LF = 0x0A
_QUOTE = 0x22


@dataclass(frozen=True)
class Overflow:
    """What ``cmd_send`` runs after an overflowed line: it answers ERROR (767-770)."""


OVERFLOW = Overflow()


class LineDiscipline:
    """What the host needs from a line editor; the defaults suit a discipline with no shared
    buffer. ``feed_event`` returns ``(consumed, command)``: ``command`` is None while no line is
    complete, else the line to run (terminator stripped) or ``OVERFLOW``; the host runs it and
    gives ``event[consumed:]`` back to the discipline afterwards."""

    def feed_event(self, event: bytes) -> tuple[int, bytes | Overflow | None]:
        raise NotImplementedError

    def command_done(self) -> None:
        """The command has run and the UART receives again."""

    def reset(self) -> None:
        """Power-on state."""

    def modem_response(self, raw: bytes) -> None:
        """The modem's raw answer to a passed-through command (for a shared buffer)."""

    def shared_write(self, pos: int, data: bytes) -> None:
        """Data mode stored ``data`` at ``pos`` of the command buffer (a shared ring)."""

    @property
    def response_capacity(self) -> int:
        """The buffer the modem's answer to a passed-through command must fit, NUL included."""
        return AT_MAX_CMD_LEN

    @property
    def pending(self) -> bool:
        return False

    @property
    def in_quotes(self) -> bool:
        return False


class CrLfLines(LineDiscipline):
    """SLM v2.0 ``cmd_rx_handler`` + ``cmd_send``'s view of ``at_buf``."""

    def __init__(self, fw: Any = None, max_len: int = AT_MAX_CMD_LEN) -> None:
        self._fw = fw
        self._max = max_len
        self.at_buf = bytearray(max_len)
        self._len = 0  # at_cmd_len
        self._quotes = False  # inside_quotes
        self._overflow = False  # at_buf_overflow
        self._sent = False  # a line was completed in this event
        self._last_len = 0

    @property
    def pending(self) -> bool:
        return self._len > 0

    @property
    def in_quotes(self) -> bool:
        return self._quotes

    def reset(self) -> None:
        self.at_buf[:] = bytes(self._max)
        self._len = 0
        self._quotes = False
        self._overflow = False

    def command_done(self) -> None:
        # uart_receive(): at_buf_overflow = false; at_cmd_len (a static of cmd_rx_handler) stays.
        self._overflow = False

    @property
    def response_capacity(self) -> int:
        return self._max

    def modem_response(self, raw: bytes) -> None:
        data = raw[: self._max - 1] + b"\0"
        self.at_buf[: len(data)] = data

    def shared_write(self, pos: int, data: bytes) -> None:
        for i, c in enumerate(data):
            self.at_buf[(pos + i) % self._max] = c

    def _rx(self, c: int) -> int:
        """One byte; 0 go on, 1 a line was completed, -1 overflow (the event ends here)."""
        buf = self.at_buf
        if c in (_BS, _DEL):
            # The count goes back; neither the byte nor the quote state is touched (814-820).
            if self._len > 0:
                self._len -= 1
            return 0
        if not self._quotes and c == _LF and self._len > 0 and buf[self._len - 1] == _CR:
            self._len -= 1
            return self._send()
        buf[self._len] = c
        self._len += 1
        if self._len > self._max - 1:
            self._len -= 1
            self._overflow = True
            self._send()
            return -1
        if c == _QUOTE:
            self._quotes = not self._quotes
        return 0

    def _send(self) -> int:
        self.at_buf[self._len] = 0
        self._last_len = self._len  # at_buf_len
        self._quotes = False
        self._len = 0
        self._sent = True
        return 1

    def feed_event(self, event: bytes) -> tuple[int, bytes | Overflow | None]:
        self._sent = False
        for i, c in enumerate(event):
            if self._rx(c) < 0:
                if self._fw is not None:
                    self._fw.log(f"RX buffer overflow, {len(event) - i - 1} bytes dropped")
                break
        if not self._sent:
            return len(event), None
        if self._overflow:
            return len(event), OVERFLOW
        # cmd_send runs now, on whatever the rest of the event left in at_buf: a C string.
        end = self.at_buf.find(0)
        line = bytes(self.at_buf[: end if end >= 0 else self._max])
        if self._last_len < 2:
            # cmd_grammar_check's "length < 2" test uses the length of the completed line
            # (slm_at_host.c 617), whatever later bytes wrote over it.
            line = line[: self._last_len]
        return len(event), line


__all__ = ["AT_MAX_CMD_LEN", "OVERFLOW", "CrLfLines", "LineDiscipline", "Overflow"]
