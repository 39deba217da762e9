"""One labgrid lab for this directory's tests: a real coordinator and exporter on loopback, two
simulated boards behind ptys exported as places slm-a and slm-b (tags board=sim, dialect=v20)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_helpers import Lab, assert_all_free, require_labgrid

from pytest_slm.simboard import SimulatorProcess

PLACES = {"slm-a": "slm-a", "slm-b": "slm-b"}


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_labgrid()
    workdir = tmp_path_factory.mktemp("lab")
    simulators = [SimulatorProcess(["--pty"], log_dir=workdir) for _ in PLACES]
    lab = Lab(workdir)
    try:
        ptys = [sim.start() for sim in simulators]
        lab.start_coordinator()
        lab.start_exporter(dict(zip(PLACES.values(), ptys, strict=True)))
        for place, group in PLACES.items():
            lab.create_place(place, group, board="sim", dialect="v20")
        yield lab
    finally:
        lab.stop()
        for sim in simulators:
            sim.stop()


@pytest.fixture
def lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own board-lock directory, for the test process and the pytest it starts."""
    path = tmp_path / "locks"
    monkeypatch.setenv("PYTEST_SLM_LOCK_DIR", str(path))
    return path


@pytest.fixture
def idle_lab(lab: Lab, lock_dir: Path) -> Iterator[Lab]:
    """The lab with every place free before the test, and checked free again after it: each
    test must give back what it took (that is part of what they prove)."""
    assert_all_free(lab)
    yield lab
    assert_all_free(lab)
