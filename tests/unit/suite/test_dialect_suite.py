"""The validation suite against each dialect of the simulated board, and against broken ones.

* The whole of tests/slm runs with `--dialect sm` on a simulated Serial Modem (the v2.0 run is
  `pytest tests/slm` itself): every Serial Modem and common test passes, every v2.0 test skips
  naming the dialect. This keeps `python3 -m pytest` covering both dialects.
* A wrong `--dialect` is one clear error at session start, both ways.
* Mutation: a Serial Modem model that prints a wrong field, drops a notification or loses a
  byte fails the suite. The mutations sit on the UART output of an unchanged model, so they
  need no knowledge of its insides.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from firmware_ref.core.host import FirmwareConfig
from firmware_ref.transport import Board, PtyTransport
from pytest_slm.simboard import SimulatorProcess

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "tests" / "slm"
SM_TESTS = SUITE / "sm"

Mutation = Callable[[bytes], bytes]


class _MutantBoard(Board):
    def __init__(self, config: FirmwareConfig, mutate: Mutation | None) -> None:
        super().__init__(config)
        self._mutate = mutate

    def power_on(self, output: Callable[[bytes], None]):
        if self._mutate is None:
            return super().power_on(output)
        mutate = self._mutate
        return super().power_on(lambda data: output(mutate(data)))


@contextmanager
def serial_modem(mutate: Mutation | None = None) -> Iterator[str]:
    """A simulated Serial Modem on a pty in this process; yields the pty path."""
    config = FirmwareConfig(address="127.0.0.1", address6="::1", dialect="sm")
    stop = threading.Event()
    transport = PtyTransport(_MutantBoard(config, mutate), stop)
    server = threading.Thread(target=transport.serve, name="sm-board", daemon=True)
    server.start()
    try:
        yield transport.url
    finally:
        stop.set()
        server.join(timeout=10)


def _run(pytester: pytest.Pytester, url: str, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *args, "--port", url, "-p", "no:cacheprovider", "-q", "-rs", timeout=600
    )


def test_the_whole_suite_on_serial_modem(pytester: pytest.Pytester, tmp_path):
    junit = tmp_path / "junit.xml"
    with serial_modem() as url:
        result = _run(pytester, url, str(SUITE), "--dialect", "sm", f"--junitxml={junit}")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()[-4000:]
    # Serial Modem's own tests and the shared behaviour tests ran and passed (counts are the
    # suite's size: a folder that stops being collected shows here).
    assert outcomes["passed"] >= 400, outcomes
    assert outcomes["skipped"] >= 500, outcomes
    result.stdout.fnmatch_lines(
        ["*SLM (v20) only; the board runs Serial Modem v2.0.0-preview1 (dialect sm)*"]
    )
    result.stdout.fnmatch_lines(["*[[]slm] *: Serial Modem v2.0.0-preview1 (dialect sm)*"])
    # Every test's JUnit record names the dialect and the firmware version.
    import xml.etree.ElementTree as ET

    cases = [c for c in ET.parse(junit).iter("testcase") if c.find("skipped") is None]
    assert len(cases) >= 400
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["slm_dialect"] == "sm", props
        assert props["slm_slm_version"] == "v2.0.0-preview1", props


def test_dialect_sm_against_slm_v20_is_one_clear_error(pytester: pytest.Pytester, tmp_path):
    with SimulatorProcess(["--listen", "127.0.0.1:0"], log_dir=tmp_path) as sim:
        result = _run(pytester, sim.url, str(SUITE / "common"), "--dialect", "sm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert out.count("--dialect sm (Serial Modem) was given, but the board runs SLM 2.0.0") == 1
    assert "passed" not in result.stdout.str()


def test_dialect_v20_against_serial_modem_is_one_clear_error(pytester: pytest.Pytester):
    with serial_modem() as url:
        result = _run(pytester, url, str(SUITE / "common"), "--dialect", "v20")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    out = result.stdout.str() + result.stderr.str()
    assert out.count("--dialect v20 (SLM) was given, but the board runs Serial Modem") == 1


# ------------------------------------------------------------------------------ mutation


def _wrong_send_size(data: bytes) -> bytes:
    """#XSEND reports one byte more than it sent."""
    return re.sub(
        rb"#XSEND: (\d+),(\d+),(\d+)",
        lambda m: b"#XSEND: %s,%s,%d" % (m[1], m[2], int(m[3]) + 1),
        data,
    )


def _no_send_notification(data: bytes) -> bytes:
    """#XSENDNTF never comes."""
    return re.sub(rb"\r\n#XSENDNTF: [^\r]*\r\n", b"", data)


def _wrong_apoll_events(data: bytes) -> bytes:
    """#XAPOLL reports POLLOUT for POLLIN."""
    return re.sub(rb"#XAPOLL: (\d+),1\r\n", rb"#XAPOLL: \1,4\r\n", data)


def _wrong_recv_size(data: bytes) -> bytes:
    """#XRECV/#XRECVFROM headers announce one byte more than the data that follows."""
    return re.sub(
        rb"#XRECV(FROM)?: (\d+),(\d+),(\d+)",
        lambda m: b"#XRECV%s: %s,%s,%d" % (m[1] or b"", m[2], m[3], int(m[4]) + 1),
        data,
    )


class _LoseAByte:
    """The first byte of every #XRECV/#XRECVFROM payload is lost (the header still counts it)."""

    def __init__(self) -> None:
        self.pending = False

    def __call__(self, data: bytes) -> bytes:
        if self.pending and data:
            self.pending = False
            return data[1:]
        match = re.search(rb"#XRECV(?:FROM)?: [^\r]*\r\n", data)
        if match is None:
            return data
        if match.end() < len(data):
            return data[: match.end()] + data[match.end() + 1 :]
        self.pending = True
        return data


# mutation -> (the filter, the suite file and the tests that meet it: a mutation that only some
# tests see keeps the run short; each of them must still fail).
MUTATIONS = {
    "wrong-field": (
        _wrong_send_size,
        "test_serialmodem_transfer.py",
        "string_send_answers or hex_mode_both or either_case or zero_nibble or empty_string",
    ),
    "missing-notification": (_no_send_notification, "test_serialmodem_async.py", "with_ack"),
    "wrong-events": (_wrong_apoll_events, "test_serialmodem_async.py", "apoll_pollin"),
    "wrong-auto-size": (
        _wrong_recv_size,
        "test_serialmodem_async.py",
        "automatic_reception and not data_mode",
    ),
    "lost-byte": (_LoseAByte, "test_serialmodem_transfer.py", "echo or hex_mode or recv_data_len"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_broken_serial_modem_fails_the_suite(pytester: pytest.Pytester, name):
    mutation, target, selection = MUTATIONS[name]
    mutate = mutation() if isinstance(mutation, type) else mutation
    with serial_modem(mutate) as url:
        result = _run(pytester, url, str(SM_TESTS / target), "--dialect", "sm", "-k", selection)
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    # Every selected test sees the mutation, and every one of them fails.
    assert outcomes.get("failed", 0) >= 1 and not outcomes.get("passed"), outcomes
    # Each failure's transcript names the firmware it ran against.
    text = result.stdout.str()
    assert text.count("Serial Modem v2.0.0-preview1 (dialect sm)) -") >= outcomes["failed"]


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_same_selection_passes_on_the_unbroken_model(pytester: pytest.Pytester, name):
    """The mutation runs' baseline: the same tests pass on the unchanged model."""
    _, target, selection = MUTATIONS[name]
    with serial_modem() as url:
        result = _run(pytester, url, str(SM_TESTS / target), "--dialect", "sm", "-k", selection)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert result.parseoutcomes()["passed"] >= 1
