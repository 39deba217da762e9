"""`--sim-latency/--sim-jitter`: the simulated board behind an emulated cellular link."""

from __future__ import annotations

import textwrap

import pytest

# The peers echo at once on loopback: only the emulated round trip makes the modem wait. Lower
# bounds only (a busy host can make anything slower, never faster).
INNER_TEST = textwrap.dedent(
    """
    import time

    from pytest_slm.slm_types import Family, Role, SocketType

    def test_each_round_trip_is_emulated(slm, tcp_echo):
        slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
        start = time.monotonic()
        slm.connect(tcp_echo.board_host, tcp_echo.port)
        connected = time.monotonic()
        assert slm.send(b"hello") == 5
        assert slm.recv(timeout=30).data == b"hello"
        echoed = time.monotonic()
        print("ROUND TRIPS", f"{connected - start:.3f}", f"{echoed - connected:.3f}")
        assert connected - start >= 0.5  # 600 ms minus at most 100 ms of jitter
        assert echoed - connected >= 0.5
    """
)


def test_latency_reaches_the_simulator(pytester: pytest.Pytester):
    pytester.makepyfile(INNER_TEST)
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:cacheprovider", "--sim-latency", "600ms", "--sim-jitter", "100ms"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ROUND TRIPS *"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sim-latency", "soon"], "*--sim-latency 'soon': give a duration*e.g. 600ms*"),
        (["--sim-latency=-1ms"], "*--sim-latency '-1ms': give a duration*"),
        (["--sim-latency", "1s", "--sim-jitter", "x"], "*--sim-jitter 'x': give a duration*"),
        (["--sim-jitter", "100ms"], "*--sim-jitter varies the round trip of --sim-latency*"),
        (
            ["--sim-latency", "600ms", "--port", "socket://127.0.0.1:9"],
            "*--sim-latency shapes the simulated board*socket://127.0.0.1:9*",
        ),
    ],
)
def test_bad_latency_is_a_usage_error(pytester: pytest.Pytester, args, message):
    pytester.makepyfile("def test_never_runs(): raise AssertionError('ran')")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_options_have_help(pytester: pytest.Pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--sim-latency=DURATION*", "*--sim-jitter=DURATION*"])
