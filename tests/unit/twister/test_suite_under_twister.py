"""The suite run the way twister runs it: pytest-twister-harness (the stand-in) loaded with
``--twister-harness``, a simulator behind ``--device-serial``, a recording ``west`` on PATH.

What must hold: the harness flashes once (session), pytest-slm never flashes, the board is the
one the harness names (platform → board file), and the tests, which need byte-exact framing the
harness's line reader cannot give, pass on pytest-slm's own link.
"""

from __future__ import annotations

import json
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from twister_helpers import fake_tool, harness_env, run_pytest, twister_flash_argv

from pytest_slm.simboard import SimulatorProcess

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "tests" / "slm" / "v20"

# Framing the harness's reader would break: a payload with blank lines and no final newline.
INNER = """
def test_payload_with_blank_lines_survives(slm, tcp_echo):
    slm.at("AT#XSOCKET=1,1,0")
    try:
        slm.at(f'AT#XCONNECT="{tcp_echo.board_host}",{tcp_echo.port}')
        slm.at('AT#XSEND="one\\r\\n\\r\\n\\r\\ntwo"')
        assert slm.at("AT#XRECV=10").payloads == [b"one\\r\\n\\r\\n\\r\\ntwo"]
    finally:
        slm.at("AT#XSOCKET=0", check=False)


def test_the_board_is_the_one_twister_reserved(slm_board, request):
    option = request.config.option
    assert slm_board.url == option.device_serial or slm_board.url in option.device_serial
    assert slm_board.name == "nrf9160dk"
"""


def suite_tests() -> list[str]:
    """A slice of tests/slm, unchanged: the basic TCP test and the socket-table tests."""
    wanted = {
        "test_transfer.py": "tcp_client_echo or udp_sendto_recvfrom",
        "test_sockets.py": "close or test_form or listing",
    }
    missing = [name for name in wanted if not (SUITE / name).is_file()]
    if missing:
        pytest.fail(f"{missing} no longer in {SUITE}: update this selection")
    expr = " or ".join(f"({e})" for e in [*wanted.values(), "under_twister", "reserved"])
    return [*(str(SUITE / name) for name in wanted), "-k", expr]


@pytest.mark.parametrize("api", ["classic", "2026"])
def test_suite_through_the_twister_harness(api: str, tmp_path: Path) -> None:
    simulator = SimulatorProcess(["--pty", "--online"], log_dir=tmp_path)
    pty = simulator.start()
    try:
        bin_dir = tmp_path / "bin"
        west_log = fake_tool(bin_dir, "west")
        # pytest-slm's own flash tools: none of them may run under twister
        own_flash_logs = [fake_tool(bin_dir, name) for name in ("nrfjprog", "nrfutil", "pyocd")]
        build_dir = tmp_path / "twister-out" / "nrf9160dk_nrf9160_ns" / "slm.pytest.sockets"
        build_dir.mkdir(parents=True)
        (tmp_path / "test_framing_under_twister.py").write_text(
            textwrap.dedent(INNER), encoding="utf-8"
        )
        junit = build_dir / "report.xml"
        # twister's command line (harness.py generate_command), minus its logging options
        result = run_pytest(
            [
                "--twister-harness",
                "-s",
                "-v",
                f"--build-dir={build_dir}",
                f"--junit-xml={junit}",
                "--platform=nrf9160dk/nrf9160/ns",
                str(tmp_path / "test_framing_under_twister.py"),
                *suite_tests(),
                "--dut-scope=session",
                "--base-timeout=1800",
                "--device-type=hardware",
                f"--device-serial={pty}",
                "--device-serial-baud=115200",
                "--runner=nrfjprog",
                "--device-id=000960123456",
                "--device-product=J-Link",
                "--twister-fixture=lte_sim",
                "-p",
                "no:cacheprovider",
                "-p",
                "twister_harness.plugin",
            ],
            harness_env(bin_dir, api),
            REPO,
        )
    finally:
        simulator.stop()
    output = result.stdout[-6000:] + result.stderr[-3000:]
    assert result.returncode == 0, output
    flashes = [json.loads(line) for line in west_log.read_text().splitlines()]
    assert flashes == [twister_flash_argv(build_dir, api)], (
        "the harness flashes exactly once per session"
    )
    assert not any(log.exists() for log in own_flash_logs), "pytest-slm flashed again"
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    names = {case.get("name") for case in cases}
    assert "test_payload_with_blank_lines_survives" in names
    assert any(name.startswith("test_tcp_client_echo") for name in names), names
    on_board = 0
    for case in cases:
        assert case.find("failure") is None and case.find("error") is None, case.get("name")
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "slm_board" in props:  # every test that used the `slm` fixture
            on_board += 1
            assert props["slm_board"] == "nrf9160dk", props
            assert props["slm_port"] == pty, props
    assert on_board >= 5, f"only {on_board} tests recorded their board"


def test_harness_loaded_but_not_switched_on_leaves_the_default_board(tmp_path: Path) -> None:
    """Twister's plugin may be installed or on PYTHONPATH without --twister-harness; pytest-slm
    then runs as usual (the simulated board) and the two plugins' options do not clash."""
    (tmp_path / "test_plain.py").write_text(
        "def test_sim(slm_board, slm):\n"
        "    assert slm_board.name == 'sim'\n"
        "    assert slm.at('AT#XSLMVER').ok\n",
        encoding="utf-8",
    )
    result = run_pytest(
        [
            "-p",
            "twister_harness.plugin",
            "-p",
            "no:cacheprovider",
            "-q",
            str(tmp_path / "test_plain.py"),
        ],
        harness_env(tmp_path / "bin", "classic"),
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "1 passed" in result.stdout


@pytest.mark.parametrize("api", ["classic", "2026"])
def test_device_serial_pty_board(api: str, tmp_path: Path) -> None:
    """``--device-serial-pty``: the harness runs a script on a pty and stops it when it lets go;
    pytest-slm runs its own copy of the script and opens that pty."""
    simulator = SimulatorProcess(["--listen", "127.0.0.1:0", "--online"], log_dir=tmp_path)
    address = simulator.start().removeprefix("socket://")
    try:
        bin_dir = tmp_path / "bin"
        west_log = fake_tool(bin_dir, "west")
        build_dir = tmp_path / "build"
        build_dir.mkdir()
        inner = tmp_path / "test_pty_board.py"
        inner.write_text(textwrap.dedent(INNER).split("\n\ndef test_the_board")[0] + "\n")
        bridge = Path(__file__).with_name("pty_bridge.py")
        result = run_pytest(
            [
                "--twister-harness",
                f"--build-dir={build_dir}",
                "--platform=nrf9160dk/nrf9160/ns",
                "--device-type=hardware",
                f"--device-serial-pty={sys.executable},{bridge},{address}",
                "--dut-scope=session",
                "-p",
                "no:cacheprovider",
                "-p",
                "twister_harness.plugin",
                "-q",
                str(inner),
            ],
            harness_env(bin_dir, api),
            tmp_path,
        )
    finally:
        simulator.stop()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
    assert len(west_log.read_text().splitlines()) == 1
