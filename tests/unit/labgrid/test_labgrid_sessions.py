"""Whole pytest sessions taking their board from the labgrid lab: the suite through `--lg-place`,
the suite sharded with `-n 2 --lg-match board=sim` over two places, two sessions aiming at one
place, a session killed or stopped while holding one."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
from lab_helpers import Lab, assert_all_free, labgrid_client

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "tests" / "slm" / "v20"
ALICE = {"LG_HOSTNAME": "lab-pc-2", "LG_USERNAME": "alice"}
# How long an inner session may take to reach a given point: bring-up of a simulated board plus
# a loaded machine's process start-up, far from what a passing run needs.
STEP_TIMEOUT = 180.0

PLAIN = """
def test_board_answers(slm):
    assert slm.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']


def test_socket_opens(slm):
    assert slm.at("AT#XSOCKET=1,1,0").lines[0].startswith("#XSOCKET: ")
    slm.at("AT#XSOCKET=0")
"""

# Holds the board until the outer test says go, over a socket: the outer test knows the session
# is inside its test (place acquired, modem up) when the connection arrives.
GATED = """
import os
import socket


def test_holds_the_board(slm):
    assert slm.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
    with socket.create_connection(("127.0.0.1", int(os.environ["SLM_GATE_PORT"]))) as gate:
        gate.sendall(b"holding")
        assert gate.recv(16) == b"go"
"""


class InnerRun:
    """A child pytest whose output lines are collected as they come, so a test can wait for a
    line (an event) rather than for time."""

    def __init__(self, pytester: pytest.Pytester, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=pytester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = STEP_TIMEOUT) -> re.Match[str]:
        regex = re.compile(pattern)
        with self._cond:
            found: list[re.Match[str]] = []

            def seen() -> bool:
                found[:] = [m for m in map(regex.search, self.lines) if m]
                return bool(found) or self.process.poll() is not None

            self._cond.wait_for(seen, timeout)
            if not found:
                raise AssertionError(f"no line /{pattern}/ in:\n" + "\n".join(self.lines))
            return found[0]

    def finish(self, timeout: float = STEP_TIMEOUT) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.finish()


class Gate:
    """The outer test's end of GATED: `holding()` returns when the inner test holds the board."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(STEP_TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def holding(self, run: InnerRun) -> None:
        """Until `run`'s test connects; at once with its output if `run` ends first."""

        def stop_waiting_when_it_exits() -> None:
            run.process.wait()
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept below

        threading.Thread(target=stop_waiting_when_it_exits, daemon=True).start()
        try:
            self.conn, _ = self.listener.accept()
        except OSError as exc:
            raise AssertionError(
                f"the gated session never held the board ({exc}):\n{run.output}"
            ) from None
        self.conn.settimeout(STEP_TIMEOUT)
        assert self.conn.recv(16) == b"holding"

    def go(self) -> None:
        assert self.conn is not None
        self.conn.sendall(b"go")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def gate() -> Gate:
    g = Gate()
    yield g
    g.close()


def suite_part(name: str, expression: str) -> list[str]:
    path = SUITE / name
    if not path.is_file():
        pytest.fail(f"{path} is no longer there: update this selection")
    return [str(path), "-k", expression]


def junit_properties(junit: Path) -> list[dict[str, str]]:
    rows = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        assert case.find("failure") is None and case.find("error") is None, ET.tostring(case)
        if case.find("skipped") is not None:
            continue
        rows.append({p.get("name"): p.get("value") for p in case.iter("property")})
    return rows


def test_part_of_the_suite_through_lg_place(
    idle_lab: Lab, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    junit = tmp_path / "report.xml"
    result = pytester.runpytest_subprocess(
        *suite_part("test_transfer.py", "tcp_client_echo or udp_sendto_recvfrom"),
        "--lg-place",
        "slm-a",
        "--lg-coordinator",
        idle_lab.address,
        f"--junitxml={junit}",
        "-p",
        "no:cacheprovider",
        "-rA",
        timeout=600,
    )
    output = result.stdout.str()
    assert result.ret == 0, output + idle_lab.logs()[-3000:]
    assert "test_transfer.py::test_tcp_client_echo[ipv4]" in output, output
    assert "4 passed" in output, output
    assert re.search(
        r"\[slm\] acquired labgrid place slm-a \(board=sim dialect=v20\) from "
        r"127\.0\.0\.1:\d+: serial port lab-host-1/slm-a/NetworkSerialPort/modem at "
        r"rfc2217://127\.0\.0\.1:\d+\?ign_set_control",
        output,
    ), output
    rows = junit_properties(junit)
    assert len(rows) >= 2, rows
    for props in rows:
        assert props["slm_board"] == "sim"
        assert props["slm_labgrid_place"] == "slm-a"
        assert props["slm_labgrid_exporter"] == "lab-host-1"
        assert props["slm_labgrid_resources"] == "lab-host-1/slm-a/NetworkSerialPort/modem"
        assert props["slm_labgrid_coordinator"] == idle_lab.address
        assert props["slm_port"].startswith("rfc2217://127.0.0.1:")
    # idle_lab: the place was released at the end of the session.


def test_the_rest_sharded_over_two_places_by_tag(
    idle_lab: Lab, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    junit = tmp_path / "report.xml"
    result = pytester.runpytest_subprocess(
        *suite_part("test_sockets.py", "close or test_form or listing or select"),
        "-n",
        "2",
        "--lg-match",
        "board=sim",
        "--lg-coordinator",
        idle_lab.address,
        f"--junitxml={junit}",
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    output = result.stdout.str()
    assert result.ret == 0, output + idle_lab.logs()[-3000:]
    assert " failed" not in output and " error" not in output, output
    where: dict[str, set[str]] = defaultdict(set)
    for props in junit_properties(junit):
        where[props["slm_worker"]].add(props["slm_labgrid_place"])
    assert set(where) == {"gw0", "gw1"}, where
    assert all(len(places) == 1 for places in where.values()), where
    assert where["gw0"] | where["gw1"] == {"slm-a", "slm-b"}, where


def test_second_session_waits_for_the_place_then_runs(
    idle_lab: Lab, pytester: pytest.Pytester, gate: Gate
) -> None:
    pytester.makepyfile(test_gated=GATED, test_plain=PLAIN)
    common = ["--lg-place", "slm-a", "--lg-coordinator", idle_lab.address]
    first = InnerRun(pytester, ["test_gated.py", *common], {"SLM_GATE_PORT": str(gate.port)})
    second = None
    try:
        gate.holding(first)
        second = InnerRun(pytester, ["test_plain.py", *common, "--lock-timeout", "600"], {})
        waiting = second.wait_for(r"\[slm\] place slm-a is in use \((.*)\); waiting up to")
        # The holder is named: the user and machine labgrid knows, and here the session's pid.
        assert re.fullmatch(
            rf"slm-a acquired by \S+ on \S+ since \d\d:\d\d:\d\d \(here: pid "
            rf"{first.process.pid} on \S+, pytest-slm worker master, labgrid place slm-a, "
            r"since [\d-]+ [\d:]+\)",
            waiting.group(1),
        ), waiting.group(0)
        gate.go()
        assert first.finish() == 0, first.output
        assert second.finish() == 0, second.output + idle_lab.logs()[-3000:]
        assert "2 passed" in second.output, second.output
        assert "[slm] acquired labgrid place slm-a " in second.output
    finally:
        first.kill()
        if second is not None:
            second.kill()


def test_a_killed_sessions_place_is_released_by_the_next_session(
    idle_lab: Lab, pytester: pytest.Pytester, gate: Gate
) -> None:
    pytester.makepyfile(test_gated=GATED, test_plain=PLAIN)
    common = ["--lg-place", "slm-b", "--lg-coordinator", idle_lab.address]
    first = InnerRun(pytester, ["test_gated.py", *common], {"SLM_GATE_PORT": str(gate.port)})
    try:
        gate.holding(first)
    finally:
        first.kill()  # SIGKILL: no teardown, the place stays acquired in the coordinator
    with pytest.raises(AssertionError):
        assert_all_free(idle_lab)
    result = pytester.runpytest_subprocess(
        "test_plain.py", *common, "-p", "no:cacheprovider", timeout=600
    )
    output = result.stdout.str()
    assert result.ret == 0, output
    assert re.search(
        rf"\[slm\] place slm-b was left acquired by pytest-slm pid {first.process.pid} "
        r"\(worker master, since [\d-]+ [\d:]+\), which is gone; releasing it",
        output,
    ), output
    assert "2 passed" in output


def test_sigterm_ends_the_session_and_releases_the_place(
    idle_lab: Lab, pytester: pytest.Pytester, gate: Gate
) -> None:
    pytester.makepyfile(test_gated=GATED)
    first = InnerRun(
        pytester,
        ["test_gated.py", "--lg-place", "slm-a", "--lg-coordinator", idle_lab.address],
        {"SLM_GATE_PORT": str(gate.port)},
    )
    try:
        gate.holding(first)
        first.process.send_signal(signal.SIGTERM)
        assert first.finish() == 2, first.output  # pytest's exit code for an interrupted run
        assert "KeyboardInterrupt" in first.output, first.output
    finally:
        first.kill()
    # idle_lab: released by the session's own teardown, not by anyone else.


def test_a_place_held_elsewhere_times_out_as_one_error_naming_the_holder(
    idle_lab: Lab, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    labgrid_client(idle_lab.address, "-p", "slm-b", "acquire", env=ALICE)
    try:
        result = pytester.runpytest_subprocess(
            "test_plain.py",
            "--lg-place",
            "slm-b",
            "--lg-coordinator",
            idle_lab.address,
            "--lock-timeout",
            "3",
            "-p",
            "no:cacheprovider",
            timeout=600,
        )
    finally:
        labgrid_client(idle_lab.address, "-p", "slm-b", "release", env=ALICE)
    output = result.stdout.str()
    assert result.ret == 1, output
    # The session fails once and stops the run: not one error per test.
    assert "1 error in" in output, output
    assert "! pytest-slm: the board session could not start: PlaceBusy: place slm-b" in output
    assert re.search(
        r"PlaceBusy: place slm-b is still in use after --lock-timeout 3 s: slm-b acquired by "
        r"alice on lab-pc-2 since \d\d:\d\d:\d\d\. If that session is gone, free the place with: "
        rf"labgrid-client -x {re.escape(idle_lab.address)} -p slm-b release-from lab-pc-2/alice",
        output,
    ), output
    # One attempt for the session, not one per test.
    assert output.count("[slm] place slm-b is in use") == 1, output


def test_usage_errors_before_any_board_is_touched(idle_lab: Lab, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess(
        "test_plain.py",
        "--lg-place",
        "slm-a",
        "--port",
        "socket://127.0.0.1:9",
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        result.stderr.str().strip() == "ERROR: --lg-place and --port both name the board: give one"
    )
    # A real board from a place cannot reach this host's loopback peers: said at configure time.
    result = pytester.runpytest_subprocess(
        "test_plain.py", "--lg-match", "board=nrf9160dk", "-p", "no:cacheprovider", timeout=600
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.str().startswith(
        "ERROR: --lg-match asks for a real board (nrf9160dk), which cannot reach peers on this "
        "host's loopback: pass --peer-host ADDRESS"
    ), result.stderr.str()
    # Tags no place has: known only once the coordinator answers, and then one error.
    result = pytester.runpytest_subprocess(
        "test_plain.py",
        "--lg-match",
        "dialect=sm",
        "--lg-coordinator",
        idle_lab.address,
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    output = result.stdout.str()
    assert result.ret == 1, output
    assert (
        f"--lg-match dialect=sm: no place has these tags on {idle_lab.address}; places: "
        "slm-a (board=sim dialect=v20), slm-b (board=sim dialect=v20)"
    ) in output, output


def test_labgrid_plugin_and_ours_declare_their_own_options(pytester: pytest.Pytester) -> None:
    """labgrid's plugin (loaded from its entry point) owns --lg-env and --lg-coordinator; ours
    adds --lg-place, --lg-match and --lg-port. Declaring one twice would stop pytest here."""
    from lab_helpers import require_labgrid

    require_labgrid()
    result = pytester.runpytest_subprocess("--help", timeout=120)
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    for option in ("--lg-env", "--lg-coordinator", "--lg-place", "--lg-match", "--lg-port"):
        assert re.search(rf"^\s+{option}[ =]", text, re.M), option
    labgrid_group = text[text.index("labgrid:") :]
    assert "--lg-env" in labgrid_group.split("\n\n")[0]


def test_lg_env_names_the_place_and_the_coordinator(
    idle_lab: Lab, pytester: pytest.Pytester
) -> None:
    """labgrid's convention: an environment file with a RemotePlace, read by labgrid's own
    plugin (`--lg-env` is its option) and by ours for the place and the coordinator."""
    env = pytester.path / "env.yaml"
    env.write_text(
        "targets:\n  main:\n    resources:\n      RemotePlace:\n        name: slm-b\n"
        f"options:\n  coordinator_address: {idle_lab.address}\n"
    )
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess(
        "test_plain.py", "--lg-env", str(env), "-p", "no:cacheprovider", timeout=600
    )
    output = result.stdout.str()
    assert result.ret == 0, output
    assert "2 passed" in output
    assert (
        f"[slm] acquired labgrid place slm-b (board=sim dialect=v20) from {idle_lab.address}"
        in output
    ), output
