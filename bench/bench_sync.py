"""Sync benchmarks (prints figures; not a test).

1. First sync of 10,000 contracts and 100,000 events into an empty replica (target <= 5 s,
   goal 2 s). The SERVER database is seeded directly through core/store (bulk inserts of
   contracts, tasks, questions and events) before the server process starts.
2. Catch-up of 1,000 missed events after a reconnect (target <= 200 ms), checked for
   duplicates and gaps against the server's log.

    .venv/bin/python -m bench.bench_sync [--contracts 10000] [--events-per-contract 10]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from core.actors import Actor, Role
from core.events import EventType, LoggedEvent
from core.model import Contract
from core.phases import ContractType
from core.status import ContractStatus
from core.store.engine import open_store
from core.store.event_log import row_values
from core.store.rows import contract_values
from core.store.schema import contracts, events, questions, tasks
from core.store.unit_of_work import WriteUnitOfWork
from sync.client import ContractClient
from sync.replica import Replica
from sync.replica_bulk import logged_events
from sync.replica_feed import ReplicaFeed
from sync.replica_history import HistoryFold
from tests.sync.server_fixture import CONFIG_TOML, ServerProcess, create_key, free_port

OWNER = "alice"
REVIEWER = Actor(OWNER, Role.REVIEWER)
SUPERVISOR = Actor(OWNER, Role.SUPERVISOR)


def _contract_rows(i: int, at: datetime) -> tuple[dict[str, Any], list[LoggedEvent], list[Any]]:
    """One active contract with its ten-event history (and its task and question rows)."""
    cid, sup, worker, qid = (str(uuid.uuid4()) for _ in range(4))
    t = [at + timedelta(milliseconds=k) for k in range(10)]
    contract = Contract(
        id=cid,
        owner=OWNER,
        name=f"bench contract {i}",
        contract_type=ContractType.SIMPLE,
        phase="plan",
        status=ContractStatus.ACTIVE,
        created_at=t[0],
        updated_at=t[9],
        status_changed_at=t[8],
        last_activity_at=t[9],
        version=8,
        completed_deliverables={"plan": ("plan-document",)},
        supervisor_task_id=sup,
    )
    e = EventType
    plan: list[tuple[EventType, Actor, dict[str, Any]]] = [
        (e.CONTRACT_CREATED, REVIEWER, {"name": contract.name, "contract_type": "simple"}),
        (e.TASK_CREATED, SUPERVISOR, {"task_id": sup, "task_name": "sup", "is_supervisor": True}),
        (e.STATUS_CHANGED, SUPERVISOR, {"old_status": "created", "new_status": "active"}),
        (e.TASK_CREATED, SUPERVISOR, {"task_id": worker, "task_name": "w", "status": "pending"}),
        (e.TASK_UPDATED, SUPERVISOR, {"task_id": worker, "new_status": "running"}),
        (
            e.QUESTION_ASKED,
            SUPERVISOR,
            {"question_id": qid, "question": "Go?", "question_type": "free_text", "phase": "plan"},
        ),
        (e.STATUS_CHANGED, SUPERVISOR, {"old_status": "active", "new_status": "waiting_for_input"}),
        (e.QUESTION_ANSWERED, REVIEWER, {"question_id": qid, "answer": "yes"}),
        (e.STATUS_CHANGED, REVIEWER, {"old_status": "waiting_for_input", "new_status": "active"}),
        (e.DELIVERABLE_COMPLETED, SUPERVISOR, {"phase": "plan", "deliverable_id": "plan-document"}),
    ]
    logged = [
        LoggedEvent(0, t[k], kind, cid, actor, payload, OWNER)
        for k, (kind, actor, payload) in enumerate(plan)
    ]
    task_rows = [
        {"id": sup, "contract_id": cid, "name": "sup", "status": "running", "is_supervisor": True},
        {
            "id": worker,
            "contract_id": cid,
            "name": "w",
            "status": "running",
            "is_supervisor": False,
        },
    ]
    for row in task_rows:
        row.update(created_at=t[1], updated_at=t[4])
    question = {
        "id": qid,
        "contract_id": cid,
        "phase": "plan",
        "question": "Go?",
        "question_type": "free_text",
        "choices": [],
        "status": "answered",
        "answer": "yes",
        "asked_at": t[5],
        "answered_at": t[7],
        "answered_by": OWNER,
    }
    return contract_values(contract), logged, [task_rows, question]


async def seed(db_url: str, count: int) -> int:
    """Bulk-insert `count` contracts with ten events each; returns the events written."""
    store = await open_store(db_url)
    start = datetime.now(UTC) - timedelta(minutes=10)  # recent: nothing goes stale
    written = 0
    try:
        for first in range(0, count, 1000):
            batch = [
                _contract_rows(i, start + timedelta(milliseconds=20 * i))
                for i in range(first, first + 1000)
            ]
            seq0 = written

            def work(uow: WriteUnitOfWork, batch: Any = batch, seq0: int = seq0) -> int:
                rows, task_rows, question_rows, event_rows = [], [], [], []
                seq = seq0
                for contract, logged, (task_pair, question) in batch:
                    rows.append(contract)
                    task_rows.extend(task_pair)
                    question_rows.append(question)
                    for event in logged:
                        seq += 1
                        event_rows.append(row_values(LoggedEvent(seq, *_rest(event))))
                uow.conn.execute(contracts.insert(), rows)
                uow.conn.execute(tasks.insert(), task_rows)
                uow.conn.execute(questions.insert(), question_rows)
                uow.conn.execute(events.insert(), event_rows)
                return seq

            written = await store.run_write(work)
    finally:
        await store.close()
    return written


def _rest(event: LoggedEvent) -> tuple[Any, ...]:
    return (event.at, event.type, event.contract_id, event.actor, event.payload, event.owner)


async def first_sync(server: ServerProcess, replica_path: Path) -> tuple[float, Replica, str]:
    """`ReplicaFeed.snapshot` step by step (the same calls), timed."""
    replica = await Replica.open(replica_path)
    client = ContractClient(server.base_url, server.reviewer_key, timeout=60)
    feed = ReplicaFeed(replica, client, server_url=server.base_url)
    began = time.perf_counter()
    await replica.reset(server.base_url)
    fold = HistoryFold()
    last_seq = await feed._snapshot_events(fold)
    t1 = time.perf_counter()
    held = await feed._store_contracts()
    pending = await client.list_questions(status="pending")
    t2 = time.perf_counter()
    await replica.finish_snapshot(held, fold, pending, last_seq=last_seq, at=datetime.now(UTC))
    end = time.perf_counter()
    await client.aclose()
    parts = (
        f"event log {t1 - began:.2f} s, contracts (fetched and stored) {t2 - t1:.2f} s, "
        f"final transaction {end - t2:.2f} s"
    )
    return end - began, replica, parts


async def fetch_only(server: ServerProcess, replica: Replica) -> float:
    """The server's share: the whole log fetched as the snapshot fetches it, not stored."""
    async with ContractClient(server.base_url, server.reviewer_key, timeout=60) as client:
        feed = ReplicaFeed(replica, client, server_url=server.base_url)
        began = time.perf_counter()
        k = 0
        while True:
            afters = [(k + i) * 1000 for i in range(4)]
            pages = await asyncio.gather(*(feed._raw_list("/events", after=a) for a in afters))
            if any(len(p["events"]) < 1000 for p in pages):
                return time.perf_counter() - began
            k += 4


async def make_missed_events(server: ServerProcess, count: int) -> None:
    """`count` events made through the API (task created + moved to running, pairs)."""
    headers = {"Authorization": f"Bearer {server.supervisor_key}"}
    async with httpx.AsyncClient(
        base_url=server.base_url + "/api/v1", headers=headers, timeout=60
    ) as http:
        page = (await http.get("/contracts", params={"limit": count // 2})).json()
        ids = [c["id"] for c in page["contracts"]]
        gate = asyncio.Semaphore(16)

        async def two_events(cid: str) -> None:
            async with gate:
                made = await http.post(f"/contracts/{cid}/tasks", json={"name": "late"})
                made.raise_for_status()
                moved = await http.patch(
                    f"/contracts/{cid}/tasks/{made.json()['id']}", json={"status": "running"}
                )
                moved.raise_for_status()

        await asyncio.gather(*(two_events(cid) for cid in ids[: count // 2]))


async def catch_up(server: ServerProcess, replica: Replica) -> tuple[float, int, str]:
    """`ReplicaFeed.catch_up` step by step (the same calls), timed: fetch, apply, refresh."""
    client = ContractClient(server.base_url, server.reviewer_key, timeout=60)
    feed = ReplicaFeed(replica, client, server_url=server.base_url)
    fetch = apply = 0.0
    applied = 0
    began = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        cursor = await replica.cursor()
        wire = await feed._raw_list("/events", after=cursor.last_seq)
        page = logged_events(wire["events"])
        t1 = time.perf_counter()
        applied += (await replica.apply_events(page)).applied
        fetch, apply = fetch + t1 - t0, apply + time.perf_counter() - t1
        if len(page) < 1000:
            break
    t2 = time.perf_counter()
    refreshed = await feed.refresh()
    refresh = time.perf_counter() - t2
    elapsed = time.perf_counter() - began
    await client.aclose()
    parts = (
        f"fetch {fetch * 1000:.0f} ms, apply {apply * 1000:.0f} ms, "
        f"refresh {refresh * 1000:.0f} ms ({len(refreshed)} contracts)"
    )
    return elapsed, applied, parts


async def check_log(server: ServerProcess, replica: Replica) -> tuple[int, int, int]:
    """(server events, replica events, replica duplicates); equal seq lists or it raises."""
    async with ContractClient(server.base_url, server.reviewer_key, timeout=60) as client:
        theirs: list[int] = []
        after = 0
        while True:
            page = await client.events(after=after, limit=1000)
            theirs.extend(e.seq or 0 for e in page.events)
            if len(page.events) < 1000:
                break
            after = page.last_seq
    ours: list[int] = []
    after = 0
    while True:
        found = await replica.events(after=after, limit=1000)
        ours.extend(e.seq or 0 for e in found.events)
        if len(found.events) < 1000:
            break
        after = found.last_seq
    if ours != theirs:
        missing = sorted(set(theirs) - set(ours))[:10]
        raise SystemExit(f"replica log differs from the server's; missing e.g. {missing}")
    return len(theirs), len(ours), len(ours) - len(set(ours))


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as folder:
        tmp = Path(folder)
        config = tmp / "server.toml"
        config.write_text(CONFIG_TOML)
        server = ServerProcess(tmp, f"sqlite:///{tmp / 'server.db'}", free_port(), config)
        server.reviewer_key = create_key(server.db_url, OWNER, "reviewer")  # also migrates
        server.supervisor_key = create_key(server.db_url, OWNER, "supervisor")
        began = time.perf_counter()
        written = await seed(server.db_url, count)
        print(f"seeded {count} contracts, {written} events in {time.perf_counter() - began:.1f} s")
        server.start()
        try:
            elapsed, replica, parts = await first_sync(server, tmp / "replica.db")
            counts = await replica.counts()
            print(
                f"first sync: {elapsed:.2f} s for {counts['contracts']} contracts, "
                f"{counts['events']} events, {counts['tasks']} tasks, "
                f"{counts['questions']} questions (target <= 5 s, goal 2 s): {parts}"
            )
            floor = await fetch_only(server, replica)
            print(f"  of which the server: fetching the same pages without storing: {floor:.2f} s")
            await make_missed_events(server, 1000)
            took, applied, parts = await catch_up(server, replica)
            total, ours, dups = await check_log(server, replica)
            print(
                f"catch-up: {applied} missed events in {took * 1000:.0f} ms "
                f"(target <= 200 ms): {parts}; log {ours}/{total} events, {dups} duplicates, "
                "no gaps"
            )
            await replica.close()
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contracts", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().contracts))
