"""The AT protocol: framing, final results, URC routing, data mode and typed errors.

The exports are imported on first use (`pytest_slm._lazy`): `framing`, `errors` and
`transcript` are needed where the client is not (the dialect table, the plug-in's report).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_slm._lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "pytest_slm.at.client": ("URC_PREFIXES", "AtClient", "expected_prefix"),
        "pytest_slm.at.errors": (
            "AtError",
            "AtTimeout",
            "BoardResetError",
            "LinkError",
            "OutOfStepError",
            "ProtocolError",
            "SlmError",
        ),
        "pytest_slm.at.result": ("AtResult", "split_params"),
        "pytest_slm.at.transcript": ("Transcript",),
    },
)

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
