"""The AT client: the only code that turns modem bytes into lines, payloads and results.

One reader thread owns the port's input. It splits the stream into CRLF lines, except after a
`#XRECV: <n>` / `#XRECVFROM: <n>,...` header, where it takes exactly `n` raw bytes (the payload
has no CRLF of its own and may hold CR, LF, NUL and quotes). Lines are routed while a command is
in flight as modem_chat and ubxlib do: a final result completes the command, a line with the
command's own prefix is its response (so `+CEREG: ...` answers `AT+CEREG?`), a line with a known
unsolicited prefix goes to the URC queue, anything else is the command's information text. With
no command in flight every line is unsolicited.
"""

from __future__ import annotations

import os
import re
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import serial
from serial.urlhandler import protocol_socket

from pytest_slm.at.errors import (
    AtError,
    AtTimeout,
    BoardResetError,
    LinkError,
    OutOfStepError,
    ProtocolError,
    SlmError,
)
from pytest_slm.at.framing import MAX_PAYLOAD, V20, Framing
from pytest_slm.at.result import FINAL_ERROR, FINAL_OK, AtResult, is_final
from pytest_slm.at.transcript import RX, TX, Transcript

try:  # pyserial's tty class on POSIX hosts
    from serial.serialposix import Serial as _POSIX_SERIAL
except ImportError:  # pragma: no cover (Windows)
    _POSIX_SERIAL = None  # type: ignore[assignment,misc]

_POLL_TTYS = sys.platform.startswith("linux")

BANNER = "Ready"
_BANNER_LINE = b"Ready\r\n"
TERMINATOR = b"+++"

# Lines SLM v2.0 may send at any time. `Ready` is handled on its own (it also means a reset).
# Each generation's list lives in its Framing (pytest_slm.at.framing).
URC_PREFIXES: tuple[str, ...] = V20.urc_prefixes

# `+CEREG: <stat>[,"<tac>"...]` and `+CSCON: <mode>` are notifications even while `AT+CEREG?`
# or `AT+CSCON?` runs: their read answers start with two integers (`+CEREG: <n>,<stat>...`).
# The modem sends a registration change whenever it happens, in the middle of a read too.
_URC_FORM = re.compile(r'^\+(?:CEREG|CSCON): \d+(?:,"|$)')
_COMMAND_NAME = re.compile(r"^AT([+%#][A-Za-z0-9]+)", re.IGNORECASE)
# After an abandoned command, one of these goes out before anything else: its answer carries its
# own prefix, so the lines before it are the abandoned command's. Modem commands without side
# effects that every SLM generation passes through; a probe is never one whose answer could be
# outstanding already (same prefix as an abandoned command).
PROBES: tuple[str, ...] = ("AT+CFUN?", "AT+CMEE?", "AT+CGSN=1", "AT+CGEREP?")


class SecretText(str):
    """A command that carries a credential: its repr (what tracebacks, `--showlocals` and error
    messages print) never shows it."""

    def __repr__(self) -> str:
        return f"'{self[:12]}...<redacted {len(self)} chars>'"


class SecretBytes(bytes):
    """The bytes of a `SecretText` command on their way to the port."""

    def __repr__(self) -> str:
        return f"b'{self[:12].decode('latin-1')}...<redacted {len(self)} bytes>'"


def expected_prefix(command: str) -> str | None:
    """`AT#XSOCKET=1,1,0` -> `#XSOCKET:`; None for plain `AT` or commands without a name."""
    match = _COMMAND_NAME.match(command)
    return match.group(1).upper() + ":" if match else None


def _printable(line: str) -> bool:
    # For ASCII, isprintable() is exactly 0x20..0x7E.
    return line.isascii() and line.isprintable()


def _is_banner(line: str) -> bool:
    # A board that reboots may push a few bytes of boot noise (NUL, 0xFF) before the banner.
    if not line.endswith(BANNER):
        return False
    head = line[: -len(BANNER)]
    return all(not (0x20 < ord(ch) < 0x7F) for ch in head)


class _Pending:
    """One command in flight. A plain class with slots: one is made per command, and a
    dataclass's field factories cost more than the rest of the caller's bookkeeping."""

    __slots__ = (
        "command",
        "prefix",
        "started",
        "lines",
        "payloads",
        "garbage",
        "final",
        "error",
        "abandoned",
        "enters_datamode",
        "signal",
        "signalled",
    )

    def __init__(self, command: str, prefix: str | None) -> None:
        self.command = command
        self.prefix = prefix
        self.started = time.monotonic()
        self.lines: list[str] = []
        self.payloads: list[bytes] = []
        self.garbage: list[str] = []
        self.final: str | None = None
        self.error: SlmError | None = None
        self.abandoned = False
        self.enters_datamode = False
        # Released once the command is done (see AtClient._signal_done): its caller waits on
        # this lock alone, not on the client's condition, which the reader thread still holds
        # when it has framed the final result.
        self.signal = threading.Lock()
        self.signal.acquire()
        self.signalled = False

    @property
    def done(self) -> bool:
        return self.final is not None or self.error is not None


class AtClient:
    """Drives one SLM over an opened pyserial port (any `serial_for_url` object)."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        transcript: Transcript | None = None,
        timeout: float = 10.0,
        datamode_settle: float = 0.3,
        close_port: bool = True,
        framing: Framing = V20,
    ) -> None:
        self.port = port
        # --- dialect hook: every generation-specific framing rule is asked of this object.
        self.framing = framing
        # Automatic-reception data (Serial Modem #XRECVCFG): (header line, payload, what was
        # wrong with its framing or None).
        self._urc_payloads: deque[tuple[str, bytes, str | None]] = deque()
        self._urc_header: str | None = None
        self._urc_size = 0
        self._urc_hex = False
        # After an automatic header: notification lines the board flushed before (or, in hex,
        # inside) the data; the payload bytes still to come once they end.
        self._in_gap = False
        self._gap = bytearray()
        self._gap_resume = 0
        # The finished payload of an automatic header, waiting for the CRLF that follows it.
        self._urc_done: bytes | None = None
        self._trailer = bytearray()
        # Serial Modem data mode: what the board sent (automatic reception, flag 2), the bytes
        # held while the exit line may be arriving, and what arms that line: the host wrote the
        # terminator, or the <data_len>-th byte.
        self._dm_rx = bytearray()
        self._dm_stage = bytearray()
        self._dm_armed = False
        self._dm_tail = b""
        self._dm_left: int | None = None
        self.transcript = transcript if transcript is not None else Transcript()
        self.timeout = timeout
        # v2.0 enters data mode silently: the absence of ERROR within this window is the only
        # sign of success the protocol gives.
        self.datamode_settle = datamode_settle
        self.close_port = close_port
        self.in_data_mode = False
        self.boot_count = 0
        self.strays: list[str] = []
        # (command name, seconds to its final result, whether that result was OK): the run's
        # latency table reads these.
        self.timings: list[tuple[str, float, bool]] = []
        self._urcs: deque[str] = deque()
        self._pending: _Pending | None = None
        # Commands whose answer may still come (timed out, cut by a reboot or a bad header).
        self._abandoned: list[str] = []
        # The last probe sent to prove the board back in step (its prefix is unique among the
        # abandoned commands), and whether its own answer line has arrived.
        self._awaiting: str | None = None
        self._identified = False
        # Boot banners seen with no command pending and not yet reported or waited for.
        self._unseen_boots = 0
        self._late_refusal: str | None = None
        self._left_by_board = False
        self._link_error: LinkError | None = None
        self._line = bytearray()
        self._last_rx = time.monotonic()
        self._payload_left = 0
        self._payload = bytearray()
        # The condition's own lock, entered directly where nobody is notified or waited for:
        # `with self._mutex` skips the Python-level Condition.__enter__/__exit__ (three per
        # command).
        self._mutex = threading.RLock()
        self._cond = threading.Condition(self._mutex)
        self._command_lock = threading.RLock()
        self._stop = threading.Event()
        self._close_lock = threading.Lock()
        # Held while a write uses the port and while close() closes it: a descriptor closed
        # under a write would let the write land on whatever file reuses its number.
        self._port_lock = threading.Lock()
        self._closed = False
        # socket:// only: rfc2217:// also has a socket, but its own thread decodes telnet there.
        self._raw_socket = isinstance(port, protocol_socket.Serial)
        self._poller: select.poll | None = None
        self._polled_fd: int | None = None
        self._configure_port()
        self._reader = threading.Thread(target=self._read_loop, name="slm-at-reader", daemon=True)
        self._reader.start()

    # ----------------------------------------------------------------------------------- I/O

    def _configure_port(self) -> None:
        # A short read timeout lets the reader notice close(); a write timeout keeps a board
        # that stopped reading from hanging the test process forever.
        try:
            self.port.timeout = 0.05
            self.port.write_timeout = max(self.timeout, 30.0)
        except NotImplementedError:
            # pyserial's rfc2217:// has no write timeout; the rejected value would stay set and
            # fail every later reconfiguration (baud change), so clear it again.
            self.port.write_timeout = None
        except (ValueError, serial.SerialException):
            pass

    def _local_fd(self) -> int | None:
        """The file descriptor of a local tty port (pyserial's posix Serial), else None."""
        port = self.port
        if _POSIX_SERIAL is not None and type(port) is _POSIX_SERIAL:
            fd = port.fd
            return fd if isinstance(fd, int) and port.is_open else None
        return None

    def _read_chunk(self) -> bytes:
        sock = getattr(self.port, "_socket", None) if self._raw_socket else None
        if sock is not None:
            # pyserial's socket:// reports at most 1 byte waiting, and a read of more blocks
            # until that many arrive: take whatever the socket holds instead.
            ready, _, _ = select.select([sock], [], [], 0.05)
            if not ready:
                return b""
            data = sock.recv(65536)
            if not data:
                raise serial.SerialException("the remote end closed the connection")
            return data
        fd = self._local_fd()
        if fd is not None:
            # A local tty: one select and one read take everything that has arrived, where
            # pyserial's in_waiting + read(n) costs an ioctl and a select per call, and wakes
            # the framer once per byte of an answer that trickles in. On Linux a poll object
            # kept for the fd costs less per wake-up than select's fd sets (macOS's poll does
            # not take ttys); the 50 ms bound lets the loop notice close().
            if _POLL_TTYS:
                if fd != self._polled_fd:
                    self._poller = select.poll()
                    self._poller.register(fd, select.POLLIN)
                    self._polled_fd = fd
                if not self._poller.poll(50):
                    return b""
            elif not select.select([fd], [], [], 0.05)[0]:
                return b""
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return b""
            if not data:
                raise serial.SerialException("the port reports data but returned none")
            return data
        waiting = self.port.in_waiting
        return self.port.read(min(max(waiting, 1), 65536))

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._read_chunk()
            except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
                # TypeError/AttributeError/ValueError: a port closed from another thread
                if self._stop.is_set():
                    return
                self._lost(exc)
                return
            if data:
                self._received(data)

    def _received(self, data: bytes) -> None:
        """What the reader does with each chunk: record it, frame it, wake who waits."""
        self.transcript.record(RX, data)
        with self._mutex:
            self._last_rx = time.monotonic()
            self._feed(data)
            self._cond.notify_all()
            pending = self._pending
        self._signal_done(pending)

    @staticmethod
    def _signal_done(pending: _Pending | None) -> None:
        """Wake the caller of a command that is done, once."""
        if pending is not None and pending.done and not pending.signalled:
            pending.signalled = True
            pending.signal.release()

    def _lost(self, exc: BaseException) -> None:
        with self._cond:
            self._link_error = LinkError(
                f"reading the port failed: {exc}", transcript_tail=self.transcript.tail()
            )
            pending = self._pending
            if pending is not None and not pending.done:
                pending.error = self._link_error
            self._cond.notify_all()
        self._signal_done(pending)

    def _check_link(self, command: str | None = None) -> None:
        lost = self._link_error
        if lost is not None:
            # A new error each time: re-raising one object would grow its traceback forever.
            raise LinkError(
                f"the link was lost earlier ({lost.reason})",
                command=command,
                transcript_tail=lost.transcript_tail,
            )

    def _write(self, data: bytes) -> None:
        self._check_link()
        self.transcript.record(TX, data)
        with self._port_lock:
            self._write_port(data)

    def _write_port(self, data: bytes) -> None:
        try:
            fd = self._local_fd()
            if fd is not None:
                # A local tty: os.write straight away (pyserial adds a select per write, and
                # flush() a tcdrain that waits for the UART to send the bytes, which nothing
                # here needs: the answer is the event). The rest, if the buffer is full, goes
                # through pyserial and its write timeout.
                try:
                    written = os.write(fd, data)
                except BlockingIOError:
                    written = 0
                if written < len(data):
                    self.port.write(data[written:])
                return
            self.port.write(data)
            self.port.flush()
        except serial.SerialTimeoutException as exc:
            raise AtTimeout(
                f"the board did not take {len(data)} bytes within the write timeout ({exc})",
                transcript_tail=self.transcript.tail(),
            ) from exc
        except (serial.SerialException, OSError) as exc:
            raise LinkError(
                f"writing to the port failed: {exc}", transcript_tail=self.transcript.tail()
            ) from exc

    # ---------------------------------------------------------------------------- the framer

    def _feed(self, data: bytes) -> None:
        index = 0
        while index < len(data):
            if self.in_data_mode and self.framing.datamode_stream:
                index = self._feed_datamode(data, index)
                continue
            if self._in_gap:
                index = self._feed_gap(data, index)
                continue
            if self._urc_done is not None:
                index = self._feed_trailer(data, index)
                continue
            if self._payload_left:
                chunk = data[index : index + self._payload_left]
                if self._urc_header is not None and self._urc_hex and b"\r" in chunk:
                    # Hex digits hold no CR: a line here is a URC data_send flushed between
                    # two hex chunks (data_send_hex sends 128 bytes at a time).
                    cut = chunk.index(b"\r")
                    self._payload.extend(chunk[:cut])
                    self._gap_resume = self._payload_left - cut
                    self._payload_left = 0
                    self._in_gap = True
                    self._gap.clear()
                    index += cut
                    continue
                owner = self._pending
                if owner is None or owner.done:
                    # Nobody waits for this payload (its command was abandoned): a boot banner in
                    # it is the board rebooting before it sent the rest, not data.
                    cut = chunk.find(_BANNER_LINE)
                    if cut >= 0:
                        lost = len(self._payload) + cut
                        self.strays.append(f"<{lost}-byte payload cut by a reboot>")
                        self._payload.clear()
                        self._payload_left = 0
                        self._urc_header = None
                        index += cut
                        continue
                self._payload.extend(chunk)
                self._payload_left -= len(chunk)
                index += len(chunk)
                if not self._payload_left:
                    self._deliver_payload()
                continue
            newline = data.find(b"\n", index)
            if newline < 0:
                self._line.extend(data[index:])
                return
            if self._line:
                self._line.extend(data[index : newline + 1])
                raw = bytes(self._line)
                self._line.clear()
            else:  # the whole line is in this chunk (the usual case): no copy through _line
                raw = data[index : newline + 1]
            index = newline + 1
            line = raw.rstrip(b"\r\n").decode("latin-1")
            if line:  # the empty line before every answer
                self._on_line(line)

    def _feed_datamode(self, data: bytes, index: int) -> int:
        """Serial Modem data mode: every byte is received data up to the exit line, which can
        only come once the host has written the terminator or its <data_len>-th byte."""
        chunk = data[index:]
        if not self._dm_armed:
            self._dm_rx.extend(chunk)
            return len(data)
        stage = self._dm_stage
        stage.extend(chunk)
        pattern = self.framing.datamode_exit_line
        match = pattern.search(stage) if pattern is not None else None
        if match is None:
            # Release what cannot be the start of the exit line (at most 27 bytes long).
            if len(stage) > 32:
                self._dm_rx.extend(stage[:-32])
                del stage[:-32]
            return len(data)
        line = bytes(match.group(1)).decode("latin-1")  # before the buffer it points into changes
        self._dm_rx.extend(stage[: match.start()])
        rest = bytes(stage[match.end() :])
        stage.clear()
        self._datamode_ended(line)
        if rest:
            self._feed(rest)
        return len(data)

    def _datamode_ended(self, line: str) -> None:
        """`#XDATAMODE: <status>` in the data-mode stream (call with the condition held)."""
        self.in_data_mode = False
        self._dm_armed = False
        self._dm_left = None
        failed = not line.endswith(" 0")
        self._left_by_board = failed
        if failed and self._dm_rx.endswith(TERMINATOR):
            # A non-zero status means exit_datamode_handler ran, and it printed the terminator
            # after the last received byte (socket_datamode_callback, sm_at_socket.c:1294).
            del self._dm_rx[-len(TERMINATOR) :]
        pending = self._pending if self._pending is not None and not self._pending.done else None
        if pending is not None and pending.command == TERMINATOR.decode():
            pending.lines.append(line)
            pending.final = line
        else:
            self._urcs.append(line)

    def _note_datamode_write(self, data: bytes) -> None:
        """Arm the exit line once what the host wrote can end data mode (condition held)."""
        if not (self.in_data_mode and self.framing.datamode_stream):
            return
        if self._dm_left is not None:
            self._dm_left -= len(data)
            if self._dm_left <= 0:
                self._dm_armed = True
        # The terminator is matched anywhere, across writes (raw_rx_handler); after a failed
        # send the board waits for it too (null_handler).
        if TERMINATOR in self._dm_tail + data:
            self._dm_armed = True
        self._dm_tail = (self._dm_tail + data)[-(len(TERMINATOR) - 1) :]

    def _feed_gap(self, data: bytes, index: int) -> int:
        """After an automatic header: `\r\n<notification>\r\n` lines are URCs data_send
        flushed before the data (sm_at_host.c:1490); the first byte that cannot start one
        begins the payload. (Data that itself begins with a whole notification line cannot be
        told from one; the CRLF check after the data then reports the misframing.)"""
        gap = self._gap
        gap.extend(data[index:])
        while gap:
            if not b"\r\n".startswith(bytes(gap[:2])):
                break
            if len(gap) < 2:
                return len(data)
            end = gap.find(b"\r\n", 2)
            text = gap[2 : end if end >= 0 else len(gap)].decode("latin-1")
            if end < 0:
                if self.framing.could_be_urc(text):
                    return len(data)
                break
            if not self.framing.is_urc(text):
                break
            self._urcs.append(text)
            del gap[: end + 2]
        rest = bytes(gap)
        gap.clear()
        self._in_gap = False
        self._payload_left = self._gap_resume
        if not self._payload_left:
            self._end_urc_payload()
        if rest:
            self._feed(rest)
        return len(data)

    def _end_urc_payload(self) -> None:
        self._urc_done = bytes(self._payload)
        self._payload.clear()
        self._trailer.clear()
        if not self.framing.payload_urc_trailer:
            self._deliver_urc_payload(None)

    def _feed_trailer(self, data: bytes, index: int) -> int:
        """The CRLF auto_reception prints after the data (sm_at_socket.c:262): anything else
        means the header's size was not the data's."""
        expected = self.framing.payload_urc_trailer
        chunk = data[index : index + len(expected) - len(self._trailer)]
        self._trailer.extend(chunk)
        if not expected.startswith(bytes(self._trailer)):
            got = bytes(self._trailer)
            self._trailer.clear()
            self._deliver_urc_payload(
                f"{self._urc_header!r} announced {self._urc_size} bytes, but the data taken by"
                f" that count is followed by {got!r}, not CRLF: the size is wrong or bytes were"
                " lost or added"
            )
            self._feed(got + data[index + len(chunk) :])
            return len(data)
        if len(self._trailer) == len(expected):
            self._trailer.clear()
            self._deliver_urc_payload(None)
        return index + len(chunk)

    def _deliver_urc_payload(self, problem: str | None) -> None:
        header, payload = self._urc_header or "", self._urc_done or b""
        self._urc_payloads.append((header, payload, problem))
        self._urc_header = None
        self._urc_done = None

    def _deliver_payload(self) -> None:
        if self._urc_header is not None:
            # --- dialect hook: automatic reception delivers data as a notification, once the
            # CRLF after it has come.
            self._end_urc_payload()
            return
        payload = bytes(self._payload)
        self._payload.clear()
        if self._pending is not None and not self._pending.done:
            self._pending.payloads.append(payload)
        else:
            self.strays.append(f"<{len(payload)}-byte payload with no command>")

    def _on_line(self, line: str) -> None:
        if not line:
            return
        pending = self._pending if self._pending is not None and not self._pending.done else None
        if line == FINAL_OK and pending is not None:
            # The usual end of a command, decided before the checks below, none of which can
            # match a bare OK: it is no banner, no payload header (no framing's starts with O),
            # printable, and with a command in flight not a stale line.
            self._final(pending, line)
            return
        if _is_banner(line):
            self.boot_count += 1
            self.in_data_mode = False
            self._urcs.append(BANNER)
            # A board that booted under a command may still answer it once it runs (input its
            # UART held): the command is abandoned, and the next one first proves the board is
            # back in step.
            if pending is not None:
                pending.error = BoardResetError(
                    "the board printed its boot banner while the command was pending",
                    command=pending.command,
                    received=pending.lines + [line],
                    transcript_tail=self.transcript.tail(),
                )
                self._abandon(pending)
            else:
                self._unseen_boots += 1
            return
        if self._abandoned and pending is None and not self.framing.is_urc(line):
            self._on_stale_line(line)
            return
        if self.framing.is_payload_header(line):
            self._on_payload_header(line, pending)
            return
        if pending is None:
            self._unsolicited(line)
            return
        if is_final(line):
            self._final(pending, line)
        elif (
            pending.prefix is not None
            and line.startswith(pending.prefix)
            and not _URC_FORM.match(line)
        ):
            pending.lines.append(line)
        elif (
            pending.command == TERMINATOR.decode()
            and self.framing.datamode_exit_prefix is not None
            and line.startswith(self.framing.datamode_exit_prefix)
        ):
            # --- dialect hook: Serial Modem answers the terminator with #XDATAMODE: <status>.
            pending.lines.append(line)
            pending.final = line
        elif self.framing.is_urc(line):
            self._urcs.append(line)
        else:
            pending.lines.append(line)
        if not _printable(line):
            pending.garbage.append(line)

    def _final(self, pending: _Pending, line: str) -> None:
        pending.final = line
        if pending.enters_datamode and line == FINAL_OK and self.framing.datamode_entry_answered:
            # --- dialect hook: data mode starts with this OK; with a data stream the next byte
            # (in this very chunk, maybe) is already received data.
            self.in_data_mode = True
            self._left_by_board = False

    def _on_stale_line(self, line: str) -> None:
        """A line while commands are abandoned: theirs, until the probe's own answer (its prefixed
        line, then OK) proves that the board has answered everything sent before it."""
        self.strays.append(line)
        probe = self._awaiting
        if probe is not None and line.startswith(expected_prefix(probe) or "\0"):
            self._identified = True
            return
        if self._identified and is_final(line):
            self._identified = False
            if line == FINAL_OK:
                self.strays.pop()
                self.strays.pop()
                self._abandoned.clear()
                self._awaiting = None
                self.transcript.note(f"back in step: {probe} answered")
            return
        self._identified = False
        header = self.framing.payload_header(line)
        if header is not None:
            self._payload_left = header.wire

    def _on_payload_header(self, line: str, pending: _Pending | None) -> None:
        header = self.framing.payload_header(line)
        if (
            header is not None
            and self.framing.payload_urcs
            and (pending is None or pending.prefix != header.command + ":")
        ):
            # --- dialect hook: a header no command asked for is automatic reception's.
            if header.size > MAX_PAYLOAD:
                self.strays.append(line)
                return
            self._urc_header = line
            self._urc_size = header.size
            self._urc_hex = header.hex
            self._payload.clear()
            self._gap.clear()
            self._gap_resume = header.wire
            self._in_gap = True
            return
        length = header.size if header else -1
        if not 0 <= length <= MAX_PAYLOAD:
            problem = ProtocolError(
                f"malformed payload header {line!r} (expected a length of 0..{MAX_PAYLOAD})",
                command=pending.command if pending else None,
                received=(pending.lines if pending else []) + [line],
                transcript_tail=self.transcript.tail(),
            )
            if pending is not None:
                pending.error = problem
                self._abandon(pending)
            else:
                self.strays.append(line)
            return
        if pending is not None:
            pending.lines.append(line)
        else:
            self.strays.append(line)
        self._payload_left = header.wire
        if length == 0:
            self._deliver_payload()

    def _unsolicited(self, line: str) -> None:
        exit_prefix = self.framing.datamode_exit_prefix
        if self.in_data_mode and exit_prefix is not None and line.startswith(exit_prefix):
            # --- dialect hook: Serial Modem left data mode by itself (<data_len> reached).
            self.in_data_mode = False
            self._left_by_board = not line.endswith(" 0")
            self._urcs.append(line)
            return
        if self.in_data_mode and exit_prefix is None and is_final(line):
            if line == FINAL_OK:
                # v2.0 leaves data mode by itself after a failed send and says OK.
                self.in_data_mode = False
                self._left_by_board = True
            else:
                self._late_refusal = line
                self.in_data_mode = False
            return
        self._urcs.append(line)

    # ------------------------------------------------------------------------------ commands

    def _begin(self, command: str, timeout: float | None = None) -> _Pending:
        self._check_link(command)
        self._report_unseen_boot(command)
        if self._abandoned and not self.in_data_mode and command[:2].upper() == "AT":
            # Not in data mode (a probe there would be payload), and not before the bare line
            # ends and quotes a recovery sends to finish a half-typed line (a probe would be
            # typed into that line).
            self._prove_in_step(command, self.timeout if timeout is None else timeout)
            self._report_unseen_boot(command)
        pending = _Pending(command, expected_prefix(command))
        with self._mutex:
            self._pending = pending
        return pending

    def _wait(self, pending: _Pending, timeout: float) -> bool:
        if not pending.signal.acquire(timeout=max(0.0, timeout)):
            # Done at the deadline itself counts: the same answer as a wait on the condition.
            with self._cond:
                return pending.done
        return True

    def _finish(self, pending: _Pending, completed: bool, timeout: float) -> AtResult:
        with self._mutex:
            self._pending = None
            if not completed or (
                pending.error is not None and not isinstance(pending.error, LinkError)
            ):
                self._abandon(pending)
            partial = b"" if completed else bytes(self._line)
            rebooted = bool(self._payload_left) and _BANNER_LINE in self._payload
            if rebooted and not completed:
                # The board rebooted inside the payload: its banner is in the bytes taken as
                # data, and the rest of the payload will never come.
                self.strays.append(f"<{len(self._payload)}-byte payload cut by a reboot>")
                self._payload.clear()
                self._payload_left = 0
                self.boot_count += 1
                self.in_data_mode = False
        duration = time.monotonic() - pending.started
        if pending.error is not None:
            raise pending.error
        if not completed and rebooted:
            raise BoardResetError(
                "the board printed its boot banner inside the payload it was sending",
                command=pending.command,
                received=list(pending.lines),
                transcript_tail=self.transcript.tail(),
            )
        if not completed:
            received = list(pending.lines)
            if partial:
                received.append(partial.decode("latin-1") + " (partial line)")
            raise AtTimeout(
                f"no final result within {timeout:g} s",
                command=pending.command,
                received=received,
                transcript_tail=self.transcript.tail(),
            )
        if pending.garbage:
            raise ProtocolError(
                "the response holds bytes no SLM sends: "
                + ", ".join(repr(line) for line in pending.garbage),
                command=pending.command,
                received=pending.lines + [pending.final or ""],
                transcript_tail=self.transcript.tail(),
            )
        self.timings.append((pending.prefix or pending.command, duration, pending.final == "OK"))
        return AtResult(
            command=pending.command,
            lines=pending.lines,
            payloads=pending.payloads,
            final=pending.final or "",
            duration=duration,
        )

    def at(self, command: str, *, timeout: float | None = None, check: bool = True) -> AtResult:
        """Send one command line and return its result once the final result code arrives.

        With `check` (the default) ERROR / +CME ERROR / +CMS ERROR raise `AtError`.
        """
        timeout = self.timeout if timeout is None else timeout
        if self._secret_in(command):
            # Every frame and error that holds it shows `<redacted>` (pytest --showlocals).
            command = SecretText(command)
        with self._command_lock:
            self._check_link(command)
            if self.in_data_mode:
                raise ProtocolError(
                    "the board is in data mode: leave it (exit_data_mode) before sending commands",
                    command=command,
                    transcript_tail=self.transcript.tail(),
                )
            self._raise_late_refusal(command)
            pending = self._begin(command, timeout)
            wire = SecretBytes if isinstance(command, SecretText) else bytes
            self._write(wire(command.encode("latin-1") + self.framing.command_end))
            result = self._finish(pending, self._wait(pending, timeout), timeout)
        if check and not result.ok:
            raise AtError(
                f"the board answered {result.final}",
                final=result.final,
                command=command,
                received=result.lines + [result.final],
                transcript_tail=self.transcript.tail(),
            )
        return result

    def expect_error(self, command: str, *, timeout: float | None = None) -> AtResult:
        """Send a command that must fail; raise AssertionError-like AtError if it succeeds."""
        result = self.at(command, timeout=timeout, check=False)
        if result.ok:
            raise AtError(
                "the board answered OK where an error was expected",
                final=result.final,
                command=command,
                received=result.lines + [result.final],
                transcript_tail=self.transcript.tail(),
            )
        return result

    # ----------------------------------------------------------------------------- data mode

    def enter_data_mode(self, command: str = "AT#XSEND", *, settle: float | None = None) -> None:
        """Send a command that enters data mode (`AT#XSEND`, `AT#XSENDTO="host",port`).

        v2.0 answers nothing on success and ERROR on failure; v2.1 and later answer OK.
        """
        settle = self.datamode_settle if settle is None else settle
        with self._command_lock:
            self._check_link(command)
            if self.in_data_mode:
                raise ProtocolError(
                    "already in data mode", command=command, transcript_tail=self.transcript.tail()
                )
            self._raise_late_refusal(command)
            pending = self._begin(command)
            with self._cond:
                pending.enters_datamode = True
                self._dm_rx.clear()
                self._dm_stage.clear()
                self._dm_armed = False
                self._dm_tail = b""
                self._dm_left = self.framing.datamode_length(command)
            self._write(command.encode("latin-1") + self.framing.command_end)
            if self.framing.datamode_entry_answered:
                # --- dialect hook: the board says OK once data mode is on; wait for it.
                settle = self.timeout
            answered = self._wait(pending, settle)
            with self._cond:
                self._pending = None
                if pending.error is not None:
                    if not isinstance(pending.error, LinkError):
                        self._abandon(pending)
                    raise pending.error
                if not answered and self.framing.datamode_entry_answered:
                    self._abandon(pending)
                    raise AtTimeout(
                        f"no answer to a data-mode entry within {settle:g} s",
                        command=command,
                        received=list(pending.lines),
                        transcript_tail=self.transcript.tail(),
                    )
                if answered and pending.final != FINAL_OK:
                    self.in_data_mode = False
                    raise AtError(
                        "the board refused to enter data mode",
                        final=pending.final or FINAL_ERROR,
                        command=command,
                        received=pending.lines + [pending.final or ""],
                        transcript_tail=self.transcript.tail(),
                    )
                self.in_data_mode = True
                self._left_by_board = False
            self.transcript.note(f"data mode entered with {command}")

    def write_data(self, data: bytes) -> None:
        """Raw bytes to the socket while in data mode (CR, LF, NUL and quotes are data)."""
        with self._command_lock:
            self._check_link("<data mode write>")
            self._raise_late_refusal("<data mode write>")
            if not self.in_data_mode:
                why = " (the board left it by itself: a send failed)" if self._left_by_board else ""
                raise ProtocolError(
                    "not in data mode" + why,
                    command="<data mode write>",
                    transcript_tail=self.transcript.tail(),
                )
            with self._cond:
                self._note_datamode_write(data)
            self._write(data)

    def exit_data_mode(self, *, timeout: float | None = None) -> bool:
        """Send the terminator and wait for the board's OK.

        The firmware only honours `+++` at the end of a chunk followed by its idle time limit,
        so nothing may be written until the OK arrives; waiting for it gives that silence.
        Returns False when the board had already left data mode on its own (a failed send).
        """
        timeout = self.timeout if timeout is None else timeout
        with self._command_lock:
            self._check_link("+++")
            self._raise_late_refusal("+++")
            if not self.in_data_mode:
                return not self._left_by_board
            pending = self._begin("+++", timeout)
            with self._cond:
                self._note_datamode_write(TERMINATOR)
            self._write(TERMINATOR)
            completed = self._wait(pending, timeout)
            with self._cond:
                self.in_data_mode = False if completed else self.in_data_mode
            result = self._finish(pending, completed, timeout)
            self.transcript.note("data mode left")
            exit_prefix = self.framing.datamode_exit_prefix
            if exit_prefix is not None and result.final.startswith(exit_prefix):
                # --- dialect hook: `#XDATAMODE: 0` is a clean exit; a non-zero status follows a
                # send that failed, after which the board dropped the data (and said `+++`).
                failed = result.final != exit_prefix + " 0"
                self._left_by_board = failed
                return not failed
            if not result.ok:
                raise AtError(
                    f"leaving data mode answered {result.final}",
                    final=result.final,
                    command="+++",
                    received=result.lines + [result.final],
                    transcript_tail=self.transcript.tail(),
                )
            return True

    def wait_data_mode_left(self, timeout: float) -> bool:
        """Wait for the board to leave data mode by itself (v2.0 does after a failed send)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.in_data_mode:
                left = deadline - time.monotonic()
                if left <= 0 or self._link_error is not None:
                    return False
                self._cond.wait(left)
            return True

    def _raise_late_refusal(self, command: str) -> None:
        if self._late_refusal is None:
            return  # the common case, without the lock: only the reader thread sets it
        with self._cond:
            refusal, self._late_refusal = self._late_refusal, None
        if refusal is not None:
            raise AtError(
                "the board refused data mode after the entry window: the bytes sent since were"
                " taken as AT commands",
                final=refusal,
                command=command,
                transcript_tail=self.transcript.tail(),
            )

    # ---------------------------------------------------------------------------------- URCs

    def wait_urc(
        self,
        prefix: str,
        *,
        timeout: float | None = None,
        match: Callable[[str], bool] | None = None,
    ) -> str:
        """Take the first queued unsolicited line starting with `prefix` (and passing `match`)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in list(self._urcs):
                    if line.startswith(prefix) and (match is None or match(line)):
                        self._urcs.remove(line)
                        if line == BANNER:
                            self._unseen_boots = 0  # the caller waited for the reboot
                        return line
                self._check_link()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AtTimeout(
                        f"no unsolicited {prefix!r} line within {timeout:g} s; queued: "
                        f"{list(self._urcs)!r}",
                        transcript_tail=self.transcript.tail(),
                    )
                self._cond.wait(left)

    def wait_urc_data(self, *, timeout: float | None = None) -> tuple[str, bytes]:
        """Take the first data notification (Serial Modem's automatic reception): its header
        line and the payload exactly as sent (hex digits in hex mode)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._urc_payloads:
                if self._link_error is not None:
                    self._check_link()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AtTimeout(
                        f"no received-data notification within {timeout:g} s",
                        transcript_tail=self.transcript.tail(),
                    )
                self._cond.wait(left)
            header, payload, problem = self._urc_payloads.popleft()
        if problem is not None:
            raise ProtocolError(problem, transcript_tail=self.transcript.tail())
        return header, payload

    def urc_data(self) -> list[tuple[str, bytes]]:
        """The data notifications queued now, left in the queue."""
        with self._cond:
            return [(header, payload) for header, payload, _ in self._urc_payloads]

    def _datamode_available(self) -> int:
        # While data mode lasts, a trailing terminator may be the board's (a failed send):
        # only the exit status tells, so it is held back until then.
        held = len(TERMINATOR) if self.in_data_mode and self._dm_rx.endswith(TERMINATOR) else 0
        return len(self._dm_rx) - held

    def take_datamode_data(self, size: int | None = None, *, timeout: float = 0.0) -> bytes:
        """Bytes the board sent in data mode (Serial Modem automatic reception): exactly `size`
        of them, waiting up to `timeout`; with `size` None, whatever has come (no wait)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while size is not None and self._datamode_available() < size:
                self._check_link()
                left = deadline - time.monotonic()
                if left <= 0 or not self.in_data_mode:
                    have = bytes(self._dm_rx[: self._datamode_available()])
                    ended = "" if self.in_data_mode else " (data mode has ended)"
                    raise AtTimeout(
                        f"{len(have)} of {size} bytes received in data mode within"
                        f" {timeout:g} s{ended}: {have[:64]!r}",
                        transcript_tail=self.transcript.tail(),
                    )
                self._cond.wait(left)
            count = self._datamode_available() if size is None else size
            data = bytes(self._dm_rx[:count])
            del self._dm_rx[:count]
            return data

    def urcs(self) -> list[str]:
        """The unsolicited lines queued now, left in the queue."""
        with self._cond:
            return list(self._urcs)

    def drain_urcs(self) -> list[str]:
        with self._cond:
            lines = list(self._urcs)
            self._urcs.clear()
            self._urc_payloads.clear()
            if not self.in_data_mode:
                self._dm_rx.clear()
            return lines

    def wait_ready(self, timeout: float = 30.0, probe_interval: float = 1.0) -> None:
        """Wait until the board answers: a queued `Ready`, or `AT` answered with OK."""
        deadline = time.monotonic() + timeout
        last: SlmError | None = None
        self._unseen_boots = 0  # a boot is what the caller waits for
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AtTimeout(
                    f"the board did not become ready within {timeout:g} s"
                    + (f" (last probe: {last.reason})" if last else ""),
                    command="AT",
                    transcript_tail=self.transcript.tail(),
                )
            try:
                self.at("AT", timeout=min(probe_interval, left))
                return
            except (AtTimeout, BoardResetError, OutOfStepError) as exc:
                # A board that boots while the probe is in flight may still answer it after the
                # banner; the next probe first lets that answer arrive and drops it.
                last = exc
            except AtError as exc:
                last = exc
            except LinkError:
                raise

    def _abandon(self, pending: _Pending) -> None:
        """Its answer, or the rest of it, may still come (call with the condition held)."""
        if not pending.abandoned:
            pending.abandoned = True
            self._abandoned.append(pending.command)

    def _report_unseen_boot(self, command: str) -> None:
        if not self._unseen_boots:
            return  # the common case, without the lock: only the reader thread counts boots
        with self._cond:
            boots, self._unseen_boots = self._unseen_boots, 0
        if boots:
            raise BoardResetError(
                "the board rebooted (a Ready banner with no command pending) since the last"
                " command: what was set up before is gone",
                command=command,
                transcript_tail=self.transcript.tail(),
            )

    def _prove_in_step(self, command: str, timeout: float) -> None:
        """Send a probe whose answer names itself and wait for that answer: what comes before it
        belongs to the abandoned commands. OutOfStepError when it does not come in time."""
        with self._cond:
            outstanding = self._abandoned + ([self._awaiting] if self._awaiting else [])
            used = {expected_prefix(c) for c in outstanding}
            probe = next((p for p in PROBES if expected_prefix(p) not in used), None)
            if probe is None and self._awaiting is None:
                raise OutOfStepError(
                    f"{len(self._abandoned)} commands are still unanswered "
                    f"({', '.join(self._abandoned[-4:])}) and no probe is free of them",
                    command=command,
                    transcript_tail=self.transcript.tail(),
                )
            if probe is not None:
                # A new probe; an earlier one still out is then just another abandoned command.
                if self._awaiting is not None:
                    self._abandoned.append(self._awaiting)
                self._awaiting = probe
                self._identified = False
            waiting_for = self._awaiting
        if probe is not None:
            self._write(probe.encode("latin-1") + self.framing.command_end)
        # With every probe out already, the last one's answer (its prefix is unique among the
        # abandoned) is awaited without sending more.
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._abandoned and self._link_error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if not self._abandoned:
                return
        self._check_link(command)
        raise OutOfStepError(
            f"after abandoning {self._abandoned[0]!r} the board did not answer the probe "
            f"{waiting_for!r} within {timeout:g} s, so a later answer could still be an abandoned"
            f" command's; {command!r} was not sent",
            command=command,
            transcript_tail=self.transcript.tail(),
        )

    def _secret_in(self, command: str) -> bool:
        return self.transcript.holds_secret(command)

    # ------------------------------------------------------------------------------- helpers

    def write_raw(self, data: bytes) -> None:
        """Bytes exactly as given, outside any command (for framing tests and recovery)."""
        with self._command_lock:
            with self._cond:
                self._note_datamode_write(data)
            self._write(data)

    @property
    def in_step(self) -> bool:
        """No abandoned command can still answer (nothing to prove before the next one)."""
        with self._cond:
            return not self._abandoned

    @property
    def link_error(self) -> LinkError | None:
        return self._link_error

    def close(self) -> None:
        # A timer's close() and a fixture's teardown close() can meet: only the first closes
        # the port, and the other returns once it has. pyserial's close is not thread-safe,
        # and its second os.close would hit a descriptor number another open already reused.
        with self._close_lock:
            if not self._closed:
                self._close_once()
                self._closed = True

    def _close_once(self) -> None:
        with self._cond:
            if self._link_error is None:
                self._link_error = LinkError(
                    "the client was closed", transcript_tail=self.transcript.tail()
                )
            pending = self._pending
            if pending is not None and not pending.done:
                pending.error = self._link_error
            self._cond.notify_all()
        self._signal_done(pending)
        self._stop.set()
        if self.close_port:
            try:
                if hasattr(self.port, "cancel_read"):
                    self.port.cancel_read()
            except (serial.SerialException, OSError):
                pass
        self._reader.join(timeout=5)
        if self.close_port:
            try:
                if hasattr(self.port, "cancel_write"):
                    self.port.cancel_write()  # a write blocked on a full buffer gives up now
            except (serial.SerialException, OSError):
                pass
            with self._port_lock:
                try:
                    self.port.close()
                except (serial.SerialException, OSError):
                    pass

    def __enter__(self) -> AtClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
