"""Dialects: how a firmware generation plugs its command table into the core.

The core (``firmware_ref.core``) runs the line discipline, the grammar check, dispatch, data
mode, the socket table and the real network; it imports no command module. A *dialect* is one
firmware generation's command set and the few host-loop behaviours that differ between
generations. It lives in ``firmware_ref/dialects/<name>/`` and registers itself::

    # firmware_ref/dialects/foo/table.py: the object every command module of the dialect imports
    FOO = Dialect(name="foo", firmware="SLM", version="3.0.0", version_command="AT#XFOOVER")

    # firmware_ref/dialects/foo/commands.py
    @FOO.command("AT#XFOO", order=1)          # position in the firmware's own table
    def handle_foo(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
        ...  # return -> OK (nothing when it entered data mode); raise CommandError -> ERROR

    @FOO.on_boot                               # per-boot state lives in fw.state
    def _boot(fw: Firmware) -> None: ...

    # firmware_ref/dialects/foo/__init__.py
    from firmware_ref.core.dialect import register_dialect
    from firmware_ref.dialects.foo import commands  # noqa: F401 (registers the handlers)
    from firmware_ref.dialects.foo.table import FOO
    register_dialect(FOO)

``get_dialect("foo")`` imports ``firmware_ref.dialects.foo`` on first use, so the core finds a
dialect by its folder name without naming it in code.

The modem's own commands (``AT+CFUN``, ``%CMNG``...) are shared: ``firmware_ref.core.modem``
registers them in ``MODEM_COMMANDS``, which a dialect passes as ``modem_base``; a dialect may add
or override modem commands with ``modem_command``.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from firmware_ref.core.errors import CmdType
from firmware_ref.core.line import CrLfLines, LineDiscipline
from firmware_ref.core.parser import cmd_casecmp, cmd_type_get, grammar_ok

if TYPE_CHECKING:
    from firmware_ref.core.params import Params

# fw is a firmware_ref.core.host.Firmware; typed Any here so this module needs no host import.
Handler = Callable[[Any, CmdType, "Params"], None]
BootHook = Callable[[Any], None]

DEFAULT_DIALECT = "v20"
OK = b"\r\nOK\r\n"


@dataclass(frozen=True)
class CommandEntry:
    name: str
    order: int
    handler: Handler
    # The firmware's own table versus modem-side commands answered on the modem's behalf.
    own: bool


class CommandTable:
    """Ordered own commands (prefix-matched in firmware order) plus modem commands by name."""

    def __init__(self, modem_base: CommandTable | None = None) -> None:
        self._own: dict[str, CommandEntry] = {}
        self._modem: dict[str, CommandEntry] = {}
        self._base = modem_base
        self._ordered: list[CommandEntry] | None = None
        self._lock = threading.Lock()

    def _register(self, table: dict[str, CommandEntry], entry: CommandEntry) -> None:
        previous = table.get(entry.name)
        # Re-registering the same function (module reload in tests) is harmless; two different
        # handlers for one name would make dispatch depend on import order, which must not happen.
        if previous is not None and previous.handler.__qualname__ != entry.handler.__qualname__:
            raise ValueError(f"command {entry.name} registered twice")
        with self._lock:
            table[entry.name] = entry
            self._ordered = None

    def add(self, name: str, order: int, fn: Handler) -> None:
        self._register(self._own, CommandEntry(name.upper(), order, fn, own=True))

    def add_modem(self, name: str, fn: Handler) -> None:
        self._register(self._modem, CommandEntry(name.upper(), 0, fn, own=False))

    def unregister(self, name: str) -> None:
        with self._lock:
            self._own.pop(name.upper(), None)
            self._modem.pop(name.upper(), None)
            self._ordered = None

    def ordered(self) -> list[CommandEntry]:
        """The own table in firmware order (the order prefix matching walks it)."""
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(self._own.values(), key=lambda e: (e.order, e.name))
            return self._ordered

    def modem(self, name: str) -> CommandEntry | None:
        entry = self._modem.get(name.upper())
        if entry is None and self._base is not None:
            return self._base.modem(name)
        return entry

    def modem_command(self, name: str) -> Callable[[Handler], Handler]:
        def decorator(fn: Handler) -> Handler:
            self.add_modem(name, fn)
            return fn

        return decorator


def _ok_on_exit(result: int) -> bytes:
    return OK


@dataclass
class Dialect:
    """One firmware generation: its identity, command table and host-loop differences."""

    name: str  # folder name and --dialect value
    firmware: str  # "SLM", "Serial Modem"
    version: str  # what the version command prints
    version_command: str  # "AT#XSLMVER"
    command_prefix: str = "AT#X"  # every own command starts with it
    banner: bytes = b"Ready\r\n"  # sent at every boot
    modem_base: CommandTable | None = None  # the shared modem commands
    # Data mode: v2.0 enters silently and answers OK on exit; Serial Modem answers OK on entry
    # and "#XDATAMODE: <n>" on exit. The exit callable gets the handler result (0, or < 0).
    ok_on_datamode_entry: bool = False
    datamode_exit_response: Callable[[int], bytes] = _ok_on_exit
    # The command-mode line editor and the checks before dispatch.
    line_discipline: Callable[[Any], LineDiscipline] = CrLfLines
    grammar_check: Callable[[bytes], bool] = grammar_ok
    matches: Callable[[bytes, str], bool] = cmd_casecmp
    cmd_type: Callable[[bytes], CmdType | None] = cmd_type_get
    # A Firmware subclass when the generation's host loop is not the core's (None: the core's).
    firmware_class: Any = None
    table: CommandTable = field(init=False)
    _boot_hooks: list[BootHook] = field(default_factory=list, init=False, repr=False)
    _shutdown_hooks: list[BootHook] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.table = CommandTable(self.modem_base)

    # -- registration

    def command(self, name: str, order: int) -> Callable[[Handler], Handler]:
        """Register an own command handler at position ``order`` of the firmware's table."""
        if not name.upper().startswith(self.command_prefix.upper()):
            raise ValueError(f"{self.name} commands are {self.command_prefix}...: {name}")

        def decorator(fn: Handler) -> Handler:
            self.table.add(name, order, fn)
            return fn

        return decorator

    def modem_command(self, name: str) -> Callable[[Handler], Handler]:
        """Add or override a modem command for this dialect only."""
        return self.table.modem_command(name)

    def on_boot(self, fn: BootHook) -> BootHook:
        """Call ``fn(fw)`` at every boot/reset to (re)create per-boot state in ``fw.state``."""
        if fn not in self._boot_hooks:
            self._boot_hooks.append(fn)
        return fn

    def on_shutdown(self, fn: BootHook) -> BootHook:
        """Call ``fn(fw)`` at reset/disconnect to release resources (host sockets...)."""
        if fn not in self._shutdown_hooks:
            self._shutdown_hooks.append(fn)
        return fn

    def remove_hook(self, fn: BootHook) -> None:
        for hooks in (self._boot_hooks, self._shutdown_hooks):
            while fn in hooks:
                hooks.remove(fn)

    def unregister(self, name: str) -> None:
        """Drop a command (tests that add temporary commands clean up with it)."""
        self.table.unregister(name)

    # -- what the host reads

    def boot_hooks(self) -> list[BootHook]:
        return list(self._boot_hooks)

    def shutdown_hooks(self) -> list[BootHook]:
        return list(self._shutdown_hooks)

    @property
    def title(self) -> str:
        return f"{self.firmware} {self.version}"


_registry: dict[str, Dialect] = {}
_registry_lock = threading.Lock()


def register_dialect(dialect: Dialect) -> Dialect:
    with _registry_lock:
        previous = _registry.get(dialect.name)
        if previous is not None and previous is not dialect:
            raise ValueError(f"dialect {dialect.name} registered twice")
        _registry[dialect.name] = dialect
    return dialect


def get_dialect(name: str | None = None) -> Dialect:
    """The dialect ``name`` (default v20), importing its folder on first use."""
    name = name or DEFAULT_DIALECT
    with _registry_lock:
        found = _registry.get(name)
    if found is not None:
        return found
    if name not in dialect_names():
        known = ", ".join(dialect_names())
        raise ValueError(f"unknown dialect {name!r} (known: {known})")
    importlib.import_module(f"firmware_ref.dialects.{name}")
    with _registry_lock:
        found = _registry.get(name)
    if found is None:
        raise ValueError(f"firmware_ref.dialects.{name} did not register a dialect")
    return found


def dialect_names() -> list[str]:
    """The dialect folders under ``firmware_ref/dialects`` (found on disk, not imported)."""
    dialects = importlib.import_module("firmware_ref.dialects")
    return sorted(m.name for m in pkgutil.iter_modules(dialects.__path__) if m.ispkg)


__all__ = [
    "DEFAULT_DIALECT",
    "BootHook",
    "CommandEntry",
    "CommandTable",
    "Dialect",
    "Handler",
    "dialect_names",
    "get_dialect",
    "register_dialect",
]
