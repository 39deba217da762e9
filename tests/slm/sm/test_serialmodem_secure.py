"""Serial Modem's secure sockets: #XSSOCKET peer verification and #XSSOCKETOPT values.

The verification behaviour both dialects share is in common/test_behaviour_secure.py; here are
the Serial Modem formats (sec_sockopt_get: `#XSSOCKETOPT: <h>,<value>`, the cipher suite as
`0x%x`, the host name unquoted) and the option table of sm_sockopt.h.
"""

from __future__ import annotations

import pytest
from slmsuite import LONG, SEC_TAG, accepted, documented, feature, refused, sm_deviation

from pytest_slm.slm_types import Family, PeerVerify, Role, SmTlsOpt, SocketType

pytestmark = feature("tls")


@pytest.fixture
def tls(slm):
    return slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG).handle


@pytest.mark.parametrize("verify", [None, 0, 1, 2], ids=["default", "none", "optional", "req"])
def test_peer_verify_reads_back_what_the_open_set(slm, verify):
    h = slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG, verify).handle
    expected = PeerVerify.REQUIRED if verify is None else verify
    accepted(slm, f"AT#XSSOCKETOPT={h},0,5", [f"#XSSOCKETOPT: {h},{int(expected)}"])


@pytest.mark.parametrize("value", [0, 1, 2])
def test_peer_verify_set_then_get(slm, tls, value):
    accepted(slm, f"AT#XSSOCKETOPT={tls},1,5,{value}")
    assert slm.sgetopt(SmTlsOpt.PEER_VERIFY) == value


@sm_deviation("a server-role secure socket defaults to peer_verify 2 (required), the doc says 0")
def test_server_role_defaults_to_no_peer_verification(slm):
    h = slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.SERVER, SEC_TAG).handle
    documented(
        slm.sgetopt(SmTlsOpt.PEER_VERIFY, handle=h),
        int(PeerVerify.NONE),
        deviation=int(PeerVerify.REQUIRED),
        what="AT_TLS_PEER_VERIFY of a server-role #XSSOCKET",
    )


@pytest.mark.parametrize("hostname", ["localhost", "a.b.example", "x" * 60])
def test_hostname_reads_back_unquoted(slm, tls, hostname):
    accepted(slm, f'AT#XSSOCKETOPT={tls},1,2,"{hostname}"')
    accepted(slm, f"AT#XSSOCKETOPT={tls},0,2", [f"#XSSOCKETOPT: {tls},{hostname}"])


@pytest.mark.parametrize("value", [0, 1])
def test_session_cache_set_and_get(slm, tls, value):
    accepted(slm, f"AT#XSSOCKETOPT={tls},1,12,{value}")
    accepted(slm, f"AT#XSSOCKETOPT={tls},0,12", [f"#XSSOCKETOPT: {tls},{value}"])


def test_session_cache_purge_is_set_only(slm, tls):
    accepted(slm, f"AT#XSSOCKETOPT={tls},1,13,0")


@pytest.mark.parametrize("name", [5, 12, 18])
def test_a_string_value_for_an_integer_option_is_refused(slm, tls, name):
    # sec_sockopt_set: a string value of an int option has len != sizeof(int): -EINVAL.
    refused(slm, f'AT#XSSOCKETOPT={tls},1,{name},"1"')


@feature("dtls")
@pytest.mark.parametrize("value", [1, 3, 7, 15, 31, 63, 123])
def test_dtls_handshake_timeout_set_and_get(slm, value):
    h = slm.ssocket_open(Family.IPV4, SocketType.DGRAM, Role.CLIENT, SEC_TAG).handle
    accepted(slm, f"AT#XSSOCKETOPT={h},1,18,{value}")
    accepted(slm, f"AT#XSSOCKETOPT={h},0,18", [f"#XSSOCKETOPT: {h},{value}"])


def test_cipher_suite_after_the_handshake_is_printed_in_hex(slm, tls, tls_echo):
    slm.connect(tls_echo.board_host, tls_echo.port)
    value = slm.sgetopt(SmTlsOpt.CIPHERSUITE_USED)
    # `0x%x`: lower-case hex digits, no padding; an IANA id is 16 bits and never 0.
    assert isinstance(value, str) and value.startswith("0x"), value
    assert value == value.lower() and 0 < int(value, 16) <= 0xFFFF
    assert slm.send(b"after") == 5
    assert slm.recv(LONG).data == b"after"


def test_secure_options_on_a_closed_secure_socket_are_refused(slm, tls):
    slm.close_socket(tls)
    refused(slm, f"AT#XSSOCKETOPT={tls},0,5")
