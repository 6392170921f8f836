"""Heartbeat group commit: many concurrent submits, few transactions, each answer durable.

Thousands of supervisors each POST a heartbeat every few seconds. One transaction per POST
would spend nearly all its time in BEGIN/COMMIT (and, on SQLite, queue on the single
writer). So `submit` only enqueues its heartbeats and awaits a future; one flusher task
gathers them and writes each owner's share with ONE `ContractRepository.record_heartbeats`
call. A caller's await returns only after the transaction holding ITS heartbeats committed,
so a 202 is durable.

When to flush (natural group commit): if no flush is running, at once (with whatever
arrived in the same loop tick) — an idle server adds no latency. While one commits, new
submits gather until it is done, the batch holds `max_batch` heartbeats, or `max_delay`
passed; then up to `max_in_flight` flushes may overlap (on PostgreSQL they really run in
parallel; on SQLite they queue on the writer, ready the moment it is free). So the batch
size follows the load by itself. Heartbeats of one contract in two overlapping flushes are
harmless: the liveness row keeps the newest (see `SupervisorStore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.actors import Actor, Role
from core.events import EventType, LoggedEvent
from core.store.supervision import HeartbeatBatch
from core.supervisor import Heartbeat
from server.context import ServerContext

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    heartbeats: Sequence[Heartbeat]
    owner: str
    actor: Actor
    done: asyncio.Future[HeartbeatBatch]


class HeartbeatWriter:
    """Gathers concurrent heartbeat submits into group-committed transactions."""

    def __init__(
        self,
        ctx: ServerContext,
        *,
        max_batch: int = 500,
        max_delay: float = 0.005,
        max_in_flight: int = 2,
    ) -> None:
        self._ctx = ctx
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._pending: list[_Pending] = []
        self._pending_count = 0
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()  # set: batch full, or no flush in flight
        self._slots = asyncio.Semaphore(max_in_flight)
        self._flushes: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self.transactions = 0  # record_heartbeats calls made (for tests and benchmarks)
        self.flushed = 0  # heartbeats handed to those calls

    async def start(self) -> None:
        if self._runner is None:
            self._stopping = False
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Flush everything queued, wait for running flushes, then stop the flusher."""
        if self._runner is None:
            return
        self._stopping = True
        self._wake.set()
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        self._runner = None
        if self._flushes:
            await asyncio.wait(set(self._flushes))

    async def submit(
        self, heartbeats: Sequence[Heartbeat], owner: str, *, actor: Actor | None = None
    ) -> HeartbeatBatch:
        """Store `heartbeats` of `owner`'s contracts; returns once they are committed.

        Heartbeats of unknown or foreign contracts come back in `rejected`. `actor` is who
        the transient monitor events name (default: a supervisor of `owner`). Without a
        running flusher (not started, or stopped) the write happens directly.
        """
        who = actor or Actor(owner, Role.SUPERVISOR)
        if not heartbeats:
            return HeartbeatBatch((), ())
        if self._runner is None or self._stopping:
            batch = await self._ctx.repo.record_heartbeats(heartbeats, owner)
            self._ctx.publish(batch.events)
            self._announce(batch.accepted, owner, who)
            return batch
        done: asyncio.Future[HeartbeatBatch] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(heartbeats, owner, who, done))
        self._pending_count += len(heartbeats)
        if self._pending_count >= self._max_batch:
            self._ready.set()
        self._wake.set()
        # The write goes on if this caller goes away; shield so its cancellation does not
        # cancel the shared future (which would look like a failed flush to nobody).
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            done.add_done_callback(_consume)  # nobody awaits it now: mark a failure as seen
            raise

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._pending:
                self._wake.clear()
                if self._stopping:
                    return
                continue
            if self._flushes and self._pending_count < self._max_batch and not self._stopping:
                # A flush is committing: keep gathering until it is done, the batch is
                # full, or `max_delay` passed (then a second flush may overlap it).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._max_delay):
                        await self._ready.wait()
            else:
                await asyncio.sleep(0)  # the writer is idle: take what arrived this tick
            batch = self._take()
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._flush(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flush_done)

    def _flush_done(self, task: asyncio.Task[None]) -> None:
        self._flushes.discard(task)
        if not self._flushes:
            self._ready.set()

    def _take(self) -> list[_Pending]:
        """The oldest submits up to `max_batch` heartbeats (always at least one submit)."""
        taken, count = 0, 0
        for item in self._pending:
            if taken and count + len(item.heartbeats) > self._max_batch:
                break
            taken += 1
            count += len(item.heartbeats)
        batch, self._pending = self._pending[:taken], self._pending[taken:]
        self._pending_count -= count
        if self._pending_count < self._max_batch:
            self._ready.clear()
        return batch

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            by_owner: dict[str, list[_Pending]] = defaultdict(list)
            for item in batch:
                by_owner[item.owner].append(item)
            for owner, items in by_owner.items():
                await self._write(owner, items)
        finally:
            self._slots.release()

    async def _write(self, owner: str, items: list[_Pending]) -> None:
        heartbeats = [hb for item in items for hb in item.heartbeats]
        try:
            result = await self._ctx.repo.record_heartbeats(heartbeats, owner)
        except Exception as exc:  # every caller of this transaction gets the failure
            log.warning("heartbeat flush of %d failed: %s", len(heartbeats), exc)
            for item in items:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        self.transactions += 1
        self.flushed += len(heartbeats)
        self._ctx.publish(result.events)  # state changes, contracts started: logged events
        for item in items:
            mine = _share(item.heartbeats, result, single=len(items) == 1)
            self._announce(mine.accepted, owner, item.actor)
            if not item.done.done():
                item.done.set_result(mine)

    def _announce(self, accepted: Sequence[Heartbeat], owner: str, actor: Actor) -> None:
        if not accepted:
            return
        self._ctx.metrics.inc("supervisor_heartbeats_total", len(accepted))
        hub, relay = self._ctx.hub, self._ctx.relay
        # The common case under load: nobody watches live, here or (PostgreSQL) elsewhere.
        if hub.subscriber_count == 0 and relay is None:
            return
        for hb in accepted:
            event = LoggedEvent(
                seq=None,
                at=hb.timestamp,
                type=EventType.HEARTBEAT,
                contract_id=hb.contract_id,
                actor=actor,
                payload=hb.to_transient_event_payload(),
                owner=owner,
            )
            hub.publish_transient(event)
            if relay is not None:
                relay.relay(owner, event.to_wire())


def _consume(future: asyncio.Future[HeartbeatBatch]) -> None:
    if not future.cancelled():
        future.exception()


def _share(mine: Sequence[Heartbeat], result: HeartbeatBatch, *, single: bool) -> HeartbeatBatch:
    """This caller's part of a group result: acceptance is decided per contract id."""
    if single:
        return result
    ids = {id(hb) for hb in mine}
    wrong = tuple((hb, why) for hb, why in result.wrong_task if id(hb) in ids)
    if not result.rejected and not wrong:
        return HeartbeatBatch(tuple(mine), ())
    refused = {hb.contract_id for hb in result.rejected}
    wrong_ids = {id(hb) for hb, _ in wrong}
    return HeartbeatBatch(
        tuple(hb for hb in mine if hb.contract_id not in refused and id(hb) not in wrong_ids),
        tuple(hb for hb in mine if hb.contract_id in refused),
        wrong,
    )
