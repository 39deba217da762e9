"""One session per board: an advisory lock on a file named after the board's id.

The lock is an OS file lock (flock on POSIX, msvcrt on Windows), so it is released by the kernel
when the holder exits for any reason, crash or kill -9 included: no stale lock files to clean up.
The file's content says who holds it, for the message a waiting session prints.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Waiting for another process to let go has no notification to block on with a timeout;
# a short poll keeps the hand-over quick without measurable load.
POLL_INTERVAL = 0.2

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


class BoardBusy(Exception):
    """Another session held the board for longer than --lock-timeout."""


def default_lock_dir() -> Path:
    """PYTEST_SLM_LOCK_DIR (a lab sets one directory for all its users, e.g. group-owned with
    the setgid bit), else a directory of this user's own under the temporary directory.

    A directory shared by everyone and writable by everyone lets any user plant a symlink
    where a lock file will be opened; a per-user one cannot be tampered with by others.
    """
    env = os.environ.get("PYTEST_SLM_LOCK_DIR")
    if env:
        return Path(env)
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"pytest-slm-locks-{user}"


class LockDirError(Exception):
    """The lock directory or a lock file is not safe to use."""


def lock_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key) + ".lock"


class BoardLock:
    """`with BoardLock("nrf9160dk-960012345", timeout=600): ...` holds the board for the block."""

    def __init__(
        self,
        key: str,
        *,
        timeout: float = 600.0,
        lock_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
        holder_note: str = "",
    ) -> None:
        self.key = key
        self.timeout = timeout
        self.lock_dir = lock_dir if lock_dir is not None else default_lock_dir()
        self.path = self.lock_dir / lock_name(key)
        self.progress = progress
        self.holder_note = holder_note
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        """Who holds the lock, as the holder wrote it (best effort: it may be mid-write)."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return "another process"
        parts = [f"pid {info.get('pid', '?')} on {info.get('host', '?')}"]
        if info.get("note"):
            parts.append(str(info["note"]))
        if info.get("since"):
            parts.append(f"since {info['since']}")
        return ", ".join(parts)

    def _open(self) -> int:
        # 0o700 when we create it; an existing directory is used as its owner set it up, and
        # never chmod-ed: a path can be swapped for a symlink between a check and the chmod.
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(self.lock_dir)
        if stat.S_ISLNK(info.st_mode):
            raise LockDirError(f"lock directory {self.lock_dir} is a symlink; refusing to use it")
        if (hasattr(os, "getuid") and info.st_mode & stat.S_IWOTH
                and not info.st_mode & stat.S_ISVTX):
            raise LockDirError(
                f"lock directory {self.lock_dir} is writable by everyone without the sticky bit: "
                "anyone could replace a lock file; set PYTEST_SLM_LOCK_DIR to a safe directory"
            )
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            # O_NOFOLLOW: a symlink planted under the lock's name is refused, not followed to
            # a file of the victim's that would then be truncated.
            return os.open(self.path, flags, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise LockDirError(f"lock file {self.path} is a symlink; refusing to follow it "
                                   "(remove it)") from None
            raise

    def acquire(self) -> BoardLock:
        if self._fd is not None:
            return self
        fd = self._open()
        deadline = time.monotonic() + self.timeout
        announced = False
        try:
            while not _try_lock(fd):
                # Announced before the deadline check, so a short timeout on a loaded host
                # still says what it waited for.
                if not announced and self.timeout > 0:
                    announced = True
                    if self.progress:
                        self.progress(
                            f"board {self.key} is in use by {self.holder()}; waiting up to "
                            f"{self.timeout:g} s for it (--lock-timeout)"
                        )
                if time.monotonic() >= deadline:
                    raise BoardBusy(
                        f"board {self.key} is in use by {self.holder()}; gave up after "
                        f"--lock-timeout {self.timeout:g} s (lock file {self.path})"
                    )
                time.sleep(POLL_INTERVAL)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._write_holder()
        if announced and self.progress:
            self.progress(f"board {self.key} is ours now")
        return self

    def _write_holder(self) -> None:
        assert self._fd is not None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "note": self.holder_note,
        }
        data = json.dumps(info).encode()
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        os.write(self._fd, data)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> BoardLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()
