import threading

import pytest

from pytest_slm.peers import PeerCerts, ipv6_available


@pytest.fixture(params=[pytest.param(4, id="ipv4"), pytest.param(6, id="ipv6")])
def family(request):
    """Runs a test once per IP family; IPv6 skips where ::1 cannot be bound."""
    if request.param == 6 and not ipv6_available():
        pytest.skip("IPv6 loopback (::1) is not available on this host")
    return request.param


@pytest.fixture(scope="session")
def certs():
    return PeerCerts(names=["peer.test"])


@pytest.fixture(autouse=True)
def no_thread_leak():
    """Every peer a test starts must have joined all its threads by the end of the test.
    Autouse, so it is set up first and checked after every other fixture is torn down."""
    before = set(threading.enumerate())
    yield
    leaked = [t.name for t in threading.enumerate() if t not in before]
    assert not leaked, f"threads still running after the test: {leaked}"


INNER_CONFTEST = """
from pytest_slm.peers import add_options
from pytest_slm.peers.fixtures import *  # noqa: F401,F403


def pytest_addoption(parser):
    add_options(parser.getgroup("slm"))
"""

# no:slm - the inner run loads the peers' fixtures and options through INNER_CONFTEST, so these
# tests do not depend on how plugin.py wires them; no:benchmark - its xdist warning is noise;
# no:labgrid - labgrid's plugin (a test dependency) keeps process-wide state (its StepLogger)
# that a second run in the same process cannot start again.
INNER_ARGS = (
    "-p", "no:slm", "-p", "no:benchmark", "-p", "no:labgrid", "-p", "no:cacheprovider", "-rs"
)


@pytest.fixture
def inner(pytester):
    """A pytester whose inner runs have the peers' fixtures and options."""
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


@pytest.fixture
def inner_args():
    return INNER_ARGS
