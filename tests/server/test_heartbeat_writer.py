"""HeartbeatWriter: concurrent submits become few transactions; each answer means committed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from core.clock import ManualClock
from core.events import EventType, MonitorFilter
from core.store import queries
from core.store.queries import heartbeat_history, supervisor_status
from core.supervisor import Heartbeat, SupervisorState
from server.context import ServerContext
from server.heartbeats import HeartbeatWriter
from tests.server.harness import active_contract as _active_contract
from tests.server.harness import context_on, pg_url, sqlite_url

__all__ = ["pg_url", "sqlite_url"]  # fixtures used by parametrization below


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
async def any_ctx(db_url: str) -> AsyncIterator[ServerContext]:
    """On SQLite and on PostgreSQL (where the SQL differs: locks, upserts)."""
    async with context_on(db_url, clock=ManualClock()) as context:
        yield context


@pytest.fixture
async def ctx(sqlite_url: str) -> AsyncIterator[ServerContext]:
    async with context_on(sqlite_url, clock=ManualClock()) as context:
        yield context


# Each contract's supervisor task id: a heartbeat naming another task is refused.
SUPERVISORS: dict[str, str] = {}


async def active_contract(ctx: ServerContext, owner: str = "alice", **kwargs: Any) -> str:
    cid = await _active_contract(ctx, owner, **kwargs)
    detail = await queries.get_contract(ctx.store, cid, None)
    SUPERVISORS[cid] = detail.contract.supervisor_task_id or ""
    return cid


def beat(ctx: ServerContext, contract_id: str, n: int = 0, **changes: Any) -> Heartbeat:
    values: dict[str, Any] = {
        "task_id": SUPERVISORS.get(contract_id, "sup"),
        "contract_id": contract_id,
        "state": SupervisorState.WORKING,
        "phase": "plan",
        "current_activity": f"step {n}",
        "progress": n % 101,
        "pending_task_ids": (),
        "timestamp": ctx.clock.now() - timedelta(milliseconds=1000 - n % 1000),
    }
    values.update(changes)
    return Heartbeat(**values)


async def test_concurrent_submits_share_few_transactions_and_all_are_stored(
    any_ctx: ServerContext,
) -> None:
    ctx = any_ctx
    contracts = [await active_contract(ctx) for _ in range(5)]
    writer = HeartbeatWriter(ctx, max_batch=500, max_delay=0.005)
    await writer.start()
    try:
        beats = [beat(ctx, contracts[i % 5], i) for i in range(400)]
        results = await asyncio.gather(*(writer.submit([hb], "alice") for hb in beats))
    finally:
        await writer.stop()
    assert all(
        r.accepted == (hb,) and r.rejected == () for r, hb in zip(results, beats, strict=True)
    )
    assert writer.flushed == 400
    assert writer.transactions <= 4, writer.transactions  # 400 submits, a handful of commits
    for cid in contracts:
        stored = await heartbeat_history(ctx.store, cid, "alice", limit=1000)
        assert len(stored) == 80
    assert ctx.metrics.value("supervisor_heartbeats_total") == 400


async def test_unknown_and_foreign_contracts_are_rejected_per_heartbeat(
    any_ctx: ServerContext,
) -> None:
    ctx = any_ctx
    mine = await active_contract(ctx, "alice")
    theirs = await active_contract(ctx, "bob")
    writer = HeartbeatWriter(ctx)
    await writer.start()
    try:
        ok, missing, foreign, batch = await asyncio.gather(
            writer.submit([beat(ctx, mine, 1)], "alice"),
            writer.submit([beat(ctx, "no-such-contract", 2)], "alice"),
            writer.submit([beat(ctx, theirs, 3)], "alice"),
            writer.submit([beat(ctx, mine, 4), beat(ctx, theirs, 5)], "alice"),
        )
    finally:
        await writer.stop()
    assert len(ok.accepted) == 1 and not ok.rejected
    assert not missing.accepted and len(missing.rejected) == 1
    assert not foreign.accepted and len(foreign.rejected) == 1
    assert [hb.contract_id for hb in batch.accepted] == [mine]
    assert [hb.contract_id for hb in batch.rejected] == [theirs]
    assert len(await heartbeat_history(ctx.store, mine, "alice")) == 2
    assert await heartbeat_history(ctx.store, theirs, "bob") == []


async def test_owners_are_written_separately_in_one_flush(any_ctx: ServerContext) -> None:
    ctx = any_ctx
    a = await active_contract(ctx, "alice")
    b = await active_contract(ctx, "bob")
    writer = HeartbeatWriter(ctx, max_delay=0.02)
    await writer.start()
    try:
        ra, rb = await asyncio.gather(
            writer.submit([beat(ctx, a)], "alice"), writer.submit([beat(ctx, b)], "bob")
        )
    finally:
        await writer.stop()
    assert ra.accepted and rb.accepted
    assert writer.transactions == 2  # one per owner


async def test_answer_comes_after_commit_and_updates_liveness(ctx: ServerContext) -> None:
    cid = await active_contract(ctx)
    writer = HeartbeatWriter(ctx)
    await writer.start()
    try:
        await writer.submit([beat(ctx, cid, 7, state=SupervisorState.WAITING_FOR_TASKS)], "alice")
        # Read right after the await, on another connection: already committed.
        status = await supervisor_status(
            ctx.store, cid, "alice", now=ctx.clock.now(), heartbeat_timeout=timedelta(minutes=2)
        )
    finally:
        await writer.stop()
    assert status.state is SupervisorState.WAITING_FOR_TASKS and status.alive


async def test_accepted_heartbeats_reach_monitor_subscribers_as_transient_events(
    ctx: ServerContext,
) -> None:
    cid = await active_contract(ctx)
    watching = ctx.hub.subscribe("alice", MonitorFilter(include_heartbeats=True))
    not_watching = ctx.hub.subscribe("alice", MonitorFilter(include_heartbeats=False))
    other_owner = ctx.hub.subscribe("bob", MonitorFilter(include_heartbeats=True))
    writer = HeartbeatWriter(ctx)
    await writer.start()
    try:
        await writer.submit([beat(ctx, cid, 42), beat(ctx, "unknown", 1)], "alice")
    finally:
        await writer.stop()
    import orjson

    frames = [orjson.loads(watching.queue.get_nowait()) for _ in range(watching.queue.qsize())]
    # The first heartbeat also logs the supervisor's state change (a durable event).
    assert [f["type"] for f in frames if f["seq"] is not None] == ["supervisor_state_changed"]
    frames = [f for f in frames if f["seq"] is None]
    assert len(frames) == 1
    frame = frames[0]
    assert frame["type"] == EventType.HEARTBEAT.value and frame["seq"] is None
    assert frame["contract_id"] == cid
    assert (frame["state"], frame["activity"], frame["progress"]) == ("working", "step 42", 42)
    assert frame["actor"] == {"owner": "alice", "role": "supervisor"}
    durable = [
        orjson.loads(not_watching.queue.get_nowait()) for _ in range(not_watching.queue.qsize())
    ]
    assert [f["type"] for f in durable] == ["supervisor_state_changed"]
    assert other_owner.queue.empty()


async def test_stop_flushes_what_is_queued(ctx: ServerContext) -> None:
    cid = await active_contract(ctx)
    writer = HeartbeatWriter(ctx, max_delay=10.0)  # would wait long for more
    await writer.start()
    pending = [asyncio.ensure_future(writer.submit([beat(ctx, cid, i)], "alice")) for i in range(3)]
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await writer.stop()
    assert time.monotonic() - started < 2.0
    assert all(len(p.result().accepted) == 1 for p in pending)
    assert len(await heartbeat_history(ctx.store, cid, "alice")) == 3


async def test_submit_without_start_writes_directly(ctx: ServerContext) -> None:
    cid = await active_contract(ctx)
    writer = HeartbeatWriter(ctx)
    result = await writer.submit([beat(ctx, cid)], "alice")
    assert len(result.accepted) == 1
    assert len(await heartbeat_history(ctx.store, cid, "alice")) == 1


async def test_a_big_batch_is_one_transaction_and_not_split(ctx: ServerContext) -> None:
    cid = await active_contract(ctx)
    writer = HeartbeatWriter(ctx, max_batch=100)
    await writer.start()
    try:
        result = await writer.submit([beat(ctx, cid, i) for i in range(250)], "alice")
    finally:
        await writer.stop()
    assert len(result.accepted) == 250
    assert writer.transactions == 1


async def test_a_failed_transaction_fails_its_callers_and_the_writer_goes_on(
    ctx: ServerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await active_contract(ctx)
    writer = HeartbeatWriter(ctx)
    real = ctx.repo.record_heartbeats
    calls = 0

    async def flaky(heartbeats: Any, owner: str | None) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database away")
        return await real(heartbeats, owner)

    monkeypatch.setattr(ctx.repo, "record_heartbeats", flaky)
    await writer.start()
    try:
        with pytest.raises(RuntimeError, match="database away"):
            await writer.submit([beat(ctx, cid, 1)], "alice")
        result = await writer.submit([beat(ctx, cid, 2)], "alice")
    finally:
        await writer.stop()
    assert len(result.accepted) == 1


async def test_throughput_of_single_submits_on_sqlite(sqlite_url: str) -> None:
    """Not a benchmark (bench/ has those); a floor that catches a per-submit transaction."""
    async with context_on(sqlite_url) as ctx:
        contracts = [await active_contract(ctx) for _ in range(20)]
        writer = HeartbeatWriter(ctx)
        await writer.start()
        try:
            n = 4000
            started = time.perf_counter()

            async def client(k: int) -> None:
                for i in range(n // 100):
                    await writer.submit([beat(ctx, contracts[k % 20], i)], "alice")

            await asyncio.gather(*(client(k) for k in range(100)))
            elapsed = time.perf_counter() - started
        finally:
            await writer.stop()
        rate = n / elapsed
        print(f"group commit: {rate:.0f} heartbeats/s in {writer.transactions} transactions")
        assert writer.transactions < n / 20
        assert rate > 500  # ~5,000-10,000/s on an idle machine; a loose floor for CI load


async def test_a_caller_that_goes_away_still_gets_its_heartbeat_stored(ctx: ServerContext) -> None:
    cid = await active_contract(ctx)
    writer = HeartbeatWriter(ctx)
    await writer.start()
    try:
        caller = asyncio.ensure_future(writer.submit([beat(ctx, cid, 1)], "alice"))
        await asyncio.sleep(0)  # enqueued
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
    finally:
        await writer.stop()
    assert len(await heartbeat_history(ctx.store, cid, "alice")) == 1
