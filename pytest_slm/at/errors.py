"""Typed errors of the AT client.

Every error names the command, what came back and the transcript tail, because a failing test
on a lab board is usually read hours later from a CI log, with no chance to look at the wire.
"""

from __future__ import annotations


class SlmError(Exception):
    """Base of every error the AT client raises."""

    kind = "SLM error"

    def __init__(
        self,
        reason: str,
        *,
        command: str | None = None,
        received: list[str] | None = None,
        transcript_tail: str = "",
    ) -> None:
        self.reason = reason
        self.command = command
        self.received = list(received or [])
        self.transcript_tail = transcript_tail
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [f"{self.kind}: {self.reason}"]
        if self.command is not None:
            parts.append(f"  command:  {self.command!r}")
        if self.received:
            parts.append("  received: " + " | ".join(repr(line) for line in self.received))
        elif self.command is not None:
            parts.append("  received: nothing")
        if self.transcript_tail:
            parts.append("  transcript tail:")
            parts.extend("    " + line for line in self.transcript_tail.splitlines())
        return "\n".join(parts)


class AtError(SlmError):
    """The board answered ERROR, +CME ERROR: n or +CMS ERROR: n."""

    kind = "AT command failed"

    def __init__(self, reason: str, *, final: str = "ERROR", **kwargs) -> None:
        self.final = final
        self.error_code = error_code_of(final)
        super().__init__(reason, **kwargs)


class AtTimeout(SlmError):
    """No final result arrived within the timeout."""

    kind = "AT command timed out"


class BoardResetError(SlmError):
    """A `Ready` banner arrived while a command was pending: the board rebooted under us."""

    kind = "board reset during command"


class ProtocolError(SlmError):
    """The board sent something the protocol does not allow (a malformed header, garbage)."""

    kind = "protocol error"


class LinkError(SlmError):
    """The serial link itself failed: the port vanished or was closed."""

    kind = "serial link lost"


def error_code_of(final: str) -> int | None:
    """The numeric code of `+CME ERROR: n` / `+CMS ERROR: n`, None for plain ERROR or OK."""
    for prefix in ("+CME ERROR:", "+CMS ERROR:"):
        if final.startswith(prefix):
            try:
                return int(final[len(prefix):].strip())
            except ValueError:
                return None
    return None
