"""Board sources: each way of reaching a board is one class behind this small interface.

A source is chosen once per run, at configure time (`choose_source`): the registered sources are
asked in falling `priority` whether they `claims(settings, config)` this run, and the first that
does is instantiated, which is where it parses and checks its own options (raising
`pytest.UsageError`). When the session starts, `open(ctx)` finds and takes the board (locks it,
starts a simulator, claims a pool member, ...) and returns a `Reached`: where to open the UART,
with which settings, what the report should say, what to run to let go again, and optionally a
flash step. The session (`pytest_slm.session`) then flashes, opens the port, waits for the
firmware and brings the modem up, the same way for every source, and calls `Reached.release()`
when the session ends, fails or is interrupted.

Adding a source is one module in this package that defines a subclass and decorates it with
`@register`: the package's modules are imported when sources are first needed.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from pytest_slm.boards import Board

if TYPE_CHECKING:
    from pytest_slm.flash import FlashOutcome
    from pytest_slm.settings import Settings

Progress = Callable[[str], None]


@dataclass
class OpenContext:
    """What a source may use when it opens the board."""

    settings: Settings
    progress: Progress
    # The session fixture's request (the twister source needs the harness's fixtures); None when
    # a session is opened outside a test run.
    request: pytest.FixtureRequest | None = None
    # The xdist worker running this session (`master` without xdist).
    worker: str = "master"


@dataclass
class Reached:
    """A board found and held by a source, ready for the session to open."""

    # Board name for the report and the terminal (`nrf9160dk`, `sim`).
    name: str
    # pyserial URL or device path of the board's AT UART.
    url: str
    # The board's registry entry: UART settings, boot timeout, features.
    board: Board
    # Shown in the report's board section (port, probe id, worker, ...).
    info: dict[str, str] = field(default_factory=dict)
    # What the board can do; None when nothing describes it (every feature is assumed).
    features: frozenset[str] | None = None
    # Run in reverse order by release(): lock release, simulator stop, pool claim release.
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Programs the board (the session calls it with the board held, before opening the port).
    flash: Callable[[Progress], FlashOutcome] | None = None
    # Where the port is now: after a flash the USB device re-enumerates and may come back under
    # another name. None: the port keeps its `url`.
    find_port: Callable[[], str | None] | None = None
    # How long the firmware may take to answer after the port opens (and after a flash).
    ready_timeout: float = 30.0
    # True when the port is a real board's USB port that may vanish right after opening.
    may_reenumerate: bool = False

    def on_release(self, closer: Callable[[], None]) -> None:
        self.closers.append(closer)

    def release(self) -> None:
        """Run every closer (the last added first), even when one fails; raise the first error."""
        errors: list[BaseException] = []
        while self.closers:
            try:
                self.closers.pop()()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


class BoardSource:
    """One way of reaching a board. Subclass, set `name` and `priority`, implement `claims`
    and `open`, and decorate with `@register`."""

    name: ClassVar[str] = ""
    # Higher is asked first: a hardware map or twister outranks a plain --board.
    priority: ClassVar[int] = 0

    @classmethod
    def add_options(cls, group: pytest.OptionGroup) -> None:
        """Declare the source's own command-line options (every source's are always declared)."""

    @classmethod
    def claims(cls, settings: Settings, config: pytest.Config) -> bool:
        """True when this run asks for this source (configure time; options only, no I/O)."""
        raise NotImplementedError

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        """Parse and check the source's own options; raise pytest.UsageError on a bad one."""
        self.settings = settings

    @property
    def real_hardware(self) -> bool:
        """True when the board sits on a network the host's loopback peers cannot share."""
        return True

    def describe(self) -> str:
        """The board(s) this source reaches, for messages."""
        return f"{self.settings.board.name} via {self.name}"

    def precheck(self) -> None:
        """Before collection: a cheap look (no lock, no flash) for what `open` would certainly
        not find, such as a board that is not attached. Raise `SourceUnavailable` saying what to
        do; the run then ends at once with that one message instead of after collecting."""

    def open(self, ctx: OpenContext) -> Reached:
        """Find and hold the board. On failure release whatever was taken, then raise."""
        raise NotImplementedError


class SourceUnavailable(Exception):
    """What `precheck` found: the source cannot reach its board now."""


_SOURCES: dict[str, type[BoardSource]] = {}
_loaded = False


def register(cls: type[BoardSource]) -> type[BoardSource]:
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    _SOURCES[cls.name] = cls
    return cls


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import pytest_slm.sources as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "base":
            importlib.import_module(f"{package.__name__}.{module.name}")


def all_sources() -> list[type[BoardSource]]:
    """Every registered source, most specific (highest priority) first."""
    _load_builtin()
    return sorted(_SOURCES.values(), key=lambda s: (-s.priority, s.name))


def add_options(group: Any) -> None:
    for source in all_sources():
        source.add_options(group)


def choose_source(settings: Settings, config: pytest.Config) -> BoardSource:
    for source in all_sources():
        if source.claims(settings, config):
            return source(settings, config)
    raise pytest.UsageError(  # the simulator claims every run nothing else does
        "no board source fits these options: give --board, --port or --hardware-map"
    )
