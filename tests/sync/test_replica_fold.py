"""The replica folds the server's events into its rows: no refresh round trip unless a gap.

Each event carries the version its use case produced (`core.projection.contract_after`), so
after a catch-up the replica's contracts equal the server's without `GET /contracts`. A gap
(a new contract, an event of a contract the replica does not hold) still refreshes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sync.client import ContractClient
from sync.replica import Replica
from sync.replica_feed import ReplicaFeed
from tests.sync.replica_fixtures import driver
from tests.sync.replica_support import Driver, assert_same, ok, replica_state, server_state
from tests.sync.server_fixture import ServerProcess

__all__ = ["driver"]  # fixtures, used by name


class Recording(httpx.AsyncBaseTransport):
    """The real network, with the paths asked for written down."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def contract_lists(self) -> int:
        return sum(1 for p in self.paths if p.endswith("/contracts"))


@pytest.fixture
async def replica(tmp_path: Path) -> AsyncIterator[Replica]:
    r = await Replica.open(tmp_path / "replica.db")
    yield r
    await r.close()


@pytest.fixture
async def wire(sync_server: ServerProcess) -> AsyncIterator[tuple[ContractClient, Recording]]:
    recording = Recording()
    client = ContractClient(
        sync_server.base_url, sync_server.reviewer_key, retries=0, transport=recording
    )
    yield client, recording
    await client.aclose()


def decisions(driver: Driver, cids: list[str]) -> None:
    """Every kind of change a reviewer and a supervisor make to contracts that exist."""
    first, second, third = cids
    worker = driver.task(first)
    driver.move_task(first, worker, "running")
    qid = driver.ask(first, "Pick one", ["a", "b"])
    driver.answer(qid, "b")
    driver.deliver(first)
    driver.request_phase(first)
    driver.confirm_phase(first)
    driver.move_task(first, worker, "done")
    driver.ask(first, "Still there?")
    driver.deliver(second)
    driver.request_phase(second)
    ok(
        driver.reviewer.post(
            f"/contracts/{second}/phase",
            json={"phase": "execute", "confirmed": False, "feedback": "add the risks"},
        )
    )
    driver.status(second, "paused", reason="lunch")
    driver.status(second, "active")
    driver.rename(third, "renamed")
    ok(driver.reviewer.put(f"/contracts/{third}/auto-complete", json={"enabled": False}))
    driver.status(third, "blocked", blocker="waiting on legal")


async def test_decisions_fold_into_the_rows_without_a_refresh(
    sync_server: ServerProcess,
    driver: Driver,
    replica: Replica,
    wire: tuple[ContractClient, Recording],
) -> None:
    client, recording = wire
    cids = [str(driver.start(f"fold-{i}")["id"]) for i in range(3)]
    feed = ReplicaFeed(replica, client, server_url=sync_server.base_url, page_size=7)
    await feed.ensure_snapshot()
    lists_after_snapshot = recording.contract_lists()

    decisions(driver, cids)
    applied = await feed.catch_up()

    assert applied >= 20
    assert recording.contract_lists() == lists_after_snapshot  # no refresh round trip
    assert_same(server_state(sync_server), await replica_state(replica))


async def test_a_contract_the_replica_does_not_hold_is_refreshed(
    sync_server: ServerProcess,
    driver: Driver,
    replica: Replica,
    wire: tuple[ContractClient, Recording],
) -> None:
    client, recording = wire
    feed = ReplicaFeed(replica, client, server_url=sync_server.base_url, page_size=7)
    await feed.ensure_snapshot()
    lists_after_snapshot = recording.contract_lists()

    driver.lifecycle("new-after-snapshot")  # created after the snapshot: a gap
    await feed.catch_up()

    assert recording.contract_lists() > lists_after_snapshot
    assert_same(server_state(sync_server), await replica_state(replica))
