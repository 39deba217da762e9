"""#XGETADDRINFO: IPv4 and IPv6 names and literals, and names that do not resolve."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from slmsuite import feature, refused

from pytest_slm.dut import ResolveError
from pytest_slm.slm_types import MAX_URL


def _hosts_names(address: str) -> list[str]:
    """Names /etc/hosts gives `address` and nothing else (so the answer has one entry)."""
    try:
        lines = Path("/etc/hosts").read_text().splitlines()
    except OSError:
        return []
    names: dict[str, set[str]] = {}
    for line in lines:
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            names.setdefault(name, set()).add(fields[0])
    return sorted(n for n, addrs in names.items() if addrs == {address})


def _host_addresses(name: str) -> list[str]:
    infos = socket.getaddrinfo(name, None, type=socket.SOCK_DGRAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@pytest.mark.parametrize(("host", "expected"), [
    pytest.param("127.0.0.1", ["127.0.0.1"], id="ipv4-literal"),
    pytest.param("::1", ["::1"], id="ipv6-literal", marks=feature("ipv6")),
])
def test_literal(slm, host, expected):
    assert slm.getaddrinfo(host) == expected


def test_literal_needs_no_socket_and_leaves_sockets_alone(slm):
    assert slm.sockets().handles == []
    assert slm.getaddrinfo("127.0.0.1") == ["127.0.0.1"]
    assert slm.sockets().handles == []


@feature("loopback_peers")
def test_ipv4_name(slm):
    # The board resolves through this host's resolver: its answer is the reference.
    names = _hosts_names("127.0.0.1")
    if not names:
        pytest.skip("/etc/hosts names no host with 127.0.0.1 alone")
    name = "localhost" if "localhost" in names else names[0]
    expected = _host_addresses(name)
    if len(expected) != 1:
        pytest.skip(f"{name} resolves to {expected} here; the IPv4-only case needs one address")
    assert slm.getaddrinfo(name) == expected


@feature("loopback_peers")
@feature("ipv6")
def test_ipv6_name(slm):
    names = [n for n in _hosts_names("::1") if _host_addresses(n) == ["::1"]]
    if not names:
        pytest.skip("/etc/hosts names no host that resolves to ::1 alone (ip6-localhost)")
    assert slm.getaddrinfo(names[0]) == ["::1"]


def test_case_insensitive_command(slm):
    result = slm.at('at#xgetaddrinfo="127.0.0.1"')
    assert result.lines == ['#XGETADDRINFO: "127.0.0.1"']


def test_name_that_does_not_resolve(slm):
    with pytest.raises(ResolveError) as info:
        slm.getaddrinfo("nonexistent.invalid")
    assert info.value.gai_reason == "EAI_NONAME"
    assert info.value.received == ['#XGETADDRINFO: "EAI_NONAME"', "ERROR"]


def test_longest_name_is_looked_up(slm):
    # 127 characters fit the buffer: the name is looked up (and does not exist).
    name = ("a" * 59 + ".") * 2 + "invalid"
    assert len(name) == MAX_URL
    with pytest.raises(ResolveError) as info:
        slm.getaddrinfo(name)
    assert info.value.gai_reason.startswith("EAI_")


def test_name_over_the_limit_is_refused_before_lookup(slm):
    refused(slm, 'AT#XGETADDRINFO="' + "a" * (MAX_URL + 1) + '"')
