"""Real-silicon plumbing without silicon: fake flash tools first on PATH, the port listing
faked at its seam, lock and cache directories private to each test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hwsupport import FAKES_BIN, make_build_dir

# pytester comes from the repository's root conftest (only a top-level conftest may load plugins).


class FakeTools:
    """The fake west/pyocd/nrfutil, configured through their environment variables."""

    def __init__(self, log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.log = log
        self._mp = monkeypatch

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def argvs(self) -> list[list[str]]:
        return [[c["tool"], *c["argv"]] for c in self.calls()]

    def fail(self, *what: str) -> None:
        self._mp.setenv("SLM_FAKE_FAIL", ",".join(what))

    def attach(self, *probes: str) -> None:
        self._mp.setenv("SLM_FAKE_PROBES", ",".join(probes))

    def port_link(self, link: Path, delay: float = 0.5) -> None:
        self._mp.setenv("SLM_FAKE_PORT_LINK", str(link))
        self._mp.setenv("SLM_FAKE_REENUMERATE", str(delay))


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTools:
    log = tmp_path / "fake-tools.jsonl"
    monkeypatch.setenv("PATH", f"{FAKES_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("SLM_FAKE_LOG", str(log))
    for var in ("SLM_FAKE_FAIL", "SLM_FAKE_PROBES", "SLM_FAKE_PORT_LINK", "SLM_FAKE_REENUMERATE"):
        monkeypatch.delenv(var, raising=False)
    return FakeTools(log, monkeypatch)


@pytest.fixture(autouse=True)
def private_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never touch the real ~/.cache/pytest-slm or the machine-wide lock directory."""
    monkeypatch.setenv("PYTEST_SLM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTEST_SLM_LOCK_DIR", str(tmp_path / "locks"))
    yield


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    return make_build_dir(tmp_path / "build")


@pytest.fixture
def sim_pty(tmp_path: Path) -> Iterator[str]:
    """A simulated board, freshly booted and offline, on a pty: what a DK's VCOM looks like."""
    from pytest_slm.simboard import SimulatorProcess

    simulator = SimulatorProcess(["--pty", "-v"], log_dir=tmp_path / "sim-logs")
    url = simulator.start()
    yield url
    simulator.stop()
