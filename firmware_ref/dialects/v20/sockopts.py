"""``#XSOCKETOPT`` and ``#XSSOCKETOPT`` of SLM v2.0.x (behaviour file sections 3.5, 3.6, 6).

Options with a host equivalent (SO_REUSEADDR, SO_RCVTIMEO, SO_SNDTIMEO, SO_ERROR) go to the real
host socket; modem-only ones (silence, echo replies, RAI, TCP server session timeout,
SO_BINDTODEVICE, the TLS settings) are stored on the endpoint and, for TLS, used at handshake.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from firmware_ref.core.errors import CmdType, CommandError
from firmware_ref.core.sockio import endpoint, guarded, state
from firmware_ref.core.sockstate import INVALID_SEC_TAG, SocketState
from firmware_ref.dialects.v20.sockets import SLM_MAX_URL
from firmware_ref.dialects.v20.table import V20
from firmware_ref.net import Endpoint, NetError
from firmware_ref.net.endpoint import DtlsEndpoint, TlsEndpoint
from firmware_ref.net.security import DTLS_HANDSHAKE_TIMEOUTS, SecurityConfig

if TYPE_CHECKING:
    from firmware_ref.core.host import Firmware
    from firmware_ref.core.params import Params

OP_GET = 0
OP_SET = 1

# Zephyr 3.0 / NCS socket option numbers (SOL_SOCKET level).
SO_REUSEADDR = 2
SO_TYPE = 3
SO_ERROR = 4
SO_PRIORITY = 12
SO_RCVTIMEO = 20
SO_SNDTIMEO = 21
SO_BINDTODEVICE = 25
SO_SILENCE_ALL = 30
SO_IP_ECHO_REPLY = 31
SO_IPV6_ECHO_REPLY = 32
SO_TIMESTAMPING = 37
SO_PROTOCOL = 38
SO_RAI_FIRST, SO_RAI_LAST = 50, 54  # LAST, NO_DATA, ONE_RESP, ONGOING, WAIT_MORE
SO_TCP_SRV_SESSTIMEO = 55

# SOL_TLS option numbers of v2.0.
TLS_HOSTNAME = 2
TLS_CIPHERSUITE_LIST = 3
TLS_CIPHERSUITE_USED = 4
TLS_PEER_VERIFY = 5
TLS_ALPN_LIST = 7
TLS_DTLS_HANDSHAKE_TIMEOUT_MIN = 8
TLS_DTLS_HANDSHAKE_TIMEOUT_MAX = 9
TLS_SESSION_CACHE = 10
TLS_SESSION_CACHE_PURGE = 11
TLS_DTLS_HANDSHAKE_TIMEO = 12

# IFNAMSIZ in Zephyr 3.0 is Z_DEVICE_MAX_NAME_LEN: the SO_BINDTODEVICE string buffer.
IFNAMSIZ = 48

_HOST_TIMEO = {SO_RCVTIMEO: socket.SO_RCVTIMEO, SO_SNDTIMEO: socket.SO_SNDTIMEO}
# Modem-side defaults: echo replies are on until the host turns them off.
_MODEM_DEFAULTS = {
    SO_SILENCE_ALL: 0,
    SO_IP_ECHO_REPLY: 1,
    SO_IPV6_ECHO_REPLY: 1,
    SO_TCP_SRV_SESSTIMEO: 0,
}
_BOOLEAN_OPTIONS = (SO_SILENCE_ALL, SO_IP_ECHO_REPLY, SO_IPV6_ECHO_REPLY)
_TLS_NOT_SUPPORTED = (
    TLS_CIPHERSUITE_LIST,
    TLS_ALPN_LIST,
    TLS_DTLS_HANDSHAKE_TIMEOUT_MIN,
    TLS_DTLS_HANDSHAKE_TIMEOUT_MAX,
)


def _active(st: SocketState) -> Endpoint:
    # The firmware hands sock.fd to setsockopt/getsockopt unchecked: -1 fails with EBADF.
    return endpoint(st, st.sock.fd)


def _einval(what: str) -> NetError:
    return NetError(errno.EINVAL, what)


def _set_int(fw: Firmware, st: SocketState, name: int, value: int) -> None:
    if name == SO_REUSEADDR:
        _active(st).set_int_option(socket.SOL_SOCKET, socket.SO_REUSEADDR, value)
    elif name in _HOST_TIMEO:
        _active(st).set_timeout_option(_HOST_TIMEO[name], value)
    elif name in _BOOLEAN_OPTIONS:
        ep = _active(st)
        if value not in (0, 1):
            raise _einval(f"option {name} takes 0 or 1")
        ep.modem_options[name] = value
    elif SO_RAI_FIRST <= name <= SO_RAI_LAST:
        # Set-only hints with no value (NULL, 0): the modem just notes the request.
        _active(st).modem_options[name] = 1
    elif name == SO_TCP_SRV_SESSTIMEO:
        ep = _active(st)
        if not 0 <= value <= 135:
            raise _einval("SO_TCP_SRV_SESSTIMEO is 0..135 minutes")
        ep.modem_options[name] = value
    elif name in (SO_PRIORITY, SO_TIMESTAMPING):
        fw.respond('#XSOCKETOPT: "not supported"')
        raise CommandError(f"option {name} not supported")
    else:
        raise CommandError(f"unknown option {name}")


def _set_str(fw: Firmware, st: SocketState, name: int, value: str) -> None:
    if name == SO_BINDTODEVICE:
        # The modem binds to a PDN interface by name; the host has no such device, so the
        # name is kept as the modem would keep it.
        _active(st).modem_options[name] = value
    else:
        raise CommandError(f"option {name} takes no string")


def _get(fw: Firmware, st: SocketState, name: int) -> None:
    if name == SO_ERROR:
        fw.respond(f"#XSOCKETOPT: {_active(st).pending_error()}")
    elif name in _HOST_TIMEO:
        seconds = _active(st).get_timeout_option(_HOST_TIMEO[name])
        fw.respond(f'#XSOCKETOPT: "{seconds} sec"')
    elif name in _MODEM_DEFAULTS:
        ep = _active(st)
        fw.respond(f"#XSOCKETOPT: {ep.modem_options.get(name, _MODEM_DEFAULTS[name])}")
    elif name in (SO_TYPE, SO_PRIORITY, SO_PROTOCOL):
        fw.respond('#XSOCKETOPT: "not supported"')
    # Every other name (SO_REUSEADDR and SO_BINDTODEVICE included) answers a plain OK.


def _set_value(
    fw: Firmware,
    st: SocketState,
    name: int,
    params: Params,
    set_int: Callable[[Firmware, SocketState, int, int], None],
    set_str: Callable[[Firmware, SocketState, int, str], None],
    max_len: int,
) -> None:
    """<value> of a set: an integer or a string option, as the parameter's type says."""
    kind = params.type_of(3)
    if kind == "int":
        set_int(fw, st, name, params.get_int(3))
    elif kind == "string":
        set_str(fw, st, name, params.get_string(3, max_len))
    else:
        raise CommandError(f"value of type {kind}")


@V20.command("AT#XSOCKETOPT", order=17)
@guarded
def handle_socketopt(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.TEST:
        fw.respond("#XSOCKETOPT: (0,1),<name>,<value>")
        return
    if cmd_type is not CmdType.SET:
        raise CommandError("not supported")
    st = state(fw)
    op = params.get_ushort(1)
    name = params.get_ushort(2)
    if op == OP_SET:
        if params.valid_count() > 3:
            _set_value(fw, st, name, params, _set_int, _set_str, IFNAMSIZ)
        else:
            _set_int(fw, st, name, 0)
    elif op == OP_GET:
        _get(fw, st, name)
    # Any other op: nothing happens, plain OK.


def _security(st: SocketState) -> SecurityConfig:
    ep = _active(st)
    if not isinstance(ep, TlsEndpoint | DtlsEndpoint):
        raise NetError(errno.ENOPROTOOPT, "not a secure socket")
    return ep.security


def _sec_set_int(fw: Firmware, st: SocketState, name: int, value: int) -> None:
    if name == TLS_PEER_VERIFY:
        cfg = _security(st)
        if value not in (0, 1, 2):
            raise _einval("TLS_PEER_VERIFY is 0, 1 or 2")
        cfg.peer_verify = value
    elif name == TLS_SESSION_CACHE:
        cfg = _security(st)
        if value not in (0, 1):
            raise _einval("TLS_SESSION_CACHE is 0 or 1")
        cfg.session_cache = value
    elif name == TLS_SESSION_CACHE_PURGE:
        _security(st)
        st.tls_sessions.purge()
    elif name == TLS_DTLS_HANDSHAKE_TIMEO:
        cfg = _security(st)
        if value not in DTLS_HANDSHAKE_TIMEOUTS:
            raise _einval(f"TLS_DTLS_HANDSHAKE_TIMEO is one of {DTLS_HANDSHAKE_TIMEOUTS}")
        cfg.handshake_timeout = value
    elif name in _TLS_NOT_SUPPORTED:
        fw.respond('#XSSOCKETOPT: "not supported"')
        raise CommandError(f"TLS option {name} not supported")
    else:
        raise CommandError(f"unknown TLS option {name}")


def _sec_set_str(fw: Firmware, st: SocketState, name: int, value: str) -> None:
    if name == TLS_HOSTNAME:
        cfg = _security(st)
        # "NULL" in any case clears the hostname: no SNI and no name check.
        cfg.hostname = "" if value.upper() == "NULL" else value
    else:
        # do_secure_socketopt_set_str knows TLS_HOSTNAME only: every other name, the
        # "not supported" ones included, is a silent -ENOTSUP (slm_at_socket.c 411-436).
        raise CommandError(f"TLS option {name} takes no string")


@V20.command("AT#XSSOCKETOPT", order=18)
@guarded
def handle_ssocketopt(fw: Firmware, cmd_type: CmdType, params: Params) -> None:
    if cmd_type is CmdType.TEST:
        fw.respond("#XSSOCKETOPT: (1),<name>,<value>")
        return
    if cmd_type is not CmdType.SET:
        raise CommandError("not supported")
    st = state(fw)
    # Refused before any parsing when the active socket is not secure (or there is none).
    if st.sock.sec_tag == INVALID_SEC_TAG:
        raise CommandError("Not secure socket")
    op = params.get_ushort(1)
    name = params.get_ushort(2)
    if op == OP_SET:
        if params.valid_count() <= 3:
            raise CommandError("value missing")
        _set_value(fw, st, name, params, _sec_set_int, _sec_set_str, SLM_MAX_URL)
    elif op == OP_GET:
        if name == TLS_CIPHERSUITE_USED:
            # v2.0 bug: it asks SOL_SOCKET for option 4, which is SO_ERROR.
            fw.respond(f"#XSSOCKETOPT: {_active(st).pending_error()}")
    # Other ops: plain OK.
