"""The socket AT commands of Serial Modem v2.0.0-preview1 (``sm_at_socket.c``).

Handle-based: every command names its socket by the modem's file descriptor, which is the
handle ``#XSOCKET``/``#XSSOCKET`` print. Host sockets, TLS and DTLS come from
``firmware_ref.net``, as for v2.0. What the firmware gets from libmodem callbacks is modelled
with one poller thread per boot:

* ``NRF_SO_POLLCB`` (oneshot): the poller watches each socket for the events the firmware
  registered and, when one is ready, disarms it and hands the revents to the worker
  (``poll_cb`` -> ``sm_at_socket_poll_work_handler``), which sends ``#XAPOLL`` URCs, runs
  automatic reception (``#XRECVCFG``) and re-registers what is left;
* ``NRF_SO_SENDCB``: a send with flag 8192 is acknowledged when the host kernel's send queue
  for the socket is empty (all bytes ACKed by the peer for TCP; at once for UDP), which queues
  ``#XSENDNTF`` as idle work.

Readiness as the modem reports it (choices the C code leaves to libmodem; README, Serial
Modem): a TCP socket that is neither connected nor listening reports nothing; a peer's orderly
close of a TCP connection is ``POLLIN|POLLHUP`` (17), as the documentation's example shows.
"""

from __future__ import annotations

import errno
import fcntl
import select
import socket
import ssl
import struct
import termios
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from firmware_ref.core.errors import CmdType
from firmware_ref.core.sockio import (
    credentials,
    getaddrinfo_for,
    recv_cap,
    resolve_for,
)
from firmware_ref.dialects.sm.atparser import INT32, UINT16, AtParser, ParseError
from firmware_ref.dialects.sm.host import (
    DATAMODE_EXIT,
    DATAMODE_SEND,
    FLAGS_EXIT_HANDLER,
    FLAGS_MORE_DATA,
    TERMINATOR,
)
from firmware_ref.dialects.sm.host import MODE_DATA as HOST_MODE_DATA
from firmware_ref.dialects.sm.table import SM, SmError
from firmware_ref.net import (
    AF_INET,
    AF_INET6,
    AF_PACKET,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_STREAM,
    Endpoint,
    FdTable,
    NetError,
    ResolveError,
    SecurityConfig,
    open_endpoint,
)
from firmware_ref.net.endpoint import RawEndpoint
from firmware_ref.net.security import SessionCache

if TYPE_CHECKING:
    from firmware_ref.dialects.sm.host import SmFirmware

MAX_SOCKETS = 8  # NRF_MODEM_MAX_SOCKET_COUNT
INVALID_SOCKET = -1
SEC_TAG_INVALID = -1
SM_MAX_URL = 128  # url buffers: 127 characters and a NUL
SM_DATA_BUF = 2048  # sm_data_buf: NRF_SOCKET_TLS_MAX_MESSAGE_SIZE
BIN_DATA_BUF = 1400  # bin_data: hex strings decode into at most 1400 bytes
HEX_CHUNK = 128  # data_send_hex converts 128 bytes (256 hex digits) at a time
SOCKET_SEND_TMO_SEC = 30
STATE_KEY = "sm.sockets"

ROLE_CLIENT = 0
ROLE_SERVER = 1
MODE_STRING = 0
MODE_HEX = 1
MODE_DATA = 2
ADR_AT_MODE = 1
ADR_DATA_MODE = 2
SEND_ACK = 0x2000  # SM_MSG_SEND_ACK: #XSENDNTF
MSG_PEEK = 0x02
MSG_DONTWAIT = 0x40
MSG_WAITALL = 0x100
MSG_WAITACK = 0x200

IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
SPROTO_TLS1V2 = 258
SPROTO_DTLS1V2 = 273

ALWAYS = POLLERR | POLLHUP | POLLNVAL
ALL_EVENTS = POLLIN | POLLOUT | ALWAYS
_POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)

# sm_sockopt.h: the AT option numbers, and what the modem keeps for the modem-only ones.
SO_REUSEADDR = 2
SO_RCVTIMEO = 20
SO_SNDTIMEO = 21
SO_SILENCE_ALL = 30
SO_IP_ECHO_REPLY = 31
SO_IPV6_ECHO_REPLY = 32
SO_BINDTOPDN = 40
SO_TCP_SRV_SESSTIMEO = 55
SO_RAI = 61
SO_IPV6_DELAYED_ADDR_REFRESH = 62
_MODEM_OPTION_DEFAULTS = {
    SO_SILENCE_ALL: 0,
    SO_IP_ECHO_REPLY: 1,
    SO_IPV6_ECHO_REPLY: 1,
    SO_BINDTOPDN: 0,
    SO_TCP_SRV_SESSTIMEO: 0,
    SO_RAI: 0,
    SO_IPV6_DELAYED_ADDR_REFRESH: 0,
}
TLS_HOSTNAME = 2
TLS_CIPHERSUITE_USED = 4
TLS_PEER_VERIFY = 5
TLS_SESSION_CACHE = 12
TLS_SESSION_CACHE_PURGE = 13
TLS_DTLS_CID = 14
TLS_DTLS_CID_STATUS = 15
TLS_DTLS_HANDSHAKE_TIMEO = 18
TLS_DTLS_FRAG_EXT = 22
_SEC_OPTIONS = (
    TLS_HOSTNAME,
    TLS_CIPHERSUITE_USED,
    TLS_PEER_VERIFY,
    TLS_SESSION_CACHE,
    TLS_SESSION_CACHE_PURGE,
    TLS_DTLS_CID,
    TLS_DTLS_CID_STATUS,
    TLS_DTLS_HANDSHAKE_TIMEO,
    TLS_DTLS_FRAG_EXT,
)
DTLS_HANDSHAKE_TIMEOUTS = (1, 3, 7, 15, 31, 63, 123)


@dataclass
class SmSocket:
    """One ``struct sm_socket`` slot."""

    fd: int = INVALID_SOCKET
    type: int = 0
    role: int = ROLE_CLIENT
    sec_tag: int = SEC_TAG_INVALID
    family: int = 0
    cid: int = 0
    local_port: int = 0
    send_flags: int = 0
    send_cb_set: bool = False
    connected: bool = False
    listen: bool = False
    rcvtimeo: int = 0
    sndtimeo: int = SOCKET_SEND_TMO_SEC
    options: dict[int, int] = field(default_factory=dict)
    # struct sm_async_poll
    events: int = 0
    revents: int = 0
    delayed_revents: int = 0
    xapoll_events: int = 0
    xapoll_requested: int = 0
    adr_flags: int = 0
    disable: bool = False
    adr_hex: bool = False
    # struct sm_send_ntf
    ntf_ready: bool = False
    ntf_status: int = 0
    ntf_bytes: int = 0
    # libmodem's side: the armed POLLCB events and a pending send acknowledgement.
    armed: int = 0
    ack_watch: int = 0

    def reset(self) -> None:
        """``init_socket``."""
        self.__init__()  # type: ignore[misc]


@dataclass
class PollCtx:
    """``struct async_poll_ctx``: the defaults new sockets take, and the data-mode socket."""

    adr_flags: int = 0
    adr_hex: bool = False
    xapoll_requested: int = 0
    datamode_sock: SmSocket | None = None


class SmSockets:
    """Per-boot socket state: the slot table, the modem's fds, the poller."""

    def __init__(self, fw: SmFirmware) -> None:
        self.fw = fw
        self.socks = [SmSocket() for _ in range(MAX_SOCKETS)]
        self.fds: FdTable[Endpoint] = FdTable(MAX_SOCKETS)
        self.poll = PollCtx()
        self.udp_url = ""
        self.udp_port = 0
        self.tls_sessions = SessionCache()
        self.idle_poll_fn: Callable[[], None] | None = None
        self.ntf_fn: Callable[[], None] | None = None
        self.lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poller, name="sm-pollcb", daemon=True)
        self._thread.start()

    # -- table

    def find(self, fd: int) -> SmSocket | None:
        for s in self.socks:
            if s.fd == fd:
                return s
        return None

    def find_avail(self) -> SmSocket | None:
        return self.find(INVALID_SOCKET)

    def opened(self) -> Iterator[SmSocket]:
        """The open slots, each checked as the walk reaches it (a close may end a later one)."""
        return (s for s in self.socks if s.fd != INVALID_SOCKET)

    def ep(self, sock: SmSocket) -> Endpoint:
        return self.fds.get(sock.fd)

    def close_all(self) -> None:
        self._stop.set()
        self._wake.set()
        for ep in self.fds.drain():
            ep.close()
        for s in self.socks:
            s.reset()

    # -- libmodem callbacks

    def arm(self, sock: SmSocket, events: int) -> None:
        """``nrf_setsockopt(NRF_SO_POLLCB, {events, oneshot})``."""
        with self.lock:
            sock.armed = events
        self._wake.set()

    def watch_ack(self, sock: SmSocket, nbytes: int) -> None:
        with self.lock:
            sock.ack_watch = nbytes
        self._wake.set()

    def _revents(self, sock: SmSocket, ep: Endpoint, wanted: int) -> int:
        if ep.closed:
            return POLLNVAL & wanted
        if sock.type == SOCK_STREAM and not sock.connected and not sock.listen:
            return 0
        rev = ep.poll_now(POLLIN | POLLOUT)
        # A FIN always makes the socket readable: while poll_now holds POLLIN back (the FIN is
        # still on its way, --latency), the hang-up is not there yet either.
        if sock.type == SOCK_STREAM and sock.connected and rev & POLLIN:
            fd = ep.fileno()
            if fd >= 0:
                poller = select.poll()
                poller.register(fd, _POLLRDHUP)
                if any(ev & _POLLRDHUP for _fd, ev in poller.poll(0)):
                    rev |= POLLHUP
        return rev & wanted

    def _sent_and_acked(self, sock: SmSocket, ep: Endpoint) -> bool:
        if sock.type != SOCK_STREAM:
            return True
        try:
            raw = fcntl.ioctl(ep.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
        except OSError:
            return True
        return struct.unpack("i", raw)[0] == 0

    def _poller(self) -> None:
        while not self._stop.is_set():
            fired = False
            acked: list[tuple[SmSocket, int]] = []
            waiting = False
            with self.lock:
                for sock in self.socks:
                    if sock.fd == INVALID_SOCKET:
                        continue
                    try:
                        ep = self.fds.get(sock.fd)
                    except NetError:
                        continue
                    if sock.armed:
                        rev = self._revents(sock, ep, sock.armed)
                        if rev:
                            sock.armed = 0  # oneshot
                            sock.revents |= rev
                            fired = True
                        else:
                            waiting = True
                    if sock.ack_watch:
                        if self._sent_and_acked(sock, ep):
                            acked.append((sock, sock.ack_watch))
                            sock.ack_watch = 0
                        else:
                            waiting = True
            for sock, nbytes in acked:
                self.fw.submit(lambda s=sock, n=nbytes: send_cb(self, s, n))
            if fired:
                self.fw.submit(lambda: poll_work(self))
            if fired or acked:
                continue
            # Something armed but not ready yet: look again soon (the modem's callback comes
            # within a radio frame or two); nothing armed: sleep until arm() wakes us.
            self._wake.wait(0.02 if waiting else 0.5)
            self._wake.clear()


def state(fw: SmFirmware) -> SmSockets:
    st = fw.state.get(STATE_KEY)
    if not isinstance(st, SmSockets):
        st = SmSockets(fw)
        fw.state[STATE_KEY] = st
    return st


@SM.on_boot
def _boot(fw: SmFirmware) -> None:
    fw.state[STATE_KEY] = SmSockets(fw)


@SM.on_shutdown
def _shutdown(fw: SmFirmware) -> None:
    st = fw.state.get(STATE_KEY)
    if isinstance(st, SmSockets):
        st.close_all()


# ---------------------------------------------------------------------------- async poll


def update_poll_events(st: SmSockets, sock: SmSocket, events: int, update_xapoll: bool) -> None:
    if sock.fd == INVALID_SOCKET or sock.disable:
        return
    if update_xapoll:
        sock.xapoll_events |= sock.xapoll_requested & events
    sock.events |= events
    st.arm(sock, sock.events)


def poll_work(st: SmSockets) -> None:
    """``sm_at_socket_poll_work_handler`` (worker thread)."""
    fw = st.fw
    at_and_idle = fw.is_idle()
    data_mode = fw.mode == HOST_MODE_DATA
    for sock in st.socks:
        if sock.fd == INVALID_SOCKET:
            continue
        with st.lock:
            revents, sock.revents = sock.revents, 0
        if not at_and_idle:
            sock.delayed_revents |= revents
            fw.queue_idle_work(st_idle_handler(st))
        if not at_and_idle and not data_mode:
            continue
        if data_mode and sock is not st.poll.datamode_sock:
            continue
        if at_and_idle and sock.delayed_revents:
            # Events that came while the host was busy: re-arm them to see which still hold.
            sock.disable = False
            update_poll_events(st, sock, sock.delayed_revents | revents, True)
            sock.delayed_revents = 0
            continue
        if not data_mode:
            xapoll = revents & sock.xapoll_events
            sock.xapoll_events &= ~xapoll
            if xapoll:
                fw.urc_send_to(f"\r\n#XAPOLL: {sock.fd},{xapoll}\r\n".encode())
        if revents & POLLOUT:
            sock.events &= ~POLLOUT
        if revents & ALWAYS:
            sock.disable = True
        if revents & POLLIN:
            sock.events &= ~POLLIN
            if (at_and_idle and sock.adr_flags & ADR_AT_MODE) or (
                data_mode and sock.adr_flags & ADR_DATA_MODE
            ):
                auto_reception(st, sock)
        update_poll_events(st, sock, 0, False)
        if data_mode:
            err = 0
            if revents & POLLERR:
                err = -errno.EIO
            elif revents & POLLNVAL:
                err = -errno.ENETDOWN
            elif revents & POLLHUP:
                err = -errno.ECONNRESET
            if err:
                fw.exit_datamode_handler(err)


def st_idle_handler(st: SmSockets) -> Callable[[], None]:
    """``sm_at_socket_poll_idle_handler``: one work item per board (queued at most once)."""
    if st.idle_poll_fn is None:

        def fn() -> None:
            if not st.fw.is_idle():
                st.fw.queue_idle_work(fn)
                return
            poll_work(st)

        st.idle_poll_fn = fn
    return st.idle_poll_fn


def auto_reception(st: SmSockets, sock: SmSocket) -> None:
    if sock.listen:
        return
    mode = MODE_HEX if sock.adr_hex else MODE_STRING
    try:
        if sock.connected or sock.type == SOCK_RAW:
            do_recv(st, sock, 0, MSG_DONTWAIT, mode, SM_DATA_BUF)
        else:
            do_recvfrom(st, sock, 0, MSG_DONTWAIT, mode, SM_DATA_BUF)
    except (NetError, SmError) as exc:
        st.fw.log(f"auto_reception() error: {exc}")
        return
    if st.fw.mode != HOST_MODE_DATA:
        st.fw.write(b"\r\n")


def send_cb(st: SmSockets, sock: SmSocket, nbytes: int) -> None:
    """``send_cb``: record the acknowledgement; ``send_cb_fn`` runs when the host is idle."""
    if sock.fd == INVALID_SOCKET or not sock.send_cb_set:
        return
    if sock.ntf_ready:
        st.fw.log(f"Send notification pending for socket fd {sock.fd}")
        return
    sock.ntf_status = 0
    sock.ntf_bytes = nbytes
    sock.ntf_ready = True
    st.fw.queue_idle_work(send_cb_fn_for(st))


def send_cb_fn_for(st: SmSockets) -> Callable[[], None]:
    """``send_cb_fn``: one work item per board printing every pending ``#XSENDNTF``."""
    if st.ntf_fn is None:

        def fn() -> None:
            for sock in st.socks:
                if sock.fd == INVALID_SOCKET or not sock.ntf_ready:
                    continue
                sock.ntf_ready = False
                status = -1 if sock.ntf_status else 0
                line = f"\r\n#XSENDNTF: {sock.fd},{status},{sock.ntf_bytes}\r\n"
                st.fw.urc_send_to(line.encode())
                update_poll_events(st, sock, POLLOUT, True)

        st.ntf_fn = fn
    return st.ntf_fn


# ---------------------------------------------------------------------------- socket calls


def _deadline(seconds: int) -> float | None:
    return None if seconds <= 0 else time.monotonic() + seconds


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def nrf_send(
    fw: SmFirmware, sock: SmSocket, ep: Endpoint, data: bytes, addr=None, flags: int = 0
) -> int:
    """One ``nrf_send``/``nrf_sendto``: waits for room up to SO_SNDTIMEO, unless
    MSG_DONTWAIT. Other flag bits are the modem's business and change nothing here."""
    deadline = _deadline(sock.sndtimeo)
    while True:
        try:
            return ep.send(data) if addr is None else ep.sendto(data, addr)
        except NetError as exc:
            if exc.errno != errno.EAGAIN or flags & MSG_DONTWAIT:
                raise
        left = _remaining(deadline)
        if left is not None and left <= 0:
            raise NetError(errno.EAGAIN, "SO_SNDTIMEO expired")
        ep.wait(POLLOUT, left, fw.stopping)


def _wait_acked(st: SmSockets, sock: SmSocket, ep: Endpoint) -> None:
    """MSG_WAITACK: block until the peer has the data (bounded by SO_SNDTIMEO)."""
    deadline = _deadline(sock.sndtimeo)
    while not st._sent_and_acked(sock, ep):
        left = _remaining(deadline)
        if (left is not None and left <= 0) or st.fw.stopping.wait(0.01):
            raise NetError(errno.EAGAIN, "not acknowledged in time")


def _set_send_cb(st: SmSockets, sock: SmSocket, ntf: bool) -> None:
    sock.send_cb_set = ntf


def do_send(st: SmSockets, sock: SmSocket, data: bytes, flags: int) -> int:
    fw = st.fw
    ntf = bool(flags & SEND_ACK)
    flags &= ~SEND_ACK
    _set_send_cb(st, sock, ntf)
    sent = 0
    ret = 0
    try:
        ep = st.ep(sock)
        while sent < len(data):
            n = nrf_send(fw, sock, ep, data[sent:], flags=flags)
            if flags & MSG_WAITACK:
                _wait_acked(st, sock, ep)
            sent += n
    except NetError as exc:
        fw.log(f"Sent {sent} out of {len(data)} bytes. ({exc})")
        ret = -(exc.errno or errno.EIO)
    if fw.mode != HOST_MODE_DATA:
        fw.rsp(f"#XSEND: {sock.fd},{1 if ntf else 0},{sent}")
    if ntf and sent:
        st.watch_ack(sock, sent)
    if not ntf:
        update_poll_events(st, sock, POLLOUT, True)
    return sent if sent > 0 else ret


def do_sendto(st: SmSockets, sock: SmSocket, url: str, port: int, data: bytes, flags: int) -> int:
    fw = st.fw
    ntf = bool(flags & SEND_ACK)
    try:
        addr = resolve_for(fw, url, port, sock.family)
    except (ResolveError, NetError):
        return -errno.EAGAIN
    flags &= ~SEND_ACK
    _set_send_cb(st, sock, ntf)
    sent = 0
    ret = 0
    try:
        ep = st.ep(sock)
        while True:
            n = nrf_send(fw, sock, ep, data[sent:], addr, flags)
            if flags & MSG_WAITACK:
                _wait_acked(st, sock, ep)
            if n <= 0:
                ret = -errno.EIO
                break
            sent += n
            if sock.type == SOCK_DGRAM or sent >= len(data):
                break
    except NetError as exc:
        ret = -(exc.errno or errno.EIO)
    if ret >= 0 and sock.type == SOCK_DGRAM and sent != len(data):
        ret = -errno.EAGAIN  # a partial datagram
        sent = 0
    if fw.mode != HOST_MODE_DATA:
        fw.rsp(f"#XSENDTO: {sock.fd},{1 if ntf else 0},{sent}")
    if ntf and sent:
        st.watch_ack(sock, sent)
    if not ntf:
        update_poll_events(st, sock, POLLOUT, True)
    return sent if sent > 0 else ret


def _recv_call(ep: Endpoint, size: int, flags: int, with_addr: bool) -> tuple[bytes, str, int]:
    """One non-blocking receive: data, and the sender for ``recvfrom``."""
    plain = type(ep) is Endpoint
    peek = socket.MSG_PEEK if flags & MSG_PEEK and plain else 0
    if plain and (peek or (with_addr and ep.kind == SOCK_DGRAM)):
        # Through the endpoint's own receive, so an emulated round trip (--latency) holds a
        # peek back as it does any receive.
        if with_addr and ep.kind == SOCK_DGRAM:
            data, addr = ep.recvfrom_addr(size, peek)
            return data, str(addr[0]), int(addr[1])
        data = ep.recv(size, peek)
    elif with_addr:
        data, ip = ep.recvfrom(size)
        return data, ip, _peer_port(ep) if data else 0
    else:
        data = ep.recv(size)
    if with_addr:
        return bytes(data), ep.peer_ip(), _peer_port(ep)
    return bytes(data), "", 0


def _peer_port(ep: Endpoint) -> int:
    try:
        return int(ep.sock.getpeername()[1])
    except (OSError, IndexError, TypeError, ValueError):
        return 0


def _recv_once(
    st: SmSockets, sock: SmSocket, size: int, flags: int, with_addr: bool
) -> tuple[bytes, str, int]:
    """``nrf_recv``/``nrf_recvfrom`` with SO_RCVTIMEO, MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL."""
    fw = st.fw
    ep = st.ep(sock)
    size = min(size, recv_cap(sock))  # type: ignore[arg-type]
    deadline = _deadline(sock.rcvtimeo)
    waitall = bool(flags & MSG_WAITALL) and sock.type == SOCK_STREAM and not flags & MSG_PEEK
    out = b""
    ip, port = "", 0
    while True:
        try:
            chunk, ip, port = _recv_call(ep, size - len(out), flags, with_addr)
            out += chunk
            if not waitall or not chunk or len(out) >= size:
                return out, ip, port
        except NetError as exc:
            if exc.errno != errno.EAGAIN or flags & MSG_DONTWAIT:
                if out:
                    return out, ip, port
                raise
        left = _remaining(deadline)
        if left is not None and left <= 0:
            if out:
                return out, ip, port
            raise NetError(errno.EAGAIN, "SO_RCVTIMEO expired")
        ep.wait(POLLIN, left, fw.stopping)


def _send_payload(st: SmSockets, mode: int, data: bytes) -> None:
    if mode == MODE_HEX:
        # data_send_hex: lowercase hex, 128 bytes at a time.
        for i in range(0, len(data), HEX_CHUNK):
            st.fw.data_send(data[i : i + HEX_CHUNK].hex().encode())
    else:
        st.fw.data_send(data)


def _set_rcvtimeo(sock: SmSocket, timeout: int) -> None:
    if timeout < 0:
        raise NetError(errno.EINVAL, "negative SO_RCVTIMEO")
    sock.rcvtimeo = timeout


def do_recv(st: SmSockets, sock: SmSocket, timeout: int, flags: int, mode: int, size: int) -> None:
    _set_rcvtimeo(sock, timeout)
    data, _ip, _port = _recv_once(st, sock, size, flags, with_addr=False)
    if not data:
        st.fw.log("nrf_recv() return 0")
        return
    if st.fw.mode != HOST_MODE_DATA:
        st.fw.rsp(f"#XRECV: {sock.fd},{mode},{len(data)}")
    _send_payload(st, mode, data)
    update_poll_events(st, sock, POLLIN, True)


def do_recvfrom(
    st: SmSockets, sock: SmSocket, timeout: int, flags: int, mode: int, size: int
) -> None:
    _set_rcvtimeo(sock, timeout)
    data, ip, port = _recv_once(st, sock, size, flags, with_addr=True)
    if not data:
        st.fw.log("nrf_recvfrom() return 0")
        return
    if st.fw.mode != HOST_MODE_DATA:
        if sock.family not in (AF_INET, AF_INET6):
            ip, port = "", 0
        st.fw.rsp(f'#XRECVFROM: {sock.fd},{mode},{len(data)},"{ip}",{port}')
    _send_payload(st, mode, data)
    update_poll_events(st, sock, POLLIN, True)


def _new_socket_poll(st: SmSockets, sock: SmSocket) -> None:
    sock.adr_flags = st.poll.adr_flags
    sock.adr_hex = st.poll.adr_hex
    sock.xapoll_requested = st.poll.xapoll_requested
    update_poll_events(st, sock, ALL_EVENTS, True)


def _register(st: SmSockets, sock: SmSocket, ep: Endpoint) -> None:
    try:
        sock.fd = st.fds.reserve(ep)
    except NetError:
        ep.close()
        raise


def _check_cid(fw: SmFirmware, sock: SmSocket) -> None:
    if sock.cid > 0:
        # bind_to_pdn: the simulated network has no secondary PDN contexts.
        raise NetError(errno.EINVAL, f"no PDN for cid {sock.cid}")


def do_socket_open(st: SmSockets, sock: SmSocket) -> None:
    fw = st.fw
    if sock.family not in (AF_INET, AF_INET6, AF_PACKET):
        raise SmError(-errno.ENOTSUP, f"Socket family {sock.family} not supported")
    if sock.type == SOCK_RAW or sock.family == AF_PACKET:
        if sock.type != SOCK_RAW or sock.family != AF_PACKET:
            raise SmError(-errno.EINVAL, "Raw socket: Family and type must match")
    if sock.type == SOCK_STREAM:
        proto = IPPROTO_TCP
    elif sock.type == SOCK_DGRAM:
        proto = IPPROTO_UDP
    elif sock.type == SOCK_RAW:
        proto = IPPROTO_IP
    else:
        raise SmError(-errno.ENOTSUP, f"Socket type {sock.type} not supported")
    if not fw.modem.online:
        raise NetError(errno.ENETDOWN, "socket(): the modem is offline")
    ep = open_endpoint(sock.family, sock.type)
    if isinstance(ep, RawEndpoint):
        ep.local_addresses = tuple(a for a in (fw.modem.address, fw.modem.address6) if a)
    _register(st, sock, ep)
    try:
        _check_cid(fw, sock)
    except NetError:
        st.fds.release(sock.fd)
        ep.close()
        sock.fd = INVALID_SOCKET
        raise
    fw.rsp(f"#XSOCKET: {sock.fd},{sock.type},{proto}")
    _new_socket_poll(st, sock)


def do_secure_socket_open(st: SmSockets, sock: SmSocket, peer_verify: int) -> None:
    fw = st.fw
    proto = SPROTO_TLS1V2 if sock.type == SOCK_STREAM else SPROTO_DTLS1V2
    if sock.family not in (AF_INET, AF_INET6):
        raise SmError(-errno.ENOTSUP, f"Socket family {sock.family} not supported")
    if sock.type not in (SOCK_STREAM, SOCK_DGRAM):
        raise SmError(-errno.ENOTSUP, f"Socket type {sock.type} not supported")
    if not fw.modem.online:
        raise NetError(errno.ENETDOWN, "socket(): the modem is offline")
    security = SecurityConfig(
        sec_tag=sock.sec_tag,
        peer_verify=peer_verify,
        server=sock.role == ROLE_SERVER,
        sessions=st.tls_sessions,
    )
    ep = open_endpoint(sock.family, sock.type, security)
    _register(st, sock, ep)
    try:
        _check_cid(fw, sock)
        if peer_verify not in (0, 1, 2):
            raise NetError(errno.EINVAL, f"TLS_PEER_VERIFY {peer_verify}")
    except NetError:
        st.fds.release(sock.fd)
        ep.close()
        sock.fd = INVALID_SOCKET
        raise
    fw.rsp(f"#XSSOCKET: {sock.fd},{sock.type},{proto}")
    _new_socket_poll(st, sock)


def do_socket_close(st: SmSockets, sock: SmSocket) -> int:
    if sock.fd == INVALID_SOCKET:
        return 0
    ep = st.fds.release(sock.fd)
    ret = 0
    if ep is None:
        ret = -errno.EBADF
    else:
        ep.close()
    st.fw.rsp(f"#XCLOSE: {sock.fd},{ret}")
    with st.lock:
        sock.reset()
    return ret


def _find(st: SmSockets, parser: AtParser, index: int = 1) -> SmSocket:
    # find_socket(-1) finds a free slot: the firmware then acts on that empty slot.
    return _lookup(st, parser.num(index, INT32))


def _lookup(st: SmSockets, fd: int) -> SmSocket:
    sock = st.find(fd)
    if sock is None:
        raise SmError(-errno.EINVAL, f"no socket {fd}")
    return sock


def _set_socket(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> tuple[SmSockets, SmSocket]:
    """A set-only socket command's start: -EINVAL for its other forms, then its <handle>."""
    if cmd_type is not CmdType.SET:
        raise SmError(-errno.EINVAL)
    st = state(fw)
    return st, _find(st, parser)


def _open_common(st: SmSockets, parser: AtParser) -> SmSocket:
    sock = st.find_avail()
    if sock is None:
        raise SmError(-errno.EINVAL, "Max socket count reached")
    sock.reset()
    sock.family = parser.num(1, INT32)
    sock.type = parser.num(2, INT32)
    sock.role = parser.num(3, UINT16)
    return sock


# ---------------------------------------------------------------------------- handlers


def _open(st: SmSockets, parser: AtParser, open_: Callable[[SmSocket], None]) -> None:
    """#XSOCKET and #XSSOCKET: a free slot with <family>, <type> and <role>, then ``open_``."""
    sock = None
    try:
        sock = _open_common(st, parser)
        open_(sock)
    except BaseException:
        if sock is not None:
            sock.reset()  # init_socket() on every error path
        raise


def _cid(parser: AtParser, index: int, sock: SmSocket) -> None:
    """The optional <cid> at ``index`` (PDN contexts 0 to 10)."""
    if parser.count > index:
        sock.cid = parser.num(index, UINT16)
        if sock.cid > 10:
            raise SmError(-errno.EINVAL, "cid > 10")


@SM.command("AT#XSOCKET", order=0)
def handle_socket(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:

        def open_(sock: SmSocket) -> None:
            _cid(parser, 4, sock)
            do_socket_open(st, sock)

        _open(st, parser, open_)
    elif cmd_type is CmdType.READ:
        for s in st.opened():
            if s.sec_tag == SEC_TAG_INVALID:
                fw.rsp(f"#XSOCKET: {s.fd},{s.family},{s.role},{s.type},{s.cid}")
    else:
        fw.rsp("#XSOCKET: <handle>,(1,2,3),(1,2,3),(0,1),<cid>")


@SM.command("AT#XSSOCKET", order=0)
def handle_ssocket(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:

        def open_(sock: SmSocket) -> None:
            sock.sec_tag = parser.num(4, INT32)
            peer_verify = 2
            if parser.count > 5:
                peer_verify = parser.num(5, UINT16)
            _cid(parser, 6, sock)
            do_secure_socket_open(st, sock, peer_verify)

        _open(st, parser, open_)
    elif cmd_type is CmdType.READ:
        for s in st.opened():
            if s.sec_tag != SEC_TAG_INVALID:
                fw.rsp(f"#XSSOCKET: {s.fd},{s.family},{s.role},{s.type},{s.sec_tag},{s.cid}")
    else:
        fw.rsp("#XSSOCKET: <handle>,(1,2),(1,2),(0,1),<sec_tag>,<peer_verify>,<cid>")


@SM.command("AT#XCLOSE", order=0)
def handle_close(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is not CmdType.SET:
        raise SmError(-errno.EINVAL)
    if parser.count > 1:
        err = do_socket_close(st, _find(st, parser))
    else:
        err = 0
        for s in st.opened():
            ret = do_socket_close(st, s)
            if ret < 0:
                err = ret
    if err:
        raise SmError(err)


def _sockopt_set(st: SmSockets, sock: SmSocket, name: int, value: int) -> None:
    """``sockopt_set``: the modem's own checks (nrf socket options) decide what is refused."""
    ep = st.ep(sock)
    if name == SO_REUSEADDR:
        ep.set_int_option(socket.SOL_SOCKET, socket.SO_REUSEADDR, value)
    elif name == SO_RCVTIMEO:
        _set_rcvtimeo(sock, value)
    elif name == SO_SNDTIMEO:
        if value < 0:
            raise NetError(errno.EINVAL, "negative SO_SNDTIMEO")
        sock.sndtimeo = value
    elif name in (SO_SILENCE_ALL, SO_IP_ECHO_REPLY, SO_IPV6_ECHO_REPLY):
        if value not in (0, 1):
            raise NetError(errno.EINVAL, f"option {name} takes 0 or 1")
        sock.options[name] = value
    elif name == SO_IPV6_DELAYED_ADDR_REFRESH:
        if value not in (0, 1):
            raise NetError(errno.EINVAL, "SO_IPV6_DELAYED_ADDR_REFRESH takes 0 or 1")
        sock.options[name] = value
    elif name == SO_TCP_SRV_SESSTIMEO:
        if not 0 <= value <= 135:
            raise NetError(errno.EINVAL, "SO_TCP_SRV_SESSTIMEO is 0..135")
        sock.options[name] = value
    elif name == SO_BINDTOPDN:
        # The simulated network has the default PDN (ID 0) only.
        if value != 0:
            raise NetError(errno.EINVAL, f"no PDN {value}")
        sock.options[name] = value
    elif name == SO_RAI:
        if not 1 <= value <= 5:
            raise NetError(errno.EINVAL, f"RAI {value}")
        sock.options[name] = value
    else:
        raise SmError(-errno.ENOTSUP, f"Unsupported option: {name}")


def _sockopt_get(st: SmSockets, sock: SmSocket, name: int) -> None:
    st.ep(sock)  # a free slot (handle -1) fails here: EBADF
    if name == SO_RCVTIMEO:
        value = sock.rcvtimeo
    elif name == SO_SNDTIMEO:
        value = sock.sndtimeo
    elif name in (SO_REUSEADDR, SO_BINDTOPDN, SO_RAI):
        # Set-only options of the modem: getsockopt fails.
        raise NetError(errno.ENOPROTOOPT, f"option {name} cannot be read")
    elif name in _MODEM_OPTION_DEFAULTS:
        value = sock.options.get(name, _MODEM_OPTION_DEFAULTS[name])
    else:
        raise SmError(-errno.ENOTSUP, f"Unsupported option: {name}")
    st.fw.rsp(f"#XSOCKETOPT: {sock.fd},{value}")


@SM.command("AT#XSOCKETOPT", order=0)
def handle_socketopt(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:
        sock = _find(st, parser)
        op = parser.num(2, UINT16)
        name = parser.num(3, UINT16)
        if op == 1:
            value = parser.num(4, INT32) if parser.count > 4 else 0
            _sockopt_set(st, sock, name, value)
        elif op == 0:
            _sockopt_get(st, sock, name)
        else:
            raise SmError(-errno.EINVAL, f"op {op}")
    elif cmd_type is CmdType.TEST:
        fw.rsp("#XSOCKETOPT: <handle>,(0,1),<name>,<value>")
    else:
        raise SmError(-errno.EINVAL)


def _security(st: SmSockets, sock: SmSocket) -> SecurityConfig:
    ep = st.ep(sock)
    cfg = getattr(ep, "security", None)
    if not isinstance(cfg, SecurityConfig):
        raise NetError(errno.ENOPROTOOPT, "not a secure socket")
    return cfg


def _sec_set(st: SmSockets, sock: SmSocket, name: int, value: int | str) -> None:
    if name not in _SEC_OPTIONS:
        raise SmError(-errno.ENOTSUP, f"Unsupported option: {name}")
    cfg = _security(st, sock)
    if name == TLS_HOSTNAME:
        if isinstance(value, int):
            raise NetError(errno.EINVAL, "TLS_HOSTNAME takes a string")
        cfg.hostname = "" if value.upper() == "NULL" else value
        return
    if not isinstance(value, int):
        raise SmError(-errno.EINVAL, f"option {name} takes an integer")
    if name == TLS_PEER_VERIFY:
        if value not in (0, 1, 2):
            raise NetError(errno.EINVAL, "TLS_PEER_VERIFY is 0, 1 or 2")
        cfg.peer_verify = value
    elif name == TLS_SESSION_CACHE:
        if value not in (0, 1):
            raise NetError(errno.EINVAL, "TLS_SESSION_CACHE is 0 or 1")
        cfg.session_cache = value
    elif name == TLS_SESSION_CACHE_PURGE:
        st.tls_sessions.purge()
    elif name == TLS_DTLS_HANDSHAKE_TIMEO:
        if value not in DTLS_HANDSHAKE_TIMEOUTS:
            raise NetError(errno.EINVAL, f"TLS_DTLS_HANDSHAKE_TIMEO: {value}")
        cfg.handshake_timeout = value
    elif name in (TLS_DTLS_CID, TLS_DTLS_FRAG_EXT):
        if sock.type != SOCK_DGRAM:
            raise NetError(errno.EOPNOTSUPP, "a DTLS option")
        if value not in (0, 1, 2):
            raise NetError(errno.EINVAL, f"option {name} takes 0, 1 or 2")
        st.ep(sock).modem_options[name] = value
    else:
        # TLS_CIPHERSUITE_USED and TLS_DTLS_CID_STATUS are read-only.
        raise NetError(errno.ENOPROTOOPT, f"option {name} is read-only")


_SUITE_IDS: dict[str, int] = {}


def cipher_suite_id(ep: Endpoint) -> int | None:
    """The IANA number of the negotiated suite (what NRF_SO_SEC_CIPHERSUITE_USED reads)."""
    name = None
    tls = getattr(ep, "tls", None)
    conn = getattr(ep, "conn", None)
    if tls is not None:
        info = tls.cipher()
        name = info[0] if info else None
    elif conn is not None:
        name = conn.get_cipher_name()
    if not name:
        return None
    if not _SUITE_IDS:
        for suite in ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).get_ciphers():
            _SUITE_IDS[suite["name"]] = suite["id"] & 0xFFFF
    return _SUITE_IDS.get(name)


def _sec_get(st: SmSockets, sock: SmSocket, name: int) -> None:
    if name not in _SEC_OPTIONS:
        raise SmError(-errno.ENOTSUP, f"Unsupported option: {name}")
    cfg = _security(st, sock)
    ep = st.ep(sock)
    fd = sock.fd
    if name == TLS_CIPHERSUITE_USED:
        suite = cipher_suite_id(ep)
        if suite is None:
            raise NetError(errno.ENOTCONN, "no TLS session")
        st.fw.rsp(f"#XSSOCKETOPT: {fd},0x{suite:x}")
    elif name == TLS_HOSTNAME:
        st.fw.rsp(f"#XSSOCKETOPT: {fd},{cfg.hostname or ''}")
    elif name == TLS_PEER_VERIFY:
        st.fw.rsp(f"#XSSOCKETOPT: {fd},{cfg.peer_verify}")
    elif name == TLS_SESSION_CACHE:
        st.fw.rsp(f"#XSSOCKETOPT: {fd},{cfg.session_cache}")
    elif name == TLS_DTLS_HANDSHAKE_TIMEO:
        st.fw.rsp(f"#XSSOCKETOPT: {fd},{cfg.handshake_timeout or 0}")
    elif name == TLS_DTLS_FRAG_EXT:
        st.fw.rsp(f"#XSSOCKETOPT: {fd},{ep.modem_options.get(name, 0)}")
    elif name == TLS_DTLS_CID_STATUS:
        # The CID status after a handshake: 0, none negotiated (pyOpenSSL offers no CID).
        if sock.type != SOCK_DGRAM or getattr(ep, "conn", None) is None:
            raise NetError(errno.ENOTCONN, "no DTLS session")
        st.fw.rsp(f"#XSSOCKETOPT: {fd},0")
    else:
        raise NetError(errno.ENOPROTOOPT, f"option {name} is write-only")


@SM.command("AT#XSSOCKETOPT", order=0)
def handle_ssocketopt(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:
        sock = _find(st, parser)
        if sock.sec_tag == SEC_TAG_INVALID:
            raise SmError(-errno.EINVAL, "Not secure socket")
        op = parser.num(2, UINT16)
        name = parser.num(3, UINT16)
        if op == 1:
            value: int | str
            try:
                value = parser.num(4, INT32)
            except ParseError as exc:
                if exc.code != -errno.EOPNOTSUPP:
                    raise SmError(-errno.EINVAL, str(exc)) from None
                value = parser.string(4, SM_MAX_URL)
            _sec_set(st, sock, name, value)
        elif op == 0:
            _sec_get(st, sock, name)
        else:
            raise SmError(-errno.EINVAL, f"op {op}")
    elif cmd_type is CmdType.TEST:
        fw.rsp("#XSSOCKETOPT: <handle>,(0,1),<name>,<value>")
    else:
        raise SmError(-errno.EINVAL)


@SM.command("AT#XBIND", order=0)
def handle_bind(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st, sock = _set_socket(fw, cmd_type, parser)
    port = parser.num(2, UINT16)
    if sock.family == AF_INET:
        address = fw.modem.address if fw.modem.online else ""
    elif sock.family == AF_INET6:
        address = fw.modem.address6 if fw.modem.online else ""
    else:
        raise SmError(-errno.EINVAL, "bind needs an IPv4 or IPv6 socket")
    if not address:
        raise NetError(errno.ENETDOWN, "Get local address failed")
    st.ep(sock).bind(address, port)
    sock.local_port = port


@SM.command("AT#XCONNECT", order=0)
def handle_connect(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st, sock = _set_socket(fw, cmd_type, parser)
    url = parser.string(2, SM_MAX_URL)
    port = parser.num(3, UINT16)
    try:
        addr = resolve_for(fw, url, port, sock.family)
    except (ResolveError, NetError):
        raise SmError(-errno.EAGAIN, f"cannot resolve {url}") from None
    creds = credentials(fw)
    try:
        st.ep(sock).connect(addr, fw.stopping, creds)
    except (ValueError, UnicodeError) as exc:
        # A TLS hostname the TLS library cannot use (set by #XSSOCKETOPT): the handshake fails.
        raise NetError(errno.ECONNABORTED, f"TLS setup failed: {exc}") from None
    sock.connected = True
    fw.rsp(f"#XCONNECT: {sock.fd},1")
    st._wake.set()  # a connected stream socket now has events to report


def _payload(parser: AtParser, index: int, mode: int) -> bytes:
    if parser.count <= index:
        raise SmError(-errno.EINVAL, "Missing string data")
    data = parser.string_ptr(index)
    if mode == MODE_HEX:
        data = hex2bin(data, BIN_DATA_BUF)
        if not data:
            raise SmError(-errno.EINVAL, "Failed to convert hex string to binary data")
    return data


def hex2bin(text: bytes, buflen: int) -> bytes:
    """Zephyr ``hex2bin``: b'' on failure; an odd length takes a leading zero nibble."""
    if not text or buflen < len(text) // 2 + len(text) % 2:
        return b""
    if len(text) % 2:
        text = b"0" + text
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return b""


def _datamode_handler(st: SmSockets) -> Callable[[int, bytes, int], int]:
    def handler(op: int, data: bytes, flags: int) -> int:
        sock = st.poll.datamode_sock
        if op == DATAMODE_SEND:
            if sock is None:
                return -errno.EINVAL
            if sock.type == SOCK_DGRAM and flags & FLAGS_MORE_DATA:
                st.fw.log("Data mode buffer overflow")
                st.fw.exit_datamode_handler(-errno.EOVERFLOW)
                return -errno.EOVERFLOW
            if st.udp_url:
                return do_sendto(st, sock, st.udp_url, st.udp_port, data, sock.send_flags)
            return do_send(st, sock, data, sock.send_flags)
        if op == DATAMODE_EXIT:
            st.udp_url = ""
            if flags & FLAGS_EXIT_HANDLER:
                st.fw.write(TERMINATOR)
            st.poll.datamode_sock = None
        return 0

    return handler


def _enter_datamode(st: SmSockets, sock: SmSocket, data_len: int) -> None:
    st.poll.datamode_sock = sock
    st.fw.sm_enter_datamode(_datamode_handler(st), data_len)
    if sock.adr_flags & ADR_DATA_MODE:
        update_poll_events(st, sock, POLLIN, False)


@SM.command("AT#XSEND", order=0)
def handle_send(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st, sock = _set_socket(fw, cmd_type, parser)
    mode = parser.num(2, UINT16)
    sock.send_flags = parser.num(3, INT32)
    if mode in (MODE_STRING, MODE_HEX):
        data = _payload(parser, 4, mode)
        ret = do_send(st, sock, data, sock.send_flags)
        if ret != len(data):
            raise SmError(ret if ret < 0 else -errno.EAGAIN)
    elif mode == MODE_DATA:
        data_len = parser.num(4, INT32) if parser.count > 4 else 0
        _enter_datamode(st, sock, data_len)
    else:
        raise SmError(-errno.EINVAL, f"mode {mode}")


def _recv_args(parser: AtParser) -> tuple[int, int, int, int]:
    mode = parser.num(2, UINT16)
    if mode not in (MODE_STRING, MODE_HEX):
        raise SmError(-errno.EINVAL, f"mode {mode}")
    flags = parser.num(3, INT32)
    timeout = parser.num(4, INT32)
    size = SM_DATA_BUF
    if parser.count > 5:
        size = parser.num(5, INT32)
        # int against sizeof(): a negative length compares as a huge size_t.
        if size < 0 or size > SM_DATA_BUF:
            raise SmError(-errno.ENOBUFS, "data_len is too large for receive buffer")
    return mode, flags, timeout, size


@SM.command("AT#XRECV", order=0)
def handle_recv(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st, sock = _set_socket(fw, cmd_type, parser)
    mode, flags, timeout, size = _recv_args(parser)
    do_recv(st, sock, timeout, flags, mode, size)


@SM.command("AT#XSENDTO", order=0)
def handle_sendto(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st, sock = _set_socket(fw, cmd_type, parser)
    mode = parser.num(2, UINT16)
    sock.send_flags = parser.num(3, INT32)
    # Parsed straight into the globals: a later failure leaves the new URL behind.
    st.udp_url = parser.string(4, SM_MAX_URL)
    st.udp_port = parser.num(5, UINT16)
    if mode in (MODE_STRING, MODE_HEX):
        data = _payload(parser, 6, mode)
        ret = do_sendto(st, sock, st.udp_url, st.udp_port, data, sock.send_flags)
        st.udp_url = ""
        if ret != len(data):
            raise SmError(ret if ret < 0 else -errno.EAGAIN)
    elif mode == MODE_DATA:
        data_len = parser.num(6, INT32) if parser.count > 6 else 0
        _enter_datamode(st, sock, data_len)
    else:
        raise SmError(-errno.EINVAL, f"mode {mode}")


@SM.command("AT#XRECVFROM", order=0)
def handle_recvfrom(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st, sock = _set_socket(fw, cmd_type, parser)
    mode, flags, timeout, size = _recv_args(parser)
    do_recvfrom(st, sock, timeout, flags, mode, size)


@SM.command("AT#XLISTEN", order=0)
def handle_listen(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:
        sock = _find(st, parser)
        if sock.type != SOCK_STREAM or sock.local_port == 0 or sock.sec_tag != SEC_TAG_INVALID:
            raise SmError(-errno.EOPNOTSUPP, "listen needs a bound, plain TCP socket")
        st.ep(sock).listen(2)  # the modem's backlog is fixed at 2
        sock.listen = True
        st._wake.set()
    elif cmd_type is CmdType.READ:
        for s in st.opened():
            if s.listen:
                fw.rsp(f"#XLISTEN: {s.fd},{s.cid},{s.local_port}")
    else:
        fw.rsp("#XLISTEN: <handle>")


@SM.command("AT#XACCEPT", order=0)
def handle_accept(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.TEST:
        fw.rsp("#XACCEPT: <handle>")
        return
    if cmd_type is not CmdType.SET:
        raise SmError(-errno.EINVAL)
    sock = _find(st, parser)
    if sock.type != SOCK_STREAM or not sock.listen:
        raise SmError(-errno.EOPNOTSUPP, "not a listening socket")
    ep = st.ep(sock)
    if not st.fds.has_free():
        raise NetError(errno.ENFILE)
    child, peer_ip = ep.accept(fw.stopping)  # non-blocking: EAGAIN when nobody waits
    try:
        peer_port = int(child.sock.getpeername()[1])
    except (OSError, IndexError, TypeError, ValueError):
        peer_port = 0
    try:
        new_fd = st.fds.reserve(child)
    except NetError:
        child.close()
        raise
    new = st.find_avail()
    if new is None:
        st.fds.release(new_fd)
        child.close()
        raise SmError(-errno.EINVAL, "Max socket count reached, closing accepted socket")
    new.reset()
    new.fd = new_fd
    new.family = sock.family
    new.type = SOCK_STREAM
    new.role = ROLE_CLIENT
    new.cid = sock.cid
    new.connected = True
    fw.rsp(f'#XACCEPT: {new.fd},{new.cid},"{peer_ip}",{peer_port}')
    _new_socket_poll(st, new)
    update_poll_events(st, sock, POLLIN, True)


def _render_addresses(addresses: list) -> list[str]:
    """Every entry rendered from the *first* result's sockaddr (``result->ai_addr``).

    libmodem keeps the IPv4 address at offset 4 of ``nrf_sockaddr_in`` and the IPv6 one at
    offset 8 of ``nrf_sockaddr_in6`` (after ``sin6_flowinfo``); bytes past the first result's
    structure read as zero here.
    """
    import ipaddress

    if not addresses:
        return []
    first = addresses[0]
    raw = ipaddress.ip_address(first.ip).packed
    if first.family == AF_INET:
        layout = bytes(4) + raw
    else:
        layout = bytes(8) + raw + bytes(4)
    layout += bytes(32)
    out = []
    for entry in addresses:
        if entry.family == AF_INET:
            out.append(str(ipaddress.IPv4Address(layout[4:8])))
        else:
            out.append(str(ipaddress.IPv6Address(layout[8:24])))
    return out


@SM.command("AT#XGETADDRINFO", order=0)
def handle_getaddrinfo(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    if cmd_type is not CmdType.SET:
        raise SmError(-errno.EINVAL)
    host = parser.string(1, SM_MAX_URL)
    if parser.count == 3:
        family = parser.num(2, INT32)
        if family < 0 or family > AF_INET6:
            raise SmError(-errno.EINVAL, f"family {family}")
    elif parser.count == 2:
        family = 0
    else:
        raise SmError(-errno.EINVAL, "wrong parameter count")
    try:
        addresses = getaddrinfo_for(fw, host, family)
    except ResolveError as exc:
        # nrf_getaddrinfo answers NRF_EAI_* codes (positive, 256 and up) and the firmware
        # names them with Zephyr's zsock_gai_strerror(), which knows only DNS_EAI_* codes.
        fw.rsp('#XGETADDRINFO: "EAI_UNKNOWN"')
        raise SmError(-errno.EAGAIN, exc.name) from None
    if not addresses:
        fw.rsp('#XGETADDRINFO: "not found"')
        raise SmError(-errno.ENOENT, "no result")
    fw.rsp('#XGETADDRINFO: "' + " ".join(_render_addresses(addresses)) + '"')  # type: ignore[arg-type]


def _optional_handle(st: SmSockets, parser: AtParser) -> SmSocket | None:
    try:
        fd = parser.num(1, INT32)
    except ParseError as exc:
        if exc.code != -errno.ENODATA:
            raise
        fd = -1
    if fd == -1:
        return None
    return _lookup(st, fd)


@SM.command("AT#XAPOLL", order=0)
def handle_apoll(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:
        sock = _optional_handle(st, parser)
        try:
            op = parser.num(2, INT32)
        except ParseError:
            raise SmError(-errno.EINVAL, "op") from None
        if op not in (0, 1):
            raise SmError(-errno.EINVAL, f"op {op}")
        if op == 0:
            if sock is not None:
                sock.xapoll_requested = 0
            else:
                st.poll.xapoll_requested = 0
                for s in st.opened():
                    s.xapoll_requested = 0
            return
        events = parser.num(3, UINT16)
        if events & ~(POLLIN | POLLOUT):
            raise SmError(-errno.EINVAL, f"Invalid poll events: {events}")
        events |= ALWAYS
        if sock is not None:
            sock.xapoll_requested = events
            update_poll_events(st, sock, events, True)
            return
        st.poll.xapoll_requested = events
        for s in st.opened():
            s.xapoll_requested = events
            update_poll_events(st, s, events, True)
    elif cmd_type is CmdType.READ:
        for s in st.opened():
            if s.xapoll_requested:
                fw.rsp(f"#XAPOLL: {s.fd},{s.xapoll_requested & ~ALWAYS}")
    else:
        fw.rsp("#XAPOLL: <handle>,(0,1),(0,1,4,5)")


@SM.command("AT#XRECVCFG", order=0)
def handle_recvcfg(fw: SmFirmware, cmd_type: CmdType, parser: AtParser) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:
        sock = _optional_handle(st, parser)
        try:
            flags = parser.num(2, UINT16)
        except ParseError:
            raise SmError(-errno.EINVAL, "flags") from None
        if flags & ~(ADR_AT_MODE | ADR_DATA_MODE):
            raise SmError(-errno.EINVAL, f"flags {flags}")
        hex_mode = 0
        if parser.count > 3:
            try:
                hex_mode = parser.num(3, UINT16)
            except ParseError:
                raise SmError(-errno.EINVAL, "hex") from None
            if hex_mode not in (MODE_STRING, MODE_HEX):
                raise SmError(-errno.EINVAL, f"hex {hex_mode}")
        if flags & ADR_DATA_MODE and hex_mode:
            raise SmError(-errno.EINVAL, "Hex mode with data mode is not supported.")
        targets = [sock] if sock is not None else list(st.opened())
        if sock is None:
            st.poll.adr_flags = flags
            st.poll.adr_hex = bool(hex_mode)
        for s in targets:
            s.adr_flags = flags
            s.adr_hex = bool(hex_mode)
            update_poll_events(st, s, POLLIN, False)
    elif cmd_type is CmdType.READ:
        for s in st.opened():
            if s.adr_flags:
                fw.rsp(f"#XRECVCFG: {s.fd},{s.adr_flags},{int(s.adr_hex)}")
    else:
        fw.rsp("#XRECVCFG: <handle>,(0,1,2,3),(0,1)")


__all__ = ["SmSockets", "hex2bin", "state"]
