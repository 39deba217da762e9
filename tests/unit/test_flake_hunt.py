"""`scripts/flake-hunt` stops cleanly: one line, no traceback, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_stops_the_hunt_with_one_line(tmp_path: Path) -> None:
    hunt = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "flake-hunt"), "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, TMPDIR=str(tmp_path)),
    )
    assert hunt.stdout is not None
    header = hunt.stdout.readline()  # printed inside the hunt's cleanup scope, before the clone
    assert header.startswith("flake-hunt: 1 run(s) of: CI=true .ci/run on fresh clones of ")
    hunt.send_signal(signal.SIGTERM)
    out, err = hunt.communicate(timeout=60)
    assert hunt.returncode == 130
    assert err == "flake-hunt: stopped\n"
    assert list(tmp_path.glob("flake-hunt-*")) == []  # the clone's directory is gone
