"""MonitorClient with a fake connection factory: resume, gaps, duplicates, backoff, states."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from core.actors import SYSTEM
from core.events import EventType, LoggedEvent, MonitorFilter
from core.wire import event_from_wire
from sync.answers import EventPage
from sync.errors import ApiError, ConnectionFailed
from sync.monitor import (
    Backoff,
    MonitorClient,
    MonitorConnection,
    MonitorState,
    monitor_url,
    websocket_connector,
)
from tests.core.factories import T0

pytestmark = pytest.mark.timeout(30)

Message = dict[str, Any] | Exception


def event(seq: int, contract_id: str = "c1", kind: str = "task_completed") -> dict[str, Any]:
    return LoggedEvent(seq, T0, EventType(kind), contract_id, SYSTEM, {"x": seq}).to_wire()


def subscribed(last_seq: int) -> dict[str, Any]:
    return {"type": "subscribed", "last_seq": last_seq}


def closed(code: int = 1006, reason: str = "") -> ConnectionClosedError:
    return ConnectionClosedError(Close(code, reason), None)


class FakeSocket:
    """One scripted connection: hands out `incoming`, then closes (or holds when `hold`)."""

    def __init__(self, *incoming: Message, hold: bool = False) -> None:
        self.incoming = list(incoming)
        self.hold = hold
        self.sent: list[dict[str, Any]] = []
        self.closed = asyncio.Event()

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str:
        await asyncio.sleep(0)
        if self.incoming:
            item = self.incoming.pop(0)
            if isinstance(item, Exception):
                raise item
            return json.dumps(item)
        if self.hold:
            await self.closed.wait()
        raise closed()

    async def close(self) -> None:
        self.closed.set()


class FakeServer:
    """A connection factory: each connect takes the next script (a socket or an error)."""

    def __init__(self, *scripts: FakeSocket | Exception) -> None:
        self.scripts = list(scripts)
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.monitor: MonitorClient | None = None

    async def __call__(self, url: str, headers: Mapping[str, str]) -> MonitorConnection:
        self.calls.append((url, dict(headers)))
        if not self.scripts:
            assert self.monitor is not None
            self.monitor.stop()
            raise OSError("no more scripts")
        script = self.scripts.pop(0)
        if isinstance(script, Exception):
            raise script
        return script


class Run:
    """A monitor on a FakeServer, collecting what it delivers."""

    def __init__(
        self,
        server: FakeServer,
        *,
        after: int | None = 0,
        catch_up: Any = None,
        stop_after: int | None = None,
        monitor_filter: MonitorFilter | None = None,
        backoff: Backoff | None = None,
        read_timeout: float = 5,
    ) -> None:
        self.events: list[LoggedEvent] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.states: list[MonitorState] = []
        self.stop_after = stop_after
        self.monitor = MonitorClient(
            "http://desk.example:8000",
            "secret",
            monitor_filter=monitor_filter or MonitorFilter(),
            after=after,
            on_event=self.on_event,
            catch_up=catch_up,
            on_state=self.states.append,
            connect=server,
            heartbeat_events=self.on_heartbeat,
            backoff=backoff or Backoff(base=0.001, cap=0.01),
            read_timeout=read_timeout,
        )
        server.monitor = self.monitor

    async def on_event(self, e: LoggedEvent) -> None:
        self.events.append(e)
        if self.stop_after is not None and len(self.events) >= self.stop_after:
            self.monitor.stop()

    async def on_heartbeat(self, beat: dict[str, Any]) -> None:
        self.heartbeats.append(beat)

    @property
    def seqs(self) -> list[int | None]:
        return [e.seq for e in self.events]

    async def run(self) -> None:
        await asyncio.wait_for(self.monitor.run(), 10)


def test_monitor_url() -> None:
    assert monitor_url("http://h:1/") == "ws://h:1/api/v1/contracts/monitor"
    assert monitor_url("https://h") == "wss://h/api/v1/contracts/monitor"


async def test_subscribes_with_filter_key_and_after() -> None:
    socket = FakeSocket(subscribed(5), event(6))
    server = FakeServer(socket)
    wanted = MonitorFilter(
        contract_ids=frozenset({"c1"}), statuses=frozenset({"active"}), include_heartbeats=True
    )
    run = Run(server, after=5, stop_after=1, monitor_filter=wanted)
    await run.run()
    url, headers = server.calls[0]
    assert url == "ws://desk.example:8000/api/v1/contracts/monitor"
    assert headers["Authorization"] == "Bearer secret"
    assert socket.sent[0] == {
        "contract_ids": ["c1"],
        "statuses": ["active"],
        "include_stale": True,
        "include_heartbeats": True,
        "after": 5,
    }
    assert run.seqs == [6] and run.monitor.last_seq == 6


async def test_resumes_after_a_disconnect_with_the_last_seq() -> None:
    first = FakeSocket(subscribed(0), event(1), event(2))  # then the connection drops
    second = FakeSocket(subscribed(2), event(3))
    server = FakeServer(first, second)
    run = Run(server, after=0, stop_after=3)
    await run.run()
    assert run.seqs == [1, 2, 3]
    assert first.sent[0]["after"] == 0
    assert second.sent[0]["after"] == 2


async def test_resumes_after_a_read_error_and_a_refused_connect() -> None:
    first = FakeSocket(subscribed(0), event(1), OSError("reset by peer"))
    second = FakeSocket(subscribed(1), event(2))
    server = FakeServer(first, OSError("refused"), TimeoutError(), second)
    run = Run(server, after=0, stop_after=2)
    await run.run()
    assert run.seqs == [1, 2]
    assert second.sent[0]["after"] == 1
    assert len(server.calls) == 4


async def test_duplicates_are_dropped_across_a_reconnect() -> None:
    first = FakeSocket(subscribed(0), event(1), event(2), event(2), event(1))
    # a replay that overlaps what was already delivered
    second = FakeSocket(subscribed(3), event(2), event(3), event(3), event(4))
    run = Run(FakeServer(first, second), after=0, stop_after=4)
    await run.run()
    assert run.seqs == [1, 2, 3, 4]


async def test_a_gap_is_filled_through_catch_up_before_delivering() -> None:
    calls: list[int] = []

    async def catch_up(after: int) -> EventPage:
        calls.append(after)
        missed = [e for e in (event(2), event(3)) if e["seq"] > after]
        return EventPage([event_from_wire(e) for e in missed], 3)

    socket = FakeSocket(subscribed(0), event(1), event(4), event(3), event(5))
    run = Run(FakeServer(socket), after=0, catch_up=catch_up, stop_after=5)
    await run.run()
    assert run.seqs == [1, 2, 3, 4, 5]
    assert calls == [1]


async def test_a_gap_with_nothing_missing_costs_one_catch_up() -> None:
    calls: list[int] = []

    async def catch_up(after: int) -> EventPage:
        calls.append(after)
        return EventPage([], after)  # the gap was another owner's events

    socket = FakeSocket(subscribed(0), event(1), event(7), event(8))
    run = Run(FakeServer(socket), after=0, catch_up=catch_up, stop_after=3)
    await run.run()
    assert run.seqs == [1, 7, 8]
    assert calls == [1]  # 8 follows 7: no second catch-up


async def test_catch_up_applies_the_contract_filter() -> None:
    async def catch_up(after: int) -> EventPage:
        return EventPage([event_from_wire(event(2, "other")), event_from_wire(event(3))], 3)

    socket = FakeSocket(subscribed(0), event(1), event(4))
    wanted = MonitorFilter(contract_ids=frozenset({"c1"}))
    run = Run(FakeServer(socket), catch_up=catch_up, monitor_filter=wanted, stop_after=3)
    await run.run()
    assert run.seqs == [1, 3, 4]
    assert run.monitor.last_seq == 4


async def test_heartbeats_and_pings_do_not_move_last_seq() -> None:
    beat = {"seq": None, "type": "heartbeat", "contract_id": "c1", "at": "2026-01-01T00:00:00Z"}
    socket = FakeSocket(subscribed(0), {"type": "ping"}, beat, {"type": "future"}, event(1))
    run = Run(FakeServer(socket), stop_after=1)
    await run.run()
    assert run.seqs == [1]
    assert run.heartbeats == [beat]


async def test_start_live_takes_the_servers_head() -> None:
    first = FakeSocket(subscribed(41), event(42))
    second = FakeSocket(subscribed(42), event(43))
    run = Run(FakeServer(first, second), after=None, stop_after=2)
    await run.run()
    assert "after" not in first.sent[0]
    assert second.sent[0]["after"] == 42
    assert run.seqs == [42, 43]


async def test_backoff_grows_while_failing_and_resets_after_a_subscription() -> None:
    backoff = Backoff(base=0.001, cap=0.004, jitter=lambda: 1.0)
    server = FakeServer(
        OSError("down"),
        OSError("down"),
        OSError("down"),
        OSError("down"),
        FakeSocket(subscribed(0)),  # subscribed, then dropped
        OSError("down"),
    )
    run = Run(server, backoff=backoff)
    await run.run()  # ends when the scripts run out
    assert backoff.delays[:6] == [0.001, 0.002, 0.004, 0.004, 0.001, 0.002]


def test_backoff_jitter_stays_between_half_and_full() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.next_delay() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))


async def test_states_follow_the_connection() -> None:
    socket = FakeSocket(subscribed(2), event(1), event(2), {"type": "ping"}, hold=True)
    run = Run(FakeServer(socket), after=0)

    def note(state: MonitorState) -> None:
        run.states.append(state)
        if state is MonitorState.LIVE:
            run.monitor.stop()

    run.monitor._on_state = note
    await run.run()
    assert run.states == [
        MonitorState.CONNECTING,
        MonitorState.CATCHING_UP,
        MonitorState.LIVE,
        MonitorState.DISCONNECTED,
    ]
    assert socket.closed.is_set()


async def test_unauthorized_close_ends_run_with_api_error() -> None:
    socket = FakeSocket(closed(4401, "UNAUTHORIZED: unknown key"))
    run = Run(FakeServer(socket, FakeSocket(subscribed(0))))
    with pytest.raises(ApiError) as caught:
        await run.run()
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHORIZED")
    assert "unknown key" in caught.value.message


async def test_a_handler_error_propagates_and_the_event_is_not_counted() -> None:
    socket = FakeSocket(subscribed(0), event(1), event(2))
    run = Run(FakeServer(socket))

    async def explode(e: LoggedEvent) -> None:
        if e.seq == 2:
            raise RuntimeError("handler bug")

    run.monitor._on_event = explode
    with pytest.raises(RuntimeError):
        await run.run()
    assert run.monitor.last_seq == 1


async def test_subscribing_behind_the_head_catches_up_through_the_log_and_goes_live() -> None:
    calls: list[int] = []

    async def catch_up(after: int) -> EventPage:
        calls.append(after)
        page = [event_from_wire(event(s)) for s in (3, 5) if s > after]
        return EventPage(page, page[-1].seq or after if page else after)

    # head 10: events 6..10 were other owners'; the server's replay (3, 5) then repeats
    socket = FakeSocket(subscribed(10), event(3), event(5), event(11))
    run = Run(FakeServer(socket), after=0, catch_up=catch_up, stop_after=3)
    run.monitor._on_state = run.states.append
    await run.run()
    assert run.seqs == [3, 5, 11]
    assert calls == [0, 5]
    assert run.states[:3] == [
        MonitorState.CONNECTING,
        MonitorState.CATCHING_UP,
        MonitorState.LIVE,
    ]


async def test_a_silent_connection_is_dropped_after_the_read_timeout() -> None:
    silent = FakeSocket(subscribed(0), hold=True)  # never says anything again
    fresh = FakeSocket(subscribed(0), event(1))
    run = Run(FakeServer(silent, fresh), stop_after=1, read_timeout=0.05)
    await run.run()
    assert run.seqs == [1]
    assert silent.closed.is_set()
    assert fresh.sent[0]["after"] == 0


async def test_stop_while_connecting_closes_the_new_connection() -> None:
    socket = FakeSocket(subscribed(0), hold=True)
    run: Run

    async def slow_connect(url: str, headers: Mapping[str, str]) -> MonitorConnection:
        run.monitor.stop()
        return socket

    run = Run(FakeServer())
    run.monitor._connect = slow_connect
    await run.run()
    assert socket.closed.is_set() and socket.sent == []


async def test_a_failed_catch_up_reconnects_and_retries() -> None:
    calls: list[int] = []

    async def catch_up(after: int) -> EventPage:
        calls.append(after)
        if len(calls) == 1:
            raise ConnectionFailed("server went away")
        logged = [event_from_wire(event(s)) for s in (2, 3) if s > after]
        return EventPage(logged, 3)

    first = FakeSocket(subscribed(0), event(1), event(3))
    second = FakeSocket(subscribed(3), event(3))
    run = Run(FakeServer(first, second), catch_up=catch_up, stop_after=3)
    await run.run()
    assert run.seqs == [1, 2, 3]
    assert calls == [1, 1]
    assert second.sent[0]["after"] == 1


async def test_a_refused_catch_up_ends_run() -> None:
    async def catch_up(after: int) -> EventPage:
        raise ApiError(401, "UNAUTHORIZED", "key revoked")

    socket = FakeSocket(subscribed(0), event(1), event(3))
    run = Run(FakeServer(socket), catch_up=catch_up)
    with pytest.raises(ApiError) as caught:
        await run.run()
    assert caught.value.code == "UNAUTHORIZED"


async def test_the_default_connector_verifies_tls_and_keeps_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[dict[str, Any]] = []

    async def fake_connect(url: str, **options: Any) -> FakeSocket:
        seen.append({"url": url, **options})
        return FakeSocket()

    monkeypatch.setattr("sync.monitor_transport.websockets.connect", fake_connect)
    await websocket_connector()("wss://desk/x", {"Authorization": "Bearer k"})
    await websocket_connector(False)("wss://desk/x", {})
    await websocket_connector()("ws://desk/x", {})
    verified, unverified, plain = seen
    assert verified["ssl"].verify_mode is ssl.CERT_REQUIRED and verified["ssl"].check_hostname
    assert verified["additional_headers"] == {"Authorization": "Bearer k"}
    assert verified["ping_interval"] and verified["ping_timeout"]
    assert unverified["ssl"].verify_mode is ssl.CERT_NONE
    assert plain["ssl"] is None
