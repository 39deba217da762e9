"""Golden transcripts from the line-by-line audit of the v2.0 model against SLM v2.0.0's C code.

Each test names the file and lines of ``applications/serial_lte_modem/src`` (or
``lib/at_cmd_parser``, NCS v2.0.0) its bytes rest on.
"""

from __future__ import annotations

import re
import threading

from socket_peers import SEC_TAG

from firmware_ref.core.modem import CRED_STORE_CAPACITY, MAX_CRED_SIZE
from firmware_ref.dialects.v20.general import device_uuid
from firmware_ref.testing import ERROR, OK, FirmwareHarness, at, info, temporary_command

VERSION = info('#XSLMVER: "2.0.0"') + OK


# ---------------------------------------------------------------------- UART events and at_buf


def test_bytes_after_the_last_command_of_an_event_continue_on_top_of_the_modem_answer():
    """slm_at_host.c 900-905: "AT" after the CRLF is stored over at_buf[0..1] (the same
    characters), AT+CGMR runs and the modem writes its answer into at_buf (785); at_cmd_len is
    still 2, so "+CGSN" continues "mf" of "mfw_nrf9160_1.3.2": cmd_send sees "mf+CGSN"."""
    with FirmwareHarness() as h:
        h.feed(b"AT+CGMR\r\nAT")
        h.wait_output(info("mfw_nrf9160_1.3.2") + OK)
        h.settle()
        h.feed(b"+CGSN\r\n")
        h.wait_output(ERROR)
        assert at(h, "AT+CGSN") == info("352656100123457") + OK


def test_a_nul_ends_the_line_for_the_grammar_check_and_the_parser():
    """cmd_grammar_check (slm_at_host.c 612-686) and slm_at_parse get at_buf as a C string:
    "AT\\0junk" is "AT", which the modem answers OK."""
    with FirmwareHarness() as h:
        h.feed(b"AT\x00junk\r\n")
        h.wait_output(OK)
        h.feed(b"AT#XSLMVER\x00=9\r\n")
        h.wait_output(VERSION)


def test_an_empty_line_is_an_error():
    """An empty line is a line of length 0: cmd_grammar_check's length < 2 (617) -> ERROR."""
    with FirmwareHarness() as h:
        h.feed(b"\r\n")
        h.wait_output(ERROR)


def test_an_event_ends_at_the_dma_buffer_boundary():
    """UART_RX_LEN = 256 (slm_at_host.c 38): 254 bytes and CRLF fill the first DMA buffer, so
    that line is one event and runs (ERROR: not a command); "AT" is the next event. Ten bytes
    instead keep both lines in one event and only the second runs (900-905)."""
    with FirmwareHarness() as h:
        h.feed(b"X" * 254 + b"\r\nAT\r\n")
        h.wait_output(ERROR + OK)
        h.feed(b"X" * 10 + b"\r\nAT\r\n")
        h.wait_output(OK)
        h.assert_silent(0.2, settle=True)


def test_an_overflow_drops_the_rest_of_its_event():
    """cmd_rx_handler returns -1 on overflow (873-875) and the UART callback returns (902-903):
    the rest of that event is never stored. "ZZ" left after a command puts at_cmd_len two ahead
    of the DMA position; the overflow then falls on the "A" of "AT\\r\\n", "T" and CR (same
    256-byte buffer) are dropped, and the LF (next buffer) starts the next line: "\\nAT"."""
    with FirmwareHarness() as h:
        h.feed(b"AT\r\nZZ")  # cmd_send sees "ZZ": ERROR; "ZZ" stays on the line
        h.wait_output(ERROR)
        h.settle()
        h.feed(b"X" * 4093 + b"AT\r\n")
        h.wait_output(ERROR)
        h.assert_silent(0.2, settle=True)
        assert h.fw.line_pending
        h.feed(b"AT\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT\r\n")
        h.wait_output(OK)


def test_a_partial_line_outlives_data_mode_on_top_of_the_ring_buffer():
    """data_rb lives in at_buf (ring_buf_init, slm_at_host.c 177), raw_send blanks the "+++"
    (497) and exit_datamode leaves at_cmd_len alone (199-224): "AT" stored after the command
    continues as "he" + "AT" once "hello+++" went through data mode."""
    sent: list[bytes] = []

    def enter(fw, cmd_type, params):
        fw.enter_data_mode(lambda chunk: sent.append(chunk) or True)

    with temporary_command("AT#XQDATA", 900, enter), FirmwareHarness() as h:
        h.feed(b"AT#XQDATA\r\nAT")
        h.assert_silent(0.1, settle=True)
        assert h.fw.in_data_mode
        h.feed(b"hello+++")
        h.wait_output(OK)
        assert sent == [b"hello"]
        h.settle()
        h.feed(b"AT\r\n")
        h.wait_output(ERROR)
        h.feed(b"AT\r\n")
        h.wait_output(OK)


# ---------------------------------------------------------------------- at_cmd_parser


def test_colon_separates_parameters(harness):
    """at_utils.h is_separator: ',' (AT_PARAM_SEPARATOR), ':' (AT_RSP_SEPARATOR) and '='."""
    assert at(harness, "AT#XSOCKET=1:1:0") == info("#XSOCKET: 0,1,6") + OK
    assert at(harness, "AT#XSOCKETSELECT:0") == ERROR  # ':' is no '=': grammar check fails
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,1,0") + OK


# ---------------------------------------------------------------------- modem passthrough


def test_a_modem_answer_that_does_not_fit_at_buf_is_error():
    """nrf_modem_at_cmd(at_buf, sizeof(at_buf), ...) (slm_at_host.c 785): reading back a
    4077-byte certificate makes an answer longer than the 4096-byte buffer -> ERROR (787)."""
    cert = b"C" * MAX_CRED_SIZE
    with FirmwareHarness() as h:
        assert at(h, b'AT%CMNG=0,1,0,"' + cert + b'"') == OK
        assert at(h, "AT%CMNG=2,1,0") == ERROR
        small = b"c" * 100
        assert at(h, b'AT%CMNG=0,2,0,"' + small + b'"') == OK
        out = at(h, "AT%CMNG=2,2,0")
        assert re.fullmatch(rb'\r\n%CMNG: 2,0,"[0-9A-F]{64}","c{100}"\r\n\r\nOK\r\n', out)


def test_credential_store_fills_up_with_memory_full():
    """+CME ERROR: 515 "Memory full. Applies to write" (nRF91 AT Commands, %CMNG); the model's
    capacity is CRED_STORE_CAPACITY (firmware_ref/README.md says why)."""
    content = b"k" * MAX_CRED_SIZE
    count = CRED_STORE_CAPACITY // MAX_CRED_SIZE
    with FirmwareHarness() as h:
        assert at(h, "AT+CMEE=1") == OK
        for tag in range(count):
            assert at(h, b"AT%CMNG=0," + str(tag).encode() + b',0,"' + content + b'"') == OK
        assert at(h, b'AT%CMNG=0,999,0,"x"') == b"\r\n+CME ERROR: 515\r\n"
        # Replacing a stored credential by one of the same size still fits.
        assert at(h, b'AT%CMNG=0,0,0,"' + content + b'"') == OK
        assert at(h, "AT%CMNG=3,0,0") == OK
        assert at(h, b'AT%CMNG=0,999,0,"x"') == OK
        assert at(h, "AT+CMEE=0") == OK
        assert at(h, b'AT%CMNG=0,1000,0,"' + content + b'"') == ERROR


# ---------------------------------------------------------------------- secure sockets


def test_string_value_for_an_unsupported_tls_option_is_a_silent_error(harness):
    """do_secure_socketopt_set_str knows TLS_HOSTNAME only (slm_at_socket.c 411-436): a string
    for TLS_CIPHERSUITE_LIST is -ENOTSUP without the "not supported" line the integer form
    prints (453-459)."""
    assert at(harness, f"AT#XSSOCKET=1,1,0,{SEC_TAG}") == info("#XSSOCKET: 0,1,258") + OK
    assert at(harness, 'AT#XSSOCKETOPT=1,3,"TLS-ECDHE"') == ERROR
    assert at(harness, "AT#XSSOCKETOPT=1,3,1") == info('#XSSOCKETOPT: "not supported"') + ERROR
    assert at(harness, 'AT#XSSOCKETOPT=1,7,"h2"') == ERROR
    assert at(harness, 'AT#XSSOCKETOPT=1,5,"2"') == ERROR


def test_failed_peer_verify_leaves_no_active_socket(harness):
    """do_secure_socket_open's error_exit (slm_at_socket.c 209-218) closes the new socket and
    runs INIT_SOCKET on the active record: the plain socket opened before is no longer active
    and #XSSOCKETOPT is refused before parsing (1268-1271)."""
    assert at(harness, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(harness, f"AT#XSSOCKET=1,1,0,{SEC_TAG},3") == ERROR
    assert at(harness, "AT#XSOCKET?") == OK
    assert at(harness, "AT#XSSOCKET?") == OK
    assert at(harness, "AT#XSSOCKETOPT=1,5,1") == ERROR
    assert at(harness, "AT#XSOCKETSELECT=0") == info("#XSOCKETSELECT: 0,1,0") + OK
    # The failed open took neither a handle nor a ranking.
    assert at(harness, f"AT#XSSOCKET=1,1,0,{SEC_TAG}") == info("#XSSOCKET: 1,1,258") + OK
    assert at(harness, "AT#XSOCKETSELECT?") == (
        info("#XSOCKETSELECT: 0,1,0,1,-1,1")
        + info(f"#XSOCKETSELECT: 1,1,0,1,{SEC_TAG},2")
        + info("#XSOCKETSELECT: 1")
        + OK
    )


# ---------------------------------------------------------------------- #XSENDTO's udp_url


def test_a_url_of_exactly_128_characters_is_kept_although_sendto_fails(harness, udp_echo):
    """at_params_string_get copies a string as long as the buffer (at_params.c 369-374) before
    util_string_get refuses it (slm_util.c 142-151): #XSENDTO fails, but udp_url holds the
    name, so #XSEND's data mode sends there (slm_at_socket.c 963-964) and the data is lost.
    One character more is refused before the copy and the data goes to the connected peer."""
    assert at(harness, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    assert at(harness, f'AT#XCONNECT="127.0.0.1",{udp_echo.port}') == info("#XCONNECT: 1") + OK

    assert at(harness, f'AT#XSENDTO="{"h" * 129}",{udp_echo.port},"x"') == ERROR
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1, settle=True)
    harness.feed(b"first+++")
    harness.wait_output(OK)
    assert udp_echo.wait_received(5) == b"first"

    assert at(harness, f'AT#XSENDTO="{"h" * 128}",{udp_echo.port},"x"') == ERROR
    harness.feed(b"AT#XSEND\r\n")
    harness.assert_silent(0.1, settle=True)
    harness.feed(b"second+++")
    harness.wait_output(OK)  # the send failed: data mode ends with OK (datamode_quit)
    harness.assert_silent(0.2)
    assert at(harness, "AT#XRECV=1") == info("#XRECV: 5") + b"first" + OK


# ---------------------------------------------------------------------- slm_at_commands.c


def test_clac_lists_the_table_in_order():
    """handle_at_clac (slm_at_commands.c 546-561) prints "<name>\\r\\n" per entry of
    slm_at_cmd_list (441-544) for the nRF9160 DK build, then OK."""
    names = (
        "SLMVER SLEEP RESET UUID CLAC SLMUART DATACTRL TCPSVR TCPCLI TCPSEND TCPHANGUP UDPSVR "
        "UDPCLI UDPSEND SOCKET SSOCKET SOCKETSELECT SOCKETOPT SSOCKETOPT BIND CONNECT LISTEN "
        "ACCEPT SEND RECV SENDTO RECVFROM POLL GETADDRINFO PING SMS FOTA GPS NRFCLOUD FTP "
        "MQTTCON MQTTPUB MQTTSUB MQTTUNSUB HTTPCCON HTTPCREQ GPIOCFG GPIO"
    ).split()
    with FirmwareHarness() as h:
        assert at(h, "AT#XCLAC") == b"".join(b"AT#X%s\r\n" % n.encode() for n in names) + OK
        assert at(h, "AT#XCLAC?") == ERROR
        assert at(h, "AT#XCLAC=?") == ERROR


def test_services_the_simulator_does_not_model_answer_error():
    with FirmwareHarness() as h:
        for line in ('AT#XPING="a",45,5000', "AT#XGPS?", "AT#XTCPCLI=?", "AT#XFOTA?"):
            assert at(h, line) == ERROR


def test_uuid():
    """handle_at_uuid (slm_at_commands.c 198-217): "#XUUID: <uuid>", set form only."""
    with FirmwareHarness() as h:
        uid = device_uuid(h.fw.modem.imei)
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", uid)
        assert at(h, "AT#XUUID") == info(f"#XUUID: {uid}") + OK
        assert at(h, "AT#XUUID?") == ERROR
        assert at(h, "AT#XUUID=?") == ERROR


def test_slmuart():
    """handle_at_slmuart (slm_at_commands.c 239-307) without CONFIG_SLM_UART_HWFC_RUNTIME:
    an unreadable rate is skipped (249), flow control becomes 0 (281-283), a rate off the
    list is -EINVAL (266-268); the minimum data-mode time follows the new rate (332-333)."""
    with FirmwareHarness() as h:
        rates = "1200,2400,4800,9600,14400,19200,38400,57600,115200,230400,460800,921600,1000000"
        assert at(h, "AT#XSLMUART=?") == info(f"#XSLMUART: ({rates})") + OK
        assert at(h, "AT#XSLMUART?") == info("#XSLMUART: 115200,1") + OK
        assert at(h, "AT#XSLMUART=1234") == ERROR
        assert at(h, "AT#XSLMUART?") == info("#XSLMUART: 115200,1") + OK
        assert at(h, "AT#XSLMUART") == OK
        assert at(h, "AT#XSLMUART?") == info("#XSLMUART: 115200,0") + OK
        assert at(h, "AT#XSLMUART=9600,1") == OK
        assert at(h, "AT#XSLMUART?") == info("#XSLMUART: 9600,0") + OK
        assert at(h, "AT#XDATACTRL?") == info("#XDATACTRL: 0,276") + OK
        # Saved in flash: a reset keeps it.
        h.feed(b"AT#XRESET\r\n")
        h.wait_output(OK + b"Ready\r\n")
        assert at(h, "AT#XSLMUART?") == info("#XSLMUART: 9600,0") + OK


def test_sleep_forms_and_idle():
    """handle_at_sleep (slm_at_commands.c 148-170): TEST "(1,2)", READ -EINVAL, other modes
    -EINVAL; mode 2 answers OK and powers the UART off 100 ms later (158, go_sleep_wk 126-141);
    the wake-up pin brings it back with "Ready" (poweron_uart, slm_at_host.c 257-279)."""
    with FirmwareHarness() as h:
        assert at(h, "AT#XSLEEP=?") == info("#XSLEEP: (1,2)") + OK
        assert at(h, "AT#XSLEEP?") == ERROR
        assert at(h, "AT#XSLEEP=3") == ERROR
        assert at(h, "AT#XSLEEP") == ERROR
        assert at(h, "AT#XSLEEP=2") == OK
        assert h.fw.wait_asleep(10)
        assert h.fw.asleep == "idle"
        h.feed(b"AT\r\n")  # the UART is off: lost
        h.assert_silent(0.2, settle=True)
        h.fw.wake()
        h.wait_output(b"Ready\r\n")
        assert at(h, "AT") == OK


def test_sleep_mode_1_powers_everything_off_until_a_wake_boots():
    """Mode 1: uninit, modem off, System OFF (go_sleep_wk 136-140); waking is a boot."""
    with FirmwareHarness(online=True) as h:
        assert at(h, "AT#XSLEEP=1") == OK
        assert h.fw.wait_asleep(10)
        assert h.fw.asleep == "sleep"
        h.fw.wake()
        h.wait_output(b"Ready\r\n")
        assert at(h, "AT+CFUN?") == info("+CFUN: 1") + OK  # booted again (--online)


def test_output_while_the_uart_is_off_comes_after_ready():
    """rsp_send keeps what uart_send cannot send in delayed_rb (slm_at_host.c 121-131) and
    poweron_uart sends it after "Ready" (275-276): a notification during #XSLEEP=2 is late,
    not lost."""
    fired = threading.Event()

    def later(fw, cmd_type, params):
        def notify():
            fw.urc("+TEST: 1")
            fired.set()

        fw.call_later(0.3, notify)

    with temporary_command("AT#XQLATER", 900, later), FirmwareHarness() as h:
        assert at(h, "AT#XQLATER") == OK
        assert at(h, "AT#XSLEEP=2") == OK
        assert h.fw.wait_asleep(10)
        assert fired.wait(10)
        h.assert_silent(0.1)
        h.fw.wake()
        h.wait_output(b"Ready\r\n" + info("+TEST: 1"))


def test_bind_needs_the_modems_address(harness):
    """do_bind takes the address from AT+CGPADDR=0 (util_get_ip_addr, slm_util.c 157-190);
    with the modem offline there is none: "Get local IPv4 address failed", -EINVAL (501-505)."""
    assert at(harness, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 0,2,17") + OK
    harness.feed(b"AT+CFUN=4\r\n")
    harness.wait_output(OK)
    assert at(harness, "AT#XBIND=0") == ERROR
    harness.feed(b"AT+CFUN=1\r\n")
    harness.wait_output(OK)
    assert at(harness, "AT#XBIND=0") == OK
