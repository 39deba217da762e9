"""Flashing through the fake west/pyocd/nrfutil: exact command lines, the skip-if-unchanged
cache, failures that show the tool's output."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest
from hwsupport import HEX_IMAGE, make_build_dir, west_flash_argv

from pytest_slm.boards import BoardRegistry
from pytest_slm.flash import (
    FirmwareError,
    FlashCache,
    FlashError,
    board_key,
    default_cache_dir,
    flash_board,
    resolve_firmware,
    run_command,
)

REGISTRY = BoardRegistry.load()
DK = REGISTRY.get("nrf9160dk")
OTHER_IMAGE = HEX_IMAGE.replace("0D010000", "0D020000").replace("AE\n", "AD\n")


def flash(firmware, runner=None, mode="auto", probe="960012345", board=DK, **kw):
    lines: list[str] = []
    outcome = flash_board(
        board,
        str(firmware) if firmware else None,
        probe_id=probe,
        mode=mode,
        runner=runner,
        progress=lines.append,
        **kw,
    )
    return outcome, lines


# ------------------------------------------------------------------------------ firmware paths


def test_build_dir_means_its_zephyr_merged_hex(build_dir):
    image = resolve_firmware(build_dir)
    assert image.hex_path == build_dir / "zephyr" / "merged.hex"
    assert image.build_dir == build_dir
    assert len(image.sha256) == 64


def sysbuild_dir(root: Path) -> Path:
    """An NCS sysbuild directory: the domain list on top, the app's build below it."""
    make_build_dir(root / "slm")
    (root / "slm" / "zephyr" / "merged.hex").unlink()
    (root / "merged.hex").write_text(HEX_IMAGE)
    shutil.copy(root / "slm" / "CMakeCache.txt", root / "CMakeCache.txt")
    (root / "domains.yaml").write_text(
        f"default: slm\nbuild_dir: {root}\ndomains:\n  - name: slm\n"
        f"    build_dir: {root / 'slm'}\nflash_order:\n  - slm\n"
    )
    return root


def test_sysbuild_dir_uses_top_level_merged_hex(tmp_path):
    build = sysbuild_dir(tmp_path / "build")
    image = resolve_firmware(build)
    assert image.hex_path == build / "merged.hex"
    assert image.build_dir == build


def test_west_flashes_a_sysbuild_dir(fake_tools, tmp_path):
    build = sysbuild_dir(tmp_path / "build")
    outcome, _ = flash(build / "merged.hex", runner="west")
    assert outcome.flashed
    assert fake_tools.argvs()[0][:4] == ["west", "flash", "--build-dir", str(build)]


def test_hex_inside_a_build_dir_remembers_the_build_dir(build_dir):
    image = resolve_firmware(build_dir / "zephyr" / "merged.hex")
    assert image.build_dir == build_dir


def test_bare_hex_has_no_build_dir(tmp_path):
    (tmp_path / "slm.hex").write_text(HEX_IMAGE)
    assert resolve_firmware(tmp_path / "slm.hex").build_dir is None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p.mkdir(), "holds no image to flash.*zephyr/merged.hex"),
        (lambda p: p.write_text("x"), "expected an Intel HEX image"),
        (lambda p: None, "no such file or directory"),
    ],
)
def test_bad_firmware_paths_are_explained(tmp_path, setup, message):
    target = tmp_path / "fw.bin"
    setup(target)
    with pytest.raises(FirmwareError, match=message):
        resolve_firmware(target)


# ---------------------------------------------------------------------------- command lines


def test_west_command_line(fake_tools, build_dir):
    outcome, lines = flash(build_dir, runner="west")
    assert outcome.flashed
    assert fake_tools.argvs() == [west_flash_argv(str(build_dir))]
    # From the build's own workspace: elsewhere `flash` is no west command.
    assert fake_tools.calls()[0]["cwd"] == str(build_dir.parent / "ncs")
    assert any("Board with serial number 960012345 flashed successfully" in x for x in lines)


def test_west_runner_comes_from_the_board_file(fake_tools, build_dir):
    board = REGISTRY.get("nrf9161dk")
    flash(build_dir, board=board, probe="1050123456")
    assert fake_tools.argvs() == [west_flash_argv(build_dir, runner="nrfutil", dev_id="1050123456")]


def test_pyocd_command_line(fake_tools, build_dir):
    outcome, lines = flash(build_dir, runner="pyocd")
    assert outcome.flashed
    hex_path = str(build_dir / "zephyr" / "merged.hex")
    assert fake_tools.argvs() == [
        ["pyocd", "flash", "-W", "-t", "nrf91", "--uid", "960012345", hex_path]
    ]
    # pyocd redraws its bar with bare CRs; each state still shows as its own progress line.
    assert "pyocd: [==================================================] 100%" in lines


def test_nrfutil_programs_then_resets(fake_tools, build_dir):
    outcome, lines = flash(build_dir, runner="nrfutil")
    assert outcome.flashed
    hex_path = str(build_dir / "zephyr" / "merged.hex")
    assert fake_tools.argvs() == [
        # nRF Util 7+ first: the pip package of the same name has no `device` command.
        ["nrfutil", "device", "--version"],
        [
            "nrfutil",
            "device",
            "program",
            "--firmware",
            hex_path,
            "--serial-number",
            "960012345",
            "--options",
            "chip_erase_mode=ERASE_RANGES_TOUCHED_BY_FIRMWARE",
        ],
        ["nrfutil", "device", "reset", "--serial-number", "960012345"],
    ]
    assert any("Programmed" in x for x in lines) and any("Reset successfully" in x for x in lines)


def test_board_default_runner_is_used(fake_tools, build_dir):
    outcome, _ = flash(build_dir, board=REGISTRY.get("nrf9161dk"), probe="1050123456")
    assert outcome.runner == "west"
    assert fake_tools.argvs()[0][:2] == ["west", "flash"]


def test_west_refuses_a_bare_hex_and_says_what_to_do(fake_tools, tmp_path):
    (tmp_path / "slm.hex").write_text(HEX_IMAGE)
    with pytest.raises(FlashError) as info:
        flash(tmp_path / "slm.hex", runner="west")
    text = str(info.value)
    assert "build directory" in text and "--slm-runner nrfutil" in text
    assert fake_tools.calls() == []


def test_a_bare_hex_flashes_with_nrfutil_and_pyocd(fake_tools, tmp_path):
    image = tmp_path / "slm.hex"
    image.write_text(HEX_IMAGE)
    flash(image, runner="nrfutil")
    flash(image, runner="pyocd", mode="always")
    assert [a[:3] for a in fake_tools.argvs()] == [
        ["nrfutil", "device", "--version"],
        ["nrfutil", "device", "program"],
        ["nrfutil", "device", "reset"],
        ["pyocd", "flash", "-W"],
    ]


def test_nrfutil_always_gets_a_selector(fake_tools, build_dir):
    # Without --serial-number nRF Util acts on whatever it lists; with two kits attached that
    # is the wrong board or both.
    fake_tools.attach("960012345", "960099999")
    with pytest.raises(FlashError, match="nrfutil needs the probe's serial number"):
        flash(build_dir, runner="nrfutil", probe=None)
    assert fake_tools.argvs() == [["nrfutil", "device", "--version"]]


# --------------------------------------------------------------------------- skip if unchanged


def test_second_session_skips_and_a_new_image_flashes_again(fake_tools, tmp_path, build_dir):
    first, _ = flash(build_dir)
    # A new FlashCache reads the record from disk, as the next pytest session would.
    second, _ = flash(build_dir, cache=FlashCache())
    assert first.flashed and not second.flashed
    assert "already holds image" in second.reason
    assert len(fake_tools.calls()) == 1
    (build_dir / "zephyr" / "merged.hex").write_text(OTHER_IMAGE)
    third, _ = flash(build_dir)
    assert third.flashed and third.image.sha256 != first.image.sha256
    assert len(fake_tools.calls()) == 2


def test_the_cache_is_per_board(fake_tools, build_dir):
    flash(build_dir, probe="960012345")
    outcome, _ = flash(build_dir, probe="960099999")
    assert outcome.flashed
    assert [a[-1] for a in fake_tools.argvs()] == ["960012345", "960099999"]


def test_always_and_never(fake_tools, build_dir):
    flash(build_dir)
    again, _ = flash(build_dir, mode="always")
    never, _ = flash(build_dir, mode="never")
    assert again.flashed and not never.flashed
    assert len(fake_tools.calls()) == 2


def test_no_firmware_means_no_flash_unless_always(fake_tools):
    outcome, _ = flash(None)
    assert not outcome.flashed and "no --firmware" in outcome.reason
    with pytest.raises(FlashError, match="--flash always needs --firmware"):
        flash(None, mode="always")


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("PYTEST_SLM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "pytest-slm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "pytest-slm"


def test_board_key_names_board_and_probe():
    assert board_key(DK, "960012345") == "nrf9160dk-960012345"
    assert board_key(DK, None) == "nrf9160dk"


# ---------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("runner", "fail", "said"),
    [
        ("west", "west", "There is no debugger connected with the serial number 960012345"),
        ("pyocd", "pyocd", "Error programming flash: memory transfer fault"),
        ("nrfutil", "nrfutil:program", "Failed to write to memory at address 0x00008000"),
        ("nrfutil", "nrfutil:reset", "Failed to reset device"),
    ],
)
def test_a_failing_flash_shows_the_command_and_the_tools_output(
    fake_tools, build_dir, runner, fail, said
):
    fake_tools.fail(fail)
    with pytest.raises(FlashError) as info:
        flash(build_dir, runner=runner)
    text = str(info.value)
    assert "failed (exit status 1)" in text
    assert f"$ {runner}" in text and said in text
    assert info.value.returncode == 1


def test_a_failed_flash_is_redone_next_time(fake_tools, build_dir):
    flash(build_dir)
    (build_dir / "zephyr" / "merged.hex").write_text(OTHER_IMAGE)
    fake_tools.fail("west")
    with pytest.raises(FlashError):
        flash(build_dir)
    # The board's content is unknown now: even the first image is flashed again.
    (build_dir / "zephyr" / "merged.hex").write_text(HEX_IMAGE)
    fake_tools.fail()
    outcome, _ = flash(build_dir)
    assert outcome.flashed


def test_probe_not_attached_is_the_tools_own_message(fake_tools, build_dir):
    fake_tools.attach("960099999")
    with pytest.raises(FlashError, match="No debug probe with serial number 960012345 found"):
        flash(build_dir, runner="nrfutil")
    with pytest.raises(FlashError, match="No connected debug probes match unique ID"):
        flash(build_dir, runner="pyocd")


def test_west_runner_the_build_does_not_offer(fake_tools, tmp_path):
    build = make_build_dir(tmp_path / "b", runners=("nrfutil",))
    with pytest.raises(
        FlashError,
        match=r"offers the runners nrfutil \(zephyr/runners.yaml\), "
        "not nrfjprog that board nrf9160dk names",
    ):
        flash(build, runner="west")
    assert fake_tools.calls() == []


def test_a_missing_tool_is_named(fake_tools, build_dir, monkeypatch):
    monkeypatch.setenv("PATH", str(build_dir))
    with pytest.raises(FlashError, match="west is not installed or not on PATH"):
        flash(build_dir)


def test_a_hanging_tool_is_killed_at_the_timeout(tmp_path):
    sleeper = tmp_path / "hang"
    sleeper.write_text("#!/bin/sh\necho erasing\nexec sleep 600\n")
    sleeper.chmod(0o755)
    lines: list[str] = []
    with pytest.raises(FlashError, match="did not finish within 0.5 s") as info:
        run_command([str(sleeper)], timeout=0.5, progress=lines.append)
    assert "erasing" in str(info.value)


def test_unknown_runner_or_board_without_runner(fake_tools, build_dir):
    with pytest.raises(FlashError, match="unknown flash runner 'jlink'"):
        flash(build_dir, runner="jlink")
    bare = dataclasses.replace(DK, runner=None)
    with pytest.raises(FlashError, match="--slm-runner"):
        flash(build_dir, board=bare)


def test_fake_tools_are_python_scripts_with_a_portable_shebang():
    from hwsupport import FAKES_BIN

    for name in ("west", "pyocd", "nrfutil"):
        path = FAKES_BIN / name
        assert path.read_text().startswith("#!/usr/bin/env python3\n")
        assert shutil.which(name, path=str(FAKES_BIN)) == str(path)


# ------------------------------------------------------------------ the real tools' unkindness


def test_a_padded_and_an_unpadded_id_are_one_board(fake_tools, build_dir):
    """Hardware maps carry the USB serial (`000960012345`), people type the J-Link id: both
    must find the same record, or a stale one skips a needed flash."""
    first, _ = flash(build_dir, probe="000960012345")
    second, _ = flash(build_dir, probe="960012345", cache=FlashCache())
    assert first.flashed and not second.flashed
    assert board_key(DK, "000960012345") == board_key(DK, "960012345") == "nrf9160dk-960012345"


def test_pyocd_gets_the_unpadded_uid_and_never_waits(fake_tools, build_dir):
    """pyocd matches the J-Link's id unpadded, and without -W it waits for a probe to appear
    until it is killed: with the board off it would sit out the whole flash timeout."""
    fake_tools.attach("000960012345")
    outcome, _ = flash(build_dir, runner="pyocd", probe="000960012345")
    assert outcome.flashed
    assert fake_tools.argvs()[-1][:7] == [
        "pyocd",
        "flash",
        "-W",
        "-t",
        "nrf91",
        "--uid",
        "960012345",
    ]
    fake_tools.attach()
    with pytest.raises(FlashError) as info:
        flash(build_dir, runner="pyocd", mode="always", timeout=30)
    text = str(info.value)
    assert "No connected debug probes match unique ID '960012345'" in text
    assert "SEGGER J-Link software is installed" in text and "udev" in text


def test_west_outside_a_workspace_says_so(fake_tools, tmp_path):
    build = make_build_dir(tmp_path / "build", workspace=tmp_path / "not-a-workspace")
    with pytest.raises(FlashError, match="is not inside a west workspace"):
        flash(build, runner="west")
    assert fake_tools.calls() == []


def test_west_never_rebuilds_with_the_flag_its_zephyr_knows(fake_tools, tmp_path):
    """NCS 2.x's Zephyr knows only --skip-rebuild; newer ones --no-rebuild. Without either the
    fake, like west, re-runs cmake, which fails for a build copied from CI."""
    old = make_build_dir(tmp_path / "old" / "build", rebuild_option=False)
    outcome, _ = flash(old, runner="west")
    assert outcome.flashed
    assert fake_tools.argvs()[-1][4] == "--skip-rebuild"
    new = make_build_dir(tmp_path / "new" / "build", rebuild_option=True)
    flash(new, runner="west", cache=FlashCache(tmp_path / "c2"))
    assert fake_tools.argvs()[-1][4] == "--no-rebuild"


def assert_gone(pid: int) -> None:
    """The flash tool's killed child is gone within 10 s."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        # The killed child is reaped by init; poll its disappearance briefly.
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_timeout_kills_the_tools_children_too(fake_tools, build_dir, monkeypatch, tmp_path):
    """west runs nrfjprog, which keeps the probe: killing west alone leaves it running."""
    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("SLM_FAKE_HANG", "west")
    monkeypatch.setenv("SLM_FAKE_HANG_PID", str(pid_file))
    with pytest.raises(FlashError, match="killed with every process it started"):
        flash(build_dir, runner="west", timeout=3)
    assert_gone(int(pid_file.read_text()))


def test_nrfutil_must_be_nrf_util_7(fake_tools, build_dir, monkeypatch):
    monkeypatch.setenv("SLM_FAKE_NRFUTIL", "legacy")
    with pytest.raises(FlashError, match="this nrfutil has no `device` command.*nRF Util 7"):
        flash(build_dir, runner="nrfutil")
    assert fake_tools.argvs() == [["nrfutil", "device", "--version"]]


@pytest.mark.parametrize(
    "runner,expected",
    [
        (
            "west",
            [west_flash_argv("{b}", "--erase")],
        ),
        (
            "pyocd",
            [
                [
                    "pyocd",
                    "flash",
                    "-W",
                    "-t",
                    "nrf91",
                    "--uid",
                    "960012345",
                    "--erase",
                    "chip",
                    "{b}/zephyr/merged.hex",
                ]
            ],
        ),
        (
            "nrfutil",
            [
                ["nrfutil", "device", "--version"],
                ["nrfutil", "device", "recover", "--serial-number", "960012345"],
                [
                    "nrfutil",
                    "device",
                    "program",
                    "--firmware",
                    "{b}/zephyr/merged.hex",
                    "--serial-number",
                    "960012345",
                    "--options",
                    "chip_erase_mode=ERASE_ALL",
                ],
                ["nrfutil", "device", "reset", "--serial-number", "960012345"],
            ],
        ),
    ],
)
def test_flash_erase_maps_to_each_runners_full_erase(fake_tools, build_dir, runner, expected):
    flash(build_dir, runner=runner, erase=True)
    # --flash-erase always flashes: the cache cannot know what an erase removed.
    flash(build_dir, runner=runner, erase=True)
    want = [[a.replace("{b}", str(build_dir)) for a in cmd] for cmd in expected]
    assert fake_tools.argvs() == want * 2


def test_thingy91x_programs_through_mcuboot_serial_recovery(fake_tools, tmp_path):
    board = REGISTRY.get("thingy91x")
    build = make_build_dir(tmp_path / "build")
    with pytest.raises(FlashError, match="takes the build's dfu_application.zip"):
        flash(build, runner="nrfutil", board=board, probe="THINGY91X_0A1B2C3D4E")
    (build / "dfu_application.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    outcome, _ = flash(build, runner="nrfutil", board=board, probe="THINGY91X_0A1B2C3D4E")
    assert outcome.flashed
    assert fake_tools.argvs()[-1] == [
        "nrfutil",
        "device",
        "program",
        "--firmware",
        str(build / "dfu_application.zip"),
        "--serial-number",
        "THINGY91X_0A1B2C3D4E",
        "--traits",
        "mcuboot",
    ]


# Each session starts as an interactive one does, with Ctrl-C raising KeyboardInterrupt: a run
# started from a non-interactive shell's background job inherits SIGINT ignored, and Python
# keeps it so.
CTRL_C = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from pytest_slm.flash import run_command
try:
    run_command(["west", "flash"], timeout=300)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_kills_the_tools_children_too(fake_tools, monkeypatch, tmp_path):
    import signal
    import subprocess
    import sys

    pid_file = tmp_path / "child.pid"
    monkeypatch.setenv("SLM_FAKE_HANG", "west")
    monkeypatch.setenv("SLM_FAKE_HANG_PID", str(pid_file))
    (tmp_path / ".west").mkdir()  # west's workspace check passes; it then hangs on its child
    session = subprocess.Popen(
        [sys.executable, "-c", CTRL_C], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the fake west never started its child"
            time.sleep(0.05)
        child = int(pid_file.read_text())
        session.send_signal(signal.SIGINT)
        out, _ = session.communicate(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
    assert out.strip() == "interrupted"
    assert_gone(child)


CTRL_C_AS_IT_STARTS = """
import os, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from pytest_slm.flash import run_command

started = subprocess.Popen.__init__

def start_then_ctrl_c(self, *args, **kwargs):
    started(self, *args, **kwargs)
    with open(sys.argv[1], "w") as pid_file:
        pid_file.write(str(self.pid))
    os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, the moment the tool exists

subprocess.Popen.__init__ = start_then_ctrl_c
try:
    run_command(["west", "flash"], timeout=300)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_while_the_tool_starts_still_kills_it(fake_tools, monkeypatch, tmp_path):
    """A Ctrl-C between the tool's start and run_command taking charge of it (a loaded host
    makes that window long) left west running, unowned, and the interpreter hung at exit."""
    import os
    import signal
    import subprocess
    import sys

    monkeypatch.setenv("SLM_FAKE_HANG", "west")
    (tmp_path / ".west").mkdir()
    pid_file = tmp_path / "tool.pid"
    # The tool's pid goes through a file, not the session's stdout: a readline() before
    # communicate() can buffer the "interrupted" line too, which communicate() then never sees
    # (it reads the pipe itself). A loaded host, slow to read, made that a flake.
    session = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_AS_IT_STARTS, str(pid_file)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tool = None
    try:
        out, err = session.communicate(timeout=60)
        tool = int(pid_file.read_text())
        assert out.strip() == "interrupted", (session.returncode, err)
        # run_command reaped what it killed: the tool's pid is gone, not a zombie.
        with pytest.raises(ProcessLookupError):
            os.kill(tool, 0)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
        if tool is None and pid_file.exists() and pid_file.read_text():
            tool = int(pid_file.read_text())
        if tool is not None:
            try:
                os.killpg(tool, signal.SIGKILL)  # the tool's own group, if the test failed
            except ProcessLookupError:
                pass


@pytest.mark.parametrize(
    "board_name,offered,wanted",
    [
        # An nRF9161 DK build from a Zephyr older than its nrfutil runner.
        ("nrf9161dk", ("nrfjprog", "jlink"), "nrfutil"),
        ("nrf9151dk", ("nrfjprog", "jlink"), "nrfutil"),
        # The Thingy:91 X's board files offer west no pyocd runner.
        ("thingy91x", ("nrfutil", "jlink"), None),
    ],
)
def test_runners_yaml_per_board_and_zephyr(fake_tools, tmp_path, board_name, offered, wanted):
    board = REGISTRY.get(board_name)
    build = make_build_dir(tmp_path / "build", runners=offered)
    if wanted is None:
        # thingy91x's west_runner (nrfutil) is offered: west runs with it.
        assert board.west_runner in offered
        flash(build, runner="west", board=board, probe="THINGY91X_0A1B2C3D4E")
        assert fake_tools.argvs()[0][5:7] == ["--runner", "nrfutil"]
        return
    with pytest.raises(
        FlashError,
        match=f"offers the runners {', '.join(offered)} .* not "
        f"{wanted} that board {board_name} names",
    ):
        flash(build, runner="west", board=board, probe="1050123456")
    assert fake_tools.calls() == []
