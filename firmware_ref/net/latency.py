"""The cellular network's round trip, emulated on top of loopback (``slm-sim --latency``).

A board on LTE-M or NB-IoT sees every exchange with a peer take a round trip of tens to
hundreds of milliseconds, with jitter; loopback takes microseconds. The model charges one round
trip where the network needs one:

* a TCP connect (SYN, SYN-ACK): one round trip before it completes or is refused;
* a DNS lookup of a name (not of an address literal): one round trip;
* data the modem sends on an open socket (TCP, UDP, TLS, DTLS) reaches the peer half a round
  trip later (the uplink), in order; the send returns at once, as the modem's buffered send
  does, and a close lets what is still on its way arrive first;
* what the peer sends on such a socket (data, end of stream) becomes visible to the modem half
  a round trip after the modem first looks for it (the downlink). An echo of something the
  modem sent therefore costs one whole round trip, half each way, as on the air;
* a handshake flight (TLS, DTLS) and an incoming connection become visible one whole round
  trip after the modem first looks for them: the modem's own flights and SYN-ACKs go out at
  once, so the wait for the answer pays both directions.

Each round trip is drawn afresh: ``latency`` plus a uniform offset in ``[-jitter, +jitter]``
(never below zero). Data of one stream is never reordered: once visible, a socket's bytes stay
visible until it is drained.

The conditions are process-wide (one ``slm-sim`` serves one board); in-process tests set them
with ``emulate()`` and restore them afterwards.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
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


class Uplink:
    """One socket's sends on their way to the peer: each leaves half a round trip after it was
    made, never before an earlier one (a stream is not reordered), on a thread of its own so that
    the modem's send returns at once."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._last_due = 0.0
        self._worker: threading.Thread | None = None
        self._delivering = False  # an action is running (popped, not finished)

    def send_later(self, action: Callable[[], None]) -> None:
        """Run ``action`` (the host send) after this send's half of a round trip."""
        self._push(time.monotonic() + round_trip() / 2, action)

    def after_pending(self, action: Callable[[], None]) -> None:
        """Run ``action`` once everything queued before it has gone (at once when nothing is)."""
        self._push(time.monotonic(), action)

    def pending(self) -> bool:
        with self._cond:
            return bool(self._queue) or self._delivering

    def _push(self, due: float, action: Callable[[], None]) -> None:
        with self._cond:
            due = max(due, self._last_due)
            self._last_due = due
            self._queue.append((due, action))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="uplink", daemon=True)
                self._worker.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._worker = None  # a later send starts a new one
                    return
                due, action = self._queue[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                self._queue.popleft()
                self._delivering = True
            try:
                action()
            except Exception:  # noqa: BLE001 - a failed delivery must not end the simulator
                pass
            finally:
                with self._cond:
                    self._delivering = False


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
