"""The AT host of the simulated board (SLM v2.0 ``slm_at_host.c``), shared by every dialect.

One ``Firmware`` is one powered-on board of one dialect (``firmware_ref.core.dialect``): bytes
go in through ``feed``, bytes come out through the ``output`` callable it was built with.
Inside, a single worker thread plays the role of the firmware's system work queue: it runs the
dialect's line discipline, the grammar check, dispatch, the command handlers and the data-mode
engine, one thing at a time.

Flow control model: the real firmware disables UART RX while a command runs, so without
hardware flow control the bytes a host sends early are lost. We model a board *with* RTS/CTS:
input waits (in ``feed``'s queue, like bytes held in the OS/UART buffer) until the handler has
finished, then is processed in order. Every chunk is stamped with its arrival time so the
data-mode inactivity timer measures the silence the host really left, even when the worker was
busy when the bytes arrived.
"""

from __future__ import annotations

import collections
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from firmware_ref.core.dialect import DEFAULT_DIALECT, CommandEntry, Dialect, get_dialect
from firmware_ref.core.errors import CmdType, CmeError, CommandError
from firmware_ref.core.line import Overflow
from firmware_ref.core.modem import DEFAULT_IMEI, ModemState, redact_line
from firmware_ref.core.params import ParamError, Params
from firmware_ref.core.parser import modem_command_name

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
READY = b"Ready\r\n"

DATA_BUF_SIZE = 4096  # data_rb
DELAYED_TX_SIZE = 1024  # UART_TX_DATA_SIZE: delayed_rb, output kept while the UART is off
UART_RX_TIMEOUT_S = 0.002  # UART_RX_TIMEOUT_US: line idle time that ends an RX event
# The RX idle time `slm-sim` uses on an unpaced link (no --baud): see FirmwareConfig.rx_timeout.
UNPACED_RX_TIMEOUT_S = 0.0002
UART_RX_LEN = 256  # one UART DMA buffer: the unit in which data mode receives
UART_RX_MARGIN_MS = 10
DATAMODE_EXIT_RESET_S = 0.010  # UART RX off while the data-mode exit resets it
TERMINATOR = b"+++"  # CONFIG_SLM_DATAMODE_TERMINATOR
DEFAULT_BAUD = 115200
# The UART rate `slm-sim` models on an unpaced link (no --baud): the top of v2.0's #XSLMUART list
# and of Serial Modem's +IPR list. See FirmwareConfig.uart_baud and README "UART rate".
UNPACED_UART_BAUD = 1000000


def format_final_result(buf: bytes) -> bytes:
    """``format_final_result`` (``slm_at_host.c`` 688-752): CRLF before the final result when
    information lines precede it. The last ``OK\\r\\n`` counts, else the last ``ERROR\\r\\n``, else
    the last ``+CME ERROR:``, else the last ``+CMS ERROR:``; nothing found, nothing changes."""
    for token in (b"OK\r\n", b"ERROR\r\n", b"+CME ERROR:", b"+CMS ERROR:"):
        at = buf.rfind(token)
        if at >= 0:
            return buf if at == 0 else buf[:at] + b"\r\n" + buf[at:]
    return buf


def min_time_limit(baud: int) -> int:
    """Data-mode flush time: one UART buffer's transfer time plus a margin (ms, int math)."""
    return UART_RX_LEN * (8 + 1 + 1) * 1000 // baud + UART_RX_MARGIN_MS


@dataclass
class FirmwareConfig:
    """Board options (``slm-sim`` flags)."""

    baud: int | None = None  # pace the link at this rate; None: unpaced
    address: str = "127.0.0.1"
    address6: str = "::1"
    online: bool = False
    verbose: bool = False
    log_stream: TextIO | None = None
    imei: str = DEFAULT_IMEI
    dialect: str = DEFAULT_DIALECT  # a folder of firmware_ref/dialects
    # Line idle time that ends a UART RX event (seconds). The firmware's is UART_RX_TIMEOUT_US,
    # 2 ms, and that stays the default; `slm-sim` shortens it on an unpaced link (README:
    # "UART events").
    rx_timeout: float = UART_RX_TIMEOUT_S
    # The rate the firmware believes its UART runs at (#XSLMUART?, the data-mode minimum time
    # limit); None: `baud`, else DEFAULT_BAUD. `slm-sim` sets UNPACED_UART_BAUD when unpaced.
    uart_baud: int | None = None

    @property
    def effective_baud(self) -> int:
        """The line's rate as the RX event model counts bytes on it."""
        return self.baud or DEFAULT_BAUD

    @property
    def believed_baud(self) -> int:
        """The UART rate the firmware was built with (before any #XSLMUART change)."""
        return self.uart_baud or self.baud or DEFAULT_BAUD


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
_WAKE = object()


class Firmware:
    """One booted simulated board. Thread-safe ``feed``; output goes to ``output``."""

    def __init__(
        self,
        output: Callable[[bytes], None],
        config: FirmwareConfig | None = None,
        *,
        modem: ModemState | None = None,
        dialect: Dialect | str | None = None,
    ) -> None:
        self.config = config or FirmwareConfig()
        if not isinstance(dialect, Dialect):
            dialect = get_dialect(dialect or self.config.dialect)
        self.dialect = dialect
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
        self._handlers_started = 0
        self._timer_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        self._generation = 0
        self._lines = dialect.line_discipline(self)
        # Input taken from the inbox but not yet processed, oldest first: bytes the UART holds
        # back (RTS) while a command runs, and items read ahead while collecting an RX event.
        self._held: collections.deque[tuple[float, bytes]] = collections.deque()
        self._rx_pos = 0  # position in the UART's DMA buffer since RX was last enabled
        self._rx_enabled_at = 0.0
        self._capture: list[bytes] | None = None  # a modem command's answer being collected
        self._capture_secret = False
        self._asleep: str | None = None  # "idle" (UART off) or "sleep" (System OFF)
        self._asleep_event = threading.Event()
        self._delayed = bytearray()  # output kept while the UART is off (idle)
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
    def handlers_started(self) -> int:
        """How many command handlers have started since power-on. For tests: a count above the
        one read after the previous command's answer says the next command has begun, so
        what arrives now is a later RX event. (A flag set while a handler runs would not do:
        the worker may still be in the previous handler, just after writing its answer.)"""
        return self._handlers_started

    @property
    def line_pending(self) -> bool:
        """Part of a command line has been received, without its terminator."""
        return self._lines.pending

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every byte fed so far is processed and the worker waits for input
        (in data mode: with its buffer flushed). For tests; False on timeout."""
        return self._idle.wait(timeout)

    @property
    def in_quotes(self) -> bool:
        """The line editor is inside a quoted string (CR/LF do not end the line)."""
        return self._lines.in_quotes

    def _boot(self) -> None:
        self._generation += 1
        self.stopping = threading.Event()
        self.state = {}
        self._lines.reset()
        self._held.clear()
        self._uart_receive()
        self._dm = None
        self._rb_pos = 0
        self.datamode_time_limit = 0
        self._asleep = None
        self._asleep_event.clear()
        self._delayed.clear()
        self.modem.power_on_reset(self.config.online)
        for hook in self.dialect.boot_hooks():
            try:
                hook(self)
            except Exception:  # a broken hook must not keep the board from booting
                self.log("boot hook failed:\n" + traceback.format_exc())
        self.log(f"boot (online={self.modem.online})")
        self.write(self.dialect.banner)

    def _shutdown(self) -> None:
        self.stopping.set()
        with self._timer_lock:
            timers, self._timers = self._timers, []
            self._deferred_timers = []
        for t in timers:
            t.cancel()
        if self._dm is not None:
            self._dm = None
        for hook in self.dialect.shutdown_hooks():
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

    def power_down(self, mode: str) -> None:
        """UART off (``mode`` "idle") or the whole chip off ("sleep", System OFF): input is
        lost and nothing goes out until ``wake`` (the wake-up pin)."""
        self.log(f"power down: {mode}")
        if mode == "sleep":
            self.modem.cfun = 0
            self.modem.reg_stat = 0
        self._asleep = mode
        self._asleep_event.set()

    @property
    def asleep(self) -> str | None:
        return self._asleep

    def wait_asleep(self, timeout: float) -> bool:
        """Wait until the board has powered down (for tests); False on timeout."""
        return self._asleep_event.wait(timeout)

    def wake(self) -> None:
        """The wake-up pin: an idle board powers its UART on and says its banner again
        (``poweron_uart``); a sleeping one boots."""
        if not self._closed:
            self._inbox.put((time.monotonic(), _WAKE))

    def _on_wake(self) -> None:
        mode, self._asleep = self._asleep, None
        self._asleep_event.clear()
        if mode == "idle":
            self._uart_receive()
            delayed, self._delayed = bytes(self._delayed), bytearray()
            self.write(self.dialect.banner)
            self.write(delayed)
        elif mode == "sleep":
            self._reboot()

    @property
    def uart_baud(self) -> int:
        """The UART rate the firmware believes in (#XSLMUART may have changed it)."""
        return int(self.modem.settings.get("uart_baud", self.config.believed_baud))

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
            if self._asleep is not None:
                if self._asleep == "idle":
                    # uart_send fails while the UART is suspended and rsp_send keeps the bytes
                    # in delayed_rb (1024 bytes; what does not fit is dropped), sent after
                    # "Ready" when the UART is back (slm_at_host.c 121-131, 240-255, 275-276).
                    room = DELAYED_TX_SIZE - len(self._delayed)
                    self._delayed += data[: max(0, room)]
                self.log(f"UART off: {len(data)} bytes not sent")
                return
            if self.config.verbose:
                self.log("TX " + (f"<{len(data)} secret bytes>" if secret else repr(data)))
            try:
                self._output(data)
            except Exception as exc:  # a vanished host must not kill the modem
                self.log(f"output failed: {exc!r}")

    def respond(self, line: str, *, secret: bool = False) -> None:
        """An information line: ``\\r\\n<line>\\r\\n`` (a modem command's line: ``<line>\\r\\n``
        into its answer, which the host frames)."""
        if self._capture is not None and threading.current_thread() is self._worker:
            self._capture.append(line.encode("latin-1") + b"\r\n")
            self._capture_secret = self._capture_secret or secret
            return
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
            self.datamode_time_limit = min_time_limit(self.uart_baud)
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

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the worker between two pieces of input (the firmware's work queue),
        from any thread: how socket events reach a dialect whose firmware reacts to them."""
        if not self._closed:
            with self._idle_lock:
                self._idle.clear()
                self._inbox.put((time.monotonic(), fn))

    def _drain_inbox(self, drop: Callable[[float], bool]) -> None:
        self._held = collections.deque(item for item in self._held if not drop(item[0]))
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

    def _next_input(self, timeout: float | None) -> tuple[float, object]:
        if self._held:
            return self._held.popleft()  # already taken off the backlog
        item = self._inbox.get(timeout=timeout)
        self._took(item)
        return item

    def _line_time(self, n: int) -> float:
        return n * 10.0 / self.config.effective_baud

    def _collect_event(self, t: float, data: bytes) -> tuple[float, bytes]:
        """One UART RX event in command mode: the bytes that reach the UART back to back.

        The UART reports received bytes once the line has been idle for UART_RX_TIMEOUT_US
        (``slm_at_host.c`` 39, 148); bytes held back while RX was off (a command running)
        arrive back to back when it is enabled again. So everything that arrives within that
        idle time of the previous bytes (plus its own time on the line) is one event."""
        last = max(t, self._rx_enabled_at)
        idle = self.config.rx_timeout
        parts = [data]
        size = len(data)
        # A full DMA buffer ends the event too (RX_RDY without the idle time): gathering no
        # further also keeps a host that floods the line in the backlog, held back (RTS).
        room = UART_RX_LEN - self._rx_pos % UART_RX_LEN
        while size < room:
            wait = last + idle - time.monotonic()
            try:
                item = self._next_input(max(0.0, wait))
            except queue.Empty:
                break
            t2, more = item
            if more is _STOP or more is _WAKE or callable(more):
                self._held.appendleft(item)  # type: ignore[arg-type]
                break
            assert isinstance(more, bytes)
            if t2 - last > idle + self._line_time(len(more)):
                self._held.appendleft((t2, more))
                break
            parts.append(more)
            size += len(more)
            last = max(t2, last)
        return last, b"".join(parts)

    def _run(self) -> None:
        while not self._closed:
            timeout = None
            dm = self._dm
            if dm is not None and dm.buf:
                deadline = dm.last_rx + self.datamode_time_limit / 1000.0
                timeout = max(0.0, deadline - time.monotonic())
            else:
                with self._idle_lock:
                    if self._inbox.empty() and not self._held:
                        self._idle.set()
            try:
                item = self._next_input(timeout)
            except queue.Empty:
                self._guard(self._dm_flush)
                continue
            if item[1] is _STOP:
                return
            if item[1] is _WAKE:
                self._guard(self._on_wake)
                continue
            if callable(item[1]):
                self._guard(item[1])
                continue
            t, data = item
            assert isinstance(data, bytes)
            if self._asleep is not None:
                self.log(f"UART off: {len(data)} bytes lost")
                continue
            generation = self._generation
            try:
                if self._dm is None:
                    t, data = self._collect_event(t, data)
                rest = self._consume(t, data)
            except Exception:  # never let one bad byte sequence kill the board
                self.log("internal error:\n" + traceback.format_exc())
                rest = b""
            if rest and generation == self._generation:
                self._held.appendleft((t, rest))  # a reboot in between would have lost them

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            self.log("internal error:\n" + traceback.format_exc())

    def _consume(self, t: float, data: bytes) -> bytes:
        """Process input until a command completes; return what is still unprocessed."""
        if self._dm is not None:
            return self._dm_receive(t, data)
        while data:
            # Events also end where a DMA buffer is full (UART_RX_LEN bytes from RX enable).
            room = UART_RX_LEN - self._rx_pos % UART_RX_LEN
            event, data = data[:room], data[room:]
            consumed, command = self._lines.feed_event(event)
            self._rx_pos += consumed
            if command is None:
                continue
            # RX is off from here until the command has run (uart_rx_disable, 865): what is
            # left waits in the UART (RTS), and comes back as held input.
            rest = event[consumed:] + data
            try:
                if isinstance(command, Overflow):
                    self.log("AT command buffer overflow")
                    self.write(ERROR)
                else:
                    self._on_line(command)
            finally:
                self._lines.command_done()
                self._uart_receive()
            return rest
        return b""

    def _uart_receive(self) -> None:
        """``uart_receive``: RX on again, into a fresh DMA buffer."""
        self._rx_pos = 0
        self._rx_enabled_at = time.monotonic()

    # ------------------------------------------------------------------ dispatch

    def _on_line(self, line: bytes) -> None:
        if self.config.verbose:
            # Only well-formed commands are shown: the tail of an overflowed or garbled line can
            # be the middle of a key that was being provisioned.
            if self.dialect.grammar_check(line):
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
        dialect = self.dialect
        if not dialect.grammar_check(line):
            self.log("AT command invalid")
            self.write(ERROR)
            return
        entry = None
        for e in dialect.table.ordered():
            if dialect.matches(line, e.name):
                entry = e
                break
        if entry is None:
            entry = dialect.table.modem(modem_command_name(line))
            if entry is None:
                self.log(f"modem: unknown command {modem_command_name(line)}")
                self.write(ERROR)
                return
        cmd_type = dialect.cmd_type(line)
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

    def _run_handler(self, entry: CommandEntry, cmd_type: CmdType, params: Params) -> None:
        self._handlers_started += 1
        self._in_handler = True
        try:
            if entry.own:
                self._call_handler(entry, cmd_type, params)
            else:
                self._call_modem(entry, cmd_type, params)
        finally:
            self._in_handler = False
            self._start_deferred_timers()

    def _call_modem(self, entry: CommandEntry, cmd_type: CmdType, params: Params) -> None:
        """A line the modem answers (``nrf_modem_at_cmd``, ``slm_at_host.c`` 784-801).

        The modem's answer is its information lines and final result, each ending CRLF, in
        ``at_buf``; SLM sends CRLF, then the answer with one more CRLF before the final result
        (``format_final_result``). An answer that does not fit the buffer is an error of
        nrf_modem_at_cmd itself: plain ERROR."""
        self.log(f"{entry.name} {cmd_type.name} (modem)")
        self._capture = []
        try:
            entry.handler(self, cmd_type, params)
            final = b"OK\r\n"
        except CmeError as exc:
            self.log(f"{entry.name}: +CME ERROR: {exc.code}")
            final = f"+CME ERROR: {exc.code}\r\n".encode() if self.modem.cmee else b"ERROR\r\n"
        except CommandError as exc:
            self.log(f"{entry.name}: ERROR ({exc})")
            final = b"ERROR\r\n"
        except Exception:
            self.log(f"{entry.name}: modem handler crashed:\n" + traceback.format_exc())
            final = b"ERROR\r\n"
        finally:
            captured, self._capture = self._capture, None
        raw = b"".join(captured) + final
        secret = self._capture_secret
        self._capture_secret = False
        if len(raw) + 1 > self._lines.response_capacity:
            self.log(f"{entry.name}: modem answer of {len(raw)} bytes does not fit at_buf")
            self.write(ERROR)
            return
        self._lines.modem_response(raw)
        self.write(b"\r\n" + format_final_result(raw), secret=secret)

    def _call_handler(self, entry: CommandEntry, cmd_type: CmdType, params: Params) -> None:
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
        if self._dm is None or was_in_dm or self.dialect.ok_on_datamode_entry:
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
        # data_rb lives in at_buf (ring_buf_init, slm_at_host.c 177).
        self._lines.shared_write((self._rb_pos + len(dm.buf)) % DATA_BUF_SIZE, piece)
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
            start = self._rb_pos
            self._rb_pos = (self._rb_pos + len(piece)) % DATA_BUF_SIZE
            exit_pending = False
            if len(piece) >= len(TERMINATOR) and piece.endswith(TERMINATOR):
                # raw_send blanks the terminator in the ring (memset, slm_at_host.c 497).
                self._lines.shared_write(start + len(piece) - len(TERMINATOR), bytes(3))
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
                self._dm_exit(-1)
                return
            if exit_pending:
                self._dm_exit()
                return

    def _dm_exit(self, result: int = 0) -> None:
        """Leave data mode; ``result`` is 0, or negative after a failed send (what the
        dialect's exit answer may report)."""
        dm, self._dm = self._dm, None
        if dm is None:
            return
        if dm.on_exit is not None:
            self._guard(dm.on_exit)
        # UART RX is off for 10 ms while it is reset; anything received up to its end is gone.
        self.stopping.wait(DATAMODE_EXIT_RESET_S)
        cutoff = time.monotonic()
        self._drain_inbox(lambda t: t <= cutoff)
        # exit_datamode runs uart_receive(): RX restarts; the line editor keeps its state
        # (at_cmd_len is not touched, slm_at_host.c 199-224).
        self._uart_receive()
        self.log("exit data mode")
        self.write(self.dialect.datamode_exit_response(result))


def make_firmware(
    output: Callable[[bytes], None],
    config: FirmwareConfig | None = None,
    *,
    modem: ModemState | None = None,
    dialect: Dialect | str | None = None,
) -> Firmware:
    """A board of ``dialect`` (default: the config's): the dialect's own ``Firmware`` subclass
    when its host loop differs from the core's, else the core ``Firmware``."""
    config = config or FirmwareConfig()
    if not isinstance(dialect, Dialect):
        dialect = get_dialect(dialect or config.dialect)
    factory = dialect.firmware_class or Firmware
    return factory(output, config, modem=modem, dialect=dialect)
