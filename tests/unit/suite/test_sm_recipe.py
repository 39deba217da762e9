"""firmware_ref/zephyr/serial-modem: the Serial Modem twister recipe agrees with the boards, the
suite and the dialect option (nothing here builds: no toolchain or board on this machine)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pytest_slm import dialects
from pytest_slm.boards import BoardRegistry

REPO = Path(__file__).resolve().parents[3]
RECIPE = REPO / "firmware_ref" / "zephyr" / "serial-modem"


def load(name: str) -> dict:
    return yaml.safe_load((RECIPE / name).read_text(encoding="utf-8"))


def test_manifest_imports_serial_modems_own_manifest_at_the_release():
    manifest = load("west.yml")["manifest"]
    (sm,) = manifest["projects"]
    assert (sm["name"], sm["revision"], sm["import"]) == (
        "ncs-serial-modem",
        "v2.0.0-preview1",
        True,
    )
    assert sm["path"] == "ncs-serial-modem"
    assert manifest["self"]["path"] == "pytest-slm"


def test_scenario_is_a_session_scoped_pytest_run_of_the_suite_as_serial_modem():
    data = load("testcase.yaml")
    (scenario,) = data["tests"].values()
    assert data["common"]["sysbuild"] is True
    assert scenario["harness"] == "pytest"
    config = scenario["harness_config"]
    assert config["pytest_dut_scope"] == "session"
    assert config["pytest_args"] == ["--dialect=sm"]
    assert "sm" in dialects.DIALECTS
    assert scenario["timeout"] >= 900
    # From <ws>/ncs-serial-modem/app (where twister resolves it) to this repository's suite.
    workspace = Path("/ws")
    app = workspace / "ncs-serial-modem" / "app"
    repo_in_ws = workspace / load("west.yml")["manifest"]["self"]["path"]
    (root,) = config["pytest_root"]
    resolved = Path(os.path.normpath(app / root)).relative_to(repo_in_ws)
    assert REPO / resolved == REPO / "tests" / "slm"


def test_platforms_are_the_boards_whose_file_lists_the_sm_dialect():
    common = load("testcase.yaml")["common"]
    boards = [b for b in BoardRegistry.load() if b.zephyr_board]
    with_sm = {b.zephyr_board for b in boards if "sm" in b.dialects}
    assert set(common["platform_allow"]) == with_sm and len(with_sm) == 5
    assert set(common["integration_platforms"]) <= with_sm


def test_alt_config_holds_the_testcase_under_the_applications_file_name():
    alt = RECIPE / "alt-config" / "sample.yaml"
    assert alt.read_text(encoding="utf-8") == (RECIPE / "testcase.yaml").read_text(encoding="utf-8")


def test_board_files_name_only_known_dialects():
    for board in BoardRegistry.load():
        assert set(board.dialects) <= set(dialects.DIALECTS), board.name
    v20 = {b.name for b in BoardRegistry.load() if "v20" in b.dialects}
    assert v20 == {"nrf9160dk", "thingy91", "sim"}
