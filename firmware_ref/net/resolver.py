"""Name resolution through the host resolver, shaped like the modem's ``getaddrinfo``."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from firmware_ref.net import latency

# Zephyr's address family numbers (AF_INET 1, AF_INET6 2) differ from the host's.
_HOST_FAMILY = {0: socket.AF_UNSPEC, 1: socket.AF_INET, 2: socket.AF_INET6}

# gai_strerror() in Zephyr returns the macro's own name; the values match glibc's.
_EAI_NAMES = {
    getattr(socket, name): name
    for name in (
        "EAI_BADFLAGS",
        "EAI_NONAME",
        "EAI_AGAIN",
        "EAI_FAIL",
        "EAI_NODATA",
        "EAI_FAMILY",
        "EAI_SOCKTYPE",
        "EAI_SERVICE",
        "EAI_ADDRFAMILY",
        "EAI_MEMORY",
        "EAI_SYSTEM",
        "EAI_OVERFLOW",
    )
    if hasattr(socket, name)
}


class ResolveError(Exception):
    """A failed lookup; ``name`` is the ``EAI_...`` string the firmware prints."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Address:
    family: int  # Zephyr numbering
    ip: str


def _lookup(host: str, family: int) -> list[tuple[int, str]]:
    if not _is_literal(host):
        latency.wait_round_trip()  # the query to the network's DNS server and its answer
    try:
        # SOCK_DGRAM keeps glibc from tripling every address (one per socket type); the modem
        # answers one entry per address.
        infos = socket.getaddrinfo(host, None, _HOST_FAMILY.get(family, -1), socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise ResolveError(_EAI_NAMES.get(exc.errno, "EAI_FAIL")) from None
    except (UnicodeError, ValueError, OSError):
        raise ResolveError("EAI_NONAME") from None
    out: list[tuple[int, str]] = []
    for fam, _type, _proto, _canon, sockaddr in infos:
        ip = sockaddr[0].split("%", 1)[0]
        if fam == socket.AF_INET:
            out.append((1, ip))
        elif fam == socket.AF_INET6:
            out.append((2, ip))
    return out


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def getaddrinfo_list(host: str, family: int = 0) -> list[Address]:
    """``getaddrinfo(host, NULL, hints)``: every address of ``family`` (0: any, Zephyr
    numbering), host order, no duplicates.

    An empty list is a lookup that succeeded with no usable (IP) result.
    """
    seen: list[Address] = []
    for fam, ip in _lookup(host, family):
        addr = Address(fam, ip)
        if addr not in seen:
            seen.append(addr)
    return seen


def resolve(host: str, port: int, family: int) -> tuple:
    """``util_resolve_host``: the first address of ``family`` as a host sockaddr tuple.

    Family 0 (AF_UNSPEC, what a reset socket record holds) takes any address; AF_PACKET has
    no addresses at all (EAI_FAMILY).
    """
    if family not in (0, 1, 2):
        raise ResolveError("EAI_FAMILY")
    results = _lookup(host, family)
    if not results:
        raise ResolveError("EAI_NODATA")
    found, ip = results[0]
    if found == 2:
        return (ip, port, 0, 0)
    return (ip, port)


def bug_render(addresses: list[Address]) -> list[str]:
    """Render each entry the way v2.0 does: from the *first* result's sockaddr.

    The firmware casts ``result->ai_addr`` (not the current entry's) with the current entry's
    family. Zephyr's ``sockaddr_in`` and ``sockaddr_in6`` both keep the address at offset 4
    (no flowinfo field), so a v6 entry after a v4 first result shows the 4 IPv4 bytes followed
    by zeroes, and a v4 entry after a v6 first result shows the v6 address's first 4 bytes.
    """
    if not addresses:
        return []
    first = addresses[0]
    raw = ipaddress.ip_address(first.ip).packed
    padded = raw + bytes(16 - len(raw))
    out = []
    for entry in addresses:
        if entry.family == 1:
            out.append(str(ipaddress.IPv4Address(padded[:4])))
        else:
            out.append(str(ipaddress.IPv6Address(padded[:16])))
    return out
