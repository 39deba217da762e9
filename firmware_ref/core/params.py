"""A model of NCS ``lib/at_cmd_parser`` (v2.0) as SLM uses it.

The parser turns a whole command line (``AT#XFOO=1,"a"``) into a list whose index 0 is the
command name; handlers then read typed values through getters that range-check, exactly like
``at_params_*_get`` and SLM's ``util_string_get``. Every failure is a ``ParamError``, which the
host answers with ``ERROR``.

The state machine follows the C parser's observable behaviour, including its odd corners:

* ``,``, ``:`` and ``=`` are all separators, so ``AT#XFOO=1=2`` and ``AT#XFOO=1:2`` have two
  parameters;
* one whitespace character before a parameter is skipped, a second one stops the parser;
* ``+`` (like ``%``) opens a notification and is checked before digits, so a parameter ``+5``
  stops the parser (ERROR) even though ``strtoll`` would accept it; ``#`` is no notification
  but starts no known element either, so it stops the parser too;
* a number followed by junk stops the parser (ERROR); a space between a number and its comma
  yields an extra empty parameter (``1 ,2`` is ``1``, empty, ``2``);
* values beyond int64 saturate like ``strtoll`` and fail the getters' range checks;
* a parameter starting ``AT+``/``AT%`` (not ``AT%X``) is taken for a ``+CLAC`` listing and the
  whole line is re-read as one string at index 0;
* the list holds ``max_params`` entries, and reaching that many elements is ``-E2BIG`` even when
  the line ends there, so at most ``max_params - 1`` elements (name included) parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from firmware_ref.core.errors import CommandError

MAX_PARAMS = 42  # CONFIG_SLM_AT_MAX_PARAM, the command name included
MAX_ARRAY_SIZE = 32  # AT_CMD_MAX_ARRAY_SIZE

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UINT32_MAX = 2**32 - 1
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
USHRT_MAX = 65535

ParamType = Literal["int", "string", "empty", "array"]

_SPACE = b" \t\n\v\f\r"
_RESULTS = (b"OK\r\n", b"ERROR\r\n", b"+CME ERROR", b"+CMS ERROR")


class ParamError(CommandError):
    """A parse or getter failure (-EINVAL, -E2BIG, -ENOMEM, -EAGAIN): answered ERROR."""


@dataclass(frozen=True)
class Param:
    type: ParamType
    value: int | bytes | tuple[int, ...] | None = None


def _is_notification(c: int) -> bool:
    # at_utils.h is_notification: '+' and '%' only ('#' is AT_CUSTOM_COMMAND_PREFX).
    return c in b"+%"


def _is_number(c: int) -> bool:
    return 0x30 <= c <= 0x39 or c in b"-+"


def _is_separator(c: int) -> bool:
    # at_utils.h is_separator: AT_PARAM_SEPARATOR ',', AT_RSP_SEPARATOR ':', AT_CMD_SEPARATOR '='.
    return c in b",:="


def _is_lfcr(c: int) -> bool:
    return c in b"\r\n"


def _isalnum(c: int) -> bool:
    return (0x30 <= c <= 0x39) or (0x41 <= c <= 0x5A) or (0x61 <= c <= 0x7A)


def _strtol(buf: bytes, pos: int, lo: int, hi: int, unsigned: bool = False) -> tuple[int, int]:
    """C ``strtoll``/``strtoul`` in base 10: (value, end). No digits -> (0, pos)."""
    i = pos
    n = len(buf)
    while i < n and buf[i] in _SPACE:
        i += 1
    neg = False
    if i < n and buf[i] in b"+-":
        neg = buf[i] == 0x2D
        i += 1
    start = i
    while i < n and 0x30 <= buf[i] <= 0x39:
        i += 1
    if i == start:
        return 0, pos
    value = int(buf[start:i])
    if unsigned:
        # strtoul saturates the magnitude, then negates modulo 2**32 like C does
        value = min(value, hi)
        if neg:
            value = (-value) % (hi + 1)
        return value, i
    value = -value if neg else value
    return max(lo, min(hi, value)), i


def _is_clac(buf: bytes, pos: int) -> bool:
    i = pos
    while i < len(buf) and _is_lfcr(buf[i]):
        i += 1
    rest = buf[i:]
    if len(rest) < 4 or rest[:2].upper() != b"AT":
        return False
    if rest[2:3] not in (b"+", b"%"):
        return False
    return not (rest[2:3] == b"%" and rest[3:4].upper() == b"X")


def _is_command(buf: bytes) -> bool:
    if len(buf) < 2 or buf[:2].upper() != b"AT":
        return False
    return len(buf) == 2 or buf[2] in b"+%#\r\n"


def _is_result(buf: bytes, pos: int) -> bool:
    return any(buf.startswith(r, pos) for r in _RESULTS)


class _Parser:
    def __init__(self, line: bytes, max_params: int) -> None:
        # A NUL ends the C string wherever it sits, and lets us peek one past the end safely.
        nul = line.find(b"\0")
        self.buf = (line if nul < 0 else line[:nul]) + b"\0"
        self.max_params = max_params
        self.params: list[Param | None] = [None] * max_params
        self.state = "idle"

    def at(self, pos: int) -> int:
        return self.buf[pos] if pos < len(self.buf) else 0

    def detect(self, pos: int, index: int) -> tuple[int, int]:
        """at_parse_detect_type: (new pos, 0 ok / -1 stop / -2 clac)."""
        c = self.at(pos)
        if index > 0 and _is_clac(self.buf[:-1], pos):
            self.state = "clac"
            return pos, -2
        if index == 0 and _is_command(self.buf[:-1]):
            self.state = "command"
        elif index == 0:
            self.state = "string"
        elif _is_notification(c):
            return pos, -1
        elif _is_number(c):
            self.state = "number"
        elif c == 0x22:
            self.state = "quoted"
            pos += 1
        elif c == 0x28:
            self.state = "array"
            pos += 1
        elif _is_lfcr(c) and self.state == "number":
            while _is_lfcr(self.at(pos)):
                pos += 1
            self.state = "pdu"
        elif _is_lfcr(c) and self.state == "optional":
            self.state = "optional"
        elif _is_separator(c):
            self.state = "optional"
        else:
            return pos, -1
        return pos, 0

    def process(self, pos: int, index: int) -> tuple[int, bool]:
        """at_parse_process_element: (new pos, ok)."""
        buf = self.buf
        if self.at(pos) == 0:
            return pos, False
        st = self.state
        if st == "command":
            start = pos
            pos += 2
            if not (_is_lfcr(self.at(pos)) or self.at(pos) == 0):
                pos += 1
            while _isalnum(self.at(pos)):
                pos += 1
            self.params[index] = Param("string", buf[start:pos])
            if self.at(pos) == 0x3D and self.at(pos + 1) == 0x3F:
                pos += 2
            elif self.at(pos) == 0x3F:
                pos += 1
        elif st == "optional":
            self.params[index] = Param("empty")
        elif st == "string":
            start = pos
            while not _is_lfcr(self.at(pos)) and self.at(pos) != 0:
                pos += 1
            self.params[index] = Param("string", buf[start:pos])
            pos += 1
        elif st == "quoted":
            start = pos
            while self.at(pos) not in (0x22, 0):
                pos += 1
            if self.at(pos) == 0:
                # The C scanner steps past the NUL into stale buffer contents here; a line
                # ending inside a string is malformed however that memory happens to look.
                raise ParamError("unterminated string")
            self.params[index] = Param("string", buf[start:pos])
            pos += 1
        elif st == "array":
            values: list[int] = []
            v, nxt = _strtol(buf, pos, 0, UINT32_MAX, unsigned=True)
            values.append(v)
            pos = nxt
            while self.at(pos) not in (0x29, 0):
                if _is_separator(self.at(pos)):
                    pos += 1
                    v, nxt = _strtol(buf, pos, 0, UINT32_MAX, unsigned=True)
                    values.append(v)
                    if nxt == pos:
                        break
                    pos = nxt
                else:
                    pos += 1
                if len(values) == MAX_ARRAY_SIZE:
                    break
            self.params[index] = Param("array", tuple(values))
            pos += 1
        elif st == "number":
            v, pos = _strtol(buf, pos, INT64_MIN, INT64_MAX)
            self.params[index] = Param("int", v)
        elif st == "pdu":
            start = pos
            while chr(self.at(pos)) in "0123456789abcdefABCDEF" and self.at(pos) != 0:
                pos += 1
            self.params[index] = Param("string", buf[start:pos])
        elif st == "clac":
            start = pos
            while self.at(pos) != 0:
                pos += 1
            self.params[index] = Param("string", buf[start:pos])
        return pos, True

    def run(self) -> list[Param]:
        pos = 0
        index = 0
        oversized = False
        while _is_lfcr(self.at(pos)):
            pos += 1
        while self.at(pos) != 0 and index < self.max_params:
            if self.at(pos) in _SPACE:
                pos += 1
            pos, ret = self.detect(pos, index)
            if ret == -1:
                break
            if ret == -2:
                pos = 0
                index = 0
            pos, ok = self.process(pos, index)
            if not ok:
                break
            if _is_separator(self.at(pos)):
                if _is_lfcr(self.at(pos + 1)):
                    # The C parser's "catch the last empty parameter" branch.
                    index += 1
                    if index == self.max_params:
                        oversized = True
                        break
                    pos, ret = self.detect(pos, index)
                    if ret == -1:
                        break
                    pos, ok = self.process(pos, index)
                    if not ok:
                        break
                pos += 1
            if _is_lfcr(self.at(pos)):
                i = 1
                while _is_lfcr(self.at(pos + i)):
                    i += 1
                nxt = self.at(pos + i)
                if nxt == 0 or _is_notification(nxt) or _is_result(self.buf, pos + i):
                    pos += i
                    break
            index += 1
            if index == self.max_params:
                oversized = True
        if oversized:
            raise ParamError("E2BIG: too many parameters")
        if self.at(pos) != 0 and not _is_result(self.buf, pos):
            raise ParamError(f"EAGAIN: parser stopped at offset {pos}")
        out: list[Param] = []
        for p in self.params:
            if p is None:
                break
            out.append(p)
        return out


@dataclass
class Params:
    """The parsed parameter list of one command line, with at_cmd_parser's getters."""

    items: list[Param] = field(default_factory=list)

    @classmethod
    def parse(cls, line: bytes | str, max_params: int = MAX_PARAMS) -> Params:
        if isinstance(line, str):
            line = line.encode("latin-1")
        return cls(_Parser(line, max_params).run())

    def valid_count(self) -> int:
        """``at_params_valid_count_get``: the name plus every present (even empty) parameter."""
        return len(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def type_of(self, index: int) -> ParamType | None:
        if 0 <= index < len(self.items):
            return self.items[index].type
        return None

    def _int(self, index: int, lo: int, hi: int, what: str) -> int:
        if not 0 <= index < len(self.items):
            raise ParamError(f"parameter {index} missing")
        p = self.items[index]
        if p.type != "int":
            raise ParamError(f"parameter {index} is {p.type}, not an integer")
        assert isinstance(p.value, int)
        if not lo <= p.value <= hi:
            raise ParamError(f"parameter {index} out of {what} range")
        return p.value

    def get_short(self, index: int) -> int:
        return self._int(index, -32768, 32767, "short")

    def get_ushort(self, index: int) -> int:
        return self._int(index, 0, USHRT_MAX, "unsigned short")

    def get_int(self, index: int) -> int:
        return self._int(index, INT32_MIN, INT32_MAX, "int")

    def get_uint(self, index: int) -> int:
        return self._int(index, 0, UINT32_MAX, "unsigned int")

    def get_bytes(self, index: int, bufsize: int | None = None) -> bytes:
        """``util_string_get``: the raw string; its length must be < ``bufsize`` (NUL room)."""
        if not 0 <= index < len(self.items):
            raise ParamError(f"parameter {index} missing")
        p = self.items[index]
        if p.type != "string":
            raise ParamError(f"parameter {index} is {p.type}, not a string")
        assert isinstance(p.value, bytes)
        if bufsize is not None and len(p.value) >= bufsize:
            raise ParamError(f"parameter {index} too long for a {bufsize}-byte buffer")
        return p.value

    def get_string(self, index: int, bufsize: int | None = None) -> str:
        """As ``get_bytes``, decoded latin-1 so every byte maps to one character."""
        return self.get_bytes(index, bufsize).decode("latin-1")

    def get_array(self, index: int) -> tuple[int, ...]:
        if self.type_of(index) != "array":
            raise ParamError(f"parameter {index} is not an array")
        value = self.items[index].value
        assert isinstance(value, tuple)
        return value

    @property
    def name(self) -> str:
        return self.get_string(0) if self.items else ""
