"""BackgroundServices: every time rule fires once, as of the injected clock, events published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from core.actors import SYSTEM
from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.events import EventType, LoggedEvent, MonitorFilter
from core.store.queries import events_after, get_contract, heartbeat_history
from core.store.sweep import SweepReport
from core.supervisor import Heartbeat, SupervisorState
from server.context import ServerContext
from server.hub import Subscriber
from server.services import BackgroundServices
from tests.server.harness import (
    active_contract,
    admin,
    context_on,
    eventually,
    pg_url,
    sqlite_url,
    supervisor,
)

__all__ = ["pg_url", "sqlite_url"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


CONFIG = ContractTimeoutConfig(stale_detection_interval_seconds=0.02)


@pytest.fixture
async def any_ctx(db_url: str, clock: ManualClock) -> AsyncIterator[ServerContext]:
    """On SQLite and on PostgreSQL (the candidate queries compare times in SQL)."""
    async with context_on(db_url, clock=clock, config=CONFIG) as context:
        yield context


@pytest.fixture
async def ctx(sqlite_url: str, clock: ManualClock) -> AsyncIterator[ServerContext]:
    async with context_on(sqlite_url, clock=clock, config=CONFIG) as context:
        yield context


def drain(sub: Subscriber) -> list[dict[str, Any]]:
    frames = []
    while not sub.queue.empty():
        frames.append(orjson.loads(sub.queue.get_nowait()))
    return frames


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


async def test_stale_is_detected_once_per_episode(
    any_ctx: ServerContext, clock: ManualClock
) -> None:
    ctx = any_ctx
    cid = await active_contract(ctx)
    services = BackgroundServices(ctx)
    watch = ctx.hub.subscribe("alice", MonitorFilter())
    drain(watch)

    clock.advance(minutes=29)
    await services.run_once()
    assert drain(watch) == []

    clock.advance(minutes=2)
    report = await services.run_once()
    assert report.stale == [cid]
    frames = drain(watch)
    assert types(frames) == ["stale_detected"]
    assert frames[0]["stale_duration_secs"] == 31 * 60
    assert frames[0]["actor"] == {"owner": "system", "role": "system"}

    clock.advance(minutes=30)
    await services.run_once()
    assert drain(watch) == []  # same episode: reported once

    # New activity ends the episode; the next silence is a new one.
    sup = (await get_contract(ctx.store, cid, None)).contract.supervisor_task_id or ""
    beat = Heartbeat(sup, cid, SupervisorState.WORKING, "plan", "back", 10, (), clock.now())
    # Its first heartbeat logs the supervisor's state: published, as the writer does.
    ctx.publish((await ctx.repo.record_heartbeats([beat], "alice")).events)
    clock.advance(minutes=31)
    await services.run_once()
    assert types(drain(watch)) == ["supervisor_state_changed", "stale_detected"]
    version = (await get_contract(ctx.store, cid, "alice")).contract.version
    assert version == 3  # created 1, task 2, active 3: stale marks do not bump it


async def test_input_timeout_pauses_and_times_out_questions(
    any_ctx: ServerContext, clock: ManualClock
) -> None:
    ctx = any_ctx
    cid = await active_contract(ctx)
    asked = await ctx.repo.ask_question(cid, supervisor(), "Which DB?", "free_text")
    ctx.publish(asked.events)
    services = BackgroundServices(ctx)
    watch = ctx.hub.subscribe("alice", MonitorFilter())

    clock.advance(hours=23, minutes=59)
    await services.run_once()
    assert drain(watch) == []

    clock.advance(minutes=1)
    report = await services.run_once()
    assert report.timed_out == [cid]
    frames = drain(watch)
    assert types(frames) == ["status_changed", "question_timed_out"]
    assert (frames[0]["old_status"], frames[0]["new_status"]) == ("waiting_for_input", "paused")
    detail = await get_contract(ctx.store, cid, "alice")
    assert detail.contract.status.value == "paused" and detail.pending_questions == ()


async def completing_contract(ctx: ServerContext) -> str:
    cid = await active_contract(ctx, phase_guard=False)
    for deliverable in ("plan-document", "pull-request"):
        applied = await ctx.repo.mark_deliverable(cid, supervisor(), deliverable)
        ctx.publish(applied.events)
    detail = await get_contract(ctx.store, cid, "alice")
    assert detail.contract.status.value == "completing", detail.contract
    return cid


async def test_completion_grace_then_archive_retention(
    any_ctx: ServerContext, clock: ManualClock
) -> None:
    ctx = any_ctx
    cid = await completing_contract(ctx)
    services = BackgroundServices(ctx)
    watch = ctx.hub.subscribe("alice", MonitorFilter())

    clock.advance(minutes=4, seconds=59)
    await services.run_once()
    assert drain(watch) == []
    clock.advance(seconds=1)
    report = await services.run_once()
    assert report.completed == [cid]
    frames = drain(watch)
    # Completed: the supervisor task is finished and asked to stop (§2.2.3 step 9).
    assert types(frames) == ["status_changed", "task_completed", "supervisor_stop_requested"]
    assert frames[0]["new_status"] == "completed"

    archived = await ctx.repo.change_status(cid, admin(), "archived")
    ctx.publish(archived.events)
    drain(watch)
    clock.advance(days=29)
    await services.run_once()
    assert drain(watch) == []
    clock.advance(days=1)
    report = await services.run_once()
    assert report.deleted == [cid]
    assert types(drain(watch)) == ["contract_deleted"]
    log = await events_after(ctx.store, "alice", contract_id=cid, limit=1000)
    assert log.events[-1].type.value == "contract_deleted"  # the history outlives the row


async def test_heartbeats_are_purged_after_retention(
    any_ctx: ServerContext, clock: ManualClock
) -> None:
    ctx = any_ctx
    cid = await active_contract(ctx)
    sup = (await get_contract(ctx.store, cid, None)).contract.supervisor_task_id or ""
    old = Heartbeat(sup, cid, SupervisorState.WORKING, "plan", "old", 1, (), clock.now())
    await ctx.repo.record_heartbeats([old], "alice")
    clock.advance(hours=23)
    new = Heartbeat(sup, cid, SupervisorState.WORKING, "plan", "new", 2, (), clock.now())
    await ctx.repo.record_heartbeats([new], "alice")
    clock.advance(hours=1, seconds=1)
    report = await BackgroundServices(ctx).run_once()
    assert report.heartbeats_purged == 1
    history = await heartbeat_history(ctx.store, cid, "alice")
    assert [h.current_activity for h in history] == ["new"]


async def test_the_loop_runs_on_its_interval_and_survives_a_failing_sweep(
    ctx: ServerContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await active_contract(ctx)
    services = BackgroundServices(ctx)
    real = ctx.repo.sweep
    calls = 0

    async def flaky(now: Any = None) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database away")
        return await real(now)

    monkeypatch.setattr(ctx.repo, "sweep", flaky)
    watch = ctx.hub.subscribe("alice", MonitorFilter())
    clock.advance(minutes=31)
    await services.start()
    try:
        await eventually(lambda: services.runs >= 3)
    finally:
        await services.stop()
    assert services.failures == 1
    frames = drain(watch)
    assert types(frames) == ["stale_detected"] and frames[0]["contract_id"] == cid
    await services.stop()  # stopping twice is fine


async def test_completion_detections_are_counted(
    ctx: ServerContext, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The built-in rules never enter `completing`; a sweep event that does is counted."""
    services = BackgroundServices(ctx)
    await services.run_once()
    assert ctx.metrics.value("completion_detections_total") == 0

    entered = LoggedEvent(
        seq=ctx.hub.last_seq + 1,
        at=clock.now(),
        type=EventType.STATUS_CHANGED,
        contract_id="c",
        actor=SYSTEM,
        payload={"old_status": "active", "new_status": "completing", "reason": None},
        owner="alice",
    )

    async def fake(now: Any = None) -> SweepReport:
        return SweepReport(events=[entered])

    monkeypatch.setattr(ctx.repo, "sweep", fake)
    await services.run_once()
    assert ctx.metrics.value("completion_detections_total") == 1
