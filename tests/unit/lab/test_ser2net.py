"""A board on another machine: the simulator's pty exported by a real ser2net, reached through
``rfc2217://`` (and raw ``socket://``) on loopback, exactly the way a lab exports its boards."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ser2net_helpers import Ser2Net, require_ser2net, ser2net_yaml

from pytest_slm.dut import SlmDut
from pytest_slm.peers import TcpEcho
from pytest_slm.simboard import SimulatorProcess

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "tests" / "slm" / "v20"


@pytest.fixture
def sim_pty(tmp_path: Path) -> Iterator[str]:
    require_ser2net()  # skip before starting anything when ser2net is absent
    simulator = SimulatorProcess(["--pty", "--online"], log_dir=tmp_path)
    try:
        yield simulator.start()
    finally:
        simulator.stop()


@pytest.fixture(params=["rfc2217", "raw"])
def exported(request: pytest.FixtureRequest, sim_pty: str, tmp_path: Path) -> Iterator[Ser2Net]:
    server = Ser2Net(sim_pty, tmp_path / "ser2net", protocol=request.param)
    server.start()
    server.boot_board()
    try:
        yield server
    finally:
        server.stop()


def test_at_and_a_tcp_round_trip_through_ser2net(exported: Ser2Net) -> None:
    """Line framing and an exact-length #XRECV payload survive the telnet/TCP hop."""
    payload = "ser2net\r\nhop"
    with TcpEcho() as echo, SlmDut.open(exported.url) as dut:
        dut.wait_ready(timeout=30)
        assert dut.at("AT#XSLMVER", timeout=30).lines == ['#XSLMVER: "2.0.0"']
        dut.at("AT#XSOCKET=1,1,0", timeout=30)
        try:
            dut.at(f'AT#XCONNECT="{echo.board_host}",{echo.port}', timeout=30)
            dut.at(f'AT#XSEND="{payload}"', timeout=30)
            received = dut.at("AT#XRECV=10", timeout=30)
            assert received.payloads == [payload.encode()]
        finally:
            dut.at("AT#XSOCKET=0", timeout=30, check=False)


def test_suite_runs_through_rfc2217(sim_pty: str, tmp_path: Path) -> None:
    """Part of tests/slm, unchanged, against the exported board: ``--port rfc2217://...``."""
    selected = suite_selection()
    server = Ser2Net(sim_pty, tmp_path / "ser2net")
    server.start()
    try:
        server.boot_board()
        result = pytest_child(
            [*selected, f"--port={server.url}", "-p", "no:cacheprovider", "-q", "-rA"]
        )
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output + server.log_text()
    assert " failed" not in result.stdout and " error" not in result.stdout, output
    assert "PASSED tests/slm/v20/test_transfer.py::test_tcp_client_echo" in result.stdout, output
    passed = [line for line in result.stdout.splitlines() if line.startswith("PASSED ")]
    assert len(passed) >= 5, output


def suite_selection() -> list[str]:
    """The suite's basic TCP socket test plus a few socket-table ones, unchanged."""
    wanted = {
        "test_transfer.py": "tcp_client_echo or udp_sendto_recvfrom",
        "test_sockets.py": "close or test_form or listing",
    }
    missing = [name for name in wanted if not (SUITE / name).is_file()]
    if missing:
        pytest.fail(f"{missing} no longer in {SUITE}: update this selection")
    paths = [str(SUITE / name) for name in wanted]
    return [*paths, "-k", " or ".join(f"({expr})" for expr in wanted.values())]


def pytest_child(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    for key in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(key, None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_missing_ser2net_skips_locally_and_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install ser2net"):
        require_ser2net()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install ser2net"):
        require_ser2net()


def test_config_is_ser2net_4_yaml(tmp_path: Path) -> None:
    """The file ser2net itself accepts (it exits at once on a bad one, which start() reports)."""
    text = ser2net_yaml("/dev/ttyACM0", 7001)
    assert "accepter: telnet(rfc2217),tcp,127.0.0.1,7001" in text
    assert "connector: serialdev,/dev/ttyACM0,115200n81,local" in text
    assert "tcp,127.0.0.1,7002\n" in ser2net_yaml("/dev/ttyACM0", 7002, protocol="raw")
