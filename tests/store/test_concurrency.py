"""Concurrent writers: one winner per version, and an event log readers can page safely."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from core.clock import ManualClock
from core.config import ContractTimeoutConfig
from core.errors import VersionConflict
from core.phase_change import PhaseChangeRequest
from core.store import Applied, ContractRepository, Store, open_store, queries
from tests.store.helpers import REVIEWER, started_contract

WRITERS = 16


async def _race(actions: list[Callable[[], Awaitable[Applied]]]) -> tuple[int, int]:
    results = await asyncio.gather(*(a() for a in actions), return_exceptions=True)
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, VersionConflict)
    ]
    assert not unexpected, unexpected
    wins = sum(1 for r in results if isinstance(r, Applied))
    return wins, sum(1 for r in results if isinstance(r, VersionConflict))


async def test_same_expected_version_status_changes_have_one_winner(
    repo: ContractRepository, store: Store
) -> None:
    cid = await started_contract(repo)
    version = (await queries.get_contract(store, cid, "alice")).contract.version
    targets = ["paused", "blocked"] * (WRITERS // 2)

    def change(target: str) -> Callable[[], Awaitable[Applied]]:
        return lambda: repo.change_status(
            cid, REVIEWER, target, blocker="b", expected_version=version
        )

    assert await _race([change(t) for t in targets]) == (1, WRITERS - 1)
    stored = (await queries.get_contract(store, cid, "alice")).contract
    assert stored.version == version + 1


async def test_same_expected_version_phase_changes_have_one_winner(
    repo: ContractRepository, store: Store
) -> None:
    cid = await started_contract(repo, phase_guard=False)
    version = (await queries.get_contract(store, cid, "alice")).contract.version
    request = PhaseChangeRequest("execute", expected_version=version, force=True)
    actions = [lambda: repo.change_phase(cid, REVIEWER, request) for _ in range(WRITERS)]
    assert await _race(actions) == (1, WRITERS - 1)
    page = await queries.events_after(store, "alice", contract_id=cid, limit=1000)
    assert sum(1 for e in page.events if e.type.value == "phase_changed") == 1


async def _flip(repo: ContractRepository, contract_id: str, rounds: int) -> None:
    for _ in range(rounds):
        await repo.change_status(contract_id, REVIEWER, "paused")
        await repo.change_status(contract_id, REVIEWER, "active")


async def _follow(store: Store, stop: asyncio.Event, seen: list[int]) -> None:
    """A subscriber catching up by `after`: it must never skip a seq it later finds."""
    while not stop.is_set() or (await queries.events_after(store, None, after=seen[-1])).events:
        page = await queries.events_after(store, None, after=seen[-1], limit=50)
        got = [e.seq for e in page.events]
        assert got == list(range(seen[-1] + 1, seen[-1] + 1 + len(got))), (seen[-1], got)
        seen.extend(seq for seq in got if seq is not None)
        await asyncio.sleep(0)


@pytest.mark.parametrize("stores", [1, 2], ids=["one-store", "two-stores"])
async def test_seq_is_gap_free_and_never_observed_out_of_order(db_url: str, stores: int) -> None:
    """16 writers on 16 contracts (through two stores = two processes' pools) and a reader."""
    opened = [await open_store(db_url, migrate=True) for _ in range(stores)]
    repos = [ContractRepository(s, ManualClock(), ContractTimeoutConfig()) for s in opened]
    try:
        ids = [await started_contract(repos[i % stores]) for i in range(WRITERS)]
        head = await queries.head_seq(opened[0])
        seen, stop = [head], asyncio.Event()
        follower = asyncio.create_task(_follow(opened[0], stop, seen))
        await asyncio.gather(*(_flip(repos[i % stores], cid, 5) for i, cid in enumerate(ids)))
        stop.set()
        await follower
        total = await queries.head_seq(opened[0])
        assert total == head + WRITERS * 10
        assert seen == list(range(head, total + 1))
    finally:
        for s in opened:
            await s.close()
