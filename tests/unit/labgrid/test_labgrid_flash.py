"""`--firmware` with a labgrid place: the image is handed to the exporter's machine and the
flash tool runs there, through labgrid's own SSH connection (a real sshd on loopback stands for
that machine, fake nrfutil/pyocd executables for the tools that need a probe)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_helpers import Lab, Sshd, labgrid_client

REPO = Path(__file__).resolve().parents[3]
FAKES_BIN = REPO / "tests" / "fakes" / "bin"
# A real Intel HEX image: an extended-address record, one data record, end of file.
HEX_IMAGE = ":020000040000FA\n:10000000000004200D0100001501000017010000AE\n:00000001FF\n"

PLAIN = """
def test_board_answers(slm):
    assert slm.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
"""


@pytest.fixture
def exporter_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    log = tmp_path / "tools.jsonl"
    sshd = Sshd(
        tmp_path / "sshd",
        {
            "PATH": f"{FAKES_BIN}:/usr/local/bin:/usr/bin:/bin",
            "SLM_FAKE_LOG": str(log),
            "SLM_FAKE_PROBES": "960000001",
        },
    )
    sshd.start()
    monkeypatch.setenv("PATH", f"{sshd.bin}{os.pathsep}{os.environ['PATH']}")
    sshd.tool_log = log
    yield sshd
    sshd.stop()


@pytest.fixture
def probe_tagged(idle_lab: Lab) -> Iterator[Lab]:
    """slm-a tagged with its probe's serial number, as a lab does for places it flashes."""
    labgrid_client(idle_lab.address, "-p", "slm-a", "set-tags", "board_id=960000001")
    yield idle_lab
    labgrid_client(idle_lab.address, "-p", "slm-a", "set-tags", "board_id=")


def tool_calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [[c["tool"], *c["argv"]] for c in map(json.loads, log.read_text().splitlines())]


def test_firmware_is_flashed_on_the_exporters_machine(
    probe_tagged: Lab, exporter_host: Sshd, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    image = tmp_path / "slm.hex"
    image.write_text(HEX_IMAGE)
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess(
        "test_plain.py",
        "--lg-place",
        "slm-a",
        "--lg-coordinator",
        probe_tagged.address,
        "--firmware",
        str(image),
        "--slm-runner",
        "nrfutil",
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    output = result.stdout.str()
    assert result.ret == 0, output + exporter_host.process.text()
    # The exporter's machine is this one, so labgrid finds the image already there (its NFS
    # check) and the tool gets the image's own path.
    assert tool_calls(exporter_host.tool_log) == [
        [
            "nrfutil",
            "device",
            "program",
            "--firmware",
            str(image),
            "--serial-number",
            "960000001",
            "--options",
            "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE",
        ],
        ["nrfutil", "device", "reset", "--serial-number", "960000001"],
    ], output
    assert (
        "[slm] flashing place slm-a (sim, probe 960000001) with nrfutil on 127.0.0.1 "
        "(exporter lab-host-1)"
    ) in output, output
    assert "1 passed" in output
    # Through labgrid's SSH connection to the exporter's machine, not run here directly.
    assert "Accepted publickey for " in exporter_host.process.text()


def test_west_is_refused_for_a_place(
    idle_lab: Lab, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    image = tmp_path / "slm.hex"
    image.write_text(HEX_IMAGE)
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess(
        "test_plain.py",
        "--lg-place",
        "slm-b",
        "--lg-coordinator",
        idle_lab.address,
        "--firmware",
        str(image),
        "--slm-runner",
        "west",
        "-p",
        "no:cacheprovider",
        timeout=600,
    )
    output = result.stdout.str()
    assert result.ret == 1, output
    assert (
        "west flashes a build directory on the machine that runs it, and a labgrid place "
        "is flashed from lab-host-1's machine"
    ) in output, output
    # idle_lab: the place was released although the session failed.
