"""After an abandoned command, no answer is handed to the wrong command.

AT has no command ids: the board answers in order, so once a command is abandoned (timeout,
reboot, malformed answer) the client sends a probe whose answer names itself, and everything
before that answer belongs to the abandoned command. A hostile board on a real pty plays each
way an answer can come late.
"""

from __future__ import annotations

import threading
import time

import pytest

from pytest_slm.at import AtTimeout, BoardResetError, OutOfStepError, ProtocolError

CFUN_PROBE = b"AT+CFUN?\r\n"
CFUN_ANSWER = b"\r\n+CFUN: 1\r\n\r\nOK\r\n"
SLMVER = b"AT#XSLMVER\r\n"
SLMVER_ANSWER = b'\r\n#XSLMVER: "2.0.0"\r\n\r\nOK\r\n'


def play(board, fn) -> threading.Thread:
    """Run `fn(board)` as the board, in the background; its failure fails the test at join."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn(board)
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


def finish(thread: threading.Thread) -> None:
    thread.join(timeout=30)
    assert not thread.is_alive(), "the scripted board is still playing"
    assert not thread.errors, thread.errors  # type: ignore[attr-defined]


def answer_probe_then_slmver(b) -> None:
    """The board side after an abandoned command: the client's probe, then its next command."""
    b.expect(CFUN_PROBE)
    b.send(CFUN_ANSWER)
    b.expect(SLMVER)
    b.send(SLMVER_ANSWER)


def abandon_socket_read(client) -> None:
    with pytest.raises(AtTimeout):
        client.at("AT#XSOCKET?", timeout=0.3)


def test_reply_half_a_second_late(board, client):
    def board_side(b):
        b.expect(b"AT#XSOCKET?\r\n")
        time.sleep(0.5)
        b.send(b"\r\n#XSOCKET: 0,1,0\r\n\r\nOK\r\n")
        answer_probe_then_slmver(b)

    thread = play(board, board_side)
    abandon_socket_read(client)
    assert client.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
    finish(thread)
    assert "#XSOCKET: 0,1,0" in client.strays


def test_reply_byte_by_byte_over_three_seconds(board, client):
    late = b"\r\n#XSOCKET: 0,1,0\r\n\r\nOK\r\n"

    def board_side(b):
        b.expect(b"AT#XSOCKET?\r\n")
        for i in range(len(late)):
            b.send(late[i : i + 1])
            time.sleep(0.12)
        answer_probe_then_slmver(b)

    thread = play(board, board_side)
    abandon_socket_read(client)
    assert client.at("AT#XSLMVER", timeout=10).lines == ['#XSLMVER: "2.0.0"']
    finish(thread)
    assert client.strays[-2:] == ["#XSOCKET: 0,1,0", "OK"]


def test_answer_after_a_reboot_banner(board, client):
    # The board rebooted under the command, then answered it from what its UART held.
    def board_side(b):
        b.expect(b"AT#XSOCKET?\r\n")
        b.send(b"Ready\r\n")
        time.sleep(0.3)
        b.send(b"\r\n#XSOCKET: 0,1,0\r\n\r\nOK\r\n")
        answer_probe_then_slmver(b)

    thread = play(board, board_side)
    with pytest.raises(BoardResetError):
        client.at("AT#XSOCKET?")
    assert client.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
    finish(thread)


def test_rest_of_an_answer_after_a_bad_header(board, client):
    def board_side(b):
        b.expect(b"AT#XRECV=1\r\n")
        b.send(b"\r\n#XRECV: 99999\r\n")
        time.sleep(0.3)
        b.send(b"\r\nOK\r\n")
        answer_probe_then_slmver(b)

    thread = play(board, board_side)
    with pytest.raises(ProtocolError):
        client.at("AT#XRECV=1")
    assert client.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
    finish(thread)


def test_board_paused_five_seconds(board, client):
    def board_side(b):
        b.expect(b"AT#XSOCKET?\r\n")
        b.expect(CFUN_PROBE)
        time.sleep(5)
        b.send(b"\r\n#XSOCKET: 0,1,0\r\n\r\nOK\r\n" + CFUN_ANSWER)
        b.expect(SLMVER)
        b.send(SLMVER_ANSWER)

    thread = play(board, board_side)
    abandon_socket_read(client)
    assert client.at("AT#XSLMVER", timeout=30).lines == ['#XSLMVER: "2.0.0"']
    finish(thread)


def test_late_connect_error_is_never_the_next_commands_answer(board, client):
    # #XCONNECT to a host that drops SYNs answers ERROR long after the client gave up: the next
    # command is not sent (a typed error says why) until the board has answered a probe.
    release = threading.Event()

    def board_side(b):
        b.expect(b'AT#XCONNECT="192.0.2.1",80\r\n')
        b.expect(CFUN_PROBE)
        release.wait(30)
        b.send(b"\r\nERROR\r\n" + CFUN_ANSWER)
        b.expect(SLMVER)
        b.send(SLMVER_ANSWER)

    thread = play(board, board_side)
    with pytest.raises(AtTimeout):
        client.at('AT#XCONNECT="192.0.2.1",80', timeout=0.3)
    with pytest.raises(OutOfStepError) as info:
        client.at("AT#XSLMVER", timeout=0.5)
    assert "'AT#XSLMVER' was not sent" in str(info.value)
    assert not client.in_step
    release.set()
    # The probe's answer, late as it is, still proves the board back in step: the ERROR came
    # before it, so it was the connect's.
    deadline = time.monotonic() + 10
    while not client.in_step and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the client's state; the board has answered
    assert client.in_step
    assert client.strays == ["ERROR"]
    result = client.at("AT#XSLMVER", timeout=10)
    assert result.lines == ['#XSLMVER: "2.0.0"'] and result.ok
    finish(thread)


def test_aborted_payload_never_prefixes_the_next_one(board, client):
    def board_side(b):
        b.expect(b"AT#XRECV=1\r\n")
        b.send(b"\r\n#XRECV: 60\r\n" + b"x" * 20)
        time.sleep(0.5)
        b.send(b"x" * 40 + b"\r\nOK\r\n")
        b.expect(CFUN_PROBE)
        b.send(CFUN_ANSWER)
        b.expect(b"AT#XRECV=1\r\n")
        b.send(b"\r\n#XRECV: 5\r\nhello\r\nOK\r\n")

    thread = play(board, board_side)
    with pytest.raises(AtTimeout):
        client.at("AT#XRECV=1", timeout=0.3)
    result = client.at("AT#XRECV=1")
    assert result.payloads == [b"hello"] and result.lines == ["#XRECV: 5"]
    finish(thread)


def test_reboot_inside_a_payload_is_a_board_reset(board, client):
    def board_side(b):
        b.expect(b"AT#XRECV=1\r\n")
        b.send(b"\r\n#XRECV: 60\r\n" + b"y" * 10 + b"\x00Ready\r\n")
        b.expect(CFUN_PROBE)
        b.send(b"\r\n+CFUN: 0\r\n\r\nOK\r\n")
        b.expect(SLMVER)
        b.send(SLMVER_ANSWER)

    thread = play(board, board_side)
    with pytest.raises(BoardResetError):
        client.at("AT#XRECV=1", timeout=1.0)
    assert client.boot_count == 1
    assert client.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
    finish(thread)


def test_reboot_between_commands_is_reported_once(board, client):
    board.script(
        (b"AT\r\n", b"\r\nOK\r\n"),
        (b"", b"Ready\r\n"),
        (b"AT+CFUN?\r\n", b"\r\n+CFUN: 0\r\n\r\nOK\r\n"),
    )
    assert client.at("AT").ok
    deadline = time.monotonic() + 5
    while client.boot_count == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the client's state; the banner is already sent
    with pytest.raises(BoardResetError, match="rebooted"):
        client.at("AT+CFUN?")
    assert client.at("AT+CFUN?").value("+CFUN") == [0]


def test_reset_state_recovers_a_half_typed_quoted_line_after_a_timeout(sim_dut):
    # The probe that proves the board back in step would be typed into the open quote: the
    # recovery's bare line ends go out without one, then the probe proves it.
    sim_dut.write_raw(b'AT#XSOCKETOPT=1,2,"unfinished')
    with pytest.raises(AtTimeout):
        sim_dut.at("AT", timeout=0.5)
    sim_dut.reset_state()
    assert sim_dut.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']


def test_every_probe_answers_with_its_own_prefix_on_the_simulator(sim_dut):
    # A probe is only useful if its answer names it: each one, on the modelled modem.
    from pytest_slm.at.client import PROBES, expected_prefix

    for probe in PROBES:
        result = sim_dut.at(probe)
        assert len(result.lines) == 1 and result.lines[0].startswith(expected_prefix(probe))
