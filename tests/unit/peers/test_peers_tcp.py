import socket
import threading

import pytest

from pytest_slm.peers import ConnectBack, PeerTimeout, TcpEcho, TcpSink, TcpSource


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, f"closed after {len(buf)} of {n} bytes"
        buf += chunk
    return bytes(buf)


def connect(peer, timeout=10.0) -> socket.socket:
    s = socket.socket(peer.family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(peer.address)
    return s


def test_tcp_echo_all_byte_values(family):
    payload = bytes(range(256))
    with TcpEcho(family=family) as echo, connect(echo) as s:
        s.sendall(payload)
        assert recv_exactly(s, 256) == payload
        s.close()
        echo.wait_closed(1)
        assert echo.connections == 1
        assert echo.bytes_received == echo.bytes_sent == 256
        assert echo.errors == []


def test_tcp_echo_64k_both_directions_at_once():
    payload = bytes(i * 7 % 256 for i in range(65536))
    with TcpEcho() as echo, connect(echo) as s:
        # Send from another thread: 64 KiB exceeds the socket buffers, so a single thread
        # sending everything before reading could deadlock with the echo.
        sender = threading.Thread(target=s.sendall, args=(payload,))
        sender.start()
        got = recv_exactly(s, len(payload))
        sender.join(10)
        assert got == payload
        assert echo.wait_for(nbytes=65536) is True
        assert echo.bytes_sent == 65536


def test_tcp_echo_concurrent_clients_and_counters():
    with TcpEcho() as echo:
        clients = [connect(echo) for _ in range(5)]
        for i, c in enumerate(clients):
            c.sendall(b"client %d" % i)
        for i, c in enumerate(clients):
            assert recv_exactly(c, len(b"client %d" % i)) == b"client %d" % i
        echo.wait_connections(5)
        for c in clients:
            c.close()
        echo.wait_closed(5)
        assert {p[0] for p in echo.peers} == {"127.0.0.1"}


def test_tcp_echo_survives_a_peer_that_resets():
    with TcpEcho() as echo:
        s = connect(echo)
        s.sendall(b"x")
        assert recv_exactly(s, 1) == b"x"
        # RST instead of FIN: the peer vanished.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        echo.wait_closed(1)
        with connect(echo) as s2:
            s2.sendall(b"still here")
            assert recv_exactly(s2, 10) == b"still here"
        assert echo.errors == []


def test_stop_with_open_connections_joins_threads():
    echo = TcpEcho().start()
    s = connect(echo)
    s.sendall(b"a")
    assert recv_exactly(s, 1) == b"a"
    echo.stop()
    echo.stop()  # idempotent
    assert not echo.running
    assert s.recv(10) == b""
    s.close()


def test_reset_forgets_counters():
    with TcpEcho() as echo, connect(echo) as s:
        s.sendall(b"abc")
        recv_exactly(s, 3)
        echo.reset()
        assert (echo.connections, echo.bytes_received, echo.bytes_sent) == (0, 0, 0)


def test_tcp_sink_records_exact_bytes_per_connection(family):
    with TcpSink(family=family) as sink:
        with connect(sink) as a:
            a.sendall(b"first\x00\xff")
            assert sink.wait_for(nbytes=7) == b"first\x00\xff"
            with connect(sink) as b:
                b.sendall(b"second")
                sink.wait_for(predicate=lambda k: len(k.records) == 2 and k.records[1].data)
                local_b = b.getsockname()[:2]
            local_a = a.getsockname()[:2]
        closed = sink.wait_closed(2)
        assert [bytes(r.data) for r in closed] == [b"first\x00\xff", b"second"]
        assert [r.peer for r in sink.records] == [local_a, local_b]
        assert sink.data == b"first\x00\xffsecond"
        assert sink.bytes_sent == 0


def test_sink_wait_for_times_out_with_what_arrived():
    with TcpSink() as sink, connect(sink) as s:
        s.sendall(b"abc")
        sink.wait_for(nbytes=3)
        with pytest.raises(PeerTimeout, match="4 bytes"):
            sink.wait_for(nbytes=4, timeout=0.2)
    with pytest.raises(TypeError):
        sink.wait_for()


def test_tcp_source_sends_payload_then_closes():
    payload = bytes(range(256)) * 4
    with TcpSource(payload) as src, connect(src) as s:
        buf = b""
        while chunk := s.recv(4096):
            buf += chunk
        assert buf == payload
        s.sendall(b"late reply")
        src.wait_for(nbytes=10)
        s.close()
        src.wait_closed(1)
        assert src.data == b"late reply"
        assert src.bytes_sent == len(payload)


def test_tcp_source_keeps_open_and_sends_on_demand():
    with TcpSource(b"hello", close=False) as src, connect(src) as s:
        assert recv_exactly(s, 5) == b"hello"
        src.send(b" more")
        assert recv_exactly(s, 5) == b" more"
        s.shutdown(socket.SHUT_WR)
        assert s.recv(10) == b""  # the source closes once the client has


def test_connect_back_to_a_listening_socket(family):
    host = "::1" if family == 6 else "127.0.0.1"
    with socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET) as server:
        server.bind((host, 0))
        server.listen(1)
        with ConnectBack(host, server.getsockname()[1]) as client:
            conn, addr = server.accept()
            with conn:
                assert addr[:2] == client.local_address
                client.send(b"ping")
                assert recv_exactly(conn, 4) == b"ping"
                conn.sendall(b"0123456789")
                assert client.recv_exactly(4) == b"0123"
                assert client.recv_exactly(6, timeout=5) == b"456789"
                with pytest.raises(PeerTimeout, match="wanted 1 bytes, got 0"):
                    client.recv_exactly(1, timeout=0.2)
                conn.sendall(b"bye")
            assert client.recv_until_closed() == b"bye"
        assert client.sock is None


def test_connect_back_reports_early_close():
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = ConnectBack("127.0.0.1", server.getsockname()[1]).connect()
        conn, _ = server.accept()
        conn.sendall(b"ab")
        conn.close()
        with pytest.raises(EOFError, match="closed after 2 of 5 bytes"):
            client.recv_exactly(5)
        client.close()


def test_connect_back_refused():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        ConnectBack("127.0.0.1", port).connect()
