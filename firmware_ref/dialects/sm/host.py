"""The AT host of Serial Modem v2.0.0-preview1 (``sm_at_host.c``, ``sm_at_commands.c``).

``SmFirmware`` is the core ``Firmware`` (one worker thread playing ``sm_work_q``, real UART
bytes in and out) with Serial Modem's own host loop:

* Line discipline (``cmd_rx_handler``, default ``CONFIG_SM_CR_TERMINATION``): nothing is
  buffered until ``A`` then ``T``; CR outside quotes ends the line, so the LF of a CRLF is
  dropped as line noise; the buffer grows to 8192 bytes, past which the line is ERROR.
  Backspace deletes the previous character and then is stored itself (the code falls through
  to the store), which leaves the line unparseable: an edited line answers ERROR.
* Dispatch (``cmd_send``): the grammar check, then libmodem's custom-command filters
  (``table.lookup``), else the modem. Custom commands are parsed by ``lib/at_parser``
  (``atparser``) and answer ``OK`` for 0 and ``ERROR`` for a negative return.
* Data mode (``raw_rx_handler``): entry answers ``OK``; the terminator is matched byte by byte
  anywhere in the stream, the data before it is sent, and leaving answers ``#XDATAMODE: 0``
  (``-1`` after a failure). With ``<data_len>`` exactly that many bytes are taken, then data mode
  ends on its own. A failed send prints ``+++`` and drops input until the host sends ``+++``.
* Idle work (``is_idle``, ``idle_work``): URCs and socket events wait until the host is not
  typing (100 ms after its last byte, 1 s with echo on) and no command runs.
"""

from __future__ import annotations

import errno
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.host import ERROR, OK, Firmware, min_time_limit
from firmware_ref.core.line import OVERFLOW
from firmware_ref.core.modem import redact_line
from firmware_ref.core.params import ParamError, Params
from firmware_ref.core.parser import cmd_type_get, modem_command_name
from firmware_ref.dialects.sm.atparser import UINT16, AtParser, ParseError, cmd_type
from firmware_ref.dialects.sm.lines import grammar_ok
from firmware_ref.dialects.sm.table import SILENT, SM, SmError, lookup
from firmware_ref.dialects.sm.version import CURRENT, release
from firmware_ref.net import NetError

DATAMODE_BUF_SIZE = 4096  # CONFIG_SM_DATAMODE_BUF_SIZE
TERMINATOR = b"+++"  # CONFIG_SM_DATAMODE_TERMINATOR
URC_RETRY_DELAY = 0.100
ECHO_URC_DELAY = 1.000  # CONFIG_SM_URC_DELAY_WITH_INCOMPLETE_ECHO_MS

MODE_AT = "at"
MODE_DATA = "data"
MODE_NULL = "null"

# sm_datamode_handler_t operations and flags.
DATAMODE_SEND = 0
DATAMODE_EXIT = 1
FLAGS_NONE = 0
FLAGS_MORE_DATA = 1
FLAGS_EXIT_HANDLER = 2

DatamodeHandler = Callable[[int, bytes, int], int]


@dataclass
class _DataMode:
    """The data-mode state the core worker loop reads (``buf``, ``last_rx``) plus SM's own."""

    handler: DatamodeHandler | None = None
    data_len: int = 0
    buf: bytearray = field(default_factory=bytearray)  # data_rb
    last_rx: float = 0.0
    quit_match: int = 0
    result: int = 0  # handler_result


class SmFirmware(Firmware):
    """One booted Serial Modem board."""

    version = CURRENT

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._sm_reset_host()

    # ------------------------------------------------------------------ lifecycle

    def _sm_reset_host(self) -> None:
        self._mode = MODE_AT
        self._sm_dm = _DataMode()
        self._echo = False
        self._executing = False
        self._idle_deadline = 0.0
        self._idle_retry_due: float | None = None
        self._urcs_global: list[bytes] = []
        self._urcs_pipe: list[bytes] = []
        self._idle_works: list[Callable[[], None]] = []
        self._flushing = False
        self._flush_again = False
        self._null_match = 0

    def _boot(self) -> None:
        self._sm_reset_host()
        super()._boot()

    @property
    def in_data_mode(self) -> bool:
        return self._mode != MODE_AT

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def echo(self) -> bool:
        return self._echo

    @property
    def datamode_remaining(self) -> int:
        """Bytes data mode still takes before it ends by itself (0: until the terminator)."""
        return self._sm_dm.data_len if self._mode == MODE_DATA else 0

    # ------------------------------------------------------------------ output

    def urc(self, line: str) -> None:
        """A modem notification (``notification_handler``): buffered until the host is idle."""
        data = b"\r\n" + line.encode("latin-1") + b"\r\n"
        self.submit(lambda: self.urc_send(data))

    def urc_send(self, data: bytes) -> None:
        """``urc_send``: the global URC buffer (worker thread only)."""
        self._urcs_global.append(data)
        self._kick()

    def urc_send_to(self, data: bytes) -> None:
        """``urc_send_to``: a URC for this pipe (socket events; worker thread only)."""
        self._urcs_pipe.append(data)
        self._kick()

    def data_send(self, data: bytes) -> None:
        """``data_send``: received payload; pending URCs go first when idle."""
        if self.is_idle():
            self._flush_urcs()
        self.write(data)

    def queue_idle_work(self, fn: Callable[[], None]) -> None:
        """``sm_at_host_queue_idle_work``: run ``fn`` once the host is idle (worker only)."""
        if fn not in self._idle_works:
            self._idle_works.append(fn)
        self._kick()

    def is_idle(self) -> bool:
        return (
            self._mode == MODE_AT
            and not self._executing
            and time.monotonic() >= self._idle_deadline
        )

    def _kick(self) -> None:
        """``sm_at_host_event_notify``: the idle work runs as a later work item, not inside
        the caller (which may still be printing a response)."""
        if not (self._urcs_global or self._urcs_pipe or self._idle_works):
            return  # idle_work would find nothing to do
        if self.is_idle():
            self.submit(self._notified)
        else:
            self._arm_idle_retry()

    def _notified(self) -> None:
        if self.is_idle():
            self._idle_work()
        else:
            self._arm_idle_retry()

    def _arm_idle_retry(self) -> None:
        """The idle timer's expiry, made real only while something waits for it."""
        if self._mode != MODE_AT:
            return  # leaving data mode notifies
        due = max(self._idle_deadline, time.monotonic())
        if self._idle_retry_due is not None and self._idle_retry_due <= due:
            return

        def fire() -> None:
            self._idle_retry_due = None
            self._notified()

        self._idle_retry_due = due
        self.call_later(max(0.0, due - time.monotonic()), lambda: self.submit(fire))

    def _flush_urcs(self) -> None:
        while self._urcs_global or self._urcs_pipe:
            queue = self._urcs_global if self._urcs_global else self._urcs_pipe
            self.write(queue.pop(0))

    def _idle_work(self) -> None:
        if self._flushing:
            self._flush_again = True
            return
        self._flushing = True
        try:
            while True:
                self._flush_again = False
                self._flush_urcs()
                works, self._idle_works = self._idle_works, []
                for fn in works:
                    self._guard(fn)
                if not (self._flush_again or self._urcs_global or self._urcs_pipe):
                    break
                if not self.is_idle():
                    self._arm_idle_retry()
                    break
        finally:
            self._flushing = False

    # ------------------------------------------------------------------ input

    def _consume(self, t: float, data: bytes) -> bytes:
        dm = self._sm_dm
        if (
            self._mode == MODE_DATA
            and dm.buf
            and (t - dm.last_rx) * 1000.0 >= (self.datamode_time_limit)
        ):
            # The inactivity timer expired before these bytes arrived (the worker was busy).
            self._dm_flush()
        for i, c in enumerate(data):
            if self._mode == MODE_DATA:
                self._raw_rx(c)
                if self._mode == MODE_DATA:
                    dm.last_rx = t
            elif self._mode == MODE_NULL:
                self._null_rx(c)
            else:
                # check_idle_timer(ctx, true): every byte restarts the URC hold-off.
                self._idle_deadline = t + (ECHO_URC_DELAY if self._echo else URC_RETRY_DELAY)
                consumed, line = self._lines.feed_event(data[i:])
                if line is None:
                    return b""
                if line is OVERFLOW:
                    self.log("AT command buffer overflow, max size reached")
                    self.write(ERROR)
                else:
                    self._cmd_send(line)  # type: ignore[arg-type]
                self._cmd_finish()
                return data[i + consumed :]
        return b""

    def _cmd_finish(self) -> None:
        self._lines.reset()
        self._idle_deadline = 0.0  # k_timer_stop(idle_timer)
        if self._reset_requested:
            self._reset_requested = False
            self._reboot()
            return
        self._kick()

    # ------------------------------------------------------------------ dispatch

    def _cmd_send(self, line: bytes) -> None:
        if not line:
            return
        if b"\0" in line:
            line = line[: line.index(b"\0")]  # the firmware's C string ends here
        if self.config.verbose:
            # Credentials (AT%CMNG) never reach the log.
            shown = repr(redact_line(line)) if grammar_ok(line) else f"<{len(line)} bytes>"
            self.log("RX " + shown)
        if not grammar_ok(line):
            self.log("AT command syntax invalid")
            self.write(ERROR)
            return
        found = lookup(line)
        self._executing = True
        try:
            if found is not None:
                self._run_custom(found.name, found.handler, line)
            else:
                self._run_modem(line)
        finally:
            self._executing = False

    def _run_custom(self, name: str, handler: Callable, line: bytes) -> None:
        parser = AtParser(line)
        ctype = cmd_type(line)
        code: object = 0
        if parser.count_error:
            code = parser.count_error
        elif ctype is None:
            code = -errno.EOPNOTSUPP
        else:
            self._in_handler = True
            try:
                result = handler(self, ctype, parser)
                code = SILENT if result is SILENT else 0
            except (SmError, ParseError) as exc:
                code = exc.code
            except NetError as exc:
                code = -(exc.errno or errno.EIO)
            except Exception:  # noqa: BLE001 - a model bug answers ERROR, never crashes
                self.log(f"{name}: handler crashed:\n" + traceback.format_exc())
                code = -errno.EFAULT
            finally:
                self._in_handler = False
        self.log(f"{name} {ctype.name if ctype else '?'} -> {code if code is not SILENT else ''}")
        if code is SILENT:
            pass
        elif code == 0:
            self.write(OK)
        elif isinstance(code, int) and code > 0:
            kind = (code >> 16) & 0xFF
            if kind == 2:
                self.write(f"\r\n+CME ERROR: {code & 0xFFFF}\r\n".encode())
            elif kind == 3:
                self.write(f"\r\n+CMS ERROR: {code & 0xFFFF}\r\n".encode())
            else:
                self.write(ERROR)
        else:
            self.write(ERROR)
        self._start_deferred_timers()

    def _run_modem(self, line: bytes) -> None:
        """``nrf_modem_at_cmd`` for a line no filter takes: cmd_send frames the modem's answer
        exactly as SLM v2.0 does (format_final_result), so the core's modem call serves."""
        entry = SM.table.modem(modem_command_name(line))
        ctype = cmd_type_get(line)
        if entry is None or ctype is None:
            self.log(f"modem: unknown command {modem_command_name(line)}")
            self.write(ERROR)
            return
        try:
            params = Params.parse(line)
        except ParamError:
            self.write(ERROR)
            return
        self._run_handler(entry, ctype, params)

    # ------------------------------------------------------------------ data mode

    def sm_enter_datamode(self, handler: DatamodeHandler, data_len: int) -> None:
        """``enter_datamode``: later input goes to ``handler``; the command answers OK."""
        dm = self._sm_dm
        if dm.handler is not None or self._mode != MODE_AT:
            raise SmError(-errno.EINVAL, "Failed to enter data mode")
        dm.buf.clear()
        dm.handler = handler
        # size_t: a negative <data_len> becomes a count of about 4 GB, "+++" included as data.
        dm.data_len = data_len % (1 << 32)
        dm.quit_match = 0
        if self.datamode_time_limit == 0:
            self.datamode_time_limit = min_time_limit(self.uart_baud)
        self._mode = MODE_DATA
        self._dm = dm  # type: ignore[assignment]  # the core loop runs the inactivity timer
        self.log(f"enter data mode (time limit {self.datamode_time_limit} ms, len {data_len})")

    def enter_data_mode(self, on_chunk, on_exit=None) -> None:  # type: ignore[override]
        raise CommandError("Serial Modem handlers enter data mode with sm_enter_datamode")

    def _raw_rx(self, c: int) -> None:
        """``raw_rx_handler``."""
        dm = self._sm_dm
        if dm.data_len > 0:
            self._write_data_buf(bytes([c]))
            dm.data_len -= 1
            if dm.data_len == 0:
                self._raw_send(FLAGS_NONE)
                self._exit_datamode()
            return
        while True:
            if c == TERMINATOR[dm.quit_match]:
                dm.quit_match += 1
                if dm.quit_match == len(TERMINATOR):
                    self._raw_send(FLAGS_NONE)
                    self._exit_datamode()
                    dm.quit_match = 0
                return
            if dm.quit_match > 0:
                self._write_data_buf(TERMINATOR[: dm.quit_match])
                dm.quit_match = 0
                continue
            self._write_data_buf(bytes([c]))
            return

    def _write_data_buf(self, data: bytes) -> None:
        dm = self._sm_dm
        index = 0
        while index < len(data):
            room = DATAMODE_BUF_SIZE - len(dm.buf)
            if room > 0:
                piece = data[index : index + room]
                dm.buf += piece
                index += len(piece)
            else:
                self._raw_send(FLAGS_MORE_DATA)

    def _raw_send(self, flags: int) -> None:
        dm = self._sm_dm
        retry = True
        while dm.buf:
            claim = bytes(dm.buf)
            if dm.handler is None:
                self.log(f"No handler. Dropped {len(claim)} bytes")
                dm.buf.clear()
                break
            try:
                ret = dm.handler(DATAMODE_SEND, claim, flags)
            except Exception:  # noqa: BLE001
                self.log("data mode send crashed:\n" + traceback.format_exc())
                ret = -errno.EIO
            if ret < 0 or (ret == 0 and not retry):
                self.log(f"Send failed: {ret}, Dropped: {len(claim)} bytes")
                self.exit_datamode_handler(ret if ret else -errno.EAGAIN)
                ret = len(claim)
            elif ret == 0:
                retry = False
            else:
                retry = True
            del dm.buf[: min(ret, len(claim))]

    def _dm_flush(self) -> None:
        """``raw_send_scheduled`` (the inactivity timer): a partial terminator is data."""
        dm = self._sm_dm
        if not dm.buf:
            return
        if dm.quit_match > 0:
            self._write_data_buf(TERMINATOR[: dm.quit_match])
            dm.quit_match = 0
        self._raw_send(FLAGS_NONE)

    def _exit_datamode(self) -> None:
        """``exit_datamode``: back to AT mode, ``#XDATAMODE: <0|-1>``."""
        if self._mode not in (MODE_DATA, MODE_NULL):
            return
        dm = self._sm_dm
        self._mode = MODE_AT
        self._dm = None
        handler, dm.handler = dm.handler, None
        if handler is not None:
            self._guard(lambda: handler(DATAMODE_EXIT, b"", FLAGS_NONE))
        dm.data_len = 0
        dm.quit_match = 0
        dm.buf.clear()
        result = -1 if dm.result else 0
        dm.result = 0
        self._null_match = 0
        self.log("exit data mode")
        self.write(self.dialect.datamode_exit_response(result))
        self._kick()

    def exit_datamode_handler(self, result: int) -> None:
        """``exit_datamode_handler``: a failure ends sending; input is dropped until ``+++``."""
        if self._mode not in (MODE_DATA, MODE_NULL):
            return
        dm = self._sm_dm
        self._mode = MODE_NULL
        self._dm = None
        handler, dm.handler = dm.handler, None
        if handler is not None:
            self._guard(lambda: handler(DATAMODE_EXIT, b"", FLAGS_EXIT_HANDLER))
        dm.result = result
        dm.data_len = 0
        self.log(f"data mode broken ({result}); dropping input until {TERMINATOR!r}")

    def _null_rx(self, c: int) -> None:
        """``null_handler``."""
        if c == TERMINATOR[self._null_match]:
            self._null_match += 1
            if self._null_match == len(TERMINATOR):
                self._exit_datamode()
                self._null_match = 0
        else:
            self._null_match = 0

    # ------------------------------------------------------------------ helpers for handlers

    def rsp(self, line: str) -> None:
        """``rsp_send("\\r\\n<line>\\r\\n")``."""
        self.respond(line)

    def set_echo(self, enable: bool) -> None:
        self._echo = enable
        self._idle_deadline = 0.0


# ---------------------------------------------------------------------- generic commands


@SM.command("AT#XSMVER", order=0)
def handle_smver(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    if cmd_type is not CmdType.SET:
        raise SmError(-errno.EINVAL)
    rel = release(fw.version)
    fields = [f'"{rel.sm_version}"', f'"{rel.ncs_version}"']
    if rel.customer_version:
        fields.append(f'"{rel.customer_version}"')
    fw.rsp("#XSMVER: " + ",".join(fields))


@SM.command("AT#XRESET", order=0)
def handle_reset(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    if cmd_type is not CmdType.SET:
        raise SmError(-errno.EINVAL)
    fw.request_reset()


@SM.command("ATE0", order=0)
def handle_ate0(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    fw.set_echo(False)


@SM.command("ATE1", order=0)
def handle_ate1(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    fw.set_echo(True)


@SM.command("AT#XDATACTRL", order=0)
def handle_datactrl(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    minimum = min_time_limit(fw.uart_baud)
    if cmd_type is CmdType.SET:
        limit = parser.num(1, UINT16)
        if limit < minimum:
            raise SmError(-errno.EINVAL, f"time limit {limit} below minimum {minimum}")
        fw.datamode_time_limit = limit
    elif cmd_type is CmdType.READ:
        fw.rsp(f"#XDATACTRL: {fw.datamode_time_limit},{minimum}")
    else:
        fw.rsp("#XDATACTRL=<time_limit>")


__all__ = ["SmFirmware"]
