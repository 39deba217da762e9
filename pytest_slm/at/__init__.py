"""The AT protocol: framing, final results, URC routing, data mode and typed errors."""

from pytest_slm.at.client import URC_PREFIXES, AtClient, expected_prefix
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
