"""Loading the plug-in stays light: a run that never opens a board imports none of the parts
that only a board session needs (every pytest process with pytest-slm installed loads it)."""

from __future__ import annotations

import textwrap

import pytest

# Imported where a board is reached or a peer started, never to declare options, parse them or
# register fixtures.
SESSION_ONLY = (
    "firmware_ref",
    "pytest_slm.at.client",
    "pytest_slm.dut",
    "pytest_slm.dut_sm",
    "pytest_slm.flash.runners",
    "pytest_slm.hwmap",
    "pytest_slm.labgrid.place",
    "pytest_slm.link",
    "pytest_slm.peers.certs",
    "pytest_slm.peers.tcp",
    "pytest_slm.simboard",
    "trustme",
)

RECORDER = textwrap.dedent(
    """
    import sys

    def pytest_sessionfinish(session):
        with open("modules.txt", "w") as out:
            out.write("\\n".join(sorted(sys.modules)))
    """
)


def test_a_run_without_a_board_imports_no_session_part(pytester: pytest.Pytester):
    pytester.makeconftest(RECORDER)
    pytester.makepyfile("def test_nothing_of_slm(): assert sum([1, 1]) == 2")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:labgrid")
    result.assert_outcomes(passed=1)
    loaded = set((pytester.path / "modules.txt").read_text().split())
    # The plug-in did load, and the board sources with it.
    assert {"pytest_slm.plugin", "pytest_slm.settings", "pytest_slm.sources.sim"} <= loaded
    heavy = [
        m for m in sorted(loaded) if any(m == n or m.startswith(f"{n}.") for n in SESSION_ONLY)
    ]
    assert heavy == []
