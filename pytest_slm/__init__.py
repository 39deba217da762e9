"""pytest-slm: validates the socket AT commands of Nordic's nRF91 modem firmware (SLM v2.0 and
Serial Modem) end to end, on real boards or the simulated one.

The typed API for tests and tools: `SlmDut` (whichever dialect the board speaks), its result
types and its errors. The DUTs and their types are imported on first use (`pytest_slm._lazy`):
every pytest process imports this package to load the plug-in.
"""

from typing import TYPE_CHECKING

from pytest_slm._lazy import lazy_exports
from pytest_slm.at.errors import (
    AtError,
    AtTimeout,
    BoardResetError,
    LinkError,
    ProtocolError,
    SlmError,
)
from pytest_slm.dialects import DIALECTS, Dialect, DialectError, NotInDialect

if TYPE_CHECKING:
    from pytest_slm.dut import ResolveError, SendError, SlmDut
    from pytest_slm.dut_sm import SmDataMode, SmDut
    from pytest_slm.slm_types import (
        Accepted,
        DataCtrl,
        DataNotification,
        Listening,
        OpenedSocket,
        PollEntry,
        Received,
        ReceivedFrom,
        SendNotification,
        Sent,
        SmSocket,
        SocketInfo,
        SocketList,
    )

__all__ = [
    "DIALECTS",
    "Accepted",
    "AtError",
    "AtTimeout",
    "BoardResetError",
    "DataCtrl",
    "DataNotification",
    "Dialect",
    "DialectError",
    "LinkError",
    "Listening",
    "NotInDialect",
    "OpenedSocket",
    "PollEntry",
    "ProtocolError",
    "Received",
    "ReceivedFrom",
    "ResolveError",
    "SendError",
    "SendNotification",
    "Sent",
    "SlmDut",
    "SlmError",
    "SmDataMode",
    "SmDut",
    "SmSocket",
    "SocketInfo",
    "SocketList",
]

__getattr__, __dir__ = lazy_exports(
    __name__, __all__, ("pytest_slm.slm_types", "pytest_slm.dut", "pytest_slm.dut_sm")
)
