"""Which image each board holds, remembered across sessions so an unchanged image is not
flashed again (flashing takes tens of seconds and wears the flash).

One small JSON record per board id under the cache directory. A record is removed before a
flash starts and written only after the flash succeeded, so an interrupted flash is redone.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def default_cache_dir() -> Path:
    """PYTEST_SLM_CACHE_DIR, else $XDG_CACHE_HOME/pytest-slm, else ~/.cache/pytest-slm."""
    env = os.environ.get("PYTEST_SLM_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "pytest-slm"


@dataclass(frozen=True)
class FlashRecord:
    board_key: str
    sha256: str
    image: str
    runner: str
    when: str


class FlashCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory if directory is not None else default_cache_dir()) / "flashed"

    def _path(self, board_key: str) -> Path:
        return self.directory / (re.sub(r"[^A-Za-z0-9_.-]", "_", board_key) + ".json")

    def get(self, board_key: str) -> FlashRecord | None:
        try:
            data = json.loads(self._path(board_key).read_text(encoding="utf-8"))
            return FlashRecord(**data)
        except (OSError, ValueError, TypeError):
            # Unreadable or from another version: the board's content is unknown, so flash.
            return None

    def holds(self, board_key: str, sha256: str) -> bool:
        record = self.get(board_key)
        return record is not None and record.sha256 == sha256

    def forget(self, board_key: str) -> None:
        try:
            self._path(board_key).unlink()
        except FileNotFoundError:
            pass

    def record(self, board_key: str, sha256: str, image: str, runner: str) -> FlashRecord:
        rec = FlashRecord(board_key, sha256, image, runner, time.strftime("%Y-%m-%dT%H:%M:%S"))
        self.directory.mkdir(parents=True, exist_ok=True)
        # Write then rename: a concurrent reader sees the old record or the new one, never half.
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(rec.__dict__, fh)
        os.replace(tmp, self._path(board_key))
        return rec
