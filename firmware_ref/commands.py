"""The command table of the simulated SLM v2.0.x firmware, and the handler contract.

The real firmware walks a fixed, ordered array (``slm_at_cmd_list``) and takes the first entry
whose name is a case-insensitive prefix of the line (see ``firmware_ref.host.cmd_casecmp``). The
order matters because of that prefix rule, so every handler registers with its position in the
firmware's table.

Handler contract::

    @command("AT#XFOO", order=42)
    def handle_foo(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
        ...  # return -> OK (or nothing when the handler entered data mode)
             # raise CommandError -> ERROR

Per-boot state lives in ``fw.state`` (a dict rebuilt at every boot through ``on_boot``
callbacks); ``on_shutdown`` callbacks release host resources at reset and disconnect.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmware_ref.host import Firmware
    from firmware_ref.params import Params


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


Handler = Callable[["Firmware", CmdType, "Params"], None]
BootHook = Callable[["Firmware"], None]


@dataclass(frozen=True)
class CommandEntry:
    name: str
    order: int
    handler: Handler
    # The firmware's SLM (#X) table versus modem-side commands we answer on the modem's behalf.
    slm: bool


_slm_table: dict[str, CommandEntry] = {}
_modem_table: dict[str, CommandEntry] = {}
_boot_hooks: list[BootHook] = []
_shutdown_hooks: list[BootHook] = []


def _register(table: dict[str, CommandEntry], name: str, order: int, fn: Handler, slm: bool):
    key = name.upper()
    previous = table.get(key)
    # Re-registering the same function (module reload in tests) is harmless; two different
    # handlers for one name would make dispatch depend on import order, which must not happen.
    if previous is not None and previous.handler.__qualname__ != fn.__qualname__:
        raise ValueError(f"command {name} registered twice")
    table[key] = CommandEntry(key, order, fn, slm)


def command(name: str, order: int) -> Callable[[Handler], Handler]:
    """Register an SLM ``AT#X...`` handler at position ``order`` of the firmware's table."""

    if not name.upper().startswith("AT#X"):
        raise ValueError(f"SLM commands are AT#X...: {name}")

    def decorator(fn: Handler) -> Handler:
        _register(_slm_table, name, order, fn, slm=True)
        return fn

    return decorator


def modem_command(name: str) -> Callable[[Handler], Handler]:
    """Register a handler for a command the nRF91 modem itself answers (passthrough)."""

    def decorator(fn: Handler) -> Handler:
        _register(_modem_table, name, 0, fn, slm=False)
        return fn

    return decorator


def on_boot(fn: BootHook) -> BootHook:
    """Call ``fn(fw)`` at every boot/reset to (re)create per-boot state in ``fw.state``."""
    if fn not in _boot_hooks:
        _boot_hooks.append(fn)
    return fn


def on_shutdown(fn: BootHook) -> BootHook:
    """Call ``fn(fw)`` at reset/disconnect to release resources (host sockets...)."""
    if fn not in _shutdown_hooks:
        _shutdown_hooks.append(fn)
    return fn


def unregister(name: str) -> None:
    """Drop a command from the table (tests that add temporary commands clean up with it)."""
    _slm_table.pop(name.upper(), None)
    _modem_table.pop(name.upper(), None)


def remove_hook(fn: BootHook) -> None:
    for hooks in (_boot_hooks, _shutdown_hooks):
        while fn in hooks:
            hooks.remove(fn)


def slm_table() -> list[CommandEntry]:
    """The SLM table in firmware order (the order prefix matching walks it)."""
    return sorted(_slm_table.values(), key=lambda e: (e.order, e.name))


def modem_commands() -> dict[str, CommandEntry]:
    return dict(_modem_table)


def boot_hooks() -> list[BootHook]:
    return list(_boot_hooks)


def shutdown_hooks() -> list[BootHook]:
    return list(_shutdown_hooks)


__all__: list[Any] = [
    "CmdType",
    "CommandError",
    "CmeError",
    "CommandEntry",
    "command",
    "modem_command",
    "on_boot",
    "on_shutdown",
    "unregister",
    "remove_hook",
    "slm_table",
    "modem_commands",
    "boot_hooks",
    "shutdown_hooks",
]
