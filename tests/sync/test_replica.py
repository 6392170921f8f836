"""The replica against a real server process: snapshot, events, idempotence, offline reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.config import ContractTimeoutConfig
from core.errors import ContractNotFound
from core.model import QuestionStatus
from core.status import ContractStatus
from sync.client import ContractClient
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed
from tests.sync.replica_support import Driver, assert_same, replica_state, server_state
from tests.sync.server_fixture import ServerProcess


@pytest.fixture
def server(request: pytest.FixtureRequest) -> ServerProcess:
    """The module's server, or (tests named `*_offline_*`) one of the test's own to stop."""
    name = "fresh_server" if "_offline_" in request.node.name else "sync_server"
    found: ServerProcess = request.getfixturevalue(name)
    return found


@pytest.fixture
def driver(server: ServerProcess) -> Iterator[Driver]:
    d = Driver(server)
    yield d
    d.close()


@pytest.fixture
async def replica(tmp_path: Path) -> AsyncIterator[Replica]:
    r = await Replica.open(tmp_path / "replica.db")
    yield r
    await r.close()


@pytest.fixture
async def client(server: ServerProcess) -> AsyncIterator[ContractClient]:
    c = ContractClient(server.base_url, server.reviewer_key, retries=0)
    yield c
    await c.aclose()


def feed_for(replica: Replica, client: ContractClient, server: ServerProcess) -> ReplicaFeed:
    return ReplicaFeed(replica, client, server_url=server.base_url, page_size=7)


async def test_snapshot_then_events_match_the_server(
    server: ServerProcess, driver: Driver, replica: Replica, client: ContractClient
) -> None:
    driver.burst(3)
    feed = feed_for(replica, client, server)
    assert await feed.ensure_snapshot()
    assert_same(server_state(server), await replica_state(replica))
    assert not await feed.ensure_snapshot()  # a complete snapshot is kept

    driver.burst(4)
    driver.lifecycle("late")
    blocked = driver.start("blocked")["id"]
    driver.status(blocked, "blocked", blocker="waiting on legal")
    applied = await feed.catch_up()
    assert applied > 20
    assert_same(server_state(server), await replica_state(replica))


async def test_applying_the_same_events_twice_changes_nothing(
    server: ServerProcess, driver: Driver, replica: Replica, client: ContractClient
) -> None:
    feed = feed_for(replica, client, server)
    await feed.ensure_snapshot()
    driver.burst(3)
    seen: list[frozenset[str]] = []
    replica.contracts_changed.subscribe(seen.append)
    await feed.catch_up()
    assert seen and set().union(*seen)
    before = await replica_state(replica)
    cursor = await replica.cursor()

    seen.clear()
    everything = []
    after = 0
    while True:
        page = await client.events(after=after, limit=5)
        everything.extend(page.events)
        if len(page.events) < 5:
            break
        after = page.last_seq
    result = await replica.apply_events(everything)
    assert result.applied == 0
    assert await replica.apply_events(everything[3:9]) == result
    assert await replica_state(replica) == before
    assert (await replica.cursor()).last_seq == cursor.last_seq
    assert seen == []


async def test_offline_queries_answer_from_the_replica(
    server: ServerProcess, driver: Driver, replica: Replica, client: ContractClient
) -> None:
    ids = driver.burst(3)
    waiting = driver.start("needs input")["id"]
    qid = driver.ask(waiting, "Ship it?")
    feed = feed_for(replica, client, server)
    await feed.ensure_snapshot()
    await feed.refresh_supervisor(waiting)
    server.stop()

    now = datetime.now(UTC)
    every = await replica.list_contracts(now=now)
    assert every.total == len(ids) - 1 + 1  # one burst contract was deleted
    paused = await replica.list_contracts(statuses=[ContractStatus.PAUSED], now=now)
    assert [c.id for c in paused.contracts] == [ids[0]]
    found = await replica.list_contracts(search="RENAMED", now=now)
    assert [c.name for c in found.contracts] == ["renamed"]
    waiters = await replica.list_contracts(waiting=True, now=now)
    assert waiting in {c.id for c in waiters.contracts}
    stale = await replica.list_contracts(
        stale_threshold=timedelta(minutes=1), now=now + timedelta(hours=1)
    )
    assert stale.total == len([c for c in every.contracts if c.status is ContractStatus.ACTIVE])
    phase = await replica.list_contracts(phase="execute", now=now)
    assert ids[1] in {c.id for c in phase.contracts}

    detail = await replica.contract(waiting)
    assert [q.id for q in detail.pending_questions] == [qid]
    assert len(detail.tasks) == 1 and detail.tasks[0].is_supervisor
    pending = await replica.questions(status=QuestionStatus.PENDING)
    assert qid in {q.id for q in pending}
    history = await replica.history(ids[-1])  # deleted, history kept
    assert history[0].type.value == "contract_created"
    assert history[-1].type.value == "contract_deleted"
    with pytest.raises(ContractNotFound):
        await replica.contract(ids[-1])

    status = await replica.supervisor_status(
        waiting, now=now, heartbeat_timeout=timedelta(seconds=120)
    )
    assert status is not None and status.task_id == detail.tasks[0].id
    board = await replica.dashboard(now=now, config=ContractTimeoutConfig())
    assert board.status_counts[ContractStatus.PAUSED] == 1
    assert any(w.id == waiting for w in board.waiting_for_input)
