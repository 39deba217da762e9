"""The whole real-board path with fake flash tools and slm-sim behind the port: discover, lock,
flash (or skip), wait for the port to come back, open, bring up, release."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hwsupport import HEX_IMAGE, UsbCable, dk_ports

from pytest_slm.boards import BoardRegistry
from pytest_slm.bringup import Credential, CredentialType
from pytest_slm.flash import FlashError
from pytest_slm.hardware import HardwareSettings, open_hardware_board
from pytest_slm.link import BoardBusy, BoardLock, DiscoveryError, PortTimeout

DK = BoardRegistry.load().get("nrf9160dk")
SN = "000960012345"
CA = "-----BEGIN CERTIFICATE-----\nTUlJQnN6Q0NBVm1nQXdJQkFnSVVRazNz\n-----END CERTIFICATE-----\n"


class Desk:
    """A DK on the desk: its VCOM0 is a by-id link to the simulator's pty, listed only while
    the link exists (as udev lists a port only while the device is enumerated)."""

    def __init__(self, tmp_path: Path, sim: str, usb_serials=(SN,)) -> None:
        self.by_id = tmp_path / "by-id"
        self.by_id.mkdir()
        self.serials = list(usb_serials)
        self.link = self.by_id / f"usb-SEGGER_J-Link_{self.serials[0]}-if00"
        self.link.symlink_to(sim)
        self.tmp = tmp_path

    def ports(self):
        ports = []
        for n, usb_serial in enumerate(self.serials):
            if n == 0 and not self.link.exists():
                continue  # re-enumerating: the whole probe is gone from the bus for now
            ports += dk_ports(usb_serial, first_acm=3 * n, by_id_dir=self.by_id)
        return ports

    def settings(self, **kw) -> HardwareSettings:
        defaults = dict(board=DK, attach_timeout=60, ready_timeout=30,
                        cache_dir=self.tmp / "cache", lock_dir=self.tmp / "locks")
        defaults.update(kw)
        return HardwareSettings(**defaults)

    def open(self, said: list[str] | None = None, **kw):
        return open_hardware_board(
            self.settings(**kw), [Credential(71434, CredentialType.ROOT_CA, CA)],
            progress=(said.append if said is not None else None), lister=self.ports)


@pytest.fixture
def desk(tmp_path, sim_pty):
    return Desk(tmp_path, sim_pty)


def lock_free(tmp_path: Path, key="id-960012345") -> bool:
    try:
        BoardLock(key, lock_dir=tmp_path / "locks", timeout=0).acquire().release()
        return True
    except BoardBusy:
        return False


@pytest.mark.parametrize("runner", ["west", "pyocd", "nrfutil"])
def test_flash_reenumerate_open_and_bring_up(desk, fake_tools, build_dir, runner):
    fake_tools.port_link(desk.link, delay=1.0)
    said: list[str] = []
    hw = desk.open(said, firmware=str(build_dir), runner=runner)
    try:
        assert hw.flash.flashed and hw.flash.runner == runner
        assert hw.url == str(desk.link)
        assert hw.probe_id == "960012345"
        assert not lock_free(desk.tmp), "the board is locked while the session runs"
        assert hw.dut.at("AT+CFUN?").value("+CFUN") == [1]
        assert hw.info["imei"] == hw.modem.imei and len(hw.modem.imei) == 15
        assert hw.info["slm_version"] == "2.0.0" and hw.info["flashed"] == "yes"
        assert hw.info["image_sha256"] == hw.flash.image.sha256
    finally:
        hw.close()
    assert lock_free(desk.tmp)
    text = "\n".join(said)
    assert f"found nrf9160dk (probe 960012345) at {desk.link}" in text
    assert f"flashing nrf9160dk-960012345 with {runner}" in text
    assert "to come back (USB re-enumeration)" in text and f"is back: {desk.link}" in text
    assert "opened" in text and "RTS/CTS" in text and "online after" in text
    assert text.index("flashed nrf9160dk") < text.index("is back") < text.index("online after")
    assert CA.splitlines()[1] not in text
    # nrfutil: the nRF Util 7 check, program, reset.
    assert len(fake_tools.calls()) == (3 if runner == "nrfutil" else 1)


def test_second_session_skips_the_flash_and_a_new_image_is_flashed(desk, fake_tools, build_dir):
    fake_tools.port_link(desk.link, delay=0.3)
    desk.open(firmware=str(build_dir)).close()
    said: list[str] = []
    hw = desk.open(said, firmware=str(build_dir))
    hw.close()
    assert not hw.flash.flashed
    assert "not flashing: nrf9160dk-960012345 already holds image" in "\n".join(said)
    assert hw.info["flashed"].startswith("no (")
    assert len(fake_tools.calls()) == 1
    (build_dir / "zephyr" / "merged.hex").write_text(HEX_IMAGE.replace("AE\n", "AE\n\n"))
    hw = desk.open(firmware=str(build_dir))
    hw.close()
    assert hw.flash.flashed and len(fake_tools.calls()) == 2


def test_failing_flash_shows_the_tool_output_and_releases_the_board(desk, fake_tools,
                                                                    build_dir):
    fake_tools.fail("west")
    with pytest.raises(FlashError) as info:
        desk.open(firmware=str(build_dir))
    assert "There is no debugger connected" in str(info.value)
    assert "$ west flash --build-dir" in str(info.value)
    assert lock_free(desk.tmp)


def test_port_that_never_comes_back_times_out(desk, fake_tools, build_dir):
    fake_tools.port_link(desk.link, delay="never")
    with pytest.raises(PortTimeout, match="did not come back within 1.5 s"):
        desk.open(firmware=str(build_dir), runner="pyocd", ready_timeout=1.5)
    assert lock_free(desk.tmp)


def test_no_board_and_several_boards(tmp_path, sim_pty, fake_tools):
    empty = Desk(tmp_path, sim_pty, usb_serials=("001050000001",))
    with pytest.raises(DiscoveryError, match="no nrf9160dk is attached"):
        empty.open()
    two = tmp_path / "two"
    two.mkdir()
    several = Desk(two, sim_pty, usb_serials=(SN, "000960099999"))
    with pytest.raises(DiscoveryError, match="2 boards could be a nrf9160dk"):
        several.open()
    hw = several.open(board_id="960012345")
    hw.close()
    assert hw.url == str(several.link)
    assert fake_tools.calls() == []


def test_port_option_talks_to_what_answers_and_never_flashes(desk, fake_tools, sim_pty,
                                                              build_dir):
    hw = desk.open(port=sim_pty)
    try:
        assert hw.url == sim_pty and not hw.flash.flashed and hw.probe_id is None
        # The port is the DK's VCOM: locked by the DK's id, as `--board nrf9160dk` locks it.
        assert not lock_free(desk.tmp, "id-960012345")
    finally:
        hw.close()
    with pytest.raises(pytest.UsageError, match="--port .* never flashes"):
        desk.open(port=sim_pty, firmware=str(build_dir))
    assert fake_tools.calls() == []


HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from pytest_slm.link import BoardLock
    BoardLock("id-960012345", lock_dir=Path(sys.argv[1]), timeout=30,
              holder_note="pytest --board nrf9160dk (worker gw0)").acquire()
    print("locked", flush=True)
    sys.stdin.read()
""")


def test_a_board_held_by_another_process_waits_then_fails(desk, fake_tools, build_dir):
    other = subprocess.Popen([sys.executable, "-c", HOLDER, str(desk.tmp / "locks")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "locked"
        said: list[str] = []
        with pytest.raises(BoardBusy) as info:
            desk.open(said, firmware=str(build_dir), lock_timeout=0.5)
        assert f"pid {other.pid}" in str(info.value) and "worker gw0" in str(info.value)
        assert any("is in use by" in x and "waiting up to 0.5 s" in x for x in said)
        assert fake_tools.calls() == [], "nothing is flashed on a board someone else holds"
    finally:
        other.kill()
        other.wait(timeout=30)


def test_port_dying_after_it_was_opened_is_opened_again(tmp_path, sim_pty, fake_tools):
    """The probe resets a moment after the flash tool exits: the port we opened dies (reads
    fail) and a new node appears under the same by-id link."""
    desk = Desk(tmp_path, sim_pty)
    cable = UsbCable(sim_pty, desk.link)
    said: list[str] = []

    def progress(message: str) -> None:
        said.append(message)
        if message.startswith("opened") and len([m for m in said if m.startswith("opened")]) == 1:
            cable.reenumerate()

    try:
        hw = open_hardware_board(desk.settings(), progress=progress, lister=desk.ports)
        try:
            assert hw.dut.at("AT+CFUN?").value("+CFUN") == [1]
        finally:
            hw.close()
    finally:
        cable.close()
    text = "\n".join(said)
    assert "the port went away while waiting for SLM (USB re-enumeration)" in text
    assert text.count("opened") == 2 and "online after" in text


def test_port_timeout_quotes_the_timeout_given_not_what_was_left():
    """One deadline shared by several steps: the message says the wait the caller asked for
    (it used to print the remainder, "1.49999 s", which made a test flaky)."""
    import time

    from pytest_slm.link import wait_for_port

    start = time.monotonic()
    with pytest.raises(PortTimeout, match=r"did not come back within 1.5 s$"):
        wait_for_port(lambda: None, 1.5, deadline=start + 0.2)
