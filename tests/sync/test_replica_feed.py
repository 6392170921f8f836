"""ReplicaFeed against a fake server (httpx.MockTransport): paging with gaps, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.actors import Actor, Role
from core.events import EventType, LoggedEvent
from core.model import Contract
from core.phases import ContractType
from core.status import ContractStatus
from sync.client import ContractClient
from sync.errors import ConnectionFailed
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACTOR = Actor("alice", Role.SUPERVISOR)


class FakeServer:
    """The owner's events are every third seq (others' events fill the gaps)."""

    def __init__(self, contracts: int, tasks_each: int) -> None:
        self.contracts = [self._contract(i) for i in range(contracts)]
        self.events: list[dict[str, Any]] = []
        seq = 0
        for contract in self.contracts:
            for t in range(tasks_each):
                seq += 3
                payload = {"task_id": f"{contract.id}-t{t}", "task_name": "w", "status": "pending"}
                at = AT + timedelta(seconds=seq)
                event = LoggedEvent(seq, at, EventType.TASK_CREATED, contract.id, ACTOR, payload)
                self.events.append(event.to_wire())
        self.down = False
        self.contracts_down = False
        self.requests: list[str] = []

    @staticmethod
    def _contract(i: int) -> Contract:
        return Contract(
            id=f"c{i:03d}",
            owner="",
            name=f"contract {i}",
            contract_type=ContractType.SIMPLE,
            phase="plan",
            status=ContractStatus.ACTIVE,
            created_at=AT,
            updated_at=AT,
            status_changed_at=AT,
            last_activity_at=AT + timedelta(seconds=i),
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down or (self.contracts_down and request.url.path.endswith("/contracts")):
            raise httpx.ConnectError("refused", request=request)
        path, params = request.url.path.removeprefix("/api/v1"), request.url.params
        self.requests.append(f"{path}?{params}")
        limit = int(params.get("limit", 100))
        if path == "/events":
            after = int(params.get("after", 0))
            found = [e for e in self.events if e["seq"] > after][:limit]
            last = found[-1]["seq"] if found else after
            return httpx.Response(200, json={"events": found, "lastSeq": last})
        if path == "/contracts":
            offset = int(params.get("offset", 0))
            page = self.contracts[offset : offset + limit]
            body = {"contracts": [c.to_wire() for c in page], "total": len(self.contracts)}
            return httpx.Response(200, json=body)
        if path == "/questions":
            return httpx.Response(200, json={"questions": []})
        return httpx.Response(404, json={"code": "NOT_FOUND", "message": path})


@pytest.fixture
async def replica(tmp_path: Path) -> AsyncIterator[Replica]:
    r = await Replica.open(tmp_path / "r.db")
    yield r
    await r.close()


def feed(replica: Replica, server: FakeServer, page_size: int) -> ReplicaFeed:
    client = ContractClient(
        "http://fake.test", "key", transport=httpx.MockTransport(server), retries=0
    )
    return ReplicaFeed(replica, client, server_url="http://fake.test", page_size=page_size)


@pytest.mark.parametrize("page_size", [4, 7, 1000])
async def test_a_snapshot_gets_every_event_despite_gaps(replica: Replica, page_size: int) -> None:
    server = FakeServer(contracts=9, tasks_each=5)
    await feed(replica, server, page_size).snapshot()
    stored = (await replica.events(limit=1000)).events
    assert [e.seq for e in stored] == [e["seq"] for e in server.events]
    assert (await replica.counts())["tasks"] == 45
    assert (await replica.cursor()).last_seq == server.events[-1]["seq"]
    contracts = await replica.list_contracts(limit=1000, now=AT)
    assert contracts.total == 9


async def test_an_interrupted_snapshot_is_redone(replica: Replica) -> None:
    server = FakeServer(contracts=3, tasks_each=4)
    server.contracts_down = True  # the events come, then the connection breaks
    broken = feed(replica, server, 5)
    with pytest.raises(ConnectionFailed):
        await broken.ensure_snapshot()
    assert not await replica.has_snapshot()
    server.contracts_down = False
    assert await feed(replica, server, 5).ensure_snapshot()
    assert (await replica.counts())["tasks"] == 12


async def test_catch_up_applies_new_events_once_and_refreshes(replica: Replica) -> None:
    server = FakeServer(contracts=2, tasks_each=2)
    syncing = feed(replica, server, 3)
    await syncing.snapshot()
    renamed = server.contracts[0]
    server.contracts[0] = replace(
        renamed, name="renamed", version=2, updated_at=AT + timedelta(hours=1)
    )
    event = LoggedEvent(
        100,
        AT + timedelta(hours=1),
        EventType.CONTRACT_UPDATED,
        renamed.id,
        Actor("alice", Role.REVIEWER),
        {"changes": {"name": "renamed"}},
    )
    server.events.append(event.to_wire())
    assert await syncing.catch_up() == 1
    assert await syncing.catch_up() == 0
    detail = await replica.contract(renamed.id)
    assert detail.contract.name == "renamed" and detail.contract.version == 2
    refreshes = [r for r in server.requests if "updatedSince" in r]
    assert len(refreshes) == 1  # the second catch-up had nothing to refresh
    assert (await replica.cursor()).refresh_since is None


async def test_catch_up_offline_raises_and_keeps_the_cursor(replica: Replica) -> None:
    server = FakeServer(contracts=1, tasks_each=1)
    syncing = feed(replica, server, 10)
    await syncing.snapshot()
    before = await replica.cursor()
    server.down = True
    with pytest.raises(ConnectionFailed):
        await syncing.catch_up()
    assert await replica.cursor() == before
    assert await replica.counts() == {"contracts": 1, "tasks": 1, "questions": 0, "events": 1}


async def test_heartbeats_keep_liveness_and_a_day_of_history(replica: Replica) -> None:
    supervised = replace(FakeServer._contract(1), supervisor_task_id="sup-1")
    await replica.put_contracts([supervised, FakeServer._contract(2)])

    def beat(cid: str, at: datetime, progress: int, state: str = "working") -> LoggedEvent:
        payload = {"state": state, "activity": f"step {progress}", "progress": progress}
        return LoggedEvent(None, at, EventType.HEARTBEAT, cid, ACTOR, payload)

    await replica.record_heartbeats([beat(supervised.id, AT, 10)])
    later = AT + timedelta(hours=30)
    await replica.record_heartbeats(
        [
            beat(supervised.id, later, 50),
            beat("c002", later, 1),  # no supervisor task: ignored
            beat(supervised.id, later, 60, state="dreaming"),  # unknown state: ignored
        ]
    )
    status = await replica.supervisor_status(
        supervised.id, now=later, heartbeat_timeout=timedelta(seconds=120)
    )
    assert status is not None and status.alive and status.progress == 50
    assert status.task_id == "sup-1" and status.current_activity == "step 50"
    assert [h.progress for h in await replica.heartbeats(supervised.id)] == [50]
    assert (
        await replica.supervisor_status("c002", now=later, heartbeat_timeout=timedelta(1)) is None
    )
