"""What a command handler returns to the host loop: its command type in, errors out.

These have no dependencies so that every other part of the core (the parser included) and every
dialect can import them without a cycle.
"""

from __future__ import annotations

import enum


class CmdType(enum.Enum):
    """``at_parser_cmd_type_get``: ``=?`` TEST, ``?`` READ, ``=``/end of line SET."""

    SET = "set"
    READ = "read"
    TEST = "test"


class CommandError(Exception):
    """Raised by a handler to answer ``\\r\\nERROR\\r\\n`` (any non-zero, non -ENOENT return)."""


class CmeError(CommandError):
    """A modem-side failure answered ``+CME ERROR: <code>``; only modem commands raise it."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"+CME ERROR: {code}")
        self.code = code


__all__ = ["CmdType", "CommandError", "CmeError"]
