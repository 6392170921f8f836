"""The time-driven rules, run by the background services: one small transaction per contract.

A sweep first finds candidates with indexed SQL (a cheap over-approximation), then, for each
one, locks the contract, asks the rule of `core.timing` again on the fresh row and writes
its Outcome. The rule decides; the SQL only narrows, so the two can never disagree on a
boundary. A contract that changed or vanished in between is simply skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Delete, Select, func, or_, select

from core import inbox, lifecycle, timing
from core.actors import SYSTEM
from core.config import ContractTimeoutConfig
from core.errors import DomainError
from core.events import LoggedEvent
from core.model import Contract, Question, Task
from core.outcome import Outcome
from core.phases import ContractType
from core.status import ContractStatus
from core.store import event_log, inbox_marks, predicates
from core.store.engine import Store
from core.store.schema import contracts, idempotency_records, supervisor_heartbeats
from core.store.unit_of_work import WriteUnitOfWork

# API.md: a repeated Idempotency-Key is answered from its record for 24 hours.
IDEMPOTENCY_RETENTION = timedelta(hours=24)

# (contract, its pending questions, its tasks, now, config) → the rule's Outcome, or None.
Rule = Callable[
    [Contract, Sequence[Question], Sequence[Task], datetime, ContractTimeoutConfig],
    Outcome | None,
]


def _stale(
    c: Contract,
    _: Sequence[Question],
    __: Sequence[Task],
    now: datetime,
    cfg: ContractTimeoutConfig,
) -> Outcome | None:
    return timing.detect_stale(c, now, cfg)


def _input_timeout(
    c: Contract,
    questions: Sequence[Question],
    _: Sequence[Task],
    now: datetime,
    cfg: ContractTimeoutConfig,
) -> Outcome | None:
    return timing.apply_input_timeout(c, questions, now, cfg)


def _grace(
    c: Contract,
    _: Sequence[Question],
    tasks: Sequence[Task],
    now: datetime,
    cfg: ContractTimeoutConfig,
) -> Outcome | None:
    return timing.apply_completion_grace(c, now, cfg, tasks)


def _retention(
    c: Contract,
    _: Sequence[Question],
    __: Sequence[Task],
    now: datetime,
    cfg: ContractTimeoutConfig,
) -> Outcome | None:
    if not timing.archive_expired(c, now, cfg):
        return None
    return lifecycle.delete_contract(c, now, SYSTEM)


@dataclass(slots=True)
class SweepReport:
    """What one sweep did. `events` are in seq order, ready to publish."""

    events: list[LoggedEvent] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    heartbeats_purged: int = 0
    idempotency_purged: int = 0
    claims_expired: list[str] = field(default_factory=list)  # inbox item ids
    escalated: list[str] = field(default_factory=list)  # contract ids
    errors: dict[str, str] = field(default_factory=dict)  # contract id → why it was skipped


def stale_candidates(now: datetime, cfg: ContractTimeoutConfig) -> Select[Any]:
    """Active, quiet for longer than the threshold, not yet reported in this episode."""
    c = contracts.c
    return select(c.id).where(
        predicates.stale(now, cfg.stale_threshold),
        or_(c.stale_notified_at.is_(None), c.stale_notified_at < c.last_activity_at),
    )


def timeout_candidates(now: datetime, cfg: ContractTimeoutConfig) -> Select[Any]:
    """Waiting for input longer than the settings' shorter wait, or of a custom type (whose
    phaseConfig may give a phase its own, shorter wait); `core.timing` decides."""
    c = contracts.c
    shortest = min(cfg.input_timeout, cfg.escalate_after)
    return select(c.id).where(
        c.status == ContractStatus.WAITING_FOR_INPUT.value,
        or_(c.status_changed_at <= now - shortest, c.contract_type == ContractType.CUSTOM.value),
    )


def grace_candidates(now: datetime, cfg: ContractTimeoutConfig) -> Select[Any]:
    c = contracts.c
    started = func.coalesce(c.completion_detected_at, c.status_changed_at)
    return select(c.id).where(
        c.status == ContractStatus.COMPLETING.value,
        started <= now - cfg.completion_grace_period,
    )


def expired_candidates(now: datetime, cfg: ContractTimeoutConfig) -> Select[Any]:
    c = contracts.c
    return select(c.id).where(
        c.status == ContractStatus.ARCHIVED.value,
        c.status_changed_at <= now - cfg.archive_retention,
    )


Candidates = Callable[[datetime, ContractTimeoutConfig], Select[Any]]


class Sweeper:
    """Runs every time rule once; the store's background services call `sweep` on a timer."""

    def __init__(self, store: Store, config: ContractTimeoutConfig) -> None:
        self.store = store
        self.config = config

    async def sweep(self, now: datetime) -> SweepReport:
        """Stale detection, input timeout, completion grace, archive retention, purges."""
        report = SweepReport()
        await self._run(_stale, stale_candidates, now, report.stale, report)
        await self._run(_input_timeout, timeout_candidates, now, report.timed_out, report)
        await self.escalate(now, report)
        await self._run(_grace, grace_candidates, now, report.completed, report)
        await self._run(_retention, expired_candidates, now, report.deleted, report)
        await self.expire_claims(now, report)
        report.heartbeats_purged = await self.purge_heartbeats(now)
        report.idempotency_purged = await self.purge_idempotency_records(now)
        return report

    async def _run(
        self,
        rule: Rule,
        candidates: Candidates,
        now: datetime,
        done: list[str],
        report: SweepReport,
    ) -> None:
        query = candidates(now, self.config).order_by(contracts.c.id)
        ids: list[str] = await self.store.run_read(lambda uow: list(uow.conn.scalars(query)))
        for contract_id in ids:
            try:
                logged = await self.apply_rule(rule, contract_id, now)
            except DomainError as error:  # e.g. deleted meanwhile: report it and go on
                report.errors[contract_id] = error.message
                continue
            if logged is not None:
                done.append(contract_id)
                report.events.extend(logged)

    async def apply_rule(
        self, rule: Rule, contract_id: str, now: datetime
    ) -> list[LoggedEvent] | None:
        """Lock one contract, ask `rule` on the fresh row, write its Outcome (None: not due)."""

        def work(uow: WriteUnitOfWork) -> list[LoggedEvent] | None:
            contract = uow.load_for_update(contract_id, None)
            pending = uow.questions(contract_id, pending_only=True)
            outcome = rule(contract, pending, uow.tasks(contract_id), now, self.config)
            return None if outcome is None else uow.persist(outcome, SYSTEM, now)

        return await self.store.run_write(work)

    async def escalate(self, now: datetime, report: SweepReport) -> None:
        """Escalate the items of every contract whose phase's wait policy says so and whose
        wait is over: each item is marked escalated once, with one `inbox_escalated` event
        per contract naming the escalation list (`core.timing.escalation_due` decides)."""
        query = timeout_candidates(now, self.config).order_by(contracts.c.id)
        ids: list[str] = await self.store.run_read(lambda uow: list(uow.conn.scalars(query)))
        for contract_id in ids:
            try:
                logged = await self.store.run_write(partial(self._escalate_one, contract_id, now))
            except DomainError as error:  # deleted meanwhile: report it and go on
                report.errors[contract_id] = error.message
                continue
            if logged:
                report.escalated.append(contract_id)
                report.events.extend(logged)

    def _escalate_one(
        self, contract_id: str, now: datetime, uow: WriteUnitOfWork
    ) -> list[LoggedEvent]:
        contract = uow.load_for_update(contract_id, None)
        rule = timing.escalation_due(contract, now, self.config)
        if rule is None:
            return []
        pending = uow.questions(contract_id, pending_only=True)
        items = inbox.contract_items(
            contract, now, self.config.stale_threshold, pending, None, self.config
        )
        marks = inbox_marks.marks_of_contract(uow.conn, contract.owner, contract_id)
        fresh = inbox.escalated_marks(items, marks, contract.owner, now)
        if not fresh:
            return []
        for mark in fresh:
            inbox_marks.put_mark(uow.conn, uow.dialect, mark)
        waited = timing.age(contract.status_changed_at, now)
        event = inbox.escalated_event(
            contract_id, contract.phase, [m.item_id for m in fresh], rule.escalate_to, waited
        )
        return event_log.append(
            uow.conn, uow.dialect, [event], owner=contract.owner, actor=SYSTEM, at=now
        )

    async def expire_claims(self, now: datetime, report: SweepReport) -> None:
        """Release every lapsed inbox claim with an `inbox_claim_expired` event (the item
        alarms again); `core.inbox.claim_expiry_due` decides on the row read in the same
        transaction, so two sweeping processes announce a lapse once. A claim on an item that
        no longer waits (handled meanwhile) is released without an event: nothing alarms."""
        expiry = self.config.claim_expiry

        def work(uow: WriteUnitOfWork) -> list[LoggedEvent]:
            logged: list[LoggedEvent] = []
            for mark in inbox_marks.claimed_before(uow.conn, now - expiry):
                if not inbox.claim_expiry_due(mark, now, expiry):
                    continue
                inbox_marks.put_mark(uow.conn, uow.dialect, inbox.unclaimed(mark))
                if not self._still_waits(uow, mark, now):
                    continue
                event = inbox.claim_expired_event(mark)
                logged += event_log.append(
                    uow.conn, uow.dialect, [event], owner=mark.owner, actor=SYSTEM, at=now
                )
                report.claims_expired.append(mark.item_id)
            return logged

        report.events.extend(await self.store.run_write(work))

    def _still_waits(self, uow: WriteUnitOfWork, mark: inbox.InboxMark, now: datetime) -> bool:
        """Whether the marked item is still one of its contract's inbox items."""
        try:
            contract = uow.contract(mark.contract_id, mark.owner)
        except DomainError:  # the contract is gone
            return False
        pending = uow.questions(contract.id, pending_only=True)
        tasks = uow.tasks(contract.id)
        cfg = self.config
        items = inbox.contract_items(contract, now, cfg.stale_threshold, pending, tasks, cfg)
        return any(item.id == mark.item_id for item in items)

    async def purge_heartbeats(self, now: datetime) -> int:
        """Delete heartbeats older than the retention (the liveness rows are kept)."""
        cutoff = now - self.config.heartbeat_retention
        return await self._delete(
            supervisor_heartbeats.delete().where(supervisor_heartbeats.c.timestamp < cutoff)
        )

    async def purge_idempotency_records(self, now: datetime) -> int:
        cutoff = now - IDEMPOTENCY_RETENTION
        return await self._delete(
            idempotency_records.delete().where(idempotency_records.c.created_at < cutoff)
        )

    async def _delete(self, statement: Delete) -> int:
        return await self.store.run_write(lambda uow: int(uow.conn.execute(statement).rowcount))
