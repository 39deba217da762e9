import socket
import ssl
import stat

from pytest_slm.peers import PeerCerts, TlsEcho
from pytest_slm.peers.certs import CA_CERT_FILE, CA_KEY_FILE


def test_ca_pem_is_public_text_only():
    certs = PeerCerts(names=["[2001:db8::5]", "lab.example", "localhost"])
    assert certs.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert certs.ca_pem.rstrip().endswith("-----END CERTIFICATE-----")
    assert "PRIVATE" not in certs.ca_pem + certs.other_ca_pem + certs.server_cert_pem
    assert certs.ca_pem != certs.other_ca_pem
    assert certs.names == ("localhost", "127.0.0.1", "::1", "2001:db8::5", "lab.example")
    assert "PRIVATE" not in repr(certs) and "BEGIN" not in repr(certs)


def test_server_cert_chains_to_ca_only(tmp_path):
    certs = PeerCerts()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(certs.ca_pem)
    ctx = ssl.create_default_context(cafile=str(ca_file))
    with TlsEcho(certs) as echo:
        with socket.create_connection(echo.address, timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                assert s.getpeercert()["subjectAltName"] == (
                    ("DNS", "localhost"),
                    ("IP Address", "127.0.0.1"),
                    ("IP Address", "0:0:0:0:0:0:0:1"),
                )


def test_load_or_create_keeps_the_ca(tmp_path):
    first = PeerCerts.load_or_create(tmp_path / "certs", names=["10.1.2.3"])
    key = tmp_path / "certs" / CA_KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / "certs" / CA_CERT_FILE).read_text() == first.ca_pem
    second = PeerCerts.load_or_create(tmp_path / "certs", names=["lab.example"])
    assert second.ca_pem == first.ca_pem
    assert "lab.example" in second.names and "10.1.2.3" not in second.names
    # The reloaded CA really signs: a client trusting the first run's ca.pem accepts the
    # second run's server.
    ctx = ssl.create_default_context(cafile=str(tmp_path / "certs" / CA_CERT_FILE))
    with TlsEcho(second) as echo, socket.create_connection(echo.address, timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="lab.example") as s:
            s.sendall(b"ok")
            assert s.recv(2) == b"ok"
