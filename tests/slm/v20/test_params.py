"""Every class of parameter mistake, for every socket command, and the firmware's exact answer.

Classes: missing, empty, unquoted, out of range, overflowing, wrong type, junk, whitespace, and
extra (v2.0 ignores extra parameters, so those succeed). Each case runs on a socket in the state
the command needs, so the parameter is the only thing wrong with it.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from slmsuite import ERROR, OK, free_port, free_udp_port

from pytest_slm.slm_types import MAX_STRING_PAYLOAD, MAX_URL, Family, Role, SocketType

LONG_URL = "a" * (MAX_URL + 1)
TOO_MUCH = "x" * (MAX_STRING_PAYLOAD + 1)
INT64_OVERFLOW = "99999999999999999999"


def _none(slm, request):
    pass


def _udp(slm, request):
    slm.socket_open(Family.IPV4, SocketType.DGRAM)


def _tcp(slm, request):
    slm.socket_open(Family.IPV4, SocketType.STREAM)


def _connected(slm, request):
    sink = request.getfixturevalue("tcp_sink")
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(sink.board_host, sink.port)


def _server(slm, request):
    slm.socket_open(Family.IPV4, SocketType.STREAM, Role.SERVER)
    slm.bind(free_port(Family.IPV4))
    slm.listen()


def _bound(slm, request):
    slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.SERVER)
    slm.bind(free_udp_port(Family.IPV4))


def _tls(slm, request):
    slm.at("AT#XSSOCKET=1,1,0,71434")


SETUP = {
    "none": _none, "udp": _udp, "tcp": _tcp, "connected": _connected, "server": _server,
    "bound": _bound, "tls": _tls,
}

# (class, setup, command, info lines, final)
CASES = [
    # #XSOCKET
    ("missing", "none", "AT#XSOCKET", [], ERROR),
    ("missing", "none", "AT#XSOCKET=1", [], ERROR),
    ("missing", "none", "AT#XSOCKET=1,1", [], ERROR),
    ("empty", "none", "AT#XSOCKET=", [], ERROR),
    ("empty", "none", "AT#XSOCKET=,1,0", [], ERROR),
    ("empty", "none", "AT#XSOCKET=1,,0", [], ERROR),
    ("empty", "none", "AT#XSOCKET=1,1,", [], ERROR),
    ("unquoted", "none", "AT#XSOCKET=a,1,0", [], ERROR),
    ("unquoted", "none", "AT#XSOCKET=1,tcp,0", [], ERROR),
    ("range", "none", "AT#XSOCKET=3,1,0", [], ERROR),
    ("range", "none", "AT#XSOCKET=-1,1,0", [], ERROR),
    ("range", "none", "AT#XSOCKET=1,0,0", [], ERROR),
    ("range", "none", "AT#XSOCKET=1,4,0", [], ERROR),
    ("range", "none", "AT#XSOCKET=1,1,-1", [], ERROR),
    ("overflow", "none", "AT#XSOCKET=65537,1,0", [], ERROR),
    ("overflow", "none", "AT#XSOCKET=1,65537,0", [], ERROR),
    ("overflow", "none", f"AT#XSOCKET=1,1,{INT64_OVERFLOW}", [], ERROR),
    ("type", "none", 'AT#XSOCKET="1",1,0', [], ERROR),
    ("type", "none", 'AT#XSOCKET=1,"1",0', [], ERROR),
    ("type", "none", "AT#XSOCKET=(1),1,0", [], ERROR),
    ("junk", "none", "AT#XSOCKET=1a,1,0", [], ERROR),
    ("junk", "none", "AT#XSOCKET=0x1,1,0", [], ERROR),
    ("junk", "none", "AT#XSOCKET?x", [], ERROR),
    ("junk", "none", "AT&XSOCKET=1,1,0", [], ERROR),
    ("space", "none", "AT#XSOCKET=1 ,1,0", [], ERROR),
    ("space", "none", "AT#XSOCKET=  1,1,0", [], ERROR),
    ("space", "none", " AT#XSOCKET=1,1,0", [], ERROR),
    ("accepted", "none", "AT#XSOCKET= 1,1,0", ["#XSOCKET: 0,1,6"], OK),
    ("accepted", "none", "AT#XSOCKET=1, 2, 0", ["#XSOCKET: 0,2,17"], OK),
    # The behaviour file (2.3) reads `+5` as 5, but lib/at_cmd_parser checks for a notification
    # prefix (+ % #) before a number on every element after the command name, stops there and
    # returns -EAGAIN: the firmware's code answers ERROR, and a real board runs the code.
    ("junk", "none", "AT#XSOCKET=+1,1,0", [], ERROR),
    ("accepted", "none", "AT#XSOCKET=1,1,0,", ["#XSOCKET: 0,1,6"], OK),
    ("accepted", "none", "at#xsocket=1,1,0", ["#XSOCKET: 0,1,6"], OK),
    ("extra", "none", "AT#XSOCKET=1,1,0,5,6", ["#XSOCKET: 0,1,6"], OK),
    # #XSSOCKET
    ("missing", "none", "AT#XSSOCKET", [], ERROR),
    ("missing", "none", "AT#XSSOCKET=1,1,0", [], ERROR),
    ("missing", "none", "AT#XSSOCKET=1,1", [], ERROR),
    ("empty", "none", "AT#XSSOCKET=1,1,0,", [], ERROR),
    ("empty", "none", "AT#XSSOCKET=1,,0,71434", [], ERROR),
    ("unquoted", "none", "AT#XSSOCKET=1,1,0,tag", [], ERROR),
    ("range", "none", "AT#XSSOCKET=3,1,0,71434", [], ERROR),
    ("range", "none", "AT#XSSOCKET=1,3,0,71434", [], ERROR),
    ("range", "none", "AT#XSSOCKET=1,0,0,71434", [], ERROR),
    ("range", "none", "AT#XSSOCKET=1,1,2,71434", [], ERROR),
    ("range", "none", "AT#XSSOCKET=1,1,0,-1", [], ERROR),
    ("range", "none", "AT#XSSOCKET=1,1,0,71434,3", [], ERROR),
    ("range", "none", "AT#XSSOCKET=1,1,0,71434,-1", [], ERROR),
    ("overflow", "none", "AT#XSSOCKET=1,1,0,4294967296", [], ERROR),
    ("overflow", "none", "AT#XSSOCKET=1,1,0,71434,65536", [], ERROR),
    ("type", "none", 'AT#XSSOCKET=1,1,0,"71434"', [], ERROR),
    ("type", "none", 'AT#XSSOCKET=1,1,0,71434,"2"', [], ERROR),
    ("extra", "none", "AT#XSSOCKET=1,1,0,71434,2,9", ["#XSSOCKET: 0,1,258"], OK),
    # #XSOCKETOPT
    ("missing", "udp", "AT#XSOCKETOPT", [], ERROR),
    ("missing", "udp", "AT#XSOCKETOPT=1", [], ERROR),
    ("empty", "udp", "AT#XSOCKETOPT=", [], ERROR),
    ("empty", "udp", "AT#XSOCKETOPT=1,,1", [], ERROR),
    ("empty", "udp", "AT#XSOCKETOPT=,30,1", [], ERROR),
    ("unquoted", "udp", "AT#XSOCKETOPT=1,30,on", [], ERROR),
    ("unquoted", "udp", "AT#XSOCKETOPT=get,30", [], ERROR),
    ("range", "udp", "AT#XSOCKETOPT=-1,30", [], ERROR),
    ("range", "udp", "AT#XSOCKETOPT=1,30,2147483648", [], ERROR),
    ("overflow", "udp", "AT#XSOCKETOPT=1,65566,1", [], ERROR),
    ("overflow", "udp", f"AT#XSOCKETOPT=1,30,{INT64_OVERFLOW}", [], ERROR),
    ("type", "udp", 'AT#XSOCKETOPT="1",30,1', [], ERROR),
    ("type", "udp", 'AT#XSOCKETOPT=1,"30",1', [], ERROR),
    ("type", "udp", "AT#XSOCKETOPT=1,30,(1)", [], ERROR),
    ("extra", "udp", "AT#XSOCKETOPT=1,30,1,5", [], OK),
    ("extra", "udp", "AT#XSOCKETOPT=0,30,1", ["#XSOCKETOPT: 0"], OK),
    # #XSSOCKETOPT
    ("missing", "tls", "AT#XSSOCKETOPT", [], ERROR),
    ("missing", "tls", "AT#XSSOCKETOPT=1", [], ERROR),
    ("empty", "tls", "AT#XSSOCKETOPT=,5,1", [], ERROR),
    ("empty", "tls", "AT#XSSOCKETOPT=1,,1", [], ERROR),
    ("unquoted", "tls", "AT#XSSOCKETOPT=1,2,localhost", [], ERROR),
    ("range", "tls", "AT#XSSOCKETOPT=1,5,-1", [], ERROR),
    ("overflow", "tls", "AT#XSSOCKETOPT=1,65541,1", [], ERROR),
    ("overflow", "tls", f"AT#XSSOCKETOPT=1,5,{INT64_OVERFLOW}", [], ERROR),
    ("type", "tls", 'AT#XSSOCKETOPT="1",5,1', [], ERROR),
    ("extra", "tls", "AT#XSSOCKETOPT=1,5,2,9", [], OK),
    # #XBIND
    ("missing", "udp", "AT#XBIND", [], ERROR),
    ("empty", "udp", "AT#XBIND=", [], ERROR),
    ("unquoted", "udp", "AT#XBIND=port", [], ERROR),
    ("range", "udp", "AT#XBIND=-1", [], ERROR),
    ("overflow", "udp", "AT#XBIND=65536", [], ERROR),
    ("overflow", "udp", f"AT#XBIND={INT64_OVERFLOW}", [], ERROR),
    ("type", "udp", 'AT#XBIND="1234"', [], ERROR),
    ("junk", "udp", "AT#XBIND=12a", [], ERROR),
    ("extra", "udp", "AT#XBIND=0,5", [], OK),
    # #XCONNECT
    ("missing", "tcp", "AT#XCONNECT", [], ERROR),
    ("missing", "tcp", 'AT#XCONNECT="127.0.0.1"', [], ERROR),
    ("empty", "tcp", "AT#XCONNECT=", [], ERROR),
    ("empty", "tcp", "AT#XCONNECT=,80", [], ERROR),
    ("empty", "tcp", 'AT#XCONNECT="127.0.0.1",', [], ERROR),
    ("empty", "tcp", 'AT#XCONNECT="",80', [], ERROR),
    ("unquoted", "tcp", "AT#XCONNECT=localhost,80", [], ERROR),
    ("unquoted", "tcp", "AT#XCONNECT=127.0.0.1,80", [], ERROR),
    ("range", "tcp", 'AT#XCONNECT="127.0.0.1",-1', [], ERROR),
    ("overflow", "tcp", 'AT#XCONNECT="127.0.0.1",65536', [], ERROR),
    ("overflow", "tcp", f'AT#XCONNECT="{LONG_URL}",80', [], ERROR),
    ("type", "tcp", 'AT#XCONNECT="127.0.0.1","80"', [], ERROR),
    ("type", "tcp", "AT#XCONNECT=1,80", [], ERROR),
    # #XLISTEN
    ("unquoted", "server", "AT#XLISTEN=abc", [], ERROR),
    ("extra", "server", "AT#XLISTEN=1,2", [], OK),
    # #XACCEPT
    ("missing", "server", "AT#XACCEPT", [], ERROR),
    ("empty", "server", "AT#XACCEPT=", [], ERROR),
    ("unquoted", "server", "AT#XACCEPT=a", [], ERROR),
    ("overflow", "server", "AT#XACCEPT=2147483648", [], ERROR),
    ("type", "server", 'AT#XACCEPT="1"', [], ERROR),
    ("junk", "server", "AT#XACCEPT=1.5", [], ERROR),
    # #XSEND
    ("unquoted", "connected", "AT#XSEND=abc", [], ERROR),
    ("type", "connected", "AT#XSEND=1234", [], ERROR),
    ("type", "connected", "AT#XSEND=(1)", [], ERROR),
    ("overflow", "connected", f'AT#XSEND="{TOO_MUCH}"', [], ERROR),
    ("extra", "connected", 'AT#XSEND="a",1', ["#XSEND: 1"], OK),
    ("accepted", "connected", 'AT#XSEND=""', ["#XSEND: 0"], OK),
    # #XRECV
    ("missing", "connected", "AT#XRECV", [], ERROR),
    ("empty", "connected", "AT#XRECV=", [], ERROR),
    ("unquoted", "connected", "AT#XRECV=a", [], ERROR),
    ("overflow", "connected", "AT#XRECV=2147483648", [], ERROR),
    ("type", "connected", 'AT#XRECV="1"', [], ERROR),
    ("junk", "connected", "AT#XRECV=1.5", [], ERROR),
    # #XSENDTO
    ("missing", "udp", 'AT#XSENDTO="127.0.0.1"', [], ERROR),
    ("empty", "udp", 'AT#XSENDTO=,7,"x"', [], ERROR),
    ("empty", "udp", 'AT#XSENDTO="127.0.0.1",,"x"', [], ERROR),
    ("unquoted", "udp", 'AT#XSENDTO=127.0.0.1,7,"x"', [], ERROR),
    ("unquoted", "udp", 'AT#XSENDTO="127.0.0.1",7,abc', [], ERROR),
    ("range", "udp", 'AT#XSENDTO="127.0.0.1",-1,"x"', [], ERROR),
    ("overflow", "udp", 'AT#XSENDTO="127.0.0.1",65536,"x"', [], ERROR),
    ("overflow", "udp", f'AT#XSENDTO="{LONG_URL}",7,"x"', [], ERROR),
    ("overflow", "udp", f'AT#XSENDTO="127.0.0.1",7,"{TOO_MUCH}"', [], ERROR),
    ("type", "udp", 'AT#XSENDTO="127.0.0.1","7","x"', [], ERROR),
    ("type", "udp", 'AT#XSENDTO="127.0.0.1",7,5', [], ERROR),
    ("type", "udp", 'AT#XSENDTO=1,7,"x"', [], ERROR),
    ("unresolvable", "udp", 'AT#XSENDTO="nonexistent.invalid",7,"x"', [], ERROR),
    # #XRECVFROM
    ("missing", "bound", "AT#XRECVFROM", [], ERROR),
    ("empty", "bound", "AT#XRECVFROM=", [], ERROR),
    ("unquoted", "bound", "AT#XRECVFROM=a", [], ERROR),
    ("overflow", "bound", "AT#XRECVFROM=2147483648", [], ERROR),
    ("type", "bound", 'AT#XRECVFROM="1"', [], ERROR),
    ("junk", "bound", "AT#XRECVFROM=1.5", [], ERROR),
    # #XPOLL
    ("missing", "udp", "AT#XPOLL", [], ERROR),
    ("empty", "udp", "AT#XPOLL=", [], ERROR),
    ("empty", "udp", "AT#XPOLL=0,,0", [], ERROR),
    ("unquoted", "udp", "AT#XPOLL=a", [], ERROR),
    ("unquoted", "udp", "AT#XPOLL=0,a", [], ERROR),
    ("overflow", "udp", "AT#XPOLL=2147483648", [], ERROR),
    ("overflow", "udp", f"AT#XPOLL=0,{INT64_OVERFLOW}", [], ERROR),
    ("type", "udp", 'AT#XPOLL="0"', [], ERROR),
    ("type", "udp", 'AT#XPOLL=0,"0"', [], ERROR),
    # #XGETADDRINFO
    ("missing", "none", "AT#XGETADDRINFO", [], ERROR),
    ("empty", "none", "AT#XGETADDRINFO=", [], ERROR),
    ("unquoted", "none", "AT#XGETADDRINFO=localhost", [], ERROR),
    ("type", "none", "AT#XGETADDRINFO=1", [], ERROR),
    ("overflow", "none", f'AT#XGETADDRINFO="{LONG_URL}"', [], ERROR),
    ("extra", "none", 'AT#XGETADDRINFO="127.0.0.1",1', ['#XGETADDRINFO: "127.0.0.1"'], OK),
]


def _values(case):
    return case.values if hasattr(case, "values") else case


def _ids() -> list[str]:
    seen: Counter[str] = Counter()
    ids = []
    for cls, _, command, _, _ in map(_values, CASES):
        match = re.match(r"\s*AT[#&](X[A-Z]+)", command, re.IGNORECASE)
        name = match.group(1).upper() if match else "AT"
        key = f"{name}-{cls}"
        seen[key] += 1
        ids.append(f"{key}-{seen[key]}")
    return ids


@pytest.mark.parametrize(("cls", "setup", "command", "lines", "final"), CASES, ids=_ids())
def test_parameter(slm, request, cls, setup, command, lines, final):
    SETUP[setup](slm, request)
    result = slm.at(command, check=False, timeout=30.0)
    assert (result.lines, result.final) == (lines, final), f"{cls}: {command[:80]!r}"

