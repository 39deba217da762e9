"""Helpers for the Serial Modem golden tests (byte framing as ``sm_at_host.c`` emits it)."""

from __future__ import annotations

import socket

from firmware_ref.dialects.sm import sockets
from firmware_ref.testing import FirmwareHarness

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def info(*lines: str) -> bytes:
    """Information lines as ``rsp_send("\\r\\n...\\r\\n")`` frames them."""
    return b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines)


def at(h: FirmwareHarness, line: str, timeout: float | None = None) -> bytes:
    """One command, CR-terminated as Serial Modem's default termination wants; the answer
    through its final result code."""
    h.feed(line.encode("latin-1") + b"\r")
    return h.read_final(timeout)


def open_tcp(h: FirmwareHarness, port: int, host: str = "127.0.0.1", family: int = 1) -> int:
    out = at(h, f"AT#XSOCKET={family},1,0")
    fd = int(out.split(b": ")[1].split(b",")[0])
    assert out == info(f"#XSOCKET: {fd},1,6") + OK
    assert at(h, f'AT#XCONNECT={fd},"{host}",{port}') == info(f"#XCONNECT: {fd},1") + OK
    return fd


def local_port(h: FirmwareHarness, fd: int) -> int:
    """The host port behind a handle (white-box: the AT interface cannot tell it)."""
    return sockets.state(h.fw).fds.get(fd).local_port()


def connect_to(h: FirmwareHarness, fd: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", local_port(h, fd)), timeout=5)
