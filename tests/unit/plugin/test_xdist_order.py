"""Under xdist the suite's longest tests go first (by the last run's durations in pytest's
cache), so that short ones fill the end and the workers finish together."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("xdist")

# Stands in for the board: the order is what is tested, not a session.
CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def slm_board():
    return None
"""

TESTS = """
import os, time

def _ran(name):
    with open(os.environ["ORDER_FILE"], "a") as out:
        out.write(name + "\\n")

def test_short(slm_board):
    _ran("short")

def test_long(slm_board):
    _ran("long")
    time.sleep(0.05)

def test_middle(slm_board):
    _ran("middle")
    time.sleep(0.02)

def test_no_board():
    _ran("no_board")
"""


def _cached(pytester: pytest.Pytester) -> dict:
    path = pytester.path / ".pytest_cache" / "v" / "pytest-slm" / "durations"
    return json.loads(path.read_text())


def test_a_run_keeps_the_durations_worth_ordering_by(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_order=TESTS)
    monkeypatch.setenv("ORDER_FILE", str(pytester.path / "order.txt"))
    pytester.runpytest_subprocess().assert_outcomes(passed=4)
    cached = _cached(pytester)
    assert set(cached) == {"test_order.py::test_long", "test_order.py::test_middle"}
    assert cached["test_order.py::test_long"] >= 0.05


def test_xdist_hands_out_the_longest_first(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_order=TESTS)
    order = pytester.path / "order.txt"
    monkeypatch.setenv("ORDER_FILE", str(order))
    pytester.runpytest_subprocess().assert_outcomes(passed=4)
    assert order.read_text().split() == ["short", "long", "middle", "no_board"]
    order.unlink()
    pytester.runpytest_subprocess("-n", "1").assert_outcomes(passed=4)
    # Board tests by falling duration; tests without the board keep their place after them.
    assert order.read_text().split() == ["long", "middle", "short", "no_board"]


def test_a_grouping_dist_mode_keeps_the_collected_order(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_order=TESTS)
    order = pytester.path / "order.txt"
    monkeypatch.setenv("ORDER_FILE", str(order))
    pytester.runpytest_subprocess().assert_outcomes(passed=4)
    order.unlink()
    pytester.runpytest_subprocess("-n", "1", "--dist", "loadfile").assert_outcomes(passed=4)
    assert order.read_text().split() == ["short", "long", "middle", "no_board"]
