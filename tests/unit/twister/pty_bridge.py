"""A ``--device-serial-pty`` script: the harness wires its stdio to a pty, and it relays those
bytes to a board served on TCP (here slm-sim ``--listen``), like ``socat - TCP:host:port``."""

from __future__ import annotations

import os
import selectors
import socket
import sys


def main() -> int:
    host, port = sys.argv[1].rsplit(":", 1)
    conn = socket.create_connection((host, int(port)))
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(conn, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj == 0:
                data = os.read(0, 4096)
                if not data:
                    return 0
                conn.sendall(data)
            else:
                data = conn.recv(4096)
                if not data:
                    return 0
                os.write(1, data)


if __name__ == "__main__":
    sys.exit(main())
