"""The Serial Modem dialect object, its command matching and the handler contract.

Serial Modem registers each command with ``SM_AT_CMD_CUSTOM(entry, "AT#XNAME", handler)``: a
libmodem custom-command filter. A line goes to the handler whose filter equals the line's
command name, case-insensitively (the name ends at ``=``, ``?`` or the end of the line), and
to the modem otherwise; the order of the table does not matter. Handler contract::

    @SM.command("AT#XFOO", order=0)
    def handle_foo(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
        ...  # return -> OK; raise SmError(-errno) (or ParseError, NetError) -> ERROR

``parser`` is ``atparser.AtParser`` (nRF Connect SDK ``lib/at_parser``), not the v2.0 ``Params``.
Positive codes are modem errors (``sm_at_cb_wrapper``): ``+CME ERROR``/``+CMS ERROR`` by their
type bits, anything else ``ERROR``.
"""

from __future__ import annotations

import errno

from firmware_ref.core.dialect import Dialect
from firmware_ref.core.modem_commands import MODEM_COMMANDS
from firmware_ref.dialects.sm.atparser import cmd_type
from firmware_ref.dialects.sm.lines import SmLines, grammar_ok
from firmware_ref.dialects.sm.version import CURRENT

# -SILENT_AT_COMMAND_RET: the handler answered (or will answer) by itself.
SILENT = object()


class SmError(Exception):
    """A handler's non-zero return value (``-errno``, or a positive modem error)."""

    def __init__(self, code: int = -errno.EINVAL, what: str = "") -> None:
        super().__init__(what or str(code))
        self.code = code


def filter_matches(line: bytes, name: str) -> bool:
    """libmodem's custom-command filter: the line's command name is ``name``."""
    n = len(name)
    return line[:n].upper() == name.upper().encode() and line[n : n + 1] in (b"", b"=", b"?")


def datamode_exit_response(result: int) -> bytes:
    """``exit_datamode``: any handler failure is reported as -1."""
    return f"\r\n#XDATAMODE: {-1 if result else 0}\r\n".encode()


SM = Dialect(
    name="sm",
    firmware="Serial Modem",
    version=CURRENT,
    version_command="AT#XSMVER",
    # ATE0 and ATE1 are Serial Modem commands too.
    command_prefix="AT",
    banner=b"Ready\r\n",
    modem_base=MODEM_COMMANDS,
    ok_on_datamode_entry=True,
    datamode_exit_response=datamode_exit_response,
    line_discipline=SmLines,
    grammar_check=grammar_ok,
    matches=filter_matches,
    cmd_type=cmd_type,
)


def lookup(line: bytes):
    """The table entry whose filter is this line's command name, or None."""
    for entry in SM.table.ordered():
        if filter_matches(line, entry.name):
            return entry
    return None


__all__ = ["SILENT", "SM", "SmError", "datamode_exit_response", "filter_matches", "lookup"]
