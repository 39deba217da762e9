"""The manifest slm-peer publishes (JSON), and the stand-ins for peers served by a remote slm-peer.

Format (version 1)::

    {
      "slm_peer": 1,
      "services": [
        {"service": "tcp_echo", "transport": "tcp", "family": "ipv4",
         "host": "0.0.0.0", "port": 40123, "board_host": "203.0.113.5"},
        ...
      ],
      "ca_pem": "-----BEGIN CERTIFICATE-----...",   # public: provision it with AT%CMNG
      "names": ["localhost", "127.0.0.1", "::1", "203.0.113.5"]
    }

`board_host` is present when slm-peer was given --advertise/--advertise6. It is obtained from
`slm-peer --manifest FILE` (written atomically once every service is up) or by connecting to its
control port (`--control-port`), which sends the manifest and closes.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import DEFAULT_TIMEOUT, family_name, family_of, ip_literal_family

VERSION = 1


def build_manifest(peers: list[Any], certs: Any, advertise: dict[str, str]) -> dict[str, Any]:
    services = []
    for p in peers:
        entry = p.describe()
        entry.pop("names", None)
        host = advertise.get(entry["family"])
        if host:
            entry["board_host"] = host
        services.append(entry)
    return {
        "slm_peer": VERSION,
        "services": services,
        "ca_pem": certs.ca_pem,
        "names": list(certs.names),
    }


def write_manifest(path: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Write atomically: a reader polling for the file never sees half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".manifest-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, target)


def fetch_manifest(url: str, timeout: float = DEFAULT_TIMEOUT) -> tuple[dict[str, Any], str | None]:
    """Read a manifest from tcp://HOST:PORT (a control port) or a file path / file:// URL.
    Returns the manifest and the host named by a tcp:// URL (None for a file)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "tcp":
        if not parsed.hostname or not parsed.port:
            raise ValueError(f"--peer-url {url!r}: expected tcp://HOST:PORT")
        chunks = []
        with socket.create_connection((parsed.hostname, parsed.port), timeout=timeout) as s:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        data, host = b"".join(chunks), parsed.hostname
    elif parsed.scheme in ("", "file"):
        path = urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else url
        data, host = Path(path).read_bytes(), None
    else:
        raise ValueError(f"--peer-url {url!r}: use tcp://HOST:PORT or a manifest file path")
    manifest = json.loads(data)
    if manifest.get("slm_peer") != VERSION:
        raise ValueError(f"--peer-url {url!r}: not an slm-peer v{VERSION} manifest")
    return manifest, host


class RemotePeerError(AssertionError):
    pass


@dataclass
class RemotePeer:
    """A peer served by a remote slm-peer: addresses only. Its counters and records live on the
    lab host, so a test that reads them needs a local peer instead."""

    kind: str
    family: socket.AddressFamily
    host: str
    port: int
    board_host: str
    transport: str = "tcp"
    remote: bool = field(default=True, init=False)

    @property
    def address(self) -> tuple[str, int]:
        return (self.board_host, self.port)

    @property
    def family_name(self) -> str:
        return family_name(self.family)

    @property
    def running(self) -> bool:
        return True

    def start(self) -> RemotePeer:
        return self

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        pass

    def reset(self) -> None:
        pass

    def __enter__(self) -> RemotePeer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise RemotePeerError(
            f"{self.kind} is served by a remote slm-peer (--peer-url): .{name} is only "
            "available on a local peer; run without --peer-url"
        )


def remote_peers(
    manifest: dict[str, Any], url_host: str | None, peer_hosts: list[str]
) -> dict[tuple[str, socket.AddressFamily], RemotePeer]:
    """The manifest's services keyed by (service, family), each with the address the board
    must use: --peer-host for that family, else the manifest's board_host, else the tcp://
    URL's host when its family matches, else the service's own host when it is specific."""
    out = {}
    for entry in manifest["services"]:
        fam = family_of(entry["family"])
        board = None
        for h in peer_hosts:
            lit = ip_literal_family(h)
            if lit is None or lit == fam:
                board = h.strip("[]")
                break
        board = board or entry.get("board_host")
        if not board and url_host:
            lit = ip_literal_family(url_host)
            if lit is None or lit == fam:
                board = url_host
        if not board and entry["host"] not in ("0.0.0.0", "::", ""):
            board = entry["host"]
        if not board:
            continue
        out[(entry["service"], fam)] = RemotePeer(
            entry["service"], fam, entry["host"], int(entry["port"]), board,
            transport=entry.get("transport", "tcp"),
        )
    return out


class RemoteCerts:
    """The public side of a remote slm-peer's certificates, plus a local unrelated CA."""

    def __init__(self, ca_pem: str, names: list[str]) -> None:
        import trustme

        self._ca_pem = ca_pem
        self.names = tuple(names)
        self.other_ca = trustme.CA(organization_name="pytest-slm unrelated CA")

    @property
    def ca_pem(self) -> str:
        return self._ca_pem

    @property
    def other_ca_pem(self) -> str:
        return self.other_ca.cert_pem.bytes().decode("ascii")

    def client_context(self, trust: str = "ca") -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if trust == "ca":
            ctx.load_verify_locations(cadata=self._ca_pem)
        else:
            self.other_ca.configure_trust(ctx)
        return ctx

    def __repr__(self) -> str:
        return f"<RemoteCerts server names={list(self.names)}>"
