"""The session pipeline: pick the board, start or open it, and bring it to the state tests expect.

pick the board (`--board`, default `sim`; `--port` overrides) -> lock -> flash if the image
changed -> open the UART -> wait for `Ready` or probe with `AT` -> bring the modem online ->
provision the suite's credentials -> tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest

from pytest_slm import bringup, dialects, hardware, hwmap, twister
from pytest_slm.at.transcript import Transcript
from pytest_slm.dut import SlmDut
from pytest_slm.simboard import SimulatorProcess, host_allows_raw_sockets

SIM_BOARD = "sim"


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption(
        "--board",
        default=SIM_BOARD,
        metavar="NAME",
        help="board to test: sim (the simulated board, default), nrf9160dk, nrf9161dk, "
        "nrf9151dk, thingy91, thingy91x, or one from --boards-dir",
    )
    group.addoption(
        "--port",
        default=None,
        metavar="URL",
        help="talk to whatever SLM answers at this pyserial URL (/dev/ttyACM0, "
        "socket://host:port, rfc2217://host:port, a pty path); no flashing",
    )
    group.addoption(
        "--sim-baud",
        type=int,
        default=None,
        metavar="N",
        help="pace the simulated board's UART as N baud would (default: unpaced)",
    )
    group.addoption(
        "--dialect",
        default=dialects.AUTO,
        choices=dialects.CHOICES,
        help="the firmware generation the board must run: auto (default: detected at bring-up "
        "from #XSLMVER / #XSMVER), v20 (SLM of NCS v2.0.x) or sm (Serial Modem, "
        "ncs-serial-modem); with --board sim it picks the simulator's dialect; a board running "
        "another one is an error at session start",
    )
    group.addoption(
        "--ready-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for the board to answer AT after opening its port (default 30)",
    )


@dataclass
class BoardSession:
    """The board a test session runs against, opened and ready."""

    name: str
    url: str
    dut: SlmDut
    info: dict[str, str] = field(default_factory=dict)
    # What the bring-up provisioned: role ("ca", "wrong_ca", "empty") -> sec_tag.
    sec_tags: dict[str, int] = field(default_factory=dict)
    # What this board can do (board file `features:`), None when no board file describes it.
    features: frozenset[str] | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_close(self, closer: Callable[[], None]) -> None:
        self._closers.append(closer)

    def close(self) -> None:
        errors: list[BaseException] = []
        for closer in [self.dut.close, *reversed(self._closers)]:
            try:
                closer()
            except Exception as exc:  # every closer runs even if one fails
                errors.append(exc)
        self._closers.clear()
        if errors:
            raise errors[0]


def worker_id() -> str:
    """The pytest-xdist worker running this session, `master` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


def open_board_session(
    config: pytest.Config,
    request: pytest.FixtureRequest | None = None,
    credentials: Sequence[bringup.Credential] = (),
) -> BoardSession:
    """Open the board this session tests and bring it online with `credentials` provisioned."""
    requested = config.getoption("--dialect", default=dialects.AUTO) or dialects.AUTO
    _check_board_dialects(config, requested)
    session = _open_board(config, request, list(credentials))
    session.sec_tags = hardware.suite_sec_tags(config)
    try:
        # Every path has detected the dialect in its bring-up; --dialect must agree with it.
        dialects.resolve(
            requested,
            dialects.Detected(session.dut.dialect, session.dut.firmware_version,
                              session.info.get("firmware", "")),
        )
    except dialects.DialectError:
        session.close()
        raise
    return session


def requested_dialect(config: pytest.Config) -> dialects.Dialect | None:
    """The --dialect given, None for auto."""
    name = config.getoption("--dialect", default=dialects.AUTO) or dialects.AUTO
    return None if name == dialects.AUTO else dialects.get(name)


def _check_board_dialects(config: pytest.Config, requested: str) -> None:
    """A board file's `dialects:` lists the generations that build for it."""
    if requested == dialects.AUTO or config.getoption("--port"):
        return
    try:
        board = hardware.registry_from_config(config).get(config.getoption("--board"))
    except Exception:
        return  # an unknown board is reported by the path that opens it
    allowed = getattr(board, "dialects", ()) or ()
    if allowed and requested not in allowed:
        raise pytest.UsageError(
            f"--dialect {requested}: the board file of {board.name} lists only "
            f"{', '.join(allowed)} (dialects:)"
        )


def _open_board(
    config: pytest.Config,
    request: pytest.FixtureRequest | None,
    credentials: list[bringup.Credential],
) -> BoardSession:
    if request is not None and twister.is_active(config):
        return _open_twister_board(config, request, credentials)
    board = config.getoption("--board")
    port = config.getoption("--port")
    ready_timeout = config.getoption("--ready-timeout")
    closers: list[Callable[[], None]] = []
    features: frozenset[str] | None = None
    claim = _claim_from_hardware_map(config)
    info = {"worker": worker_id()}
    if claim is not None:
        if not claim.board.simulated:
            return _open_claimed_hardware(config, claim, credentials)
        # A simulator the map lists runs elsewhere: open it like --port.
        board, port = claim.board.name, claim.url
        closers.append(claim.release)
        info.update(claim.info)
    elif hardware.hardware_board(config) is not None:
        # A real board, found by its probe's serial number (or at --port): lock, flash if the
        # image changed, open with the board's UART settings, bring online.
        settings = hardware.HardwareSettings.from_config(config)
        return _open_hardware(config, settings, info, [], credentials)
    if port:
        url = port
    elif board == SIM_BOARD:
        # Not --online: the simulated modem attaches through the same bring-up a board does.
        args = ["--pty"]
        wanted = requested_dialect(config)
        if wanted is not None:
            args += list(wanted.sim_args)
        baud = config.getoption("--sim-baud")
        if baud:
            args += ["--baud", str(baud)]
        simulator = SimulatorProcess(args)
        url = simulator.start()
        closers.append(simulator.stop)
        features = frozenset(hardware.registry_from_config(config).get(SIM_BOARD).features)
        if host_allows_raw_sockets():
            features |= {"raw_sockets"}
    else:
        raise pytest.UsageError(
            f"--board {board}: pytest-slm starts only the built-in simulated board 'sim'; "
            "reach another simulator with --port"
        )
    try:
        dut = SlmDut.open(url, transcript=Transcript(label=f"{board} {url}"))
    except Exception:
        for closer in closers:
            closer()
        raise
    session = BoardSession(name=board, url=url, dut=dut, info=info, features=features)
    for closer in closers:
        session.on_close(closer)
    try:
        dut.wait_ready(timeout=ready_timeout)
        modem = bringup.bring_up(
            dut,
            credentials,
            attach_timeout=config.getoption("--attach-timeout"),
            ready_timeout=None,
            progress=hardware.terminal_progress(config),
            dialect=config.getoption("--dialect", default=dialects.AUTO) or dialects.AUTO,
        )
    except BaseException:
        session.close()
        raise
    session.info.update(modem.as_dict())
    return session


def _claim_from_hardware_map(config: pytest.Config) -> hwmap.Claim | None:
    """With --hardware-map, the pool member this session (this xdist worker) holds."""
    if not config.getoption("--hardware-map"):
        return None
    if config.getoption("--port"):
        raise pytest.UsageError("--port and --hardware-map both name the board: give one")
    board = config.getoption("--board")
    registry = hardware.registry_from_config(config)
    try:
        return hwmap.claim_from_config(
            config,
            registry,
            board=None if board == SIM_BOARD else board,
            worker=worker_id(),
            timeout=config.getoption("--lock-timeout"),
            progress=hardware.terminal_progress(config),
        )
    except hwmap.HardwareMapError as exc:
        raise pytest.UsageError(str(exc)) from None


def _open_hardware(
    config: pytest.Config,
    settings: hardware.HardwareSettings,
    info: dict[str, str],
    closers: list[Callable[[], None]],
    credentials: list[bringup.Credential],
) -> BoardSession:
    ready = config.getoption("--ready-timeout", default=None)
    settings.ready_timeout = max(ready or 0.0, settings.board.boot_timeout)
    try:
        hw = hardware.open_hardware_board(
            settings, credentials, progress=hardware.terminal_progress(config)
        )
    except BaseException:
        for closer in reversed(closers):
            closer()
        raise
    session = BoardSession(name=hw.board.name, url=hw.url, dut=hw.dut, info={**hw.info, **info})
    session.on_close(hw.lock.release)
    for closer in closers:
        session.on_close(closer)
    return session


def _open_claimed_hardware(
    config: pytest.Config, claim: hwmap.Claim, credentials: list[bringup.Credential]
) -> BoardSession:
    import shutil
    import tempfile
    from pathlib import Path

    settings = hwmap.hardware_settings(claim, config, hardware.registry_from_config(config))
    # The claim already holds this board's lock (in the shared lock directory, under the key a
    # plain --board-id run takes); the hardware session's own lock goes to a private directory
    # so it does not wait on the claim held by this very process.
    private = tempfile.mkdtemp(prefix="pytest-slm-claimed-")
    settings.lock_dir = Path(private)
    closers = [claim.release, lambda: shutil.rmtree(private, ignore_errors=True)]
    info = {"worker": worker_id(), **claim.info}
    return _open_hardware(config, settings, info, closers, credentials)


def _open_twister_board(
    config: pytest.Config, request: pytest.FixtureRequest, credentials: list[bringup.Credential]
) -> BoardSession:
    """Under pytest-twister-harness: its device is flashed once by the harness, released, and
    opened here byte-exact; pytest-slm does not flash."""
    registry = hardware.registry_from_config(config)
    try:
        taken = twister.take_over(request, registry)
    except twister.TwisterBridgeError as exc:
        raise pytest.UsageError(str(exc)) from None
    settings = twister.hardware_settings(taken, config, registry)
    info = {"worker": worker_id(), **taken.info()}
    return _open_hardware(config, settings, info, [taken.close], credentials)
