"""SyncService against a real server: going live, following changes, resuming, the outbox."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.status import ContractStatus
from sync.monitor import Backoff
from sync.observers import Observers
from sync.outbox import OutboxState
from sync.service import MOVES, ConnectionState, IllegalConnectionMove, SyncService, check_move
from tests.sync.replica_support import Driver, assert_same, ok, replica_state, server_state
from tests.sync.server_fixture import ServerProcess

C = ConnectionState


@pytest.fixture
def server(request: pytest.FixtureRequest) -> ServerProcess:
    """The module's server, or (tests named `*_restarts_*`) one of the test's own."""
    name = "fresh_server" if "_restarts_" in request.node.name else "sync_server"
    found: ServerProcess = request.getfixturevalue(name)
    return found


@pytest.fixture
def driver(server: ServerProcess) -> Iterator[Driver]:
    d = Driver(server)
    yield d
    d.close()


@pytest.fixture
async def service(server: ServerProcess, tmp_path: Path) -> AsyncIterator[SyncService]:
    s = SyncService(
        tmp_path / "replica.db",
        server.base_url,
        server.reviewer_key,
        backoff=Backoff(base=0.05, cap=0.5),
        flush_interval=0.2,
        timeout=5.0,
    )
    yield s
    await s.stop()


async def eventually(check: object, within: float = 20.0) -> None:
    """Wait until `check()` (sync or async) is true."""
    async with asyncio.timeout(within):
        while True:
            result = check()  # type: ignore[operator]
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


def test_the_connection_table() -> None:
    assert set(MOVES) == set(ConnectionState)
    check_move(C.OFFLINE, C.CONNECTING)
    with pytest.raises(IllegalConnectionMove) as raised:
        check_move(C.OFFLINE, C.LIVE)
    assert "allowed from 'offline': connecting" in raised.value.message


async def test_goes_live_and_follows_the_server(
    server: ServerProcess, driver: Driver, service: SyncService
) -> None:
    first = driver.start("before")["id"]
    states: list[ConnectionState] = []
    service.state_changed.subscribe(states.append)
    await service.start()
    async with asyncio.timeout(20):
        await service.wait_live()
    assert states == [C.CONNECTING, C.CATCHING_UP, C.LIVE]
    assert (await service.replica.contract(first)).contract.status is ContractStatus.ACTIVE

    changed: list[frozenset[str]] = []
    service.contracts_changed.subscribe(changed.append)
    later = driver.lifecycle("during")
    driver.status(first, "paused")

    async def paused() -> bool:
        return (await service.replica.contract(first)).contract.status is ContractStatus.PAUSED

    await eventually(paused)
    await eventually(lambda: any(later in ids for ids in changed))
    await service.settle()
    assert_same(server_state(server), await replica_state(service.replica))


async def test_resumes_after_the_server_restarts_with_every_event_once(
    server: ServerProcess, driver: Driver, service: SyncService
) -> None:
    driver.burst(2)
    await service.start()
    async with asyncio.timeout(20):
        await service.wait_live()
    ids = [driver.lifecycle(f"stream-{i}") for i in range(3)]
    server.stop()  # in the middle of the stream
    await eventually(lambda: service.state is C.OFFLINE)
    server.start()
    for cid in ids:
        driver.status(cid, "paused")
    driver.lifecycle("after restart")
    async with asyncio.timeout(30):
        await service.wait_live()

    expected = server_state(server)

    async def caught_up() -> bool:
        events = (await service.replica.events(limit=1000)).events
        return bool(events) and events[-1].seq == expected["events"][-1]["seq"]

    await eventually(caught_up)
    await service.settle()
    local = await replica_state(service.replica)
    seqs = [e["seq"] for e in local["events"]]
    assert len(seqs) == len(set(seqs))
    assert_same(expected, local)


async def test_actions_go_through_the_outbox_and_come_back_as_events(
    server: ServerProcess, driver: Driver, service: SyncService
) -> None:
    cid = driver.start("act on me")["id"]
    waiting = driver.start("asks")["id"]
    qid = driver.ask(waiting, "Go?", ["yes", "no"])
    seen: list[tuple[int, OutboxState]] = []
    await service.start()
    service.outbox_changed.subscribe(lambda e: seen.append((e.id, e.state)))
    async with asyncio.timeout(20):
        await service.wait_live()
    pause = await service.outbox.pause(cid)
    answer = await service.outbox.answer_question(waiting, qid, "yes")

    async def done() -> bool:
        entries = await service.outbox.entries()
        return all(e.state is OutboxState.APPLIED for e in entries)

    await eventually(done)
    for entry in (pause, answer):
        assert [state for i, state in seen if i == entry.id] == [
            OutboxState.QUEUED,
            OutboxState.SENDING,
            OutboxState.APPLIED,
        ]

    async def reflected() -> bool:
        detail = await service.replica.contract(cid)
        asked = await service.replica.contract(waiting)
        return detail.contract.status is ContractStatus.PAUSED and not asked.pending_questions

    await eventually(reflected)
    history = await service.replica.history(cid)
    assert [e.payload.get("new_status") for e in history if e.type.value == "status_changed"][
        -1
    ] == "paused"
    assert pause.idempotency_key != answer.idempotency_key


async def test_offline_mode_reads_and_queues_without_connecting(
    server: ServerProcess, driver: Driver, tmp_path: Path
) -> None:
    cid = driver.start("offline")["id"]
    online = SyncService(tmp_path / "r.db", server.base_url, server.reviewer_key)
    await online.start()
    async with asyncio.timeout(20):
        await online.wait_live()
    await online.stop()

    offline = SyncService(tmp_path / "r.db", server.base_url, server.reviewer_key)
    states: list[ConnectionState] = []
    offline.state_changed.subscribe(states.append)
    await offline.start(offline=True)
    try:
        page = await offline.replica.list_contracts(now=datetime.now(UTC))
        assert cid in {c.id for c in page.contracts}
        entry = await offline.outbox.pause(cid)
        await asyncio.sleep(0.3)
        assert (await offline.outbox.get(entry.id)).state is OutboxState.QUEUED
        assert offline.state is C.OFFLINE and states == []
    finally:
        await offline.stop()


async def test_a_refused_key_stops_trying(server: ServerProcess, tmp_path: Path) -> None:
    bad = SyncService(tmp_path / "r.db", server.base_url, "not-a-key")
    await bad.start()
    try:
        await eventually(lambda: bad.fatal is not None)
        assert bad.fatal is not None and bad.fatal.code == "UNAUTHORIZED"
        assert bad.state is C.OFFLINE
    finally:
        await bad.stop()


async def test_observers_call_back_and_stream(caplog: pytest.LogCaptureFixture) -> None:
    news: Observers[int] = Observers("numbers")
    got: list[int] = []

    def broken(_: int) -> None:
        raise RuntimeError("observer bug")

    news.subscribe(broken)
    unsubscribe = news.subscribe(got.append)
    stream = news.stream()
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # the stream registers its queue
    news.publish(1)
    news.publish(2)
    assert await first == 1 and await anext(stream) == 2
    unsubscribe()
    news.publish(3)
    assert got == [1, 2]  # a failing observer does not stop the others
    assert "observer bug" in caplog.text
    await stream.aclose()


async def test_heartbeats_update_supervisor_liveness(
    server: ServerProcess, driver: Driver, service: SyncService
) -> None:
    contract = driver.start("beating")
    cid, task_id = contract["id"], contract["supervisorTaskId"]
    await service.start()
    async with asyncio.timeout(20):
        await service.wait_live()
    beat = {"task_id": task_id, "state": "working", "phase": "plan", "progress": 40}
    beat["current_activity"] = "writing the plan"
    ok(driver.supervisor.post(f"/contracts/{cid}/supervisor/heartbeat", json=beat))

    async def heard() -> bool:
        status = await service.replica.supervisor_status(
            cid, now=datetime.now(UTC), heartbeat_timeout=timedelta(seconds=120)
        )
        return status is not None and status.progress == 40 and status.alive

    await eventually(heard)
    await service.refresh_supervisor(cid)  # the server's own view replaces it
    history = await service.replica.heartbeats(cid)
    assert [h.progress for h in history] == [40]
    assert history[0].current_activity == "writing the plan"


async def test_resumes_after_the_server_restarts_killed_mid_burst(
    server: ServerProcess, driver: Driver, service: SyncService
) -> None:
    await service.start()
    async with asyncio.timeout(20):
        await service.wait_live()
    stop = threading.Event()

    def burst() -> None:
        while not stop.is_set():
            try:
                driver.lifecycle("burst")
            except (httpx.HTTPError, AssertionError):
                return  # the server died under us: some operations are half done

    writer = threading.Thread(target=burst)
    writer.start()
    await asyncio.sleep(1.5)
    server.kill()  # SIGKILL in the middle of the stream
    stop.set()
    await asyncio.to_thread(writer.join, 30)
    await eventually(lambda: service.state is C.OFFLINE)
    server.restart()
    more = Driver(server)
    try:
        for _ in range(2):
            more.lifecycle("after")
    finally:
        more.close()
    async with asyncio.timeout(30):
        await service.wait_live()
    expected = server_state(server)

    async def caught_up() -> bool:
        events = (await service.replica.events(limit=1000)).events
        return bool(events) and events[-1].seq == expected["events"][-1]["seq"]

    await eventually(caught_up)
    await service.settle()
    local = await replica_state(service.replica)
    seqs = [e["seq"] for e in local["events"]]
    assert len(seqs) == len(set(seqs)) > 20
    assert_same(expected, local)
