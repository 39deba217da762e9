"""Serial Modem: the test (`=?`) and read (`?`) forms of every socket command, byte for byte.

Each expected line is the `rsp_send` format of app/src/sm_at_socket.c (v2.0.0-preview1) with its
constants filled in; a form a handler's switch has no case for falls to `default:` and returns
-EINVAL, which sm_at_cb_wrapper answers ERROR.
"""

from __future__ import annotations

import pytest
from slmsuite import SEC_TAG, accepted, documented, refused, sm_deviation

from pytest_slm.slm_types import Family, Role, SocketType

# handle_at_*: AT_PARSER_CMD_TYPE_TEST cases.
TEST_FORMS = {
    "#XSSOCKET": "#XSSOCKET: <handle>,(1,2),(1,2),(0,1),<sec_tag>,<peer_verify>,<cid>",
    "#XSOCKETOPT": "#XSOCKETOPT: <handle>,(0,1),<name>,<value>",
    "#XSSOCKETOPT": "#XSSOCKETOPT: <handle>,(0,1),<name>,<value>",
    "#XLISTEN": "#XLISTEN: <handle>",
    "#XACCEPT": "#XACCEPT: <handle>",
    "#XAPOLL": "#XAPOLL: <handle>,(0,1),(0,1,4,5)",
    "#XRECVCFG": "#XRECVCFG: <handle>,(0,1,2,3),(0,1)",
    # sm_at_host.c handle_at_datactrl: the test form prints the set syntax, with '='.
    "#XDATACTRL": "#XDATACTRL=<time_limit>",
}

# Commands whose handler has no case for the test form.
NO_TEST_FORM = [
    "#XCLOSE",
    "#XBIND",
    "#XCONNECT",
    "#XSEND",
    "#XRECV",
    "#XSENDTO",
    "#XRECVFROM",
    "#XGETADDRINFO",
    "#XSMVER",
]
# Commands whose handler has no case for the read form.
NO_READ_FORM = [
    "#XCLOSE",
    "#XSOCKETOPT",
    "#XSSOCKETOPT",
    "#XBIND",
    "#XCONNECT",
    "#XSEND",
    "#XRECV",
    "#XSENDTO",
    "#XRECVFROM",
    "#XACCEPT",
    "#XGETADDRINFO",
    "#XSMVER",
]


@pytest.mark.parametrize("name", sorted(TEST_FORMS))
def test_test_form_prints_its_syntax(slm, name):
    accepted(slm, f"AT{name}=?", [TEST_FORMS[name]])


@sm_deviation("#XSOCKET=? lists families (1,2,3), the doc (1,2): the code adds NRF_AF_PACKET")
def test_xsocket_test_form_lists_the_documented_families(slm):
    result = slm.at("AT#XSOCKET=?")
    documented(
        result.lines,
        ["#XSOCKET: <handle>,(1,2),(1,2,3),(0,1),<cid>"],
        deviation=["#XSOCKET: <handle>,(1,2,3),(1,2,3),(0,1),<cid>"],
        what="AT#XSOCKET=?",
    )


@pytest.mark.parametrize("name", NO_TEST_FORM)
def test_commands_without_a_test_form_answer_error(slm, name):
    refused(slm, f"AT{name}=?")


@pytest.mark.parametrize("name", NO_READ_FORM)
def test_commands_without_a_read_form_answer_error(slm, name):
    refused(slm, f"AT{name}?")


@pytest.mark.parametrize("name", ["#XSOCKET", "#XSSOCKET", "#XLISTEN", "#XAPOLL", "#XRECVCFG"])
def test_read_forms_with_no_socket_list_nothing(slm, name):
    accepted(slm, f"AT{name}?")


def test_xsocket_read_lists_plain_sockets_in_handle_order(slm):
    tcp = slm.socket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT)
    udp = slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.SERVER)
    tcp6 = slm.socket_open(Family.IPV6, SocketType.STREAM, Role.CLIENT)
    slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG)
    accepted(
        slm,
        "AT#XSOCKET?",
        [
            f"#XSOCKET: {tcp.handle},1,0,1,0",
            f"#XSOCKET: {udp.handle},1,1,2,0",
            f"#XSOCKET: {tcp6.handle},2,0,1,0",
        ],
    )


def test_xssocket_read_lists_secure_sockets_with_their_tag(slm):
    slm.socket_open(Family.IPV4, SocketType.DGRAM, Role.CLIENT)
    tls = slm.ssocket_open(Family.IPV4, SocketType.STREAM, Role.CLIENT, SEC_TAG)
    dtls = slm.ssocket_open(Family.IPV6, SocketType.DGRAM, Role.CLIENT, SEC_TAG, 0)
    accepted(
        slm,
        "AT#XSSOCKET?",
        [
            f"#XSSOCKET: {tls.handle},1,0,1,{SEC_TAG},0",
            f"#XSSOCKET: {dtls.handle},2,0,2,{SEC_TAG},0",
        ],
    )


def test_xsmver_prints_two_quoted_versions(slm):
    result = slm.at("AT#XSMVER")
    (line,) = result.lines
    values = result.value("#XSMVER")
    assert len(values) in (2, 3) and all(isinstance(v, str) and v for v in values), line
    assert values[0] == slm.firmware_version
