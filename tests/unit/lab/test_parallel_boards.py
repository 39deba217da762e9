"""Sharding over boards with pytest-xdist: each worker runs its own session on its own board.

Every case is a real child pytest run with ``-n 2``; the JUnit report's per-test properties
(``slm_worker``, ``slm_port``, ``slm_board``) say where each test ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest

from pytest_slm.simboard import SimulatorProcess

REPO = Path(__file__).resolve().parents[3]

# Enough tests that xdist's load scheduling hands some to both workers; each talks to the board.
INNER = """
import pytest


@pytest.mark.parametrize("n", range(8))
def test_board_answers(slm, n):
    assert slm.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
    assert slm.at("AT#XSOCKET=1,1,0").values("#XSOCKET")
    slm.at("AT#XSOCKET=0")
"""


def run_child(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None):
    env = dict(os.environ)
    for key in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(key, None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def where_tests_ran(junit: Path) -> dict[str, set[tuple[str, str]]]:
    """worker -> {(board, port)} from the JUnit properties of the passed tests."""
    seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            continue
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        seen[props["slm_worker"]].add((props["slm_board"], props["slm_port"]))
    return seen


def write_inner(tmp_path: Path) -> Path:
    test_file = tmp_path / "test_inner_parallel.py"
    test_file.write_text(textwrap.dedent(INNER), encoding="utf-8")
    return test_file


def assert_one_board_per_worker(
    result, junit: Path, passed: str = "8 passed"
) -> dict[str, set[tuple[str, str]]]:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert passed in result.stdout, result.stdout[-4000:]
    seen = where_tests_ran(junit)
    assert set(seen) == {"gw0", "gw1"}, seen
    assert all(len(boards) == 1 for boards in seen.values()), seen
    (gw0,), (gw1,) = seen["gw0"], seen["gw1"]
    assert gw0[1] != gw1[1], f"both workers used {gw0[1]}"
    return seen


def on_two_workers(
    tmp_path: Path,
    args: list[str],
    cwd: Path | None = None,
    env_extra: dict[str, str] | None = None,
    passed: str = "8 passed",
):
    """The child pytest with ``args`` on two xdist workers; its result and where tests ran,
    each worker on one board of its own."""
    junit = tmp_path / "report.xml"
    result = run_child(
        [*args, "-n", "2", f"--junitxml={junit}", "-p", "no:cacheprovider", "-q"],
        cwd or tmp_path,
        env_extra,
    )
    return result, assert_one_board_per_worker(result, junit, passed)


def write_hwmap(tmp_path: Path, entries: str) -> Path:
    hwmap = tmp_path / "map.yaml"
    hwmap.write_text(entries, encoding="utf-8")
    return hwmap


def test_two_workers_two_simulators(tmp_path: Path) -> None:
    """``-n 2 --board sim``: each worker starts and uses its own simulator."""
    _, seen = on_two_workers(tmp_path, [str(write_inner(tmp_path)), "--board", "sim"])
    assert {board for boards in seen.values() for board, _ in boards} == {"sim"}


def test_part_of_the_suite_sharded_over_two_simulators(tmp_path: Path) -> None:
    """``pytest tests/slm -n 2 --board sim``, on a slice of the suite to keep the run short."""
    suite = REPO / "tests" / "slm" / "v20"
    result, _ = on_two_workers(
        tmp_path,
        [
            str(suite / "test_sockets.py"),
            "-k",
            "close or test_form or listing or select",
            "--board",
            "sim",
        ],
        cwd=REPO,
        passed=" passed",
    )
    assert " failed" not in result.stdout and " error" not in result.stdout, result.stdout


@pytest.fixture(params=["pty", "socket"])
def two_simulators(request: pytest.FixtureRequest, tmp_path: Path):
    args = ["--pty"] if request.param == "pty" else ["--listen", "127.0.0.1:0"]
    simulators = [SimulatorProcess([*args, "--online"], log_dir=tmp_path) for _ in range(2)]
    try:
        yield [sim.start() for sim in simulators]
    finally:
        for sim in simulators:
            sim.stop()


def test_two_workers_share_a_hardware_map_of_simulators(
    two_simulators: list[str], tmp_path: Path
) -> None:
    """A two-entry hardware map: each worker claims a different entry and stays on it."""
    hwmap = write_hwmap(
        tmp_path,
        "".join(
            f"- connected: true\n  id: sim-{i}\n  platform: sim\n  serial: '{url}'\n"
            for i, url in enumerate(two_simulators)
        ),
    )
    _, seen = on_two_workers(
        tmp_path,
        [str(write_inner(tmp_path)), f"--hardware-map={hwmap}"],
        env_extra={"PYTEST_SLM_LOCK_DIR": str(tmp_path / "locks")},
    )
    assert {port for boards in seen.values() for _, port in boards} == set(two_simulators)


def test_a_hardware_map_of_remote_dks(tmp_path: Path) -> None:
    """Entries for real boards reached by URL (a lab host's ser2net): each worker opens its own,
    through the hardware session (bring-up, no flashing), holding the board's lock meanwhile."""
    simulators = [
        SimulatorProcess(["--listen", "127.0.0.1:0", "--online"], log_dir=tmp_path)
        for _ in range(2)
    ]
    try:
        urls = [sim.start() for sim in simulators]
        hwmap = write_hwmap(
            tmp_path,
            "".join(
                f"- connected: true\n  id: '00096000000{i}'\n  platform: nrf9160dk/nrf9160/ns\n"
                f"  runner: nrfjprog\n  serial: '{url}'\n"
                for i, url in enumerate(urls)
            ),
        )
        _, seen = on_two_workers(
            tmp_path,
            [
                str(write_inner(tmp_path)),
                f"--hardware-map={hwmap}",
                # DKs, but slm-sim behind ser2net: they share this host's loopback.
                "--peer-host=127.0.0.1",
            ],
            env_extra={"PYTEST_SLM_LOCK_DIR": str(tmp_path / "locks")},
        )
    finally:
        for sim in simulators:
            sim.stop()
    assert {board for boards in seen.values() for board, _ in boards} == {"nrf9160dk"}
    assert {port for boards in seen.values() for _, port in boards} == set(urls)
