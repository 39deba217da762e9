"""Golden transcripts: Serial Modem TLS, DTLS and the socket options commands.

Source: sm_at_socket.c do_secure_socket_open 614-691, #XSOCKETOPT 1517-1573 (sockopt_set/get
775-832), #XSSOCKETOPT 1575-1641 (sec_sockopt_set/get 869-934); option numbers sm_sockopt.h.
"""

from __future__ import annotations

import pytest
from smtools import ERROR, OK, at, info
from socket_peers import SEC_TAG, WRONG_CA_TAG, TcpEcho


def test_tls_echo(sm, pki) -> None:
    ctx = pki.server_tls()
    # One suite the server accepts, so the suite in use is known: the peer's key is ECDSA.
    ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert pki.server.private_key_pem.bytes().startswith(b"-----BEGIN EC PRIVATE KEY")
    peer = TcpEcho(tls=ctx)
    try:
        assert at(sm, f"AT#XSSOCKET=1,1,0,{SEC_TAG}") == info("#XSSOCKET: 0,1,258") + OK
        out = at(sm, f'AT#XCONNECT=0,"127.0.0.1",{peer.port}')
        assert out == info("#XCONNECT: 0,1") + OK
        assert at(sm, 'AT#XSEND=0,0,0,"secret"') == info("#XSEND: 0,0,6") + OK
        assert at(sm, "AT#XRECV=0,0,0,5") == info("#XRECV: 0,0,6") + b"secret" + OK
        # The suite in use as 0x<hex> (sec_sockopt_get 912): TLS_ECDHE_ECDSA_WITH_AES_128_GCM_
        # SHA256 is 0xC02B.
        assert at(sm, "AT#XSSOCKETOPT=0,0,4") == info("#XSSOCKETOPT: 0,0xc02b") + OK
    finally:
        peer.stop()


def test_tls_wrong_ca_fails_handshake(sm, tls_echo) -> None:
    assert at(sm, f"AT#XSSOCKET=1,1,0,{WRONG_CA_TAG}") == info("#XSSOCKET: 0,1,258") + OK
    assert at(sm, f'AT#XCONNECT=0,"127.0.0.1",{tls_echo.port}') == ERROR
    # Without verification the same tag connects.
    assert at(sm, f"AT#XSSOCKET=1,1,0,{WRONG_CA_TAG},0") == info("#XSSOCKET: 1,1,258") + OK
    out = at(sm, f'AT#XCONNECT=1,"127.0.0.1",{tls_echo.port}')
    assert out == info("#XCONNECT: 1,1") + OK


def test_tls_hostname(sm, tls_echo) -> None:
    assert at(sm, f"AT#XSSOCKET=1,1,0,{SEC_TAG}") == info("#XSSOCKET: 0,1,258") + OK
    assert at(sm, 'AT#XSSOCKETOPT=0,1,2,"wrong.example"') == OK
    assert at(sm, "AT#XSSOCKETOPT=0,0,2") == info("#XSSOCKETOPT: 0,wrong.example") + OK
    assert at(sm, f'AT#XCONNECT=0,"127.0.0.1",{tls_echo.port}') == ERROR
    assert at(sm, f"AT#XSSOCKET=1,1,0,{SEC_TAG}") == info("#XSSOCKET: 1,1,258") + OK
    assert at(sm, 'AT#XSSOCKETOPT=1,1,2,"localhost"') == OK
    out = at(sm, f'AT#XCONNECT=1,"127.0.0.1",{tls_echo.port}')
    assert out == info("#XCONNECT: 1,1") + OK


def test_dtls_echo(sm, dtls_echo) -> None:
    assert at(sm, f"AT#XSSOCKET=1,2,0,{SEC_TAG}") == info("#XSSOCKET: 0,2,273") + OK
    out = at(sm, f'AT#XCONNECT=0,"127.0.0.1",{dtls_echo.port}')
    assert out == info("#XCONNECT: 0,1") + OK
    assert at(sm, 'AT#XSEND=0,0,0,"datagram"') == info("#XSEND: 0,0,8") + OK
    assert at(sm, "AT#XRECV=0,0,0,5") == info("#XRECV: 0,0,8") + b"datagram" + OK


def test_ssocketopt(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, "AT#XSSOCKETOPT=0,0,5") == ERROR  # not a secure socket (1595)
    assert at(sm, f"AT#XSSOCKET=1,1,0,{SEC_TAG}") == info("#XSSOCKET: 1,1,258") + OK
    assert at(sm, "AT#XSSOCKETOPT=1,0,5") == info("#XSSOCKETOPT: 1,2") + OK
    assert at(sm, "AT#XSSOCKETOPT=1,1,5,1") == OK
    assert at(sm, "AT#XSSOCKETOPT=1,0,5") == info("#XSSOCKETOPT: 1,1") + OK
    assert at(sm, "AT#XSSOCKETOPT=1,1,5,3") == ERROR
    assert at(sm, "AT#XSSOCKETOPT=1,1,12,1") == OK
    assert at(sm, "AT#XSSOCKETOPT=1,0,12") == info("#XSSOCKETOPT: 1,1") + OK
    assert at(sm, "AT#XSSOCKETOPT=1,1,13,0") == OK  # session cache purge
    assert at(sm, 'AT#XSSOCKETOPT=1,1,2,"NULL"') == OK  # "NULL" clears the hostname
    assert at(sm, "AT#XSSOCKETOPT=1,0,2") == info("#XSSOCKETOPT: 1,") + OK
    assert at(sm, "AT#XSSOCKETOPT=1,1,99,1") == ERROR  # unsupported option: -ENOTSUP
    assert at(sm, "AT#XSSOCKETOPT=1,2,5") == ERROR  # op 2 (1628)
    assert at(sm, "AT#XSSOCKETOPT=1,1,5") == ERROR  # no value
    assert at(sm, "AT#XSSOCKETOPT=1,1,5,70000000000") == ERROR  # out of int range: -EINVAL
    assert at(sm, 'AT#XSSOCKETOPT=1,1,12,"1"') == ERROR  # a string for an int option
    assert at(sm, "AT#XSSOCKETOPT=1,0,4") == ERROR  # no session yet


@pytest.mark.parametrize(
    ("name", "value", "readback"),
    [
        (20, 5, 5),  # AT_SO_RCVTIMEO
        (21, 60, 60),  # AT_SO_SNDTIMEO
        (30, 1, 1),  # AT_SO_SILENCE_ALL
        (31, 0, 0),  # AT_SO_IP_ECHO_REPLY
        (32, 0, 0),  # AT_SO_IPV6_ECHO_REPLY
        (55, 135, 135),  # AT_SO_TCP_SRV_SESSTIMEO
        (62, 1, 1),  # AT_SO_IPV6_DELAYED_ADDR_REFRESH
    ],
)
def test_socketopt_set_get(sm, name: int, value: int, readback: int) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(sm, f"AT#XSOCKETOPT=0,1,{name},{value}") == OK
    # sockopt_get prints "#XSOCKETOPT: <fd>,<value>" (813, 819).
    assert at(sm, f"AT#XSOCKETOPT=0,0,{name}") == info(f"#XSOCKETOPT: 0,{readback}") + OK


def test_socketopt_defaults_and_errors(sm) -> None:
    assert at(sm, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    # SO_SNDTIMEO is set to SOCKET_SEND_TMO_SEC (30) at open (582-587).
    assert at(sm, "AT#XSOCKETOPT=0,0,21") == info("#XSOCKETOPT: 0,30") + OK
    assert at(sm, "AT#XSOCKETOPT=0,0,20") == info("#XSOCKETOPT: 0,0") + OK
    assert at(sm, "AT#XSOCKETOPT=0,0,31") == info("#XSOCKETOPT: 0,1") + OK
    # Set-only options (the modem's getsockopt refuses them): REUSEADDR, BINDTOPDN, RAI.
    for name, value in ((2, 1), (40, 0), (61, 1)):
        assert at(sm, f"AT#XSOCKETOPT=0,1,{name},{value}") == OK
        assert at(sm, f"AT#XSOCKETOPT=0,0,{name}") == ERROR
    assert at(sm, "AT#XSOCKETOPT=0,1,61,6") == ERROR  # RAI is 1..5
    assert at(sm, "AT#XSOCKETOPT=0,1,4,1") == ERROR  # not in at_sockopt: -ENOTSUP (763)
    assert at(sm, "AT#XSOCKETOPT=0,0,4") == ERROR
    assert at(sm, "AT#XSOCKETOPT=0,1,30,2") == ERROR  # the modem takes 0 or 1
    assert at(sm, "AT#XSOCKETOPT=0,1,55,136") == ERROR
    assert at(sm, "AT#XSOCKETOPT=0,2,20") == ERROR  # op 2 (1558)
    assert at(sm, "AT#XSOCKETOPT=9,0,20") == ERROR  # no such handle
    assert at(sm, "AT#XSOCKETOPT=0,1,30") == OK  # no value: 0 (1542-1547)
    assert at(sm, "AT#XSOCKETOPT=0,0,30") == info("#XSOCKETOPT: 0,0") + OK
