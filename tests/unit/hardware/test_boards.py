"""The board registry: shipped board files, lab overrides, and mistakes named precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_slm.boards import BoardConfigError, BoardRegistry, builtin_board_files

REPO = Path(__file__).resolve().parents[3]
SHIPPED = {"nrf9160dk", "nrf9161dk", "nrf9151dk", "thingy91", "thingy91x", "sim"}


def test_every_supported_board_ships_with_the_plugin():
    registry = BoardRegistry.load()
    assert set(registry.names) == SHIPPED
    assert registry.names[-1] == "sim", "simulated boards list after the real ones"


@pytest.mark.parametrize("name", sorted(SHIPPED - {"sim"}))
def test_hardware_boards_say_how_to_find_flash_and_open_them(name):
    board = BoardRegistry.load().get(name)
    assert not board.simulated
    assert board.zephyr_board and board.zephyr_board.endswith("/ns")
    assert board.pyocd_target == "nrf91"
    assert board.runner in ("west", "pyocd", "nrfutil")
    assert board.usb is not None and board.usb.vcom >= 0
    assert board.uart.baudrate == 115200 and board.uart.dtr
    assert {"tcp", "udp", "tls", "dtls", "lte"} <= board.features


def test_dk_probe_serials_match_their_own_board_only():
    registry = BoardRegistry.load()
    samples = {"000960012345": "nrf9160dk", "001050123456": "nrf9161dk",
               "001051123456": "nrf9151dk", "THINGY91X_F40679066AD": "thingy91x",
               "THINGY91_1A2B3C4D": "thingy91"}
    for usb_serial, owner in samples.items():
        matching = [b.name for b in registry if b.usb and b.usb.matches(usb_serial)]
        assert matching == [owner], usb_serial


def test_sim_board_is_simulated_with_no_runner():
    sim = BoardRegistry.load().get("sim")
    assert sim.simulated and sim.runner is None and sim.usb is None
    assert sim.has_feature("loopback_peers") and not sim.has_feature("lte")


def test_repository_boards_folder_mirrors_the_package_data():
    shipped = {p.name: p.read_text() for p in builtin_board_files()}
    mirror = {p.name: p.read_text() for p in (REPO / "boards").glob("*.yaml")}
    assert mirror == shipped


def test_boards_dir_adds_a_board_and_overrides_a_shipped_one(tmp_path):
    (tmp_path / "mydk.yaml").write_text(
        "name: mydk\nzephyr_board: nrf9160dk/nrf9160/ns\npyocd_target: nrf91\nrunner: pyocd\n"
        "usb: {serial: '^LAB', vcom: 1}\nfeatures: [tcp]\n")
    (tmp_path / "nrf9160dk.yaml").write_text(
        "name: nrf9160dk\nrunner: nrfutil\nusb: {serial: '^0*960'}\nuart: {baudrate: 1000000}\n")
    registry = BoardRegistry.load([tmp_path])
    assert registry.get("mydk").usb.vcom == 1
    dk = registry.get("nrf9160dk")
    assert dk.runner == "nrfutil" and dk.uart.baudrate == 1000000
    assert dk.source == tmp_path / "nrf9160dk.yaml"


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardConfigError, match="unknown board 'nrf9999dk'.*nrf9160dk.*sim"):
        BoardRegistry.load().get("nrf9999dk")


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nusb: {serial: '^1'}\nrtscst: true\n", "unknown key.*rtscst"),
    ("name: x\nusb: {serial: '^1'}\nuart: {baud: 9600}\n", "unknown key.*'uart'.*baud"),
    ("name: x\nusb: {serial: '(('}\n", "usb.serial.*not a valid regex"),
    ("name: x\nrunner: jlink\nusb: {serial: '^1'}\n", "runner must be one of"),
    ("name: x\nrunner: west\n", "needs a 'usb' section"),
    ("- just\n- a list\n", "must be a mapping"),
    ("name: [unclosed\n", "not valid YAML"),
])
def test_a_malformed_board_file_names_the_file_and_the_mistake(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(BoardConfigError, match=message) as info:
        BoardRegistry.load([tmp_path])
    assert "bad.yaml" in str(info.value)


def test_missing_boards_dir_is_an_error(tmp_path):
    with pytest.raises(BoardConfigError, match="no such directory"):
        BoardRegistry.load([tmp_path / "nope"])
