"""TLS and DTLS verification, the same on every dialect (shared API only).

The suite provisions its CA at SEC_TAG, an unrelated CA at WRONG_CA_SEC_TAG and nothing at
EMPTY_SEC_TAG; the peers present certificates for localhost signed by the suite's CA. Option
numbers 2 (host name) and 5 (peer verification) are the same in both dialects.
"""

from __future__ import annotations

import pytest
from slmsuite import EMPTY_SEC_TAG, LONG, SEC_TAG, WRONG_CA_SEC_TAG, feature, peer

from pytest_slm import AtError
from pytest_slm.slm_types import Family, PeerVerify, Role, SocketType

HOSTNAME = 2
PEER_VERIFY = 5
KINDS = [
    pytest.param(SocketType.STREAM, "tls_echo", id="tls", marks=feature("tls")),
    pytest.param(SocketType.DGRAM, "dtls_echo", id="dtls", marks=feature("dtls")),
]
FAMILIES = [
    pytest.param(Family.IPV4, id="ipv4"),
    pytest.param(Family.IPV6, id="ipv6", marks=feature("ipv6")),
]


def _open(slm, request, family, type_, kind, sec_tag, verify):
    server = peer(request, kind, family)
    slm.ssocket_open(family, type_, Role.CLIENT, sec_tag, verify)
    return server


def _echo(slm, payload: bytes = b"secure hello") -> None:
    assert slm.send(payload) == len(payload)
    data = b""
    while len(data) < len(payload):
        got = slm.recv(LONG)
        assert got.data, f"end of stream after {len(data)} bytes"
        data += got.data
    assert data == payload


def _refused(slm, server) -> None:
    with pytest.raises(AtError) as info:
        slm.connect(server.board_host, server.port)
    assert info.value.received[-1] == "ERROR"
    if server.transport == "tls":
        server.wait_handshake_error()


@pytest.mark.parametrize("verify", [None, *PeerVerify], ids=lambda v: f"verify_{v}")
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("type_", "kind"), KINDS)
def test_right_ca_connects_and_echoes(slm, request, sec_tags, type_, kind, family, verify):
    server = _open(slm, request, family, type_, kind, SEC_TAG, verify)
    slm.connect(server.board_host, server.port)
    _echo(slm)


@pytest.mark.parametrize(("type_", "kind"), KINDS)
@pytest.mark.parametrize("verify", [None, PeerVerify.REQUIRED], ids=["default", "required"])
def test_wrong_ca_fails_the_handshake(slm, request, sec_tags, type_, kind, verify):
    server = _open(slm, request, Family.IPV4, type_, kind, WRONG_CA_SEC_TAG, verify)
    _refused(slm, server)


@pytest.mark.parametrize(("type_", "kind"), KINDS)
def test_wrong_ca_passes_without_verification(slm, request, sec_tags, type_, kind):
    server = _open(slm, request, Family.IPV4, type_, kind, WRONG_CA_SEC_TAG, PeerVerify.NONE)
    slm.connect(server.board_host, server.port)
    _echo(slm)


@pytest.mark.parametrize(("type_", "kind"), KINDS)
def test_empty_tag_with_required_verification_fails(slm, request, sec_tags, type_, kind):
    server = _open(slm, request, Family.IPV4, type_, kind, EMPTY_SEC_TAG, PeerVerify.REQUIRED)
    _refused(slm, server)


@pytest.mark.parametrize(("type_", "kind"), KINDS)
def test_peer_verify_option_overrides_the_open(slm, request, sec_tags, type_, kind):
    server = _open(slm, request, Family.IPV4, type_, kind, WRONG_CA_SEC_TAG, PeerVerify.NONE)
    slm.ssetopt(PEER_VERIFY, int(PeerVerify.REQUIRED))
    _refused(slm, server)


@pytest.mark.parametrize(
    ("hostname", "ok"), [("localhost", True), ("wrong.invalid", False)], ids=["match", "mismatch"]
)
@pytest.mark.parametrize(("type_", "kind"), KINDS)
def test_hostname_verification(slm, request, sec_tags, type_, kind, hostname, ok):
    server = _open(slm, request, Family.IPV4, type_, kind, SEC_TAG, PeerVerify.REQUIRED)
    slm.ssetopt(HOSTNAME, hostname)
    if ok:
        slm.connect(server.board_host, server.port)
        _echo(slm)
    else:
        _refused(slm, server)


@feature("tls")
def test_tls_carries_every_byte_value(slm, tls_echo, sec_tags):
    slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG)
    slm.connect(tls_echo.board_host, tls_echo.port)
    _echo(slm, bytes(range(256)) * 8)
