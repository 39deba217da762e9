"""Boards as labgrid places: acquire a place through a labgrid coordinator, reach its exported
serial port, release it at the end (see `place`). Needs the `labgrid` package (the `labgrid`
extra); nothing here imports it until a place is asked for."""

from pytest_slm.labgrid.place import (
    HeldPlace,
    PlaceBusy,
    PlaceError,
    PlaceRequest,
    SerialExport,
    acquire_place,
    labgrid_missing,
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
