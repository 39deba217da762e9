"""The simulated board's process ends with the pytest that started it, however that ends."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys

import pytest

PARENT = """
import sys
from pytest_slm.simboard import SimulatorProcess
sim = SimulatorProcess(["--listen", "127.0.0.1:0"])
sim.start()
print(sim.process.pid, flush=True)
sys.stdin.read()  # until killed
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_simulator_ends_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), line
        sim_pid = int(line)
        # A pidfd becomes readable when its process ends: an event, not a poll of /proc.
        pidfd = os.pidfd_open(sim_pid)
        try:
            parent.send_signal(signal.SIGKILL)  # no teardown runs: only the kernel can tell it
            parent.wait(timeout=30)
            ended, _, _ = select.select([pidfd], [], [], 30)
        finally:
            os.close(pidfd)
        if not ended:
            os.kill(sim_pid, signal.SIGKILL)
            pytest.fail("the simulator outlived the process that started it by 30 s")
    finally:
        if parent.poll() is None:
            parent.kill()
