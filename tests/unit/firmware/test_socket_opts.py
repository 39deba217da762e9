"""Golden transcripts: #XSOCKETOPT and #XSSOCKETOPT (behaviour file sections 3.5, 3.6, 6)."""

from __future__ import annotations

import socket

import pytest
from socket_peers import SEC_TAG

from firmware_ref.dialects.v20 import sockets
from firmware_ref.testing import ERROR, OK, at, info
from pytest_slm.peers.ports import unused_port

NOT_SUPPORTED = '#XSOCKETOPT: "not supported"'
S_NOT_SUPPORTED = '#XSSOCKETOPT: "not supported"'


@pytest.fixture
def tcp(harness):
    assert at(harness, "AT#XSOCKET=1,1,0").endswith(OK)
    return harness


@pytest.fixture
def tls(harness):
    assert at(harness, f"AT#XSSOCKET=1,1,0,{SEC_TAG}").endswith(OK)
    return harness


def host_socket(h) -> socket.socket:
    return sockets.state(h.fw).fds.get(0).sock


# ---------------------------------------------------------------------------- #XSOCKETOPT


def test_timeouts_doc_example(tcp) -> None:
    assert at(tcp, "AT#XSOCKETOPT=1,20,30") == OK
    # The doc shows "#XSOCKETOPT: 30"; v2.0 prints the value quoted with " sec".
    assert at(tcp, "AT#XSOCKETOPT=0,20") == info('#XSOCKETOPT: "30 sec"') + OK
    assert at(tcp, "AT#XSOCKETOPT=0,21") == info('#XSOCKETOPT: "0 sec"') + OK
    assert at(tcp, "AT#XSOCKETOPT=1,21,7") == OK
    assert at(tcp, "AT#XSOCKETOPT=0,21") == info('#XSOCKETOPT: "7 sec"') + OK
    # A missing value is the int 0.
    assert at(tcp, "AT#XSOCKETOPT=1,20") == OK
    assert at(tcp, "AT#XSOCKETOPT=0,20") == info('#XSOCKETOPT: "0 sec"') + OK


def test_reuseaddr_is_a_real_option(tcp) -> None:
    assert at(tcp, "AT#XSOCKETOPT=1,2,1") == OK
    assert host_socket(tcp).getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    # The get of SO_REUSEADDR prints nothing in v2.0.
    assert at(tcp, "AT#XSOCKETOPT=0,2") == OK
    assert at(tcp, "AT#XSOCKETOPT=1,2,0") == OK
    assert host_socket(tcp).getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 0


def test_so_error(harness) -> None:
    port = unused_port()
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSOCKETOPT=0,4") == info("#XSOCKETOPT: 0") + OK
    assert at(harness, "AT#XSOCKETOPT=1,4,0") == ERROR  # get-only
    at(harness, "AT#XSOCKET=1,2,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{port}')
    at(harness, 'AT#XSEND="x"')
    # The ICMP port unreachable is pending on the connected UDP socket: ECONNREFUSED.
    assert at(harness, "AT#XSOCKETOPT=0,4") == info("#XSOCKETOPT: 111") + OK
    assert at(harness, "AT#XSOCKETOPT=0,4") == info("#XSOCKETOPT: 0") + OK


@pytest.mark.parametrize(
    ("name", "default", "good", "bad"),
    [
        (30, 0, 1, 2),  # SO_SILENCE_ALL
        (31, 1, 0, -1),  # SO_IP_ECHO_REPLY (the modem answers pings by default)
        (32, 1, 0, 5),  # SO_IPV6_ECHO_REPLY
        (55, 0, 135, 136),  # SO_TCP_SRV_SESSTIMEO, minutes
    ],
)
def test_modem_options(tcp, name: int, default: int, good: int, bad: int) -> None:
    assert at(tcp, f"AT#XSOCKETOPT=0,{name}") == info(f"#XSOCKETOPT: {default}") + OK
    assert at(tcp, f"AT#XSOCKETOPT=1,{name},{good}") == OK
    assert at(tcp, f"AT#XSOCKETOPT=0,{name}") == info(f"#XSOCKETOPT: {good}") + OK
    assert at(tcp, f"AT#XSOCKETOPT=1,{name},{bad}") == ERROR
    assert at(tcp, f"AT#XSOCKETOPT=0,{name}") == info(f"#XSOCKETOPT: {good}") + OK


@pytest.mark.parametrize("name", [50, 51, 52, 53, 54])
def test_rai_options_are_set_only(tcp, name: int) -> None:
    assert at(tcp, f"AT#XSOCKETOPT=1,{name},0") == OK
    assert at(tcp, f"AT#XSOCKETOPT=1,{name}") == OK
    assert at(tcp, f"AT#XSOCKETOPT=0,{name}") == OK


def test_bindtodevice_takes_a_string(tcp) -> None:
    assert at(tcp, 'AT#XSOCKETOPT=1,25,"pdn0"') == OK
    assert at(tcp, "AT#XSOCKETOPT=0,25") == OK  # get prints nothing
    assert at(tcp, 'AT#XSOCKETOPT=1,25,"' + "i" * 47 + '"') == OK
    assert at(tcp, 'AT#XSOCKETOPT=1,25,"' + "i" * 48 + '"') == ERROR  # IFNAMSIZ buffer
    assert at(tcp, "AT#XSOCKETOPT=1,25,1") == ERROR  # an int has no setter for 25
    assert at(tcp, 'AT#XSOCKETOPT=1,20,"30"') == ERROR  # a string has no setter for 20


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("AT#XSOCKETOPT=1,12,1", info(NOT_SUPPORTED) + ERROR),  # SO_PRIORITY
        ("AT#XSOCKETOPT=1,37,1", info(NOT_SUPPORTED) + ERROR),  # SO_TIMESTAMPING
        ("AT#XSOCKETOPT=0,12", info(NOT_SUPPORTED) + OK),
        ("AT#XSOCKETOPT=0,3", info(NOT_SUPPORTED) + OK),  # SO_TYPE
        ("AT#XSOCKETOPT=0,38", info(NOT_SUPPORTED) + OK),  # SO_PROTOCOL
        ("AT#XSOCKETOPT=1,3,1", ERROR),
        ("AT#XSOCKETOPT=1,38,1", ERROR),
        ("AT#XSOCKETOPT=0,37", OK),
        ("AT#XSOCKETOPT=1,99,1", ERROR),  # unknown name
        ("AT#XSOCKETOPT=0,99", OK),  # unknown get: silent
        ("AT#XSOCKETOPT=2,20,1", OK),  # unknown op: silent
        ("AT#XSOCKETOPT=65535,1", OK),
    ],
)
def test_option_table_corners(tcp, command: str, expected: bytes) -> None:
    assert at(tcp, command) == expected


@pytest.mark.parametrize(
    "command",
    [
        "AT#XSOCKETOPT",
        "AT#XSOCKETOPT=",
        "AT#XSOCKETOPT=1",  # missing name
        "AT#XSOCKETOPT=2",
        "AT#XSOCKETOPT=65536,20",
        "AT#XSOCKETOPT=1,65536,1",
        "AT#XSOCKETOPT=-1,20",
        'AT#XSOCKETOPT="1",20,1',
        "AT#XSOCKETOPT=1,20,2147483648",
        "AT#XSOCKETOPT=1,20,0x1e",
        "AT#XSOCKETOPT=1,20,(1,2)",
        "AT#XSOCKETOPT=1,20,,",
        "AT#XSOCKETOPT=1,20,abc",
        "AT#XSOCKETOPT?",
    ],
)
def test_socketopt_bad_input(tcp, command: str) -> None:
    assert at(tcp, command) == ERROR


def test_socketopt_test_form(harness) -> None:
    assert at(harness, "AT#XSOCKETOPT=?") == info("#XSOCKETOPT: (0,1),<name>,<value>") + OK


def test_socketopt_without_active_socket(harness) -> None:
    # The firmware calls setsockopt/getsockopt on fd -1 unchecked: EBADF, ERROR.
    assert at(harness, "AT#XSOCKETOPT=1,20,30") == ERROR
    assert at(harness, "AT#XSOCKETOPT=0,20") == ERROR
    assert at(harness, "AT#XSOCKETOPT=0,4") == ERROR
    # Branches that never reach the socket still answer as usual.
    assert at(harness, "AT#XSOCKETOPT=0,2") == OK
    assert at(harness, "AT#XSOCKETOPT=0,3") == info(NOT_SUPPORTED) + OK
    assert at(harness, "AT#XSOCKETOPT=1,12,0") == info(NOT_SUPPORTED) + ERROR
    assert at(harness, "AT#XSOCKETOPT=2,20") == OK


def test_sndtimeo_bounds_nothing_visible_but_reads_back(tcp) -> None:
    assert at(tcp, "AT#XSOCKETOPT=1,21,30") == OK
    assert host_socket(tcp).gettimeout() == 0.0  # host socket stays non-blocking


# ---------------------------------------------------------------------------- #XSSOCKETOPT


def test_ssocketopt_doc_example(tls) -> None:
    assert at(tls, "AT#XSSOCKETOPT=1,5,2") == OK


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('AT#XSSOCKETOPT=1,2,"example.com"', OK),
        ('AT#XSSOCKETOPT=1,2,"NULL"', OK),
        ('AT#XSSOCKETOPT=1,2,"' + "h" * 127 + '"', OK),
        ('AT#XSSOCKETOPT=1,2,"' + "h" * 128 + '"', ERROR),
        ("AT#XSSOCKETOPT=1,2,1", ERROR),  # the hostname is a string
        ("AT#XSSOCKETOPT=1,5,0", OK),
        ("AT#XSSOCKETOPT=1,5,1", OK),
        ("AT#XSSOCKETOPT=1,5,3", ERROR),
        ('AT#XSSOCKETOPT=1,5,"2"', ERROR),
        ("AT#XSSOCKETOPT=1,10,1", OK),
        ("AT#XSSOCKETOPT=1,10,0", OK),
        ("AT#XSSOCKETOPT=1,10,2", ERROR),
        ("AT#XSSOCKETOPT=1,11,0", OK),
        ("AT#XSSOCKETOPT=1,11,-12345", OK),  # purge: any value
        ("AT#XSSOCKETOPT=1,12,1", OK),
        ("AT#XSSOCKETOPT=1,12,123", OK),
        ("AT#XSSOCKETOPT=1,12,2", ERROR),
        ("AT#XSSOCKETOPT=1,12,0", ERROR),
        ("AT#XSSOCKETOPT=1,3,1", info(S_NOT_SUPPORTED) + ERROR),  # cipher list
        ("AT#XSSOCKETOPT=1,7,1", info(S_NOT_SUPPORTED) + ERROR),  # ALPN
        ("AT#XSSOCKETOPT=1,8,1", info(S_NOT_SUPPORTED) + ERROR),
        ("AT#XSSOCKETOPT=1,9,1", info(S_NOT_SUPPORTED) + ERROR),
        ("AT#XSSOCKETOPT=1,4,1", ERROR),  # get-only
        ("AT#XSSOCKETOPT=1,99,1", ERROR),
        ("AT#XSSOCKETOPT=1,5", ERROR),  # the value is mandatory
        ("AT#XSSOCKETOPT=1,5,,", ERROR),
        ("AT#XSSOCKETOPT=0,4", info("#XSSOCKETOPT: 0") + OK),
        ("AT#XSSOCKETOPT=0,2", OK),  # other gets: plain OK
        ("AT#XSSOCKETOPT=0,5", OK),
        ("AT#XSSOCKETOPT=2,5,1", OK),  # other ops: plain OK
        ("AT#XSSOCKETOPT=0", ERROR),
        ("AT#XSSOCKETOPT=65536,1,1", ERROR),
        ("AT#XSSOCKETOPT?", ERROR),
    ],
)
def test_ssocketopt(tls, command: str, expected: bytes) -> None:
    assert at(tls, command) == expected


def test_ssocketopt_refused_on_plain_or_no_socket(harness) -> None:
    # Refused before any parsing, so even garbage answers a bare ERROR.
    assert at(harness, "AT#XSSOCKETOPT=1,5,2") == ERROR
    assert at(harness, "AT#XSSOCKETOPT=0,4") == ERROR
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSSOCKETOPT=1,5,2") == ERROR
    assert at(harness, "AT#XSSOCKETOPT=1,3,1") == ERROR  # no "not supported" line either
    assert at(harness, "AT#XSSOCKETOPT=2") == ERROR
    # The test form does not look at the socket.
    assert at(harness, "AT#XSSOCKETOPT=?") == info("#XSSOCKETOPT: (1),<name>,<value>") + OK


def test_ssocketopt_dtls(harness) -> None:
    at(harness, f"AT#XSSOCKET=1,2,0,{SEC_TAG}")
    assert at(harness, "AT#XSSOCKETOPT=1,12,63") == OK
    assert at(harness, "AT#XSSOCKETOPT=0,4") == info("#XSSOCKETOPT: 0") + OK


def test_plain_options_also_work_on_secure_sockets(tls) -> None:
    assert at(tls, "AT#XSOCKETOPT=1,20,5") == OK
    assert at(tls, "AT#XSOCKETOPT=0,20") == info('#XSOCKETOPT: "5 sec"') + OK
