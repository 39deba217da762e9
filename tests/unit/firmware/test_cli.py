"""``slm-sim`` as a user runs it: a child process on a real pty or a loopback TCP port."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time

import pytest
import serial

from firmware_ref.cli import build_parser, config_from_args
from firmware_ref.core.host import (
    DEFAULT_BAUD,
    UART_RX_TIMEOUT_S,
    UNPACED_RX_TIMEOUT_S,
    UNPACED_UART_BAUD,
    FirmwareConfig,
)

READY = b"Ready\r\n"
OK = b"\r\nOK\r\n"


def _command(*args: str) -> list[str]:
    # The console script this interpreter's install made, never whichever slm-sim is first on
    # PATH: that may be another checkout's install.
    exe = shutil.which("slm-sim", path=sysconfig.get_path("scripts"))
    if exe:
        return [exe, *args]
    return [sys.executable, "-m", "firmware_ref.cli", *args]


class Sim:
    def __init__(self, *args: str) -> None:
        # stderr to a file: a verbose simulator must never block on a full pipe
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(_command(*args), stdout=subprocess.PIPE, stderr=self.log)
        self.url = self._first_line(30.0)

    def stderr(self) -> bytes:
        self.log.seek(0)
        return self.log.read()

    def _first_line(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0 and sel.select(left), f"no URL line; got {line!r}"
            chunk = os.read(self.proc.stdout.fileno(), 1)
            assert chunk, f"slm-sim exited: {self.proc.wait()} {self.stderr()!r}"
            line += chunk
        sel.close()
        return line.decode().strip()

    def open(self, timeout: float = 10.0) -> serial.SerialBase:
        return serial.serial_for_url(self.url, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()


@pytest.fixture
def sim_factory():
    sims: list[Sim] = []

    def make(*args: str) -> Sim:
        sim = Sim(*args)
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


def read_exact(port: serial.SerialBase, expected: bytes) -> None:
    got = port.read(len(expected))
    assert got == expected


def test_pty_ready_then_at(sim_factory):
    sim = sim_factory("--pty")
    assert sim.url.startswith("/dev/")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT\r\n")
        read_exact(port, OK)


def test_pty_survives_the_host_closing_and_reopening(sim_factory):
    sim = sim_factory("--pty")
    with sim.open() as port:
        read_exact(port, READY)  # the board powers on at the first open
        port.write(b"AT+CFUN=1\r\n")
        read_exact(port, OK)
    for _ in range(3):
        with sim.open() as port:
            # Reopening the port does not reset the board, like a real one's USB serial port.
            port.write(b"AT+CFUN?\r\n")
            read_exact(port, b"\r\n+CFUN: 1\r\n" + OK)
    assert sim.proc.poll() is None


def test_tcp_ready_then_at(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0")
    assert sim.url.startswith("socket://127.0.0.1:")
    assert not sim.url.endswith(":0")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT\r\n")
        read_exact(port, OK)


def test_each_tcp_connection_meets_a_fresh_modem(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT+CFUN=1\r\n")
        read_exact(port, OK)
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT+CFUN?\r\n")
        read_exact(port, b"\r\n+CFUN: 0\r\n" + OK)


def _recv_exact(conn: socket.socket, expected: bytes) -> None:
    got = b""
    while len(got) < len(expected):
        chunk = conn.recv(len(expected) - len(got))
        assert chunk, f"connection closed after {got!r}, expected {expected!r}"
        got += chunk
    assert got == expected


def test_a_new_tcp_client_replaces_the_current_one(sim_factory):
    # Plain sockets, not pyserial: pyserial's open() discards input that arrived before it
    # returned, which would make the banner a race on a loaded machine.
    sim = sim_factory("--listen", "127.0.0.1:0")
    _, port = sim.url.rsplit(":", 1)
    address = ("127.0.0.1", int(port))
    with socket.create_connection(address, timeout=10) as first:
        first.settimeout(10)
        _recv_exact(first, READY)
        with socket.create_connection(address, timeout=10) as second:
            second.settimeout(10)
            _recv_exact(second, READY)
            second.sendall(b"AT\r\n")
            _recv_exact(second, OK)
            # The board dropped the first host when the second one connected.
            assert first.recv(1) == b""
    with socket.create_connection(address, timeout=10) as third:
        third.settimeout(10)
        _recv_exact(third, READY)


def test_online_option(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0", "--online", "--address", "10.0.0.5")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT+CFUN?\r\n")
        read_exact(port, b"\r\n+CFUN: 1\r\n" + OK)
        port.write(b"AT+CGPADDR\r\n")
        read_exact(port, b'\r\n+CGPADDR: 0,"10.0.0.5","0:0:0:0:0:0:0:1"\r\n' + OK)


def test_baud_pacing_slows_a_transfer(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0", "--baud", "9600")
    line = b'AT#XSLMVER="' + b"p" * (958 - 13) + b'"\r\n'
    assert len(line) == 960  # 1.0 s of line time at 9600 baud, 10 bits a byte
    with sim.open() as port:
        read_exact(port, READY)
        start = time.monotonic()
        port.write(line)
        read_exact(port, b'\r\n#XSLMVER: "2.0.0"\r\n' + OK)
        assert time.monotonic() - start >= 0.8


def test_baud_sets_the_data_mode_time_limit(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0", "--baud", "9600")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT#XDATACTRL?\r\n")
        read_exact(port, b"\r\n#XDATACTRL: 0,276\r\n" + OK)


@pytest.mark.parametrize(
    ("args", "pace", "believed"),
    [
        (["--pty"], None, UNPACED_UART_BAUD),
        (["--pty", "--baud", "115200"], 115200, 115200),
        (["--pty", "--uart-baud", "9600"], None, 9600),
        (["--pty", "--baud", "9600", "--uart-baud", "115200"], 9600, 115200),
    ],
)
def test_uart_baud_is_baud_or_the_fastest_rate(args, pace, believed):
    config = config_from_args(build_parser().parse_args(args))
    assert (config.baud, config.uart_baud, config.believed_baud) == (pace, believed, believed)


def test_the_in_memory_board_keeps_115200():
    # Golden transcripts and the in-memory harness cite the 115200-baud figures (32 ms).
    assert UNPACED_UART_BAUD == 1000000 and DEFAULT_BAUD == 115200
    assert FirmwareConfig().believed_baud == DEFAULT_BAUD
    assert FirmwareConfig(baud=9600).believed_baud == 9600


# What the firmware believes, as #XSLMUART? (v2.0) and #XDATACTRL? (both dialects) answer it:
# the minimum is 256 bytes of 10 bits at that rate plus 10 ms (slm_at_host.c 180-187,
# sm_at_host.c get_min_data_mode_idle_timeout_ms).
@pytest.mark.parametrize(
    ("args", "slmuart", "minimum"),
    [
        ([], b"1000000", 12),
        (["--baud", "115200"], b"115200", 32),
        (["--uart-baud", "9600"], b"9600", 276),
    ],
)
def test_believed_rate_answers_slmuart_and_datactrl(sim_factory, args, slmuart, minimum):
    sim = sim_factory("--pty", *args)
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT#XSLMUART?\r\n")
        read_exact(port, b"\r\n#XSLMUART: " + slmuart + b",1\r\n" + OK)
        port.write(b"AT#XDATACTRL?\r\n")
        read_exact(port, b"\r\n#XDATACTRL: 0,%d\r\n" % minimum + OK)


@pytest.mark.parametrize(("args", "minimum"), [([], 12), (["--uart-baud", "115200"], 32)])
def test_serial_modem_minimum_follows_the_believed_rate(sim_factory, args, minimum):
    sim = sim_factory("--pty", "--dialect", "sm", *args)
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT#XDATACTRL?\r\n")
        read_exact(port, b"\r\n#XDATACTRL: 0,%d\r\n" % minimum + OK)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_exit_cleanly(sim_factory, sig):
    sim = sim_factory("--pty")
    assert sim.stop(sig) == 0


def test_signal_while_a_client_is_connected(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0", "-v")
    port = sim.open()
    read_exact(port, READY)
    port.write(b"AT\r\n")
    read_exact(port, OK)
    assert sim.stop() == 0
    port.close()


def test_verbose_logs_to_stderr(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0", "--verbose")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT\r\n")
        read_exact(port, OK)
    assert sim.stop() == 0
    err = sim.stderr()
    assert b"RX b'AT'" in err
    assert b"boot" in err


def test_quiet_by_default(sim_factory):
    sim = sim_factory("--listen", "127.0.0.1:0")
    with sim.open() as port:
        read_exact(port, READY)
        port.write(b"AT\r\n")
        read_exact(port, OK)
    assert sim.stop() == 0
    assert sim.stderr() == b""


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--pty", "--listen", "127.0.0.1:0"],
        ["--listen", "nonsense"],
        ["--pty", "--baud", "0"],
        ["--pty", "--uart-baud", "0"],
        ["--pty", "--uart-baud", "fast"],
        ["--pty", "--address", "::1"],
        ["--pty", "--address6", "1.2.3.4"],
        ["--pty", "--rx-timeout", "soon"],
    ],
)
def test_bad_arguments_exit_2(args):
    proc = subprocess.run(_command(*args), capture_output=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stdout == b""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--pty"], UNPACED_RX_TIMEOUT_S),
        (["--pty", "--baud", "115200"], UART_RX_TIMEOUT_S),
        (["--pty", "--rx-timeout", "2ms"], 0.002),
        (["--pty", "--baud", "9600", "--rx-timeout", "0"], 0.0),
    ],
)
def test_rx_timeout_is_the_firmwares_when_paced(args, expected):
    # With --baud the line keeps the firmware's timing, UART_RX_TIMEOUT_US included.
    config = config_from_args(build_parser().parse_args(args))
    assert config.rx_timeout == pytest.approx(expected)
    assert UART_RX_TIMEOUT_S == 0.002  # slm_at_host.c 39
