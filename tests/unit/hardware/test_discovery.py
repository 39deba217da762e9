"""Finding the board's SLM port by probe serial number and VCOM index."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hwsupport import dk_ports
from serial.tools.list_ports_common import ListPortInfo

from pytest_slm.boards import BoardRegistry
from pytest_slm.hardware import list_boards_text
from pytest_slm.link import (
    DiscoveryError,
    SerialPort,
    discovery,
    locate,
    normalize_id,
    system_ports,
)

REGISTRY = BoardRegistry.load()
DK = REGISTRY.get("nrf9160dk")


def lister(*groups: list[SerialPort]):
    ports = [p for group in groups for p in group]
    return lambda: list(ports)


def test_the_only_attached_dk_is_found_on_vcom0_by_its_stable_name(tmp_path):
    ports = dk_ports("000960012345", by_id_dir=tmp_path)
    found = locate(DK, lister=lister(ports))
    assert found.port == str(tmp_path / "usb-SEGGER_J-Link_000960012345-if00")
    assert found.probe_id == "960012345", "tools take the J-Link SN without the USB padding"


def test_without_by_id_links_the_device_node_is_used():
    found = locate(DK, lister=lister(dk_ports("000960012345", first_acm=3)))
    assert found.port == "/dev/ttyACM3"


def test_vcom_index_comes_from_the_board_file(tmp_path):
    (tmp_path / "nrf9160dk.yaml").write_text(
        "name: nrf9160dk\nusb: {serial: '^0*960', vcom: 2}\n")
    board = BoardRegistry.load([tmp_path]).get("nrf9160dk")
    # Listed out of order, as udev may: VCOM order is USB interface order, not list order.
    ports = list(reversed(dk_ports("000960012345")))
    assert locate(board, lister=lister(ports)).port == "/dev/ttyACM2"


def test_no_board_attached_lists_what_was_seen():
    other = SerialPort("/dev/ttyUSB0", serial_number="A50285BI", manufacturer="FTDI",
                       product="FT232R USB UART")
    with pytest.raises(DiscoveryError) as info:
        locate(DK, lister=lister([other], dk_ports("001050123456")))
    text = str(info.value)
    assert text.startswith("no nrf9160dk is attached") and "plugged in" in text
    assert "/dev/ttyUSB0" in text and "A50285BI" in text and "001050123456" in text


def test_no_ports_at_all_says_none():
    with pytest.raises(DiscoveryError, match=r"(?s)Serial ports seen:.*\(none\)"):
        locate(DK, lister=lister())


def test_several_dks_ask_for_board_id_and_list_each():
    both = lister(dk_ports("000960012345"), dk_ports("000960099999", first_acm=3))
    with pytest.raises(DiscoveryError) as info:
        locate(DK, lister=both)
    text = str(info.value)
    assert "2 boards could be a nrf9160dk" in text and "--board-id" in text
    assert "000960012345" in text and "000960099999" in text


@pytest.mark.parametrize("given", ["960099999", "000960099999"])
def test_board_id_picks_one_of_several_padded_or_not(given):
    both = lister(dk_ports("000960012345"), dk_ports("000960099999", first_acm=3))
    found = locate(DK, given, lister=both)
    assert found.port == "/dev/ttyACM3"
    # Normalized whatever was typed: pyocd matches a J-Link uid unpadded only.
    assert found.probe_id == "960099999"


def test_board_id_not_attached_names_the_others():
    with pytest.raises(DiscoveryError) as info:
        locate(DK, "960000001", lister=lister(dk_ports("000960012345")))
    assert "probe 960000001" in str(info.value) and "000960012345" in str(info.value)


def test_missing_vcom_is_explained():
    board = dataclasses.replace(DK, usb=dataclasses.replace(DK.usb, vcom=3))
    with pytest.raises(DiscoveryError, match="wants VCOM 3"):
        locate(board, lister=lister(dk_ports("000960012345")))


def test_thingy91_port_is_the_bridge_and_the_probe_is_the_external_jlink():
    thingy = REGISTRY.get("thingy91")
    bridge = [SerialPort(f"/dev/ttyACM{i}", serial_number="THINGY91_1A2B3C4D", interface=i * 2)
              for i in range(2)]
    found = locate(thingy, "683123456", lister=lister(bridge))
    assert found.port == "/dev/ttyACM0"
    assert found.probe_id == "683123456"


def test_thingy91x_bridge_serial_is_its_probe_id():
    board = REGISTRY.get("thingy91x")
    bridge = [SerialPort(f"/dev/ttyACM{i}", serial_number="THINGY91X_F40679066AD",
                         interface=i * 2 + 1) for i in range(2)]
    found = locate(board, lister=lister(bridge))
    assert (found.port, found.probe_id) == ("/dev/ttyACM0", "THINGY91X_F40679066AD")


def test_normalize_id():
    assert normalize_id("000960012345") == normalize_id("960012345") == "960012345"
    assert normalize_id("thingy91x_f40679066ad") == "THINGY91X_F40679066AD"


def test_system_ports_joins_pyserial_listing_with_by_id_links(tmp_path, monkeypatch):
    dev = tmp_path / "ttyACM7"
    dev.touch()
    (tmp_path / "by-id").mkdir()
    link = tmp_path / "by-id" / "usb-SEGGER_J-Link_000960012345-if02"
    link.symlink_to(dev)
    info = ListPortInfo(str(dev), skip_link_detection=True)
    info.serial_number = "000960012345"
    info.location = None  # macOS-like: no interface in the location, the link's suffix says
    info.vid, info.pid, info.manufacturer, info.product = 0x1366, 0x1055, "SEGGER", "J-Link"
    plain = ListPortInfo("/dev/ttyS0", skip_link_detection=True)
    plain.location = "1-1.4:1.3"
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [info, plain])
    ports = {p.device: p for p in system_ports(tmp_path / "by-id")}
    assert ports[str(dev)].by_id == str(link) and ports[str(dev)].interface == 2
    assert ports["/dev/ttyS0"].by_id is None and ports["/dev/ttyS0"].interface == 3


def test_port_lister_seam_is_used_by_default():
    previous = discovery.use_port_lister(lister(dk_ports("000960012345")))
    try:
        assert locate(DK).port == "/dev/ttyACM0"
    finally:
        discovery.use_port_lister(previous)


def test_list_boards_shows_registry_and_attached_boards():
    text = list_boards_text(REGISTRY, lister(dk_ports("000960012345"),
                                             dk_ports("001051000001", first_acm=3)))
    assert "known boards:" in text
    for name in ("nrf9160dk", "nrf9161dk", "nrf9151dk", "thingy91", "thingy91x", "sim"):
        assert name in text
    assert "nrf9160dk/nrf9160/ns" in text
    attached = text.split("attached now:")[1]
    assert "nrf9160dk" in attached and "--board-id 960012345" in attached
    assert "nrf9151dk" in attached and "/dev/ttyACM3" in attached


def test_list_boards_with_nothing_attached():
    assert "attached now: none" in list_boards_text(REGISTRY, lister())


def test_serial_port_describe_is_readable(tmp_path: Path):
    port = dk_ports("000960012345", by_id_dir=tmp_path)[1]
    assert port.describe() == (f"{tmp_path}/usb-SEGGER_J-Link_000960012345-if02 "
                               "(SER=000960012345 if02, SEGGER J-Link)")


def test_windows_location_gives_the_interface(monkeypatch, tmp_path):
    """pyserial on Windows reports `location` as `1-3:x.<interface>`: the configuration is
    unknown there. COM numbers say nothing about VCOM order, so the interface must be read."""
    ports = []
    for com, iface in (("COM3", 4), ("COM12", 2), ("COM9", 0)):
        info = ListPortInfo(com, skip_link_detection=True)
        info.serial_number, info.location = "000960012345", f"1-3:x.{iface}"
        ports.append(info)
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: ports)
    listed = system_ports(tmp_path / "no-by-id")
    assert {p.device: p.interface for p in listed} == {"COM3": 4, "COM12": 2, "COM9": 0}
    assert locate(DK, lister=lambda: listed).port == "COM9"


def test_thingy91_is_named_by_its_bridge_and_flashed_through_its_probe():
    """Two ids: the bridge's USB serial selects the port (and the lock), --probe-id the J-Link."""
    thingy = REGISTRY.get("thingy91")
    two = [SerialPort(f"/dev/ttyACM{i}", serial_number=f"THINGY91_{n}", interface=0)
           for i, n in enumerate(("1A2B3C4D", "5E6F7A8B"))]
    found = locate(thingy, "thingy91_5e6f7a8b", probe_id="000683123456", lister=lister(two))
    assert (found.port, found.board_id, found.probe_id) == (
        "/dev/ttyACM1", "THINGY91_5E6F7A8B", "683123456")
    with pytest.raises(DiscoveryError, match="2 boards could be a thingy91"):
        locate(thingy, probe_id="683123456", lister=lister(two))


def test_nrf9161dk_among_other_1050_kits_is_told_apart_by_its_board_version(
        fake_tools, monkeypatch):
    """1050... is an nRF9161 DK's prefix and an nRF5340 DK's too: the probes say which is which
    (`nrfutil device list`), else the user must name the board."""
    kits = lister(dk_ports("001050012345"), dk_ports("001050099999", first_acm=3))
    board = REGISTRY.get("nrf9161dk")
    fake_tools.attach("1050012345", "1050099999")
    monkeypatch.setenv("SLM_FAKE_BOARD_VERSIONS", "1050012345=PCA10095,1050099999=PCA10153")
    found = locate(board, lister=kits)
    assert (found.port, found.probe_id) == ("/dev/ttyACM3", "1050099999")
    assert fake_tools.argvs() == [["nrfutil", "device", "list", "--json", "--skip-overhead"]]
    with pytest.raises(DiscoveryError) as info:
        locate(board, lister=kits, board_versions=dict)
    text = str(info.value)
    assert "2 boards could be a nrf9161dk; name one with --board-id" in text
    assert "reports board version PCA10153: install nRF Util 7+" in text


def test_a_lab_board_file_names_the_thingys_probe(tmp_path):
    (tmp_path / "desk-thingy.yaml").write_text(
        "name: desk-thingy\nzephyr_board: thingy91/nrf9160/ns\nrunner: nrfutil\n"
        "probe_id: '000683000111'\nusb: {serial: '^THINGY91_1A2B3C4D$', probe_is_usb_serial: "
        "false}\n")
    board = BoardRegistry.load([tmp_path]).get("desk-thingy")
    bridge = [SerialPort("/dev/ttyACM0", serial_number="THINGY91_1A2B3C4D", interface=0)]
    found = locate(board, lister=lister(bridge))
    assert (found.board_id, found.probe_id) == ("THINGY91_1A2B3C4D", "683000111")
