"""Twister hardware maps: parsing, platform → board mapping, and the pool's board claims."""

from __future__ import annotations

import multiprocessing
import textwrap
from pathlib import Path

import pytest

from pytest_slm.boards import BoardRegistry
from pytest_slm.hwmap import (
    BoardPool,
    HardwareMapError,
    board_for_platform,
    entry_board,
    load_hardware_map,
    load_pool,
    parse_hardware_map,
    worker_index,
)
from pytest_slm.link.lock import BoardBusy, BoardLock

# What `twister --generate-hardware-map` writes, platforms filled in by hand, plus the fields
# labs add (fixtures with parameters, runner_params, a board that is unplugged).
LAB_MAP = """\
- connected: true
  id: '000960123456'
  platform: nrf9160dk/nrf9160/ns
  product: J-Link
  runner: nrfjprog
  serial: /dev/serial/by-id/usb-SEGGER_J-Link_000960123456-if00
  baud: 115200
  fixtures: [lte_sim, 'echo_server:192.0.2.10:7']
  runner_params: [--softreset]
- connected: false
  id: '001050111111'
  platform: nrf9161dk/nrf9161/ns
  product: J-Link
  runner: nrfutil
  serial: /dev/ttyACM4
- connected: true
  id: '001051222222'
  platform: nrf9151dk/nrf9151/ns thingy91x/nrf9151/ns
  product: J-Link
  runner: nrfutil
  serial: rfc2217://lab-host-2:7001
  serial_baud: 921600
  probe_id: '000999000111'
  flash_timeout: 120
"""


@pytest.fixture(scope="module")
def registry() -> BoardRegistry:
    return BoardRegistry.load()


def write_map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_lab_map_parses_with_twisters_field_names(tmp_path: Path) -> None:
    first, unplugged, third = load_hardware_map(write_map(tmp_path, LAB_MAP))
    assert first.id == "000960123456"
    assert first.platforms == ("nrf9160dk/nrf9160/ns",)
    assert first.runner == "nrfjprog"
    assert first.product == "J-Link"
    assert first.serial.endswith("-if00")
    assert first.baud == 115200
    assert first.fixtures == ("lte_sim", "echo_server:192.0.2.10:7")
    assert first.fixture_names == {"lte_sim", "echo_server"}
    assert first.runner_params == ("--softreset",)
    assert first.connected and not unplugged.connected
    # space-separated platforms, the newer serial_baud spelling, the probe apart from the board
    assert third.platforms == ("nrf9151dk/nrf9151/ns", "thingy91x/nrf9151/ns")
    assert third.baud == 921600
    assert (third.id, third.probe_id) == ("001051222222", "000999000111")
    assert third.flash_timeout == 120.0


def test_numeric_ids_stay_strings() -> None:
    # YAML reads an unquoted J-Link serial number as an int; leading zeros must not matter.
    (entry,) = parse_hardware_map([{"id": 960123456, "platform": "sim", "serial": "/dev/pts/3"}])
    assert entry.id == "960123456"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": 1}, "YAML list"),
        ([{"serial": "/dev/ttyACM0"}], "'platform' is missing"),
        ([{"platform": "sim"}], "needs 'serial'"),
        ([{"platform": "sim", "serial": "x", "baud": "fast"}], "not a number"),
        ([["not", "a", "mapping"]], "must be a mapping"),
        ([{"platform": {"a": 1}, "serial": "x"}], "'platform' must be"),
    ],
)
def test_malformed_maps_name_the_entry(data: object, message: str) -> None:
    with pytest.raises(HardwareMapError, match=message):
        parse_hardware_map(data, "lab.yaml")


def test_unreadable_map_is_reported(tmp_path: Path) -> None:
    with pytest.raises(HardwareMapError, match="--hardware-map"):
        load_hardware_map(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- [unclosed", encoding="utf-8")
    with pytest.raises(HardwareMapError, match="not valid YAML"):
        load_hardware_map(bad)


@pytest.mark.parametrize(
    ("platform", "board"),
    [
        ("nrf9160dk/nrf9160/ns", "nrf9160dk"),
        ("nrf9160dk_nrf9160_ns", "nrf9160dk"),  # twister before hardware model v2 (NCS v2.0)
        ("thingy91/nrf9160/ns", "thingy91"),
        ("nrf9161dk/nrf9161/ns", "nrf9161dk"),
        ("nrf9151dk/nrf9151/ns", "nrf9151dk"),
        ("thingy91x/nrf9151/ns", "thingy91x"),
        ("sim", "sim"),
    ],
)
def test_platforms_map_to_boards_by_zephyr_target(
    registry: BoardRegistry, platform: str, board: str
) -> None:
    found = board_for_platform(platform, registry)
    assert found is not None and found.name == board


def test_an_unknown_platform_says_what_is_known(registry: BoardRegistry) -> None:
    (entry,) = parse_hardware_map([{"platform": "qemu_x86", "serial": "/dev/pts/1"}])
    with pytest.raises(HardwareMapError, match="qemu_x86 matches no board.*nrf9160dk/nrf9160/ns"):
        entry_board(entry, registry)


def test_the_pool_keeps_connected_boards_that_fit(registry: BoardRegistry) -> None:
    import yaml

    entries = parse_hardware_map(yaml.safe_load(LAB_MAP))
    pool = BoardPool(entries, registry)
    assert [board.name for _, board in pool.members] == ["nrf9160dk", "nrf9151dk"]
    assert len(BoardPool(entries, registry, board="nrf9151dk")) == 1
    assert len(BoardPool(entries, registry, fixtures=["echo_server"])) == 1
    assert len(BoardPool(entries, registry, fixtures=["gnss_antenna"])) == 0


def sim_map(count: int) -> list:
    return parse_hardware_map(
        [
            {"id": f"sim-{i}", "platform": "sim", "serial": f"socket://127.0.0.1:{7000 + i}"}
            for i in range(count)
        ]
    )


def test_workers_start_from_their_own_slot(registry: BoardRegistry, tmp_path: Path) -> None:
    pool = BoardPool(sim_map(3), registry)
    claims = [pool.claim(worker=w, timeout=0, lock_dir=tmp_path) for w in ("gw1", "gw0", "gw2")]
    try:
        assert [c.entry.id for c in claims] == ["sim-1", "sim-0", "sim-2"]
        assert claims[0].info["worker"] == "gw1"
        assert claims[0].info["board"] == "sim"
        assert claims[0].url == "socket://127.0.0.1:7001"
    finally:
        for claim in claims:
            claim.release()


def test_a_busy_board_is_skipped_for_a_free_one(registry: BoardRegistry, tmp_path: Path) -> None:
    pool = BoardPool(sim_map(2), registry)
    with BoardLock(pool.members[0][0].lock_key, timeout=0, lock_dir=tmp_path):
        claim = pool.claim(worker="gw0", timeout=0, lock_dir=tmp_path)
        assert claim.entry.id == "sim-1"
        claim.release()


def test_a_full_pool_waits_then_names_the_holders(registry: BoardRegistry, tmp_path: Path) -> None:
    pool = BoardPool(sim_map(1), registry)
    first = pool.claim(worker="gw0", timeout=0, lock_dir=tmp_path)
    try:
        messages: list[str] = []
        with pytest.raises(BoardBusy, match="every board of the hardware map is in use.*pid"):
            pool.claim(worker="gw1", timeout=0.5, lock_dir=tmp_path, progress=messages.append)
        assert messages and "waiting up to" in messages[0]
    finally:
        first.release()
    again = pool.claim(worker="gw1", timeout=0, lock_dir=tmp_path)
    again.release()


def test_processes_contending_for_the_same_slot_get_different_boards(tmp_path: Path) -> None:
    # Two "master" sessions (two pytest runs) both start at slot 0; the flock decides.
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()
    hold = ctx.Event()
    procs = [ctx.Process(target=_hold_claim, args=(str(tmp_path), results, hold)) for _ in range(2)]
    for proc in procs:
        proc.start()
    try:
        got = sorted(results.get(timeout=60) for _ in procs)
    finally:
        hold.set()
        for proc in procs:
            proc.join(timeout=60)
    assert got == ["sim-0", "sim-1"]


def _hold_claim(lock_dir: str, results: multiprocessing.Queue, hold) -> None:
    pool = BoardPool(sim_map(2), BoardRegistry.load())
    claim = pool.claim(worker="master", timeout=30, lock_dir=Path(lock_dir))
    results.put(claim.entry.id)
    hold.wait(60)
    claim.release()


def test_worker_index() -> None:
    assert [worker_index(w) for w in ("master", "gw0", "gw7", "gwx")] == [0, 0, 7, 0]


def test_more_workers_than_boards_is_refused_up_front(
    registry: BoardRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_map(tmp_path, "- {platform: sim, serial: 'socket://127.0.0.1:1'}\n")
    with pytest.raises(HardwareMapError, match="-n 2 needs 2 boards.*use -n 1"):
        load_pool(path, registry, workers=2)


def test_a_serial_pty_entry_runs_its_script_on_a_pty(
    registry: BoardRegistry, tmp_path: Path
) -> None:
    """Twister maps may give a script instead of a port; it is run with its stdio on a pty."""
    import sys

    import serial

    script = tmp_path / "board.py"
    script.write_text(
        "import sys\nsys.stdout.write('Ready\\r\\n')\nsys.stdout.flush()\nsys.stdin.readline()\n"
    )
    (entry,) = parse_hardware_map(
        [{"id": "pty-board", "platform": "sim", "serial_pty": f"{sys.executable} {script}"}]
    )
    claim = BoardPool([entry], registry).claim(timeout=0, lock_dir=tmp_path)
    try:
        path = claim.url
        assert path.startswith("/dev/") and claim.url == path
        with serial.serial_for_url(path, timeout=10) as port:
            assert port.read_until(b"Ready\r\n").endswith(b"Ready\r\n")
    finally:
        claim.release()
    assert claim._pty_process is None


THINGY_AND_ITS_PROGRAMMER = """\
- connected: true
  id: THINGY91_1A2B3C4D
  probe_id: '000960011111'
  platform: thingy91/nrf9160/ns
  runner: nrfjprog
  serial: /dev/serial/by-id/usb-Nordic_Semiconductor_Thingy:91_UART_THINGY91_1A2B3C4D-if00
- connected: true
  id: '000960011111'
  platform: nrf9160dk/nrf9160/ns
  runner: nrfjprog
  serial: /dev/serial/by-id/usb-SEGGER_J-Link_000960011111-if00
"""


def test_a_thingy91_entry_is_found_by_its_bridge_and_flashed_through_its_probe(
    registry: BoardRegistry, tmp_path: Path
) -> None:
    from pytest_slm.hwmap import hardware_settings
    from pytest_slm.settings import Settings

    pool = BoardPool(load_hardware_map(write_map(tmp_path, THINGY_AND_ITS_PROGRAMMER)), registry)
    # The DK wired to the Thingy's debug connector is its programmer, not a board under test.
    assert [e.id for e, _ in pool.members] == ["THINGY91_1A2B3C4D"]
    assert [e.id for e in pool.programmers] == ["000960011111"]
    claim = pool.claim(timeout=0, lock_dir=tmp_path)
    try:
        settings = Settings(registry=registry, board=registry.get("sim"))
        hw = hardware_settings(claim, settings)
        # A local port: found by the bridge's serial and flashed (it used to be opened as a
        # --port and never flashed), through the J-Link the map names.
        assert (hw.port, hw.board_id, hw.probe_id) == (None, "THINGY91_1A2B3C4D", "000960011111")
        assert hw.held_locks == {"id-THINGY91_1A2B3C4D"}
    finally:
        claim.release()


def test_a_map_of_real_boards_without_peer_host_is_a_usage_error(pytester) -> None:
    """Checked at configure time: the map is read there, and its DKs cannot reach loopback."""
    hwmap = pytester.path / "map.yaml"
    hwmap.write_text(
        "- {id: '000960123456', platform: nrf9160dk/nrf9160/ns, "
        "serial: 'rfc2217://lab-host:7001'}\n"
    )
    pytester.makepyfile("def test_never(slm):\n    raise AssertionError('collected')\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--hardware-map={hwmap}", timeout=120
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        f"a real board (the boards of --hardware-map {hwmap}) cannot reach peers on this "
        "host's loopback" in result.stderr.str()
    )
    broken = pytester.path / "broken.yaml"
    broken.write_text("- {platform: nrf9160dk/nrf9160/ns}\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--hardware-map={broken}", "--peer-host=127.0.0.1", timeout=120
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "needs 'serial' (a port or pyserial URL) or 'serial_pty'" in result.stderr.str()
