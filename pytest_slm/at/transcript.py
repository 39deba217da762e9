"""A timestamped record of every byte that crossed the link, in both directions.

The transcript is what a failure message quotes and what the per-test report files hold. Secrets
(private keys, PSKs) registered with `redact()` never reach its rendered form.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

TX = ">"
RX = "<"
NOTE = "#"
REDACTED = "<redacted>"


class Entry(NamedTuple):
    # A tuple, not a frozen dataclass: one is made for every read and write of the link, and
    # a frozen dataclass's __init__ costs several times as much on the command path.
    when: float
    direction: str
    data: bytes


# Entry(...) goes through a generated Python __new__; the tuple constructor makes the same
# object without that frame (record() runs for every chunk either way crosses the link).
_new_entry = tuple.__new__


def escape(data: bytes) -> str:
    """Printable ASCII as it is; CR, LF, NUL and every other byte visible as an escape."""
    out = []
    for byte in data:
        if byte == 0x0D:
            out.append("\\r")
        elif byte == 0x0A:
            out.append("\\n")
        elif byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


class Transcript:
    """Bounded in memory (the newest `limit` entries); `mark()` lets a test render its own slice."""

    def __init__(self, limit: int = 20000, label: str = "") -> None:
        self._entries: deque[Entry] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._secrets: list[bytes] = []
        self._start = time.monotonic()
        self._serial = 0
        self.label = label

    def redact(self, secret: str | bytes) -> None:
        """Never show `secret` (nor any line of it, for multi-line PEM blocks) in rendered text."""
        raw = secret.encode() if isinstance(secret, str) else secret
        pieces = [raw] + [line.strip() for line in raw.splitlines() if len(line.strip()) >= 8]
        with self._lock:
            for piece in pieces:
                if piece and piece not in self._secrets:
                    self._secrets.append(piece)
            self._secrets.sort(key=len, reverse=True)

    def holds_secret(self, text: str | bytes) -> bool:
        """True when `text` contains a registered secret (or a line of one)."""
        if not self._secrets:
            return False  # the common case, asked before every command
        raw = text.encode("latin-1", "replace") if isinstance(text, str) else text
        with self._lock:
            return any(secret in raw for secret in self._secrets)

    def record(self, direction: str, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self._entries.append(_new_entry(Entry, (time.monotonic(), direction, bytes(data))))
            self._serial += 1

    def note(self, text: str) -> None:
        self.record(NOTE, text.encode("utf-8", "replace"))

    def mark(self) -> int:
        """A position to render from later (survives the bounded buffer dropping old entries)."""
        with self._lock:
            return self._serial

    def entries(self, since: int = 0) -> list[Entry]:
        with self._lock:
            skip = max(0, len(self._entries) - (self._serial - since))
            return list(self._entries)[skip:]

    def _scrub(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, REDACTED.encode())
        return data

    def render(self, since: int = 0) -> str:
        """One line per direction change and per CRLF, each with its time since the start."""
        scrub = self._scrubber()
        return "\n".join(
            self._line(direction, when, chunk)
            for direction, when, data in self._blocks(self.entries(since))
            for chunk in _split(scrub(data))
        )

    def tail(self, lines: int = 12) -> str:
        """The last `lines` lines of `render()`.

        Failure messages quote it while the transcript may hold 20000 entries: only the blocks
        the tail comes from are scrubbed and split, and only its own lines escaped.
        """
        if lines <= 0:
            return ""
        scrub = self._scrubber()
        entries = self.entries()
        picked: list[str] = []
        end = len(entries)
        while end > 0 and len(picked) < lines:
            # A block ends where the next entry does not join it, whichever way one walks.
            start = end - 1
            while start > 0 and _joins(entries[start - 1], entries[start]):
                start -= 1
            ((direction, when, data),) = self._blocks(entries[start:end])
            chunks = _split(scrub(data))
            need = lines - len(picked)
            picked.extend(self._line(direction, when, c) for c in reversed(chunks[-need:]))
            end = start
        return "\n".join(reversed(picked))

    def _scrubber(self) -> Callable[[bytes], bytes]:
        with self._lock:
            secrets_present = bool(self._secrets)
        return self._scrub if secrets_present else bytes

    def _line(self, direction: str, when: float, chunk: bytes) -> str:
        return f"{when - self._start:9.3f} {direction} {escape(chunk)}"

    @staticmethod
    def _blocks(entries: list[Entry]) -> list[tuple[str, float, bytes]]:
        """Consecutive same-direction entries merged (each note stays a block of its own)."""
        merged: list[tuple[str, float, bytearray]] = []
        previous: Entry | None = None
        for entry in entries:
            if previous is not None and _joins(previous, entry):
                merged[-1][2].extend(entry.data)
            else:
                merged.append((entry.direction, entry.when, bytearray(entry.data)))
            previous = entry
        return [(direction, when, bytes(block)) for direction, when, block in merged]


def _joins(first: Entry, second: Entry) -> bool:
    """`second` continues the block `first` belongs to."""
    return first.direction == second.direction and second.direction != NOTE


def _split(data: bytes) -> list[bytes]:
    """`data` cut after each LF (the last piece may have none)."""
    chunks = data.split(b"\n")
    pieces = [chunk + b"\n" for chunk in chunks[:-1]]
    if chunks[-1]:
        pieces.append(chunks[-1])
    return pieces
