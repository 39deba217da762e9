"""The simulated board's UART rate: what its firmware believes is what the client counts.

Unpaced, slm-sim models a board configured at 1 000 000 baud (the top of #XSLMUART's list), and
the plugin opens the pty at that rate, so the data-mode client waits the 12 ms limit and 2.56 ms
per 256 bytes, not 115200's 32 ms and 22 ms; `--sim-baud N` paces and models N.
"""

from __future__ import annotations

import textwrap

import pytest

from pytest_slm.boards import BoardRegistry

INNER_TEST = textwrap.dedent(
    """
    import pytest

    from pytest_slm.dut import DataMode

    def test_client_counts_the_believed_rate(slm):
        baud, minimum = {baud}, {minimum}
        assert slm.port.baudrate == baud
        assert slm.at("AT#XSLMUART?").lines == [f"#XSLMUART: {{baud}},1"]
        limits = slm.datactrl_read()
        assert limits.minimum == minimum
        # What data_mode() builds before entering: the wire time follows the board's rate.
        session = DataMode(slm, limits.current or limits.minimum, limits.minimum)
        assert session.baud == baud
        assert session.line_time(256) == pytest.approx(2560 / baud)
        assert session.time_limit_ms == minimum
    """
)


@pytest.mark.parametrize(
    ("args", "baud", "minimum"),
    [([], 1000000, 12), (["--sim-baud", "115200"], 115200, 32)],
)
def test_client_follows_the_simulators_rate(pytester: pytest.Pytester, args, baud, minimum):
    pytester.makepyfile(INNER_TEST.format(baud=baud, minimum=minimum))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--dialect", "v20", *args)
    result.assert_outcomes(passed=1)


SM_INNER_TEST = textwrap.dedent(
    """
    def test_serial_modem_minimum(slm):
        assert slm.port.baudrate == 1000000
        assert slm.datactrl_read().minimum == 12
    """
)


def test_serial_modem_board_has_the_same_rate(pytester: pytest.Pytester):
    pytester.makepyfile(SM_INNER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--dialect", "sm")
    result.assert_outcomes(passed=1)


def test_port_without_a_board_still_opens_at_115200():
    # `--port /dev/ttyACM0` without --board uses the sim board file's UART settings: a real
    # board behind it runs at 115200, and a USB bridge forwards at the rate the host sets.
    assert BoardRegistry.load().get("sim").uart.baudrate == 115200
