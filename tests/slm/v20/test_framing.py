"""The AT host's line discipline as the socket commands meet it: line ends, the line buffer,
command matching. (Quotes and line editing inside #XSEND strings: test_transfer.py.)"""

from __future__ import annotations

from slmsuite import ERROR, accepted, refused

from pytest_slm.slm_types import Family, SocketType

# AT_MAX_CMD_LEN: 4096 bytes with the NUL.
LINE_BUFFER = 4096


def test_empty_line_is_an_error(slm):
    refused(slm, "")


def test_lone_lf_is_stored_and_breaks_the_command(slm):
    # With CRLF termination a LF without its CR is a character of the line.
    refused(slm, "AT#XSOCKET?\n")


def test_lone_cr_does_not_end_a_line(slm):
    refused(slm, "AT#XSOCKET?\rAT")


def test_unknown_x_command_is_an_error(slm):
    refused(slm, "AT#XSOCKETS=1")
    refused(slm, "AT#XFOO")


def test_command_names_are_case_insensitive(slm):
    accepted(slm, "at#xsocket=1,2,0", ["#XSOCKET: 0,2,17"])
    accepted(slm, "At#XsocketSelect?", ["#XSOCKETSELECT: 0,1,0,2,-1," +
                                        str(slm.sockets().sockets[0].ranking),
                                        "#XSOCKETSELECT: 0"])


def test_overlong_line_is_refused_and_the_rest_is_a_second_command(slm):
    # The buffer overflows mid-line: ERROR at once; what follows is collected as a new
    # (malformed) line and refused at its end.
    # (No quote in the line: an odd quote in the remainder would keep its line open.)
    result = slm.at("AT#XSOCKET=" + "1" * LINE_BUFFER, check=False)
    assert (result.lines, result.final) == ([], ERROR)
    slm.wait_urc("ERROR", match=lambda line: line == ERROR)
    accepted(slm, "AT")


def test_longest_line_fits(slm, tcp_sink):
    slm.socket_open(Family.IPV4, SocketType.STREAM)
    slm.connect(tcp_sink.board_host, tcp_sink.port)
    # 4095 stored characters, the CR included: the longest #XSENDTO line still parses (and is
    # refused for its payload size, not for its length).
    head = f'AT#XSENDTO="{tcp_sink.board_host}",{tcp_sink.port},"'
    filler = LINE_BUFFER - 1 - 1 - len(head) - 1
    refused(slm, head + "x" * filler + '"')
    accepted(slm, "AT")
