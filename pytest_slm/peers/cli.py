"""slm-peer: the suite's echo peers as a standalone service on a lab host.

A board on a real network cannot reach the test machine's loopback; run slm-peer on a host the
board can reach and point the suite at it with --peer-url. The first stdout lines name every
service ("SERVICE FAMILY HOST PORT"), then a line "ready"; the same data, with the CA
certificate, goes to --manifest FILE and is served on the control port.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from .base import ipv6_available
from .certs import PeerCerts
from .dtls import DtlsEcho
from .manifest import build_manifest, write_manifest
from .tcp import TcpEcho, TcpSource
from .tls import TlsEcho
from .udp import UdpEcho

SERVICES = (
    ("tcp_echo", TcpEcho),
    ("udp_echo", UdpEcho),
    ("tls_echo", TlsEcho),
    ("dtls_echo", DtlsEcho),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="slm-peer",
        description="Serve the pytest-slm echo peers (TCP, UDP, TLS 1.2, DTLS 1.2) for a board "
        "on a real network. Runs until SIGINT or SIGTERM.",
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="IPv4 address to bind (0.0.0.0: all interfaces). Default 127.0.0.1")
    p.add_argument("--host6", default="::1",
                   help="IPv6 address to bind (:: for all interfaces). Default ::1")
    p.add_argument("--no-ipv4", action="store_true", help="serve IPv6 only")
    p.add_argument("--no-ipv6", action="store_true", help="serve IPv4 only")
    p.add_argument("--advertise", metavar="ADDRESS",
                   help="IPv4 address or name the board uses to reach this host: goes into the "
                   "manifest and the server certificate")
    p.add_argument("--advertise6", metavar="ADDRESS",
                   help="IPv6 address or name the board uses to reach this host")
    p.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="extra host name or address for the server certificate (repeatable)")
    for service, _ in SERVICES:
        p.add_argument(f"--{service.replace('_', '-')}-port", type=int, default=0, metavar="N",
                       help=f"port of {service} (0, the default: any free port)")
    p.add_argument("--control-port", type=int, default=0, metavar="N",
                   help="TCP port that answers every connection with the manifest (JSON) and "
                   "closes: the suite's --peer-url tcp://HOST:N. 0: any free port")
    p.add_argument("--certs-dir", metavar="DIR",
                   help="keep the CA here (ca.pem, ca-key.pem): reused on the next start, so a "
                   "board provisioned with ca.pem stays valid. Default: a new CA in memory")
    p.add_argument("--manifest", metavar="FILE",
                   help="write the manifest (JSON: services, ports, CA certificate) here")
    p.add_argument("--verbose", "-v", action="store_true", help="log connections to stderr")
    args = p.parse_args(argv)
    if args.no_ipv4 and args.no_ipv6:
        p.error("--no-ipv4 and --no-ipv6 leave nothing to serve")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="slm-peer %(levelname)s %(message)s",
    )
    log = logging.getLogger("pytest_slm.peers")

    families: list[tuple[int, str, str | None]] = []
    if not args.no_ipv4:
        families.append((4, args.host, args.advertise))
    if not args.no_ipv6:
        if ipv6_available():
            families.append((6, args.host6, args.advertise6))
        else:
            log.warning("IPv6 is not available on this host: serving IPv4 only")

    names = [n for n in (args.advertise, args.advertise6, *args.name) if n]
    certs = (
        PeerCerts.load_or_create(args.certs_dir, names) if args.certs_dir else PeerCerts(names)
    )

    stop = threading.Event()
    # Installed before anything starts, so a signal during start-up still exits cleanly.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    peers: list[Any] = []
    control: list[TcpSource] = []
    status = 0
    try:
        for fam, host, advertise in families:
            for service, cls in SERVICES:
                kwargs: dict[str, Any] = {"certs": certs} if getattr(cls, "needs_certs", 0) else {}
                port = getattr(args, f"{service}_port")
                peers.append(
                    cls(host=host, port=port, family=fam, board_host=advertise, **kwargs).start()
                )
        advertised = {"ipv4": args.advertise, "ipv6": args.advertise6}
        manifest = build_manifest(peers, certs, {k: v for k, v in advertised.items() if v})
        payload = json.dumps(manifest, indent=2).encode() + b"\n"
        for fam, host, advertise in families:
            control.append(
                TcpSource(payload, host=host, port=args.control_port, family=fam,
                          board_host=advertise).start()
            )
        if args.manifest:
            write_manifest(args.manifest, manifest)
        for p in (*peers, *control):
            kind = "control" if p in control else p.kind
            print(f"{kind} {p.family_name} {p.host} {p.port}", flush=True)
        print("ready", flush=True)
        log.info("serving %d peers; CA subject names %s", len(peers), list(certs.names))
        stop.wait()
    except OSError as exc:
        print(f"slm-peer: {exc}", file=sys.stderr)
        status = 1
    finally:
        for p in (*control, *peers):
            try:
                p.stop()
            except RuntimeError as exc:
                print(f"slm-peer: {exc}", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
