"""Transports in-process: baud pacing both ways, TCP client replacement, pty attach and the
banner released by the pty host's flush."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import termios
import threading
import time

import pytest
import serial

from firmware_ref.core.host import FirmwareConfig
from firmware_ref.transport import TIOCPKT, Board, Pacer, PtyTransport, TcpTransport

READY = b"Ready\r\n"
OK = b"\r\nOK\r\n"
ERROR_LINE = b"\r\nERROR\r\n"


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def recv_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while not data.endswith(marker):
        chunk = sock.recv(1)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


@pytest.fixture
def tcp_board():
    stop = threading.Event()
    started: list[TcpTransport] = []

    def start(**config) -> TcpTransport:
        board = Board(FirmwareConfig(**config))
        transport = TcpTransport(board, "127.0.0.1", 0, stop)
        threading.Thread(target=transport.serve, daemon=True).start()
        started.append(transport)
        return transport

    yield start
    stop.set()
    for t in started:
        t.close()


def connect(transport: TcpTransport) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", transport.port), timeout=10)
    assert recv_exact(sock, len(READY)) == READY
    return sock


def test_unpaced_passes_data_through_whole():
    stop = threading.Event()
    assert list(Pacer(None, stop).slices(b"x" * 10000)) == [b"x" * 10000]


def test_pacer_takes_the_line_time():
    stop = threading.Event()
    pacer = Pacer(9600, stop)
    start = time.monotonic()
    out = b"".join(pacer.slices(b"y" * 480))
    assert out == b"y" * 480
    assert time.monotonic() - start >= 0.45  # 480 bytes * 10 bits / 9600 baud = 0.5 s


class _LateClock:
    """A fake clock whose every wait wakes `late` seconds after it was due, as a busy host's."""

    def __init__(self, late: float) -> None:
        self.now = 100.0
        self.late = late

    def monotonic(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += seconds + self.late
        return False


def test_pacer_late_wakeups_do_not_add_up(monkeypatch):
    # 3840 bytes at 115200 baud are 333.33 ms of line, in 115-byte slices. Each slice's wake-up
    # comes 5 ms late; the schedule must stay the line's: a slice is never released before its
    # line time, and the last one only one wake-up's lateness after the line time of the whole
    # burst (scheduling from the late wake-up made it 34 wake-ups late).
    clock = _LateClock(late=0.005)
    monkeypatch.setattr("firmware_ref.transport.time.monotonic", clock.monotonic)
    pacer = Pacer(115200, threading.Event())
    monkeypatch.setattr(pacer, "_stop", clock)
    start = clock.now
    sent = 0
    for chunk in pacer.slices(bytes(3840)):
        sent += len(chunk)
        line_time = sent * 10.0 / 115200
        assert clock.now >= start + line_time - 1e-9
        assert clock.now <= start + line_time + clock.late + 1e-9
    assert sent == 3840


def test_pacer_stops_early_when_asked():
    stop = threading.Event()
    stop.set()
    assert b"".join(Pacer(300, stop).slices(b"z" * 100)) == b""


def test_output_is_paced_too(tcp_board):
    transport = tcp_board(baud=9600)
    sock = connect(transport)
    for tag in range(12):
        sock.sendall(b'AT%%CMNG=0,%d,0,"c"\r\n' % tag)
        assert recv_exact(sock, len(OK)) == OK
    start = time.monotonic()
    sock.sendall(b"AT%CMNG=1\r\n")
    listing = recv_until(sock, OK)
    elapsed = time.monotonic() - start
    assert listing.count(b"%CMNG:") == 12
    assert elapsed >= 0.8 * len(listing) * 10 / 9600
    sock.close()


def test_second_client_replaces_the_first(tcp_board):
    transport = tcp_board()
    first = connect(transport)
    second = connect(transport)
    first.settimeout(10)
    assert first.recv(100) == b""  # closed by the board
    second.sendall(b"AT\r\n")
    assert recv_exact(second, len(OK)) == OK
    first.close()
    second.close()


def test_disconnect_powers_the_modem_off(tcp_board):
    transport = tcp_board()
    sock = connect(transport)
    sock.sendall(b"AT\r\n")
    assert recv_exact(sock, len(OK)) == OK
    fw = transport.board.firmware
    assert fw is not None
    sock.close()
    assert fw.stopping.wait(10)


def test_pty_powers_on_at_first_open_and_keeps_serving():
    stop = threading.Event()
    board = Board(FirmwareConfig())
    transport = PtyTransport(board, stop)
    thread = threading.Thread(target=transport.serve, daemon=True)
    thread.start()
    try:
        assert board.firmware is None  # nothing boots before a host opens the port
        for i in range(3):
            fd = os.open(transport.path, os.O_RDWR | os.O_NOCTTY)
            try:
                if i == 0:
                    assert _read_exact(fd, len(READY)) == READY
                os.write(fd, b"AT\r\n")
                assert _read_exact(fd, len(OK)) == OK
            finally:
                os.close(fd)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


@pytest.fixture
def pty_board():
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(**config) -> PtyTransport:
        transport = PtyTransport(Board(FirmwareConfig(**config)), stop)
        thread = threading.Thread(target=transport.serve, daemon=True)
        thread.start()
        threads.append(thread)
        return transport

    yield start
    stop.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()


def open_host(transport: PtyTransport) -> int:
    """A host that opens the slave and never flushes it (`cat`, a terminal program)."""
    return os.open(transport.path, os.O_RDWR | os.O_NOCTTY)


def test_pty_banner_follows_a_pyserial_open(pty_board, monkeypatch):
    # With the fallback an hour away, only the flush at the end of Serial.open() can release
    # the banner; it must arrive whole, with nothing before or after it.
    monkeypatch.setattr("firmware_ref.transport.SETTLE_S", 3600.0)
    transport = pty_board()
    with serial.serial_for_url(transport.path, timeout=10) as port:
        assert port.read(len(READY)) == READY
        port.write(b"AT\r\n")
        assert port.read(len(OK)) == OK


class _PollWatch:
    """Records the pty transport's timed polls of the master while it awaits a host's flush:
    whether the test's host had finished its steps when each poll began, and what it returned."""

    def __init__(self, transport: PtyTransport) -> None:
        self._poll = transport._poll
        self._cond = threading.Condition()
        self.host_done = False
        self.polls: list[tuple[bool, int]] = []
        transport._poll = self  # type: ignore[method-assign]

    def __call__(self, events: int, timeout: float) -> int:
        done = self.host_done
        got = self._poll(events, timeout)
        if timeout > 0:
            with self._cond:
                self.polls.append((done, got))
                self._cond.notify_all()
        return got

    def wait_quiet_poll_after_host(self, timeout: float = 10.0) -> None:
        """Until a poll that began after the host's last step found no status pending: every
        status the host raised has been read, and any that released the banner would have
        ended these polls."""
        with self._cond:
            assert self._cond.wait_for(lambda: (True, 0) in self.polls, timeout), self.polls


def test_pty_banner_waits_for_the_flush_and_keeps_what_the_host_sent(pty_board, monkeypatch):
    monkeypatch.setattr("firmware_ref.transport.SETTLE_S", 3600.0)
    transport = pty_board()
    watch = _PollWatch(transport)
    host = open_host(transport)
    try:
        # Statuses other than FLUSHREAD: DOSTOP (IXON switched on) and FLUSHWRITE.
        attrs = termios.tcgetattr(host)
        attrs[0] |= termios.IXON
        termios.tcsetattr(host, termios.TCSANOW, attrs)
        termios.tcflush(host, termios.TCOFLUSH)
        os.write(host, b"AT\r\n")  # typed before the board is up: kept for the modem
        watch.host_done = True
        watch.wait_quiet_poll_after_host()
        assert any(got & select.POLLPRI for _done, got in watch.polls)  # statuses were seen
        assert transport.board.firmware is None
        assert select.select([host], [], [], 0)[0] == []
        termios.tcflush(host, termios.TCIFLUSH)
        assert _read_exact(host, len(READY + OK)) == READY + OK
    finally:
        os.close(host)


def test_pty_host_that_never_flushes_gets_the_banner_after_the_settle_time(pty_board):
    transport = pty_board()
    host = open_host(transport)
    try:
        os.write(host, b"AT\r\n")
        assert _read_exact(host, len(READY + OK)) == READY + OK
    finally:
        os.close(host)


def test_pty_without_packet_mode_waits_the_settle_time_and_reads_plain_data(pty_board, monkeypatch):
    # A platform whose ptys refuse TIOCPKT: every host gets the banner after SETTLE_S, as a
    # host that never flushes does, and reads of the master are data with no header to strip.
    real_ioctl = fcntl.ioctl

    def no_packet_mode(fd, request, *args):
        if request == TIOCPKT:
            raise OSError(errno.EINVAL, "packet mode refused")
        return real_ioctl(fd, request, *args)

    monkeypatch.setattr(fcntl, "ioctl", no_packet_mode)
    transport = pty_board()
    assert transport._packet_mode is False
    with serial.serial_for_url(transport.path, timeout=10) as port:
        assert port.read(len(READY)) == READY
        port.write(b"\x01AT\r\n")  # a byte that would be a status in packet mode: a bad line
        assert port.read(len(ERROR_LINE)) == ERROR_LINE
        port.write(b"AT\r\n")
        assert port.read(len(OK)) == OK


def test_pty_status_bytes_never_reach_the_modem_and_data_starting_with_them_does(pty_board):
    # In packet mode 0x01 is FLUSHREAD as a status and a plain byte as data; 0x00 is the data
    # header. Each piece below starts a packet: the previous one was read (the peer has it).
    peer = socket.create_server(("127.0.0.1", 0))
    transport = pty_board(online=True)
    host = open_host(transport)
    try:
        termios.tcflush(host, termios.TCIFLUSH)
        assert _read_exact(host, len(READY)) == READY
        # A flush inside a command line: fed to the modem, its status would end up in the line.
        os.write(host, b"AT")
        termios.tcflush(host, termios.TCIFLUSH)
        os.write(host, b"\r\n")
        assert _read_exact(host, len(OK)) == OK
        os.write(host, b"AT#XSOCKET=1,1,0\r\n")
        assert _read_until(host, OK) == b"\r\n#XSOCKET: 0,1,6\r\n" + OK
        os.write(host, b'AT#XCONNECT="127.0.0.1",%d\r\n' % peer.getsockname()[1])
        assert _read_until(host, OK) == b"\r\n#XCONNECT: 1\r\n" + OK
        conn, _ = peer.accept()
        conn.settimeout(10)
        os.write(host, b"AT#XSEND\r\n")  # SLM v2.0 enters data mode without a word
        deadline = time.monotonic() + 10
        while transport.board.firmware is None or not transport.board.firmware.in_data_mode:
            assert time.monotonic() < deadline, "AT#XSEND did not enter data mode"
            time.sleep(0.005)  # polling the firmware's state: it reports no event for this
        pieces = [b"\x01\x00a", b"\x00\x01b", b"\x01"]
        for piece in pieces:
            termios.tcflush(host, termios.TCIFLUSH)  # one more status before each packet
            os.write(host, piece)
            assert recv_exact(conn, len(piece)) == piece
    finally:
        os.close(host)
        transport.stop.set()
    # The board is off: its socket closes, and the peer got exactly the pieces.
    assert conn.recv(100) == b""
    conn.close()
    peer.close()


def test_pty_reopen_by_pyserial_does_not_reboot_and_its_flush_is_not_data(pty_board):
    transport = pty_board()
    with serial.serial_for_url(transport.path, timeout=10) as port:
        assert port.read(len(READY)) == READY
        fw = transport.board.firmware
    for _ in range(2):
        with serial.serial_for_url(transport.path, timeout=10) as port:
            port.write(b"AT\r\n")
            assert port.read(len(OK)) == OK
    assert transport.board.firmware is fw


def _read_until(fd: int, marker: bytes, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout  # one deadline for the whole answer, not per byte
    data = b""
    while not data.endswith(marker):
        data += _read_exact(fd, 1, max(deadline - time.monotonic(), 0.0))
    return data


def _read_exact(fd: int, n: int, timeout: float = 10.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < n:
        left = deadline - time.monotonic()
        assert left > 0, f"timeout after {data!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            data += os.read(fd, n - len(data))
    return data


def test_input_is_held_back_while_a_command_blocks(tcp_board):
    # A UART with RTS/CTS stops the host while the firmware is busy: the simulator must not
    # take 200 MiB into memory while #XRECV blocks.
    from firmware_ref.transport import INPUT_BACKLOG

    transport = tcp_board(online=True)
    sock = connect(transport)
    sock.sendall(b"AT#XSOCKET=1,2,0\r\n")
    assert recv_until(sock, OK).endswith(OK)
    fw = transport.board.firmware
    assert fw is not None
    started = fw.handlers_started  # #XSOCKET's handler began before its OK
    sock.sendall(b"AT#XRECV=20\r\n")  # blocks: nothing will arrive on the UDP socket
    # The command must run before the flood: bytes in its own RX event would overwrite it in
    # at_buf (slm_at_host.c cmd_rx_handler), and a transport thread starved on a busy host
    # reads the command late, together with whatever follows it.
    deadline = time.monotonic() + 10
    while fw.handlers_started == started:
        assert time.monotonic() < deadline, "AT#XRECV=20 never started"
        time.sleep(0.005)  # polling the worker's state: it reports no event for this
    sock.settimeout(0.5)
    block = b"x" * 65536
    sent = 0
    try:
        while sent < 200 * 1024 * 1024:
            sent += sock.send(block)
    except TimeoutError:
        pass  # the board stopped taking input: pushed back
    assert sent < 32 * 1024 * 1024  # the kernel's socket buffers, not the whole flood
    assert fw.backlog <= INPUT_BACKLOG + 4096
    sock.close()


def test_pty_close_waits_for_a_write_in_progress(held_write):
    # A firmware thread (a timer's notification, a socket's data) can be writing when the
    # transport closes. Closing the master under it would let that write land on whatever file
    # reuses the number next; in the in-process harness that is another test's pty.
    stop = threading.Event()
    board = Board(FirmwareConfig())
    transport = PtyTransport(board, stop)
    thread = threading.Thread(target=transport.serve, daemon=True)
    thread.start()
    host = os.open(transport.path, os.O_RDWR | os.O_NOCTTY)
    try:
        assert _read_exact(host, len(READY)) == READY
        held = held_write(transport.master, "notifier")
        notifier = threading.Thread(
            target=transport._output, args=(b"\r\n+CEREG: 1\r\n",), name="notifier"
        )
        notifier.start()
        assert held.writing.wait(10)
        stop.set()  # the serving thread leaves its loop and closes the transport
        # Unfixed, the master is closed at once; fixed, only after the write returns.
        held.closed.wait(0.5)
        held.release()
        notifier.join(10)
        thread.join(10)
        assert held.events == ["write returned", "closed"]
    finally:
        stop.set()
        thread.join(10)
        os.close(host)
