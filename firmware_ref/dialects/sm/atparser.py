"""nRF Connect SDK ``lib/at_parser`` as Serial Modem v2.0.0-preview1 links it.

Serial Modem hands every custom command line to this parser (``sm_at_cb_wrapper``): the line is
tokenised once to count its parameters, and any token the lexer cannot match makes the whole
command ERROR before its handler runs. The lexer rules follow ``at_match.re``:

* the command: ``AT[#%+][A-Za-z0-9]+`` then ``=?`` (test), ``?`` (read), ``=`` (set) or nothing
  (set without parameters); a bare ``AT`` is a set command too;
* a parameter: an optional single space, then an integer ``0|[+-]?[1-9][0-9]*``, a quoted string
  ``"[^"]*"`` (no escapes), a parenthesised array, or nothing before a comma (empty), each
  optionally followed by one comma;
* failing those, an unquoted string ``[A-Za-z0-9][A-Za-z_\\-.0-9 ]*``.

A parameter without a trailing comma must end the line; otherwise the line is malformed.

Two choices the C code leaves to the SDK version (see firmware_ref/README.md, Serial Modem):
reading an empty parameter as a number answers ``-ENODATA`` (``sm_at_socket.c`` relies on it for
``AT#XAPOLL=,1,1``, and Nordic's own unit test expects OK), and integers are range-checked for
the C type the handler passes (``int`` 32-bit, ``uint16_t``).
"""

from __future__ import annotations

import enum
import errno
import re
from dataclasses import dataclass

from firmware_ref.core.errors import CmdType


class TokenType(enum.Enum):
    CMD = "cmd"
    INT = "int"
    QUOTED = "quoted"
    ARRAY = "array"
    EMPTY = "empty"
    STRING = "string"


@dataclass(frozen=True)
class Token:
    type: TokenType
    text: bytes
    comma: bool


_CMD = re.compile(rb"[Aa][Tt](?:[#%+][A-Za-z0-9]+)?")
_SUB_INT = re.compile(rb" ?(0|[+\-]?[1-9][0-9]*)(,?)")
_SUB_QUOTED = re.compile(rb' ?"([^"\x00]*)"(,?)')
_SUB_ARRAY = re.compile(rb" ?(\([^()\x00]+\))(,?)")
_SUB_EMPTY = re.compile(rb" ?(),")
_STR = re.compile(rb" ?([A-Za-z0-9][A-Za-z_\-.0-9 ]*)")

# int16/uint16/int32 ranges the handlers' C types impose.
INT32 = (-(1 << 31), (1 << 31) - 1)
UINT16 = (0, 0xFFFF)
INT16 = (-(1 << 15), (1 << 15) - 1)


class ParseError(Exception):
    """A parser call failed; ``code`` is the negative errno the C function returns."""

    def __init__(self, code: int, what: str = "") -> None:
        super().__init__(what or errno.errorcode.get(-code, str(code)))
        self.code = code


def cmd_type(line: bytes) -> CmdType | None:
    """``at_parser_cmd_type_get``."""
    m = _CMD.match(line)
    if m is None:
        return None
    rest = line[m.end() :]
    if m.group(0)[2:] and rest.startswith(b"=?"):
        return CmdType.TEST
    if m.group(0)[2:] and rest.startswith(b"?"):
        return CmdType.READ
    return CmdType.SET


def _match_sub(buf: bytes, pos: int) -> tuple[Token, int] | None:
    for rx, kind in (
        (_SUB_INT, TokenType.INT),
        (_SUB_QUOTED, TokenType.QUOTED),
        (_SUB_ARRAY, TokenType.ARRAY),
    ):
        m = rx.match(buf, pos)
        if m is not None:
            # re2c takes the longest match; of these only one can match at a position.
            return Token(kind, m.group(1), m.group(2) == b","), m.end()
    m = _SUB_EMPTY.match(buf, pos)
    if m is not None:
        return Token(TokenType.EMPTY, b"", True), m.end()
    return None


def _is_line_end(buf: bytes, pos: int) -> bool:
    return pos >= len(buf) or buf[pos] in b"\r\n"


def tokenize(line: bytes) -> tuple[list[Token], int]:
    """All tokens of ``line`` and the code ``at_parser_cmd_count_get`` returns (0 or <0)."""
    # The C string ends at the first NUL.
    if b"\0" in line:
        line = line[: line.index(b"\0")]
    tokens: list[Token] = []
    pos = 0
    next_empty = False
    while True:
        if next_empty:
            tokens.append(Token(TokenType.EMPTY, b"", False))
            next_empty = False
            continue
        if not tokens and line[pos : pos + 2] == b"\r\n" and len(line) > pos + 2:
            pos += 2
        rest = line[pos:]
        if not rest or rest in (b"\r", b"\n", b"\r\n"):
            return tokens, 0
        stripped = rest.lstrip(b"\r\n")
        if stripped.startswith((b"OK\r\n", b"ERROR\r\n", b"+CME ERROR:", b"+CMS ERROR:")):
            return tokens, 0
        if rest[0] in b"\r\n":
            return tokens, 0  # a new line follows: -EAGAIN, which counts as success
        if not tokens:
            m = _CMD.match(line, pos)
            if m is not None:
                end = m.end()
                tail = line[end:]
                if m.group(0)[2:] and tail.startswith(b"=?"):
                    end += 2
                elif m.group(0)[2:] and tail[:1] in (b"?", b"="):
                    end += 1
                tokens.append(Token(TokenType.CMD, line[pos:end], False))
                pos = end
                continue
            found = None
        else:
            found = _match_sub(line, pos)
        if found is None:
            m = _STR.match(line, pos)
            if m is None:
                return tokens, -errno.EBADMSG
            # The string token's remainder stops before an optional CRLF.
            tokens.append(Token(TokenType.STRING, m.group(1), False))
            pos = m.end()
            continue
        token, end = found
        at_end = _is_line_end(line, end)
        if token.comma and at_end:
            next_empty = True
        elif not token.comma and not at_end:
            return tokens, -errno.EBADMSG
        tokens.append(token)
        pos = end


class AtParser:
    """One parsed command line: what the handlers call ``parser`` and ``param_count``."""

    def __init__(self, line: bytes) -> None:
        self.line = line
        self.tokens, self.count_error = tokenize(line)

    @property
    def count(self) -> int:
        return len(self.tokens)

    def _token(self, index: int) -> Token:
        if index >= len(self.tokens):
            # Seeking past the last token: the tokenizer's own error (end of line, -EIO, or
            # the malformed token, -EBADMSG).
            raise ParseError(self.count_error or -errno.EIO, f"no parameter {index}")
        return self.tokens[index]

    def num(self, index: int, bounds: tuple[int, int] = INT32) -> int:
        """``at_parser_num_get`` into a C integer of the given range."""
        tok = self._token(index)
        if tok.type is TokenType.EMPTY:
            raise ParseError(-errno.ENODATA, f"parameter {index} is empty")
        if tok.type is not TokenType.INT:
            raise ParseError(-errno.EOPNOTSUPP, f"parameter {index} is not an integer")
        value = int(tok.text)
        lo, hi = bounds
        if not lo <= value <= hi:
            raise ParseError(-errno.ERANGE, f"parameter {index} out of range")
        return value

    def string_ptr(self, index: int) -> bytes:
        """``at_parser_string_ptr_get``: the bytes of a string, array or command token."""
        tok = self._token(index)
        if tok.type not in (TokenType.QUOTED, TokenType.STRING, TokenType.ARRAY, TokenType.CMD):
            raise ParseError(-errno.EOPNOTSUPP, f"parameter {index} is not a string")
        return tok.text

    def string(self, index: int, size: int) -> str:
        """``util_string_get`` into a ``char[size]`` buffer (the NUL needs a byte)."""
        text = self.string_ptr(index)
        if len(text) + 1 > size:
            raise ParseError(-errno.ENOMEM, f"parameter {index} longer than {size - 1}")
        return text.decode("latin-1")


__all__ = ["INT16", "INT32", "UINT16", "AtParser", "ParseError", "Token", "TokenType", "cmd_type"]
