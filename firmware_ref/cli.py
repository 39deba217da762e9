"""``slm-sim``: run the simulated SLM v2.0.x board on a pty or a TCP port.

The first stdout line is where to connect (a pty path or ``socket://HOST:PORT``), flushed at
once; the process then serves until SIGTERM/SIGINT and exits 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence

from firmware_ref.core.dialect import DEFAULT_DIALECT, dialect_names
from firmware_ref.core.host import (
    UART_RX_TIMEOUT_S,
    UNPACED_RX_TIMEOUT_S,
    UNPACED_UART_BAUD,
    FirmwareConfig,
)
from firmware_ref.net import latency
from firmware_ref.transport import Board, PtyTransport, TcpTransport


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    if not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return host, int(port)


def _ip(version: int):
    def parse(text: str) -> str:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if addr.version != version:
            raise argparse.ArgumentTypeError(f"not an IPv{version} address: {text}")
        return str(addr)

    return parse


def _baud(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("baud must be positive")
    return value


def _duration(text: str) -> float:
    try:
        return latency.parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 600ms or 0.6s, got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="slm-sim", description="Simulated nRF91 Serial LTE Modem (SLM v2.0.x) board"
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal")
    where.add_argument(
        "--listen", type=_host_port, metavar="HOST:PORT", help="serve raw TCP (port 0: any)"
    )
    p.add_argument("--baud", type=_baud, default=None, help="pace the UART at N baud")
    p.add_argument(
        "--uart-baud",
        type=_baud,
        default=None,
        metavar="N",
        help="the UART rate the firmware believes it runs at: #XSLMUART? answers it and the"
        " data-mode minimum time limit (#XDATACTRL) follows from it (default: --baud if given,"
        f" else {UNPACED_UART_BAUD}, the fastest rate SLM offers, as an unpaced pty is faster"
        " than any UART)",
    )
    p.add_argument(
        "--latency",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="emulate a cellular network: every round trip to a peer or the DNS takes this"
        " long (e.g. 600ms); connect, DNS, peer data and handshakes pay it",
    )
    p.add_argument(
        "--jitter",
        type=_duration,
        default=0.0,
        metavar="DURATION",
        help="vary each round trip uniformly by up to this much either way (e.g. 200ms)",
    )
    p.add_argument(
        "--rx-timeout",
        type=_duration,
        default=None,
        metavar="DURATION",
        help="line idle time that ends a UART receive event (default: the firmware's"
        f" {UART_RX_TIMEOUT_S * 1e3:g}ms with --baud; {UNPACED_RX_TIMEOUT_S * 1e3:g}ms unpaced,"
        " where a host's write arrives whole and the idle time would only add latency)",
    )
    p.add_argument("--address", type=_ip(4), default="127.0.0.1", help="PDP IPv4 address")
    p.add_argument("--address6", type=_ip(6), default="::1", help="PDP IPv6 address")
    p.add_argument("--online", action="store_true", help="boot registered (CFUN=1)")
    p.add_argument(
        "--dialect",
        choices=dialect_names(),
        default=DEFAULT_DIALECT,
        help=f"firmware generation to simulate (default {DEFAULT_DIALECT}: SLM v2.0.x)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log activity to stderr")
    return p


def config_from_args(args: argparse.Namespace) -> FirmwareConfig:
    rx_timeout = args.rx_timeout
    if rx_timeout is None:
        # Paced, the line has the firmware's timing and the idle time is the firmware's.
        # Unpaced, bytes take no time on the line and a host's write reaches the board whole,
        # so the write already marks where a burst ends; the 2 ms would only add latency to
        # every command (about 10 s over the suite's 5000).
        rx_timeout = UART_RX_TIMEOUT_S if args.baud else UNPACED_RX_TIMEOUT_S
    return FirmwareConfig(
        baud=args.baud,
        # Unpaced, no wire time exists to model: the board is the fastest one SLM can be
        # configured as, so data-mode silences are as short as the firmware allows.
        uart_baud=args.uart_baud or args.baud or UNPACED_UART_BAUD,
        rx_timeout=rx_timeout,
        address=args.address,
        address6=args.address6,
        online=args.online,
        verbose=args.verbose,
        dialect=args.dialect,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    latency.configure(latency.Conditions(args.latency, args.jitter))
    config = config_from_args(args)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    board = Board(config)
    if args.pty:
        transport: PtyTransport | TcpTransport = PtyTransport(board, stop)
    else:
        host, port = args.listen
        try:
            transport = TcpTransport(board, host, port, stop)
        except OSError as exc:
            print(f"slm-sim: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 2
    sys.stdout.write(transport.url + "\n")
    sys.stdout.flush()

    server = threading.Thread(target=transport.serve, name="slm-transport", daemon=True)
    server.start()
    # The main thread only waits, so signal handlers run promptly.
    while not stop.wait(0.5):
        if not server.is_alive():
            print("slm-sim: transport stopped unexpectedly", file=sys.stderr)
            return 1
    server.join(timeout=10)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
