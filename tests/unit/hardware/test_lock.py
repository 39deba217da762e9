"""The board lock between processes: wait with a message, give up after the timeout, and die
with the holder however it ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from pytest_slm.hardware import lock_key_for
from pytest_slm.link import BoardBusy, BoardLock

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from pytest_slm.link import BoardLock
    lock = BoardLock(sys.argv[1], lock_dir=Path(sys.argv[2]), timeout=30,
                     holder_note="the other session").acquire()
    print("locked", flush=True)
    sys.stdin.read()   # hold until the test closes our stdin (or kills us)
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the board `id-960012345`."""
    procs = []

    def start(key="id-960012345"):
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, key, str(tmp_path / "locks")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "locked"
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def test_lock_is_exclusive_and_reusable(tmp_path):
    with BoardLock("id-1", lock_dir=tmp_path, timeout=0) as lock:
        assert lock.held
        with pytest.raises(BoardBusy):
            BoardLock("id-1", lock_dir=tmp_path, timeout=0).acquire()
        BoardLock("id-2", lock_dir=tmp_path, timeout=0).acquire().release()
    with BoardLock("id-1", lock_dir=tmp_path, timeout=0) as again:
        assert again.held


def test_second_process_gives_up_after_lock_timeout_naming_the_holder(tmp_path, holder):
    proc = holder()
    said: list[str] = []
    lock = BoardLock("id-960012345", lock_dir=tmp_path / "locks", timeout=0.5,
                     progress=said.append)
    with pytest.raises(BoardBusy) as info:
        lock.acquire()
    text = str(info.value)
    assert f"pid {proc.pid}" in text and "the other session" in text
    assert "--lock-timeout 0.5 s" in text
    assert said and "waiting up to 0.5 s" in said[0] and f"pid {proc.pid}" in said[0]


def test_waiter_gets_the_board_when_the_holder_exits(tmp_path, holder):
    proc = holder()
    said: list[str] = []
    waiting = threading.Event()

    def progress(message: str) -> None:
        said.append(message)
        waiting.set()

    lock = BoardLock("id-960012345", lock_dir=tmp_path / "locks", timeout=120, progress=progress)
    got = threading.Event()

    def wait_for_it():
        lock.acquire()
        got.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    # Let go only once the waiter has said it is waiting: then the hand-over is what is tested.
    assert waiting.wait(60) and not got.is_set()
    proc.stdin.close()
    proc.wait(timeout=30)
    waiter.join(timeout=60)
    assert got.is_set() and lock.held
    assert said[-1] == "board id-960012345 is ours now"
    lock.release()


def test_the_lock_dies_with_a_killed_holder(tmp_path, holder):
    proc = holder()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with BoardLock("id-960012345", lock_dir=tmp_path / "locks", timeout=30) as lock:
        assert lock.held


def test_lock_keys_follow_the_board_not_the_path_used():
    assert lock_key_for("000960012345", "/dev/ttyACM0") == lock_key_for("960012345", None)
    assert lock_key_for(None, "socket://lab:4000") == "port-socket://lab:4000"
    assert lock_key_for(None, "/dev/ttyACM0").startswith("port-/dev/")



def test_a_planted_symlink_is_refused_not_followed(tmp_path):
    """Another user plants `<lockdir>/id-1.lock -> ~victim/file`: acquiring used to chmod the
    target to 0666 and truncate it."""
    from pytest_slm.link.lock import LockDirError

    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o600)
    (locks / "id-1.lock").symlink_to(victim)
    with pytest.raises(LockDirError, match="is a symlink; refusing to follow it"):
        BoardLock("id-1", lock_dir=locks, timeout=0).acquire()
    assert victim.read_text() == "precious"
    assert victim.stat().st_mode & 0o777 == 0o600


def test_the_lock_directory_is_never_chmod_ed_and_a_world_writable_one_is_refused(tmp_path):
    from pytest_slm.link.lock import LockDirError

    private = tmp_path / "private"
    BoardLock("id-2", lock_dir=private, timeout=0).acquire().release()
    assert private.stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(LockDirError, match="writable by everyone without the sticky bit"):
        BoardLock("id-3", lock_dir=shared, timeout=0).acquire()
    assert shared.stat().st_mode & 0o777 == 0o777


def test_the_default_lock_directory_is_per_user(monkeypatch):
    from pytest_slm.link import default_lock_dir

    monkeypatch.delenv("PYTEST_SLM_LOCK_DIR", raising=False)
    assert default_lock_dir().name == f"pytest-slm-locks-{os.getuid()}"


def test_port_with_the_default_board_takes_the_lock(tmp_path):
    """`--port URL` alone (board sim) used to take no lock: two sessions drove one port."""
    from pytest_slm.boards import BoardRegistry
    from pytest_slm.settings import Settings
    from pytest_slm.sources.base import OpenContext
    from pytest_slm.sources.port import PortSource

    registry = BoardRegistry.load()
    url = "socket://127.0.0.1:7"
    settings = Settings(registry=registry, board=registry.get("sim"), port=url,
                        lock_dir=tmp_path, lock_timeout=0.2)
    first = PortSource(settings, None).open(OpenContext(settings, progress=lambda m: None))
    try:
        with pytest.raises(BoardBusy, match="board port-socket://127.0.0.1:7 is in use"):
            PortSource(settings, None).open(OpenContext(settings, progress=lambda m: None))
    finally:
        first.release()
    PortSource(settings, None).open(OpenContext(settings, progress=lambda m: None)).release()


def test_a_thingy91_port_is_locked_by_its_bridge_whatever_id_was_given(tmp_path):
    from pytest_slm.link import SerialPort

    port = tmp_path / "ttyACM0"
    port.touch()
    bridge = [SerialPort(str(port), serial_number="THINGY91_1A2B3C4D", interface=0)]
    # --port with the J-Link's id (what --board-id meant for a Thingy): still the bridge's lock,
    # the one `--board thingy91` takes.
    assert lock_key_for("683123456", str(port), lambda: bridge) == "id-THINGY91_1A2B3C4D"
    assert lock_key_for("683123456", "rfc2217://lab:7001", lambda: bridge) == "id-683123456"
