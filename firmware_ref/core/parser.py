"""The command-line checks the host loop runs before a handler: grammar, table match, type.

The defaults model SLM v2.0 (``slm_at_host.c`` ``cmd_grammar_check``, ``slm_util.c``
``slm_util_cmd_casecmp`` and ``lib/at_cmd_parser`` ``at_parser_cmd_type_get``); a dialect whose
firmware checks differently passes its own functions to ``Dialect``.
"""

from __future__ import annotations

from firmware_ref.core.errors import CmdType


def _isalpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _isalnum(c: int) -> bool:
    return _isalpha(c) or 0x30 <= c <= 0x39


def grammar_ok(line: bytes) -> bool:
    """``cmd_grammar_check``: AT[<+%#><alnum>+][?|=?|=<anything>]."""
    if len(line) < 2 or line[:2].upper() != b"AT":
        return False
    rest = line[2:]
    if not rest:
        return True
    if rest[0] not in b"+%#":
        return False
    i = 1
    while i < len(rest) and _isalnum(rest[i]):
        i += 1
    if i == 1:
        return False
    tail = rest[i:]
    if not tail or tail == b"?" or tail == b"=" or tail == b"=?":
        return True
    if tail[0:1] == b"=":
        return tail[1:2] != b"?"
    return False


def cmd_casecmp(line: bytes, name: str) -> bool:
    """``slm_util_cmd_casecmp``: case-insensitive prefix; a longer line needs ``=``/``?`` next.

    The length allowance of 2 was meant for a trailing CRLF, but the line has none by now, so a
    line up to two characters longer than the name also matches (bare ``AT#XSENDTO`` runs
    ``AT#XSEND``).
    """
    n = len(name)
    if len(line) < n or line[:n].upper() != name.encode().upper():
        return False
    if len(line) > n + 2:
        return line[n : n + 1] in (b"=", b"?")
    return True


def cmd_type_get(line: bytes) -> CmdType | None:
    """``at_parser_cmd_type_get``; None for AT_CMD_TYPE_UNKNOWN."""
    if len(line) < 2 or line[:2].upper() != b"AT":
        return None
    i = 2
    if i < len(line):
        if line[i] not in b"+%#\r\n":
            return None
        if line[i] not in b"\r\n":
            i += 1
    while i < len(line) and (_isalpha(line[i]) or line[i] == 0x5F):
        i += 1
    nxt = line[i : i + 2]
    if nxt == b"=?":
        return CmdType.TEST
    if nxt[:1] == b"?":
        return CmdType.READ
    if nxt[:1] in (b"=", b"\r", b"\n", b""):
        return CmdType.SET
    return None


def modem_command_name(line: bytes) -> str:
    """The name a line forwarded to the modem is looked up by (``AT+CFUN=1`` -> ``AT+CFUN``)."""
    i = 2
    if i < len(line) and line[i] in b"+%#":
        i += 1
    while i < len(line) and _isalnum(line[i]):
        i += 1
    return line[:i].decode("ascii", "replace").upper()


__all__ = ["cmd_casecmp", "cmd_type_get", "grammar_ok", "modem_command_name"]
