"""Golden transcripts: #XGETADDRINFO through the host resolver, with the v2.0 rendering bug."""

from __future__ import annotations

import re
import socket

import pytest

from firmware_ref.net.resolver import Address, bug_render
from firmware_ref.testing import ERROR, OK, at, info


@pytest.mark.parametrize("literal", ["127.0.0.1", "::1", "10.1.2.3", "2001:db8::1"])
def test_literal_addresses(harness, literal: str) -> None:
    assert at(harness, f'AT#XGETADDRINFO="{literal}"') == info(f'#XGETADDRINFO: "{literal}"') + OK


def test_localhost_follows_the_host_resolver(harness) -> None:
    infos = socket.getaddrinfo("localhost", None, socket.AF_UNSPEC, socket.SOCK_DGRAM)
    seen: list[tuple[int, str]] = []
    for fam, *_rest, sockaddr in infos:
        entry = (1 if fam == socket.AF_INET else 2, sockaddr[0])
        if entry not in seen:
            seen.append(entry)
    expected = " ".join(bug_render([Address(f, ip) for f, ip in seen]))
    assert at(harness, 'AT#XGETADDRINFO="localhost"') == info(f'#XGETADDRINFO: "{expected}"') + OK


def test_lower_case_command_doc_example(harness) -> None:
    # Doc: at#xgetaddrinfo="www.google.com" -> "172.217.174.100"; no internet here, so a name
    # the loopback resolver knows stands in.
    out = at(harness, 'at#xgetaddrinfo="localhost"')
    assert re.fullmatch(rb'\r\n#XGETADDRINFO: "[0-9a-f.: ]+"\r\n\r\nOK\r\n', out), out


def test_unresolvable_name(harness) -> None:
    out = at(harness, 'AT#XGETADDRINFO="nonexistent.invalid"', timeout=60)
    assert re.fullmatch(rb'\r\n#XGETADDRINFO: "EAI_[A-Z]+"\r\n\r\nERROR\r\n', out), out


def test_offline_modem_cannot_resolve(offline_harness) -> None:
    assert (
        at(offline_harness, 'AT#XGETADDRINFO="127.0.0.1"')
        == info('#XGETADDRINFO: "EAI_AGAIN"') + ERROR
    )


@pytest.mark.parametrize(
    "command",
    [
        "AT#XGETADDRINFO",
        "AT#XGETADDRINFO=",
        "AT#XGETADDRINFO=localhost",
        "AT#XGETADDRINFO=1",
        'AT#XGETADDRINFO="' + "a" * 128 + '"',
        "AT#XGETADDRINFO?",
        "AT#XGETADDRINFO=?",
    ],
)
def test_bad_input(harness, command: str) -> None:
    assert at(harness, command) == ERROR


def test_extra_parameter_ignored(harness) -> None:
    # v2.0 has no <family> parameter (added in v2.8); a second one is not read.
    assert at(harness, 'AT#XGETADDRINFO="127.0.0.1",2') == info('#XGETADDRINFO: "127.0.0.1"') + OK


def test_no_socket_needed(harness) -> None:
    assert at(harness, "AT#XSOCKET?") == OK
    assert at(harness, 'AT#XGETADDRINFO="::1"').endswith(OK)


@pytest.mark.parametrize(
    ("entries", "rendered"),
    [
        ([Address(1, "10.0.0.1")], ["10.0.0.1"]),
        # Several results: each is printed from the first result's address.
        ([Address(1, "10.0.0.1"), Address(1, "10.0.0.2")], ["10.0.0.1", "10.0.0.1"]),
        ([Address(2, "2001:db8::1"), Address(2, "2001:db8::2")], ["2001:db8::1"] * 2),
        # Mixed: the first sockaddr read with the other family's layout (address at offset 4).
        ([Address(1, "10.0.0.1"), Address(2, "2001:db8::1")], ["10.0.0.1", "a00:1::"]),
        ([Address(2, "2001:db8::1"), Address(1, "10.0.0.1")], ["2001:db8::1", "32.1.13.184"]),
    ],
)
def test_first_address_repeats(entries, rendered) -> None:
    assert bug_render(entries) == rendered
