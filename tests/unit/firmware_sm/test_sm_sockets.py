"""Golden transcripts: Serial Modem socket commands against real loopback peers.

Source: nrfconnect/ncs-serial-modem v2.0.0-preview1 app/src/sm_at_socket.c (line numbers in
each test), parsed by nRF Connect SDK lib/at_parser.
"""

from __future__ import annotations

import socket
import time

import pytest
from smtools import ERROR, OK, at, connect_to, info, open_tcp

from pytest_slm.peers.ports import unused_port


def _handle(out: bytes) -> int:
    return int(out.split(b": ")[1].split(b",")[0])


# ---------------------------------------------------------------------------- open, read, close


def test_open_read_close(sm) -> None:
    # do_socket_open prints "#XSOCKET: <fd>,<type>,<proto>" (sm_at_socket.c:595); the read form
    # lists <fd>,<family>,<role>,<type>,<cid> (1352); #XCLOSE prints <fd>,<ret> (710).
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XSOCKET=2,2,0") == info("#XSOCKET: 1,2,17") + OK
    assert at(sm, "AT#XSOCKET=1,1,1") == info("#XSOCKET: 2,1,6") + OK
    assert (
        at(sm, "AT#XSOCKET?")
        == info("#XSOCKET: 0,1,0,1,0", "#XSOCKET: 1,2,0,2,0", "#XSOCKET: 2,1,1,1,0") + OK
    )
    assert at(sm, "AT#XCLOSE=1") == info("#XCLOSE: 1,0") + OK
    assert at(sm, "AT#XCLOSE=1") == ERROR  # find_socket fails: -EINVAL (1491)
    assert at(sm, "AT#XCLOSE") == info("#XCLOSE: 0,0", "#XCLOSE: 2,0") + OK
    assert at(sm, "AT#XCLOSE") == OK  # nothing left to close
    assert at(sm, "AT#XSOCKET?") == OK


def test_test_forms(sm) -> None:
    # sm_at_socket.c:1361, 1453, 1563, 1631, 2070, 2154, 2368, 2455.
    assert at(sm, "AT#XSOCKET=?") == info("#XSOCKET: <handle>,(1,2,3),(1,2,3),(0,1),<cid>") + OK
    assert (
        at(sm, "AT#XSSOCKET=?")
        == info("#XSSOCKET: <handle>,(1,2),(1,2),(0,1),<sec_tag>,<peer_verify>,<cid>") + OK
    )
    assert at(sm, "AT#XSOCKETOPT=?") == info("#XSOCKETOPT: <handle>,(0,1),<name>,<value>") + OK
    assert at(sm, "AT#XSSOCKETOPT=?") == info("#XSSOCKETOPT: <handle>,(0,1),<name>,<value>") + OK
    assert at(sm, "AT#XLISTEN=?") == info("#XLISTEN: <handle>") + OK
    assert at(sm, "AT#XACCEPT=?") == info("#XACCEPT: <handle>") + OK
    assert at(sm, "AT#XAPOLL=?") == info("#XAPOLL: <handle>,(0,1),(0,1,4,5)") + OK
    assert at(sm, "AT#XRECVCFG=?") == info("#XRECVCFG: <handle>,(0,1,2,3),(0,1)") + OK


@pytest.mark.parametrize(
    "form",
    [
        "AT#XCLOSE?",
        "AT#XCLOSE=?",
        "AT#XBIND?",
        "AT#XBIND=?",
        "AT#XCONNECT?",
        "AT#XCONNECT=?",
        "AT#XSEND?",
        "AT#XSEND=?",
        "AT#XRECV?",
        "AT#XRECV=?",
        "AT#XSENDTO?",
        "AT#XSENDTO=?",
        "AT#XRECVFROM?",
        "AT#XRECVFROM=?",
        "AT#XSOCKETOPT?",
        "AT#XSSOCKETOPT?",
        "AT#XACCEPT?",
        "AT#XGETADDRINFO?",
        "AT#XGETADDRINFO=?",
    ],
)
def test_unsupported_forms(sm, form: str) -> None:
    # The handlers' switch has no case for these: err stays -EINVAL.
    assert at(sm, form) == ERROR


def test_v20_only_commands_are_gone(sm) -> None:
    for line in ("AT#XSOCKETSELECT=0", "AT#XPOLL=100", "AT#XSOCKET=0"):
        assert at(sm, line) == ERROR


@pytest.mark.parametrize(
    "line",
    [
        "AT#XSOCKET=0,1,0",  # family not supported: -ENOTSUP (552)
        "AT#XSOCKET=1,99,0",  # type not supported (572)
        "AT#XSOCKET=3,1,0",  # raw family needs raw type (558)
        "AT#XSOCKET=1,3,0",  # raw type needs AF_PACKET (558)
        "AT#XSOCKET=1,1,0,11",  # cid > 10 (1336)
        "AT#XSOCKET=1,1,-1",  # role is a uint16_t
        "AT#XSOCKET=1,1",  # role missing
        "AT#XSOCKET=1,,0",  # empty type
        'AT#XSOCKET="1",1,0',  # family not an integer
        "AT#XSSOCKET=1,3,0,16842753",  # TLS over raw: -ENOTSUP (630)
        "AT#XSSOCKET=3,1,0,16842753",  # AF_PACKET: -ENOTSUP (625)
        "AT#XSSOCKET=1,1,0",  # sec_tag missing
        "AT#XSSOCKET=1,1,0,16842753,3",  # peer_verify 3: the modem's setsockopt refuses it
    ],
)
def test_open_errors_leave_no_socket(sm, line: str) -> None:
    assert at(sm, line) == ERROR
    assert at(sm, "AT#XSOCKET?") == OK
    assert at(sm, "AT#XSSOCKET?") == OK


def test_role_is_not_checked(sm) -> None:
    # handle_at_socket stores <role> as parsed (1326): any uint16 is listed back.
    assert at(sm, "AT#XSOCKET=1,2,7") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, "AT#XSOCKET?") == info("#XSOCKET: 0,1,7,2,0") + OK


def test_secondary_cid_is_refused(sm) -> None:
    # bind_to_pdn: the simulated network has no PDN for cid 1.
    assert at(sm, "AT#XSOCKET=1,1,0,1") == ERROR
    assert at(sm, "AT#XSOCKET=1,1,0,0") == info("#XSOCKET: 0,1,6") + OK


def test_eight_sockets_at_most(sm) -> None:
    for fd in range(8):
        assert at(sm, "AT#XSOCKET=1,2,0") == info(f"#XSOCKET: {fd},2,17") + OK
    assert at(sm, "AT#XSOCKET=1,2,0") == ERROR  # find_avail_socket: -EINVAL (1313)
    assert at(sm, "AT#XCLOSE=3") == info("#XCLOSE: 3,0") + OK
    assert at(sm, "AT#XSOCKET=2,1,0") == info("#XSOCKET: 3,1,6") + OK


def test_secure_socket_read_lists_only_secure(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XSSOCKET=1,1,0,16842753") == info("#XSSOCKET: 1,1,258") + OK
    assert at(sm, "AT#XSSOCKET=2,2,0,16842753,0") == info("#XSSOCKET: 2,2,273") + OK
    # sm_at_socket.c:1444: <fd>,<family>,<role>,<type>,<sec_tag>,<cid>
    assert (
        at(sm, "AT#XSSOCKET?")
        == info("#XSSOCKET: 1,1,0,1,16842753,0", "#XSSOCKET: 2,2,0,2,16842753,0") + OK
    )
    assert at(sm, "AT#XSOCKET?") == info("#XSOCKET: 0,1,0,1,0") + OK


def test_offline_modem_cannot_open(sm_offline) -> None:
    assert at(sm_offline, "AT#XSOCKET=1,1,0") == ERROR


def test_close_of_a_free_handle(sm) -> None:
    # find_socket(-1) finds a free slot; closing it is a no-op that answers OK.
    assert at(sm, "AT#XCLOSE=-1") == OK


# ---------------------------------------------------------------------------- TCP


def test_tcp_string_and_hex(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # do_send prints "#XSEND: <fd>,<result_type>,<sent>" (1064); do_recv "#XRECV: <fd>,<mode>,
    # <len>" then the payload, raw or as lowercase hex (1128-1137, data_send_hex 1076). An odd
    # hex string takes its first digit as a whole byte (Zephyr hex2bin).
    assert at(sm, f'AT#XSEND={fd},0,0,"hello"') == info(f"#XSEND: {fd},0,5") + OK
    tcp_echo.wait_received(5)
    assert at(sm, f"AT#XRECV={fd},0,0,5") == info(f"#XRECV: {fd},0,5") + b"hello" + OK
    assert at(sm, f'AT#XSEND={fd},1,0,"00FFab7"') == info(f"#XSEND: {fd},0,4") + OK
    tcp_echo.wait_received(9)
    assert at(sm, f"AT#XRECV={fd},1,0,5") == info(f"#XRECV: {fd},1,4") + b"000ffab7" + OK


@pytest.mark.parametrize(
    "data",
    ['""', '"XY"', '"1"x', "123", "(1,2)"],
    ids=["empty", "not-hex", "garbage", "integer", "array"],
)
def test_send_hex_errors(sm, tcp_echo, data: str) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # hex2bin() returns 0: -EINVAL before anything is sent (1760-1763); an integer is not a
    # string for at_parser_string_ptr_get (-EOPNOTSUPP); an array is, and is not hex.
    assert at(sm, f"AT#XSEND={fd},1,0,{data}") == ERROR


def test_send_flags(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # 512 (MSG_WAITACK) returns once the peer has the data; 64 (MSG_DONTWAIT) never waits.
    assert at(sm, f'AT#XSEND={fd},0,512,"acked"') == info(f"#XSEND: {fd},0,5") + OK
    assert tcp_echo.wait_received(5) == b"acked"
    assert at(sm, f'AT#XSEND={fd},0,64,"now"') == info(f"#XSEND: {fd},0,3") + OK
    assert tcp_echo.wait_received(8) == b"ackednow"


def test_send_string_forms(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XSEND={fd},0,0") == ERROR  # missing string data (1754)
    assert at(sm, f'AT#XSEND={fd},3,0,"x"') == ERROR  # mode 3 (1788)
    assert at(sm, f"AT#XSEND={fd},0,0,123") == ERROR  # an integer is not a string
    # An unquoted string is a string token of lib/at_parser.
    assert at(sm, f"AT#XSEND={fd},0,0,abc def") == info(f"#XSEND: {fd},0,7") + OK
    assert tcp_echo.wait_received(7) == b"abc def"
    assert at(sm, f'AT#XSEND={fd},0,0,""') == info(f"#XSEND: {fd},0,0") + OK


def test_recv_errors_and_timeout(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XRECV={fd},2,0,1") == ERROR  # mode 2 is send-only (1818)
    assert at(sm, f"AT#XRECV={fd},0,0,1,2049") == ERROR  # over sm_data_buf: -ENOBUFS (1843)
    assert at(sm, f"AT#XRECV={fd},0,0,1,-1") == ERROR  # -1 > sizeof(sm_data_buf) as size_t
    assert at(sm, f"AT#XRECV={fd},0,0,1,0") == OK  # nrf_recv() of 0 bytes returns 0
    assert at(sm, f"AT#XRECV={fd},0,0") == ERROR  # timeout missing
    assert at(sm, f"AT#XRECV={fd},0,64,0") == ERROR  # MSG_DONTWAIT, nothing there: -EAGAIN
    assert at(sm, f"AT#XRECV={fd},0,0,1") == ERROR  # SO_RCVTIMEO of 1 s expires
    # The timeout stays as the socket's SO_RCVTIMEO (do_recv sets it, 1112).
    assert at(sm, f"AT#XSOCKETOPT={fd},0,20") == info(f"#XSOCKETOPT: {fd},1") + OK


def test_recv_peek_and_length(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f'AT#XSEND={fd},0,0,"abcdef"') == info(f"#XSEND: {fd},0,6") + OK
    tcp_echo.wait_received(6)
    assert at(sm, f"AT#XRECV={fd},0,2,5,3") == info(f"#XRECV: {fd},0,3") + b"abc" + OK
    assert at(sm, f"AT#XRECV={fd},0,0,5,4") == info(f"#XRECV: {fd},0,4") + b"abcd" + OK
    assert at(sm, f"AT#XRECV={fd},0,0,5") == info(f"#XRECV: {fd},0,2") + b"ef" + OK


def test_recv_after_peer_close_is_plain_ok(sm) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        fd = open_tcp(sm, server.getsockname()[1])
        conn, _ = server.accept()
        conn.close()
    # nrf_recv() returns 0: nothing is printed (1121-1124), the command answers OK.
    assert at(sm, f"AT#XRECV={fd},0,0,5") == OK


def test_send_on_unconnected_tcp_prints_zero(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    # do_send always prints the count, then the error answers ERROR (1064-1069, 1770).
    assert at(sm, 'AT#XSEND=0,0,0,"x"') == info("#XSEND: 0,0,0") + ERROR


def test_connect_errors(sm, tcp_echo) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, 'AT#XCONNECT=0,"127.0.0.1",70000') == ERROR  # port is a uint16_t
    assert at(sm, 'AT#XCONNECT=0,"no.such.host.invalid",80') == ERROR  # -EAGAIN (1008)
    assert at(sm, f"AT#XCONNECT=0,127.0.0.1,{tcp_echo.port}") == ERROR  # unquoted: 2 tokens
    assert at(sm, f'AT#XCONNECT=9,"127.0.0.1",{tcp_echo.port}') == ERROR
    long = "a" * 128
    assert at(sm, f'AT#XCONNECT=0,"{long}",80') == ERROR  # url[128]: -ENOMEM
    assert at(sm, f'AT#XCONNECT=0,"127.0.0.1",{tcp_echo.port}') == info("#XCONNECT: 0,1") + OK


def test_tcp_ipv6(sm, tcp_echo6) -> None:
    fd = open_tcp(sm, tcp_echo6.port, host="::1", family=2)
    assert at(sm, f'AT#XSEND={fd},0,0,"six"') == info(f"#XSEND: {fd},0,3") + OK
    tcp_echo6.wait_received(3)
    assert at(sm, f"AT#XRECV={fd},0,0,5") == info(f"#XRECV: {fd},0,3") + b"six" + OK


# ---------------------------------------------------------------------------- data mode


def test_data_mode_until_terminator(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # enter_datamode returns 0: the command answers OK (1781, sm_at_cb_wrapper 1631); leaving
    # prints "#XDATAMODE: 0" (sm_at_host.c:695). The terminator is matched byte by byte
    # (raw_rx_handler 819-857): "++" followed by other data is data.
    assert at(sm, f"AT#XSEND={fd},2,0") == OK
    sm.feed(b"Hello++World+++")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"
    assert tcp_echo.wait_received(12) == b"Hello++World"
    assert at(sm, f"AT#XRECV={fd},0,0,5,20") == info(f"#XRECV: {fd},0,12") + b"Hello++World" + OK


def test_data_mode_terminator_mid_chunk(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XSEND={fd},2,0") == OK
    # Bytes after the terminator are command-mode input at once.
    sm.feed(b"abc+++AT\r")
    assert sm.read_final() == info("#XDATAMODE: 0") + OK
    assert tcp_echo.wait_received(3) == b"abc"


def test_data_mode_with_length(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # <data_len>: exactly that many bytes, "+++" included as data, then data mode ends by
    # itself (raw_rx_handler 826-833).
    assert at(sm, f"AT#XSEND={fd},2,0,7") == OK
    sm.feed(b"ab+++cd")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"
    assert tcp_echo.wait_received(7) == b"ab+++cd"


def test_negative_data_len_is_a_huge_count(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    # enter_datamode takes a size_t: -1 is a count of 2**32 - 1 bytes, so "+++" is only data.
    assert at(sm, f"AT#XSEND={fd},2,0,-1") == OK
    sm.feed(b"ab+++")
    assert tcp_echo.wait_received(5) == b"ab+++"
    assert sm.fw.datamode_remaining == (1 << 32) - 1 - 5
    sm.assert_silent(0.1)


def test_data_mode_flushes_on_silence(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XSEND={fd},2,0") == OK
    sm.feed(b"first")
    # The inactivity timer sends what is buffered (raw_send_scheduled 781-799).
    assert tcp_echo.wait_received(5) == b"first"
    sm.feed(b"+++")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"


def test_commands_are_data_in_data_mode(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, f"AT#XSEND={fd},2,0") == OK
    sm.feed(b"AT\r")
    assert tcp_echo.wait_received(3) == b"AT\r"
    sm.assert_silent(0.1)
    sm.feed(b"+++")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"


def test_data_mode_send_failure(sm) -> None:
    # A send on an unconnected TCP socket fails: exit_datamode_handler prints the terminator
    # (socket_datamode_callback 1292-1295) and drops input until the host sends "+++", then
    # "#XDATAMODE: -1" (sm_at_host.c:686-695).
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XSEND=0,2,0") == OK
    sm.feed(b"lost")
    assert sm.read_until(b"+++") == b"+++"
    sm.feed(b"AT\rmore")
    sm.assert_silent(0.2, settle=True)
    sm.feed(b"+++")
    assert sm.read_until(b"\r\n#XDATAMODE: -1\r\n") == b"\r\n#XDATAMODE: -1\r\n"
    assert at(sm, "AT") == OK


def test_data_mode_entry_errors(sm, tcp_echo) -> None:
    fd = open_tcp(sm, tcp_echo.port)
    assert at(sm, "AT#XSEND=7,2,0") == ERROR
    assert at(sm, f"AT#XSEND={fd},2,0,x") == ERROR  # <data_len> not an integer
    assert at(sm, "AT") == OK


# ---------------------------------------------------------------------------- UDP


def test_udp_sendto_recvfrom(sm, udp_echo) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    # do_sendto prints "#XSENDTO: <fd>,<result_type>,<sent>" (1200); do_recvfrom prints
    # '#XRECVFROM: <fd>,<mode>,<len>,"<ip>",<port>' (1244).
    line = f'AT#XSENDTO=0,0,0,"127.0.0.1",{udp_echo.port},"ping"'
    assert at(sm, line) == info("#XSENDTO: 0,0,4") + OK
    assert (
        at(sm, "AT#XRECVFROM=0,0,0,5")
        == info(f'#XRECVFROM: 0,0,4,"127.0.0.1",{udp_echo.port}') + b"ping" + OK
    )
    line = f'AT#XSENDTO=0,1,0,"127.0.0.1",{udp_echo.port},"CAFE"'
    assert at(sm, line) == info("#XSENDTO: 0,0,2") + OK
    assert (
        at(sm, "AT#XRECVFROM=0,1,0,5")
        == info(f'#XRECVFROM: 0,1,2,"127.0.0.1",{udp_echo.port}') + b"cafe" + OK
    )


def test_udp_connected_send_recv(sm, udp_echo) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, f'AT#XCONNECT=0,"127.0.0.1",{udp_echo.port}') == info("#XCONNECT: 0,1") + OK
    assert at(sm, 'AT#XSEND=0,0,0,"dgram"') == info("#XSEND: 0,0,5") + OK
    assert at(sm, "AT#XRECV=0,0,0,5") == info("#XRECV: 0,0,5") + b"dgram" + OK


def test_sendto_data_mode(sm, udp_echo) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, f'AT#XSENDTO=0,2,0,"127.0.0.1",{udp_echo.port}') == OK
    sm.feed(b"datagram+++")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"
    assert udp_echo.wait_received(8) == b"datagram"


def test_udp_data_mode_overflow(sm, udp_echo) -> None:
    # A datagram larger than the 4096-byte data-mode buffer: raw_send flags MORE_DATA and the
    # UDP callback gives up with -EOVERFLOW (1269-1275): "+++", input dropped until "+++".
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, f'AT#XSENDTO=0,2,0,"127.0.0.1",{udp_echo.port}') == OK
    sm.feed(b"x" * 4097)
    assert sm.read_until(b"+++") == b"+++"
    sm.feed(b"+++")
    assert sm.read_until(b"\r\n#XDATAMODE: -1\r\n") == b"\r\n#XDATAMODE: -1\r\n"


def test_sendto_errors_keep_the_url(sm, udp_echo) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    # A missing payload returns before udp_url is cleared (1905), so a later #XSEND data mode
    # on the same board sends to that URL (socket_datamode_callback 1277-1280).
    assert at(sm, f'AT#XSENDTO=0,0,0,"127.0.0.1",{udp_echo.port}') == ERROR
    assert at(sm, "AT#XSEND=0,2,0") == OK
    sm.feed(b"stale+++")
    assert sm.read_until(b"#XDATAMODE: 0\r\n") == b"\r\n#XDATAMODE: 0\r\n"
    assert udp_echo.wait_received(5) == b"stale"


def test_sendto_unresolvable(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    # util_resolve_host fails: -EAGAIN before anything is printed (1156-1159).
    assert at(sm, 'AT#XSENDTO=0,0,0,"no.such.host.invalid",9,"x"') == ERROR


# ---------------------------------------------------------------------------- server


def test_bind_listen_accept(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,1,1") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XLISTEN=0") == ERROR  # not bound: -EOPNOTSUPP (2016)
    assert at(sm, "AT#XBIND=0,0") == OK
    assert at(sm, "AT#XLISTEN=0") == ERROR  # local_port 0 still counts as unbound
    port = unused_port()
    assert at(sm, "AT#XSOCKET=1,1,1") == info("#XSOCKET: 1,1,6") + OK
    assert at(sm, f"AT#XBIND=1,{port}") == OK
    assert at(sm, "AT#XLISTEN=1") == OK
    assert at(sm, "AT#XLISTEN?") == info(f"#XLISTEN: 1,0,{port}") + OK
    assert at(sm, "AT#XACCEPT=1") == ERROR  # non-blocking: nobody waits, -EAGAIN
    with connect_to(sm, 1) as client:
        peer_port = client.getsockname()[1]
        out = at(sm, "AT#XACCEPT=1")
        # sm_at_socket.c:2115: '#XACCEPT: <fd>,<cid>,"<ip>",<port>'
        assert out == info(f'#XACCEPT: 2,0,"127.0.0.1",{peer_port}') + OK
        client.sendall(b"from peer")
        assert at(sm, "AT#XRECV=2,0,0,5") == info("#XRECV: 2,0,9") + b"from peer" + OK
        assert at(sm, 'AT#XSEND=2,0,0,"back"') == info("#XSEND: 2,0,4") + OK
        assert client.recv(10) == b"back"
    assert at(sm, "AT#XACCEPT=0") == ERROR  # not listening
    assert (
        at(sm, "AT#XSOCKET?")
        == info("#XSOCKET: 0,1,1,1,0", "#XSOCKET: 1,1,1,1,0", "#XSOCKET: 2,1,0,1,0") + OK
    )


def test_bind_errors(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, "AT#XBIND=0,70000") == ERROR
    assert at(sm, "AT#XBIND=5,1000") == ERROR
    assert at(sm, "AT#XBIND=0") == ERROR


def test_listen_on_udp_or_tls(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,2,1") == info("#XSOCKET: 0,2,17") + OK
    assert at(sm, "AT#XBIND=0,0") == OK
    assert at(sm, "AT#XLISTEN=0") == ERROR
    assert at(sm, "AT#XSSOCKET=1,1,1,16842753") == info("#XSSOCKET: 1,1,258") + OK
    assert at(sm, "AT#XLISTEN=1") == ERROR  # secure sockets cannot listen (2014-2017)


# ---------------------------------------------------------------------------- getaddrinfo


def test_getaddrinfo(sm) -> None:
    assert at(sm, 'AT#XGETADDRINFO="127.0.0.1"') == info('#XGETADDRINFO: "127.0.0.1"') + OK
    assert at(sm, 'AT#XGETADDRINFO="::1",2') == info('#XGETADDRINFO: "::1"') + OK
    assert at(sm, 'AT#XGETADDRINFO="127.0.0.1",1') == info('#XGETADDRINFO: "127.0.0.1"') + OK
    assert at(sm, 'AT#XGETADDRINFO="127.0.0.1",3') == ERROR  # family > AF_INET6 (2193)
    assert at(sm, 'AT#XGETADDRINFO="127.0.0.1",1,1') == ERROR  # 3 parameters (2199)
    assert at(sm, "AT#XGETADDRINFO") == ERROR
    # zsock_gai_strerror() does not know libmodem's NRF_EAI_* codes (2202).
    assert (
        at(sm, 'AT#XGETADDRINFO="no.such.host.invalid"')
        == info('#XGETADDRINFO: "EAI_UNKNOWN"') + ERROR
    )


def test_getaddrinfo_offline(sm_offline) -> None:
    assert (
        at(sm_offline, 'AT#XGETADDRINFO="127.0.0.1"')
        == info('#XGETADDRINFO: "EAI_UNKNOWN"') + ERROR
    )


def test_hex_limits_and_long_hex_receive(sm, udp_echo) -> None:
    assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    # bin_data holds 1400 bytes: 2800 hex digits fit, 2802 do not (hex2bin 1760-1763).
    payload = bytes(range(256)) * 5 + bytes(range(120))
    line = f'AT#XSENDTO=0,1,0,"127.0.0.1",{udp_echo.port},"{payload.hex().upper()}"'
    assert at(sm, line) == info("#XSENDTO: 0,0,1400") + OK
    assert at(sm, line[:-1] + 'AB"') == ERROR
    udp_echo.wait_received(1400)
    assert at(sm, "AT#XRECVFROM=0,0,0,5").endswith(OK)  # the 1400-byte echo, consumed
    # data_send_hex converts 128 bytes at a time; the host sees one run of lowercase digits.
    line = f'AT#XSENDTO=0,1,0,"127.0.0.1",{udp_echo.port},"{payload[:1000].hex()}"'
    assert at(sm, line) == info("#XSENDTO: 0,0,1000") + OK
    origin = f'"127.0.0.1",{udp_echo.port}'
    expected = info(f"#XRECVFROM: 0,1,1000,{origin}") + payload[:1000].hex().encode() + OK
    assert at(sm, "AT#XRECVFROM=0,1,0,5") == expected


# MSG_PEEK (2) | MSG_DONTWAIT (64): the peeks below never wait, so they show what is visible.
PEEK_NOW = 66
RTT = 0.6


def test_a_peek_waits_for_the_round_trip_like_any_receive(sm, tcp_echo, udp_echo) -> None:
    """With --latency an echo is not there before its round trip. Peeks took a path of their
    own to the host socket and saw it at once."""
    from firmware_ref.net import latency

    with latency.emulate(RTT):
        fd = open_tcp(sm, tcp_echo.port)
        sent = time.monotonic()
        assert at(sm, f'AT#XSEND={fd},0,0,"ping"') == info(f"#XSEND: {fd},0,4") + OK
        assert tcp_echo.wait_received(4) == b"ping"  # echoed at once on loopback
        assert at(sm, f"AT#XRECV={fd},0,{PEEK_NOW},0") == ERROR  # -EAGAIN: still on its way
        assert at(sm, f"AT#XRECV={fd},0,2,5") == info(f"#XRECV: {fd},0,4") + b"ping" + OK
        assert time.monotonic() - sent >= RTT

        assert at(sm, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 1,2,17") + OK
        sent = time.monotonic()
        line = f'AT#XSENDTO=1,0,0,"127.0.0.1",{udp_echo.port},"dgram"'
        assert at(sm, line) == info("#XSENDTO: 1,0,5") + OK
        assert udp_echo.wait_received(5) == b"dgram"
        assert at(sm, f"AT#XRECVFROM=1,0,{PEEK_NOW},0") == ERROR
        assert (
            at(sm, "AT#XRECVFROM=1,0,2,5")
            == info(f'#XRECVFROM: 1,0,5,"127.0.0.1",{udp_echo.port}') + b"dgram" + OK
        )
        assert time.monotonic() - sent >= RTT
