"""The run's latency table: one table per run, merged from xdist workers, real commands only."""

from __future__ import annotations

import re
import textwrap

import pytest

from pytest_slm.report.latency import LatencyReport

# Two modules so that `-n 2 --dist loadfile` gives each worker its own board session.
MODULE = textwrap.dedent(
    """
    def test_commands(slm):
        for _ in range({count}):
            assert slm.at("AT#XDATACTRL?").ok  # a command no bring-up or resync probe sends
        assert not slm.at("AT#XFOO", check=False).ok     # unknown: never answers OK
        assert not slm.at("AT&XSOCKET=1", check=False).ok  # not a command name
    """
)


def _row(stdout: str, name: str) -> list[str]:
    return [line.split() for line in stdout.splitlines() if line.startswith(name + " ")]


def test_table_names_real_commands_and_counts_what_it_leaves_out():
    report = LatencyReport(config=None)  # type: ignore[arg-type]
    report.add(
        "sim A",
        [
            ("+CGSN", 0.002, True),
            ("+CGSN", 0.004, False),
            ("#XFOO", 0.001, False),
            (" AT#XSOCKET=1", 0.001, False),
            ("AT&XSOCKET=1", 0.001, False),
            ("+++", 0.050, True),
        ],
    )
    lines, left_out = report.rows()
    assert lines[1:] == [
        f"{'+++':<18}{1:>7}{50.0:>10.1f}{50.0:>10.1f}{50.0:>10.1f}",
        f"{'+CGSN':<18}{2:>7}{3.0:>10.1f}{4.0:>10.1f}{4.0:>10.1f}",
    ]
    assert left_out == 3


def test_one_table_merged_from_xdist_workers(pytester: pytest.Pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(test_one=MODULE.format(count=3), test_two=MODULE.format(count=4))
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile"
    )
    result.assert_outcomes(passed=2)
    stdout = result.stdout.str()
    headers = re.findall(r"-+ SLM command latency: (.*?) -+$", stdout, re.M)
    assert len(headers) == 1
    assert len(re.findall(r"sim /dev/pts/\d+", headers[0])) == 2  # both workers' boards
    # The table sums both workers' calls. (Not +CGSN: the client's resync probes send it a
    # number of times that depends on when the simulator's Ready arrives.)
    assert _row(stdout, "#XDATACTRL")[0][1] == str(3 + 4)
    assert _row(stdout, "#XFOO") == [] and "AT&XSOCKET" not in stdout.split("SLM command")[-1]
    # Each worker's dialect detection asks AT#XSMVER, which SLM v2.0 does not know.
    assert "(left out: 6 calls of malformed or never-successful commands)" in stdout


def test_table_can_be_turned_off(pytester: pytest.Pytester):
    pytester.makepyfile(test_one=MODULE.format(count=1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--no-slm-latency")
    result.assert_outcomes(passed=1)
    assert "SLM command latency" not in result.stdout.str()
