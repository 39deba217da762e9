"""How each firmware generation frames what does not fit the plain line protocol.

The AT client splits the modem's output into CRLF lines; a `Framing` tells it, for one
generation ("dialect"), the exceptions: which header line announces raw bytes and how many follow,
which lines are notifications, how data mode is entered and left. The client holds one
`Framing` (`AtClient.framing`) and asks it; it never matches a generation's prefixes itself.

SLM v2.0 (`applications/serial_lte_modem/src/slm_at_socket.c`): `#XRECV: <size>` and
`#XRECVFROM: <size>,"<ip>"` then `size` raw bytes, only as the answer to `AT#XRECV` /
`AT#XRECVFROM`; data mode is entered silently and left with `OK`.

Serial Modem v2.0.0-preview1 (`app/src/sm_at_socket.c`): `#XRECV: <h>,<mode>,<size>` and
`#XRECVFROM: <h>,<mode>,<size>,"<ip>",<port>` (do_recv / do_recvfrom) then `size` raw bytes in
mode 0 or `2 * size` hex digits in mode 1 (data_send_hex); the same header is also a
notification when `#XRECVCFG` turned automatic reception on (auto_reception: the data is
followed by CRLF, and data_send flushes the URCs the host was not idle for between the header and
the data, sm_at_host.c:1490); in data mode automatic reception (flag 2) sends the data raw, with
neither header nor CRLF (do_recv 1127, auto_reception 260), so there every byte before the
`#XDATAMODE` line is received data; `#XAPOLL: <h>,<events>` and `#XSENDNTF: <h>,<status>,<size>` are
notifications; data mode is entered with `OK` (handle_at_send returns 0) and left with
`#XDATAMODE: <status>` (sm_at_host.c exit_datamode); a failed send makes the board print the
terminator `+++` itself and drop input until the host sends it back (exit_datamode_handler,
null_handler).

A third generation (the op-based SLM of NCS 2.1 to 2.9) is one more `Framing` here and one more
entry in `pytest_slm.dialects`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A header can announce at most what the firmware's receive buffer holds (v2.0: 4096 bytes;
# Serial Modem: SM_MAX_MESSAGE_SIZE, 4096 by default).
MAX_PAYLOAD = 4096

# Notifications every generation shares (modem ones).
MODEM_URCS: tuple[str, ...] = (
    "+CEREG:",
    "+CGEV:",
    "+CSCON:",
    "+CNEC",
    "+CIREG:",
    "+CEDRXP:",
    "+CMT:",
    "%CESQ:",
    "%XSIM:",
    "%XTIME:",
    "%MDMEV:",
    "#XMODEM:",
    "#XSLEEP:",
)


@dataclass(frozen=True)
class PayloadHeader:
    """A header line that announces raw bytes after it."""

    command: str  # the command whose answer it is: "#XRECV" or "#XRECVFROM"
    size: int  # the payload's size in bytes, as the header states it
    wire: int  # how many bytes follow on the wire (2 * size for hex mode)
    hex: bool = False


class Framing:
    """One generation's framing rules; see the module docstring."""

    name = "base"
    #: what ends a command line the client sends
    command_end = b"\r\n"
    #: lines that are notifications whatever command is in flight
    urc_prefixes: tuple[str, ...] = MODEM_URCS
    #: the line that ends data mode; None: a bare `OK` does (v2.0)
    datamode_exit_prefix: str | None = None
    #: True when the board answers `OK` to a command entering data mode
    datamode_entry_answered = False
    #: a payload header may also arrive as a notification (automatic reception)
    payload_urcs = False
    #: what follows the payload of a header that arrived as a notification
    payload_urc_trailer = b""
    #: in data mode every byte the board sends is received data up to `datamode_exit_line`
    datamode_stream = False
    datamode_exit_line: re.Pattern[bytes] | None = None
    _header = re.compile(r"^#XRECV(?:FROM)?:")

    def is_payload_header(self, line: str) -> bool:
        return self._header.match(line) is not None

    def payload_header(self, line: str) -> PayloadHeader | None:
        """The header `line` parsed; None when it has the prefix but not the shape."""
        raise NotImplementedError

    def is_urc(self, line: str) -> bool:
        return line.startswith(self.urc_prefixes)

    def could_be_urc(self, start: str) -> bool:
        """Whether a line beginning with `start` may still turn out to be a notification."""
        return any(p.startswith(start) or start.startswith(p) for p in self.urc_prefixes)

    def datamode_length(self, command: str) -> int | None:
        """The `<data_len>` a data-mode entry command gives (the board leaves by itself after
        that many bytes); None when data mode lasts until the terminator."""
        return None


class V20Framing(Framing):
    name = "v20"
    urc_prefixes = MODEM_URCS + ("#XDATAMODE:",)
    _length = re.compile(r"^(#XRECV(?:FROM)?): (\d{1,5})(?:,.*)?$")

    def payload_header(self, line: str) -> PayloadHeader | None:
        match = self._length.match(line)
        if match is None:
            return None
        size = int(match.group(2))
        return PayloadHeader(match.group(1), size, size)


class SmFraming(Framing):
    name = "sm"
    # CONFIG_SM_CR_TERMINATION (the default): CR ends a command. An LF after it would be the
    # first byte of the next line, and after a command entering data mode, the first byte of
    # the data (cmd_rx_handler executes on the CR; the LF then reaches raw_rx_handler).
    command_end = b"\r"
    urc_prefixes = MODEM_URCS + ("#XAPOLL:", "#XSENDNTF:", "#XDATAMODE:")
    datamode_exit_prefix = "#XDATAMODE:"
    datamode_entry_answered = True
    payload_urcs = True
    payload_urc_trailer = b"\r\n"  # auto_reception 260-263
    datamode_stream = True
    # exit_datamode (sm_at_host.c:695); nothing else is printed in data mode (URCs are held).
    datamode_exit_line = re.compile(rb"\r\n(#XDATAMODE: -?\d+)\r\n")
    # AT#XSEND=<h>,2,<flags>,<data_len> / AT#XSENDTO=<h>,2,<flags>,"<url>",<port>,<data_len>
    _datamode_len = re.compile(
        r'^AT#XSEND(TO)?=\s*\d+,\s*2,\s*-?\d+(?(1),\s*"[^"]*",\s*\d+)(?:,\s*(-?\d+))?\s*$',
        re.IGNORECASE,
    )
    _recv = re.compile(r"^(#XRECV): (\d+),([01]),(\d{1,5})$")
    _recvfrom = re.compile(r'^(#XRECVFROM): (\d+),([01]),(\d{1,5}),"[^"]*",\d+$')

    def payload_header(self, line: str) -> PayloadHeader | None:
        match = self._recv.match(line) or self._recvfrom.match(line)
        if match is None:
            return None
        size = int(match.group(4))
        hex_mode = match.group(3) == "1"
        return PayloadHeader(match.group(1), size, 2 * size if hex_mode else size, hex_mode)

    def datamode_length(self, command: str) -> int | None:
        match = self._datamode_len.match(command)
        if match is None or match.group(2) is None:
            return None
        # enter_datamode takes a size_t: -1 is 2**32 - 1 bytes; 0 is the terminator form.
        length = int(match.group(2)) % 2**32
        return length or None


V20 = V20Framing()
SM = SmFraming()
