import socket

from pytest_slm.peers import PeerConfig
from pytest_slm.peers.manifest import remote_peers

V4, V6 = socket.AF_INET, socket.AF_INET6


def test_defaults_are_loopback():
    cfg = PeerConfig()
    assert (cfg.board_host(V4), cfg.board_host(V6)) == ("127.0.0.1", "::1")
    assert (cfg.bind_host(V4), cfg.bind_host(V6)) == ("127.0.0.1", "::1")
    assert not cfg.remote


def test_peer_host_widens_the_listening_address_only_as_far_as_needed():
    """`--peer-host 127.0.0.1` used to make the peers listen on 0.0.0.0."""
    loop = PeerConfig(peer_hosts=["127.0.0.1"])
    assert (loop.bind_host(V4), loop.bind_host(V6)) == ("127.0.0.1", "::1")
    # 192.0.2.7 (TEST-NET-1) is no address of this host: a NAT forwards it, so listen on all.
    nat = PeerConfig(peer_hosts=["192.0.2.7"])
    assert nat.bind_host(V4) == "0.0.0.0"


def test_peer_host_per_family_and_bind_all():
    cfg = PeerConfig(peer_hosts=["10.9.8.7", "[2001:db8::7]"])
    assert (cfg.board_host(V4), cfg.board_host(V6)) == ("10.9.8.7", "2001:db8::7")
    assert (cfg.bind_host(V4), cfg.bind_host(V6)) == ("0.0.0.0", "::")
    only4 = PeerConfig(peer_hosts=["10.9.8.7"])
    assert only4.board_host(V6) is None
    assert "--peer-host" in only4.missing_board_host_reason(V6)
    named = PeerConfig(peer_hosts=["lab.example"], bind_hosts=["192.0.2.1"])
    assert named.board_host(V4) == named.board_host(V6) == "lab.example"
    assert (named.bind_host(V4), named.bind_host(V6)) == ("192.0.2.1", "::")


def test_remote_board_host_resolution():
    manifest = {"services": [
        {"service": "tcp_echo", "family": "ipv4", "host": "0.0.0.0", "port": 1},
        {"service": "tcp_echo", "family": "ipv6", "host": "::", "port": 2},
        {"service": "udp_echo", "family": "ipv4", "host": "0.0.0.0", "port": 3,
         "board_host": "198.51.100.1"},
        {"service": "udp_echo", "family": "ipv6", "host": "2001:db8::1", "port": 4},
    ]}
    peers = remote_peers(manifest, "203.0.113.9", [])
    assert peers[("tcp_echo", V4)].board_host == "203.0.113.9"  # the tcp:// URL's host
    assert ("tcp_echo", V6) not in peers  # nothing tells the board an IPv6 address
    assert peers[("udp_echo", V4)].board_host == "198.51.100.1"  # --advertise
    assert peers[("udp_echo", V6)].board_host == "2001:db8::1"  # a specific bind address
    assert peers[("udp_echo", V6)].address == ("2001:db8::1", 4)
    forced = remote_peers(manifest, None, ["10.9.8.7"])
    assert forced[("udp_echo", V4)].board_host == "10.9.8.7"  # --peer-host wins
