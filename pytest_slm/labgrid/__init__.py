"""Boards as labgrid places: acquire a place through a labgrid coordinator, reach its exported
serial port, release it at the end (see `place`). Needs the `labgrid` package (the `labgrid`
extra); nothing here imports it until a place is asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_slm._lazy import lazy_exports
from pytest_slm.labgrid.installed import labgrid_missing

if TYPE_CHECKING:
    from pytest_slm.labgrid.place import (
        HeldPlace,
        PlaceBusy,
        PlaceError,
        PlaceRequest,
        SerialExport,
        acquire_place,
    )

__all__ = [
    "HeldPlace",
    "PlaceBusy",
    "PlaceError",
    "PlaceRequest",
    "SerialExport",
    "acquire_place",
    "labgrid_missing",
]

# The place client (asyncio, the coordinator protocol) is imported on first use: every pytest
# process imports this package, for `labgrid_missing`, when the labgrid source declares its
# options.
__getattr__, __dir__ = lazy_exports(__name__, __all__, ("pytest_slm.labgrid.place",))
