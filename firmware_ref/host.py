"""The AT host of the simulated SLM v2.0.x firmware (``slm_at_host.c`` + ``slm_at_commands.c``).

One ``Firmware`` is one powered-on board: bytes go in through ``feed``, bytes come out through
the ``output`` callable it was built with. Inside, a single worker thread plays the role of the
firmware's system work queue: it runs the line discipline, the grammar check, dispatch, the
command handlers and the data-mode engine, one thing at a time.

Flow control model: the real firmware disables UART RX while a command runs, so without
hardware flow control the bytes a host sends early are lost. We model a board *with* RTS/CTS:
input waits (in ``feed``'s queue, like bytes held in the OS/UART buffer) until the handler has
finished, then is processed in order. Every chunk is stamped with its arrival time so the
data-mode inactivity timer measures the silence the host really left, even when the worker was
busy when the bytes arrived.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

# Command modules register their handlers on import: importing modem and sockets here makes
# the table complete for every user of Firmware.
import firmware_ref.sockets  # noqa: F401
from firmware_ref import commands as cmdtable
from firmware_ref import modem as modem_mod
from firmware_ref.commands import CmdType, CmeError, CommandError, command
from firmware_ref.modem import ModemState, redact_line
from firmware_ref.params import ParamError, Params

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
READY = b"Ready\r\n"

AT_MAX_CMD_LEN = 4096  # at_buf, NUL included
DATA_BUF_SIZE = 4096  # data_rb
UART_RX_LEN = 256  # one UART DMA buffer: the unit in which data mode receives
UART_RX_MARGIN_MS = 10
DATAMODE_EXIT_RESET_S = 0.010  # UART RX off while the data-mode exit resets it
TERMINATOR = b"+++"  # CONFIG_SLM_DATAMODE_TERMINATOR
DEFAULT_BAUD = 115200
SLM_VERSION = "2.0.0"

_BS = 0x08
_DEL = 0x7F
_CR = 0x0D
_LF = 0x0A
_QUOTE = 0x22


def _isalpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


def _isalnum(c: int) -> bool:
    return _isalpha(c) or 0x30 <= c <= 0x39


def min_time_limit(baud: int) -> int:
    """Data-mode flush time: one UART buffer's transfer time plus a margin (ms, int math)."""
    return UART_RX_LEN * (8 + 1 + 1) * 1000 // baud + UART_RX_MARGIN_MS


def grammar_ok(line: bytes) -> bool:
    """``cmd_grammar_check``: AT[<+%#><alnum>+][?|=?|=<anything>]."""
    if len(line) < 2 or line[:2].upper() != b"AT":
        return False
    rest = line[2:]
    if not rest:
        return True
    if rest[0] not in b"+%#":
        return False
    i = 1
    while i < len(rest) and _isalnum(rest[i]):
        i += 1
    if i == 1:
        return False
    tail = rest[i:]
    if not tail or tail == b"?" or tail == b"=" or tail == b"=?":
        return True
    if tail[0:1] == b"=":
        return tail[1:2] != b"?"
    return False


def cmd_casecmp(line: bytes, name: str) -> bool:
    """``slm_util_cmd_casecmp``: case-insensitive prefix; a longer line needs ``=``/``?`` next.

    The length allowance of 2 was meant for a trailing CRLF, but the line has none by now, so a
    line up to two characters longer than the name also matches (bare ``AT#XSENDTO`` runs
    ``AT#XSEND``).
    """
    n = len(name)
    if len(line) < n or line[:n].upper() != name.encode().upper():
        return False
    if len(line) > n + 2:
        return line[n : n + 1] in (b"=", b"?")
    return True


def cmd_type_get(line: bytes) -> CmdType | None:
    """``at_parser_cmd_type_get``; None for AT_CMD_TYPE_UNKNOWN."""
    if len(line) < 2 or line[:2].upper() != b"AT":
        return None
    i = 2
    if i < len(line):
        if line[i] not in b"+%#\r\n":
            return None
        if line[i] not in b"\r\n":
            i += 1
    while i < len(line) and (_isalpha(line[i]) or line[i] == 0x5F):
        i += 1
    nxt = line[i : i + 2]
    if nxt == b"=?":
        return CmdType.TEST
    if nxt[:1] == b"?":
        return CmdType.READ
    if nxt[:1] in (b"=", b"\r", b"\n", b""):
        return CmdType.SET
    return None


def modem_command_name(line: bytes) -> str:
    i = 2
    if i < len(line) and line[i] in b"+%#":
        i += 1
    while i < len(line) and _isalnum(line[i]):
        i += 1
    return line[:i].decode("ascii", "replace").upper()


@dataclass
class FirmwareConfig:
    """Board options (``slm-sim`` flags)."""

    baud: int | None = None  # None: unpaced, data-mode timing as at DEFAULT_BAUD
    address: str = "127.0.0.1"
    address6: str = "::1"
    online: bool = False
    verbose: bool = False
    log_stream: TextIO | None = None
    imei: str = modem_mod.DEFAULT_IMEI

    @property
    def effective_baud(self) -> int:
        return self.baud or DEFAULT_BAUD


def log(config: FirmwareConfig, msg: str) -> None:
    if not config.verbose:
        return
    stream = config.log_stream or sys.stderr
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
    try:
        stream.write(f"slm-sim {stamp} {msg}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


@dataclass
class _DataMode:
    on_chunk: Callable[[bytes], bool]
    on_exit: Callable[[], None] | None
    buf: bytearray = field(default_factory=bytearray)
    last_rx: float = 0.0


_STOP = object()


class Firmware:
    """One booted simulated board. Thread-safe ``feed``; output goes to ``output``."""

    def __init__(
        self,
        output: Callable[[bytes], None],
        config: FirmwareConfig | None = None,
        *,
        modem: ModemState | None = None,
    ) -> None:
        self.config = config or FirmwareConfig()
        self._output = output
        self.modem = modem or ModemState(
            address=self.config.address, address6=self.config.address6, imei=self.config.imei
        )
        self.state: dict = {}
        self.stopping = threading.Event()
        self._inbox: queue.Queue = queue.Queue()
        self._out_lock = threading.RLock()
        self._timers: list[threading.Timer] = []
        self._deferred_timers: list[threading.Timer] = []
        self._in_handler = False
        self._timer_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._generation = 0
        # line discipline
        self._line = bytearray()
        self._in_quotes = False
        # data mode
        self._dm: _DataMode | None = None
        self._rb_pos = 0  # ring buffer read index: flushes split at its wrap point
        self.datamode_time_limit = 0  # ms; 0 until the first entry computes it
        self._reset_requested = False
        self._idle = threading.Event()
        self._idle_lock = threading.Lock()
        # Bytes fed and not yet taken by the worker: what a UART with RTS/CTS would hold back.
        self._backlog = 0
        self._backlog_cond = threading.Condition()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Firmware:
        """Power on: boot hooks, ``Ready``, then serve input."""
        self._boot()
        self._worker = threading.Thread(target=self._run, name="slm-workq", daemon=True)
        self._worker.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Power off: wake blocked handlers, stop the worker, release host resources."""
        if self._closed:
            return
        self._closed = True
        self.stopping.set()
        self._inbox.put((time.monotonic(), _STOP))
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout)
            if self._worker.is_alive():
                self.log("worker still busy at shutdown; releasing resources anyway")
        self._shutdown()

    def __enter__(self) -> Firmware:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def in_data_mode(self) -> bool:
        return self._dm is not None

    @property
    def is_running(self) -> bool:
        """The worker is alive (the board has not crashed or been closed)."""
        return self._worker is not None and self._worker.is_alive() and not self._closed

    @property
    def line_pending(self) -> bool:
        """Part of a command line has been received, without its terminator."""
        return bool(self._line)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every byte fed so far is processed and the worker waits for input
        (in data mode: with its buffer flushed). For tests; False on timeout."""
        return self._idle.wait(timeout)

    @property
    def in_quotes(self) -> bool:
        """The line editor is inside a quoted string (CR/LF do not end the line)."""
        return self._in_quotes

    def _boot(self) -> None:
        self._generation += 1
        self.stopping = threading.Event()
        self.state = {}
        self._line.clear()
        self._in_quotes = False
        self._dm = None
        self._rb_pos = 0
        self.datamode_time_limit = 0
        self.modem.power_on_reset(self.config.online)
        for hook in cmdtable.boot_hooks():
            try:
                hook(self)
            except Exception:  # a broken hook must not keep the board from booting
                self.log("boot hook failed:\n" + traceback.format_exc())
        self.log(f"boot (online={self.modem.online})")
        self.write(READY)

    def _shutdown(self) -> None:
        self.stopping.set()
        with self._timer_lock:
            timers, self._timers = self._timers, []
            self._deferred_timers = []
        for t in timers:
            t.cancel()
        if self._dm is not None:
            self._dm = None
        for hook in cmdtable.shutdown_hooks():
            try:
                hook(self)
            except Exception:
                self.log("shutdown hook failed:\n" + traceback.format_exc())

    def _reboot(self) -> None:
        self.log("reset")
        self._shutdown()
        # The UART is down while the chip restarts: whatever the host sent meanwhile is lost.
        self._drain_inbox(lambda t: True)
        self._boot()

    def request_reset(self) -> None:
        """Reboot once the current handler's result has been sent (``AT#XRESET``)."""
        self._reset_requested = True

    # ------------------------------------------------------------------ I/O used by handlers

    def write(self, data: bytes, *, secret: bool = False) -> None:
        """Raw bytes to the UART (e.g. an ``#XRECV`` payload)."""
        if not data:
            return
        with self._out_lock:
            if self._closed and threading.current_thread() is not self._worker:
                return
            if self.config.verbose:
                self.log("TX " + (f"<{len(data)} secret bytes>" if secret else repr(data)))
            try:
                self._output(data)
            except Exception as exc:  # a vanished host must not kill the modem
                self.log(f"output failed: {exc!r}")

    def respond(self, line: str, *, secret: bool = False) -> None:
        """An information line: ``\\r\\n<line>\\r\\n``."""
        self.write(b"\r\n" + line.encode("latin-1") + b"\r\n", secret=secret)

    def urc(self, line: str) -> None:
        """A modem notification: forwarded as ``\\r\\n<line>\\r\\n`` in command mode only."""
        with self._out_lock:
            if self._closed or self._dm is not None:
                self.log(f"URC dropped: {line}")
                return
            self.respond(line)

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` after ``delay`` s in a timer thread, unless the board resets first."""
        generation = self._generation

        def fire() -> None:
            if self._closed or generation != self._generation:
                return
            try:
                fn()
            except Exception:
                self.log("timer callback failed:\n" + traceback.format_exc())

        t = threading.Timer(delay, fire)
        t.daemon = True
        with self._timer_lock:
            self._timers = [x for x in self._timers if x.is_alive()]
            self._timers.append(t)
            if self._in_handler and threading.current_thread() is self._worker:
                # Started once the command's final result is out, so a notification the
                # command causes can never overtake its OK, however late the worker runs.
                self._deferred_timers.append(t)
                return
        t.start()

    def _start_deferred_timers(self) -> None:
        with self._timer_lock:
            timers, self._deferred_timers = self._deferred_timers, []
        for t in timers:
            t.start()

    def log(self, msg: str) -> None:
        """Verbose log to stderr (``-v``); never give it credential contents."""
        log(self.config, msg)

    # ------------------------------------------------------------------ data mode API

    def enter_data_mode(
        self, on_chunk: Callable[[bytes], bool], on_exit: Callable[[], None] | None = None
    ) -> None:
        """``enter_datamode``: silent; later input goes to ``on_chunk`` in flushed chunks."""
        if self._dm is not None:
            raise CommandError("data mode handler already registered")
        if self.datamode_time_limit == 0:
            self.datamode_time_limit = min_time_limit(self.config.effective_baud)
        self._dm = _DataMode(on_chunk, on_exit)
        self._rb_pos = 0  # ring_buf_reset
        self.log(f"enter data mode (time limit {self.datamode_time_limit} ms)")

    # ------------------------------------------------------------------ input

    def feed(self, data: bytes) -> None:
        """Bytes from the host, as the UART received them (any size, any time)."""
        if data and not self._closed:
            with self._backlog_cond:
                self._backlog += len(data)
            with self._idle_lock:
                self._idle.clear()
                self._inbox.put((time.monotonic(), bytes(data)))

    @property
    def backlog(self) -> int:
        """Bytes fed that the firmware has not taken yet."""
        return self._backlog

    def wait_backlog_below(self, limit: int, stop: threading.Event) -> None:
        """Block the feeding side while more than ``limit`` bytes wait (RTS deasserted)."""
        with self._backlog_cond:
            while self._backlog > limit and not self._closed and not stop.is_set():
                self._backlog_cond.wait(0.1)

    def _took(self, item: tuple) -> None:
        if isinstance(item[1], bytes):
            with self._backlog_cond:
                self._backlog -= len(item[1])
                self._backlog_cond.notify_all()

    def _drain_inbox(self, drop: Callable[[float], bool]) -> None:
        keep = []
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item[1] is _STOP or not drop(item[0]):
                keep.append(item)
            else:
                self._took(item)
        for item in keep:
            self._inbox.put(item)

    def _run(self) -> None:
        pending: tuple[float, bytes] | None = None
        while not self._closed:
            if pending is None:
                timeout = None
                dm = self._dm
                if dm is not None and dm.buf:
                    deadline = dm.last_rx + self.datamode_time_limit / 1000.0
                    timeout = max(0.0, deadline - time.monotonic())
                else:
                    with self._idle_lock:
                        if self._inbox.empty():
                            self._idle.set()
                try:
                    item = self._inbox.get(timeout=timeout)
                except queue.Empty:
                    self._guard(self._dm_flush)
                    continue
                if item[1] is _STOP:
                    return
                self._took(item)
                pending = item
            t, data = pending
            pending = None
            generation = self._generation
            try:
                rest = self._consume(t, data)
            except Exception:  # never let one bad byte sequence kill the board
                self.log("internal error:\n" + traceback.format_exc())
                rest = b""
            if rest and generation == self._generation:
                pending = (t, rest)  # a reboot in between would have lost them

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            self.log("internal error:\n" + traceback.format_exc())

    def _consume(self, t: float, data: bytes) -> bytes:
        """Process input until a command completes; return what is still unprocessed."""
        if self._dm is not None:
            return self._dm_receive(t, data)
        for i, c in enumerate(data):
            line = self._rx_char(c)
            if line is not None:
                self._on_line(line)
                return data[i + 1 :]
        return b""

    # ------------------------------------------------------------------ line discipline

    def _rx_char(self, c: int) -> bytes | None:
        """``cmd_rx_handler`` with CRLF termination. Returns a finished line (or overflow)."""
        buf = self._line
        if c in (_BS, _DEL):
            if buf:
                del buf[-1]
            return None
        if not self._in_quotes and c == _LF and buf and buf[-1] == _CR:
            del buf[-1]
            line = bytes(buf)
            buf.clear()
            self._in_quotes = False
            return line
        buf.append(c)
        if len(buf) > AT_MAX_CMD_LEN - 1:
            # The overflowing character is dropped and ERROR goes out at once; what follows
            # starts a new command.
            buf.clear()
            self._in_quotes = False
            self.log("RX buffer overflow")
            self.write(ERROR)
            return None
        if c == _QUOTE:
            self._in_quotes = not self._in_quotes
        return None

    # ------------------------------------------------------------------ dispatch

    def _on_line(self, line: bytes) -> None:
        if self.config.verbose:
            # Only well-formed commands are shown: the tail of an overflowed or garbled line can
            # be the middle of a key that was being provisioned.
            if grammar_ok(line):
                self.log("RX " + repr(redact_line(line)))
            else:
                self.log(f"RX <{len(line)} bytes, not a command>")
        try:
            self._dispatch(line)
        finally:
            if self._reset_requested:
                self._reset_requested = False
                self._reboot()

    def _dispatch(self, line: bytes) -> None:
        if not grammar_ok(line):
            self.log("AT command invalid")
            self.write(ERROR)
            return
        if b"\0" in line:
            # The firmware hands the parser a C string, which ends at the first NUL.
            line = line[: line.index(b"\0")]
        entry = None
        for e in cmdtable.slm_table():
            if cmd_casecmp(line, e.name):
                entry = e
                break
        if entry is None:
            entry = cmdtable.modem_commands().get(modem_command_name(line))
            if entry is None:
                self.log(f"modem: unknown command {modem_command_name(line)}")
                self.write(ERROR)
                return
        cmd_type = cmd_type_get(line)
        try:
            params = Params.parse(line)
        except ParamError as exc:
            self.log(f"{entry.name}: parameter error: {exc}")
            self.write(ERROR)
            return
        if cmd_type is None:
            self.log(f"{entry.name}: unknown command type")
            self.write(ERROR)
            return
        self._run_handler(entry, cmd_type, params)

    def _run_handler(self, entry: cmdtable.CommandEntry, cmd_type: CmdType, params: Params) -> None:
        self._in_handler = True
        try:
            self._call_handler(entry, cmd_type, params)
        finally:
            self._in_handler = False
            self._start_deferred_timers()

    def _call_handler(
        self, entry: cmdtable.CommandEntry, cmd_type: CmdType, params: Params
    ) -> None:
        was_in_dm = self._dm is not None
        self.log(f"{entry.name} {cmd_type.name}")
        try:
            entry.handler(self, cmd_type, params)
        except CmeError as exc:
            self._abort_data_mode(was_in_dm)
            self.log(f"{entry.name}: +CME ERROR: {exc.code}")
            if self.modem.cmee:
                self.write(f"\r\n+CME ERROR: {exc.code}\r\n".encode())
            else:
                self.write(ERROR)
            return
        except CommandError as exc:
            self._abort_data_mode(was_in_dm)
            self.log(f"{entry.name}: ERROR ({exc})")
            self.write(ERROR)
            return
        except Exception:
            self._abort_data_mode(was_in_dm)
            self.log(f"{entry.name}: handler crashed:\n" + traceback.format_exc())
            self.write(ERROR)
            return
        if self._dm is None or was_in_dm:
            self.write(OK)

    def _abort_data_mode(self, was_in_dm: bool) -> None:
        if self._dm is not None and not was_in_dm:
            dm, self._dm = self._dm, None
            if dm.on_exit is not None:
                self._guard(dm.on_exit)

    # ------------------------------------------------------------------ data mode engine

    def _dm_receive(self, t: float, data: bytes) -> bytes:
        dm = self._dm
        assert dm is not None
        if dm.buf and (t - dm.last_rx) * 1000.0 >= self.datamode_time_limit:
            # The inactivity timer expired before these bytes arrived (the worker was busy).
            self._dm_flush()
            if self._dm is not dm:
                # Data mode ended; these bytes came in before the UART reset and are lost.
                return b""
        piece, rest = data[:UART_RX_LEN], data[UART_RX_LEN:]
        dm.buf += piece
        dm.last_rx = t
        if DATA_BUF_SIZE - len(dm.buf) < UART_RX_LEN:
            self.log(f"data buffer full ({DATA_BUF_SIZE - len(dm.buf)})")
            self._dm_flush()
            if self._dm is not dm:
                return b""
        return rest

    def _dm_flush(self) -> None:
        """``raw_send``: hand the buffer over in ring-contiguous pieces; a piece ending in the
        terminator ends data mode."""
        dm = self._dm
        if dm is None or not dm.buf:
            return
        data = bytes(dm.buf)
        dm.buf.clear()
        first = min(len(data), DATA_BUF_SIZE - self._rb_pos)
        pieces = [data[:first]] + ([data[first:]] if first < len(data) else [])
        for piece in pieces:
            self._rb_pos = (self._rb_pos + len(piece)) % DATA_BUF_SIZE
            exit_pending = False
            if len(piece) >= len(TERMINATOR) and piece.endswith(TERMINATOR):
                piece = piece[: -len(TERMINATOR)]
                exit_pending = True
                if not piece:
                    self._dm_exit()
                    return
            self.log(f"raw send {len(piece)}")
            ok = False
            try:
                ok = bool(dm.on_chunk(piece))
            except Exception:
                self.log("data mode send crashed:\n" + traceback.format_exc())
            if not ok:
                self.log(f"raw send failed, {len(piece)} dropped")
                exit_pending = True
            if exit_pending:
                self._dm_exit()
                return

    def _dm_exit(self) -> None:
        dm, self._dm = self._dm, None
        if dm is None:
            return
        if dm.on_exit is not None:
            self._guard(dm.on_exit)
        # UART RX is off for 10 ms while it is reset; anything received up to its end is gone.
        self.stopping.wait(DATAMODE_EXIT_RESET_S)
        cutoff = time.monotonic()
        self._drain_inbox(lambda t: t <= cutoff)
        self._line.clear()
        self._in_quotes = False
        self.log("exit data mode")
        self.write(OK)


# ---------------------------------------------------------------------- SLM general commands
# Positions follow slm_at_cmd_list in v2.0: the generic commands come before the socket ones.


@command("AT#XSLMVER", order=1)
def handle_slmver(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET:
        raise CommandError("XSLMVER is set-only")
    fw.respond(f'#XSLMVER: "{SLM_VERSION}"')


@command("AT#XRESET", order=4)
def handle_reset(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is not CmdType.SET:
        raise CommandError("XRESET is set-only")
    fw.request_reset()


@command("AT#XDATACTRL", order=7)
def handle_datactrl(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    minimum = min_time_limit(fw.config.effective_baud)
    if cmd_type is CmdType.SET:
        limit = params.get_ushort(1)
        if limit > 0 and limit < minimum:
            raise CommandError(f"time limit {limit} below minimum {minimum}")
        fw.datamode_time_limit = limit
    elif cmd_type is CmdType.READ:
        fw.respond(f"#XDATACTRL: {fw.datamode_time_limit},{minimum}")
    else:
        fw.respond("#XDATACTRL=<time_limit>")
