"""The durable outbox of reviewer actions: written locally first, sent with an idempotency key.

Every reviewer action (confirm or reject a phase change, answer a question, pause, resume,
change status, batch operation, settings change, supervisor restart) becomes one `outbox`
row in the replica, written in one local transaction with a fresh idempotency key (uuid4)
and the contract version the reviewer saw. `flush(client)` then sends the queued rows.

Lifecycle (`OutboxState`, one table of moves, `move` checks it):

    QUEUED ──► SENDING ──► APPLIED | REJECTED (code, message) | CONFLICT (contract as it now is)
      ▲           │
      └───────────┘  no answer (connection failed, server error): sent again later with the
                     SAME idempotency key — safe, the server replays the first answer.
    CONFLICT | REJECTED ──► RECONFIRMED (the reviewer re-sent it: a NEW entry, the version now)
    CONFLICT | REJECTED | QUEUED ──► DROPPED (the reviewer gave it up)

Rules, and the decisions behind them:
- Nothing is dropped or silently retried against a newer version: a VERSION_CONFLICT ends in
  CONFLICT and only `reconfirm(entry_id)` or `drop(entry_id)` moves on.
- Entries survive a crash: they are rows. `recover()` at start-up puts SENDING rows back to
  QUEUED (their answer was lost; the idempotency key makes sending again safe).
- Order: rows are sent one at a time, oldest first, and a flush stops at the first row that
  got no answer, so an entry never overtakes an earlier QUEUED/SENDING entry of its contract.
  A CONFLICT or REJECTED entry does NOT block later ones: a later versioned entry made from
  the same stale view conflicts by itself, and unversioned ones (answers) are independent.
- The reviewer's own chain: entries taken from the same view (same `expected_version`) of a
  contract are one chain. When one is APPLIED and the server's answer shows the version it
  made, the chain's later QUEUED entries move to that version — the reviewer's own change is
  not a conflict. Anyone else's change still is.
- A batch operation (no contract) is ordered like the rest by the one-at-a-time rule.
- One decision at a time: while an entry is on its way (QUEUED or SENDING), a second entry
  of the same contract making the same decision (`decision_of`: a confirm or change request
  of the same phase, a pause, a resume, an answer to the same question, …) is refused with
  `ActionAlreadyQueued`. Every writer of the outbox (desktop, scripts) meets the same rule.
- Snooze and claim of an inbox item (`snooze`, `unsnooze`, `claim`, `unclaim`) are queued
  like any decision, unversioned and unbound (they decide nothing about the contract): the
  item's snooze is one decision and its claim another, so a snooze queued behind an unsnooze
  of the same item is refused until the first is sent. `INBOX_ITEM_NOT_FOUND` (the item was
  handled meanwhile) is REJECTED; the time of a snooze is absolute, so one sent late ends
  when it was meant to (one whose time has passed is REJECTED as VALIDATION_FAILED).
- No optimistic local effect: the replica is corrected by the events the action causes.
- A phase decision is bound to the request the reviewer saw, not to the contract's version:
  a confirmation carries that request's `transition_id` and the digest of its evidence (and
  the evidence itself, for the conflict view), a change request its `transition_id`, and no
  expected version — heartbeats, tasks and questions bump the version all day and must not
  turn a decision into a conflict. `EVIDENCE_CHANGED` ends in CONFLICT carrying the evidence
  seen, the evidence now and what changed (`OutboxEntry.evidence_conflict`); `reconfirm`
  then binds the new entry to the evidence now ("confirm the new evidence").
  `REQUEST_SUPERSEDED` (answered or replaced elsewhere) is REJECTED. The caller passes the
  evidence it showed (`evidence=`); given neither evidence nor a version, the replica's open
  request is taken. An explicit `expected_version` without evidence keeps the version binding
  (the replica's evidence may be newer than that version), and so does a replica that knows
  no open request (an older server).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import CursorResult, and_, delete, select, update

from core.clock import Clock, SystemClock, iso
from core.errors import ErrorCode
from core.evidence import PhaseEvidence
from core.store.rows import contract_from_row
from core.store.schema import contracts
from core.store.unit_of_work import WriteUnitOfWork
from sync.client import ContractClient
from sync.errors import ApiError, ConnectionFailed
from sync.observers import Observers
from sync.outbox_entry import (
    BOUND_KEYS,
    MOVES,
    VERSIONED,
    ActionAlreadyQueued,
    ActionKind,
    IllegalOutboxMove,
    OutboxEntry,
    OutboxState,
    action_noun,
    bound_payload,
    bound_wire,
    check_move,
    entry_from_row,
    explained,
    is_bound,
    open_request_evidence,
    queued_duplicate,
)
from sync.outbox_send import SentAnswer, current_contract, is_transient, send_action
from sync.replica import Replica
from sync.replica_schema import outbox

log = logging.getLogger(__name__)
S = OutboxState
__all__ = [
    "MOVES",
    "SEEN",
    "ActionAlreadyQueued",
    "ActionKind",
    "FlushResult",
    "IllegalOutboxMove",
    "Outbox",
    "OutboxEntry",
    "OutboxState",
    "SentAnswer",
    "action_noun",
    "check_move",
    "queued_duplicate",
    "send_action",
]


class _Seen:
    """Marker: take the expected version from the replica (what the reviewer sees now)."""


SEEN: Final = _Seen()


@dataclass(frozen=True, slots=True)
class FlushResult:
    sent: int  # entries that got an answer
    stopped: ApiError | None  # the failure that ended the flush early (entries re-queued)


class Outbox:
    """The reviewer's actions in the replica file. Observers of `entry_changed` get every
    entry whose state changed (or that was created)."""

    def __init__(self, replica: Replica, *, clock: Clock | None = None) -> None:
        self.replica = replica
        self.store = replica.store
        self.clock = clock or SystemClock()
        self.entry_changed: Observers[OutboxEntry] = Observers("outbox_entry_changed")
        self.queued: Observers[OutboxEntry] = Observers("outbox_queued")
        self._flushing = asyncio.Lock()

    # --- writing actions -----------------------------------------------------------------

    async def enqueue(
        self,
        kind: ActionKind,
        contract_id: str | None,
        payload: Mapping[str, Any],
        *,
        expected_version: int | _Seen | None = SEEN,
        replaces: int | None = None,
    ) -> OutboxEntry:
        """Write one action (one local transaction) and return its entry, QUEUED.

        `expected_version`: the contract version the reviewer saw; by default the replica's
        version now, for kinds whose endpoint checks it (None: no check).
        Raises ActionAlreadyQueued when the same decision is already on its way.
        """
        now = self.clock.now()
        values = {
            "contract_id": contract_id,
            "kind": kind.value,
            "payload": dict(payload),
            "idempotency_key": str(uuid.uuid4()),
            "state": S.QUEUED.value,
            "attempts": 0,
            "replaces": replaces,
            "created_at": now,
            "updated_at": now,
        }

        def work(uow: WriteUnitOfWork) -> OutboxEntry:
            _refuse_duplicate(uow, contract_id, kind, payload)
            version = expected_version
            if isinstance(version, _Seen):
                version = _replica_version(uow, contract_id) if kind in VERSIONED else None
            inserted = uow.conn.execute(outbox.insert().values(expected_version=version, **values))
            return _load(uow, _new_id(inserted))

        entry = await self.store.run_write(work)
        self.entry_changed.publish(entry)
        self.queued.publish(entry)
        return entry

    async def confirm_phase(
        self,
        contract_id: str,
        phase: str,
        *,
        comment: str | None = None,
        expected_version: int | _Seen | None = SEEN,
        evidence: PhaseEvidence | _Seen | None = SEEN,
    ) -> OutboxEntry:
        """Confirm the advance to `phase`, bound to `evidence` — what the reviewer saw.

        Pass the `PhaseEvidence` the reviewer read (`core.evidence.evidence_of` of the contract
        shown). Neither evidence nor version given: the replica's open request now. An
        explicit `expected_version` without evidence, or `evidence=None`: bound to the version
        as before (the replica may hold newer evidence than that version's)."""
        seen = await self._evidence(contract_id, evidence, expected_version)
        payload: dict[str, Any] = {"phase": phase, "comment": comment}
        if seen is None:
            return await self.enqueue(
                ActionKind.CONFIRM_PHASE, contract_id, payload, expected_version=expected_version
            )
        payload |= bound_payload(seen, with_evidence=True)
        return await self.enqueue(
            ActionKind.CONFIRM_PHASE, contract_id, payload, expected_version=None
        )

    async def reject_phase(
        self,
        contract_id: str,
        phase: str,
        feedback: str,
        *,
        expected_version: int | _Seen | None = SEEN,
        evidence: PhaseEvidence | _Seen | None = SEEN,
    ) -> OutboxEntry:
        """Request changes instead of the advance, bound to the request seen (see
        `confirm_phase`); a refusal does not depend on the evidence, only on the request."""
        seen = await self._evidence(contract_id, evidence, expected_version)
        payload: dict[str, Any] = {"phase": phase, "feedback": feedback}
        if seen is None:
            return await self.enqueue(
                ActionKind.REJECT_PHASE, contract_id, payload, expected_version=expected_version
            )
        payload |= bound_payload(seen, with_evidence=False)
        return await self.enqueue(
            ActionKind.REJECT_PHASE, contract_id, payload, expected_version=None
        )

    async def _evidence(
        self,
        contract_id: str,
        given: PhaseEvidence | _Seen | None,
        version_seen: int | _Seen | None,
    ) -> PhaseEvidence | None:
        if not isinstance(given, _Seen):
            return given
        if not isinstance(version_seen, _Seen):
            # The caller names the view it acted on by its version, and the replica may have
            # taken in newer evidence since (events do not move its version): the version
            # binds, never evidence the reviewer may not have seen.
            return None
        found = await self.replica.contracts_by_id([contract_id])
        contract = found.get(contract_id)
        return None if contract is None else open_request_evidence(contract)

    async def answer_question(self, contract_id: str, question_id: str, answer: str) -> OutboxEntry:
        payload = {"question_id": question_id, "answer": answer}
        return await self.enqueue(ActionKind.ANSWER_QUESTION, contract_id, payload)

    async def change_status(
        self,
        contract_id: str,
        target_status: str,
        *,
        reason: str | None = None,
        blocker: str | None = None,
        expected_version: int | _Seen | None = SEEN,
    ) -> OutboxEntry:
        payload = {"target_status": target_status, "reason": reason, "blocker": blocker}
        return await self.enqueue(
            ActionKind.CHANGE_STATUS, contract_id, payload, expected_version=expected_version
        )

    async def pause(
        self,
        contract_id: str,
        *,
        reason: str | None = None,
        expected_version: int | _Seen | None = SEEN,
    ) -> OutboxEntry:
        return await self.change_status(
            contract_id, "paused", reason=reason, expected_version=expected_version
        )

    async def resume(
        self, contract_id: str, *, expected_version: int | _Seen | None = SEEN
    ) -> OutboxEntry:
        return await self.change_status(contract_id, "active", expected_version=expected_version)

    async def update_contract(
        self,
        contract_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        phase_guard: bool | None = None,
        expected_version: int | _Seen | None = SEEN,
    ) -> OutboxEntry:
        payload = {"name": name, "description": description, "phase_guard": phase_guard}
        return await self.enqueue(
            ActionKind.UPDATE_CONTRACT, contract_id, payload, expected_version=expected_version
        )

    async def set_auto_complete(self, contract_id: str, enabled: bool) -> OutboxEntry:
        return await self.enqueue(ActionKind.SET_AUTO_COMPLETE, contract_id, {"enabled": enabled})

    async def restart_supervisor(self, contract_id: str) -> OutboxEntry:
        return await self.enqueue(ActionKind.RESTART_SUPERVISOR, contract_id, {})

    async def snooze(self, contract_id: str, item_id: str, until: datetime) -> OutboxEntry:
        """Snooze the inbox item `item_id` (of `contract_id`) until `until` (aware)."""
        payload = {"item_id": item_id, "until": iso(until)}
        return await self.enqueue(ActionKind.SNOOZE_ITEM, contract_id, payload)

    async def unsnooze(self, contract_id: str, item_id: str) -> OutboxEntry:
        return await self.enqueue(ActionKind.UNSNOOZE_ITEM, contract_id, {"item_id": item_id})

    async def claim(self, contract_id: str, item_id: str) -> OutboxEntry:
        """Claim the inbox item `item_id` for the key's person ("I'm on it")."""
        return await self.enqueue(ActionKind.CLAIM_ITEM, contract_id, {"item_id": item_id})

    async def unclaim(self, contract_id: str, item_id: str) -> OutboxEntry:
        return await self.enqueue(ActionKind.UNCLAIM_ITEM, contract_id, {"item_id": item_id})

    async def batch(self, operation: str, **options: Any) -> OutboxEntry:
        """A batch operation (admin keys): `older_than_hours`, `status_filter`, `reason`,
        `stale_threshold_minutes` as in `ContractClient.batch`."""
        return await self.enqueue(ActionKind.BATCH, None, {"operation": operation, **options})

    # --- the reviewer's decisions --------------------------------------------------------

    async def reconfirm(self, entry_id: int) -> OutboxEntry:
        """Send a CONFLICT or REJECTED entry again, against the contract's version now: a new
        entry (new idempotency key, `replaces` = entry_id); the old one becomes RECONFIRMED.

        A decision bound to evidence is bound again to the evidence now — the conflict's
        (the server's answer), else the replica's open request: "confirm the new evidence"."""
        now = self.clock.now()

        def work(uow: WriteUnitOfWork) -> tuple[OutboxEntry, OutboxEntry]:
            old = _load(uow, entry_id)
            check_move(entry_id, old.state, S.RECONFIRMED)
            _refuse_duplicate(uow, old.contract_id, old.kind, old.payload)
            payload = dict(old.payload)
            if is_bound(old.payload):
                payload = _rebound(uow, old)
                version = None
            else:
                version = _conflict_version(old)
                if version is None:
                    version = _replica_version(uow, old.contract_id)
            _set_state(uow, old, S.RECONFIRMED, now)
            inserted = uow.conn.execute(
                outbox.insert().values(
                    contract_id=old.contract_id,
                    kind=old.kind.value,
                    payload=payload,
                    idempotency_key=str(uuid.uuid4()),
                    expected_version=version,
                    state=S.QUEUED.value,
                    attempts=0,
                    replaces=old.id,
                    created_at=now,
                    updated_at=now,
                )
            )
            return _load(uow, entry_id), _load(uow, _new_id(inserted))

        old, new = await self.store.run_write(work)
        self.entry_changed.publish(old)
        self.entry_changed.publish(new)
        self.queued.publish(new)
        return new

    async def drop(self, entry_id: int) -> OutboxEntry:
        """Give up an entry that is QUEUED (not sent yet), CONFLICT or REJECTED."""
        return await self._move(entry_id, S.DROPPED)

    async def _move(self, entry_id: int, new: OutboxState, **values: Any) -> OutboxEntry:
        now = self.clock.now()

        def work(uow: WriteUnitOfWork) -> OutboxEntry:
            entry = _load(uow, entry_id)
            check_move(entry_id, entry.state, new)
            _set_state(uow, entry, new, now, **values)
            return _load(uow, entry_id)

        entry = await self.store.run_write(work)
        self.entry_changed.publish(entry)
        return entry

    # --- reading -------------------------------------------------------------------------

    async def get(self, entry_id: int) -> OutboxEntry:
        return await self.store.run_read(lambda uow: _load(uow, entry_id))

    async def entries(
        self,
        *,
        states: Sequence[OutboxState] | None = None,
        contract_id: str | None = None,
    ) -> list[OutboxEntry]:
        """Entries in the order they were taken, optionally narrowed."""
        query = select(outbox).order_by(outbox.c.id)
        if states is not None:
            query = query.where(outbox.c.state.in_([s.value for s in states]))
        if contract_id is not None:
            query = query.where(outbox.c.contract_id == contract_id)
        return await self.store.run_read(
            lambda uow: [entry_from_row(r) for r in uow.conn.execute(query).mappings()]
        )

    async def pending(self) -> list[OutboxEntry]:
        """Entries still on their way (QUEUED or SENDING)."""
        return await self.entries(states=[S.QUEUED, S.SENDING])

    # --- start-up and sending ------------------------------------------------------------

    async def prune(self, older_than: timedelta) -> int:
        """Delete final entries (APPLIED, RECONFIRMED, DROPPED) last changed more than
        `older_than` ago; CONFLICT and REJECTED ones wait for the reviewer. Returns how many."""
        cutoff = self.clock.now() - older_than
        final = [s.value for s in OutboxState if s.is_final]
        statement = delete(outbox).where(outbox.c.state.in_(final), outbox.c.updated_at < cutoff)
        return await self.store.run_write(lambda uow: int(uow.conn.execute(statement).rowcount))

    async def recover(self) -> int:
        """At start-up: entries left SENDING by a crash go back to QUEUED; returns how many."""
        now = self.clock.now()

        def work(uow: WriteUnitOfWork) -> list[OutboxEntry]:
            query = select(outbox).where(outbox.c.state == S.SENDING.value)
            stuck = [entry_from_row(r) for r in uow.conn.execute(query).mappings()]
            for entry in stuck:
                _set_state(uow, entry, S.QUEUED, now)
            return [_load(uow, e.id) for e in stuck]

        recovered = await self.store.run_write(work)
        for entry in recovered:
            self.entry_changed.publish(entry)
        return len(recovered)

    async def flush(self, client: ContractClient) -> FlushResult:
        """Send QUEUED entries oldest first until none is left or one gets no answer.

        One flush runs at a time; entries queued during a flush are sent by it too.
        """
        async with self._flushing:
            sent = 0
            while True:
                entry = await self._next_queued()
                if entry is None:
                    return FlushResult(sent, None)
                failure = await self._send_one(client, entry)
                if failure is not None:
                    return FlushResult(sent, failure)
                sent += 1

    async def _next_queued(self) -> OutboxEntry | None:
        query = select(outbox).where(outbox.c.state == S.QUEUED.value).order_by(outbox.c.id)
        return await self.store.run_read(
            lambda uow: next(
                (entry_from_row(r) for r in uow.conn.execute(query.limit(1)).mappings()), None
            )
        )

    async def _send_one(self, client: ContractClient, entry: OutboxEntry) -> ApiError | None:
        """Send one entry and record the answer; returns the failure that left it QUEUED."""
        entry = await self._move(entry.id, S.SENDING, attempts=entry.attempts + 1)
        try:
            answer = await send_action(client, entry)
        except ConnectionFailed as error:
            await self._move(
                entry.id, S.QUEUED, error_code=error.raw_code, error_message=error.message
            )
            return error
        except ApiError as error:
            if is_transient(error):
                await self._move(
                    entry.id, S.QUEUED, error_code=error.raw_code, error_message=error.message
                )
                return error
            await self._settle_refusal(client, entry, error)
            return None
        await self._applied(entry, answer)
        return None

    async def _applied(self, entry: OutboxEntry, answer: SentAnswer) -> None:
        now = self.clock.now()

        def work(uow: WriteUnitOfWork) -> list[OutboxEntry]:
            _set_state(uow, entry, S.APPLIED, now, result=answer.body)
            moved = _rebase_chain(uow, entry, answer.version, now)
            return [_load(uow, entry.id), *moved]

        for changed in await self.store.run_write(work):
            self.entry_changed.publish(changed)

    async def _settle_refusal(
        self, client: ContractClient, entry: OutboxEntry, error: ApiError
    ) -> None:
        body: dict[str, Any] = {
            "code": error.raw_code,
            "message": error.message,
            "details": error.details,
        }
        if error.code is ErrorCode.EVIDENCE_CHANGED:
            body["details"] = explained(entry.payload, error.details)
        conflicts = (ErrorCode.VERSION_CONFLICT, ErrorCode.EVIDENCE_CHANGED)
        if error.code not in conflicts or entry.contract_id is None:
            await self._move(
                entry.id,
                S.REJECTED,
                error_code=error.raw_code,
                error_message=error.message,
                result=body,
            )
            return
        body["contract"] = await current_contract(client, self.replica, entry.contract_id)
        await self._move(
            entry.id,
            S.CONFLICT,
            error_code=error.raw_code,
            error_message=error.message,
            result=body,
        )


def _refuse_duplicate(
    uow: WriteUnitOfWork,
    contract_id: str | None,
    kind: ActionKind,
    payload: Mapping[str, Any],
) -> None:
    """Inside the write: the check and the insert see the same entries."""
    pending = [S.QUEUED.value, S.SENDING.value]
    mine = (
        outbox.c.contract_id.is_(None)
        if contract_id is None
        else outbox.c.contract_id == contract_id
    )
    query = select(outbox).where(mine, outbox.c.state.in_(pending))
    entries = [entry_from_row(r) for r in uow.conn.execute(query).mappings()]
    found = queued_duplicate(entries, contract_id, kind, payload)
    if found is not None:
        raise ActionAlreadyQueued(found)


def _rebound(uow: WriteUnitOfWork, old: OutboxEntry) -> dict[str, Any]:
    """The payload of a bound decision made again against the evidence now."""
    payload = {k: v for k, v in old.payload.items() if k not in BOUND_KEYS}
    with_evidence = old.kind is ActionKind.CONFIRM_PHASE
    conflict = old.evidence_conflict
    if conflict is not None and conflict.now is not None:
        return payload | bound_wire(conflict.now, with_evidence=with_evidence)
    row = uow.conn.execute(select(contracts).where(contracts.c.id == old.contract_id))
    found = row.mappings().first()
    evidence = None if found is None else open_request_evidence(contract_from_row(found))
    if evidence is None:
        return dict(old.payload)  # nothing open now: sent as it was, the server says why
    return payload | bound_payload(evidence, with_evidence=with_evidence)


def _conflict_version(entry: OutboxEntry) -> int | None:
    found = entry.conflict_contract
    if found is not None and isinstance(found.get("version"), int):
        return int(found["version"])
    actual = ((entry.result or {}).get("details") or {}).get("actual_version")
    return actual if isinstance(actual, int) else None


def _new_id(inserted: CursorResult[Any]) -> int:
    key = inserted.inserted_primary_key
    if key is None:
        raise RuntimeError("the outbox insert returned no id")
    return int(key[0])


def _replica_version(uow: WriteUnitOfWork, contract_id: str | None) -> int | None:
    if contract_id is None:
        return None
    query = select(contracts.c.version).where(contracts.c.id == contract_id)
    version = uow.conn.scalar(query)
    return int(version) if version is not None else None


def _load(uow: WriteUnitOfWork | Any, entry_id: int) -> OutboxEntry:
    row = uow.conn.execute(select(outbox).where(outbox.c.id == entry_id)).mappings().first()
    if row is None:
        raise KeyError(f"no outbox entry {entry_id}")
    return entry_from_row(row)


def _set_state(
    uow: WriteUnitOfWork, entry: OutboxEntry, new: OutboxState, now: datetime, **values: Any
) -> None:
    check_move(entry.id, entry.state, new)
    statement = (
        update(outbox)
        .where(outbox.c.id == entry.id, outbox.c.state == entry.state.value)
        .values(state=new.value, updated_at=now, **values)
    )
    if uow.conn.execute(statement).rowcount != 1:
        raise IllegalOutboxMove(entry.id, entry.state, new)  # moved by someone else meanwhile


def _rebase_chain(
    uow: WriteUnitOfWork, applied: OutboxEntry, version: int | None, now: datetime
) -> list[OutboxEntry]:
    """Later QUEUED entries taken from the same view of the contract follow its new version."""
    if version is None or applied.expected_version is None or applied.contract_id is None:
        return []
    same_view = and_(
        outbox.c.contract_id == applied.contract_id,
        outbox.c.id > applied.id,
        outbox.c.state == S.QUEUED.value,
        outbox.c.expected_version == applied.expected_version,
    )
    ids = list(uow.conn.scalars(select(outbox.c.id).where(same_view)))
    if ids:
        uow.conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(ids))
            .values(expected_version=version, updated_at=now)
        )
    return [_load(uow, i) for i in ids]
