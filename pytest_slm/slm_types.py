"""The constants, enums and result types of SLM v2.0.x's socket AT commands.

Numbers are the firmware's (Zephyr 3.0 / NCS v2.0 `socket_ncs.h`, behaviour file section 6),
not the host's: AF_INET is 1 and AF_INET6 2 on the board, whatever Linux uses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Family(enum.IntEnum):
    """`<op>` of #XSOCKET/#XSSOCKET when opening, and `<family>` in the listings."""

    IPV4 = 1
    IPV6 = 2
    PACKET = 3


class SocketType(enum.IntEnum):
    STREAM = 1
    DGRAM = 2
    RAW = 3


class Role(enum.IntEnum):
    CLIENT = 0
    SERVER = 1


class PeerVerify(enum.IntEnum):
    NONE = 0
    OPTIONAL = 1
    REQUIRED = 2


class Proto(enum.IntEnum):
    IP = 0
    TCP = 6
    UDP = 17
    TLS_1_2 = 258
    DTLS_1_2 = 273


class OptOp(enum.IntEnum):
    GET = 0
    SET = 1


class SockOpt(enum.IntEnum):
    """#XSOCKETOPT `<name>` (level SOL_SOCKET) as v2.0 numbers them."""

    REUSEADDR = 2
    TYPE = 3
    ERROR = 4
    PRIORITY = 12
    RCVTIMEO = 20
    SNDTIMEO = 21
    BINDTODEVICE = 25
    SILENCE_ALL = 30
    IP_ECHO_REPLY = 31
    IPV6_ECHO_REPLY = 32
    TIMESTAMPING = 37
    PROTOCOL = 38
    # The NCS-2.0-era header order; later headers swap LAST and NO_DATA (behaviour file 6.1).
    RAI_LAST = 50
    RAI_NO_DATA = 51
    RAI_ONE_RESP = 52
    RAI_ONGOING = 53
    RAI_WAIT_MORE = 54
    TCP_SRV_SESSTIMEO = 55


class TlsOpt(enum.IntEnum):
    """#XSSOCKETOPT `<name>` (level SOL_TLS) as v2.0 numbers them."""

    HOSTNAME = 2
    CIPHERSUITE_LIST = 3
    CIPHERSUITE_USED = 4
    PEER_VERIFY = 5
    ALPN_LIST = 7
    DTLS_HANDSHAKE_TIMEOUT_MIN = 8
    DTLS_HANDSHAKE_TIMEOUT_MAX = 9
    SESSION_CACHE = 10
    SESSION_CACHE_PURGE = 11
    DTLS_HANDSHAKE_TIMEO = 12


class SendMode(enum.Enum):
    """How `SlmDut.send`/`sendto` carry the payload."""

    AUTO = "auto"
    STRING = "string"
    DATAMODE = "datamode"


class PollEvent(enum.IntFlag):
    """Zephyr's poll() revents bits, as #XPOLL prints them."""

    IN = 0x1
    PRI = 0x2
    OUT = 0x4
    ERR = 0x8
    HUP = 0x10
    NVAL = 0x20


MAX_SOCKETS = 8
# SLM_MAX_PAYLOAD: the longest <data> string #XSEND/#XSENDTO take.
MAX_STRING_PAYLOAD = 1252
# SLM_MAX_URL is a 128-byte buffer: 127 characters and the NUL.
MAX_URL = 127
MAX_POLL_HANDLES = 8
DTLS_HANDSHAKE_TIMEOUTS = (1, 3, 7, 15, 31, 63, 123)
TCP_SRV_SESSTIMEO_MAX = 135
DATAMODE_TERMINATOR = b"+++"
DATAMODE_BUFFER = 4096
NOT_SUPPORTED = "not supported"

# One recv() per #XRECV: 1280-byte MTU minus the IP and TCP/UDP headers (section 3.12).
RECV_MAX = {
    (Family.IPV4, SocketType.STREAM): 1240,
    (Family.IPV4, SocketType.DGRAM): 1252,
    (Family.IPV6, SocketType.STREAM): 1220,
    (Family.IPV6, SocketType.DGRAM): 1232,
}
RECV_MAX_OTHER = 1252
RECVFROM_MAX = {Family.IPV4: 1252, Family.IPV6: 1232}

# Bytes the line editor eats or the parser cannot carry inside a quoted string: NUL ends the C
# string, BS and DEL delete the previous character (even inside quotes), `"` ends the string.
STRING_FORBIDDEN = frozenset(b'\x00\x08\x7f"')


def string_form_fits(data: bytes) -> bool:
    """Whether `data` survives as `#XSEND="<data>"` on any v2.0 build.

    CR and LF are legal inside quotes with the default CRLF termination, but a board built with
    CR- or LF-only termination would end the line on them, and bytes above 0x7E depend on the
    UART path; printable ASCII is the form every build carries byte for byte.
    """
    return len(data) <= MAX_STRING_PAYLOAD and all(0x20 <= b < 0x7F and b != 0x22 for b in data)


def recv_max(family: Family, type_: SocketType) -> int:
    return RECV_MAX.get((Family(family), SocketType(type_)), RECV_MAX_OTHER)


# ----------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class OpenedSocket:
    """`#XSOCKET: <handle>,<type>,<protocol>` / `#XSSOCKET: ...` after an open."""

    handle: int
    type: int
    protocol: int


@dataclass(frozen=True)
class SocketInfo:
    """`#XSOCKET: <handle>[,<family>,<role>]` (read forms) and the #XSOCKETSELECT set answer."""

    handle: int
    family: int | None = None
    role: int | None = None


@dataclass(frozen=True)
class ListedSocket:
    """One `#XSOCKETSELECT: <handle>,<family>,<role>,<type>,<sec_tag>,<ranking>` row."""

    handle: int
    family: int
    role: int
    type: int
    sec_tag: int
    ranking: int


@dataclass(frozen=True)
class SocketList:
    """The #XSOCKETSELECT? listing: the rows in the firmware's order, and the active handle."""

    sockets: list[ListedSocket] = field(default_factory=list)
    active: int | None = None

    @property
    def handles(self) -> list[int]:
        return [s.handle for s in self.sockets]

    def get(self, handle: int) -> ListedSocket:
        for s in self.sockets:
            if s.handle == handle:
                return s
        raise KeyError(f"handle {handle} is not listed: {self.handles}")


@dataclass(frozen=True)
class Accepted:
    """`#XACCEPT: <handle>,"<ip_addr>"` (v2.0); Serial Modem adds the cid and the peer's port:
    `#XACCEPT: <handle>,<cid>,"<ip_addr>",<port>`."""

    handle: int
    ip: str
    port: int | None = None
    cid: int | None = None


@dataclass(frozen=True)
class Received:
    """What one #XRECV gave: the payload, and the `<size>` its header announced.

    `size` is None when the firmware printed no `#XRECV:` line at all (a zero-byte read answers
    a plain OK), which is not the same answer as `#XRECV: 0`.
    """

    data: bytes
    size: int | None


@dataclass(frozen=True)
class ReceivedFrom:
    """What one #XRECVFROM gave: payload, announced size (None: no header) and sender's IP."""

    data: bytes
    size: int | None
    ip: str | None
    # Serial Modem prints the sender's port too.
    port: int | None = None


@dataclass(frozen=True)
class PollEntry:
    """`#XPOLL: <handle>,"<revents>"`; `text` is the revents exactly as printed."""

    handle: int
    revents: int
    text: str


@dataclass(frozen=True)
class DataCtrl:
    """`#XDATACTRL: <current>,<minimum>` (milliseconds)."""

    current: int
    minimum: int


# ---------------------------------------------------------------------------- Serial Modem
# Values from ncs-serial-modem v2.0.0-preview1 app/src/sm_at_socket.c and sm_sockopt.h.


class SocketMode(enum.IntEnum):
    """`<mode>` of #XSEND, #XRECV, #XSENDTO, #XRECVFROM (enum sm_socket_mode)."""

    STRING = 0
    HEX = 1
    DATA = 2


class RecvCfg(enum.IntFlag):
    """`<flags>` of #XRECVCFG (enum sm_socket_adr_flags)."""

    DISABLE = 0
    AT_MODE = 1
    DATA_MODE = 2


class ApollOp(enum.IntEnum):
    STOP = 0
    START = 1


class SmSockOpt(enum.IntEnum):
    """#XSOCKETOPT `<name>` (enum at_sockopt)."""

    REUSEADDR = 2
    RCVTIMEO = 20
    SNDTIMEO = 21
    SILENCE_ALL = 30
    IP_ECHO_REPLY = 31
    IPV6_ECHO_REPLY = 32
    BINDTOPDN = 40
    TCP_SRV_SESSTIMEO = 55
    RAI = 61
    IPV6_DELAYED_ADDR_REFRESH = 62


class SmTlsOpt(enum.IntEnum):
    """#XSSOCKETOPT `<name>` (enum at_sec_sockopt)."""

    HOSTNAME = 2
    CIPHERSUITE_USED = 4
    PEER_VERIFY = 5
    SESSION_CACHE = 12
    SESSION_CACHE_PURGE = 13
    DTLS_CID = 14
    DTLS_CID_STATUS = 15
    DTLS_HANDSHAKE_TIMEO = 18
    DTLS_FRAG_EXT = 22


# `<flags>` bit that asks for #XSENDNTF (SM_MSG_SEND_ACK).
SM_SEND_ACK = 0x2000
# sm_data_buf: the most one #XRECV/#XRECVFROM returns (SM_MAX_MESSAGE_SIZE default).
SM_RECV_BUFFER = 4096
# bin_data[1400]: the most a hex-mode #XSEND/#XSENDTO string carries, in bytes.
SM_HEX_MAX = 1400
SM_MAX_CID = 10


@dataclass(frozen=True)
class SmSocket:
    """A row of `AT#XSOCKET?` (`<handle>,<family>,<role>,<type>,<cid>`) or `AT#XSSOCKET?`
    (`<handle>,<family>,<role>,<type>,<sec_tag>,<cid>`)."""

    handle: int
    family: int
    role: int
    type: int
    cid: int
    sec_tag: int | None = None


@dataclass(frozen=True)
class Sent:
    """`#XSEND: <handle>,<result_type>,<size>` / `#XSENDTO: ...` (Serial Modem)."""

    handle: int
    result_type: int  # 0: pushed to the modem; 1: #XSENDNTF follows
    size: int


@dataclass(frozen=True)
class SendNotification:
    """`#XSENDNTF: <handle>,<status>,<size>`."""

    handle: int
    status: int
    size: int


@dataclass(frozen=True)
class Listening:
    """A row of `AT#XLISTEN?`: `<handle>,<cid>,<port>`."""

    handle: int
    cid: int
    port: int


@dataclass(frozen=True)
class DataNotification:
    """Automatic reception: a `#XRECV`/`#XRECVFROM` notification and its payload (decoded from
    hex in hex mode; `raw` is what came on the wire)."""

    handle: int
    mode: int
    size: int
    data: bytes
    raw: bytes
    ip: str | None = None
    port: int | None = None
