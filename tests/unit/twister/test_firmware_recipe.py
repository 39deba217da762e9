"""firmware_ref/zephyr: the twister recipe stays consistent with the boards and the suite."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from pytest_slm.boards import BoardRegistry

REPO = Path(__file__).resolve().parents[3]
RECIPE = REPO / "firmware_ref" / "zephyr"


def load(name: str) -> dict:
    return yaml.safe_load((RECIPE / name).read_text(encoding="utf-8"))


def test_manifest_pins_ncs_v2_0_2_and_names_this_repo() -> None:
    manifest = load("west.yml")["manifest"]
    (nrf,) = [p for p in manifest["projects"] if p["name"] == "nrf"]
    assert nrf["revision"] == "v2.0.2"
    assert nrf["repo-path"] == "sdk-nrf"
    assert nrf["import"] is True
    assert manifest["self"]["path"] == "pytest-slm"


def test_testcase_is_a_session_scoped_pytest_scenario() -> None:
    data = load("testcase.yaml")
    (scenario,) = data["tests"].values()
    assert scenario["harness"] == "pytest"
    assert scenario["harness_config"]["pytest_dut_scope"] == "session"
    # an LTE attach alone can take minutes; twister kills pytest at this limit
    assert scenario["timeout"] >= 900


def test_platforms_are_the_boards_of_the_registry() -> None:
    common = load("testcase.yaml")["common"]
    targets = {b.zephyr_board for b in BoardRegistry.load() if b.zephyr_board}
    assert set(common["platform_allow"]) == targets
    assert set(common["integration_platforms"]) <= targets


def test_relative_paths_reach_this_repository_from_the_slm_application() -> None:
    # west.yml lays the workspace out as <ws>/nrf/applications/serial_lte_modem and
    # <ws>/pytest-slm; twister resolves these paths from the SLM application directory.
    data = load("testcase.yaml")
    (scenario,) = data["tests"].values()
    workspace = Path("/ws")
    slm_app = workspace / "nrf" / "applications" / "serial_lte_modem"
    repo_in_ws = workspace / load("west.yml")["manifest"]["self"]["path"]

    def in_repo(relative: str) -> Path:
        return REPO / Path(os.path.normpath(slm_app / relative)).relative_to(repo_in_ws)

    (root,) = scenario["harness_config"]["pytest_root"]
    assert in_repo(root) == REPO / "tests" / "slm"
    for overlay in data["common"]["extra_overlay_confs"]:
        assert in_repo(overlay).is_file()


def test_alt_config_root_holds_the_testcase_under_slms_file_name() -> None:
    # twister takes <alt root>/<path of the suite>/<file name the suite uses>; SLM's is sample.yaml
    alt = RECIPE / "alt-config" / "sample.yaml"
    assert alt.read_text(encoding="utf-8") == (RECIPE / "testcase.yaml").read_text(encoding="utf-8")


def test_overlay_sets_the_line_and_data_mode_rules_the_suite_assumes() -> None:
    text = (RECIPE / "overlay-pytest.conf").read_text(encoding="utf-8")
    settings = dict(re.findall(r"^(CONFIG_\w+)=(.*)$", text, re.MULTILINE))
    assert settings["CONFIG_SLM_CR_LF_TERMINATION"] == "y"
    assert settings["CONFIG_SLM_DATAMODE_TERMINATOR"] == '"+++"'


def test_documented_twister_commands_select_the_scenario_by_its_plain_name():
    """Twister names a scenario outside ZEPHYR_BASE by its plain name: `-s <path>/<name>`
    selects nothing."""
    scenarios = set(yaml.safe_load((RECIPE / "testcase.yaml").read_text())["tests"])
    for doc in (REPO / "README.md", RECIPE / "README.md", REPO / "docs" / "labs.md"):
        selected = re.findall(r"(?:^|\s)-s (\S+)", doc.read_text(encoding="utf-8"))
        assert selected, doc
        assert set(selected) <= scenarios, (doc, selected)
        assert "pyocd pack install" not in doc.read_text(encoding="utf-8")
