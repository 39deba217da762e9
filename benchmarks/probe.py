"""A pytest plugin the benchmark loads into a suite run (`-p benchmarks.probe`): where the wall
time goes. It sums, over the run, the AT command round trips (the client's timings), the fixed
waits (data-mode entry settles and the silences `DataMode.quiet` keeps), the test phases
(fixture set-up, the tests' own calls, teardown) and when the first test started and the last
one ended (wall clock, so the benchmark can tell start-up and shutdown from the tests), and
writes them, with the process's CPU time, as JSON to the file named by `SLM_BENCH_PROBE`.
Under xdist the controller writes the file: phases and test times come from the workers'
reports, command timings are the workers' own and are not seen."""

from __future__ import annotations

import json
import os
import resource
import time

import pytest

from pytest_slm import dut as dut_module
from pytest_slm.at import client as client_module

_totals: dict = {
    "fixed_waits": 0.0,
    "settles": 0.0,
    "silences": 0.0,
    "round_trips": 0.0,
    "timeouts_waited": 0.0,
    "commands": 0,
    "setup": 0.0,
    "call": 0.0,
    "teardown": 0.0,
    "calls": 0,
}


def _timed(owner, name: str, key: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            spent = time.monotonic() - started
            _totals[key] += spent
            _totals["fixed_waits"] += spent

    setattr(owner, name, wrapper)


def pytest_configure(config: pytest.Config) -> None:
    _totals["configured_at"] = time.time()
    _timed(dut_module.DataMode, "quiet", "silences")
    _timed(client_module.AtClient, "enter_data_mode", "settles")


def pytest_collection_finish(session: pytest.Session) -> None:
    _totals.setdefault("collected_at", time.time())


def pytest_runtest_logstart(nodeid: str, location) -> None:
    _totals.setdefault("first_test_at", time.time())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _totals[report.when] += report.duration
    if report.when == "call":
        _totals["calls"] += 1  # a test that ran (a skipped one has no call phase)
    _totals["last_test_at"] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    started = time.monotonic()
    result = yield
    if fixturedef.argname == "slm_board":
        _totals["_board"] = result  # type: ignore[assignment]
        _totals["board_session_start"] = time.monotonic() - started
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("SLM_BENCH_PROBE")
    board = _totals.pop("_board", None)
    if board is not None:
        timings = board.dut.timings
        # A refused command that took a second or more waited out its own timeout (#XRECV,
        # #XACCEPT with nothing to take): a wait, not a round trip.
        waited = [t[1] for t in timings if not t[2] and t[1] >= 0.9]
        _totals["timeouts_waited"] = sum(waited)
        _totals["round_trips"] = sum(t[1] for t in timings) - sum(waited)
        _totals["commands"] = len(timings)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _totals["cpu"] = usage.ru_utime + usage.ru_stime
    if path:
        with open(path, "w") as out:
            json.dump(_totals, out)
