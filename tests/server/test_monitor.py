"""The monitor WebSocket against a live uvicorn: auth, filters, replay then live, slow clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import websockets

from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.events import EventType, LoggedEvent, MonitorFilter
from core.store import queries
from core.store.queries import events_after
from core.supervisor import Heartbeat, SupervisorState
from server import monitor
from server.context import ServerContext
from server.heartbeats import HeartbeatWriter
from server.notify import CoalescingAnnouncer, PgEventBridge
from server.services import BackgroundServices
from tests.pg import plain_dsn
from tests.server.harness import (
    LiveServer,
    active_contract,
    admin,
    context_on,
    eventually,
    make_key,
    monitor_app,
    new_contract,
    pg_url,
    quiet,
    receive_until,
    sqlite_url,
    subscribe,
    supervisor,
)

__all__ = ["pg_url", "sqlite_url"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def ctx(sqlite_url: str, clock: ManualClock) -> AsyncIterator[ServerContext]:
    config = ContractTimeoutConfig(monitor_ws_buffer_size=50)
    async with context_on(sqlite_url, clock=clock, config=config) as context:
        yield context


@pytest.fixture
async def live(ctx: ServerContext) -> AsyncIterator[LiveServer]:
    async with LiveServer(monitor_app(ctx)) as server:
        yield server


@pytest.fixture
async def key(ctx: ServerContext) -> str:
    return await make_key(ctx, "alice", "reviewer")


def seqs(frames: list[dict[str, Any]]) -> list[int]:
    return [f["seq"] for f in frames if f.get("seq") is not None]


async def all_seqs(ctx: ServerContext, owner: str, after: int = 0) -> list[int]:
    page = await events_after(ctx.store, owner, after=after, limit=1000)
    return [e.seq for e in page.events if e.seq is not None]


async def closed_with(ws: Any, within: float = 5.0) -> tuple[int | None, str]:
    """Read until the server closes; the close code and reason it sent."""
    async with asyncio.timeout(within):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame is not None else (None, "")


# --- authentication and the subscription message -----------------------------------------


async def test_missing_or_unknown_key_is_closed_with_4401(live: LiveServer) -> None:
    for url in (live.monitor_url, live.monitor_url + "?api_key=cdk_nope"):
        async with websockets.connect(url) as ws:
            code, reason = await closed_with(ws)
        assert code == monitor.CLOSE_UNAUTHORIZED and reason.startswith("UNAUTHORIZED")


@pytest.mark.parametrize("header", ["authorization", "x-makima-api-key"])
async def test_key_in_a_header_is_accepted(live: LiveServer, key: str, header: str) -> None:
    value = f"Bearer {key}" if header == "authorization" else key
    async with websockets.connect(live.monitor_url, additional_headers={header: value}) as ws:
        await ws.send("{}")
        assert orjson.loads(await ws.recv()) == {"type": "subscribed", "last_seq": 0}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("not json", "JSON object"),
        ("[1, 2]", "JSON object"),
        ('{"statuses": ["sleeping"]}', "unknown status"),
        ('{"after": -1}', "after must be"),
        ('{"after": "5"}', "after must be"),
        ('{"contract_ids": "abc"}', "contract_ids"),
        ('{"include_stale": "yes"}', "include_stale"),
        ('{"contract": ["x"]}', "unknown key"),
    ],
)
async def test_invalid_subscription_is_closed_with_4400(
    live: LiveServer, key: str, message: str, reason: str
) -> None:
    async with websockets.connect(f"{live.monitor_url}?api_key={key}") as ws:
        await ws.send(message)
        code, why = await closed_with(ws)
    assert code == monitor.CLOSE_BAD_SUBSCRIPTION and reason in why, why


def test_subscription_accepts_camel_case_and_defaults() -> None:
    wanted = monitor.parse_subscription(
        {"contractIds": ["a"], "statuses": ["Active"], "includeHeartbeats": True, "after": 3}
    )
    assert wanted.contract_ids == frozenset({"a"}) and wanted.statuses == frozenset({"active"})
    assert wanted.include_heartbeats and wanted.include_stale and wanted.after == 3
    default = monitor.parse_subscription({"type": "subscribe"})
    assert default.include_stale and not default.include_heartbeats and default.after is None


# --- live events and filters ---------------------------------------------------------------


async def test_live_events_arrive_in_seq_order_and_only_the_owners(
    ctx: ServerContext, live: LiveServer, key: str
) -> None:
    ws, head = await subscribe(live.monitor_url, key, {})
    async with ws:
        await active_contract(ctx, "bob")
        cid = await active_contract(ctx, "alice")
        mine = await all_seqs(ctx, "alice", head)
        frames = await receive_until(ws, lambda f: len(f) >= len(mine))
        assert seqs(frames) == mine and {f["contract_id"] for f in frames} == {cid}
        assert [f["type"] for f in frames] == ["contract_created", "task_created", "status_changed"]
        assert await quiet(ws) == []


async def test_contract_ids_filter(ctx: ServerContext, live: LiveServer, key: str) -> None:
    a = await active_contract(ctx)
    b = await active_contract(ctx)
    ws, _ = await subscribe(live.monitor_url, key, {"contract_ids": [b]})
    async with ws:
        for cid in (a, b):
            ctx.publish((await ctx.repo.ask_question(cid, supervisor(), "?", "free_text")).events)
        frames = await receive_until(ws, lambda f: len(f) >= 2)
        assert {f["contract_id"] for f in frames} == {b}
        assert await quiet(ws) == []


async def test_include_stale_and_include_heartbeats(
    ctx: ServerContext, live: LiveServer, key: str, clock: ManualClock
) -> None:
    cid = await active_contract(ctx)
    plain, _ = await subscribe(live.monitor_url, key, {"include_stale": False})
    everything, _ = await subscribe(
        live.monitor_url, key, {"include_stale": True, "include_heartbeats": True}
    )
    async with plain, everything:
        clock.advance(minutes=31)
        await BackgroundServices(ctx).run_once()
        writer = HeartbeatWriter(ctx)
        sup = (await queries.get_contract(ctx.store, cid, None)).contract.supervisor_task_id
        beat = Heartbeat(
            sup or "t", cid, SupervisorState.WORKING, "plan", "typing", 5, (), clock.now()
        )
        await writer.submit([beat], "alice")
        frames = await receive_until(everything, lambda f: len(f) >= 3)
        # The first heartbeat also logs the supervisor's state (a durable event).
        assert [f["type"] for f in frames] == [
            "stale_detected",
            "supervisor_state_changed",
            "heartbeat",
        ]
        assert frames[2]["seq"] is None and frames[2]["activity"] == "typing"
        assert [f["type"] for f in await quiet(plain)] == ["supervisor_state_changed"]


async def scenario(ctx: ServerContext, clock: ManualClock) -> list[str]:
    """Contracts moving through several statuses, with interleaved events."""
    a = await active_contract(ctx)
    b = await active_contract(ctx, phase_guard=False)
    c = await new_contract(ctx)
    for step in (
        ctx.repo.ask_question(a, supervisor(), "Which?", "choice", choices=["x", "y"]),
        ctx.repo.mark_deliverable(b, supervisor(), "plan-document"),
        ctx.repo.change_status(b, admin(), "paused"),
        ctx.repo.change_status(b, admin(), "active"),
        ctx.repo.change_status(c, admin(), "failed", reason="broken"),
    ):
        ctx.publish((await step).events)
    clock.advance(minutes=31)
    await BackgroundServices(ctx).run_once()
    return [a, b, c]


@pytest.mark.parametrize(
    "subscription",
    [
        {"statuses": ["waiting_for_input"]},
        {"statuses": ["active", "paused"]},
        {"statuses": ["failed", "created"], "include_stale": False},
        {"include_stale": False},
    ],
)
async def test_replay_filters_exactly_like_the_live_stream(
    ctx: ServerContext, live: LiveServer, key: str, clock: ManualClock, subscription: dict[str, Any]
) -> None:
    """The statuses filter needs each contract's status after each event; both paths agree."""
    ws, head = await subscribe(live.monitor_url, key, subscription)
    async with ws:
        await scenario(ctx, clock)
        last = (await all_seqs(ctx, "alice"))[-1]
        ctx.publish([_marker(ctx, last + 1)])  # a last event everyone receives
        live_frames = await receive_until(ws, lambda f: bool(f) and f[-1]["seq"] == last + 1)
    replay, _ = await subscribe(live.monitor_url, key, {**subscription, "after": head})
    async with replay:
        replayed = await quiet(replay, 0.5)
    assert [f for f in live_frames[:-1]] == replayed
    assert replayed, "the scenario must produce events for every filter"


def _marker(ctx: ServerContext, seq: int) -> LoggedEvent:
    # Delivered live only (never stored): lets a test know the stream has caught up.
    return LoggedEvent(
        seq, ctx.clock.now(), EventType.CONTRACT_UPDATED, "marker", admin(), {}, "alice"
    )


async def test_statuses_filter_follows_the_status_after_each_event(
    ctx: ServerContext, live: LiveServer, key: str, clock: ManualClock
) -> None:
    a, b, c = await scenario(ctx, clock)
    ws, _ = await subscribe(live.monitor_url, key, {"statuses": ["paused"], "after": 0})
    async with ws:
        frames = await receive_until(ws, lambda f: len(f) >= 1)
        assert await quiet(ws) == []
    assert [(f["contract_id"], f["type"]) for f in frames] == [(b, "status_changed")]
    assert frames[0]["new_status"] == "paused"
    assert a and c


# --- replay, then live ----------------------------------------------------------------------


async def test_replay_then_live_without_gaps_or_duplicates_under_concurrent_writes(
    ctx: ServerContext, live: LiveServer, key: str
) -> None:
    ids = [await active_contract(ctx) for _ in range(3)]
    start = (await all_seqs(ctx, "alice"))[2]
    stop = asyncio.Event()

    async def writer(cid: str) -> None:
        while not stop.is_set():
            applied = await ctx.repo.ask_question(cid, supervisor(), "?", "free_text")
            ctx.publish(applied.events)
            await asyncio.sleep(0)

    writers = [asyncio.create_task(writer(cid)) for cid in ids]
    try:
        await asyncio.sleep(0.05)
        ws, head = await subscribe(live.monitor_url, key, {"after": start})
        await asyncio.sleep(0.1)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    async with ws:
        expected = await all_seqs(ctx, "alice", start)
        frames = await receive_until(ws, lambda f: len(f) >= len(expected), within=10)
        assert await quiet(ws) == []
    got = seqs(frames)
    assert got == expected  # each once, strictly increasing, none missing
    assert head > start and any(s > head for s in got)  # both replay and live were exercised


async def test_after_beyond_the_head_replays_nothing(
    ctx: ServerContext, live: LiveServer, key: str
) -> None:
    await active_contract(ctx)
    ws, head = await subscribe(live.monitor_url, key, {"after": 10_000})
    async with ws:
        assert head == 3 and await quiet(ws) == []


async def test_replay_pages_through_more_than_one_page(
    ctx: ServerContext, live: LiveServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitor, "MAX_LIMIT", 4)
    cid = await active_contract(ctx)
    for _ in range(6):
        ctx.publish((await ctx.repo.ask_question(cid, supervisor(), "?", "free_text")).events)
    expected = await all_seqs(ctx, "alice")
    ws, _ = await subscribe(live.monitor_url, key, {"after": 0, "contract_ids": [cid]})
    async with ws:
        frames = await receive_until(ws, lambda f: len(f) >= len(expected))
    assert seqs(frames) == expected


# --- slow consumers, keep-alive, disconnects ----------------------------------------------


def _tiny_receive_buffer_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def test_slow_client_is_dropped_with_a_reason_and_resumes_with_after(
    sqlite_url: str, clock: ManualClock
) -> None:
    config = ContractTimeoutConfig(monitor_ws_buffer_size=8)
    async with context_on(sqlite_url, clock=clock, config=config) as ctx:
        key = await make_key(ctx, "alice", "reviewer")
        # Many contracts, so no write reloads a long list of big pending questions.
        cids = [await active_contract(ctx) for _ in range(30)]
        async with LiveServer(monitor_app(ctx)) as live:
            url = f"{live.monitor_url}?api_key={key}"
            slow = await websockets.connect(
                url, sock=_tiny_receive_buffer_socket(live.port), max_queue=1, max_size=None
            )
            await slow.send("{}")
            assert orjson.loads(await slow.recv())["type"] == "subscribed"
            fast, head = await subscribe(live.monitor_url, key, {}, max_size=None)
            received: list[dict[str, Any]] = []

            async def read_fast() -> None:
                with contextlib.suppress(websockets.ConnectionClosed):
                    async for message in fast:
                        received.append(orjson.loads(message))

            reader = asyncio.create_task(read_fast())
            for i in range(300):  # up to ~20 MB, incompressible: more than buffers hold
                big = base64.b64encode(os.urandom(48_000)).decode()
                asked = await ctx.repo.ask_question(cids[i % 30], supervisor(), big, "free_text")
                ctx.publish(asked.events)
                await asyncio.sleep(0.001)
                if any(s.dropped_reason for s in ctx.hub._subscribers):
                    break
            dropped = [s for s in ctx.hub._subscribers if s.dropped_reason]
            assert len(dropped) == 1, "the slow client was never dropped"
            expected = await all_seqs(ctx, "alice", head)
            await eventually(lambda: seqs(received) == expected, within=10)

            got: list[int] = []
            try:
                async with asyncio.timeout(10):
                    async for message in slow:
                        got.append(orjson.loads(message)["seq"])
            except websockets.ConnectionClosed:
                pass
            assert slow.close_code == monitor.CLOSE_SLOW_CONSUMER
            assert "after" in (slow.close_reason or "")
            assert got == expected[: len(got)]  # what it did get was in order, no gap

            resumed, _ = await subscribe(
                live.monitor_url, key, {"after": got[-1] if got else head}, max_size=None
            )
            async with resumed:
                rest = await receive_until(resumed, lambda f: len(f) >= len(expected) - len(got))
            assert got + seqs(rest) == expected
            reader.cancel()
            await fast.close()


async def test_idle_connection_gets_pings(
    live: LiveServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitor, "PING_INTERVAL", 0.05)
    ws, _ = await subscribe(live.monitor_url, key, {})
    async with ws:
        frames = await receive_until(ws, lambda f: len(f) >= 2, skip_pings=False)
    assert frames == [{"type": "ping"}, {"type": "ping"}]


async def test_disconnect_unsubscribes(ctx: ServerContext, live: LiveServer, key: str) -> None:
    ws, _ = await subscribe(live.monitor_url, key, {})
    assert ctx.hub.subscriber_count == 1
    await ws.close()
    await eventually(lambda: ctx.hub.subscriber_count == 0)


async def test_hub_shutdown_closes_with_going_away(
    ctx: ServerContext, live: LiveServer, key: str
) -> None:
    ws, _ = await subscribe(live.monitor_url, key, {})
    async with ws:
        await ctx.hub.close()
        code, reason = await closed_with(ws)
    assert code == monitor.CLOSE_GOING_AWAY and "after" in reason


# --- several server processes on one PostgreSQL database ------------------------------------


async def test_event_bridge_does_nothing_on_sqlite(ctx: ServerContext) -> None:
    bridge = PgEventBridge(ctx)
    await bridge.start()
    assert ctx.announcer is None and not bridge.active
    await bridge.stop()


@pytest.mark.pg
async def test_two_processes_subscribers_see_every_event_once_in_order(pg_url: str) -> None:
    async with context_on(pg_url) as one, context_on(pg_url) as two:
        window = 0.01
        bridges = [PgEventBridge(one, window=window), PgEventBridge(two, window=window)]
        for bridge in bridges:
            await bridge.start()
        key = await make_key(one, "alice", "reviewer")
        try:
            async with (
                LiveServer(monitor_app(one)) as live_one,
                LiveServer(monitor_app(two)) as live_two,
            ):
                ws_one, head = await subscribe(live_one.monitor_url, key, {})
                ws_two, _ = await subscribe(live_two.monitor_url, key, {})
                writes = 0
                started = time.monotonic()

                async def writer(ctx: ServerContext, rounds: int) -> None:
                    nonlocal writes
                    cid = await active_contract(ctx)
                    writes += 3
                    for _ in range(rounds):
                        asked = await ctx.repo.ask_question(cid, supervisor(), "?", "free_text")
                        ctx.publish(asked.events)
                        writes += 1

                await asyncio.gather(*(writer(c, 15) for c in (one, two) for _ in range(8)))
                elapsed = time.monotonic() - started
                expected = await all_seqs(one, "alice", head)
                assert len(expected) > 16 * 15
                for ws in (ws_one, ws_two):
                    async with ws:
                        frames = await receive_until(
                            ws, lambda f: len(f) >= len(expected), within=15
                        )
                        assert seqs(frames) == expected  # each once, strictly increasing
                        assert await quiet(ws) == []
        finally:
            for bridge in bridges:
                await bridge.stop()
        sent = [b.announcer.notifications for b in bridges]
        announced = sum(b.announcer.announcements for b in bridges)
        print(f"{writes} writes in {elapsed:.2f}s, {announced} announcements, NOTIFYs {sent}")
        assert announced == writes
        # Commit-bound writes here come about one per window, so the saving is small; the
        # rule checked is "at most one per window" (the burst test shows the saving).
        assert sum(sent) < writes, sent
        for count in sent:
            assert count <= elapsed / window + 5


@pytest.mark.pg
async def test_a_burst_of_announcements_costs_one_notify_per_window(pg_url: str) -> None:
    async with context_on(pg_url) as one, context_on(pg_url) as two:
        sender, listener = PgEventBridge(one), PgEventBridge(two)
        await sender.start()
        await listener.start()
        try:
            started = time.monotonic()
            for seq in range(1, 5001):
                assert one.announcer is not None
                one.announcer.announce(seq)  # what ctx.publish does after each write
                if seq % 100 == 0:
                    await asyncio.sleep(0.001)
            await eventually(lambda: listener.last_heard == 5000, within=5)
            elapsed = time.monotonic() - started
        finally:
            await sender.stop()
            await listener.stop()
    sent = sender.announcer.notifications
    print(f"5000 announcements in {elapsed:.2f}s: {sent} NOTIFYs")
    assert sent <= elapsed / 0.01 + 2 and sent < 100
    assert listener.notifications_heard == sent


@pytest.mark.pg
async def test_event_bridge_reconnects_and_catches_up(pg_url: str) -> None:
    async with context_on(pg_url) as one, context_on(pg_url) as two:
        listening = PgEventBridge(one, poll_interval=0.2, reconnect_delay=0.05)
        announcing = PgEventBridge(two)
        await listening.start()
        await announcing.start()
        try:
            watch = one.hub.subscribe("alice", MonitorFilter())
            killer = await asyncpg.connect(plain_dsn(pg_url))
            try:
                await killer.execute("SELECT pg_terminate_backend($1)", listening._pid)
            finally:
                await killer.close()
            cid = await active_contract(two)  # written while `one` is reconnecting
            await eventually(lambda: watch.queue.qsize() >= 3, within=5)
            frames = [orjson.loads(watch.queue.get_nowait()) for _ in range(3)]
            assert [f["contract_id"] for f in frames] == [cid] * 3
            assert listening.connections == 2
            # And it listens again: a later write arrives by notification.
            await active_contract(two)
            await eventually(lambda: watch.queue.qsize() >= 3, within=5)
        finally:
            await listening.stop()
            await announcing.stop()
        assert one.announcer is None


async def test_announcer_coalesces_to_one_notify_per_window_and_sends_the_max() -> None:
    sent: list[int] = []

    async def send(seq: int) -> None:
        sent.append(seq)

    announcer = CoalescingAnnouncer(send, window=0.01)
    runner = asyncio.create_task(announcer.run())
    started = time.monotonic()
    for seq in range(1, 2001):
        announcer.announce(seq)
        if seq % 20 == 0:
            await asyncio.sleep(0.001)
    await eventually(lambda: bool(sent) and sent[-1] == 2000)
    elapsed = time.monotonic() - started
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    assert sent == sorted(set(sent))  # increasing, never the same seq twice
    assert len(sent) <= elapsed / 0.01 + 2 and len(sent) < 200
    announcer.announce(5)  # an older seq than already sent: nothing owed
    await announcer.flush()
    assert sent[-1] == 2000 and announcer.notifications == len(sent)


# --- through the whole application ----------------------------------------------------------


async def test_http_changes_and_heartbeats_reach_the_monitor_through_the_app(
    sqlite_url: str,
) -> None:
    from server.app import create_app

    async with context_on(sqlite_url) as ctx:
        key = await make_key(ctx, "alice", "admin")
        async with LiveServer(create_app(ctx), lifespan="on") as live:
            ws, _ = await subscribe(live.monitor_url, key, {"include_heartbeats": True})
            headers = {"Authorization": f"Bearer {key}"}
            async with ws, httpx.AsyncClient(base_url=live.url + "/api/v1", headers=headers) as api:
                created = await api.post("/contracts", json={"name": "n", "contractType": "simple"})
                cid = created.json()["id"]
                task = await api.post(
                    f"/contracts/{cid}/tasks", json={"name": "s", "isSupervisor": True}
                )
                beat = {"task_id": task.json()["id"], "state": "working", "phase": "plan"}
                answer = await api.post(f"/contracts/{cid}/supervisor/heartbeat", json=beat)
                assert answer.status_code == 202
                frames = await receive_until(ws, lambda f: len(f) >= 5)
    # A working heartbeat logs the supervisor's state and starts the created contract.
    assert [f["type"] for f in frames] == [
        "contract_created",
        "task_created",
        "supervisor_state_changed",
        "status_changed",
        "heartbeat",
    ]
    assert seqs(frames) == [1, 2, 3, 4] and frames[4]["seq"] is None
