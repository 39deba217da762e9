"""What the fake flash tools share: argv recording, the attached-probe list, failure injection,
and the USB re-enumeration a real board goes through after it is reset.

Environment (all optional):
  SLM_FAKE_LOG            file to append one JSON line per invocation: {"tool", "argv", "cwd"}
  SLM_FAKE_PROBES         comma-separated probe serial numbers "attached" (default: any id works)
  SLM_FAKE_FAIL           comma-separated tool names (`west`) or tool:subcommand (`nrfutil:reset`)
                          that fail the way the real tool does when the probe stops answering
  SLM_FAKE_PORT_LINK      a symlink standing for the board's port: removed when the board resets,
  SLM_FAKE_REENUMERATE    and recreated this many seconds later by a detached process
                          (`never`: the board does not come back, as after a bad image)
  SLM_FAKE_HANG           a tool name: that tool starts a child (its probe driver) that never
                          ends, writes the child's pid to SLM_FAKE_HANG_PID, and waits for it
  SLM_FAKE_NRFUTIL        `legacy`: nrfutil is the pip package (no `device` command)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def record(tool: str, argv: list[str]) -> None:
    path = os.environ.get("SLM_FAKE_LOG")
    if not path:
        return
    line = json.dumps({"tool": tool, "argv": argv, "cwd": os.getcwd()})
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def probes() -> list[str] | None:
    env = os.environ.get("SLM_FAKE_PROBES")
    if env is None:
        return None
    return [p.strip() for p in env.split(",") if p.strip()]


def probe_attached(serial: str | None) -> bool:
    attached = probes()
    if attached is None:
        return True
    if serial is None:
        return len(attached) > 0
    return any(_same_probe(serial, p) for p in attached)


def _same_probe(a: str, b: str) -> bool:
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a.upper() == b.upper()


def should_fail(tool: str, sub: str | None = None) -> bool:
    wanted = {w.strip() for w in os.environ.get("SLM_FAKE_FAIL", "").split(",") if w.strip()}
    return tool in wanted or (sub is not None and f"{tool}:{sub}" in wanted)


def out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def reenumerate() -> None:
    """The board resets: its USB serial port vanishes now and comes back a little later."""
    link = os.environ.get("SLM_FAKE_PORT_LINK")
    if not link or not os.path.islink(link):
        return
    target = os.readlink(link)
    os.unlink(link)
    delay_text = os.environ.get("SLM_FAKE_REENUMERATE", "0.5")
    if delay_text == "never":
        return
    delay = float(delay_text)
    code = (
        "import os, sys, time; time.sleep(float(sys.argv[3])); "
        "os.symlink(sys.argv[1], sys.argv[2])"
    )
    # Detached, like the kernel: the port returns after the tool has already exited.
    subprocess.Popen(
        [sys.executable, "-c", code, target, link, str(delay)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def valid_hex(path: str) -> bool:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        return False
    return first.startswith(":")


def hang_if_asked(tool: str) -> None:
    """Start a child that holds the probe forever, as nrfjprog under west does, and wait on it."""
    if os.environ.get("SLM_FAKE_HANG") != tool:
        return
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    pid_file = os.environ.get("SLM_FAKE_HANG_PID")
    if pid_file:
        with open(pid_file, "w", encoding="utf-8") as fh:
            fh.write(str(child.pid))
    out(f"{tool}: waiting for the probe\n")
    child.wait()
    sys.exit(1)


def reported_id(serial: str) -> str:
    """A J-Link's id as the tools report it: unpadded (the USB serial number is zero-padded)."""
    return serial.lstrip("0") or "0" if serial.isdigit() else serial
