"""(D)TLS settings of one secure socket, and the contexts built from the modem's credentials.

The modem keeps credentials per security tag (``AT%CMNG``): type 0 CA certificate, 1 client
certificate, 2 private key, 3 PSK, 4 PSK identity. A secure socket names one tag; the handshake
(in ``connect``) uses what that tag holds at that moment.

Hostname verification: the real firmware passes only an IP address to ``connect`` and never sets
``TLS_HOSTNAME`` by itself, so the modem checks a server's name only when the host set one with
``#XSSOCKETOPT=1,2,"<name>"`` (that name also goes out as SNI). Peer verification 2 without a
hostname checks the chain against the tag's CA and nothing else. We do the same.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

CRED_CA = 0
CRED_CLIENT_CERT = 1
CRED_PRIVATE_KEY = 2
CRED_PSK = 3
CRED_PSK_IDENTITY = 4

PEER_VERIFY_NONE = 0
PEER_VERIFY_OPTIONAL = 1
PEER_VERIFY_REQUIRED = 2

# Values the modem accepts for TLS_DTLS_HANDSHAKE_TIMEO (seconds).
DTLS_HANDSHAKE_TIMEOUTS = (1, 3, 7, 15, 31, 63, 123)
DEFAULT_HANDSHAKE_TIMEOUT = 60.0


class SecurityError(Exception):
    """The context cannot be built (no usable credentials): the handshake fails."""


class SessionCache:
    """The modem's TLS session cache: one resumable session per peer and settings.

    A session can only be resumed through the context that made it, so the context is kept
    with it, keyed by everything that went into building it (credentials included).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[ssl.SSLContext, ssl.SSLSession]] = {}

    def get(self, key: tuple) -> tuple[ssl.SSLContext, ssl.SSLSession] | None:
        return self._entries.get(key)

    def put(self, key: tuple, ctx: ssl.SSLContext, session: ssl.SSLSession | None) -> None:
        if session is not None:
            self._entries[key] = (ctx, session)

    def purge(self) -> None:
        self._entries.clear()


@dataclass
class SecurityConfig:
    sec_tag: int
    peer_verify: int
    server: bool = False
    # None: never set; "" after "NULL" (verification off). Anything else: SNI + name check.
    hostname: str | None = None
    session_cache: int = 0
    handshake_timeout: int | None = None
    # Shared by the board's secure sockets (per boot); None: no caching possible.
    sessions: SessionCache | None = None

    def cache_key(self, creds: Credentials, peer: tuple) -> tuple:
        material = tuple(_cred(creds, self.sec_tag, kind) for kind in range(5))
        return (self.sec_tag, self.peer_verify, self.hostname, material, tuple(peer[:2]))

    @property
    def check_hostname(self) -> bool:
        return bool(self.hostname) and self.peer_verify == PEER_VERIFY_REQUIRED

    @property
    def handshake_limit(self) -> float:
        return float(self.handshake_timeout or DEFAULT_HANDSHAKE_TIMEOUT)


# Values are PEM/hex text, or the modem's stored credential objects (``.content`` bytes and an
# optional ``.password`` for a private key).
Credentials = Mapping[tuple[int, int], object]


def _cred(creds: Credentials, tag: int, kind: int) -> str | None:
    value = creds.get((tag, kind))
    content = getattr(value, "content", value)
    if isinstance(content, bytes):
        content = content.decode("latin-1")
    return content if isinstance(content, str) and content else None


def _key_password(creds: Credentials, tag: int) -> bytes | None:
    password = getattr(creds.get((tag, CRED_PRIVATE_KEY)), "password", None)
    return password if isinstance(password, bytes) and password else None


@contextlib.contextmanager
def _private_files(cert: str, key: str):
    """``load_cert_chain`` only reads files: keep them private and gone right after."""
    with tempfile.TemporaryDirectory(prefix="slm-cred-") as tmp:
        os.chmod(tmp, 0o700)
        cert_path = os.path.join(tmp, "cert.pem")
        key_path = os.path.join(tmp, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        yield cert_path, key_path


def tls_context(cfg: SecurityConfig, creds: Credentials) -> ssl.SSLContext:
    """A TLS 1.2 ``ssl`` context for one handshake (client or server side)."""
    purpose = ssl.PROTOCOL_TLS_SERVER if cfg.server else ssl.PROTOCOL_TLS_CLIENT
    ctx = ssl.SSLContext(purpose)
    # The nRF91 modem speaks TLS 1.2 only (IPPROTO_TLS_1_2).
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ca = _cred(creds, cfg.sec_tag, CRED_CA)
    cert = _cred(creds, cfg.sec_tag, CRED_CLIENT_CERT)
    key = _cred(creds, cfg.sec_tag, CRED_PRIVATE_KEY)
    try:
        if ca:
            ctx.load_verify_locations(cadata=ca)
        if cert and key:
            with _private_files(cert, key) as (cert_path, key_path):
                ctx.load_cert_chain(cert_path, key_path, password=_key_password(creds, cfg.sec_tag))
    except (ssl.SSLError, ValueError, OSError) as exc:
        what = type(exc).__name__
        raise SecurityError(f"sec_tag {cfg.sec_tag}: unusable credential ({what})") from None
    if cfg.server and not (cert and key):
        raise SecurityError(f"sec_tag {cfg.sec_tag}: a server needs a certificate and a key")
    if cfg.server:
        # Optional verification works server-side in OpenSSL: ask, accept no certificate.
        ctx.verify_mode = {
            PEER_VERIFY_REQUIRED: ssl.CERT_REQUIRED,
            PEER_VERIFY_OPTIONAL: ssl.CERT_OPTIONAL,
        }.get(cfg.peer_verify, ssl.CERT_NONE)
    else:
        ctx.check_hostname = cfg.check_hostname
        # mbedTLS "optional" continues whatever the chain says; an OpenSSL client has no such
        # mode (CERT_OPTIONAL acts as REQUIRED), so optional is modelled as no verification.
        ctx.verify_mode = (
            ssl.CERT_REQUIRED if cfg.peer_verify == PEER_VERIFY_REQUIRED else ssl.CERT_NONE
        )
    return ctx


def dtls_context(cfg: SecurityConfig, creds: Credentials):
    """A pyOpenSSL DTLS 1.2 context (client side) for one handshake."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from OpenSSL import SSL, crypto

    ctx = SSL.Context(SSL.DTLS_METHOD)
    dtls1_2 = 0xFEFD  # DTLS1_2_VERSION: the modem's IPPROTO_DTLS_1_2
    ctx.set_min_proto_version(dtls1_2)
    ctx.set_max_proto_version(dtls1_2)
    # Memory BIOs have no path MTU to query; the MTU is set on the connection instead.
    ctx.set_options(SSL.OP_NO_QUERY_MTU)
    ca = _cred(creds, cfg.sec_tag, CRED_CA)
    cert = _cred(creds, cfg.sec_tag, CRED_CLIENT_CERT)
    key = _cred(creds, cfg.sec_tag, CRED_PRIVATE_KEY)
    try:
        if ca:
            store = ctx.get_cert_store()
            assert store is not None
            for c in x509.load_pem_x509_certificates(ca.encode()):
                store.add_cert(crypto.X509.from_cryptography(c))
        if cert and key:
            chain = x509.load_pem_x509_certificates(cert.encode())
            _ossl_call(ctx.use_certificate, chain[0], crypto.X509.from_cryptography)
            for extra in chain[1:]:
                _ossl_call(ctx.add_extra_chain_cert, extra, crypto.X509.from_cryptography)
            pkey = load_pem_private_key(key.encode(), password=_key_password(creds, cfg.sec_tag))
            _ossl_call(ctx.use_privatekey, pkey, crypto.PKey.from_cryptography_key)
    except (ValueError, TypeError, SSL.Error, crypto.Error) as exc:
        what = type(exc).__name__
        raise SecurityError(f"sec_tag {cfg.sec_tag}: unusable credential ({what})") from None

    if cfg.peer_verify == PEER_VERIFY_REQUIRED:
        ctx.set_verify(SSL.VERIFY_PEER, lambda _c, _x, _e, _d, ok: bool(ok))
    elif cfg.peer_verify == PEER_VERIFY_OPTIONAL:
        ctx.set_verify(SSL.VERIFY_PEER, lambda *_a: True)
    else:
        ctx.set_verify(SSL.VERIFY_NONE, lambda *_a: True)
    return ctx


def _ossl_call(method, obj, wrap) -> None:
    """pyOpenSSL >= 24.3 takes ``cryptography`` objects (and deprecates its own); older
    releases only take their own wrappers."""
    try:
        method(obj)
    except TypeError:
        method(wrap(obj))


def peer_certificate(conn):
    """The peer's certificate as a ``cryptography`` object (any pyOpenSSL release)."""
    try:
        return conn.get_peer_certificate(as_cryptography=True)
    except TypeError:
        cert = conn.get_peer_certificate()
        return None if cert is None else cert.to_cryptography()


def _dns_match(pattern: str, host: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    host = host.lower().rstrip(".")
    if pattern.startswith("*."):
        # RFC 6125: a wildcard covers exactly one leftmost label.
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def hostname_matches(cert, hostname: str) -> bool:
    """Whether a ``cryptography`` certificate is valid for ``hostname`` (SAN, then CN)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        ip = ipaddress.ip_address(hostname)
    except ValueError:
        ip = None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        if ip is not None:
            return ip in san.get_values_for_type(x509.IPAddress)
        return any(_dns_match(n, hostname) for n in san.get_values_for_type(x509.DNSName))
    if ip is not None:
        return False
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return any(_dns_match(str(n.value), hostname) for n in names)
