"""Serial Modem's command-line editor and grammar check (``sm_at_host.c``).

``SmLines`` is ``cmd_rx_handler`` with the default ``CONFIG_SM_CR_TERMINATION``:

* nothing is buffered until ``A`` then ``T`` (any case): other bytes are dropped, so the LF
  of a CRLF is line noise and ``AAT`` is ignored;
* CR outside quotes ends the line; quotes toggle on ``"``;
* backspace/DEL removes the previous character and then is stored itself (the code falls
  through to the store), which leaves the line unparseable: an edited line answers ERROR;
* the buffer grows from 128 to 8192 bytes; the byte that would make the line longer than
  8190 answers ERROR at once and the line is forgotten;
* with echo on (``ATE1``), every byte is echoed, up to 4096 per line
  (``CONFIG_SM_AT_ECHO_MAX_LEN``), and the terminator always.
"""

from __future__ import annotations

from typing import Any

from firmware_ref.core.line import OVERFLOW, LineDiscipline, Overflow

AT_BUF_MAX_SIZE = 8192
AT_LINE_MAX = AT_BUF_MAX_SIZE - 2
ECHO_MAX_LEN = 4096
SM_AT_BUF_SIZE = 4096  # CONFIG_SM_AT_BUF_SIZE: sm_response_buf, the modem's answer buffer

_BS = 0x08
_DEL = 0x7F
_CR = 0x0D
_QUOTE = 0x22


def _isalnum_(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or c == 0x5F


def grammar_ok(cmd: bytes) -> bool:
    """``cmd_grammar_check``: AT, ATE0, ATE1, AT<+%#><alnum_>+ then nothing, ?, =, =? or =..."""
    if len(cmd) < 2 or cmd[:2].upper() != b"AT":
        return False
    rest = cmd[2:]
    if not rest:
        return True
    if rest[:1].upper() == b"E" and rest[1:2] in (b"0", b"1") and len(rest) == 2:
        return True
    if rest[0] not in b"+%#":
        return False
    i = 1
    while i < len(rest) and _isalnum_(rest[i]):
        i += 1
    if i == 1:
        return False
    tail = rest[i:]
    if not tail:
        return True
    if tail[:1] == b"?":
        return tail == b"?"
    if tail[:1] != b"=":
        return False
    return tail[1:2] != b"?" or tail == b"=?"


class SmLines(LineDiscipline):
    """``cmd_rx_handler``: each line runs as soon as its CR arrives (``cmd_send`` is called
    from inside the byte loop), so ``feed_event`` returns at the first finished line."""

    def __init__(self, fw: Any) -> None:
        self._fw = fw
        self._buf = bytearray()
        self._quotes = False
        self._prev = 0
        self._echo_len = 0
        self._overflowed = False

    @property
    def response_capacity(self) -> int:
        # sm_response_buf is CONFIG_SM_AT_BUF_SIZE + 1; cmd_send keeps 2 bytes for the CRLF.
        return SM_AT_BUF_SIZE + 1 - 2

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    @property
    def in_quotes(self) -> bool:
        return self._quotes

    def reset(self) -> None:
        self._buf.clear()
        self._quotes = False
        self._echo_len = 0

    def feed_event(self, event: bytes) -> tuple[int, bytes | Overflow | None]:
        for i, c in enumerate(event):
            line = self.rx(c)
            if self._overflowed:
                self._overflowed = False
                return i + 1, OVERFLOW
            if line is not None:
                return i + 1, line
        return len(event), None

    def rx(self, c: int) -> bytes | None:
        buf = self._buf
        if (not buf and c not in (0x41, 0x61)) or (len(buf) == 1 and c not in (0x54, 0x74)):
            self._quotes = False
            buf.clear()
            self._echo(c, send=False)
            return None
        if len(buf) >= AT_LINE_MAX:
            # The host answers ERROR (rsp_send_error) and forgets the line.
            self.reset()
            self._overflowed = True
            return None
        if c in (_BS, _DEL):
            del buf[-1]
            if self._prev == _QUOTE:
                self._quotes = not self._quotes
            self._prev = buf[-1] if buf else 0
        send = not self._quotes and c == _CR
        if not send:
            buf.append(c)
            if c == _QUOTE:
                self._quotes = not self._quotes
            self._prev = c
        self._echo(c, send=send)
        if send:
            line = bytes(buf)
            self.reset()
            return line
        return None

    def _echo(self, c: int, *, send: bool) -> None:
        if not getattr(self._fw, "echo", False):
            return
        self._echo_len += 1
        if self._echo_len < ECHO_MAX_LEN:
            self._fw.write(bytes([c]))
        elif send:
            self._fw.write(b"\r")


__all__ = ["AT_LINE_MAX", "SM_AT_BUF_SIZE", "SmLines", "grammar_ok"]
