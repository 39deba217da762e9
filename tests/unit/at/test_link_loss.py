"""A lost link is one clear error per call, never a growing one; close() wakes a waiting
command; no error message grows with what the board sent."""

from __future__ import annotations

import os
import threading
import time

import pytest

from pytest_slm.at import AtError, AtTimeout, LinkError
from pytest_slm.at.errors import MAX_LINE, MAX_RECEIVED, MAX_TAIL_LINES


def lose_link(board) -> None:
    """The board's side of the pty goes away (a USB serial port unplugged).

    Only one thread may use board.master at the time, and the board forgets the number: a
    closed descriptor's number is soon reused by the next open in this process, and a second
    close (the board fixture's) or a late read would then hit that file."""
    master, board.master = board.master, -1
    os.close(master)


def wait_link_lost(client, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while client.link_error is None and time.monotonic() < deadline:
        time.sleep(0.01)  # polling the client's state; the port is already gone
    assert client.link_error is not None


def test_every_call_after_a_loss_gets_its_own_short_error(board, client):
    lose_link(board)
    wait_link_lost(client)
    errors = []
    for _ in range(50):
        with pytest.raises(LinkError) as info:
            client.at("AT")
        errors.append(info.value)
    assert len({id(e) for e in errors}) == 50
    # One object re-raised would carry every earlier raise in its traceback.
    assert traceback_depth(errors[-1]) == traceback_depth(errors[0])
    assert "the link was lost earlier" in str(errors[-1])


def traceback_depth(error: BaseException) -> int:
    depth, tb = 0, error.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    return depth


def test_a_loss_in_data_mode_blames_the_link_not_data_mode(board, client):
    step = board.script((b"AT#XSEND\r\n", b""))
    client.enter_data_mode("AT#XSEND", settle=0.2)
    step.join(10)  # the board has read the command: nothing else uses its descriptor now
    lose_link(board)
    wait_link_lost(client)
    for call in (
        lambda: client.at("AT"),
        lambda: client.write_data(b"x"),
        lambda: client.exit_data_mode(timeout=1),
        lambda: client.enter_data_mode(),
    ):
        with pytest.raises(LinkError):
            call()


def test_close_wakes_a_pending_command(board, client):
    board.script((b"AT#XRECV=0\r\n", b""))
    threading.Timer(0.3, client.close).start()
    started = time.monotonic()
    with pytest.raises(LinkError, match="closed"):
        client.at("AT#XRECV=0", timeout=60)
    assert time.monotonic() - started < 30  # woken by close(), not by the 60 s timeout


def test_a_loss_wakes_a_pending_command(board, client):
    # The reader thread that meets the loss wakes the command's caller (its own lock), which
    # raises the loss, not the 60 s timeout. The board goes away once it has read the command,
    # so the loss always meets the reader, never the write.
    def read_then_vanish() -> None:
        board.expect(b"AT#XRECV=0\r\n")
        lose_link(board)

    vanish = threading.Thread(target=read_then_vanish)
    vanish.start()
    started = time.monotonic()
    with pytest.raises(LinkError, match="reading the port failed"):
        client.at("AT#XRECV=0", timeout=60)
    assert time.monotonic() - started < 30
    vanish.join(10)


def test_two_closes_at_once_close_the_port_once(board, client):
    # A timer's close() and the fixture's teardown close() met in one loaded CI run: both
    # closed the port, and pyserial's second close closed a descriptor number the next test's
    # pty had already reused. A second close() waits for the first and touches nothing.
    real_close = client.port.close
    entered, second_call = threading.Event(), threading.Event()
    calls: list[str] = []

    def close_slowly() -> None:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            entered.set()
            second_call.wait(0.5)  # the window in which another close() must not get here
        else:
            second_call.set()
        real_close()

    client.port.close = close_slowly
    first = threading.Thread(target=client.close, name="first-close")
    first.start()
    assert entered.wait(10)
    client.close()
    assert not client.port.is_open  # closed by the time the second close() returns
    first.join(10)
    assert calls == ["first-close"]


def test_error_messages_have_a_size_limit():
    huge = "A" * 100_000
    error = AtError(
        "the board answered ERROR",
        command="AT" + huge,
        received=[huge] * 1000,
        transcript_tail="\n".join([huge] * 200),
    )
    text = str(error)
    budget = MAX_LINE * 4 + MAX_LINE * (2 + MAX_RECEIVED + MAX_TAIL_LINES) + 4096
    assert len(text) < budget
    assert "(980 earlier lines)" in text


def test_a_flood_without_line_ends_gives_a_bounded_timeout_message(board, client):
    board.script((b"AT\r\n", b"Z" * 300_000))
    with pytest.raises(AtTimeout) as info:
        client.at("AT", timeout=1.0)
    assert len(str(info.value)) < 64 * 1024


def test_socket_url_reads_what_the_socket_holds():
    # pyserial's socket:// says at most 1 byte is waiting: a reader that believed it took a
    # 64 KiB answer one byte per read, one transcript entry each.
    import socket

    from pytest_slm.dut import SlmDut

    payload = bytes(range(256)) * 16
    reply = b"".join(b"\r\n#XRECV: 4096\r\n" + payload for _ in range(16)) + b"\r\nOK\r\n"
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            received = b""
            while b"AT#XRECV=1\r\n" not in received:
                received += conn.recv(100)
            conn.sendall(reply)
            conn.recv(100)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = SlmDut.open(f"socket://127.0.0.1:{server.getsockname()[1]}")
    try:
        mark = client.transcript.mark()
        result = client.at("AT#XRECV=1", timeout=30)
        assert result.payloads == [payload] * 16
        received = [e for e in client.transcript.entries(mark) if e.direction == "<"]
        assert sum(len(e.data) for e in received) == len(reply)
        assert len(received) <= 64
    finally:
        client.close()
        server.close()
        thread.join(timeout=5)


def test_close_waits_for_a_write_in_progress(board, client, held_write):
    # close() from another thread (a timer, a watchdog) while a command is being written:
    # closing the descriptor under the write would let it land on whatever file reuses the
    # number next.
    held = held_write(client.port.fd, "commander")
    outcome: list[BaseException] = []

    def command() -> None:
        try:
            client.at("AT", timeout=10)
        except LinkError as exc:
            outcome.append(exc)

    commander = threading.Thread(target=command, name="commander")
    commander.start()
    assert held.writing.wait(10)
    closer = threading.Thread(target=client.close)
    closer.start()
    # Unfixed, the port is closed at once; fixed, only after the write returns.
    held.closed.wait(0.5)
    held.release()
    closer.join(10)
    commander.join(10)
    assert held.events == ["write returned", "closed"]
    assert len(outcome) == 1 and "closed" in str(outcome[0])
