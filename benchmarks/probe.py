"""A pytest plugin the benchmark loads into a suite run (`-p benchmarks.probe`): where the wall
time goes. It sums, over the run, the AT command round trips (the client's timings), the fixed
waits (data-mode entry settles and the silences `DataMode.quiet` keeps) and writes them, with
the process's CPU time, as JSON to the file named by `SLM_BENCH_PROBE`."""

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
    _timed(dut_module.DataMode, "quiet", "silences")
    _timed(client_module.AtClient, "enter_data_mode", "settles")


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    result = yield
    if fixturedef.argname == "slm_board":
        _totals["_board"] = result  # type: ignore[assignment]
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
