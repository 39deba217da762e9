"""The AT protocol: framing, final results, URC routing, data mode and typed errors.

The client's names are imported on first use (`pytest_slm._lazy`): the framing, errors and
transcript are needed where the client is not (the dialect table, the plug-in's report).
"""

from typing import TYPE_CHECKING

from pytest_slm._lazy import lazy_exports
from pytest_slm.at.errors import (
    AtError,
    AtTimeout,
    BoardResetError,
    LinkError,
    OutOfStepError,
    ProtocolError,
    SlmError,
)
from pytest_slm.at.result import AtResult, split_params
from pytest_slm.at.transcript import Transcript

if TYPE_CHECKING:
    from pytest_slm.at.client import URC_PREFIXES, AtClient, expected_prefix

__all__ = [
    "URC_PREFIXES",
    "AtClient",
    "AtError",
    "AtResult",
    "AtTimeout",
    "BoardResetError",
    "LinkError",
    "OutOfStepError",
    "ProtocolError",
    "SlmError",
    "Transcript",
    "expected_prefix",
    "split_params",
]

__getattr__, __dir__ = lazy_exports(__name__, __all__, ("pytest_slm.at.client",))
