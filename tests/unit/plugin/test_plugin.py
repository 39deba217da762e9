"""The plugin as a user meets it: inner pytest runs against the simulated board."""

from __future__ import annotations

import textwrap

import pytest

from pytest_slm.simboard import SimulatorProcess

INNER_TEST = textwrap.dedent(
    """
    def test_board_answers(slm, slm_board):
        assert slm.at("AT").ok
        assert slm.at("AT#XSLMVER").lines == ['#XSLMVER: "2.0.0"']
        print("BOARD", slm_board.name, slm_board.url)
    """
)


def test_default_board_is_the_simulator_on_a_pty(pytester: pytest.Pytester):
    pytester.makepyfile(INNER_TEST)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.re_match_lines([r".*BOARD sim /dev/pts/\d+$"])
    # The simulated modem goes through the same bring-up as a board: offline, provision the
    # suite's CA and an unrelated one, attach, read its identity (one #XSLMVER there, one here).
    result.stdout.fnmatch_lines(
        [
            "[[]slm] modem offline for provisioning (AT+CFUN=4)",
            "[[]slm] provisioning sec_tag 71434 type 0 (root_ca)",
            "[[]slm] provisioning sec_tag 71435 type 0 (root_ca)",
            "[[]slm] +CEREG: 1,* (registered, home network)",
            "[[]slm] online after * s: IMEI 352656100123457, modem firmware mfw_nrf9160_1.3.2,"
            " SLM 2.0.0",
            "[[]slm] sim: SLM 2.0.0 (dialect v20)",
        ]
    )
    result.stdout.re_match_lines(
        [r"-+ SLM command latency: sim /dev/pts/\d+ \(SLM 2.0.0 \(dialect v20\)\) -+",
         r"#XSLMVER +2 "]
    )


def test_port_option_reaches_a_simulator_started_by_hand(pytester: pytest.Pytester, tmp_path):
    with SimulatorProcess(["--listen", "127.0.0.1:0", "--online"], log_dir=tmp_path) as sim:
        assert sim.url.startswith("socket://127.0.0.1:")
        pytester.makepyfile(INNER_TEST)
        result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "--port", sim.url)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*BOARD sim {sim.url}"])


def test_failure_shows_command_reply_and_transcript(pytester: pytest.Pytester, tmp_path):
    pytester.makepyfile(
        """
        def test_bad_command(slm):
            slm.at("AT#XSOCKET=9")
        """
    )
    log_dir = tmp_path / "logs"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--slm-log-dir={log_dir}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AtError: AT command failed: the board answered ERROR*",
            "*command:  'AT#XSOCKET=9'*",
            "*received: 'ERROR'*",
            "*SLM transcript (sim /dev/pts/*",
            r"*> AT#XSOCKET=9\r\n*",
            r"*< \r\n*",
            r"*< ERROR\r\n*",
        ]
    )
    logs = list(log_dir.iterdir())
    expected = "test_failure_shows_command_reply_and_transcript.py_test_bad_command.log"
    assert [p.name for p in logs] == [expected]
    assert "> AT#XSOCKET=9\\r\\n" in logs[0].read_text()


def test_each_test_starts_clean(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("round", [1, 2])
        def test_open_leaves_socket(slm, round):
            # the previous round left a socket open; the fixture closed it, so handle 0 is free
            assert slm.at("AT#XSOCKET=1,2,0").lines == ["#XSOCKET: 0,2,17"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
