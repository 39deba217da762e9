"""Fixtures for the twister bridge's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twister_helpers import PtyBoard


@pytest.fixture
def pty_board() -> Iterator[type[PtyBoard]]:
    boards: list[PtyBoard] = []

    def make(script: dict[bytes, bytes]) -> PtyBoard:
        board = PtyBoard(script)
        boards.append(board)
        return board

    yield make  # type: ignore[misc]
    for board in boards:
        board.close()
