"""slm-peer as a lab host runs it: a subprocess, its stdout, manifest, control port, signals."""

import json
import os
import selectors
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import time

import pytest

from pytest_slm.peers import ipv6_available
from pytest_slm.peers.dtls import DtlsClient
from pytest_slm.peers.manifest import fetch_manifest

START_TIMEOUT = 30.0


class SlmPeerProcess:
    def __init__(self, tmp_path, *args):
        self.manifest_path = tmp_path / "manifest.json"
        self.certs_dir = tmp_path / "certs"
        cmd = [sys.executable, "-m", "pytest_slm.peers.cli", "--manifest",
               str(self.manifest_path), "--certs-dir", str(self.certs_dir), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = self._read_until_ready()
        self.services = {}
        for line in self.lines[:-1]:
            service, family, host, port = line.split()
            self.services[(service, family)] = (host, int(port))

    def _read_until_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while b"ready\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not sel.select(remaining):
                    self.proc.kill()
                    pytest.fail(f"slm-peer not ready: {buf!r} {self.proc.stderr.read()!r}")
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    pytest.fail(f"slm-peer exited: {buf!r} {self.proc.stderr.read()!r}")
                buf += chunk
        return buf.decode().splitlines()

    def address(self, service, family="ipv4"):
        return self.services[(service, family)]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail("slm-peer did not exit on a signal")
        return self.proc.returncode, out, err


@pytest.fixture(scope="module")
def slm_peer(tmp_path_factory):
    peer = SlmPeerProcess(tmp_path_factory.mktemp("slm-peer"))
    yield peer
    rc, _, err = peer.stop()
    assert rc == 0, err
    assert b"PRIVATE" not in err


def test_stdout_lists_services_then_ready(slm_peer):
    assert slm_peer.lines[-1] == "ready"
    families = ["ipv4", "ipv6"] if ipv6_available() else ["ipv4"]
    expected = {(s, f) for s in ("tcp_echo", "udp_echo", "tls_echo", "dtls_echo", "control")
                for f in families}
    assert set(slm_peer.services) == expected
    assert "PRIVATE" not in "\n".join(slm_peer.lines)


def test_manifest_file_and_control_port_agree(slm_peer):
    manifest = json.loads(slm_peer.manifest_path.read_text())
    listed = {(e["service"], e["family"]): (e["host"], e["port"]) for e in manifest["services"]}
    assert listed == {k: v for k, v in slm_peer.services.items() if k[0] != "control"}
    assert manifest["ca_pem"] == (slm_peer.certs_dir / "ca.pem").read_text()
    assert "PRIVATE" not in slm_peer.manifest_path.read_text()
    host, port = slm_peer.address("control")
    served, url_host = fetch_manifest(f"tcp://{host}:{port}")
    assert served == manifest and url_host == host
    assert fetch_manifest(str(slm_peer.manifest_path))[0] == manifest
    assert fetch_manifest(slm_peer.manifest_path.as_uri())[0] == manifest


@pytest.mark.parametrize("fam", ["ipv4", "ipv6"])
def test_echo_through_slm_peer(slm_peer, fam):
    if fam == "ipv6" and not ipv6_available():
        pytest.skip("IPv6 loopback (::1) is not available on this host")
    af = socket.AF_INET6 if fam == "ipv6" else socket.AF_INET
    payload = bytes(range(256))
    with socket.create_connection(slm_peer.address("tcp_echo", fam), timeout=10) as s:
        s.sendall(payload)
        got = b""
        while len(got) < 256:
            got += s.recv(256)
        assert got == payload
    with socket.socket(af, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(payload, slm_peer.address("udp_echo", fam))
        assert u.recv(1000) == payload
    ca = (slm_peer.certs_dir / "ca.pem").read_text()
    ctx = ssl.create_default_context(cadata=ca)
    with socket.create_connection(slm_peer.address("tls_echo", fam), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"tls")
            assert s.recv(3) == b"tls"
    with DtlsClient(*slm_peer.address("dtls_echo", fam), ca_pem=ca) as d:
        d.send(b"dtls")
        assert d.recv() == b"dtls"


def test_sigint_exits_zero_and_ports_in_use_fail(tmp_path, slm_peer):
    _, busy = slm_peer.address("tcp_echo")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_slm.peers.cli", "--no-ipv6", "--tcp-echo-port",
         str(busy)], capture_output=True, timeout=60,
    )
    assert proc.returncode == 1 and b"Address already in use" in proc.stderr
    other = SlmPeerProcess(tmp_path, "--no-ipv6", "--advertise", "192.0.2.10", "-v")
    manifest = json.loads(other.manifest_path.read_text())
    assert {e["board_host"] for e in manifest["services"]} == {"192.0.2.10"}
    assert "192.0.2.10" in manifest["names"]
    rc, _, err = other.stop(signal.SIGINT)
    assert rc == 0, err
    assert b"stopped" in err


def test_console_script_help():
    # The console script this interpreter's install made, not another checkout's on PATH.
    exe = shutil.which("slm-peer", path=sysconfig.get_path("scripts"))
    if exe is None:
        pytest.skip("the slm-peer console script is not installed beside this interpreter")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--certs-dir" in out.stdout and "--manifest" in out.stdout


REMOTE_TESTS = r'''
import socket
import ssl

import pytest

from pytest_slm.peers.dtls import DtlsClient


def test_remote_echo(tcp_echo, udp_echo, tls_echo, dtls_echo, peer_certs):
    assert tcp_echo.remote and tcp_echo.board_host == "127.0.0.1"
    with socket.create_connection((tcp_echo.board_host, tcp_echo.port), timeout=10) as s:
        s.sendall(b"remote")
        assert s.recv(6) == b"remote"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(10)
        u.sendto(b"dgram", udp_echo.address)
        assert u.recv(100) == b"dgram"
    ctx = peer_certs.client_context()
    with socket.create_connection(tls_echo.address, timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"tls")
            assert s.recv(3) == b"tls"
    with DtlsClient(*dtls_echo.address, ca_pem=peer_certs.ca_pem) as d:
        d.send(b"dtls")
        assert d.recv() == b"dtls"
    with pytest.raises(AssertionError, match="--peer-url"):
        tcp_echo.bytes_sent


def test_remote_sink(tcp_sink):
    pass


def test_remote_connect_back(connect_back):
    pass
'''

REMOTE_OVERRIDE_TESTS = r'''
def test_board_host(tcp_echo, udp_echo):
    assert tcp_echo.board_host == udp_echo.board_host == "10.9.8.7"
'''


@pytest.mark.parametrize("url_kind", ["control", "file"])
def test_fixtures_with_peer_url(slm_peer, inner, inner_args, url_kind):
    pytester = inner
    pytester.makepyfile(test_remote=REMOTE_TESTS)
    if url_kind == "control":
        host, port = slm_peer.address("control")
        url = f"tcp://{host}:{port}"
    else:
        url = str(slm_peer.manifest_path)
    # "--peer-url=URL" in one word: the inner run declares the option in a conftest, and until
    # that is loaded pytest would take a separate URL word for a path to collect.
    result = pytester.runpytest(*inner_args, f"--peer-url={url}")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines([
        "*tcp_sink needs a peer in this test process*run without --peer-url*",
        "*connect_back needs a peer in this test process*run without --peer-url*",
    ])
    pytester.makepyfile(test_remote=REMOTE_OVERRIDE_TESTS)
    result = pytester.runpytest(*inner_args, f"--peer-url={url}", "--peer-host=10.9.8.7")
    result.assert_outcomes(passed=1)
