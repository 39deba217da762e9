"""Golden transcripts: Serial Modem's asynchronous socket events.

#XAPOLL URCs (sm_at_socket.c:375, poll work 314-438, handle_at_xapoll 2310-2379), #XSENDNTF
(send_cb_fn 446-461), automatic reception (#XRECVCFG 2381-2466, auto_reception 234-264), all
sent as idle work (sm_at_host.c idle_work, is_idle_ctx).
"""

from __future__ import annotations

import socket

from smtools import ERROR, OK, at, info, local_port, open_tcp

from firmware_ref.testing import FirmwareHarness

POLLIN = 1
POLLOUT = 4
POLLHUP = 16


def apoll_events(h: FirmwareHarness, fd: int, wanted: int) -> list[int]:
    """Read ``#XAPOLL: <fd>,<revents>`` URCs until their events add up to ``wanted``; each
    event may come once. Returns the revents in arrival order."""
    seen: list[int] = []
    total = 0
    while total != wanted:
        urc = h.read_until(b"\r\n", 5) + h.read_until(b"\r\n")
        prefix = f"\r\n#XAPOLL: {fd},".encode()
        assert urc.startswith(prefix) and urc.endswith(b"\r\n"), urc
        revents = int(urc[len(prefix) : -2])
        assert revents and not revents & total and not revents & ~wanted, (seen, revents)
        seen.append(revents)
        total |= revents
    return seen


def test_xapoll_documented_flow(sm, tcp_echo) -> None:
    # doc/app/at_socket.rst, #XAPOLL example: POLLOUT once connected and after each send.
    assert at(sm, "AT#XAPOLL=,1,5") == OK
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    sm.assert_silent(0.2)  # an unconnected TCP socket reports nothing
    assert at(sm, f'AT#XCONNECT=0,"127.0.0.1",{tcp_echo.port}') == info("#XCONNECT: 0,1") + OK
    assert sm.read_until(b"#XAPOLL: 0,4\r\n") == b"\r\n#XAPOLL: 0,4\r\n"
    assert at(sm, 'AT#XSEND=0,0,0,"echo"') == info("#XSEND: 0,0,4") + OK
    # POLLOUT again (re-armed by the send) and POLLIN for the echo: one URC or two.
    assert apoll_events(sm, 0, POLLIN | POLLOUT) in ([5], [4, 1], [1, 4])
    assert at(sm, "AT#XRECV=0,0,0,1") == info("#XRECV: 0,0,4") + b"echo" + OK
    assert at(sm, "AT#XCLOSE=0") == info("#XCLOSE: 0,0") + OK
    # A UDP socket is writable at once.
    assert at(sm, "AT#XSOCKET=2,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert sm.read_until(b"#XAPOLL: 0,4\r\n") == b"\r\n#XAPOLL: 0,4\r\n"
    assert at(sm, "AT#XAPOLL=,0") == OK
    assert at(sm, "AT#XAPOLL?") == OK


def test_xapoll_peer_close_is_pollin_pollhup(sm) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert at(sm, "AT#XAPOLL=,1,1") == OK
        fd = open_tcp(sm, server.getsockname()[1])
        conn, _ = server.accept()
        conn.sendall(b"bye")
        conn.close()
    # The documentation's example: "#XAPOLL: 0,17" (POLLIN|POLLHUP); both may also come apart.
    assert apoll_events(sm, fd, POLLIN | POLLHUP) in ([17], [1, 16])
    assert at(sm, f"AT#XRECV={fd},0,0,1") == info(f"#XRECV: {fd},0,3") + b"bye" + OK
    sm.assert_silent(0.3)  # POLLHUP is reported once: the socket's polling is disabled


def test_xapoll_hang_up_comes_with_the_fin_under_latency(sm) -> None:
    """With --latency the peer's FIN is on its way for a round trip. The hang-up was looked up
    on the host socket past that gate: POLLHUP came first, alone, before the FIN was readable."""
    from firmware_ref.net import latency

    with latency.emulate(0.6), socket.create_server(("127.0.0.1", 0)) as server:
        assert at(sm, "AT#XAPOLL=,1,1") == OK
        fd = open_tcp(sm, server.getsockname()[1])
        conn, _ = server.accept()
        conn.close()
        assert apoll_events(sm, fd, POLLIN | POLLHUP) in ([17], [1, 16])


def test_xapoll_read_per_socket(sm) -> None:
    # The documentation's read example (handle_at_xapoll READ, xapoll_read_response 2266).
    assert at(sm, "AT#XAPOLL=,1,1") == OK
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 1,1,6") + OK
    assert at(sm, "AT#XAPOLL=1,1,4") == OK
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 2,1,6") + OK
    assert at(sm, "AT#XAPOLL?") == info("#XAPOLL: 0,1", "#XAPOLL: 1,4", "#XAPOLL: 2,1") + OK
    assert at(sm, "AT#XAPOLL=1,0") == OK
    assert at(sm, "AT#XAPOLL?") == info("#XAPOLL: 0,1", "#XAPOLL: 2,1") + OK
    assert at(sm, "AT#XAPOLL=,0") == OK
    assert at(sm, "AT#XAPOLL?") == OK


def test_xapoll_errors(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XAPOLL=,1,2") == ERROR  # only POLLIN and POLLOUT (2352)
    assert at(sm, "AT#XAPOLL=,2,1") == ERROR  # op (2338)
    assert at(sm, "AT#XAPOLL=5,1,1") == ERROR  # no such handle (2333)
    # <events> is required to start: the documented "[<events>]" is not optional in the code.
    assert at(sm, "AT#XAPOLL=,1") == ERROR
    assert at(sm, "AT#XAPOLL=,1,") == ERROR
    assert at(sm, "AT#XAPOLL=0,1,0") == OK  # only the permanent events
    assert at(sm, "AT#XAPOLL?") == info("#XAPOLL: 0,0") + OK
    # fd -1 is "no handle": every socket.
    assert at(sm, "AT#XAPOLL=-1,1,1") == OK
    assert at(sm, "AT#XAPOLL?") == info("#XAPOLL: 0,1") + OK


def test_sendntf(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # Flag 8192: "#XSEND: <fd>,1,<n>" then, once the peer has the data, "#XSENDNTF: <fd>,0,<n>".
    assert at(sm, f'AT#XSEND={fd},0,8192,"no echo"') == info(f"#XSEND: {fd},1,7") + OK
    assert sm.read_until(b"#XSENDNTF: 0,0,7\r\n") == b"\r\n#XSENDNTF: 0,0,7\r\n"
    assert at(sm, f"AT#XRECV={fd},0,0,5") == info(f"#XRECV: {fd},0,7") + b"no echo" + OK


def test_sendntf_in_data_mode(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # The documentation's example: OK, data, "#XDATAMODE: 0", then "#XSENDNTF".
    assert at(sm, f"AT#XSEND={fd},2,8192") == OK
    sm.feed(b"Test datamode with flags+++")
    assert sm.read_until(b"#XSENDNTF: 0,0,24\r\n") == (
        b"\r\n#XDATAMODE: 0\r\n\r\n#XSENDNTF: 0,0,24\r\n"
    )


def test_sendntf_udp_with_xapoll(sm, udp_echo) -> None:
    assert at(sm, "AT#XAPOLL=,1,4") == OK
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert sm.read_until(b"#XAPOLL: 0,4\r\n") == b"\r\n#XAPOLL: 0,4\r\n"
    assert at(sm, f'AT#XCONNECT=0,"127.0.0.1",{udp_echo.port}') == info("#XCONNECT: 0,1") + OK
    assert at(sm, 'AT#XSEND=0,0,8192,"no echo"') == info("#XSEND: 0,1,7") + OK
    # send_cb_fn: the notification, then POLLOUT re-armed (456-459).
    assert sm.read_until(b"#XAPOLL: 0,4\r\n") == (b"\r\n#XSENDNTF: 0,0,7\r\n\r\n#XAPOLL: 0,4\r\n")


def test_recvcfg_auto_reception(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, "AT#XRECVCFG=,1,0") == OK
    assert at(sm, f'AT#XSEND={fd},0,0,"auto"') == info(f"#XSEND: {fd},0,4") + OK
    # auto_reception: the #XRECV header, the data, then CRLF (262).
    assert sm.read_until(b"auto\r\n") == info(f"#XRECV: {fd},0,4") + b"auto\r\n"
    assert at(sm, "AT#XRECVCFG?") == info(f"#XRECVCFG: {fd},1,0") + OK
    assert at(sm, f"AT#XRECVCFG={fd},1,1") == OK
    assert at(sm, f'AT#XSEND={fd},0,0,"hex"') == info(f"#XSEND: {fd},0,3") + OK
    assert sm.read_until(b"686578\r\n") == info(f"#XRECV: {fd},1,3") + b"686578\r\n"
    assert at(sm, "AT#XRECVCFG=,0") == OK
    assert at(sm, "AT#XRECVCFG?") == OK


def test_recvcfg_udp_recvfrom(sm, udp_echo) -> None:
    assert at(sm, "AT#XRECVCFG=,1") == OK
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    line = f'AT#XSENDTO=0,0,0,"127.0.0.1",{udp_echo.port},"u"'
    assert at(sm, line) == info("#XSENDTO: 0,0,1") + OK
    expected = info(f'#XRECVFROM: 0,0,1,"127.0.0.1",{udp_echo.port}') + b"u\r\n"
    assert sm.read_until(b"u\r\n") == expected


def test_recvcfg_in_data_mode(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XRECVCFG={fd},2") == OK
    assert at(sm, f"AT#XSEND={fd},2,0") == OK
    sm.feed(b"loop")
    # In data mode the received bytes come raw: no header, no CRLF (do_recv 1127, 261).
    assert sm.read_until(b"loop") == b"loop"
    sm.feed(b"+++")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"


def test_data_mode_reception_alone_leaves_later_data_in_the_socket(sm, tcp_echo) -> None:
    # <data_len> ends data mode right after the last byte goes out (raw_rx_handler, sm_at_host.c
    # 828-833), so the echo comes in command mode, where flag 2 alone does not receive (poll
    # work 409-410): nothing is printed, and the data waits for #XRECV.
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XRECVCFG={fd},2") == OK
    assert at(sm, f"AT#XSEND={fd},2,0,4") == OK
    sm.feed(b"late")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"
    tcp_echo.wait_received(4)
    sm.assert_silent(0.3)
    assert at(sm, f"AT#XRECV={fd},0,0,1") == info(f"#XRECV: {fd},0,4") + b"late" + OK


def test_recvcfg_errors(sm) -> None:
    assert at(sm, "AT#XRECVCFG=,4") == ERROR  # flags (2406)
    assert at(sm, "AT#XRECVCFG=,1,2") == ERROR  # hex_mode (2412)
    assert at(sm, "AT#XRECVCFG=,2,1") == ERROR  # hex with data mode (2416)
    assert at(sm, "AT#XRECVCFG=3,1") == ERROR  # no such handle
    assert at(sm, "AT#XRECVCFG=") == ERROR


def test_pollin_is_reported_once_per_receive(sm, udp_echo) -> None:
    # POLLIN leaves the polled events when reported (poll work 404-406) and comes back with
    # the next receive (do_recvfrom 1257): one URC per #XRECVFROM, however much is queued.
    assert at(sm, "AT#XAPOLL=,1,1") == OK
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    send = 'AT#XSENDTO=0,0,0,"127.0.0.1",{},"{}"'
    assert at(sm, send.format(udp_echo.port, "x")) == info("#XSENDTO: 0,0,1") + OK
    assert sm.read_until(b"#XAPOLL: 0,1\r\n") == b"\r\n#XAPOLL: 0,1\r\n"
    assert at(sm, send.format(udp_echo.port, "y")) == info("#XSENDTO: 0,0,1") + OK
    udp_echo.wait_received(2)
    sm.assert_silent(0.3)
    origin = f'"127.0.0.1",{udp_echo.port}'
    assert at(sm, "AT#XRECVFROM=0,0,0,1") == info(f"#XRECVFROM: 0,0,1,{origin}") + b"x" + OK
    assert sm.read_until(b"#XAPOLL: 0,1\r\n") == b"\r\n#XAPOLL: 0,1\r\n"
    assert at(sm, "AT#XRECVFROM=0,0,0,1") == info(f"#XRECVFROM: 0,0,1,{origin}") + b"y" + OK
    sm.assert_silent(0.3)


def test_xapoll_urc_lands_inside_automatic_reception(sm, tcp_echo) -> None:
    # With both #XAPOLL (POLLIN) and #XRECVCFG on, one poll work item queues the #XAPOLL URC
    # (urc_send_to 375, sent later by idle work) and then receives (auto_reception 234): the
    # #XRECV header goes out first (rsp_send 1128), and data_send (sm_at_host.c:1490, is_idle
    # then flush_pipe_urcs) flushes the pending URC before the payload. The URC ends up between
    # header and data; the CRLF after the data is auto_reception's (262).
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, "AT#XAPOLL=,1,1") == OK
    assert at(sm, "AT#XRECVCFG=,1") == OK
    assert at(sm, f'AT#XSEND={fd},0,0,"data"') == info(f"#XSEND: {fd},0,4") + OK
    assert sm.read_until(b"data\r\n") == (
        info(f"#XRECV: {fd},0,4") + info(f"#XAPOLL: {fd},1") + b"data\r\n"
    )


def test_events_during_data_mode_come_after_it(sm, tcp_echo) -> None:
    # Poll work while the host is not idle stores the events (delayed_revents, 348-353) and
    # queues idle work; back in command mode they are re-armed and reported (356-365).
    assert at(sm, "AT#XAPOLL=,1,1") == OK
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, "AT#XBIND=0,0") == OK
    udp_port = local_port(sm, 0)
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XSEND={fd},2,0") == OK
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.sendto(b"while", ("127.0.0.1", udp_port))
        sm.assert_silent(0.3)
        sm.feed(b"+++")
        out = sm.read_until(b"#XAPOLL: 0,1\r\n")
    # Nothing was sent in data mode, so only the UDP socket has news, told after the exit.
    assert out == b"\r\n#XDATAMODE: 0\r\n\r\n#XAPOLL: 0,1\r\n"


def test_xapoll_stop_keeps_an_armed_report(sm, udp_echo) -> None:
    # xapoll_stop (2246-2264) clears the requested events, not the ones already armed for a
    # report (xapoll_events): the next POLLIN still produces one #XAPOLL.
    assert at(sm, "AT#XAPOLL=,1,1") == OK
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, "AT#XAPOLL=,0") == OK
    assert at(sm, "AT#XAPOLL?") == OK
    send = f'AT#XSENDTO=0,0,0,"127.0.0.1",{udp_echo.port},"late"'
    assert at(sm, send) == info("#XSENDTO: 0,0,4") + OK
    assert sm.read_until(b"#XAPOLL: 0,1\r\n") == b"\r\n#XAPOLL: 0,1\r\n"
    # Re-armed by the receive without a request: no more reports.
    assert at(sm, "AT#XRECVFROM=0,0,0,5").endswith(b"late" + OK)
    assert at(sm, send) == info("#XSENDTO: 0,0,4") + OK
    udp_echo.wait_received(8)
    sm.assert_silent(0.3)
