"""The validation suite's wiring: markers, board features and credentials.

Markers (declared here; `slmsuite` has the helpers that apply them):
  slm_feature(name)     skip unless the board file lists `name` in `features:`: ipv6, tls,
                        dtls, raw_sockets, and loopback_peers (the board and the peers share a
                        network, so the peers can reach the board: server role, inbound UDP).
                        A board missing from the registry is assumed to have everything.
  slm_model_bug(reason) slm-sim disagrees with the behaviour file here: an expected failure on
                        a simulated board only.
Known deviations of the firmware from its documentation: `slmsuite.known_deviation`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from slmsuite import (  # noqa: F401  (re-exported for the test modules)
    EMPTY_SEC_TAG,
    SEC_TAG,
    WRONG_CA_SEC_TAG,
    known_deviation,
    model_bug,
)

from pytest_slm.at.errors import SlmError
from pytest_slm.boards import BoardConfigError, BoardRegistry
from pytest_slm.bringup import Credential, CredentialType, go_online, provision

_SLEEP = re.compile(r"time\.sleep\(\s*([0-9.]+)")
_HERE = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slm_feature(name): needs a board feature from the board file (ipv6, dtls, raw_sockets)",
    )
    config.addinivalue_line(
        "markers",
        "slm_model_bug(reason): slm-sim gets this case wrong; expected to fail on the simulated "
        "board only",
    )


def pytest_collect_file(file_path, parent):
    # The suite must wait on events, never on the clock: a fixed sleep long enough to matter
    # is a race on a loaded CI host.
    if file_path.suffix == ".py" and file_path.parent == _HERE:
        for number, line in enumerate(file_path.read_text().splitlines(), 1):
            match = _SLEEP.search(line)
            if match and float(match.group(1)) >= 0.2:
                raise pytest.UsageError(
                    f"{file_path}:{number}: time.sleep({match.group(1)}) in the suite: wait on "
                    "an event (XPOLL, an XRECV timeout, a peer's wait_for) instead"
                )
    return None


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
def board_features(board_file) -> frozenset[str] | None:
    """The board file's features, None when the board is not in the registry."""
    return None if board_file is None else frozenset(board_file.features)


@pytest.fixture(autouse=True)
def _slm_model_bugs(request: pytest.FixtureRequest) -> None:
    reasons = [mark.args[0] for mark in request.node.iter_markers("slm_model_bug")]
    if reasons and getattr(request.getfixturevalue("board_file"), "simulated", False):
        request.applymarker(
            pytest.mark.xfail(strict=False, reason="slm-sim bug: " + "; ".join(reasons))
        )


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
def sec_tags(slm_board, peer_certs) -> Iterator[dict[str, int]]:
    """The suite's CA in SEC_TAG and an unrelated CA in WRONG_CA_SEC_TAG, written once.

    Credentials can only be written with the modem offline, so the board goes CFUN=4 and back
    online. (The session bring-up will take this over.)
    """
    dut = slm_board.dut
    dut.reset_state()
    credentials = [
        Credential(SEC_TAG, CredentialType.ROOT_CA, peer_certs.ca_pem),
        Credential(WRONG_CA_SEC_TAG, CredentialType.ROOT_CA, _unrelated_ca(peer_certs)),
    ]
    try:
        dut.at("AT+CFUN=4", timeout=30.0)
        provision(dut, credentials)
    finally:
        go_online(dut, attach_timeout=180.0)
    try:
        yield {"ca": SEC_TAG, "wrong_ca": WRONG_CA_SEC_TAG}
    finally:
        # Leave the lab board as found: our credentials are the suite's business only.
        try:
            dut.reset_state()
            dut.at("AT+CFUN=4", timeout=30.0)
            for cred in credentials:
                dut.at(f"AT%CMNG=3,{cred.sec_tag},{int(cred.type)}", check=False)
            go_online(dut, attach_timeout=180.0)
        except SlmError:
            pass


def _unrelated_ca(peer_certs) -> str:
    # A remote slm-peer publishes only its own CA; any CA made here signed nothing it presents.
    pem = getattr(peer_certs, "other_ca_pem", None)
    if pem:
        return pem
    import trustme

    return trustme.CA(organization_name="pytest-slm unrelated CA").cert_pem.bytes().decode()
