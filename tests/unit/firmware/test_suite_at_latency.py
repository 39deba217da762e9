"""The validation suite holds on a board behind an LTE-like link (issue: timeouts follow from what
a test proves, not from loopback speed). A slice of it, one test per kind of wait (connect, echo,
UDP, data mode, DNS, TLS handshake, accept, poll, end of stream), runs against
`slm-sim --latency 600ms --jitter 200ms` over socket://, the way a lab reaches a remote board."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SLICE = " or ".join(
    [
        "test_tcp_client_echo",
        "test_udp_sendto_recvfrom",
        "test_datamode_send_large",
        "test_recv_after_peer_close_is_plain_ok",
        "test_poll_infinite_returns_on_pending_data",
        "test_ipv4_name",
        "test_accept_with_timeout_and_talk_both_ways",
        "test_tls_recv_timeout_and_close",
    ]
)


@pytest.fixture
def lte_sim():
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firmware_ref.cli",
            "--listen",
            "127.0.0.1:0",
            "--latency",
            "600ms",
            "--jitter",
            "200ms",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = sim.stdout.readline().strip()
        assert url.startswith("socket://"), url
        yield url
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def test_suite_slice_passes_at_600ms_round_trip_with_jitter(lte_sim):
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/slm",
            "--port",
            lte_sim,
            "-k",
            SLICE,
            "-p",
            "no:cacheprovider",
            "-q",
            "-p",
            "no:xdist",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
    assert done.returncode == 0, tail
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, tail
    assert int(summary.split(" passed")[0].split()[-1]) >= 10, summary
