"""Serial Modem framing in the AT client and SmDut, against scripted bytes on a real pty.

Each reply is what ncs-serial-modem v2.0.0-preview1 prints (app/src/sm_at_socket.c: do_recv,
do_recvfrom, data_send_hex, auto_reception, send_cb_fn; app/src/sm_at_host.c: exit_datamode,
exit_datamode_handler)."""

from __future__ import annotations

import pytest

from pytest_slm import dialects
from pytest_slm.at import AtError, ProtocolError
from pytest_slm.dut import SlmDut
from pytest_slm.dut_sm import SmDut
from pytest_slm.slm_types import DataNotification, PollEvent

PAYLOADS = [
    b"Test OK",
    b'a\r\nb\x00c"d\re\nf',
    b"\r\nOK\r\n",
    b"#XRECV: 0,0,3\r\n",
    bytes(range(256)),
]


@pytest.fixture
def sm(board):
    dut = SlmDut.open(board.path, timeout=5.0)
    dut.use_dialect(dialects.SM_DIALECT, "v2.0.0-preview1")
    yield dut
    dut.close()


def test_use_dialect_turns_the_dut_into_the_dialect_class(sm):
    assert isinstance(sm, SmDut) and sm.framing is dialects.SM_DIALECT.framing
    assert sm.describe_firmware() == "Serial Modem v2.0.0-preview1 (dialect sm)"


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_recv_header_names_handle_mode_and_size(board, sm, payload):
    header = b"\r\n#XRECV: 3,0,%d\r\n" % len(payload)
    board.script((b"AT#XRECV=3,0,0,10\r", header + payload + b"\r\nOK\r\n"))
    got = sm.recv(10, handle=3)
    assert (got.data, got.size) == (payload, len(payload))
    assert sm.urcs() == []


def test_hex_mode_payload_is_twice_the_size_on_the_wire(board, sm):
    payload = bytes(range(200))
    header = b"\r\n#XRECV: 0,1,%d\r\n" % len(payload)
    board.script((b"AT#XRECV=0,1,0,5\r", header + payload.hex().encode() + b"\r\nOK\r\n"))
    got = sm.recv(5, handle=0, mode=1)
    assert got.data == payload and got.size == 200


def test_recvfrom_header_carries_address_and_port(board, sm):
    payload = b"\x00\x01\r\n"
    board.script(
        (
            b"AT#XRECVFROM=1,0,0,5\r",
            b'\r\n#XRECVFROM: 1,0,4,"127.0.0.1",4242\r\n' + payload + b"\r\nOK\r\n",
        )
    )
    got = sm.recvfrom(5, handle=1)
    assert (got.data, got.size, got.ip, got.port) == (payload, 4, "127.0.0.1", 4242)


def test_a_wrong_handle_in_the_answer_is_a_protocol_error(board, sm):
    board.script((b"AT#XRECV=1,0,0,5\r", b"\r\n#XRECV: 2,0,2\r\nhi\r\nOK\r\n"))
    with pytest.raises(ProtocolError, match="handle 2, expected 1"):
        sm.recv(5, handle=1)


def test_a_lost_byte_is_a_protocol_error(board, sm):
    # The header says 5; 4 bytes and the OK come: the client takes 5 bytes (eating the CR) and
    # the answer no longer parses as a final result before the timeout.
    board.script((b"AT#XRECV=0,1,0,5\r", b"\r\n#XRECV: 0,1,2\r\nabc\r\nOK\r\n"))
    with pytest.raises(ProtocolError, match="not hex|header said"):
        sm.recv(5, handle=0, mode=1)


def test_automatic_reception_arrives_as_a_notification_with_crlf_after_the_data(board, sm):
    payload = b"\r\nOK\r\n+++"
    board.send(b"\r\n#XRECV: 0,0,%d\r\n" % len(payload) + payload + b"\r\n")
    note = sm.wait_received(timeout=5)
    assert (note.handle, note.mode, note.size, note.data) == (0, 0, len(payload), payload)
    # The notification's data did not leak into the line stream.
    assert sm.urcs() == []


def test_automatic_reception_in_hex_mode_and_from_an_address(board, sm):
    payload = b"\x00\xff"
    board.send(b'\r\n#XRECVFROM: 2,1,2,"::1",53\r\n0' + b"0ff\r\n")
    note = sm.wait_received(timeout=5)
    assert (note.data, note.raw, note.ip, note.port) == (payload, b"00ff", "::1", 53)


def test_a_data_notification_during_another_command_is_not_its_answer(board, sm):
    board.script(
        (
            b"AT#XSOCKETOPT=0,0,20\r",
            b"\r\n#XRECV: 0,0,3\r\nabc\r\n\r\n#XSOCKETOPT: 0,0\r\n\r\nOK\r\n",
        )
    )
    assert sm.getopt(20, handle=0) == 0
    assert sm.wait_received(timeout=5).data == b"abc"


def test_apoll_and_sendntf_are_notifications(board, sm):
    board.script(
        (
            b'AT#XSEND=0,0,8192,"hi"\r',
            b"\r\n#XAPOLL: 0,4\r\n\r\n#XSEND: 0,1,2\r\n\r\nOK\r\n\r\n#XSENDNTF: 0,0,2\r\n",
        )
    )
    sent = sm.send_with_ack(b"hi", handle=0)
    assert (sent.handle, sent.result_type, sent.size) == (0, 1, 2)
    note = sm.wait_send_notification(timeout=5)
    assert (note.handle, note.status, note.size) == (0, 0, 2)
    assert sm.wait_apoll(0, PollEvent.OUT, timeout=5) == 4


def test_data_mode_is_entered_with_ok_and_left_with_xdatamode(board, sm):
    board.script(
        (b"AT#XDATACTRL?\r", b"\r\n#XDATACTRL: 50,50\r\n\r\nOK\r\n"),
        (b"AT#XSEND=0,2,0\r", b"\r\nOK\r\n"),
        (b"hello+++", b"\r\n#XDATAMODE: 0\r\n"),
    )
    sm._current = 0
    with sm.data_mode() as dm:
        dm.write(b"hello")
    assert not sm.in_data_mode


def test_data_len_mode_leaves_by_itself(board, sm):
    data = b"a+++b\r\nOK"
    board.script(
        (b"AT#XSEND=0,2,0,%d\r" % len(data), b"\r\nOK\r\n"),
        (data, b"\r\n#XDATAMODE: 0\r\n"),
    )
    sm.send_exact(data, handle=0)
    assert not sm.in_data_mode


def test_a_failed_send_in_data_mode_the_board_says_the_terminator(board, sm):
    # exit_datamode_handler prints the terminator; the host sends it back; #XDATAMODE: -1.
    board.script(
        (b"AT#XDATACTRL?\r", b"\r\n#XDATACTRL: 50,50\r\n\r\nOK\r\n"),
        (b"AT#XSEND=0,2,0\r", b"\r\nOK\r\n"),
        (b"x", b"+++"),
        (b"+++", b"\r\n#XDATAMODE: -1\r\n"),
    )
    sm._current = 0
    with pytest.raises(AtError, match="ended data mode itself"):
        with sm.data_mode() as dm:
            dm.write(b"x")
    assert not sm.in_data_mode


def test_terminator_inside_data_is_refused_before_it_is_sent(board, sm):
    board.script(
        (b"AT#XDATACTRL?\r", b"\r\n#XDATACTRL: 50,50\r\n\r\nOK\r\n"),
        (b"AT#XSEND=0,2,0\r", b"\r\nOK\r\n"),
        (b"ab+", b""),
        (b"+++", b"\r\n#XDATAMODE: 0\r\n"),
    )
    sm._current = 0
    with pytest.raises(ValueError, match=r"\+\+\+"):
        with sm.data_mode() as dm:
            dm.write(b"ab+")
            dm.write(b"++c")  # the firmware would see +++ across the two writes
    assert not sm.in_data_mode


def test_accept_waits_on_apoll_then_accepts(board, sm):
    board.script(
        (b"AT#XAPOLL=0,1,1\r", b"\r\nOK\r\n\r\n#XAPOLL: 0,1\r\n"),
        (b"AT#XAPOLL=0,0\r", b"\r\nOK\r\n"),
        (b"AT#XACCEPT=0\r", b'\r\n#XACCEPT: 1,0,"127.0.0.1",50000\r\n\r\nOK\r\n'),
    )
    sm._current = 0
    got = sm.accept(5)
    assert (got.handle, got.ip, got.port, got.cid) == (1, "127.0.0.1", 50000, 0)
    assert sm.current == 1


def test_v20_only_features_raise_not_in_dialect(sm):
    with pytest.raises(dialects.NotInDialect, match="not in Serial Modem"):
        sm.socket_select(0)
    with pytest.raises(dialects.NotInDialect):
        sm.poll(100)


def test_sm_only_features_raise_not_in_dialect_on_v20(client):
    with pytest.raises(dialects.NotInDialect, match=r"not in SLM \(dialect v20\)"):
        client.apoll(1)
    with pytest.raises(dialects.NotInDialect):
        client.send_hex(b"x")


# ------------------------------------------------------------------- automatic reception


def test_an_apoll_between_an_automatic_header_and_its_data_is_a_notification(board, sm):
    # auto_reception prints the header (rsp_send, sm_at_socket.c:1128), then data_send flushes
    # the pending #XAPOLL (sm_at_host.c:1490) before the data: the 4 bytes are "data".
    board.send(b"\r\n#XRECV: 0,0,4\r\n\r\n#XAPOLL: 0,1\r\ndata\r\n")
    assert sm.wait_received(timeout=5) == DataNotification(0, 0, 4, b"data", b"data")
    assert sm.wait_apoll(0, PollEvent.IN, timeout=5) == 1
    assert sm.urcs() == []


def test_several_urcs_between_header_and_data_and_data_that_starts_with_crlf(board, sm):
    payload = b"\r\n#XAPOLX: 0,1\r\n"  # CRLF and a line no notification starts with: data
    board.send(
        b'\r\n#XRECVFROM: 1,0,%d,"10.0.0.1",7\r\n\r\n+CEREG: 1\r\n\r\n#XSENDNTF: 1,0,3\r\n'
        % len(payload)
        + payload
        + b"\r\n"
    )
    assert sm.wait_received(timeout=5) == DataNotification(
        1, 0, len(payload), payload, payload, "10.0.0.1", 7
    )
    assert sm.wait_urc("+CEREG:", timeout=1) == "+CEREG: 1"
    assert sm.wait_send_notification(timeout=1).size == 3


def test_a_urc_between_hex_chunks_is_a_notification(board, sm):
    # data_send_hex sends 128 bytes per data_send; each may flush URCs (hex has no CR).
    payload = bytes(range(200))
    wire = payload.hex().encode()
    board.send(
        b"\r\n#XRECV: 2,1,200\r\n" + wire[:256] + b"\r\n#XAPOLL: 2,1\r\n" + wire[256:] + b"\r\n"
    )
    note = sm.wait_received(timeout=5)
    assert (note.data, note.raw) == (payload, wire)
    assert sm.wait_apoll(2, timeout=1) == 1


def test_a_wrong_size_in_an_automatic_header_is_a_protocol_error(board, sm):
    # The header says 5 but 4 bytes came: the 5th taken ("\r") leaves no CRLF after the data.
    board.send(b"\r\n#XRECV: 0,0,5\r\nTest\r\n\r\n#XAPOLL: 0,1\r\n")
    with pytest.raises(ProtocolError, match="5 bytes"):
        sm.wait_received(timeout=5)
    # What followed is still framed.
    assert sm.wait_apoll(0, timeout=5) == 1


def test_automatic_reception_in_data_mode_is_raw_until_the_exit_line(board, sm):
    # In data mode do_recv prints no header and auto_reception no CRLF (sm_at_socket.c 1127,
    # 260): every byte before #XDATAMODE is received data, even one that looks like a line.
    early = b"\r\n#XDATAMODE: 0\r\nOK\r\n"  # before the host sent +++: data
    board.script(
        (b"AT#XDATACTRL?\r", b"\r\n#XDATACTRL: 50,50\r\n\r\nOK\r\n"),
        (b"AT#XSEND=0,2,0\r", b"\r\nOK\r\n" + early),
        (b"hi", b"hi"),
        (b"+++", b"late+++\r\n#XDATAMODE: 0\r\n\r\n#XAPOLL: 0,1\r\n"),
    )
    sm._current = 0
    with sm.data_mode() as dm:
        assert dm.read(len(early), timeout=5) == early
        dm.write(b"hi")
        assert dm.read(2, timeout=5) == b"hi"
    assert not sm.in_data_mode
    # Bytes before the exit line are data, "+++" included (#XDATAMODE: 0: the board did not
    # print the terminator itself); what follows is framed as lines again.
    assert sm.datamode_received() == b"late+++"
    assert sm.wait_apoll(0, timeout=5) == 1


def test_the_board_terminator_after_received_data_is_not_data(board, sm):
    # A failed send: exit_datamode_handler prints +++ after whatever was received; the status
    # the host's +++ gets is -1, so the last 3 bytes were the board's.
    board.script(
        (b"AT#XDATACTRL?\r", b"\r\n#XDATACTRL: 50,50\r\n\r\nOK\r\n"),
        (b"AT#XSEND=0,2,0\r", b"\r\nOK\r\n"),
        (b"x", b"ab+++" + b"+++"),
        (b"+++", b"\r\n#XDATAMODE: -1\r\n"),
    )
    sm._current = 0
    with sm.data_mode(allow_board_exit=True) as dm:
        dm.write(b"x")
        assert dm.read(5, timeout=5) == b"ab+++"
    assert sm.datamode_received() == b""


def test_data_len_mode_arms_the_exit_line_after_the_last_byte(board, sm):
    board.script(
        (b"AT#XSEND=0,2,0,3\r", b"\r\nOK\r\n"),
        (b"abc", b"xyz\r\n#XDATAMODE: 0\r\n"),
    )
    sm.send_exact(b"abc", handle=0)
    assert not sm.in_data_mode
    assert sm.datamode_received() == b"xyz"


def test_received_now_takes_every_queued_notification_typed(board, sm):
    board.send(b"\r\n#XRECV: 0,0,1\r\na\r\n\r\n#XRECV: 1,1,1\r\n62\r\n\r\n#XAPOLL: 0,1\r\n")
    assert sm.wait_apoll(0, timeout=5) == 1  # sent after both
    assert sm.received_now() == [
        DataNotification(0, 0, 1, b"a", b"a"),
        DataNotification(1, 1, 1, b"b", b"62"),
    ]
    assert sm.received_now() == []


def test_datamode_read_is_not_in_v20(client):
    with pytest.raises(dialects.NotInDialect):
        client.datamode_received()
    with pytest.raises(dialects.NotInDialect):
        client.received_now()
