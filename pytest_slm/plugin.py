"""pytest-slm plugin: options, markers and fixtures, wiring the parts below together.

Fixture and option names stay clear of pytest-twister-harness's (`dut`, `shell`,
`device_object`, `unlaunched_dut`, `--build-dir`, `--device-serial`, `--platform`, ...), so both
plugins load side by side under twister.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_slm import dialects, hardware, peers, report, sources
from pytest_slm import session as board_session
from pytest_slm.peers.fixtures import *  # noqa: F403  (tcp_echo, udp_echo, tls_echo, ...)
from pytest_slm.settings import settings_of
from pytest_slm.sources.base import OpenContext, SourceUnavailable

if TYPE_CHECKING:
    from pytest_slm.dut import SlmDut

RECORD_KEY = pytest.StashKey[report.RunRecord]()
BROKEN_KEY = pytest.StashKey[str]()
LATENCY_KEY = pytest.StashKey[report.latency.LatencyReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("slm", "pytest-slm: nRF91 Serial LTE Modem socket AT commands")
    board_session.add_options(group)
    hardware.add_options(group)
    sources.add_options(group)
    peers.add_options(group)
    report.add_options(group)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    return hardware.cmdline_main(config)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[LATENCY_KEY] = report.latency.LatencyReport(config)
    config.pluginmanager.register(config.stash[LATENCY_KEY], "slm-latency")
    # Every option is parsed and checked here, once: a bad one stops the run with pytest's
    # usage-error status before collection.
    # (A conftest's pytest_configure may have asked for them first: they are built once.)
    config.addinivalue_line(
        "markers",
        "slm_dialect(*names): the test runs only on boards speaking one of these firmware "
        "generations (v20, sm); on others it skips with the reason",
    )
    if not config.getoption("help", default=False):
        settings_of(config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    # The controller looks before collecting and before starting xdist workers; listing tests
    # (--collect-only) needs no board.
    if hasattr(config, "workerinput") or config.getoption("collectonly", default=False):
        return
    if config.getoption("help", default=False):
        return
    try:
        settings_of(config).source.precheck()
    except SourceUnavailable as exc:
        pytest.exit(f"pytest-slm: the board session cannot start: {exc}", returncode=1)


def pytest_report_header(config: pytest.Config) -> list[str]:
    requested = config.getoption("--dialect", default=dialects.AUTO) or dialects.AUTO
    known = ", ".join(f"{d.name} = {d.title}" for d in dialects.DIALECTS.values())
    if requested == dialects.AUTO:
        return [f"slm dialect: auto (detected at bring-up; known: {known})"]
    return [f"slm dialect: {requested} ({dialects.get(requested).title}), checked at bring-up"]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


@pytest.fixture(scope="session")
def slm_board(request: pytest.FixtureRequest, peer_certs) -> Iterator[board_session.BoardSession]:
    """The board under test for the whole session: started or opened, ready, online, with the
    suite's CA (and an unrelated one, for wrong-CA tests) provisioned (`.sec_tags`).

    A board that cannot be reached is one error: the first test that needs it reports why in
    full and the run stops there (pytest's -x), instead of one traceback per test.
    """
    config = request.config
    broken = config.stash.get(BROKEN_KEY, None)
    if broken is not None:
        pytest.fail(broken, pytrace=False)
    settings = settings_of(config)
    credentials = hardware.suite_credentials(
        settings.sec_tags(), peer_certs.ca_pem, getattr(peer_certs, "other_ca_pem", None)
    )
    ctx = OpenContext(
        settings=settings,
        progress=hardware.terminal_progress(config),
        request=request,
        worker=settings.worker,
    )
    failure: str | None = None
    try:
        session = board_session.open_board_session(settings, ctx, credentials)
    except dialects.DialectError as exc:
        # A board of the wrong generation is one usage error for the run, not one per test.
        pytest.exit(f"pytest-slm: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    except Exception as exc:
        summary = f"the board session could not start: {_one_line(exc)}"
        config.stash[BROKEN_KEY] = f"pytest-slm: {summary} (see the first error)"
        request.session.shouldfail = f"pytest-slm: {summary}"
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        # The message is the whole story (what was looked for, the tool's output); the
        # plugin's own frames would only bury it.
        pytest.fail(failure, pytrace=False)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        terminal.write_line(f"[slm] {session.name}: {session.dut.describe_firmware()}", bold=True)
    try:
        yield session
    finally:
        request.config.stash[LATENCY_KEY].add(
            f"{session.name} {session.url} ({session.dut.describe_firmware()})",
            session.dut.timings,
        )
        session.close()


@pytest.fixture
def slm(slm_board: board_session.BoardSession, request: pytest.FixtureRequest) -> SlmDut:
    """The board's SlmDut in a clean state: out of data mode, every socket closed, input drained."""
    dut = slm_board.dut
    skip_other_dialects(request.node, dut)
    dut.reset_state()
    record = report.RunRecord(dut.transcript, slm_board.name, slm_board.url, slm_board.info)
    report.start_test(request.node, record)
    request.node.stash[RECORD_KEY] = record
    return dut


def skip_other_dialects(node: pytest.Item, dut: SlmDut) -> None:
    """Skip `node` when its `slm_dialect` marker names dialects the board does not speak."""
    marker = node.get_closest_marker("slm_dialect")
    if marker is not None and dut.dialect.name not in marker.args:
        wanted = ", ".join(dialects.get(name).title + f" ({name})" for name in marker.args)
        pytest.skip(f"{wanted} only; the board runs {dut.describe_firmware()}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    test_report = yield
    record = item.stash.get(RECORD_KEY, None)
    if record is not None:
        report.finish_test(item, record, test_report)
    return test_report
