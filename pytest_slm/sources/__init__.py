"""Board sources: the ways of reaching a board (see `base` for the interface)."""

from pytest_slm.sources.base import (
    BoardSource,
    OpenContext,
    Reached,
    add_options,
    all_sources,
    choose_source,
    register,
)

__all__ = [
    "BoardSource",
    "OpenContext",
    "Reached",
    "add_options",
    "all_sources",
    "choose_source",
    "register",
]
