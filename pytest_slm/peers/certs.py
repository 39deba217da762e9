"""Test certificates: a CA per session (trustme), a server certificate for every name the board
may use to reach the peers, and an unrelated CA for the wrong-CA tests.

Only public material (certificates) is ever exposed as text; keys stay inside trustme objects,
except when slm-peer persists its CA to --certs-dir (key file mode 0600, never printed).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import trustme

#: Names every server certificate carries.
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
OTHER_CA_CERT_FILE = "other-ca.pem"


def _identity(name: str) -> str:
    """trustme wants IP addresses in their canonical text form (no brackets)."""
    name = name.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


class PeerCerts:
    """A CA, a server certificate issued by it, and an unrelated CA.

    `names` adds identities (host names or IP addresses) to the server certificate, typically
    the --peer-host address, so the board's hostname verification succeeds against it.
    """

    def __init__(self, names: Iterable[str] = (), ca: trustme.CA | None = None) -> None:
        # trustme (cryptography) costs every pytest process tens of ms: imported when a test
        # first needs certificates, not with the plug-in.
        import trustme

        self.ca = ca if ca is not None else trustme.CA(organization_name="pytest-slm test CA")
        self.other_ca = trustme.CA(organization_name="pytest-slm unrelated CA")
        seen: list[str] = []
        for n in (*DEFAULT_NAMES, *names):
            ident = _identity(n)
            if ident and ident not in seen:
                seen.append(ident)
        self.names: tuple[str, ...] = tuple(seen)
        self.server = self.ca.issue_cert(*self.names, common_name=self.names[0])

    # ----------------------------------------------------------------- public material

    @property
    def ca_pem(self) -> str:
        """The CA certificate, PEM text: what the board gets with AT%CMNG (type 0)."""
        return self.ca.cert_pem.bytes().decode("ascii")

    @property
    def other_ca_pem(self) -> str:
        """A CA that did not sign the server certificate (for the wrong-CA tests)."""
        return self.other_ca.cert_pem.bytes().decode("ascii")

    @property
    def server_cert_pem(self) -> str:
        return "".join(p.bytes().decode("ascii") for p in self.server.cert_chain_pems)

    # ----------------------------------------------------------------- contexts

    def server_context(self) -> ssl.SSLContext:
        """A TLS 1.2 server context (the nRF91 modem speaks TLS 1.2)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.server.configure_cert(ctx)
        return ctx

    def client_context(self, trust: str = "ca") -> ssl.SSLContext:
        """A TLS client context trusting our CA ("ca") or the unrelated one ("other")."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        (self.ca if trust == "ca" else self.other_ca).configure_trust(ctx)
        return ctx

    def configure_server(self, ctx: Any) -> None:
        """Load the server certificate and key into a pyOpenSSL context (DTLS)."""
        self.server.configure_cert(ctx)

    def configure_trust(self, ctx: Any, trust: str = "ca") -> None:
        (self.ca if trust == "ca" else self.other_ca).configure_trust(ctx)

    # ----------------------------------------------------------------- persistence

    @classmethod
    def load_or_create(cls, directory: str | os.PathLike[str], names: Iterable[str] = ()):
        """Reuse the CA kept in directory (so a board provisioned once stays valid across
        slm-peer restarts), or create one and save it there. The server certificate is issued
        afresh each time, for the names asked now."""
        d = Path(directory)
        cert, key = d / CA_CERT_FILE, d / CA_KEY_FILE
        if cert.exists() and key.exists():
            import trustme

            ca = trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
            certs = cls(names, ca=ca)
        else:
            certs = cls(names)
            d.mkdir(parents=True, exist_ok=True)
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(certs.ca.private_key_pem.bytes())
            cert.write_text(certs.ca_pem)
        (d / OTHER_CA_CERT_FILE).write_text(certs.other_ca_pem)
        return certs

    def __repr__(self) -> str:
        return f"<PeerCerts server names={list(self.names)}>"
