"""SlmDut: an SLM board reached through any pyserial URL, with one method per socket command.

Every method sends one command (or one data-mode exchange), checks that the answer has exactly
the shape SLM v2.0.x documents, and returns a dataclass. A refusal raises `AtError` (with the
lines that came back), an answer of the wrong shape `ProtocolError`: a test never parses lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import serial

from pytest_slm import dialects
from pytest_slm.at.client import AtClient
from pytest_slm.at.errors import AtError, AtTimeout, OutOfStepError, ProtocolError, SlmError
from pytest_slm.at.result import AtResult
from pytest_slm.at.transcript import NOTE, Transcript
from pytest_slm.slm_types import (
    DATAMODE_BUFFER,
    DATAMODE_TERMINATOR,
    STRING_FORBIDDEN,
    Accepted,
    DataCtrl,
    Family,
    ListedSocket,
    OpenedSocket,
    OptOp,
    PeerVerify,
    PollEntry,
    Received,
    ReceivedFrom,
    Role,
    SendMode,
    SocketInfo,
    SocketList,
    SocketType,
    string_form_fits,
)

# Every board on a DK runs 115200 8N1; the board file may ask for more (flow control, DTR).
DEFAULT_BAUD = 115200
# More closes than there can be sockets plus accepted peers means the board is not closing them.
_MAX_CLOSES = 32

# Blocking network commands (connect with a TLS handshake over LTE, a 30 s send poll) need more
# than the client's default.
NETWORK_TIMEOUT = 60.0
# What a command that polls for `timeout` seconds may take beyond it on a loaded host.
_TIMEOUT_MARGIN = 15.0
# A data-mode write bigger than this could fill the firmware's buffer (4096 bytes, flushed once
# less than 256 are free) and, without flow control, lose what arrives during the flush.
DATAMODE_CHUNK = 2048
# The most a chunk may hold when a run of `+` must not be split: well clear of the point (256
# bytes free) where the firmware flushes a full buffer by itself.
DATAMODE_CHUNK_MAX = DATAMODE_BUFFER - 512
# The most one chunk may hold at all: one byte more and the buffer-full flush (raw_rx_handler:
# space < UART_RX_LEN, then uart_rx_disable) drops what arrives meanwhile on a board without
# RTS/CTS. Stream sockets use it (a flush split at the ring's wrap is still one byte stream).
DATAMODE_BURST_MAX = DATAMODE_BUFFER - 256
_PLUS = DATAMODE_TERMINATOR[0]
# Slack added to the firmware's inactivity time limit before the next chunk or the terminator,
# at the least: the UART's RX timeout (2 ms, UART_RX_TIMEOUT_US) starts the timer after the last
# byte, and a USB or TCP bridge delivers a burst a few milliseconds late. More when the link is
# slower to answer (see DataMode.margin).
_IDLE_MARGIN = 0.01
# The slack after a burst that ends in `+`: if the next burst reached the board before the flush,
# the two would join into a `+++` (a simulator on a busy host reads its pty late). Only runs of
# `+` pay it; a merged burst of other bytes is still the same data.
_PLUS_MARGIN = 0.05
# A UART's bytes take their nominal time within a fraction of a percent (baud tolerance); a
# paced bridge keeps its schedule. One percent covers both.
_WIRE_SLACK = 1.01
# The settle after a data-mode entry, as a multiple of a quick command's measured round trip (a
# refusal comes back as fast as any answer: no network is involved), and its floor: a real UART
# with a USB bridge answers within a few milliseconds; a simulator on a busy two-core host
# sometimes reads its pty 50 ms late, so twice that.
DATAMODE_SETTLE_FACTOR = 4.0
DATAMODE_SETTLE_FLOOR = 0.1
# What a write that would end at the ring's last two bytes sends after re-entering data mode:
# short enough for one chunk, and the part before it then ends well clear of the wrap.
_REENTRY_TAIL = 16

_INT = r"(-?\d+)"
_STR = r'"([^"]*)"'


class ResolveError(AtError):
    """#XGETADDRINFO could not resolve: `reason` is what the firmware printed (`EAI_NONAME`)."""

    kind = "name resolution failed"

    def __init__(self, reason: str, **kwargs) -> None:
        self.gai_reason = reason
        super().__init__(f"the board could not resolve the name: {reason}", **kwargs)


class SendError(AtError):
    """#XSEND/#XSENDTO printed how much it sent, then ERROR: `sent` is that count."""

    def __init__(self, reason: str, *, sent: int, **kwargs) -> None:
        self.sent = sent
        super().__init__(reason, **kwargs)


def _quote(text: str) -> str:
    if '"' in text:
        raise ValueError(f"{text!r}: an AT string parameter cannot contain '\"'")
    return f'"{text}"'


def _check_string_payload(data: bytes) -> None:
    bad = sorted(set(data) & STRING_FORBIDDEN)
    if bad:
        raise ValueError(
            "the string form cannot carry byte(s) "
            + ", ".join(f"0x{b:02x}" for b in bad)
            + " (the line editor eats them or they end the string): use data mode"
        )


def _ends_in_terminator(data: bytes, start: int, end: int) -> bool:
    size = len(DATAMODE_TERMINATOR)
    return end - start >= size and data[end - size : end] == DATAMODE_TERMINATOR


class DataMode:
    """The open data-mode session `SlmDut.data_mode()` yields."""

    def __init__(
        self,
        dut: SlmDut,
        time_limit_ms: int,
        minimum_ms: int | None = None,
        command: str | None = None,
    ) -> None:
        self._dut = dut
        self.time_limit_ms = time_limit_ms
        # The command that entered data mode: a write that would end where the terminator
        # cannot be seen leaves and re-enters with it.
        self.command = command
        # The board's UART speed, as its data-mode minimum (256 bytes of UART time + 10 ms)
        # gives it away: what the host port says is not it behind a pty or a TCP bridge.
        baud = getattr(dut.port, "baudrate", None) or DEFAULT_BAUD
        if minimum_ms is not None and minimum_ms > 10:
            baud = min(baud, 256 * 10 * 1000 / (minimum_ms - 10))
        self.baud = baud
        self.written = 0
        # Bytes written since the line was last left idle for the time limit, and when the last
        # of them will have reached the board (each write goes on the wire once the line is free).
        self._unflushed = 0
        self._wire_done = 0.0
        self._last_byte = -1
        # What the link adds to a quick command's round trip beyond the UART (a loaded host, a
        # remote bridge): added to the silence, as a burst may reach the board that much late.
        self.margin = _IDLE_MARGIN
        # A stream socket: a flush split at the ring's wrap point is still one byte stream, so
        # chunks may cross it (where no piece then ends in `+++`) and fill the whole buffer.
        self.stream = False
        # Set once write_raw() ended with the terminator: the board leaves by our hand.
        self.terminated = False
        # Where the next byte lands in the firmware's 4096-byte ring (reset on entry): a flush
        # is split at the wrap point, and a split piece ending in `+++` would end data mode.
        self._ring_pos = 0

    def line_time(self, size: int) -> float:
        """Seconds `size` bytes take on the board's UART (10 bits a byte)."""
        return size * 10.0 / self.baud

    @property
    def idle(self) -> float:
        """Silence after which the firmware has flushed what it buffered."""
        return self.time_limit_ms / 1000.0 + self.margin

    @property
    def active(self) -> bool:
        return self._dut.in_data_mode

    def quiet(self) -> None:
        """Stay silent until the firmware has flushed what was written so far."""
        # The protocol's own synchronisation: a chunk is handed to the socket only after the
        # line has been idle for the time limit. Bytes may still be on the wire (remote serial,
        # paced UART), so their transmission time counts too.
        if not self._unflushed:
            return
        # The firmware flushes the time limit after the last byte reached it.
        idle = self.idle
        if self._last_byte == _PLUS:
            idle = max(idle, self.time_limit_ms / 1000.0 + _PLUS_MARGIN)
        left = self._wire_done + idle - time.monotonic()
        if left > 0:
            time.sleep(left)
        self._unflushed = 0

    def write(self, data: bytes, *, chunk: int = DATAMODE_CHUNK) -> None:
        """Send `data` as socket payload, whatever it holds (`+++` included).

        It goes in chunks the firmware flushes one by one; no chunk ends in `+++` nor crosses the
        ring buffer's wrap point, so the terminator is never seen inside the data.

        Nor does a write end two or one bytes before the wrap point: the firmware hands the ring
        over in contiguous pieces, so a `+++` there would reach it as `++` and `+`, two pieces of
        data, and the board would never leave. Such a write leaves data mode a few bytes early
        and re-enters (which resets the ring) for the rest.
        """
        data = bytes(data)
        end_pos = (self._ring_pos + len(data)) % DATAMODE_BUFFER
        if DATAMODE_BUFFER - end_pos < len(DATAMODE_TERMINATOR) and end_pos:
            split = max(0, len(data) - _REENTRY_TAIL)
            self._write_chunks(data[:split], chunk)
            self._reenter()
            self._write_chunks(data[split:], chunk)
            return
        self._write_chunks(data, chunk)

    def _reenter(self) -> None:
        if self.command is None:
            raise ProtocolError(
                "this write would end where the terminator straddles the firmware's ring wrap,"
                " and the data-mode session does not know its entry command to start afresh",
                command="<data mode write>",
                transcript_tail=self._dut.transcript.tail(),
            )
        self.quiet()
        if not self._dut.exit_data_mode(timeout=NETWORK_TIMEOUT):
            raise AtError(
                "the board left data mode by itself before the terminator (a send failed)",
                command=self.command,
                transcript_tail=self._dut.transcript.tail(),
            )
        self._dut.enter_data_mode(self.command)
        self._ring_pos = 0

    def _write_chunks(self, data: bytes, chunk: int) -> None:
        start = 0
        while start < len(data):
            # Never past the ring's wrap point, nor so far that the buffer-full flush kicks in.
            limit = min(
                len(data), start + DATAMODE_CHUNK_MAX, start + DATAMODE_BUFFER - self._ring_pos
            )
            end = min(limit, start + chunk)
            if self.stream and chunk >= DATAMODE_CHUNK:
                end = self._stream_end(data, start, end)
            if _ends_in_terminator(data, start, end):
                # Inside a run of `+`: take the whole run and the byte after it if they fit,
                # otherwise stop where fewer than three `+` end the chunk.
                after = end
                while after < len(data) and data[after] == _PLUS:
                    after += 1
                if after < limit:
                    end = after + 1
                else:
                    while _ends_in_terminator(data, start, end):
                        end -= 1
            piece = data[start:end]
            self._sent(piece)
            start = end
            self.quiet()

    def _stream_end(self, data: bytes, start: int, end: int) -> int:
        """A stream's chunk end: the whole buffer's worth, across the wrap point, unless the
        piece the firmware would hand over before the wrap ends in `+++` (raw_send would take
        it for the terminator)."""
        longest = min(len(data), start + DATAMODE_BURST_MAX)
        wrap = start + DATAMODE_BUFFER - self._ring_pos
        if longest <= end or _ends_in_terminator(data, start, min(wrap, longest)):
            return end
        if _ends_in_terminator(data, start, longest):
            return end  # the `+` rules below choose this chunk's end
        return longest

    def write_raw(self, data: bytes) -> None:
        """Bytes exactly as given, in one write, with no pacing (terminator tests)."""
        self._sent(bytes(data))
        if data.endswith(DATAMODE_TERMINATOR):
            self.terminated = True

    def _sent(self, data: bytes) -> None:
        on_wire = _WIRE_SLACK * self.line_time(len(data))
        self._wire_done = max(self._wire_done, time.monotonic()) + on_wire
        self._dut.write_data(data)
        if data:
            self._last_byte = data[-1]
        self._ring_pos = (self._ring_pos + len(data)) % DATAMODE_BUFFER
        self.written += len(data)
        self._unflushed += len(data)

    def wait_left(self, timeout: float = 10.0) -> None:
        """Wait for the board to leave data mode by itself (after a terminator we wrote)."""
        if not self._dut.wait_data_mode_left(timeout):
            raise AtTimeout(
                f"the board did not leave data mode within {timeout:g} s",
                command="<data mode>",
                transcript_tail=self._dut.transcript.tail(),
            )


# The SlmDut class of each dialect, filled by the modules that define them (dut_sm).
DUT_CLASSES: dict[str, type[SlmDut]] = {}


def dialect_only(*names: str):
    """Mark a method as existing only in the dialects `names`: elsewhere it raises
    NotInDialect (the subclass of another dialect replaces it with `not_in_dialect`)."""

    def mark(method):
        method.dialects = names
        return method

    return mark


def not_in_dialect(feature: str, *has_it: str):
    """A method body for a feature this class's dialect does not have."""

    def method(self, *args, **kwargs):
        raise dialects.NotInDialect(feature, self.dialect, has_it)

    method.__doc__ = f"{feature}: not in this dialect (only in {', '.join(has_it)})."
    method.dialects = has_it
    return method


class SlmDut(AtClient):
    """The AT client plus the socket-command vocabulary of SLM v2.0.x.

    The shared API (socket_open, ssocket_open, close, connect, bind, listen, accept, send, recv,
    sendto, recvfrom, getopt/setopt, sgetopt/ssetopt, getaddrinfo, data_mode) means the same on
    every dialect; `use_dialect` turns this object into the class of the dialect the bring-up
    detected (`pytest_slm.dut_sm.SmDut` for Serial Modem). Methods of one dialect only raise
    `NotInDialect` on the others.
    """

    dialect: dialects.Dialect = dialects.V20_DIALECT
    #: the firmware's version string, once the bring-up has read it
    firmware_version: str = ""

    def use_dialect(self, dialect: dialects.Dialect, version: str = "") -> None:
        """Speak `dialect` from now on: its framing in the client, its class for the commands."""
        if dialect.name not in DUT_CLASSES:
            # The dialect modules register themselves on import.
            import pytest_slm.dut_sm  # noqa: F401
        self.__class__ = DUT_CLASSES[dialect.name]
        self.framing = dialect.framing
        self.firmware_version = version

    def describe_firmware(self) -> str:
        version = f" {self.firmware_version}" if self.firmware_version else ""
        return f"{self.dialect.title}{version} (dialect {self.dialect.name})"

    # Serial Modem only: clearly named, typed NotInDialect here.
    send_hex = not_in_dialect("hex mode (#XSEND <mode> 1)", "sm")
    recv_hex = not_in_dialect("hex mode (#XRECV <mode> 1)", "sm")
    send_with_ack = not_in_dialect("send notifications (#XSENDNTF)", "sm")
    wait_send_notification = not_in_dialect("send notifications (#XSENDNTF)", "sm")
    apoll = not_in_dialect("asynchronous poll (#XAPOLL)", "sm")
    apoll_stop = not_in_dialect("asynchronous poll (#XAPOLL)", "sm")
    apoll_read = not_in_dialect("asynchronous poll (#XAPOLL)", "sm")
    wait_apoll = not_in_dialect("asynchronous poll (#XAPOLL)", "sm")
    recvcfg = not_in_dialect("automatic reception (#XRECVCFG)", "sm")
    recvcfg_read = not_in_dialect("automatic reception (#XRECVCFG)", "sm")
    wait_received = not_in_dialect("automatic reception (#XRECVCFG)", "sm")
    received_now = not_in_dialect("automatic reception (#XRECVCFG)", "sm")
    datamode_read = not_in_dialect("automatic reception in data mode (#XRECVCFG)", "sm")
    datamode_received = not_in_dialect("automatic reception in data mode (#XRECVCFG)", "sm")
    listen_read = not_in_dialect("the listening-socket list (#XLISTEN?)", "sm")
    close_all = not_in_dialect("closing every socket at once (#XCLOSE)", "sm")
    send_exact = not_in_dialect("data mode with <data_len>", "sm")

    # v2.0 keeps the address of any #XSENDTO in a global that only leaving data mode clears, and
    # a later #XSEND data mode sends there instead of to the connected peer. Unknown at first.
    # A reboot clears it: it counts only while the board runs the boot it was set in.
    _sendto_target_stale = True
    _stale_boot = 0

    def at(self, command: str, *, timeout: float | None = None, check: bool = True) -> AtResult:
        # A thin wrapper: hidden from tracebacks, so `--showlocals` cannot print a credential
        # from its `command` (AtClient.at redacts its own).
        __tracebackhide__ = True
        if command[:10].upper() == "AT#XSENDTO":
            self._sendto_target_stale = True
            self._stale_boot = self.boot_count
        return super().at(command, timeout=timeout, check=check)

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baudrate: int = DEFAULT_BAUD,
        rtscts: bool = False,
        dtr: bool | None = None,
        transcript: Transcript | None = None,
        timeout: float = 10.0,
        **settings,
    ) -> SlmDut:
        """Open `url` (`/dev/ttyACM0`, `socket://host:port`, `rfc2217://...`, a pty path)."""
        port = serial.serial_for_url(
            url, baudrate=baudrate, rtscts=rtscts, do_not_open=True, **settings
        )
        if dtr is not None:
            # Set before opening: the DK's interface MCU holds the UART until DTR is asserted.
            port.dtr = dtr
        port.open()
        return cls(port, transcript=transcript or Transcript(label=url), timeout=timeout)

    def reset_state(self, *, timeout: float = 10.0) -> None:
        """Bring the board back to a clean command state: out of data mode, no socket open."""
        if self.in_data_mode:
            try:
                self.exit_data_mode(timeout=timeout)
            except SlmError:
                pass
        # The socket list is the probe: answered, the board is in command mode, and most tests
        # leave it empty, so a clean board costs one command (this runs before every test).
        try:
            listing = self.at("AT#XSOCKETSELECT?", timeout=min(timeout, 3.0))
        except (AtTimeout, AtError, OutOfStepError):
            self._recover_command_mode(timeout)
            listing = None
        if listing is None or listing.with_prefix("#XSOCKETSELECT"):
            self.close_all_sockets(timeout=timeout)
        self.drain_urcs()

    def _recover_command_mode(self, timeout: float) -> None:
        # Stuck in data mode we did not enter (an aborted test) or in a half-typed line: the
        # terminator leaves the first, a bare CRLF ends the second (with an ERROR we drop).
        self.in_data_mode = True
        try:
            self.exit_data_mode(timeout=min(timeout, 3.0))
        except SlmError:
            self.in_data_mode = False
        for line_end in ("", '"'):
            # An empty line ends a half-typed command (ERROR); if that line sat inside an open
            # quote, nothing answers, and a closing quote ends it instead.
            try:
                self.at(line_end, timeout=1.5, check=False)
                break
            except (AtTimeout, OutOfStepError):
                continue
        self.wait_ready(timeout=timeout)

    def close_all_sockets(self, *, timeout: float = 10.0) -> int:
        """Close every socket the board has open; returns how many it closed."""
        closed = 0
        for _ in range(_MAX_CLOSES):
            result = self.at("AT#XSOCKET=0", timeout=timeout)
            if not result.with_prefix("#XSOCKET"):
                # No active socket; records that are not active need selecting first.
                rows = [
                    row
                    for row in self.at("AT#XSOCKETSELECT?").values("#XSOCKETSELECT")
                    if len(row) > 1
                ]
                if not rows:
                    return closed
                self.at(f"AT#XSOCKETSELECT={rows[0][0]}", timeout=timeout)
                continue
            closed += 1
        raise AtError(
            f"the board still reports open sockets after {_MAX_CLOSES} closes",
            command="AT#XSOCKET=0",
            transcript_tail=self.transcript.tail(),
        )

    # ------------------------------------------------------------------------ answer checks

    def _bad(self, result: AtResult, why: str) -> ProtocolError:
        return ProtocolError(
            why,
            command=result.command,
            received=result.lines + [result.final],
            transcript_tail=self.transcript.tail(),
        )

    def _rows(
        self, result: AtResult, prefix: str, pattern: str, *, count: int | None = 1
    ) -> list[tuple[str, ...]]:
        """The groups of every info line, which must all be `<prefix>: <pattern>`."""
        regex = re.compile(re.escape(prefix) + ": " + pattern + "$")
        rows = []
        for line in result.lines:
            match = regex.match(line)
            if match is None:
                raise self._bad(result, f"unexpected line {line!r} (expected {prefix}: ...)")
            rows.append(match.groups())
        if count is not None and len(rows) != count:
            raise self._bad(result, f"expected {count} {prefix} line(s), got {len(rows)}")
        return rows

    def _none(self, result: AtResult) -> None:
        if result.lines:
            raise self._bad(result, "expected no information line")

    # ------------------------------------------------------------------------ #XSOCKET

    def _open(self, name: str, params: str) -> OpenedSocket:
        result = self.at(f"AT{name}={params}", timeout=NETWORK_TIMEOUT)
        handle, type_, proto = self._rows(result, name, f"{_INT},{_INT},{_INT}")[0]
        return OpenedSocket(int(handle), int(type_), int(proto))

    def socket_open(
        self, family: Family | int, type_: SocketType | int, role: Role | int = Role.CLIENT
    ) -> OpenedSocket:
        """`AT#XSOCKET=<family>,<type>,<role>`; the new socket becomes the active one."""
        return self._open("#XSOCKET", f"{int(family)},{int(type_)},{int(role)}")

    def ssocket_open(
        self,
        family: Family | int,
        type_: SocketType | int,
        role: Role | int,
        sec_tag: int,
        peer_verify: PeerVerify | int | None = None,
    ) -> OpenedSocket:
        """`AT#XSSOCKET=<family>,<type>,<role>,<sec_tag>[,<peer_verify>]`."""
        params = f"{int(family)},{int(type_)},{int(role)},{int(sec_tag)}"
        if peer_verify is not None:
            params += f",{int(peer_verify)}"
        return self._open("#XSSOCKET", params)

    def _close(self, name: str) -> int | None:
        result = self.at(f"AT{name}=0", timeout=NETWORK_TIMEOUT)
        if not result.lines:
            return None
        # Closing through #XSSOCKET prints #XSOCKET too, as the doc's examples show.
        return int(self._rows(result, "#XSOCKET", f'{_INT},"closed"')[0][0])

    def socket_close(self) -> int | None:
        """`AT#XSOCKET=0`: close the active socket. Its `<result>`, None when none was active."""
        return self._close("#XSOCKET")

    def ssocket_close(self) -> int | None:
        """`AT#XSSOCKET=0`."""
        return self._close("#XSSOCKET")

    def _read_info(self, name: str) -> SocketInfo | None:
        result = self.at(f"AT{name}?")
        if not result.lines:
            return None
        handle, family, role = self._rows(result, name, rf"{_INT}(?:,{_INT},{_INT})?")[0]
        return SocketInfo(
            int(handle),
            None if family is None else int(family),
            None if role is None else int(role),
        )

    def socket_read(self) -> SocketInfo | None:
        """`AT#XSOCKET?`: the active socket, None when the answer holds no line."""
        return self._read_info("#XSOCKET")

    def ssocket_read(self) -> SocketInfo | None:
        """`AT#XSSOCKET?`."""
        return self._read_info("#XSSOCKET")

    def _test_text(self, name: str) -> str:
        """The parameter text of a test form's single `<name>: ...` line."""
        result = self.at(f"AT{name}=?")
        return self._rows(result, name, "(.*)")[0][0]

    def read_form(self, name: str) -> list[str]:
        """`AT<name>?` of any command (`#XBIND`...): its info lines; AtError when refused, as
        the documentation says most read forms are."""
        return self.at(f"AT{name}?").lines

    def test_form(self, name: str) -> list[str]:
        """`AT<name>=?` of any command: its info lines; AtError when refused."""
        return self.at(f"AT{name}=?").lines

    def socket_test(self) -> str:
        """`AT#XSOCKET=?`: the text after `#XSOCKET: `."""
        return self._test_text("#XSOCKET")

    def ssocket_test(self) -> str:
        return self._test_text("#XSSOCKET")

    # ------------------------------------------------------------------------ #XSOCKETSELECT

    def socket_select(self, handle: int) -> SocketInfo:
        """`AT#XSOCKETSELECT=<handle>`: `#XSOCKETSELECT: <handle>,<family>,<role>`."""
        result = self.at(f"AT#XSOCKETSELECT={int(handle)}")
        fd, family, role = self._rows(result, "#XSOCKETSELECT", f"{_INT},{_INT},{_INT}")[0]
        return SocketInfo(int(fd), int(family), int(role))

    def sockets(self) -> SocketList:
        """`AT#XSOCKETSELECT?`: every open socket, then the active handle."""
        result = self.at("AT#XSOCKETSELECT?")
        rows = self._rows(
            result,
            "#XSOCKETSELECT",
            rf"{_INT}(?:,{_INT},{_INT},{_INT},{_INT},{_INT})?",
            count=None,
        )
        listed: list[ListedSocket] = []
        active: int | None = None
        for index, row in enumerate(rows):
            if row[1] is None:
                if index != len(rows) - 1:
                    raise self._bad(result, "the active-handle line is not the last one")
                active = int(row[0])
            else:
                listed.append(ListedSocket(*(int(v) for v in row)))
        return SocketList(listed, active)

    socketselect_read = sockets

    def socketselect_test(self) -> list[str]:
        """`AT#XSOCKETSELECT=?` (documented as not supported): the info lines of its answer."""
        return self.at("AT#XSOCKETSELECT=?").lines

    # ------------------------------------------------------------------------ options

    def _getopt(self, name: str, opt: int) -> int | str | None:
        result = self.at(f"AT{name}={int(OptOp.GET)},{int(opt)}")
        if not result.lines:
            return None
        number, text = self._rows(result, name, rf"(?:{_INT}|{_STR})")[0]
        return int(number) if number is not None else text

    def _setopt(self, name: str, opt: int, value: int | str | None) -> None:
        params = f"{int(OptOp.SET)},{int(opt)}"
        if isinstance(value, str):
            params += "," + _quote(value)
        elif value is not None:
            params += f",{int(value)}"
        self._none(self.at(f"AT{name}={params}"))

    def getopt(self, opt: int) -> int | str | None:
        """`AT#XSOCKETOPT=0,<name>`: an int, a quoted string unquoted, or None (no line)."""
        return self._getopt("#XSOCKETOPT", opt)

    def setopt(self, opt: int, value: int | str | None = None) -> None:
        """`AT#XSOCKETOPT=1,<name>[,<value>]` (a str value goes quoted)."""
        self._setopt("#XSOCKETOPT", opt, value)

    def sgetopt(self, opt: int) -> int | str | None:
        """`AT#XSSOCKETOPT=0,<name>`."""
        return self._getopt("#XSSOCKETOPT", opt)

    def ssetopt(self, opt: int, value: int | str | None = None) -> None:
        """`AT#XSSOCKETOPT=1,<name>[,<value>]`."""
        self._setopt("#XSSOCKETOPT", opt, value)

    def socketopt_test(self) -> str:
        return self._test_text("#XSOCKETOPT")

    def ssocketopt_test(self) -> str:
        return self._test_text("#XSSOCKETOPT")

    # ------------------------------------------------------------------------ connections

    def bind(self, port: int) -> None:
        """`AT#XBIND=<port>` (the board binds its own PDP address)."""
        self._none(self.at(f"AT#XBIND={int(port)}"))

    def connect(self, host: str, port: int, *, timeout: float = NETWORK_TIMEOUT) -> None:
        """`AT#XCONNECT="<host>",<port>`: must answer `#XCONNECT: 1`."""
        result = self.at(f"AT#XCONNECT={_quote(host)},{int(port)}", timeout=timeout)
        (status,) = self._rows(result, "#XCONNECT", _INT)[0]
        if status != "1":
            raise self._bad(result, f"#XCONNECT status {status}, expected 1 (connected)")

    def listen(self) -> None:
        """`AT#XLISTEN`."""
        self._none(self.at("AT#XLISTEN"))

    def accept(self, timeout: int, *, at_timeout: float | None = None) -> Accepted:
        """`AT#XACCEPT=<timeout>` (seconds; 0 blocks until a client connects)."""
        result = self.at(f"AT#XACCEPT={int(timeout)}", timeout=self._wait_for(timeout, at_timeout))
        handle, ip = self._rows(result, "#XACCEPT", f"{_INT},{_STR}")[0]
        return Accepted(int(handle), ip)

    def accept_read(self) -> int:
        """`AT#XACCEPT?`: `#XACCEPT: <handle>` of the accepted peer, 0 when there is none."""
        result = self.at("AT#XACCEPT?")
        return int(self._rows(result, "#XACCEPT", _INT)[0][0])

    @staticmethod
    def _wait_for(timeout: int, at_timeout: float | None) -> float:
        if at_timeout is not None:
            return at_timeout
        return (timeout if timeout > 0 else NETWORK_TIMEOUT) + _TIMEOUT_MARGIN

    # ------------------------------------------------------------------------ send, receive

    def _string_send(self, command: str, name: str, data: bytes) -> int:
        _check_string_payload(data)
        result = self.at(
            command + '"' + data.decode("latin-1") + '"', timeout=NETWORK_TIMEOUT, check=False
        )
        rows = self._rows(result, name, _INT, count=1 if result.ok else None)
        if not result.ok:
            raise self._send_failed(result, int(rows[0][0]) if rows else None)
        return int(rows[0][0])

    def _send_failed(self, result: AtResult, sent: int | None) -> AtError:
        """The error of a refused send: SendError with the count the board printed first."""
        kwargs = {} if sent is None else {"sent": sent}
        return (AtError if sent is None else SendError)(
            f"the board answered {result.final}"
            + ("" if sent is None else f" after sending {sent} bytes"),
            final=result.final,
            command=result.command,
            received=result.lines + [result.final],
            transcript_tail=self.transcript.tail(),
            **kwargs,
        )

    def _choose(self, data: bytes, mode: SendMode) -> SendMode:
        if mode is SendMode.AUTO:
            return SendMode.STRING if string_form_fits(data) else SendMode.DATAMODE
        return mode

    def send(self, data: bytes, mode: SendMode = SendMode.AUTO) -> int:
        """Send on the active socket (its accepted peer for a TCP server); returns bytes sent.

        AUTO takes `AT#XSEND="<data>"` when the payload fits a string (at most 1252 printable
        bytes, no quote) and data mode otherwise. In data mode the firmware reports no count;
        the method returns what it wrote and raises if the board left data mode by itself.
        """
        data = bytes(data)
        if self._choose(data, mode) is SendMode.STRING:
            return self._string_send("AT#XSEND=", "#XSEND", data)
        with self.data_mode() as dm:
            dm.write(data)
        return len(data)

    def sendto(self, host: str, port: int, data: bytes, mode: SendMode = SendMode.AUTO) -> int:
        """`AT#XSENDTO="<host>",<port>,"<data>"`, or its data mode for other payloads."""
        data = bytes(data)
        if self._choose(data, mode) is SendMode.STRING:
            return self._string_send(f"AT#XSENDTO={_quote(host)},{int(port)},", "#XSENDTO", data)
        with self.data_mode(sendto=(host, port)) as dm:
            dm.write(data)
        return len(data)

    def recv(self, timeout: int, *, at_timeout: float | None = None) -> Received:
        """`AT#XRECV=<timeout>` (seconds; 0 blocks). A timeout raises AtError (ERROR)."""
        result = self.at(f"AT#XRECV={int(timeout)}", timeout=self._wait_for(timeout, at_timeout))
        if not result.lines and not result.payloads:
            return Received(b"", None)
        (size,) = self._rows(result, "#XRECV", _INT)[0]
        return Received(self._only_payload(result), int(size))

    def recvfrom(self, timeout: int, *, at_timeout: float | None = None) -> ReceivedFrom:
        """`AT#XRECVFROM=<timeout>`: the payload and the sender's address."""
        result = self.at(
            f"AT#XRECVFROM={int(timeout)}", timeout=self._wait_for(timeout, at_timeout)
        )
        if not result.lines and not result.payloads:
            return ReceivedFrom(b"", None, None)
        size, ip = self._rows(result, "#XRECVFROM", f"{_INT},{_STR}")[0]
        return ReceivedFrom(self._only_payload(result), int(size), ip)

    def _only_payload(self, result: AtResult) -> bytes:
        if len(result.payloads) != 1:
            raise self._bad(result, f"expected one payload, got {len(result.payloads)}")
        return result.payloads[0]

    def poll(
        self,
        timeout_ms: int,
        handles: Sequence[int] | None = None,
        *,
        at_timeout: float | None = None,
    ) -> list[PollEntry]:
        """`AT#XPOLL=<timeout_ms>[,<handle>...]`: the sockets with events, in the board's order.

        An empty list is the plain OK of a poll that timed out.
        """
        params = str(int(timeout_ms)) + "".join(f",{int(h)}" for h in handles or ())
        if at_timeout is None:
            at_timeout = (timeout_ms / 1000.0 if timeout_ms > 0 else NETWORK_TIMEOUT) + (
                _TIMEOUT_MARGIN
            )
        result = self.at(f"AT#XPOLL={params}", timeout=at_timeout)
        rows = self._rows(result, "#XPOLL", rf'{_INT},"(0x[0-9a-f]{{8}})"', count=None)
        return [PollEntry(int(h), int(text, 16), text) for h, text in rows]

    def getaddrinfo(self, host: str, *, timeout: float = NETWORK_TIMEOUT) -> list[str]:
        """`AT#XGETADDRINFO="<host>"`: the addresses, in the firmware's order.

        A failed lookup raises ResolveError with the reason the firmware printed.
        """
        return self._resolve(f"AT#XGETADDRINFO={_quote(host)}", timeout)

    def _resolve(self, command: str, timeout: float) -> list[str]:
        """Run a `#XGETADDRINFO` command (each dialect builds its own parameters): every
        dialect answers `#XGETADDRINFO: "<ip> <ip>..."`, or the reason and ERROR."""
        result = self.at(command, timeout=timeout, check=False)
        rows = self._rows(result, "#XGETADDRINFO", _STR, count=1 if result.ok else None)
        if not result.ok:
            raise ResolveError(
                rows[0][0] if rows else "(no reason printed)",
                final=result.final,
                command=result.command,
                received=result.lines + [result.final],
                transcript_tail=self.transcript.tail(),
            )
        return rows[0][0].split(" ")

    # ------------------------------------------------------------------------ data mode

    def datactrl(self, time_limit_ms: int) -> None:
        """`AT#XDATACTRL=<time_limit>` (ms; 0 recomputes the minimum at the next entry)."""
        self._none(self.at(f"AT#XDATACTRL={int(time_limit_ms)}"))

    def datactrl_read(self) -> DataCtrl:
        result = self.at("AT#XDATACTRL?")
        current, minimum = self._rows(result, "#XDATACTRL", f"{_INT},{_INT}")[0]
        return DataCtrl(int(current), int(minimum))

    def datactrl_test(self) -> str:
        """`AT#XDATACTRL=?`: its single line exactly (v2.0 prints `#XDATACTRL=<time_limit>`)."""
        result = self.at("AT#XDATACTRL=?")
        if len(result.lines) != 1:
            raise self._bad(result, "expected one line")
        return result.lines[0]

    @contextmanager
    def data_mode(
        self,
        command: str | None = None,
        *,
        sendto: tuple[str, int] | None = None,
        allow_board_exit: bool = False,
        exit_timeout: float = NETWORK_TIMEOUT,
    ) -> Iterator[DataMode]:
        """Enter data mode (`AT#XSEND`, `AT#XSENDTO="<host>",<port>` or `command`), yield a
        DataMode to write through, and leave it with the terminator on the way out.

        Data mode is left even when the body raises. If the board left it by itself (a failed
        send, which v2.0 reports with a bare OK), leaving raises AtError unless
        `allow_board_exit`.
        """
        if command is None:
            command = (
                "AT#XSEND"
                if sendto is None
                else (f"AT#XSENDTO={_quote(sendto[0])},{int(sendto[1])}")
            )
        if command[:10].upper() != "AT#XSENDTO" and self._target_may_be_stale():
            self.clear_sendto_target()
        mark = self.transcript.mark()
        started = time.monotonic()
        limits = self.datactrl_read()
        round_trip = time.monotonic() - started
        # The limit in force after entry: the current one, or the minimum the entry computes.
        session = DataMode(self, limits.current or limits.minimum, limits.minimum, command)
        exchanged = sum(len(e.data) for e in self.transcript.entries(mark) if e.direction != NOTE)
        self.tune_datamode(round_trip, on_wire=session.line_time(exchanged))
        session.margin = self._datamode_margin
        if command.upper() == "AT#XSEND":
            session.stream = self._active_is_stream()
        self.enter_data_mode(command)
        try:
            yield session
        except BaseException:
            self._leave_data_mode(session, exit_timeout, raising=False)
            raise
        left = self._leave_data_mode(session, exit_timeout, raising=True)
        if not left and not allow_board_exit:
            raise AtError(
                "the board left data mode by itself before the terminator (a send failed)",
                command=command,
                transcript_tail=self.transcript.tail(),
            )

    _datamode_margin = _IDLE_MARGIN
    _round_trips: tuple[float, ...] = ()
    _link_delays: tuple[float, ...] = ()

    def tune_datamode(self, round_trip: float, *, on_wire: float = 0.0) -> None:
        """Fit the data-mode waits to the link, from a quick command's round trip (seconds) and
        the UART time of its bytes (`on_wire`, both directions).

        v2.0 enters data mode silently: a refusal's ERROR comes back as fast as any answer, so a
        few round trips of silence say the entry held. And a burst may reach the board late by
        what the link adds to a round trip beyond the UART (whose time DataMode counts already),
        so the silence after it grows by as much. The slowest of the last few samples counts:
        one quick answer says little about the next."""
        self._round_trips = (*self._round_trips[-7:], round_trip)
        self._link_delays = (*self._link_delays[-7:], max(0.0, round_trip - on_wire))
        slowest = max(self._round_trips)
        self.datamode_settle = max(DATAMODE_SETTLE_FLOOR, DATAMODE_SETTLE_FACTOR * slowest)
        self._datamode_margin = max(_IDLE_MARGIN, max(self._link_delays))

    def _active_is_stream(self) -> bool:
        try:
            listing = self.sockets()
        except SlmError:
            return False
        if listing.active is None:
            return False
        try:
            return listing.get(listing.active).type == SocketType.STREAM
        except KeyError:
            return False

    def _target_may_be_stale(self) -> bool:
        return self._sendto_target_stale and self._stale_boot == self.boot_count

    def clear_sendto_target(self) -> None:
        """Forget v2.0's remembered #XSENDTO address, so #XSEND data mode goes to the peer."""
        # Entering and leaving data mode with nothing in between clears it and sends nothing.
        self.enter_data_mode("AT#XSEND")
        self._leave_data_mode(DataMode(self, 0), NETWORK_TIMEOUT, raising=True)

    def _leave_data_mode(self, session: DataMode, timeout: float, *, raising: bool) -> bool:
        """True when our terminator ended data mode, False when the board had already left."""
        # Leaving data mode, by the terminator or by a failed send, clears the #XSENDTO target.
        self._sendto_target_stale = False
        if not self.in_data_mode:
            return session.terminated or not self._left_by_board
        try:
            # The terminator counts only as the end of a flushed chunk: the data before it must
            # have been flushed on its own.
            session.quiet()
            return self.exit_data_mode(timeout=timeout)
        except SlmError:
            if raising:
                raise
            self.reset_state()
            return False

    def close_socket(self, handle: int | None = None) -> int | None:
        """Close `handle` (default: the active socket); its `<result>`, None when none was open.

        The shared name for `AT#XSOCKET=0` here and `AT#XCLOSE=<handle>` in Serial Modem."""
        if handle is not None:
            self.socket_select(handle)
        return self.socket_close()

    @property
    def current(self) -> int | None:
        """The socket the shared API acts on: v2.0's active socket."""
        return self.sockets().active


DUT_CLASSES[dialects.V20_DIALECT.name] = SlmDut
