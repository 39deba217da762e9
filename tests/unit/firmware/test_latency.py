"""`slm-sim --latency/--jitter`: the network round trip of a cellular link, on top of loopback.

Only lower bounds on time are asserted (a busy host can make anything slower, never faster), and
what the modem may see before the round trip is over is checked by its answers.
"""

from __future__ import annotations

import random
import time

import pytest
from socket_peers import SEC_TAG

from firmware_ref.cli import build_parser
from firmware_ref.net import latency
from firmware_ref.testing import ERROR, OK, at, info

RTT = 0.6


@pytest.fixture
def lte():
    with latency.emulate(RTT) as conditions:
        yield conditions


def test_parse_duration() -> None:
    assert latency.parse_duration("600ms") == pytest.approx(0.6)
    assert latency.parse_duration("0.6s") == pytest.approx(0.6)
    assert latency.parse_duration("2") == 2.0
    for bad in ("", "fast", "-1ms", "nan", "inf"):
        with pytest.raises(ValueError):
            latency.parse_duration(bad)


def test_cli_options() -> None:
    args = build_parser().parse_args(["--pty", "--latency", "600ms", "--jitter", "200ms"])
    assert (args.latency, args.jitter) == (pytest.approx(0.6), pytest.approx(0.2))
    assert build_parser().parse_args(["--pty"]).latency == 0.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--pty", "--latency", "soon"])


def test_round_trips_stay_within_the_jitter() -> None:
    rng = random.Random(7)
    conditions = latency.Conditions(0.6, 0.2)
    trips = [conditions.round_trip(rng) for _ in range(2000)]
    assert min(trips) >= 0.4 and max(trips) <= 0.8
    assert min(trips) < 0.45 and max(trips) > 0.75  # the whole range is used
    assert latency.Conditions(0.1, 0.3).round_trip(rng) >= 0.0
    assert latency.Conditions().round_trip(rng) == 0.0


def test_connect_takes_a_round_trip(harness, tcp_echo, lte) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    start = time.monotonic()
    out = at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    assert out == info("#XCONNECT: 1") + OK
    assert time.monotonic() - start >= RTT


def test_an_echo_is_not_there_before_its_round_trip(harness, tcp_echo, lte) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    sent = time.monotonic()
    assert at(harness, 'AT#XSEND="ping"') == info("#XSEND: 4") + OK
    # The peer has echoed long ago on loopback; the modem must not see it yet.
    assert tcp_echo.wait_received(4) == b"ping"
    assert at(harness, "AT#XPOLL=0") == OK
    assert at(harness, "AT#XRECV=5") == info("#XRECV: 4") + b"ping" + OK
    assert time.monotonic() - sent >= RTT


def test_udp_reply_waits_its_round_trip(harness, udp_echo, lte) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    sent = time.monotonic()
    at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"hi"')
    out = at(harness, "AT#XRECVFROM=5")
    assert out == info('#XRECVFROM: 2,"127.0.0.1"') + b"hi" + OK
    assert time.monotonic() - sent >= RTT


def test_a_datagram_with_nowhere_to_go_fails_at_once(harness, lte) -> None:
    """send() on an unconnected UDP socket: the host refuses it (EDESTADDRREQ) before anything
    leaves, so the modem reports the failure as it does without a round trip. The uplink took
    it and reported 7 bytes sent."""
    at(harness, "AT#XSOCKET=1,2,0")
    assert at(harness, 'AT#XSEND="nowhere"') == info("#XSEND: 0") + ERROR


def test_dns_of_a_name_takes_a_round_trip(harness, lte) -> None:
    start = time.monotonic()
    assert at(harness, 'AT#XGETADDRINFO="localhost"').endswith(OK)
    assert time.monotonic() - start >= RTT


def test_tls_handshake_pays_its_flights(harness, tls_echo, lte) -> None:
    at(harness, f"AT#XSSOCKET=1,1,0,{SEC_TAG}")
    start = time.monotonic()
    out = at(harness, f'AT#XCONNECT="127.0.0.1",{tls_echo.port}', timeout=20)
    assert out == info("#XCONNECT: 1") + OK
    # SYN, then two server flights of the TLS 1.2 handshake.
    assert time.monotonic() - start >= 3 * RTT


def test_no_latency_by_default(harness, tcp_echo) -> None:
    assert not latency.current().active
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    at(harness, 'AT#XSEND="x"')
    assert tcp_echo.wait_received(1) == b"x"
    assert at(harness, "AT#XRECV=5") == info("#XRECV: 1") + b"x" + OK


# The uplink: what the modem sends reaches the peer half a round trip later, in order, and a
# close does not cut it off; the echo still costs the whole round trip (half each way).


def _secure(h, kind: int) -> None:
    assert at(h, f"AT#XSSOCKET=1,{kind},0,{SEC_TAG}").endswith(OK)


def test_a_send_reaches_the_peer_half_a_round_trip_later(harness, tcp_echo, lte) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    sent = time.monotonic()
    assert at(harness, 'AT#XSEND="ab"') == info("#XSEND: 2") + OK
    assert at(harness, 'AT#XSEND="cd"') == info("#XSEND: 2") + OK
    assert tcp_echo.wait_received(4) == b"abcd"  # one stream, never reordered
    assert time.monotonic() - sent >= RTT / 2
    assert at(harness, "AT#XRECV=5") == info("#XRECV: 4") + b"abcd" + OK
    assert time.monotonic() - sent >= RTT


def test_a_datagram_reaches_the_peer_half_a_round_trip_later(harness, udp_echo, lte) -> None:
    at(harness, "AT#XSOCKET=1,2,0")
    sent = time.monotonic()
    out = at(harness, f'AT#XSENDTO="127.0.0.1",{udp_echo.port},"hi"')
    assert out == info("#XSENDTO: 2") + OK
    assert udp_echo.wait_received(2) == b"hi"
    assert time.monotonic() - sent >= RTT / 2


def test_a_close_lets_what_is_on_its_way_arrive(harness, tcp_echo, lte) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, f'AT#XCONNECT="127.0.0.1",{tcp_echo.port}')
    assert at(harness, 'AT#XSEND="last words"') == info("#XSEND: 10") + OK
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    assert tcp_echo.wait_received(10) == b"last words"


@pytest.mark.parametrize(
    "peer_name,kind,payload",
    [("tls_echo", 1, b"sealed"), ("dtls_echo", 2, b"over DTLS")],
    ids=["tls", "dtls"],
)
def test_secure_data_takes_the_uplink_too(request, harness, lte, peer_name, kind, payload) -> None:
    peer = request.getfixturevalue(peer_name)
    _secure(harness, kind)
    out = at(harness, f'AT#XCONNECT="127.0.0.1",{peer.port}', timeout=20)
    assert out == info("#XCONNECT: 1") + OK
    sent = time.monotonic()
    size = len(payload)
    assert at(harness, f'AT#XSEND="{payload.decode()}"') == info(f"#XSEND: {size}") + OK
    assert peer.wait_received(size) == payload
    assert time.monotonic() - sent >= RTT / 2
    out = at(harness, "AT#XRECV=5", timeout=10)
    assert out == info(f"#XRECV: {size}") + payload + OK
    assert time.monotonic() - sent >= RTT
