"""The Serial Modem command table and its handler contract.

Serial Modem registers each command with ``SM_AT_CMD_CUSTOM(entry, "AT#XNAME", handler)``: a
libmodem custom-command filter. A line goes to the handler whose filter equals the line's
command name, case-insensitively (the name ends at ``=``, ``?`` or the end of the line), and
to the modem otherwise. Handler contract::

    @sm_command("AT#XFOO")
    def handle_foo(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
        ...  # return -> OK; raise SmError(-errno) (or ParseError, NetError) -> ERROR

Positive codes are modem errors (``sm_at_cb_wrapper``): ``+CME ERROR``/``+CMS ERROR`` by their
type bits, anything else ``ERROR``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_ref.commands import CmdType
    from firmware_ref.dialects.sm.atparser import AtParser

SmHandler = Callable[[Any, "CmdType", "AtParser"], None]
Hook = Callable[[Any], None]

# -SILENT_AT_COMMAND_RET: the handler answered (or will answer) by itself.
SILENT = object()


class SmError(Exception):
    """A handler's non-zero return value (``-errno``, or a positive modem error)."""

    def __init__(self, code: int = -errno.EINVAL, what: str = "") -> None:
        super().__init__(what or str(code))
        self.code = code


_table: dict[str, SmHandler] = {}
_boot: list[Hook] = []
_shutdown: list[Hook] = []


def sm_command(name: str) -> Callable[[SmHandler], SmHandler]:
    def decorator(fn: SmHandler) -> SmHandler:
        key = name.upper()
        previous = _table.get(key)
        if previous is not None and previous.__qualname__ != fn.__qualname__:
            raise ValueError(f"command {name} registered twice")
        _table[key] = fn
        return fn

    return decorator


def lookup(line: bytes) -> tuple[str, SmHandler] | None:
    """The custom command whose filter is this line's command name."""
    upper = line.upper()
    for name, fn in _table.items():
        n = len(name)
        if upper[:n] == name.encode() and upper[n : n + 1] in (b"", b"=", b"?"):
            return name, fn
    return None


def names() -> list[str]:
    return sorted(_table)


def on_boot(fn: Hook) -> Hook:
    if fn not in _boot:
        _boot.append(fn)
    return fn


def on_shutdown(fn: Hook) -> Hook:
    if fn not in _shutdown:
        _shutdown.append(fn)
    return fn


def boot_hooks() -> list[Hook]:
    return list(_boot)


def shutdown_hooks() -> list[Hook]:
    return list(_shutdown)
