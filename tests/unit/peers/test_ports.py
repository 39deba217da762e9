"""unused_port: free now, and never one the kernel hands out by itself."""

from __future__ import annotations

import socket

import pytest

from pytest_slm.peers import ports
from pytest_slm.peers.ports import unused_port


def _ephemeral_range() -> tuple[int, int]:
    low, high = ports._PORT_RANGE.read_text().split()
    return int(low), int(high)


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM], ids=["tcp", "udp"])
def test_a_port_below_the_ephemeral_range_that_binds(kind) -> None:
    low, _ = _ephemeral_range()
    port = unused_port("127.0.0.1", kind)
    assert 1024 <= port < low
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", port))


def test_follows_the_hosts_ephemeral_range(tmp_path, monkeypatch) -> None:
    setting = tmp_path / "ip_local_port_range"
    setting.write_text("20000\t60999\n")
    monkeypatch.setattr(ports, "_PORT_RANGE", setting)
    assert all(20000 - ports._SPAN <= unused_port() < 20000 for _ in range(20))


def test_a_taken_port_is_never_given(tmp_path, monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        number = taken.getsockname()[1]
        setting = tmp_path / "ip_local_port_range"
        setting.write_text(f"{number + 1}\t60999\n")
        monkeypatch.setattr(ports, "_PORT_RANGE", setting)
        monkeypatch.setattr(ports, "_SPAN", 1)
        with pytest.raises(OSError, match=f"no free port on 127.0.0.1 in {number}..{number}"):
            unused_port()
