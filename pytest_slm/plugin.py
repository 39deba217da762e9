"""pytest-slm plugin: options, markers and fixtures, wiring the parts below together.

Fixture and option names stay clear of pytest-twister-harness's (`dut`, `shell`,
`device_object`, `unlaunched_dut`, `--build-dir`, `--device-serial`, `--platform`, ...), so both
plugins load side by side under twister.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_slm import session as board_session
from pytest_slm.dut import SlmDut

TRANSCRIPT_KEY = pytest.StashKey[tuple[SlmDut, int]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("slm", "pytest-slm: nRF91 Serial LTE Modem socket AT commands")
    board_session.add_options(group)


@pytest.fixture(scope="session")
def slm_board(request: pytest.FixtureRequest) -> Iterator[board_session.BoardSession]:
    """The board under test for the whole session: started or opened, ready and online."""
    session = board_session.open_board_session(request.config)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def slm(slm_board: board_session.BoardSession, request: pytest.FixtureRequest) -> SlmDut:
    """The board's SlmDut in a clean state: out of data mode, every socket closed, input drained."""
    dut = slm_board.dut
    dut.reset_state()
    request.node.stash[TRANSCRIPT_KEY] = (dut, dut.transcript.mark())
    return dut


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.failed and TRANSCRIPT_KEY in item.stash:
        dut, mark = item.stash[TRANSCRIPT_KEY]
        report.sections.append(("SLM transcript", dut.transcript.render(since=mark)))
    return report
