"""A timestamped record of every byte that crossed the link, in both directions.

The transcript is what a failure message quotes and what the per-test report files hold. Secrets
(private keys, PSKs) registered with `redact()` never reach its rendered form.
"""

from __future__ import annotations

import threading
import time
from collections import deque
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
            self._entries.append(Entry(time.monotonic(), direction, bytes(data)))
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
        lines: list[str] = []
        with self._lock:
            secrets_present = bool(self._secrets)
        scrub = self._scrub if secrets_present else bytes
        for direction, when, chunk in self._coalesce(self.entries(since), scrub):
            stamp = f"{when - self._start:9.3f}"
            lines.append(f"{stamp} {direction} {escape(chunk)}")
        return "\n".join(lines)

    def tail(self, lines: int = 12) -> str:
        return "\n".join(self.render().splitlines()[-lines:])

    @staticmethod
    def _coalesce(entries: list[Entry], scrub):
        """Merge consecutive same-direction entries, then split them after each LF."""
        merged: list[tuple[str, float, bytearray]] = []
        for entry in entries:
            if merged and merged[-1][0] == entry.direction and entry.direction != NOTE:
                merged[-1][2].extend(entry.data)
            else:
                merged.append((entry.direction, entry.when, bytearray(entry.data)))
        for direction, when, block in merged:
            data = scrub(bytes(block))
            start = 0
            while start < len(data):
                end = data.find(b"\n", start)
                end = len(data) if end < 0 else end + 1
                yield direction, when, bytes(data[start:end])
                start = end
