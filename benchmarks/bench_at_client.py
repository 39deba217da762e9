"""AT client overhead, as ratios against a baseline measured in the same process.

    python -m benchmarks.bench_at_client [--rounds N] [--per-round N]

The baseline is the bare round trip of the same bytes over the same pty, to the same scripted
responder (a thread of this process that answers as soon as its read returns), written and read
with plain os.write/os.read from the calling thread: what any client must pay. The client adds
its reader thread (one more wake-up per answer), the framer and the transcript on top.

Figures, not assertions. A shared 2-core machine moves both figures by a factor of 2 or more
between runs (CPU frequency, which core each thread lands on, other processes), so the two are
measured in alternating rounds on the same link, and the ratio is the median of the per-round
ratios, printed with its quartiles so the noise is visible.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pytest_slm.at import AtClient
from pytest_slm.dut import SlmDut

PAYLOAD = bytes(range(256)) * 4 + bytes(216)  # 1240 bytes, the TCP/IPv4 per-call maximum


class Responder:
    """Plays a board on a pty master: answers `AT` with OK and `AT#XRECV` with a payload."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending = b""
        while not self._stop:
            try:
                pending += os.read(self.master, 4096)
            except OSError:
                return
            while b"\r\n" in pending:
                line, pending = pending.split(b"\r\n", 1)
                if line == b"AT#XRECV=1":
                    os.write(self.master, b"\r\n#XRECV: 1240\r\n" + PAYLOAD + b"\r\nOK\r\n")
                else:
                    os.write(self.master, b"\r\nOK\r\n")

    def close(self) -> None:
        self._stop = True
        os.close(self.master)
        os.close(self._slave)


WARMUP = 20  # round trips discarded at the start of every block (caches, first wake-ups)


@dataclass
class Paired:
    """A subject against its baseline, measured in alternating rounds on one link."""

    baseline: list[float]  # per-round medians, seconds
    subject: list[float]
    ratios: list[float]  # subject / baseline, per round

    @staticmethod
    def _spread(values: list[float], scale: float, fmt: str) -> str:
        if len(values) < 2:
            q1 = q2 = q3 = values[0]
        else:
            q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return f"{q2 * scale:{fmt}} [{q1 * scale:{fmt}}..{q3 * scale:{fmt}}]"

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)

    def describe(self) -> str:
        """Medians with their quartiles across rounds, e.g. `1.45x [1.38..1.52]`."""
        return (
            f"{self._spread(self.ratios, 1, '.2f')}x (baseline"
            f" {self._spread(self.baseline, 1e6, '.1f')} us, subject"
            f" {self._spread(self.subject, 1e6, '.1f')} us; median [quartiles] of"
            f" {len(self.ratios)} rounds)"
        )


def paired_rounds(
    baseline: Callable[[int], list[float]],
    subject: Callable[[int], list[float]],
    rounds: int = 20,
    per_round: int = 100,
) -> Paired:
    """Each round measures `per_round` round trips of each (after `WARMUP` discarded ones),
    the two back to back, first one then the other in turn; the ratio of their medians is that
    round's. A load that comes and goes then weighs on both sides of a ratio alike, and the
    median across rounds drops the rounds it hit harder on one side."""
    base_medians: list[float] = []
    subject_medians: list[float] = []
    ratios: list[float] = []
    for index in range(rounds):
        order = (baseline, subject) if index % 2 == 0 else (subject, baseline)
        first, second = (statistics.median(f(per_round + WARMUP)[WARMUP:]) for f in order)
        base, measured = (first, second) if index % 2 == 0 else (second, first)
        base_medians.append(base)
        subject_medians.append(measured)
        ratios.append(measured / base)
    return Paired(base_medians, subject_medians, ratios)


def raw_round_trip(path: str, command: bytes, reply_end: bytes, rounds: int) -> list[float]:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    samples = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(fd, command)
            got = b""
            while not got.endswith(reply_end):
                got += os.read(fd, 4096)
            samples.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    return samples


def client_round_trip(client: AtClient, command: str, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        client.at(command)
        samples.append(time.perf_counter() - start)
    return samples


def handoff_round_trip(path: str, command: bytes, reply_end: bytes, rounds: int) -> list[float]:
    """The floor of any client built like AtClient: a reader thread that waits on the tty
    (poll, os.read) and wakes the caller through a lock, with no framing, transcript or
    bookkeeping. Its ratio to the bare baseline is what the extra thread hop costs; the
    client's ratio above it is the client's own work."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    stop = False
    got = bytearray()
    done = threading.Lock()
    done.acquire()

    def reader() -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not stop:
            if not poller.poll(50):
                continue
            try:
                got.extend(os.read(fd, 65536))
            except BlockingIOError:
                continue
            if got.endswith(reply_end):
                got.clear()
                done.release()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    samples = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(fd, command)
            done.acquire()
            samples.append(time.perf_counter() - start)
    finally:
        stop = True
        thread.join()
        os.close(fd)
    return samples


def client_block(path: str, command: str, rounds: int) -> list[float]:
    """`rounds` commands through a fresh SlmDut on `path` (the link is shared with the baseline,
    which cannot read it while a client's reader thread does)."""
    with SlmDut.open(path) as dut:
        return client_round_trip(dut, command, rounds)


@contextmanager
def board_apart(responder: Responder) -> Iterator[str]:
    """The responder on one CPU, the calling thread (and the client reader threads it starts,
    which inherit its affinity) on another: the placement a board on its own hardware has.

    Left to the scheduler, the bare baseline flips between about 15 us (both threads on one
    core) and 50 us (a cross-core wake-up, often out of an idle CPU) from one block to the next,
    while the client, whose reader thread adds a wake-up of its own, moves far less: the ratio
    then says more about where the threads landed than about the client. Yields a description
    of the placement for the report."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or responder.thread.native_id is None:
        yield "threads placed by the scheduler (fewer than 2 CPUs to pin to)"
        return
    caller = os.sched_getaffinity(0)
    board_cpu, host_cpu = cpus[0], cpus[1]
    os.sched_setaffinity(responder.thread.native_id, {board_cpu})
    os.sched_setaffinity(0, {host_cpu})
    try:
        yield f"responder pinned to CPU {board_cpu}, caller and client reader to CPU {host_cpu}"
    finally:
        os.sched_setaffinity(0, caller)


def thread_hop(responder: Responder, rounds: int = 20, per_round: int = 100) -> Paired:
    """The bare baseline against `handoff_round_trip`, placed as `bare_pty` places them."""
    with board_apart(responder):
        return paired_rounds(
            lambda n: raw_round_trip(responder.path, b"AT\r\n", b"\r\nOK\r\n", n),
            lambda n: handoff_round_trip(responder.path, b"AT\r\n", b"\r\nOK\r\n", n),
            rounds,
            per_round,
        )


def bare_pty(responder: Responder, rounds: int = 20, per_round: int = 100) -> tuple[Paired, str]:
    """`SlmDut.at("AT")` against the bare os.write/os.read round trip, on one responder, with the
    responder apart from the host side (see `board_apart`); the placement is returned too."""
    with board_apart(responder) as placement:
        paired = paired_rounds(
            lambda n: raw_round_trip(responder.path, b"AT\r\n", b"\r\nOK\r\n", n),
            lambda n: client_block(responder.path, "AT", n),
            rounds,
            per_round,
        )
    return paired, placement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="alternating rounds (default 20)")
    parser.add_argument(
        "--per-round", type=int, default=100, help="round trips per side per round (default 100)"
    )
    args = parser.parse_args()
    responder = Responder()
    try:
        at, placement = bare_pty(responder, args.rounds, args.per_round)
        hop = thread_hop(responder, args.rounds, args.per_round)
        with board_apart(responder):
            recv = paired_rounds(
                lambda n: raw_round_trip(responder.path, b"AT#XRECV=1\r\n", b"\r\nOK\r\n", n),
                lambda n: client_block(responder.path, "AT#XRECV=1", n),
                args.rounds,
                args.per_round,
            )
    finally:
        responder.close()
    print(placement)
    print(f"AT -> OK             {at.describe()}")
    print(f"  a bare reader thread {hop.describe()}")
    print(f"AT#XRECV 1240 bytes  {recv.describe()}")


if __name__ == "__main__":
    main()
