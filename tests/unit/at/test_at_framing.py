"""The AT client's framing against scripted byte streams on a real pty."""

from __future__ import annotations

import time

import pytest

from pytest_slm.at import (
    AtError,
    AtTimeout,
    BoardResetError,
    LinkError,
    ProtocolError,
    split_params,
)

CMD = b"AT#XSOCKET=1,1,0\r\n"


def test_ok_with_info_line(board, client):
    board.script((CMD, b"\r\n#XSOCKET: 0,1,6\r\n\r\nOK\r\n"))
    result = client.at("AT#XSOCKET=1,1,0")
    assert result.lines == ["#XSOCKET: 0,1,6"]
    assert result.final == "OK" and result.ok
    assert result.value("#XSOCKET") == [0, 1, 6]


def test_command_is_sent_with_crlf_and_nothing_else(board, client):
    board.script((b"AT\r\n", b"\r\nOK\r\n"))
    client.at("AT")
    assert board.received == b""


PAYLOADS = [
    b"Test OK",
    b'a\r\nb\x00c"d\re\nf',
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n#XRECV: 3\r\n",
    bytes(range(256)),
    b"Ready\r\n",
]


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_recv_payload_is_taken_by_length(board, client, payload):
    header = b"\r\n#XRECV: %d\r\n" % len(payload)
    board.script((b"AT#XRECV=10\r\n", header + payload + b"\r\nOK\r\n"))
    result = client.at("AT#XRECV=10")
    assert result.payloads == [payload]
    assert result.lines == [f"#XRECV: {len(payload)}"]
    assert result.final == "OK"
    assert client.urcs() == []


def test_recvfrom_payload_and_address(board, client):
    payload = b"\x00\x01\r\n"
    board.script(
        (b"AT#XRECVFROM=5\r\n", b'\r\n#XRECVFROM: 4,"127.0.0.1"\r\n' + payload + b"\r\nOK\r\n")
    )
    result = client.at("AT#XRECVFROM=5")
    assert result.payloads == [payload]
    assert result.value("#XRECVFROM") == [4, "127.0.0.1"]


def test_payload_split_across_reads(board, client):
    payload = b"x" * 1240
    # The payload arrives in three writes, the way a paced UART delivers it.
    board.script(
        (b"AT#XRECV=1\r\n", b"\r\n#XRECV: 1240\r\n" + payload[:7]),
        (b"", payload[7:600]),
        (b"", payload[600:] + b"\r\nOK\r\n"),
    )
    result = client.at("AT#XRECV=1")
    assert result.payloads == [payload]


def test_urc_between_lines_goes_to_the_queue(board, client):
    board.script(
        (
            CMD,
            b'\r\n#XSOCKET: 0,1,6\r\n\r\n+CEREG: 5,"4E20","0140A403",7\r\n\r\nOK\r\n',
        )
    )
    result = client.at("AT#XSOCKET=1,1,0")
    assert result.lines == ["#XSOCKET: 0,1,6"]
    assert client.wait_urc("+CEREG", timeout=1) == '+CEREG: 5,"4E20","0140A403",7'


def test_solicited_line_with_urc_prefix_is_the_response(board, client):
    board.script((b"AT+CEREG?\r\n", b'\r\n+CEREG: 5,1,"4E20","0140A403",7\r\n\r\nOK\r\n'))
    result = client.at("AT+CEREG?")
    assert result.value("+CEREG") == [5, 1, "4E20", "0140A403", 7]
    assert client.urcs() == []


def test_unsolicited_lines_with_no_command_queue_up(board, client):
    board.send(b"Ready\r\n\r\n+CEREG: 1\r\n")
    assert client.wait_urc("Ready", timeout=5) == "Ready"
    assert client.wait_urc("+CEREG", timeout=5) == "+CEREG: 1"
    assert client.boot_count == 1


def test_ready_mid_command_raises_board_reset(board, client):
    board.script((b"AT#XRECV=0\r\n", b"\r\n#XSOCKET: 0,1,6\r\nReady\r\n"))
    with pytest.raises(BoardResetError) as info:
        client.at("AT#XRECV=0")
    assert info.value.command == "AT#XRECV=0"
    assert "boot banner" in str(info.value)
    assert "Ready" in info.value.transcript_tail


def test_missing_final_result_times_out_with_context(board, client):
    board.script((CMD, b"\r\n#XSOCKET: 0,1,6\r\n\r\nO"))
    with pytest.raises(AtTimeout) as info:
        client.at("AT#XSOCKET=1,1,0", timeout=0.5)
    message = str(info.value)
    assert "'AT#XSOCKET=1,1,0'" in message
    assert "#XSOCKET: 0,1,6" in message
    assert "O (partial line)" in message
    assert "transcript tail" in message


def test_late_final_after_timeout_is_not_a_urc(board, client):
    board.script((b"AT#XACCEPT=0\r\n", b""))
    with pytest.raises(AtTimeout):
        client.at("AT#XACCEPT=0", timeout=0.3)
    board.send(b'\r\n#XACCEPT: 1,"127.0.0.1"\r\n\r\nOK\r\n')
    deadline = time.monotonic() + 10
    while "OK" not in client.strays and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the client's state; the board's reply is already sent
    board.script((b"AT+CFUN?\r\n", b"\r\n+CFUN: 1\r\n\r\nOK\r\n"), (b"AT\r\n", b"\r\nOK\r\n"))
    assert client.at("AT").ok
    assert client.urcs() == []
    assert client.strays[-1] == "OK"


def test_error_raises_with_command_and_tail(board, client):
    board.script((b"AT#XSOCKET=9\r\n", b"\r\nERROR\r\n"))
    with pytest.raises(AtError) as info:
        client.at("AT#XSOCKET=9")
    assert info.value.final == "ERROR"
    assert info.value.error_code is None
    assert "AT#XSOCKET=9" in str(info.value)
    assert "> AT#XSOCKET=9\\r\\n" in info.value.transcript_tail


def test_cme_error_code(board, client):
    board.script((b'AT%CMNG=0,1,0,"x"\r\n', b"\r\n+CME ERROR: 518\r\n"))
    with pytest.raises(AtError) as info:
        client.at('AT%CMNG=0,1,0,"x"')
    assert info.value.error_code == 518
    assert info.value.final == "+CME ERROR: 518"


def test_cms_error_and_check_false(board, client):
    board.script((b"AT+CMGS=1\r\n", b"\r\n+CMS ERROR: 304\r\n"))
    result = client.at("AT+CMGS=1", check=False)
    assert result.final == "+CMS ERROR: 304" and result.error_code == 304 and not result.ok


def test_expect_error_raises_on_ok(board, client):
    board.script((b"AT\r\n", b"\r\nOK\r\n"))
    with pytest.raises(AtError, match="OK where an error was expected"):
        client.expect_error("AT")


def test_malformed_payload_header_is_a_protocol_error(board, client):
    board.script((b"AT#XRECV=1\r\n", b"\r\n#XRECV: many\r\n\r\nOK\r\n"))
    with pytest.raises(ProtocolError, match="malformed payload header"):
        client.at("AT#XRECV=1")


def test_garbage_byte_in_response_is_a_protocol_error(board, client):
    board.script((b"AT#XSOCKET?\r\n", b"\r\n#XSOCKET: 0,\xff1,0\r\n\r\nOK\r\n"))
    with pytest.raises(ProtocolError, match="bytes no SLM sends"):
        client.at("AT#XSOCKET?")
    board.script((b"AT\r\n", b"\r\nOK\r\n"))
    assert client.at("AT").ok


def test_boot_noise_before_banner(board, client):
    board.send(b"\x00\xff\x00Ready\r\n")
    assert client.wait_urc("Ready", timeout=5) == "Ready"


def test_data_mode_round_trip(board, client):
    board.script((b"AT#XSEND\r\n", b""))
    client.enter_data_mode("AT#XSEND", settle=0.2)
    assert client.in_data_mode
    with pytest.raises(ProtocolError, match="data mode"):
        client.at("AT")
    client.write_data(b"abc\r\n\x00+++x")
    board.expect(b"abc\r\n\x00+++x")
    board.script((b"+++", b"\r\nOK\r\n"))
    assert client.exit_data_mode(timeout=5) is True
    assert not client.in_data_mode
    board.script((b"AT\r\n", b"\r\nOK\r\n"))
    assert client.at("AT").ok


def test_data_mode_refused(board, client):
    board.script((b"AT#XSEND\r\n", b"\r\nERROR\r\n"))
    with pytest.raises(AtError, match="refused to enter data mode"):
        client.enter_data_mode("AT#XSEND", settle=5)
    assert not client.in_data_mode


def test_data_mode_entered_with_ok_as_later_firmware_does(board, client):
    board.script((b'AT#XSENDTO="127.0.0.1",7\r\n', b"\r\nOK\r\n"))
    client.enter_data_mode('AT#XSENDTO="127.0.0.1",7', settle=5)
    assert client.in_data_mode


def test_board_leaving_data_mode_by_itself(board, client):
    board.script((b"AT#XSEND\r\n", b""))
    client.enter_data_mode("AT#XSEND", settle=0.2)
    client.write_data(b"payload")
    board.expect(b"payload")
    board.send(b"\r\nOK\r\n")  # v2.0 after a failed send
    assert client.wait_data_mode_left(timeout=5)
    board.script((b"AT\r\n", b"\r\nOK\r\n"))
    client.wait_ready(timeout=5)
    assert client.exit_data_mode() is False
    with pytest.raises(ProtocolError, match="left it by itself"):
        client.write_data(b"more")


def test_vanishing_port_is_a_link_error(board, client):
    board.script((b"AT\r\n", b""))
    import threading

    closer = threading.Timer(0.3, board.close)
    closer.start()
    with pytest.raises((LinkError, AtTimeout)):
        client.at("AT", timeout=10)
    closer.join()


def test_transcript_redacts_secrets(board, client):
    secret = (
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    )
    client.transcript.redact(secret)
    board.script((b'END PRIVATE KEY-----"\r\n', b"\r\nOK\r\n"))
    client.at(f'AT%CMNG=0,42,2,"{secret}"')
    rendered = client.transcript.render()
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in rendered
    assert "<redacted>" in rendered


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("0,1,6", [0, 1, 6]),
        ('0,"closed"', [0, "closed"]),
        ('"a,b",,-1', ["a,b", None, -1]),
        ("(0,1,2),(1,2,3),(0,1)", ["(0,1,2)", "(1,2,3)", "(0,1)"]),
        ('0,"0x00000001"', [0, "0x00000001"]),
        ('"30 sec"', ["30 sec"]),
        ("", [None]),
    ],
)
def test_split_params(text, values):
    assert split_params(text) == values


def test_a_command_never_answered_does_not_shift_later_answers(board, client):
    board.script((b"AT#XRECV=0\r\n", b""))
    with pytest.raises(AtTimeout):
        client.at("AT#XRECV=0", timeout=0.3)
    board.script(
        (b"AT+CFUN?\r\n", b"\r\n+CFUN: 1\r\n\r\nOK\r\n"),
        (b"AT#XSOCKET?\r\n", b"\r\n#XSOCKET: 0,1,0\r\n\r\nOK\r\n"),
    )
    assert client.at("AT#XSOCKET?").lines == ["#XSOCKET: 0,1,0"]
    board.script((b"AT#XSLMVER\r\n", b'\r\n#XSLMVER: "2.0.0"\r\n\r\nOK\r\n'))
    assert client.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']


def test_board_booting_under_the_first_probe(board, client):
    # A board that powers on when its port is opened (a pty behind ser2net) prints its banner
    # after the probe arrived, then answers the probe.
    board.script(
        (b"AT\r\n", b"Ready\r\n"),
        (b"", b"\r\nOK\r\n"),
        (b"AT+CFUN?\r\n", b"\r\n+CFUN: 0\r\n\r\nOK\r\n"),
        (b"AT\r\n", b"\r\nOK\r\n"),
        (b"AT#XSOCKET?\r\n", b"\r\n#XSOCKET: 2,1,0\r\n\r\nOK\r\n"),
    )
    client.wait_ready(timeout=10)
    assert client.at("AT#XSOCKET?").lines == ["#XSOCKET: 2,1,0"]
    assert client.strays == ["OK"]


def test_probes_buffered_across_a_boot_are_all_absorbed(board, client):
    # The first probe goes unanswered while the board boots; its UART held it, so after the
    # banner the board answers it and the resync probe back to back.
    board.script(
        (b"AT\r\n", b""),
        (b"AT+CFUN?\r\n", b"Ready\r\n\r\nOK\r\n\r\n+CFUN: 0\r\n\r\nOK\r\n"),
        (b"AT\r\n", b"\r\nOK\r\n"),
        (b"AT+CGSN=1\r\n", b'\r\n+CGSN: "352656100123457"\r\n\r\nOK\r\n'),
    )
    client.wait_ready(timeout=10, probe_interval=0.5)
    assert client.at("AT+CGSN=1").lines == ['+CGSN: "352656100123457"']
    assert client.strays == ["OK"]
    assert client.urcs() == ["Ready"]


@pytest.mark.parametrize("urc_first", [True, False])
def test_registration_urc_during_its_read_command_stays_a_urc(board, client, urc_first):
    # The modem reports registration when it happens, also while AT+CEREG? runs: the URC has
    # <stat> first, the read answer <n>,<stat>.
    urc = b'\r\n+CEREG: 1,"0001","01A2B3C4",7\r\n'
    answer = b'\r\n+CEREG: 5,2,"FFFE","FFFFFFFF",7\r\n'
    reply = (urc + answer if urc_first else answer + urc) + b"\r\nOK\r\n"
    board.script((b"AT+CEREG?\r\n", reply))
    assert client.at("AT+CEREG?").lines == ['+CEREG: 5,2,"FFFE","FFFFFFFF",7']
    assert client.wait_urc("+CEREG", timeout=1) == '+CEREG: 1,"0001","01A2B3C4",7'


def _framed_in_chunks(client, command: str, *chunks: bytes):
    """Frame `chunks` as the reader would, one read each, while `command` is in flight: a pty
    cannot be made to split an answer at a chosen byte, so the chunks go straight to the
    reader's own handler (nothing arrives on the pty meanwhile)."""
    pending = client._begin(command)
    for chunk in chunks:
        client._received(chunk)
    return client._finish(pending, client._wait(pending, 5.0), 5.0)


@pytest.mark.parametrize(
    "chunks",
    [
        (b"\r\n#XSOCKET: 0,1,6\r\n\r\nOK\r\n",),
        (b"\r\n#XSOCKET: 0,1", b",6\r\n\r\nO", b"K\r\n"),
        (b"\r", b"\n#XSOCKET: 0,1,6\r", b"\n\r\nOK\r", b"\n"),
    ],
    ids=["one read", "lines cut mid-line", "cut between CR and LF"],
)
def test_answer_framed_alike_however_the_reads_cut_it(board, client, chunks):
    result = _framed_in_chunks(client, "AT#XSOCKET=1,1,0", *chunks)
    assert result.lines == ["#XSOCKET: 0,1,6"]
    assert result.final == "OK"
    assert client.urcs() == [] and client.strays == []
    received = b"".join(e.data for e in client.transcript.entries() if e.direction == "<")
    assert received == b"".join(chunks)


def test_lines_after_the_ok_in_the_same_read_are_unsolicited(board, client):
    result = _framed_in_chunks(client, "AT", b"\r\nOK\r\n\r\n+CEREG: 1\r\n\r\nOK\r\n")
    assert result.lines == [] and result.final == "OK"
    # The second OK has no command to end: it queues like any line with nothing in flight.
    assert client.urcs() == ["+CEREG: 1", "OK"]
