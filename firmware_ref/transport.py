"""How the simulated board's UART reaches a host: a pseudo-terminal or a raw TCP port.

A booted modem starts with ``Ready``, no sockets and registration state reset; credentials
survive because they live in the modem's flash.

* TCP: every new connection meets a freshly booted modem. One client at a time: a new
  connection *replaces* the current one (the old socket is closed and its modem powered off),
  so a test run that lost its connection can always get back in, and a stale client can never
  block the board.
* pty: the board powers on when a host first opens the slave (the master stops reporting
  POLLHUP), so that host sees the banner. pyserial discards the port's input right after
  opening it, so the banner follows that flush, which the master sees in packet mode; a host
  that never flushes gets it ``SETTLE_S`` after its open was seen. Like a real board's USB
  serial port, closing and reopening the pty does not reset the board: a close and a quick
  reopen cannot be told apart from no close at all by watching the master, so resetting on
  reopen could not be reliable. We never keep the slave open ourselves; while no host has it
  open (EIO on the master) the modem's output is dropped, like a UART transmitting into a
  disconnected cable, and the board keeps running for the next open.

So only TCP connections power-cycle the board; the first line of stdout is printed before
either transport has booted anything.

``--baud`` pacing: every byte costs 10 bit times in each direction, independently (full duplex),
enforced with a running schedule so long transfers take their true time without drift.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time
import tty
from collections.abc import Callable

from firmware_ref.core.host import Firmware, FirmwareConfig, log, make_firmware
from firmware_ref.core.modem import ModemState

# The longest wait from a host's connect/open to the boot banner. pyserial discards pending input
# right after opening a port (pty and socket:// alike), and a banner sent earlier would be lost
# in it. On the pty the flush itself is seen (TIOCPKT_FLUSHREAD) and the banner follows it at
# once; this bound is for a pty host that never flushes (`cat`, a plain open) and for every TCP
# client, whose flush cannot be seen.
SETTLE_S = 0.15
# Linux pty packet mode (tty_ioctl(4)): every read of the master is one status byte, or a zero
# byte followed by data. A host's tcflush(TCIFLUSH) of the slave raises FLUSHREAD; other bits
# (FLUSHWRITE, STOP/START, NOSTOP/DOSTOP) come with the same byte and mean nothing here.
TIOCPKT = getattr(termios, "TIOCPKT", 0x5420)
TIOCPKT_DATA = 0x00
TIOCPKT_FLUSHREAD = getattr(termios, "TIOCPKT_FLUSHREAD", 0x01)
PTY_POLL_S = 0.02  # how often an absent pty host is looked for
READ_SIZE = 4096
WRITE_STALL_S = 2.0  # a host that reads nothing for this long loses the bytes
# Input the board holds while a command blocks before it stops reading (RTS/CTS): the host's
# writes then block in the kernel's buffers instead of filling the simulator's memory.
INPUT_BACKLOG = 64 * 1024


def _like_an_interrupt() -> None:
    """Raise the calling reader thread's scheduling priority where the host allows it.

    The firmware times data-mode chunks by when bytes arrive, and a UART receive is an
    interrupt: on a busy host a reader that waits for the CPU would read two writes the host
    separated by the idle time limit as one, and a `+` run sent as data would end data mode.
    Without the privilege (an unprivileged CI user), it keeps the default priority.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
    except (OSError, AttributeError):
        pass


class Pacer:
    """Throttles a byte stream to ``baud`` with 10 bits per byte."""

    def __init__(self, baud: int | None, stop: threading.Event) -> None:
        self.baud = baud
        self._stop = stop
        self._due = 0.0
        self._lock = threading.Lock()

    @property
    def slice_size(self) -> int:
        # about 10 ms of line time per slice: fine enough that the firmware's inactivity
        # timer sees a continuous stream, coarse enough to keep the overhead low
        return max(1, (self.baud or 0) // 1000) if self.baud else READ_SIZE

    def slices(self, data: bytes):
        """Yield ``data`` in slices, each released when the line would have carried it."""
        if not self.baud:
            yield data
            return
        step = self.slice_size
        # All of `data` waits from now on: each slice follows the previous one on the line, not
        # the moment this thread got round to it. Scheduling from that moment added every late
        # wake-up to the line time (a 3840-byte burst at 115200 took 5 to 18 % longer on a busy
        # host): a slower UART than the board's. Never earlier than the line allows either.
        ready = time.monotonic()
        for i in range(0, len(data), step):
            chunk = data[i : i + step]
            with self._lock:
                self._due = max(self._due, ready) + len(chunk) * 10.0 / self.baud
                due = self._due
            left = due - time.monotonic()
            if left > 0 and self._stop.wait(left):
                return
            yield chunk


class Board:
    """The simulated board: one ``Firmware`` per host connection, one modem flash."""

    def __init__(self, config: FirmwareConfig) -> None:
        self.config = config
        self.modem = ModemState(address=config.address, address6=config.address6, imei=config.imei)
        self._fw: Firmware | None = None
        self._lock = threading.Lock()

    def log(self, msg: str) -> None:
        log(self.config, msg)

    def power_on(self, output: Callable[[bytes], None]) -> Firmware:
        with self._lock:
            if self._fw is not None:
                self._fw.close()
            self._fw = make_firmware(output, self.config, modem=self.modem)
            self._fw.start()
            return self._fw

    def power_off(self, fw: Firmware | None = None) -> None:
        with self._lock:
            if self._fw is None or (fw is not None and fw is not self._fw):
                return
            self._fw.close()
            self._fw = None

    @property
    def firmware(self) -> Firmware | None:
        return self._fw


class TcpTransport:
    """Serve the UART as raw TCP on ``host:port`` (port 0: any free port)."""

    def __init__(self, board: Board, host: str, port: int, stop: threading.Event) -> None:
        self.board = board
        self.stop = stop
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = socket.socket(family, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((host, port))
        self.server.listen(4)
        self.server.settimeout(0.2)
        self.host = host
        self.port = self.server.getsockname()[1]
        self._conn: socket.socket | None = None
        self._conn_lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"socket://{host}:{self.port}"

    def serve(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    conn, peer = self.server.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    if self.stop.is_set():
                        break
                    # e.g. EMFILE while the socket commands hold many host sockets: keep the
                    # board up and try again shortly
                    self.board.log(f"accept failed: {exc}")
                    self.stop.wait(0.1)
                    continue
                try:
                    self._take(conn, peer)
                except OSError as exc:
                    self.board.log(f"client setup failed: {exc}")
                    _close_socket(conn)
        finally:
            self.close()

    def _take(self, conn: socket.socket, peer: object) -> None:
        with self._conn_lock:
            old, self._conn = self._conn, conn
        if old is not None:
            self.board.log("new client replaces the current one")
            _close_socket(old)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Bounded sends: a client that stops reading costs it the bytes, never the board.
        conn.settimeout(WRITE_STALL_S)
        self.board.log(f"client connected from {peer}")
        tx = Pacer(self.board.config.baud, self.stop)

        def output(data: bytes) -> None:
            for chunk in tx.slices(data):
                conn.sendall(chunk)

        threading.Thread(
            target=self._reader, args=(conn, output), name="slm-tcp-rx", daemon=True
        ).start()

    def _reader(self, conn: socket.socket, output: Callable[[bytes], None]) -> None:
        rx = Pacer(self.board.config.baud, self.stop)
        fw: Firmware | None = None
        _like_an_interrupt()
        try:
            # Whatever the host sends meanwhile waits in the socket buffer for the new modem.
            if self.stop.wait(SETTLE_S):
                return
            with self._conn_lock:
                if self._conn is not conn:
                    return  # already replaced by a newer client
            fw = self.board.power_on(output)
            while not self.stop.is_set():
                try:
                    data = conn.recv(READ_SIZE)
                except TimeoutError:
                    continue  # the send timeout also applies here; silence is fine
                except OSError:
                    break
                if not data:
                    break
                for chunk in rx.slices(data):
                    fw.feed(chunk)
                fw.wait_backlog_below(INPUT_BACKLOG, self.stop)
        finally:
            self.board.log("client disconnected")
            with self._conn_lock:
                mine = self._conn is conn
                if mine:
                    self._conn = None
            _close_socket(conn)
            if mine and fw is not None:
                self.board.power_off(fw)

    def close(self) -> None:
        try:
            self.server.close()
        except OSError:
            pass
        with self._conn_lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            _close_socket(conn)
        self.board.power_off()


def _close_socket(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        conn.close()
    except OSError:
        pass


class PtyTransport:
    """Serve the UART on a pseudo-terminal; ``path`` is the slave a host opens."""

    def __init__(self, board: Board, stop: threading.Event) -> None:
        self.board = board
        self.stop = stop
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        # Raw and without echo, so bytes pass untouched both ways even for hosts that do not
        # configure the port; the settings stay with the pty after we close our slave fd.
        tty.setraw(slave)
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        os.close(slave)
        # Packet mode only now, so that our own setup leaves no status to be taken for a host's.
        # A platform without it falls back to waiting SETTLE_S for every host.
        try:
            fcntl.ioctl(self.master, TIOCPKT, struct.pack("i", 1))
            self._packet_mode = True
        except OSError:
            self._packet_mode = False
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._connected = False
        self._fw: Firmware | None = None
        self._wlock = threading.Lock()
        self._tx = Pacer(board.config.baud, stop)
        self._rx = Pacer(board.config.baud, stop)

    @property
    def url(self) -> str:
        return self.path

    def _poll(self, events: int, timeout: float) -> int:
        p = select.poll()
        p.register(self.master, events)
        return next((ev for _fd, ev in p.poll(timeout * 1000)), 0)

    def _host_present(self) -> bool:
        events = self._poll(select.POLLPRI, 0)
        if not events & select.POLLHUP:
            return True
        if events & select.POLLPRI:
            # A flush by a host that came and went unseen must not release the next one's banner.
            self._take_status()
        return False

    def _take_status(self) -> int:
        """The pending packet-mode status byte, or 0. A one-byte read never takes data: a data
        packet needs its header byte first, so such a read returns the bare header and leaves
        the data queued."""
        try:
            packet = os.read(self.master, 1)
        except OSError:
            return 0  # nothing pending (EAGAIN) or the host is gone (EIO): the caller polls
        return packet[0] if packet else 0

    def _await_flush(self) -> bool:
        """Wait for the new host to discard its input (pyserial does, as it opens a port), at
        most SETTLE_S; False when the host left meanwhile or the board is stopping. The host's
        data stays queued for the modem: only the status (POLLPRI) is waited on and read."""
        if not self._packet_mode:
            return not self.stop.wait(SETTLE_S) and self._host_present()
        deadline = time.monotonic() + SETTLE_S
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return self._host_present()
            events = self._poll(select.POLLPRI, min(left, 0.1))
            if events & select.POLLHUP:
                return False
            if events & select.POLLPRI and self._take_status() & TIOCPKT_FLUSHREAD:
                return True
        return False

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        stalled_since: float | None = None
        while view:
            if not self._connected or self.stop.is_set() or self.master < 0:
                return  # nobody listening (or closed): the bytes go nowhere
            try:
                n = os.write(self.master, view)
                view = view[n:]
                stalled_since = None
            except BlockingIOError:
                now = time.monotonic()
                stalled_since = stalled_since or now
                if now - stalled_since > WRITE_STALL_S:
                    self.board.log(f"pty host not reading; {len(view)} bytes dropped")
                    return
                select.select([], [self.master], [], 0.05)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EAGAIN):
                    return
                raise

    def _output(self, data: bytes) -> None:
        with self._wlock:
            for chunk in self._tx.slices(data):
                self._write(chunk)

    def serve(self) -> None:
        _like_an_interrupt()
        try:
            while not self.stop.is_set():
                if not self._connected:
                    if not self._host_present():
                        self.stop.wait(PTY_POLL_S)
                        continue
                    if self._fw is None:
                        if not self._await_flush():
                            continue
                        self._connected = True
                        self.board.log("pty host attached: power on")
                        self._fw = self.board.power_on(self._output)
                    else:
                        self._connected = True
                        self.board.log("pty host attached")
                r, _, _ = select.select([self.master], [], [], 0.1)
                if not r:
                    continue
                try:
                    packet = os.read(self.master, READ_SIZE + 1)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno != errno.EIO:
                        self.board.log(f"pty read failed: {exc}")
                        self.stop.wait(0.1)
                        continue
                    packet = b""
                if not packet:
                    # EIO: the last host closed the slave. Keep serving: wait for the next open.
                    self._connected = False
                    self.board.log("pty host detached")
                    continue
                data = packet
                if self._packet_mode:
                    if packet[0] != TIOCPKT_DATA:
                        continue  # a status (a reattached host's flush, its flow settings)
                    data = packet[1:]
                if not data:
                    continue
                assert self._fw is not None
                for chunk in self._rx.slices(data):
                    self._fw.feed(chunk)
                self._fw.wait_backlog_below(INPUT_BACKLOG, self.stop)
        finally:
            self.close()

    def close(self) -> None:
        self._connected = False
        self.board.power_off()
        # Firmware threads write under _wlock: the number is closed only between two writes
        # and never used again, since the next open in this process may reuse it.
        with self._wlock:
            master, self.master = self.master, -1
        if master >= 0:
            try:
                os.close(master)
            except OSError:
                pass
