"""#XPOLL: chosen handles and all, with and without pending data, timeouts 0 and -1."""

from __future__ import annotations

import time

import pytest
from slmsuite import LONG, refused

from pytest_slm.slm_types import Family, PollEntry, PollEvent, SocketType


def _in(handle: int) -> PollEntry:
    return PollEntry(handle, int(PollEvent.IN), "0x00000001")


@pytest.fixture
def bound(slm, udp_echo):
    """Three UDP sockets, and a way to make any of them readable: it sends to the echo peer,
    whose answer comes back to that socket."""
    handles = [slm.socket_open(Family.IPV4, SocketType.DGRAM).handle for _ in range(3)]
    active = handles[-1]

    def feed(index: int, payload: bytes = b"ping") -> None:
        slm.socket_select(handles[index])
        slm.sendto(udp_echo.board_host, udp_echo.port, payload)
        slm.socket_select(active)
        # The answer is there once a poll of that one socket says so.
        assert slm.poll(LONG * 1000, [handles[index]]) == [_in(handles[index])]

    return handles, feed


def test_poll_with_no_socket_is_plain_ok(slm):
    assert slm.at("AT#XPOLL=0").lines == []


@pytest.mark.parametrize("timeout", [0, 200], ids=["timeout-0", "timeout-200ms"])
def test_poll_without_data_times_out_with_plain_ok(slm, bound, timeout):
    handles, _ = bound
    started = time.monotonic()
    assert slm.poll(timeout) == []
    assert slm.poll(timeout, handles) == []
    assert time.monotonic() - started >= 2 * timeout / 1000 * 0.9


def test_poll_chosen_handle_with_data(slm, bound):
    handles, feed = bound
    feed(1)
    assert slm.poll(0, [handles[1]]) == [_in(handles[1])]
    assert slm.poll(0, [handles[0], handles[2]]) == []


def test_poll_all_lists_only_readable_sockets_in_slot_order(slm, bound):
    handles, feed = bound
    feed(2)
    feed(0)
    assert slm.poll(0) == [_in(handles[0]), _in(handles[2])]


def test_poll_lists_in_the_order_given(slm, bound):
    handles, feed = bound
    feed(0)
    feed(2)
    assert slm.poll(0, [handles[2], handles[1], handles[0]]) == [_in(handles[2]), _in(handles[0])]


def test_poll_duplicate_handles(slm, bound):
    handles, feed = bound
    feed(1)
    assert slm.poll(0, [handles[1], handles[1]]) == [_in(handles[1]), _in(handles[1])]


def test_poll_infinite_returns_on_pending_data(slm, bound):
    handles, feed = bound
    feed(0)
    assert slm.poll(-1, [handles[0]], at_timeout=30.0) == [_in(handles[0])]
    assert slm.poll(-1, at_timeout=30.0) == [_in(handles[0])]


def test_poll_does_not_consume_the_data(slm, bound):
    handles, feed = bound
    feed(0, b"still here")
    assert slm.poll(0, [handles[0]]) == [_in(handles[0])]
    slm.socket_select(handles[0])
    assert slm.recvfrom(LONG).data == b"still here"
    assert slm.poll(0, [handles[0]]) == []


def test_poll_exact_format(slm, bound):
    handles, feed = bound
    feed(0)
    result = slm.at(f"AT#XPOLL=0,{handles[0]}")
    assert result.lines == [f'#XPOLL: {handles[0]},"0x00000001"']


def test_poll_a_handle_that_is_not_open_is_refused(slm, bound):
    handles, _ = bound
    refused(slm, f"AT#XPOLL=0,{handles[0]},7")
    refused(slm, "AT#XPOLL=0,-1")


def test_poll_ignores_handles_after_the_eighth(slm, bound):
    handles, feed = bound
    feed(0)
    listed = ",".join(str(handles[i % 3]) for i in range(8))
    # The ninth (not even open) is never looked at.
    result = slm.at(f"AT#XPOLL=0,{listed},7")
    assert result.lines == [f'#XPOLL: {handles[0]},"0x00000001"'] * 3


def test_poll_sees_a_closed_tcp_peer(slm, tcp_source):
    source = tcp_source(b"", close=True)
    handle = slm.socket_open(Family.IPV4, SocketType.STREAM).handle
    slm.connect(source.board_host, source.port)
    entries = slm.poll(LONG * 1000, [handle])
    assert [e.handle for e in entries] == [handle]
    assert entries[0].revents & PollEvent.IN
