"""SmDut: the shared SlmDut API mapped onto Serial Modem (ncs-serial-modem v2.0.0-preview1).

Serial Modem names a socket by its handle in every command (`AT#XCONNECT=<handle>,...`) where
SLM v2.0 acts on an "active" socket. The shared methods take `handle=None`, meaning the socket
this object opened or accepted last (`current`), so a behaviour test reads the same on both.
Every answer is checked against the exact format `app/src/sm_at_socket.c` prints; a wrong shape
raises `ProtocolError`, a refusal `AtError`.
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pytest_slm import dialects
from pytest_slm.at.errors import AtError, AtTimeout, ProtocolError, SlmError
from pytest_slm.at.result import AtResult
from pytest_slm.dut import (
    _INT,
    _STR,
    _TIMEOUT_MARGIN,
    DUT_CLASSES,
    NETWORK_TIMEOUT,
    SlmDut,
    _check_string_payload,
    _quote,
    not_in_dialect,
)
from pytest_slm.slm_types import (
    DATAMODE_TERMINATOR,
    SM_HEX_MAX,
    SM_SEND_ACK,
    Accepted,
    ApollOp,
    DataNotification,
    Family,
    Listening,
    OpenedSocket,
    OptOp,
    PeerVerify,
    PollEvent,
    Received,
    ReceivedFrom,
    RecvCfg,
    Role,
    SendMode,
    SendNotification,
    Sent,
    SmSocket,
    SocketMode,
    SocketType,
    string_form_fits,
)

_HEADER_RECV = re.compile(r"^#XRECV: (\d+),([01]),(\d+)$")
_HEADER_RECVFROM = re.compile(r'^#XRECVFROM: (\d+),([01]),(\d+),"([^"]*)",(\d+)$')


class SmDut(SlmDut):
    """Serial Modem's socket commands behind the shared API, plus its own features."""

    dialect = dialects.SM_DIALECT

    # The socket the shared API acts on when no handle is given.
    _current: int | None = None

    @property
    def current(self) -> int | None:
        return self._current

    def _h(self, handle: int | None) -> int:
        if handle is not None:
            return int(handle)
        if self._current is None:
            raise ValueError("no socket opened yet: open one or pass handle=")
        return self._current

    # ------------------------------------------------------------------------ state

    def reset_state(self, *, timeout: float = 10.0) -> None:
        if self.in_data_mode:
            try:
                self.exit_data_mode(timeout=timeout)
            except SlmError:
                pass
        try:
            self.at("AT", timeout=min(timeout, 3.0))
        except (AtTimeout, AtError):
            self._recover_command_mode(timeout)
        # Notification settings belong to the AT channel, not the sockets: put them back.
        self.at("AT#XAPOLL=,0", timeout=timeout, check=False)
        self.at("AT#XRECVCFG=,0", timeout=timeout, check=False)
        self.close_all_sockets(timeout=timeout)
        self.drain_urcs()

    def close_all_sockets(self, *, timeout: float = 10.0) -> int:
        """`AT#XCLOSE` (no handle): every open socket, one `#XCLOSE: <h>,<result>` each."""
        result = self.at("AT#XCLOSE", timeout=timeout)
        self._current = None
        return len(self._rows(result, "#XCLOSE", f"{_INT},{_INT}", count=None))

    def close_all(self) -> list[tuple[int, int]]:
        """`AT#XCLOSE`: the (handle, result) of every socket it closed."""
        result = self.at("AT#XCLOSE", timeout=NETWORK_TIMEOUT)
        self._current = None
        return [
            (int(h), int(r)) for h, r in self._rows(result, "#XCLOSE", f"{_INT},{_INT}", count=None)
        ]

    # ------------------------------------------------------------------------ open, close

    def _open(self, name: str, params: str) -> OpenedSocket:
        opened = super()._open(name, params)
        self._current = opened.handle
        return opened

    def socket_open(
        self,
        family: Family | int,
        type_: SocketType | int,
        role: Role | int = Role.CLIENT,
        *,
        cid: int | None = None,
    ) -> OpenedSocket:
        """`AT#XSOCKET=<family>,<type>,<role>[,<cid>]` -> `#XSOCKET: <handle>,<type>,<proto>`."""
        params = f"{int(family)},{int(type_)},{int(role)}"
        if cid is not None:
            params += f",{int(cid)}"
        return self._open("#XSOCKET", params)

    def ssocket_open(
        self,
        family: Family | int,
        type_: SocketType | int,
        role: Role | int,
        sec_tag: int,
        peer_verify: PeerVerify | int | None = None,
        *,
        cid: int | None = None,
    ) -> OpenedSocket:
        """`AT#XSSOCKET=<family>,<type>,<role>,<sec_tag>[,<peer_verify>[,<cid>]]`."""
        params = f"{int(family)},{int(type_)},{int(role)},{int(sec_tag)}"
        if peer_verify is not None or cid is not None:
            params += f",{int(PeerVerify.REQUIRED if peer_verify is None else peer_verify)}"
        if cid is not None:
            params += f",{int(cid)}"
        return self._open("#XSSOCKET", params)

    def close_socket(self, handle: int | None = None) -> int:
        """`AT#XCLOSE=<handle>` -> `#XCLOSE: <handle>,<result>`; returns the result."""
        h = self._h(handle)
        result = self.at(f"AT#XCLOSE={h}", timeout=NETWORK_TIMEOUT)
        closed, status = self._rows(result, "#XCLOSE", f"{_INT},{_INT}")[0]
        if int(closed) != h:
            raise self._bad(result, f"#XCLOSE named handle {closed}, expected {h}")
        if self._current == h:
            self._current = None
        return int(status)

    def socket_close(self) -> int | None:
        return self.close_socket()

    def socket_list(self) -> list[SmSocket]:
        """`AT#XSOCKET?`: `#XSOCKET: <h>,<family>,<role>,<type>,<cid>` per plain socket."""
        result = self.at("AT#XSOCKET?")
        rows = self._rows(result, "#XSOCKET", ",".join([_INT] * 5), count=None)
        return [SmSocket(*(int(v) for v in row)) for row in rows]

    def ssocket_list(self) -> list[SmSocket]:
        """`AT#XSSOCKET?`: `#XSSOCKET: <h>,<family>,<role>,<type>,<sec_tag>,<cid>` each."""
        result = self.at("AT#XSSOCKET?")
        rows = self._rows(result, "#XSSOCKET", ",".join([_INT] * 6), count=None)
        return [
            SmSocket(int(h), int(f), int(r), int(t), int(c), sec_tag=int(s))
            for h, f, r, t, s, c in rows
        ]

    # ------------------------------------------------------------------------ options

    def getopt(self, opt: int, handle: int | None = None) -> int:
        """`AT#XSOCKETOPT=<h>,0,<name>` -> `#XSOCKETOPT: <h>,<value>`."""
        h = self._h(handle)
        result = self.at(f"AT#XSOCKETOPT={h},{int(OptOp.GET)},{int(opt)}")
        fd, value = self._rows(result, "#XSOCKETOPT", f"{_INT},{_INT}")[0]
        self._same_handle(result, fd, h)
        return int(value)

    def setopt(self, opt: int, value: int | None = None, handle: int | None = None) -> None:
        """`AT#XSOCKETOPT=<h>,1,<name>[,<value>]`."""
        params = f"{self._h(handle)},{int(OptOp.SET)},{int(opt)}"
        if value is not None:
            params += f",{int(value)}"
        self._none(self.at(f"AT#XSOCKETOPT={params}"))

    def sgetopt(self, opt: int, handle: int | None = None) -> int | str:
        """`AT#XSSOCKETOPT=<h>,0,<name>` -> `#XSSOCKETOPT: <h>,<value>`: an int, the cipher
        suite as printed (`0x...`), or the hostname as printed (unquoted)."""
        h = self._h(handle)
        result = self.at(f"AT#XSSOCKETOPT={h},{int(OptOp.GET)},{int(opt)}")
        fd, value = self._rows(result, "#XSSOCKETOPT", f"{_INT},(.*)")[0]
        self._same_handle(result, fd, h)
        return int(value) if re.fullmatch(r"-?\d+", value) else value

    def ssetopt(self, opt: int, value: int | str, handle: int | None = None) -> None:
        """`AT#XSSOCKETOPT=<h>,1,<name>,<value>` (a str goes quoted)."""
        text = _quote(value) if isinstance(value, str) else str(int(value))
        self._none(self.at(f"AT#XSSOCKETOPT={self._h(handle)},{int(OptOp.SET)},{int(opt)},{text}"))

    def _same_handle(self, result: AtResult, printed: str, handle: int) -> None:
        if int(printed) != handle:
            raise self._bad(result, f"the answer names handle {printed}, expected {handle}")

    # ------------------------------------------------------------------------ connections

    def bind(self, port: int, handle: int | None = None) -> None:
        """`AT#XBIND=<h>,<port>`."""
        self._none(self.at(f"AT#XBIND={self._h(handle)},{int(port)}"))

    def connect(
        self, host: str, port: int, *, timeout: float = NETWORK_TIMEOUT, handle: int | None = None
    ) -> None:
        """`AT#XCONNECT=<h>,"<host>",<port>`: must answer `#XCONNECT: <h>,1`."""
        h = self._h(handle)
        result = self.at(f"AT#XCONNECT={h},{_quote(host)},{int(port)}", timeout=timeout)
        fd, status = self._rows(result, "#XCONNECT", f"{_INT},{_INT}")[0]
        self._same_handle(result, fd, h)
        if status != "1":
            raise self._bad(result, f"#XCONNECT status {status}, expected 1 (connected)")

    def listen(self, handle: int | None = None) -> None:
        """`AT#XLISTEN=<h>`."""
        self._none(self.at(f"AT#XLISTEN={self._h(handle)}"))

    def listen_read(self) -> list[Listening]:
        """`AT#XLISTEN?`: `#XLISTEN: <h>,<cid>,<port>` per listening socket."""
        rows = self._rows(self.at("AT#XLISTEN?"), "#XLISTEN", f"{_INT},{_INT},{_INT}", count=None)
        return [Listening(*(int(v) for v in row)) for row in rows]

    def accept_now(self, handle: int | None = None) -> Accepted:
        """`AT#XACCEPT=<h>` once (the listening socket does not block: ERROR if none waits)."""
        result = self.at(f"AT#XACCEPT={self._h(handle)}", timeout=NETWORK_TIMEOUT)
        fd, cid, ip, port = self._rows(result, "#XACCEPT", f"{_INT},{_INT},{_STR},{_INT}")[0]
        self._current = int(fd)
        return Accepted(int(fd), ip, int(port), int(cid))

    def accept(
        self, timeout: int, *, at_timeout: float | None = None, handle: int | None = None
    ) -> Accepted:
        """Wait up to `timeout` seconds (0: until `at_timeout`, default NETWORK_TIMEOUT) for a
        client, then accept it; with none, AT#XACCEPT's ERROR raises AtError, as v2.0 does.

        Serial Modem's accept never blocks; the wait is on `#XAPOLL: <h>,1` (POLLIN on the
        listening socket), the event the firmware itself offers for it."""
        h = self._h(handle)
        if timeout > 0:
            wait = float(timeout)
        else:
            wait = at_timeout if at_timeout is not None else NETWORK_TIMEOUT
        self.apoll(PollEvent.IN, handle=h)
        try:
            self.wait_apoll(h, PollEvent.IN, timeout=wait)
        except AtTimeout:
            pass  # nobody came: AT#XACCEPT answers ERROR below
        finally:
            self.apoll_stop(handle=h)
        return self.accept_now(h)

    # ------------------------------------------------------------------------ send

    def _sent(self, result: AtResult, name: str, h: int) -> Sent:
        rows = self._rows(result, name, f"{_INT},{_INT},{_INT}", count=1 if result.ok else None)
        if not result.ok:
            raise self._send_failed(result, int(rows[0][2]) if rows else None)
        fd, kind, size = (int(v) for v in rows[0])
        self._same_handle(result, str(fd), h)
        return Sent(fd, kind, size)

    def send_string(
        self, data: bytes, *, handle: int | None = None, flags: int = 0, hex_mode: bool = False
    ) -> Sent:
        """`AT#XSEND=<h>,<0|1>,<flags>,"<data>"` -> `#XSEND: <h>,<result_type>,<size>`."""
        h = self._h(handle)
        text = self._string_param(data, hex_mode)
        mode = SocketMode.HEX if hex_mode else SocketMode.STRING
        result = self.at(
            f'AT#XSEND={h},{int(mode)},{int(flags)},"{text}"', timeout=NETWORK_TIMEOUT, check=False
        )
        return self._sent(result, "#XSEND", h)

    @staticmethod
    def _string_param(data: bytes, hex_mode: bool) -> str:
        if hex_mode:
            if len(data) > SM_HEX_MAX:
                raise ValueError(f"hex mode carries at most {SM_HEX_MAX} bytes (bin_data)")
            return data.hex()
        _check_string_payload(data)
        return data.decode("latin-1")

    def send(
        self,
        data: bytes,
        mode: SendMode = SendMode.AUTO,
        *,
        handle: int | None = None,
        flags: int = 0,
    ) -> int:
        """Send on `handle`; returns the bytes sent. AUTO: the string form for printable data,
        data mode with `<data_len>` (no terminator to escape) otherwise."""
        data = bytes(data)
        if mode is SendMode.AUTO:
            mode = SendMode.STRING if string_form_fits(data) else SendMode.DATAMODE
        if mode is SendMode.STRING:
            return self.send_string(data, handle=handle, flags=flags).size
        self.send_exact(data, handle=handle, flags=flags)
        return len(data)

    def send_hex(self, data: bytes, *, handle: int | None = None, flags: int = 0) -> int:
        """`AT#XSEND=<h>,1,<flags>,"<hex>"`: any bytes, as hex digits."""
        return self.send_string(bytes(data), handle=handle, flags=flags, hex_mode=True).size

    def send_with_ack(
        self, data: bytes, *, handle: int | None = None, hex_mode: bool = False
    ) -> Sent:
        """`#XSEND` with the SM_MSG_SEND_ACK flag: answers `<result_type>` 1, then
        `#XSENDNTF` follows (`wait_send_notification`)."""
        return self.send_string(bytes(data), handle=handle, flags=SM_SEND_ACK, hex_mode=hex_mode)

    def wait_send_notification(self, timeout: float = NETWORK_TIMEOUT) -> SendNotification:
        """The next `#XSENDNTF: <h>,<status>,<size>` notification."""
        line = self.wait_urc("#XSENDNTF:", timeout=timeout)
        match = re.fullmatch(rf"#XSENDNTF: {_INT},{_INT},{_INT}", line)
        if match is None:
            raise ProtocolError(
                f"malformed notification {line!r}", transcript_tail=self.transcript.tail()
            )
        return SendNotification(*(int(v) for v in match.groups()))

    def sendto_string(
        self,
        host: str,
        port: int,
        data: bytes,
        *,
        handle: int | None = None,
        flags: int = 0,
        hex_mode: bool = False,
    ) -> Sent:
        """`AT#XSENDTO=<h>,<0|1>,<flags>,"<host>",<port>,"<data>"`."""
        h = self._h(handle)
        text = self._string_param(data, hex_mode)
        mode = SocketMode.HEX if hex_mode else SocketMode.STRING
        result = self.at(
            f'AT#XSENDTO={h},{int(mode)},{int(flags)},{_quote(host)},{int(port)},"{text}"',
            timeout=NETWORK_TIMEOUT,
            check=False,
        )
        return self._sent(result, "#XSENDTO", h)

    def sendto(
        self,
        host: str,
        port: int,
        data: bytes,
        mode: SendMode = SendMode.AUTO,
        *,
        handle: int | None = None,
        flags: int = 0,
    ) -> int:
        data = bytes(data)
        if mode is SendMode.AUTO:
            mode = SendMode.STRING if string_form_fits(data) else SendMode.DATAMODE
        if mode is SendMode.STRING:
            return self.sendto_string(host, port, data, handle=handle, flags=flags).size
        self.send_exact(data, handle=handle, flags=flags, sendto=(host, port))
        return len(data)

    def send_exact(
        self,
        data: bytes,
        *,
        handle: int | None = None,
        flags: int = 0,
        sendto: tuple[str, int] | None = None,
        timeout: float = NETWORK_TIMEOUT,
    ) -> None:
        """Data mode with `<data_len>`: the board takes exactly len(data) bytes (`+++`
        included, no terminator search) and leaves by itself with `#XDATAMODE: 0`."""
        if not data:
            raise ValueError("data mode with <data_len> needs at least one byte")
        command = self._datamode_command(handle, flags, sendto) + f",{len(data)}"
        self.enter_data_mode(command)
        self.write_data(data)
        if not self.wait_data_mode_left(timeout):
            raise AtTimeout(
                f"the board did not leave data mode after the {len(data)} bytes of <data_len>",
                command=command,
                transcript_tail=self.transcript.tail(),
            )
        line = self.wait_urc("#XDATAMODE:", timeout=1.0)
        if line != "#XDATAMODE: 0":
            raise AtError(
                f"data mode ended with {line!r}",
                command=command,
                transcript_tail=self.transcript.tail(),
            )

    def _datamode_command(
        self, handle: int | None, flags: int, sendto: tuple[str, int] | None
    ) -> str:
        h = self._h(handle)
        if sendto is None:
            return f"AT#XSEND={h},{int(SocketMode.DATA)},{int(flags)}"
        host, port = sendto
        return f"AT#XSENDTO={h},{int(SocketMode.DATA)},{int(flags)},{_quote(host)},{int(port)}"

    @contextmanager
    def data_mode(
        self,
        command: str | None = None,
        *,
        sendto: tuple[str, int] | None = None,
        allow_board_exit: bool = False,
        exit_timeout: float = NETWORK_TIMEOUT,
        handle: int | None = None,
        flags: int = 0,
    ) -> Iterator[SmDataMode]:
        """Enter data mode (`AT#XSEND=<h>,2,<flags>` or its #XSENDTO form), yield an
        SmDataMode to write through, and leave with `+++` (answered `#XDATAMODE: 0`)."""
        if command is None:
            command = self._datamode_command(handle, flags, sendto)
        limits = self.datactrl_read()
        session = SmDataMode(self, limits.current or limits.minimum)
        self.enter_data_mode(command)
        try:
            yield session
        except BaseException:
            if self.in_data_mode:
                try:
                    self.exit_data_mode(timeout=exit_timeout)
                except SlmError:
                    self.reset_state()
            raise
        clean = True
        if self.in_data_mode:
            session.quiet()
            clean = self.exit_data_mode(timeout=exit_timeout)
        if not clean and not allow_board_exit:
            raise AtError(
                "the board ended data mode itself (a send failed: it printed +++)",
                command=command,
                transcript_tail=self.transcript.tail(),
            )

    # ------------------------------------------------------------------------ receive

    def _recv_args(self, h, mode, flags, timeout, data_len) -> str:
        params = f"{h},{int(mode)},{int(flags)},{int(timeout)}"
        if data_len is not None:
            params += f",{int(data_len)}"
        return params

    @staticmethod
    def _wait_for(timeout: int, at_timeout: float | None) -> float:
        if at_timeout is not None:
            return at_timeout
        return (timeout if timeout > 0 else NETWORK_TIMEOUT) + _TIMEOUT_MARGIN

    def _decoded(self, result: AtResult, size: int, hex_mode: bool) -> bytes:
        raw = self._only_payload(result)
        if hex_mode:
            try:
                data = binascii.unhexlify(raw)
            except binascii.Error as exc:
                raise self._bad(result, f"hex payload {raw[:40]!r}... is not hex: {exc}") from None
        else:
            data = raw
        if len(data) != size:
            raise self._bad(result, f"payload of {len(data)} bytes, header said {size}")
        return data

    def recv(
        self,
        timeout: int,
        *,
        at_timeout: float | None = None,
        handle: int | None = None,
        mode: SocketMode | int = SocketMode.STRING,
        flags: int = 0,
        data_len: int | None = None,
    ) -> Received:
        """`AT#XRECV=<h>,<mode>,<flags>,<timeout>[,<data_len>]` -> `#XRECV: <h>,<mode>,<size>`
        and the data (hex digits in mode 1, decoded here). No data within `timeout`: ERROR."""
        got = self._receive("#XRECV", "", timeout, at_timeout, handle, mode, flags, data_len)
        if got is None:
            return Received(b"", None)
        data, row = got
        return Received(data, int(row[2]))

    def recv_hex(self, timeout: int, **kwargs) -> Received:
        return self.recv(timeout, mode=SocketMode.HEX, **kwargs)

    def recvfrom(
        self,
        timeout: int,
        *,
        at_timeout: float | None = None,
        handle: int | None = None,
        mode: SocketMode | int = SocketMode.STRING,
        flags: int = 0,
        data_len: int | None = None,
    ) -> ReceivedFrom:
        """`AT#XRECVFROM=<h>,<mode>,<flags>,<timeout>[,<data_len>]` ->
        `#XRECVFROM: <h>,<mode>,<size>,"<ip>",<port>` and the data."""
        got = self._receive(
            "#XRECVFROM", f",{_STR},{_INT}", timeout, at_timeout, handle, mode, flags, data_len
        )
        if got is None:
            return ReceivedFrom(b"", None, None)
        data, row = got
        return ReceivedFrom(data, int(row[2]), row[3], int(row[4]))

    def _receive(
        self,
        name: str,
        address: str,
        timeout: int,
        at_timeout: float | None,
        handle: int | None,
        mode: SocketMode | int,
        flags: int,
        data_len: int | None,
    ) -> tuple[bytes, tuple[str, ...]] | None:
        """One #XRECV/#XRECVFROM: the decoded data and the header's fields; None when the
        answer is a bare OK (end of stream, an empty datagram)."""
        h = self._h(handle)
        result = self.at(
            f"AT{name}={self._recv_args(h, mode, flags, timeout, data_len)}",
            timeout=self._wait_for(timeout, at_timeout),
        )
        if not result.lines and not result.payloads:
            return None
        row = self._rows(result, name, f"{_INT},{_INT},{_INT}" + address)[0]
        self._same_handle(result, row[0], h)
        if int(row[1]) != int(mode):
            raise self._bad(result, f"{name} mode {row[1]}, asked for {int(mode)}")
        return self._decoded(result, int(row[2]), int(mode) == SocketMode.HEX), row

    # ------------------------------------------------------------------------ #XAPOLL

    def apoll(
        self, events: PollEvent | int, *, handle: int | None = None, all_sockets: bool = False
    ) -> None:
        """`AT#XAPOLL=<h>,1,<events>` (or `=,1,<events>` for every socket, later ones too)."""
        target = "" if all_sockets else str(self._h(handle))
        self._none(self.at(f"AT#XAPOLL={target},{int(ApollOp.START)},{int(events)}"))

    def apoll_stop(self, *, handle: int | None = None, all_sockets: bool = False) -> None:
        target = "" if all_sockets else str(self._h(handle))
        self._none(self.at(f"AT#XAPOLL={target},{int(ApollOp.STOP)}"))

    def apoll_read(self) -> list[tuple[int, int]]:
        """`AT#XAPOLL?`: (handle, requested events) of each socket with events requested."""
        rows = self._rows(self.at("AT#XAPOLL?"), "#XAPOLL", f"{_INT},{_INT}", count=None)
        return [(int(h), int(e)) for h, e in rows]

    def wait_apoll(
        self,
        handle: int | None = None,
        events: int | None = None,
        *,
        timeout: float = NETWORK_TIMEOUT,
    ) -> int:
        """The next `#XAPOLL: <h>,<revents>` for `handle` (having all of `events`)."""
        h = self._h(handle)

        def wanted(line: str) -> bool:
            match = re.fullmatch(r"#XAPOLL: (\d+),(\d+)", line)
            return (
                bool(match)
                and int(match.group(1)) == h
                and (events is None or int(match.group(2)) & int(events) == int(events))
            )

        line = self.wait_urc("#XAPOLL:", timeout=timeout, match=wanted)
        return int(line.rsplit(",", 1)[1])

    # ------------------------------------------------------------------------ #XRECVCFG

    def recvcfg(
        self,
        flags: RecvCfg | int,
        *,
        hex_mode: bool | None = None,
        handle: int | None = None,
        all_sockets: bool = False,
    ) -> None:
        """`AT#XRECVCFG=<h>,<flags>[,<hex_mode>]`: automatic reception as notifications."""
        target = "" if all_sockets else str(self._h(handle))
        params = f"{target},{int(flags)}"
        if hex_mode is not None:
            params += f",{int(hex_mode)}"
        self._none(self.at(f"AT#XRECVCFG={params}"))

    def datamode_read(self, size: int, timeout: float = NETWORK_TIMEOUT) -> bytes:
        """Exactly `size` bytes the board sent in data mode. With `#XRECVCFG` flag 2 the data
        socket's data comes raw there, with no header and no CRLF (do_recv, auto_reception):
        every byte before `#XDATAMODE` is data, and the client keeps them in order."""
        return self.take_datamode_data(size, timeout=timeout)

    def datamode_received(self) -> bytes:
        """What data mode received and was not read yet (also after data mode ended)."""
        return self.take_datamode_data()

    def recvcfg_read(self) -> list[tuple[int, int, int]]:
        rows = self._rows(self.at("AT#XRECVCFG?"), "#XRECVCFG", f"{_INT},{_INT},{_INT}", count=None)
        return [(int(h), int(f), int(x)) for h, f, x in rows]

    def wait_received(self, timeout: float = NETWORK_TIMEOUT) -> DataNotification:
        """The next automatic-reception notification, header checked, payload decoded."""
        header, raw = self.wait_urc_data(timeout=timeout)
        match = _HEADER_RECV.fullmatch(header) or _HEADER_RECVFROM.fullmatch(header)
        if match is None:
            raise ProtocolError(
                f"malformed data notification {header!r}", transcript_tail=self.transcript.tail()
            )
        groups = match.groups()
        handle, mode, size = int(groups[0]), int(groups[1]), int(groups[2])
        try:
            data = binascii.unhexlify(raw) if mode == SocketMode.HEX else raw
        except binascii.Error as exc:
            raise ProtocolError(
                f"{header!r}: hex payload {raw[:40]!r} is not hex: {exc}",
                transcript_tail=self.transcript.tail(),
            ) from None
        if len(data) != size:
            raise ProtocolError(
                f"{header!r} announced {size} bytes, {len(data)} came",
                transcript_tail=self.transcript.tail(),
            )
        ip = groups[3] if len(groups) > 3 else None
        port = int(groups[4]) if len(groups) > 4 else None
        return DataNotification(handle, mode, size, data, raw, ip, port)

    def received_now(self) -> list[DataNotification]:
        """Every automatic-reception notification queued now, taken in arrival order."""
        notes = []
        while self.urc_data():
            notes.append(self.wait_received(timeout=0))
        return notes

    # ------------------------------------------------------------------------ names

    def getaddrinfo(
        self, host: str, *, family: int | None = None, timeout: float = NETWORK_TIMEOUT
    ) -> list[str]:
        """`AT#XGETADDRINFO="<host>"[,<family>]` -> `#XGETADDRINFO: "<ip> <ip>..."`."""
        command = f"AT#XGETADDRINFO={_quote(host)}"
        if family is not None:
            command += f",{int(family)}"
        return self._resolve(command, timeout)

    # SLM v2.0 only.
    socket_select = not_in_dialect("the active socket (#XSOCKETSELECT)", "v20")
    sockets = not_in_dialect("the socket ranking (#XSOCKETSELECT?)", "v20")
    socketselect_read = sockets
    socketselect_test = not_in_dialect("#XSOCKETSELECT", "v20")
    poll = not_in_dialect("the blocking poll (#XPOLL)", "v20")
    accept_read = not_in_dialect("#XACCEPT?", "v20")
    ssocket_close = not_in_dialect("closing through #XSSOCKET=0", "v20")
    socket_read = not_in_dialect("the active-socket read form (#XSOCKET? one line)", "v20")
    ssocket_read = not_in_dialect("the active-socket read form (#XSSOCKET? one line)", "v20")
    clear_sendto_target = not_in_dialect("v2.0's remembered #XSENDTO target", "v20")


class SmDataMode:
    """An open Serial Modem data-mode session (terminator form).

    The firmware matches `+++` anywhere in the stream, across writes (raw_rx_handler), so data
    holding it cannot go this way: `SmDut.send_exact` (`<data_len>`) carries anything."""

    def __init__(self, dut: SmDut, time_limit_ms: int) -> None:
        self._dut = dut
        self.time_limit_ms = time_limit_ms
        self.written = 0
        self._tail = b""
        self._last_write = 0.0

    @property
    def active(self) -> bool:
        return self._dut.in_data_mode

    def write(self, data: bytes, **_ignored) -> None:
        data = bytes(data)
        if DATAMODE_TERMINATOR in self._tail + data:
            raise ValueError(
                "the data (with the bytes before it) holds +++, which ends Serial "
                "Modem's data mode anywhere: use send_exact"
            )
        self._dut.write_data(data)
        self._tail = (self._tail + data)[-2:]
        self.written += len(data)
        self._last_write = time.monotonic()

    def read(self, size: int, timeout: float = NETWORK_TIMEOUT) -> bytes:
        """Exactly `size` bytes received in data mode (`SmDut.datamode_read`)."""
        return self._dut.datamode_read(size, timeout)

    def write_raw(self, data: bytes) -> None:
        """Bytes exactly as given (terminator tests)."""
        self._dut.write_data(bytes(data))
        self.written += len(data)
        self._last_write = time.monotonic()

    def quiet(self) -> None:
        """Let the inactivity timer flush what was written: the terminator itself needs no
        silence in Serial Modem, but a test that checks the peer got a chunk does."""
        left = self._last_write + self.time_limit_ms / 1000.0 + 0.05 - time.monotonic()
        if left > 0:
            time.sleep(left)

    def wait_left(self, timeout: float = 10.0) -> None:
        if not self._dut.wait_data_mode_left(timeout):
            raise AtTimeout(
                f"the board did not leave data mode within {timeout:g} s",
                command="<data mode>",
                transcript_tail=self._dut.transcript.tail(),
            )


DUT_CLASSES[dialects.SM_DIALECT.name] = SmDut
