"""Port numbers a test must name before anything binds them (`#XBIND=<port>`, a refused
`#XCONNECT`, a ser2net accepter).

The usual trick, bind port 0 and close, hands out a port from the kernel's ephemeral range, the
same range every outgoing connection on the host takes its source port from. Between the close
and the real bind, a busy host (four xdist workers, each with simulators and peers) reuses that
port often enough to fail a run in a few: a bind that answers ERROR, a ser2net that never
listens. A port below the ephemeral range is never given out by the kernel, so only an explicit
bind can take it.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Linux's default start of the ephemeral range, where /proc does not say.
_DEFAULT_EPHEMERAL_START = 32768
# How far below the ephemeral range to look: far above the registered services people run on
# a developer machine or CI host (databases, web servers, < 10000).
_SPAN = 16384


def _ephemeral_start() -> int:
    try:
        return int(_PORT_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def unused_port(
    host: str = "127.0.0.1", kind: socket.SocketKind = socket.SOCK_STREAM, tries: int = 200
) -> int:
    """A port on `host` that is free now and that the kernel never picks by itself."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    top = _ephemeral_start()
    bottom = max(1024, top - _SPAN)
    for port in random.sample(range(bottom, top), min(tries, top - bottom)):
        with socket.socket(family, kind) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError(f"no free port on {host} in {bottom}..{top - 1} after {tries} tries")
