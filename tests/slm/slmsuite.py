"""What the suite's test modules share: the known-deviation marker, the security tags, the bad
parameter classes and small helpers that wait on events.

Imported by the test modules as `slmsuite` (pytest puts this folder on sys.path) and re-exported
by conftest.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import pytest

from pytest_slm.at.errors import AtError
from pytest_slm.dut import SlmDut
from pytest_slm.peers.ports import unused_port
from pytest_slm.slm_types import Family

# The tags the session's bring-up provisions (--sec-tag and the ones after it; conftest.py sets
# these to the run's values): the suite's CA, and a CA that signed nothing the peers present
# (the wrong-CA cases). Far from the tags Nordic's samples use, so a lab board's own credentials
# are never touched.
SEC_TAG = 71434
WRONG_CA_SEC_TAG = 71435
# A tag nothing was written to.
EMPTY_SEC_TAG = 71439

# Protocol timeouts where a test expects the timeout: the shortest the firmware takes.
SHORT = 1
# Where a test expects data: generous, the peers run on a loaded CI host.
LONG = 10

ERROR = "ERROR"
OK = "OK"


def known_deviation(version: str, reason: str):
    """Mark a case where SLM `version`.x does not do what its documentation says.

    The test asserts the documented behaviour with `documented()`; only the deviating answer the
    mark names is an expected failure (KnownDeviation): any other wrong answer still fails, and
    the documented one passes, which a strict xfail turns red the day the firmware is fixed.
    """
    return pytest.mark.xfail(
        strict=True, reason=f"known deviation of SLM {version}.x: {reason}", raises=KnownDeviation
    )


# The Serial Modem release the suite's sm/ tests were written against (their known deviations
# name it: a later release that fixes one turns the strict xfail red).
SM_VERSION = "v2.0.0-preview1"


def sm_deviation(reason: str):
    """`known_deviation` for Serial Modem: the code of SM_VERSION does not do what its
    documentation (doc/app/at_socket.rst) says."""
    return pytest.mark.xfail(
        strict=True,
        reason=f"known deviation of Serial Modem {SM_VERSION}: {reason}",
        raises=KnownDeviation,
    )


def feature(name: str):
    """Mark a test that needs a board feature (`features:` in the board file)."""
    return pytest.mark.slm_feature(name)


def refused(slm: SlmDut, command: str, lines: Iterable[str] = ()) -> None:
    """`command` must answer exactly the given info lines and then ERROR."""
    result = slm.at(command, check=False)
    assert (result.lines, result.final) == (list(lines), ERROR), (
        f"{command!r} answered {result.lines + [result.final]!r}, expected "
        f"{list(lines) + [ERROR]!r}"
    )


def accepted(slm: SlmDut, command: str, lines: Iterable[str] = ()) -> None:
    """`command` must answer exactly the given info lines and then OK."""
    result = slm.at(command, check=False)
    assert (result.lines, result.final) == (list(lines), OK), (
        f"{command!r} answered {result.lines + [result.final]!r}, expected {list(lines) + [OK]!r}"
    )


def recv_exactly(slm: SlmDut, size: int, *, udp: bool = False, timeout: int = LONG) -> bytes:
    """Read with #XRECV (or #XRECVFROM) until `size` bytes came, each read waiting `timeout`."""
    data = b""
    while len(data) < size:
        got = slm.recvfrom(timeout) if udp else slm.recv(timeout)
        assert got.data, f"end of stream after {len(data)} of {size} bytes"
        data += got.data
    assert len(data) == size, f"{len(data) - size} bytes more than the {size} expected"
    return data


def expect_timeout(fn, *args, lasting: float, **kwargs) -> AtError:
    """Call a receiving method that must time out with ERROR and no information line, no
    sooner than its timeout of `lasting` seconds (an earlier ERROR is a refusal, not a timeout)."""
    started = time.monotonic()
    with pytest.raises(AtError) as info:
        fn(*args, **kwargs)
    waited = time.monotonic() - started
    assert info.value.final == ERROR
    assert info.value.received == [ERROR], info.value.received
    assert waited >= lasting * 0.9, f"ERROR after {waited:.2f} s, within the {lasting:g} s timeout"
    return info.value


def families():
    """Both IP families, IPv6 marked as needing the board's IPv6 feature."""
    return [
        pytest.param(Family.IPV4, id="ipv4"),
        pytest.param(Family.IPV6, id="ipv6", marks=feature("ipv6")),
    ]


def loopback(family: Family) -> str:
    return "::1" if family == Family.IPV6 else "127.0.0.1"


class KnownDeviation(AssertionError):
    """The firmware gave exactly the answer its known deviation predicts."""


def documented(actual, expected, *, deviation, what: str = "answer") -> None:
    """Assert the documented `expected`; the known deviating answer raises KnownDeviation (the
    xfail of `known_deviation`), anything else fails the test outright."""
    if actual == expected:
        return
    if actual == deviation:
        raise KnownDeviation(f"{what}: {actual!r} (documented: {expected!r})")
    pytest.fail(
        f"{what}: {actual!r} is neither the documented {expected!r} nor the known deviation "
        f"{deviation!r}"
    )


def board_address(slm: SlmDut, family: Family) -> str:
    """The board's PDP address of `family` (`AT+CGPADDR`): where it binds and listens."""
    import ipaddress

    rows = slm.at("AT+CGPADDR").values("+CGPADDR")
    assert rows, "AT+CGPADDR printed no address"
    want = 6 if family == Family.IPV6 else 4
    for value in rows[0][1:]:
        if isinstance(value, str) and value:
            address = ipaddress.ip_address(value)
            if address.version == want:
                return str(address)
    pytest.skip(f"the board has no IPv{want} address: {rows[0]}")


def free_port(family: Family) -> int:
    """A port nothing on this host listens on now (the board binds it on loopback), and none
    the kernel hands out by itself before the board does (see pytest_slm.peers.ports)."""
    return unused_port(loopback(family))


def reboot(slm: SlmDut, timeout: float = 60.0) -> None:
    """`AT#XRESET`, then online again: the only way to free the fds v2.0 leaks (an accepted
    peer the active-socket copy forgot)."""
    from pytest_slm.bringup import go_online

    slm.at("AT#XRESET")
    slm.wait_urc("Ready", timeout=timeout)
    slm.reset_state()
    if slm.at("AT+CFUN?").value("+CFUN")[0] != 1:
        go_online(slm, attach_timeout=180.0)


def peer(request: pytest.FixtureRequest, kind: str, family: Family):
    """The peer fixture `kind` (tcp_echo, udp_sink, ...) of `family`."""
    return request.getfixturevalue(kind + ("6" if family == Family.IPV6 else ""))


def free_udp_port(family: Family) -> int:
    """As free_port, for a datagram socket."""
    import socket

    return unused_port(loopback(family), socket.SOCK_DGRAM)


def nothing_more(slm: SlmDut, sink, before: bytes = b"") -> None:
    """Prove `sink` got nothing beyond `before`: send a marker and wait until it arrives first."""
    marker = b"<end>"
    slm.send(marker)
    data = sink.wait_for(len(before) + len(marker))
    assert data == before + marker, data


def ip_version(family: Family) -> int:
    """4 or 6: how the peers' factories name a family."""
    return 6 if family == Family.IPV6 else 4
