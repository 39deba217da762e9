"""Real host networking behind the simulated modem's sockets.

The nRF91 modem owns the IP stack; the simulator stands in for it with the host's own sockets
(loopback in tests), Python's ``ssl`` for TLS 1.2 and pyOpenSSL for DTLS 1.2. Nothing here knows
about AT commands: the command layer (``firmware_ref.sockets``) maps these calls and their
``NetError`` errnos onto the firmware's responses.
"""

from firmware_ref.net.endpoint import (
    AF_INET,
    AF_INET6,
    AF_PACKET,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_STREAM,
    Endpoint,
    NetError,
    open_endpoint,
    poll_endpoints,
)
from firmware_ref.net.fdtable import FdTable
from firmware_ref.net.resolver import ResolveError, getaddrinfo_list, resolve
from firmware_ref.net.security import SecurityConfig

__all__ = [
    "AF_INET",
    "AF_INET6",
    "AF_PACKET",
    "POLLERR",
    "POLLHUP",
    "POLLIN",
    "POLLNVAL",
    "POLLOUT",
    "SOCK_DGRAM",
    "SOCK_RAW",
    "SOCK_STREAM",
    "Endpoint",
    "FdTable",
    "NetError",
    "ResolveError",
    "SecurityConfig",
    "getaddrinfo_list",
    "open_endpoint",
    "poll_endpoints",
    "resolve",
]
