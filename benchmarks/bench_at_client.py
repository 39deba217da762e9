"""AT client overhead, as ratios against a baseline measured in the same process.

    python3 benchmarks/bench_at_client.py [--rounds N]

The baseline is the bare round trip of the same bytes over the same kind of pty, with the same
scripted responder, but read with plain os.read: what any client must pay. The ratios say what
the AT client (reader thread, framer, transcript) adds on top. Figures, not assertions: these
machines are noisy, so only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import tty

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    responder = Responder()
    try:
        base_at = raw_round_trip(responder.path, b"AT\r\n", b"\r\nOK\r\n", args.rounds)
        base_recv = raw_round_trip(responder.path, b"AT#XRECV=1\r\n", b"\r\nOK\r\n", args.rounds)
        with SlmDut.open(responder.path) as dut:
            client_at = client_round_trip(dut, "AT", args.rounds)
            client_recv = client_round_trip(dut, "AT#XRECV=1", args.rounds)
    finally:
        responder.close()
    for name, base, measured in (
        ("AT -> OK", base_at, client_at),
        ("AT#XRECV 1240 bytes", base_recv, client_recv),
    ):
        b, m = statistics.median(base), statistics.median(measured)
        print(
            f"{name:<22} baseline {b * 1e6:8.1f} us   client {m * 1e6:8.1f} us   ratio {m / b:5.2f}"
        )


if __name__ == "__main__":
    main()
