"""The socket AT commands of SLM v2.0.x (``slm_at_socket.c``), against real host sockets.

Responses follow the v2.0.0 code byte for byte, including where it disagrees with its own
documentation. The state model lives in ``core.sockstate``; the options commands in
``sockopts``; host networking in ``net``.

Where the C code leaves a choice to the modem, the model's choice and its reason are listed in
``firmware_ref/README.md`` ("Modelling choices").
"""

from __future__ import annotations

import errno
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.sockio import (
    blocking,
    credentials,
    endpoint,
    getaddrinfo_for,
    guarded,
    receive,
    recv_cap,
    resolve_for,
    send_loop,
    set_only,
    state,
)
from firmware_ref.core.sockstate import (
    INVALID_SEC_TAG,
    INVALID_SOCKET,
    ROLE_CLIENT,
    ROLE_SERVER,
    STATE_KEY,
    SocketState,
    SockRecord,
)
from firmware_ref.dialects.v20.table import V20
from firmware_ref.net import (
    AF_INET,
    AF_INET6,
    AF_PACKET,
    POLLIN,
    SOCK_DGRAM,
    SOCK_RAW,
    SOCK_STREAM,
    Endpoint,
    NetError,
    ResolveError,
    SecurityConfig,
    open_endpoint,
    poll_endpoints,
)
from firmware_ref.net.endpoint import RawEndpoint
from firmware_ref.net.resolver import bug_render

if TYPE_CHECKING:
    from firmware_ref.core.host import Firmware
    from firmware_ref.core.params import Params

SLM_MAX_URL = 128  # URL and hostname buffers: at most 127 characters
SLM_MAX_PAYLOAD = 1252  # #XSEND/#XSENDTO string data (buffer 1253)
# Seconds of POLLOUT wait before each send() (SOCKET_SEND_TMO_SEC); tests may shorten it.
SEND_POLL_TIMEOUT = 30.0

IPPROTO_IP = 0
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_TLS_1_2 = 258
IPPROTO_DTLS_1_2 = 273


def send_target(st: SocketState) -> int:
    """TCP (and TLS) servers talk through their accepted peer; everything else through fd."""
    sock = st.sock
    if sock.type == SOCK_STREAM and sock.role == ROLE_SERVER:
        if sock.fd_peer == INVALID_SOCKET:
            raise CommandError("No connection")
        return sock.fd_peer
    return sock.fd


@V20.on_boot
def _boot(fw: Firmware) -> None:
    fw.state[STATE_KEY] = SocketState()


@V20.on_shutdown
def _shutdown(fw: Firmware) -> None:
    st = fw.state.get(STATE_KEY)
    if isinstance(st, SocketState):
        st.close_all()


# ---------------------------------------------------------------------------- open and close


def _check_slot(st: SocketState, fw: Firmware) -> None:
    if st.free_slot() is None:
        fw.log("Max socket count reached")
        raise CommandError("Max socket count reached")


def _register(fw: Firmware, st: SocketState, ep: Endpoint) -> int:
    try:
        fd = st.fds.reserve(ep)
    except NetError:
        ep.close()
        raise
    st.sock.fd = fd
    st.add_active()
    # The modem has only its PDP address: an unbound UDP socket gets that, never every
    # interface of the host running the simulator.
    ep.local_ip = fw.modem.address6 if ep.family == AF_INET6 else fw.modem.address
    return fd


def do_socket_open(fw: Firmware, st: SocketState) -> None:
    sock = st.sock
    if sock.type == SOCK_STREAM:
        proto = IPPROTO_TCP
    elif sock.type == SOCK_DGRAM:
        proto = IPPROTO_UDP
    elif sock.type == SOCK_RAW:
        sock.family = AF_PACKET
        sock.role = ROLE_CLIENT
        proto = IPPROTO_IP
    else:
        raise CommandError(f"socket type {sock.type} not supported")
    if not st.fds.has_free():
        raise NetError(errno.ENFILE)
    if not fw.modem.online:
        raise NetError(errno.ENETDOWN, "socket(): the modem is offline")
    ep = open_endpoint(sock.family, sock.type)
    if isinstance(ep, RawEndpoint):
        ep.local_addresses = tuple(a for a in (fw.modem.address, fw.modem.address6) if a)
    fd = _register(fw, st, ep)
    fw.respond(f"#XSOCKET: {fd},{sock.type},{proto}")


def do_secure_socket_open(fw: Firmware, st: SocketState, peer_verify: int) -> None:
    sock = st.sock
    if sock.type == SOCK_STREAM:
        proto = IPPROTO_TLS_1_2
    elif sock.type == SOCK_DGRAM:
        proto = IPPROTO_DTLS_1_2
    else:
        raise CommandError(f"socket type {sock.type} not supported")
    if not st.fds.has_free():
        raise NetError(errno.ENFILE)
    if not fw.modem.online:
        raise NetError(errno.ENETDOWN, "socket(): the modem is offline")
    if peer_verify not in (0, 1, 2):
        # The SLM passes it on unchecked; the modem's TLS_PEER_VERIFY takes 0, 1 or 2 only.
        # The failure path closes the new socket and runs INIT_SOCKET on the active record
        # (error_exit, slm_at_socket.c 209-218): no socket is active afterwards.
        st.sock.reset()
        raise NetError(errno.EINVAL, f"TLS_PEER_VERIFY {peer_verify}")
    security = SecurityConfig(
        sec_tag=sock.sec_tag,
        peer_verify=peer_verify,
        server=sock.role == ROLE_SERVER,
        sessions=st.tls_sessions,
    )
    fd = _register(fw, st, open_endpoint(sock.family, sock.type, security))
    fw.respond(f"#XSSOCKET: {fd},{sock.type},{proto}")


def _close_fd(st: SocketState, fd: int) -> int:
    ep = st.fds.release(fd)
    if ep is None:
        return -errno.EBADF
    ep.close()
    return 0


def do_socket_close(fw: Firmware, st: SocketState) -> None:
    sock = st.sock
    if sock.fd == INVALID_SOCKET:
        return
    if sock.fd_peer != INVALID_SOCKET:
        _close_fd(st, sock.fd_peer)
        sock.fd_peer = INVALID_SOCKET
    ret = _close_fd(st, sock.fd)
    closed = sock.fd
    for rec in st.socks:
        if rec.fd == closed:
            rec.reset()
    # Always printed as #XSOCKET, even when the command was #XSSOCKET.
    fw.respond(f'#XSOCKET: {ret},"closed"')
    best = st.highest_ranked()
    st.sock = best.copy() if best is not None else SockRecord()
    if ret:
        raise CommandError(f"close() error {ret}")


def _to_int32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


# ---------------------------------------------------------------------------- handlers


def _open_or_close(
    fw: Firmware, st: SocketState, params: Params, open_: Callable[[int], None]
) -> None:
    """<op> of #XSOCKET and #XSSOCKET: 0 closes the active socket; 1 (IPv4) and 2 (IPv6)
    reset it, parse <type>, and leave the rest to ``open_(family)``."""
    op = params.get_ushort(1)
    if op in (1, 2):
        _check_slot(st, fw)
        # The active socket is reset before <type> and <role> are parsed: any failure
        # from here on leaves no active socket.
        st.sock = SockRecord()
        st.sock.type = params.get_ushort(2)
        open_(AF_INET if op == 1 else AF_INET6)
    elif op == 0:
        do_socket_close(fw, st)
    else:
        raise CommandError(f"op {op}")


def _respond_active(fw: Firmware, st: SocketState, prefix: str) -> None:
    """The read form of #XSOCKET and #XSSOCKET: the active socket, when there is one."""
    sock = st.sock
    if sock.fd != INVALID_SOCKET:
        fw.respond(f"{prefix}: {sock.fd},{sock.family},{sock.role}")


@V20.command("AT#XSOCKET", order=14)
@guarded
def handle_socket(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:

        def open_(family: int) -> None:
            st.sock.role = params.get_ushort(3)
            st.sock.family = family
            do_socket_open(fw, st)

        _open_or_close(fw, st, params, open_)
    elif cmd_type is CmdType.READ:
        _respond_active(fw, st, "#XSOCKET")
    else:
        # v2.0 leaves the trailing CRLF off this line.
        fw.write(b"\r\n#XSOCKET: (0,1,2),(1,2,3),(0,1)")


@V20.command("AT#XSSOCKET", order=15)
@guarded
def handle_ssocket(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:

        def open_(family: int) -> None:
            role = params.get_ushort(3)
            if role not in (ROLE_CLIENT, ROLE_SERVER):
                raise CommandError(f"role {role}")
            st.sock.role = role
            # sec_tag_t is an int: 4294967295 is stored (and printed) as -1.
            st.sock.sec_tag = _to_int32(params.get_uint(4))
            default_verify = 2 if role == ROLE_CLIENT else 0
            peer_verify = params.get_ushort(5) if params.valid_count() > 5 else default_verify
            st.sock.family = family
            do_secure_socket_open(fw, st, peer_verify)

        _open_or_close(fw, st, params, open_)
    elif cmd_type is CmdType.READ:
        _respond_active(fw, st, "#XSSOCKET")
    else:
        fw.respond("#XSSOCKET: (0,1,2),(1,2),(0,1)<sec-tag>,<peer_verify>")


@V20.command("AT#XSOCKETSELECT", order=16)
@guarded
def handle_socketselect(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    if cmd_type is CmdType.SET:
        fd = params.get_int(1)
        if fd < 0:
            raise CommandError("negative handle")
        rec = st.record(fd)
        if rec is None:
            raise CommandError(f"handle {fd} is not an opened socket")
        # A copy: whatever the old active copy held (an accepted peer) is lost.
        st.sock = rec.copy()
        fw.respond(f"#XSOCKETSELECT: {rec.fd},{rec.family},{rec.role}")
    elif cmd_type is CmdType.READ:
        for rec in st.opened():
            fw.respond(
                f"#XSOCKETSELECT: {rec.fd},{rec.family},{rec.role},{rec.type},"
                f"{rec.sec_tag},{rec.ranking}"
            )
        if st.sock.fd != INVALID_SOCKET:
            fw.respond(f"#XSOCKETSELECT: {st.sock.fd}")
    # TEST falls through with no error in v2.0: plain OK.


@V20.command("AT#XBIND", order=19)
@guarded
@set_only
def handle_bind(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    port = params.get_ushort(1)
    sock = st.sock
    if sock.family in (AF_INET, AF_INET6) and not fw.modem.online:
        # do_bind asks the modem for its address (util_get_ip_addr: AT+CGPADDR=0); without an
        # active PDN it lists none and the bind fails (slm_at_socket.c 501-505, 526-530).
        raise CommandError("no local address")
    if sock.family == AF_INET:
        address = fw.modem.address
    elif sock.family == AF_INET6:
        address = fw.modem.address6
    else:
        raise CommandError("bind needs an IPv4 or IPv6 socket")
    if not address:
        raise NetError(errno.ENETDOWN, "no local address")
    endpoint(st, sock.fd).bind(address, port)


@V20.command("AT#XCONNECT", order=20)
@guarded
def handle_connect(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    sock = st.sock
    # The role check comes before the command type: even the read form fails for a server.
    if sock.role != ROLE_CLIENT:
        raise CommandError("Invalid role")
    if cmd_type is not CmdType.SET:
        raise CommandError("not supported")
    url = params.get_string(1, SLM_MAX_URL)
    port = params.get_ushort(2)
    addr = resolve_for(fw, url, port, sock.family)
    endpoint(st, sock.fd).connect(addr, fw.stopping, credentials(fw))
    fw.respond("#XCONNECT: 1")


@V20.command("AT#XLISTEN", order=21)
@guarded
@set_only
def handle_listen(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    sock = st.sock
    if sock.role != ROLE_SERVER:
        raise CommandError("Invalid role")
    ep = endpoint(st, sock.fd)
    if ep.kind != SOCK_STREAM:
        raise NetError(errno.EOPNOTSUPP, "listen() needs a stream socket")
    if not ep.is_bound():
        # A host kernel would bind an unbound listener to every interface; the modem only has
        # its PDP address, so that is where an unbound listener goes (ephemeral port).
        ep.bind(fw.modem.address6 if sock.family == AF_INET6 else fw.modem.address, 0)
    ep.listen(1)


@V20.command("AT#XACCEPT", order=22)
@guarded
def handle_accept(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    sock = st.sock
    if sock.role != ROLE_SERVER:
        raise CommandError("Invalid role")
    if cmd_type is CmdType.READ:
        # The v2.0 code prints this prefix, not the documented #XACCEPT.
        peer = sock.fd_peer if sock.fd_peer != INVALID_SOCKET else 0
        fw.respond(f"#XTCPACCEPT: {peer}")
        return
    if cmd_type is not CmdType.SET:
        raise CommandError("not supported")
    timeout = params.get_int(1)
    ep = endpoint(st, sock.fd)
    if timeout > 0:
        revents = ep.wait(POLLIN, float(timeout), fw.stopping)
        if revents == 0:
            raise NetError(errno.EAGAIN, "accept timed out")
        if not revents & POLLIN:
            raise NetError(errno.EIO, f"accept poll revents 0x{revents:x}")
    # A blocking accept() is bounded only by SO_RCVTIMEO, as a blocking recv() is.
    deadline = time.monotonic() + ep.rcvtimeo if timeout <= 0 and ep.rcvtimeo > 0 else None
    try:
        if not st.fds.has_free():
            raise NetError(errno.ENFILE)
        child, peer_ip = blocking(
            fw, ep, lambda e: e.accept(fw.stopping, credentials(fw)), deadline
        )
        try:
            fd = st.fds.reserve(child)
        except NetError:
            child.close()
            raise
    except NetError:
        # Whatever peer the copy held is forgotten (its fd leaks), as in the firmware.
        sock.fd_peer = INVALID_SOCKET
        raise
    # A second accept overwrites fd_peer without closing the first peer.
    sock.fd_peer = fd
    fw.respond(f'#XACCEPT: {fd},"{peer_ip}"')


def _datamode_sender(fw: Firmware, st: SocketState) -> Callable[[bytes], bool]:
    def on_chunk(chunk: bytes) -> bool:
        try:
            if st.udp_url:
                # Stale #XSENDTO target (v2.0 quirk): every chunk is resolved and sent there.
                addr = resolve_for(fw, st.udp_url, st.udp_port, st.sock.family)
                sent, err = send_loop(fw, st, st.sock.fd, chunk, addr)
            else:
                sent, err = send_loop(fw, st, send_target(st), chunk)
        except (CommandError, NetError, ResolveError) as exc:
            fw.log(f"data mode send failed: {exc}")
            return False
        except Exception:  # noqa: BLE001 - a broken send ends data mode, never the board
            fw.log("data mode send failed:\n" + traceback.format_exc())
            return False
        if err is not None:
            fw.log(f"data mode send failed after {sent} bytes: {err}")
            return False
        return True

    return on_chunk


def _datamode_exit(st: SocketState) -> Callable[[], None]:
    def on_exit() -> None:
        st.udp_url = ""

    return on_exit


def _send_and_report(
    fw: Firmware, st: SocketState, name: str, fd: int, data: bytes, addr: tuple | None = None
) -> None:
    """Send it all, then print how much went out, followed by OK, or by ERROR when the send
    failed part-way (the count is printed either way)."""
    sent, err = send_loop(fw, st, fd, data, addr)
    fw.respond(f"{name}: {sent}")
    if err is not None:
        raise err


@V20.command("AT#XSEND", order=23)
@guarded
@set_only
def handle_send(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    if params.valid_count() > 1:
        data = params.get_bytes(1, SLM_MAX_PAYLOAD + 1)
        fd = send_target(st)
        _send_and_report(fw, st, "#XSEND", fd, data)
        return
    fw.enter_data_mode(_datamode_sender(fw, st), _datamode_exit(st))


@V20.command("AT#XRECV", order=24)
@guarded
@set_only
def handle_recv(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    timeout = params.get_int(1)
    fd = send_target(st)
    data, _ip = receive(fw, st, fd, recv_cap(st.sock), timeout, with_addr=False)
    if not data:
        return  # orderly shutdown or an empty datagram: plain OK
    fw.respond(f"#XRECV: {len(data)}")
    fw.write(data)


@V20.command("AT#XSENDTO", order=25)
@guarded
@set_only
def handle_sendto(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    # Parsed straight into the globals: a bad port still leaves the new URL behind.
    url = params.get_bytes(1) if params.type_of(1) == "string" else b""
    if len(url) == SLM_MAX_URL:
        # at_params_string_get copies a string exactly the buffer's size before
        # util_string_get refuses it (-ENOMEM, no NUL; at_params.c 369-374, slm_util.c
        # 142-151): the command fails but udp_url holds the 128 characters, so a later
        # #XSEND data mode sends to that name.
        st.udp_url = url.decode("latin-1")
    st.udp_url = params.get_string(1, SLM_MAX_URL)
    st.udp_port = params.get_ushort(2)
    if params.valid_count() > 3:
        data = params.get_bytes(3, SLM_MAX_PAYLOAD + 1)
        addr = resolve_for(fw, st.udp_url, st.udp_port, st.sock.family)
        _send_and_report(fw, st, "#XSENDTO", st.sock.fd, data, addr)
        # udp_url is deliberately left set: a later #XSEND data mode goes there (v2.0 quirk).
        return
    fw.enter_data_mode(_datamode_sender(fw, st), _datamode_exit(st))


@V20.command("AT#XRECVFROM", order=26)
@guarded
@set_only
def handle_recvfrom(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    timeout = params.get_int(1)
    sock = st.sock
    size = 1252 if sock.family == AF_INET else 1232
    data, ip = receive(fw, st, sock.fd, size, timeout, with_addr=True)
    if not data:
        return
    if sock.family not in (AF_INET, AF_INET6):
        ip = ""
    fw.respond(f'#XRECVFROM: {len(data)},"{ip}"')
    fw.write(data)


MAX_POLL_HANDLES = 8


@V20.command("AT#XPOLL", order=27)
@guarded
@set_only
def handle_poll(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    st = state(fw)
    timeout_ms = params.get_int(1)
    count = params.valid_count()
    if count > 2:
        handles = []
        for i in range(2, min(count, 2 + MAX_POLL_HANDLES)):
            fd = params.get_int(i)
            if st.record(fd) is None:
                raise CommandError(f"handle {fd} is not an opened socket")
            handles.append(fd)
    else:
        handles = [rec.fd for rec in st.opened()]
    endpoints = [endpoint(st, fd) for fd in handles]
    # Zephyr: a negative timeout waits for ever.
    timeout = None if timeout_ms < 0 else timeout_ms / 1000.0
    revents = poll_endpoints(endpoints, POLLIN, timeout, fw.stopping)
    for fd, rev in zip(handles, revents, strict=True):
        if rev:
            fw.respond(f'#XPOLL: {fd},"0x{rev:08x}"')


@V20.command("AT#XGETADDRINFO", order=28)
@guarded
@set_only
def handle_getaddrinfo(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    host = params.get_string(1, SLM_MAX_URL)
    try:
        addresses = getaddrinfo_for(fw, host)
    except ResolveError as exc:
        fw.respond(f'#XGETADDRINFO: "{exc.name}"')
        raise CommandError(exc.name) from None
    if not addresses:
        fw.respond('#XGETADDRINFO: "not found"')
        raise CommandError("no result")
    rendered = bug_render(addresses)  # type: ignore[arg-type]
    fw.respond('#XGETADDRINFO: "' + " ".join(rendered) + '"')


__all__ = ["INVALID_SEC_TAG", "state"]
