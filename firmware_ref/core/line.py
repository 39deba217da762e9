"""Line disciplines: how command-mode bytes become command lines.

A dialect names a factory ``(fw) -> LineDiscipline``; the host feeds it one byte at a time and
dispatches every line it returns. ``CrLfLines`` is SLM v2.0's ``cmd_rx_handler``
(``slm_at_host.c``) with the default CR+LF termination.
"""

from __future__ import annotations

from typing import Any, Protocol

AT_MAX_CMD_LEN = 4096  # at_buf, NUL included

_BS = 0x08
_DEL = 0x7F
_CR = 0x0D
_LF = 0x0A
_QUOTE = 0x22


class LineDiscipline(Protocol):
    """What the host needs from a line editor."""

    def rx(self, c: int) -> bytes | None:
        """Take one byte; return a finished line (terminator stripped) or None."""

    def reset(self) -> None:
        """Forget any partial line (boot, data-mode exit)."""

    @property
    def pending(self) -> bool:
        """Part of a line has been received."""

    @property
    def in_quotes(self) -> bool:
        """Inside a quoted string, where terminators do not end the line."""


class CrLfLines:
    """SLM v2.0 ``cmd_rx_handler`` with CONFIG_SLM_CR_LF_TERMINATION."""

    def __init__(self, fw: Any, max_len: int = AT_MAX_CMD_LEN) -> None:
        self._fw = fw
        self._max = max_len
        self._buf = bytearray()
        self._quotes = False

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    @property
    def in_quotes(self) -> bool:
        return self._quotes

    def reset(self) -> None:
        self._buf.clear()
        self._quotes = False

    def rx(self, c: int) -> bytes | None:
        buf = self._buf
        if c in (_BS, _DEL):
            if buf:
                del buf[-1]
            return None
        if not self._quotes and c == _LF and buf and buf[-1] == _CR:
            del buf[-1]
            line = bytes(buf)
            self.reset()
            return line
        buf.append(c)
        if len(buf) > self._max - 1:
            # The overflowing character is dropped and ERROR goes out at once; what follows
            # starts a new command.
            self.reset()
            self._fw.log("RX buffer overflow")
            self._fw.write(b"\r\nERROR\r\n")
            return None
        if c == _QUOTE:
            self._quotes = not self._quotes
        return None


__all__ = ["AT_MAX_CMD_LEN", "CrLfLines", "LineDiscipline"]
