"""Typed errors of the AT client.

Every error names the command, what came back and the transcript tail, because a failing test
on a lab board is usually read hours later from a CI log, with no chance to look at the wire.
"""

from __future__ import annotations

# A message is read by a person: a board spewing megabytes must not make it megabytes long.
MAX_LINE = 300
MAX_RECEIVED = 20
MAX_TAIL_LINES = 40


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f" ...({len(text) - limit} chars)... " + text[-limit // 2 :]


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
        parts = [f"{self.kind}: {_clip(self.reason, MAX_LINE * 4)}"]
        if self.command is not None:
            parts.append(f"  command:  {_clip(repr(self.command), MAX_LINE)}")
        if self.received:
            shown = [_clip(repr(line), MAX_LINE) for line in self.received[-MAX_RECEIVED:]]
            dropped = len(self.received) - len(shown)
            prefix = f"({dropped} earlier lines) " if dropped else ""
            parts.append("  received: " + prefix + " | ".join(shown))
        elif self.command is not None:
            parts.append("  received: nothing")
        if self.transcript_tail:
            parts.append("  transcript tail:")
            tail = self.transcript_tail.splitlines()[-MAX_TAIL_LINES:]
            parts.extend("    " + _clip(line, MAX_LINE) for line in tail)
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


class OutOfStepError(SlmError):
    """After an abandoned command the board did not answer a probe that identifies itself, so
    its next answer could still be the abandoned command's: nothing is attributed meanwhile."""

    kind = "board out of step"


def error_code_of(final: str) -> int | None:
    """The numeric code of `+CME ERROR: n` / `+CMS ERROR: n`, None for plain ERROR or OK."""
    for prefix in ("+CME ERROR:", "+CMS ERROR:"):
        if final.startswith(prefix):
            try:
                return int(final[len(prefix) :].strip())
            except ValueError:
                return None
    return None
