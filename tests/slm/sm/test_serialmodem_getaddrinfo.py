"""Serial Modem's #XGETADDRINFO: `#XGETADDRINFO: "<ip> <ip>..."`, the family hint, and the
failure line `#XGETADDRINFO: "<reason>"` before ERROR (handle_at_getaddrinfo)."""

from __future__ import annotations

import re

import pytest
from slmsuite import accepted

from pytest_slm import ResolveError


@pytest.mark.parametrize("hint", ["", ",0", ",1"], ids=["no-hint", "unspec", "ipv4"])
def test_localhost_resolves_to_the_loopback_address(slm, hint):
    result = slm.at(f'AT#XGETADDRINFO="localhost"{hint}')
    (line,) = result.lines
    assert re.fullmatch(r'#XGETADDRINFO: "[0-9a-f.: ]+"', line), line
    assert "127.0.0.1" in line.split('"')[1].split(" ")


@pytest.mark.parametrize("address", ["127.0.0.1", "192.0.2.1"])
def test_a_numeric_address_resolves_to_itself(slm, address):
    accepted(slm, f'AT#XGETADDRINFO="{address}"', [f'#XGETADDRINFO: "{address}"'])


def test_a_numeric_ipv6_address_resolves_to_itself(slm):
    accepted(slm, 'AT#XGETADDRINFO="::1",2', ['#XGETADDRINFO: "::1"'])


@pytest.mark.parametrize("name", ["no-such-host.invalid", "x.invalid"])
def test_an_unknown_name_prints_a_reason_then_error(slm, name):
    result = slm.at(f'AT#XGETADDRINFO="{name}"', check=False)
    (line,) = result.lines
    assert result.final == "ERROR"
    assert re.fullmatch(r'#XGETADDRINFO: "[^"]+"', line), line
    with pytest.raises(ResolveError) as info:
        slm.getaddrinfo(name)
    assert info.value.gai_reason == line.split('"')[1]
