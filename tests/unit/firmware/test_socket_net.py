"""The host networking layer behind the simulated sockets: fd table, waits, hostname checks."""

from __future__ import annotations

import errno
import socket
import threading
import time

import pytest
import trustme
from cryptography import x509

from firmware_ref.net import POLLIN, POLLOUT, FdTable, NetError, open_endpoint, poll_endpoints
from firmware_ref.net.resolver import ResolveError, resolve
from firmware_ref.net.security import hostname_matches


def test_fd_table_lowest_free_first() -> None:
    table: FdTable[str] = FdTable()
    assert [table.reserve(f"s{i}") for i in range(8)] == list(range(8))
    with pytest.raises(NetError) as exc:
        table.reserve("ninth")
    assert exc.value.errno == errno.ENFILE
    assert not table.has_free()
    assert table.release(5) == "s5"
    assert table.release(2) == "s2"
    assert table.reserve("again") == 2
    assert table.used() == [0, 1, 2, 3, 4, 6, 7]
    with pytest.raises(NetError) as exc:
        table.get(5)
    assert exc.value.errno == errno.EBADF
    assert sorted(table.drain()) == sorted(["s0", "s1", "again", "s3", "s4", "s6", "s7"])
    assert table.used() == []


def test_poll_wakes_on_stopping() -> None:
    ep = open_endpoint(1, 2)
    ep.bind("127.0.0.1", 0)
    stopping = threading.Event()
    timer = threading.Timer(0.2, stopping.set)
    timer.start()
    start = time.monotonic()
    with pytest.raises(NetError) as exc:
        poll_endpoints([ep], POLLIN, None, stopping)
    assert exc.value.errno == errno.EINTR
    assert time.monotonic() - start < 1.0
    ep.close()


def test_poll_with_nothing_to_poll_honours_the_timeout() -> None:
    start = time.monotonic()
    assert poll_endpoints([], POLLIN, 0.2, threading.Event()) == []
    assert time.monotonic() - start >= 0.19


def test_poll_sees_a_datagram() -> None:
    ep = open_endpoint(1, 2)
    ep.bind("127.0.0.1", 0)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.sendto(b"x", ("127.0.0.1", ep.local_port()))
    assert poll_endpoints([ep], POLLIN, 2.0, threading.Event()) == [POLLIN]
    assert ep.recvfrom(10) == (b"x", "127.0.0.1")
    sender.close()
    ep.close()
    assert ep.poll_now(POLLIN) == 0x20  # POLLNVAL once closed


def test_poll_now_looks_at_the_descriptor_once() -> None:
    """The Serial Modem poller thread polls while a command thread may close the socket: a
    descriptor gone after the first look must not reach poll() as -1 (the poller died of it)."""
    ep = open_endpoint(1, 2)
    ep.bind("127.0.0.1", 0)
    looks = iter([ep.sock.fileno(), -1, -1])
    ep.fileno = lambda: next(looks)
    assert ep.poll_now(POLLIN | POLLOUT) == POLLOUT
    ep.sock.close()


def test_timeout_option_round_trip() -> None:
    ep = open_endpoint(2, 1)
    ep.set_timeout_option(socket.SO_RCVTIMEO, 42)
    assert ep.get_timeout_option(socket.SO_RCVTIMEO) == 42
    assert ep.rcvtimeo == 42
    ep.set_timeout_option(socket.SO_RCVTIMEO, 0)
    assert ep.rcvtimeo == 0
    ep.close()


def test_resolve_families() -> None:
    assert resolve("127.0.0.1", 80, 1) == ("127.0.0.1", 80)
    assert resolve("::1", 80, 2) == ("::1", 80, 0, 0)
    assert resolve("::1", 80, 0) == ("::1", 80, 0, 0)  # AF_UNSPEC takes either
    with pytest.raises(ResolveError) as exc:
        resolve("127.0.0.1", 80, 3)
    assert exc.value.name == "EAI_FAMILY"


@pytest.fixture(scope="module")
def cert() -> x509.Certificate:
    leaf = trustme.CA().issue_cert("*.example.com", "exact.example.org", "10.0.0.1", "::2")
    return x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("a.example.com", True),
        ("A.EXAMPLE.COM", True),
        ("example.com", False),  # the wildcard needs one label
        ("a.b.example.com", False),  # and covers exactly one
        ("exact.example.org", True),
        ("exact.example.org.", True),
        ("other.example.org", False),
        ("10.0.0.1", True),
        ("10.0.0.2", False),
        ("::2", True),
        ("0:0::2", True),
    ],
)
def test_hostname_matches(cert: x509.Certificate, name: str, ok: bool) -> None:
    assert hostname_matches(cert, name) is ok
