"""The result of one AT command, and the parser for the parameters of an info line."""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_slm.at.errors import error_code_of

FINAL_OK = "OK"
FINAL_ERROR = "ERROR"
_ERROR_PREFIXES = ("+CME ERROR:", "+CMS ERROR:")


def is_final(line: str) -> bool:
    return line in (FINAL_OK, FINAL_ERROR) or line.startswith(_ERROR_PREFIXES)


def split_params(text: str) -> list[int | str | None]:
    """Split `1,"a,b",,(0,1)` into [1, "a,b", None, "(0,1)"].

    Quoted strings are unquoted (the firmware has no escapes inside quotes), integers become
    int, empty fields None, and anything else (parenthesised lists, bare words) stays text.
    """
    values: list[int | str | None] = []
    token: list[str] = []
    quoted = False
    depth = 0
    was_quoted = False

    def finish() -> None:
        raw = "".join(token)
        if was_quoted:
            values.append(raw)
            return
        raw = raw.strip()
        if raw == "":
            values.append(None)
        else:
            try:
                values.append(int(raw, 10))
            except ValueError:
                values.append(raw)

    for ch in text:
        if quoted:
            if ch == '"':
                quoted = False
            else:
                token.append(ch)
        elif ch == '"' and depth == 0:
            quoted = True
            was_quoted = True
        elif ch == "(":
            depth += 1
            token.append(ch)
        elif ch == ")":
            depth = max(0, depth - 1)
            token.append(ch)
        elif ch == "," and depth == 0:
            finish()
            token = []
            was_quoted = False
        else:
            token.append(ch)
    finish()
    return values


@dataclass
class AtResult:
    """What one command produced: its info lines, raw payloads and final result code."""

    command: str
    lines: list[str] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    final: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.final == FINAL_OK

    @property
    def error_code(self) -> int | None:
        return error_code_of(self.final)

    def with_prefix(self, prefix: str) -> list[str]:
        """The info lines starting with `prefix` (`#XSOCKET` or `#XSOCKET:`), prefix removed."""
        head = prefix if prefix.endswith(":") else prefix + ":"
        return [line[len(head) :].lstrip(" ") for line in self.lines if line.startswith(head)]

    def values(self, prefix: str) -> list[list[int | str | None]]:
        """The parameters of every info line with `prefix`, parsed by `split_params`."""
        return [split_params(rest) for rest in self.with_prefix(prefix)]

    def value(self, prefix: str) -> list[int | str | None]:
        """The parameters of the single info line with `prefix`; ValueError unless exactly one."""
        rows = self.values(prefix)
        if len(rows) != 1:
            raise ValueError(
                f"{self.command!r}: expected one {prefix!r} line, got {len(rows)}: {self.lines!r}"
            )
        return rows[0]
