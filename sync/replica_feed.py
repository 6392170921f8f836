"""Filling the replica from the server: the first snapshot, catch-up, live events, refreshes.

First contact (`snapshot`): the whole event log through paged `GET /events` (stored page by
page while the next page is fetched), THEN the contracts through paged `GET /contracts` and
the pending questions through `GET /questions`. Contracts are read after the log on
purpose: they are at least as new as the last event stored, so the log's effects on them
need not be replayed; tasks and question history are folded from the log. The snapshot
completes in one transaction with the cursor; an interrupted one is redone from scratch.

Keep-current (`catch_up`, `on_event`): events are applied page by page, exactly once, and
fold into the contract rows (each carries the version it produced). Only when a page has a
gap the fold cannot close (see `sync.replica_apply`) are the contracts refreshed in bulk
with `GET /contracts?updatedSince=` — one request (or a few pages) for any number of
events, coalesced while one is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import orjson

from core.clock import Clock, SystemClock
from core.events import LoggedEvent
from core.store.rows import contract_values
from core.wire import contract_from_wire
from sync.answers import EventPage
from sync.client import ContractClient
from sync.errors import BAD_RESPONSE, ApiError
from sync.replica import Replica
from sync.replica_bulk import contract_values_from_wire, convert_page, logged_events
from sync.replica_history import HistoryFold

log = logging.getLogger(__name__)

PAGE = 1000  # the API's largest page
CONTRACT_FETCHERS = 4  # contract pages fetched at once during a snapshot
EVENT_FETCHERS = 4  # event pages fetched at once during a snapshot
# `updatedSince` reaches back a little: the server's and the event's times are rounded to ms.
REFRESH_MARGIN = timedelta(seconds=1)
REFRESH_DELAY = 0.05  # seconds; events arriving meanwhile share one refresh
CLOSE_TIMEOUT = 5.0  # seconds `close` waits for live events still being applied
APPLY_RETRY = 1.0  # seconds before applying live events again after a failure


class ReplicaFeed:
    """Moves the server's state into one replica through one client."""

    def __init__(
        self,
        replica: Replica,
        client: ContractClient,
        *,
        server_url: str,
        clock: Clock | None = None,
        page_size: int = PAGE,
    ) -> None:
        self.replica = replica
        self.client = client
        self.server_url = server_url
        self.clock = clock or SystemClock()
        self.page_size = page_size
        self._pending: list[LoggedEvent] = []
        self._drain: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self._refresh_wanted = False

    # --- first contact -------------------------------------------------------------------

    async def ensure_snapshot(self) -> bool:
        """Take a snapshot unless a complete one of this server exists; True if taken."""
        if await self.replica.has_snapshot(self.server_url):
            return False
        await self.snapshot()
        return True

    async def snapshot(self) -> None:
        """Replace the replica's server rows with a fresh copy of the server's state."""
        await self.replica.reset(self.server_url)
        fold = HistoryFold()
        last_seq = await self._snapshot_events(fold)
        held = await self._store_contracts()
        pending = await self.client.list_questions(status="pending")
        await self.replica.finish_snapshot(
            held, fold, pending, last_seq=last_seq, at=self.clock.now()
        )
        log.info("snapshot: %d contracts, events up to seq %d", len(held), last_seq)

    async def _snapshot_events(self, fold: HistoryFold) -> int:
        """Store the whole log; returns the last seq stored.

        Pages are fetched `EVENT_FETCHERS` at a time at `after = k * page` (seq is gap-free,
        so page k holds every event of ours in (k*page, (k+1)*page]; what it has beyond is
        trimmed and comes again with page k+1). The first short page is the end of the log.
        Pages are converted and stored in order while the next window is fetched.
        """
        size, window, k, last = self.page_size, EVENT_FETCHERS, 0, 0
        writing: asyncio.Future[None] | None = None
        fetching = self._fetch_window(0)
        try:
            while True:
                afters, pages = await fetching
                kept, done = _window_events(afters, pages, size)
                if not done:  # the server works on the next window while this one is stored
                    k += window
                    fetching = self._fetch_window(k * size)
                rows, folded = convert_page(kept, self.replica.owner)
                fold.add_all(folded)
                last = max((int(e["seq"]) for e in kept), default=last)
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(self.replica.store_snapshot_rows(rows))
                if done:
                    await writing
                    return last
        finally:
            for pending in (writing, fetching):
                if pending is not None and not pending.done():
                    pending.cancel()

    def _fetch_window(
        self, start: int
    ) -> asyncio.Future[tuple[list[int], list[list[dict[str, Any]]]]]:
        afters = [start + i * self.page_size for i in range(EVENT_FETCHERS)]

        async def fetch() -> tuple[list[int], list[list[dict[str, Any]]]]:
            pages = await asyncio.gather(*(self._raw_list("/events", after=a) for a in afters))
            return afters, [_items(p, "events") for p in pages]

        return asyncio.ensure_future(fetch())

    async def _raw_list(self, path: str, **params: Any) -> dict[str, Any]:
        """One list page as wire JSON (parsed with orjson), not through the client's typed
        answers: parsing 100k events into LoggedEvents costs seconds (see replica_bulk)."""
        params.setdefault("limit", self.page_size)
        response = await self.client._call("GET", path, params=params)
        try:
            wire = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ApiError(response.status_code, BAD_RESPONSE, f"{path}: not JSON") from None
        if not isinstance(wire, dict):
            raise ApiError(response.status_code, BAD_RESPONSE, f"{path}: not an object")
        return wire

    async def _store_contracts(self) -> set[str]:
        """Store every contract, each page as it arrives (a few fetched at a time), and
        return their ids. Checked against `total`: a contract moving between pages while
        they are read is fetched again. Until the snapshot's last transaction the rows are
        not current for anyone (`snapshot_at` is NULL), so they need not commit together."""
        gate = asyncio.Semaphore(CONTRACT_FETCHERS)
        versions: dict[str, int] = {}

        async def fetch(offset: int) -> int | None:
            async with gate:
                wire = await self._raw_list("/contracts", offset=offset)
            newer = [
                w
                for w in _items(wire, "contracts")
                if versions.get(w["id"], -1) < int(w["version"])
            ]
            versions.update((w["id"], int(w["version"])) for w in newer)
            await self.replica.store_snapshot_contracts([self._contract_row(w) for w in newer])
            total = wire.get("total")
            return total if isinstance(total, int) else None

        for _ in range(3):
            total = await fetch(0)
            if total is None:
                break
            await asyncio.gather(*(fetch(o) for o in range(self.page_size, total, self.page_size)))
            if len(versions) >= total:
                break
        return set(versions)

    def _contract_row(self, wire: Mapping[str, Any]) -> dict[str, Any]:
        values = contract_values_from_wire(wire, self.replica.owner)
        if values is None:  # the exact path (e.g. a custom phase config to normalise)
            values = contract_values(contract_from_wire(wire, owner=self.replica.owner))
        return values

    # --- keeping current -----------------------------------------------------------------

    async def fetch_page(self, after: int) -> EventPage:
        """One page of the log after `after` (the monitor's catch-up)."""
        return await self.client.events(after=after, limit=self.page_size)

    async def catch_up(self) -> int:
        """Apply every event the replica has not seen, then refresh; returns how many."""
        applied = 0
        while True:
            cursor = await self.replica.cursor()
            wire = await self._raw_list("/events", after=cursor.last_seq)
            page = logged_events(_items(wire, "events"))
            applied += (await self.replica.apply_events(page)).applied
            if len(page) < self.page_size:
                break
        await self.refresh()
        return applied

    async def on_event(self, event: LoggedEvent) -> None:
        """A live event from the monitor: applied with the others that arrive meanwhile."""
        self._pending.append(event)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.create_task(self._apply_pending())

    async def _apply_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                result = await self.replica.apply_events(batch)
            except Exception:
                # The monitor counts these as delivered: keep them and try again, never
                # drop them (a catch-up after a restart would refetch them, but only then).
                log.exception("applying %d live events failed; retrying", len(batch))
                self._pending[:0] = batch
                await asyncio.sleep(APPLY_RETRY)
                continue
            if result.gaps:
                self.request_refresh()

    def request_refresh(self) -> None:
        """Refresh changed contracts soon; requests made meanwhile share one refresh."""
        self._refresh_wanted = True
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = asyncio.create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while self._refresh_wanted:
            self._refresh_wanted = False
            await asyncio.sleep(REFRESH_DELAY)
            try:
                await self.refresh()
            except ApiError as error:
                log.warning("contract refresh failed (retried on reconnect): %s", error)
                return

    async def settle(self) -> None:
        """Wait until live events are applied and the refresh they asked for is done."""
        while True:
            tasks = [t for t in (self._drain, self._refresh_task) if t and not t.done()]
            if not tasks and not self._pending:
                return
            if not tasks:
                await asyncio.sleep(0)
                continue
            await asyncio.gather(*tasks, return_exceptions=True)

    async def refresh(self) -> frozenset[str]:
        """Bring every contract changed since the oldest unrefreshed event; returns the ids
        whose rows changed."""
        cursor = await self.replica.cursor()
        if cursor.refresh_since is None:
            return frozenset()
        since = cursor.refresh_since - REFRESH_MARGIN
        changed: set[str] = set()
        offset = 0
        while True:
            page = await self.client.list_contracts(
                limit=self.page_size, offset=offset, updated_since=since
            )
            changed |= await self.replica.put_contracts(page.contracts)
            offset += len(page.contracts)
            if not page.contracts or offset >= page.total:
                break
        await self.replica.mark_refreshed(cursor.last_seq)
        return frozenset(changed)

    async def refresh_supervisor(self, contract_id: str, *, limit: int = 10) -> None:
        """Store the supervisor's status and recent heartbeats as the server has them."""
        try:
            status = await self.client.supervisor_status(contract_id)
        except ApiError as error:
            if error.code != "SUPERVISOR_NOT_FOUND":
                raise
            status = None
        history = await self.client.supervisor_heartbeats(contract_id, limit) if status else []
        await self.replica.put_supervisor(contract_id, status, history)

    async def close(self) -> None:
        """Finish applying what arrived; stop a pending refresh."""
        if self._drain is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._drain, CLOSE_TIMEOUT)
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
            with contextlib.suppress(BaseException):
                await self._refresh_task


def _window_events(
    afters: Sequence[int], pages: Sequence[list[dict[str, Any]]], size: int
) -> tuple[list[dict[str, Any]], bool]:
    """The events of a window of pages, in seq order without repeats, and whether the log
    ended in it (at its first short page; later pages of the window are then ignored)."""
    kept: dict[int, dict[str, Any]] = {}
    for after, page in zip(afters, pages, strict=True):
        short = len(page) < size
        for wire in page:
            seq = wire.get("seq")
            if isinstance(seq, int) and (short or seq <= after + size):
                kept[seq] = wire
        if short:
            return [kept[s] for s in sorted(kept)], True
    return [kept[s] for s in sorted(kept)], False


def _items(wire: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    found = wire.get(key)
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []
