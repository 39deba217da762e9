"""The cellular network's round trip, emulated on top of loopback (``slm-sim --latency``).

A board on LTE-M or NB-IoT sees every exchange with a peer take a round trip of tens to
hundreds of milliseconds, with jitter; loopback takes microseconds. The model charges one round
trip where the network needs one:

* a TCP connect (SYN, SYN-ACK): one round trip before it completes or is refused;
* a DNS lookup of a name (not of an address literal): one round trip;
* whatever the peer sends (data, end of stream, an incoming connection, a handshake flight)
  becomes visible to the modem one round trip after the modem first looks for it. A reply to
  something the modem sent therefore costs one round trip, and a TLS or DTLS handshake one per
  flight it waits for, as on the air. Sends return at once, as the modem's buffered send does.

Each round trip is drawn afresh: ``latency`` plus a uniform offset in ``[-jitter, +jitter]``
(never below zero). Data of one stream is never reordered: once visible, a socket's bytes stay
visible until it is drained.

The conditions are process-wide (one ``slm-sim`` serves one board); in-process tests set them
with ``emulate()`` and restore them afterwards.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Conditions:
    latency: float = 0.0  # seconds per round trip
    jitter: float = 0.0  # seconds either side of latency

    @property
    def active(self) -> bool:
        return self.latency > 0 or self.jitter > 0

    def round_trip(self, rng: random.Random | None = None) -> float:
        """One round trip's duration, in seconds."""
        if not self.active:
            return 0.0
        offset = (rng or _rng).uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return max(0.0, self.latency + offset)


_rng = random.Random()
_current = Conditions()
_lock = threading.Lock()


def current() -> Conditions:
    return _current


def configure(conditions: Conditions) -> None:
    global _current
    with _lock:
        _current = conditions


@contextmanager
def emulate(latency: float, jitter: float = 0.0) -> Iterator[Conditions]:
    """Apply the conditions for the duration of a block (in-process tests)."""
    previous = current()
    conditions = Conditions(latency, jitter)
    configure(conditions)
    try:
        yield conditions
    finally:
        configure(previous)


def round_trip() -> float:
    return current().round_trip()


def wait_round_trip(stopping: threading.Event | None = None) -> None:
    """Block for one round trip (a reset, ``stopping``, cuts it short)."""
    delay = round_trip()
    if delay <= 0:
        return
    if stopping is None:
        threading.Event().wait(delay)
    else:
        stopping.wait(delay)


def parse_duration(text: str) -> float:
    """`600ms`, `0.6s`, `0.6` (seconds) -> seconds; ValueError for anything else."""
    raw = text.strip().lower()
    scale = 1.0
    if raw.endswith("ms"):
        raw, scale = raw[:-2], 0.001
    elif raw.endswith("s"):
        raw = raw[:-1]
    value = float(raw) * scale
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"not a duration: {text!r}")
    return value
