"""`pytest --board nrf9160dk ...` as a user runs it, in child pytest processes: the plugin's
options, fake flash tools on PATH, slm-sim behind the DK's by-id port link."""

from __future__ import annotations

import dataclasses
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hwsupport import HEX_IMAGE, NoCoverage, dk_ports, west_flash_argv

SN = "000960012345"

CONFTEST = """
import json, os
from pathlib import Path
from pytest_slm.link import SerialPort, use_port_lister

DESK = json.loads(os.environ["SLM_TEST_DESK"])

def _ports():
    if not Path(DESK["link"]).exists():
        return []  # re-enumerating: the probe is off the bus
    return [SerialPort(**p) for p in DESK["ports"]]

# At import, before --list-boards runs: ports are listed through this seam from then on.
use_port_lister(_ports)
"""

TEST_BOARD = """
import json, os

def test_board(slm_board, slm):
    assert slm_board.name == "nrf9160dk"
    assert slm.at("AT+CFUN?").value("+CFUN") == [1]
    print("INFO " + json.dumps(slm_board.info))
"""

TEST_HOLD = """
import os

def test_hold(slm_board):
    print("HOLDING", flush=True)
    with open(os.environ["SLM_TEST_RELEASE"]) as fifo:
        fifo.read()
"""


@pytest.fixture
def desk(pytester, tmp_path, sim_pty, fake_tools, monkeypatch):
    """A DK whose VCOM0 link points at the simulator, visible to child pytest runs."""
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    link = by_id / f"usb-SEGGER_J-Link_{SN}-if00"
    link.symlink_to(sim_pty)
    ports = [dataclasses.asdict(p) for p in dk_ports(SN, by_id_dir=by_id)]
    monkeypatch.setenv("SLM_TEST_DESK", json.dumps({"link": str(link), "ports": ports}))
    fake_tools.port_link(link, delay=0.5)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_board=TEST_BOARD)
    return link


def board_info(result) -> dict:
    for line in result.outlines:
        if line.startswith("INFO "):
            return json.loads(line[5:])
    raise AssertionError("the inner test printed no board info:\n" + result.stdout.str())


# The board is slm-sim behind the DK's port: it shares this host's loopback with the peers.
DK_ARGS = (
    "-p",
    "no:cacheprovider",
    "-s",
    "--board",
    "nrf9160dk",
    "--peer-host",
    "127.0.0.1",
    "--attach-timeout",
    "60",
)


def run(pytester, *args):
    return pytester.runpytest_subprocess(*DK_ARGS, *args, timeout=240)


def test_list_boards_prints_the_registry_and_the_attached_dk(pytester, desk):
    result = pytester.runpytest_subprocess("--list-boards", timeout=120)
    assert result.ret == 0
    out = result.stdout.str()
    for name in ("nrf9160dk", "nrf9161dk", "nrf9151dk", "thingy91", "thingy91x", "sim"):
        assert name in out
    result.stdout.fnmatch_lines(["attached now:", f"  nrf9160dk   --board-id 960012345 * {desk}"])
    assert "collected" not in out, "--list-boards exits before collecting, like --fixtures"


def test_flash_once_then_skip_then_flash_a_new_image(pytester, desk, fake_tools, build_dir):
    first = run(pytester, "--firmware", str(build_dir))
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(
        [
            f"[[]slm] found nrf9160dk (probe 960012345) at {desk}",
            "[[]slm] flashing nrf9160dk-960012345 with west: *merged.hex (*)",
            f"[[]slm] $ west flash --build-dir {build_dir} --no-rebuild --runner nrfjprog "
            f"--dev-id 960012345  (in {build_dir.parent / 'ncs'})",
            "[[]slm] west: -- runners.nrfjprog: Board with serial number 960012345 flashed *",
            "[[]slm] flashed nrf9160dk-960012345 in * s",
            "[[]slm] waiting up to * s for the board's serial port to come back *",
            f"[[]slm] the board's serial port is back: {desk}",
            "[[]slm] online after * s: IMEI *, modem firmware mfw_nrf91*, SLM 2.0.0",
        ]
    )
    info = board_info(first)
    assert info["flashed"] == "yes" and info["probe_id"] == "960012345"
    assert info["port"] == str(desk) and len(info["imei"]) == 15
    assert fake_tools.argvs() == [west_flash_argv(str(build_dir))]

    second = run(pytester, "--firmware", str(build_dir))
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["[[]slm] not flashing: nrf9160dk-960012345 already holds *"])
    assert len(fake_tools.calls()) == 1

    (build_dir / "zephyr" / "merged.hex").write_text(HEX_IMAGE + "\n")
    third = run(pytester, "--firmware", str(build_dir), "--slm-runner", "nrfutil")
    third.assert_outcomes(passed=1)
    assert [a[:3] for a in fake_tools.argvs()[1:]] == [
        ["nrfutil", "device", "--version"],
        ["nrfutil", "device", "program"],
        ["nrfutil", "device", "reset"],
    ]


def test_flash_always_and_pyocd(pytester, desk, fake_tools, build_dir):
    image = build_dir / "zephyr" / "merged.hex"
    for _ in range(2):
        run(
            pytester, "--firmware", str(image), "--slm-runner", "pyocd", "--flash", "always"
        ).assert_outcomes(passed=1)
    assert (
        fake_tools.argvs()
        == [["pyocd", "flash", "-W", "-t", "nrf91", "--uid", "960012345", str(image)]] * 2
    )


def test_failing_flash_fails_the_session_with_the_tools_output(
    pytester, desk, fake_tools, build_dir
):
    fake_tools.fail("nrfutil:program")
    result = run(pytester, "--firmware", str(build_dir), "--slm-runner", "nrfutil")
    assert result.ret != 0
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*FlashError: nrfutil failed (exit status 1)*",
            "*$ nrfutil device program --firmware * --serial-number 960012345 --options "
            "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE",
            "*Failed to write to memory at address 0x00008000*",
        ]
    )


def test_no_registration_fails_the_session_clearly(pytester, desk, sim_pty, monkeypatch):
    radio = NoCoverage(sim_pty)
    try:
        desk.unlink()
        desk.symlink_to(radio.path)
        result = run(pytester, "--attach-timeout", "1.5")
    finally:
        radio.close()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no LTE registration after 1.5 s, last +CEREG: 2 *"])


def test_unknown_board_is_a_usage_error(pytester, desk):
    result = pytester.runpytest_subprocess("--board", "nrf9999dk", timeout=120)
    assert result.ret != 0
    assert "unknown board 'nrf9999dk'" in result.stdout.str() + result.stderr.str()


def _lines(proc: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, needle: str, seen: list[str], timeout: float = 120) -> str:
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError(f"process ended before printing {needle!r}:\n" + "\n".join(seen))
        seen.append(line)
        if needle in line:
            return line


def test_two_pytest_processes_share_one_board(pytester, desk, tmp_path, monkeypatch):
    pytester.makepyfile(test_hold=TEST_HOLD)
    release = tmp_path / "release"
    os.mkfifo(release)
    monkeypatch.setenv("SLM_TEST_RELEASE", str(release))
    base = [sys.executable, "-m", "pytest", *DK_ARGS]

    def start(*args):
        return subprocess.Popen(
            [*base, *args],
            cwd=pytester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    holder = start("test_hold.py")
    procs = [holder]
    try:
        held: list[str] = []
        _wait_for(_lines(holder), "HOLDING", held)

        impatient = start("--lock-timeout", "1", "test_board.py")
        procs.append(impatient)
        out, _ = impatient.communicate(timeout=120)
        assert impatient.returncode != 0
        assert f"board id-960012345 is in use by pid {holder.pid}" in out
        assert "gave up after --lock-timeout 1 s" in out

        patient = start("--lock-timeout", "120", "test_board.py")
        procs.append(patient)
        seen: list[str] = []
        patient_lines = _lines(patient)
        _wait_for(patient_lines, "is in use by", seen)
        with open(release, "w") as fifo:
            fifo.write("go")
        assert holder.wait(timeout=120) == 0
        _wait_for(patient_lines, "is ours now", seen)
        assert patient.wait(timeout=120) == 0, "\n".join(seen)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_no_board_of_that_kind_lists_what_is_attached(pytester, desk, fake_tools):
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--board", "nrf9161dk", "--peer-host", "127.0.0.1", timeout=120
    )
    assert result.ret == 1
    result.stderr.fnmatch_lines(
        [
            "Exit: *DiscoveryError: no nrf9161dk is attached*",
            f"*{desk} (SER={SN} if00, SEGGER J-Link)*",
        ]
    )
    assert fake_tools.calls() == []


SUITE = Path(__file__).resolve().parents[2] / "slm"


def test_no_board_attached_is_one_error_before_collection(pytester, monkeypatch, tmp_path):
    """`pytest tests/slm --board nrf9160dk` with nothing attached (the host's own ports, none a
    DK): the run ends before collecting the suite (or starting xdist workers) with one message
    naming what was looked for, non-zero."""
    monkeypatch.setenv("PYTEST_SLM_LOCK_DIR", str(tmp_path / "locks"))
    for extra in ([], ["-n", "2"]):
        result = pytester.runpytest_subprocess(
            str(SUITE),
            "-p",
            "no:cacheprovider",
            "--board",
            "nrf9160dk",
            "--peer-host",
            "127.0.0.1",
            *extra,
            timeout=120,
        )
        out = result.stdout.str() + result.stderr.str()
        assert result.ret == 1, out
        assert "Traceback" not in out and "collected" not in out and "ERROR at setup" not in out
        result.stderr.fnmatch_lines(
            [
                "Exit: pytest-slm: the board session cannot start: DiscoveryError: no nrf9160dk "
                "is attached (looked for USB serial numbers matching '^0*960\\d{6}$'); is it "
                "plugged in*"
            ]
        )
        assert not list(tmp_path.joinpath("locks").glob("*")), "no lock is taken to say so"


def test_a_board_that_vanishes_after_the_look_is_one_error_for_the_whole_suite(
    pytester, monkeypatch, tmp_path
):
    """The look before collection passed, but opening the board fails: still one error, and
    the run stops there, non-zero."""
    monkeypatch.setenv("PYTEST_SLM_LOCK_DIR", str(tmp_path / "locks"))
    pytester.makepyfile(
        vanishing_board="""
        from pytest_slm.sources.hardware import HardwareSource

        # The board is there when the run starts and gone when the session opens it.
        HardwareSource.precheck = lambda self: None
        """
    )
    result = pytester.runpytest_subprocess(
        str(SUITE),
        "-p",
        "no:cacheprovider",
        "--board",
        "nrf9160dk",
        "--peer-host",
        "127.0.0.1",
        "-p",
        "vanishing_board",
        timeout=120,
    )
    out = result.stdout.str()
    assert result.ret == 1
    assert out.count("ERROR at setup") == 1, out
    assert "During handling" not in out and "Traceback" not in out
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "! pytest-slm: the board session could not start: DiscoveryError: no nrf9160dk is "
            "attached *"
        ]
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["--board", "nrf9160dk"], "cannot reach peers on this host's loopback: pass --peer-host"),
        (["--board", "nrf9999dk"], "--board: unknown board 'nrf9999dk'"),
        (["--port", "/dev/ttyACM0", "--firmware", "x.hex"], "--port talks to whatever answers"),
        (["--ready-timeout", "0"], "--ready-timeout must be a positive number of seconds"),
        (["--flash-erase"], "--flash-erase erases the board before flashing --firmware"),
        (["--board", "sim", "--board-id", "960012345"], "--board sim is the simulated board"),
    ],
)
def test_bad_options_are_a_usage_error_before_collection(pytester, args, message):
    pytester.makepyfile("def test_never(slm):\n    raise AssertionError('collected')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert "collected" not in result.stdout.str()
