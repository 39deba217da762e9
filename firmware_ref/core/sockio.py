"""Socket machinery every dialect's socket commands share: error mapping, poll, send, receive.

These model the Zephyr socket calls the firmware makes (``poll``, ``send`` in a loop, ``recv``
with its timeout rules) on the core's socket table (``sockstate``) and real host endpoints
(``firmware_ref.net``). No command is registered here.
"""

from __future__ import annotations

import errno
import functools
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.sockstate import STATE_KEY, SocketState
from firmware_ref.net import (
    AF_INET,
    AF_INET6,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    SOCK_DGRAM,
    SOCK_STREAM,
    Endpoint,
    NetError,
    ResolveError,
    getaddrinfo_list,
    resolve,
)

if TYPE_CHECKING:
    from firmware_ref.core.host import Firmware
    from firmware_ref.core.params import Params

# Seconds of POLLOUT wait before each send() (SOCKET_SEND_TMO_SEC); tests may shorten it.
SEND_POLL_TIMEOUT = 30.0

F = TypeVar("F", bound=Callable[..., None])
T = TypeVar("T")

# Per-call receive caps of the modem: 1280-byte MTU minus IP and TCP/UDP headers.
_RECV_CAP = {
    (AF_INET, SOCK_STREAM): 1240,
    (AF_INET, SOCK_DGRAM): 1252,
    (AF_INET6, SOCK_STREAM): 1220,
    (AF_INET6, SOCK_DGRAM): 1232,
}
_RECV_CAP_OTHER = 1252


def recv_cap(sock: object) -> int:
    """The most one recv() returns on a socket of this ``family`` and ``type``."""
    key = (getattr(sock, "family", 0), getattr(sock, "type", 0))
    return _RECV_CAP.get(key, _RECV_CAP_OTHER)


def guarded(fn: F) -> F:
    """Turn every failure of a handler into ERROR; the simulator must never crash."""

    @functools.wraps(fn)
    def wrapper(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
        try:
            fn(fw, cmd_type, params)
        except CommandError:
            raise
        except (NetError, ResolveError) as exc:
            fw.log(f"{fn.__name__}: {exc}")
            raise CommandError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - any surprise is an ERROR, never a crash
            fw.log(f"{fn.__name__} failed:\n{traceback.format_exc()}")
            raise CommandError(f"internal error: {exc!r}") from None

    return wrapper  # type: ignore[return-value]


def set_only(fn: F) -> F:
    """A command with no read or test form: v2.0 answers both with ERROR."""

    @functools.wraps(fn)
    def wrapper(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
        if cmd_type is not CmdType.SET:
            raise CommandError("not supported")
        fn(fw, cmd_type, params)

    return wrapper  # type: ignore[return-value]


def state(fw: Firmware) -> SocketState:
    st = fw.state.get(STATE_KEY)
    if not isinstance(st, SocketState):
        st = SocketState()
        fw.state[STATE_KEY] = st
    return st


def endpoint(st: SocketState, fd: int) -> Endpoint:
    return st.fds.get(fd)  # NetError(EBADF) when not open


def credentials(fw: Firmware) -> dict:
    return dict(getattr(fw.modem, "credentials", {}) or {})


def interruptible(fw: Firmware, fn: Callable[[], object]) -> object:
    """Run a call that cannot be interrupted (the host resolver) so a reset still wakes us."""
    box: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc
        done.set()

    threading.Thread(target=run, name="slm-resolver", daemon=True).start()
    while not done.wait(0.1):
        if fw.stopping.is_set():
            raise NetError(errno.EINTR, "interrupted by reset")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def resolve_for(fw: Firmware, url: str, port: int, family: int) -> tuple:
    """``util_resolve_host`` for the socket's family (the modem's DNS needs the network)."""
    if not fw.modem.online:
        raise ResolveError("EAI_AGAIN")
    return interruptible(fw, lambda: resolve(url, port, family))  # type: ignore[return-value]


def getaddrinfo_for(fw: Firmware, host: str, family: int = 0) -> list:
    """``getaddrinfo`` through the modem, whose DNS needs the network (``family`` 0: any)."""
    if not fw.modem.online:
        raise ResolveError("EAI_AGAIN")
    return interruptible(fw, lambda: getaddrinfo_list(host, family))  # type: ignore[return-value]


# ---------------------------------------------------------------------------- poll, send, recv


def socket_poll(fw: Firmware, st: SocketState, fd: int, events: int, timeout: float) -> int:
    """Zephyr ``poll()`` on one fd: a negative fd is skipped (no events until the timeout), a
    closed one answers POLLNVAL. Returns revents, 0 on timeout."""
    if fd < 0:
        if fw.stopping.wait(max(0.0, timeout)):
            raise NetError(errno.EINTR, "interrupted by reset")
        return 0
    try:
        ep = endpoint(st, fd)
    except NetError:
        return POLLNVAL
    return ep.wait(events, timeout, fw.stopping)


def send_loop(
    fw: Firmware, st: SocketState, fd: int, data: bytes, addr: tuple | None = None
) -> tuple[int, NetError | None]:
    """The firmware's send loop: 30 s POLLOUT wait, then one send(); until all is sent."""
    sent = 0
    while sent < len(data):
        revents = socket_poll(fw, st, fd, POLLOUT, SEND_POLL_TIMEOUT)
        if revents == 0:
            return sent, NetError(errno.EAGAIN, "send poll timed out")
        if revents & POLLOUT != POLLOUT:
            return sent, NetError(errno.EIO, f"send poll revents 0x{revents:x}")
        try:
            ep = endpoint(st, fd)
            chunk = data[sent:]
            n = ep.send(chunk) if addr is None else ep.sendto(chunk, addr)
        except NetError as exc:
            if exc.errno == errno.EAGAIN:
                continue
            return sent, exc
        sent += n
    return sent, None


def receive(
    fw: Firmware, st: SocketState, fd: int, size: int, timeout: int, with_addr: bool
) -> tuple[bytes, str]:
    """One recv()/recvfrom() with the firmware's timeout rules (seconds).

    timeout >= 1: poll first; expiry, or revents without POLLIN, is an error.
    timeout <= 0: no poll; the call blocks, bounded only by SO_RCVTIMEO.
    """

    def once(ep: Endpoint) -> tuple[bytes, str]:
        if with_addr:
            return ep.recvfrom(size)
        return ep.recv(size), ""

    if timeout > 0:
        deadline = time.monotonic() + timeout
        revents = socket_poll(fw, st, fd, POLLIN, float(timeout))
        while True:
            if revents == 0:
                raise NetError(errno.EAGAIN, "receive timed out")
            if not revents & POLLIN:
                raise NetError(errno.EIO, f"receive poll revents 0x{revents:x}")
            try:
                return once(endpoint(st, fd))
            except NetError as exc:
                # A (D)TLS record that carried no application data: keep waiting.
                if exc.errno != errno.EAGAIN:
                    raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NetError(errno.EAGAIN, "receive timed out")
            revents = socket_poll(fw, st, fd, POLLIN, remaining)

    ep = endpoint(st, fd)
    return blocking(fw, ep, once, time.monotonic() + ep.rcvtimeo if ep.rcvtimeo > 0 else None)


def blocking(
    fw: Firmware, ep: Endpoint, once: Callable[[Endpoint], T], deadline: float | None
) -> T:
    """``once(ep)`` as a blocking socket call: again on each EAGAIN until ``deadline``
    (monotonic; None: for ever), then EAGAIN "SO_RCVTIMEO expired"."""
    while True:
        try:
            return once(ep)
        except NetError as exc:
            if exc.errno != errno.EAGAIN:
                raise
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise NetError(errno.EAGAIN, "SO_RCVTIMEO expired")
        ep.wait(POLLIN, remaining, fw.stopping)
