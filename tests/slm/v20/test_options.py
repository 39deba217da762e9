"""#XSOCKETOPT and #XSSOCKETOPT: every name v2.0 knows, get and set, and the ones it refuses."""

from __future__ import annotations

import pytest
from slmsuite import (
    ERROR,
    SEC_TAG,
    SHORT,
    documented,
    expect_timeout,
    feature,
    known_deviation,
    refused,
)

from pytest_slm.slm_types import (
    DTLS_HANDSHAKE_TIMEOUTS,
    MAX_URL,
    NOT_SUPPORTED,
    Family,
    Role,
    SocketType,
    SockOpt,
    TlsOpt,
)


@pytest.fixture
def udp(slm):
    return slm.socket_open(Family.IPV4, SocketType.DGRAM)


@pytest.fixture
def tls(slm, sec_tags):
    return slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG)


# --------------------------------------------------------------------------- #XSOCKETOPT


@pytest.mark.parametrize(("opt", "default", "values"), [
    pytest.param(SockOpt.SILENCE_ALL, 0, (1, 0), id="silence_all"),
    pytest.param(SockOpt.IP_ECHO_REPLY, 1, (0, 1), id="ip_echo_reply"),
    pytest.param(SockOpt.IPV6_ECHO_REPLY, 1, (0, 1), id="ipv6_echo_reply"),
    pytest.param(SockOpt.TCP_SRV_SESSTIMEO, 0, (1, 135, 0), id="tcp_srv_sesstimeo"),
])
def test_integer_option_get_and_set(slm, udp, opt, default, values):
    assert slm.getopt(opt) == default
    for value in values:
        slm.setopt(opt, value)
        assert slm.getopt(opt) == value


@pytest.mark.parametrize("opt", [SockOpt.RCVTIMEO, SockOpt.SNDTIMEO], ids=["rcvtimeo", "sndtimeo"])
@known_deviation("v2.0", 'a get of SO_RCVTIMEO/SO_SNDTIMEO prints "<n> sec", not <n>')
def test_timeout_option_get_prints_seconds(slm, udp, opt):
    slm.setopt(opt, 30)
    documented(slm.getopt(opt), 30, deviation="30 sec", what=f"get of {opt.name}")


@pytest.mark.parametrize("opt", [SockOpt.RCVTIMEO, SockOpt.SNDTIMEO], ids=["rcvtimeo", "sndtimeo"])
def test_timeout_option_set_is_read_back(slm, udp, opt):
    # Whatever the format, the value read back is the one set (v2.0: `"<n> sec"`).
    for seconds in (5, 0):
        slm.setopt(opt, seconds)
        assert slm.getopt(opt) in (seconds, f"{seconds} sec")


def test_rcvtimeo_bounds_a_blocking_recv(slm, udp):
    slm.bind(0)
    slm.setopt(SockOpt.RCVTIMEO, SHORT)
    # #XRECV=0 does not poll; only SO_RCVTIMEO ends the wait, with ERROR.
    expect_timeout(slm.recvfrom, 0, at_timeout=30.0, lasting=SHORT)


@pytest.mark.parametrize("opt", [
    SockOpt.REUSEADDR, *[o for o in SockOpt if o.name.startswith("RAI_")],
], ids=lambda o: o.name.lower())
def test_set_only_options_get_prints_nothing(slm, udp, opt):
    slm.setopt(opt, 1)
    assert slm.getopt(opt) is None


def test_bindtodevice_takes_a_string(slm, udp):
    slm.setopt(SockOpt.BINDTODEVICE, "pdn0")
    assert slm.getopt(SockOpt.BINDTODEVICE) is None


def test_set_without_value_means_zero(slm, udp):
    slm.setopt(SockOpt.SILENCE_ALL, 1)
    assert slm.at("AT#XSOCKETOPT=1,30").lines == []
    assert slm.getopt(SockOpt.SILENCE_ALL) == 0


def test_so_error_get(slm, udp):
    assert slm.getopt(SockOpt.ERROR) == 0


@pytest.mark.parametrize(("command", "lines", "final"), [
    pytest.param("AT#XSOCKETOPT=1,4,1", [], ERROR, id="set-so_error"),
    pytest.param("AT#XSOCKETOPT=1,12,1", ['#XSOCKETOPT: "not supported"'], ERROR,
                 id="set-priority"),
    pytest.param("AT#XSOCKETOPT=1,37,1", ['#XSOCKETOPT: "not supported"'], ERROR,
                 id="set-timestamping"),
    pytest.param("AT#XSOCKETOPT=1,3,1", [], ERROR, id="set-type"),
    pytest.param("AT#XSOCKETOPT=1,38,1", [], ERROR, id="set-protocol"),
    pytest.param("AT#XSOCKETOPT=1,99,1", [], ERROR, id="set-unknown"),
    pytest.param("AT#XSOCKETOPT=0,3", ['#XSOCKETOPT: "not supported"'], "OK", id="get-type"),
    pytest.param("AT#XSOCKETOPT=0,12", ['#XSOCKETOPT: "not supported"'], "OK",
                 id="get-priority"),
    pytest.param("AT#XSOCKETOPT=0,38", ['#XSOCKETOPT: "not supported"'], "OK",
                 id="get-protocol"),
    pytest.param("AT#XSOCKETOPT=0,37", [], "OK", id="get-timestamping"),
    pytest.param("AT#XSOCKETOPT=0,99", [], "OK", id="get-unknown"),
    pytest.param("AT#XSOCKETOPT=2,20,1", [], "OK", id="op-2-does-nothing"),
    pytest.param("AT#XSOCKETOPT=1,30,2", [], ERROR, id="set-silence-2"),
    pytest.param("AT#XSOCKETOPT=1,55,136", [], ERROR, id="set-sesstimeo-136"),
    pytest.param('AT#XSOCKETOPT=1,20,"30"', [], ERROR, id="string-for-int-option"),
    pytest.param("AT#XSOCKETOPT=1,25,1", [], ERROR, id="bindtodevice-int"),
])
def test_option_answers(slm, udp, command, lines, final):
    result = slm.at(command, check=False)
    assert (result.lines, result.final) == (lines, final)


def test_not_supported_value_is_typed(slm, udp):
    assert slm.getopt(SockOpt.PRIORITY) == NOT_SUPPORTED


@pytest.mark.parametrize("command", ["AT#XSOCKETOPT=0,30", "AT#XSOCKETOPT=1,30,1"],
                         ids=["get", "set"])
def test_option_without_socket_is_refused(slm, command):
    refused(slm, command)


def test_option_test_form(slm):
    assert slm.socketopt_test() == "(0,1),<name>,<value>"


def test_options_are_per_socket(slm):
    first = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.setopt(SockOpt.SILENCE_ALL, 1)
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    assert slm.getopt(SockOpt.SILENCE_ALL) == 0
    slm.socket_select(first)
    assert slm.getopt(SockOpt.SILENCE_ALL) == 1


# --------------------------------------------------------------------------- #XSSOCKETOPT


@pytest.mark.parametrize(("opt", "value"), [
    pytest.param(TlsOpt.HOSTNAME, "localhost", id="hostname"),
    pytest.param(TlsOpt.HOSTNAME, "NULL", id="hostname-null"),
    pytest.param(TlsOpt.HOSTNAME, "null", id="hostname-null-lower"),
    pytest.param(TlsOpt.HOSTNAME, "h" * MAX_URL, id="hostname-127"),
    *[pytest.param(TlsOpt.PEER_VERIFY, v, id=f"peer_verify-{v}") for v in (0, 1, 2)],
    *[pytest.param(TlsOpt.SESSION_CACHE, v, id=f"session_cache-{v}") for v in (0, 1)],
    *[pytest.param(TlsOpt.SESSION_CACHE_PURGE, v, id=f"purge-{v}") for v in (0, 1, 77)],
    *[pytest.param(TlsOpt.DTLS_HANDSHAKE_TIMEO, v, id=f"handshake_timeo-{v}")
      for v in DTLS_HANDSHAKE_TIMEOUTS],
])
def test_secure_option_set(slm, tls, opt, value):
    slm.ssetopt(opt, value)
    # Nothing but TLS_CIPHERSUITE_USED prints on a get.
    assert slm.sgetopt(opt) is None


@pytest.mark.parametrize(("command", "lines"), [
    pytest.param("AT#XSSOCKETOPT=1,2,5", [], id="hostname-int"),
    pytest.param('AT#XSSOCKETOPT=1,2,"' + "h" * (MAX_URL + 1) + '"', [], id="hostname-128"),
    pytest.param("AT#XSSOCKETOPT=1,5,3", [], id="peer_verify-3"),
    pytest.param('AT#XSSOCKETOPT=1,5,"2"', [], id="peer_verify-string"),
    pytest.param("AT#XSSOCKETOPT=1,10,2", [], id="session_cache-2"),
    pytest.param("AT#XSSOCKETOPT=1,12,2", [], id="handshake_timeo-2"),
    pytest.param("AT#XSSOCKETOPT=1,12,0", [], id="handshake_timeo-0"),
    pytest.param("AT#XSSOCKETOPT=1,4,1", [], id="ciphersuite_used-set"),
    pytest.param("AT#XSSOCKETOPT=1,99,1", [], id="unknown"),
    pytest.param("AT#XSSOCKETOPT=1,5", [], id="value-missing"),
    pytest.param("AT#XSSOCKETOPT=1,5,", [], id="value-empty"),
    *[pytest.param(f"AT#XSSOCKETOPT=1,{n},1", ['#XSSOCKETOPT: "not supported"'],
                   id=f"not-supported-{n}") for n in (3, 7, 8, 9)],
])
def test_secure_option_refused(slm, tls, command, lines):
    refused(slm, command, lines)


@pytest.mark.parametrize("command", ["AT#XSSOCKETOPT=2,5,1", "AT#XSSOCKETOPT=0,99"],
                         ids=["op-2", "get-unknown"])
def test_secure_option_silent_ok(slm, tls, command):
    assert slm.at(command).lines == []


@pytest.mark.parametrize("command", [
    "AT#XSSOCKETOPT=1,5,2", "AT#XSSOCKETOPT=0,4", "AT#XSSOCKETOPT=1",
], ids=["set", "get", "unparsed"])
def test_secure_option_on_a_plain_socket_is_refused(slm, udp, command):
    # Refused before the parameters are even parsed.
    refused(slm, command)


def test_secure_option_without_socket_is_refused(slm):
    refused(slm, "AT#XSSOCKETOPT=1,5,2")


def test_secure_option_test_form(slm):
    assert slm.ssocketopt_test() == "(1),<name>,<value>"


def test_secure_option_doc_example(slm, tls):
    assert slm.at("AT#XSSOCKETOPT=1,5,2").lines == []


@feature("dtls")
def test_dtls_handshake_timeout_on_a_dtls_socket(slm, sec_tags):
    slm.ssocket_open(Family.IPV4, SocketType.DGRAM, Role.CLIENT, SEC_TAG)
    for value in DTLS_HANDSHAKE_TIMEOUTS:
        slm.ssetopt(TlsOpt.DTLS_HANDSHAKE_TIMEO, value)
    refused(slm, "AT#XSSOCKETOPT=1,12,4")
