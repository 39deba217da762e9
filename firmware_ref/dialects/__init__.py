"""Firmware generations ("dialects") of the simulated board.

The core (``firmware_ref.host``: line discipline, data mode, dispatch; ``firmware_ref.net``:
real endpoints) is SLM v2.0.x. A dialect registers the ``Firmware`` class that speaks its
command set; ``firmware_class(name)`` is how the transport and the test harness pick one. The
core never imports a dialect package: whoever needs one (``slm-sim``, tests) imports it and it
registers itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT = "v20"

_registry: dict[str, Callable[..., Any]] = {}


def register(name: str, factory: Callable[..., Any]) -> None:
    """Make ``factory(output, config, modem=...)`` the board of dialect ``name``."""
    _registry[name] = factory


def firmware_class(name: str) -> Callable[..., Any]:
    if name == DEFAULT and DEFAULT not in _registry:
        from firmware_ref.host import Firmware

        return Firmware
    try:
        return _registry[name]
    except KeyError:
        known = ", ".join(sorted({DEFAULT, *_registry}))
        raise ValueError(f"unknown dialect {name!r} (known: {known})") from None


def names() -> list[str]:
    return sorted({DEFAULT, *_registry})
