"""SlmDut: an SLM board reached through any pyserial URL, with one method per socket command."""

from __future__ import annotations

import serial

from pytest_slm.at.client import AtClient
from pytest_slm.at.errors import AtError, AtTimeout, SlmError
from pytest_slm.at.transcript import Transcript

# Every board on a DK runs 115200 8N1; the board file may ask for more (flow control, DTR).
DEFAULT_BAUD = 115200
# More closes than there can be sockets plus accepted peers means the board is not closing them.
_MAX_CLOSES = 32


class SlmDut(AtClient):
    """The AT client plus the socket-command vocabulary of SLM v2.0.x."""

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
        try:
            self.at("AT", timeout=min(timeout, 3.0))
        except (AtTimeout, AtError):
            self._recover_command_mode(timeout)
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
            except AtTimeout:
                continue
        self.wait_ready(timeout=timeout)

    def close_all_sockets(self, *, timeout: float = 10.0) -> int:
        """Close every socket the board has open; returns how many it closed."""
        closed = 0
        for _ in range(_MAX_CLOSES):
            result = self.at("AT#XSOCKET=0", timeout=timeout)
            if not result.with_prefix("#XSOCKET"):
                # No active socket; records that are not active need selecting first.
                rows = [row for row in self.at("AT#XSOCKETSELECT?").values("#XSOCKETSELECT")
                        if len(row) > 1]
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
