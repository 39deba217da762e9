"""Firmware generations ("dialects") of the socket AT commands, and telling them apart.

The one place a generation is described: its name, how it says its version, the version range
it covers, its framing (`pytest_slm.at.framing`), the `SlmDut` class that speaks it, and the
simulator's flag for it. Adding a generation (the op-based SLM of NCS 2.1 to 2.9, say) is one
`Framing`, one `SlmDut` subclass and one `Dialect` entry in `DIALECTS`; detection, the
`--dialect` option, the report header and the suite's dialect markers all read this table.

Detection (`detect`) asks `AT#XSMVER` first, then `AT#XSLMVER`: each generation answers only
its own (the other is an unknown command, `ERROR`). The version must fall in the dialect's
range: an SLM 2.5 answers `#XSLMVER` too, and is not SLM v2.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pytest_slm.at.framing import SM, V20, Framing

AUTO = "auto"


class DialectError(Exception):
    """The board speaks no dialect this suite knows, or not the one asked for."""


@dataclass(frozen=True)
class Dialect:
    name: str  # the --dialect value and the suite's marker argument: "v20", "sm"
    title: str  # what reports print: "SLM v2.0", "Serial Modem"
    version_command: str  # the set command that prints the version
    version_pattern: str  # the version strings this dialect covers (regex, full match)
    framing: Framing
    sim_args: tuple[str, ...] = ()  # what `slm-sim` needs to play this dialect
    doc: str = ""  # where its command reference lives
    aliases: tuple[str, ...] = field(default=())

    @property
    def version_prefix(self) -> str:
        return self.version_command[2:] + ":"

    def covers(self, version: str) -> bool:
        return re.fullmatch(self.version_pattern, version) is not None


V20_DIALECT = Dialect(
    name="v20",
    title="SLM",
    version_command="AT#XSLMVER",
    # NCS v2.0.x tags and their pre-releases; the build may add a suffix (2.0.2-rc1, 2.0.99).
    version_pattern=r"2\.0\.\d+(?:[-+.][0-9A-Za-z.+-]*)?",
    framing=V20,
    doc="sdk-nrf v2.0.x applications/serial_lte_modem/doc/SOCKET_AT_commands.rst",
)
SM_DIALECT = Dialect(
    name="sm",
    title="Serial Modem",
    version_command="AT#XSMVER",
    # ncs-serial-modem releases: v2.0.0-preview1 and its successors (`v` optional).
    version_pattern=r"v?2\.\d+\.\d+(?:[-+.][0-9A-Za-z.+-]*)?",
    framing=SM,
    sim_args=("--dialect", "sm"),
    doc="ncs-serial-modem doc/app/at_socket.rst",
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (V20_DIALECT, SM_DIALECT)}
CHOICES = (AUTO, *DIALECTS)


def get(name: str) -> Dialect:
    try:
        return DIALECTS[name]
    except KeyError:
        raise DialectError(
            f"unknown dialect {name!r}: choose one of {', '.join(CHOICES)}"
        ) from None


@dataclass(frozen=True)
class Detected:
    dialect: Dialect
    version: str  # the firmware's version string, unquoted ("2.0.0", "v2.0.0-preview1")
    line: str  # the whole version line, for the report

    def describe(self) -> str:
        return f"{self.dialect.title} {self.version} (dialect {self.dialect.name})"


_FIRST_VALUE = re.compile(r'^\s*"?([^",]*)"?')


def parse_version(line: str, dialect: Dialect) -> str | None:
    """The version out of `#XSLMVER: "2.0.0"` or `#XSMVER: "v2.0.0","3.1.0"`."""
    if not line.startswith(dialect.version_prefix):
        return None
    match = _FIRST_VALUE.match(line[len(dialect.version_prefix) :])
    return match.group(1) if match and match.group(1) else None


def detect(at) -> Detected:
    """Ask the board which generation it runs. `at(command)` returns an AtResult (no raise)."""
    seen: list[str] = []
    for dialect in (SM_DIALECT, V20_DIALECT):
        result = at(dialect.version_command)
        seen.append(f"{dialect.version_command} -> {result.lines + [result.final]!r}")
        if not result.ok:
            continue
        for line in result.lines:
            version = parse_version(line, dialect)
            if version is None:
                continue
            if not dialect.covers(version):
                raise DialectError(
                    f"the board runs {dialect.title.split()[0]} {version} ({line!r}), which no "
                    f"dialect of this suite covers (known: "
                    + ", ".join(f"{d.name} = {d.title}" for d in DIALECTS.values())
                    + ")"
                )
            return Detected(dialect, version, line)
    raise DialectError(
        "the board answers neither #XSMVER nor #XSLMVER with a version: " + "; ".join(seen)
    )


def resolve(requested: str, detected: Detected) -> Detected:
    """Check `--dialect` against what the board said: auto takes it, a mismatch is an error."""
    if requested in (AUTO, None):
        return detected
    wanted = get(requested)
    if wanted is not detected.dialect:
        raise DialectError(
            f"--dialect {wanted.name} ({wanted.title}) was given, but the board runs "
            f"{detected.describe()}: run with --dialect {detected.dialect.name} or --dialect auto"
        )
    return detected


class NotInDialect(DialectError):
    """A feature of one generation asked of a board running another (`#XSOCKETSELECT` of a
    Serial Modem, `#XAPOLL` of SLM v2.0): `feature` names it, `dialect` is the board's."""

    def __init__(self, feature: str, dialect: Dialect, has_it: tuple[str, ...] = ()) -> None:
        self.feature = feature
        self.dialect = dialect
        self.has_it = has_it
        where = f" (only in {', '.join(has_it)})" if has_it else ""
        super().__init__(f"{feature} is not in {dialect.title} (dialect {dialect.name}){where}")
