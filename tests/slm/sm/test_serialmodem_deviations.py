"""Where Serial Modem v2.0.0-preview1's code does not do what doc/app says: each test asserts
the documentation and is a strict xfail that names the version, so it turns red the day a
release does what its documentation says (or deviates differently).

The code paths: sm_at_socket.c do_socket_open (raw sockets), handle_at_xapoll (events),
handle_at_sendto (udp_url left set on an early return), sm_at_host.c handle_at_datactrl.
"""

from __future__ import annotations

from slmsuite import LONG, documented, sm_deviation

from pytest_slm.bringup import go_online
from pytest_slm.slm_types import Family, SocketType


@sm_deviation("the doc's AT#XSOCKET=1,3,0 opens a raw socket; the code needs family 3 for type 3")
def test_raw_socket_of_the_ipv4_family_opens_as_documented(slm):
    result = slm.at("AT#XSOCKET=1,3,0", check=False)
    answer = (result.lines, result.final)
    ok = result.ok and len(result.lines) == 1 and result.lines[0].endswith(",3,0")
    documented(ok, True, deviation=False, what=f"AT#XSOCKET=1,3,0 answered {answer}")


@sm_deviation("#XAPOLL <events> is optional in the doc; the code refuses a start without it")
def test_apoll_start_without_events_polls_the_default_events(slm):
    h = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    result = slm.at(f"AT#XAPOLL={h},1", check=False)
    documented(result.final, "OK", deviation="ERROR", what=f"AT#XAPOLL={h},1")


@sm_deviation("a refused #XSENDTO leaves its address behind: #XSEND data mode sends there")
def test_xsend_data_mode_goes_to_the_connected_peer_after_a_refused_sendto(slm, udp_sink, udp_echo):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.connect(udp_sink.board_host, udp_sink.port)
    # Missing payload: handle_at_sendto returns -EINVAL after util_string_get filled udp_url.
    refused = slm.at(f'AT#XSENDTO={h},0,0,"{udp_echo.board_host}",{udp_echo.port}', check=False)
    assert (refused.lines, refused.final) == ([], "ERROR")
    slm.send_exact(b"where", handle=h)
    # A marker in string mode (do_send: always the connected peer) arrives after the datagram
    # when both go to the sink; alone when the datagram went elsewhere.
    slm.send(b"marker", handle=h)
    first = udp_sink.wait_until(
        lambda: [d.data for d in udp_sink.datagrams if d.data == b"marker"] and udp_sink.datagrams,
        LONG,
        what="the marker",
    )[0].data
    documented(first, b"where", deviation=b"marker", what="the connected peer's first datagram")


@sm_deviation(
    "#XDATACTRL reads 0 until data mode first computes the limit; the doc says the minimum"
)
def test_datactrl_default_is_the_minimum_after_boot(slm):
    slm.at("AT#XRESET")
    slm.wait_urc("Ready", timeout=30)
    slm.reset_state()
    try:
        limits = slm.datactrl_read()
        documented(
            limits.current,
            limits.minimum,
            deviation=0,
            what=f"#XDATACTRL: {limits.current},{limits.minimum} after a reboot",
        )
    finally:
        go_online(slm, attach_timeout=180.0)
