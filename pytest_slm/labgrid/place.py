"""A board as a labgrid place: reserve, acquire, reach its serial port, release.

labgrid's coordinator is the lab's arbiter: a *place* groups one board's resources (its serial
port exported by an exporter through ser2net, its probe) and carries tags (`board=nrf9160dk`).
This module talks to the coordinator only through labgrid's own client (`ClientSession`, its gRPC
stub and messages), as `labgrid-client` does:

- waiting is a labgrid *reservation* (filter `name=PLACE` or the `--lg-match` tags): the
  coordinator queues waiters fairly and hands each free place to one of them, so `-n N` sessions
  matching the same tags get N different places; the reservation is polled while waiting (labgrid
  expires unpolled ones after 60 s) and on every place update, never on a fixed sleep alone;
- the allocated place is acquired (`AcquirePlace`) under labgrid's usual identity `host/user`
  (`LG_HOSTNAME`/`LG_USERNAME` override it), so `labgrid-client who` shows it like any other use;
- the place's exported serial port (`NetworkSerialPort`) becomes a pyserial URL the way labgrid's
  `SerialDriver` builds it: `rfc2217://host:port?ign_set_control` (ser2net's RFC 2217 server),
  `socket://host:port` for raw exports, through labgrid's proxy manager when the exporter asks
  for an SSH proxy.

labgrid keeps a place acquired until someone releases it, also when the client that acquired it
died. A session therefore leaves a record next to a local flock (`pytest_slm.link.lock`) while it
holds a place: a later session on the same machine that finds the place acquired under its own
identity, the flock free and a record present knows the holder was killed, releases the place and
says so. Without a record the user acquired the place by hand (`labgrid-client acquire`, labgrid's
usual workflow): the session uses it and leaves it acquired. A place held from another machine is
waited for and, at `--lock-timeout`, reported with its holder and the command that frees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_slm.labgrid.installed import INSTALL_HINT, labgrid_missing
from pytest_slm.link.lock import BoardBusy, BoardLock, default_lock_dir, lock_name

Progress = Callable[[str], None]

DEFAULT_COORDINATOR = "127.0.0.1:20408"
# labgrid's coordinator expires a reservation 60 s after its last poll; poll well inside that.
RESERVATION_REFRESH = 10.0
# While waiting, the holders are said again when they change and at least this often.
PROGRESS_INTERVAL = 60.0
# A coordinator that does not answer the client's first sync within this is not there.
CONNECT_TIMEOUT = 30.0
# After AcquirePlace the exporter starts ser2net for the port and publishes its TCP port; it
# gives ser2net up to 10 s (its exporter command timeout) to come up.
EXPORT_TIMEOUT = 30.0


class PlaceError(Exception):
    """The place cannot be used: unknown, no match, no serial port, coordinator unreachable."""


class PlaceBusy(PlaceError):
    """Every place this session may use was still held when --lock-timeout ran out."""


@dataclass(frozen=True)
class PlaceRequest:
    """Which place a session wants: one by name (`--lg-place`) or any by tags (`--lg-match`)."""

    coordinator: str = DEFAULT_COORDINATOR
    place: str | None = None
    match: tuple[tuple[str, str], ...] = ()
    lock_timeout: float = 600.0
    # The serial resource to open when a place exports several (its name or match rename).
    port_name: str | None = None
    worker: str = "master"
    # How many sessions of this run want a place at once (pytest-xdist workers).
    sessions: int = 1
    lock_dir: Path | None = None

    def describe(self) -> str:
        if self.place:
            return f"place {self.place}"
        return "a place with " + " ".join(f"{k}={v}" for k, v in self.match)


@dataclass(frozen=True)
class SerialExport:
    """A place's serial port as its exporter publishes it (labgrid's `NetworkSerialPort`)."""

    name: str
    exporter: str
    group: str
    resource: str
    host: str
    port: int
    speed: int
    protocol: str = "rfc2217"

    @property
    def path(self) -> str:
        return f"{self.exporter}/{self.group}/NetworkSerialPort/{self.resource}"

    @property
    def url(self) -> str:
        if self.protocol == "raw":
            return f"socket://{self.host}:{self.port}"
        # As labgrid's SerialDriver: ser2net cannot switch the modem-control lines of every
        # device (a pty, some USB bridges), and pyserial would time out waiting for the ack.
        return f"rfc2217://{self.host}:{self.port}?ign_set_control"


@dataclass
class HeldPlace:
    """A place this session uses until `release()`."""

    name: str
    coordinator: str
    identity: str
    tags: dict[str, str]
    serial: SerialExport
    resources: list[str]
    # False when the user had acquired the place by hand: it stays acquired after the session.
    owned: bool = True
    token: str | None = None
    waited: float = 0.0
    # The NetworkSerialPort as the exporter published it (its host before any proxying).
    published: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: BoardLock | None = field(default=None, repr=False)
    _record: Path | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.serial.url

    @property
    def exporters(self) -> list[str]:
        return sorted({path.split("/", 1)[0] for path in self.resources})

    def network_resource(self) -> Any:
        """The place's serial port as a labgrid resource: what labgrid's own tools (its SSH
        connection, its file transfer) take to work on the exporter's machine."""
        return _network_serial_port(self.serial.name, self.published)

    def info(self) -> dict[str, str]:
        """What the session report records about where the board was."""
        return {
            "labgrid_place": self.name,
            "labgrid_coordinator": self.coordinator,
            "labgrid_exporter": ", ".join(self.exporters),
            "labgrid_resources": ", ".join(self.resources),
            "labgrid_tags": " ".join(f"{k}={v}" for k, v in sorted(self.tags.items())),
            "labgrid_acquired_by": self.identity + ("" if self.owned else " (by hand)"),
        }

    def release(self) -> None:
        """Give the place back (unless it was acquired by hand), then forget the record."""
        try:
            if self.owned:
                with connected(self.coordinator) as client:
                    client.run(_release(client.session, self.name, self.identity, self.token))
            if self._record is not None:
                self._record.unlink(missing_ok=True)
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None


def lock_key(coordinator: str, place: str) -> str:
    return f"labgrid-{coordinator}-{place}"


class Connection:
    """One client connection to the coordinator, on its own event loop."""

    def __init__(self, session: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.session = session
        self.loop = loop

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)


@contextlib.contextmanager
def connected(address: str) -> Iterator[Connection]:
    """A labgrid `ClientSession` to `address` that sees every place and resource update."""
    if labgrid_missing():
        raise PlaceError(INSTALL_HINT)
    from labgrid.remote.client import Error as LabgridError
    from labgrid.util.proxy import proxymanager

    cls = _watching_session_class()
    loop = asyncio.new_event_loop()
    try:
        grpc_address = proxymanager.get_grpc_address(address, default_port=20408)

        async def start() -> Any:
            # Made inside the loop so the gRPC channel binds to it, not to a thread default.
            session = cls(grpc_address, loop)
            try:
                await asyncio.wait_for(session.start(), CONNECT_TIMEOUT)
            except BaseException:
                await session.close()
                raise
            return session

        try:
            session = loop.run_until_complete(start())
        except (LabgridError, asyncio.TimeoutError, OSError) as exc:
            reason = str(exc) or f"no answer within {CONNECT_TIMEOUT:g} s"
            raise PlaceError(
                f"cannot reach the labgrid coordinator at {address}: {reason} "
                "(--lg-coordinator, LG_COORDINATOR, or coordinator_address in --lg-env)"
            ) from None
        try:
            yield Connection(session, loop)
        finally:
            loop.run_until_complete(session.stop())
            loop.run_until_complete(session.close())
    finally:
        loop.close()


def _watching_session_class() -> type:
    """labgrid's ClientSession, plus an event set on every place or resource update, so waits
    end when the coordinator says something changed rather than on a timer."""
    import attr
    from labgrid.remote.client import ClientSession

    @attr.s(eq=False)
    class WatchingSession(ClientSession):
        def __attrs_post_init__(self) -> None:
            with _own_connection():
                super().__attrs_post_init__()
            self.changed = asyncio.Event()

        async def on_place_changed(self, place_pb2: Any) -> None:
            await super().on_place_changed(place_pb2)
            self.changed.set()

        async def on_place_deleted(self, name: str) -> None:
            await super().on_place_deleted(name)
            self.changed.set()

        async def on_resource_changed(self, exporter, group_name, resource_name, resource):
            await super().on_resource_changed(exporter, group_name, resource_name, resource)
            self.changed.set()

        async def wait_changed(self, timeout: float) -> None:
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), max(timeout, 0.0))

    return WatchingSession


_CHANNEL_PATCH = threading.Lock()


@contextlib.contextmanager
def _own_connection() -> Iterator[None]:
    """While labgrid's ClientSession makes its gRPC channel: give the channel a TCP connection
    of its own.

    gRPC shares one connection among a process's channels to the same address (its global
    subchannel pool), and the coordinator keys each client by the connection's peer address,
    asserting that no client already has it. A second session open at the same time was
    refused, and so was one opened just after another closed, until the coordinator had
    dropped the first. ClientSession passes its own channel options, so ours are added at
    the call."""
    import grpc

    shared = grpc.aio.insecure_channel

    def insecure_channel(target: str, options: Any = None, *args: Any, **kwargs: Any) -> Any:
        own = [*(options or ()), ("grpc.use_local_subchannel_pool", 1)]
        return shared(target, own, *args, **kwargs)

    with _CHANNEL_PATCH:
        grpc.aio.insecure_channel = insecure_channel
        try:
            yield
        finally:
            grpc.aio.insecure_channel = shared


def identity(session: Any) -> str:
    """labgrid's name for this client in `acquired`: host/user."""
    return f"{session.gethostname()}/{session.getuser()}"


def acquire_place(request: PlaceRequest, progress: Progress | None = None) -> HeldPlace:
    """Wait for, acquire and open up the place `request` names; released again on any failure.

    One deadline (`--lock-timeout`) covers the whole wait for the place.
    """
    say = progress or (lambda message: None)
    deadline = time.monotonic() + request.lock_timeout
    started = time.monotonic()
    with connected(request.coordinator) as client:
        attempt = _Attempt(client, request, say)
        task = client.loop.create_task(attempt.acquire(deadline))
        try:
            held = client.loop.run_until_complete(task)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM) or failed while waiting: stop the attempt, then
            # leave no reservation or place behind. The first error is the one to report.
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    client.loop.run_until_complete(task)
            with contextlib.suppress(Exception):
                client.run(attempt.abandon())
            raise
    held.waited = time.monotonic() - started
    return held


class _Attempt:
    """The state of one acquisition, so that whatever stops it can undo what it did."""

    def __init__(self, client: Connection, request: PlaceRequest, say: Progress) -> None:
        self.client = client
        self.session = client.session
        self.request = request
        self.say = say
        self.me = identity(client.session)
        self.lock_dir = request.lock_dir or default_lock_dir()
        self.token: str | None = None
        self.acquired: str | None = None
        self.lock: BoardLock | None = None
        self.record: Path | None = None

    # -- the steps -------------------------------------------------------------------------

    async def acquire(self, deadline: float) -> HeldPlace:
        candidates = self._candidates()
        by_hand = await self._clean_up_own(candidates)
        if by_hand is not None:
            return await self._open(by_hand, owned=False)
        filters = {"name": candidates[0]} if self.request.place else dict(self.request.match)
        self.token = await self._reserve(filters)
        announced: frozenset[str] | None = None
        announced_at = 0.0
        while True:
            reservation = await self._poll()
            state = reservation.state.name
            if state == "allocated":
                name = reservation.allocations["main"][0]
                if await self._take(name, deadline):
                    return await self._open(name, owned=True)
                continue
            if state == "acquired":
                # Our allocation was acquired by someone under our own name (a hand-typed
                # labgrid-client acquire): it is theirs now; queue again.
                await self._cancel()
                self.token = await self._reserve(filters)
                continue
            if state in ("expired", "invalid"):
                if self.request.place and self.request.place not in self.session.places:
                    raise PlaceError(f"place {self.request.place} was deleted while waiting")
                # Polls came too late (a stalled machine) or the place changed: queue again.
                self.token = await self._reserve(filters)
                continue
            holders = frozenset(self._holders(candidates))
            left = deadline - time.monotonic()
            if left <= 0:
                raise PlaceBusy(
                    f"{self._what(candidates)} still in use after --lock-timeout "
                    f"{self.request.lock_timeout:g} s: {'; '.join(sorted(holders))}"
                    f"{self._freeing_hint(candidates)}"
                )
            if holders != announced or time.monotonic() - announced_at >= PROGRESS_INTERVAL:
                announced, announced_at = holders, time.monotonic()
                self.say(
                    f"{self._what(candidates)} in use ({'; '.join(sorted(holders))}); waiting up "
                    f"to {left:.0f} s more (--lock-timeout)"
                )
            await self.session.wait_changed(min(RESERVATION_REFRESH, left))

    def _candidates(self) -> list[str]:
        from labgrid.remote.client import Error as LabgridError

        places = self.session.places
        if self.request.place:
            try:
                name = self.session.get_place(self.request.place).name
            except LabgridError as exc:
                known = ", ".join(sorted(places)) or "none"
                raise PlaceError(
                    f"--lg-place {self.request.place}: {' '.join(exc.args)} "
                    f"(places on {self.request.coordinator}: {known})"
                ) from None
            if self.request.sessions > 1:
                raise PlaceError(
                    f"--lg-place {name} is one board, but this run has {self.request.sessions} "
                    "sessions (-n): give the places tags and use --lg-match"
                )
            return [name]
        wanted = set(self.request.match)
        names = sorted(n for n, p in places.items() if wanted <= _tagset(n, p))
        if not names:
            rows = [f"{n} ({_tags_text(p.tags) or 'no tags'})" for n, p in sorted(places.items())]
            raise PlaceError(
                f"--lg-match {_tags_text(dict(self.request.match))}: no place has these tags "
                f"on {self.request.coordinator}; places: {', '.join(rows) or 'none'}"
            )
        if self.request.sessions > len(names):
            raise PlaceError(
                f"-n {self.request.sessions} needs {self.request.sessions} places, but only "
                f"{len(names)} match {_tags_text(dict(self.request.match))} "
                f"({', '.join(names)}); use -n {len(names)} or fewer"
            )
        return names

    async def _clean_up_own(self, candidates: list[str]) -> str | None:
        """Release candidates a killed session of ours left acquired; return the place to use
        as is when the user acquired the named place by hand."""
        for name in candidates:
            place = self.session.places[name]
            if place.acquired != self.me:
                continue
            lock = BoardLock(
                lock_key(self.request.coordinator, name),
                timeout=0,
                lock_dir=self.lock_dir,
                holder_note=self._note(name),
            )
            try:
                lock.acquire()
            except BoardBusy:
                continue  # a live session on this machine holds it: wait like for anyone else
            record_path = self._record_path(name)
            record = _read_record(record_path)
            if record is not None:
                self.say(
                    f"place {name} was left acquired by pytest-slm pid {record.get('pid', '?')} "
                    f"(worker {record.get('worker', '?')}, since {record.get('since', '?')}), "
                    "which is gone; releasing it"
                )
                try:
                    await _release(self.session, name, self.me, record.get("token"))
                    record_path.unlink(missing_ok=True)
                finally:
                    lock.release()
                continue
            if self.request.place:
                self.say(
                    f"place {name} is already acquired by you ({self.me}); using it and "
                    "leaving it acquired"
                )
                self.lock = lock
                return name
            lock.release()
        return None

    async def _reserve(self, filters: dict[str, str]) -> str:
        from labgrid.remote.common import Reservation
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        request = pb2.CreateReservationRequest(
            filters={"main": pb2.Reservation.Filter(filter=filters)}, prio=0.0
        )
        response = await self._call("CreateReservation", request)
        return Reservation.from_pb2(response.reservation).token

    async def _poll(self) -> Any:
        from labgrid.remote.common import Reservation
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        response = await self._call("PollReservation", pb2.PollReservationRequest(token=self.token))
        return Reservation.from_pb2(response.reservation)

    async def _take(self, name: str, deadline: float) -> bool:
        """Acquire the place the coordinator allocated to our reservation."""
        import grpc
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        self.lock = BoardLock(
            lock_key(self.request.coordinator, name),
            timeout=max(deadline - time.monotonic(), 0.0),
            lock_dir=self.lock_dir,
            holder_note=self._note(name),
            progress=self.say,
        ).acquire()
        # The record goes down before the place is acquired, so that a session killed at any
        # moment after AcquirePlace leaves what the next one needs to clean up.
        self.record = self._record_path(name)
        self.record.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "worker": self.request.worker,
                    "place": name,
                    "token": self.token,
                    "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            ),
            encoding="utf-8",
        )
        try:
            await self.session.stub.AcquirePlace(pb2.AcquirePlaceRequest(placename=name))
        except grpc.aio.AioRpcError as exc:
            # Acquired outside the reservation system in the meantime: queue again.
            self.say(f"could not acquire place {name}: {exc.details()}; waiting again")
            self.record.unlink(missing_ok=True)
            self.lock.release()
            self.lock = self.record = None
            await self._cancel()
            filters = {"name": name} if self.request.place else dict(self.request.match)
            self.token = await self._reserve(filters)
            return False
        self.acquired = name
        await self.session.sync_with_coordinator()
        return True

    async def _open(self, name: str, *, owned: bool) -> HeldPlace:
        place = self.session.places[name]
        serial, resources, published = await self._serial_export(place)
        verb = "acquired" if owned else "using"
        self.say(
            f"{verb} labgrid place {name} ({_tags_text(place.tags) or 'no tags'}) from "
            f"{self.request.coordinator}: serial port {serial.path} at {serial.url}"
        )
        held = HeldPlace(
            name=name,
            coordinator=self.request.coordinator,
            identity=self.me,
            tags=dict(place.tags),
            serial=serial,
            resources=resources,
            owned=owned,
            token=self.token if owned else None,
            published=published,
            _lock=self.lock,
            _record=self.record,
        )
        # Handed over: abandon() must not undo it now.
        self.lock = self.record = None
        self.acquired = self.token = None
        return held

    async def _serial_export(self, place: Any) -> tuple[SerialExport, list[str], dict[str, Any]]:
        from labgrid.remote.client import Error as LabgridError

        deadline = time.monotonic() + EXPORT_TIMEOUT
        while True:
            try:
                entries = self.session.get_target_resources(place)
            except LabgridError as exc:
                raise PlaceError(f"place {place.name}: {' '.join(exc.args)}") from None
            paths = {}
            for path in place.acquired_resources:
                match = place.getmatch(path)
                paths[(match.rename or path[3] if match else path[3], path[2])] = tuple(path)
            resources = sorted("/".join(p) for p in paths.values())
            ports = {
                name: entry for (name, cls), entry in entries.items() if cls == "NetworkSerialPort"
            }
            if not ports:
                raise PlaceError(
                    f"place {place.name} has no serial port (a NetworkSerialPort exported from a "
                    "RawSerialPort or USBSerialPort); its resources: "
                    f"{', '.join(resources) or 'none'}"
                )
            name = self._pick_port(place.name, ports)
            entry = ports[name]
            if entry.avail and entry.args.get("port"):
                path = paths[(name, "NetworkSerialPort")]
                published = {**entry.args, "extra": entry.extra}
                return _serial_from_entry(name, path, published), resources, published
            left = deadline - time.monotonic()
            if left <= 0:
                raise PlaceError(
                    f"place {place.name}: exporter {paths[(name, 'NetworkSerialPort')][0]} did "
                    f"not publish serial port {name} (available and with a TCP port) within "
                    f"{EXPORT_TIMEOUT:g} s; is ser2net installed on that machine?"
                )
            await self.session.wait_changed(left)

    def _pick_port(self, place: str, ports: dict[str, Any]) -> str:
        wanted = self.request.port_name
        if wanted:
            if wanted not in ports:
                raise PlaceError(
                    f"place {place} has no serial port named {wanted} "
                    f"(it has {', '.join(sorted(ports))})"
                )
            return wanted
        if len(ports) == 1:
            return next(iter(ports))
        if "modem" in ports:
            return "modem"
        raise PlaceError(
            f"place {place} exports {len(ports)} serial ports ({', '.join(sorted(ports))}): name "
            "the modem's one 'modem' (labgrid-client add-named-match) or pass --lg-port NAME"
        )

    async def abandon(self) -> None:
        """Undo a half-done acquisition: the place, the reservation, the record, the lock."""
        try:
            if self.acquired is not None:
                await _release(self.session, self.acquired, self.me, None)
            await self._cancel()
            if self.record is not None:
                self.record.unlink(missing_ok=True)
        finally:
            if self.lock is not None:
                self.lock.release()
                self.lock = None

    async def _cancel(self) -> None:
        if self.token is None:
            return
        token, self.token = self.token, None
        await _cancel_reservation(self.session, token)

    # -- helpers -------------------------------------------------------------------------

    async def _call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return await getattr(self.session.stub, method)(request)
        except grpc.aio.AioRpcError as exc:
            raise PlaceError(
                f"labgrid coordinator {self.request.coordinator}: {method}: {exc.details()}"
            ) from None

    def _record_path(self, name: str) -> Path:
        key = lock_key(self.request.coordinator, name)
        return self.lock_dir / (lock_name(key)[: -len(".lock")] + ".place.json")

    def _note(self, name: str) -> str:
        return f"pytest-slm worker {self.request.worker}, labgrid place {name}"

    def _what(self, candidates: list[str]) -> str:
        if self.request.place:
            return f"place {candidates[0]} is"
        return f"all {len(candidates)} places with {_tags_text(dict(self.request.match))} are"

    def _holders(self, candidates: list[str]) -> list[str]:
        rows = []
        for name in candidates:
            place = self.session.places.get(name)
            if place is None:
                continue
            if place.acquired:
                rows.append(
                    f"{name} acquired by {_who(place.acquired)} since "
                    f"{_clock(place.changed)}{self._local_holder(name, place)}"
                )
            elif place.reservation:
                rows.append(f"{name} reserved for another session")
        return rows or ["waiting for the coordinator to allocate one"]

    def _local_holder(self, name: str, place: Any) -> str:
        if place.acquired != self.me:
            return ""
        lock = BoardLock(lock_key(self.request.coordinator, name), lock_dir=self.lock_dir)
        return f" (here: {lock.holder()})"

    def _freeing_hint(self, candidates: list[str]) -> str:
        held = [
            (n, self.session.places[n].acquired)
            for n in candidates
            if n in self.session.places and self.session.places[n].acquired
        ]
        if not held:
            return ""
        name, holder = held[0]
        return (
            f". If that session is gone, free the place with: labgrid-client -x "
            f"{self.request.coordinator} -p {name} release-from {holder}"
        )


async def _release(session: Any, name: str, who: str, token: str | None) -> None:
    """Release `name` if `who` still holds it (labgrid's release-from), and drop the reservation
    that led to it, which would otherwise keep the place allocated for another minute."""
    import grpc
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    try:
        await session.stub.ReleasePlace(pb2.ReleasePlaceRequest(placename=name, fromuser=who))
    except grpc.aio.AioRpcError as exc:
        raise PlaceError(f"could not release labgrid place {name}: {exc.details()}") from None
    if token:
        await _cancel_reservation(session, token)
    await session.sync_with_coordinator()


async def _cancel_reservation(session: Any, token: str) -> None:
    import grpc
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    # Already expired or cancelled: nothing left to undo.
    with contextlib.suppress(grpc.aio.AioRpcError):
        await session.stub.CancelReservation(pb2.CancelReservationRequest(token=token))


def _serial_from_entry(name: str, path: tuple, published: dict[str, Any]) -> SerialExport:
    """host and port as labgrid's SerialDriver reaches them (its proxy manager forwards through
    SSH when the exporter runs isolated or LG_PROXY is set)."""
    from labgrid.util.proxy import proxymanager

    resource = _network_serial_port(name, published)
    host, port = proxymanager.get_host_and_port(resource)
    exporter, group, _cls, resource_name = path
    return SerialExport(
        name=name,
        exporter=exporter,
        group=group,
        resource=resource_name,
        host=host,
        port=int(port),
        speed=resource.speed,
        protocol=resource.protocol,
    )


def _network_serial_port(name: str, published: dict[str, Any]) -> Any:
    from labgrid import Target
    from labgrid.resource import NetworkSerialPort

    resource = NetworkSerialPort(
        Target(f"slm-{name}"),
        name,
        host=published["host"],
        port=int(published["port"]),
        speed=int(published.get("speed", 115200)),
        protocol=published.get("protocol", "rfc2217"),
    )
    resource.extra = dict(published.get("extra") or {})
    return resource


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _tagset(name: str, place: Any) -> set[tuple[str, str]]:
    # As labgrid's scheduler: a place also answers to name=<its name>.
    return set(place.tags.items()) | {("name", name)}


def _tags_text(tags: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def _who(acquired: str) -> str:
    host, _, user = acquired.partition("/")
    return f"{user} on {host}" if user else acquired


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S")


def parse_match(values: list[str]) -> tuple[tuple[str, str], ...]:
    """`--lg-match board=nrf9160dk dialect=sm` (repeatable, or space-separated) as tag pairs,
    checked with labgrid's own tag rules."""
    from labgrid.remote.common import TAG_KEY

    pairs: dict[str, str] = {}
    for value in values:
        for item in value.split():
            key, sep, val = item.partition("=")
            if not sep or not key or not val:
                raise PlaceError(f"--lg-match {item}: expected KEY=VALUE, e.g. board=nrf9160dk")
            if not TAG_KEY.fullmatch(key):
                raise PlaceError(
                    f"--lg-match {item}: '{key}' is not a labgrid tag key ({TAG_KEY.pattern})"
                )
            pairs[key] = val
    return tuple(sorted(pairs.items()))
