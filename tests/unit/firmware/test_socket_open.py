"""Golden transcripts: #XSOCKET, #XSSOCKET, #XSOCKETSELECT and the v2.0 socket state model."""

from __future__ import annotations

import pytest

from firmware_ref.dialects.v20 import sockets
from firmware_ref.testing import ERROR, OK, at, info

# ---------------------------------------------------------------------------- #XSOCKET


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("AT#XSOCKET=1,1,0", "#XSOCKET: 0,1,6"),
        ("AT#XSOCKET=1,2,0", "#XSOCKET: 0,2,17"),
        ("AT#XSOCKET=2,1,0", "#XSOCKET: 0,1,6"),
        ("AT#XSOCKET=2,2,1", "#XSOCKET: 0,2,17"),
        ("AT#XSOCKET=1,1,1", "#XSOCKET: 0,1,6"),
        # Extra parameters are ignored (v2.0 has no <cid>).
        ("AT#XSOCKET=1,1,0,5", "#XSOCKET: 0,1,6"),
        ("at#xsocket=1,1,0", "#XSOCKET: 0,1,6"),
        ("AT#XSOCKET=1,1,0,", "#XSOCKET: 0,1,6"),
    ],
)
def test_xsocket_open(harness, command: str, expected: str) -> None:
    assert at(harness, command) == info(expected) + OK


def test_xsocket_doc_examples(harness) -> None:
    # The doc's handles (3, 1, 1, 1) come from a board with other sockets open; on a fresh
    # board handles are the lowest free fds: 0, 1, 2, 3.
    assert at(harness, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK
    assert at(harness, "AT#XSOCKET=1,2,0") == info("#XSOCKET: 1,2,17") + OK
    assert at(harness, "AT#XSOCKET=2,1,0") == info("#XSOCKET: 2,1,6") + OK
    assert at(harness, "AT#XSOCKET=1,3,0") == info("#XSOCKET: 3,3,0") + OK
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK


def test_xsocket_raw_forces_packet_family_and_client_role(harness) -> None:
    assert at(harness, "AT#XSOCKET=2,3,1") == info("#XSOCKET: 0,3,0") + OK
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,3,0") + OK


def test_xsocket_read(harness) -> None:
    assert at(harness, "AT#XSOCKET?") == OK
    at(harness, "AT#XSOCKET=2,2,1")
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,2,1") + OK
    # The doc's example read (#XSOCKET: 3,1,0) with handle 0 on a fresh board.
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 1,1,0") + OK


def test_xsocket_test_line_has_no_trailing_crlf(harness) -> None:
    assert at(harness, "AT#XSOCKET=?") == b"\r\n#XSOCKET: (0,1,2),(1,2,3),(0,1)" + OK


def test_xsocket_close(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    # No active socket left: close is a plain OK.
    assert at(harness, "AT#XSOCKET=0") == OK
    assert at(harness, "AT#XSOCKET?") == OK
    # Extra parameters after op 0 are ignored too.
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSOCKET=0,1,0") == info('#XSOCKET: 0,"closed"') + OK


@pytest.mark.parametrize(
    "command",
    [
        "AT#XSOCKET",  # missing op
        "AT#XSOCKET=",
        "AT#XSOCKET=3,1,0",  # op out of the set
        "AT#XSOCKET=1",  # missing type and role
        "AT#XSOCKET=1,1",  # missing role
        "AT#XSOCKET=1,4,0",  # unknown type
        "AT#XSOCKET=1,0,0",
        "AT#XSOCKET=1,,0",  # empty
        'AT#XSOCKET="1",1,0',  # quoted number
        "AT#XSOCKET=1,1,a",  # unquoted string
        "AT#XSOCKET=0x1,1,0",  # hex
        "AT#XSOCKET=65536,1,0",  # out of unsigned short range
        "AT#XSOCKET=1,65537,0",
        "AT#XSOCKET=1,1,-1",
        "AT#XSOCKET=1,1,99999999999999999999999",  # overflow
        "AT#XSOCKET=-1",
        "AT#XSOCKET=(1,2),1,0",  # array
    ],
)
def test_xsocket_bad_input(harness, command: str) -> None:
    assert at(harness, command) == ERROR
    assert at(harness, "AT#XSOCKETSELECT?") == OK  # nothing was opened


def test_xsocket_role_is_not_range_checked(harness) -> None:
    assert at(harness, "AT#XSOCKET=1,1,7") == info("#XSOCKET: 0,1,6") + OK
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,1,7") + OK
    assert at(harness, 'AT#XCONNECT="127.0.0.1",1') == ERROR
    assert at(harness, "AT#XLISTEN") == ERROR
    assert at(harness, "AT#XACCEPT=1") == ERROR


def test_xsocket_failed_open_leaves_no_active_socket(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    # The active copy is reset before <type> is parsed, so the failure leaves none active.
    assert at(harness, "AT#XSOCKET=1,9,0") == ERROR
    assert at(harness, "AT#XSOCKET?") == OK
    assert at(harness, "AT#XSOCKETSELECT?") == info("#XSOCKETSELECT: 0,1,0,1,-1,1") + OK
    assert at(harness, "AT#XSOCKET=0") == OK  # nothing to close
    assert at(harness, "AT#XSOCKETSELECT=0") == info("#XSOCKETSELECT: 0,1,0") + OK
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,1,0") + OK


def test_eight_sockets_then_the_ninth_is_refused(harness) -> None:
    for fd in range(8):
        family, kind = (1, 1) if fd % 2 == 0 else (2, 2)
        proto = 6 if kind == 1 else 17
        assert (
            at(harness, f"AT#XSOCKET={family},{kind},0")
            == info(f"#XSOCKET: {fd},{kind},{proto}") + OK
        )
    assert at(harness, "AT#XSOCKET=1,1,0") == ERROR
    assert at(harness, "AT#XSSOCKET=1,1,0,1") == ERROR
    # The 8-slot check happens before the reset: the active socket survives the refusal.
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 7,2,0") + OK
    rows = [f"#XSOCKETSELECT: {fd},{1 + fd % 2},0,{1 + fd % 2},-1,{fd + 1}" for fd in range(8)]
    assert at(harness, "AT#XSOCKETSELECT?") == info(*rows, "#XSOCKETSELECT: 7") + OK


def test_ranking_handles_and_close_order(harness) -> None:
    for _ in range(4):
        at(harness, "AT#XSOCKET=1,2,0")
    # Failed opens do not consume a ranking.
    assert at(harness, "AT#XSOCKET=1,5,0") == ERROR
    assert at(harness, "AT#XSOCKETSELECT=1") == info("#XSOCKETSELECT: 1,1,0") + OK
    assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    # The highest *ranked* (most recently opened) becomes active, not the last selected.
    assert (
        at(harness, "AT#XSOCKETSELECT?")
        == info(
            "#XSOCKETSELECT: 0,1,0,2,-1,1",
            "#XSOCKETSELECT: 2,1,0,2,-1,3",
            "#XSOCKETSELECT: 3,1,0,2,-1,4",
            "#XSOCKETSELECT: 3",
        )
        + OK
    )
    # The lowest free fd (1) is reused; it takes slot 1 and ranking 5.
    assert at(harness, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 1,1,6") + OK
    assert (
        at(harness, "AT#XSOCKETSELECT?")
        == info(
            "#XSOCKETSELECT: 0,1,0,2,-1,1",
            "#XSOCKETSELECT: 1,1,0,1,-1,5",
            "#XSOCKETSELECT: 2,1,0,2,-1,3",
            "#XSOCKETSELECT: 3,1,0,2,-1,4",
            "#XSOCKETSELECT: 1",
        )
        + OK
    )
    for _ in range(4):
        assert at(harness, "AT#XSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    assert at(harness, "AT#XSOCKETSELECT?") == OK


def test_slot_order_differs_from_handle_order(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")  # fd 0, slot 0
    at(harness, "AT#XSOCKET=1,1,0")  # fd 1, slot 1
    at(harness, "AT#XSOCKETSELECT=0")
    at(harness, "AT#XSOCKET=0")  # frees fd 0 and slot 0
    at(harness, "AT#XSOCKET=1,2,0")  # fd 0 again, slot 0, ranking 3
    at(harness, "AT#XSOCKETSELECT=1")
    at(harness, "AT#XSOCKET=0")  # frees fd 1 and slot 1
    at(harness, "AT#XSOCKET=1,1,1")  # fd 1, slot 1
    assert (
        at(harness, "AT#XSOCKETSELECT?")
        == info(
            "#XSOCKETSELECT: 0,1,0,2,-1,3",
            "#XSOCKETSELECT: 1,1,1,1,-1,4",
            "#XSOCKETSELECT: 1",
        )
        + OK
    )


def test_xsocket_offline_modem(offline_harness) -> None:
    assert at(offline_harness, "AT#XSOCKET=1,1,0") == ERROR
    assert at(offline_harness, "AT#XSSOCKET=1,1,0,1") == ERROR
    assert at(offline_harness, "AT#XSOCKET?") == OK


def test_reset_closes_everything(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    st = sockets.state(harness.fw)
    ep = st.fds.get(0)
    assert at(harness, "AT#XRESET") == OK
    harness.wait_output(b"Ready\r\n")
    assert ep.closed
    assert at(harness, "AT#XSOCKETSELECT?") == OK
    assert at(harness, "AT#XSOCKET=1,1,0") == info("#XSOCKET: 0,1,6") + OK


# ---------------------------------------------------------------------------- #XSSOCKET


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("AT#XSSOCKET=1,1,0,16842753,2", "#XSSOCKET: 0,1,258"),
        ("AT#XSSOCKET=1,2,0,16842753", "#XSSOCKET: 0,2,273"),
        ("AT#XSSOCKET=2,1,0,1", "#XSSOCKET: 0,1,258"),
        ("AT#XSSOCKET=2,2,0,1,0", "#XSSOCKET: 0,2,273"),
        # TLS/DTLS servers are "not supported" in the doc, but v2.0 opens them (TLS_DTLS_ROLE).
        ("AT#XSSOCKET=1,1,1,16842753", "#XSSOCKET: 0,1,258"),
        ("AT#XSSOCKET=1,2,1,16842753,1", "#XSSOCKET: 0,2,273"),
        ("AT#XSSOCKET=1,1,0,16842753,2,9", "#XSSOCKET: 0,1,258"),  # extra ignored
        ("AT#XSSOCKET=1,1,0,0", "#XSSOCKET: 0,1,258"),
        ("AT#XSSOCKET=1,1,0,1,", "#XSSOCKET: 0,1,258"),  # a trailing comma is tolerated
    ],
)
def test_xssocket_open(harness, command: str, expected: str) -> None:
    assert at(harness, command) == info(expected) + OK


def test_xssocket_doc_example_and_close(harness) -> None:
    # Doc: "#XSSOCKET: 2,1,258" on a board with two sockets open; fresh board -> 0.
    assert at(harness, "AT#XSSOCKET=1,1,0,16842753,2") == info("#XSSOCKET: 0,1,258") + OK
    assert at(harness, "AT#XSSOCKET?") == info("#XSSOCKET: 0,1,0") + OK
    assert (
        at(harness, "AT#XSOCKETSELECT?")
        == info("#XSOCKETSELECT: 0,1,0,1,16842753,1", "#XSOCKETSELECT: 0") + OK
    )
    # Closing through #XSSOCKET still prints #XSOCKET.
    assert at(harness, "AT#XSSOCKET=0") == info('#XSOCKET: 0,"closed"') + OK
    assert at(harness, "AT#XSSOCKET=0") == OK


def test_xssocket_read_and_test(harness) -> None:
    assert at(harness, "AT#XSSOCKET?") == OK
    at(harness, "AT#XSOCKET=2,1,1")
    # The read form reports the active socket whether or not it is secure.
    assert at(harness, "AT#XSSOCKET?") == info("#XSSOCKET: 0,2,1") + OK
    # v2.0: no comma before <sec-tag>, no <hostname_verify> (the doc is wrong on both).
    assert (
        at(harness, "AT#XSSOCKET=?")
        == info("#XSSOCKET: (0,1,2),(1,2),(0,1)<sec-tag>,<peer_verify>") + OK
    )


def test_xssocket_sec_tag_is_stored_as_int(harness) -> None:
    assert at(harness, "AT#XSSOCKET=1,1,0,4294967295") == info("#XSSOCKET: 0,1,258") + OK
    assert (
        at(harness, "AT#XSOCKETSELECT?")
        == info("#XSOCKETSELECT: 0,1,0,1,-1,1", "#XSOCKETSELECT: 0") + OK
    )
    # sec_tag -1 reads as "not secure": the option command refuses it.
    assert at(harness, 'AT#XSSOCKETOPT=1,2,"x"') == ERROR


@pytest.mark.parametrize(
    "command",
    [
        "AT#XSSOCKET",
        "AT#XSSOCKET=3,1,0,1",
        "AT#XSSOCKET=1,1,0",  # missing sec_tag
        "AT#XSSOCKET=1,1,2,1",  # role must be 0 or 1
        "AT#XSSOCKET=1,1,7,1",
        "AT#XSSOCKET=1,3,0,1",  # no secure raw socket
        "AT#XSSOCKET=1,0,0,1",
        "AT#XSSOCKET=1,1,0,-1",
        "AT#XSSOCKET=1,1,0,4294967296",
        'AT#XSSOCKET=1,1,0,"16842753"',
        "AT#XSSOCKET=1,1,0,1,3",  # the modem takes peer_verify 0..2 only
        "AT#XSSOCKET=1,1,0,1,65536",
        "AT#XSSOCKET=1,1,0,1,,",  # empty peer_verify
        "AT#XSSOCKET=1,1,0,0x10",
        "AT#XSSOCKET=1,,0,1",
    ],
)
def test_xssocket_bad_input(harness, command: str) -> None:
    assert at(harness, command) == ERROR
    assert at(harness, "AT#XSOCKETSELECT?") == OK


def test_xssocket_failure_resets_active_socket(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSSOCKET=1,1,5,1") == ERROR
    assert at(harness, "AT#XSOCKET?") == OK


# ---------------------------------------------------------------------------- #XSOCKETSELECT


def test_xsocketselect(harness) -> None:
    assert at(harness, "AT#XSOCKETSELECT?") == OK
    at(harness, "AT#XSOCKET=1,1,0")
    at(harness, "AT#XSOCKET=2,2,1")
    at(harness, "AT#XSSOCKET=1,1,0,16842755")
    assert at(harness, "AT#XSOCKETSELECT=1") == info("#XSOCKETSELECT: 1,2,1") + OK
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 1,2,1") + OK
    # Ranking never changes with selection.
    assert (
        at(harness, "AT#XSOCKETSELECT?")
        == info(
            "#XSOCKETSELECT: 0,1,0,1,-1,1",
            "#XSOCKETSELECT: 1,2,1,2,-1,2",
            "#XSOCKETSELECT: 2,1,0,1,16842755,3",
            "#XSOCKETSELECT: 1",
        )
        + OK
    )
    # The test form falls through to OK in v2.0 (the doc says "not supported").
    assert at(harness, "AT#XSOCKETSELECT=?") == OK


def test_xsocketselect_doc_example(harness) -> None:
    # Adapted from the doc: rankings start at 1 on a fresh board (the doc's start at 2).
    for cmd in (
        "AT#XSOCKET=1,1,0",
        "AT#XSOCKET=1,2,0",
        "AT#XSSOCKET=1,1,0,16842755",
        "AT#XSSOCKET=1,2,0,16842755",
        "AT#XSOCKET=1,1,1",
        "AT#XSOCKET=1,2,1",
        "AT#XSSOCKET=1,1,1,16842755",
        "AT#XSOCKET=1,1,0",
    ):
        assert at(harness, cmd).endswith(OK)
    rows = [
        "#XSOCKETSELECT: 0,1,0,1,-1,1",
        "#XSOCKETSELECT: 1,1,0,2,-1,2",
        "#XSOCKETSELECT: 2,1,0,1,16842755,3",
        "#XSOCKETSELECT: 3,1,0,2,16842755,4",
        "#XSOCKETSELECT: 4,1,1,1,-1,5",
        "#XSOCKETSELECT: 5,1,1,2,-1,6",
        "#XSOCKETSELECT: 6,1,1,1,16842755,7",
        "#XSOCKETSELECT: 7,1,0,1,-1,8",
    ]
    assert at(harness, "AT#XSOCKETSELECT?") == info(*rows, "#XSOCKETSELECT: 7") + OK
    assert at(harness, "AT#XSOCKETSELECT=4") == info("#XSOCKETSELECT: 4,1,1") + OK
    assert at(harness, "AT#XSOCKETSELECT?") == info(*rows, "#XSOCKETSELECT: 4") + OK


@pytest.mark.parametrize(
    "command",
    [
        "AT#XSOCKETSELECT",
        "AT#XSOCKETSELECT=",
        "AT#XSOCKETSELECT=-1",
        "AT#XSOCKETSELECT=1",  # not opened
        "AT#XSOCKETSELECT=8",
        "AT#XSOCKETSELECT=2147483648",
        'AT#XSOCKETSELECT="0"',
        "AT#XSOCKETSELECT=a",
        "AT#XSOCKETSELECT=0x0",
    ],
)
def test_xsocketselect_bad_input(harness, command: str) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, command) == ERROR
    assert at(harness, "AT#XSOCKET?") == info("#XSOCKET: 0,1,0") + OK


def test_xsocketselect_extra_parameter_ignored(harness) -> None:
    at(harness, "AT#XSOCKET=1,1,0")
    assert at(harness, "AT#XSOCKETSELECT=0,5") == info("#XSOCKETSELECT: 0,1,0") + OK
