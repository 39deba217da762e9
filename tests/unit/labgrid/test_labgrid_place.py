"""`pytest_slm.labgrid.place` against a real coordinator and exporter: reserve, acquire, resolve
the exported port, wait for a holder, time out naming it, release."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from lab_helpers import Lab, labgrid_client

from pytest_slm import bringup
from pytest_slm.dut import SlmDut
from pytest_slm.labgrid.place import (
    PlaceBusy,
    PlaceError,
    PlaceRequest,
    SerialExport,
    acquire_place,
    connected,
    parse_match,
)

# Another lab user on another machine, as labgrid names clients: host/user.
ALICE = {"LG_HOSTNAME": "lab-pc-2", "LG_USERNAME": "alice"}


def request(lab: Lab, lock_dir: Path, **kwargs) -> PlaceRequest:
    return PlaceRequest(coordinator=lab.address, lock_dir=lock_dir, **kwargs)


def test_acquire_resolves_the_exported_port_and_release_gives_it_back(
    idle_lab: Lab, lock_dir: Path
) -> None:
    said: list[str] = []
    held = acquire_place(request(idle_lab, lock_dir, place="slm-a"), said.append)
    try:
        who = labgrid_client(idle_lab.address, "who").stdout.splitlines()
        assert len(who) == 2 and who[1].split()[2] == "slm-a", who
        assert held.identity == f"{who[1].split()[1]}/{who[1].split()[0]}"
        port = held.serial.port
        assert held.serial == SerialExport(
            name="modem",
            exporter="lab-host-1",
            group="slm-a",
            resource="modem",
            host="127.0.0.1",
            port=port,
            speed=115200,
            protocol="rfc2217",
        )
        assert held.url == f"rfc2217://127.0.0.1:{port}?ign_set_control"
        assert held.resources == ["lab-host-1/slm-a/NetworkSerialPort/modem"]
        assert held.info() == {
            "labgrid_place": "slm-a",
            "labgrid_coordinator": idle_lab.address,
            "labgrid_exporter": "lab-host-1",
            "labgrid_resources": "lab-host-1/slm-a/NetworkSerialPort/modem",
            "labgrid_tags": "board=sim dialect=v20",
            "labgrid_acquired_by": held.identity,
        }
        assert said == [
            f"acquired labgrid place slm-a (board=sim dialect=v20) from {idle_lab.address}: "
            f"serial port lab-host-1/slm-a/NetworkSerialPort/modem at {held.url}"
        ]
        # The bytes go through the exporter's ser2net to the simulator behind the pty.
        with SlmDut.open(held.url) as dut:
            bringup.wait_until_answering(dut, 30)
            assert dut.at("AT#XSLMVER", timeout=10).lines == ['#XSLMVER: "2.0.0"']
    finally:
        held.release()
    # idle_lab checks that the place and its reservation are gone.


def test_match_takes_different_places_for_concurrent_requests(
    idle_lab: Lab, lock_dir: Path
) -> None:
    wanted = request(idle_lab, lock_dir, match=(("board", "sim"),), sessions=2)
    first = acquire_place(wanted)
    try:
        second = acquire_place(wanted)
        try:
            assert {first.name, second.name} == {"slm-a", "slm-b"}
            assert first.url != second.url
        finally:
            second.release()
    finally:
        first.release()


def test_two_sessions_at_once_from_one_process_both_connect(idle_lab: Lab) -> None:
    # gRPC shares one TCP connection among the channels of a process that go to the same
    # address, and the coordinator keys its clients by that connection's peer address: a
    # second session on it was refused ("Could not connect"). The same happened by chance to a
    # session opened right after another closed, before the coordinator had dropped the first.
    with connected(idle_lab.address) as first, connected(idle_lab.address) as second:
        assert set(first.session.places) == set(second.session.places) == {"slm-a", "slm-b"}


def test_unknown_place_and_unmatched_tags_say_what_exists(idle_lab: Lab, lock_dir: Path) -> None:
    with pytest.raises(PlaceError) as unknown:
        acquire_place(request(idle_lab, lock_dir, place="nrf-bench-9"))
    assert str(unknown.value) == (
        f"--lg-place nrf-bench-9: place pattern nrf-bench-9 matches nothing "
        f"(places on {idle_lab.address}: slm-a, slm-b)"
    )
    with pytest.raises(PlaceError) as unmatched:
        acquire_place(request(idle_lab, lock_dir, match=(("board", "nrf9160dk"),)))
    assert str(unmatched.value) == (
        f"--lg-match board=nrf9160dk: no place has these tags on {idle_lab.address}; places: "
        "slm-a (board=sim dialect=v20), slm-b (board=sim dialect=v20)"
    )
    with pytest.raises(PlaceError) as too_many:
        acquire_place(request(idle_lab, lock_dir, match=(("dialect", "v20"),), sessions=3))
    assert str(too_many.value) == (
        "-n 3 needs 3 places, but only 2 match dialect=v20 (slm-a, slm-b); use -n 2 or fewer"
    )
    with pytest.raises(PlaceError, match=r"--lg-place slm-a is one board, but this run has 2"):
        acquire_place(request(idle_lab, lock_dir, place="slm-a", sessions=2))


def test_unreachable_coordinator_is_one_clear_error(lock_dir: Path) -> None:
    import socket

    from lab_helpers import require_labgrid

    require_labgrid()
    with socket.socket() as s:  # a port that was just free: nothing listens there
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(PlaceError, match=rf"cannot reach the labgrid coordinator at {address}"):
        acquire_place(PlaceRequest(coordinator=address, place="slm-a", lock_dir=lock_dir))


def test_a_place_someone_else_holds_times_out_naming_the_holder(
    idle_lab: Lab, lock_dir: Path
) -> None:
    labgrid_client(idle_lab.address, "-p", "slm-a", "acquire", env=ALICE)
    try:
        said: list[str] = []
        with pytest.raises(PlaceBusy) as busy:
            acquire_place(request(idle_lab, lock_dir, place="slm-a", lock_timeout=2.0), said.append)
        since = re.search(r"since (\d\d:\d\d:\d\d)", str(busy.value))
        assert since, busy.value
        assert str(busy.value) == (
            f"place slm-a is still in use after --lock-timeout 2 s: slm-a acquired by alice on "
            f"lab-pc-2 since {since.group(1)}. If that session is gone, free the place with: "
            f"labgrid-client -x {idle_lab.address} -p slm-a release-from lab-pc-2/alice"
        )
        assert len(said) == 1 and said[0].startswith(
            f"place slm-a is in use (slm-a acquired by alice on lab-pc-2 since {since.group(1)}); "
            "waiting up to "
        ), said
        # The waiting reservation went with the timeout: nothing queues for slm-a any more.
        assert labgrid_client(idle_lab.address, "reservations").stdout.strip() == ""
    finally:
        labgrid_client(idle_lab.address, "-p", "slm-a", "release", env=ALICE)


def test_a_waiting_request_gets_the_place_when_its_holder_releases(
    idle_lab: Lab, lock_dir: Path
) -> None:
    labgrid_client(idle_lab.address, "-p", "slm-b", "acquire", env=ALICE)
    waiting = threading.Event()
    said: list[str] = []
    outcome: dict[str, object] = {}

    def progress(message: str) -> None:
        said.append(message)
        if "in use" in message:
            waiting.set()

    def take() -> None:
        try:
            outcome["held"] = acquire_place(
                request(idle_lab, lock_dir, place="slm-b", lock_timeout=300.0), progress
            )
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc
        waiting.set()

    taker = threading.Thread(target=take)
    taker.start()
    try:
        assert waiting.wait(120), said
        assert "error" not in outcome, outcome
        labgrid_client(idle_lab.address, "-p", "slm-b", "release", env=ALICE)
        taker.join(120)
        assert not taker.is_alive()
        held = outcome.get("held")
        assert held is not None, outcome
        try:
            assert held.name == "slm-b" and held.owned
            assert said[0].startswith("place slm-b is in use (slm-b acquired by alice on lab-pc-2")
            assert said[-1].startswith("acquired labgrid place slm-b ")
        finally:
            held.release()
    finally:
        taker.join(120)
        if labgrid_client(idle_lab.address, "who").stdout.count("alice"):
            labgrid_client(idle_lab.address, "-p", "slm-b", "release", env=ALICE)


def test_a_place_acquired_by_hand_is_used_and_left_acquired(idle_lab: Lab, lock_dir: Path) -> None:
    """labgrid's usual workflow: `labgrid-client acquire`, then the tests, then release."""
    labgrid_client(idle_lab.address, "-p", "slm-a", "acquire")
    try:
        said: list[str] = []
        held = acquire_place(request(idle_lab, lock_dir, place="slm-a"), said.append)
        assert not held.owned and held.token is None
        assert said[0] == (
            f"place slm-a is already acquired by you ({held.identity}); using it "
            "and leaving it acquired"
        )
        held.release()
        with connected(idle_lab.address) as client:
            assert client.session.places["slm-a"].acquired == held.identity
    finally:
        labgrid_client(idle_lab.address, "-p", "slm-a", "release")


def test_match_values_follow_labgrid_tag_rules() -> None:
    from lab_helpers import require_labgrid

    require_labgrid()
    assert parse_match(["board=nrf9160dk", "dialect=sm"]) == (
        ("board", "nrf9160dk"),
        ("dialect", "sm"),
    )
    assert parse_match(["board=sim dialect=v20"]) == (("board", "sim"), ("dialect", "v20"))
    with pytest.raises(PlaceError, match=r"--lg-match board: expected KEY=VALUE"):
        parse_match(["board"])
    with pytest.raises(PlaceError, match=r"'Board' is not a labgrid tag key"):
        parse_match(["Board=x"])


def test_an_interrupted_wait_leaves_no_reservation_behind(idle_lab: Lab, lock_dir: Path) -> None:
    labgrid_client(idle_lab.address, "-p", "slm-a", "acquire", env=ALICE)
    try:

        def ctrl_c_while_waiting(message: str) -> None:
            if "in use" in message:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            acquire_place(
                request(idle_lab, lock_dir, place="slm-a", lock_timeout=300.0),
                ctrl_c_while_waiting,
            )
        assert labgrid_client(idle_lab.address, "reservations").stdout.strip() == ""
    finally:
        labgrid_client(idle_lab.address, "-p", "slm-a", "release", env=ALICE)
