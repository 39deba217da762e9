"""The data-mode terminator and the firmware's 4096-byte ring: `+++` split by the wrap point is
two pieces of data to the firmware, never the exit (slm_at_host.c, raw_send per claimed piece).
"""

from __future__ import annotations

import pytest

from pytest_slm.slm_types import Family, Role, SocketType


@pytest.mark.parametrize("size", [4093, 4094, 4095, 4096, 8190, 8191])
def test_payload_that_leaves_the_ring_at_its_wrap_still_exits(sim, sim_dut, size):
    sim_dut.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    sim_dut.connect("127.0.0.1", sim.echo_port)
    payload = bytes((i * 7 + 1) % 251 for i in range(size)).replace(b"+", b"-")
    with sim_dut.data_mode() as dm:
        dm.write(payload)
    assert not sim_dut.in_data_mode
    # The peer got the payload and not one `+` of the terminator.
    assert sim.wait_echoed(size) == payload
    assert sim_dut.at("AT").ok
