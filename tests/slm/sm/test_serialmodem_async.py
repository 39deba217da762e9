"""Serial Modem's notifications: #XAPOLL, #XRECVCFG automatic reception, #XSENDNTF.

From app/src/sm_at_socket.c v2.0.0-preview1: sm_at_socket_poll_work_handler (`#XAPOLL: <h>,
<revents>` for the requested events, once until a send or receive re-arms them),
auto_reception (`#XRECV`/`#XRECVFROM` header, the data, then CRLF), send_cb_fn
(`#XSENDNTF: <h>,<status>,<size>`), xapoll_read_response, handle_at_recvcfg.
"""

from __future__ import annotations

import pytest
from slmsuite import LONG, accepted, families, peer

from pytest_slm.at.transcript import RX
from pytest_slm.slm_types import (
    SM_SEND_ACK,
    DataNotification,
    Family,
    PollEvent,
    RecvCfg,
    SendNotification,
    Sent,
    SocketMode,
    SocketType,
)


def _connected(slm, request, family=Family.IPV4, kind="tcp_echo"):
    server = peer(request, kind, family)
    h = slm.socket_open(family, SocketType.STREAM).handle
    slm.connect(server.board_host, server.port)
    return h, server


# ------------------------------------------------------------------------------- #XAPOLL


@pytest.mark.parametrize("family", families())
def test_apoll_pollin_when_data_arrives(slm, request, family):
    h, _ = _connected(slm, request, family)
    slm.apoll(PollEvent.IN)
    slm.send(b"ping")
    assert slm.wait_apoll(h, timeout=LONG) == PollEvent.IN
    assert slm.recv(LONG).data == b"ping"


def test_apoll_pollin_is_re_armed_by_a_receive(slm, request):
    h, _ = _connected(slm, request)
    slm.apoll(PollEvent.IN)
    for text in (b"one", b"two", b"three"):
        slm.send(text)
        assert slm.wait_apoll(h, timeout=LONG) == PollEvent.IN
        assert slm.recv(LONG).data == text


def test_apoll_pollout_on_a_connected_socket_and_after_each_send(slm, request):
    h, _ = _connected(slm, request, kind="tcp_sink")
    slm.apoll(PollEvent.OUT)
    assert slm.wait_apoll(h, timeout=LONG) == PollEvent.OUT
    slm.send(b"x")
    assert slm.wait_apoll(h, timeout=LONG) == PollEvent.OUT


def test_apoll_both_events_report_each(slm, request):
    h, _ = _connected(slm, request)
    slm.apoll(PollEvent.IN | PollEvent.OUT)
    assert slm.wait_apoll(h, PollEvent.OUT, timeout=LONG) & PollEvent.OUT
    slm.send(b"both")
    assert slm.wait_apoll(h, PollEvent.IN, timeout=LONG) & PollEvent.IN
    assert slm.recv(LONG).data == b"both"


def test_apoll_notification_line_is_exact(slm, request):
    h, _ = _connected(slm, request)
    slm.apoll(PollEvent.IN)
    slm.send(b"z")
    assert slm.wait_urc("#XAPOLL:", timeout=LONG) == f"#XAPOLL: {h},1"


def test_apoll_for_all_sockets_covers_one_opened_later(slm, request):
    slm.apoll(PollEvent.IN, all_sockets=True)
    h, _ = _connected(slm, request)
    slm.send(b"late")
    assert slm.wait_apoll(h, timeout=LONG) == PollEvent.IN


def test_apoll_read_lists_each_socket_with_its_events(slm):
    a = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    b = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    c = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    slm.apoll(PollEvent.IN, handle=a)
    slm.apoll(PollEvent.OUT, handle=b)
    # A UDP socket is writable at once: its notification comes first. A read form sent before
    # it arrives could not be told from it (same line, and the board may print it just before
    # it reads the command), so the read waits for it.
    assert slm.wait_apoll(b, PollEvent.OUT, timeout=LONG) == PollEvent.OUT
    assert slm.apoll_read() == [(a, 1), (b, 4)]
    slm.apoll_stop(handle=a)
    assert slm.apoll_read() == [(b, 4)]
    assert c not in [h for h, _ in slm.apoll_read()]


def test_apoll_stop_for_all_empties_the_read_form(slm):
    handles = [slm.socket_open(Family.IPV4, SocketType.DGRAM).handle for _ in range(2)]
    slm.apoll(PollEvent.IN | PollEvent.OUT, all_sockets=True)
    for h in handles:
        assert slm.wait_apoll(h, PollEvent.OUT, timeout=LONG) == PollEvent.OUT
    assert slm.apoll_read() == [(h, 5) for h in handles]
    slm.apoll_stop(all_sockets=True)
    accepted(slm, "AT#XAPOLL?")


def test_apoll_reports_the_end_of_the_stream(slm, tcp_source):
    source = tcp_source(b"", close=True)
    h = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    # Before connecting: an error or hang-up event that fires while no #XAPOLL is requested
    # disables the socket's polling for good (update_poll_events returns early once
    # async_poll.disable is set), so a request made after the FIN would never be answered.
    slm.apoll(PollEvent.IN)
    slm.connect(source.board_host, source.port)
    revents = slm.wait_apoll(h, timeout=LONG)
    # A peer's FIN makes the socket readable (and may add POLLHUP, 16): never POLLOUT here.
    assert revents & PollEvent.IN and not revents & ~(PollEvent.IN | PollEvent.HUP)
    accepted(slm, f"AT#XRECV={h},0,0,{LONG}")


# ----------------------------------------------------------------------------- #XRECVCFG


@pytest.mark.parametrize("family", families())
def test_automatic_reception_delivers_tcp_data_as_a_notification(slm, request, family):
    h, _ = _connected(slm, request, family)
    slm.recvcfg(RecvCfg.AT_MODE)
    slm.send(b"Test")
    assert slm.wait_received(LONG) == DataNotification(h, 0, 4, b"Test", b"Test")


def test_automatic_reception_in_hex(slm, request):
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.AT_MODE, hex_mode=True)
    slm.send(b"Test hex")
    note = slm.wait_received(LONG)
    assert (note.handle, note.mode, note.size, note.data) == (h, 1, 8, b"Test hex")
    assert note.raw.lower() == b"Test hex".hex().encode()


def test_automatic_reception_keeps_binary_bytes(slm, request):
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.AT_MODE)
    payload = b"\r\nOK\r\n\x00#XRECV: 0,0,1\r\n"
    slm.send_exact(payload)
    got = b""
    while len(got) < len(payload):
        note = slm.wait_received(LONG)
        assert note.handle == h and note.mode == 0
        got += note.data
    assert got == payload
    # Nothing of the data leaked into the line stream.
    assert not [line for line in slm.urcs() if not line.startswith("#XAPOLL")]


def test_automatic_reception_of_udp_names_the_sender(slm, udp_echo):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.recvcfg(RecvCfg.AT_MODE)
    slm.sendto(udp_echo.board_host, udp_echo.port, b"Delayed UDP data")
    note = slm.wait_received(LONG)
    assert (note.handle, note.mode, note.size, note.data) == (h, 0, 16, b"Delayed UDP data")
    assert (note.ip, note.port) == (udp_echo.board_host, udp_echo.port)


def test_automatic_reception_for_all_sockets(slm, request):
    slm.recvcfg(RecvCfg.AT_MODE, all_sockets=True)
    h, _ = _connected(slm, request)
    slm.send(b"all")
    assert slm.wait_received(LONG).data == b"all"
    assert slm.recvcfg_read() == [(h, 1, 0)]


def test_automatic_reception_off_leaves_data_for_xrecv(slm, request):
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.AT_MODE)
    slm.recvcfg(RecvCfg.DISABLE)
    slm.send(b"manual")
    assert slm.recv(LONG).data == b"manual"
    assert slm.urc_data() == []


def _received_on_the_wire(slm, mark) -> bytes:
    return b"".join(e.data for e in slm.transcript.entries(mark) if e.direction == RX)


def test_automatic_reception_with_apoll_keeps_the_data_after_the_interleaved_urc(slm, request):
    # One poll work item queues #XAPOLL (urc_send_to, sm_at_socket.c:375) and then receives
    # (auto_reception 411): the header goes out at once (rsp_send 1128), data_send flushes the
    # pending URC (sm_at_host.c:1490), then the data and CRLF (262). The 4 bytes are the data.
    h, _ = _connected(slm, request)
    slm.apoll(PollEvent.IN)
    slm.recvcfg(RecvCfg.AT_MODE)
    mark = slm.transcript.mark()
    slm.send(b"data")
    assert slm.wait_received(LONG) == DataNotification(h, 0, 4, b"data", b"data")
    assert slm.wait_apoll(h, PollEvent.IN, timeout=LONG) == PollEvent.IN
    assert _received_on_the_wire(slm, mark).endswith(
        b"\r\n#XRECV: %d,0,4\r\n\r\n#XAPOLL: %d,1\r\ndata\r\n" % (h, h)
    )


def test_automatic_reception_in_data_mode_comes_raw(slm, request):
    # In data mode do_recv prints no header (sm_at_socket.c:1127) and auto_reception no CRLF
    # (260): the echo is the bytes themselves, lines and all (doc: "DATA TEST").
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.DATA_MODE, handle=h)
    payload = b"DATA TEST\r\n#XDATAMODE: 0\r\n#XRECV: 0,0,1\r\n\x00"
    mark = slm.transcript.mark()
    with slm.data_mode() as dm:
        dm.write(payload)
        assert dm.read(len(payload), LONG) == payload
    assert slm.datamode_received() == b""
    assert slm.urc_data() == []
    wire = b"\r\nOK\r\n" + payload + b"\r\n#XDATAMODE: 0\r\n"
    assert _received_on_the_wire(slm, mark).endswith(wire)


def test_automatic_reception_in_data_mode_of_an_unconnected_udp_socket(slm, udp_echo):
    # auto_reception uses do_recvfrom (246), which in data mode prints no header either (1239).
    slm.socket_open(Family.IPV4, SocketType.DGRAM)
    slm.recvcfg(RecvCfg.DATA_MODE)
    with slm.data_mode(sendto=(udp_echo.board_host, udp_echo.port)) as dm:
        dm.write(b"dgram")
        assert dm.read(5, LONG) == b"dgram"
    assert slm.datamode_received() == b""


def test_data_mode_reception_only_leaves_data_that_comes_after_it_for_xrecv(slm, request):
    # <data_len> ends data mode right after the last byte is sent (raw_rx_handler): the echo
    # comes in command mode, where flag 2 alone receives nothing (poll work 409).
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.DATA_MODE)
    slm.send_exact(b"after")
    assert slm.recv(LONG).data == b"after"
    assert slm.urc_data() == [] and slm.datamode_received() == b""
    assert slm.recvcfg_read() == [(h, 2, 0)]


def test_both_reception_flags_raw_in_data_mode_and_a_notification_after_it(slm, request):
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.AT_MODE | RecvCfg.DATA_MODE)
    with slm.data_mode() as dm:
        dm.write(b"inside")
        assert dm.read(6, LONG) == b"inside"
    slm.send(b"outside")
    assert slm.wait_received(LONG) == DataNotification(h, 0, 7, b"outside", b"outside")
    assert slm.datamode_received() == b""


def test_data_for_another_socket_waits_until_data_mode_ends(slm, request, udp_echo):
    # In data mode only the data socket is served (poll work 362); the others' events are kept
    # (delayed_revents, 348) and re-armed once the host is idle again: then they notify.
    udp = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    slm.sendto(udp_echo.board_host, udp_echo.port, b"held", handle=udp)
    h, _ = _connected(slm, request)
    slm.recvcfg(RecvCfg.AT_MODE | RecvCfg.DATA_MODE, all_sockets=True)
    with slm.data_mode(handle=h) as dm:
        dm.write(b"mine")
        assert dm.read(4, LONG) == b"mine"
    note = slm.wait_received(LONG)
    assert (note.handle, note.data, note.port) == (udp, b"held", udp_echo.port)
    assert slm.datamode_received() == b""


# ----------------------------------------------------------------------------- #XSENDNTF


@pytest.mark.parametrize("family", families())
def test_send_with_ack_answers_type_1_then_notifies(slm, request, family):
    h, sink = _connected(slm, request, family, kind="tcp_sink")
    assert slm.send_with_ack(b"Test notification") == Sent(h, 1, 17)
    assert slm.wait_send_notification(LONG) == SendNotification(h, 0, 17)
    assert sink.wait_for(17) == b"Test notification"


def test_send_with_ack_in_hex(slm, request):
    h, sink = _connected(slm, request, kind="tcp_sink")
    assert slm.send_with_ack(b"\x00\xff", hex_mode=True) == Sent(h, 1, 2)
    assert slm.wait_send_notification(LONG) == SendNotification(h, 0, 2)
    assert sink.wait_for(2) == b"\x00\xff"


def test_sendto_with_ack_notifies(slm, udp_sink):
    h = slm.socket_open(Family.IPV4, SocketType.DGRAM).handle
    sent = slm.sendto_string(udp_sink.board_host, udp_sink.port, b"ntf", flags=SM_SEND_ACK)
    assert sent == Sent(h, 1, 3)
    assert slm.wait_send_notification(LONG) == SendNotification(h, 0, 3)


def test_send_notification_line_is_exact(slm, request):
    h, _ = _connected(slm, request, kind="tcp_sink")
    slm.send_with_ack(b"abc")
    assert slm.wait_urc("#XSENDNTF:", timeout=LONG) == f"#XSENDNTF: {h},0,3"


def test_data_mode_with_ack_notifies_after_leaving(slm, request):
    h, sink = _connected(slm, request, kind="tcp_sink")
    payload = b"Data mode notification.."
    slm.send_exact(payload, flags=SM_SEND_ACK)
    note = slm.wait_send_notification(LONG)
    assert note == SendNotification(h, 0, len(payload))
    assert sink.wait_for(len(payload)) == payload


def test_a_plain_send_after_an_acked_one_does_not_notify(slm, request):
    h, sink = _connected(slm, request, kind="tcp_sink")
    slm.send_with_ack(b"first")
    assert slm.wait_send_notification(LONG) == SendNotification(h, 0, 5)
    # do_send clears the send callback for a send without the flag; a marker sent with the flag
    # afterwards must be the next notification.
    slm.send(b"second")
    slm.send_with_ack(b"third")
    assert slm.wait_send_notification(LONG) == SendNotification(h, 0, 5)
    assert sink.wait_for(16) == b"firstsecondthird"


def test_hex_mode_enum_matches_the_wire(slm, request):
    h, _ = _connected(slm, request)
    slm.send(b"mode")
    assert slm.recv(LONG, mode=SocketMode.HEX).data == b"mode"
