"""The validation suite's wiring: markers, board features and credentials.

Markers (declared here; `slmsuite` has the helpers that apply them):
  slm_feature(name)     skip unless the board file lists `name` in `features:`: ipv6, tls,
                        dtls, raw_sockets, and loopback_peers (the board and the peers share a
                        network, so the peers can reach the board: server role, inbound UDP).
                        A board missing from the registry is assumed to have everything.
  slm_dialect(*names)   (the plugin's) the firmware generations a test belongs to; applied
                        here by folder: `common/` runs on every dialect, `sm/` is Serial Modem,
                        `v20/` and anything else SLM v2.0; a test of another dialect skips
                        with the reason.
Known deviations of the firmware from its documentation: `slmsuite.known_deviation`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import slmsuite

from pytest_slm.boards import BoardConfigError, BoardRegistry
from pytest_slm.hardware import suite_sec_tags
from pytest_slm.plugin import skip_other_dialects

_SLEEP = re.compile(r"time\.sleep\(\s*([0-9.]+)")
_HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slm_feature(name): needs a board feature from the board file (ipv6, dtls, raw_sockets)",
    )
    # Test modules import the tags from slmsuite; they follow --sec-tag, like the bring-up.
    tags = suite_sec_tags(config)
    slmsuite.SEC_TAG = tags["ca"]
    slmsuite.WRONG_CA_SEC_TAG = tags["wrong_ca"]
    slmsuite.EMPTY_SEC_TAG = tags["empty"]


def pytest_collect_file(file_path, parent):
    # The suite must wait on events, never on the clock: a fixed sleep long enough to matter
    # is a race on a loaded CI host.
    if file_path.suffix == ".py" and _HERE in (file_path.parent, *file_path.parents):
        for number, line in enumerate(file_path.read_text().splitlines(), 1):
            match = _SLEEP.search(line)
            if match and float(match.group(1)) >= 0.2:
                raise pytest.UsageError(
                    f"{file_path}:{number}: time.sleep({match.group(1)}) in the suite: wait on "
                    "an event (XPOLL, an XRECV timeout, a peer's wait_for) instead"
                )
    return None


# Folder -> the dialects its tests speak; None: every dialect (through the shared API).
DIALECT_FOLDERS: dict[str, tuple[str, ...] | None] = {
    "common": None,
    "sm": ("sm",),
    "v20": ("v20",),
}
# Test files straight in tests/slm predate the dialect split: SLM v2.0's.
DEFAULT_DIALECTS = ("v20",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if _HERE not in path.parents or item.get_closest_marker("slm_dialect"):
            continue
        folder = path.relative_to(_HERE).parts[0] if path.parent != _HERE else ""
        names = DIALECT_FOLDERS.get(folder, DEFAULT_DIALECTS)
        if names is not None:
            item.add_marker(pytest.mark.slm_dialect(*names))


@pytest.fixture(autouse=True)
def _slm_dialect(request: pytest.FixtureRequest) -> None:
    # The `slm` fixture checks too; this covers tests that use only `slm_board`.
    if request.node.get_closest_marker("slm_dialect") is not None:
        skip_other_dialects(request.node, request.getfixturevalue("slm_board").dut)


@pytest.fixture
def dialect(slm_board) -> str:
    """The dialect the board speaks: "v20" or "sm"."""
    return slm_board.dut.dialect.name


@pytest.fixture(scope="session")
def board_file(slm_board, pytestconfig):
    """The board's entry in the registry (with --boards-dir), None when it has none."""
    board = getattr(slm_board, "board", None)
    if board is None:
        try:
            dirs = pytestconfig.getoption("--boards-dir", default=None) or []
            board = BoardRegistry.load(dirs).get(slm_board.name)
        except BoardConfigError:
            return None
    return board


@pytest.fixture(scope="session")
def board_features(slm_board, board_file) -> frozenset[str] | None:
    """What the board can do: as the session found it (the simulated board adds raw sockets
    where the host allows them), else the board file's list; None when nothing describes it."""
    if getattr(slm_board, "features", None) is not None:
        return slm_board.features
    return None if board_file is None else frozenset(board_file.features)


@pytest.fixture(autouse=True)
def _slm_features(request: pytest.FixtureRequest) -> None:
    needed = [mark.args[0] for mark in request.node.iter_markers("slm_feature")]
    if not needed:
        return
    features = request.getfixturevalue("board_features")
    if features is None:
        return
    missing = [name for name in needed if name not in features]
    if missing:
        pytest.skip(f"the board file does not list feature(s) {', '.join(missing)}")


@pytest.fixture(scope="session")
def sec_tags(slm_board) -> dict[str, int]:
    """The tags the session's bring-up provisioned: the suite's CA ("ca"), an unrelated CA
    ("wrong_ca") and one left empty ("empty"); the same values as SEC_TAG, WRONG_CA_SEC_TAG and
    EMPTY_SEC_TAG."""
    return dict(slm_board.sec_tags)
