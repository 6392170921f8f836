"""MonitorClient against a real server that is stopped and restarted mid-stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from core.events import EventType, LoggedEvent, MonitorFilter
from sync.answers import EventPage
from sync.client import ContractClient
from sync.errors import ApiError
from sync.monitor import Backoff, MonitorClient, MonitorState
from tests.sync.server_fixture import ServerProcess

pytestmark = pytest.mark.timeout(180)


class Collector:
    def __init__(self) -> None:
        self.events: list[LoggedEvent] = []
        self.states: list[MonitorState] = []
        self.changed = asyncio.Event()

    async def on_event(self, event: LoggedEvent) -> None:
        self.events.append(event)
        self.changed.set()

    def on_state(self, state: MonitorState) -> None:
        self.states.append(state)
        self.changed.set()

    async def until(self, condition: Callable[[], bool], within: float = 30) -> None:
        async with asyncio.timeout(within):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def make_changes(client: ContractClient, supervisor: ContractClient, count: int) -> None:
    for n in range(count):
        contract = await client.create_contract(f"m-{n}", "simple")
        await supervisor.create_task(contract.id, "sup", is_supervisor=True)
        await supervisor.change_status(contract.id, "active")


async def all_events(client: ContractClient) -> list[LoggedEvent]:
    found: list[LoggedEvent] = []
    after = 0
    while True:
        page = await client.events(after=after, limit=1000)
        if not page.events:
            return found
        found += page.events
        after = page.last_seq


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_every_event_exactly_once_across_a_server_restart(
    fresh_server: ServerProcess, how: str
) -> None:
    url = fresh_server.base_url
    async with (
        ContractClient(url, fresh_server.reviewer_key, retries=10) as reviewer,
        ContractClient(url, fresh_server.supervisor_key, retries=10) as supervisor,
        ContractClient(url, fresh_server.other_key) as other,
    ):
        await make_changes(reviewer, supervisor, 2)  # before the monitor: replayed
        seen = Collector()

        async def catch_up(after: int) -> EventPage:
            return await reviewer.events(after=after)

        monitor = MonitorClient(
            url,
            fresh_server.reviewer_key,
            monitor_filter=MonitorFilter(),
            after=0,
            on_event=seen.on_event,
            catch_up=catch_up,
            on_state=seen.on_state,
            backoff=Backoff(base=0.05, cap=0.5),
        )
        running = asyncio.create_task(monitor.run())
        try:
            await seen.until(lambda: len(seen.events) >= 6)  # 2 x (created, task, status)
            await make_changes(reviewer, supervisor, 1)
            await other.create_contract("bob's", "simple")  # a gap in alice's seqs
            await seen.until(lambda: len(seen.events) >= 9)

            await asyncio.to_thread(getattr(fresh_server, how))
            await seen.until(lambda: seen.states[-1] is not MonitorState.LIVE)
            await asyncio.to_thread(fresh_server.start)
            await make_changes(reviewer, supervisor, 2)
            await other.create_contract("bob's again", "simple")
            await make_changes(reviewer, supervisor, 1)

            expected = await all_events(reviewer)
            assert len(expected) == 18
            await seen.until(lambda: monitor.last_seq >= (expected[-1].seq or 0))
        finally:
            monitor.stop()
            await asyncio.wait_for(running, 10)

    assert [e.seq for e in seen.events] == [e.seq for e in expected]
    assert [e.type for e in seen.events] == [e.type for e in expected]
    assert seen.events[0].type is EventType.CONTRACT_CREATED
    assert monitor.connections >= 2
    assert MonitorState.CATCHING_UP in seen.states or MonitorState.LIVE in seen.states


async def test_a_bad_key_ends_the_monitor(sync_server: ServerProcess) -> None:
    async def ignore(event: LoggedEvent) -> None:
        return None

    monitor = MonitorClient(
        sync_server.base_url,
        "wrong-key",
        monitor_filter=MonitorFilter(),
        after=0,
        on_event=ignore,
    )
    with pytest.raises(ApiError) as caught:
        await asyncio.wait_for(monitor.run(), 20)
    assert caught.value.code == "UNAUTHORIZED"
